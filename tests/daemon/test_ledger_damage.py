"""A damaged ledger stops ``shikra run`` before any unit starts, with one message and exit 65,
leaving the file's bytes as they were; a unit that fails permanently stops the daemon instead of
being restarted forever; the running ledger is verified in the background; a backup taken while
the daemon runs reopens and verifies."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from actors.base import EXIT_CONFIG, EXIT_LEDGER_DAMAGED
from actors.strategy.config import StrategyConfig
from engine.config import InstrumentsConfig
from engine.ledger import TRADING_ACCOUNT, LedgerConfig, LedgerReader, ledger_dir
from engine.ledger.check import check_ledger
from tests.support.config import paper_config
from tests.support.daemon import Daemon
from tests.support.ledger_damage import forge_wallet, sha256, truncate_to_half, write_ledger, xor_middle

EXIT_TIMEOUT_S = 60


def _refused_start(root: Path, damage: Callable[[Path], object], expected: str, verify_on_open: bool = False) -> None:
    cfg = paper_config()
    if verify_on_open:
        cfg = msgspec.structs.replace(cfg, ledger=LedgerConfig(verify_on_open=True))
    d = Daemon(root, cfg)
    ledger = ledger_dir(d.data_dir)
    write_ledger(ledger)
    damage(ledger)
    before = sha256(ledger / "data.mdb")
    d.start()
    try:
        assert d.proc is not None and d.proc.wait(timeout=EXIT_TIMEOUT_S) == EXIT_LEDGER_DAMAGED, d.describe()
        log = d.log()
        assert f"shikra: ledger {ledger / 'data.mdb'} is damaged: {expected}" in log, log[-3000:]
        assert "restore a backup" in log or "shikra ledger rebuild" in log
        assert "unit_spawned" not in log and "Traceback" not in log  # no unit started, nothing raw
        assert sha256(ledger / "data.mdb") == before
    finally:
        d.reap()


def test_a_truncated_ledger_stops_the_start_with_exit_65(root: Path) -> None:
    _refused_start(root, truncate_to_half, "truncated: the file holds")


def test_a_ledger_with_64_kib_flipped_stops_the_start_with_exit_65(root: Path) -> None:
    _refused_start(root, xor_middle, "")


def test_a_forged_wallet_row_stops_the_start_with_verify_on(root: Path) -> None:
    _refused_start(root, forge_wallet, f"stored wallets: key {TRADING_ACCOUNT!r}", verify_on_open=True)


def test_a_unit_that_fails_permanently_stops_the_daemon_with_its_code(root: Path) -> None:
    cfg = msgspec.structs.replace(paper_config(), instruments=InstrumentsConfig(master=str(root / "no-master.csv")))
    d = Daemon(root, cfg).start()
    try:
        assert d.proc is not None and d.proc.wait(timeout=EXIT_TIMEOUT_S) == EXIT_CONFIG, d.describe()
        log = d.log()
        assert "unit_failed_permanently" in log and "no-master.csv" in log
        assert "unit_died" not in log  # stopped, never restarted
    finally:
        d.reap()


def test_a_backup_taken_while_the_daemon_runs_reopens_and_verifies(root: Path) -> None:
    cfg = msgspec.structs.replace(paper_config(every=3), ledger=LedgerConfig(background_verify_interval_s=1))
    d = Daemon(root, cfg).start()
    try:
        d.wait_running()
        d.eventually(lambda: "ledger_verified" in d.log() or None, "a background verify of the running ledger")
        ledger = ledger_dir(d.data_dir)

        def orders_recorded() -> int | None:
            with LedgerReader.open(ledger) as reader:
                return reader.last_seq() if reader.last_seq() >= 40 else None

        d.eventually(orders_recorded, "orders in the ledger")
        target = root / "backup.mdb"
        done = subprocess.run([sys.executable, "-m", "engine.cli", "ledger", "backup", str(target), "--config",
                               str(d.config_path), "--data-dir", str(d.data_dir)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        verify = subprocess.run([sys.executable, "-m", "engine.cli", "ledger", "verify", "--config",
                                 str(d.config_path), "--data-dir", str(d.data_dir)], capture_output=True, text=True,
                                timeout=120)
        assert verify.returncode == 0, verify.stdout + verify.stderr  # a snapshot of the running daemon's
        rebuild = subprocess.run([sys.executable, "-m", "engine.cli", "ledger", "rebuild", "--config",
                                  str(d.config_path), "--data-dir", str(d.data_dir)], capture_output=True, text=True,
                                 timeout=120)
        assert rebuild.returncode == 1 and "stop it before a rebuild" in rebuild.stderr
        assert d.stop() == 0
    finally:
        d.reap()
    restored = root / "restored"
    restored.mkdir()
    target.rename(restored / "data.mdb")
    report = check_ledger(restored, full=True)
    assert report.outcome == "ok" and report.events >= 40, report


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    monkeypatch.setenv("HOME", str(root))  # the CLI must not read the machine's own config


def test_damage_found_by_the_background_verify_engages_the_kill_switch(root: Path) -> None:
    # No strategy: nothing rewrites the wallet row after it is forged, so only the verify can see it.
    cfg = msgspec.structs.replace(paper_config(), strategy=StrategyConfig(instances=[]),
                                  ledger=LedgerConfig(background_verify_interval_s=1))
    d = Daemon(root, cfg).start()
    try:
        assert not d.wait_running().kill_switch.engaged
        forged = forge_wallet(ledger_dir(d.data_dir), running=True)
        status = d.wait_for(lambda s: s.kill_switch.engaged, timeout_s=60, what="the kill switch")
        assert status.kill_switch.reason.startswith("ledger verify:") and "wallets" in status.kill_switch.reason
        assert str(forged) in status.kill_switch.reason or "rebuild" in status.kill_switch.reason
        assert status.state == "running"  # halted, not stopped: an operator restores or rebuilds
        assert d.stop() == 0
    finally:
        d.reap()
