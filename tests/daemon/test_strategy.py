"""Strategy parameters change at run time through a command, validated by the strategy's Params."""

from __future__ import annotations

import shutil
import subprocess
import sys

from actors.strategy.config import StrategyConfig
from tests.support.config import daemon_config, paper_config, strategy_instance, synthetic_feed
from tests.support.daemon import Daemon, short_tmpdir
from tests.support.ledger import assert_books_balance, ledger_facts, wait_for_fills


def _set(d: Daemon, *assignments: str, name: str = "probe") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", "strategies", "set", name, *assignments, "--local",
                           "--config", str(d.config_path), "--data-dir", str(d.data_dir)],
                          capture_output=True, text=True, timeout=30)


def test_strategy_parameters_change_at_run_time_and_bad_ones_are_refused_with_the_key():
    root = short_tmpdir()
    d = Daemon(root, paper_config(every=50)).start()
    try:
        d.wait_running()
        ok = _set(d, "every_n_ticks=7")
        assert ok.returncode == 0, ok.stderr
        assert '"every_n_ticks":7' in ok.stdout  # the running strategy's answer, with the change applied
        bad = _set(d, "every_n_ticks=many")
        assert bad.returncode == 1 and "every_n_ticks" in bad.stderr
        zero = _set(d, "every_n_ticks=0")
        assert zero.returncode == 1 and "every_n_ticks (0) must be at least 1" in zero.stderr
        unknown = _set(d, "colour=red")
        assert unknown.returncode == 1 and "unknown parameter colour" in unknown.stderr
        missing = _set(d, "every_n_ticks=3", name="nobody")
        assert missing.returncode == 1 and "nobody" in missing.stderr
        assert d.stop() == 0
    finally:
        d.reap()
        shutil.rmtree(root, ignore_errors=True)


def test_ema_cross_on_time_bars_trades_on_the_synthetic_market_at_any_hour():
    """The synthetic market never closes, so its bars form all day (not only 09:15-15:30 IST)."""
    root = short_tmpdir()
    config = daemon_config(feed=synthetic_feed(["RELIANCE"]), strategy=StrategyConfig(instances=[
        strategy_instance("ema", "ema_cross", "RELIANCE", fast=2, slow=3, timeframe_s=1)]))
    d = Daemon(root, config).start()
    try:
        d.wait_running()
        wait_for_fills(d, 1, timeout_s=60)
        assert d.stop() == 0
        facts = ledger_facts(d.data_dir)
        assert all(f.strategy == "ema" for f in facts["fills"].values())
        assert_books_balance(facts)
    finally:
        d.reap()
        shutil.rmtree(root, ignore_errors=True)
