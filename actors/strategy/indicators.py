"""Technical indicators as numba kernels: batch (whole arrays) and streaming (one bar at a time).

Batch functions (``sma``, ``ema``, ``rsi``, ``macd``, ``atr``, ``supertrend``, ``vwap``, ``bbands``)
take array-likes (converted once to contiguous float64) and return new float64 arrays of the same
length. During the warm-up the output is NaN at exactly the indices where TA-Lib puts NaN.

Streaming classes (``SmaStream`` ... ``BBandsStream``) take one value (or one bar) per ``update`` in
O(1) (``BBandsStream``: amortised O(1), see ``bbands``), keep their state in small preallocated
numpy arrays and advance it with an njit update kernel. Their output equals the batch output at
every index *bit for bit*: each update kernel performs the same floating-point operations in the
same order as its batch loop (no ``fastmath``, so LLVM may not reassociate or contract them; the
only fused multiply-adds are the explicit ``_muladd`` calls, present in both).

NaN handling follows TA-Lib's Python wrapper: leading NaNs are skipped (the warm-up starts at the
first index where every input is a number), so indicators chain (an EMA of an RSI). A NaN after
that point poisons running sums and recursions from there on, as in TA-Lib; bars built from
integer paise never contain one. A stream ignores NaN updates until its first number, like the
batch kernel skipping leading NaNs.

Numerical choices (results agree with TA-Lib -- the C library bundled with ta-lib-python 0.8.2 --
to ~1e-13 relative, bit for bit where noted):
- SMA, EMA, MACD: TA-Lib's formulas and summation order; EMA steps are ``(x - prev) * k + prev``
  rounded once (``_muladd``), which matches the installed TA-Lib bit for bit.
- RSI, ATR (Wilder smoothing): ``prev * (n-1)/n + v * 1/n`` instead of ``(prev*(n-1) + v) / n``;
  a division on the loop-carried chain costs ~3x, the results differ by a few ulps.
- BBANDS: the mean is TA-Lib's running-sum SMA; the population variance uses sums of
  ``x - c`` and ``(x - c)**2`` with the shift ``c`` re-centred on the window mean, recomputed
  from the window every ``period`` outputs. A plain running sum of squares loses up to 1e-4
  relative at prices of 20000 (catastrophic cancellation); this stays within ~1e-12.

Call ``warmup()`` at actor start-up, before reporting ready: it compiles (or loads from the
on-disk cache) every kernel so that the first tick never pays for compilation.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import njit
from numba.core import types
from numba.extending import intrinsic

from engine.model.money import prices_to_paise_array

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

__all__ = [
    "AtrStream",
    "BBandsStream",
    "EmaStream",
    "MacdStream",
    "RsiStream",
    "SmaStream",
    "SuperTrendStream",
    "VwapStream",
    "atr",
    "bbands",
    "ema",
    "ema_cross_scan",
    "macd",
    "rsi",
    "session_ids_from_boundaries",
    "sma",
    "supertrend",
    "vwap",
    "warmup",
]

# A variance below this fraction of the mean squared deviation from the shift is rounding noise
# of the shifted sums (a flat window): report a standard deviation of exactly 0, as TA-Lib does.
_VAR_NOISE: Final = 1e-13


# --------------------------------------------------------------------------------------------
# Parameter and array checks (cold path: once per batch call or stream construction)
# --------------------------------------------------------------------------------------------


def _check_period(where: str, name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_factor(where: str, name: str, value: float, positive: bool = False) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(f) or (positive and f <= 0.0):
        need = "a finite number > 0" if positive else "a finite number"
        raise ValueError(f"{where}: {name} must be {need}, got {value!r}")
    return f


def _as_f64(where: str, name: str, values: npt.ArrayLike) -> FloatArray:
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{where}: {name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _same_length(where: str, **arrays: np.ndarray) -> None:
    lengths = {name: a.size for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{where}: inputs must have equal lengths, got {lengths}")


# --------------------------------------------------------------------------------------------
# Shared scalar helpers (inlined into every kernel that uses them)
# --------------------------------------------------------------------------------------------


@intrinsic
def _muladd(typingctx, a, b, c):
    """a * b + c as LLVM's ``fmuladd``: one FMA instruction where the CPU has FMA (every x86-64
    since 2013), else a multiply and an add. The choice is made per target, so batch and stream
    kernels compiled on one machine round identically. It shortens the loop-carried chain of
    EMA / Wilder recursions (and TA-Lib's EMA rounds exactly this way)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        f64 = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fmuladd", [f64], ir.FunctionType(f64, [f64] * 3))
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True, inline="always")
def _first_valid(x):
    i = 0
    while i < x.size and np.isnan(x[i]):
        i += 1
    return i


@njit(cache=True, inline="always")
def _first_valid3(a, b, c):
    i = 0
    while i < c.size and (np.isnan(a[i]) or np.isnan(b[i]) or np.isnan(c[i])):
        i += 1
    return i


@njit(cache=True, inline="always")
def _fill_nan(out, stop):
    for i in range(min(stop, out.size)):
        out[i] = np.nan


@njit(cache=True, inline="always")
def _true_range(high, low, prev_close):
    r = high - low
    a = abs(prev_close - high)
    b = abs(prev_close - low)
    if a > r:
        r = a
    if b > r:
        r = b
    return r


@njit(cache=True, inline="always")
def _rsi_value(gain, loss):
    total = gain + loss
    if total != 0.0:
        return 100.0 * (gain / total)
    return 0.0  # flat input: TA-Lib reports 0


# --------------------------------------------------------------------------------------------
# Batch kernels
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _sma(x, period):
    n = x.size
    out = np.empty(n)
    b = _first_valid(x)
    first = b + period - 1
    _fill_nan(out, first)
    if first >= n:
        return out
    total = 0.0
    for i in range(b, first):
        total += x[i]
    for i in range(first, n):
        total += x[i]
        out[i] = total / period
        total -= x[i - period + 1]
    return out


@njit(cache=True)
def _ema(x, period):
    n = x.size
    out = np.empty(n)
    b = _first_valid(x)
    first = b + period - 1
    _fill_nan(out, first)
    if first >= n:
        return out
    k = 2.0 / (period + 1)
    total = 0.0
    for i in range(b, first + 1):
        total += x[i]
    prev = total / period
    out[first] = prev
    for i in range(first + 1, n):
        prev = _muladd(x[i] - prev, k, prev)
        out[i] = prev
    return out


@njit(cache=True)
def _rsi(x, period):
    n = x.size
    out = np.empty(n)
    b = _first_valid(x)
    first = b + period
    _fill_nan(out, first)
    if first >= n:
        return out
    keep = (period - 1) / period
    w = 1.0 / period
    prev = x[b]
    gain = 0.0
    loss = 0.0
    for i in range(b + 1, first + 1):
        d = x[i] - prev
        prev = x[i]
        if d < 0.0:
            loss -= d
        else:
            gain += d
    gain /= period
    loss /= period
    out[first] = _rsi_value(gain, loss)
    for i in range(first + 1, n):
        d = x[i] - prev
        prev = x[i]
        gain = _muladd(gain, keep, max(d, 0.0) * w)
        loss = _muladd(loss, keep, max(-d, 0.0) * w)
        out[i] = _rsi_value(gain, loss)
    return out


@njit(cache=True)
def _macd(x, fast, slow, signal):
    n = x.size
    block = np.empty((3, n))  # one allocation for the three outputs
    line = block[0]
    sig_out = block[1]
    hist = block[2]
    b = _first_valid(x)
    seed = b + slow - 1  # both EMAs get their first value here (TA-Lib aligns the fast one)
    first = seed + signal - 1
    _fill_nan(line, first)
    _fill_nan(sig_out, first)
    _fill_nan(hist, first)
    if first >= n:
        return line, sig_out, hist
    kf = 2.0 / (fast + 1)
    ks = 2.0 / (slow + 1)
    kg = 2.0 / (signal + 1)
    ssum = 0.0
    for i in range(b, seed + 1):
        ssum += x[i]
    fsum = 0.0
    for i in range(seed - fast + 1, seed + 1):  # TA-Lib seeds the fast EMA on the slow's window end
        fsum += x[i]
    es = ssum / slow
    ef = fsum / fast
    m = ef - es
    msum = m
    for i in range(seed + 1, first + 1):
        es = _muladd(x[i] - es, ks, es)
        ef = _muladd(x[i] - ef, kf, ef)
        m = ef - es
        msum += m
    sg = msum / signal
    line[first] = m
    sig_out[first] = sg
    hist[first] = m - sg
    for i in range(first + 1, n):
        es = _muladd(x[i] - es, ks, es)
        ef = _muladd(x[i] - ef, kf, ef)
        m = ef - es
        sg = _muladd(m - sg, kg, sg)
        line[i] = m
        sig_out[i] = sg
        hist[i] = m - sg
    return line, sig_out, hist


@njit(cache=True)
def _atr(high, low, close, period):
    n = close.size
    out = np.empty(n)
    b = _first_valid3(high, low, close)
    first = b + period
    _fill_nan(out, first)
    if first >= n:
        return out
    keep = (period - 1) / period
    w = 1.0 / period
    total = 0.0
    for i in range(b + 1, first + 1):
        total += _true_range(high[i], low[i], close[i - 1])
    prev = total / period
    out[first] = prev
    for i in range(first + 1, n):
        prev = _muladd(prev, keep, _true_range(high[i], low[i], close[i - 1]) * w)
        out[i] = prev
    return out


@njit(cache=True)
def _supertrend(high, low, close, period, multiplier):
    n = close.size
    block = np.empty((2, n))
    value = block[0]
    direction = block[1]
    b = _first_valid3(high, low, close)
    first = b + period
    _fill_nan(value, first)
    _fill_nan(direction, first)
    if first >= n:
        return value, direction
    keep = (period - 1) / period
    w = 1.0 / period
    total = 0.0
    for i in range(b + 1, first + 1):
        total += _true_range(high[i], low[i], close[i - 1])
    atr = total / period
    hl2 = (high[first] + low[first]) / 2.0
    upper = hl2 + multiplier * atr
    lower = hl2 - multiplier * atr
    d = -1.0
    value[first] = upper
    direction[first] = d
    for i in range(first + 1, n):
        prev_close = close[i - 1]
        atr = _muladd(atr, keep, _true_range(high[i], low[i], prev_close) * w)
        hl2 = (high[i] + low[i]) / 2.0
        basic_upper = hl2 + multiplier * atr
        basic_lower = hl2 - multiplier * atr
        if basic_upper < upper or prev_close > upper:
            upper = basic_upper
        if basic_lower > lower or prev_close < lower:
            lower = basic_lower
        if d < 0.0:
            d = 1.0 if close[i] > upper else -1.0
        else:
            d = -1.0 if close[i] < lower else 1.0
        value[i] = lower if d > 0.0 else upper
        direction[i] = d
    return value, direction


@njit(cache=True)
def _vwap(high, low, close, volume, session):
    n = close.size
    out = np.empty(n)
    pv = 0.0
    vol = 0.0
    current = 0
    for i in range(n):
        if i == 0 or session[i] != current:
            current = session[i]
            pv = 0.0
            vol = 0.0
        h = high[i]
        lo = low[i]
        c = close[i]
        v = volume[i]
        if np.isfinite(h) and np.isfinite(lo) and np.isfinite(c) and np.isfinite(v) and v >= 0.0:
            pv += ((h + lo + c) / 3.0) * v
            vol += v
        out[i] = pv / vol if vol > 0.0 else np.nan
    return out


@njit(cache=True)
def _bbands(x, period, nbdev_up, nbdev_dn):
    n = x.size
    block = np.empty((3, n))
    upper = block[0]
    middle = block[1]
    lower = block[2]
    b = _first_valid(x)
    first = b + period - 1
    _fill_nan(upper, first)
    _fill_nan(middle, first)
    _fill_nan(lower, first)
    if first >= n:
        return upper, middle, lower
    inv = 1.0 / period
    total = 0.0
    for i in range(b, first):
        total += x[i]
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    since = 0
    for i in range(first, n):
        total += x[i]
        mid = total / period
        total -= x[i - period + 1]
        if since == 0:
            # re-centre: exact shifted sums over the window, so rounding never accumulates
            shift = mid
            s1 = 0.0
            s2 = 0.0
            for j in range(i - period + 1, i + 1):
                d = x[j] - shift
                s1 += d
                s2 += d * d
            since = period - 1
        else:
            dn = x[i] - shift
            do = x[i - period] - shift
            s1 += dn - do
            s2 += dn * dn - do * do
            since -= 1
        m1 = s1 * inv
        m2 = s2 * inv
        var = m2 - m1 * m1
        sd = math.sqrt(var) if var > _VAR_NOISE * m2 else 0.0
        middle[i] = mid
        upper[i] = mid + nbdev_up * sd
        lower[i] = mid - nbdev_dn * sd
    return upper, middle, lower


# --------------------------------------------------------------------------------------------
# Batch API
# --------------------------------------------------------------------------------------------


def sma(x: npt.ArrayLike, period: int) -> FloatArray:
    """Simple moving average; NaN for the first ``period - 1`` values (TA-Lib ``SMA``).

    Raises ValueError for a period < 1 or a non-1-D input.
    """
    return _sma(_as_f64("sma", "x", x), _check_period("sma", "period", period))


def ema(x: npt.ArrayLike, period: int) -> FloatArray:
    """Exponential moving average, k = 2 / (period + 1), seeded with the SMA of the first
    ``period`` values (TA-Lib ``EMA``): NaN for the first ``period - 1`` values.

    Raises ValueError for a period < 1 or a non-1-D input.
    """
    return _ema(_as_f64("ema", "x", x), _check_period("ema", "period", period))


def rsi(x: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's RSI in [0, 100] (TA-Lib ``RSI``): the first average gain/loss is the mean of the
    first ``period`` changes, then Wilder smoothing. NaN for the first ``period`` values; 0 when
    the window has neither gains nor losses (as TA-Lib).

    Raises ValueError for a period < 1 or a non-1-D input.
    """
    return _rsi(_as_f64("rsi", "x", x), _check_period("rsi", "period", period))


def macd(
    x: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line, signal line and histogram (TA-Lib ``MACD``).

    As in TA-Lib, both EMAs start at index ``slow - 1``: the slow EMA is seeded with the mean of
    the first ``slow`` values, the fast EMA with the mean of the ``fast`` values ending there
    (not of the first ``fast`` values). The signal EMA is seeded with the mean of the first
    ``signal`` MACD values. All three outputs are NaN for the first ``slow + signal - 2``
    values. Raises ValueError if a period is < 1, fast > slow, or the input is not 1-D.
    """
    fast = _check_period("macd", "fast", fast)
    slow = _check_period("macd", "slow", slow)
    signal = _check_period("macd", "signal", signal)
    if fast > slow:
        raise ValueError(f"macd: fast period {fast} must not exceed slow period {slow}")
    return _macd(_as_f64("macd", "x", x), fast, slow, signal)


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's average true range (TA-Lib ``ATR``).

    True range at i >= 1 is max(high - low, |close[i-1] - high|, |close[i-1] - low|); the first
    ATR (index ``period``) is the mean of the true ranges at 1..period, then
    ``atr = atr * (period-1)/period + tr / period``. NaN for the first ``period`` values.
    Raises ValueError for a period < 1 or inputs of unequal length.
    """
    period = _check_period("atr", "period", period)
    h, lo, c = (_as_f64("atr", n, a) for n, a in (("high", high), ("low", low), ("close", close)))
    _same_length("atr", high=h, low=lo, close=c)
    return _atr(h, lo, c, period)


def supertrend(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    period: int = 10,
    multiplier: float = 3.0,
) -> tuple[FloatArray, FloatArray]:
    """SuperTrend value and direction (+1.0 up-trend, -1.0 down-trend); both NaN for the first
    ``period`` values (the ATR warm-up).

    Definition (TradingView's ``ta.supertrend`` recursion on TA-Lib's ATR), for i >= period:
      atr[i] = ``atr(high, low, close, period)[i]``;  hl2 = (high[i] + low[i]) / 2
      basic_upper = hl2 + multiplier * atr[i];  basic_lower = hl2 - multiplier * atr[i]
      upper[i] = basic_upper if i == period or basic_upper < upper[i-1] or close[i-1] > upper[i-1]
                 else upper[i-1]
      lower[i] = basic_lower if i == period or basic_lower > lower[i-1] or close[i-1] < lower[i-1]
                 else lower[i-1]
      direction[period] = -1
      direction[i] = (+1 if close[i] > upper[i] else -1)  when direction[i-1] == -1
                     (-1 if close[i] < lower[i] else +1)  when direction[i-1] == +1
      value[i] = lower[i] if direction[i] == +1 else upper[i]
    (TradingView's own ATR starts one bar earlier, so the first values after the warm-up differ
    from its chart; the recursion is the same.) Raises ValueError for a period < 1, a
    multiplier that is not a finite number > 0, or inputs of unequal length.
    """
    period = _check_period("supertrend", "period", period)
    mult = _check_factor("supertrend", "multiplier", multiplier, positive=True)
    h, lo, c = (
        _as_f64("supertrend", n, a) for n, a in (("high", high), ("low", low), ("close", close))
    )
    _same_length("supertrend", high=h, low=lo, close=c)
    return _supertrend(h, lo, c, period, mult)


def vwap(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    session_id: npt.ArrayLike,
) -> FloatArray:
    """Session-anchored VWAP: sum(typical * volume) / sum(volume) since the session start, with
    typical = (high + low + close) / 3.

    ``session_id`` is an integer per bar; the sums reset whenever it changes from the previous
    bar (use ``session_ids_from_boundaries`` for boundary timestamps, or
    ``actors.strategy.bars.session_day_ids`` for one session per IST day). A bar with a
    non-finite field or a negative volume adds nothing. The output is NaN until the session has
    traded a positive volume. Raises ValueError for inputs of unequal length or a non-integer
    ``session_id``.
    """
    arrays = {"high": high, "low": low, "close": close, "volume": volume}
    h, lo, c, v = (_as_f64("vwap", n, a) for n, a in arrays.items())
    sid = np.asarray(session_id)
    if sid.dtype.kind not in "iu":
        raise ValueError(f"vwap: session_id must be integers, got dtype {sid.dtype}")
    sid = np.ascontiguousarray(sid, dtype=np.int64)
    _same_length("vwap", high=h, low=lo, close=c, volume=v, session_id=sid)
    return _vwap(h, lo, c, v, sid)


def bbands(
    x: npt.ArrayLike, period: int = 5, nbdev_up: float = 2.0, nbdev_dn: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger Bands (upper, middle, lower) in TA-Lib's order (TA-Lib ``BBANDS``, matype SMA).

    middle = SMA(period); upper/lower = middle +/- nbdev * population standard deviation of the
    same window. NaN for the first ``period - 1`` values. The window sums are recomputed every
    ``period`` outputs (see the module notes). Raises ValueError for a period < 1, a
    non-finite nbdev, or a non-1-D input.
    """
    period = _check_period("bbands", "period", period)
    up = _check_factor("bbands", "nbdev_up", nbdev_up)
    dn = _check_factor("bbands", "nbdev_dn", nbdev_dn)
    return _bbands(_as_f64("bbands", "x", x), period, up, dn)


def session_ids_from_boundaries(ts_ns: npt.ArrayLike, boundaries_ns: npt.ArrayLike) -> IntArray:
    """Session id per timestamp: the index of the last boundary at or before it (-1 before the
    first). ``boundaries_ns`` are session start times, ascending. Raises ValueError if they are
    not ascending."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    starts = np.asarray(boundaries_ns, dtype=np.int64)
    if starts.size > 1 and np.any(np.diff(starts) <= 0):
        raise ValueError("session_ids_from_boundaries: boundaries_ns must be strictly ascending")
    return np.searchsorted(starts, ts, side="right").astype(np.int64) - 1


# --------------------------------------------------------------------------------------------
# Streaming update kernels. Each mirrors its batch loop operation for operation.
# State arrays are float64; counts are stored as floats (exact below 2**53).
# --------------------------------------------------------------------------------------------

# SMA / EMA / RSI / ATR state slots
_COUNT: Final = 0
_ACC: Final = 1  # running total (SMA), seed sum then EMA value (EMA), seed sum then ATR (ATR)
_PREV: Final = 2  # previous input (RSI) or previous close (ATR)
_GAIN: Final = 3
_LOSS: Final = 4
_SIMPLE_SLOTS: Final = 5


@njit(cache=True)
def _sma_update(s, ring, x):
    n = int(s[_COUNT])
    if n == 0 and np.isnan(x):
        return np.nan
    period = ring.size
    ring[n % period] = x
    total = s[_ACC] + x
    s[_COUNT] = n + 1
    if n < period - 1:
        s[_ACC] = total
        return np.nan
    out = total / period
    s[_ACC] = total - ring[(n + 1) % period]
    return out


@njit(cache=True)
def _ema_update(s, period, x):
    n = int(s[_COUNT])
    if n == 0 and np.isnan(x):
        return np.nan
    s[_COUNT] = n + 1
    if n < period - 1:
        s[_ACC] += x
        return np.nan
    if n == period - 1:
        s[_ACC] = (s[_ACC] + x) / period
    else:
        prev = s[_ACC]
        s[_ACC] = _muladd(x - prev, 2.0 / (period + 1), prev)
    return s[_ACC]


@njit(cache=True)
def _rsi_update(s, period, x):
    n = int(s[_COUNT])
    if n == 0:
        if np.isnan(x):
            return np.nan
        s[_COUNT] = 1
        s[_PREV] = x
        return np.nan
    s[_COUNT] = n + 1
    d = x - s[_PREV]
    s[_PREV] = x
    if n <= period:  # the first `period` changes: plain sums, then their mean
        if d < 0.0:
            s[_LOSS] -= d
        else:
            s[_GAIN] += d
        if n < period:
            return np.nan
        s[_GAIN] /= period
        s[_LOSS] /= period
        return _rsi_value(s[_GAIN], s[_LOSS])
    keep = (period - 1) / period
    w = 1.0 / period
    s[_GAIN] = _muladd(s[_GAIN], keep, max(d, 0.0) * w)
    s[_LOSS] = _muladd(s[_LOSS], keep, max(-d, 0.0) * w)
    return _rsi_value(s[_GAIN], s[_LOSS])


@njit(cache=True)
def _atr_update(s, period, high, low, close):
    n = int(s[_COUNT])
    if n == 0:
        if np.isnan(high) or np.isnan(low) or np.isnan(close):
            return np.nan
        s[_COUNT] = 1
        s[_PREV] = close
        return np.nan
    s[_COUNT] = n + 1
    tr = _true_range(high, low, s[_PREV])
    s[_PREV] = close
    if n <= period:  # the first `period` true ranges: their mean seeds the ATR
        s[_ACC] += tr
        if n < period:
            return np.nan
        s[_ACC] /= period
        return s[_ACC]
    s[_ACC] = _muladd(s[_ACC], (period - 1) / period, tr * (1.0 / period))
    return s[_ACC]


# SuperTrend state slots (after the ATR ones)
_UPPER: Final = 3
_LOWER: Final = 4
_DIR: Final = 5
_SUPERTREND_SLOTS: Final = 6


@njit(cache=True)
def _supertrend_update(s, period, multiplier, high, low, close):
    n = int(s[_COUNT])
    if n == 0:
        if np.isnan(high) or np.isnan(low) or np.isnan(close):
            return np.nan, np.nan
        s[_COUNT] = 1
        s[_PREV] = close
        return np.nan, np.nan
    s[_COUNT] = n + 1
    prev_close = s[_PREV]
    s[_PREV] = close
    tr = _true_range(high, low, prev_close)
    if n < period:
        s[_ACC] += tr
        return np.nan, np.nan
    hl2 = (high + low) / 2.0
    if n == period:
        atr = (s[_ACC] + tr) / period
        s[_ACC] = atr
        s[_UPPER] = hl2 + multiplier * atr
        s[_LOWER] = hl2 - multiplier * atr
        s[_DIR] = -1.0
        return s[_UPPER], -1.0
    atr = _muladd(s[_ACC], (period - 1) / period, tr * (1.0 / period))
    s[_ACC] = atr
    basic_upper = hl2 + multiplier * atr
    basic_lower = hl2 - multiplier * atr
    upper = s[_UPPER]
    lower = s[_LOWER]
    if basic_upper < upper or prev_close > upper:
        upper = basic_upper
    if basic_lower > lower or prev_close < lower:
        lower = basic_lower
    d = s[_DIR]
    if d < 0.0:
        d = 1.0 if close > upper else -1.0
    else:
        d = -1.0 if close < lower else 1.0
    s[_UPPER] = upper
    s[_LOWER] = lower
    s[_DIR] = d
    return (lower if d > 0.0 else upper), d


# MACD state slots
_SLOW: Final = 1  # seed sum, then the slow EMA
_FAST: Final = 2  # seed sum, then the fast EMA
_SIG: Final = 3  # signal seed sum, then the signal EMA
_MACD_SLOTS: Final = 4


@njit(cache=True)
def _macd_update(s, fast, slow, signal, x):
    n = int(s[_COUNT])
    if n == 0 and np.isnan(x):
        return np.nan, np.nan, np.nan
    s[_COUNT] = n + 1
    if n < slow - 1:
        s[_SLOW] += x
        if n >= slow - fast:
            s[_FAST] += x
        return np.nan, np.nan, np.nan
    j = n - (slow - 1)  # index of this MACD value
    if j == 0:
        es = (s[_SLOW] + x) / slow
        ef = (s[_FAST] + x) / fast
        m = ef - es
        s[_SIG] = m
    else:
        es = _muladd(x - s[_SLOW], 2.0 / (slow + 1), s[_SLOW])
        ef = _muladd(x - s[_FAST], 2.0 / (fast + 1), s[_FAST])
        m = ef - es
        if j < signal:
            s[_SIG] += m
    s[_SLOW] = es
    s[_FAST] = ef
    if j < signal - 1:
        return np.nan, np.nan, np.nan
    if j == signal - 1:
        sg = s[_SIG] / signal
    else:
        sg = _muladd(m - s[_SIG], 2.0 / (signal + 1), s[_SIG])
    s[_SIG] = sg
    return m, sg, m - sg


# Bollinger state slots
_TOTAL: Final = 1
_SHIFT: Final = 2
_S1: Final = 3
_S2: Final = 4
_SINCE: Final = 5
_BBANDS_SLOTS: Final = 6


@njit(cache=True)
def _bbands_update(s, ring, nbdev_up, nbdev_dn, x):
    n = int(s[_COUNT])
    if n == 0 and np.isnan(x):
        return np.nan, np.nan, np.nan
    period = ring.size
    slot = n % period
    old = ring[slot]  # the value leaving the window (once the window is full)
    ring[slot] = x
    total = s[_TOTAL] + x
    s[_COUNT] = n + 1
    if n < period - 1:
        s[_TOTAL] = total
        return np.nan, np.nan, np.nan
    mid = total / period
    oldest = (n + 1) % period
    s[_TOTAL] = total - ring[oldest]
    since = int(s[_SINCE])
    if since == 0:
        shift = mid
        s1 = 0.0
        s2 = 0.0
        for k in range(period):
            d = ring[(oldest + k) % period] - shift
            s1 += d
            s2 += d * d
        s[_SHIFT] = shift
        s[_SINCE] = period - 1
    else:
        shift = s[_SHIFT]
        dn = x - shift
        do = old - shift
        s1 = s[_S1] + (dn - do)
        s2 = s[_S2] + (dn * dn - do * do)
        s[_SINCE] = since - 1
    s[_S1] = s1
    s[_S2] = s2
    inv = 1.0 / period
    m1 = s1 * inv
    m2 = s2 * inv
    var = m2 - m1 * m1
    sd = math.sqrt(var) if var > _VAR_NOISE * m2 else 0.0
    return mid + nbdev_up * sd, mid, mid - nbdev_dn * sd


@njit(cache=True)
def _vwap_update(s, sess, high, low, close, volume, session_id):
    if sess[1] == 0 or session_id != sess[0]:
        sess[0] = session_id
        sess[1] = 1
        s[0] = 0.0
        s[1] = 0.0
    if (
        np.isfinite(high)
        and np.isfinite(low)
        and np.isfinite(close)
        and np.isfinite(volume)
        and volume >= 0.0
    ):
        s[0] += ((high + low + close) / 3.0) * volume
        s[1] += volume
    return s[0] / s[1] if s[1] > 0.0 else np.nan


# --------------------------------------------------------------------------------------------
# Streaming API
# --------------------------------------------------------------------------------------------


class SmaStream:
    """Streaming ``sma``: ``update(x)`` returns the value at this index (NaN during warm-up)."""

    __slots__ = ("period", "_s", "_ring")

    def __init__(self, period: int) -> None:
        self.period = _check_period("SmaStream", "period", period)
        self._s = np.zeros(_SIMPLE_SLOTS)
        self._ring = np.zeros(self.period)

    def update(self, x: float) -> float:
        # hot path: once per bar per indicator
        return _sma_update(self._s, self._ring, float(x))

    @property
    def ready(self) -> bool:
        """True once ``update`` returns numbers."""
        return bool(self._s[_COUNT] >= self.period)


class EmaStream:
    """Streaming ``ema`` (TA-Lib seeding); NaN for the first ``period - 1`` updates."""

    __slots__ = ("period", "_s")

    def __init__(self, period: int) -> None:
        self.period = _check_period("EmaStream", "period", period)
        self._s = np.zeros(_SIMPLE_SLOTS)

    def update(self, x: float) -> float:
        # hot path: once per bar per indicator
        return _ema_update(self._s, self.period, float(x))

    @property
    def ready(self) -> bool:
        return bool(self._s[_COUNT] >= self.period)


class RsiStream:
    """Streaming ``rsi``; NaN for the first ``period`` updates."""

    __slots__ = ("period", "_s")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period("RsiStream", "period", period)
        self._s = np.zeros(_SIMPLE_SLOTS)

    def update(self, x: float) -> float:
        # hot path: once per bar per indicator
        return _rsi_update(self._s, self.period, float(x))

    @property
    def ready(self) -> bool:
        return bool(self._s[_COUNT] > self.period)


class MacdStream:
    """Streaming ``macd``: ``update(x)`` returns (line, signal, histogram)."""

    __slots__ = ("fast", "slow", "signal", "_s")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.fast = _check_period("MacdStream", "fast", fast)
        self.slow = _check_period("MacdStream", "slow", slow)
        self.signal = _check_period("MacdStream", "signal", signal)
        if self.fast > self.slow:
            raise ValueError(f"MacdStream: fast period {fast} must not exceed slow period {slow}")
        self._s = np.zeros(_MACD_SLOTS)

    def update(self, x: float) -> tuple[float, float, float]:
        # hot path: once per bar per indicator
        return _macd_update(self._s, self.fast, self.slow, self.signal, float(x))

    @property
    def ready(self) -> bool:
        return bool(self._s[_COUNT] >= self.slow + self.signal - 1)


class AtrStream:
    """Streaming ``atr``: ``update(high, low, close)``; NaN for the first ``period`` bars."""

    __slots__ = ("period", "_s")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period("AtrStream", "period", period)
        self._s = np.zeros(_SIMPLE_SLOTS)

    def update(self, high: float, low: float, close: float) -> float:
        # hot path: once per bar per indicator
        return _atr_update(self._s, self.period, float(high), float(low), float(close))

    @property
    def ready(self) -> bool:
        return bool(self._s[_COUNT] > self.period)


class SuperTrendStream:
    """Streaming ``supertrend``: ``update(high, low, close)`` returns (value, direction)."""

    __slots__ = ("period", "multiplier", "_s")

    def __init__(self, period: int = 10, multiplier: float = 3.0) -> None:
        self.period = _check_period("SuperTrendStream", "period", period)
        self.multiplier = _check_factor("SuperTrendStream", "multiplier", multiplier, positive=True)
        self._s = np.zeros(_SUPERTREND_SLOTS)

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        # hot path: once per bar per indicator
        return _supertrend_update(
            self._s, self.period, self.multiplier, float(high), float(low), float(close)
        )

    @property
    def ready(self) -> bool:
        return bool(self._s[_COUNT] > self.period)


class VwapStream:
    """Streaming ``vwap``: ``update(high, low, close, volume, session_id)``; the sums reset when
    ``session_id`` (an int) differs from the previous bar's."""

    __slots__ = ("_s", "_sess")

    def __init__(self) -> None:
        self._s = np.zeros(2)
        self._sess = np.zeros(2, dtype=np.int64)

    def update(self, high: float, low: float, close: float, volume: float, session_id: int) -> float:
        # hot path: once per bar per indicator
        return _vwap_update(
            self._s, self._sess, float(high), float(low), float(close), float(volume), int(session_id)
        )

    @property
    def ready(self) -> bool:
        return bool(self._s[1] > 0.0)


class BBandsStream:
    """Streaming ``bbands``: ``update(x)`` returns (upper, middle, lower). O(1) per update
    except every ``period``-th, which re-sums the window (O(period))."""

    __slots__ = ("period", "nbdev_up", "nbdev_dn", "_s", "_ring")

    def __init__(self, period: int = 5, nbdev_up: float = 2.0, nbdev_dn: float = 2.0) -> None:
        self.period = _check_period("BBandsStream", "period", period)
        self.nbdev_up = _check_factor("BBandsStream", "nbdev_up", nbdev_up)
        self.nbdev_dn = _check_factor("BBandsStream", "nbdev_dn", nbdev_dn)
        self._s = np.zeros(_BBANDS_SLOTS)
        self._ring = np.zeros(self.period)

    def update(self, x: float) -> tuple[float, float, float]:
        # hot path: once per bar per indicator
        return _bbands_update(self._s, self._ring, self.nbdev_up, self.nbdev_dn, float(x))

    @property
    def ready(self) -> bool:
        return bool(self._s[_COUNT] >= self.period)


# --------------------------------------------------------------------------------------------
# Many updates at once, stopping at a crossing (replays)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _ema_cross_run(fast_s, fast_period, slow_s, slow_period, prev_diff, long, values, scale, skip_nonpositive):
    # hot path (replay batches): the EmaStream updates and the sign test of a crossover, per value
    for i in range(values.size):
        if skip_nonpositive and values[i] <= 0:
            continue
        x = values[i] * scale
        fast = _ema_update(fast_s, fast_period, x)
        slow = _ema_update(slow_s, slow_period, x)
        if slow_s[_COUNT] < slow_period:
            continue
        diff = fast - slow
        prev = prev_diff[0]
        prev_diff[0] = diff
        if prev == 0.0:
            continue
        if long:
            if prev >= 0.0 > diff:
                return i
        elif prev <= 0.0 < diff:
            return i
    return values.size


def ema_cross_scan(fast: EmaStream, slow: EmaStream, prev_diff: float, long: bool, values: npt.NDArray[Any],
                   *, commit: bool, scale: float = 1.0, skip_nonpositive: bool = False) -> tuple[int, float]:
    """Feed ``values * scale`` in turn (``skip_nonpositive``: leaving out values <= 0; ``scale``
    a power of two keeps the products exact) to ``fast`` and ``slow`` and, once ``slow`` is ready, compare
    ``diff = fast - slow`` with the previous ``diff`` (``prev_diff``; 0.0 = none yet): stop at the
    first value where a long position (``long``) sees it cross below zero (``prev >= 0 > diff``),
    or a flat one above zero (``prev <= 0 < diff``). Returns (its index or ``len(values)``, the
    ``diff`` after the values fed). ``commit=False`` leaves both streams untouched (a look-ahead
    on copies); ``commit=True`` updates them through the values fed, crossing included. Same
    arithmetic as ``update`` value by value."""
    fs, ss = (fast._s, slow._s) if commit else (fast._s.copy(), slow._s.copy())
    prev = np.array([prev_diff])
    k = _ema_cross_run(fs, fast.period, ss, slow.period, prev, long, values, scale, skip_nonpositive)
    return int(k), float(prev[0])


# --------------------------------------------------------------------------------------------
# Start-up
# --------------------------------------------------------------------------------------------

KERNELS: Final = (
    _sma,
    _ema,
    _rsi,
    _macd,
    _atr,
    _supertrend,
    _vwap,
    _bbands,
    _sma_update,
    _ema_update,
    _rsi_update,
    _atr_update,
    _supertrend_update,
    _macd_update,
    _bbands_update,
    _vwap_update,
    _ema_cross_run,
)
"""Every njit kernel of this module (``warmup`` must leave each one compiled)."""


def warmup() -> None:
    """Compile (or load from numba's on-disk cache) every kernel, with the argument types the
    public API passes, by running each batch function and stream once on a tiny series.
    Call it at actor start-up before reporting ready. Idempotent; raises nothing in normal use."""
    n = 48
    close = 100.0 + np.cumsum(np.sin(np.arange(n, dtype=np.float64)))
    high = close + 1.0
    low = close - 1.0
    volume = np.full(n, 10.0)
    session = np.repeat(np.arange(2, dtype=np.int64), n // 2)
    sma(close, 5)
    ema(close, 5)
    rsi(close, 5)
    macd(close, 3, 6, 4)
    atr(high, low, close, 5)
    supertrend(high, low, close, 5, 2.0)
    vwap(high, low, close, volume, session)
    bbands(close, 5, 2.0, 2.0)
    streams = (SmaStream(5), EmaStream(5), RsiStream(5), MacdStream(3, 6, 4), BBandsStream(5))
    bar_streams = (AtrStream(5), SuperTrendStream(5, 2.0))
    vw = VwapStream()
    for i in range(n):
        for st in streams:
            st.update(close[i])
        for bst in bar_streams:
            bst.update(high[i], low[i], close[i])
        vw.update(high[i], low[i], close[i], volume[i], int(session[i]))
    paise = prices_to_paise_array(close).astype(np.int64)
    for long in (False, True):
        ema_cross_scan(EmaStream(3), EmaStream(5), 0.0, long, close, commit=False)
        ema_cross_scan(EmaStream(3), EmaStream(5), 0.0, long, paise, commit=False, scale=0.5, skip_nonpositive=True)
