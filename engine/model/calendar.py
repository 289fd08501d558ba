"""Market hours and trading days per segment (IST): the exchange calendar, its overrides, its fallback.

Sources, in order of precedence for a date and an exchange (NSE, BSE, MCX):

1. **Overrides** (``source = "override"``): special sessions and holidays from the config's
   ``[calendar]`` section and from ``<data_dir>/calendar.json`` (``shikra calendar add-holiday |
   add-session | remove``; the file wins over the config for a session on the same date). A special
   session (Diwali Muhurat trading on a holiday evening, a Saturday budget session) opens every
   segment of its exchange on that date with its hours, inside the library's range too; a holiday
   closes them. A special session wins over a holiday on the same date.
2. **The library** (``"library"``): ``exchange_calendars``' ``XBOM`` calendar (BSE; NSE declares the
   same trading holidays, so one calendar serves NSE and BSE) for the dates it has data for.
3. **The fallback** (``"fallback"``), past the library's last session: weekdays with the library's
   standard hours, minus the holidays on the same date every year (:data:`FIXED_HOLIDAYS`). Without
   it every order would be denied MARKET_CLOSED from the day the library's data ends. It is a guess
   (Holi, Diwali, Good Friday... move every year): configure the real holidays, and the risk actor
   warns while the fallback is in use or the library's data ends within :data:`WARN_DAYS`.

What the installed library (exchange_calendars 4.13.2) says, checked when this was written:
- ``XBOM`` opens 09:15 and closes 15:30 Asia/Kolkata, matching NSE/BSE continuous trading.
- Holidays are precomputed through 2026-12-31; the calendar ends there.
- Special sessions are not in the library's schedule. Pre-open (09:00-09:08) is not a session
  here: orders are admitted in continuous trading only.

Segments other than NSE/BSE equity and F&O use the trading *days* with fixed hours from
:data:`SEGMENT_HOURS`: currency 09:00-17:00 and MCX 09:00-23:30. MCX assumption: MCX is closed on
every NSE/BSE holiday (on some of them MCX really runs an evening session from 17:00; configure it
as a special session) and its close is fixed at 23:30 (MCX extends non-agri contracts to 23:55
while the US is on standard time; not modelled). IDX_I (indices) has no session: not tradable.

Cost: the library is slow (pandas), so its schedule is read once per process; every answer after
that comes from ``dict`` tables keyed by the IST day number. :meth:`SessionCalendar.day` returns a
:class:`TradingDay` (memoised per day) whose per-segment bounds let the per-intent hot path decide
with two integer comparisons. The fallback is precomputed for :data:`FALLBACK_HORIZON_DAYS` past
the library's end and extended when a later day is asked for.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal, Protocol

import msgspec

from engine.files import replace_file
from engine.logs import get_logger
from engine.model.ist import (
    DAY_NS,
    day_date,
    ist_date,
    ist_day,
    ist_day_number,
    ist_midnight_ns,
    ist_time_of_day_ns,
    time_of_day_ns,
)
from ipc.messages import CalendarStatus
from ipc.segments import Segment

Exchange = Literal["NSE", "BSE", "MCX"]
EXCHANGES: Final[tuple[Exchange, ...]] = ("NSE", "BSE", "MCX")
SEGMENT_EXCHANGE: Final[dict[int, Exchange]] = {
    Segment.NSE_EQ: "NSE", Segment.NSE_FNO: "NSE", Segment.NSE_CURRENCY: "NSE",
    Segment.BSE_EQ: "BSE", Segment.BSE_FNO: "BSE", Segment.BSE_CURRENCY: "BSE",
    Segment.MCX_COMM: "MCX",
}
# The segment whose hours stand for the exchange in ``shikra calendar show``.
MAIN_SEGMENT: Final[dict[Exchange, int]] = {"NSE": Segment.NSE_EQ, "BSE": Segment.BSE_EQ, "MCX": Segment.MCX_COMM}

# Closed on these (month, day) every year, whatever the weekday (NSE/BSE holiday lists since 2000).
FIXED_HOLIDAYS: Final[dict[tuple[int, int], str]] = {
    (1, 26): "Republic Day",
    (5, 1): "Maharashtra Day",
    (8, 15): "Independence Day",
    (10, 2): "Gandhi Jayanti",
    (12, 25): "Christmas",
}
FALLBACK_HORIZON_DAYS: Final = 400  # fallback days precomputed past the library's end, then extended
WARN_DAYS: Final = 30  # warn this many days before the library's data ends
# How often actors look at the overrides file (a stat) for edits made while they run.
CALENDAR_REFRESH_S: Final = 60.0

Source = Literal["library", "fallback", "override"]
OVERRIDES_FILE: Final = "calendar.json"  # in the data dir: the operator's overrides
STATUS_FILE: Final = "calendar_status.json"  # in the run dir: the risk actor's CalendarStatus


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
# Configuration: market hours and the calendar's overrides
# --------------------------------------------------------------------------------------------

# "exchange": sessions, holidays and cut-offs from this calendar; "always": every day, all day
# (the synthetic market never closes); "auto": "always" for the synthetic feed only.
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


class Holiday(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """A date the exchange is closed (``exchange = "ALL"``: NSE, BSE and MCX)."""

    date: dt.date
    exchange: Exchange | Literal["ALL"] = "ALL"
    name: str = ""


class SpecialSession(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """A date the exchange trades with these hours (IST wall time, open inclusive, close exclusive),
    whatever the calendar says: Muhurat trading, a Saturday budget session, a shortened day."""

    date: dt.date
    open_ist: dt.time
    close_ist: dt.time
    exchange: Exchange | Literal["ALL"] = "ALL"
    name: str = ""


class CalendarConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Holidays and special sessions on top of the exchange calendar: the config's ``[calendar]``
    section, and the same shape in ``<data_dir>/calendar.json``."""

    holidays: list[Holiday] = msgspec.field(default_factory=list)
    sessions: list[SpecialSession] = msgspec.field(default_factory=list)


class CalendarError(ValueError):
    """Overrides that cannot be used; the message names the file (or config key), the entry and
    the problem."""


def _exchanges(exchange: str) -> tuple[Exchange, ...]:
    return EXCHANGES if exchange == "ALL" else (exchange,)  # type: ignore[return-value]


def check_calendar_config(cal: CalendarConfig) -> str:
    """The first problem as "entry (date exchange): what is wrong", or "" when none."""
    seen: dict[tuple[Exchange, dt.date], int] = {}
    for i, s in enumerate(cal.sessions):
        where = f"sessions[{i}] ({s.date} {s.exchange})"
        if s.open_ist.tzinfo is not None or s.close_ist.tzinfo is not None:
            return f"{where}: give IST wall times without a UTC offset"
        if s.close_ist <= s.open_ist:
            return f"{where}: close_ist {s.close_ist} is not after open_ist {s.open_ist}"
        for exchange in _exchanges(s.exchange):
            j = seen.setdefault((exchange, s.date), i)
            if j != i:
                return f"{where}: {exchange} already has a session on {s.date} (sessions[{j}])"
    return ""


def overrides_path(data_dir: Path) -> Path:
    """Where ``shikra calendar`` keeps the operator's overrides."""
    return Path(data_dir) / OVERRIDES_FILE


def _humanise(err: str) -> str:
    """msgspec's "Expected `date`, got `str` - at `$.holidays[0].date`" as "holidays[0].date: ..."."""
    m = re.match(r"(?P<what>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", err)
    what, path = (m.group("what"), m.group("path") or "") if m else (err, "")
    what = what.replace("`", "")
    return f"{path or '(top level)'}: {what[0].lower() + what[1:]}"


def read_overrides(path: Path) -> CalendarConfig:
    """The overrides file, validated; an empty one when it does not exist. Raises CalendarError."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return CalendarConfig()
    except OSError as exc:
        raise CalendarError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        cal = msgspec.json.decode(data, type=CalendarConfig)
    except msgspec.ValidationError as exc:
        raise CalendarError(f"{path}: {_humanise(str(exc))}") from None
    except msgspec.DecodeError as exc:
        raise CalendarError(f"{path}: not valid JSON: {exc}") from None
    problem = check_calendar_config(cal)
    if problem:
        raise CalendarError(f"{path}: {problem}")
    return cal


def write_overrides(path: Path, cal: CalendarConfig) -> None:
    """Validate and write atomically (a crash leaves the old file or the new one). Raises
    CalendarError for invalid overrides, OSError when the file cannot be written."""
    problem = check_calendar_config(cal)
    if problem:
        raise CalendarError(f"{path}: {problem}")
    replace_file(Path(path), msgspec.json.format(msgspec.json.encode(cal), indent=2) + b"\n")


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


class SessionRow(msgspec.Struct, frozen=True, kw_only=True):
    """One date and exchange as the engine sees it (``shikra calendar show``): open and close are
    None on a closed weekday."""

    date: dt.date
    exchange: Exchange
    open_ist: dt.time | None
    close_ist: dt.time | None
    source: Source
    name: str = ""


class _Library(msgspec.Struct, frozen=True):
    sessions: dict[int, tuple[int, int]]  # day -> (open_ns, close_ns)
    first_day: int
    last_day: int
    open_ist: dt.time  # the standard session, used by the fallback
    close_ist: dt.time


def library_cache_path(exchange: str) -> Path | None:
    """Where the library's schedule for ``exchange`` is kept between processes, or None when the
    library is not installed. The name holds today's date, because the library spans twenty years
    back and one ahead *of the machine's date* (its own wall-clock default), and a stamp of the
    installed library (its file's size and time: an upgrade rewrites it), read without importing
    it or ``importlib.metadata`` (the point is that most processes import neither)."""
    spec = importlib.util.find_spec("exchange_calendars")
    if spec is None or spec.origin is None:
        return None
    st = os.stat(spec.origin)
    stamp = f"{st.st_size:x}{st.st_mtime_ns:x}"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    # The library's own notion of today (pandas' naive local now), not an actor's clock.
    return base / "shikra" / f"calendar-{exchange}-{dt.date.today().isoformat()}-{stamp}.msgpack"


def _build_library(exchange: str) -> _Library:
    """The schedule from the library itself (a second to import it and pandas, tens of ms to read).
    Raises the library's errors for an unknown calendar name."""
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
    sessions = {int(d): (int(o), int(c)) for d, o, c in zip(days, opens, closes)}
    return _Library(sessions, int(days[0]), int(days[-1]), cal.open_times[-1][1], cal.close_times[-1][1])


@lru_cache(maxsize=4)
def read_library(exchange: str) -> _Library:
    """The library's whole schedule, once per process: from the day's cache file when one exists
    (no pandas in this process: most actors never import it), else built and the file written
    for the next process. Raises the library's errors for an unknown calendar name."""
    path = library_cache_path(exchange)
    if path is not None:
        try:
            return msgspec.msgpack.decode(path.read_bytes(), type=_Library)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            pass  # none yet (or unreadable): build it
    lib = _build_library(exchange)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            replace_file(path, msgspec.msgpack.encode(lib))
            for old in path.parent.glob(f"calendar-{exchange}-*.msgpack"):
                if old != path:
                    old.unlink(missing_ok=True)  # another day's or version's table
        except OSError as exc:
            # Not fatal (the table is built), but every process would then import the library.
            get_logger("calendar").warning("calendar_cache_not_written", path=str(path), error=str(exc))
    return lib


class SessionCalendar:
    """Trading days and sessions per segment: the library, its fallback and the overrides.

    Construction reads the library once per process; every query afterwards is dict lookups and
    integer arithmetic. ``overrides`` are applied in order (a later one's session wins over an
    earlier one's on the same date and exchange; holidays add up). Raises the library's errors
    only at construction (unknown calendar name). Queries from another thread (the Dhan feed's
    websocket) are safe: the tables only grow, with values that do not change.
    """

    def __init__(self, exchange: str = "XBOM", hours: dict[int, SegmentHours] | None = None,
                 overrides: tuple[CalendarConfig, ...] = ()) -> None:
        lib = read_library(exchange)
        self.exchange = exchange
        self._library = lib.sessions
        self.first_date: dt.date = day_date(lib.first_day)  # the library's data: first and last session
        self.last_date: dt.date = day_date(lib.last_day)
        self._first_day = lib.first_day
        self._last_day = lib.last_day
        self._standard = (time_of_day_ns(lib.open_ist), time_of_day_ns(lib.close_ist))
        self._fallback: dict[int, tuple[int, int]] = {}
        self._fallback_end = lib.last_day
        self._extend_fallback(lib.last_day + FALLBACK_HORIZON_DAYS)
        self._hours: dict[int, SegmentHours] = dict(SEGMENT_HOURS if hours is None else hours)
        self._set_overrides(overrides)

    def _set_overrides(self, overrides: tuple[CalendarConfig, ...]) -> None:
        # Built aside, then swapped in: a reader on another thread sees the old tables or the new.
        holidays: dict[tuple[Exchange, int], str] = {}
        special: dict[tuple[Exchange, int], tuple[int, int, str]] = {}
        for cal in overrides:
            for h in cal.holidays:
                for exchange in _exchanges(h.exchange):
                    holidays[(exchange, ist_day_number(h.date))] = h.name
            for s in cal.sessions:
                day = ist_day_number(s.date)
                for exchange in _exchanges(s.exchange):
                    special[(exchange, day)] = (ist_midnight_ns(day) + time_of_day_ns(s.open_ist),
                                                ist_midnight_ns(day) + time_of_day_ns(s.close_ist), s.name)
        self.overrides = overrides
        self._holidays = holidays
        self._special = special
        self._days: dict[int, TradingDay] = {}

    def _extend_fallback(self, to_day: int) -> None:
        open_ns, close_ns = self._standard
        for day in range(self._fallback_end + 1, to_day + 1):
            d = day_date(day)
            if d.weekday() < 5 and (d.month, d.day) not in FIXED_HOLIDAYS:
                midnight = ist_midnight_ns(day)
                self._fallback[day] = (midnight + open_ns, midnight + close_ns)
        self._fallback_end = max(self._fallback_end, to_day)

    def _base(self, day: int) -> tuple[int, int] | None:
        """The library's session, or past its data the fallback's (None: closed)."""
        if day <= self._last_day:
            return self._library.get(day)
        if day > self._fallback_end:
            self._extend_fallback(day + FALLBACK_HORIZON_DAYS)
        return self._fallback.get(day)

    # --- data range and fallback ------------------------------------------------------------

    def covers(self, d: dt.date) -> bool:
        """True when the library has data for ``d`` (past it the fallback answers)."""
        return self.first_date <= d <= self.last_date

    def uses_fallback(self, d: dt.date) -> bool:
        """True when ``d`` is past the library's data: its days come from the fallback."""
        return d > self.last_date

    def days_until_data_end(self, today: dt.date) -> int:
        """Days from ``today`` to the library's last session (0 on it, negative past it)."""
        return (self.last_date - today).days

    def needs_warning(self, today: dt.date) -> bool:
        """The operator must hear about it: the fallback is in use or starts within WARN_DAYS."""
        return self.days_until_data_end(today) <= WARN_DAYS

    # --- dates -------------------------------------------------------------------------------

    def is_trading_day(self, d: dt.date, segment: int = Segment.NSE_EQ) -> bool:
        """True when ``segment`` has a session on IST date ``d``."""
        return self._bounds(ist_day_number(d), segment) is not None

    def session_bounds(self, d: dt.date, segment: int = Segment.NSE_EQ) -> tuple[int, int] | None:
        """``(open_ns, close_ns)`` of ``segment``'s session on IST date ``d``; None if closed."""
        return self._bounds(ist_day_number(d), segment)

    def _bounds(self, day: int, segment: int) -> tuple[int, int] | None:
        hours = self._hours.get(segment)
        exchange = SEGMENT_EXCHANGE.get(segment)
        if hours is None or exchange is None:
            return None
        special = self._special.get((exchange, day))
        if special is not None:
            return (special[0], special[1])
        if (exchange, day) in self._holidays:
            return None
        session = self._base(day)
        if session is None:
            return None
        midnight_ns = ist_midnight_ns(day)
        open_ns = session[0] if hours.open_ist is None else midnight_ns + time_of_day_ns(hours.open_ist)
        close_ns = session[1] if hours.close_ist is None else midnight_ns + time_of_day_ns(hours.close_ist)
        return (open_ns, close_ns)

    def day(self, now_ns: int) -> TradingDay:
        """The precomputed :class:`TradingDay` containing ``now_ns`` (memoised per IST day)."""
        day = ist_day(now_ns)
        found = self._days.get(day)
        if found is None:
            bounds: dict[int, tuple[int, int]] = {}
            for segment in self._hours:
                b = self._bounds(day, segment)
                if b is not None:
                    bounds[int(segment)] = b  # plain ints: they reach messages (RiskAction.segment)
            start_ns = ist_midnight_ns(day)
            found = self._days[day] = TradingDay(day, start_ns, start_ns + DAY_NS, bool(bounds), bounds)
        return found

    def source(self, d: dt.date, exchange: Exchange) -> Source:
        """Where the answer for ``exchange`` on ``d`` comes from."""
        day = ist_day_number(d)
        if (exchange, day) in self._special or (exchange, day) in self._holidays:
            return "override"
        return "fallback" if day > self._last_day else "library"

    def closed_reason(self, d: dt.date, segment: int) -> str:
        """Why ``segment`` has no session on ``d``, for a denial message (not the hot path)."""
        day = ist_day_number(d)
        exchange = SEGMENT_EXCHANGE.get(segment)
        if exchange is None or segment not in self._hours:
            return "this segment has no trading session"
        if (exchange, day) in self._holidays:
            return f"a configured {exchange} holiday{_named(self._holidays[(exchange, day)])}"
        if d.weekday() >= 5:
            return "a weekend"
        if day < self._first_day:
            return f"before the {self.exchange} calendar's data (from {self.first_date})"
        if day > self._last_day:
            return (f"a holiday{_named(FIXED_HOLIDAYS.get((d.month, d.day), ''))} (fallback calendar: the "
                    f"{self.exchange} calendar's data ends {self.last_date})")
        return "an exchange holiday"

    def sessions(self, start: dt.date, days: int) -> list[SessionRow]:
        """Every session from ``start`` for ``days`` days per exchange, and the weekdays closed
        (holidays), as the engine will use them."""
        rows: list[SessionRow] = []
        for i in range(days):
            d = start + dt.timedelta(days=i)
            for exchange in EXCHANGES:
                segment = MAIN_SEGMENT[exchange]
                if segment not in self._hours:
                    continue
                day = ist_day_number(d)
                b = self._bounds(day, segment)
                source = self.source(d, exchange)
                if b is not None:
                    special = self._special.get((exchange, day))
                    rows.append(SessionRow(date=d, exchange=exchange, open_ist=_wall(b[0]), close_ist=_wall(b[1]),
                                           source=source, name=special[2] if special else ""))
                elif d.weekday() < 5 or source == "override":
                    name = self._holidays.get((exchange, day), "")
                    if not name and source == "fallback":
                        name = FIXED_HOLIDAYS.get((d.month, d.day), "")
                    rows.append(SessionRow(date=d, exchange=exchange, open_ist=None, close_ist=None,
                                           source=source, name=name))
        return rows

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


def _named(name: str) -> str:
    return f" ({name})" if name else ""


def _wall(ns: int) -> dt.time:
    tod = ist_time_of_day_ns(ns) // 1000
    return dt.time(tod // 3_600_000_000, tod // 60_000_000 % 60, tod // 1_000_000 % 60, tod % 1_000_000)


@lru_cache(maxsize=1)
def default_calendar() -> SessionCalendar:
    """The process-wide XBOM calendar with the default segment table and no overrides (tests,
    benchmarks; the daemon's actors use :class:`CalendarSource`)."""
    return SessionCalendar()


class CalendarSource:
    """The daemon's calendar: the library, the config's ``[calendar]`` and ``<data_dir>/calendar.json``.

    :meth:`refresh` re-reads the file when it changed (a stat; cheap enough for a timer), so
    ``shikra calendar add-holiday`` reaches a running daemon without a restart.
    """

    def __init__(self, config: CalendarConfig, data_dir: Path | None) -> None:
        """Raises CalendarError when the config or the file is invalid."""
        problem = check_calendar_config(config)
        if problem:
            raise CalendarError(f"calendar.{problem}")
        self.config = config
        self.path = overrides_path(data_dir) if data_dir is not None else None
        self._stamp = self._file_stamp()
        self.calendar = SessionCalendar(overrides=self._overrides())

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _overrides(self) -> tuple[CalendarConfig, ...]:
        if self.path is None:
            return (self.config,)
        return (self.config, read_overrides(self.path))

    def refresh(self) -> bool:
        """Take the overrides file again if it changed; True when the calendar changed (the caller
        drops what it derived from it). Raises CalendarError for a damaged file; the calendar
        keeps the overrides it had."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp  # a damaged file is reported once, not at every look
        overrides = self._overrides()
        if overrides == self.calendar.overrides:
            return False
        self.calendar._set_overrides(overrides)
        return True


def calendar_status(calendar: SessionCalendar, now_ns: int) -> CalendarStatus:
    """The calendar's standing at ``now_ns`` (days counted on IST dates)."""
    today = ist_date(now_ns)
    return CalendarStatus(calendar.exchange, calendar.last_date.isoformat(), calendar.days_until_data_end(today),
                          calendar.uses_fallback(today), calendar.needs_warning(today), now_ns)


def write_calendar_status(run_dir: Path, status: CalendarStatus) -> None:
    """Kept in the run dir for ``shikra status`` (atomic; no fsync: it is rewritten at each start)."""
    replace_file(Path(run_dir) / STATUS_FILE, msgspec.json.encode(status), durable=False)


def remove_calendar_status(run_dir: Path) -> None:
    """No exchange calendar in this run (always open): a file left by an earlier run must not be shown."""
    try:
        (Path(run_dir) / STATUS_FILE).unlink()
    except FileNotFoundError:
        pass


def read_calendar_status(run_dir: Path) -> CalendarStatus | None:
    try:
        return msgspec.json.decode((Path(run_dir) / STATUS_FILE).read_bytes(), type=CalendarStatus)
    except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def render_calendar_status(status: CalendarStatus) -> str:
    """One line for ``shikra status``."""
    fallback = "weekdays minus 26 Jan, 1 May, 15 Aug, 2 Oct, 25 Dec and the configured holidays"
    if status.fallback_in_use:
        return (f"calendar: FALLBACK IN USE: the {status.calendar} data ended {status.data_end}; sessions are "
                f"{fallback} (`shikra calendar show`; add holidays with `shikra calendar add-holiday`)")
    if status.warning:
        return (f"calendar: WARNING: the {status.calendar} data ends {status.data_end}, in {status.days_left} "
                f"day(s); after it the fallback: {fallback} (add the holidays with `shikra calendar "
                "add-holiday`, or upgrade exchange_calendars)")
    return f"calendar: {status.calendar} data until {status.data_end} ({status.days_left} days)"


class AlwaysOpenCalendar(SessionCalendar):
    """Simulation calendar: every day is a trading day and every segment trades all day.

    For the synthetic market, which never closes, so that paper trading works at any hour. Never
    used with a live venue (``risk.market_hours = "auto"`` picks it only for the synthetic feed).
    """

    def __init__(self, hours: dict[int, SegmentHours] | None = None) -> None:  # noqa: D107 - no library read
        self.exchange = "ALWAYS_OPEN"
        self._library = {}
        self.first_date = dt.date.min
        self.last_date = dt.date.max
        self._first_day = -(10**9)
        self._last_day = 10**9
        self._fallback = {}
        self._fallback_end = self._last_day
        self._hours = dict(SEGMENT_HOURS if hours is None else hours)
        self._set_overrides(())

    def needs_warning(self, today: dt.date) -> bool:
        return False

    def _bounds(self, day: int, segment: int) -> tuple[int, int] | None:
        start = ist_midnight_ns(day)
        return (start, start + DAY_NS)

    def day(self, now_ns: int) -> TradingDay:
        day = ist_day(now_ns)
        start_ns = ist_midnight_ns(day)
        bounds = {segment: (start_ns, start_ns + DAY_NS) for segment in self._hours}
        return TradingDay(day, start_ns, start_ns + DAY_NS, True, bounds)
