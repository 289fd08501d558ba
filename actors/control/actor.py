"""The control actor: the gRPC control API (``proto/shikra/v1/control.proto``) inside the engine.

Two loops in one process. The actor's own loop (the host's zmq.Poller) owns the sockets: it sends
intents to risk, cancels to execution, kill-switch commands to the supervisor, audit rows and user
changes to execution (the ledger's only writer), and receives order events, fills, denials and
replies, and keeps the latest ``supervisor.status``, ``risk.usage`` and ``risk.limits``
(``actors.control.peers``).
The gRPC server runs on a uvloop event loop in a background thread started in ``on_start``; it
reads the ledger directly and reaches the actor loop only through the bridge
(``actors.control.bridge``).

Must not share a process with execution: LMDB allows one environment handle per process, and
execution holds the writer's.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from actors.base import Actor, ActorConfigError, ActorContext
from actors.control.bridge import Answer, Bridge
from actors.control.chain import price_chain
from actors.control.config import ControlConfig, control_config
from actors.control.market import MarketSnapshot, MarketStore
from actors.control.peers import EXECUTION, RISK
from actors.control.schedule_log import ScheduleLog
from actors.daily import MasterReload, held_in_ledger, reopen_instruments
from actors.control.server import ServerError, ServerThread, bound_info
from actors.control.service import ControlApi
from actors.control.views import MarketViews
from engine.files import replace_file
from engine.model import black76
from engine.model.calendar import CalendarError, CalendarSource, market_hours
from engine.model.expiry_day import listing_day
from engine.model.instruments import InstrumentTable, OptionChain
from engine.model.ist import ist_date
from engine.model.lookup import open_instruments
from engine.model.option_time import OptionClocks
from engine.model.scanner import ScannerConfig, ScreenConfig
from ipc.messages import TERMINAL_ORDER_STATES
from ipc import topics
from ipc.messages import (
    CancelAllOrders,
    DailyTaskFinished,
    DayPhaseBegan,
    CancelOrder,
    Depth,
    Fill,
    Message,
    OpenInterest,
    OptionChainSnapshot,
    OrderDenied,
    OrderEvent,
    OiTrackerSnapshot,
    OrderIntent,
    Position,
    PrevClose,
    Quote,
    Reply,
    RiskLimitsKept,
    RiskUsage,
    ScanResult,
    StrategyList,
    SupervisorStatus,
    Tick,
)

CONTROL_INFO = "control.json"
TERMINAL = TERMINAL_ORDER_STATES


class ControlActor(MasterReload, Actor):
    # Market data for quotes and priced chains (actors.control.market), besides the engine's events.
    subscriptions = (topics.ORDER, topics.FILL, topics.RISK_DENIED, topics.SUPERVISOR_STATUS, topics.RISK_USAGE,
                     topics.RISK_LIMITS, topics.SCHEDULE, topics.INSTRUMENTS_STATUS, topics.POSITION, topics.TICK,
                     topics.QUOTE, topics.DEPTH, topics.OI, topics.PREV_CLOSE)

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        # Calls waiting on the actor loop for an answer from the engine, by what answers them.
        self._intents: dict[str, list[Answer]] = {}
        self._cancels: dict[str, list[Answer]] = {}
        self._commands: dict[str, Answer] = {}
        self.bridge: Bridge | None = None
        self.api: ControlApi | None = None
        self.server: ServerThread | None = None
        self.info_path: Path | None = None
        self.market = MarketStore(1)  # sized from the config in on_start
        self.settings: ControlConfig | None = None
        self.option_clocks = OptionClocks(None)
        self.views: MarketViews | None = None

    # Lifecycle ----------------------------------------------------------------------------------
    def on_start(self) -> None:
        cfg = self.ctx.config
        try:
            settings = control_config(cfg)
        except ValueError as exc:
            raise ActorConfigError(str(exc)) from None
        eng = cfg.engine
        if eng.topology == "co-located" and {"control", "execution"} <= set(eng.colocated):
            raise ActorConfigError("engine.colocated: control cannot share a process with execution (LMDB allows "
                                   "one handle on the ledger per process); leave control out of colocated")
        table = open_instruments(cfg.instruments.master, Path(self.ctx.data_dir), ist_date(self.ctx.now_ns()))
        self.settings = settings
        self.market = MarketStore(settings.market_instruments)
        if market_hours(cfg) == "exchange":
            try:
                self.option_clocks = OptionClocks(CalendarSource(cfg.calendar, self.ctx.data_dir))
            except CalendarError as exc:
                raise ActorConfigError(f"the market calendar's overrides do not apply: {exc}") from None
        black76.warmup()  # compiled (or loaded from numba's cache) before ready: no call pays for it
        if settings.chain_interval_s > 0 and settings.chain_underlyings:
            self.ctx.every(settings.chain_interval_s, self._publish_chains)
        # The scanner's section is checked with the config file (engine.config); its windows
        # against control.history_s there too.
        self.views = MarketViews(settings, getattr(cfg, "scanner", None) or ScannerConfig())
        self.ctx.every(settings.history_sample_s, self._sample_market)
        if settings.oi_interval_s > 0 and settings.oi_underlyings:
            self.ctx.every(settings.oi_interval_s, self._publish_oi)
        if self.views.scanner.interval_s > 0 and self.views.scanner.screens:
            self.ctx.every(self.views.scanner.interval_s, self._publish_scans)
        self.bridge = Bridge()
        self.ctx.watch_fd(self.bridge.fileno(), self._drain)
        self.api = ControlApi(settings, self.bridge, self, Path(self.ctx.data_dir), Path(self.ctx.run_dir), table,
                              self.log, cfg)
        self.api.schedule_log = ScheduleLog(Path(self.ctx.data_dir))
        if self.api.schedule_log.load_error:
            self.log.warning("schedule_log_unreadable", error=self.api.schedule_log.load_error)
        bridge = self.bridge
        # A dead server must not leave a live actor that serves nothing: stop, and be restarted.
        self.server = ServerThread(self.api, settings, self.log,
                                   on_failure=lambda why: bridge.post(lambda: self.ctx.request_stop(why)))
        try:
            address = self.server.start()
        except ServerError as exc:
            if exc.config_problem:
                raise ActorConfigError(str(exc)) from None
            raise
        self.info_path = Path(self.ctx.run_dir) / CONTROL_INFO
        replace_file(self.info_path, bound_info(address, settings, os.getpid()), durable=False)
        self.log.info("control_ready", address=address, tls=bool(settings.tls_cert),
                      mtls=bool(settings.tls_client_ca))

    def on_stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.info_path is not None:
            try:
                if f'"pid":{os.getpid()}' in self.info_path.read_text():
                    self.info_path.unlink()
            except OSError:
                pass
        if self.bridge is not None:
            self.bridge.drain(self._work_failed)  # the last audit rows still go out
            self.ctx.unwatch_fd(self.bridge.fileno())
            self.bridge.close()

    def _drain(self) -> None:
        assert self.bridge is not None
        self.bridge.drain(self._work_failed)

    def _work_failed(self, exc: Exception) -> None:
        # One bad piece of work must not stop the rest (or the actor).
        self.log.error("control_work_failed", error=f"{type(exc).__name__}: {exc}")

    # EngineSide: called on this loop through the bridge ------------------------------------------
    def start_place(self, intent: OrderIntent, answer: Answer) -> None:
        self._intents.setdefault(intent.intent_id, []).append(answer)
        self.ctx.send(RISK, intent, topics.strategy_topic(topics.INTENT, intent.strategy))

    def forget_intent(self, intent_id: str) -> None:
        self._intents.pop(intent_id, None)

    def start_cancel(self, client_order_id: str, by: str, answer: Answer) -> None:
        self._cancels.setdefault(client_order_id, []).append(answer)
        self.ctx.send(EXECUTION, CancelOrder(uuid.uuid4().hex, client_order_id, by, self.ctx.now_ns()))

    def forget_cancel(self, client_order_id: str) -> None:
        self._cancels.pop(client_order_id, None)

    def cancel_all(self, strategy: str, by: str) -> None:
        self.ctx.send(EXECUTION, CancelAllOrders(uuid.uuid4().hex, by, self.ctx.now_ns(), strategy))

    def start_command(self, target: str, msg: Message, answer: Answer) -> None:
        self._commands[msg.cmd_id] = answer  # type: ignore[attr-defined]
        self.ctx.send(target, msg, topics.command_topic(type(msg).__name__))

    def forget_command(self, cmd_id: str) -> None:
        self._commands.pop(cmd_id, None)

    def now_ns(self) -> int:
        return self.ctx.now_ns()

    def market_snapshots(self, keys: list[tuple[int, int]]) -> tuple[list[MarketSnapshot | None], int]:
        return [self.market.snapshot(seg, sid) for seg, sid in keys], self.ctx.now_ns()

    def priced_chain(self, table: InstrumentTable, chain: OptionChain, strikes_each_side: int) -> OptionChainSnapshot:
        assert self.settings is not None
        now_ns = self.ctx.now_ns()
        time = self.option_clocks.get(chain.segment).to_expiry(chain.expiry_yyyymmdd, now_ns)
        return price_chain(table, chain, self.market, time, self.settings.risk_free_rate_annual, strikes_each_side,
                           now_ns)

    def oi_tracker(self, chain: OptionChain, windows_s: list[int] | None) -> OiTrackerSnapshot:
        assert self.views is not None
        return self.views.oi_tracker(chain, self.market, windows_s, self.ctx.now_ns())

    def scan(self, table: InstrumentTable, screens: list[ScreenConfig]) -> list[ScanResult]:
        assert self.views is not None
        return self.views.scan(table, self.market, screens, self.ctx.now_ns())

    def _sample_market(self) -> None:
        assert self.views is not None
        self.views.sample(self.market, self.ctx.now_ns())

    def _publish_oi(self) -> None:
        """The configured underlyings' nearest OI trackers on ``oitrack.<UNDERLYING>.<YYYYMMDD>``."""
        if self.api is None or self.settings is None:
            return
        table = self.api.instruments
        first_listed = listing_day(self.ctx.now_ns())
        for underlying in self.settings.oi_underlyings:
            for expiry in table.expiries(underlying, first_listed)[:self.settings.oi_expiries]:
                chain = table.option_chain(underlying, expiry)
                if chain is not None:
                    self.ctx.publish(topics.oi_track_topic(chain.underlying, expiry), self.oi_tracker(chain, None))

    def _publish_scans(self) -> None:
        """Every configured screen on ``scan.<name>``."""
        if self.api is None or self.views is None:
            return
        for result in self.scan(self.api.instruments, self.views.scanner.screens):
            self.ctx.publish(topics.scan_topic(result.screen), result)

    def _publish_chains(self) -> None:
        """The configured underlyings' nearest chains on ``chain.<UNDERLYING>.<YYYYMMDD>``."""
        if self.api is None or self.settings is None:
            return
        table = self.api.instruments
        first_listed = listing_day(self.ctx.now_ns())
        for underlying in self.settings.chain_underlyings:
            for expiry in table.expiries(underlying, first_listed)[:self.settings.chain_expiries]:
                chain = table.option_chain(underlying, expiry)
                if chain is not None:
                    snap = self.priced_chain(table, chain, self.settings.chain_strikes_each_side)
                    self.ctx.publish(topics.chain_topic(chain.underlying, expiry), snap)

    # Market data (hot path: every message the feed publishes) ------------------------------------
    def on_tick(self, msg: Tick) -> None:
        self.market.on_tick(msg)

    def on_quote(self, msg: Quote) -> None:
        self.market.on_quote(msg)

    def on_depth(self, msg: Depth) -> None:
        self.market.on_depth(msg)

    def on_open_interest(self, msg: OpenInterest) -> None:
        self.market.on_open_interest(msg)

    def on_prev_close(self, msg: PrevClose) -> None:
        self.market.on_prev_close(msg)

    def send(self, target: str, msg: Message) -> None:
        self.ctx.send(target, msg)

    # Bus ----------------------------------------------------------------------------------------
    def on_order_event(self, msg: OrderEvent) -> None:
        waiting = self._intents.pop(msg.intent_id, None)
        if waiting:
            for answer in waiting:
                answer(msg)
        if msg.state in TERMINAL:
            cancels = self._cancels.pop(msg.client_order_id, None)
            if cancels:
                for answer in cancels:
                    answer(msg)
        self._publish(msg)

    def on_order_denied(self, msg: OrderDenied) -> None:
        waiting = self._intents.pop(msg.intent_id, None)
        if waiting:
            for answer in waiting:
                answer(msg)
        self._publish(msg)

    def on_fill(self, msg: Fill) -> None:
        self._publish(msg)

    def on_reply(self, msg: Reply | StrategyList) -> None:
        answer = self._commands.pop(msg.cmd_id, None)
        if answer is not None:
            answer(msg)

    def on_strategy_list(self, msg: StrategyList) -> None:
        self.on_reply(msg)

    def on_supervisor_status(self, msg: SupervisorStatus) -> None:
        if self.api is not None:
            self.api.peers.status = msg.status

    def on_risk_usage(self, msg: RiskUsage) -> None:
        if self.api is not None:
            self.api.peers.usage = msg

    def on_position(self, msg: Position) -> None:
        if self.api is not None:
            self.api.peers.take_mark(msg)

    def on_risk_limits_kept(self, msg: RiskLimitsKept) -> None:
        if self.api is not None:
            self.api.peers.limits = msg

    # The daily schedule: what ran (GetSchedule) and the instrument master (actors.daily) ----------
    def on_day_phase_began(self, msg: DayPhaseBegan) -> None:
        self._master_on_phase(msg)
        self._schedule_record(msg)

    def on_daily_task_finished(self, msg: DailyTaskFinished) -> None:
        self._schedule_record(msg)

    def _schedule_record(self, msg: DayPhaseBegan | DailyTaskFinished) -> None:
        if self.api is None:
            return
        self.api.schedule_log.record(msg)
        try:
            self.api.schedule_log.save()
        except OSError as exc:
            self.log.warning("schedule_log_not_saved", error=str(exc))

    def _take_master(self, why: str) -> int:
        assert self.api is not None
        # One attribute swapped whole: a search on the gRPC thread sees the old table or the new one.
        # The API's reader when it has one open (LMDB allows one handle per process).
        held = held_in_ledger(Path(self.ctx.data_dir), self.api._reader)
        self.api.instruments = reopen_instruments(self.ctx, self.api.instruments, held)
        return len(self.api.instruments)

    def _publish(self, msg: OrderEvent | Fill | OrderDenied) -> None:
        api = self.api
        if api is not None and api.watching:
            api.publish_event(msg)
