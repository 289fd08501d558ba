"""Time to expiry for option pricing, in trading time from the exchange calendar.

An option's volatility is spent while its market trades, not over weekends and holidays, so the
priced chain (``actors.control.chain``) measures time in trading nanoseconds:

* the **time left** is the sum, over each session from now to the expiry day, of the part of the
  session (``SessionCalendar.session_bounds`` of the option's segment) that lies between now and
  the contract's settlement moment (``engine.model.expiry_day.settles_at_ns``: the expiry day's
  close, 15:30 IST);
* the **trading year** is the sum of the session lengths of the 365 IST days that start with
  today's, and a **trading day** is that year over the number of days with a session;
* years to expiry = time left / trading year.

With the exchange calendar a year is about 248 sessions of 375 minutes and a weekend costs an
option nothing; on the always-open calendar of the synthetic market every day is a 24-hour
session and the measure is calendar time over a 365-day year. Pure: the calendar and ``now_ns``
come in, integers go out; the per-day year figures are cached (the calendar's tables only grow).
"""

from __future__ import annotations

import msgspec

from engine.model.calendar import AlwaysOpenCalendar, CalendarSource, SessionCalendar
from engine.model.expiry_day import settles_at_ns
from engine.model.ist import day_date, ist_day

YEAR_DAYS = 365


class TradingTime(msgspec.Struct, frozen=True):
    """``left_ns``: trading ns from now to the settlement moment (0 once it has passed).
    ``year_ns``: trading ns in the year that starts today; ``year_sessions``: sessions in it."""

    left_ns: int
    year_ns: int
    year_sessions: int

    @property
    def years(self) -> float:
        return self.left_ns / self.year_ns if self.year_ns else 0.0

    @property
    def days_per_year(self) -> int:
        return self.year_sessions


class OptionClock:
    """Trading time to an expiry on one calendar and segment; caches the year per IST day."""

    def __init__(self, calendar: SessionCalendar, segment: int) -> None:
        self.calendar = calendar
        self.segment = segment
        self._years: dict[int, tuple[int, int]] = {}

    def _session(self, day: int) -> tuple[int, int] | None:
        return self.calendar.session_bounds(day_date(day), self.segment)

    def year(self, day: int) -> tuple[int, int]:
        """(trading ns, sessions) of the 365 IST days from ``day`` (a day number)."""
        found = self._years.get(day)
        if found is None:
            total = sessions = 0
            for d in range(day, day + YEAR_DAYS):
                b = self._session(d)
                if b is not None:
                    total += b[1] - b[0]
                    sessions += 1
            found = self._years[day] = (total, sessions)
        return found

    def to_expiry(self, expiry_yyyymmdd: int, now_ns: int) -> TradingTime:
        """Trading time from ``now_ns`` to the settlement of contracts expiring on that date."""
        end_ns = settles_at_ns(expiry_yyyymmdd)
        today = ist_day(now_ns)
        year_ns, sessions = self.year(today)
        left = 0
        for d in range(today, ist_day(end_ns) + 1):
            b = self._session(d)
            if b is not None:
                left += max(0, min(b[1], end_ns) - max(b[0], now_ns))
        return TradingTime(left, year_ns, sessions)


class OptionClocks:
    """An :class:`OptionClock` per segment over the daemon's calendar (``source``; None: the
    always-open calendar of the synthetic market). The years are measured again when the operator
    changed the calendar (``CalendarSource.refresh``, which can raise CalendarError for a damaged
    overrides file). The one place the control actor's chains and the strategies get option time."""

    def __init__(self, source: CalendarSource | None) -> None:
        self.source = source
        self._clocks: dict[int, OptionClock] = {}

    def get(self, segment: int) -> OptionClock:
        if self.source is not None and self.source.refresh():
            self._clocks.clear()
        clock = self._clocks.get(segment)
        if clock is None:
            calendar = self.source.calendar if self.source is not None else AlwaysOpenCalendar()
            clock = self._clocks[segment] = OptionClock(calendar, segment)
        return clock
