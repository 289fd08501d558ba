"""A session recorded with ``shikra record`` (and shown by ``shikra capture inspect``) drives the whole
engine again through the replay feed, and the ledger balances."""

from __future__ import annotations

import shutil
import subprocess
import sys

from actors.feed.capture import CaptureReader
from actors.feed.config import FeedConfig, ReplayFeedConfig
from actors.risk.config import RiskConfig
from actors.strategy.config import StrategyConfig
from tests.support.config import daemon_config, strategy_instance, unlimited_limits
from tests.support.daemon import Daemon, short_tmpdir
from tests.support.ledger import assert_books_balance, ledger_facts, wait_for_fills


def test_a_recorded_session_replays_through_the_whole_engine():
    root = short_tmpdir()
    try:
        cap = root / "session.cap"
        out = subprocess.run([sys.executable, "-m", "engine.cli", "record", "--out", str(cap), "--seconds", "3",
                              "--data-dir", str(root / "rec")], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-2000:]
        frames = list(CaptureReader(cap))
        # How many frames 3 s of wall time yields depends on the machine's load (221 to 600+ seen):
        # what matters is a capture whose packets decode (inspect) and replay into fills (below,
        # looping), not its size.
        assert frames, "the recording holds no frame"
        inspect = subprocess.run([sys.executable, "-m", "engine.cli", "capture", "inspect", str(cap), "--json",
                                  "--data-dir", str(root / "rec")], capture_output=True, text=True, timeout=60)
        assert inspect.returncode == 0 and '"type":"Quote"' in inspect.stdout
        config = daemon_config(
            feed=FeedConfig(source="replay", replay=ReplayFeedConfig(path=str(cap), pace="fast", loop=True)),
            risk=RiskConfig(market_hours="always", limits=unlimited_limits()),
            strategy=StrategyConfig(instances=[strategy_instance("probe", "probe", "RELIANCE", every_n_ticks=5)]))
        d = Daemon(root, config).start()
        try:
            d.wait_running()
            wait_for_fills(d, 5)
            assert d.stop() == 0
        finally:
            d.reap()
        assert_books_balance(ledger_facts(d.data_dir))
    finally:
        shutil.rmtree(root, ignore_errors=True)
