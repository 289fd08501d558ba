"""Risk in a running daemon: a daily loss breach halts and flattens; the halt survives a restart
and only an explicit release lifts it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from engine.ledger import LedgerReader, ledger_dir
from tests.support.daemon import Daemon, short_tmpdir
from tests.support.wait import eventually
from tests.test_pipeline import assert_books_balance, wait_for_fills

CONFIG = """
[engine]
actors = ["feed", "book", "strategy", "risk", "execution"]
heartbeat_interval_s = 0.2
[log]
format = "json"
[feed.synthetic]
rate_per_s = 400
underlyings = []
stocks = ["RELIANCE"]
[risk.limits]
max_orders_per_second = 1000
max_orders_per_day = 1000000
max_trades_per_day = 1000000
daily_max_loss_paise = 300
[[strategy.instances]]
name = "probe"
kind = "probe"
instrument = "RELIANCE"
params = { every_n_ticks = 3, qty_lots = 5 }
"""


@pytest.fixture
def root():
    path = short_tmpdir()
    yield path
    if not os.environ.get("SHIKRA_KEEP_TMP"):
        shutil.rmtree(path, ignore_errors=True)


def trading_state(d: Daemon):
    with LedgerReader.open(ledger_dir(d.data_dir)) as reader, reader.snapshot() as snap:
        return snap.trading_state(), snap.positions(), snap.audit(0, 100000)


def wait_state(d: Daemon, state: str, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ts, positions, audit = trading_state(d)
            if ts.state == state:
                return ts, positions, audit
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError(f"trading state never became {state}:\n{d.log()[-3000:]}")


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

        audit = eventually(flat_and_denying, "every position flat and new intents denied HALTED after the breach",
                           describe=lambda: f"positions: {trading_state(d)[1]}\n{d.log()[-3000:]}")
        actions = [row for _, row in audit if row.action == "risk_kill_and_flatten"]
        assert actions and actions[0].args["reason_code"] == "DAILY_MAX_LOSS" and "daily max loss" in actions[0].result
        assert d.stop() == 0
    finally:
        d.reap()

    d2 = Daemon(root, CONFIG).start()
    try:
        d2.wait_running()
        ready = [line for line in d2.log().splitlines() if '"risk_ready"' in line][-1]
        assert '"state":"HALTED"' in ready
        before = len([r for _, r in trading_state(d2)[2] if r.args.get("reason_code") == "HALTED"])
        time.sleep(1.0)
        after = len([r for _, r in trading_state(d2)[2] if r.args.get("reason_code") == "HALTED"])
        assert after > before, "still denying after the restart"
        out = cli(d2, "kill", "--release")
        assert out.returncode == 0, out.stderr
        wait_state(d2, "ACTIVE")
        with LedgerReader.open(ledger_dir(d2.data_dir)) as reader, reader.snapshot() as snap:
            fills_before = len(snap.fills())
        wait_for_fills(d2, fills_before + 4)
        assert d2.stop() == 0
    finally:
        d2.reap()
    with LedgerReader.open(ledger_dir(d2.data_dir)) as reader, reader.snapshot() as snap:
        facts = {"orders": snap.orders(), "fills": snap.fills(), "positions": snap.positions(),
                 "wallet": snap.wallet(), "verify": snap.verify(), "audit": list(snap.audit(0, 100000))}
    assert_books_balance(facts)
