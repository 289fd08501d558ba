"""The strategy actor: routes market data to the configured strategies, builds their bars, and
turns their decisions into OrderIntents sent (reliably) to risk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from actors.base import Actor, ActorConfigError, ActorContext
from actors.replay.batch import MarketBatch
from actors.strategy import bars, indicators
from actors.strategy.api import (DEFAULT_GROUP_TIMEOUT_MS, BadParams, GroupLegOrder, InstrumentRef, Strategy,
                                 parse_params)
from actors.strategy.market_rows import market_horizon, rows_of, skip_market
from actors.strategy.bars import NSE_SESSION, BarBuilder, SessionHours
from actors.strategy.exposure import Exposure, WorkingUnits
from actors.strategy.registry import UnknownStrategy, resolve
from actors.strategy.runtime import RuntimeFileError, StrategyOverride, load_overrides, save_overrides
from engine.ledger import LedgerError, LedgerReader, ledger_dir
from engine.logs import Throttle
from engine.model.calendar import CalendarError, CalendarSource, market_hours
from engine.model.instruments import InstrumentTable
from engine.model.ist import ist_date
from engine.model.lookup import UnknownInstrument, open_instruments, resolve_instrument
from engine.model.option_time import OptionClocks, TradingTime
from actors.daily import MasterReload, held_in_ledger, reopen_instruments, task_finished
from ipc import topics
from ipc.order_rules import check_order
from ipc.reasons import Denial, DenyReason
from ipc.resend import Unacked
from ipc.messages import (
    DayPhaseBegan,
    Bar,
    BookUpdate,
    CancelAllOrders,
    CancelOrder,
    Fill,
    GroupEvent,
    GroupState,
    GroupStructure,
    ListStrategies,
    OrderDenied,
    OrderEvent,
    OrderIntent,
    OrderSpec,
    OrderType,
    Position,
    Product,
    ProtectPosition,
    Quote,
    Reply,
    SaveStrategyState,
    SetStrategyParams,
    SetStrategyRunning,
    Side,
    StrategyInfo,
    StrategyList,
    SubmitGroup,
    SubscribeInstruments,
    Tick,
    Validity,
    sliced_from,
)

RISK = "risk"
EXECUTION = "execution"
FEED = "feed"
FEED_RESUBSCRIBE_S = 10.0
MAX_RESENDS = 30
RESEND_AFTER_S = 1.0  # an intent neither ordered nor denied in this time is sent to risk again
BAR_FLUSH_GRACE_NS = 200_000_000  # let late ticks of a bar arrive before a timer closes it


def _run_id(now_ns: int) -> str:
    """Distinguishes intents across restarts (strategy name + run id + sequence is unique forever
    on the live clock, and the same for the same simulated start): the start in ms, base 36."""
    n = now_ns // 1_000_000
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out


class _Handle:
    """One strategy's view of the actor (implements api.StrategyContext)."""

    def __init__(self, actor: "StrategyActor", name: str) -> None:
        self._actor = actor
        self.name = name
        self.log = actor.log
        self._seq = 0
        self.now_ns = actor.ctx.now_ns  # the actor's clock (a simulated one in a backtest)
        self._run = _run_id(self.now_ns())
        self._protected: dict[tuple[int, int], tuple[int, Product]] = {}  # last stop sent, per instrument

    def submit(self, instrument: InstrumentRef, side: Side, qty_units: int, *, order_type: OrderType = "MARKET",
               price_paise: int = 0, trigger_price_paise: int = 0, validity: Validity = "DAY",
               product: Product = "INTRADAY", reduce_only: bool = False, group_id: str = "",
               cause: Tick | Quote | Bar | BookUpdate | None = None) -> str:
        # hot path: the last step before the order leaves this process
        if self._actor.warming:
            self._actor.warmup_dropped += 1
            return ""  # history is for the indicators: nothing is traded on it
        self._seq += 1
        intent_id = f"{self.name}-{self._run}-{self._seq}"
        now = self.now_ns()
        ts_event = cause.ts_event_ns if cause is not None else now
        ts_init = cause.ts_init_ns if cause is not None else now
        spec = OrderSpec(segment=instrument.segment, security_id=instrument.security_id, side=side,
                         order_type=order_type, validity=validity, product=product, qty_units=qty_units,
                         price_paise=price_paise, trigger_price_paise=trigger_price_paise)
        intent = OrderIntent(intent_id, self.name, spec, ts_event, ts_init, now, reduce_only, group_id)
        denial = check_order(spec, *self._actor.order_limits(instrument))  # the one check of the order's fields
        if denial is None:
            self._actor.send_intent(intent)
        else:
            self._actor.deny_here(intent, denial, now)
        return intent_id

    def submit_group(self, group_id: str, structure: GroupStructure, legs: list[GroupLegOrder], *,
                     timeout_ms: int = DEFAULT_GROUP_TIMEOUT_MS,
                     cause: Tick | Quote | Bar | BookUpdate | None = None) -> list[str]:
        if self._actor.warming:
            self._actor.warmup_dropped += 1
            return ["" for _ in legs]
        now = self.now_ns()
        ts_event = cause.ts_event_ns if cause is not None else now
        ts_init = cause.ts_init_ns if cause is not None else now
        intents = []
        refused: tuple[str, Denial] | None = None  # the first leg that is not a valid order
        for leg in legs:
            self._seq += 1
            ref = leg.instrument
            spec = OrderSpec(segment=ref.segment, security_id=ref.security_id, side=leg.side, order_type=leg.order_type,
                             product=leg.product, qty_units=leg.qty_units, price_paise=leg.price_paise)
            intents.append(OrderIntent(f"{self.name}-{self._run}-{self._seq}", self.name, spec, ts_event, ts_init, now,
                                       False, group_id))
            denial = check_order(spec, *self._actor.order_limits(ref)) if refused is None else None
            if denial is not None:
                refused = intents[-1].intent_id, denial
        if refused is None:
            self._actor.send_group(SubmitGroup(group_id, self.name, structure, intents, timeout_ms, ts_event, ts_init))
        else:  # a group goes whole or not at all: every leg is denied, the bad one with its reason
            bad_id, denial = refused
            other = Denial(DenyReason.GROUP_LEG_DENIED, f"group {group_id}: leg {bad_id} was denied: "
                                                        f"{denial.reason.value}: {denial.message}")
            for intent in intents:
                self._actor.deny_here(intent, denial if intent.intent_id == bad_id else other, now)
        return [i.intent_id for i in intents]

    def buy(self, instrument: InstrumentRef, qty_units: int, **kw: Any) -> str:
        return self.submit(instrument, "BUY", qty_units, **kw)

    def sell(self, instrument: InstrumentRef, qty_units: int, **kw: Any) -> str:
        return self.submit(instrument, "SELL", qty_units, **kw)

    def cancel(self, client_order_id: str) -> None:
        self._actor.ctx.send("execution", CancelOrder(f"{self.name}-cancel-{client_order_id}", client_order_id,
                                                      self.name, self.now_ns()))

    def protect(self, instrument: InstrumentRef, trigger_price_paise: int, *, product: Product = "INTRADAY") -> bool:
        cfg = self._actor.configured[self.name]
        if cfg.protective_stop != "venue":
            return False
        key = (instrument.segment, instrument.security_id)
        declared = (max(0, trigger_price_paise), product)
        if self._actor.warming or self._protected.get(key) == declared:
            return True  # history trades nothing; an unchanged stop is not sent again
        self._protected[key] = declared
        self._actor.ctx.send(EXECUTION, ProtectPosition(self.name, instrument.segment, instrument.security_id,
                                                        declared[0], cfg.stop_limit_offset_paise,
                                                        cfg.stop_step_paise or instrument.tick_paise, product,
                                                        self.now_ns()))
        return True

    def position(self, instrument: InstrumentRef, product: Product | None = None) -> int:
        return self._actor.exposure.position((self.name, instrument.segment, instrument.security_id), product)

    def working(self, instrument: InstrumentRef, product: Product | None = None) -> WorkingUnits:
        return self._actor.exposure.working((self.name, instrument.segment, instrument.security_id), product)

    def subscribe_bars(self, instrument: InstrumentRef, timeframe_s: int) -> None:
        self._actor.add_bar_subscription(self.name, instrument, timeframe_s)

    def save_state(self) -> None:
        self._actor.save_state(self.name)

    def resolve(self, text: str) -> InstrumentRef:
        return self._actor.resolve(text)

    def subscribe(self, instrument: InstrumentRef) -> None:
        self._actor.add_instrument(self.name, instrument)

    @property
    def table(self) -> InstrumentTable | None:
        return self._actor.table

    def option_time(self, segment: int, expiry_yyyymmdd: int, at_ns: int) -> TradingTime:
        return self._actor.option_clocks().get(segment).to_expiry(expiry_yyyymmdd, at_ns)

    @property
    def risk_free_rate_annual(self) -> float:
        return self._actor.ctx.config.control.risk_free_rate_annual


class StrategyActor(MasterReload, Actor):
    subscriptions = (topics.TICK, topics.QUOTE, topics.BOOK, topics.ORDER, topics.FILL, topics.POSITION,
                     topics.RISK_DENIED, topics.GROUP, topics.SCHEDULE, topics.INSTRUMENTS_STATUS)

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.strategies: dict[str, Strategy] = {}  # the running ones: only these see data and trade
        self.stopped: dict[str, Strategy] = {}     # stopped at run time (kept for their state)
        self.configured: dict[str, Any] = {}       # every [[strategy.instances]] entry by name
        self.overrides: dict[str, StrategyOverride] = {}
        self._ran: set[str] = set()  # strategies that ran in this process (their state is in memory)
        self.by_instrument: dict[tuple[int, int], list[Strategy]] = {}
        # What each strategy holds and has working, from fills and order events (never from its
        # intents): what ctx.position / ctx.working answer.
        self.exposure = Exposure()
        self.bar_builders: dict[tuple[int, int], list[tuple[Any, list[Strategy]]]] = {}
        self.table: InstrumentTable | None = None
        # At-least-once to risk (risk and execution dedup by intent id): an intent lost in a dying
        # risk process is sent again until its order or its denial is seen.
        self.unacked: Unacked[OrderIntent] = Unacked(RESEND_AFTER_S, MAX_RESENDS)
        # Groups likewise, as one unit: acknowledged by any event of one of their legs.
        self.unacked_groups: Unacked[SubmitGroup] = Unacked(RESEND_AFTER_S, MAX_RESENDS)
        self._deny_log = Throttle()
        self.feed_keys: dict[tuple[int, int], None] = {}  # instruments strategies asked the feed for
        # Only the live Dhan feed subscribes on request (the synthetic market and a replay carry
        # what they carry); a feed outside the configured actors is never sent to. Set at start.
        self._live_feed = False
        self.warming = False     # replaying the warm-up capture: no orders, no saves, no bar publishing
        self.warmup_dropped = 0
        self._order_limits: dict[tuple[int, int], tuple[int, int]] = {}  # see order_limits
        self._option_clocks: OptionClocks | None = None  # see option_clocks

    # The daily schedule (actors.daily) ------------------------------------------------------------
    def on_day_phase_began(self, msg: DayPhaseBegan) -> None:
        self._master_on_phase(msg)
        if msg.phase != "pre_open" or not msg.trading_day:
            return
        now = self.ctx.now_ns()
        cfg = self.ctx.config.strategy
        running = len(self.strategies)
        if msg.day == self._started_day:
            how = (f"history {cfg.warmup_history_days} days" if cfg.warmup_history_days else
                   "a capture" if cfg.warmup_capture else "no warm-up configured")
            detail = f"{running} strategies warmed at start today ({how})"
        else:
            # Running since an earlier day: the bars and indicators carried on live through the
            # night (a history fetch now would deliver bars the builders already have). The feed
            # is asked again for every instrument, as it connects for the day.
            self._resubscribe_feed()
            detail = f"{running} strategies warm since {self._started_day}; feed subscriptions sent again"
        task_finished(self.ctx, msg.day, "warm_up", True, detail, now)

    def _take_master(self, why: str) -> int:
        assert self.table is not None
        self.table = reopen_instruments(self.ctx, self.table, held_in_ledger(Path(self.ctx.data_dir)))
        self._order_limits.clear()  # lot and freeze quantities looked up again
        return len(self.table)

    # Loading ------------------------------------------------------------------------------------
    def resolve(self, text: str) -> InstrumentRef:
        assert self.table is not None
        inst = resolve_instrument(self.table, text)
        return InstrumentRef(inst.segment, inst.security_id, inst.symbol, inst.lot_size_units, inst.tick_paise)

    def on_start(self) -> None:
        # Compile (or load from numba's cache) before reporting ready, never on the first tick.
        indicators.warmup()
        bars.warmup()
        cfg = self.ctx.config.strategy
        self._live_feed = self.ctx.config.feed.source in ("dhan", "kite") and FEED in self.ctx.config.engine.actors
        self.table = open_instruments(self.ctx.config.instruments.master, self.ctx.data_dir, ist_date(self.ctx.now_ns()))
        self._started_day = ist_date(self.ctx.now_ns()).isoformat()
        for inst_cfg in cfg.instances:
            if inst_cfg.name in self.configured:
                raise ActorConfigError(f"strategy.instances: name '{inst_cfg.name}' is used twice")
            self.configured[inst_cfg.name] = inst_cfg
        try:
            self.overrides = load_overrides(self.ctx.data_dir)
        except RuntimeFileError as exc:
            raise ActorConfigError(f"{exc} (it holds the run-time starts, stops and parameter changes of "
                                   "strategies: fix it or delete it to go back to the config)") from None
        for name in self.configured:
            if not self._wants_running(name):
                if name in self.overrides:
                    self.log.warning("strategy_stopped_by_operator", strategy=name, by=self.overrides[name].by,
                                     hint="`shikra strategies start` runs it again")
                continue
            try:
                strategy = self._build(name)
            except (UnknownStrategy, BadParams, UnknownInstrument) as exc:
                raise ActorConfigError(f"strategy '{name}': {exc}") from None
            self._activate(name, strategy)
        if self.ctx.config.feed.source != "replay":
            # Live time only: a replay's exchange clock is not the wall clock.
            self.ctx.every(1.0, self._flush_bars)
        self.ctx.every(RESEND_AFTER_S / 2, self._resend_unacked)
        self.ctx.every(FEED_RESUBSCRIBE_S, self._resubscribe_feed)
        restored = self._restore_states()
        self._seed_exposure()
        for name, strategy in self.strategies.items():
            strategy.on_start()
            self.log.info("strategy_started", strategy=name, kind=strategy.kind, restored=name in restored,
                          params=msgspec.json.encode(strategy.params).decode())
        if cfg.warmup_history_days:
            self._warm_up_history(cfg.warmup_history_days)
        if cfg.warmup_capture:
            self._warm_up(cfg.warmup_capture)

    def _warm_up(self, path_text: str) -> None:
        """Replay a capture's trades through the bars and the strategies' market-data handlers
        (see ``_warming``); the last, unfinished bar is discarded."""
        # The warm-up replays a capture through the feed's decoder: imported only when a warm-up
        # capture is configured, so a strategy process does not load the decoder otherwise.
        from actors.feed.capture import CaptureError, CaptureReader
        from actors.feed.decode import FrameDecoder
        from engine.model.instruments import tick_sizes

        path = Path(path_text).expanduser()
        try:
            reader = CaptureReader(path)
        except (CaptureError, OSError) as exc:
            raise ActorConfigError(f"strategy.warmup_capture: {path}: {exc}") from None
        assert self.table is not None
        decoder = FrameDecoder(tick_sizes(self.table))
        bars_before = sum(len(b) for b in self.bar_builders.values())
        trades = 0

        def replay() -> None:
            nonlocal trades
            for recv_ns, frame in reader:
                for msg in decoder.decode_frame(frame, recv_ns, reader.feed):
                    if isinstance(msg, Tick):
                        self.on_tick(msg)
                        trades += 1
                    elif isinstance(msg, Quote):
                        self.on_quote(msg)
                        trades += 1

        try:
            self._warming(replay)
        except CaptureError as exc:
            raise ActorConfigError(f"strategy.warmup_capture: {path}: {exc}") from None
        session = self._bar_session()
        for key, builders in self.bar_builders.items():
            self.bar_builders[key] = [(BarBuilder(b.timeframe_s, b.segment, b.security_id, session=session), subs)
                                      for b, subs in builders]
        self.log.info("warmup_done", capture=str(path), trades=trades, bar_series=bars_before,
                      orders_dropped=self.warmup_dropped, undecodable=decoder.stats.problem_total)

    def _warming(self, feed: Any) -> None:
        """Run ``feed()`` (which drives market data or bars into the strategies) in warm-up mode:
        orders, saves and bar publishing are dropped, and every strategy's state is put back
        afterwards, so only what lives outside the state (indicators) keeps the history."""
        saved = {name: msgspec.msgpack.encode(s.state) for name, s in self.strategies.items()}
        self.warming = True
        try:
            feed()
        finally:
            self.warming = False
            for name, strategy in self.strategies.items():
                strategy.state = msgspec.msgpack.decode(saved[name], type=type(strategy).State)

    def _warm_up_history(self, days: int) -> None:
        """Bars of whole minutes from Dhan's minute candles, delivered in time order across
        instruments. A failure for one instrument is logged and leaves it cold; never fatal."""
        from actors.strategy.history import HistoryError, dhan_fetcher, fetch_bars
        from engine.credentials import load_credentials, session_credentials

        if not 1 <= days <= 5:
            raise ActorConfigError(f"strategy.warmup_history_days: {days}; Dhan serves minute candles for 1-5 days "
                                   "(0 turns it off)")
        cfg = self.ctx.config
        try:
            creds = load_credentials(cfg.credentials.file or None)
        except ValueError as exc:
            raise ActorConfigError(f"strategy.warmup_history_days needs Dhan credentials: {exc}") from None
        # The broker session's cached token when it renewed one (the configured one may have expired).
        creds, _expires_ns = session_credentials(creds, self.ctx.data_dir, self.ctx.now_ns())
        fetch = dhan_fetcher(creds, cfg.execution.dhan.rest_url, cfg.execution.dhan.rest_timeout_s)
        assert self.table is not None
        session = self._bar_session()
        now = self.ctx.now_ns()
        deliveries: list[tuple[int, int, Any, list[Strategy]]] = []
        skipped = failed = 0
        for (segment, security_id), builders in self.bar_builders.items():
            inst = self.table.get(segment, security_id)
            for builder, subscribers in builders:
                if builder.timeframe_s % 60 or inst is None:
                    skipped += 1
                    continue
                try:
                    bars = fetch_bars(fetch, inst, builder.timeframe_s, days, session, now)
                except HistoryError as exc:
                    failed += 1
                    self.log.warning("warmup_history_failed", error=str(exc))
                    continue
                deliveries += [(bar.ts_event_ns, len(deliveries) + i, bar, list(subscribers))
                               for i, bar in enumerate(bars)]
        deliveries.sort(key=lambda d: (d[0], d[1]))

        def replay() -> None:
            for _ts, _n, bar, subscribers in deliveries:
                for strategy in subscribers:
                    strategy.on_bar(bar)

        self._warming(replay)
        self.log.info("warmup_history_done", days=days, bars=len(deliveries), series_skipped=skipped,
                      series_failed=failed, orders_dropped=self.warmup_dropped)

    def _wants_running(self, name: str) -> bool:
        override = self.overrides.get(name)
        if override is not None and override.running is not None:
            return override.running
        return bool(self.configured[name].enabled)

    def _build(self, name: str) -> Strategy:
        """A strategy instance from its config entry, with run-time parameter changes on top.
        Raises UnknownStrategy / BadParams / UnknownInstrument for a config problem."""
        inst_cfg = self.configured[name]
        cls = resolve(inst_cfg.kind, self.ctx.config.strategy.user_dir)
        params = parse_params(cls, name, inst_cfg.params)
        override = self.overrides.get(name)
        if override is not None and override.params:
            try:
                params = parse_params(cls, name, {**msgspec.structs.asdict(params), **override.params})
            except BadParams as exc:
                # The strategy's code changed since the operator's change: run on the config's values.
                self.log.error("strategy_runtime_params_ignored", strategy=name, error=str(exc))
        instrument = self.resolve(inst_cfg.instrument) if inst_cfg.instrument else None
        return cls(_Handle(self, name), params, instrument)

    def _activate(self, name: str, strategy: Strategy) -> None:
        self.strategies[name] = strategy
        self._ran.add(name)
        for ref in strategy.instruments():
            self.add_instrument(name, ref)

    def _deactivate(self, name: str) -> Strategy:
        """Take a strategy off every route (market data, bars); it keeps its object and state."""
        strategy = self.strategies.pop(name)
        for key, routed in list(self.by_instrument.items()):
            if strategy in routed:
                routed.remove(strategy)
            if not routed:
                del self.by_instrument[key]
        for key, builders in list(self.bar_builders.items()):
            kept = []
            for builder, subscribers in builders:
                if strategy in subscribers:
                    subscribers.remove(strategy)
                if subscribers:
                    kept.append((builder, subscribers))
            if kept:
                self.bar_builders[key] = kept
            else:
                del self.bar_builders[key]
        return strategy

    def _restore_states(self) -> set[str]:
        """Each strategy's last saved state from the ledger, set before its on_start."""
        return {name for name, strategy in self.strategies.items() if self._restore_state(name, strategy)}

    def _restore_state(self, name: str, strategy: Strategy) -> bool:
        """Set one strategy's last saved state from the ledger; False when there is none."""
        try:
            reader = LedgerReader.open(ledger_dir(self.ctx.data_dir))
        except LedgerError:
            return False  # first start: nothing saved yet
        with reader, reader.snapshot() as snap:
            saved = snap.strategy_state(name)
        if saved is None:
            return False
        try:
            strategy.state = msgspec.msgpack.decode(saved.state, type=type(strategy).State)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            # A changed State schema must not stop the engine: start that strategy fresh.
            self.log.warning("strategy_state_not_restored", strategy=name, error=str(exc))
            return False
        return True

    def _seed_exposure(self) -> None:
        """Positions and open orders as the ledger holds them, before any strategy starts: a
        restarted strategy knows what it holds. A fill that is in the ledger and also reaches us
        after this is corrected by execution's next Position."""
        try:
            reader = LedgerReader.open(ledger_dir(self.ctx.data_dir))
        except LedgerError:
            return  # first start: nothing held
        with reader, reader.snapshot() as snap:
            for pos in snap.positions().values():
                self.exposure.on_position(pos)
            for order in snap.open_orders().values():
                self.exposure.seed_order(order)

    def on_stop(self) -> None:
        for name, strategy in self.strategies.items():
            strategy.on_stop()
            self.save_state(name)  # execution stops after us: the message is written

    def order_limits(self, ref: InstrumentRef) -> tuple[int, int]:
        """(lot size units, tick paise) an order in ``ref`` is checked against: the instrument
        master's, else (an instrument it does not list) the ref's own."""
        key = (ref.segment, ref.security_id)
        limits = self._order_limits.get(key)
        if limits is None:
            inst = self.table.get(*key) if self.table is not None else None
            limits = (inst.lot_size_units, inst.tick_paise) if inst is not None else (ref.lot_size_units,
                                                                                      ref.tick_paise)
            self._order_limits[key] = limits
        return limits

    def option_clocks(self) -> OptionClocks:
        """Option time for the strategies that price options (``ctx.option_time``): on the
        exchange calendar with the operator's overrides (``shikra calendar``), or always open
        with the synthetic market. Made at first use: a process without option strategies never
        loads the calendar. Damaged overrides are logged and the config's calendar is used."""
        if self._option_clocks is None:
            source: CalendarSource | None = None
            if market_hours(self.ctx.config) == "exchange":
                try:
                    source = CalendarSource(self.ctx.config.calendar, self.ctx.data_dir)
                except CalendarError as exc:
                    self.log.error("calendar_overrides_unusable", error=str(exc),
                                   detail="option time uses the configured calendar without the overrides file")
                    source = CalendarSource(self.ctx.config.calendar, None)
            self._option_clocks = OptionClocks(source)
        return self._option_clocks

    def deny_here(self, intent: OrderIntent, denial: Denial, now: int) -> None:
        """An intent that is not a valid order never leaves: its strategy hears of it in
        ``on_denied`` (soon, not from inside ``submit``), as of a denial by risk."""
        spec = intent.spec
        denied = OrderDenied(intent.intent_id, intent.strategy, spec.segment, spec.security_id, denial.reason.value,
                             denial.message, now, intent.ts_init_ns)
        self.ctx.call_later(0.0, lambda: self.on_order_denied(denied))

    def send_intent(self, intent: OrderIntent) -> None:
        # hot path
        self.exposure.sent(intent)
        self.unacked.sent(intent.intent_id, intent, self.ctx.monotonic_ns())
        self.ctx.send(RISK, intent, topics.strategy_topic(topics.INTENT, intent.strategy))

    def send_group(self, group: SubmitGroup) -> None:
        legs = [leg.intent_id for leg in group.legs]
        for leg in group.legs:
            self.exposure.sent(leg)
        self.unacked_groups.sent(group.group_id, group, self.ctx.monotonic_ns(), parts=legs)
        self.ctx.send(RISK, group, topics.strategy_topic(topics.INTENT, group.strategy))

    def on_group_event(self, msg: GroupEvent) -> None:
        self.unacked_groups.ack(msg.group_id)
        if msg.state is not GroupState.REJECTED:
            return  # legs that were sent report through their own order events
        for leg in msg.legs:
            self.exposure.dropped(leg.intent.intent_id)
        strategy = self.strategies.get(msg.strategy)
        if strategy is None:
            return
        self.log.warning("group_rejected", strategy=msg.strategy, group_id=msg.group_id, reason=msg.reason_code,
                         detail=msg.detail)
        for leg in msg.legs:
            i = leg.intent
            strategy.on_denied(OrderDenied(i.intent_id, msg.strategy, i.spec.segment, i.spec.security_id,
                                           f"GROUP_{msg.reason_code}", msg.detail, msg.ts_event_ns))

    def _resend_unacked(self) -> None:
        now = self.ctx.monotonic_ns()
        kinds: tuple[tuple[Unacked[Any], str, str, str], ...] = (
            (self.unacked_groups, "group_resent", "group_id", "no leg event or denial seen"),
            (self.unacked, "intent_resent", "intent_id", "no order or denial seen"))
        for unacked, event, id_field, why in kinds:
            resend, abandoned = unacked.due(now)
            for key, msg, tries in abandoned:
                self.log.error("resend_abandoned", **{id_field: key}, tries=tries)
                for intent in msg.legs if isinstance(msg, SubmitGroup) else (msg,):
                    self.exposure.dropped(intent.intent_id)  # its strategy may send it again
            for key, msg, _tries in resend:
                self.log.warning(event, **{id_field: key}, reason=why)
                self.ctx.send(RISK, msg, topics.strategy_topic(topics.INTENT, msg.strategy))

    def add_bar_subscription(self, name: str, instrument: InstrumentRef, timeframe_s: int) -> None:
        key = (instrument.segment, instrument.security_id)
        builders = self.bar_builders.setdefault(key, [])
        for builder, subscribers in builders:
            if builder.timeframe_s == timeframe_s:
                subscribers.append(self.strategies[name])
                return
        builders.append((BarBuilder(timeframe_s, instrument.segment, instrument.security_id,
                                    session=self._bar_session()), [self.strategies[name]]))

    def _bar_session(self) -> SessionHours:
        """Bars follow the market hours risk enforces: the exchange session, or all day for the
        synthetic market, which never closes (its bars would otherwise never form at night)."""
        return SessionHours(0, 86400) if market_hours(self.ctx.config) == "always" else NSE_SESSION

    def add_instrument(self, name: str, instrument: InstrumentRef) -> None:
        """Route an instrument's market data to a strategy at run time (idempotent); the feed is
        asked to stream it (a live feed subscribes only what it is told)."""
        key = (instrument.segment, instrument.security_id)
        routed = self.by_instrument.setdefault(key, [])
        strategy = self.strategies[name]
        if strategy not in routed:
            routed.append(strategy)
        if key not in self.feed_keys:
            self.feed_keys[key] = None
            if self._live_feed and not self.warming:
                self.ctx.send(FEED, SubscribeInstruments(self.ctx.name, [key[0]], [key[1]]))

    def _resubscribe_feed(self) -> None:
        """The whole set again: a restarted feed has only its configured instruments."""
        if self.feed_keys and self._live_feed:
            keys = list(self.feed_keys)
            self.ctx.send(FEED, SubscribeInstruments(self.ctx.name, [k[0] for k in keys], [k[1] for k in keys]))

    def on_set_strategy_params(self, msg: SetStrategyParams) -> None:
        """Run-time parameter change (a command): merged, validated, applied, or refused with why."""
        strategy = self.strategies.get(msg.strategy) or self.stopped.get(msg.strategy)
        if strategy is None and msg.strategy in self.configured:
            try:  # never started here (disabled in the config): build it to validate against
                strategy = self.stopped[msg.strategy] = self._build(msg.strategy)
            except (UnknownStrategy, BadParams, UnknownInstrument) as exc:
                self._answer(msg, False, "BAD_CONFIG", f"strategy '{msg.strategy}' cannot be built: {exc}")
                return
        if strategy is None:
            self._answer(msg, False, "UNKNOWN_STRATEGY", f"no strategy '{msg.strategy}' in [[strategy.instances]]")
            return
        try:
            changes = msgspec.json.decode(msg.params_json)
        except msgspec.DecodeError as exc:
            self._answer(msg, False, "BAD_PARAMS", f"params are not JSON: {exc}")
            return
        if not isinstance(changes, dict):
            self._answer(msg, False, "BAD_PARAMS", "params must be a JSON object of the keys to change")
            return
        merged = {**msgspec.structs.asdict(strategy.params), **changes}
        try:
            params = parse_params(type(strategy), msg.strategy, merged)
        except BadParams as exc:
            self._answer(msg, False, "BAD_PARAMS", str(exc))
            return
        override = self.overrides.get(msg.strategy, StrategyOverride())
        try:
            self._save_override(msg.strategy, StrategyOverride(override.running, {**override.params, **changes},
                                                               msg.by, msg.ts_ns))
        except OSError as exc:
            self._answer(msg, False, "NOT_SAVED", f"the change could not be kept across restarts, so it was not "
                                                  f"applied: {exc}")
            return
        old, strategy.params = strategy.params, params
        strategy.on_params_changed(old)
        self.log.warning("strategy_params_changed", strategy=msg.strategy, by=msg.by,
                         params=msgspec.json.encode(params).decode())
        self._answer(msg, True, "", msgspec.json.encode(params).decode())

    def _save_override(self, name: str, override: StrategyOverride) -> None:
        overrides = {**self.overrides, name: override}
        save_overrides(self.ctx.data_dir, overrides)
        self.overrides = overrides

    def on_set_strategy_running(self, msg: SetStrategyRunning) -> None:
        """Start or stop a strategy at run time (a command); kept across restarts."""
        name = msg.strategy
        if name not in self.configured:
            self._answer(msg, False, "UNKNOWN_STRATEGY", f"no strategy '{name}' in [[strategy.instances]]; "
                                                         f"configured: {', '.join(self.configured) or 'none'}")
            return
        running = name in self.strategies
        override = self.overrides.get(name, StrategyOverride())
        if msg.running and not running:
            strategy = self.stopped.get(name)
            if strategy is None:
                try:
                    strategy = self._build(name)
                except (UnknownStrategy, BadParams, UnknownInstrument) as exc:
                    self._answer(msg, False, "BAD_CONFIG", f"strategy '{name}' cannot start: {exc}")
                    return
        try:
            self._save_override(name, StrategyOverride(msg.running, override.params, msg.by, msg.ts_ns))
        except OSError as exc:
            self._answer(msg, False, "NOT_SAVED", f"not {'started' if msg.running else 'stopped'}: the decision "
                                                  f"could not be kept across restarts: {exc}")
            return
        if msg.running and not running:
            if name not in self._ran:
                self._restore_state(name, strategy)
            self.stopped.pop(name, None)
            self._activate(name, strategy)
            strategy.on_start()
            self.log.warning("strategy_started_by_operator", strategy=name, by=msg.by)
        elif not msg.running and running:
            strategy = self.strategies[name]
            strategy.on_stop()
            self.save_state(name)
            self.stopped[name] = self._deactivate(name)
            # Intents not yet acknowledged are not sent again: a stopped strategy places nothing.
            for intent in self.unacked.drop_where(lambda intent: intent.strategy == name):
                self.exposure.dropped(intent.intent_id)
            for group in self.unacked_groups.drop_where(lambda group: group.strategy == name):
                for leg in group.legs:
                    self.exposure.dropped(leg.intent_id)
            now = self.ctx.now_ns()
            self.ctx.send(EXECUTION, CancelAllOrders(f"stop-{name}-{msg.cmd_id}", f"stop:{msg.by}", now, name))
            self.log.warning("strategy_stopped_by_operator", strategy=name, by=msg.by)
        self._answer(msg, True, "", "running" if msg.running else "stopped")

    def on_list_strategies(self, msg: ListStrategies) -> None:
        infos = [self._info(name) for name in self.configured]
        sender = getattr(self.ctx, "sender", "")
        if sender:
            self.ctx.reply(sender, StrategyList(msg.cmd_id, infos))

    def _info(self, name: str) -> StrategyInfo:
        inst_cfg = self.configured[name]
        strategy = self.strategies.get(name) or self.stopped.get(name)
        override = self.overrides.get(name, StrategyOverride())
        if strategy is not None:
            params_json = msgspec.json.encode(strategy.params).decode()
            instruments = [ref.symbol for ref in strategy.instruments()]
        else:
            params_json = msgspec.json.encode({**inst_cfg.params, **override.params}).decode()
            instruments = [inst_cfg.instrument] if inst_cfg.instrument else []
        return StrategyInfo(name, inst_cfg.kind, name in self.strategies, instruments, params_json,
                            override.by, override.ts_ns)

    def _answer(self, msg: SetStrategyParams | SetStrategyRunning, ok: bool, code: str, detail: str) -> None:
        if not ok:
            self.log.warning("strategy_command_refused", strategy=msg.strategy, by=msg.by, code=code, detail=detail)
        sender = getattr(self.ctx, "sender", "")
        if sender:
            self.ctx.reply(sender, Reply(msg.cmd_id, self.ctx.name, ok, code, detail))

    def save_state(self, name: str) -> None:
        """Persist a strategy's state: execution (the ledger's only writer) stores it; reliable send."""
        strategy = self.strategies.get(name)
        if strategy is None or self.warming:
            return
        self.ctx.send(EXECUTION, SaveStrategyState(name, msgspec.msgpack.encode(strategy.state), self.ctx.now_ns()))

    # Market data --------------------------------------------------------------------------------
    def on_tick(self, msg: Tick) -> None:
        # hot path
        key = (msg.segment, msg.security_id)
        for strategy in self.by_instrument.get(key, ()):
            strategy.on_tick(msg)
        if key in self.bar_builders:
            self._feed_bars(key, msg.ts_event_ns, msg.ltp_paise, 0, msg.ts_init_ns)

    def on_quote(self, msg: Quote) -> None:
        # hot path
        key = (msg.segment, msg.security_id)
        for strategy in self.by_instrument.get(key, ()):
            strategy.on_quote(msg)
        if key in self.bar_builders:
            self._feed_bars(key, msg.ts_event_ns, msg.ltp_paise, msg.ltq_units, msg.ts_init_ns)

    def _feed_bars(self, key: tuple[int, int], ts_event_ns: int, price_paise: int, qty_units: int,
                   ts_init_ns: int) -> None:
        for builder, subscribers in self.bar_builders[key]:
            for bar in builder.on_tick(ts_event_ns, price_paise, qty_units, ts_init_ns):
                if not self.warming:
                    self.ctx.publish(topics.bar_topic(bar.timeframe_s, bar.segment, bar.security_id), bar)
                for strategy in subscribers:
                    strategy.on_bar(bar)

    def _flush_bars(self) -> None:
        """Close bars of quiet instruments once their end has passed (timer-driven close)."""
        now = self.ctx.now_ns()
        for builders in self.bar_builders.values():
            for builder, subscribers in builders:
                for bar in builder.flush(now - BAR_FLUSH_GRACE_NS, now):
                    self.ctx.publish(topics.bar_topic(bar.timeframe_s, bar.segment, bar.security_id), bar)
                    for strategy in subscribers:
                        strategy.on_bar(bar)

    # Replay batches: each strategy says how far it would not act, bars how far none closes -------
    def market_batch_horizon(self, batch: MarketBatch, start: int, stop: int) -> int:
        for j in batch.instruments_in(start, stop):
            strategies = self.by_instrument.get(batch.keys[j], ())
            builders = self.bar_builders.get(batch.keys[j], ())
            if not strategies and not builders:
                continue
            rows, view = rows_of(batch, j, start, stop)
            for strategy in strategies:
                k = market_horizon(strategy, view)
                if k < rows.size:
                    stop = min(stop, int(rows[k]))
            for builder, _ in builders:
                k = builder.first_close(view.ts_event_ns, view.ltp_paise, view.ltq_units)
                if k < rows.size:
                    stop = min(stop, int(rows[k]))
        return stop

    def on_market_batch(self, batch: MarketBatch, start: int, stop: int) -> None:
        for j in batch.instruments_in(start, stop):
            strategies = self.by_instrument.get(batch.keys[j], ())
            builders = self.bar_builders.get(batch.keys[j], ())
            if not strategies and not builders:
                continue
            _, view = rows_of(batch, j, start, stop)
            for strategy in strategies:
                skip_market(strategy, view)
            for builder, _ in builders:
                builder.take_quiet(view.ts_event_ns, view.ltp_paise, view.ltq_units)

    def on_book_update(self, msg: BookUpdate) -> None:
        for strategy in self.by_instrument.get((msg.segment, msg.security_id), ()):
            strategy.on_book(msg)

    # Order flow ---------------------------------------------------------------------------------
    def on_order_event(self, msg: OrderEvent) -> None:
        self.unacked.ack(sliced_from(msg.intent_id))  # a slice's order answers the intent it came from
        self.exposure.on_order(msg)
        self.unacked_groups.ack(msg.intent_id)  # a leg's event acknowledges its group
        strategy = self.strategies.get(msg.strategy)
        if strategy is not None:
            strategy.on_order(msg)

    def on_order_denied(self, msg: OrderDenied) -> None:
        # A re-send of an approved intent is answered with its order's state, never a denial.
        self.unacked.ack(msg.intent_id)
        self.unacked_groups.ack(msg.intent_id)
        self.exposure.dropped(msg.intent_id)
        suppressed = self._deny_log.allow((msg.strategy, msg.reason_code))
        if suppressed is not None:
            self.log.info("intent_denied", strategy=msg.strategy, intent_id=msg.intent_id,
                          reason=msg.reason_code, message=msg.message, suppressed=suppressed)
        strategy = self.strategies.get(msg.strategy)
        if strategy is not None:
            strategy.on_denied(msg)

    def on_fill(self, msg: Fill) -> None:
        self.exposure.on_fill(msg)
        strategy = self.strategies.get(msg.strategy)
        if strategy is not None:
            strategy.on_fill(msg)

    def on_position(self, msg: Position) -> None:
        self.exposure.on_position(msg)
