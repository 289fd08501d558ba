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

Times of day are compared in IST (``engine.model.ist``).
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache
from typing import Literal, Protocol

import msgspec

from engine.model.ist import (
    _EPOCH_DATE,
    DAY_NS,
    IST_OFFSET_NS,
    ist_day,
    ist_day_number,
    ist_time_of_day_ns,
    time_of_day_ns,
)

# Dhan segment codes (ipc.topics.SEGMENT_NAMES); repeated as names here for readable tables.
IDX_I = 0
NSE_EQ = 1
NSE_FNO = 2
NSE_CURRENCY = 3
BSE_EQ = 4
MCX_COMM = 5
BSE_CURRENCY = 7
BSE_FNO = 8


class SegmentHours(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Session hours of one segment in IST; ``None`` means "the exchange calendar's session"."""

    open_ist: dt.time | None = None
    close_ist: dt.time | None = None


SEGMENT_HOURS: dict[int, SegmentHours] = {
    NSE_EQ: SegmentHours(),
    NSE_FNO: SegmentHours(),
    BSE_EQ: SegmentHours(),
    BSE_FNO: SegmentHours(),
    NSE_CURRENCY: SegmentHours(dt.time(9, 0), dt.time(17, 0)),
    BSE_CURRENCY: SegmentHours(dt.time(9, 0), dt.time(17, 0)),
    MCX_COMM: SegmentHours(dt.time(9, 0), dt.time(23, 30)),
}


# "exchange": sessions, holidays and cut-offs from the exchange calendar; "always": every day, all
# day (the synthetic market never closes); "auto": "always" for the synthetic feed only.
MarketHours = Literal["auto", "exchange", "always"]


class _RiskSection(Protocol):
    @property
    def market_hours(self) -> MarketHours: ...


class _FeedSection(Protocol):
    @property
    def source(self) -> str: ...


class DaemonConfig(Protocol):
    """The part of ``engine.config.Config`` that :func:`market_hours` reads (this layer does not
    import the daemon's config)."""

    @property
    def risk(self) -> _RiskSection: ...

    @property
    def feed(self) -> _FeedSection: ...


def market_hours(cfg: DaemonConfig) -> Literal["exchange", "always"]:
    """The market hours every actor follows: ``auto`` means always open for the synthetic market
    (which never closes) and the exchange calendar for everything else."""
    mode = cfg.risk.market_hours
    if mode == "auto":
        return "always" if cfg.feed.source == "synthetic" else "exchange"
    return mode


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

    def session_bounds(self, d: dt.date, segment: int = NSE_EQ) -> tuple[int, int] | None:
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
                bounds[segment] = b
        start_ns = day * DAY_NS - IST_OFFSET_NS
        return TradingDay(day, start_ns, start_ns + DAY_NS, day in self._sessions, bounds)

    # --- instants ----------------------------------------------------------------------------

    def is_market_open(self, segment: int, now_ns: int) -> bool:
        """True when ``segment`` is in its continuous session at ``now_ns`` (close exclusive)."""
        b = self._bounds(ist_day(now_ns), segment)
        return b is not None and b[0] <= now_ns < b[1]

    def entry_allowed(self, now_ns: int, cutoff: dt.time, segment: int = NSE_FNO) -> bool:
        """True when a new entry may be placed: market open and IST time of day before ``cutoff``.

        At exactly the cut-off, entries are no longer allowed.
        """
        return self.is_market_open(segment, now_ns) and ist_time_of_day_ns(now_ns) < time_of_day_ns(cutoff)

    def square_off_due(self, now_ns: int, at: dt.time, segment: int = NSE_FNO) -> bool:
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


def session_bounds(d: dt.date, segment: int = NSE_EQ) -> tuple[int, int] | None:
    """:meth:`SessionCalendar.session_bounds` on :func:`default_calendar`."""
    return default_calendar().session_bounds(d, segment)


def is_trading_day(d: dt.date) -> bool:
    """:meth:`SessionCalendar.is_trading_day` on :func:`default_calendar`."""
    return default_calendar().is_trading_day(d)


def entry_allowed(now_ns: int, cutoff: dt.time, segment: int = NSE_FNO) -> bool:
    """:meth:`SessionCalendar.entry_allowed` on :func:`default_calendar`."""
    return default_calendar().entry_allowed(now_ns, cutoff, segment)


def square_off_due(now_ns: int, at: dt.time, segment: int = NSE_FNO) -> bool:
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
