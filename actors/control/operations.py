"""The operator's calls beyond placing and cancelling: modify, square-off, risk limits, strategies,
journal and the actor list. A mixin of :class:`actors.control.service.ControlApi` (it uses the
API's ledger snapshot, bridge and status helpers); runs on the gRPC thread's loop.

Each command goes to the actor that owns the state (risk for limits, square-off and the modify
check; strategy for strategies) and is answered by its Reply. Before sending, the owner must be
up: a DEALER queues for a peer that is away, and a command the caller gave up on must not take
effect minutes later.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import grpc
import msgspec

from actors.control import convert
from actors.control.auth import Principal
from actors.control.convert import Refusal
from actors.risk.overrides import BadLimits, effective_limits, limits_json, merge_changes, parse_update
from engine.control_api import control_pb2 as pb
from engine.ledger import LedgerSnapshot
from engine.model.journal import build_journal, iter_fills
from ipc.messages import (
    ListStrategies,
    Message,
    ModifyOrder,
    OrderState,
    RiskLimitsKept,
    SetRiskLimits,
    SetStrategyParams,
    SetStrategyRunning,
    SquareOffAll,
    StrategyInfo,
    StrategyList,
)

if TYPE_CHECKING:
    from actors.control.service import ControlApi

RISK = "risk"
STRATEGY = "strategy"


def _changes(kept: RiskLimitsKept) -> dict[str, Any]:
    return msgspec.json.decode(kept.changes_json, type=dict[str, Any])  # risk encoded it: valid JSON


class Operations:
    """Mixed into ControlApi (``self`` is the API)."""

    # Helpers ------------------------------------------------------------------------------------
    async def _command(self: "ControlApi", target: str, msg: Message, what: str) -> Any:
        """Send a command with a ``cmd_id`` to ``target`` and return its answer (a Reply or a
        StrategyList), or a Refusal when the target is down or does not answer in time."""
        down = self.peers.not_ready((target,), what)
        if down is not None:
            return down
        cmd_id = msg.cmd_id  # type: ignore[attr-defined]
        try:
            return await self.bridge.ask(lambda done: self.engine.start_command(target, msg, done), self.timeout_s)
        except TimeoutError:
            self.bridge.post(lambda: self.engine.forget_command(cmd_id))
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED, f"{target} did not answer {what} within "
                                                              f"{self.timeout_s}s; check before asking again")

    # Actors -------------------------------------------------------------------------------------
    async def list_actors(self: "ControlApi", who: Principal, req: pb.ListActorsRequest) -> Any:
        status = self.peers.daemon_status()
        if isinstance(status, Refusal):
            return status
        full = convert.status_to_pb(status)
        return pb.ListActorsResponse(actors=list(full.actors), updated_ns=full.updated_ns)

    # Modify -------------------------------------------------------------------------------------
    async def modify_order(self: "ControlApi", who: Principal, req: pb.ModifyOrderRequest) -> Any:
        coid = req.client_order_id.strip()
        for name in ("qty_units", "price_paise", "trigger_price_paise"):
            if getattr(req, name) < 0:
                return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"{name} {getattr(req, name)} must not be negative "
                                                                 "(0 leaves it unchanged)")
        order = self._open_order(coid, "it cannot be modified")
        if isinstance(order, Refusal):
            return order
        if order.state in (OrderState.PENDING_UPDATE, OrderState.PENDING_CANCEL):
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION, f"order {coid} is {order.state.value}: wait for the "
                                                                "venue's answer to the previous request")
        spec = order.spec
        qty = req.qty_units or spec.qty_units
        price = req.price_paise or spec.price_paise
        trigger = req.trigger_price_paise or spec.trigger_price_paise
        if (qty, price, trigger) == (spec.qty_units, spec.price_paise, spec.trigger_price_paise):
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"nothing to change: order {coid} already has qty {qty}, "
                                                             f"price {price}, trigger {trigger} paise")
        inst = self.instruments.get(spec.segment, spec.security_id)
        if inst is None:
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION, f"UNKNOWN_INSTRUMENT: order {coid} is for "
                                                                f"{spec.segment}:{spec.security_id}, which the "
                                                                "instrument master no longer lists")
        invalid = convert.order_refusal(msgspec.structs.replace(spec, qty_units=qty, price_paise=price,
                                                                trigger_price_paise=trigger), inst)
        if invalid is not None:
            return invalid
        sent_ns = self.engine.now_ns()
        msg = ModifyOrder(uuid.uuid4().hex, coid, qty, price, trigger, f"control:{who.name}", sent_ns)
        reply = await self._command(RISK, msg, f"the modification of {coid}")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return convert.code_refusal(reply.code, reply.detail)

        def answered(s: LedgerSnapshot) -> Any:
            o = s.order(coid)
            if o is None or o.state is OrderState.PENDING_UPDATE or o.ts_event_ns < sent_ns:
                return None
            return o

        final = await self._wait_ledger(answered, self.timeout_s)
        if final is None:
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED, f"the venue did not answer the modification of {coid} "
                                                              f"within {self.timeout_s}s; `shikra orders {coid}` "
                                                              "shows where it is")
        done = final.spec
        modified = (done.qty_units, done.price_paise, done.trigger_price_paise) == (qty, price, trigger)
        return pb.ModifyOrderResponse(order=convert.order_to_pb(final, self._symbol(done.segment, done.security_id)),
                                      modified=modified)

    # Square-off ---------------------------------------------------------------------------------
    async def square_off_all(self: "ControlApi", who: Principal, req: pb.SquareOffAllRequest) -> Any:
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

    # Risk limits --------------------------------------------------------------------------------
    def _config_limits(self: "ControlApi") -> Any:
        return self.config_limits

    async def get_risk_limits(self: "ControlApi", who: Principal, req: pb.GetRiskLimitsRequest) -> Any:
        kept = self.peers.limit_changes()
        if isinstance(kept, Refusal):
            return kept
        try:
            limits = effective_limits(self._config_limits(), _changes(kept))
        except BadLimits as exc:
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION, f"the run-time limit changes do not apply: {exc}")
        return pb.GetRiskLimitsResponse(limits_json=limits_json(limits), changes_json=kept.changes_json,
                                        changed_by=kept.by, changed_ns=kept.ts_ns)

    async def set_risk_limits(self: "ControlApi", who: Principal, req: pb.SetRiskLimitsRequest) -> Any:
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

    # Strategies ---------------------------------------------------------------------------------
    async def _strategy_infos(self: "ControlApi") -> list[StrategyInfo] | Refusal:
        answer = await self._command(STRATEGY, ListStrategies(uuid.uuid4().hex), "the strategy list request")
        if isinstance(answer, Refusal):
            return answer
        if not isinstance(answer, StrategyList):
            return Refusal(grpc.StatusCode.INTERNAL, f"strategy answered {type(answer).__name__}")
        return answer.strategies

    def _strategies_pb(self: "ControlApi", infos: list[StrategyInfo]) -> list[pb.Strategy] | Refusal:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                positions: list[Any] = []
                open_orders: list[Any] = []
            else:
                positions = list(snap.positions().values())
                open_orders = list(snap.open_orders().values())
        out = []
        for info in infos:
            out.append(convert.strategy_to_pb(info, (p for p in positions if p.strategy == info.name),
                                              sum(1 for o in open_orders if o.strategy == info.name)))
        return out

    async def _one_strategy(self: "ControlApi", name: str) -> pb.Strategy | Refusal:
        infos = await self._strategy_infos()
        if isinstance(infos, Refusal):
            return infos
        found = [i for i in infos if i.name == name]
        if not found:
            return Refusal(grpc.StatusCode.NOT_FOUND, f"no strategy {name!r}; configured: "
                                                      f"{', '.join(i.name for i in infos) or 'none'}")
        listed = self._strategies_pb(found)
        return listed if isinstance(listed, Refusal) else listed[0]

    async def list_strategies(self: "ControlApi", who: Principal, req: pb.ListStrategiesRequest) -> Any:
        infos = await self._strategy_infos()
        if isinstance(infos, Refusal):
            return infos
        listed = self._strategies_pb(infos)
        return listed if isinstance(listed, Refusal) else pb.ListStrategiesResponse(strategies=listed)

    async def _set_running(self: "ControlApi", who: Principal, name: str, running: bool) -> Any:
        name = name.strip()
        if not name:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "name is required")
        reply = await self._command(STRATEGY, SetStrategyRunning(uuid.uuid4().hex, name, running,
                                                                 f"control:{who.name}", self.engine.now_ns()),
                                    f"{'start' if running else 'stop'} of {name}")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return convert.code_refusal(reply.code, reply.detail)
        return await self._one_strategy(name)

    async def start_strategy(self: "ControlApi", who: Principal, req: pb.StartStrategyRequest) -> Any:
        found = await self._set_running(who, req.name, True)
        return found if isinstance(found, Refusal) else pb.StartStrategyResponse(strategy=found)

    async def stop_strategy(self: "ControlApi", who: Principal, req: pb.StopStrategyRequest) -> Any:
        name = req.name.strip()
        with self._snapshot() as snap:
            cancelled = [] if isinstance(snap, Refusal) else sorted(
                coid for coid, o in snap.open_orders().items() if o.strategy == name)
        found = await self._set_running(who, name, False)
        if isinstance(found, Refusal):
            return found
        return pb.StopStrategyResponse(strategy=found, cancelled_client_order_ids=cancelled)

    async def get_strategy_params(self: "ControlApi", who: Principal, req: pb.GetStrategyParamsRequest) -> Any:
        found = await self._one_strategy(req.name.strip())
        if isinstance(found, Refusal):
            return found
        return pb.GetStrategyParamsResponse(name=found.name, params_json=found.params_json)

    async def set_strategy_params(self: "ControlApi", who: Principal, req: pb.SetStrategyParamsRequest) -> Any:
        name = req.name.strip()
        if not name:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "name is required")
        try:
            changes = msgspec.json.decode(req.changes_json)
        except msgspec.DecodeError as exc:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"changes_json is not JSON: {exc}")
        if not isinstance(changes, dict) or not changes:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, 'changes_json must be a non-empty JSON object of the '
                                                             'parameters to change, e.g. {"fast": 12}')
        reply = await self._command(STRATEGY, SetStrategyParams(uuid.uuid4().hex, name, req.changes_json,
                                                                f"control:{who.name}", self.engine.now_ns()),
                                    f"the parameter change of {name}")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return convert.code_refusal(reply.code, reply.detail)
        return pb.SetStrategyParamsResponse(name=name, params_json=reply.detail)

    # Journal ------------------------------------------------------------------------------------
    async def get_journal(self: "ControlApi", who: Principal, req: pb.GetJournalRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
        assert self._reader is not None  # opened by _snapshot
        strategy = req.strategy.strip()
        # One fill at a time from one snapshot: memory does not grow with the ledger's history.
        journal = build_journal(f for f in iter_fills(self._reader) if not strategy or f.strategy == strategy)
        return convert.journal_to_pb(journal, req.include_trades)


def reply_summary(result: Any) -> str | None:
    """The audit row's result text for the calls of this module (None: not one of them)."""
    if isinstance(result, pb.ModifyOrderResponse):
        o = result.order
        state = pb.OrderState.Name(o.state).removeprefix("ORDER_STATE_")
        return (f"OK order {o.client_order_id} {state} qty {o.qty_units} price {o.price_paise} trigger "
                f"{o.trigger_price_paise}" + ("" if result.modified else f" NOT MODIFIED {o.reason_code}"))
    if isinstance(result, pb.SquareOffAllResponse):
        return (f"OK closing {len(result.positions)} positions, cancelling "
                f"{len(result.cancelled_client_order_ids)} orders")
    if isinstance(result, pb.SetRiskLimitsResponse):
        return f"OK limits changes now {result.changes_json}"
    if isinstance(result, (pb.StartStrategyResponse, pb.StopStrategyResponse)):
        s = result.strategy
        return f"OK strategy {s.name} {'running' if s.running else 'stopped'}"
    if isinstance(result, pb.SetStrategyParamsResponse):
        return f"OK strategy {result.name} params {result.params_json}"
    return None

