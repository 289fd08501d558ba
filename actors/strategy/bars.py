"""Time bars (1 s to 1 day) built from ticks, aligned to the trading session in IST.

Rules, for a builder of ``timeframe_s`` seconds and a session ``open``-``close`` (IST wall time):
- A session day's bars start at the session open: bar k spans
  ``[open + k*timeframe, min(open + (k+1)*timeframe, close))``. A bar never spans a session
  boundary; the last bar of a session ends at the close even if it is shorter; with
  ``timeframe_s >= close - open`` (a daily bar, 86400) the bar is the whole session.
- Intervals are half-open: a tick at exactly the close (15:30:00.000) is outside the session.
- Ticks outside the session are ignored and counted (``TickDrop.OUT_OF_SESSION``). Such a tick
  still proves that time has passed: if it is at or after the end of the open bar, that bar is
  emitted first.
- No look-ahead: a bar is emitted only when (a) a tick at or after its end time arrives
  (``on_tick``), or (b) ``flush(now_ns)`` is called with ``now_ns`` at or after its end (a timer
  close, for instruments that go quiet). Both return a tuple: empty, or the one completed bar
  (a tick completes at most one bar, because gaps make none). Bars carry ``ts_event_ns`` = bar
  end time and ``ts_init_ns`` = the ``ts_init_ns`` of the tick (or the flush) that closed them.
- Gaps produce no bars: an interval without ticks has no bar (no empty or carried-forward bars),
  so consecutive bars may be more than one timeframe apart.
- Ticks older than the open bar, or inside a bar that was already emitted, are dropped and
  counted (``TickDrop.LATE``). Within the open bar, arrival order may differ from timestamp
  order: open is the price of the earliest timestamp, close of the latest (ties: the later
  arrival); high, low and volume do not depend on order.
- A tick with ``price_paise <= 0`` or ``qty_units < 0`` is dropped and counted (``BAD_PRICE``,
  ``BAD_QTY``) before it can affect anything. ``qty_units`` may be 0 (an LTP-only packet): the
  price counts, the volume does not.

IST: India has used a fixed +05:30 offset without DST since 1945, so the per-tick kernel uses
that offset (``engine.model.ist.IST_OFFSET_NS``) instead of a zone lookup per tick;
``session_bounds_ns`` computes the same bounds through ``datetime`` for a calendar date. Sessions
must open and close on the same IST day (true for NSE/BSE/MCX). Exchange holidays are not
modelled here: no ticks arrive on them, so no bars are made.

The per-tick logic is one njit kernel (``_bar_step``) shared by ``BarBuilder.on_tick`` and the bulk
path (``BarBuilder.update_arrays`` / ``build_bars``), so warm-up from history and live ticks give
the same bars.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Final, NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt
from numba import njit

from engine.model.ist import DAY_NS, IST, IST_OFFSET_NS, NS_PER_S
from ipc.messages import Bar

__all__ = [
    "BAR_DTYPE",
    "NSE_SESSION",
    "BarBatch",
    "BarBuilder",
    "SessionHours",
    "TickDrop",
    "bars_to_messages",
    "build_bars",
    "session_bounds_ns",
    "session_day_ids",
    "warmup",
]

DAY_S: Final = DAY_NS // NS_PER_S
MAX_TIMEFRAME_S: Final = DAY_S


class SessionHours(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One daily trading session as IST wall-clock seconds after midnight; open < close, both
    on the same day (0 <= open_ist_s < close_ist_s <= 86400)."""

    open_ist_s: int = 9 * 3600 + 15 * 60
    close_ist_s: int = 15 * 3600 + 30 * 60


NSE_SESSION: Final = SessionHours()
"""NSE cash and F&O normal market: 09:15-15:30 IST."""


class TickDrop(enum.IntEnum):
    """Why the last tick given to a builder was not added to a bar (NONE: it was)."""

    NONE = 0
    BAD_PRICE = 1
    BAD_QTY = 2
    OUT_OF_SESSION = 3
    LATE = 4


BAR_DTYPE: Final = np.dtype(
    [
        ("open_paise", np.int64),
        ("high_paise", np.int64),
        ("low_paise", np.int64),
        ("close_paise", np.int64),
        ("volume_units", np.int64),
        ("ts_open_ns", np.int64),
        ("ts_event_ns", np.int64),
        ("ts_init_ns", np.int64),
    ]
)
"""Bulk bars: one record per bar, fields as in ``ipc.messages.Bar`` (``ts_event_ns`` = bar end)."""

_BAR_FIELDS: Final = len(BAR_DTYPE.names or ())


def session_bounds_ns(day: date, session: SessionHours = NSE_SESSION) -> tuple[int, int]:
    """(open, close) of ``session`` on the IST calendar date ``day``, in ns since the epoch (UTC),
    computed through zoneinfo. Cold path."""
    midnight = datetime.combine(day, time(0, 0), tzinfo=IST)
    base_ns = int(midnight.timestamp()) * NS_PER_S
    return base_ns + session.open_ist_s * NS_PER_S, base_ns + session.close_ist_s * NS_PER_S


def session_day_ids(ts_ns: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """IST calendar day number (days since 1970-01-01 IST) of each timestamp: a session id for
    ``indicators.vwap`` when there is one session per day."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    return (ts + IST_OFFSET_NS) // DAY_NS


# --------------------------------------------------------------------------------------------
# Kernel state: one int64 array per builder
# --------------------------------------------------------------------------------------------

# parameters
_TF_NS: Final = 0
_OPEN_OFF_NS: Final = 1  # session open, ns after IST midnight
_CLOSE_OFF_NS: Final = 2
# cached session bounds of the last day looked up
_SESS_OPEN: Final = 3
_SESS_CLOSE: Final = 4
# the open bar
_HAS_BAR: Final = 5
_BAR_OPEN: Final = 6
_BAR_CLOSE: Final = 7
_O: Final = 8
_H: Final = 9
_L: Final = 10
_C: Final = 11
_V: Final = 12
_FIRST_TS: Final = 13
_LAST_TS: Final = 14
_CLOSED_UNTIL: Final = 15  # end of the last emitted bar: older ticks are late
# counters
_N_ACCEPTED: Final = 16
_N_OUT_OF_SESSION: Final = 17
_N_LATE: Final = 18
_N_BAD: Final = 19
_N_BARS: Final = 20
_LAST_DROP: Final = 21
# the bar just emitted, in BAR_DTYPE order (without ts_init)
_E: Final = 22
_SLOTS: Final = _E + 7

_IST_OFF: Final = IST_OFFSET_NS
_DAY: Final = DAY_NS


@njit(cache=True, inline="always")
def _emit(st):
    st[_E] = st[_O]
    st[_E + 1] = st[_H]
    st[_E + 2] = st[_L]
    st[_E + 3] = st[_C]
    st[_E + 4] = st[_V]
    st[_E + 5] = st[_BAR_OPEN]
    st[_E + 6] = st[_BAR_CLOSE]
    st[_CLOSED_UNTIL] = st[_BAR_CLOSE]
    st[_HAS_BAR] = 0
    st[_N_BARS] += 1


@njit(cache=True)
def _bar_step(st, ts, price, qty):
    """Add one tick; True when it closed the open bar (now in the ``_E`` slots)."""
    # hot path: every tick
    if price <= 0:
        st[_N_BAD] += 1
        st[_LAST_DROP] = 1  # BAD_PRICE
        return False
    if qty < 0:
        st[_N_BAD] += 1
        st[_LAST_DROP] = 2  # BAD_QTY
        return False
    st[_LAST_DROP] = 0
    emitted = False
    if st[_HAS_BAR] != 0:
        if st[_BAR_OPEN] <= ts < st[_BAR_CLOSE]:
            if price > st[_H]:
                st[_H] = price
            if price < st[_L]:
                st[_L] = price
            if ts < st[_FIRST_TS]:
                st[_FIRST_TS] = ts
                st[_O] = price
            if ts >= st[_LAST_TS]:
                st[_LAST_TS] = ts
                st[_C] = price
            st[_V] += qty
            st[_N_ACCEPTED] += 1
            return False
        if ts >= st[_BAR_CLOSE]:
            _emit(st)
            emitted = True
    if ts < st[_CLOSED_UNTIL] or (st[_HAS_BAR] != 0 and ts < st[_BAR_OPEN]):
        st[_N_LATE] += 1
        st[_LAST_DROP] = 4  # LATE
        return emitted
    if not (st[_SESS_OPEN] <= ts < st[_SESS_CLOSE]):
        midnight = ((ts + _IST_OFF) // _DAY) * _DAY - _IST_OFF
        st[_SESS_OPEN] = midnight + st[_OPEN_OFF_NS]
        st[_SESS_CLOSE] = midnight + st[_CLOSE_OFF_NS]
        if not (st[_SESS_OPEN] <= ts < st[_SESS_CLOSE]):
            st[_N_OUT_OF_SESSION] += 1
            st[_LAST_DROP] = 3  # OUT_OF_SESSION
            return emitted
    tf = st[_TF_NS]
    bar_open = st[_SESS_OPEN] + ((ts - st[_SESS_OPEN]) // tf) * tf
    st[_BAR_OPEN] = bar_open
    st[_BAR_CLOSE] = min(bar_open + tf, st[_SESS_CLOSE])
    st[_O] = price
    st[_H] = price
    st[_L] = price
    st[_C] = price
    st[_V] = qty
    st[_FIRST_TS] = ts
    st[_LAST_TS] = ts
    st[_HAS_BAR] = 1
    st[_N_ACCEPTED] += 1
    return emitted


@njit(cache=True)
def _bar_flush(st, now):
    """Close the open bar if ``now`` is at or past its end; True when it did."""
    if st[_HAS_BAR] != 0 and now >= st[_BAR_CLOSE]:
        _emit(st)
        return True
    return False


@njit(cache=True)
def _bar_run(st, ts, price, qty, ts_init, out):
    """Feed arrays of ticks through ``_bar_step``; write emitted bars to ``out`` rows
    (BAR_DTYPE order); return how many."""
    nb = 0
    for i in range(ts.size):
        if _bar_step(st, ts[i], price[i], qty[i]):
            for k in range(7):
                out[nb, k] = st[_E + k]
            out[nb, 7] = ts_init[i]
            nb += 1
    return nb


@njit(cache=True)
def _bar_first_close(st, ts, price, qty):
    """On a copy of ``st``: the index of the first tick that would close a bar (``ts.size``: none)."""
    s = st.copy()
    for i in range(ts.size):
        if _bar_step(s, ts[i], price[i], qty[i]):
            return i
    return ts.size


@njit(cache=True)
def _bar_quiet(st, ts, price, qty):
    """Feed ticks none of which closes a bar (``_bar_first_close`` said so); returns how many did."""
    closed = 0
    for i in range(ts.size):
        if _bar_step(st, ts[i], price[i], qty[i]):
            closed += 1
    return closed


class BarBatch(NamedTuple):
    """Result of ``build_bars``: completed bars (BAR_DTYPE records) and what happened to the ticks."""

    bars: npt.NDArray[np.void]
    ticks_accepted: int
    ticks_out_of_session: int
    ticks_late: int
    ticks_bad: int


def _int_array(name: str, values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


class BarBuilder:
    """Builds ``timeframe_s`` bars for one instrument from its ticks (see the module rules).

    Raises ValueError at construction for a timeframe outside 1..86400 s or an invalid session;
    never raises on tick data (bad ticks are counted, see ``TickDrop``).
    """

    __slots__ = ("timeframe_s", "segment", "security_id", "session", "_st")

    def __init__(
        self,
        timeframe_s: int,
        segment: int,
        security_id: int,
        session: SessionHours = NSE_SESSION,
    ) -> None:
        if (
            isinstance(timeframe_s, bool)
            or not isinstance(timeframe_s, (int, np.integer))
            or not 1 <= timeframe_s <= MAX_TIMEFRAME_S
        ):
            raise ValueError(
                f"BarBuilder: timeframe_s must be an integer in 1..{MAX_TIMEFRAME_S}, got {timeframe_s!r}"
            )
        if not 0 <= session.open_ist_s < session.close_ist_s <= DAY_S:
            raise ValueError(
                "BarBuilder: session must satisfy 0 <= open_ist_s < close_ist_s <= 86400, got "
                f"open_ist_s={session.open_ist_s} close_ist_s={session.close_ist_s}"
            )
        self.timeframe_s = int(timeframe_s)
        self.segment = segment
        self.security_id = security_id
        self.session = session
        self._st = np.zeros(_SLOTS, dtype=np.int64)
        self._st[_TF_NS] = self.timeframe_s * NS_PER_S
        self._st[_OPEN_OFF_NS] = session.open_ist_s * NS_PER_S
        self._st[_CLOSE_OFF_NS] = session.close_ist_s * NS_PER_S

    def on_tick(
        self, ts_event_ns: int, price_paise: int, qty_units: int, ts_init_ns: int
    ) -> tuple[Bar, ...]:
        """Add one tick; return the bar it completed as a 1-tuple, or ``()`` (the common case,
        which allocates nothing). ``qty_units`` is the traded quantity of this tick (0 if the
        packet carries none)."""
        # hot path: every tick
        if _bar_step(self._st, ts_event_ns, price_paise, qty_units):
            return (self._emitted(ts_init_ns),)
        return ()

    def flush(self, now_ns: int, ts_init_ns: int | None = None) -> tuple[Bar, ...]:
        """Timer close: emit the open bar if ``now_ns`` (exchange-time axis) is at or past its
        end, as a 1-tuple, else ``()``. ``ts_init_ns`` defaults to ``now_ns``. A tick that
        arrives later for that bar's interval is dropped as LATE, so a caller whose ticks lag
        should pass ``now_ns`` minus a grace period."""
        if _bar_flush(self._st, now_ns):
            return (self._emitted(now_ns if ts_init_ns is None else ts_init_ns),)
        return ()

    def update_arrays(
        self,
        ts_event_ns: npt.ArrayLike,
        price_paise: npt.ArrayLike,
        qty_units: npt.ArrayLike,
        ts_init_ns: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.void]:
        """Feed many ticks (in arrival order) at once, exactly as repeated ``on_tick`` calls would;
        return the completed bars as BAR_DTYPE records. ``ts_init_ns`` defaults to
        ``ts_event_ns``. The builder keeps the open bar, so live ticks can continue after a
        warm-up from history. Raises ValueError for non-integer or unequal-length arrays."""
        ts = _int_array("ts_event_ns", ts_event_ns)
        price = _int_array("price_paise", price_paise)
        qty = _int_array("qty_units", qty_units)
        init = ts if ts_init_ns is None else _int_array("ts_init_ns", ts_init_ns)
        if not ts.size == price.size == qty.size == init.size:
            raise ValueError(
                "update_arrays: arrays must have equal lengths, got "
                f"ts_event_ns={ts.size} price_paise={price.size} qty_units={qty.size} "
                f"ts_init_ns={init.size}"
            )
        out = np.empty((ts.size, _BAR_FIELDS), dtype=np.int64)
        nb = _bar_run(self._st, ts, price, qty, init, out)
        # copy: a view would keep the whole per-tick scratch buffer alive
        return out[:nb].copy().view(BAR_DTYPE).reshape(nb)

    def first_close(self, ts_event_ns: np.ndarray, price_paise: np.ndarray, qty_units: np.ndarray) -> int:
        """The index of the first of these ticks (int64 arrays, in arrival order) whose ``on_tick``
        would return a bar; ``len(ts_event_ns)`` when none would. Changes nothing."""
        return int(_bar_first_close(self._st, ts_event_ns, price_paise, qty_units))

    def take_quiet(self, ts_event_ns: np.ndarray, price_paise: np.ndarray, qty_units: np.ndarray) -> None:
        """``on_tick`` for each of these ticks, none of which closes a bar (see ``first_close``).
        Raises AssertionError when one did (a bar would have been lost)."""
        closed = _bar_quiet(self._st, ts_event_ns, price_paise, qty_units)
        assert closed == 0, f"take_quiet closed {closed} bar(s)"

    def _emitted(self, ts_init_ns: int) -> Bar:
        o, h, lo, c, v, ts_open, ts_close = self._st[_E : _E + 7].tolist()
        return Bar(
            segment=self.segment,
            security_id=self.security_id,
            timeframe_s=self.timeframe_s,
            open_paise=o,
            high_paise=h,
            low_paise=lo,
            close_paise=c,
            volume_units=v,
            ts_open_ns=ts_open,
            ts_event_ns=ts_close,
            ts_init_ns=ts_init_ns,
        )

    @property
    def has_open_bar(self) -> bool:
        return bool(self._st[_HAS_BAR])

    @property
    def last_drop(self) -> TickDrop:
        """Why the last tick was not added to a bar (NONE if it was)."""
        return TickDrop(int(self._st[_LAST_DROP]))

    @property
    def ticks_accepted(self) -> int:
        return int(self._st[_N_ACCEPTED])

    @property
    def ticks_out_of_session(self) -> int:
        return int(self._st[_N_OUT_OF_SESSION])

    @property
    def ticks_late(self) -> int:
        return int(self._st[_N_LATE])

    @property
    def ticks_bad(self) -> int:
        return int(self._st[_N_BAD])

    @property
    def bars_emitted(self) -> int:
        return int(self._st[_N_BARS])


def build_bars(
    ts_event_ns: npt.ArrayLike,
    price_paise: npt.ArrayLike,
    qty_units: npt.ArrayLike,
    timeframe_s: int,
    session: SessionHours = NSE_SESSION,
    *,
    ts_init_ns: npt.ArrayLike | None = None,
    now_ns: int | None = None,
) -> BarBatch:
    """Bars from arrays of ticks (a recording or history), with the same rules as
    ``BarBuilder``. The last bar is included only if a later tick closed it or ``now_ns`` is at
    or past its end (no look-ahead). Raises ValueError as ``BarBuilder`` and ``update_arrays``."""
    builder = BarBuilder(timeframe_s, 0, 0, session)
    bars = builder.update_arrays(ts_event_ns, price_paise, qty_units, ts_init_ns)
    if now_ns is not None:
        for last in builder.flush(now_ns):
            row = np.array(
                [
                    (
                        last.open_paise,
                        last.high_paise,
                        last.low_paise,
                        last.close_paise,
                        last.volume_units,
                        last.ts_open_ns,
                        last.ts_event_ns,
                        last.ts_init_ns,
                    )
                ],
                dtype=BAR_DTYPE,
            )
            bars = np.concatenate([bars, row])
    return BarBatch(
        bars=bars,
        ticks_accepted=builder.ticks_accepted,
        ticks_out_of_session=builder.ticks_out_of_session,
        ticks_late=builder.ticks_late,
        ticks_bad=builder.ticks_bad,
    )


def bars_to_messages(
    bars: npt.NDArray[np.void], segment: int, security_id: int, timeframe_s: int
) -> list[Bar]:
    """BAR_DTYPE records as ``Bar`` messages (e.g. to replay warm-up bars into ``on_bar``)."""
    return [
        Bar(
            segment=segment,
            security_id=security_id,
            timeframe_s=timeframe_s,
            open_paise=o,
            high_paise=h,
            low_paise=lo,
            close_paise=c,
            volume_units=v,
            ts_open_ns=t_open,
            ts_event_ns=t_close,
            ts_init_ns=t_init,
        )
        for o, h, lo, c, v, t_open, t_close, t_init in bars.tolist()
    ]


def warmup() -> None:
    """Compile (or load from numba's cache) the bar kernels; call at actor start-up."""
    open_ns, _ = session_bounds_ns(date(2024, 1, 1))
    builder = BarBuilder(60, 0, 0)
    builder.on_tick(open_ns, 100, 1, open_ns)
    builder.update_arrays(np.array([open_ns + 60 * NS_PER_S]), np.array([101]), np.array([1]))
    builder.flush(open_ns + 120 * NS_PER_S)
    ticks = np.array([open_ns + 121 * NS_PER_S], dtype=np.int64), np.array([100]), np.array([1])
    builder.first_close(*ticks)
    builder.take_quiet(*ticks)
