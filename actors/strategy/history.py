"""Warm-up from history: Dhan's one-minute candles (``/charts/intraday`` through ``dhanhq``) made
into the bars a strategy subscribed to.

Only timeframes that are whole minutes can be built from minute candles (a 5 s bar cannot); the
others are skipped with a log line (warm them from a recording: ``[strategy] warmup_capture``).
Candles group into bars by the same rule as live bars: session-aligned windows of
``timeframe_s`` from the session open (IST); a window is delivered only if it ended before
``now`` (no look-ahead, no half bar). Prices come as rupee floats and become exact paise on the
instrument's tick.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Final

import msgspec

from actors.strategy.bars import SessionHours
from engine.model.ist import IST, NS_PER_S, ist_date
from engine.model.money import price_to_paise
from ipc.messages import Bar
from ipc.segments import instrument_label, segment_label

MAX_HISTORY_DAYS: Final = 5  # what /charts/intraday serves for minute candles

# Dhan's instrument names for the charts API, from the master's instrument column.
CHART_INSTRUMENT: Final = {"EQUITY": "EQUITY", "INDEX": "INDEX", "FUTIDX": "FUTIDX", "FUTSTK": "FUTSTK",
                           "OPTIDX": "OPTIDX", "OPTSTK": "OPTSTK", "FUTCOM": "FUTCOM", "OPTFUT": "OPTFUT",
                           "FUTCUR": "FUTCUR", "OPTCUR": "OPTCUR"}


class HistoryError(Exception):
    """The candles could not be fetched or read; the message names the instrument and why."""


class Candle(msgspec.Struct, frozen=True):
    ts_s: int  # the minute's start, epoch seconds
    open_paise: int
    high_paise: int
    low_paise: int
    close_paise: int
    volume_units: int


def _paise(value: Any, tick_paise: int) -> int:
    return price_to_paise(float(value), max(tick_paise, 1))


def parse_candles(answer: Any, label: str, tick_paise: int) -> list[Candle]:
    """dhanhq's answer (``{"status", "remarks", "data": {open, high, low, close, volume,
    timestamp}}``) as candles in time order. Raises HistoryError naming what is wrong."""
    if not isinstance(answer, dict):
        raise HistoryError(f"{label}: the SDK answered {type(answer).__name__}, not a dict")
    if answer.get("status") != "success":
        raise HistoryError(f"{label}: Dhan refused the candles: {str(answer.get('remarks'))[:300]}")
    data = answer.get("data")
    if not isinstance(data, dict):
        raise HistoryError(f"{label}: no candle data in the answer")
    columns = [data.get(k) for k in ("timestamp", "open", "high", "low", "close", "volume")]
    if not all(isinstance(c, list) for c in columns) or len({len(c) for c in columns}) != 1:  # type: ignore[arg-type]
        raise HistoryError(f"{label}: candle columns missing or of different lengths")
    out = []
    try:
        for ts, o, h, lo, c, v in zip(*columns):  # type: ignore[call-overload]
            out.append(Candle(int(ts), _paise(o, tick_paise), _paise(h, tick_paise), _paise(lo, tick_paise),
                              _paise(c, tick_paise), int(v)))
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise HistoryError(f"{label}: a candle is not numbers: {exc}") from None
    out.sort(key=lambda k: k.ts_s)
    return out


def candles_to_bars(candles: list[Candle], timeframe_s: int, segment: int, security_id: int,
                    session: SessionHours, now_ns: int) -> list[Bar]:
    """Session-aligned ``timeframe_s`` bars (a whole number of minutes) from minute candles;
    candles outside the session are left out and only windows that ended by ``now_ns`` count."""
    if timeframe_s % 60:
        raise ValueError(f"timeframe {timeframe_s}s is not a whole number of minutes")
    bars: list[Bar] = []
    current: list[Candle] = []
    key: tuple[int, int] | None = None
    window_end_ns = 0

    def close() -> None:
        if current and window_end_ns <= now_ns:
            bars.append(Bar(segment, security_id, timeframe_s, current[0].open_paise,
                            max(k.high_paise for k in current), min(k.low_paise for k in current),
                            current[-1].close_paise, sum(k.volume_units for k in current),
                            window_end_ns - timeframe_s * NS_PER_S, window_end_ns, window_end_ns))

    for candle in candles:
        local = dt.datetime.fromtimestamp(candle.ts_s, IST)
        midnight_s = int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
        offset = candle.ts_s - midnight_s
        if not session.open_ist_s <= offset < session.close_ist_s:
            continue
        index = (offset - session.open_ist_s) // timeframe_s
        if (midnight_s, index) != key:
            close()
            current = []
            key = (midnight_s, index)
            end_s = min(midnight_s + session.open_ist_s + (index + 1) * timeframe_s, midnight_s + session.close_ist_s)
            window_end_ns = end_s * NS_PER_S
        current.append(candle)
    close()
    return bars


def fetch_bars(fetch: Callable[..., Any], inst: Any, timeframe_s: int, days: int, session: SessionHours,
               now_ns: int) -> list[Bar]:
    """Bars of the last ``days`` days (at most five) up to now for one instrument. ``fetch`` is
    ``dhanhq.intraday_minute_data``. Raises HistoryError."""
    label = instrument_label(inst.segment, inst.security_id)
    today = ist_date(now_ns)
    start = today - dt.timedelta(days=min(days, MAX_HISTORY_DAYS))
    try:
        answer = fetch(str(inst.security_id), segment_label(inst.segment),
                       CHART_INSTRUMENT.get(inst.instrument, "EQUITY"), start.isoformat(), today.isoformat(), 1)
    except Exception as exc:  # the SDK wraps transport failures in many ways
        raise HistoryError(f"{label}: {type(exc).__name__}: {exc}") from None
    return candles_to_bars(parse_candles(answer, label, inst.tick_paise), timeframe_s, inst.segment,
                           inst.security_id, session, now_ns)


def dhan_fetcher(credentials: Any, base_url: str, timeout_s: float) -> Callable[..., Any]:
    """``intraday_minute_data`` of a dhanhq client pointed at ``base_url``."""
    from dhanhq import DhanContext, dhanhq

    ctx = DhanContext(credentials.client_id, credentials.access_token)
    http = ctx.get_dhan_http()
    http.base_url = base_url.rstrip("/")
    http.timeout = timeout_s
    return dhanhq(ctx).intraday_minute_data  # type: ignore[no-any-return]
