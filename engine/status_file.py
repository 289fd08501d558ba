"""What the supervisor writes down for others to read: ``<run_dir>/status.json`` (rewritten once a
second) and the kill-switch record ``<data_dir>/kill_switch.json``; their schema and the status
file's reader and writer.

A lower layer beside ``engine.files``: the supervisor (``engine.daemon``) writes these files, the
CLI reads them, and so, for now, do the control and gateway actors. That last part goes against
the design (actors learn each other's state by messages or the ledger, not each other's files):
when the supervisor publishes its status on the bus, the actors stop reading these files.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from engine.files import replace_file

STATUS_NAME = "status.json"
KILL_SWITCH_FILE = "kill_switch.json"


class ActorStatus(msgspec.Struct):
    name: str
    unit: str
    pid: int
    state: str            # starting, ready, stopping, restarting, down
    started_ns: int
    restarts: int
    last_heartbeat_ns: int
    msgs_in: int = 0
    msgs_out: int = 0
    bad_frames: int = 0


class KillSwitchStatus(msgspec.Struct):
    engaged: bool = False
    reason: str = ""
    by: str = ""
    ts_ns: int = 0


class DaemonStatus(msgspec.Struct):
    pid: int
    state: str            # starting, running, stopping, stopped
    started_ns: int
    updated_ns: int
    topology: str
    data_dir: str
    kill_switch: KillSwitchStatus
    actors: list[ActorStatus]


def write_status(run_dir: Path, status: DaemonStatus) -> None:
    """Atomic replace, so a reader never sees half a file."""
    replace_file(run_dir / STATUS_NAME, msgspec.json.encode(status), durable=False)


def read_status(run_dir: Path) -> DaemonStatus | None:
    try:
        return msgspec.json.decode((run_dir / STATUS_NAME).read_bytes(), type=DaemonStatus)
    except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
        return None
