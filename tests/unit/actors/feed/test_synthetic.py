"""Synthetic market: real Dhan packets, deterministic by seed, coherent prices."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from actors.feed import wire
from actors.feed.decode import FrameDecoder
from actors.feed.synthetic import (
    SyntheticInstrument,
    SyntheticMarket,
    SyntheticMarketConfig,
    black_scholes_paise,
)
from ipc.messages import Depth, OpenInterest, PrevClose, Quote, Tick

T0_NS = 1_760_000_000_000_000_000
DAY_NS = 86_400 * 1_000_000_000
EXPIRY_NS = T0_NS + 7 * DAY_NS
NIFTY = SyntheticInstrument(0, 13, "index", 5, 1, 2_500_000)
RELIANCE = SyntheticInstrument(1, 1333, "stock", 10, 1, 150_000)
FUT = SyntheticInstrument(
    2, 50001, "future", 10, 75, 2_510_000, underlying_security_id=13, expiry_ns=EXPIRY_NS
)
CE = SyntheticInstrument(
    2, 60001, "option", 5, 75, 5, underlying_security_id=13, strike_paise=2_500_000,
    option_type="CE", expiry_ns=EXPIRY_NS,
)  # fmt: skip
PE = SyntheticInstrument(
    2, 60002, "option", 5, 75, 5, underlying_security_id=13, strike_paise=2_500_000,
    option_type="PE", expiry_ns=EXPIRY_NS,
)  # fmt: skip
FAR_OTM_PE = SyntheticInstrument(
    2, 60003, "option", 5, 75, 5, underlying_security_id=13, strike_paise=1_000_000,
    option_type="PE", expiry_ns=EXPIRY_NS,
)  # fmt: skip
ALL = [NIFTY, RELIANCE, FUT, CE, PE, FAR_OTM_PE]


def run(market: SyntheticMarket, calls: int, n: int, step_ns: int) -> list[bytes]:
    return [f for k in range(calls) for f in market.next_frames(n, T0_NS + k * step_ns)]


def test_same_seed_gives_identical_bytes_and_another_seed_does_not() -> None:
    a = run(SyntheticMarket(ALL, SyntheticMarketConfig(seed=7)), 5, 400, 1_000_000_000)
    b = run(SyntheticMarket(ALL, SyntheticMarketConfig(seed=7)), 5, 400, 1_000_000_000)
    c = run(SyntheticMarket(ALL, SyntheticMarketConfig(seed=8)), 5, 400, 1_000_000_000)
    assert a == b
    assert a != c


def test_first_call_opens_with_one_prev_close_per_instrument() -> None:
    market = SyntheticMarket(ALL, SyntheticMarketConfig(seed=1))
    frames = market.next_frames(10, T0_NS)
    assert len(frames) == len(ALL) + 10
    msgs = FrameDecoder(market.tick_sizes()).decode_frames(frames[: len(ALL)], [0] * len(ALL))
    assert all(isinstance(m, PrevClose) for m in msgs)
    assert [(m.segment, m.security_id) for m in msgs] == [(i.segment, i.security_id) for i in ALL]
    assert msgs[0].prev_close_paise == NIFTY.start_price_paise
    assert len(market.next_frames(10, T0_NS + 1)) == 10


def test_every_packet_is_one_frame_and_decodes_without_problems() -> None:
    market = SyntheticMarket(ALL, SyntheticMarketConfig(seed=3))
    frames = run(market, 4, 2_000, 60 * 1_000_000_000)
    for frame in frames:
        assert struct.unpack_from("<H", frame, 1)[0] == len(frame)
    dec = FrameDecoder(market.tick_sizes())
    msgs = dec.decode_frames(frames, np.zeros(len(frames), dtype=np.int64))
    assert dec.stats.problem_total == 0
    assert dec.stats.packets == len(frames)
    codes = {f[0] for f in frames}
    assert codes == {2, 4, 5, 6, 8}  # ticker, quote, OI, prev close, full
    assert {type(m) for m in msgs} == {Tick, Quote, Depth, OpenInterest, PrevClose}


def test_decoded_market_is_coherent() -> None:
    market = SyntheticMarket(ALL, SyntheticMarketConfig(seed=4))
    frames = run(market, 4, 2_000, 60 * 1_000_000_000)
    ticks = market.tick_sizes()
    msgs = FrameDecoder(ticks).decode_frames(frames, np.zeros(len(frames), dtype=np.int64))
    last_volume: dict[int, int] = {}
    for m in msgs:
        if isinstance(m, Quote):
            tick = ticks[(m.segment, m.security_id)]
            assert m.ltp_paise >= tick and m.ltp_paise % tick == 0
            assert m.low_paise <= m.ltp_paise <= m.high_paise
            assert m.volume_units >= last_volume.get(m.security_id, 0)
            last_volume[m.security_id] = m.volume_units
            lot = 1 if m.segment == 1 else 75
            assert m.ltq_units % lot == 0 and m.ltq_units > 0
            if m.segment == 2:
                assert m.oi_day_low_units <= m.oi_units <= m.oi_day_high_units
        elif isinstance(m, Depth):
            live_bids = [p for p in m.bid_price_paise if p]
            assert live_bids == sorted(live_bids, reverse=True)
            assert m.ask_price_paise == sorted(m.ask_price_paise)
            assert max(live_bids, default=0) < m.ask_price_paise[0]
            for price, qty in zip(m.bid_price_paise, m.bid_qty_units):
                assert (price == 0) == (qty == 0)


def test_far_out_of_the_money_option_is_floored_at_one_tick() -> None:
    market = SyntheticMarket(ALL, SyntheticMarketConfig(seed=5))
    frames = run(market, 2, 3_000, 1_000_000_000)
    msgs = FrameDecoder(market.tick_sizes()).decode_frames(frames, [0] * len(frames))
    prices = {m.ltp_paise for m in msgs if isinstance(m, (Quote, Tick)) and m.security_id == 60003}
    assert prices == {FAR_OTM_PE.tick_paise}


def test_option_prices_move_with_the_index() -> None:
    # blocks of one call each, so every call steps the market at its own 3 s packet spacing
    cfg = SyntheticMarketConfig(seed=11, index_vol=0.4, index_share=0.5, block_steps=100)
    market = SyntheticMarket([NIFTY, CE, PE], cfg)
    frames = run(market, 40, 100, 5 * 60 * 1_000_000_000)  # 100 packets per 5 minutes
    msgs = FrameDecoder(market.tick_sizes()).decode_frames(frames, [0] * len(frames))
    # Pair each option price with the index tick sent just before it (one step earlier).
    pairs: dict[int, list[tuple[int, int]]] = {60001: [], 60002: []}
    for prev, m in zip(msgs, msgs[1:]):
        if isinstance(prev, Tick) and prev.security_id == 13 and m.security_id in pairs:
            if isinstance(m, (Quote, Tick)):
                pairs[m.security_id].append((prev.ltp_paise, m.ltp_paise))
    for sid, sign in ((60001, 1), (60002, -1)):
        arr = np.array(pairs[sid], dtype=np.float64)
        # moves over ~10 pairs, so the one-step lag of each pair is small beside them
        d_index, d_option = np.diff(arr[::10, 0]), np.diff(arr[::10, 1])
        moved = d_index != 0
        assert moved.sum() > 30
        assert sign * np.corrcoef(d_index[moved], d_option[moved])[0, 1] > 0.9


def test_black_scholes_call_rises_and_put_falls_with_spot() -> None:
    spot = np.linspace(2_400_000, 2_600_000, 101)  # +/- 2 weekly standard deviations
    strike = np.full_like(spot, 2_500_000)
    years = np.full_like(spot, 7 / 365.25)
    call = black_scholes_paise(spot, strike, years, 0.15, 0.065, np.ones_like(spot, dtype=bool))
    put = black_scholes_paise(spot, strike, years, 0.15, 0.065, np.zeros_like(spot, dtype=bool))
    assert (np.diff(call) > 0).all()
    assert (np.diff(put) < 0).all()
    parity = call - put - (spot - strike * np.exp(-0.065 * years))
    assert np.abs(parity).max() < 1.0  # paise; the CDF approximation is good to ~1e-7
    expired = black_scholes_paise(
        np.array([2_600_000.0, 2_400_000.0]), np.array([2_500_000.0] * 2), np.array([0.0, -1.0]),
        0.15, 0.065, np.array([True, False]),
    )  # fmt: skip
    assert expired.tolist() == [100_000.0, 100_000.0]


def test_future_trades_above_index_by_carry() -> None:
    market = SyntheticMarket([NIFTY, FUT], SyntheticMarketConfig(seed=2))
    frames = market.next_frames(5, T0_NS)
    (prev_idx, prev_fut) = FrameDecoder(market.tick_sizes()).decode_frames(frames[:2], [0, 0])
    expected = 2_500_000 * np.exp(0.065 * 7 / 365.25)
    assert abs(prev_fut.prev_close_paise - expected) <= FUT.tick_paise  # type: ignore[union-attr]
    assert prev_idx.prev_close_paise == 2_500_000  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("instruments", "message"),
    [
        ([NIFTY, NIFTY], "listed twice"),
        ([SyntheticInstrument(0, 1, "index", 0, 1, 100)], "tick 0 and lot 1 must be >= 1"),
        ([SyntheticInstrument(0, 1, "index", 5, 1, 3)], "start price 3 paise is below one tick"),
        ([SyntheticInstrument(6, 1, "stock", 5, 1, 100)], "segment 6 is not a Dhan segment"),
        ([CE], "underlying 13 is not an index or stock"),
        (
            [NIFTY, SyntheticInstrument(2, 9, "option", 5, 75, 5, underlying_security_id=13)],
            "option needs a positive strike and CE/PE",
        ),
    ],
)
def test_inconsistent_instruments_are_refused(
    instruments: list[SyntheticInstrument], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticMarket(instruments)


def test_encoders_round_trip_through_the_decoder_for_random_markets() -> None:
    # Several seeds and a stock-only market (no index) still give clean packets.
    for seed in range(3):
        market = SyntheticMarket([RELIANCE], SyntheticMarketConfig(seed=seed))
        frames = market.next_frames(500, T0_NS)
        dec = FrameDecoder(market.tick_sizes())
        dec.decode_frames(frames, [0] * len(frames))
        assert dec.stats.problem_total == 0
        assert {f[0] for f in frames} <= {int(c) for c in wire.FeedCode}


def test_small_calls_serve_the_same_packets_as_one_call_over_the_same_time() -> None:
    interval = SyntheticMarketConfig().packet_interval_ns
    small = SyntheticMarket(ALL, SyntheticMarketConfig(seed=9))
    by_tens = [
        f for k in range(100) for f in small.next_frames(10, T0_NS + k * 10 * interval)
    ]
    big = SyntheticMarket(ALL, SyntheticMarketConfig(seed=9))
    at_once = big.next_frames(1000, T0_NS + 99 * 10 * interval)
    assert by_tens == at_once


def test_call_larger_than_a_block_is_served_whole() -> None:
    market = SyntheticMarket(ALL, SyntheticMarketConfig(seed=1, block_steps=64))
    market.next_frames(0, T0_NS)
    frames = market.next_frames(1000, T0_NS + 1_000_000_000)
    assert len(frames) == 1000
    assert len(market.next_frames(100, T0_NS + 2_000_000_000)) == 100


def test_ltt_of_served_packets_spans_the_call() -> None:
    market = SyntheticMarket([RELIANCE], SyntheticMarketConfig(seed=1))
    market.next_frames(0, T0_NS)
    frames = market.next_frames(100, T0_NS + 10_000_000_000)  # 10 s after the opening
    msgs = FrameDecoder().decode_frames(frames, [0] * len(frames))
    seconds = sorted({m.ts_event_ns // 1_000_000_000 for m in msgs if isinstance(m, Quote)})
    assert seconds[0] == T0_NS // 1_000_000_000
    assert seconds[-1] == T0_NS // 1_000_000_000 + 10


def test_a_path_made_in_chunks_gives_the_same_packets_as_one_array(monkeypatch: pytest.MonkeyPatch) -> None:
    # Many stocks and the index driven, options reading the index: the GBM path of a block made
    # one row at a time must give the bytes of the path made whole.
    stocks = [SyntheticInstrument(1, 2000 + i, "stock", 5, 1, 100_000 + 500 * i) for i in range(40)]
    market_of = lambda: SyntheticMarket([NIFTY, FUT, CE, PE, *stocks], SyntheticMarketConfig(seed=5, block_steps=300))  # noqa: E731

    def frames() -> list[bytes]:
        market = market_of()
        return [f for k in range(1, 8) for f in market.next_frames(97 * k, T0_NS + k * 1_000_000_000)]

    monkeypatch.setattr("actors.feed.synthetic._PATH_CHUNK_VALUES", 10**9)
    whole = frames()
    monkeypatch.setattr("actors.feed.synthetic._PATH_CHUNK_VALUES", 1)  # one step per chunk
    assert frames() == whole
    monkeypatch.setattr("actors.feed.synthetic._PATH_CHUNK_VALUES", 41 * 7)  # 7 steps per chunk
    assert frames() == whole
