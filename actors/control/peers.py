"""What the control actor knows of the other processes' state: the latest ``supervisor.status``,
``risk.usage`` and ``risk.limits`` messages. Actors learn each other's state from messages, never from each
other's files (``<run_dir>/status.json`` is the CLI's, for when no daemon answers).

Written on the actor loop (the handlers in ``actors.control.actor``), read on the gRPC thread:
each copy is one immutable message, replaced whole, so a reader sees the old one or the new one.
"""

from __future__ import annotations

import grpc

from actors.control.convert import Refusal
from ipc.messages import DaemonStatus, KillSwitchStatus, Position, RiskLimitsKept, RiskUsage

# The actors control sends commands to, by name (the supervisor's name is actors.host.SUPERVISOR).
EXECUTION = "execution"
RISK = "risk"
STRATEGY = "strategy"


class Peers:
    """The latest status each peer published (None until its first message arrives)."""

    def __init__(self) -> None:
        self.status: DaemonStatus | None = None
        self.usage: RiskUsage | None = None
        self.limits: RiskLimitsKept | None = None
        # The last mark of each instrument a position is held in, from execution's marked
        # positions ((segment, security id) -> paise): the unrealised part of GetDayPnl.
        self.marks: dict[tuple[int, int], int] = {}

    def take_mark(self, position: Position) -> None:
        """A position execution published, marked to its venue's book: unrealised = units x mark -
        open cost, so the mark is (unrealised + cost) / units (floor, to the paisa)."""
        if position.net_qty_units:
            self.marks[(position.segment, position.security_id)] = (
                (position.unrealised_pnl_paise + position.open_cost_paise) // position.net_qty_units)

    def daemon_status(self) -> DaemonStatus | Refusal:
        """The supervisor's status, or UNAVAILABLE until its first one has arrived (it publishes
        once a second, so at most a second after this actor started)."""
        status = self.status
        if status is None:
            return Refusal(grpc.StatusCode.UNAVAILABLE, "no supervisor status received yet (it is published "
                                                        "once a second); try again")
        return status

    def limit_changes(self) -> RiskLimitsKept | Refusal:
        """Risk's kept run-time limit changes, or UNAVAILABLE until risk has published them (at
        its first second, then every few seconds and at once after a change)."""
        kept = self.limits
        if kept is None:
            return Refusal(grpc.StatusCode.UNAVAILABLE, "risk has not published its limit changes yet (it does "
                                                        "every few seconds); try again")
        return kept

    def kill_switch(self) -> KillSwitchStatus | Refusal:
        status = self.daemon_status()
        return status if isinstance(status, Refusal) else status.kill_switch

    def not_ready(self, names: tuple[str, ...], what: str) -> Refusal | None:
        """UNAVAILABLE naming the first of ``names`` the supervisor does not report ready (or
        while no status has arrived): ``what`` was not sent."""
        status = self.status
        if status is None:
            return Refusal(grpc.StatusCode.UNAVAILABLE, f"the engine is starting (no supervisor status received "
                                                        f"yet); {what} was not sent")
        states = {a.name: a.state for a in status.actors}
        for name in names:
            state = states.get(name, "not running")
            if state != "ready":
                return Refusal(grpc.StatusCode.UNAVAILABLE, f"{name} is {state}; {what} was not sent")
        return None
