"""Protective stops resting at the paper venue, through risk and execution on a simulated clock:
the stop closes the position once, an exit cancels it, trailing moves step it within the cap,
and a restart adopts the resting stop instead of placing a second."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ipc.messages import (OrderEvent, OrderIntent, OrderSpec, OrderState, ProtectPosition, is_protective_stop)
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
    pos = facts["positions"].get(("s1", inst.segment, inst.security_id))
    stops = [o for o in facts["orders"].values() if is_protective_stop(o.intent_id)]
    return (pos.net_qty_units if pos is not None else 0), stops, list(facts["fills"].values())


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
