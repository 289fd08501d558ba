"""engine.backoff: the one exponential backoff (doubling, capped, optional jitter)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from engine.backoff import backoff_s


def test_without_jitter_the_wait_doubles_from_initial_until_the_cap() -> None:
    assert [backoff_s(n, 0.5, 5.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_without_a_cap_the_wait_keeps_doubling() -> None:
    assert [backoff_s(n, 0.2) for n in range(4)] == [0.2, 0.4, 0.8, 1.6]


def test_a_negative_attempt_counts_as_the_first() -> None:
    assert backoff_s(-1, 0.5, 30.0) == 0.5


def test_a_huge_attempt_is_the_cap_not_an_overflow() -> None:
    assert backoff_s(10**6, 0.5, 30.0) == 30.0
    assert backoff_s(10**6, 0.5, 30.0, random.Random(1)) <= 30.0


@given(attempt=st.integers(0, 200), initial=st.floats(1e-3, 10.0), cap=st.floats(1e-3, 600.0),
       seed=st.integers(0, 2**32))
def test_jitter_stays_in_the_upper_half_of_the_capped_wait(attempt: int, initial: float, cap: float,
                                                           seed: int) -> None:
    base = backoff_s(attempt, initial, cap)
    assert base == min(cap, initial * 2.0 ** min(attempt, 64))
    delay = backoff_s(attempt, initial, cap, random.Random(seed))
    assert base / 2 <= delay <= base


def test_jitter_spreads_clients_that_failed_together() -> None:
    rng = random.Random(7)
    delays = {backoff_s(3, 0.5, 30.0, rng) for _ in range(50)}
    assert len(delays) == 50 and min(delays) < 3.0 < max(delays)


def test_the_same_seed_gives_the_same_waits() -> None:
    a, b = random.Random(42), random.Random(42)
    assert [backoff_s(n, 0.5, 30.0, a) for n in range(10)] == [backoff_s(n, 0.5, 30.0, b) for n in range(10)]
