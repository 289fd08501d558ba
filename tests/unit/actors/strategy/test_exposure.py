"""A strategy's position and working orders come from the engine's reports: a denied, rejected
or partly filled order leaves exactly what filled."""

from __future__ import annotations

from actors.strategy.exposure import Exposure, WorkingUnits
from ipc.messages import Fill, OrderEvent, OrderIntent, OrderSpec, OrderState, Position, slice_intent_id, sliced_from

KEY = ("s1", 1, 2885)


def _intent(intent_id: str, side: str = "BUY", qty_units: int = 10) -> OrderIntent:
    spec = OrderSpec(segment=1, security_id=2885, side=side, order_type="MARKET", qty_units=qty_units)
    return OrderIntent(intent_id, "s1", spec, 0, 0, 0)


def _event(intent: OrderIntent, state: OrderState, filled_units: int = 0) -> OrderEvent:
    return OrderEvent(f"c-{intent.intent_id}", intent.intent_id, "s1", intent.spec, state, filled_units, 0, "", "",
                      "", 0, 0)


def _fill(side: str, qty_units: int) -> Fill:
    return Fill("f", "c", "v", "s1", 1, 2885, side, qty_units, 100, 0, 0, 0)


def test_a_sent_order_works_until_risk_denies_it_and_never_moves_the_position() -> None:
    ex = Exposure()
    ex.sent(_intent("i1", "SELL"))
    assert ex.working(KEY) == WorkingUnits(0, 10) and ex.position(KEY) == 0
    ex.dropped("i1")
    assert ex.working(KEY) == WorkingUnits(0, 0) and ex.position(KEY) == 0


def test_a_partly_filled_then_rejected_order_leaves_what_filled() -> None:
    ex = Exposure()
    buy = _intent("i1")
    ex.sent(buy)
    ex.on_fill(_fill("BUY", 4))
    ex.on_order(_event(buy, OrderState.PARTIALLY_FILLED, 4))
    assert ex.working(KEY) == WorkingUnits(6, 0) and ex.position(KEY) == 4
    ex.on_order(_event(buy, OrderState.REJECTED, 4))
    assert ex.working(KEY) == WorkingUnits(0, 0) and ex.position(KEY) == 4
    assert not ex.is_working("i1")


def test_execution_position_corrects_a_fill_counted_twice_across_a_restart() -> None:
    ex = Exposure()
    ex.on_position(Position("s1", 1, 2885, 10, 1000, 0, 0, 0, 0, 0))  # seeded from the ledger
    ex.on_fill(_fill("BUY", 10))  # the same fill, delivered after the seeding read
    ex.on_position(Position("s1", 1, 2885, 10, 1000, 0, 0, 0, 0, 0))
    assert ex.position(KEY) == 10


def test_an_open_order_from_the_ledger_works_with_its_unfilled_rest() -> None:
    ex = Exposure()
    sell = _intent("i1", "SELL")
    ex.seed_order(_event(sell, OrderState.PARTIALLY_FILLED, 3))
    ex.seed_order(_event(_intent("i2"), OrderState.FILLED, 10))
    assert ex.working(KEY) == WorkingUnits(0, 7)


def _slice_event(intent: OrderIntent, n: int, qty_units: int, state: OrderState, filled_units: int = 0) -> OrderEvent:
    spec = OrderSpec(segment=1, security_id=2885, side=intent.spec.side, order_type="MARKET", qty_units=qty_units)
    return OrderEvent(f"c-{intent.intent_id}.{n}", slice_intent_id(intent.intent_id, n), "s1", spec, state,
                      filled_units, 0, "", "", "", 0, 0)


def test_a_sliced_intent_works_until_every_slice_has_filled_or_died() -> None:
    # Risk split a 10-unit buy at the freeze quantity: slices .1 (6) and .2 (4) are orders of their own.
    ex = Exposure()
    buy = _intent("i1")
    ex.sent(buy)
    ex.on_order(_slice_event(buy, 1, 6, OrderState.ACCEPTED))
    ex.on_order(_slice_event(buy, 2, 4, OrderState.ACCEPTED))
    assert ex.working(KEY) == WorkingUnits(10, 0) and ex.is_working("i1")
    ex.on_fill(_fill("BUY", 6))
    ex.on_order(_slice_event(buy, 1, 6, OrderState.FILLED, 6))
    assert ex.working(KEY) == WorkingUnits(4, 0) and ex.is_working("i1")
    ex.on_order(_slice_event(buy, 2, 4, OrderState.REJECTED))
    assert ex.working(KEY) == WorkingUnits(0, 0) and not ex.is_working("i1") and ex.position(KEY) == 6


def test_a_slice_id_names_its_intent() -> None:
    assert sliced_from(slice_intent_id("ema-3-17", 2)) == "ema-3-17"
    assert sliced_from("ema-3-17") == "ema-3-17"
