"""Capture files and replay: the format round-trips, a cut file is read up to the cut, replay keeps
the recorded pace. (A recorded session driving the whole engine: tests/daemon/test_capture_replay.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from actors.feed.capture import HEADER, MAX_FRAME_BYTES, RECORD, CaptureError, CaptureReader, CaptureWriter
from actors.feed.sources import ReplaySource
from engine.config import parse_config
from engine.model.clock import SimClock


def test_capture_round_trips_frames_and_receive_times(tmp_path):
    frames = [(1_000 + i, bytes([i]) * (i + 1)) for i in range(50)]
    with CaptureWriter(tmp_path / "c.cap") as w:
        for ts, f in frames:
            w.write(ts, f)
    reader = CaptureReader(tmp_path / "c.cap")
    assert reader.feed == "market"
    assert list(reader) == frames and not reader.truncated_tail


def test_a_capture_cut_mid_record_yields_every_whole_record(tmp_path):
    path = tmp_path / "c.cap"
    with CaptureWriter(path) as w:
        for i in range(10):
            w.write(i, b"x" * 100)
    data = path.read_bytes()
    path.write_bytes(data[:-37])
    reader = CaptureReader(path)
    assert len(list(reader)) == 9 and reader.truncated_tail


@pytest.mark.parametrize("head, why", [(b"", "too short"), (b"NOTACAPTURE-----", "not a Shikra capture"),
                                       (HEADER.pack(b"SHKCAPT1", 9, 0, 0), "version 9")])
def test_a_file_that_is_not_a_capture_is_refused_with_the_reason(tmp_path, head, why):
    (tmp_path / "x").write_bytes(head)
    with pytest.raises(CaptureError, match=why):
        CaptureReader(tmp_path / "x")


class _SimContext:
    """What a source needs of an actor's context, on a simulated clock."""

    def __init__(self, clock: SimClock) -> None:
        self.now_ns = clock.now_ns
        self.monotonic_ns = clock.monotonic_ns
        self.call_later = clock.call_later
        self.every = clock.every
        self.log = type("L", (), {"info": lambda *a, **k: None, "warning": lambda *a, **k: None})()


def test_replay_at_recorded_pace_emits_each_frame_after_its_recorded_gap(tmp_path):
    path = tmp_path / "c.cap"
    gaps_ns = [0, 5_000_000, 20_000_000, 1_000_000]
    recorded = []
    with CaptureWriter(path) as w:
        t = 10**18
        for g in gaps_ns:
            t += g
            w.write(t, b"frame")
            recorded.append(t)
    cfg = parse_config(f'[feed]\nsource = "replay"\n[feed.replay]\npath = "{path}"\npace = "recorded"\n')
    src = ReplaySource(cfg)
    clock = SimClock(7 * 10**17)  # the replay starts at another time than the recording's
    emitted: list[int] = []

    def emit(frame: bytes, recv_ns: int) -> None:
        emitted.append(recv_ns)

    src.start(_SimContext(clock), emit)
    while (due := clock.next_due_ns()) is not None:
        clock.advance_to(due)
    assert src.done
    assert [t - emitted[0] for t in emitted] == [t - recorded[0] for t in recorded]  # 0, 5, 25, 26 ms


# --- capture blocks ----------------------------------------------------------------------------


def _write(path, frames):  # type: ignore[no-untyped-def]
    with CaptureWriter(path) as w:
        for ts, f in frames:
            w.write(ts, f)


def _unblock(blocks) -> list[tuple[int, bytes]]:  # type: ignore[no-untyped-def]
    out = []
    for b in blocks:
        start = 0
        for i in range(len(b.lengths)):
            out.append((int(b.recv_ns[i]), b.frame(i, start)))
            start += int(b.lengths[i])
    return out


@pytest.mark.parametrize("per_block", [1, 7, 100_000])
def test_capture_blocks_hold_the_frames_iteration_yields(tmp_path, per_block):
    rng = np.random.default_rng(3)
    frames = [(1_000 + i, rng.bytes(int(rng.integers(0, 300)))) for i in range(3_000)]
    frames.append((9, rng.bytes(3 << 20)))  # a frame larger than one read
    _write(tmp_path / "c.cap", frames)
    reader = CaptureReader(tmp_path / "c.cap")
    blocks = list(reader.blocks(per_block))
    assert _unblock(blocks) == list(CaptureReader(tmp_path / "c.cap")) == frames
    assert all(len(b.lengths) <= per_block for b in blocks) and not reader.truncated_tail


def test_capture_blocks_stop_at_a_cut_record_and_say_so(tmp_path):
    _write(tmp_path / "c.cap", [(i, b"x" * 100) for i in range(10)])
    data = (tmp_path / "c.cap").read_bytes()
    (tmp_path / "c.cap").write_bytes(data[:-37])
    reader = CaptureReader(tmp_path / "c.cap")
    assert len(_unblock(reader.blocks(4))) == 9 and reader.truncated_tail


def test_capture_blocks_refuse_a_record_claiming_too_many_bytes_with_its_offset(tmp_path):
    _write(tmp_path / "c.cap", [(1, b"abc")])
    with open(tmp_path / "c.cap", "ab") as f:
        f.write(RECORD.pack(2, MAX_FRAME_BYTES + 1) + b"zz")
    with pytest.raises(CaptureError, match=f"offset 31 claims {MAX_FRAME_BYTES + 1} bytes"):
        list(CaptureReader(tmp_path / "c.cap").blocks(10))


def test_a_kite_capture_replays_through_the_kite_decoder_and_records_as_kite(tmp_path):
    """The capture header's feed kind picks the decoder: a Kite capture replayed by the feed actor
    publishes our instruments' messages, and recording the replay writes a Kite capture again."""
    import datetime as dt

    from actors.feed import kite_wire as kw
    from engine.model.ist import ist_ns
    from ipc.messages import Depth, Quote, Tick
    from tests.support.fake_kite_ticker import packet_for
    from tests.support.kite_instruments import kite_dump
    from tests.support.sim import SimEngine, sim_config

    master = tmp_path / "kite-master.csv"
    master.write_bytes(kite_dump())
    capture, again = tmp_path / "kite.cap", tmp_path / "again.cap"
    t0 = ist_ns(dt.date(2026, 12, 7), dt.time(10, 0))
    frames = [kw.frame([packet_for("full", 738561, n)[0], packet_for("ltp", 256265, n)[0]]) for n in range(5)]
    frames.insert(2, kw.frame([kw.encode_ltp(4242 << 8 | 1, 1)]))  # a token the master does not list
    with CaptureWriter(capture, "kite") as w:
        for i, frame in enumerate(frames):
            w.write(t0 + i * 1_000_000, frame)
    assert CaptureReader(capture).feed == "kite"
    cfg = sim_config(["feed"], instruments={"master": str(master)},
                     feed={"source": "replay", "record_path": str(again),
                           "replay": {"path": str(capture), "pace": "fast"}})
    engine = SimEngine(tmp_path / "data", t0, ["feed"], cfg)
    try:
        engine.advance_by(1.0)
        quotes, ticks, depths = engine.seen(Quote), engine.seen(Tick), engine.seen(Depth)
        assert [(q.segment, q.security_id) for q in quotes] == [(1, 2885)] * 5
        assert [(t.segment, t.security_id, t.ltp_paise) for t in ticks] == \
            [(0, 1001, packet_for("ltp", 256265, n)[1]) for n in range(5)]
        assert len(depths) == 5
        assert engine.actor("feed").decoder.stats.problem_total == 1  # the unknown token, counted
    finally:
        engine.close()
    reader = CaptureReader(again)
    assert reader.feed == "kite" and [f for _, f in reader] == frames
