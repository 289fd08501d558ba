"""The live venue's standing for operators: written by the execution actor to
``<run_dir>/venue_status.json`` (atomically) whenever a reconciliation ends or trading is
enabled, and shown by ``shikra status``. Absent with the paper venue."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec

from engine.files import replace_file
from engine.model.ist import IST, NS_PER_S

VENUE_STATUS_NAME = "venue_status.json"


class VenueStatus(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    trading_enabled: bool  # the first reconciliation succeeded: orders go to the broker
    last_reconciled_ns: int  # last reconciliation that succeeded (0: none yet)
    failed_attempts: int  # reconciliations that failed in a row
    last_error: str
    next_attempt_ns: int  # when the next reconciliation is due
    held_intents: int  # intents waiting for the first reconciliation
    external_orders: int  # orders at the broker that Shikra did not place, recorded as EXTERNAL
    positions_disagree: list[str]  # "NSE_FNO:55796: ledger +75, Dhan +150" while they differ
    stream_up: bool
    ts_ns: int
    session_expires_ns: int = 0  # when the broker token in use expires (0: unknown)
    session_error: str = ""  # the last login / renewal refusal while it stands ("REASON: detail")


def write_venue_status(run_dir: Path, status: VenueStatus) -> None:
    replace_file(Path(run_dir) / VENUE_STATUS_NAME, msgspec.json.encode(status), durable=False)


def remove_venue_status(run_dir: Path) -> None:
    """No live venue in this run: a file left by an earlier live run must not be shown."""
    try:
        (Path(run_dir) / VENUE_STATUS_NAME).unlink()
    except FileNotFoundError:
        pass


def read_venue_status(run_dir: Path) -> VenueStatus | None:
    try:
        return msgspec.json.decode((Path(run_dir) / VENUE_STATUS_NAME).read_bytes(), type=VenueStatus)
    except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def render_venue_status(status: VenueStatus, now_ns: int) -> str:
    """One or two lines for ``shikra status``."""
    if status.trading_enabled:
        age = (now_ns - status.last_reconciled_ns) / NS_PER_S if status.last_reconciled_ns else 0.0
        line = f"venue {status.venue}: trading enabled; reconciled {age:.0f}s ago"
    else:
        line = (f"venue {status.venue}: NOT TRADING until reconciled with the broker "
                f"({status.held_intents} intent(s) held)")
    if status.failed_attempts:
        wait = max(0.0, (status.next_attempt_ns - now_ns) / NS_PER_S)
        line += f"; {status.failed_attempts} reconciliation(s) failed: {status.last_error} (next in {wait:.0f}s)"
    if not status.stream_up:
        line += "; order-update stream down (polling the order book)"
    lines = [line]
    if status.session_expires_ns:
        left_s = (status.session_expires_ns - now_ns) / NS_PER_S
        when = dt.datetime.fromtimestamp(status.session_expires_ns / NS_PER_S, IST).strftime("%Y-%m-%d %H:%M IST")
        lines.append(f"broker session: token expires {when} "
                     + (f"(in {left_s / 3600:.1f}h)" if left_s > 0 else "(EXPIRED)"))
    if status.session_error:
        lines.append(f"broker session: last login refused: {status.session_error}")
    if status.positions_disagree:
        lines.append("positions disagree with the broker: " + "; ".join(status.positions_disagree))
    if status.external_orders:
        lines.append(f"{status.external_orders} order(s) placed outside Shikra recorded as EXTERNAL")
    return "\n".join(lines)
