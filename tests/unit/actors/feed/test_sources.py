"""The synthetic source's pacing: packets owed by the clock, never a burst that holds the loop."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

import msgspec

from actors.feed.sources import MAX_OWED_S, SyntheticSource
from engine.config import Config
from engine.model.lookup import open_instruments

DAY = dt.date(2026, 11, 20)
T0_NS = 1_795_148_100_000_000_000
MS = 1_000_000


class FakeCtx:
    """Clocks the test moves and a timer it fires by hand."""

    def __init__(self) -> None:
        self.mono_ns = 0
        self.tick: Callable[[], None] | None = None

    def now_ns(self) -> int:
        return T0_NS + self.mono_ns

    def monotonic_ns(self) -> int:
        return self.mono_ns

    def every(self, interval_s: float, fn: Callable[[], None]) -> Any:
        self.tick = fn
        return None


def started(tmp_path: Path, rate: int) -> tuple[SyntheticSource, FakeCtx, list[bytes]]:
    cfg = Config()
    cfg = msgspec.structs.replace(cfg, feed=msgspec.structs.replace(
        cfg.feed, synthetic=msgspec.structs.replace(cfg.feed.synthetic, rate_per_s=rate)))
    source = SyntheticSource(cfg, open_instruments("sample", tmp_path, DAY), DAY)
    ctx, frames = FakeCtx(), []
    source.start(ctx, lambda frame, recv_ns: frames.append(frame))
    return source, ctx, frames


def test_packets_follow_the_clock_when_the_loop_keeps_up(tmp_path: Path) -> None:
    source, ctx, frames = started(tmp_path, rate=2_000)
    assert ctx.tick is not None
    ctx.mono_ns += 1 * MS
    ctx.tick()
    opening = len(frames) - 2  # the first call adds one prev-close packet per instrument
    for _ in range(999):
        ctx.mono_ns += 1 * MS
        ctx.tick()
    assert len(frames) - opening == 2_000 and source.forgotten == 0


def test_a_starved_source_sends_at_most_its_cap_and_forgets_the_rest(tmp_path: Path) -> None:
    source, ctx, frames = started(tmp_path, rate=2_000)
    assert ctx.tick is not None
    ctx.mono_ns += 1 * MS
    ctx.tick()
    before = len(frames)
    ctx.mono_ns += 10_000 * MS  # the process got no CPU for 10 s
    ctx.tick()
    assert len(frames) - before == 2_000 * MAX_OWED_S
    assert source.forgotten == 2_000 * 10 - 2_000 * MAX_OWED_S
    ctx.mono_ns += 1 * MS
    ctx.tick()
    assert len(frames) - before == 2_000 * MAX_OWED_S + 2  # back to the clock's pace


def test_a_slow_rate_still_sends_its_packets(tmp_path: Path) -> None:
    source, ctx, frames = started(tmp_path, rate=5)  # one packet per 200 ms timer tick
    assert ctx.tick is not None
    ctx.mono_ns += 200 * MS
    ctx.tick()
    before = len(frames)
    for _ in range(10):
        ctx.mono_ns += 200 * MS
        ctx.tick()
    assert len(frames) - before == 10 and source.forgotten == 0
