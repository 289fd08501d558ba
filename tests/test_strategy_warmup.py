"""Warm-up from a recording: the strategies' indicators see the capture's bars before the first
live tick, and nothing else survives it (no orders, no saved state, no published bars)."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from engine.backtest.runner import write_synthetic_capture
from engine.ledger import LedgerError, LedgerReader, ledger_dir
from tests.support.daemon import Daemon, short_tmpdir

pytestmark = pytest.mark.slow

# Counts bars outside its state (what warm-up keeps) and inside it (what warm-up must not keep),
# and buys on every bar (what warm-up must drop).
WARM_PROBE = '''
from actors.strategy.api import Strategy, StrategyParams, StrategyState


class WarmState(StrategyState):
    bars: int = 0


class WarmProbe(Strategy):
    kind = "warm_probe"
    State = WarmState

    def on_start(self):
        self.seen = 0
        self.first_bar_ts = 0
        self.reported = False
        self.ctx.subscribe_bars(self.instrument, 1)

    def on_bar(self, bar):
        self.seen += 1
        self.state.bars += 1
        if not self.first_bar_ts:
            self.first_bar_ts = bar.ts_event_ns
        self.ctx.save_state()
        if self.reported:
            return
        if self.state.bars > 1:
            self.ctx.buy(self.instrument, 1)  # only ever during warm-up: dropped
        elif self.seen > 1:
            self.reported = True
            self.ctx.log.info("warm_probe_first_live_bar", seen=self.seen, state_bars=self.state.bars,
                              first_bar_ts=self.first_bar_ts)
            self.ctx.buy(self.instrument, 1)
'''


@pytest.fixture
def root():
    path = short_tmpdir("sk-warm-")
    yield path
    if not os.environ.get("SHIKRA_KEEP_TMP"):
        shutil.rmtree(path, ignore_errors=True)


def config(user_dir, capture) -> str:  # type: ignore[no-untyped-def]
    return f"""
[engine]
actors = ["feed", "book", "strategy", "risk", "execution"]
heartbeat_interval_s = 0.2
heartbeat_timeout_s = 3.0
[log]
format = "json"
[feed.synthetic]
rate_per_s = 200
underlyings = []
stocks = ["RELIANCE"]
[strategy]
user_dir = "{user_dir}"
warmup_capture = "{capture}"
[[strategy.instances]]
name = "warm"
kind = "warm_probe"
instrument = "RELIANCE"
"""


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
        deadline = time.monotonic() + 30
        while (first := log_event(d, "warm_probe_first_live_bar")) is None:
            assert time.monotonic() < deadline, d.log()[-3000:]
            time.sleep(0.1)
        assert first["seen"] >= 55 and first["state_bars"] == 1   # indicators kept, state put back
        assert first["first_bar_ts"] < time.time_ns() - 3600 * 10**9  # the first bar came from history

        def orders() -> list:
            try:
                with LedgerReader.open(ledger_dir(d.data_dir)) as r, r.snapshot() as snap:
                    return [o for o in snap.orders().values() if o.strategy == "warm"]
            except LedgerError:
                return []

        deadline = time.monotonic() + 20
        while not orders():
            assert time.monotonic() < deadline, d.log()[-3000:]
            time.sleep(0.1)
        assert len(orders()) == 1  # the live order only; none of the warm-up's
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
