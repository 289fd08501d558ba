"""Products through risk and execution on a simulated clock: a CNC and an INTRADAY position of the
same strategy and instrument stay apart across a restart, the 15:25 square-off closes only the
INTRADAY one, the CNC one is still there the next trading day with its carry P&L, and a flatten
closes each position in its own product, and each product's position has its own protective stop."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from engine.ledger import LedgerReader, ledger_dir
from engine.ledger.daysplit import day_split
from engine.model.ist import ist_day, ist_midnight_ns
from ipc.messages import (
    OrderEvent,
    OrderIntent,
    OrderSpec,
    OrderState,
    ProtectPosition,
    RiskAction,
    SquareOffAll,
    SubmitOrder,
    is_protective_stop,
)
from tests.support.sim import SimEngine, at_ist, sim_config

FRIDAY = dt.date(2026, 11, 20)  # an NSE trading day (the bundled sample master's)
MONDAY = dt.date(2026, 11, 23)
RISK_AND_EXECUTION = ("risk", "execution")


def intent(engine: SimEngine, inst: Any, side: str, qty_units: int, product: str, n: int) -> OrderIntent:
    now = engine.now_ns()
    spec = OrderSpec(segment=inst.segment, security_id=inst.security_id, side=side,  # type: ignore[arg-type]
                     order_type="MARKET", product=product, qty_units=qty_units)  # type: ignore[arg-type]
    return OrderIntent(f"s1-products-{n}", "s1", spec, now, now, now)


def book(engine: SimEngine, inst: Any, ltp_paise: int = 1500_00) -> None:
    engine.quote(inst, ltp_paise)
    engine.depth(inst, bids=[(ltp_paise - 1_00, 500)], asks=[(ltp_paise, 500)])


def held(engine: SimEngine, inst: Any) -> dict[str, int]:
    """Net units per product of s1 in ``inst``, as the ledger holds them."""
    return {key[3]: p.net_qty_units for key, p in engine.ledger_facts()["positions"].items()
            if key[:3] == ("s1", inst.segment, inst.security_id) and p.net_qty_units}


def cnc_and_intraday(engine: SimEngine, inst: Any) -> None:
    book(engine, inst)
    engine.send("risk", intent(engine, inst, "BUY", 5, "CNC", 1))
    engine.send("risk", intent(engine, inst, "BUY", 3, "INTRADAY", 2))
    assert held(engine, inst) == {"CNC": 5, "INTRADAY": 3}


def test_after_a_restart_mid_day_the_square_off_closes_only_the_intraday_position(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SimEngine(data, at_ist(FRIDAY, 10, 0), RISK_AND_EXECUTION) as engine:
        rel = engine.instrument("RELIANCE")
        cnc_and_intraday(engine, rel)
    # A restart of risk and execution mid-day (the daily token restart, a crash): every position
    # comes back from the ledger in its own product.
    with SimEngine(data, at_ist(FRIDAY, 13, 0), RISK_AND_EXECUTION) as engine:
        book(engine, rel)
        engine.advance_to(at_ist(FRIDAY, 15, 24, 59))
        assert held(engine, rel) == {"CNC": 5, "INTRADAY": 3}
        engine.advance_to(at_ist(FRIDAY, 15, 25))
        assert held(engine, rel) == {"CNC": 5}
        (square_off,) = [a for a in engine.seen(RiskAction) if a.action == "SQUARE_OFF"]
        assert "INTRADAY" in square_off.detail
        exits = [e for e in engine.seen(OrderEvent) if e.state is OrderState.FILLED]
        assert [(e.spec.side, e.spec.product, e.spec.qty_units) for e in exits] == [("SELL", "INTRADAY", 3)]
        engine.advance_to(at_ist(FRIDAY, 15, 29))
        assert held(engine, rel) == {"CNC": 5}  # nothing squares it off later either
    # The next trading day: the CNC position is carried in, with its carry P&L at the day's marks.
    with SimEngine(data, at_ist(MONDAY, 9, 20), RISK_AND_EXECUTION) as engine:
        assert held(engine, rel) == {"CNC": 5}
        book(engine, rel, 1520_00)
        engine.advance_to(at_ist(MONDAY, 15, 26))
        assert held(engine, rel) == {"CNC": 5}
        assert not [a for a in engine.seen(RiskAction) if a.action == "SQUARE_OFF"]
        with LedgerReader.open(ledger_dir(data)) as reader, reader.snapshot() as snap:
            split = day_split(snap.iter_events(), ist_midnight_ns(ist_day(engine.now_ns())),
                              {(rel.segment, rel.security_id): 1520_00})
        day = split[("s1", rel.segment, rel.security_id, "CNC")]
        assert (day.carried_qty_units, day.carried_cost_paise, day.carry_open_qty_units) == (5, 5 * 1500_00, 5)
        assert day.carry_unrealised_pnl_paise == 5 * (1520_00 - 1500_00)
        assert (day.day_open_qty_units, day.day_realised_pnl_paise, day.day_unrealised_pnl_paise) == (0, 0, 0)
        assert list(split) == [("s1", rel.segment, rel.security_id, "CNC")]  # the INTRADAY one was closed Friday


def test_a_flatten_closes_each_position_in_its_own_product(tmp_path: Path) -> None:
    with SimEngine(tmp_path / "data", at_ist(FRIDAY, 10, 0), RISK_AND_EXECUTION) as engine:
        rel = engine.instrument("RELIANCE")
        cnc_and_intraday(engine, rel)
        engine.send("risk", SquareOffAll("sq-1", "control:tina", engine.now_ns()))
        engine.advance_by(2)
        assert held(engine, rel) == {}
        exits = [e for e in engine.seen(OrderEvent) if e.state is OrderState.FILLED and e.spec.side == "SELL"]
        assert sorted((e.spec.product, e.spec.qty_units) for e in exits) == [("CNC", 5), ("INTRADAY", 3)]


def test_each_product_of_a_position_gets_its_own_protective_stop(tmp_path: Path) -> None:
    with SimEngine(tmp_path / "data", at_ist(FRIDAY, 10, 0), ("execution",), sim_config(("execution",))) as engine:
        rel = engine.instrument("RELIANCE")
        book(engine, rel)
        now = engine.now_ns()
        for n, (product, qty) in enumerate((("CNC", 5), ("INTRADAY", 3)), start=1):
            engine.send("execution", SubmitOrder(intent(engine, rel, "BUY", qty, product, n), now))
        for product, trigger in (("CNC", 1450_00), ("INTRADAY", 1480_00)):
            engine.send("execution", ProtectPosition("s1", rel.segment, rel.security_id, trigger, 0, 5, product, now))
        engine.advance_by(0.01)  # the stops are worked out on the next loop turn
        stops = {o.spec.product: o for o in engine.ledger_facts()["orders"].values() if is_protective_stop(o.intent_id)}
        assert {p: (o.spec.side, o.spec.qty_units, o.spec.trigger_price_paise) for p, o in stops.items()} == {
            "CNC": ("SELL", 5, 1450_00), "INTRADAY": ("SELL", 3, 1480_00)}
