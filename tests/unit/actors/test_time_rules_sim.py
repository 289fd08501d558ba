"""Time rules through the actors themselves, on a simulated clock: the actor's own timers fire as
the test moves the clock, and nothing sleeps.

Each rule's pure logic has its unit tests (risk/checks, risk/monitors, execution/groups,
execution/expiry); these check that the actors apply it on time: risk's once-a-second clock
(square-off, entry cut-off notice), risk's checks at the moment an intent arrives (sessions,
cut-off, cooldown), execution's session-end timer (DAY expiry), a group's deadline timer, and the
wait for a first book after a start.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from actors.execution import groups as grp
from ipc.messages import (
    GroupEvent,
    GroupState,
    OrderDenied,
    OrderEvent,
    OrderIntent,
    OrderSpec,
    OrderState,
    RiskAction,
    SubmitGroup,
    SubmitOrder,
)
from tests.support.sim import SimEngine, at_ist, sim_config

FRIDAY = dt.date(2026, 11, 20)  # an NSE trading day (the bundled sample master's)
RISK_AND_EXECUTION = ("risk", "execution")


def intent(engine: SimEngine, inst: Any, side: str, qty_units: int, *, n: int, order_type: str = "MARKET",
           price_paise: int = 0, validity: str = "DAY", strategy: str = "s1", group_id: str = "") -> OrderIntent:
    now = engine.now_ns()
    spec = OrderSpec(segment=inst.segment, security_id=inst.security_id, side=side,  # type: ignore[arg-type]
                     order_type=order_type, validity=validity, qty_units=qty_units,  # type: ignore[arg-type]
                     price_paise=price_paise)
    return OrderIntent(f"{strategy}-sim-{n}", strategy, spec, now, now, now, False, group_id)


def orders_of(engine: SimEngine, intent_id: str) -> list[OrderEvent]:
    return [e for e in engine.seen(OrderEvent) if e.intent_id == intent_id]


def last_state(engine: SimEngine, intent_id: str) -> OrderState | None:
    events = orders_of(engine, intent_id)
    return events[-1].state if events else None


def denial(engine: SimEngine, intent_id: str) -> str | None:
    found = [d.reason_code for d in engine.seen(OrderDenied) if d.intent_id == intent_id]
    return found[-1] if found else None


def position(engine: SimEngine, inst: Any, strategy: str = "s1") -> int:
    pos = engine.ledger_facts()["positions"].get((strategy, inst.segment, inst.security_id, "INTRADAY"))
    return pos.net_qty_units if pos is not None else 0


@pytest.fixture
def engines(tmp_path: Path):
    made: list[SimEngine] = []

    def make(start: int, actors: tuple[str, ...] = RISK_AND_EXECUTION, **sections: Any) -> SimEngine:
        engine = SimEngine(tmp_path / f"data{len(made)}", start, actors, sim_config(actors, **sections))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


def book(engine: SimEngine, inst: Any) -> None:
    """What a full packet brings: a quote (risk's last price) and the 5-level book (the venue's)."""
    engine.quote(inst, 1500_00)
    engine.depth(inst, bids=[(1499_00, 500)], asks=[(1500_00, 500)])


# Risk --------------------------------------------------------------------------------------------

def test_intraday_position_is_squared_off_by_risks_clock_at_1525(engines) -> None:
    engine = engines(at_ist(FRIDAY, 15, 0))
    rel = engine.instrument("RELIANCE")
    book(engine, rel)
    engine.send("risk", intent(engine, rel, "BUY", 5, n=1))
    assert position(engine, rel) == 5
    engine.advance_to(at_ist(FRIDAY, 15, 24, 59))
    assert position(engine, rel) == 5
    assert {a.action for a in engine.seen(RiskAction)} == {"BLOCK_ENTRIES"}  # the 15:15 cut-off notices only
    engine.advance_to(at_ist(FRIDAY, 15, 25))
    assert position(engine, rel) == 0
    (t, square_off), = [(t, a) for t, a in engine.seen_at(RiskAction) if a.action == "SQUARE_OFF"]
    assert t == at_ist(FRIDAY, 15, 25) and square_off.reason_code == "SQUARE_OFF_TIME"
    exit_order = engine.seen(OrderEvent)[-1]
    assert (exit_order.spec.side, exit_order.state, exit_order.ts_event_ns) == ("SELL", OrderState.FILLED,
                                                                         at_ist(FRIDAY, 15, 25))


def test_entries_are_refused_from_the_1515_cutoff_and_exits_still_pass(engines) -> None:
    engine = engines(at_ist(FRIDAY, 15, 14, 59))
    rel = engine.instrument("RELIANCE")
    book(engine, rel)
    engine.send("risk", intent(engine, rel, "BUY", 5, n=1))
    assert last_state(engine, "s1-sim-1") is OrderState.FILLED
    engine.advance_to(at_ist(FRIDAY, 15, 15))
    notices = [(t, a.detail.split(":")[0]) for t, a in engine.seen_at(RiskAction) if a.reason_code == "ENTRY_CUTOFF"]
    assert ("NSE_EQ" in {seg for _t, seg in notices}  # risk's clock announced it, once per segment, at 15:15
            and {t for t, _seg in notices} == {at_ist(FRIDAY, 15, 15)} and len(notices) == len(set(notices)))
    engine.send("risk", intent(engine, rel, "BUY", 5, n=2))
    assert denial(engine, "s1-sim-2") == "ENTRY_CUTOFF"
    engine.send("risk", intent(engine, rel, "SELL", 5, n=3))  # closing: allowed
    assert last_state(engine, "s1-sim-3") is OrderState.FILLED and position(engine, rel) == 0


def test_orders_are_refused_before_the_0915_open_and_pass_from_it(engines) -> None:
    engine = engines(at_ist(FRIDAY, 9, 0))
    rel = engine.instrument("RELIANCE")
    engine.advance_to(at_ist(FRIDAY, 9, 14, 59))
    book(engine, rel)
    engine.send("risk", intent(engine, rel, "BUY", 5, n=1))
    assert denial(engine, "s1-sim-1") == "MARKET_CLOSED"
    engine.advance_to(at_ist(FRIDAY, 9, 15))
    engine.send("risk", intent(engine, rel, "BUY", 5, n=2))
    assert last_state(engine, "s1-sim-2") is OrderState.FILLED


def test_a_cooldown_refuses_the_next_entry_until_it_has_passed(engines) -> None:
    engine = engines(at_ist(FRIDAY, 10, 0), risk={"limits": {"default": {"order_cooldown_s": 30.0}}})
    rel = engine.instrument("RELIANCE")
    book(engine, rel)
    engine.send("risk", intent(engine, rel, "BUY", 5, n=1))
    assert last_state(engine, "s1-sim-1") is OrderState.FILLED
    engine.advance_by(29.999)
    engine.send("risk", intent(engine, rel, "BUY", 5, n=2))
    assert denial(engine, "s1-sim-2") == "COOLDOWN"
    engine.advance_by(0.001)
    engine.send("risk", intent(engine, rel, "BUY", 5, n=3))
    assert last_state(engine, "s1-sim-3") is OrderState.FILLED and position(engine, rel) == 10


# Execution ---------------------------------------------------------------------------------------

def test_day_order_expires_at_the_close_on_executions_own_timer(engines) -> None:
    engine = engines(at_ist(FRIDAY, 10, 0), ("execution",))
    rel = engine.instrument("RELIANCE")
    book(engine, rel)
    engine.send("execution", SubmitOrder(intent(engine, rel, "BUY", 5, n=1, order_type="LIMIT",
                                                price_paise=1400_00), engine.now_ns()))
    assert last_state(engine, "s1-sim-1") is OrderState.ACCEPTED
    engine.advance_to(at_ist(FRIDAY, 15, 29, 59))
    assert last_state(engine, "s1-sim-1") is OrderState.ACCEPTED
    engine.advance_to(at_ist(FRIDAY, 15, 30))
    expired = orders_of(engine, "s1-sim-1")[-1]
    assert expired.state is OrderState.EXPIRED and expired.ts_event_ns == at_ist(FRIDAY, 15, 30)
    execution = engine.actor("execution")
    assert execution.ledger.order(expired.client_order_id).state is OrderState.EXPIRED
    assert expired.client_order_id not in execution.orders and execution.venue.open_order_ids() == ()
    assert execution.ledger.verify() == []


def test_a_day_order_placed_after_the_close_expires_at_the_next_sessions_close(engines) -> None:
    engine = engines(at_ist(FRIDAY, 16, 0), ("execution",))
    rel = engine.instrument("RELIANCE")
    book(engine, rel)
    engine.send("execution", SubmitOrder(intent(engine, rel, "BUY", 5, n=1, order_type="LIMIT",
                                                price_paise=1400_00), engine.now_ns()))
    monday = FRIDAY + dt.timedelta(days=3)
    engine.advance_to(at_ist(monday, 15, 29, 59))  # through the weekend
    assert last_state(engine, "s1-sim-1") is OrderState.ACCEPTED
    engine.advance_to(at_ist(monday, 15, 30))
    assert last_state(engine, "s1-sim-1") is OrderState.EXPIRED


def test_a_group_not_complete_by_its_deadline_rolls_back_on_its_timer(engines) -> None:
    engine = engines(at_ist(FRIDAY, 10, 0), ("execution",))
    opts = sorted((i for i in engine.actor("execution").table if i.instrument == "OPTIDX" and i.underlying == "NIFTY"
                   and i.option_type == "CE"), key=lambda i: (i.expiry_yyyymmdd, i.strike_paise))
    buy_inst, sell_inst = opts[1], opts[2]
    engine.depth(buy_inst, bids=[(99_00, 1_000)], asks=[(100_00, 1_000)])
    engine.depth(sell_inst, bids=[(50_00, 1_000)], asks=[(51_00, 1_000)])
    legs = [intent(engine, buy_inst, "BUY", 65, n=1, group_id="sp1"),
            intent(engine, sell_inst, "SELL", 65, n=2, order_type="LIMIT", price_paise=60_00, group_id="sp1")]
    now = engine.now_ns()
    engine.send("execution", SubmitGroup("sp1", "s1", "BULL_CALL_SPREAD", legs, 200, now, now))  # type: ignore[arg-type]
    engine.advance_by(0.199)
    assert engine.seen(GroupEvent)[-1].state is GroupState.WORKING_SELLS  # the short rests above the market
    engine.advance_by(0.001)
    (t, rolled), = [(t, g) for t, g in engine.seen_at(GroupEvent) if g.state is GroupState.ROLLED_BACK]
    assert rolled.reason_code == "TIMEOUT" and t == now + 200_000_000
    assert last_state(engine, "s1-sim-2") is OrderState.CANCELED  # the short, cancelled
    assert position(engine, sell_inst) == 0 and position(engine, buy_inst) == 0  # the hedge, sold back
    (flatten,) = [e for e in engine.seen(OrderEvent) if e.intent_id == grp.flatten_intent_id("sp1", 0, 1)][-1:]
    assert (flatten.spec.side, flatten.state) == ("SELL", OrderState.FILLED)
    assert engine.actor("execution").ledger.verify() == []


def test_after_a_start_an_order_waits_for_a_first_book_at_most_ten_seconds(engines) -> None:
    engine = engines(at_ist(FRIDAY, 10, 0), ("execution",))
    rel, tcs = engine.instrument("RELIANCE"), engine.instrument("TCS")
    engine.send("execution", SubmitOrder(intent(engine, rel, "BUY", 5, n=1), engine.now_ns()))
    engine.send("execution", SubmitOrder(intent(engine, tcs, "BUY", 5, n=2), engine.now_ns()))
    engine.advance_by(9.999)
    # Waiting, not rejected for want of a book the market has (the feed may just be slower to us).
    assert last_state(engine, "s1-sim-1") is last_state(engine, "s1-sim-2") is OrderState.SUBMITTED
    book(engine, rel)
    assert last_state(engine, "s1-sim-1") is OrderState.FILLED
    engine.advance_by(0.001)  # ten seconds after the start: what still waits goes to the venue
    rejected = orders_of(engine, "s1-sim-2")[-1]
    assert rejected.state is OrderState.REJECTED and rejected.reason_code == "NO_MARKET_DATA"
