"""The execution actor on a live venue (Dhan or Kite) against its loopback fake, driven in this
process as the host would drive it: the venue's replies polled, what is due run, until a condition
holds. The venue tests build their own config and context and subclass this."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.execution.actor import ExecutionActor
from tests.support.wait import eventually, stepping

SAFETY_TIMEOUT_S = 15.0  # a hung test fails here; nothing is asserted about speed


class LiveExecution:
    def __init__(self, ctx: Any, fake: Any) -> None:
        self.fake = fake
        self.ctx = ctx
        self.actor = ExecutionActor(ctx)
        self.actor.on_start()
        self.seq = 0

    @property
    def ledger(self) -> Any:
        return self.actor.ledger

    def close(self) -> None:
        self.actor.on_stop()

    def until(self, done: Callable[[], bool], what: str = "condition") -> None:
        """Poll the venue and run what is due (as the host would) until ``done`` holds."""
        def turn() -> None:
            self.actor._poll_venue()
            self.ctx.run_soon()

        eventually(stepping(turn, done), what, SAFETY_TIMEOUT_S, poll_s=0.005)
