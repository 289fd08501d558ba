"""The actor host's loop waits for its next timer without spinning."""

from __future__ import annotations

from actors.host import poll_timeout_ms

NOW = 5_000_000_000


def test_a_timer_less_than_a_millisecond_away_is_waited_for_not_polled_for() -> None:
    assert poll_timeout_ms(NOW + 1, NOW) == 1
    assert poll_timeout_ms(NOW + 400_000, NOW) == 1
    assert poll_timeout_ms(NOW + 999_999, NOW) == 1


def test_a_wait_is_rounded_up_to_whole_milliseconds() -> None:
    assert poll_timeout_ms(NOW + 1_000_000, NOW) == 1
    assert poll_timeout_ms(NOW + 1_000_001, NOW) == 2
    assert poll_timeout_ms(NOW + 2_100_000, NOW) == 3


def test_a_due_or_late_timer_does_not_wait() -> None:
    assert poll_timeout_ms(NOW, NOW) == 0
    assert poll_timeout_ms(NOW - 1, NOW) == 0
    assert poll_timeout_ms(NOW - 7_500_000, NOW) == 0
