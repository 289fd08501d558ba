"""The strategy actor: routes market data to the configured strategies, builds their bars, and
turns their decisions into OrderIntents sent (reliably) to risk."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import numpy as np

from actors.base import Actor, ActorConfigError, ActorContext
from actors.market_batch import MarketBatch
from actors.strategy.api import BadParams, InstrumentRef, MarketRows, Strategy, parse_params
from actors.strategy.registry import UnknownStrategy, resolve
from engine.instruments import InstrumentTable
from engine.config import market_hours
from engine.ledger import LedgerError, LedgerReader, ledger_dir
from engine.logs import Throttle
from engine.market import UnknownInstrument, open_instruments, resolve_instrument
from ipc import topics
from ipc.messages import (
    Bar,
    BookUpdate,
    Fill,
    OrderDenied,
    OrderEvent,
    OrderIntent,
    Reply,
    SaveStrategyState,
    SetStrategyParams,
    OrderType,
    Product,
    Quote,
    Side,
    Tick,
    Validity,
)

RISK = "risk"
EXECUTION = "execution"
MAX_RESENDS = 30
RESEND_AFTER_S = 1.0  # an intent neither ordered nor denied in this time is sent to risk again
BAR_FLUSH_GRACE_NS = 200_000_000  # let late ticks of a bar arrive before a timer closes it


def _market_rows(batch: MarketBatch, instrument: int, start: int, stop: int) -> tuple[np.ndarray, MarketRows]:
    """(rows, the strategies' view of them) for one instrument's rows in ``[start, stop)``
    (quantity 0 on ticks, as ``on_tick`` feeds bars)."""
    c = batch.columns_of(instrument)
    lo, hi = batch.span(instrument, start, stop)
    return c.rows[lo:hi], MarketRows(c.kind[lo:hi], c.ltp_paise[lo:hi], c.ltq_units[lo:hi], c.ts_event_ns[lo:hi],
                                     c.mid_x2_paise[lo:hi] if c.mid_x2_paise is not None else None)


def _run_id() -> str:
    """Distinguishes intents across restarts (strategy name + run id + sequence is unique forever)."""
    n = time.time_ns() // 1_000_000
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
        self._run = _run_id()

    def now_ns(self) -> int:
        return time.time_ns()

    def submit(self, instrument: InstrumentRef, side: Side, qty_units: int, *, order_type: OrderType = "MARKET",
               price_paise: int = 0, trigger_price_paise: int = 0, validity: Validity = "DAY",
               product: Product = "INTRADAY", reduce_only: bool = False, group_id: str = "",
               cause: Tick | Quote | Bar | BookUpdate | None = None) -> str:
        # hot path: the last step before the order leaves this process
        self._seq += 1
        intent_id = f"{self.name}-{self._run}-{self._seq}"
        now = time.time_ns()
        ts_event = cause.ts_event_ns if cause is not None else now
        ts_init = cause.ts_init_ns if cause is not None else now
        intent = OrderIntent(intent_id, self.name, instrument.segment, instrument.security_id, side, qty_units,
                             order_type, price_paise, trigger_price_paise, validity, product, ts_event, ts_init, now,
                             reduce_only, group_id)
        self._actor.send_intent(intent)
        return intent_id

    def buy(self, instrument: InstrumentRef, qty_units: int, **kw: Any) -> str:
        return self.submit(instrument, "BUY", qty_units, **kw)

    def sell(self, instrument: InstrumentRef, qty_units: int, **kw: Any) -> str:
        return self.submit(instrument, "SELL", qty_units, **kw)

    def cancel(self, client_order_id: str) -> None:
        from ipc.messages import CancelOrder
        self._actor.ctx.send("execution", CancelOrder(f"{self.name}-cancel-{client_order_id}", client_order_id,
                                                      self.name, time.time_ns()))

    def position(self, instrument: InstrumentRef) -> int:
        return self._actor.positions.get((self.name, instrument.segment, instrument.security_id), 0)

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


class StrategyActor(Actor):
    subscriptions = (topics.TICK, topics.QUOTE, topics.BOOK, topics.ORDER, topics.FILL, topics.RISK_DENIED)
    takes_market_batches = True

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.strategies: dict[str, Strategy] = {}
        self.by_instrument: dict[tuple[int, int], list[Strategy]] = {}
        self.positions: dict[tuple[str, int, int], int] = {}
        self.bar_builders: dict[tuple[int, int], list[tuple[Any, list[Strategy]]]] = {}
        self.table: InstrumentTable | None = None
        # At-least-once to risk (risk and execution dedup by intent id): an intent lost in a dying
        # risk process is sent again until its order or its denial is seen.
        self.unacked: dict[str, tuple[OrderIntent, float, int]] = {}
        self._deny_log = Throttle()

    # Loading ------------------------------------------------------------------------------------
    def resolve(self, text: str) -> InstrumentRef:
        assert self.table is not None
        inst = resolve_instrument(self.table, text)
        return InstrumentRef(inst.segment, inst.security_id, inst.symbol, inst.lot_size_units, inst.tick_paise)

    def on_start(self) -> None:
        from actors.strategy import bars, indicators

        # Compile (or load from numba's cache) before reporting ready, never on the first tick.
        indicators.warmup()
        bars.warmup()
        cfg = self.ctx.config.strategy
        self.table = open_instruments(self.ctx.config, self.ctx.data_dir)
        for inst_cfg in cfg.instances:
            if not inst_cfg.enabled:
                continue
            if inst_cfg.name in self.strategies:
                raise ActorConfigError(f"strategy.instances: name '{inst_cfg.name}' is used twice")
            try:
                cls = resolve(inst_cfg.kind, cfg.user_dir)
                params = parse_params(cls, inst_cfg.name, inst_cfg.params)
                instrument = self.resolve(inst_cfg.instrument) if inst_cfg.instrument else None
            except (UnknownStrategy, BadParams, UnknownInstrument) as exc:
                raise ActorConfigError(f"strategy '{inst_cfg.name}': {exc}") from None
            strategy = cls(_Handle(self, inst_cfg.name), params, instrument)
            self.strategies[inst_cfg.name] = strategy
            for ref in strategy.instruments():
                self.by_instrument.setdefault((ref.segment, ref.security_id), []).append(strategy)
        if self.ctx.config.feed.source != "replay":
            # Live time only: a replay's exchange clock is not the wall clock.
            self.ctx.every(1.0, self._flush_bars)
        self.ctx.every(RESEND_AFTER_S / 2, self._resend_unacked)
        restored = self._restore_states()
        for name, strategy in self.strategies.items():
            strategy.on_start()
            self.log.info("strategy_started", strategy=name, kind=strategy.kind, restored=name in restored,
                          params=msgspec.json.encode(strategy.params).decode())

    def _restore_states(self) -> set[str]:
        """Each strategy's last saved state from the ledger, set before its on_start."""
        restored: set[str] = set()
        try:
            reader = LedgerReader.open(ledger_dir(self.ctx.data_dir))
        except LedgerError:
            return restored  # first start: nothing saved yet
        with reader, reader.snapshot() as snap:
            for name, strategy in self.strategies.items():
                saved = snap.strategy_state(name)
                if saved is None:
                    continue
                try:
                    strategy.state = msgspec.msgpack.decode(saved.state, type=type(strategy).State)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    # A changed State schema must not stop the engine: start that strategy fresh.
                    self.log.warning("strategy_state_not_restored", strategy=name, error=str(exc))
                    continue
                restored.add(name)
        return restored

    def on_stop(self) -> None:
        for name, strategy in self.strategies.items():
            strategy.on_stop()
            self.save_state(name)  # execution stops after us: the message is written

    def send_intent(self, intent: OrderIntent) -> None:
        # hot path
        self.unacked[intent.intent_id] = (intent, time.monotonic(), 0)
        self.ctx.send(RISK, intent, topics.strategy_topic(topics.INTENT, intent.strategy))

    def _resend_unacked(self) -> None:
        cutoff = time.monotonic() - RESEND_AFTER_S
        for intent_id, (intent, sent, tries) in list(self.unacked.items()):
            if tries >= MAX_RESENDS:
                del self.unacked[intent_id]
                self.log.error("resend_abandoned", intent_id=intent_id, tries=tries)
                continue
            if sent < cutoff:
                self.unacked[intent_id] = (intent, time.monotonic(), tries + 1)
                self.log.warning("intent_resent", intent_id=intent_id, reason="no order or denial seen")
                self.ctx.send(RISK, intent, topics.strategy_topic(topics.INTENT, intent.strategy))

    def add_bar_subscription(self, name: str, instrument: InstrumentRef, timeframe_s: int) -> None:
        from actors.strategy.bars import BarBuilder
        key = (instrument.segment, instrument.security_id)
        builders = self.bar_builders.setdefault(key, [])
        for builder, subscribers in builders:
            if builder.timeframe_s == timeframe_s:
                subscribers.append(self.strategies[name])
                return
        builders.append((BarBuilder(timeframe_s, instrument.segment, instrument.security_id,
                                    session=self._bar_session()), [self.strategies[name]]))

    def _bar_session(self) -> Any:
        """Bars follow the market hours risk enforces: the exchange session, or all day for the
        synthetic market, which never closes (its bars would otherwise never form at night)."""
        from actors.strategy.bars import NSE_SESSION, SessionHours

        return SessionHours(0, 86400) if market_hours(self.ctx.config) == "always" else NSE_SESSION

    def add_instrument(self, name: str, instrument: InstrumentRef) -> None:
        """Route an instrument's market data to a strategy at run time (idempotent)."""
        routed = self.by_instrument.setdefault((instrument.segment, instrument.security_id), [])
        strategy = self.strategies[name]
        if strategy not in routed:
            routed.append(strategy)

    def on_set_strategy_params(self, msg: SetStrategyParams) -> None:
        """Run-time parameter change (a command): merged, validated, applied, or refused with why."""
        strategy = self.strategies.get(msg.strategy)
        if strategy is None:
            self._answer(msg, False, "UNKNOWN_STRATEGY", f"no running strategy '{msg.strategy}'")
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
        old, strategy.params = strategy.params, params
        strategy.on_params_changed(old)
        self.log.warning("strategy_params_changed", strategy=msg.strategy, by=msg.by,
                         params=msgspec.json.encode(params).decode())
        self._answer(msg, True, "", msgspec.json.encode(params).decode())

    def _answer(self, msg: SetStrategyParams, ok: bool, code: str, detail: str) -> None:
        if not ok:
            self.log.warning("strategy_params_refused", strategy=msg.strategy, by=msg.by, code=code, detail=detail)
        sender = getattr(self.ctx, "sender", "")
        if sender:
            self.ctx.reply(sender, Reply(msg.cmd_id, self.ctx.name, ok, code, detail))

    def save_state(self, name: str) -> None:
        """Persist a strategy's state: execution (the ledger's only writer) stores it; reliable send."""
        strategy = self.strategies.get(name)
        if strategy is None:
            return
        self.ctx.send(EXECUTION, SaveStrategyState(name, msgspec.msgpack.encode(strategy.state), time.time_ns()))

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
                self.ctx.publish(topics.bar_topic(bar.timeframe_s, bar.segment, bar.security_id), bar)
                for strategy in subscribers:
                    strategy.on_bar(bar)

    def _flush_bars(self) -> None:
        """Close bars of quiet instruments once their end has passed (timer-driven close)."""
        now = time.time_ns()
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
            rows, view = _market_rows(batch, j, start, stop)
            for strategy in strategies:
                k = strategy.market_horizon(view)
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
            _, view = _market_rows(batch, j, start, stop)
            for strategy in strategies:
                strategy.skip_market(view)
            for builder, _ in builders:
                builder.take_quiet(view.ts_event_ns, view.ltp_paise, view.ltq_units)

    def on_book_update(self, msg: BookUpdate) -> None:
        for strategy in self.by_instrument.get((msg.segment, msg.security_id), ()):
            strategy.on_book(msg)

    # Order flow ---------------------------------------------------------------------------------
    def on_order_event(self, msg: OrderEvent) -> None:
        self.unacked.pop(msg.intent_id, None)
        strategy = self.strategies.get(msg.strategy)
        if strategy is not None:
            strategy.on_order(msg)

    def on_order_denied(self, msg: OrderDenied) -> None:
        # DUPLICATE_INTENT answers a re-send risk already had: the order event will follow.
        if msg.reason_code != "DUPLICATE_INTENT":
            self.unacked.pop(msg.intent_id, None)
            suppressed = self._deny_log.allow((msg.strategy, msg.reason_code))
            if suppressed is not None:
                self.log.info("intent_denied", strategy=msg.strategy, intent_id=msg.intent_id,
                              reason=msg.reason_code, message=msg.message, suppressed=suppressed)
            strategy = self.strategies.get(msg.strategy)
            if strategy is not None:
                strategy.on_denied(msg)

    def on_fill(self, msg: Fill) -> None:
        key = (msg.strategy, msg.segment, msg.security_id)
        signed = msg.qty_units if msg.side == "BUY" else -msg.qty_units
        self.positions[key] = self.positions.get(key, 0) + signed
        strategy = self.strategies.get(msg.strategy)
        if strategy is not None:
            strategy.on_fill(msg)
