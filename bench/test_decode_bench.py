"""Decode throughput: our Dhan decoder against dhanhq 2.3.0 on the same packets, same run.

Run: .venv/bin/python -m pytest bench/test_decode_bench.py --benchmark-enable -q -s

The packets are a realistic 5-level mix from the synthetic market (one packet per frame, as Dhan
sends them): about half full, a third quote, the rest ticker, OI and prev close, for one index, a
stock and a 21-strike option chain. Every variant decodes the same list; what each produces:

* dhanhq        ``MarketFeed.process_data(pkt)`` per packet -> dict with price strings
* frame         ``FrameDecoder.decode_frame(pkt)`` per packet (the live path) -> Structs
* structs       ``FrameDecoder.decode_frames(frames)`` (replay/backtest) -> Structs
* columnar      ``FrameDecoder.decode_frames_columnar(frames)`` -> numpy columns in paise
* buffer        ``FrameDecoder.decode_buffer_columnar(joined, lengths)`` (capture file layout)

The summary (printed at the end with -s) gives packets/s from each variant's median round and
the ratio to dhanhq. Per packet type, per stacking (2, 5, 10 packets a frame) and the crossover
between the live path and the columnar one: ``python -m bench decode`` (bench/decode_speed.py).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from dhanhq.marketfeed import MarketFeed

from actors.feed.decode import FrameDecoder
from actors.feed.synthetic import SyntheticInstrument, SyntheticMarket, SyntheticMarketConfig

N_PACKETS = 20_000
T0_NS = 1_760_000_000_000_000_000
EXPIRY_NS = T0_NS + 7 * 86_400 * 1_000_000_000
RESULTS: dict[str, float] = {}


def instruments() -> list[SyntheticInstrument]:
    out = [
        SyntheticInstrument(0, 13, "index", 5, 1, 2_500_000),
        SyntheticInstrument(1, 1333, "stock", 10, 1, 150_000),
    ]
    for strike in range(24_000, 26_001, 100):
        for k, opt in enumerate(("CE", "PE")):
            out.append(
                SyntheticInstrument(
                    2, 40_000 + strike // 10 + k, "option", 5, 75, 5,
                    underlying_security_id=13, strike_paise=strike * 100, option_type=opt,
                    expiry_ns=EXPIRY_NS,
                )
            )  # fmt: skip
    return out


def market() -> SyntheticMarket:
    cfg = SyntheticMarketConfig(
        seed=1, index_share=0.05, quote_share=0.35, ticker_share=0.05, oi_share=0.05
    )
    return SyntheticMarket(instruments(), cfg)


@pytest.fixture(scope="module")
def mixed() -> tuple[list[bytes], np.ndarray, dict[tuple[int, int], int]]:
    """N_PACKETS frames: the synthetic mix with 5% replaced by prev-close packets."""
    mkt = market()
    frames = mkt.next_frames(N_PACKETS, T0_NS)[len(mkt.instruments) :]
    opening = mkt.opening_frames()
    rng = np.random.default_rng(0)
    for k, i in enumerate(rng.choice(N_PACKETS, N_PACKETS // 20, replace=False).tolist()):
        frames[i] = opening[k % len(opening)]
    ts = T0_NS + np.arange(N_PACKETS, dtype=np.int64)
    return frames, ts, mkt.tick_sizes()


@pytest.fixture(scope="module", autouse=True)
def summary(mixed: tuple[list[bytes], np.ndarray, dict]) -> Iterator[None]:
    yield
    if "dhanhq" not in RESULTS:
        return
    mix = collections.Counter(f[0] for f in mixed[0])
    names = {8: "full", 4: "quote", 2: "ticker", 5: "oi", 6: "prev close"}
    print(f"\n\ndecode {N_PACKETS} packets: " + ", ".join(f"{names[c]} {n}" for c, n in mix.items()))
    base = RESULTS["dhanhq"]
    for name, pps in RESULTS.items():
        if name.startswith("synthetic"):
            print(f"  {name:<28} {pps:>14,.0f} packets/s")
        else:
            print(f"  {name:<28} {pps:>14,.0f} packets/s  {pps / base:6.1f}x dhanhq")


def record(name: str, benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        RESULTS[name] = n / stats.stats.median


def run(benchmark, fn: Callable[[], object]) -> None:  # type: ignore[no-untyped-def]
    benchmark.pedantic(fn, rounds=7, iterations=1, warmup_rounds=1)


def test_dhanhq_process_data_per_packet(benchmark, mixed) -> None:  # type: ignore[no-untyped-def]
    frames, _ts, _ticks = mixed
    mf = MarketFeed.__new__(MarketFeed)
    process = mf.process_data

    def decode_all() -> None:
        for pkt in frames:
            process(pkt)

    run(benchmark, decode_all)
    record("dhanhq", benchmark, len(frames))


def test_decode_frame_per_packet(benchmark, mixed) -> None:  # type: ignore[no-untyped-def]
    frames, ts, ticks = mixed
    dec = FrameDecoder(ticks)
    decode = dec.decode_frame
    ts_list = ts.tolist()

    def decode_all() -> None:
        for pkt, t in zip(frames, ts_list):
            decode(pkt, t)

    run(benchmark, decode_all)
    assert dec.stats.problem_total == 0
    record("frame (live, Structs)", benchmark, len(frames))


def test_decode_frames_structs(benchmark, mixed) -> None:  # type: ignore[no-untyped-def]
    frames, ts, ticks = mixed
    dec = FrameDecoder(ticks)

    def decode_all() -> None:
        dec.decode_frames(frames, ts)  # the list is dropped inside the timed call, as dhanhq's

    run(benchmark, decode_all)
    assert dec.stats.problem_total == 0
    record("batch (Structs)", benchmark, len(frames))


def test_decode_frames_columnar(benchmark, mixed) -> None:  # type: ignore[no-untyped-def]
    frames, ts, ticks = mixed
    dec = FrameDecoder(ticks)
    run(benchmark, lambda: dec.decode_frames_columnar(frames, ts))
    assert dec.stats.problem_total == 0
    record("batch (columns)", benchmark, len(frames))


def test_decode_buffer_columnar(benchmark, mixed) -> None:  # type: ignore[no-untyped-def]
    frames, ts, ticks = mixed
    dec = FrameDecoder(ticks)
    joined = b"".join(frames)
    lengths = np.fromiter(map(len, frames), dtype=np.int64, count=len(frames))
    run(benchmark, lambda: dec.decode_buffer_columnar(joined, lengths, ts))
    assert dec.stats.problem_total == 0
    record("capture buffer (columns)", benchmark, len(frames))


def test_synthetic_market_packets_per_second(benchmark) -> None:  # type: ignore[no-untyped-def]
    mkt = market()
    mkt.next_frames(0, T0_NS)  # the opening prev-close frames are not part of the rate
    clock = iter(range(T0_NS + 1_000_000_000, T0_NS + 10**15, 1_000_000_000))
    run(benchmark, lambda: mkt.next_frames(10_000, next(clock)))
    record("synthetic market", benchmark, 10_000)
