"""A real (tiny) actor loop for tests of code that runs on an actor's loop from other threads (the
live feed sources): selectors on watched fds and a timer heap, like ``actors.host``, with the
``ActorContext`` surface those sources use (``log``, ``call_later``, ``every``, ``watch_fd``,
``unwatch_fd``)."""

from __future__ import annotations

import heapq
import itertools
import selectors
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.support.wait import eventually, stepping


class LogCapture:
    """ctx.log: keeps every event with its raw (unmasked) fields; thread-safe."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def _add(self, level: str, event: str, fields: dict[str, Any]) -> None:
        with self._lock:
            self.records.append((level, event, fields))

    def debug(self, event: str, **fields: Any) -> None:
        self._add("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._add("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._add("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._add("error", event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._add("error", event, fields)

    def events(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [f for _, e, f in self.records if e == name]

    def lines(self) -> list[str]:
        with self._lock:
            return [f"{lvl} {e} " + " ".join(f"{k}={v}" for k, v in f.items()) for lvl, e, f in self.records]


class _Timer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class MiniLoop:
    """The ActorContext surface the live feed sources use, on a real selectors loop."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.timers: list[tuple[float, int, _Timer, float, Callable[[], None]]] = []
        self.seq = itertools.count()
        self.log = LogCapture()

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> _Timer:
        t = _Timer()
        heapq.heappush(self.timers, (time.monotonic() + delay_s, next(self.seq), t, 0.0, fn))
        return t

    def every(self, interval_s: float, fn: Callable[[], None]) -> _Timer:
        t = _Timer()
        heapq.heappush(self.timers, (time.monotonic() + interval_s, next(self.seq), t, interval_s, fn))
        return t

    def watch_fd(self, fd: int, fn: Callable[[], None]) -> None:
        self.sel.register(fd, selectors.EVENT_READ, fn)

    def unwatch_fd(self, fd: int) -> None:
        self.sel.unregister(fd)

    def run_until(self, predicate: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
        """Run the loop (ready fds, due timers) until ``predicate`` holds."""
        eventually(stepping(self._turn, predicate), what, timeout_s,
                   lambda: "log:\n" + "\n".join(self.log.lines()[-20:]), poll_s=0)

    def _turn(self) -> None:
        """One turn: wait for a ready fd at most until the next timer (50 ms at most), then run what is due."""
        wait = min(0.05, max(0.0, self.timers[0][0] - time.monotonic()) if self.timers else 0.05)
        for key, _ in self.sel.select(wait):
            key.data()
        while self.timers and self.timers[0][0] <= time.monotonic():
            due, _, t, interval, fn = heapq.heappop(self.timers)
            if t.cancelled:
                continue
            fn()
            if interval:
                heapq.heappush(self.timers, (due + interval, next(self.seq), t, interval, fn))
