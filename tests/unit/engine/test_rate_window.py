"""engine.rate_window against a naive model: every event kept, windows counted from scratch."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.rate_window import RateWindow

S = 1_000_000_000


class Naive:
    """Every event ever recorded; "in the window of span s at now" is ``now - s < t <= now``."""

    def __init__(self, limits: list[tuple[int, int]]) -> None:
        self.limits = limits
        self.events: list[int] = []

    def inside(self, span: int, now: int, events: list[int] | None = None) -> int:
        return sum(1 for t in (self.events if events is None else events) if now - span < t <= now)

    def allowed(self, t: int, events: list[int]) -> bool:
        return all(self.inside(span, t, events) < limit for span, limit in self.limits)

    def earliest(self, now: int, events: list[int] | None = None) -> int:
        """Search forward in 1 ns steps over the only candidates: now and each event's exit."""
        events = self.events if events is None else events
        candidates = sorted({now} | {t + span for t in events for span, _ in self.limits if t + span > now})
        return next(c for c in candidates if self.allowed(c, events))

    def projected(self, now: int, ahead: int) -> int:
        events = list(self.events)
        t = now
        for _ in range(ahead + 1):
            t = self.earliest(t, events)
            events.append(t)
        return t


limit_sets = st.lists(st.tuples(st.integers(1, 50), st.integers(1, 5)), min_size=1, max_size=3)
steps = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 3)), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(limits=limit_sets, steps=steps, ahead=st.integers(0, 4))
def test_counts_earliest_and_projected_times_match_the_naive_model(
        limits: list[tuple[int, int]], steps: list[tuple[int, int]], ahead: int) -> None:
    window, naive = RateWindow(limits), Naive(limits)
    longest = max(span for span, _ in limits)
    now = 0
    for gap, n in steps:
        now += gap
        assert window.count(now) == naive.inside(longest, now)
        assert window.earliest_ns(now) == naive.earliest(now)
        assert window.projected_ns(now, ahead) == naive.projected(now, ahead)
        window.record(now, n)
        naive.events += [now] * n


def test_eleventh_order_in_a_second_waits_until_the_first_leaves_the_window() -> None:
    window = RateWindow([(S, 10)])
    for i in range(10):
        window.record(1000 * S + i)
    assert window.count(1000 * S + 9) == 10
    assert window.earliest_ns(1000 * S + 9) == 1001 * S
    assert window.count(1001 * S) == 9  # the first left exactly one span after it happened


def test_a_longer_window_holds_after_the_shorter_one_frees() -> None:
    window = RateWindow([(S, 10), (60 * S, 12)])
    for i in range(12):
        window.record(i * S // 5)
    assert window.earliest_ns(3 * S) == 60 * S


def test_changed_limits_keep_the_events_already_seen() -> None:
    window = RateWindow([(S, 10)])
    window.record(5, 3)
    window.set_limits([(S, 2)])
    assert window.count(6) == 3 and window.earliest_ns(6) == 5 + S


@pytest.mark.parametrize("limits", [[], [(0, 1)], [(S, 0)], [(-S, 5)]])
def test_no_limit_or_a_non_positive_span_or_limit_is_refused(limits: list[tuple[int, int]]) -> None:
    with pytest.raises(ValueError):
        RateWindow(limits)
