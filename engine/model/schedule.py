"""The trading day's plan: when each phase of an IST day begins, from the calendar. Pure.

A trading day (one of ``[schedule] segments`` has a session; NSE equity and F&O by default) has four phases:

- ``pre_open`` at ``pre_open_ist`` (08:30): broker token, instrument master, reconciliation,
  strategy warm-up, live feeds connect;
- ``session`` at the earliest open (09:15 on a normal day, a special session's own open);
- ``post_close`` ``post_close_after_s`` after the close: leftover DAY orders, the day's summary,
  the ledger backup;
- ``night`` ``night_after_s`` after the close: live feeds disconnect until the next pre-open.

A day without a session (a weekend, a holiday) has ``pre_open`` (trading_day false: only the
instrument master is refreshed) and ``night``: the engine idles. Times come from the calendar
with its overrides and its fallback past the library's data, so a special session (Muhurat trading
in the evening) moves the day's phases with it; a phase never comes before the previous one.

The supervisor drives this with a clock (``engine.daemon.schedule``); ``shikra schedule`` prints
it. Everything here takes ``now_ns`` and returns values.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import msgspec

from engine.model.calendar import SessionCalendar
from engine.model.ist import NS_PER_S, day_date, ist_day, ist_day_number, ist_midnight_ns, time_of_day_ns
from engine.section import Section
from ipc.messages import DayPhase
from ipc.segments import Segment

# The segments whose sessions make the day's phases by default (NSE equity and F&O share hours).
# A daemon that trades MCX lists MCX_COMM too: the session then begins at the earliest open and
# post-close and night come after the latest close (23:30), so the feeds stay up and evening DAY
# orders are left alone until MCX closes.
DEFAULT_SCHEDULE_SEGMENTS: Final = ("NSE_EQ",)
# How far ahead a next phase is looked for: longer than any run of closed days.
LOOKAHEAD_DAYS: Final = 15


class ScheduleConfig(Section):
    """``[schedule]``: the daemon's daily plan (see this module's docstring)."""

    enabled: bool = True
    pre_open_ist: dt.time = dt.time(8, 30)
    post_close_after_s: int = 600     # post-close this long after the session's close (15:40)
    night_after_s: int = 5400         # feeds disconnect this long after the close (17:00)
    cancel_day_orders: bool = True    # post-close: cancel DAY orders the venue still holds
    backup_keep_days: int = 7         # post-close ledger backups kept (older ones removed); 0: no backup
    # The segments traded (labels, ipc.segments): a day is a trading day when one of them has a
    # session; the phases follow the earliest open and the latest close among them.
    segments: tuple[str, ...] = DEFAULT_SCHEDULE_SEGMENTS

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError("schedule.segments: name at least one segment (e.g. [\"NSE_EQ\"])")
        unknown = [label for label in self.segments if Segment.from_label(label) is None]
        if unknown:
            known = ", ".join(m.name for m in Segment)
            raise ValueError(f"schedule.segments: {unknown[0][:40]!r} is not a segment (one of {known})")
        if self.post_close_after_s < 0:
            raise ValueError(f"schedule.post_close_after_s: must be >= 0, got {self.post_close_after_s}")
        if self.night_after_s < self.post_close_after_s:
            raise ValueError(f"schedule.night_after_s ({self.night_after_s}) must be >= post_close_after_s "
                             f"({self.post_close_after_s}): the feeds stay up through post-close")
        if self.backup_keep_days < 0:
            raise ValueError(f"schedule.backup_keep_days: must be >= 0, got {self.backup_keep_days}")


class PhaseAt(msgspec.Struct, frozen=True):
    """One phase of the plan: it begins at ``at_ns`` (epoch ns) of IST ``day`` (ISO date)."""

    at_ns: int
    day: str
    phase: DayPhase
    trading_day: bool


def day_plan(calendar: SessionCalendar, cfg: ScheduleConfig, d: dt.date) -> list[PhaseAt]:
    """The phases of IST date ``d``, in order."""
    day = ist_day_number(d)
    iso = d.isoformat()
    pre_open_ns = ist_midnight_ns(day) + time_of_day_ns(cfg.pre_open_ist)
    bounds = _day_bounds(calendar, cfg, d)
    if bounds is None:
        night_ns = max(pre_open_ns, ist_midnight_ns(day) + time_of_day_ns(dt.time(15, 30)) + cfg.night_after_s * NS_PER_S)
        return [PhaseAt(pre_open_ns, iso, "pre_open", False), PhaseAt(night_ns, iso, "night", False)]
    open_ns, close_ns = bounds
    # A session that opens before the configured pre-open (none does today) still gets its pre-open first.
    pre_open_ns = min(pre_open_ns, open_ns)
    post_close_ns = close_ns + cfg.post_close_after_s * NS_PER_S
    night_ns = close_ns + cfg.night_after_s * NS_PER_S
    return [PhaseAt(pre_open_ns, iso, "pre_open", True), PhaseAt(open_ns, iso, "session", True),
            PhaseAt(post_close_ns, iso, "post_close", True), PhaseAt(night_ns, iso, "night", True)]


def schedule_segments(cfg: ScheduleConfig) -> tuple[int, ...]:
    """The segment codes of ``cfg.segments`` (validated when the config was read)."""
    return tuple(int(Segment.from_label(label) or 0) for label in cfg.segments)


def _day_bounds(calendar: SessionCalendar, cfg: ScheduleConfig, d: dt.date) -> tuple[int, int] | None:
    """(earliest open, latest close) of the scheduled segments' sessions on ``d``; None: no session."""
    found = [b for b in (calendar.session_bounds(d, seg) for seg in schedule_segments(cfg)) if b is not None]
    if not found:
        return None
    return min(b[0] for b in found), max(b[1] for b in found)


def next_phase(calendar: SessionCalendar, cfg: ScheduleConfig, now_ns: int) -> PhaseAt:
    """The first phase that begins after ``now_ns``."""
    today = ist_day(now_ns)
    for day in range(today - 1, today + LOOKAHEAD_DAYS):
        for phase in day_plan(calendar, cfg, day_date(day)):
            if phase.at_ns > now_ns:
                return phase
    raise AssertionError("unreachable: every day has a pre-open")  # pragma: no cover


def current_phase(calendar: SessionCalendar, cfg: ScheduleConfig, now_ns: int) -> PhaseAt:
    """The phase in force at ``now_ns``: the last one that began at or before it (the night of a
    previous day before today's pre-open)."""
    today = ist_day(now_ns)
    for day in range(today, today - LOOKAHEAD_DAYS, -1):
        for phase in reversed(day_plan(calendar, cfg, day_date(day))):
            if phase.at_ns <= now_ns:
                return phase
    raise AssertionError("unreachable: every day has a pre-open")  # pragma: no cover


def phases_between(calendar: SessionCalendar, cfg: ScheduleConfig, after_ns: int, until_ns: int) -> list[PhaseAt]:
    """The phases that begin in ``(after_ns, until_ns]``, in order (what a clock moving from one
    to the other passes)."""
    out = []
    t = after_ns
    while True:
        phase = next_phase(calendar, cfg, t)
        if phase.at_ns > until_ns:
            return out
        out.append(phase)
        t = phase.at_ns
