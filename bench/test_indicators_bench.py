"""Indicator speed: our numba batch kernels vs TA-Lib vs plain numpy, same process, same data;
streaming update cost per bar; bar-builder cost per tick.

Run: ``.venv/bin/python -m pytest bench/test_indicators_bench.py --benchmark-enable -q -s``

Batch cases run over 1,000,000 float64 values (a seeded random walk at paise scale). Each
implementation is called once to warm up, then timed as the best of ``REPEATS`` calls (the
machine is shared, so the minimum is the stable figure). The goal is ours <= 1.5x TA-Lib's time.
A numpy version is timed where one is natural (SMA by cumsum, Bollinger by a sliding window,
VWAP by cumsums). pytest-benchmark's own statistics are for our kernel; every figure is also
attached to its JSON (``extra_info``). Nothing here asserts a speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pytest

from actors.strategy import bars, indicators as ind

talib = pytest.importorskip("talib")

N = 1_000_000
REPEATS = 15
STREAM_UPDATES = 100_000
TICKS = 200_000

rng = np.random.default_rng(20240601)
CLOSE = 2_000_000.0 + np.cumsum(rng.normal(0.0, 400.0, N))
HIGH = CLOSE + rng.random(N) * 600.0
LOW = CLOSE - rng.random(N) * 600.0
VOLUME = rng.integers(1, 5_000, N).astype(np.float64)
SESSION = np.arange(N, dtype=np.int64) // 375  # one NSE day of 1-minute bars per session


def best_ms(fn: Callable[[], object]) -> float:
    fn()
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def numpy_sma(x: np.ndarray, period: int) -> np.ndarray:
    out = np.full(x.size, np.nan)
    c = np.cumsum(x)
    out[period - 1 :] = (c[period - 1 :] - np.concatenate(([0.0], c[:-period]))) / period
    return out


def numpy_bbands(x: np.ndarray, period: int, nbdev: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    window = np.lib.stride_tricks.sliding_window_view(x, period)
    mid = np.full(x.size, np.nan)
    sd = np.full(x.size, np.nan)
    mid[period - 1 :] = window.mean(axis=1)
    sd[period - 1 :] = window.std(axis=1)
    return mid + nbdev * sd, mid, mid - nbdev * sd


def numpy_vwap(h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray, sid: np.ndarray) -> np.ndarray:
    pv = np.cumsum((h + lo + c) / 3.0 * v)
    vv = np.cumsum(v)
    starts = np.flatnonzero(np.concatenate(([True], sid[1:] != sid[:-1])))
    first = np.repeat(starts, np.diff(np.concatenate((starts, [sid.size]))))
    base_pv = np.where(first > 0, pv[first - 1], 0.0)
    base_v = np.where(first > 0, vv[first - 1], 0.0)
    return (pv - base_pv) / (vv - base_v)


@dataclass(frozen=True)
class Case:
    ours: Callable[[], object]
    talib: Callable[[], object] | None = None
    numpy: Callable[[], object] | None = None


CASES: dict[str, Case] = {
    "SMA(20)": Case(
        lambda: ind.sma(CLOSE, 20), lambda: talib.SMA(CLOSE, 20), lambda: numpy_sma(CLOSE, 20)
    ),
    "EMA(20)": Case(lambda: ind.ema(CLOSE, 20), lambda: talib.EMA(CLOSE, 20)),
    "RSI(14)": Case(lambda: ind.rsi(CLOSE, 14), lambda: talib.RSI(CLOSE, 14)),
    "MACD(12,26,9)": Case(lambda: ind.macd(CLOSE, 12, 26, 9), lambda: talib.MACD(CLOSE, 12, 26, 9)),
    "ATR(14)": Case(lambda: ind.atr(HIGH, LOW, CLOSE, 14), lambda: talib.ATR(HIGH, LOW, CLOSE, 14)),
    "BBANDS(20,2)": Case(
        lambda: ind.bbands(CLOSE, 20, 2.0, 2.0),
        lambda: talib.BBANDS(CLOSE, 20, 2.0, 2.0, 0),
        lambda: numpy_bbands(CLOSE, 20, 2.0),
    ),
    "SuperTrend(10,3)": Case(lambda: ind.supertrend(HIGH, LOW, CLOSE, 10, 3.0)),
    "VWAP(session)": Case(
        lambda: ind.vwap(HIGH, LOW, CLOSE, VOLUME, SESSION),
        numpy=lambda: numpy_vwap(HIGH, LOW, CLOSE, VOLUME, SESSION),
    ),
}

BATCH: dict[str, dict[str, float]] = {}
STREAM: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    ind.warmup()
    bars.warmup()


@pytest.mark.parametrize("name", CASES)
def test_batch_kernel_vs_talib_and_numpy(name: str, benchmark) -> None:  # type: ignore[no-untyped-def]
    case = CASES[name]
    row = {"ours_ms": best_ms(case.ours)}
    if case.talib is not None:
        row["talib_ms"] = best_ms(case.talib)
        row["ratio_vs_talib"] = row["ours_ms"] / row["talib_ms"]
    if case.numpy is not None:
        row["numpy_ms"] = best_ms(case.numpy)
        row["ratio_vs_numpy"] = row["ours_ms"] / row["numpy_ms"]
    BATCH[name] = row
    benchmark.extra_info.update(row)
    benchmark.group = "indicators batch 1M"
    benchmark.pedantic(case.ours, rounds=REPEATS, iterations=1, warmup_rounds=1)


def _per_call_ns(fn: Callable[[int], object], calls: int) -> float:
    fn(0)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter_ns()
        for i in range(calls):
            fn(i)
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


# Streams are fed Python ints, as an actor feeds them from Bar messages (integer paise).
BAR_CLOSE = np.round(CLOSE[:STREAM_UPDATES]).astype(np.int64).tolist()
BAR_HIGH = np.round(HIGH[:STREAM_UPDATES]).astype(np.int64).tolist()
BAR_LOW = np.round(LOW[:STREAM_UPDATES]).astype(np.int64).tolist()
BAR_VOLUME = VOLUME[:STREAM_UPDATES].astype(np.int64).tolist()
BAR_SESSION = SESSION[:STREAM_UPDATES].tolist()


def close_feeder(stream: ind.SmaStream | ind.EmaStream | ind.RsiStream | ind.MacdStream | ind.BBandsStream
                 ) -> Callable[[int], object]:
    update = stream.update
    return lambda i: update(BAR_CLOSE[i])


def bar_feeder(stream: ind.AtrStream | ind.SuperTrendStream) -> Callable[[int], object]:
    update = stream.update
    return lambda i: update(BAR_HIGH[i], BAR_LOW[i], BAR_CLOSE[i])


def vwap_feeder(stream: ind.VwapStream) -> Callable[[int], object]:
    update = stream.update
    return lambda i: update(BAR_HIGH[i], BAR_LOW[i], BAR_CLOSE[i], BAR_VOLUME[i], BAR_SESSION[i])


STREAMS: dict[str, Callable[[], Callable[[int], object]]] = {
    "SmaStream(20)": lambda: close_feeder(ind.SmaStream(20)),
    "EmaStream(20)": lambda: close_feeder(ind.EmaStream(20)),
    "RsiStream(14)": lambda: close_feeder(ind.RsiStream(14)),
    "MacdStream(12,26,9)": lambda: close_feeder(ind.MacdStream()),
    "AtrStream(14)": lambda: bar_feeder(ind.AtrStream(14)),
    "SuperTrendStream(10,3)": lambda: bar_feeder(ind.SuperTrendStream()),
    "VwapStream": lambda: vwap_feeder(ind.VwapStream()),
    "BBandsStream(20,2)": lambda: close_feeder(ind.BBandsStream(20)),
}


@pytest.mark.parametrize("name", STREAMS)
def test_streaming_update_cost_per_bar(name: str, benchmark) -> None:  # type: ignore[no-untyped-def]
    # The loop overhead (a Python call + array indexing) is included: it is what an actor pays.
    STREAM[name] = _per_call_ns(STREAMS[name](), STREAM_UPDATES)
    benchmark.extra_info["ns_per_update"] = STREAM[name]
    benchmark.group = "indicators streaming"
    update = STREAMS[name]()
    counter = iter(range(10**9))
    benchmark.pedantic(lambda: update(next(counter) % STREAM_UPDATES), rounds=20_000, iterations=1,
                       warmup_rounds=100)


def test_bar_builder_cost_per_tick(benchmark) -> None:  # type: ignore[no-untyped-def]
    open_ns, close_ns = bars.session_bounds_ns(date(2025, 3, 3))
    ts = np.sort(rng.integers(open_ns, close_ns, TICKS)).tolist()
    price = (2_000_000 + np.cumsum(rng.integers(-2, 3, TICKS)) * 5).tolist()
    builder = bars.BarBuilder(60, 2, 55796)
    on_tick = builder.on_tick

    def tick(i: int) -> object:
        return on_tick(ts[i], price[i], 75, ts[i])

    STREAM["BarBuilder.on_tick (1m)"] = _per_call_ns(tick, TICKS)
    ts_a = np.array(ts, dtype=np.int64)
    px_a = np.array(price, dtype=np.int64)
    qty_a = np.full(TICKS, 75, dtype=np.int64)
    bulk_ms = best_ms(lambda: bars.build_bars(ts_a, px_a, qty_a, 60))
    STREAM["build_bars (1m, per tick)"] = bulk_ms * 1e6 / TICKS
    benchmark.extra_info.update({k: v for k, v in STREAM.items() if "uild" in k})
    benchmark.group = "bars"
    live = bars.BarBuilder(60, 2, 55796)
    counter = iter(range(10**9))

    def one() -> object:
        i = next(counter) % TICKS
        return live.on_tick(ts[i], price[i], 75, ts[i])

    benchmark.pedantic(one, rounds=20_000, iterations=1, warmup_rounds=100)


def test_print_summary() -> None:
    print()
    print(f"batch over {N:,} values (best of {REPEATS}):")
    print(f"{'indicator':<18}{'ours ms':>9}{'TA-Lib ms':>11}{'ours/TA-Lib':>13}"
          f"{'numpy ms':>10}{'ours/numpy':>12}")
    for name, r in BATCH.items():
        talib_ms = f"{r['talib_ms']:.3f}" if "talib_ms" in r else "-"
        ratio = f"{r['ratio_vs_talib']:.2f}x" if "ratio_vs_talib" in r else "-"
        numpy_ms = f"{r['numpy_ms']:.3f}" if "numpy_ms" in r else "-"
        nratio = f"{r['ratio_vs_numpy']:.2f}x" if "ratio_vs_numpy" in r else "-"
        print(f"{name:<18}{r['ours_ms']:>9.3f}{talib_ms:>11}{ratio:>13}{numpy_ms:>10}{nratio:>12}")
    print("streaming (Python call included), ns per update:")
    for name, ns in STREAM.items():
        print(f"  {name:<28}{ns:>8.0f}")
