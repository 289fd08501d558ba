"""What the supervisor writes down: ``<run_dir>/status.json`` (rewritten once a second) and the
kill-switch record ``<data_dir>/kill_switch.json``; the status file's reader and writer. The
schema (``DaemonStatus``, ``KillSwitchStatus``) is in ``ipc.messages``: the supervisor publishes
the same struct on ``supervisor.status``.

A lower layer beside ``engine.files``: the supervisor (``engine.daemon``) writes these files and
the CLI reads them (``shikra status`` works with no daemon answering). Actors never read them:
they learn the supervisor's state from its messages (a test in tests/unit/actors checks it).
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from engine.files import replace_file
from ipc.messages import DaemonStatus

STATUS_NAME = "status.json"
KILL_SWITCH_FILE = "kill_switch.json"


def write_status(run_dir: Path, status: DaemonStatus) -> None:
    """Atomic replace, so a reader never sees half a file."""
    replace_file(run_dir / STATUS_NAME, msgspec.json.encode(status), durable=False)


def read_status(run_dir: Path) -> DaemonStatus | None:
    try:
        return msgspec.json.decode((run_dir / STATUS_NAME).read_bytes(), type=DaemonStatus)
    except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
        return None
