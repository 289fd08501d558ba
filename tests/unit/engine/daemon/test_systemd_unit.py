"""The systemd unit in deploy/ agrees with the code about which exits a restart cannot fix."""

from __future__ import annotations

from pathlib import Path

from actors.base import PERMANENT_EXIT_CODES

UNIT = Path(__file__).parents[4] / "deploy" / "shikra.service"


def test_restart_prevent_exit_status_lists_every_permanent_exit_code() -> None:
    lines = [line for line in UNIT.read_text().splitlines() if line.startswith("RestartPreventExitStatus=")]
    assert len(lines) == 1
    assert {int(code) for code in lines[0].split("=", 1)[1].split()} == PERMANENT_EXIT_CODES
