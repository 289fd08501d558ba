"""StrategyService: list, start and stop strategies and change their parameters. Each command goes
to the strategy actor and is answered by its Reply. A mixin of
:class:`actors.control.service.ControlApi`."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import grpc
import msgspec

from actors.control import convert
from actors.control.auth import Principal
from actors.control.convert import Refusal
from actors.control.peers import STRATEGY
from engine.control_api import control_pb2 as pb
from engine.control_api.quoting import QUOTE_CHARS, quote_value
from ipc.messages import (
    AddStrategy,
    ListStrategies,
    RemoveStrategy,
    Reply,
    SetStrategyParams,
    SetStrategyRunning,
    StrategyInfo,
    StrategyList,
)

# A strategy's name: it is part of every intent id, topic and ledger key of the strategy.
STRATEGY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")

if TYPE_CHECKING:
    from actors.control.service import ControlApi


def _refusal(reply: Reply, name: str) -> Refusal:
    """The strategy actor's refusal; its UNKNOWN_STRATEGY text names the strategy in full, so a
    long name is quoted here instead."""
    if reply.code == "UNKNOWN_STRATEGY" and len(name) > QUOTE_CHARS:
        return convert.code_refusal(reply.code, f"no strategy {quote_value(name)} in [[strategy.instances]]")
    return convert.code_refusal(reply.code, reply.detail)


class StrategyCalls:
    """Mixed into ControlApi (``self`` is the API)."""

    async def _strategy_infos(self: ControlApi) -> list[StrategyInfo] | Refusal:
        answer = await self._command(STRATEGY, ListStrategies(uuid.uuid4().hex), "the strategy list request")
        if isinstance(answer, Refusal):
            return answer
        if not isinstance(answer, StrategyList):
            return Refusal(grpc.StatusCode.INTERNAL, f"strategy answered {type(answer).__name__}")
        return answer.strategies

    def _strategies_pb(self: ControlApi, infos: list[StrategyInfo]) -> list[pb.Strategy] | Refusal:
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

    async def _one_strategy(self: ControlApi, name: str) -> pb.Strategy | Refusal:
        infos = await self._strategy_infos()
        if isinstance(infos, Refusal):
            return infos
        found = [i for i in infos if i.name == name]
        if not found:
            return Refusal(grpc.StatusCode.NOT_FOUND, f"no strategy {quote_value(name)}; configured: "
                                                      f"{', '.join(i.name for i in infos) or 'none'}")
        listed = self._strategies_pb(found)
        return listed if isinstance(listed, Refusal) else listed[0]

    async def list_strategies(self: ControlApi, who: Principal, req: pb.ListStrategiesRequest) -> Any:
        infos = await self._strategy_infos()
        if isinstance(infos, Refusal):
            return infos
        listed = self._strategies_pb(infos)
        return listed if isinstance(listed, Refusal) else pb.ListStrategiesResponse(strategies=listed)

    async def _set_running(self: ControlApi, who: Principal, name: str, running: bool) -> Any:
        name = name.strip()
        if not name:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "name is required")
        reply = await self._command(STRATEGY, SetStrategyRunning(uuid.uuid4().hex, name, running,
                                                                 f"control:{who.name}", self.engine.now_ns()),
                                    f"{'start' if running else 'stop'} of {quote_value(name)}")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return _refusal(reply, name)
        return await self._one_strategy(name)

    async def start_strategy(self: ControlApi, who: Principal, req: pb.StartStrategyRequest) -> Any:
        found = await self._set_running(who, req.name, True)
        return found if isinstance(found, Refusal) else pb.StartStrategyResponse(strategy=found)

    async def stop_strategy(self: ControlApi, who: Principal, req: pb.StopStrategyRequest) -> Any:
        name = req.name.strip()
        with self._snapshot() as snap:
            cancelled = [] if isinstance(snap, Refusal) else sorted(
                coid for coid, o in snap.open_orders().items() if o.strategy == name)
        found = await self._set_running(who, name, False)
        if isinstance(found, Refusal):
            return found
        return pb.StopStrategyResponse(strategy=found, cancelled_client_order_ids=cancelled)

    async def get_strategy_params(self: ControlApi, who: Principal, req: pb.GetStrategyParamsRequest) -> Any:
        found = await self._one_strategy(req.name.strip())
        if isinstance(found, Refusal):
            return found
        return pb.GetStrategyParamsResponse(name=found.name, params_json=found.params_json)

    async def set_strategy_params(self: ControlApi, who: Principal, req: pb.SetStrategyParamsRequest) -> Any:
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
                                    f"the parameter change of {quote_value(name)}")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return _refusal(reply, name)
        return pb.SetStrategyParamsResponse(name=name, params_json=reply.detail)

    async def add_strategy(self: ControlApi, who: Principal, req: pb.AddStrategyRequest) -> Any:
        """Checked here for its form (name, JSON object, instrument in the master); the strategy
        actor checks the kind and the parameters against the strategy's class, and starts it."""
        name, kind, instrument = req.name.strip(), req.kind.strip(), req.instrument.strip()
        if not STRATEGY_NAME.fullmatch(name):
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"name {quote_value(name)}: a letter, then letters, "
                                                             "digits, '_' or '-', 64 characters at most")
        if not kind:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "kind is required (e.g. ema_cross)")
        try:
            params = msgspec.json.decode(req.params_json or "{}")
        except msgspec.DecodeError as exc:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"params_json is not JSON: {exc}")
        if not isinstance(params, dict):
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, 'params_json must be a JSON object of parameters, '
                                                             'e.g. {"fast": 12}')
        if instrument:
            found = self._resolve(pb.InstrumentRef(symbol=instrument))  # a symbol or SEGMENT:security_id
            if isinstance(found, Refusal):
                return Refusal(found.code, f"instrument: {found.message}")
        reply = await self._command(STRATEGY, AddStrategy(uuid.uuid4().hex, name, kind, instrument,
                                                          req.params_json or "{}", f"control:{who.name}",
                                                          self.engine.now_ns()),
                                    f"the addition of {quote_value(name)}")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return convert.code_refusal(reply.code, reply.detail)
        found_strategy = await self._one_strategy(name)
        return found_strategy if isinstance(found_strategy, Refusal) else pb.AddStrategyResponse(strategy=found_strategy)

    async def remove_strategy(self: ControlApi, who: Principal, req: pb.RemoveStrategyRequest) -> Any:
        name = req.name.strip()
        if not name:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "name is required")
        reply = await self._command(STRATEGY, RemoveStrategy(uuid.uuid4().hex, name, f"control:{who.name}",
                                                             self.engine.now_ns()),
                                    f"the removal of {quote_value(name)}")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return _refusal(reply, name)
        return pb.RemoveStrategyResponse(name=name, kind=reply.detail)

