"""Capture files and replay: the format round-trips, a cut file is read up to the cut, replay keeps
the recorded pace, and a recorded session drives the whole engine again."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from actors.feed.capture import HEADER, CaptureError, CaptureReader, CaptureWriter
from actors.feed.sources import ReplaySource
from engine.config import parse_config
from tests.support.daemon import Daemon, short_tmpdir
from tests.daemon.test_pipeline import assert_books_balance, ledger_facts, wait_for_fills


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


class _Clock:
    """Runs call_later callbacks in time order on a virtual clock (no sleeping)."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, object]] = []
        self.delays: list[float] = []
        self.log = type("L", (), {"info": lambda *a, **k: None, "warning": lambda *a, **k: None})()

    def call_later(self, delay: float, fn) -> None:
        self.delays.append(delay)
        self.pending.append((delay, fn))

    def run(self) -> None:
        while self.pending:
            _, fn = self.pending.pop(0)
            fn()


def test_replay_at_recorded_pace_waits_the_recorded_gaps(tmp_path, monkeypatch):
    path = tmp_path / "c.cap"
    gaps_ns = [0, 5_000_000, 20_000_000, 1_000_000]
    with CaptureWriter(path) as w:
        t = 10**18
        for g in gaps_ns:
            t += g
            w.write(t, b"frame")
    cfg = parse_config(f'[feed]\nsource = "replay"\n[feed.replay]\npath = "{path}"\npace = "recorded"\n')
    src = ReplaySource(cfg)
    clock = _Clock()
    virtual = [10**18]
    monkeypatch.setattr("actors.feed.sources.time.time_ns", lambda: virtual[0])
    emitted: list[int] = []

    def emit(frame: bytes, recv_ns: int) -> None:
        emitted.append(recv_ns)

    src.start(clock, emit)
    while clock.pending:
        delay, fn = clock.pending.pop(0)
        virtual[0] += int(delay * 1e9)
        fn()
    assert len(emitted) == 4 and src.done
    waited = [d for d in clock.delays if d > 0]
    assert [round(d * 1e9) for d in waited] == [5_000_000, 20_000_000, 1_000_000]


def test_a_recorded_session_replays_through_the_whole_engine():
    root = short_tmpdir()
    try:
        cap = root / "session.cap"
        out = subprocess.run([sys.executable, "-m", "engine.cli", "record", "--out", str(cap), "--seconds", "3",
                              "--data-dir", str(root / "rec")], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-2000:]
        frames = list(CaptureReader(cap))
        assert len(frames) > 300
        inspect = subprocess.run([sys.executable, "-m", "engine.cli", "capture", "inspect", str(cap), "--json",
                                  "--data-dir", str(root / "rec")], capture_output=True, text=True, timeout=60)
        assert inspect.returncode == 0 and '"type":"Quote"' in inspect.stdout
        config = f"""
[engine]
actors = ["feed", "book", "strategy", "risk", "execution"]
[log]
format = "json"
[feed]
source = "replay"
[feed.replay]
path = "{cap}"
pace = "fast"
loop = true
[risk]
market_hours = "always"
[risk.limits]
max_orders_per_second = 1000
max_orders_per_day = 1000000
max_trades_per_day = 1000000
[[strategy.instances]]
name = "probe"
kind = "probe"
instrument = "RELIANCE"
params = {{ every_n_ticks = 5 }}
"""
        d = Daemon(root, config).start()
        try:
            d.wait_running()
            wait_for_fills(d, 5)
            assert d.stop() == 0
        finally:
            d.reap()
        assert_books_balance(ledger_facts(d.data_dir))
    finally:
        shutil.rmtree(root, ignore_errors=True)
