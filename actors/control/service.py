"""The control API's core: the dispatch table, authentication and audit, and ledger access.

:class:`ControlApi` answers every call. :meth:`ControlApi.call` authenticates the caller against
the ledger's ``tokens`` and ``users`` tables as it arrives (no cache: a revoked token fails on its
very next call), authorizes the method for the caller's role, checks the request's sizes
(``engine.control_api.limits``: strings, repeated fields, JSON depth), runs the handler the
dispatch table names, audits it and answers; a handler returns a response or a :class:`Refusal`
(a gRPC status and a message), which becomes the call's error. Every state-changing call, and
every rejected call, becomes an audit row written by execution (the ledger's only writer).

The handlers are mixins, one module per group of services in ``actors.control.calls``. Everything
here runs on the gRPC thread's asyncio (uvloop) loop (``actors.control.server``). Reads go straight
to the ledger (an LMDB read snapshot per call: microseconds) and to the latest status the
supervisor and risk published (``actors.control.peers``, kept by the actor loop). Anything that
needs the engine is handed to the actor loop through the :class:`~actors.control.bridge.Bridge`
and calls an :class:`EngineSide` method there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import grpc
from google.protobuf.message import Message as ProtoMessage

from actors.control import convert
from actors.control.auth import (
    STATE_CHANGING,
    AuditLimiter,
    Principal,
    Rejection,
    authenticate,
    authorize,
    bearer_token,
    token_sha256,
)
from actors.control.bridge import Answer, Bridge
from actors.control.calls.instruments import InstrumentCalls
from actors.control.calls.market import MarketCalls
from actors.control.calls.orders import OrderCalls
from actors.control.calls.portfolio import PortfolioCalls
from actors.control.calls.risk import RiskCalls
from actors.control.calls.status import StatusCalls
from actors.control.calls.strategies import StrategyCalls
from actors.control.calls.users import UserCalls
from actors.control.calls.watch import WatchCalls, Watcher
from actors.control.config import ControlConfig
from actors.control.convert import Refusal
from actors.control.market import MarketSnapshot
from actors.control.peers import EXECUTION, Peers
from actors.control.schedule_log import ScheduleLog
from actors.risk.limits import RiskLimits
from engine.backoff import backoff_s
from engine.control_api import control_pb2 as pb
from engine.control_api.limits import Undecodable, check_request, clip_detail
from engine.ledger import LedgerError, LedgerReader, LedgerSnapshot, ledger_dir
from engine.logs import Log
from engine.model.calendar import CalendarConfig, CalendarError, CalendarSource, SessionCalendar
from engine.model.instruments import InstrumentTable, OptionChain
from engine.model.scanner import ScannerConfig, ScreenConfig
from engine.model.schedule import ScheduleConfig
from ipc.messages import Message, OiTrackerSnapshot, OptionChainSnapshot, OrderIntent, RecordAudit, ScanResult

if TYPE_CHECKING:
    from engine.config import Config

T = TypeVar("T")
_POLL_FIRST_S = 0.002
_POLL_MAX_S = 0.05
_AUDIT_CHARS = 2000  # of each value in an audit row


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

    def market_snapshots(self, keys: list[tuple[int, int]]) -> tuple[list[MarketSnapshot | None], int]:
        """The market of each (segment, security id) as the actor keeps it (None: nothing heard),
        and the actor clock's now."""
        ...

    def priced_chain(self, table: InstrumentTable, chain: OptionChain, strikes_each_side: int) -> OptionChainSnapshot:
        """``chain`` priced on the market the actor keeps, now (``actors.control.chain``)."""
        ...

    def oi_tracker(self, chain: OptionChain, windows_s: list[int] | None) -> OiTrackerSnapshot:
        """``chain``'s OI tracker now over ``windows_s`` (None: the configured ones;
        ``actors.control.oi``)."""
        ...

    def scan(self, table: InstrumentTable, screens: list[ScreenConfig]) -> list[ScanResult]:
        """``screens`` run now over the market the actor keeps (``actors.control.views``)."""
        ...

    def now_ns(self) -> int:
        """The actor's clock (epoch ns, UTC). The one method called from the gRPC thread."""
        ...


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
    if isinstance(result, pb.ModifyOrderResponse):
        o = result.order
        state = pb.OrderState.Name(o.state).removeprefix("ORDER_STATE_")
        return (f"OK order {o.client_order_id} {state} qty {o.qty_units} price {o.price_paise} trigger "
                f"{o.trigger_price_paise}" + ("" if result.modified else f" NOT MODIFIED {o.reason_code}"))
    if isinstance(result, pb.SquareOffAllResponse):
        return (f"OK closing {len(result.positions)} positions, cancelling "
                f"{len(result.cancelled_client_order_ids)} orders")
    if isinstance(result, pb.ConvertPositionResponse):
        p = result.to_position
        return f"OK converted: {p.strategy} {p.segment}:{p.security_id} {p.product} now {p.net_qty_units} units"
    if isinstance(result, pb.SetRiskLimitsResponse):
        return f"OK limits changes now {result.changes_json}"
    if isinstance(result, (pb.StartStrategyResponse, pb.StopStrategyResponse)):
        s = result.strategy
        return f"OK strategy {s.name} {'running' if s.running else 'stopped'}"
    if isinstance(result, pb.SetStrategyParamsResponse):
        return f"OK strategy {result.name} params {result.params_json}"
    return "OK"


class ControlApi(StatusCalls, OrderCalls, WatchCalls, PortfolioCalls, RiskCalls, InstrumentCalls, MarketCalls,
                 UserCalls, StrategyCalls):
    """The API's behaviour: one handler per method, routed to by name (``call``); the servicers in
    ``actors.control.server`` only pass calls here."""

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
        # The day's plan (GetSchedule): the config's [schedule] on the calendar; what ran comes
        # from the actor loop's log (it replaces this one at start).
        self.schedule_config: ScheduleConfig = config.schedule if config is not None else ScheduleConfig()
        self.scanner_config: ScannerConfig = config.scanner if config is not None else ScannerConfig()
        self.schedule_log = ScheduleLog(None)
        self._calendar_source: CalendarSource | None = None
        self._calendar_config = config.calendar if config is not None else CalendarConfig()
        self.limiter = AuditLimiter()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.watching = 0  # read by the actor loop (an int: a stale read only delays one event)
        self._watchers: set[Watcher] = set()
        self._reader: LedgerReader | None = None
        self._symbols: dict[tuple[int, int], str] = {}
        # The dispatch table: every unary method by its proto name (the handlers are the mixins').
        self._impls: dict[str, Callable[[Principal, Any], Awaitable[Any]]] = {
            "GetStatus": self.get_status,
            "GetSchedule": self.get_schedule,
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
            "GetDayPnl": self.get_day_pnl,
            "ConvertPosition": self.convert_position,
            "GetRiskState": self.get_risk_state,
            "EngageKillSwitch": self.engage_kill_switch,
            "ReleaseKillSwitch": self.release_kill_switch,
            "SearchInstruments": self.search_instruments,
            "GetOptionChain": self.get_option_chain,
            "GetQuote": self.get_quote,
            "GetPricedChain": self.get_priced_chain,
            "GetOiTracker": self.get_oi_tracker,
            "Scan": self.scan,
            "AddUser": self.add_user,
            "ListUsers": self.list_users,
            "RevokeUser": self.revoke_user,
        }

    def schedule_calendar(self) -> SessionCalendar:
        """The calendar with its overrides as they are now (gRPC thread only)."""
        if self._calendar_source is None:
            self._calendar_source = CalendarSource(self._calendar_config, self.data_dir)
        try:
            self._calendar_source.refresh()
        except CalendarError as exc:
            self.log.warning("calendar_overrides_refused", error=str(exc))
        return self._calendar_source.calendar

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
        try:
            with self._snapshot() as snap:
                if isinstance(snap, Refusal):
                    return snap
                row = snap.token(digest)
                user = snap.user(row.name) if row is not None else None
        except LedgerError as exc:  # the tokens cannot be read: nobody can be let in, say why
            return self._ledger_refusal(method, "", exc)
        who = authenticate(row, user)
        if isinstance(who, Rejection):
            return who
        return authorize(who, method)

    def _ledger_refusal(self, method: str, user: str, exc: LedgerError) -> Refusal:
        """DATA_LOSS for a damaged ledger (UNAVAILABLE for a passing cause), with the ledger's own
        message: which file, what is wrong, what to do."""
        self.log.error("control_call_ledger_error", method=method, user=user, error=str(exc))
        code = grpc.StatusCode.DATA_LOSS if exc.permanent else grpc.StatusCode.UNAVAILABLE
        return Refusal(code, f"{method}: the ledger cannot be read: {exc}")

    def audit(self, who: str, action: str, args: dict[str, str], result: str) -> None:
        """Send one audit row to execution (through the actor loop). Never blocks."""
        # A refused request may carry values over the limits: the row keeps their first 2,000 characters.
        args = {key: value[:_AUDIT_CHARS] for key, value in args.items()}
        row = RecordAudit(who=who, action=action, args=args, result=result[:_AUDIT_CHARS],
                          ts_ns=self.engine.now_ns())
        self.bridge.post(lambda: self.engine.send(EXECUTION, row))

    async def _gate(self, method: str, request: ProtoMessage, context: grpc.aio.ServicerContext) -> Principal:
        """The caller, or the call ends here (audited, within the rejection rate limit). A request
        that did not decode ends here first: there are no fields to audit."""
        if isinstance(request, Undecodable):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, clip_detail(request.problem))
        found = self._authenticate(method, context)
        if isinstance(found, Principal):
            return found
        if isinstance(found, Refusal):
            await context.abort(found.code, clip_detail(found.message))
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
        await context.abort(code, clip_detail(found.message))
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    async def call(self, method: str, request: ProtoMessage, context: grpc.aio.ServicerContext) -> Any:
        """One unary call: authenticate, authorize, check sizes, run, audit, answer. A refusal's
        text is cut to ``MAX_DETAIL_BYTES``: one longer than the client's metadata limit would
        reach it as RESOURCE_EXHAUSTED instead of the refusal."""
        who = await self._gate(method, request, context)
        try:
            oversized = check_request(request)  # before any handler: they may assume sane sizes
            result = (Refusal(grpc.StatusCode.INVALID_ARGUMENT, oversized) if oversized is not None
                      else await self._impls[method](who, request))
        except LedgerError as exc:  # a damaged ledger is not a bug of this call: say what it is
            result = self._ledger_refusal(method, who.name, exc)
        except Exception as exc:  # a bug answers INTERNAL (and is audited), never hangs the client
            self.log.exception("control_call_failed", method=method, user=who.name)
            result = Refusal(grpc.StatusCode.INTERNAL, f"{method} failed in the control actor: "
                                                       f"{type(exc).__name__}: {exc}")
        if method in STATE_CHANGING:
            args = convert.request_args(request)
            args["token_id"] = who.token_id
            self.audit(who.name, method, args, outcome_text(result))
        if isinstance(result, Refusal):
            await context.abort(result.code, clip_detail(result.message))
        return result

    # Commands ----------------------------------------------------------------------------------
    async def _command(self, target: str, msg: Message, what: str) -> Any:
        """Send a command with a ``cmd_id`` to ``target`` (the actor that owns the state) and
        return its answer (a Reply or a StrategyList), or a Refusal when the target is down or does
        not answer in time. The target must be up before sending: a DEALER queues for a peer that
        is away, and a command the caller gave up on must not take effect minutes later."""
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
