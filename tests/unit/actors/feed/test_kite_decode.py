"""The Kite ticker decoder: what each mode becomes, prices on ticks, and bad frames counted, never
raised (the oracle comparison is in test_kite_oracle.py)."""

from __future__ import annotations

import struct

import hypothesis.strategies as st
from hypothesis import given, settings

from actors.feed import kite_wire as kw
from actors.feed.decode_common import DecodeProblem
from actors.feed.kite_decode import KiteFrameDecoder
from engine.model.ist import NS_PER_S
from ipc.messages import Depth, Quote, Tick
from ipc.segments import Segment

TS = 1_760_000_000_000_000_000
RELIANCE = 738561  # 2885 << 8 | NSE
NIFTY = 256265  # 1001 << 8 | INDICES
USDINR = 1234 << 8 | kw.KiteSegment.CDS
TOKENS = {RELIANCE: (int(Segment.NSE_EQ), 2885), NIFTY: (int(Segment.IDX_I), 1001),
          USDINR: (int(Segment.NSE_CURRENCY), 1234)}
LEVELS = [(10 * (i + 1), 250_000 - 5 * i, i + 1) for i in range(5)]
ASKS = [(20 * (i + 1), 250_005 + 5 * i, i + 2) for i in range(5)]


def decoder(**ticks: int) -> KiteFrameDecoder:
    return KiteFrameDecoder(TOKENS, {TOKENS[RELIANCE]: ticks["reliance"]} if ticks else None)


def full(ltt_s: int = 1_767_000_000, exchange_ts_s: int = 1_767_000_001, ltp: int = 250_003) -> bytes:
    return kw.encode_full(RELIANCE, ltp=ltp, ltq=7, atp=249_990, volume=1_000, buy_qty=600, sell_qty=500,
                          open_=249_000, high=251_000, low=248_500, close=248_000, ltt_s=ltt_s, oi=0, oi_high=0,
                          oi_low=0, exchange_ts_s=exchange_ts_s, bids=LEVELS, asks=ASKS)


def test_each_mode_becomes_its_messages_in_paise_with_our_ids() -> None:
    dec = decoder()
    frame = kw.frame([kw.encode_ltp(RELIANCE, 250_005), kw.encode_index(NIFTY, 2_450_010, 2_460_000, 2_440_000,
                                                                        2_445_000, 2_430_000), full()])
    tick, index, quote, depth = dec.decode_frame(frame, TS)
    assert tick == Tick(1, 2885, 250_005, TS, TS)
    assert isinstance(index, Quote) and (index.segment, index.security_id) == (0, 1001)
    assert (index.ltp_paise, index.open_paise, index.high_paise, index.low_paise, index.close_paise) == \
        (2_450_010, 2_445_000, 2_460_000, 2_440_000, 2_430_000)
    assert isinstance(quote, Quote) and quote.ts_event_ns == 1_767_000_001 * NS_PER_S
    assert (quote.total_buy_qty_units, quote.total_sell_qty_units) == (600, 500)
    assert isinstance(depth, Depth) and depth.bid_price_paise[0] == 250_000 and depth.ask_orders[4] == 6
    assert dec.stats.packets == 3 and dec.stats.messages == 4 and dec.stats.problem_total == 0


def test_event_time_is_the_exchange_time_else_the_last_trade_else_receipt() -> None:
    dec = decoder()
    (q1, _), (q2, _) = dec.decode_frame(kw.frame([full(exchange_ts_s=0)]), TS), \
        dec.decode_frame(kw.frame([full(ltt_s=0, exchange_ts_s=0)]), TS)
    assert q1.ts_event_ns == 1_767_000_000 * NS_PER_S and q2.ts_event_ns == TS


def test_prices_round_to_the_instruments_tick_and_currency_divides_by_1e7() -> None:
    (tick,) = decoder(reliance=5).decode_frame(kw.frame([kw.encode_ltp(RELIANCE, 250_003)]), TS)
    assert tick.ltp_paise == 250_005  # 2500.03 on a 5-paise tick (ties to even: 50000.6 -> 50001)
    (fx,) = decoder().decode_frame(kw.frame([kw.encode_ltp(USDINR, 832_525_000)]), TS)
    assert fx.ltp_paise == 8325  # 83.2525 rupees -> 8325 paise (one paisa is the finest we carry)


def test_an_unknown_token_is_counted_and_the_frame_goes_on() -> None:
    dec = decoder()
    msgs = dec.decode_frame(kw.frame([kw.encode_ltp(999 << 8 | 1, 5), kw.encode_ltp(RELIANCE, 7)]), TS)
    assert msgs == [Tick(1, 2885, 7, TS, TS)]
    assert dec.stats.problems == {DecodeProblem.UNKNOWN_INSTRUMENT: 1}


def test_a_length_of_no_mode_is_skipped_by_its_length() -> None:
    dec = decoder()
    msgs = dec.decode_frame(kw.frame([kw.encode_ltp(RELIANCE, 1) + b"\x00\x00", kw.encode_ltp(RELIANCE, 9)]), TS)
    assert [m.ltp_paise for m in msgs] == [9]  # type: ignore[attr-defined]
    assert dec.stats.problems == {DecodeProblem.LENGTH_MISMATCH: 1}


def test_truncated_frames_keep_the_whole_packets_before_the_cut() -> None:
    dec = decoder()
    good = kw.frame([kw.encode_ltp(RELIANCE, 1), full()])
    msgs = dec.decode_frame(good[:-10], TS)
    assert msgs == [Tick(1, 2885, 1, TS, TS)]
    assert dec.decode_frame(struct.pack(">HH", 2, 8) + kw.encode_ltp(RELIANCE, 2), TS) == [Tick(1, 2885, 2, TS, TS)]
    assert dec.stats.problems == {DecodeProblem.TRUNCATED: 2}


def test_bytes_past_the_announced_packets_and_empty_frames_are_counted() -> None:
    dec = decoder()
    assert dec.decode_frame(kw.frame([kw.encode_ltp(RELIANCE, 3)]) + b"\x01\x02", TS) == [Tick(1, 2885, 3, TS, TS)]
    assert dec.decode_frame(b"", TS) == []
    assert dec.stats.problems == {DecodeProblem.TRAILING_BYTES: 1, DecodeProblem.EMPTY_FRAME: 1}


def test_heartbeats_are_counted_apart_from_problems() -> None:
    dec = decoder()
    for _ in range(3):
        assert dec.decode_frame(b"\x00", TS) == []
    assert dec.heartbeats == 3 and dec.stats.problem_total == 0


def test_decode_frames_takes_a_receive_time_per_frame() -> None:
    dec = decoder()
    frames = [kw.frame([kw.encode_ltp(RELIANCE, i)]) for i in (1, 2)]
    assert [m.ts_init_ns for m in dec.decode_frames(frames, [5, 6])] == [5, 6]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_and_every_problem_is_counted(data: bytes) -> None:
    dec = decoder()
    msgs = dec.decode_frame(data, TS)
    assert dec.stats.messages == len(msgs)
    assert all((m.segment, m.security_id) in TOKENS.values() for m in msgs)  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([RELIANCE, NIFTY]), min_size=1, max_size=20), st.integers(1, 400),
       st.integers(0, 2**32 - 1))
def test_any_cut_of_a_good_frame_yields_a_prefix_of_its_messages(tokens: list[int], cut: int, ltp: int) -> None:
    frame = kw.frame([kw.encode_ltp(t, ltp) for t in tokens])
    whole = decoder().decode_frame(frame, TS)
    dec = decoder()
    part = dec.decode_frame(frame[:cut], TS)
    assert part == whole[:len(part)]
    assert (dec.stats.problem_total == 0) == (cut >= len(frame) or cut == 1)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 5, 10, 100]))
def test_a_price_lands_on_the_tick_nearest_the_wire_value(ltp: int, tick: int) -> None:
    (msg,) = decoder(reliance=tick).decode_frame(kw.frame([kw.encode_ltp(RELIANCE, ltp)]), TS)
    assert msg.ltp_paise % tick == 0 and abs(msg.ltp_paise - ltp) * 2 <= tick  # type: ignore[attr-defined]
