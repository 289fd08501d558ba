"""Warm-up from a recording: the strategies' indicators see the capture's bars before the first
live tick, and nothing else survives it (no orders, no saved state, no published bars)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import msgspec

from engine.backtest.runner import write_synthetic_capture
from actors.strategy.config import StrategyConfig
from engine.config import Config
from tests.support.config import daemon_config, strategy_instance, synthetic_feed
from tests.support.daemon import Daemon
from tests.support.ledger import audit_rows, read_ledger


# Counts bars outside its state (what warm-up keeps) and inside it (what warm-up must not keep),
# buys on every bar (what warm-up must drop) and saves its state on every bar (dropped while
# warming): at the first live bar it notes in its state what it had seen, for the test to read
# from the ledger.
WARM_PROBE = '''
from actors.strategy.api import Strategy, StrategyParams, StrategyState


class WarmState(StrategyState):
    bars: int = 0
    first_live_seen: int = 0        # at the first live bar: bars seen in all, warm-up's included
    first_live_state_bars: int = 0  # ... and bars the state had counted
    first_bar_ts: int = 0           # ... and the time of the very first bar seen


class WarmProbe(Strategy):
    kind = "warm_probe"
    State = WarmState

    def on_start(self):
        self.seen = 0
        self.first_bar_ts = 0
        self.ctx.subscribe_bars(self.instrument, 1)

    def on_bar(self, bar):
        self.seen += 1
        self.state.bars += 1
        if not self.first_bar_ts:
            self.first_bar_ts = bar.ts_event_ns
        if not self.state.first_live_seen:
            if self.state.bars > 1:
                self.ctx.buy(self.instrument, 1)  # only ever during warm-up: dropped
            elif self.seen > 1:
                self.state.first_live_seen = self.seen
                self.state.first_live_state_bars = self.state.bars
                self.state.first_bar_ts = self.first_bar_ts
                self.ctx.buy(self.instrument, 1)
        self.ctx.save_state()
'''


def config(user_dir: Path, capture: Path) -> Config:
    return daemon_config(feed=synthetic_feed(["RELIANCE"], rate_per_s=200), strategy=StrategyConfig(
        user_dir=str(user_dir), warmup_capture=str(capture),
        instances=[strategy_instance("warm", "warm_probe", "RELIANCE")]))


def log_event(d: Daemon, event: str) -> dict | None:
    for line in d.log().splitlines():
        if f'"event":"{event}"' in line:
            return json.loads(line)
    return None


def test_indicators_warm_up_from_a_capture_and_only_live_bars_trade(root) -> None:
    user_dir = root / "strategies"
    user_dir.mkdir()
    (user_dir / "warm_probe.py").write_text(WARM_PROBE)
    capture = root / "history.cap"
    write_synthetic_capture(capture, 3_000, root / "cache", rate_per_s=50)  # 60 s of RELIANCE
    d = Daemon(root, config(user_dir, capture)).start()
    try:
        d.wait_running()
        done = log_event(d, "warmup_done")
        assert done is not None and done["trades"] > 2_000 and done["orders_dropped"] >= 50, done

        def first_live_bar() -> dict | None:
            saved = read_ledger(d.data_dir, lambda snap: snap.strategy_state("warm"))
            state = msgspec.msgpack.decode(saved.state)
            return state if state["first_live_seen"] else None

        first = d.eventually(first_live_bar, "the first live bar noted in the strategy's saved state", 30.0)
        assert first["first_live_seen"] >= 55 and first["first_live_state_bars"] == 1  # indicators kept, state not
        assert first["first_bar_ts"] < time.time_ns() - 3600 * 10**9  # the first bar came from history

        def intents() -> set[str]:  # orders, and denials (one that reaches risk before its first price is)
            ordered = read_ledger(d.data_dir, lambda snap: {o.intent_id for o in snap.orders().values()
                                                            if o.strategy == "warm"})
            return ordered | {r.args["intent_id"] for r in audit_rows(d.data_dir, "deny_intent")
                              if r.args.get("strategy") == "warm"}

        d.eventually(intents, "the live intent in the ledger (an order or a denial)", 20.0)
        assert len(intents()) == 1  # the live intent only; none of the warm-up's
        assert d.stop() == 0
    finally:
        d.reap()


def test_a_missing_warmup_capture_stops_the_daemon_with_a_config_error_naming_it(root) -> None:
    (root / "warm_probe.py").write_text(WARM_PROBE)
    d = Daemon(root, config(root, root / "nowhere.cap")).start()
    try:
        code = d.proc.wait(timeout=60)
        assert code == 78, d.log()[-2000:]
        assert "strategy.warmup_capture" in d.log() and "nowhere.cap" in d.log()
    finally:
        d.reap()
