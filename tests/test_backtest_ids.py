"""What a backtest keeps per order: report ids while an order is open, fills and trades encoded."""

from __future__ import annotations

import msgspec
import pytest

from engine.backtest.ids import NormalisedIds, StructTape
from engine.model.journal import Trade, build_journal
from ipc.messages import Fill, OrderEvent, OrderState


def order(coid: str, state: OrderState) -> OrderEvent:
    return OrderEvent(client_order_id=coid, intent_id=f"i-{coid}", strategy="s", segment=1, security_id=2885,
                      side="BUY", order_type="MARKET", validity="DAY", product="INTRADAY", qty_units=1,
                      price_paise=0, trigger_price_paise=0, state=state, filled_qty_units=0, filled_value_paise=0,
                      venue_order_id="", reason_code="", reason="", ts_event_ns=1, ts_init_ns=1)


def fill(n: int, side: str = "BUY", coid: str = "SKAB12-1") -> Fill:
    return Fill(fill_id=f"F{n}", client_order_id=coid, venue_order_id=f"PV{n}", strategy="s", segment=1,
                security_id=2885, side=side, qty_units=1, price_paise=10_000 + n, charges_paise=n,
                ts_event_ns=1_795_148_100_000_000_000 + n, ts_init_ns=2)


def test_orders_are_numbered_by_first_appearance_and_a_republished_finished_one_is_not_counted_again() -> None:
    ids = NormalisedIds()
    ids.on_order(order("SKAB12-7", OrderState.SUBMITTED))
    ids.on_order(order("SKAB12-8", OrderState.REJECTED))
    assert ids.fill_ids("SKAB12-7", "paper-1") == ("BT000001", "PV000001")
    assert ids.fill_ids("SKAB12-7", "paper-1") == ("BT000001", "PV000001")
    assert ids.order_id("SKAB12-7") == "BT000001"
    ids.on_order(order("SKAB12-7", OrderState.FILLED))
    ids.on_order(order("SKAB12-7", OrderState.FILLED))  # re-published for a re-sent intent
    ids.on_order(order("SKAB12-8", OrderState.REJECTED))
    ids.on_order(order("EXT-ORDER", OrderState.SUBMITTED))  # not of the ledger's form: remembered whole
    ids.on_order(order("EXT-ORDER", OrderState.CANCELED))
    ids.on_order(order("EXT-ORDER", OrderState.CANCELED))
    ids.on_order(order("SKAB12-100000", OrderState.SUBMITTED))
    assert (ids.orders, ids.venues) == (4, 1)
    assert ids.order_id("SKAB12-100000") == "BT000004"


def test_fills_on_a_tape_read_back_equal_in_order() -> None:
    fills = [fill(n, "BUY" if n % 2 else "SELL") for n in range(1, 6)]
    tape = StructTape(Fill, fills[:2])
    for f in fills[2:]:
        tape.append(f)
    assert len(tape) == 5 and list(tape) == fills and tape == fills
    assert tape[0] == fills[0] and tape[-1] == fills[-1] and tape[1:3] == fills[1:3]
    with pytest.raises(IndexError):
        tape[5]
    seen = []
    for f in tape:  # appending while iterating is allowed (the iteration sees what was there)
        seen.append(f)
        if len(tape) < 7:
            tape.append(fill(99))
    assert seen[:5] == fills


def test_trades_on_a_tape_give_the_same_journal_as_a_list() -> None:
    fills = [fill(n, "BUY" if n % 2 else "SELL", coid=f"SKAB12-{n}") for n in range(1, 40)]
    listed = build_journal(fills)
    taped = build_journal(iter(fills), StructTape(Trade))
    assert isinstance(taped.trades, StructTape) and list(taped.trades) == listed.trades
    assert msgspec.structs.replace(taped, trades=list(taped.trades)) == listed
    assert listed.fills == 39 and len(listed.trades) == 19
