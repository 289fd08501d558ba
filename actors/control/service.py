"""The gRPC side of the control actor: servicers, auth, audit, and the server thread.

Everything here runs on the gRPC thread's asyncio (uvloop) loop. Reads go straight to the ledger
(an LMDB read snapshot per call: microseconds) and to the latest status the supervisor and risk
published (``actors.control.peers``, kept by the actor loop). Anything that
needs the engine is handed to the actor loop through the :class:`~actors.control.bridge.Bridge`
and calls an :class:`EngineSide` method there.

Every call is authenticated against the ledger's ``tokens`` and ``users`` tables as it arrives
(no cache: a revoked token fails on its very next call). Every state-changing call, and every
rejected call, becomes an audit row written by execution (the ledger's only writer).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import grpc
import msgspec
from google.protobuf.message import Message as ProtoMessage
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from actors.control import convert
from actors.control.auth import (
    STATE_CHANGING,
    AuditLimiter,
    Principal,
    Rejection,
    authenticate,
    authorize,
    bearer_token,
    check_user_name,
    new_token,
    token_sha256,
)
from actors.control.bridge import Answer, Bridge
from actors.control.config import ControlConfig, split_listen
from actors.control.convert import Refusal
from actors.control.operations import Operations, reply_summary
from actors.control.peers import Peers
from actors.risk.limits import RiskLimits
from engine.backoff import backoff_s
from engine.control_api import control_pb2 as pb
from engine.control_api import control_pb2_grpc as rpc
from engine.ledger import LedgerError, LedgerReader, LedgerSnapshot, is_open_order, ledger_dir
from engine.logs import Log
from engine.model.instruments import Instrument, InstrumentTable
from engine.model.ist import ist_date
from engine.model.lookup import UnknownInstrument, resolve_instrument
from ipc.messages import (
    AddUser,
    EngageKillSwitch,
    Fill,
    Message,
    OrderDenied,
    OrderEvent,
    OrderIntent,
    RecordAudit,
    ReleaseKillSwitch,
    Reply,
    RevokeUser,
    TradingState,
)
from ipc.segments import SEGMENT_LABELS, Segment, instrument_label

if TYPE_CHECKING:
    from engine.config import Config

T = TypeVar("T")
EXECUTION = "execution"
SUPERVISOR = "supervisor"
_POLL_FIRST_S = 0.002
_POLL_MAX_S = 0.05


class EngineSide(Protocol):
    """What the gRPC side asks of the actor loop. Every method runs ON the actor loop (posted
    through the bridge); ``answer`` is called there once, later, with the outcome."""

    def start_place(self, intent: OrderIntent, answer: Answer) -> None:
        """Send the intent to risk; answer with its first OrderEvent or its OrderDenied."""

    def forget_intent(self, intent_id: str) -> None: ...

    def start_cancel(self, client_order_id: str, by: str, answer: Answer) -> None:
        """Ask execution to cancel; answer with the order's next terminal OrderEvent."""

    def forget_cancel(self, client_order_id: str) -> None: ...

    def cancel_all(self, strategy: str, by: str) -> None: ...

    def start_command(self, target: str, msg: Message, answer: Answer) -> None:
        """Send a command (with ``cmd_id``) to ``target``; answer with its Reply."""

    def forget_command(self, cmd_id: str) -> None: ...

    def send(self, target: str, msg: Message) -> None: ...

    def now_ns(self) -> int:
        """The actor's clock (epoch ns, UTC). The one method called from the gRPC thread."""
        ...


class ServerError(Exception):
    """The server could not start. ``config_problem`` is True when restarting will not help
    (unreadable TLS files); False for a transient failure (the port is in use)."""

    def __init__(self, message: str, config_problem: bool) -> None:
        super().__init__(message)
        self.config_problem = config_problem


class _Watcher:
    __slots__ = ("queue", "overflowed", "strategy")

    def __init__(self, size: int, strategy: str) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue(size)
        self.overflowed = False
        self.strategy = strategy


def _last_admin(users: dict[str, Any], name: str) -> bool:
    """True when ``name`` is the only active admin: taking it away would lock every admin call
    out until someone with file access runs ``shikra users bootstrap-admin``."""
    user = users.get(name)
    if user is None or not user.active or user.role != "admin":
        return False
    return not any(u.active and u.role == "admin" and n != name for n, u in users.items())


def _coid_number(client_order_id: str) -> int:
    tail = client_order_id.rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0


def outcome_text(result: Any) -> str:
    """The result column of an audit row."""
    if isinstance(result, Refusal):
        return f"{result.code.name}: {result.message}"
    if isinstance(result, (pb.PlaceOrderResponse, pb.CancelOrderResponse)):
        order = result.order
        return f"OK order {order.client_order_id} {pb.OrderState.Name(order.state).removeprefix('ORDER_STATE_')}"
    if isinstance(result, pb.CancelAllOrdersResponse):
        return f"OK cancel sent for {len(result.client_order_ids)} open orders"
    if isinstance(result, (pb.EngageKillSwitchResponse, pb.ReleaseKillSwitchResponse)):
        return f"OK kill switch {'engaged' if result.kill_switch.engaged else 'released'}"
    if isinstance(result, pb.AddUserResponse):
        return f"OK user {result.user.name} role {pb.Role.Name(result.user.role)} token {result.token_id}"
    if isinstance(result, pb.RevokeUserResponse):
        return f"OK user {result.user.name} revoked, {result.tokens_revoked} tokens"
    return reply_summary(result) or "OK"


class ControlApi(Operations):
    """The API's behaviour; the servicer classes below only route calls here by method name."""

    def __init__(self, settings: ControlConfig, bridge: Bridge, engine: EngineSide, data_dir: Path,
                 run_dir: Path, instruments: InstrumentTable, log: Log, config: Config | None = None) -> None:
        """``config`` is the engine's Config (its [risk.limits] is the baseline of GetRiskLimits)."""
        self.config_limits: RiskLimits = config.risk.limits if config is not None else RiskLimits()
        self.settings = settings
        self.bridge = bridge
        self.engine = engine
        self.data_dir = data_dir
        self.run_dir = run_dir
        self.instruments = instruments
        self.log = log
        self.peers = Peers()  # filled by the actor loop from supervisor.status and risk.usage
        self.limiter = AuditLimiter()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.watching = 0  # read by the actor loop (an int: a stale read only delays one event)
        self._watchers: set[_Watcher] = set()
        self._reader: LedgerReader | None = None
        self._symbols: dict[tuple[int, int], str] = {}
        self._impls: dict[str, Callable[[Principal, Any], Awaitable[Any]]] = {
            "GetStatus": self.get_status,
            "ListActors": self.list_actors,
            "ModifyOrder": self.modify_order,
            "SquareOffAll": self.square_off_all,
            "GetRiskLimits": self.get_risk_limits,
            "SetRiskLimits": self.set_risk_limits,
            "ListStrategies": self.list_strategies,
            "StartStrategy": self.start_strategy,
            "StopStrategy": self.stop_strategy,
            "GetStrategyParams": self.get_strategy_params,
            "SetStrategyParams": self.set_strategy_params,
            "GetJournal": self.get_journal,
            "PlaceOrder": self.place_order,
            "CancelOrder": self.cancel_order,
            "CancelAllOrders": self.cancel_all_orders,
            "ListOrders": self.list_orders,
            "GetOrder": self.get_order,
            "ListTrades": self.list_trades,
            "ListPositions": self.list_positions,
            "GetFunds": self.get_funds,
            "GetRiskState": self.get_risk_state,
            "EngageKillSwitch": self.engage_kill_switch,
            "ReleaseKillSwitch": self.release_kill_switch,
            "SearchInstruments": self.search_instruments,
            "GetOptionChain": self.get_option_chain,
            "AddUser": self.add_user,
            "ListUsers": self.list_users,
            "RevokeUser": self.revoke_user,
        }

    @property
    def timeout_s(self) -> float:
        return self.settings.request_timeout_s

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # Ledger -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[LedgerSnapshot | Refusal]:
        """A read snapshot, or UNAVAILABLE while the ledger does not exist yet (execution creates
        it on its first start). The reader is opened once, lazily, and kept."""
        if self._reader is None:
            try:
                self._reader = LedgerReader.open(ledger_dir(self.data_dir))
            except LedgerError as exc:
                yield Refusal(grpc.StatusCode.UNAVAILABLE, f"the ledger is not readable yet: {exc}")
                return
        with self._reader.snapshot() as snap:
            yield snap

    async def _wait_ledger(self, probe: Callable[[LedgerSnapshot], T | None], timeout_s: float) -> T | None:
        """Poll the ledger until ``probe`` returns something, or None after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        polls = 0
        while True:
            with self._snapshot() as snap:
                if not isinstance(snap, Refusal):
                    found = probe(snap)
                    if found is not None:
                        return found
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(backoff_s(polls, _POLL_FIRST_S, _POLL_MAX_S))
            polls += 1

    def _symbol(self, segment: int, security_id: int) -> str:
        key = (segment, security_id)
        symbol = self._symbols.get(key)
        if symbol is None:
            inst = self.instruments.get(segment, security_id)
            symbol = inst.symbol if inst is not None else ""
            self._symbols[key] = symbol
        return symbol

    # Auth and audit -----------------------------------------------------------------------------
    def _authenticate(self, method: str, context: grpc.aio.ServicerContext) -> Principal | Rejection | Refusal:
        token = bearer_token(context.invocation_metadata() or ())
        if isinstance(token, Rejection):
            return token
        digest = token_sha256(token)
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            row = snap.token(digest)
            user = snap.user(row.name) if row is not None else None
        who = authenticate(row, user)
        if isinstance(who, Rejection):
            return who
        return authorize(who, method)

    def audit(self, who: str, action: str, args: dict[str, str], result: str) -> None:
        """Send one audit row to execution (through the actor loop). Never blocks."""
        row = RecordAudit(who=who, action=action, args=args, result=result[:2000], ts_ns=self.engine.now_ns())
        self.bridge.post(lambda: self.engine.send(EXECUTION, row))

    async def _gate(self, method: str, request: ProtoMessage, context: grpc.aio.ServicerContext) -> Principal:
        """The caller, or the call ends here (audited, within the rejection rate limit)."""
        found = self._authenticate(method, context)
        if isinstance(found, Principal):
            return found
        if isinstance(found, Refusal):
            await context.abort(found.code, found.message)
        assert isinstance(found, Rejection)
        code = grpc.StatusCode.UNAUTHENTICATED if found.unauthenticated else grpc.StatusCode.PERMISSION_DENIED
        skipped = self.limiter.admit(time.monotonic())  # a flood guard against real callers: real time
        if skipped is not None:
            args = {"peer": context.peer() or "", "failure": found.failure.value}
            if found.token_id:
                args["token_id"] = found.token_id
            if skipped:
                args["rejections_not_audited_before"] = str(skipped)
            if method in STATE_CHANGING:
                args.update(convert.request_args(request))
            self.audit(found.who or "unknown", method, args, f"{code.name}: {found.message}")
        await context.abort(code, found.message)
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    async def call(self, method: str, request: ProtoMessage, context: grpc.aio.ServicerContext) -> Any:
        """One unary call: authenticate, authorize, run, audit, answer."""
        who = await self._gate(method, request, context)
        try:
            result = await self._impls[method](who, request)
        except Exception as exc:  # a bug answers INTERNAL (and is audited), never hangs the client
            self.log.exception("control_call_failed", method=method, user=who.name)
            result = Refusal(grpc.StatusCode.INTERNAL, f"{method} failed in the control actor: "
                                                       f"{type(exc).__name__}: {exc}")
        if method in STATE_CHANGING:
            args = convert.request_args(request)
            args["token_id"] = who.token_id
            self.audit(who.name, method, args, outcome_text(result))
        if isinstance(result, Refusal):
            await context.abort(result.code, result.message)
        return result

    # Streaming ----------------------------------------------------------------------------------
    def publish_event(self, msg: OrderEvent | Fill | OrderDenied) -> None:
        """Called on the ACTOR loop for every order event, fill and denial: hand it to the
        watchers' loop. Cheap when nobody watches (the caller checks ``watching`` first)."""
        loop = self.loop
        if loop is not None and self._watchers:
            loop.call_soon_threadsafe(self._fan_out, msg)

    def _fan_out(self, msg: Any) -> None:
        for watcher in self._watchers:
            if watcher.overflowed:
                continue
            try:
                watcher.queue.put_nowait(msg)
            except asyncio.QueueFull:
                # A slow client must never slow the engine or grow memory without bound.
                watcher.overflowed = True

    def _event_to_pb(self, msg: Any, strategy: str) -> pb.WatchOrdersResponse | None:
        if strategy and getattr(msg, "strategy", "") != strategy:
            return None
        where = msg.spec if isinstance(msg, OrderEvent) else msg
        symbol = self._symbol(where.segment, where.security_id)
        if isinstance(msg, OrderEvent):
            return pb.WatchOrdersResponse(order=convert.order_to_pb(msg, symbol))
        if isinstance(msg, Fill):
            return pb.WatchOrdersResponse(fill=convert.fill_to_pb(msg, symbol))
        if isinstance(msg, OrderDenied):
            return pb.WatchOrdersResponse(denial=convert.denial_to_pb(msg, symbol))
        return None

    async def watch_orders(self, request: pb.WatchOrdersRequest,
                           context: grpc.aio.ServicerContext) -> AsyncIterator[pb.WatchOrdersResponse]:
        await self._gate("WatchOrders", request, context)
        watcher = _Watcher(self.settings.watch_queue_events, request.strategy)
        self._watchers.add(watcher)
        self.watching = len(self._watchers)
        try:
            # Headers go out once the watcher is registered: a client that waits for them
            # (call.initial_metadata()) misses no event that happens afterwards.
            await context.send_initial_metadata((("shikra-watch", "subscribed"),))
            while True:
                msg = await watcher.queue.get()
                if watcher.overflowed:
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                        f"this client fell {self.settings.watch_queue_events} events behind; "
                                        "reconnect and re-read orders with ListOrders")
                out = self._event_to_pb(msg, request.strategy)
                if out is not None:
                    yield out
        finally:
            self._watchers.discard(watcher)
            self.watching = len(self._watchers)

    # Status -------------------------------------------------------------------------------------
    async def get_status(self, who: Principal, req: pb.GetStatusRequest) -> Any:
        status = self.peers.daemon_status()
        return status if isinstance(status, Refusal) else convert.status_to_pb(status)

    # Orders -------------------------------------------------------------------------------------
    def _order_path_ready(self) -> Refusal | None:
        """UNAVAILABLE unless risk and execution are up. A DEALER queues for a peer that is away
        and delivers when it is back: an order the client gave up on (timeout) must not reach the
        market minutes later, so it is not sent at all. (The supervisor publishes a state change at
        once, and its whole status once a second.)"""
        return self.peers.not_ready(("risk", EXECUTION), "the order")

    def _resolve(self, ref: pb.InstrumentRef) -> Instrument | Refusal:
        key = convert.instrument_key(ref)
        if isinstance(key, Refusal):
            return key
        if isinstance(key, str):
            try:
                return resolve_instrument(self.instruments, key)
            except UnknownInstrument as exc:
                return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"UNKNOWN_INSTRUMENT: {exc}")
        inst = self.instruments.get(*key)
        if inst is None:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT,
                           f"UNKNOWN_INSTRUMENT: {instrument_label(*key)} is not in the instrument master")
        return inst

    def _order_by_intent(self, intent_id: str) -> OrderEvent | None:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return None
            coid = snap.client_order_id_for(intent_id)
            return snap.order(coid) if coid is not None else None

    async def place_order(self, who: Principal, req: pb.PlaceOrderRequest) -> Any:
        problem = convert.check_order_request(req)
        if problem is not None:
            return problem
        inst = self._resolve(req.instrument)
        if isinstance(inst, Refusal):
            return inst
        spec = convert.spec_from_request(req, inst)
        invalid = convert.order_refusal(spec, inst)
        if invalid is not None:
            return invalid
        intent_id = convert.intent_id_for(who.name, req.request_id, uuid.uuid4().hex)
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            state = snap.trading_state()
            coid = snap.client_order_id_for(intent_id) if req.request_id else None
            earlier = snap.order(coid) if coid is not None else None
        if earlier is not None:  # the same request_id again: the order it made, not a second one
            return pb.PlaceOrderResponse(order=convert.order_to_pb(earlier, inst.symbol))
        if state.state == TradingState.HALTED and not req.reduce_only:
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION,
                           f"HALTED: trading is halted ({state.reason_code or 'kill switch'}: {state.detail}; by "
                           f"{state.by}); only reduce-only orders pass until an admin releases the kill switch")
        not_ready = self._order_path_ready()
        if not_ready is not None:
            return not_ready
        intent = convert.intent_from_request(req, spec, who.name, intent_id, self.engine.now_ns())
        try:
            answer = await self.bridge.ask(lambda done: self.engine.start_place(intent, done), self.timeout_s)
        except TimeoutError:
            self.bridge.post(lambda: self.engine.forget_intent(intent_id))
            late = self._order_by_intent(intent_id)
            if late is not None:
                return pb.PlaceOrderResponse(order=convert.order_to_pb(late, inst.symbol))
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED,
                           f"risk/execution did not answer intent {intent_id} within {self.timeout_s}s; it may "
                           f"still become an order: check `shikra orders` before placing it again")
        if isinstance(answer, OrderDenied):
            return convert.denial_refusal(answer)
        return pb.PlaceOrderResponse(order=convert.order_to_pb(answer, inst.symbol))

    def _open_order(self, coid: str, what: str) -> OrderEvent | Refusal:
        """The open order ``coid`` from the ledger, or why ``what`` cannot be done to it."""
        if not coid:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "client_order_id is required")
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            order = snap.order(coid)
        if order is None:
            return Refusal(grpc.StatusCode.NOT_FOUND, f"no order {coid!r} in the ledger")
        if not is_open_order(order):
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION, f"order {coid} is {order.state.value}: {what}")
        return order

    async def cancel_order(self, who: Principal, req: pb.CancelOrderRequest) -> Any:
        coid = req.client_order_id.strip()
        order = self._open_order(coid, "nothing to cancel")
        if isinstance(order, Refusal):
            return order
        by = f"control:{who.name}"
        try:
            event = await self.bridge.ask(lambda done: self.engine.start_cancel(coid, by, done), self.timeout_s)
        except TimeoutError:
            # The venue has not confirmed yet (or execution refused: the order moved on). Answer
            # with what the ledger says now; the client sees the state it is in.
            self.bridge.post(lambda: self.engine.forget_cancel(coid))
            with self._snapshot() as snap:
                event = snap.order(coid) if not isinstance(snap, Refusal) else order
        symbol = self._symbol(event.spec.segment, event.spec.security_id)
        return pb.CancelOrderResponse(order=convert.order_to_pb(event, symbol))

    async def cancel_all_orders(self, who: Principal, req: pb.CancelAllOrdersRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            open_orders = snap.open_orders()
        ids = sorted((coid for coid, o in open_orders.items() if not req.strategy or o.strategy == req.strategy),
                     key=_coid_number)
        by = f"control:{who.name}"
        self.bridge.post(lambda: self.engine.cancel_all(req.strategy, by))
        return pb.CancelAllOrdersResponse(client_order_ids=ids)

    async def list_orders(self, who: Principal, req: pb.ListOrdersRequest) -> Any:
        if req.limit < 0:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"limit {req.limit} must be >= 0")
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            orders = snap.open_orders() if req.open_only else snap.orders()
        chosen = sorted((o for o in orders.values() if not req.strategy or o.strategy == req.strategy),
                        key=lambda o: _coid_number(o.client_order_id))
        if req.limit:
            chosen = chosen[-req.limit:]
        return pb.ListOrdersResponse(orders=[convert.order_to_pb(o, self._symbol(o.spec.segment, o.spec.security_id))
                                             for o in chosen])

    async def get_order(self, who: Principal, req: pb.GetOrderRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            order = snap.order(req.client_order_id.strip()) if req.client_order_id.strip() else None
        if order is None:
            return Refusal(grpc.StatusCode.NOT_FOUND, f"no order {req.client_order_id!r} in the ledger")
        symbol = self._symbol(order.spec.segment, order.spec.security_id)
        return pb.GetOrderResponse(order=convert.order_to_pb(order, symbol))

    # Portfolio ----------------------------------------------------------------------------------
    async def list_trades(self, who: Principal, req: pb.ListTradesRequest) -> Any:
        if req.limit < 0:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"limit {req.limit} must be >= 0")
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            fills = snap.fills()
        chosen = sorted((f for f in fills.values() if not req.strategy or f.strategy == req.strategy),
                        key=lambda f: (f.ts_event_ns, f.fill_id))
        if req.limit:
            chosen = chosen[-req.limit:]
        return pb.ListTradesResponse(trades=[convert.fill_to_pb(f, self._symbol(f.segment, f.security_id))
                                             for f in chosen])

    async def list_positions(self, who: Principal, req: pb.ListPositionsRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            positions = snap.positions()
        chosen = [p for key, p in sorted(positions.items())
                  if (not req.strategy or p.strategy == req.strategy) and (not req.open_only or p.net_qty_units)]
        realised = sum(p.realised_pnl_paise for p in chosen)
        charges = sum(p.charges_paise for p in chosen)
        return pb.ListPositionsResponse(
            positions=[convert.position_to_pb(p, self._symbol(p.segment, p.security_id)) for p in chosen],
            realised_pnl_paise=realised, charges_paise=charges, net_pnl_paise=realised - charges)

    async def get_funds(self, who: Principal, req: pb.GetFundsRequest) -> Any:
        account = req.account or "main"
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            wallet = snap.wallet(account)
        if wallet is None:
            return Refusal(grpc.StatusCode.NOT_FOUND, f"no wallet for account {account!r} in the ledger")
        return pb.GetFundsResponse(account=wallet.account, cash_paise=wallet.cash_paise,
                                   external_paise=wallet.external_paise, charges_paise=wallet.charges_paise,
                                   ts_ns=wallet.ts_ns)

    # Risk and kill switch -----------------------------------------------------------------------
    async def get_risk_state(self, who: Principal, req: pb.GetRiskStateRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            state = snap.trading_state()
        kill_switch = self.peers.kill_switch()
        if isinstance(kill_switch, Refusal):
            return kill_switch
        return convert.risk_state_to_pb(state, kill_switch, self.peers.usage)  # usage: None until risk's first

    async def _supervisor(self, msg: EngageKillSwitch | ReleaseKillSwitch) -> Reply | Refusal:
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

    def _kill_switch_engaged(self) -> bool | None:
        """The supervisor's kill switch as last published (None: no status yet)."""
        status = self.peers.status
        return None if status is None else status.kill_switch.engaged

    async def engage_kill_switch(self, who: Principal, req: pb.EngageKillSwitchRequest) -> Any:
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

    async def release_kill_switch(self, who: Principal, req: pb.ReleaseKillSwitchRequest) -> Any:
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

    # Instruments --------------------------------------------------------------------------------
    async def search_instruments(self, who: Principal, req: pb.SearchInstrumentsRequest) -> Any:
        if not req.text.strip():
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "text is required")
        if not 0 <= req.limit <= convert.MAX_SEARCH_LIMIT:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT,
                           f"limit {req.limit} is not within 0..{convert.MAX_SEARCH_LIMIT}")
        found = self.instruments.search(req.text, req.limit or convert.DEFAULT_SEARCH_LIMIT)
        return pb.SearchInstrumentsResponse(instruments=[convert.instrument_to_pb(i) for i in found])

    async def get_option_chain(self, who: Principal, req: pb.GetOptionChainRequest) -> Any:
        underlying = req.underlying.strip().upper()
        if not underlying:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "underlying is required")
        segment = None
        if req.segment:
            segment = Segment.from_label(req.segment)
            if segment is None:
                return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"segment {req.segment!r} is not one of "
                                                                 f"{SEGMENT_LABELS}")
        expiries = self.instruments.expiries(underlying, ist_date(self.engine.now_ns()), segment=segment)
        expiry = req.expiry_yyyymmdd or (expiries[0] if expiries else 0)
        chain = self.instruments.option_chain(underlying, expiry, segment=segment) if expiry else None
        if chain is None:
            listed = ", ".join(map(str, expiries[:8])) or "none"
            return Refusal(grpc.StatusCode.NOT_FOUND,
                           f"no options of {underlying} expiring {expiry or '(any)'}; expiries listed: {listed}")
        symbols = {}
        for strike in chain.strikes:
            for sid in (strike.ce_security_id, strike.pe_security_id):
                if sid:
                    symbols[sid] = self._symbol(chain.segment, sid)
        return convert.chain_to_pb(chain, symbols, expiries)

    # Users --------------------------------------------------------------------------------------
    @staticmethod
    def _user_view(snap: LedgerSnapshot) -> tuple[dict[str, Any], dict[str, int]]:
        users = snap.users()
        active: dict[str, int] = {}
        for token in snap.tokens().values():
            if not token.revoked:
                active[token.name] = active.get(token.name, 0) + 1
        return users, active

    async def add_user(self, who: Principal, req: pb.AddUserRequest) -> Any:
        problem = check_user_name(req.name)
        if problem is not None:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, problem)
        role = convert.ROLE_FROM_PB.get(req.role)
        if role is None:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "role is required: ROLE_VIEWER, ROLE_TRADER or ROLE_ADMIN")
        if role != "admin":
            with self._snapshot() as snap:
                if isinstance(snap, Refusal):
                    return snap
                users = snap.users()
            if _last_admin(users, req.name):
                return Refusal(grpc.StatusCode.FAILED_PRECONDITION,
                               f"{req.name} is the last active admin: make another user admin before changing its role")
        issued = new_token()
        cmd = AddUser(cmd_id=uuid.uuid4().hex, name=req.name, role=role,  # type: ignore[arg-type]
                      token_sha256=issued.token_sha256,
                      token_id=issued.token_id, by=who.name, ts_ns=self.engine.now_ns())
        self.bridge.post(lambda: self.engine.send(EXECUTION, cmd))
        recorded = await self._wait_ledger(lambda s: s.token(issued.token_sha256), self.timeout_s)
        if recorded is None:
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED,
                           f"execution did not record user {req.name} within {self.timeout_s}s; the token was not "
                           "issued (ask again)")
        with self._snapshot() as snap:
            assert not isinstance(snap, Refusal)  # it was just read
            users, active = self._user_view(snap)
        return pb.AddUserResponse(user=convert.user_to_pb(users[req.name], active.get(req.name, 0)),
                                  token=issued.token, token_id=issued.token_id)

    async def list_users(self, who: Principal, req: pb.ListUsersRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            users, active = self._user_view(snap)
        return pb.ListUsersResponse(users=[convert.user_to_pb(u, active.get(name, 0))
                                           for name, u in sorted(users.items())])

    async def revoke_user(self, who: Principal, req: pb.RevokeUserRequest) -> Any:
        name = req.name.strip()
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            users, active = self._user_view(snap)
        user = users.get(name)
        if user is None:
            return Refusal(grpc.StatusCode.NOT_FOUND, f"no user {name!r}")
        if _last_admin(users, name):
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION,
                           f"{name} is the last active admin: add another admin first (or, locally, "
                           "`shikra users bootstrap-admin`)")
        tokens = active.get(name, 0)
        if user.active or tokens:
            cmd = RevokeUser(cmd_id=uuid.uuid4().hex, name=name, by=who.name, ts_ns=self.engine.now_ns())
            self.bridge.post(lambda: self.engine.send(EXECUTION, cmd))

            def revoked(s: LedgerSnapshot) -> Any:
                row = s.user(name)
                return row if row is not None and not row.active else None

            row = await self._wait_ledger(revoked, self.timeout_s)
            if row is None:
                return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED,
                               f"execution did not record the revocation of {name} within {self.timeout_s}s")
            user = row
        return pb.RevokeUserResponse(user=convert.user_to_pb(user, 0), tokens_revoked=tokens)


# ---------------------------------------------------------------------------------------------
# Servicers: route each generated method to ControlApi.call by name
# ---------------------------------------------------------------------------------------------


def _unary(method: str) -> Callable[..., Awaitable[Any]]:
    async def handler(self: Any, request: ProtoMessage, context: grpc.aio.ServicerContext) -> Any:
        return await self.api.call(method, request, context)

    handler.__name__ = method
    return handler


class _Servicer:
    def __init__(self, api: ControlApi) -> None:
        self.api = api


class EngineServicer(_Servicer, rpc.EngineServiceServicer):
    GetStatus = _unary("GetStatus")
    ListActors = _unary("ListActors")


class OrderServicer(_Servicer, rpc.OrderServiceServicer):
    PlaceOrder = _unary("PlaceOrder")
    CancelOrder = _unary("CancelOrder")
    ModifyOrder = _unary("ModifyOrder")
    CancelAllOrders = _unary("CancelAllOrders")
    ListOrders = _unary("ListOrders")
    GetOrder = _unary("GetOrder")

    async def WatchOrders(self, request: pb.WatchOrdersRequest,  # noqa: N802 (generated name)
                          context: grpc.aio.ServicerContext) -> AsyncIterator[pb.WatchOrdersResponse]:
        async for event in self.api.watch_orders(request, context):
            yield event


class PortfolioServicer(_Servicer, rpc.PortfolioServiceServicer):
    ListTrades = _unary("ListTrades")
    ListPositions = _unary("ListPositions")
    GetFunds = _unary("GetFunds")


class RiskServicer(_Servicer, rpc.RiskServiceServicer):
    GetRiskState = _unary("GetRiskState")
    EngageKillSwitch = _unary("EngageKillSwitch")
    ReleaseKillSwitch = _unary("ReleaseKillSwitch")
    GetRiskLimits = _unary("GetRiskLimits")
    SetRiskLimits = _unary("SetRiskLimits")
    SquareOffAll = _unary("SquareOffAll")


class InstrumentServicer(_Servicer, rpc.InstrumentServiceServicer):
    SearchInstruments = _unary("SearchInstruments")
    GetOptionChain = _unary("GetOptionChain")


class UserServicer(_Servicer, rpc.UserServiceServicer):
    AddUser = _unary("AddUser")
    ListUsers = _unary("ListUsers")
    RevokeUser = _unary("RevokeUser")


class StrategyServicer(_Servicer, rpc.StrategyServiceServicer):
    ListStrategies = _unary("ListStrategies")
    StartStrategy = _unary("StartStrategy")
    StopStrategy = _unary("StopStrategy")
    GetStrategyParams = _unary("GetStrategyParams")
    SetStrategyParams = _unary("SetStrategyParams")


class JournalServicer(_Servicer, rpc.JournalServiceServicer):
    GetJournal = _unary("GetJournal")


SERVICE_NAMES: tuple[str, ...] = tuple(s.full_name for s in pb.DESCRIPTOR.services_by_name.values())
_ADDERS = (
    (rpc.add_EngineServiceServicer_to_server, EngineServicer),
    (rpc.add_OrderServiceServicer_to_server, OrderServicer),
    (rpc.add_PortfolioServiceServicer_to_server, PortfolioServicer),
    (rpc.add_RiskServiceServicer_to_server, RiskServicer),
    (rpc.add_InstrumentServiceServicer_to_server, InstrumentServicer),
    (rpc.add_UserServiceServicer_to_server, UserServicer),
    (rpc.add_StrategyServiceServicer_to_server, StrategyServicer),
    (rpc.add_JournalServiceServicer_to_server, JournalServicer),
)


def server_credentials(settings: ControlConfig) -> grpc.ServerCredentials | None:
    """TLS credentials from the configured PEM files; None for plaintext. Raises ServerError
    (a config problem) naming the file that cannot be read."""
    if not settings.tls_cert:
        return None

    def read(key: str, path: str) -> bytes:
        try:
            return Path(path).expanduser().read_bytes()
        except OSError as exc:
            raise ServerError(f"control.{key} {path}: {exc.strerror}", config_problem=True) from None

    cert = read("tls_cert", settings.tls_cert)
    key = read("tls_key", settings.tls_key)
    ca = read("tls_client_ca", settings.tls_client_ca) if settings.tls_client_ca else None
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


class ServerThread:
    """The grpc.aio server on its own uvloop event loop in a background thread."""

    def __init__(self, api: ControlApi, settings: ControlConfig, log: Log,
                 on_failure: Callable[[str], None] | None = None) -> None:
        """``on_failure(why)`` is called (on the gRPC thread) if the server dies after it started."""
        self.api = api
        self.settings = settings
        self.log = log
        self.on_failure = on_failure
        self.address = ""
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout_s: float = 15.0) -> str:
        """Start serving; returns the bound ``host:port``. Raises ServerError."""
        creds = server_credentials(self.settings)  # config problems surface here, before the thread
        self._thread = threading.Thread(target=self._run, args=(creds,), name="control-grpc", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise ServerError(f"the gRPC server did not start within {timeout_s}s", config_problem=False)
        if self._error is not None:
            raise ServerError(f"cannot serve on {self.settings.listen}: {self._error}", config_problem=False)
        return self.address

    def stop(self, grace_s: float = 1.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own meanwhile
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(grace_s + 5.0)

    def _run(self, creds: grpc.ServerCredentials | None) -> None:
        import uvloop

        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(self._serve(creds))
        except BaseException as exc:  # reported to start(), or logged if it happens later
            self._error = exc
            if self._started.is_set():
                self.log.exception("control_server_failed")
                if self.on_failure is not None:
                    self.on_failure(f"gRPC server failed: {type(exc).__name__}: {exc}")
            self._started.set()

    async def _serve(self, creds: grpc.ServerCredentials | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.api.loop = self._loop
        # so_reuseport off: a second daemon on the same port must fail, not share it silently.
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        for add, servicer in _ADDERS:
            add(servicer(self.api), server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            server)
        listen = self.settings.listen
        port = server.add_secure_port(listen, creds) if creds is not None else server.add_insecure_port(listen)
        host, _ = split_listen(listen)
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        await server.start()
        for name in ("", *SERVICE_NAMES):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await health_servicer.enter_graceful_shutdown()
            await server.stop(1.0)
            self.api.close()


def bound_info(address: str, settings: ControlConfig, pid: int) -> bytes:
    """What ``<run_dir>/control.json`` says, for local clients (the CLI) to find the server."""
    return msgspec.json.encode({"address": address, "tls": bool(settings.tls_cert),
                                "tls_cert": str(Path(settings.tls_cert).expanduser()) if settings.tls_cert else "",
                                "mtls": bool(settings.tls_client_ca), "pid": pid})
