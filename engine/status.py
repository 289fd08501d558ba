"""The supervisor's status file (``<run_dir>/status.json``) and its human rendering.

Until the gRPC control API serves status, ``shikra status`` reads this file.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec

from engine.files import replace_file

STATUS_NAME = "status.json"


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


def _age(ns: int, now_ns: int) -> str:
    if not ns:
        return "-"
    seconds = (now_ns - ns) / 1e9
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def render_status(status: DaemonStatus, now_ns: int | None = None) -> str:
    now_ns = now_ns or time.time_ns()
    ks = status.kill_switch
    lines = [
        f"shikra daemon pid {status.pid}  state {status.state}  up {_age(status.started_ns, now_ns)}  "
        f"topology {status.topology}",
        f"kill switch: {'ENGAGED (' + ks.reason + ', by ' + ks.by + ')' if ks.engaged else 'released'}",
        "",
        f"{'ACTOR':<11}{'UNIT':<11}{'PID':>8}  {'STATE':<11}{'UPTIME':>8}{'RESTARTS':>9}"
        f"{'HEARTBEAT':>11}{'IN':>10}{'OUT':>10}{'BAD':>6}",
    ]
    for a in status.actors:
        lines.append(
            f"{a.name:<11}{a.unit:<11}{a.pid:>8}  {a.state:<11}{_age(a.started_ns, now_ns):>8}"
            f"{a.restarts:>9}{_age(a.last_heartbeat_ns, now_ns):>11}{a.msgs_in:>10}{a.msgs_out:>10}"
            f"{a.bad_frames:>6}")
    return "\n".join(lines)
