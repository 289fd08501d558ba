"""Dhan feed decoder: golden frames, tick rounding, timestamps, robustness, path equivalence."""

from __future__ import annotations

import logging
import struct
import time

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from actors.feed import wire
from actors.feed.decode import COLUMNAR_MIN_PACKETS, FrameDecoder, decode_frame
from actors.feed.decode_common import DecodeProblem
from ipc import codec
from ipc.messages import Depth, OpenInterest, PrevClose, Quote, Tick
from tests.golden import dhan_feed as golden

TS = golden.TS_INIT_NS
PATHS = ["frame", "batch"]


def decode(dec: FrameDecoder, frame: bytes, path: str, feed: str = "market", ts: int = TS) -> list:
    if path == "frame":
        return dec.decode_frame(frame, ts, feed)  # type: ignore[arg-type]
    return dec.decode_frames([frame], [ts], feed)  # type: ignore[arg-type]


def problems(dec: FrameDecoder) -> dict[DecodeProblem, int]:
    return {k: v for k, v in dec.stats.problems.items() if v}


# --------------------------------------------------------------------------------------------
# Golden frames
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", golden.GOLDEN, ids=[g.name for g in golden.GOLDEN])
def test_golden_frame_decodes_to_exact_messages(case: golden.GoldenFrame, path: str) -> None:
    dec = FrameDecoder(golden.TICKS)
    assert decode(dec, case.frame, path, case.feed) == case.expected
    assert problems(dec) == {}
    assert dec.stats.messages == len(case.expected)


def test_golden_full_packet_has_issue_90_prefix_and_lot_size_ltq() -> None:
    assert golden.FULL[:8] == golden.ISSUE_90_PREFIX
    assert golden.FULL[12:14] == golden.ISSUE_90_LTQ_BYTES
    assert len(golden.FULL) == wire.FULL_SIZE


@pytest.mark.parametrize("case", golden.GOLDEN, ids=[g.name for g in golden.GOLDEN])
def test_decoded_messages_are_plain_python_values_that_encode_on_the_bus(
    case: golden.GoldenFrame,
) -> None:
    dec = FrameDecoder(golden.TICKS)
    for msg in dec.decode_frame(case.frame, TS, case.feed) + dec.decode_frames(
        [case.frame], [TS], case.feed
    ):
        assert codec.decode(codec.encode(msg)) == msg


def test_module_decode_frame_uses_default_decoder() -> None:
    assert decode_frame(golden.OI, TS) == [OpenInterest(2, 55796, 7_000_000, TS, TS)]


# --------------------------------------------------------------------------------------------
# Encoders agree with the hand-packed golden bytes
# --------------------------------------------------------------------------------------------


def test_wire_encoders_produce_the_golden_bytes() -> None:
    assert wire.encode_ticker(2, 55796, 15230, golden.LTT_S) == golden.TICKER
    assert wire.encode_index(0, 13, 2500005, golden.LTT_S) == golden.INDEX
    assert wire.encode_oi(2, 55796, 7_000_000) == golden.OI
    assert wire.encode_prev_close(2, 55796, 14875, 6_500_000) == golden.PREV_CLOSE
    assert wire.encode_market_status(0, 13) == golden.MARKET_STATUS
    assert wire.encode_disconnect(807) == golden.DISCONNECT_807
    assert wire.encode_depth_disconnect(807) == golden.DEPTH_DISCONNECT_DOC
    assert (
        wire.encode_quote(
            1, 1333, ltp_paise=165050, ltq_units=10, ltt_s=golden.LTT_S, atp_paise=165010,
            volume_units=10_000, total_sell_qty_units=200, total_buy_qty_units=300,
            open_paise=160000, close_paise=0, high_paise=170000, low_paise=159000,
        )
        == golden.QUOTE
    )  # fmt: skip
    assert (
        wire.encode_full(
            2, 55796, ltp_paise=15230, ltq_units=75, ltt_s=golden.LTT_S, atp_paise=15210,
            volume_units=1_234_500, total_sell_qty_units=2_000, total_buy_qty_units=3_000,
            oi_units=7_000_000, oi_day_high_units=7_100_000, oi_day_low_units=6_900_000,
            open_paise=15000, close_paise=0, high_paise=15300, low_paise=14905,
            bid_price_paise=[15225, 15220, 15215, 15210, 15205],
            bid_qty_units=[75, 150, 225, 300, 375], bid_orders=[1, 2, 3, 4, 5],
            ask_price_paise=[15235, 15240, 15245, 15250, 15255],
            ask_qty_units=[150, 300, 450, 600, 750], ask_orders=[2, 3, 4, 5, 6],
        )
        == golden.FULL
    )  # fmt: skip
    qty = [75 * (k + 1) for k in range(20)]
    orders = [k + 1 for k in range(20)]
    bid = wire.encode_depth20_side(
        2, 55796, "bid", [15225 - 5 * k for k in range(20)], qty, orders, sequence=12345
    )
    assert bid == golden.DEPTH20_TWO_INSTRUMENTS[: wire.DEPTH20_SIZE]
    assert (
        wire.encode_depth200_side(1, 1333, "ask", [165005, 165010, 165015], [10, 20, 30], [1, 2, 3])
        == golden.DEPTH200_ASK
    )


def test_encode_full_refuses_wrong_level_count() -> None:
    with pytest.raises(ValueError, match="bid_price: 4 levels given, 5 required"):
        wire.encode_full(
            2, 1, ltp_paise=1, ltq_units=1, ltt_s=1, atp_paise=1, volume_units=1,
            total_sell_qty_units=1, total_buy_qty_units=1, oi_units=1, oi_day_high_units=1,
            oi_day_low_units=1, open_paise=1, close_paise=1, high_paise=1, low_paise=1,
            bid_price_paise=[1, 2, 3, 4], bid_qty_units=[1] * 5, bid_orders=[1] * 5,
            ask_price_paise=[1] * 5, ask_qty_units=[1] * 5, ask_orders=[1] * 5,
        )  # fmt: skip


def test_disconnect_reason_names_follow_the_annexure() -> None:
    assert wire.DisconnectReason(807).name == "TOKEN_EXPIRED"
    assert wire.DisconnectReason(805).name == "TOO_MANY_CONNECTIONS"
    assert wire.disconnect_reason_name(802) == "UNKNOWN_802"
    frame = wire.encode_disconnect(802)
    (msg,) = FrameDecoder().decode_frame(frame, TS)
    assert (msg.reason_code, msg.reason) == (802, "UNKNOWN_802")


# --------------------------------------------------------------------------------------------
# Prices: float32 rupees -> paise on the instrument's tick, once
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("rupees", "tick_paise", "expected_paise"),
    [
        (152.3, 5, 15230),  # f32 152.3000030517578
        (152.32, 5, 15230),  # off tick, nearer 152.30
        (152.33, 5, 15235),  # off tick, nearer 152.35
        (152.3, 1, 15230),
        (152.333, 1, 15233),  # sub-paisa noise goes to the nearest paisa
        (24_999.98, 5, 2_500_000),  # f32 24999.98046875, rounds up to the tick
        (0.0, 5, 0),
    ],
)
def test_price_rounds_to_instrument_tick(
    rupees: float, tick_paise: int, expected_paise: int, path: str
) -> None:
    dec = FrameDecoder({(2, 55796): tick_paise})
    frame = struct.pack("<BHBIfI", 2, 16, 2, 55796, rupees, golden.LTT_S)
    (tick,) = decode(dec, frame, path)
    assert tick.ltp_paise == expected_paise


@pytest.mark.parametrize("path", PATHS)
def test_tick_table_applies_only_to_its_instrument(path: str) -> None:
    dec = FrameDecoder({(2, 55796): 5})
    frame = struct.pack("<BHBIfI", 2, 16, 2, 55797, 152.33, 0) + struct.pack(
        "<BHBIfI", 2, 16, 2, 55796, 152.33, 0
    )
    other, opt = decode(dec, frame, path)
    assert (other.ltp_paise, opt.ltp_paise) == (15233, 15235)
    assert dec.tick_for(2, 55796) == 5 and dec.tick_for(2, 55797) == 1


def test_large_tick_table_finds_every_instrument_in_batches() -> None:
    rng = np.random.default_rng(5)
    sids = rng.choice(2**32, size=3_000, replace=False).tolist()
    table = {(2 if i % 2 else 1, sid): 5 * (1 + i % 4) for i, sid in enumerate(sids)}
    frames = [struct.pack("<BHBIfI", 2, 16, seg, sid, 1000.03, 0) for seg, sid in table]
    frames.append(struct.pack("<BHBIfI", 2, 16, 8, sids[0], 1000.03, 0))  # not in the table
    ticks = [t.ltp_paise for t in FrameDecoder(table).decode_frames(frames, [0] * len(frames))]
    expected = [round(100003 / tick) * tick for tick in table.values()] + [100003]
    assert ticks == expected


@pytest.mark.parametrize("bad_tick", [0, -5, 2.5])
def test_tick_table_refuses_non_positive_or_fractional_tick(bad_tick: object) -> None:
    with pytest.raises(ValueError, match="tick for NSE_FNO:55796 is"):
        FrameDecoder({(2, 55796): bad_tick})  # type: ignore[dict-item]


@pytest.mark.parametrize("key", [(256, 1), (-1, 1), (2, 2**32), (2, -3)])
def test_tick_table_refuses_keys_outside_the_header_fields(key: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="is not a \\(u8 segment, u32 security id\\) pair"):
        FrameDecoder({key: 5})


@pytest.mark.parametrize("path", PATHS)
def test_depth20_float64_prices_round_to_tick(path: str) -> None:
    dec = FrameDecoder({(2, 55796): 5})
    frame = wire.encode_depth20_side(2, 55796, "ask", [15236] * 20, [1] * 20, [1] * 20)
    (depth,) = decode(dec, frame, path, "depth20")
    assert depth.ask_price_paise == [15235] * 20


# --------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_ltt_epoch_is_ist_option_subtracts_five_and_a_half_hours(path: str) -> None:
    (utc,) = decode(FrameDecoder(), golden.TICKER, path)
    (ist,) = decode(FrameDecoder(ltt_epoch_is_ist=True), golden.TICKER, path)
    assert utc.ts_event_ns == golden.TS_EVENT_NS
    assert ist.ts_event_ns == golden.TS_EVENT_NS - 19_800 * 1_000_000_000


def test_ts_init_defaults_to_receive_time() -> None:
    before = time.time_ns()
    (oi,) = FrameDecoder().decode_frame(golden.OI)
    after = time.time_ns()
    assert before <= oi.ts_init_ns <= after
    assert oi.ts_event_ns == oi.ts_init_ns


def test_batch_stamps_each_frame_with_its_own_receive_time() -> None:
    msgs = FrameDecoder().decode_frames([golden.OI, golden.TICKER, golden.OI], [10, 20, 30])
    assert [m.ts_init_ns for m in msgs] == [10, 20, 30]


@pytest.mark.parametrize("path", PATHS)
def test_unknown_feed_kind_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="feed must be one of"):
        decode(FrameDecoder(), golden.OI, path, "depth5")


def test_batch_refuses_mismatched_timestamps() -> None:
    with pytest.raises(ValueError, match="2 frames but 1 receive timestamps"):
        FrameDecoder().decode_frames([golden.OI, golden.OI], [1])


# --------------------------------------------------------------------------------------------
# Robustness: bad frames are counted, good packets still come out
# --------------------------------------------------------------------------------------------

TICK_MSG = Tick(2, 55796, 15230, golden.TS_EVENT_NS, TS)
OI_MSG = OpenInterest(2, 55796, 7_000_000, TS, TS)


def _with_length(packet: bytes, length: int) -> bytes:
    return packet[:1] + struct.pack("<H", length) + packet[3:]


@pytest.mark.parametrize("path", PATHS)
def test_truncated_packet_at_end_of_frame_is_counted_after_good_ones(path: str) -> None:
    dec = FrameDecoder(golden.TICKS)
    frame = golden.TICKER + golden.FULL[:100]
    assert decode(dec, frame, path) == [TICK_MSG]
    assert problems(dec) == {DecodeProblem.TRUNCATED: 1}


@pytest.mark.parametrize("path", PATHS)
def test_header_fragment_is_truncated(path: str) -> None:
    dec = FrameDecoder(golden.TICKS)
    assert decode(dec, golden.TICKER + golden.OI[:5], path) == [TICK_MSG]
    assert problems(dec) == {DecodeProblem.TRUNCATED: 1}


@pytest.mark.parametrize("path", PATHS)
def test_length_past_end_of_frame_stops_the_frame(path: str) -> None:
    dec = FrameDecoder(golden.TICKS)
    frame = golden.TICKER + _with_length(golden.OI, 200) + golden.OI
    assert decode(dec, frame, path) == [TICK_MSG]
    assert problems(dec) == {DecodeProblem.BAD_LENGTH: 1}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("length", [0, 1, 7])
def test_length_shorter_than_header_stops_the_frame(path: str, length: int) -> None:
    dec = FrameDecoder(golden.TICKS)
    assert decode(dec, golden.TICKER + _with_length(golden.OI, length) + golden.OI, path) == [
        TICK_MSG
    ]
    assert problems(dec) == {DecodeProblem.BAD_LENGTH: 1}


@pytest.mark.parametrize("path", PATHS)
def test_length_disagreeing_with_code_size_skips_only_that_packet(path: str) -> None:
    dec = FrameDecoder(golden.TICKS)
    # a ticker claiming 20 bytes (4 bytes of junk after it), then a good OI packet
    frame = _with_length(golden.TICKER, 20) + b"\xff" * 4 + golden.OI
    assert decode(dec, frame, path) == [OI_MSG]
    assert problems(dec) == {DecodeProblem.LENGTH_MISMATCH: 1}


@pytest.mark.parametrize("path", PATHS)
def test_unknown_code_between_good_packets_is_skipped(path: str) -> None:
    dec = FrameDecoder(golden.TICKS)
    unknown = struct.pack("<BHBI", 99, 12, 2, 55796) + b"\x00" * 4
    assert decode(dec, golden.TICKER + unknown + golden.OI, path) == [TICK_MSG, OI_MSG]
    assert problems(dec) == {DecodeProblem.UNKNOWN_CODE: 1}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("segment", [6, 9, 255])
def test_unknown_segment_is_skipped(path: str, segment: int) -> None:
    dec = FrameDecoder(golden.TICKS)
    bad = golden.TICKER[:3] + bytes([segment]) + golden.TICKER[4:]
    assert decode(dec, bad + golden.OI, path) == [OI_MSG]
    assert problems(dec) == {DecodeProblem.UNKNOWN_SEGMENT: 1}


@pytest.mark.parametrize("path", PATHS)
def test_legacy_depth_and_odd_sized_index_are_unsupported_and_skipped(path: str) -> None:
    dec = FrameDecoder(golden.TICKS)
    legacy = struct.pack("<BHBI", 3, 112, 2, 55796) + b"\x00" * 104
    odd_index = struct.pack("<BHBI", 1, 20, 0, 13) + b"\x00" * 12
    assert decode(dec, legacy + odd_index + golden.OI, path) == [OI_MSG]
    assert problems(dec) == {DecodeProblem.UNSUPPORTED_PACKET: 2}


@pytest.mark.parametrize("path", PATHS)
def test_longer_market_status_is_accepted(path: str) -> None:
    dec = FrameDecoder()
    status = struct.pack("<BHBI", 7, 12, 0, 13) + b"\x01\x00\x00\x00"
    assert [type(m).__name__ for m in decode(dec, status + golden.OI, path)] == [
        "MarketStatus",
        "OpenInterest",
    ]
    assert problems(dec) == {}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 3e38])
def test_non_finite_or_absurd_price_drops_the_packet(path: str, bad: float) -> None:
    dec = FrameDecoder(golden.TICKS)
    frame = struct.pack("<BHBIfI", 2, 16, 2, 55796, bad, 0) + golden.OI
    assert decode(dec, frame, path) == [OI_MSG]
    assert problems(dec) == {DecodeProblem.BAD_PRICE: 1}


@pytest.mark.parametrize("path", PATHS)
def test_nan_in_full_depth_drops_quote_and_depth_together(path: str) -> None:
    dec = FrameDecoder(golden.TICKS)
    full = bytearray(golden.FULL)
    full[62 + 20 * 3 + 16 : 62 + 20 * 3 + 20] = struct.pack("<f", float("nan"))
    assert decode(dec, bytes(full) + golden.OI, path) == [OI_MSG]
    assert problems(dec) == {DecodeProblem.BAD_PRICE: 1}
    assert dec.stats.messages == 1


@pytest.mark.parametrize("path", PATHS)
def test_empty_frame_is_counted(path: str) -> None:
    dec = FrameDecoder()
    assert decode(dec, b"", path) == []
    assert problems(dec) == {DecodeProblem.EMPTY_FRAME: 1}


@pytest.mark.parametrize("path", PATHS)
def test_garbage_bytes_are_counted_not_raised(path: str) -> None:
    dec = FrameDecoder()
    assert decode(dec, b"\xde\xad\xbe\xef" * 9, path) == []
    assert dec.stats.problem_total == 1


@pytest.mark.parametrize("path", PATHS)
def test_depth20_bad_packets_are_counted_and_good_sides_decode(path: str) -> None:
    dec = FrameDecoder()
    side = wire.encode_depth20_side(1, 1333, "bid", [100] * 20, [1] * 20, [1] * 20)
    wrong_len = struct.pack("<HBBII", 28, 41, 1, 1333, 0) + b"\x00" * 16
    unknown = struct.pack("<HBBII", 12, 77, 1, 1333, 0)
    bad_seg = side[:3] + b"\x06" + side[4:]
    frame = side + wrong_len + unknown + bad_seg + side + side[:200]
    msgs = decode(dec, frame, path, "depth20")
    assert [m.sides for m in msgs] == ["bid", "bid"]
    assert problems(dec) == {
        DecodeProblem.LENGTH_MISMATCH: 1,
        DecodeProblem.UNKNOWN_CODE: 1,
        DecodeProblem.UNKNOWN_SEGMENT: 1,
        DecodeProblem.TRUNCATED: 1,
    }


@pytest.mark.parametrize("path", PATHS)
def test_depth200_row_count_must_match_length(path: str) -> None:
    dec = FrameDecoder()
    good = wire.encode_depth200_side(1, 1333, "bid", [100, 99], [5, 6], [1, 1])
    lying = good[:8] + struct.pack("<I", 3) + good[12:]  # says 3 rows, carries 2
    too_many = struct.pack("<HBBII", 12, 41, 1, 1333, 201)
    msgs = decode(dec, lying + too_many + good, path, "depth200")
    assert msgs == [Depth(1, 1333, "bid", [100, 99], [5, 6], [1, 1], [], [], [], TS, TS)]
    assert problems(dec) == {DecodeProblem.LENGTH_MISMATCH: 2}


def test_problem_is_logged_once_with_offset_and_kind(caplog: pytest.LogCaptureFixture) -> None:
    unknown = struct.pack("<BHBI", 99, 12, 2, 55796) + b"\x00" * 4
    with caplog.at_level(logging.WARNING, logger="shikra.feed.decode"):
        FrameDecoder().decode_frame(golden.TICKER + unknown + golden.OI, TS)
    (record,) = caplog.records
    assert record.name == "shikra.feed.decode"
    assert "unknown_code" in record.getMessage()
    assert "offset 16 of a 40-byte frame" in record.getMessage()


def test_batch_problem_log_names_the_frame(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="shikra.feed.decode"):
        FrameDecoder().decode_frames([golden.OI, golden.OI + b"\x01"], [1, 2])
    (record,) = caplog.records
    assert "truncated: frame 1 offset 12 of a 13-byte frame" in record.getMessage()


def test_stats_count_frames_packets_and_messages() -> None:
    dec = FrameDecoder(golden.TICKS)
    dec.decode_frame(golden.FULL + golden.OI, TS)
    dec.decode_frames([golden.TICKER, golden.FULL], [1, 2])
    assert (dec.stats.frames, dec.stats.packets, dec.stats.messages) == (3, 4, 6)


# --------------------------------------------------------------------------------------------
# Both paths agree (record-by-record, columnar single frame, columnar batch)
# --------------------------------------------------------------------------------------------

_u32 = st.integers(0, 2**32 - 1)
_paise = st.integers(0, 5_000_000)


@st.composite
def market_packet(draw: st.DrawFn) -> bytes:
    seg = draw(st.sampled_from([0, 1, 2, 8]))
    sid = draw(st.integers(1, 60_000))
    kind = draw(st.sampled_from(["ticker", "quote", "full", "oi", "prev", "status", "index"]))
    p = lambda: draw(_paise)  # noqa: E731
    if kind == "ticker":
        return wire.encode_ticker(seg, sid, p(), draw(_u32))
    if kind == "index":
        return wire.encode_index(seg, sid, p(), draw(_u32))
    if kind == "oi":
        return wire.encode_oi(seg, sid, draw(_u32))
    if kind == "prev":
        return wire.encode_prev_close(seg, sid, p(), draw(_u32))
    if kind == "status":
        return wire.encode_market_status(seg, sid)
    common = dict(
        ltp_paise=p(), ltq_units=draw(st.integers(0, 65535)), ltt_s=draw(_u32), atp_paise=p(),
        volume_units=draw(_u32), total_sell_qty_units=draw(_u32), total_buy_qty_units=draw(_u32),
        open_paise=p(), close_paise=p(), high_paise=p(), low_paise=p(),
    )  # fmt: skip
    if kind == "quote":
        return wire.encode_quote(seg, sid, **common)
    return wire.encode_full(
        seg, sid, **common, oi_units=draw(_u32), oi_day_high_units=draw(_u32),
        oi_day_low_units=draw(_u32),
        bid_price_paise=[p() for _ in range(5)], bid_qty_units=[draw(_u32) for _ in range(5)],
        bid_orders=[draw(st.integers(0, 65535)) for _ in range(5)],
        ask_price_paise=[p() for _ in range(5)], ask_qty_units=[draw(_u32) for _ in range(5)],
        ask_orders=[draw(st.integers(0, 65535)) for _ in range(5)],
    )  # fmt: skip


@settings(max_examples=150, derandomize=True, deadline=None)
@given(frames=st.lists(st.lists(market_packet(), min_size=1, max_size=12), min_size=1, max_size=6))
def test_frame_and_batch_paths_give_identical_messages(frames: list[list[bytes]]) -> None:
    ticks = {(2, 1): 5, (1, 7): 10}
    joined = [b"".join(f) for f in frames]
    ts = list(range(1, len(joined) + 1))
    per_frame = FrameDecoder(ticks)
    expected = [m for frame, t in zip(joined, ts) for m in per_frame.decode_frame(frame, t)]
    batch = FrameDecoder(ticks).decode_frames(joined, ts)
    one_by_one = FrameDecoder(ticks)
    singles = [
        m for f, t in zip(frames, ts) for pkt in f for m in one_by_one.decode_frame(pkt, t)
    ]
    assert batch == expected == singles
    assert per_frame.stats.problem_total == 0


def test_large_frame_takes_columnar_path_with_same_result() -> None:
    copies = COLUMNAR_MIN_PACKETS["market"] // 3 + 1
    frame = (golden.FULL + golden.TICKER + golden.OI) * copies
    big = FrameDecoder(golden.TICKS).decode_frame(frame, TS)
    small = [
        m
        for _ in range(copies)
        for pkt in (golden.FULL, golden.TICKER, golden.OI)
        for m in FrameDecoder(golden.TICKS).decode_frame(pkt, TS)
    ]
    assert big == small
    assert isinstance(big[0], Quote) and isinstance(big[1], Depth)


def test_back_to_back_buffer_decodes_like_the_frame_list() -> None:
    frames = [golden.FULL, b"", golden.TICKER + golden.OI, golden.QUOTE[:20], golden.PREV_CLOSE]
    ts = [1, 2, 3, 4, 5]
    listed = FrameDecoder(golden.TICKS)
    expected = listed.decode_frames(frames, ts)
    buffered = FrameDecoder(golden.TICKS)
    joined = memoryview(b"".join(frames))
    got = buffered.decode_buffer_columnar(joined, [len(f) for f in frames], ts).to_messages()
    assert got == expected
    assert buffered.stats == listed.stats


def test_back_to_back_buffer_refuses_lengths_that_do_not_cover_it() -> None:
    with pytest.raises(ValueError, match="frame lengths add up to 20 bytes, the buffer holds 16"):
        FrameDecoder().decode_buffer_columnar(golden.TICKER, [10, 10], [1, 2])


def test_columnar_batch_tables_carry_message_order() -> None:
    batch = FrameDecoder(golden.TICKS).decode_frames_columnar(
        [golden.PREV_CLOSE, golden.FULL, golden.TICKER], [1, 2, 3]
    )
    assert batch.n_messages == 4
    assert batch.prev_closes["seq"].tolist() == [0]
    assert batch.quotes["seq"].tolist() == [1]
    assert batch.depths["seq"].tolist() == [2]
    assert batch.ticks["seq"].tolist() == [3]
    assert batch.quotes["ltp_paise"].tolist() == [15230]
    assert batch.depths["bid_price_paise"].tolist() == [[15225, 15220, 15215, 15210, 15205]]
    assert batch.ticks == batch.ticks and batch.open_interest == {}
    assert isinstance(batch.to_messages()[0], PrevClose)


# --------------------------------------------------------------------------------------------
# Fuzz: random bytes never raise, and both paths count the same problems
# --------------------------------------------------------------------------------------------


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    chunks=st.lists(
        st.one_of(
            st.binary(max_size=64),
            st.sampled_from([golden.TICKER, golden.FULL, golden.OI, golden.QUOTE, golden.FULL[:50]]),
            st.sampled_from(
                [golden.DEPTH20_TWO_INSTRUMENTS[:332], golden.DEPTH_DISCONNECT_DOC, golden.DEPTH200_ASK]
            ),
        ),
        max_size=8,
    ),
    feed=st.sampled_from(["market", "depth20", "depth200"]),
)
def test_random_bytes_never_raise_and_paths_agree(chunks: list[bytes], feed: str) -> None:
    frame = b"".join(chunks)
    logging.getLogger("shikra.feed.decode").disabled = True
    try:
        a, b = FrameDecoder(), FrameDecoder()
        out_a = a.decode_frame(frame, TS, feed)  # type: ignore[arg-type]
        out_b = b.decode_frames([frame, frame[::-1]], [TS, TS], feed)  # type: ignore[arg-type]
        c = FrameDecoder()
        out_c = c.decode_frame(frame[::-1], TS, feed)  # type: ignore[arg-type]
    finally:
        logging.getLogger("shikra.feed.decode").disabled = False
    assert out_b == out_a + out_c
    assert b.stats.problems == a.stats.problems + c.stats.problems
    for msg in out_b:
        codec.encode(msg)


@settings(max_examples=50, derandomize=True, deadline=None)
@given(data=st.binary(min_size=0, max_size=400))
def test_random_frames_through_batch_fast_check_never_raise(data: bytes) -> None:
    # Many one-packet-looking frames exercise the vectorised single-packet check.
    frames = [data[i : i + 16] for i in range(0, len(data), 16)] + [data]
    logging.getLogger("shikra.feed.decode").disabled = True
    try:
        FrameDecoder().decode_frames(frames, np.arange(len(frames)))
    finally:
        logging.getLogger("shikra.feed.decode").disabled = False


# --------------------------------------------------------------------------------------------
# Every path gives the same messages and the same problems, whatever the stacking
# --------------------------------------------------------------------------------------------


@st.composite
def frame_chunk(draw: st.DrawFn) -> bytes:
    """A well-formed packet most of the time, else one of the ways a packet goes wrong."""
    packet = draw(market_packet())
    fault = draw(
        st.sampled_from(["none"] * 6 + ["cut", "unknown_code", "bad_segment", "bad_length", "junk"])
    )
    if fault == "cut":
        return packet[: draw(st.integers(0, len(packet) - 1))]
    if fault == "unknown_code":
        return bytes([draw(st.sampled_from([0, 9, 42, 99, 255]))]) + packet[1:]
    if fault == "bad_segment":
        return packet[:3] + bytes([draw(st.sampled_from([6, 9, 255]))]) + packet[4:]
    if fault == "bad_length":
        return _with_length(packet, draw(st.integers(0, 400)))
    if fault == "junk":
        return draw(st.binary(min_size=1, max_size=40))
    return packet


def _quiet() -> logging.Logger:
    log = logging.getLogger("shikra.feed.decode")
    log.disabled = True
    return log


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(st.lists(frame_chunk(), min_size=1, max_size=12), min_size=1, max_size=8))
def test_every_path_gives_the_same_messages_and_problems_for_any_stacking(
    frames: list[list[bytes]],
) -> None:
    ticks = {(2, 1): 5, (1, 7): 10}
    joined = [b"".join(f) for f in frames]
    ts = list(range(1, len(joined) + 1))
    log = _quiet()
    try:
        per_packet, columnar, live, batch, buffer = (FrameDecoder(ticks) for _ in range(5))
        by_packet = [m for f, t in zip(joined, ts) for m in per_packet.decode_frame_by(f, t, "market", columnar=False)]
        by_columns = [m for f, t in zip(joined, ts) for m in columnar.decode_frame_by(f, t, "market", columnar=True)]
        by_live = [m for f, t in zip(joined, ts) for m in live.decode_frame(f, t)]
        by_batch = batch.decode_frames(joined, ts)
        by_buffer = buffer.decode_buffer_columnar(b"".join(joined), [len(f) for f in joined], ts).to_messages()
    finally:
        log.disabled = False
    assert by_packet == by_columns == by_live == by_batch == by_buffer
    assert per_packet.stats == columnar.stats == live.stats == batch.stats == buffer.stats


@settings(max_examples=60, derandomize=True, deadline=None)
@given(packets=st.lists(market_packet(), min_size=1, max_size=40), per_frame=st.integers(1, 12))
def test_stacked_frames_decode_like_the_same_packets_one_per_frame(
    packets: list[bytes], per_frame: int
) -> None:
    stacked = [b"".join(packets[i : i + per_frame]) for i in range(0, len(packets), per_frame)]
    ts = [1 + i // per_frame for i in range(len(packets))]
    singles = FrameDecoder(golden.TICKS).decode_frames(packets, ts)
    assert FrameDecoder(golden.TICKS).decode_frames(stacked, ts[::per_frame]) == singles
    live = FrameDecoder(golden.TICKS)
    assert [m for f, t in zip(stacked, ts[::per_frame]) for m in live.decode_frame(f, t)] == singles


@pytest.mark.parametrize("code", sorted(wire.MARKET_STRUCTS))
def test_struct_layouts_read_what_the_dtypes_read(code: int) -> None:
    raw = np.random.default_rng(code).integers(0, 256, wire.PACKET_SIZE[code], dtype=np.uint8).tobytes()
    (record,) = np.frombuffer(raw, wire.MARKET_DTYPES[code]).tolist()
    flat: list = []
    for value in record:  # the full packet's depth comes as an array of 5 levels of 6 fields
        if isinstance(value, np.ndarray):
            flat.extend(v for level in value.tolist() for v in level)
        else:
            flat.append(value)
    got = wire.MARKET_STRUCTS[code].unpack(raw)
    assert len(got) == len(flat)
    assert all(a == b or (a != a and b != b) for a, b in zip(got, flat))  # NaN == NaN here


def test_single_packet_frame_with_a_bad_header_is_walked_and_named() -> None:
    dec = FrameDecoder(golden.TICKS)
    lying = _with_length(golden.OI, 16) + b"\x00" * 4  # 16 bytes, a ticker's size, an OI code
    bad_seg = golden.TICKER[:3] + b"\x09" + golden.TICKER[4:]
    assert dec.decode_frame(lying, TS) == [] and dec.decode_frame(bad_seg, TS) == []
    assert problems(dec) == {DecodeProblem.LENGTH_MISMATCH: 1, DecodeProblem.UNKNOWN_SEGMENT: 1}


@pytest.mark.parametrize("path", PATHS)
def test_status_claiming_more_bytes_than_its_frame_holds_is_a_bad_length(path: str) -> None:
    dec = FrameDecoder()
    status = _with_length(golden.MARKET_STATUS, 12)  # an 8-byte frame whose header says 12
    assert decode(dec, status, path) == [] and decode(dec, golden.OI + status, path) == [OI_MSG]
    assert problems(dec) == {DecodeProblem.BAD_LENGTH: 2}
