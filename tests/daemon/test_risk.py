"""Risk in a running daemon: a daily loss breach halts and flattens; the halt survives a restart
and only an explicit release lifts it."""

from __future__ import annotations

import subprocess
import sys

from actors.risk.config import RiskConfig
from actors.strategy.config import StrategyConfig
from tests.support.config import daemon_config, strategy_instance, synthetic_feed, unlimited_limits
from tests.support.daemon import Daemon
from tests.support.ledger import assert_books_balance, ledger_facts, read_ledger, wait_for_fills

CONFIG = daemon_config(
    feed=synthetic_feed(["RELIANCE"]),
    risk=RiskConfig(limits=unlimited_limits(daily_max_loss_paise=300)),
    strategy=StrategyConfig(instances=[
        strategy_instance("probe", "probe", "RELIANCE", every_n_ticks=3, qty_lots=5)]))


def trading_state(d: Daemon):
    return read_ledger(d.data_dir, lambda snap: (snap.trading_state(), snap.positions(), snap.audit(0, 100000)))


def wait_state(d: Daemon, state: str):
    return d.eventually(lambda: (found := trading_state(d))[0].state == state and found, f"trading state {state}")


def halted_denials(d: Daemon) -> int:
    return len([r for _, r in trading_state(d)[2] if r.args.get("reason_code") == "HALTED"])


def cli(d: Daemon, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args, "--config", str(d.config_path),
                           "--data-dir", str(d.data_dir)], capture_output=True, text=True, timeout=30)


def test_daily_loss_breach_halts_flattens_and_stays_halted_across_restart(root):
    d = Daemon(root, CONFIG).start()
    try:
        d.wait_running()
        ts, _, _ = wait_state(d, "HALTED")
        assert ts.reason_code == "DAILY_MAX_LOSS" and "daily max loss" in ts.detail

        def flat_and_denying():  # the exit order fills; the probe's new intents are denied HALTED
            _, positions, audit = trading_state(d)
            flat = positions and all(p.net_qty_units == 0 for p in positions.values())
            halted = [row for _, row in audit if row.action == "deny_intent" and row.args["reason_code"] == "HALTED"]
            return audit if flat and halted else None

        audit = d.eventually(flat_and_denying, "every position flat and new intents denied HALTED after the breach")
        actions = [row for _, row in audit if row.action == "risk_kill_and_flatten"]
        assert actions and actions[0].args["reason_code"] == "DAILY_MAX_LOSS" and "daily max loss" in actions[0].result
        assert d.stop() == 0
    finally:
        d.reap()

    d2 = Daemon(root, CONFIG).start()
    try:
        d2.wait_running()
        assert trading_state(d2)[0].state == "HALTED"
        before = halted_denials(d2)
        d2.eventually(lambda: halted_denials(d2) > before, "new intents still denied HALTED after the restart")
        out = cli(d2, "kill", "--release")
        assert out.returncode == 0, out.stderr
        wait_state(d2, "ACTIVE")
        wait_for_fills(d2, len(read_ledger(d2.data_dir, lambda snap: snap.fills())) + 4)
        assert d2.stop() == 0
    finally:
        d2.reap()
    assert_books_balance(ledger_facts(d2.data_dir))
