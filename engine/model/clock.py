"""Time for the engine: one interface, a live clock and a simulated one.

Actors read time only through their context, which asks the host's clock; their timers are
scheduled on the same clock. A :class:`LiveClock` is the machine's: wall time for timestamps,
monotonic time for timers and durations. A :class:`SimClock` stands still until its owner (a
backtest, a test, a rehearsal of a trading day) moves it with :meth:`SimClock.advance_to` or
:meth:`SimClock.advance_by`; the timers that come due on the way fire in deadline order (timers due
at the same moment in the order they were set), each with the clock reading its deadline, so that
a rule judged by the clock sees the moment it was meant for.

Timers run through ``fire``, which the host passes in: it calls the function, catches and logs
what it raises, and delivers what it sent before the next timer fires.
"""

from __future__ import annotations

import heapq
import itertools
import time
from typing import Callable, Protocol

from engine.model.ist import NS_PER_S


Fire = Callable[[Callable[[], None]], None]


def _call(fn: Callable[[], None]) -> None:
    fn()


class Timer:
    """A scheduled call: ``cancel()`` stops it (a periodic one for good)."""

    __slots__ = ("deadline_ns", "interval_ns", "fn", "cancelled")

    def __init__(self, deadline_ns: int, interval_ns: int, fn: Callable[[], None]) -> None:
        self.deadline_ns = deadline_ns  # on the clock's monotonic scale
        self.interval_ns = interval_ns  # 0: a one-shot
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Clock(Protocol):
    """What actors and their host read time from."""

    def now_ns(self) -> int:
        """Wall time: nanoseconds since the Unix epoch, UTC (timestamps, sessions, IST days)."""
        ...

    def monotonic_ns(self) -> int:
        """Nanoseconds on a scale that never goes back (durations, timeouts, timers)."""
        ...

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        """Call ``fn`` once, ``delay_s`` seconds from now (0: as soon as the host gets to it)."""
        ...

    def every(self, interval_s: float, fn: Callable[[], None]) -> Timer:
        """Call ``fn`` every ``interval_s`` seconds, the first time one interval from now."""
        ...

    def next_due_ns(self) -> int | None:
        """The deadline (monotonic scale) of the earliest timer, None when none is set."""
        ...

    def run_due(self, fire: Fire = _call) -> None:
        """Fire every timer due now, in deadline order."""
        ...


class _Timers:
    """A heap of timers ordered by (deadline, order of setting)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = itertools.count()

    def add(self, now_ns: int, delay_s: float, interval_s: float, fn: Callable[[], None]) -> Timer:
        timer = Timer(now_ns + max(0, int(delay_s * NS_PER_S)), int(interval_s * NS_PER_S), fn)
        self.push(timer)
        return timer

    def push(self, timer: Timer) -> None:
        heapq.heappush(self._heap, (timer.deadline_ns, next(self._seq), timer))

    def next_due_ns(self) -> int | None:
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, until_ns: int) -> Timer | None:
        """The earliest live timer due at or before ``until_ns`` (taken off the heap), or None."""
        heap = self._heap
        while heap and heap[0][0] <= until_ns:
            timer = heapq.heappop(heap)[2]
            if not timer.cancelled:
                return timer
        return None


class LiveClock:
    """The machine's clock. Timers are due on the monotonic clock: a step of the wall clock
    (NTP, a leap second) neither fires them early nor holds them back."""

    # The time module's own functions: reading the clock costs what time.time_ns() costs (hot path).
    now_ns = staticmethod(time.time_ns)
    monotonic_ns = staticmethod(time.monotonic_ns)

    def __init__(self) -> None:
        self._timers = _Timers()

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        return self._timers.add(time.monotonic_ns(), delay_s, 0.0, fn)

    def every(self, interval_s: float, fn: Callable[[], None]) -> Timer:
        return self._timers.add(time.monotonic_ns(), interval_s, interval_s, fn)

    def next_due_ns(self) -> int | None:
        return self._timers.next_due_ns()

    def run_due(self, fire: Fire = _call) -> None:
        now = time.monotonic_ns()
        timers = self._timers
        while (timer := timers.pop_due(now)) is not None:
            fire(timer.fn)
            if timer.interval_ns and not timer.cancelled:
                # A periodic timer that fell behind (a long handler) runs once, not once per
                # interval missed.
                timer.deadline_ns = max(timer.deadline_ns + timer.interval_ns, now)
                timers.push(timer)


class SimClock:
    """A clock that moves only when told to. ``now_ns`` and ``monotonic_ns`` read the same
    simulated instant (epoch ns, UTC); time never goes back.

    Deterministic: the same start, the same timers and the same advances fire the same calls in
    the same order at the same simulated times. A periodic timer fires once for every interval
    that passes (a day of a one-second timer is 86,400 calls: keep intervals sensible)."""

    def __init__(self, start_ns: int) -> None:
        self._now = int(start_ns)
        self._timers = _Timers()

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._now

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        return self._timers.add(self._now, delay_s, 0.0, fn)

    def every(self, interval_s: float, fn: Callable[[], None]) -> Timer:
        if interval_s <= 0:
            raise ValueError(f"SimClock.every: interval {interval_s} s never lets time move on")
        return self._timers.add(self._now, interval_s, interval_s, fn)

    def next_due_ns(self) -> int | None:
        return self._timers.next_due_ns()

    def run_due(self, fire: Fire = _call) -> None:
        self.advance_to(self._now, fire)

    def advance_to(self, t_ns: int, fire: Fire = _call) -> None:
        """Move to ``t_ns``, firing on the way every timer due by then (timers those set too),
        each with the clock at its deadline. A ``t_ns`` before now fires what is due now and
        leaves the clock where it is."""
        timers = self._timers
        while (timer := timers.pop_due(max(t_ns, self._now))) is not None:
            if timer.deadline_ns > self._now:
                self._now = timer.deadline_ns
            fire(timer.fn)
            if timer.interval_ns and not timer.cancelled:
                timer.deadline_ns += timer.interval_ns
                timers.push(timer)
        if t_ns > self._now:
            self._now = t_ns

    def advance_by(self, seconds: float, fire: Fire = _call) -> None:
        """``advance_to`` ``seconds`` from now."""
        self.advance_to(self._now + int(seconds * NS_PER_S), fire)
