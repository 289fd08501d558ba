"""`shikra status` text: the kill switch line names the actors whose hosts have not yet obeyed it."""

from __future__ import annotations

from engine.daemon.status import render_status
from ipc.messages import ActorStatus, DaemonStatus, KillSwitchStatus

NOW_NS = 1_800_000_000_000_000_000


def status(engaged: bool, obeyed: dict[str, bool]) -> DaemonStatus:
    actors = [ActorStatus(name, name, 100 + i, "ready", NOW_NS, 0, NOW_NS, kill_switch_engaged=ok)
              for i, (name, ok) in enumerate(obeyed.items())]
    return DaemonStatus(1, "running", NOW_NS, NOW_NS, "isolated", "/tmp/d",
                        KillSwitchStatus(engaged, "restart storm", "supervisor", NOW_NS), actors)


def test_an_engaged_switch_names_the_actors_not_yet_obeying_it() -> None:
    text = render_status(status(True, {"risk": True, "execution": False, "feed": False}), NOW_NS)
    assert "ENGAGED (restart storm, by supervisor)" in text
    assert "not yet obeyed by: execution, feed" in text


def test_no_such_line_once_every_actor_obeys_or_while_released() -> None:
    assert "not yet obeyed" not in render_status(status(True, {"risk": True, "execution": True}), NOW_NS)
    assert "not yet obeyed" not in render_status(status(False, {"risk": False}), NOW_NS)
