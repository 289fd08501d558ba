"""The supervisor's status (``engine.status_file``) as ``shikra status`` shows it."""

from __future__ import annotations

import time

from ipc.messages import DaemonStatus


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
    ]
    # Each actor's heartbeat says whether its host obeys the switch; until all do, name the rest.
    not_yet = [a.name for a in status.actors if ks.engaged and not a.kill_switch_engaged]
    if not_yet:
        lines.append(f"  not yet obeyed by: {', '.join(not_yet)}")
    lines += [
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
