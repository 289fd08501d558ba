"""The actor host's loop waits for its next timer without spinning, and a daemon's host keeps the
garbage collector off what start-up built."""

from __future__ import annotations

import gc
from pathlib import Path

import msgspec
import pytest

from actors.base import Actor
from actors.host import ActorHost, poll_timeout_ms
from engine.config import Config

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


class _Idle(Actor):
    pass


def _tracked(obj: object) -> bool:
    """Whether the collector still scans ``obj`` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


@pytest.mark.parametrize("freeze", [True, False])
def test_a_daemon_host_freezes_what_survived_start_up_out_of_the_collectors_reach(tmp_path: Path,
                                                                                    freeze: bool) -> None:
    cfg = msgspec.structs.replace(Config(), engine=msgspec.structs.replace(Config().engine, actors=["idle"]))
    host = ActorHost("t", [("idle", _Idle)], ["idle"], cfg, tmp_path, tmp_path, freeze_gc=freeze)
    try:
        assert host.start() == 0
        actor = host.actors["idle"]
        assert _tracked(actor) is not freeze
        assert (gc.get_freeze_count() > 0) is freeze
        host.shutdown()
    finally:
        gc.unfreeze()  # the test process runs many hosts: give its objects back to the collector
