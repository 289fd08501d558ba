"""The hand-off of received frames from a live source's websocket thread to the feed actor's loop
(``actors.feed.dhan``, ``actors.feed.kite``).

The websocket reader never waits for the actor, so the websocket library keeps answering the
server's pings however slow the consumer is. Each frame, stamped when it was received, is appended
to a ``collections.deque``; one byte on a non-blocking pipe wakes the actor's poller, written only
when no wake is pending. The actor's fd callback hands at most ``MAX_FRAMES_PER_DRAIN`` frames to
``emit(frame, recv_ns)``, oldest first, and schedules itself again for the rest, so the actor's
timers and other sockets are not starved. Calls for the actor's thread (a source's ``on_stalled``,
``on_fatal``) travel the same way, after the frames queued before them. Past
``max_pending_frames`` waiting frames, new ones are dropped and counted: market data drops, it
never blocks.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable
from typing import Any

Emit = Callable[[bytes, int], None]  # (frame, recv_ns)

MAX_FRAMES_PER_DRAIN = 4096  # so that timers and other sockets of the actor are not starved
BACKLOG_LOG_INTERVAL_S = 1.0  # at most one backlog-full log line a second


class FrameHandoff:
    """One websocket thread's frames and calls, handed to one actor's loop.

    Websocket thread: :meth:`push`, :meth:`call_soon`, :meth:`drop_log_due`. Actor's thread:
    :meth:`open`, :meth:`close` (and the fd callback and timer it installs). ``dropped_frames``
    counts every frame refused for a full backlog; ``pending_frames`` is what waits for the actor.
    """

    __slots__ = ("frames", "events", "max_pending_frames", "dropped_frames", "_wake_pending", "_rfd", "_wfd",
                 "_ctx", "_emit", "_last_drop_log_s")

    def __init__(self, max_pending_frames: int) -> None:
        self.frames: collections.deque[tuple[bytes, int]] = collections.deque()
        self.events: collections.deque[Callable[[], None]] = collections.deque()  # calls for the actor
        self.max_pending_frames = max_pending_frames
        self.dropped_frames = 0
        self._wake_pending = False
        self._rfd = self._wfd = -1
        self._ctx: Any = None
        self._emit: Emit | None = None
        self._last_drop_log_s = 0.0

    @property
    def pending_frames(self) -> int:
        return len(self.frames)

    @property
    def is_open(self) -> bool:
        return self._rfd >= 0

    # Actor's thread ---------------------------------------------------------------------------
    def open(self, ctx: Any, emit: Emit) -> None:
        """Make the wake pipe and watch it with ``ctx.watch_fd``; frames reach ``emit`` on ``ctx``'s loop."""
        self._ctx, self._emit = ctx, emit
        self._rfd, self._wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        ctx.watch_fd(self._rfd, self._on_wake)

    def close(self, *, stuck: bool = False) -> None:
        """Stop watching the pipe, hand everything still queued to the actor (frames and calls),
        close the pipe. ``stuck``: the websocket thread did not end and may still write to the
        pipe, so it is left open (to process exit). Closing a closed hand-off does nothing."""
        rfd = self._rfd
        if rfd < 0:
            return
        self._ctx.unwatch_fd(rfd)
        while self.frames or self.events:
            self._drain()
        if not stuck:
            os.close(rfd)
            os.close(self._wfd)
            self._wfd = -1
        self._rfd = -1

    def _on_wake(self) -> None:
        try:
            os.read(self._rfd, 4096)
        except BlockingIOError:
            pass
        self._drain()  # the host delivers what the actor publishes as soon as this fd callback returns

    def _drain(self) -> None:
        # hot path: hand each received frame to the actor, oldest first
        self._wake_pending = False  # before popping: a frame appended from now on writes a new wake
        frames = self.frames
        emit = self._emit
        assert emit is not None
        for _ in range(min(len(frames), MAX_FRAMES_PER_DRAIN)):
            frame, recv_ns = frames.popleft()
            emit(frame, recv_ns)
        if frames:
            self._ctx.call_later(0.0, self._drain)
        events = self.events
        while events:
            events.popleft()()

    # Websocket thread -------------------------------------------------------------------------
    def push(self, frame: bytes, recv_ns: int) -> bool:
        """Queue a received frame for the actor and wake it. False when the backlog is full: the
        frame is dropped (and counted)."""
        # hot path (websocket thread): one call per frame; a second (the wake) once per drain only
        frames = self.frames
        if len(frames) >= self.max_pending_frames:
            self.dropped_frames += 1
            return False
        frames.append((frame, recv_ns))
        if not self._wake_pending:
            self._wake()
        return True

    def call_soon(self, fn: Callable[[], None], *, force_wake: bool = False) -> None:
        """Run ``fn`` on the actor's thread, after the frames queued before it. ``force_wake``
        writes a wake byte even when one is pending (for a call that must not wait on anything)."""
        self.events.append(fn)
        if force_wake:
            self._wake_pending = False
        self._wake()

    def drop_log_due(self) -> bool:
        """After a dropped frame: True at most once per ``BACKLOG_LOG_INTERVAL_S``, when the
        caller should log that its backlog is full (a log throttle: real time)."""
        now_s = time.monotonic()
        if now_s - self._last_drop_log_s < BACKLOG_LOG_INTERVAL_S:
            return False
        self._last_drop_log_s = now_s
        return True

    def _wake(self) -> None:
        if not self._wake_pending:
            self._wake_pending = True
            try:
                os.write(self._wfd, b"\x01")
            except BlockingIOError:
                pass  # the pipe is full: the actor is already due to wake
