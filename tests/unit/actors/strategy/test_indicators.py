"""Indicator kernels: batch vs TA-Lib, streaming vs batch, SuperTrend and VWAP vs plain Python."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.strategy import indicators as ind

talib = pytest.importorskip("talib")

N = 2_000


def random_walk(seed: int, level: float, n: int = N) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level + np.cumsum(rng.normal(0.0, level * 0.002, n))


def ohlc(seed: int, level: float, n: int = N) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1000)
    close = random_walk(seed, level, n)
    spread = level * 0.003
    high = close + rng.random(n) * spread
    low = close - rng.random(n) * spread
    return high, low, close


# Two price scales (rupees-like and paise-like) and a series that starts with NaNs (TA-Lib's
# wrapper skips them; so must we).
SERIES = {
    "rupees": random_walk(1, 100.0),
    "paise": random_walk(2, 2_000_000.0),
    "leading_nans": np.concatenate([np.full(7, np.nan), random_walk(3, 500.0, N - 7)]),
}


def assert_matches(ours: np.ndarray, ref: np.ndarray, tol: float = 1e-9) -> None:
    """Same NaN positions; elsewhere equal within tol relative (absolute below magnitude 1)."""
    ours = np.asarray(ours)
    ref = np.asarray(ref)
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    ok = ~np.isnan(ref)
    assert ok.any(), "the comparison must cover some values"
    err = np.abs(ours[ok] - ref[ok]) / np.maximum(1.0, np.abs(ref[ok]))
    assert err.max() <= tol, f"max relative error {err.max():.3e} > {tol:.0e}"


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("period", [2, 5, 20, 200])
def test_sma_matches_talib(series: str, period: int) -> None:
    x = SERIES[series]
    assert_matches(ind.sma(x, period), talib.SMA(x, period))


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("period", [2, 10, 30, 100])
def test_ema_matches_talib(series: str, period: int) -> None:
    x = SERIES[series]
    assert_matches(ind.ema(x, period), talib.EMA(x, period))


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("period", [2, 14, 50])
def test_rsi_matches_talib(series: str, period: int) -> None:
    x = SERIES[series]
    assert_matches(ind.rsi(x, period), talib.RSI(x, period))


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5), (3, 10, 1), (8, 8, 3)])
def test_macd_matches_talib(series: str, fast: int, slow: int, signal: int) -> None:
    x = SERIES[series]
    ours = ind.macd(x, fast, slow, signal)
    ref = talib.MACD(x, fast, slow, signal)
    for o, r in zip(ours, ref, strict=True):
        assert_matches(o, r)


@pytest.mark.parametrize("level", [100.0, 2_000_000.0])
@pytest.mark.parametrize("period", [1, 2, 14, 30])
@pytest.mark.parametrize("leading_nans", [0, 4])
def test_atr_matches_talib(level: float, period: int, leading_nans: int) -> None:
    high, low, close = ohlc(7, level)
    high[:leading_nans] = np.nan  # one input NaN is enough to skip the row, as in TA-Lib
    assert_matches(ind.atr(high, low, close, period), talib.ATR(high, low, close, period))


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize(
    ("period", "up", "dn"), [(5, 2.0, 2.0), (20, 2.0, 1.5), (200, 1.0, 3.0), (2, 0.5, 0.5)]
)
def test_bbands_matches_talib(series: str, period: int, up: float, dn: float) -> None:
    x = SERIES[series]
    ours = ind.bbands(x, period, up, dn)
    ref = talib.BBANDS(x, period, up, dn, 0)
    for o, r in zip(ours, ref, strict=True):
        assert_matches(o, r)


def test_bbands_std_stays_exact_at_paise_scale_over_a_long_series() -> None:
    # 2e6 paise with small steps: a running sum of squares loses ~1e-4 here (cancellation).
    x = random_walk(11, 2_000_000.0, 200_000)
    upper, middle, _ = ind.bbands(x, 20, 1.0, 1.0)
    ref_std = np.lib.stride_tricks.sliding_window_view(x, 20).std(axis=1)
    rel = np.abs((upper - middle)[19:] - ref_std) / ref_std
    assert rel.max() < 1e-9


def test_flat_prices_give_rsi_zero_and_zero_width_bands_like_talib() -> None:
    x = np.full(50, 2_450_050.0)
    assert_matches(ind.rsi(x, 14), talib.RSI(x, 14))
    upper, middle, lower = ind.bbands(x, 20, 2.0, 2.0)
    assert np.array_equal(upper[19:], middle[19:]) and np.array_equal(lower[19:], middle[19:])
    for o, r in zip((upper, middle, lower), talib.BBANDS(x, 20, 2.0, 2.0, 0), strict=True):
        assert_matches(o, r)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: ind.sma(x, 30),
        lambda x: ind.ema(x, 30),
        lambda x: ind.rsi(x, 30),
        lambda x: ind.macd(x)[2],
        lambda x: ind.atr(x + 1, x - 1, x, 30),
        lambda x: ind.supertrend(x + 1, x - 1, x, 30)[0],
        lambda x: ind.bbands(x, 30)[0],
    ],
)
def test_input_shorter_than_warmup_is_all_nan(call: Callable[[np.ndarray], np.ndarray]) -> None:
    x = random_walk(5, 100.0, 25)
    out = call(x)
    assert out.shape == x.shape and np.isnan(out).all()


def test_integer_paise_input_is_accepted_as_float64() -> None:
    x = np.round(random_walk(9, 1_000_000.0, 300)).astype(np.int64)
    assert_matches(ind.ema(x, 10), talib.EMA(x.astype(np.float64), 10))


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: ind.sma([1.0, 2.0], 0), "period must be an integer >= 1, got 0"),
        (lambda: ind.rsi([1.0, 2.0], 2.5), "got 2.5"),  # type: ignore[arg-type]
        (lambda: ind.macd([1.0], 26, 12), "fast period 26 must not exceed slow period 12"),
        (lambda: ind.atr([1.0, 2.0], [1.0], [1.0, 2.0]), "equal lengths"),
        (lambda: ind.supertrend([1.0], [1.0], [1.0], 10, 0.0), "multiplier must be a finite number > 0"),
        (lambda: ind.bbands([1.0], 5, math.inf), "nbdev_up must be a finite number"),
        (lambda: ind.sma(np.ones((2, 2)), 2), "one-dimensional"),
        (lambda: ind.vwap([1.0], [1.0], [1.0], [1.0], [0.5]), "session_id must be integers"),
        (lambda: ind.SmaStream(0), "SmaStream: period must be an integer >= 1"),
    ],
)
def test_bad_parameters_are_refused_with_the_numbers(call: Callable[[], object], needle: str) -> None:
    with pytest.raises(ValueError) as info:
        call()
    assert needle in str(info.value)


# --------------------------------------------------------------------------------------------
# Streaming == batch, bit for bit, at every index
# --------------------------------------------------------------------------------------------


def run_stream(update: Callable[..., object], *columns: Sequence[float]) -> np.ndarray:
    return np.array([update(*row) for row in zip(*columns, strict=True)], dtype=np.float64)


STREAM_INPUTS = {
    "plain": ohlc(21, 1_000.0, 600),
    "leading_nans": tuple(np.concatenate([np.full(5, np.nan), a[5:]]) for a in ohlc(22, 1_000.0, 600)),
}


@pytest.mark.parametrize("data", STREAM_INPUTS)
@pytest.mark.parametrize("period", [1, 3, 14])
def test_single_input_streams_equal_batch_at_every_index(data: str, period: int) -> None:
    _, _, x = STREAM_INPUTS[data]
    cases = [
        (ind.SmaStream(period), ind.sma(x, period)),
        (ind.EmaStream(period), ind.ema(x, period)),
        (ind.RsiStream(period), ind.rsi(x, period)),
    ]
    for stream, batch in cases:
        np.testing.assert_array_equal(run_stream(stream.update, x), batch)
        assert stream.ready


@pytest.mark.parametrize("data", STREAM_INPUTS)
@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (1, 4, 1), (5, 5, 2)])
def test_macd_stream_equals_batch_at_every_index(data: str, fast: int, slow: int, signal: int) -> None:
    _, _, x = STREAM_INPUTS[data]
    stream = ind.MacdStream(fast, slow, signal)
    got = np.array([stream.update(v) for v in x]).T
    for g, b in zip(got, ind.macd(x, fast, slow, signal), strict=True):
        np.testing.assert_array_equal(g, b)


@pytest.mark.parametrize("data", STREAM_INPUTS)
@pytest.mark.parametrize(("period", "up", "dn"), [(1, 2.0, 2.0), (5, 2.0, 1.0), (20, 2.5, 2.5)])
def test_bbands_stream_equals_batch_at_every_index(data: str, period: int, up: float, dn: float) -> None:
    _, _, x = STREAM_INPUTS[data]
    stream = ind.BBandsStream(period, up, dn)
    got = np.array([stream.update(v) for v in x]).T
    for g, b in zip(got, ind.bbands(x, period, up, dn), strict=True):
        np.testing.assert_array_equal(g, b)


@pytest.mark.parametrize("data", STREAM_INPUTS)
@pytest.mark.parametrize("period", [1, 7, 14])
def test_atr_and_supertrend_streams_equal_batch_at_every_index(data: str, period: int) -> None:
    high, low, close = STREAM_INPUTS[data]
    np.testing.assert_array_equal(
        run_stream(ind.AtrStream(period).update, high, low, close), ind.atr(high, low, close, period)
    )
    stream = ind.SuperTrendStream(period, 2.0)
    got = np.array([stream.update(h, lo, c) for h, lo, c in zip(high, low, close)]).T
    for g, b in zip(got, ind.supertrend(high, low, close, period, 2.0), strict=True):
        np.testing.assert_array_equal(g, b)


def test_vwap_stream_equals_batch_at_every_index() -> None:
    high, low, close = STREAM_INPUTS["plain"]
    volume = np.random.default_rng(5).integers(0, 50, close.size).astype(np.float64)
    session = np.repeat(np.arange(6, dtype=np.int64), 100)
    stream = ind.VwapStream()
    got = run_stream(stream.update, high, low, close, volume, session)
    np.testing.assert_array_equal(got, ind.vwap(high, low, close, volume, session))


def test_streams_accept_integer_paise() -> None:
    prices = [2_000_000 + 5 * (i % 7) for i in range(40)]
    stream = ind.EmaStream(5)
    got = [stream.update(p) for p in prices]
    np.testing.assert_array_equal(got, ind.ema(np.array(prices, dtype=np.float64), 5))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=64), min_size=0, max_size=60),
    period=st.integers(1, 12),
    lead=st.integers(0, 3),
)
def test_streams_equal_batch_on_arbitrary_series(values: list[float], period: int, lead: int) -> None:
    x = np.array([math.nan] * lead + values, dtype=np.float64)
    for stream, batch in (
        (ind.SmaStream(period), ind.sma(x, period)),
        (ind.EmaStream(period), ind.ema(x, period)),
        (ind.RsiStream(period), ind.rsi(x, period)),
    ):
        np.testing.assert_array_equal(run_stream(stream.update, x), batch)
    bb = ind.BBandsStream(period, 2.0, 1.0)
    got = np.array([bb.update(v) for v in x]).reshape(-1, 3).T
    for g, b in zip(got, ind.bbands(x, period, 2.0, 1.0), strict=True):
        np.testing.assert_array_equal(g, b)
    macd = ind.MacdStream(max(1, period // 2), period, 3)
    got = np.array([macd.update(v) for v in x]).reshape(-1, 3).T
    for g, b in zip(got, ind.macd(x, max(1, period // 2), period, 3), strict=True):
        np.testing.assert_array_equal(g, b)


# --------------------------------------------------------------------------------------------
# SuperTrend and VWAP against plain Python
# --------------------------------------------------------------------------------------------


def supertrend_reference(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int, mult: float
) -> tuple[list[float], list[float]]:
    """The documented definition, written out with Python floats."""
    n = len(close)
    value = [math.nan] * n
    direction = [math.nan] * n
    if n <= period:
        return value, direction
    tr = [math.nan] + [
        max(high[i] - low[i], abs(close[i - 1] - high[i]), abs(close[i - 1] - low[i])) for i in range(1, n)
    ]
    atr = sum(tr[1 : period + 1]) / period
    upper = lower = 0.0
    d = -1
    for i in range(period, n):
        if i > period:
            atr = (atr * (period - 1) + tr[i]) / period
        mid = (high[i] + low[i]) / 2
        basic_upper = mid + mult * atr
        basic_lower = mid - mult * atr
        if i == period:
            upper, lower, d = basic_upper, basic_lower, -1
        else:
            if basic_upper < upper or close[i - 1] > upper:
                upper = basic_upper
            if basic_lower > lower or close[i - 1] < lower:
                lower = basic_lower
            if d == -1:
                d = 1 if close[i] > upper else -1
            else:
                d = -1 if close[i] < lower else 1
        value[i] = lower if d == 1 else upper
        direction[i] = d
    return value, direction


@pytest.mark.parametrize(("period", "mult"), [(10, 3.0), (7, 1.5), (1, 0.5)])
def test_supertrend_matches_plain_python_definition(period: int, mult: float) -> None:
    high, low, close = ohlc(31, 2_000.0)
    value, direction = ind.supertrend(high, low, close, period, mult)
    ref_value, ref_direction = supertrend_reference(high.tolist(), low.tolist(), close.tolist(), period, mult)
    np.testing.assert_array_equal(direction, ref_direction)
    assert_matches(value, np.array(ref_value))
    assert {1.0, -1.0} <= set(direction[period:].tolist()), "both trends must occur in the data"


def vwap_reference(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    volume: Sequence[float],
    session: Sequence[int],
) -> list[float]:
    out = []
    pv = vol = 0.0
    for i in range(len(close)):
        if i == 0 or session[i] != session[i - 1]:
            pv = vol = 0.0
        pv += (high[i] + low[i] + close[i]) / 3 * volume[i]
        vol += volume[i]
        out.append(pv / vol if vol > 0 else math.nan)
    return out


def test_vwap_matches_plain_python_and_resets_each_session() -> None:
    high, low, close = ohlc(41, 1_500.0, 900)
    volume = np.random.default_rng(41).integers(1, 500, 900).astype(np.float64)
    volume[300:303] = 0.0  # a new session that opens without volume: NaN until it trades
    session = np.repeat(np.array([19_000, 19_001, 19_004], dtype=np.int64), 300)
    ours = ind.vwap(high, low, close, volume, session)
    assert_matches(ours, np.array(vwap_reference(high, low, close, volume, session)))
    assert np.isnan(ours[300:303]).all()
    typical = (high[303] + low[303] + close[303]) / 3
    assert ours[303] == pytest.approx(typical, rel=1e-12)  # the reset forgot session 19000


def test_vwap_skips_bars_with_bad_fields() -> None:
    high = np.array([11.0, np.nan, 13.0, 12.0])
    low = np.array([9.0, 9.0, 11.0, 10.0])
    close = np.array([10.0, 10.0, 12.0, 11.0])
    volume = np.array([100.0, 50.0, -5.0, 300.0])
    out = ind.vwap(high, low, close, volume, np.zeros(4, dtype=np.int64))
    assert out.tolist() == [10.0, 10.0, 10.0, (10.0 * 100 + 11.0 * 300) / 400]


def test_session_ids_from_boundaries() -> None:
    starts = [100, 200, 300]
    ids = ind.session_ids_from_boundaries([50, 100, 199, 200, 350], starts)
    assert ids.tolist() == [-1, 0, 0, 1, 2]
    with pytest.raises(ValueError, match="strictly ascending"):
        ind.session_ids_from_boundaries([1], [5, 5])


# --------------------------------------------------------------------------------------------
# Start-up
# --------------------------------------------------------------------------------------------


def test_warmup_compiles_every_kernel_so_first_tick_compiles_nothing() -> None:
    # A fresh interpreter: nothing compiled before warmup(), every kernel after it, and the public
    # API called the way an actor does (int paise, lists) adds no new compilation.
    script = """
from actors.strategy import indicators as ind
assert not any(k.signatures for k in ind.KERNELS)
ind.warmup()
missing = [k.py_func.__name__ for k in ind.KERNELS if not k.signatures]
assert not missing, missing
before = {k.py_func.__name__: len(k.signatures) for k in ind.KERNELS}
prices = [2_000_000 + 5 * i for i in range(40)]
ind.sma(prices, 3); ind.ema(prices, 3); ind.rsi(prices, 3); ind.macd(prices, 2, 5, 3)
ind.atr(prices, prices, prices, 3); ind.supertrend(prices, prices, prices, 3, 2)
ind.vwap(prices, prices, prices, prices, [0] * 40); ind.bbands(prices, 3, 2, 2)
for cls in (ind.SmaStream, ind.EmaStream, ind.RsiStream, ind.BBandsStream):
    cls(3).update(prices[0])
ind.MacdStream(2, 5, 3).update(prices[0])
ind.AtrStream(3).update(prices[0], prices[0], prices[0])
ind.SuperTrendStream(3, 2).update(prices[0], prices[0], prices[0])
ind.VwapStream().update(prices[0], prices[0], prices[0], 10, 20000)
after = {k.py_func.__name__: len(k.signatures) for k in ind.KERNELS}
assert after == before, (before, after)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
