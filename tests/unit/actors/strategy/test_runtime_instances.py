"""Strategy instances added and removed at run time (``shikra strategies add | remove``): strategy,
risk and execution in this process on a simulated clock. An added strategy trades without a
restart and runs again after one; a removed one stops and stays removed; bad definitions are
refused naming the field; a strategy still engaged is not removed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from actors.strategy.runtime import RUNTIME_FILE, load_overrides
from ipc.messages import AddStrategy, Fill, OrderEvent, RemoveStrategy, Reply, SetStrategyRunning
from tests.support.sim import SimEngine, at_ist, sim_config

FRIDAY = dt.date(2026, 11, 20)  # an NSE trading day (the bundled sample master's)
ACTORS = ("strategy", "risk", "execution")
CONFIGURED = {"name": "cfg_probe", "kind": "probe", "instrument": "HDFCBANK", "params": {"every_n_ticks": 1000}}


def engine_at(data: Path, hour: int, minute: int) -> SimEngine:
    return SimEngine(data, at_ist(FRIDAY, hour, minute), ACTORS, sim_config(ACTORS, strategy={"instances": [CONFIGURED]}))


def ask(engine: SimEngine, msg: AddStrategy | RemoveStrategy | SetStrategyRunning) -> Reply:
    engine.send("strategy", msg)
    (reply,) = [r for r in engine.seen(Reply) if r.cmd_id == msg.cmd_id]
    return reply


def add(engine: SimEngine, cmd_id: str, name: str, kind: str = "probe", instrument: str = "RELIANCE",
        params: str = '{"every_n_ticks": 1, "max_orders": 2}') -> Reply:
    return ask(engine, AddStrategy(cmd_id, name, kind, instrument, params, "control:tina", engine.now_ns()))


def trade_ticks(engine: SimEngine, n: int) -> None:
    rel = engine.instrument("RELIANCE")
    for _ in range(n):
        engine.depth(rel, bids=[(1499_00, 500)], asks=[(1500_00, 500)])
        engine.tick(rel, 1500_00)
        engine.advance_by(1.0)


def test_an_added_strategy_trades_at_once_survives_a_restart_and_once_removed_stops(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with engine_at(data, 10, 0) as engine:
        reply = add(engine, "a1", "p1")
        assert reply.ok and json.loads(reply.detail)["every_n_ticks"] == 1
        trade_ticks(engine, 3)
        fills = [f for f in engine.seen(Fill) if f.strategy == "p1"]
        assert [f.side for f in fills] == ["BUY", "SELL"]  # max_orders 2: long, then flat again
        assert set(engine.actor("strategy").strategies) == {"cfg_probe", "p1"}
    saved = load_overrides(data)["p1"]
    assert saved.instance is not None and (saved.instance.kind, saved.instance.instrument) == ("probe", "RELIANCE")

    with engine_at(data, 11, 0) as engine:  # a restart: p1 runs again, its state (2 orders sent) kept
        strategy = engine.actor("strategy")
        assert set(strategy.strategies) == {"cfg_probe", "p1"} and strategy.strategies["p1"].state.orders == 2
        assert ask(engine, SetStrategyRunning("s1", "p1", False, "control:tina", engine.now_ns())).ok
        assert load_overrides(data)["p1"].instance is not None  # a stop keeps its definition
        assert ask(engine, SetStrategyRunning("s2", "p1", True, "control:tina", engine.now_ns())).ok
        reply = ask(engine, RemoveStrategy("r1", "p1", "control:tina", engine.now_ns()))
        assert (reply.ok, reply.detail) == (True, "probe")
        orders_before = len(engine.seen(OrderEvent))
        trade_ticks(engine, 2)
        assert not [e for e in engine.seen(OrderEvent)[orders_before:] if e.strategy == "p1"]
        assert "p1" not in strategy.strategies and "p1" not in strategy.configured
    assert "p1" not in load_overrides(data)

    with engine_at(data, 12, 0) as engine:
        assert set(engine.actor("strategy").configured) == {"cfg_probe"}


def test_a_configured_strategy_removed_stays_removed_until_added_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with engine_at(data, 10, 0) as engine:
        assert ask(engine, RemoveStrategy("r1", "cfg_probe", "control:tina", engine.now_ns())).ok
        refused = add(engine, "a0", "p1", params='{"every_n_ticks": 1, "max_orders": 1}')
        assert refused.ok
    with engine_at(data, 10, 30) as engine:
        strategy = engine.actor("strategy")
        assert set(strategy.configured) == {"p1"}
        # The name comes back with another definition: it replaces the config's while added.
        assert add(engine, "a1", "cfg_probe", instrument="RELIANCE", params="{}").ok
        assert strategy.configured["cfg_probe"].instrument == "RELIANCE"


def test_bad_definitions_are_refused_naming_the_field_and_change_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with engine_at(data, 10, 0) as engine:
        refused = add(engine, "b1", "x", kind="no_such_kind")
        assert (refused.code, "unknown strategy kind 'no_such_kind'" in refused.detail) == ("UNKNOWN_KIND", True)
        assert "ema_cross" in refused.detail  # the known kinds are listed
        refused = add(engine, "b2", "x", params='{"every_n_ticks": "often"}')
        assert refused.code == "BAD_PARAMS" and "params.every_n_ticks" in refused.detail
        refused = add(engine, "b3", "x", params='{"every_n_ticks": 0}')
        assert refused.code == "BAD_PARAMS" and "every_n_ticks (0) must be at least 1" in refused.detail
        refused = add(engine, "b4", "x", params='{"' + "k" * 50_000 + '": 1}')
        assert refused.code == "BAD_PARAMS" and len(refused.detail) < 1_000  # the key is never echoed whole
        refused = add(engine, "b5", "x", params="[1, 2]")
        assert refused.code == "BAD_PARAMS" and "JSON object" in refused.detail
        refused = add(engine, "b6", "x", instrument="NOSUCHSYMBOL")
        assert refused.code == "UNKNOWN_INSTRUMENT" and refused.detail.startswith("instrument: ")
        refused = add(engine, "b7", "cfg_probe")
        assert refused.code == "NAME_IN_USE"
        assert set(engine.actor("strategy").configured) == {"cfg_probe"}
    assert not (data / RUNTIME_FILE).exists()


def test_a_strategy_holding_a_position_is_not_removed(tmp_path: Path) -> None:
    with engine_at(tmp_path / "data", 10, 0) as engine:
        assert add(engine, "a1", "p1", params='{"every_n_ticks": 1, "max_orders": 1}').ok
        trade_ticks(engine, 2)
        refused = ask(engine, RemoveStrategy("r1", "p1", "control:tina", engine.now_ns()))
        assert refused.code == "STRATEGY_ENGAGED" and "holds 1 units" in refused.detail
        assert "p1" in engine.actor("strategy").strategies
        refused = ask(engine, RemoveStrategy("r2", "nobody", "control:tina", engine.now_ns()))
        assert refused.code == "UNKNOWN_STRATEGY"
