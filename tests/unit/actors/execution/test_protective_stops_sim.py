"""Protective stops resting at the paper venue, through risk and execution on a simulated clock:
the stop closes the position once, an exit cancels it, trailing moves step it within the cap (kept
across a restart; a venue that will not move it gets it replaced), a restart adopts the resting
stop instead of placing a second and holds an exit that was waiting for it, and a stop that
expired at the close comes back at the next open."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from actors.execution.protection import RETRY_NS
from actors.execution.venue import CancelRefused, ModifyRefused
from ipc.messages import (OrderEvent, OrderIntent, OrderSpec, OrderState, ProtectPosition, SubmitOrder,
                          is_protective_stop)
from ipc.reasons import RejectReason
from tests.support.sim import SimEngine, at_ist, sim_config

FRIDAY = dt.date(2026, 11, 20)
ACTORS = ("risk", "execution")


def _engine(data: Path) -> SimEngine:
    return SimEngine(data, at_ist(FRIDAY, 10, 0), ACTORS, sim_config(ACTORS))


def _market(engine: SimEngine, inst: Any, ltp: int) -> None:
    engine.quote(inst, ltp)
    engine.depth(inst, bids=[(ltp - 100, 500)], asks=[(ltp, 500)])


def _intent(engine: SimEngine, inst: Any, side: str, qty: int, n: int, reduce_only: bool = False) -> OrderIntent:
    now = engine.now_ns()
    spec = OrderSpec(segment=inst.segment, security_id=inst.security_id, side=side,  # type: ignore[arg-type]
                     order_type="MARKET", qty_units=qty)
    return OrderIntent(f"s1-sim-{n}", "s1", spec, now, now, now, reduce_only)


def _protect(engine: SimEngine, inst: Any, trigger: int, step: int = 5) -> None:
    engine.send("execution", ProtectPosition("s1", inst.segment, inst.security_id, trigger, 0, step, "INTRADAY",
                                             engine.now_ns()))
    engine.advance_by(0.001)  # the stop is worked out on the next loop turn


def _facts(engine: SimEngine, inst: Any) -> tuple[int, list[Any], list[Any]]:
    facts = engine.ledger_facts()
    units = sum(p.net_qty_units for key, p in facts["positions"].items()
                if key[:3] == ("s1", inst.segment, inst.security_id))  # every product together
    stops = [o for o in facts["orders"].values() if is_protective_stop(o.intent_id)]
    return units, stops, list(facts["fills"].values())


def _open(orders: list[Any]) -> list[Any]:
    return [o for o in orders if o.state not in (OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED,
                                                 OrderState.EXPIRED)]


def test_the_resting_stop_triggers_on_the_paper_market_and_closes_the_position_once(tmp_path: Path) -> None:
    with _engine(tmp_path / "d") as engine:
        rel = engine.instrument("RELIANCE")
        _market(engine, rel, 1500_00)
        engine.send("risk", _intent(engine, rel, "BUY", 5, 1))
        _protect(engine, rel, 1490_00)
        pos, stops, _fills = _facts(engine, rel)
        (stop,) = stops
        assert pos == 5 and (stop.spec.side, stop.spec.order_type, stop.spec.qty_units,
                             stop.spec.trigger_price_paise, stop.state) == ("SELL", "SL_M", 5, 1490_00,
                                                                           OrderState.ACCEPTED)
        engine.depth(rel, bids=[(1488_00, 500)], asks=[(1489_00, 500)])
        engine.tick(rel, 1489_00)
        engine.advance_by(0.001)
        pos, stops, fills = _facts(engine, rel)
        assert pos == 0 and [s.state for s in stops] == [OrderState.FILLED]
        assert [f.side for f in fills] == ["BUY", "SELL"]
        # The strategy's late reduce-only exit is refused (it learns from the fills): no double close.
        engine.send("risk", _intent(engine, rel, "SELL", 5, 2, reduce_only=True))
        engine.advance_by(0.001)
        pos, stops, fills = _facts(engine, rel)
        assert pos == 0 and len(fills) == 2 and len(stops) == 1 and not _open(engine.ledger_facts()["orders"].values())


def test_a_strategy_exit_cancels_the_stop_first_and_leaves_no_orphan(tmp_path: Path) -> None:
    with _engine(tmp_path / "d") as engine:
        rel = engine.instrument("RELIANCE")
        _market(engine, rel, 1500_00)
        engine.send("risk", _intent(engine, rel, "BUY", 5, 1))
        _protect(engine, rel, 1490_00)
        engine.send("risk", _intent(engine, rel, "SELL", 5, 2, reduce_only=True))
        engine.advance_by(0.01)
        pos, stops, fills = _facts(engine, rel)
        assert pos == 0 and [s.state for s in stops] == [OrderState.CANCELED]
        assert [f.side for f in fills] == ["BUY", "SELL"]
        exit_states = [e.state for e in engine.seen(OrderEvent) if e.intent_id == "s1-sim-2"]
        assert exit_states[-1] is OrderState.FILLED
        # OCO: the exit reached the venue only once the stop was cancelled there (never both working).
        events = [(e.intent_id, e.state) for e in engine.seen(OrderEvent)]
        stop_gone = events.index((stops[0].intent_id, OrderState.CANCELED))
        exit_at_venue = min(i for i, (iid, state) in enumerate(events)
                            if iid == "s1-sim-2" and state is not OrderState.SUBMITTED)
        assert stop_gone < exit_at_venue
        assert not _open(engine.ledger_facts()["orders"].values())
        # Later market moves through the old trigger close nothing.
        engine.depth(rel, bids=[(1480_00, 500)], asks=[(1481_00, 500)])
        engine.tick(rel, 1480_00)
        engine.advance_by(0.01)
        assert _facts(engine, rel)[0] == 0


def test_a_partial_exit_shrinks_the_stop_to_what_is_still_held(tmp_path: Path) -> None:
    with _engine(tmp_path / "d") as engine:
        rel = engine.instrument("RELIANCE")
        _market(engine, rel, 1500_00)
        engine.send("risk", _intent(engine, rel, "BUY", 5, 1))
        _protect(engine, rel, 1490_00)
        engine.send("risk", _intent(engine, rel, "SELL", 2, 2, reduce_only=True))
        engine.advance_by(0.01)
        pos, stops, _fills = _facts(engine, rel)
        (stop,) = _open(stops)
        assert pos == 3 and stop.spec.qty_units == 3


def test_trailing_moves_step_the_resting_stop_and_the_cap_replaces_it(tmp_path: Path) -> None:
    with _engine(tmp_path / "d") as engine:
        rel = engine.instrument("RELIANCE")
        _market(engine, rel, 1500_00)
        engine.send("risk", _intent(engine, rel, "BUY", 5, 1))
        _protect(engine, rel, 1400_00, step=100)
        _protect(engine, rel, 1400_50, step=100)  # less than a step: left alone
        (stop,) = _facts(engine, rel)[1]
        assert stop.spec.trigger_price_paise == 1400_00
        execution = engine.actor("execution")
        modified = 0
        for i in range(1, 31):  # 30 moves of a rupee: 25 modifies, then a fresh order
            _protect(engine, rel, 1400_00 + i * 100, step=100)
            order = execution.orders.get(stop.client_order_id)
            if order is not None:
                modified = order.modify_count
        _pos, stops, _fills = _facts(engine, rel)
        live = _open(stops)
        assert modified == 25
        assert len(live) == 1 and live[0].spec.trigger_price_paise == 1430_00 and live[0].spec.qty_units == 5
        assert [s.state for s in stops if s.client_order_id == stop.client_order_id] == [OrderState.CANCELED]
        assert len(stops) == 2


def test_a_restarted_execution_adopts_the_resting_stop_instead_of_placing_a_second(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with _engine(data) as engine:
        rel = engine.instrument("RELIANCE")
        _market(engine, rel, 1500_00)
        engine.send("risk", _intent(engine, rel, "BUY", 5, 1))
        _protect(engine, rel, 1490_00)
    with _engine(data) as engine:
        rel = engine.instrument("RELIANCE")
        engine.advance_by(0.01)
        _market(engine, rel, 1500_00)
        engine.advance_by(0.01)
        pos, stops, _fills = _facts(engine, rel)
        assert pos == 5 and len(stops) == 1 and stops[0].state is OrderState.ACCEPTED
        engine.depth(rel, bids=[(1488_00, 500)], asks=[(1489_00, 500)])
        engine.tick(rel, 1489_00)
        engine.advance_by(0.01)
        pos, stops, fills = _facts(engine, rel)
        assert pos == 0 and len(stops) == 1 and [f.side for f in fills] == ["BUY", "SELL"]


def test_a_restart_keeps_the_stops_modify_count_so_the_venues_cap_still_holds(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with _engine(data) as engine:
        rel = engine.instrument("RELIANCE")
        _market(engine, rel, 1500_00)
        engine.send("risk", _intent(engine, rel, "BUY", 5, 1))
        _protect(engine, rel, 1400_00, step=100)
        for i in range(1, 21):  # 20 modifies before the restart
            _protect(engine, rel, 1400_00 + i * 100, step=100)
        (stop,) = _facts(engine, rel)[1]
        assert engine.actor("execution").orders[stop.client_order_id].modify_count == 20
    with _engine(data) as engine:
        rel = engine.instrument("RELIANCE")
        _market(engine, rel, 1500_00)
        engine.advance_by(0.01)
        assert engine.actor("execution").orders[stop.client_order_id].modify_count == 20
        for i in range(21, 31):  # 5 more reach the cap of 25; the next moves go to a fresh order
            _protect(engine, rel, 1400_00 + i * 100, step=100)
        _pos, stops, _fills = _facts(engine, rel)
        first = [s for s in stops if s.client_order_id == stop.client_order_id]
        assert [s.state for s in first] == [OrderState.CANCELED] and first[0].spec.trigger_price_paise == 1425_00
        (live,) = _open(stops)
        assert live.spec.trigger_price_paise == 1430_00 and live.spec.qty_units == 5


def test_a_stop_the_venue_refuses_to_move_for_its_cap_is_cancelled_and_placed_afresh(tmp_path: Path) -> None:
    with _engine(tmp_path / "d") as engine:
        rel = engine.instrument("RELIANCE")
        _market(engine, rel, 1500_00)
        engine.send("risk", _intent(engine, rel, "BUY", 5, 1))
        _protect(engine, rel, 1400_00, step=100)
        (stop,) = _facts(engine, rel)[1]
        execution = engine.actor("execution")
        paper_modify = execution.venue.modify

        def refuse_first(coid: str, *args: Any) -> Any:  # as Dhan answers an order modified on its web page
            execution.venue.modify = paper_modify
            return (ModifyRefused(client_order_id=coid, ts_event_ns=engine.now_ns(), reason_code=RejectReason.ORDER_ERROR,
                                  reason="DH-906 Order modification limit exceeded"),)

        execution.venue.modify = refuse_first
        _protect(engine, rel, 1410_00, step=100)
        engine.advance_by(0.01)
        _pos, stops, _fills = _facts(engine, rel)
        assert [s.state for s in stops if s.client_order_id == stop.client_order_id] == [OrderState.CANCELED]
        (live,) = _open(stops)
        assert (live.spec.trigger_price_paise, live.spec.qty_units) == (1410_00, 5)


def test_a_cancel_the_venue_refuses_is_asked_again_later_not_in_a_loop(tmp_path: Path) -> None:
    with _engine(tmp_path / "d") as engine:
        rel = engine.instrument("RELIANCE")
        _market(engine, rel, 1500_00)
        engine.send("risk", _intent(engine, rel, "BUY", 5, 1))
        _protect(engine, rel, 1400_00, step=100)
        (stop,) = _facts(engine, rel)[1]
        execution = engine.actor("execution")
        paper_cancel = execution.venue.cancel
        asked: list[int] = []

        def refuse(coid: str, now_ns: int) -> Any:
            asked.append(now_ns)
            if len(asked) < 3:
                return (CancelRefused(client_order_id=coid, ts_event_ns=now_ns, reason_code=RejectReason.VENUE_HALTED,
                                      reason="halted"),)
            return paper_cancel(coid, now_ns)

        execution.venue.cancel = refuse
        _protect(engine, rel, 0)  # withdrawn: the stop is cancelled
        engine.advance_by(5.0)
        assert len(asked) == 3 and asked[1] - asked[0] >= RETRY_NS and asked[2] - asked[1] >= RETRY_NS
        assert [s.state for s in _facts(engine, rel)[1]] == [OrderState.CANCELED]


def test_an_exit_held_for_the_stop_when_execution_stopped_waits_for_it_again_after_the_restart(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with _engine(data) as engine:
        rel = engine.instrument("RELIANCE")
        _market(engine, rel, 1500_00)
        engine.send("risk", _intent(engine, rel, "BUY", 5, 1))
        _protect(engine, rel, 1490_00)
        engine.send("risk", _intent(engine, rel, "SELL", 5, 2, reduce_only=True))  # held: no loop turn follows
        held = [e for e in engine.seen(OrderEvent) if e.intent_id == "s1-sim-2"]
        assert [e.state for e in held] == [OrderState.SUBMITTED]
    with _engine(data) as engine:
        rel = engine.instrument("RELIANCE")
        engine.advance_by(0.01)
        _market(engine, rel, 1500_00)
        engine.advance_by(0.01)
        pos, stops, fills = _facts(engine, rel)
        assert pos == 0 and [s.state for s in stops] == [OrderState.CANCELED] and len(fills) == 2
        events = [(e.intent_id, e.state) for e in engine.seen(OrderEvent)]
        stop_gone = events.index((stops[0].intent_id, OrderState.CANCELED))
        exit_at_venue = min(i for i, (iid, state) in enumerate(events)
                            if iid == "s1-sim-2" and state is not OrderState.SUBMITTED)
        assert stop_gone < exit_at_venue  # OCO across the restart: never both working


THURSDAY = dt.date(2026, 11, 19)


def _carried_position(engine: SimEngine, inst: Any) -> None:
    """A CNC long of 5 with its stop, through execution alone (no risk: no 15:25 square-off)."""
    _market(engine, inst, 1500_00)
    now = engine.now_ns()
    spec = OrderSpec(segment=inst.segment, security_id=inst.security_id, side="BUY", order_type="MARKET",
                     qty_units=5, product="CNC")
    engine.send("execution", SubmitOrder(OrderIntent("s1-sim-1", "s1", spec, now, now, now, False), now))
    engine.send("execution", ProtectPosition("s1", inst.segment, inst.security_id, 1490_00, 0, 5, "CNC", now))
    engine.advance_by(0.01)


def test_a_stop_that_expired_at_the_close_is_placed_again_at_the_next_open_not_at_once(tmp_path: Path) -> None:
    with SimEngine(tmp_path / "d", at_ist(THURSDAY, 15, 0), ("execution",), sim_config(("execution",))) as engine:
        rel = engine.instrument("RELIANCE")
        _carried_position(engine, rel)
        (stop,) = _facts(engine, rel)[1]
        engine.advance_to(at_ist(THURSDAY, 15, 45))
        pos, stops, _fills = _facts(engine, rel)
        assert pos == 5 and [s.state for s in stops] == [OrderState.EXPIRED]  # not placed again after the close
        engine.advance_to(at_ist(FRIDAY, 9, 14))
        assert len(_facts(engine, rel)[1]) == 1
        engine.advance_to(at_ist(FRIDAY, 9, 16))
        _pos, stops, _fills = _facts(engine, rel)
        (again,) = _open(stops)
        assert (again.spec.trigger_price_paise, again.spec.qty_units, again.spec.product) == (1490_00, 5, "CNC")
        assert again.client_order_id != stop.client_order_id


def test_a_stop_that_expired_while_execution_was_down_is_placed_again_at_the_open(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with SimEngine(data, at_ist(THURSDAY, 15, 0), ("execution",), sim_config(("execution",))) as engine:
        rel = engine.instrument("RELIANCE")
        _carried_position(engine, rel)
        engine.advance_to(at_ist(THURSDAY, 15, 31))
        assert [s.state for s in _facts(engine, rel)[1]] == [OrderState.EXPIRED]
    with SimEngine(data, at_ist(FRIDAY, 8, 50), ("execution",), sim_config(("execution",))) as engine:
        rel = engine.instrument("RELIANCE")
        engine.advance_to(at_ist(FRIDAY, 9, 14))
        assert len(_facts(engine, rel)[1]) == 1
        _market(engine, rel, 1500_00)  # the pre-open market: the fresh paper venue's book
        engine.advance_to(at_ist(FRIDAY, 9, 16))
        pos, stops, _fills = _facts(engine, rel)
        (again,) = _open(stops)
        assert pos == 5 and (again.spec.trigger_price_paise, again.spec.qty_units, again.spec.side) == (1490_00, 5,
                                                                                                      "SELL")
