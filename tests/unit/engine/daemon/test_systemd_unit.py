"""The systemd unit in deploy/ agrees with the code: which exits a restart cannot fix, and where an
unattended daemon writes."""

from __future__ import annotations

from pathlib import Path

from actors.base import PERMANENT_EXIT_CODES
from engine.credentials import session_cache_path
from engine.daemon.schedule import STATE_FILE
from engine.ledger import ledger_dir
from engine.ledger.backup import BACKUPS_DIR
from engine.model.calendar import overrides_path
from engine.model.lookup import instruments_dir

UNIT = Path(__file__).parents[4] / "deploy" / "shikra.service"


def test_restart_prevent_exit_status_lists_every_permanent_exit_code() -> None:
    lines = [line for line in UNIT.read_text().splitlines() if line.startswith("RestartPreventExitStatus=")]
    assert len(lines) == 1
    assert {int(code) for code in lines[0].split("=", 1)[1].split()} == PERMANENT_EXIT_CODES


def test_what_the_unattended_daemon_keeps_lives_in_the_data_dir_the_units_only_writable_path(tmp_path: Path) -> None:
    lines = UNIT.read_text().splitlines()
    assert [line for line in lines if line.startswith("ReadWritePaths=")] == ["ReadWritePaths=/var/lib/shikra"]
    assert "StateDirectory=shikra" in lines
    assert any(line.startswith("ExecStart=") and "--data-dir /var/lib/shikra" in line for line in lines)
    data = tmp_path / "data"
    kept = [ledger_dir(data), session_cache_path(data), instruments_dir(data), data / BACKUPS_DIR,
            overrides_path(data), data / STATE_FILE]
    assert [p for p in kept if not p.is_relative_to(data)] == []
