"""The supervisor's stop on a slow machine, with the units' processes simulated: a unit whose
restart (a fork in a worker thread) is still under way when the stop begins is stopped in its
turn, never left running behind the stop."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import trio

from engine.config import RestartConfig
from engine.daemon.supervisor import Supervisor
from ipc.messages import StopActor
from tests.support.config import daemon_config, engine_section

UNITS = ("source", "relay", "sink")
IDLE_CHILD = [sys.executable, "-c", "import signal; signal.pause()"]  # a unit that waits to be stopped


async def _until(predicate: Callable[[], bool]) -> None:
    """``tests.support.wait.eventually`` for a trio task: checks again at every short pause."""
    while not predicate():
        await trio.sleep(0.005)


def _supervisor(tmp_path: Path) -> Supervisor:
    cfg = daemon_config(engine=engine_section(
        list(UNITS), topology="isolated", stop_timeout_s=30.0,
        restart=RestartConfig(backoff_initial_s=0.0, backoff_max_s=0.0, max_restarts=100, window_s=30.0),
        actor_classes={name: "tests.support.actors:Sink" for name in UNITS}))
    return Supervisor(cfg, tmp_path / "data", tmp_path / "run", "test")


def test_a_unit_whose_restart_is_under_way_when_the_stop_begins_is_stopped_in_its_turn(tmp_path: Path) -> None:
    sup = _supervisor(tmp_path)
    release_fork = trio.Event()
    asked_to_stop: list[str] = []

    async def spawn(us) -> None:  # the real spawn, the relay's fork held as long as the test wants
        us.reset_for_spawn()
        if us.unit.name == "relay":
            await release_fork.wait()
        us.process = await trio.lowlevel.open_process(IDLE_CHILD)

    def command(actor: str, msg: object) -> None:  # the unit takes StopActor and exits
        if isinstance(msg, StopActor):
            asked_to_stop.append(actor)
            sup.by_actor[actor].process.terminate()

    sup._spawn = spawn  # type: ignore[method-assign]
    sup._command = command  # type: ignore[method-assign]

    async def main() -> None:
        sup._stop_requested = trio.Event()
        relay = sup.by_actor["relay"]
        with trio.fail_after(30):  # a unit left running behind the stop keeps its _run_unit waiting
            async with trio.open_nursery() as nursery:
                for us in sup.units:
                    nursery.start_soon(sup._run_unit, us)
                await _until(lambda: sup.by_actor["source"].process is not None
                             and sup.by_actor["sink"].process is not None)
                sup.request_stop("SIGTERM")
                nursery.start_soon(sup._stop_units)
                # The stop has come to the relay (and waits for its fork) or has gone past it.
                await _until(lambda: relay.spawning.statistics().tasks_waiting > 0 or "sink" in asked_to_stop)
                release_fork.set()  # the relay's fork completes while the stop is under way
        # Every _run_unit returned: each unit's process was stopped and waited for.

    try:
        trio.run(main)
    finally:
        for us in sup.units:  # nothing outlives a failed test
            if us.process is not None and us.process.returncode is None:
                us.process.kill()
        os.close(sup._lifeline_r)
        os.close(sup._lifeline_w)
    assert asked_to_stop == list(UNITS)
    assert all(us.process is not None and us.process.returncode is not None for us in sup.units)
    assert [us.state for us in sup.units] == ["stopped"] * 3
