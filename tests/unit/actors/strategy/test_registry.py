"""The built-in strategies are registered by kind, their defaults are valid, and the strategy
actor gives them what they rely on: run-time market-data subscription, the instrument table, and
risk denials."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from actors.strategy.actor import StrategyActor, _Handle
from actors.strategy.api import InstrumentRef, Strategy, parse_params
from actors.strategy.registry import BUILTIN, resolve
from engine.model.clock import SimClock
from ipc.messages import OrderDenied, Tick
from tests.support.strategy_harness import RecordingLog, StrategyHarness, sample_table

NEW_KINDS = ["supertrend_options", "rsi_reversal", "vwap_breakout", "mean_reversion", "short_straddle",
             "short_strangle", "iron_condor", "bull_call_spread", "bear_put_spread"]
ON_AN_INSTRUMENT = {"rsi_reversal", "vwap_breakout", "mean_reversion"}  # the others find their index


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instruments")


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_each_builtin_kind_resolves_and_its_defaults_validate(kind: str, cache_dir: Path) -> None:
    assert kind in BUILTIN
    cls = resolve(kind)
    assert cls.kind == kind
    params = parse_params(cls, "x", {})
    assert isinstance(params, cls.Params)
    # a fresh state and the defaults survive the encodings the ledger and the control plane use
    state = cls.State()
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=cls.State) == state
    assert msgspec.json.decode(msgspec.json.encode(params), type=cls.Params) == params
    h = StrategyHarness(cls, {}, instrument="RELIANCE" if kind in ON_AN_INSTRUMENT else "", cache_dir=cache_dir)
    assert h.ctx.log.events("error") == []


class _Recorder(Strategy):
    kind = "recorder"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.ticks: list[Tick] = []
        self.denied: list[OrderDenied] = []

    def on_tick(self, tick: Tick) -> None:
        self.ticks.append(tick)

    def on_denied(self, denied: OrderDenied) -> None:
        self.denied.append(denied)


def _actor_with(name: str, cache_dir: Path) -> tuple[StrategyActor, _Handle, _Recorder]:
    ctx = SimpleNamespace(log=RecordingLog(), send=lambda *a: None, publish=lambda *a: None,
                          now_ns=SimClock(1_795_148_100_000_000_000).now_ns)
    actor = StrategyActor(ctx)  # type: ignore[arg-type]
    actor.table = sample_table(cache_dir)
    handle = _Handle(actor, name)
    strategy = _Recorder(handle, parse_params(_Recorder, name, {}), None)
    actor.strategies[name] = strategy
    return actor, handle, strategy


def test_subscribe_routes_an_instruments_ticks_to_the_strategy_once(cache_dir: Path) -> None:
    actor, handle, strategy = _actor_with("s1", cache_dir)
    option = InstrumentRef(2, 122558, "NIFTY-Nov2026-26000-CE", 65, 5)
    actor.on_tick(Tick(2, 122558, 10_000, 1, 1))
    assert strategy.ticks == []
    handle.subscribe(option)
    handle.subscribe(option)
    actor.on_tick(Tick(2, 122558, 10_100, 2, 2))
    assert [t.ltp_paise for t in strategy.ticks] == [10_100]


def test_the_handle_exposes_the_actors_instrument_table(cache_dir: Path) -> None:
    actor, handle, _ = _actor_with("s1", cache_dir)
    assert handle.table is actor.table
    assert handle.table is not None and handle.table.spot("NIFTY") is not None


def test_risk_denials_reach_the_strategy_they_name(cache_dir: Path) -> None:
    actor, _, strategy = _actor_with("s1", cache_dir)
    actor.on_order_denied(OrderDenied("s1-a-1", "s1", 2, 122558, "MAX_ORDER_VALUE", "too big", 1, 1))
    actor.on_order_denied(OrderDenied("s2-a-1", "s2", 2, 122558, "MAX_ORDER_VALUE", "not ours", 1, 1))
    assert [d.intent_id for d in strategy.denied] == ["s1-a-1"]
