"""Market batches: a block of frames decoded column-wise gives, row by row, the messages each frame
gives alone."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
from hypothesis import given, settings

from actors.feed.batches import market_batch
from actors.feed.decode import FrameDecoder
from actors.replay.batch import ROW_FULL, ROW_OTHER, ROW_QUOTE, ROW_TICK
from ipc.messages import Depth, Quote, Tick
from tests.unit.actors.feed.test_decode import market_packet

TICKS = {(2, 1): 5, (1, 7): 10}


@st.composite
def frame(draw: st.DrawFn) -> bytes:
    """Mostly one packet a frame, as the 5-level feed sends; sometimes several, or broken bytes."""
    shape = draw(st.sampled_from(["one"] * 6 + ["several", "empty", "cut"]))
    if shape == "one":
        return draw(market_packet())
    if shape == "several":
        return b"".join(draw(st.lists(market_packet(), min_size=2, max_size=3)))
    if shape == "empty":
        return b""
    packet = draw(market_packet())
    return packet[: draw(st.integers(1, len(packet) - 1))]


def _block(frames: list[bytes]) -> tuple[bytes, np.ndarray, np.ndarray]:
    return b"".join(frames), np.array([len(f) for f in frames], dtype=np.int64), np.arange(1, len(frames) + 1)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(frames=st.lists(frame(), min_size=1, max_size=20))
def test_each_row_gives_the_messages_its_frame_gives_alone(frames: list[bytes]) -> None:
    alone = FrameDecoder(TICKS)
    expected = [alone.decode_frame(f, i + 1) for i, f in enumerate(frames)]
    columnar = FrameDecoder(TICKS)
    batch = market_batch(columnar.decode_buffer_columnar(*_block(frames)), len(frames))
    assert [batch.messages(i) for i in range(batch.n)] == expected
    assert columnar.stats.problems == alone.stats.problems
    for i, msgs in enumerate(expected):
        kinds = [type(m) for m in msgs]
        want = {(Tick,): ROW_TICK, (Quote,): ROW_QUOTE, (Quote, Depth): ROW_FULL}.get(tuple(kinds), ROW_OTHER)
        assert batch.kind[i] == want
        if want != ROW_OTHER:
            j = batch.instrument[i]
            assert batch.keys[j] == (msgs[0].segment, msgs[0].security_id)
            assert i in batch.rows_of(j, 0, batch.n).tolist()
            assert batch.ltp_paise[i] == msgs[0].ltp_paise and batch.ts_event_ns[i] == msgs[0].ts_event_ns
    assert batch.other_rows.tolist() == [i for i in range(batch.n) if batch.kind[i] == ROW_OTHER]


def test_rows_of_an_instrument_come_in_order_and_by_span() -> None:
    from actors.feed import wire

    frames = [wire.encode_ticker(1, 7 + i % 3, 100 + i, 1_700_000_000) for i in range(12)]
    batch = market_batch(FrameDecoder().decode_buffer_columnar(*_block(frames)), len(frames))
    assert batch.keys == [(1, 7), (1, 8), (1, 9)]  # in order of first appearance
    assert batch.rows_of(1, 2, 11).tolist() == [4, 7, 10]
    lo, hi = batch.span(1, 2, 11)
    assert batch.columns_of(1).rows[lo:hi].tolist() == [4, 7, 10]
    assert batch.instruments_in(3, 4) == [0] and batch.instruments_in(4, 6) == [1, 2]
    assert batch.columns_of(1).ltp_paise.tolist() == [101, 104, 107, 110]
