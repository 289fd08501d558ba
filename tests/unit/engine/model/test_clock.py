"""The clocks: a simulated one that moves only when told to and fires what comes due on the way,
in order, each at its own time; the live one's timers; a host driven by a simulated clock."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import msgspec
import pytest

from actors.base import Actor
from actors.host import ActorHost
from engine.config import Config
from engine.model.clock import LiveClock, SimClock
from ipc.messages import Tick

T0 = 1_795_148_100_000_000_000  # 2026-11-20 09:45 IST
S = 1_000_000_000


def test_simulated_time_stands_still_until_advanced() -> None:
    clock = SimClock(T0)
    fired: list[int] = []
    clock.call_later(0.5, lambda: fired.append(clock.now_ns()))
    assert (clock.now_ns(), clock.monotonic_ns(), fired) == (T0, T0, [])
    clock.advance_by(0.499)
    assert fired == []
    clock.advance_to(T0 + S)
    assert fired == [T0 + S // 2] and clock.now_ns() == T0 + S


def test_timers_fire_in_deadline_order_each_at_its_deadline_ties_in_the_order_set() -> None:
    clock = SimClock(T0)
    fired: list[tuple[str, int]] = []

    def note(name: str):  # type: ignore[no-untyped-def]
        return lambda: fired.append((name, clock.now_ns() - T0))

    clock.call_later(2.0, note("c"))
    clock.call_later(1.0, note("a"))
    clock.call_later(1.0, note("b"))
    clock.advance_to(T0 + 5 * S)
    assert fired == [("a", S), ("b", S), ("c", 2 * S)]


def test_a_timer_set_by_a_timer_fires_in_the_same_advance_when_it_is_due() -> None:
    clock = SimClock(T0)
    fired: list[int] = []
    clock.call_later(1.0, lambda: clock.call_later(0.0, lambda: fired.append(clock.now_ns() - T0)))
    clock.call_later(1.0, lambda: clock.call_later(3.0, lambda: fired.append(clock.now_ns() - T0)))
    clock.advance_to(T0 + 2 * S)
    assert fired == [S]  # the zero-delay one, at the moment it was set; the other is due at 4 s
    clock.advance_to(T0 + 4 * S)
    assert fired == [S, 4 * S]


def test_a_periodic_timer_fires_once_per_interval_until_cancelled() -> None:
    clock = SimClock(T0)
    fired: list[int] = []
    timer = clock.every(0.25, lambda: fired.append(clock.now_ns() - T0))
    clock.advance_to(T0 + S)
    assert fired == [S // 4, S // 2, 3 * S // 4, S]
    timer.cancel()
    clock.advance_to(T0 + 2 * S)
    assert len(fired) == 4 and clock.next_due_ns() is None
    with pytest.raises(ValueError, match="never lets time move on"):
        clock.every(0.0, lambda: None)


def test_simulated_time_never_goes_back() -> None:
    clock = SimClock(T0)
    fired: list[int] = []
    clock.call_later(0.0, lambda: fired.append(clock.now_ns()))
    clock.advance_to(T0 - S)  # what is due now fires; the clock stays
    assert fired == [T0] and clock.now_ns() == T0


def test_the_live_clock_runs_what_is_due_and_keeps_the_rest() -> None:
    clock = LiveClock()
    fired: list[str] = []
    clock.call_later(3600.0, lambda: fired.append("later"))
    clock.call_later(0.0, lambda: fired.append("now"))
    due = clock.next_due_ns()
    assert due is not None and due <= clock.monotonic_ns()
    clock.run_due()
    assert fired == ["now"]
    later = clock.next_due_ns()
    assert later is not None and later > clock.monotonic_ns()


# A host on a simulated clock --------------------------------------------------------------------

class _Seconds(Actor):
    """Notes the clock once a simulated second, and the clock when each tick arrives."""

    subscriptions = ("tick.",)
    notes: list[tuple[str, int]]

    def on_start(self) -> None:
        self.notes = []
        self.ctx.every(1.0, lambda: self.notes.append(("second", self.ctx.now_ns() - T0)))

    def on_tick(self, msg: Tick) -> None:
        self.notes.append(("tick", self.ctx.now_ns() - T0))


class _Source(Actor):
    pass


@pytest.fixture
def run_dir():
    path = Path(tempfile.mkdtemp(prefix="shk-clk-", dir="/tmp"))  # short: unix socket paths
    yield path
    shutil.rmtree(path, ignore_errors=True)


class _TestHost(ActorHost):
    def _install_signals(self) -> None:
        """Leave the test process's signal handlers alone."""


def _host(clock: SimClock, run_dir: Path, market_time: bool) -> ActorHost:
    cfg = Config()
    cfg = msgspec.structs.replace(cfg, engine=msgspec.structs.replace(
        cfg.engine, actors=["source", "seconds"], topology="co-located", colocated=["source", "seconds"]))
    return _TestHost("t", [("source", _Source), ("seconds", _Seconds)], ["source", "seconds"], cfg, run_dir / "data",
                     run_dir, clock=clock, market_time=market_time)


def test_market_time_moves_the_clock_to_each_ticks_exchange_time_after_the_timers_due_before_it(run_dir) -> None:
    clock = SimClock(T0)
    host = _host(clock, run_dir, market_time=True)
    assert host.start() == 0
    try:
        host.publish("source", b"tick.NSE_EQ.2885", Tick(1, 2885, 100, T0 + 2 * S + S // 2, T0))
        host.drain()
        assert host.actors["seconds"].notes == [("second", S), ("second", 2 * S), ("tick", 2 * S + S // 2)]
        host.publish("source", b"tick.NSE_EQ.2885", Tick(1, 2885, 100, T0 + S, T0))  # an older trade time
        host.drain()
        assert host.actors["seconds"].notes[-1] == ("tick", 2 * S + S // 2) and clock.now_ns() == T0 + 2 * S + S // 2
    finally:
        host.shutdown()


def test_a_simulated_host_runs_from_timer_to_timer_until_stopped(run_dir) -> None:
    clock = SimClock(T0)
    host = _host(clock, run_dir, market_time=False)
    clock.call_later(3600.0, lambda: host.request_stop("an hour later"))
    assert host.run() == 0  # returns at once: nothing is waited for
    assert clock.now_ns() == T0 + 3600 * S
    assert len([n for n in host.actors["seconds"].notes if n[0] == "second"]) == 3600


def test_market_time_needs_a_simulated_clock() -> None:
    with pytest.raises(ValueError, match="needs a SimClock"):
        ActorHost("t", [], [], Config(), Path("/nonexistent"), Path("/nonexistent"), market_time=True)
