"""Sliding-window rate limits: "at most ``limit`` events in any ``span_ns``", for one or more spans.

The one implementation behind risk's orders per second, the Dhan order-API limits (second,
minute, hour, day) and the supervisor's restarts in a window. Pure: every time is passed in, in
ns on one clock of the caller's choosing (epoch or monotonic); tests pass plain numbers.

An event at ``t`` is inside the window of span ``s`` at ``now`` while ``now - s < t``: it leaves
the window exactly ``s`` after it happened.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence


class RateWindow:
    """Times of recent events and the limits on them: ``(span_ns, limit)`` pairs.

    Events older than the longest span are forgotten. Not thread-safe: one loop owns it.
    """

    def __init__(self, limits: Iterable[tuple[int, int]]) -> None:
        self._events: deque[int] = deque()
        self.set_limits(limits)

    @property
    def limits(self) -> tuple[tuple[int, int], ...]:
        return self._limits

    def set_limits(self, limits: Iterable[tuple[int, int]]) -> None:
        """Replace the limits; the events seen so far are kept. Raises ValueError for no limit, or
        a span or limit that is not positive."""
        self._limits = tuple((int(span), int(limit)) for span, limit in limits)
        if not self._limits or any(span <= 0 or limit <= 0 for span, limit in self._limits):
            raise ValueError(f"rate window limits {self._limits}: need at least one, each span and limit > 0")
        self._max_span = max(span for span, _ in self._limits)

    def record(self, ts_ns: int, n: int = 1) -> None:
        """``n`` events happened at ``ts_ns`` (not earlier than any recorded before)."""
        for _ in range(n):
            self._events.append(ts_ns)

    def count(self, now_ns: int) -> int:
        """Events inside the longest span at ``now_ns``."""
        self._prune(now_ns)
        return len(self._events)

    def earliest_ns(self, now_ns: int) -> int:
        """When the next event is within every limit (``now_ns`` if now)."""
        self._prune(now_ns)
        return self._earliest(self._events, now_ns)

    def projected_ns(self, now_ns: int, ahead: int) -> int:
        """When an event with ``ahead`` events queued before it would happen, if each happens as
        early as the limits allow."""
        self._prune(now_ns)
        events = list(self._events)
        t = now_ns
        for _ in range(ahead + 1):
            t = self._earliest(events, t)
            events.append(t)
        return t

    def _earliest(self, events: Sequence[int], now_ns: int) -> int:
        t = now_ns
        n = len(events)
        for span, limit in self._limits:
            if n >= limit:  # the limit-th newest event must leave the window first
                t = max(t, events[n - limit] + span)
        return t

    def _prune(self, now_ns: int) -> None:
        # hot path (risk's per-second check): drop what every window has forgotten
        events = self._events
        horizon = now_ns - self._max_span
        while events and events[0] <= horizon:
            events.popleft()

