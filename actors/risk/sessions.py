"""Market hours, trading days, entry cut-off and square-off times (IST), from a real calendar.

Trading days and the equity session (09:15-15:30 IST) come from ``exchange_calendars``' ``XBOM``
calendar (BSE; NSE declares the same trading holidays, so one calendar serves NSE and BSE). The
library is slow (pandas), so a :class:`SessionCalendar` reads its schedule once at construction and
answers from plain ``dict[int, ...]`` tables keyed by the IST day number; :meth:`SessionCalendar.day`
returns a :class:`TradingDay` whose per-segment bounds let the per-intent hot path decide with two
integer comparisons.

What the installed library (exchange_calendars 4.13.2) says, checked when this was written:
- ``XBOM`` opens 09:15 and closes 15:30 Asia/Kolkata, matching NSE/BSE continuous trading.
- Holidays are precomputed through 2026-12-31 (e.g. 2026-01-26 Republic Day, 2026-11-10 Diwali
  Balipratipada); the calendar ends there. A day outside the library's range is treated as closed
  (fail safe): :meth:`SessionCalendar.covers` tells the actor shell to warn before it happens.
- Special sessions are not in the library's schedule (Saturday budget sessions, Diwali Muhurat
  trading); on those days the engine sees the market closed. Pre-open (09:00-09:08) is not a session
  here: orders are admitted in continuous trading only.

Segments other than NSE/BSE equity and F&O use the library's trading *days* with fixed hours from
:data:`SEGMENT_HOURS`: currency 09:00-17:00 and MCX 09:00-23:30. MCX assumption: MCX is taken to be
closed on every NSE/BSE holiday (on some of them MCX really runs an evening session from 17:00; we
stay out, which is the safe side) and its close is fixed at 23:30 (MCX extends non-agri contracts to
23:55 while the US is on standard time; not modelled). IDX_I (indices) has no session: not tradable.

Times of day are compared in IST, which has no daylight saving, so IST wall time is UTC + 5:30 on
every date and a day boundary is plain integer arithmetic.
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache

import msgspec

from ipc.segments import Segment

NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S
IST_OFFSET_NS = 19_800 * NS_PER_S  # +05:30, no DST
_EPOCH_DATE = dt.date(1970, 1, 1)


class SegmentHours(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Session hours of one segment in IST; ``None`` means "the exchange calendar's session"."""

    open_ist: dt.time | None = None
    close_ist: dt.time | None = None


SEGMENT_HOURS: dict[int, SegmentHours] = {
    Segment.NSE_EQ: SegmentHours(),
    Segment.NSE_FNO: SegmentHours(),
    Segment.BSE_EQ: SegmentHours(),
    Segment.BSE_FNO: SegmentHours(),
    Segment.NSE_CURRENCY: SegmentHours(dt.time(9, 0), dt.time(17, 0)),
    Segment.BSE_CURRENCY: SegmentHours(dt.time(9, 0), dt.time(17, 0)),
    Segment.MCX_COMM: SegmentHours(dt.time(9, 0), dt.time(23, 30)),
}


# --------------------------------------------------------------------------------------------
# IST arithmetic on integer nanoseconds
# --------------------------------------------------------------------------------------------


def time_of_day_ns(t: dt.time) -> int:
    """Nanoseconds since midnight of a wall-clock time (tzinfo ignored: callers pass IST)."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * NS_PER_S + t.microsecond * 1000


def ist_day(now_ns: int) -> int:
    """IST calendar day of an epoch-ns instant, as days since 1970-01-01."""
    return (now_ns + IST_OFFSET_NS) // DAY_NS


def ist_day_number(d: dt.date) -> int:
    """Days since 1970-01-01 of a calendar date (the same numbering as :func:`ist_day`)."""
    return (d - _EPOCH_DATE).days


def ist_date(now_ns: int) -> dt.date:
    """IST calendar date of an epoch-ns instant."""
    return _EPOCH_DATE + dt.timedelta(days=ist_day(now_ns))


def ist_time_of_day_ns(now_ns: int) -> int:
    """Nanoseconds since IST midnight of an epoch-ns instant."""
    return (now_ns + IST_OFFSET_NS) % DAY_NS


def ist_ns(d: dt.date, t: dt.time) -> int:
    """Epoch ns of IST wall time ``t`` on date ``d``."""
    return ist_day_number(d) * DAY_NS - IST_OFFSET_NS + time_of_day_ns(t)


# --------------------------------------------------------------------------------------------
# The calendar
# --------------------------------------------------------------------------------------------


class TradingDay(msgspec.Struct, frozen=True):
    """One IST day, precomputed: valid for ``start_ns <= now_ns < end_ns``.

    ``bounds`` maps a segment code to its ``(open_ns, close_ns)`` session (open inclusive, close
    exclusive); a segment absent from it has no session that day.
    """

    day: int
    start_ns: int
    end_ns: int
    is_trading_day: bool
    bounds: dict[int, tuple[int, int]]


class SessionCalendar:
    """Trading days and sessions per segment, read once from ``exchange_calendars``.

    Construction costs a few tens of milliseconds (it reads the library's whole schedule); every
    query afterwards is dict lookups and integer arithmetic. Raises ``exchange_calendars`` errors
    only at construction (unknown calendar name).
    """

    def __init__(self, exchange: str = "XBOM", hours: dict[int, SegmentHours] | None = None) -> None:
        import exchange_calendars
        import numpy as np

        with warnings.catch_warnings():
            # exchange_calendars 4.13 reads tz-aware Series.values, which pandas 3 deprecates: the
            # library's concern, not ours, and harmless for the values we take.
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
            cal = exchange_calendars.get_calendar(exchange)
        sched = cal.schedule
        days = sched.index.values.astype("datetime64[D]").astype(np.int64)
        opens = sched["open"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
        closes = sched["close"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
        self.exchange = exchange
        self._sessions: dict[int, tuple[int, int]] = {
            int(d): (int(o), int(c)) for d, o, c in zip(days, opens, closes)
        }
        self.first_date: dt.date = _EPOCH_DATE + dt.timedelta(days=int(days[0]))
        self.last_date: dt.date = _EPOCH_DATE + dt.timedelta(days=int(days[-1]))
        self._first_day = int(days[0])
        self._last_day = int(days[-1])
        self._hours: dict[int, SegmentHours] = dict(SEGMENT_HOURS if hours is None else hours)

    # --- dates -------------------------------------------------------------------------------

    def covers(self, d: dt.date) -> bool:
        """True when the library has holiday data for ``d`` (outside it every day is closed)."""
        return self.first_date <= d <= self.last_date

    def is_trading_day(self, d: dt.date) -> bool:
        """True on an exchange trading day (weekday and not an exchange holiday)."""
        return ist_day_number(d) in self._sessions

    def session_bounds(self, d: dt.date, segment: int = Segment.NSE_EQ) -> tuple[int, int] | None:
        """``(open_ns, close_ns)`` of ``segment``'s session on IST date ``d``; None if closed."""
        return self._bounds(ist_day_number(d), segment)

    def _bounds(self, day: int, segment: int) -> tuple[int, int] | None:
        session = self._sessions.get(day)
        hours = self._hours.get(segment)
        if session is None or hours is None:
            return None
        midnight_ns = day * DAY_NS - IST_OFFSET_NS
        open_ns = session[0] if hours.open_ist is None else midnight_ns + time_of_day_ns(hours.open_ist)
        close_ns = session[1] if hours.close_ist is None else midnight_ns + time_of_day_ns(hours.close_ist)
        return (open_ns, close_ns)

    def day(self, now_ns: int) -> TradingDay:
        """The precomputed :class:`TradingDay` containing ``now_ns`` (call once per IST day)."""
        day = ist_day(now_ns)
        bounds: dict[int, tuple[int, int]] = {}
        for segment in self._hours:
            b = self._bounds(day, segment)
            if b is not None:
                bounds[int(segment)] = b  # plain ints: they reach messages (RiskAction.segment)
        start_ns = day * DAY_NS - IST_OFFSET_NS
        return TradingDay(day, start_ns, start_ns + DAY_NS, day in self._sessions, bounds)

    # --- instants ----------------------------------------------------------------------------

    def is_market_open(self, segment: int, now_ns: int) -> bool:
        """True when ``segment`` is in its continuous session at ``now_ns`` (close exclusive)."""
        b = self._bounds(ist_day(now_ns), segment)
        return b is not None and b[0] <= now_ns < b[1]

    def entry_allowed(self, now_ns: int, cutoff: dt.time, segment: int = Segment.NSE_FNO) -> bool:
        """True when a new entry may be placed: market open and IST time of day before ``cutoff``.

        At exactly the cut-off, entries are no longer allowed.
        """
        return self.is_market_open(segment, now_ns) and ist_time_of_day_ns(now_ns) < time_of_day_ns(cutoff)

    def square_off_due(self, now_ns: int, at: dt.time, segment: int = Segment.NSE_FNO) -> bool:
        """True on a trading day (for ``segment``) from IST time ``at`` onwards (inclusive)."""
        b = self._bounds(ist_day(now_ns), segment)
        return b is not None and ist_time_of_day_ns(now_ns) >= time_of_day_ns(at)


@lru_cache(maxsize=1)
def default_calendar() -> SessionCalendar:
    """The process-wide XBOM calendar with the default segment table (built on first use)."""
    return SessionCalendar()


def is_market_open(segment: int, now_ns: int) -> bool:
    """:meth:`SessionCalendar.is_market_open` on :func:`default_calendar`."""
    return default_calendar().is_market_open(segment, now_ns)


def session_bounds(d: dt.date, segment: int = Segment.NSE_EQ) -> tuple[int, int] | None:
    """:meth:`SessionCalendar.session_bounds` on :func:`default_calendar`."""
    return default_calendar().session_bounds(d, segment)


def is_trading_day(d: dt.date) -> bool:
    """:meth:`SessionCalendar.is_trading_day` on :func:`default_calendar`."""
    return default_calendar().is_trading_day(d)


def entry_allowed(now_ns: int, cutoff: dt.time, segment: int = Segment.NSE_FNO) -> bool:
    """:meth:`SessionCalendar.entry_allowed` on :func:`default_calendar`."""
    return default_calendar().entry_allowed(now_ns, cutoff, segment)


def square_off_due(now_ns: int, at: dt.time, segment: int = Segment.NSE_FNO) -> bool:
    """:meth:`SessionCalendar.square_off_due` on :func:`default_calendar`."""
    return default_calendar().square_off_due(now_ns, at, segment)


class AlwaysOpenCalendar(SessionCalendar):
    """Simulation calendar: every day is a trading day and every segment trades all day.

    For the synthetic market, which never closes, so that paper trading works at any hour. Never
    used with a live venue (``risk.market_hours = "auto"`` picks it only for the synthetic feed).
    """

    def __init__(self, hours: dict[int, SegmentHours] | None = None) -> None:  # noqa: D107 - no library read
        self.exchange = "ALWAYS_OPEN"
        self._sessions = {}
        self.first_date = dt.date.min
        self.last_date = dt.date.max
        self._first_day = -(10**9)
        self._last_day = 10**9
        self._hours = dict(SEGMENT_HOURS if hours is None else hours)

    def is_trading_day(self, d: dt.date) -> bool:
        return True

    def _bounds(self, day: int, segment: int) -> tuple[int, int] | None:
        start = day * DAY_NS - IST_OFFSET_NS
        return (start, start + DAY_NS)

    def day(self, now_ns: int) -> TradingDay:
        day = ist_day(now_ns)
        start_ns = day * DAY_NS - IST_OFFSET_NS
        bounds = {segment: (start_ns, start_ns + DAY_NS) for segment in self._hours}
        return TradingDay(day, start_ns, start_ns + DAY_NS, True, bounds)
