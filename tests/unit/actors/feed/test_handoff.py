"""The hand-off of frames and calls from a websocket thread to the actor's loop (both live sources
use it; their own tests run it against loopback servers)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from actors.feed import handoff as handoff_module
from actors.feed.handoff import BACKLOG_LOG_INTERVAL_S, MAX_FRAMES_PER_DRAIN, FrameHandoff
from tests.support.mini_loop import MiniLoop


class StepCtx:
    """The actor-context calls the hand-off makes, recorded so that a test runs each turn itself."""

    def __init__(self) -> None:
        self.watched: dict[int, Callable[[], None]] = {}
        self.unwatched: list[int] = []
        self.later: list[Callable[[], None]] = []

    def watch_fd(self, fd: int, fn: Callable[[], None]) -> None:
        self.watched[fd] = fn

    def unwatch_fd(self, fd: int) -> None:
        self.unwatched.append(fd)
        del self.watched[fd]

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Any:
        assert delay_s == 0.0
        self.later.append(fn)

    def wake(self) -> None:
        """The poller found the pipe readable: run its callback."""
        (fn,) = self.watched.values()
        fn()


def opened(max_pending_frames: int = 100_000) -> tuple[FrameHandoff, StepCtx, list[tuple[bytes, int]]]:
    h, ctx, emitted = FrameHandoff(max_pending_frames), StepCtx(), []
    h.open(ctx, lambda frame, ns: emitted.append((frame, ns)))
    return h, ctx, emitted


def pipe_bytes(ctx: StepCtx) -> bytes:
    (rfd,) = ctx.watched
    try:
        return os.read(rfd, 4096)
    except BlockingIOError:
        return b""


def test_a_burst_wakes_the_actor_once_and_is_handed_over_oldest_first_in_capped_turns() -> None:
    h, ctx, emitted = opened()
    n = MAX_FRAMES_PER_DRAIN + 10
    assert all(h.push(b"f%d" % i, 1_000 + i) for i in range(n))
    assert h.pending_frames == n and pipe_bytes(ctx) == b"\x01"  # one wake byte for the whole burst
    ctx.wake()
    assert len(emitted) == MAX_FRAMES_PER_DRAIN and len(ctx.later) == 1  # the rest on the next turn
    ctx.later.pop()()
    assert emitted == [(b"f%d" % i, 1_000 + i) for i in range(n)] and h.pending_frames == 0
    assert ctx.later == []
    h.push(b"again", 1)  # the actor drained: the next frame wakes it again
    assert pipe_bytes(ctx) == b"\x01"


def test_frames_past_the_backlog_are_dropped_and_counted_and_the_reader_goes_on() -> None:
    h, ctx, emitted = opened(max_pending_frames=3)
    assert [h.push(b"%d" % i, i) for i in range(5)] == [True, True, True, False, False]
    assert (h.pending_frames, h.dropped_frames) == (3, 2)
    ctx.wake()
    assert [f for f, _ in emitted] == [b"0", b"1", b"2"]
    assert h.push(b"5", 5) and (h.pending_frames, h.dropped_frames) == (1, 2)


def test_a_call_for_the_actor_runs_after_the_frames_queued_before_it() -> None:
    h, ctx, emitted = opened()
    seen: list[int] = []
    h.push(b"a", 1)
    h.call_soon(lambda: seen.append(len(emitted)))
    ctx.wake()
    assert seen == [1]


def test_a_forced_wake_is_written_even_when_one_is_pending() -> None:
    h, ctx, _ = opened()
    h.push(b"a", 1)
    h.call_soon(lambda: None)
    assert pipe_bytes(ctx) == b"\x01"
    h.push(b"b", 2)
    h.call_soon(lambda: None, force_wake=True)
    assert pipe_bytes(ctx) == b"\x01"


def test_close_hands_everything_over_then_closes_the_pipe_and_a_second_close_does_nothing() -> None:
    h, ctx, emitted = opened()
    (rfd,) = ctx.watched
    calls: list[str] = []
    for i in range(2 * MAX_FRAMES_PER_DRAIN + 1):
        h.push(b"x", i)
    h.call_soon(lambda: calls.append("stalled"))
    h.close()
    assert len(emitted) == 2 * MAX_FRAMES_PER_DRAIN + 1 and calls == ["stalled"]
    assert ctx.unwatched == [rfd] and not h.is_open
    with pytest.raises(OSError):
        os.fstat(rfd)
    h.close()
    assert ctx.unwatched == [rfd]


def test_close_after_a_stuck_thread_leaves_the_pipe_open_for_its_writes() -> None:
    h, ctx, emitted = opened()
    (rfd,) = ctx.watched
    h.push(b"x", 1)
    h.close(stuck=True)
    assert emitted == [(b"x", 1)] and ctx.unwatched == [rfd] and not h.is_open
    h.push(b"late", 2)  # the stuck thread's write still lands in a pipe, not in a closed (or reused) fd
    assert os.read(rfd, 16) == b"\x01\x01"  # the wake before close (never read) and the late one
    os.close(rfd)
    os.close(h._wfd)  # process exit's job in the daemon


def test_the_backlog_log_is_due_at_most_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    now_s = [100.0]
    monkeypatch.setattr(handoff_module.time, "monotonic", lambda: now_s[0])
    h = FrameHandoff(1)
    assert h.drop_log_due() and not h.drop_log_due()
    now_s[0] += BACKLOG_LOG_INTERVAL_S / 2
    assert not h.drop_log_due()
    now_s[0] += BACKLOG_LOG_INTERVAL_S / 2
    assert h.drop_log_due()


def test_frames_pushed_on_another_thread_reach_the_actor_loop_in_order() -> None:
    loop = MiniLoop()
    h = FrameHandoff(1_000_000)
    emitted: list[tuple[bytes, int]] = []
    h.open(loop, lambda frame, ns: emitted.append((frame, ns)))
    n = 3 * MAX_FRAMES_PER_DRAIN
    writer = threading.Thread(target=lambda: [h.push(b"%d" % i, i) for i in range(n)])
    writer.start()
    try:
        loop.run_until(lambda: len(emitted) == n, what="every frame")
    finally:
        writer.join()
        h.close()
    assert [ns for _, ns in emitted] == list(range(n))
