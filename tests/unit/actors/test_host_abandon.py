"""The actor host on a simulated clock: real I/O served with the clock held (``poll_io``), a hook
after each timer (``advance_clock``), and an actor dropped as ``kill -9`` drops a process
(``abandon``) and started afresh (``restart_actor``)."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.base import Actor
from actors.host import ActorHost
from engine.model.clock import SimClock
from ipc.messages import Ping
from tests.support.sim import sim_config

START_NS = 1_800_000_000 * 1_000_000_000
NS_PER_S = 1_000_000_000


class Worker(Actor):
    """Counts its timer's calls, reads its fd, and records messages and stops, per instance."""

    instances: list["Worker"] = []
    pair: tuple[socket.socket, socket.socket]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.ticks = 0
        self.read: list[bytes] = []
        self.pings: list[str] = []
        self.stopped = False
        Worker.instances.append(self)

    def on_start(self) -> None:
        self.ctx.every(1.0, self._tick)
        self.ctx.call_later(5.0, self._tick)
        self.ctx.watch_fd(Worker.pair[0].fileno(), self._on_readable)

    def _tick(self) -> None:
        self.ticks += 1

    def _on_readable(self) -> None:
        self.read.append(Worker.pair[0].recv(64))

    def on_ping(self, msg: Ping) -> None:
        self.pings.append(msg.cmd_id)

    def on_stop(self) -> None:
        self.stopped = True


@pytest.fixture
def host() -> Iterator[ActorHost]:
    Worker.instances = []
    Worker.pair = socket.socketpair()
    run_dir = Path(tempfile.mkdtemp(prefix="shk-host-", dir="/dev/shm" if Path("/dev/shm").is_dir() else "/tmp"))
    h = ActorHost("t", [("worker", Worker)], ["worker"], sim_config(["worker"]), run_dir, run_dir,
                  clock=SimClock(START_NS))
    assert h.start() == 0
    try:
        yield h
    finally:
        h.shutdown()
        for s in Worker.pair:
            s.close()
        shutil.rmtree(run_dir, ignore_errors=True)


def test_poll_io_serves_a_readable_fd_while_simulated_time_stands(host: ActorHost) -> None:
    worker = Worker.instances[0]
    Worker.pair[1].send(b"frame")
    assert host.poll_io(1000) == 1
    assert worker.read == [b"frame"]
    assert host.clock.now_ns() == START_NS and worker.ticks == 0
    assert host.poll_io(0) == 0  # nothing more to read


def test_an_abandoned_actor_gets_no_timer_fd_or_message_and_is_not_stopped(host: ActorHost) -> None:
    old = Worker.instances[0]
    host.advance_clock(START_NS + 2 * NS_PER_S)
    assert old.ticks == 2
    assert host.abandon("worker") is old
    host.advance_clock(START_NS + 10 * NS_PER_S)  # its periodic and its one-shot timer were due
    Worker.pair[1].send(b"lost")
    assert host.poll_io(0) == 0
    host.send("t", "worker", Ping("p1", "test"))
    host.drain()
    assert (old.ticks, old.read, old.pings, old.stopped) == (2, [], [], False)


def test_a_restarted_actor_is_a_fresh_instance_that_works_and_stops(host: ActorHost) -> None:
    old = Worker.instances[0]
    host.abandon("worker")
    assert host.restart_actor("worker") == 0
    with pytest.raises(ValueError, match="running"):
        host.restart_actor("worker")
    new = host.actors["worker"]
    assert new is not old and new is Worker.instances[1]
    host.advance_clock(START_NS + 3 * NS_PER_S)
    Worker.pair[1].send(b"again")
    host.poll_io(1000)
    host.send("t", "worker", Ping("p2", "test"))
    host.drain()
    assert (new.ticks, new.read, new.pings) == (3, [b"again"], ["p2"])
    assert old.ticks == 0 and old.read == []
    host.shutdown()
    assert new.stopped and not old.stopped


def test_advance_clock_calls_after_each_timer_with_the_clock_at_its_deadline(host: ActorHost) -> None:
    seen: list[int] = []
    host.advance_clock(START_NS + 3 * NS_PER_S, lambda: seen.append(host.clock.now_ns()))
    assert seen == [START_NS + n * NS_PER_S for n in (1, 2, 3)]
