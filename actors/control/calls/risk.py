"""RiskService: the trading state, the kill switch (through the supervisor), the run-time risk
limits and square-off (through risk). A mixin of :class:`actors.control.service.ControlApi`.

A command goes to the actor that owns the state and is answered by its Reply; the call then
waits until the ledger (and the supervisor's status) show the change, so a read right after the
answer sees it.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import grpc
import msgspec

from actors.control import convert
from actors.control.auth import Principal
from actors.control.convert import Refusal
from actors.control.peers import RISK
from actors.host import SUPERVISOR
from actors.risk.overrides import BadLimits, effective_limits, limits_json, merge_changes, parse_update
from engine.control_api import control_pb2 as pb
from ipc.messages import (
    EngageKillSwitch,
    ReleaseKillSwitch,
    Reply,
    RiskLimitsKept,
    SetRiskLimits,
    SquareOffAll,
    TradingState,
)

if TYPE_CHECKING:
    from actors.control.service import ControlApi


def _changes(kept: RiskLimitsKept) -> dict[str, Any]:
    return msgspec.json.decode(kept.changes_json, type=dict[str, Any])  # risk encoded it: valid JSON


class RiskCalls:
    """Mixed into ControlApi (``self`` is the API)."""

    async def get_risk_state(self: ControlApi, who: Principal, req: pb.GetRiskStateRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            state = snap.trading_state()
        kill_switch = self.peers.kill_switch()
        if isinstance(kill_switch, Refusal):
            return kill_switch
        return convert.risk_state_to_pb(state, kill_switch, self.peers.usage)  # usage: None until risk's first

    async def _supervisor(self: ControlApi, msg: EngageKillSwitch | ReleaseKillSwitch) -> Reply | Refusal:
        try:
            reply = await self.bridge.ask(lambda done: self.engine.start_command(SUPERVISOR, msg, done),
                                          self.timeout_s)
        except TimeoutError:
            self.bridge.post(lambda: self.engine.forget_command(msg.cmd_id))
            return Refusal(grpc.StatusCode.UNAVAILABLE, f"the supervisor did not answer within {self.timeout_s}s")
        if not reply.ok:
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION,
                           f"the supervisor refused: {reply.code} {reply.detail}".strip())
        return reply

    def _kill_switch_engaged(self: ControlApi) -> bool | None:
        """The supervisor's kill switch as last published (None: no status yet)."""
        status = self.peers.status
        return None if status is None else status.kill_switch.engaged

    async def engage_kill_switch(self: ControlApi, who: Principal, req: pb.EngageKillSwitchRequest) -> Any:
        reason = req.reason.strip()
        if not reason:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "reason is required: say why trading must stop")
        now = self.engine.now_ns()
        by = f"control:{who.name}"
        reply = await self._supervisor(EngageKillSwitch(uuid.uuid4().hex, reason, by, now))
        if isinstance(reply, Refusal):
            return reply
        # Answer once risk has recorded HALTED (from then on every new order is refused) and the
        # supervisor's status says engaged (GetStatus right after this call shows it).
        halted = await self._wait_ledger(lambda s: True if s.trading_state().state == TradingState.HALTED
                                         and self._kill_switch_engaged() is True else None, self.timeout_s)
        if halted is None:
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED,
                           f"the supervisor engaged the kill switch but risk has not recorded HALTED within "
                           f"{self.timeout_s}s")
        return pb.EngageKillSwitchResponse(kill_switch=pb.KillSwitch(engaged=True, reason=reason, by=by, ts_ns=now))

    async def release_kill_switch(self: ControlApi, who: Principal, req: pb.ReleaseKillSwitchRequest) -> Any:
        now = self.engine.now_ns()
        by = f"control:{who.name}"
        reply = await self._supervisor(ReleaseKillSwitch(uuid.uuid4().hex, by, now))
        if isinstance(reply, Refusal):
            return reply
        released = await self._wait_ledger(lambda s: True if s.trading_state().state != TradingState.HALTED
                                           and self._kill_switch_engaged() is False else None, self.timeout_s)
        if released is None:
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED,
                           f"the supervisor released the kill switch but risk still records HALTED after "
                           f"{self.timeout_s}s")
        return pb.ReleaseKillSwitchResponse(kill_switch=pb.KillSwitch(engaged=False, by=by, ts_ns=now))

    async def square_off_all(self: ControlApi, who: Principal, req: pb.SquareOffAllRequest) -> Any:
        if not req.confirm:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "confirm must be true: square-off closes every open "
                                                             "position at market")
        strategy = req.strategy.strip()
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            positions = [p for p in snap.positions().values()
                         if p.net_qty_units and (not strategy or p.strategy == strategy)]
            cancelled = sorted(coid for coid, o in snap.open_orders().items()
                               if not strategy or o.strategy == strategy)
        reply = await self._command(RISK, SquareOffAll(uuid.uuid4().hex, f"control:{who.name}", self.engine.now_ns(),
                                                       strategy), "the square-off")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return convert.code_refusal(reply.code, reply.detail)
        return pb.SquareOffAllResponse(
            positions=[convert.position_to_pb(p, self._symbol(p.segment, p.security_id)) for p in positions],
            cancelled_client_order_ids=cancelled)

    def _config_limits(self: ControlApi) -> Any:
        return self.config_limits

    async def get_risk_limits(self: ControlApi, who: Principal, req: pb.GetRiskLimitsRequest) -> Any:
        kept = self.peers.limit_changes()
        if isinstance(kept, Refusal):
            return kept
        try:
            limits = effective_limits(self._config_limits(), _changes(kept))
        except BadLimits as exc:
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION, f"the run-time limit changes do not apply: {exc}")
        return pb.GetRiskLimitsResponse(limits_json=limits_json(limits), changes_json=kept.changes_json,
                                        changed_by=kept.by, changed_ns=kept.ts_ns)

    async def set_risk_limits(self: ControlApi, who: Principal, req: pb.SetRiskLimitsRequest) -> Any:
        kept = self.peers.limit_changes()
        if isinstance(kept, Refusal):
            return kept
        try:  # refused here with the key named, before the engine sees it (risk checks again)
            update = parse_update(req.changes_json)
            changes = merge_changes(_changes(kept), update)
            effective_limits(self._config_limits(), changes)
        except BadLimits as exc:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"BAD_LIMITS: {exc}")
        reply = await self._command(RISK, SetRiskLimits(uuid.uuid4().hex, req.changes_json, f"control:{who.name}",
                                                        self.engine.now_ns()), "the limit change")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return convert.code_refusal(reply.code, reply.detail)
        # Risk merged the same update into the same kept changes (it publishes them at once after a
        # change, so the copy here is current unless two operators change limits in the same instant).
        return pb.SetRiskLimitsResponse(limits_json=reply.detail, changes_json=msgspec.json.encode(changes).decode())
