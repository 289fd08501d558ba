"""The risk actor: every intent passes the pre-trade checks or is denied with a reason code;
post-trade monitors act on fills and marks; the kill switch halts trading.

State is rebuilt at start from the ledger (positions, open orders, cash, trading state). Denials
go out on ``risk.denied`` and, reliably, to execution, which writes the audit row (execution is the
ledger's only writer).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec

from actors.base import Actor, ActorConfigError, ActorContext
from actors.replay.batch import MarketBatch
from actors.replay.delivery import receives_market_batches
from actors.risk import state as trading
from actors.risk.checks import InstrumentLimits, to_order_denied
from actors.risk.engine import RiskEngine
from actors.risk.expiry_close import Contract, ExpiryClose, Holding
from ipc.reasons import Denial, DenyReason
from actors.risk.limits import RiskLimits
from actors.risk.overrides import (
    BadLimits,
    LimitsChanges,
    effective_limits,
    limits_json,
    load_changes,
    merge_changes,
    parse_update,
    save_changes,
)
from actors.risk.monitors import ActionKind, PostTradeMonitor, exit_intent, to_risk_action
from engine.ledger import REHEARSAL_INTENT_ID, LedgerError, LedgerReader, ledger_dir
from engine.logs import Throttle
from engine.model.calendar import (
    CALENDAR_REFRESH_S,
    AlwaysOpenCalendar,
    CalendarError,
    CalendarSource,
    SessionCalendar,
    calendar_status,
    market_hours,
    remove_calendar_status,
    write_calendar_status,
)
from engine.model.ist import NS_PER_S, ist_date, ist_day, ist_day_number
from engine.model.lookup import open_instruments
from actors.daily import MasterReload, held_in_ledger, reopen_instruments
from ipc.messages import TERMINAL_ORDER_STATES
from ipc import topics
from ipc.resend import Unacked
from ipc.messages import (
    DayPhaseBegan,
    CalendarStatus,
    DenialRecorded,
    CancelAllOrders,
    Fill,
    GroupEvent,
    GroupState,
    IntentResent,
    ModifyOrder,
    OrderDenied,
    OrderEvent,
    OrderIntent,
    OrderSpec,
    Position,
    PositionKey,
    Quote,
    RecordAudit,
    ReduceRisk,
    Reply,
    RiskLimitsKept,
    RiskUsage,
    SetRiskLimits,
    SquareOffAll,
    SubmitGroup,
    SubmitOrder,
    Tick,
    TradingState,
)
from ipc.segments import instrument_label

EXECUTION = "execution"
MAX_RESENDS = 30
RESEND_AFTER_S = 1.0
MAX_UNACKED_DENIALS = 10_000  # denials awaiting execution's acknowledgement (bounded memory)
# Order and fill events reach risk over PUB/SUB, which may drop (a slow joiner at start, a restart of
# execution). The ledger is the truth: risk re-reads it this often for orders it still counts as open
# and for positions. Not when execution shares risk's process: the in-process bus drops nothing (and a
# simulated day would pay a ledger read for each of its seconds).
RECONCILE_INTERVAL_S = 1.0
# Beside execution on the live venue: how often the ledger's cash is read. It follows Dhan's fund
# limits, read at the first reconciliation and every execution.dhan.funds_refresh_s (60 s).
FOLLOW_CASH_S = 5.0
USAGE_REPUBLISH_S = 5.0  # risk.usage unchanged is sent again this often: a restarted reader learns it
END_OF_DAY = dt.time(23, 59, 59, 999999)
KNOWN_KINDS = {"EQUITY", "FUTIDX", "FUTSTK", "OPTIDX", "OPTSTK", "FUTCOM", "OPTFUT", "FUTCUR", "OPTCUR", "INDEX"}


def _enforced_limits(cfg: Any, limits: RiskLimits) -> RiskLimits:
    """The limits as enforced for the configured market hours."""
    if market_hours(cfg) == "always":
        # The synthetic market never closes: no cut-off or square-off by the clock either.
        return msgspec.structs.replace(limits, entry_cutoff_ist=END_OF_DAY, square_off_ist=END_OF_DAY,
                                       segment_times={})
    return limits


class RiskActor(MasterReload, Actor):
    subscriptions = (topics.TICK, topics.QUOTE, topics.ORDER, topics.FILL, topics.POSITION, topics.GROUP,
                     topics.SCHEDULE, topics.INSTRUMENTS_STATUS)

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.exit_seq = 0
        # At-least-once to execution, which dedups by intent id (in the ledger): exactly one order
        # per approved intent even if execution dies with our message in its socket buffer.
        # A group goes as one message under "group:<id>", acknowledged by any of its legs' events.
        self.unacked: Unacked[SubmitOrder | SubmitGroup] = Unacked(RESEND_AFTER_S, MAX_RESENDS)
        # Denials sent to execution for the audit, by intent id, until it says it recorded them:
        # one sent while execution is being restarted would otherwise vanish with its old socket.
        # No cap on tries: execution records each denial once (see on_order_denied there).
        self.unacked_denials: Unacked[OrderDenied] = Unacked(RESEND_AFTER_S, None)
        self._deny_log = Throttle()
        # Positions to close after a kill-and-flatten, retried until flat (see _flatten_step); each
        # is closed in its own product.
        self.flatten: set[PositionKey] = set()
        self.resent = 0
        self._rehearsal: OrderIntent | None = None  # the last approved intent (warm_hot_path)
        self._usage_sent: RiskUsage | None = None  # the figures last published (ts_ns 0)
        self._republished_ns = 0  # when usage and limits last went out unasked (the actor's clock)

    # Start-up -----------------------------------------------------------------------------------
    def on_start(self) -> None:
        if receives_market_batches(self.ctx.config.engine, self.ctx.name):
            from actors.risk import kernels

            kernels.warmup()  # compiled (or loaded from numba's cache) before ready
        cfg = self.ctx.config
        try:
            self.limit_changes = load_changes(self.ctx.data_dir)
            base = effective_limits(cfg.risk.limits, self.limit_changes.changes)
        except BadLimits as exc:
            raise ActorConfigError(f"run-time risk limit changes do not apply: {exc} (change them with `shikra "
                                   "risk set`, or delete the file to go back to [risk.limits])") from None
        if self.limit_changes.changes:
            self.log.warning("risk_limits_changed_at_run_time", by=self.limit_changes.by,
                             changes=msgspec.json.encode(self.limit_changes.changes).decode())
        mode = market_hours(cfg)
        limits = _enforced_limits(cfg, base)
        # The exchange calendar with the config's and the data dir's overrides (None: always open).
        self.calendar_source: CalendarSource | None = None
        self.calendar: SessionCalendar = AlwaysOpenCalendar()
        if mode == "exchange":
            try:
                self.calendar_source = CalendarSource(cfg.calendar, self.ctx.data_dir)
            except CalendarError as exc:
                raise ActorConfigError(f"the market calendar's overrides do not apply: {exc} (fix them with "
                                       "`shikra calendar`, or in the config's [calendar] section)") from None
            self.calendar = self.calendar_source.calendar
        else:
            remove_calendar_status(self.ctx.run_dir)
        self.table = open_instruments(cfg.instruments.master, self.ctx.data_dir, ist_date(self.ctx.now_ns()))
        cash = cfg.execution.starting_cash_paise
        status = trading.RiskStatus()
        positions: list[Position] = []
        open_orders: list[OrderEvent] = []
        try:
            with LedgerReader.open(ledger_dir(self.ctx.data_dir)) as reader, reader.snapshot() as snap:
                wallet = snap.wallet()
                if wallet is not None:
                    cash = wallet.cash_paise
                ts = snap.trading_state()
                if ts.state != TradingState.ACTIVE:
                    status = trading.RiskStatus(TradingState(ts.state), ts.reason_code, ts.detail, ts.by,
                                                ts.ts_ns)
                positions = list(snap.positions().values())
                open_orders = list(snap.open_orders().values())
        except LedgerError:
            pass  # first start: execution creates the ledger
        # The live venue slices above the freeze quantity itself (one order, child orders at the
        # broker); the paper venue gets the slices from here.
        self.engine = RiskEngine(limits, [], cash_paise=cash, calendar=self.calendar, status=status,
                                 venue_slices=cfg.execution.venue != "paper")
        self.monitor = PostTradeMonitor(limits, self.calendar)
        self.expiry_close = ExpiryClose(cfg.risk.expiry, [s.name for s in cfg.strategy.instances if s.hold_to_expiry])
        now = self.ctx.now_ns()
        for pos in positions:
            # A held instrument is known before anything closes it: an exit after a restart (the
            # square-off, a flatten) is otherwise denied UNKNOWN_INSTRUMENT.
            self._ensure_instrument(pos.segment, pos.security_id)
            self.engine.on_position(pos)
        for order in open_orders:
            self._ensure_instrument(order.spec.segment, order.spec.security_id)
            self.engine.on_order_state(order)
        for pos in positions:
            if pos.net_qty_units:
                # Each position keeps the product the ledger holds it in: a restart never turns a
                # CNC or MARGIN holding into INTRADAY (which the square-off would close).
                mark = pos.open_cost_paise // pos.net_qty_units
                self.monitor.seed_position(pos.strategy, pos.segment, pos.security_id, pos.product,
                                           pos.net_qty_units, pos.open_cost_paise, mark, now)
        self._calendar_day = -1  # the IST day the calendar's standing was last announced
        self._announce_calendar(self.ctx.now_ns())
        self.log.info("risk_ready", market_hours=mode, state=status.state.value, cash_paise=cash,
                      positions=len(positions), open_orders=len(open_orders))
        self.ctx.every(1.0, self._on_clock)
        self.ctx.every(RESEND_AFTER_S / 2, self._resend_unacked)
        eng = cfg.engine
        if not (eng.topology == "co-located" and {self.ctx.name, EXECUTION} <= set(eng.colocated)):
            self.ctx.every(RECONCILE_INTERVAL_S, self._reconcile_with_ledger)
        elif cfg.execution.venue == "dhan":
            # In-process beside execution risk sees every order event, but Dhan's fund limits move
            # the ledger's cash without one.
            self.ctx.every(FOLLOW_CASH_S, self._follow_ledger_cash)
        self.ctx.every(CALENDAR_REFRESH_S, self._refresh_calendar)
        self._reader: LedgerReader | None = None

    def _ensure_instrument(self, segment: int, security_id: int) -> None:
        if self.engine.has_instrument(segment, security_id):
            return
        inst = self.table.get(segment, security_id)
        if inst is None:
            return
        self._set_limits(inst)

    def _set_limits(self, inst: Any) -> None:
        expiry = inst.expiry_date
        kind = inst.instrument if inst.instrument in KNOWN_KINDS else "EQUITY"
        self.engine.set_instrument(InstrumentLimits(
            inst.segment, inst.security_id, inst.lot_size_units, inst.tick_paise, inst.freeze_qty_units,
            ist_day_number(expiry) if expiry else 0, inst.instrument != "INDEX", kind, inst.symbol))  # type: ignore[arg-type]

    # The daily schedule (actors.daily) ------------------------------------------------------------
    def on_day_phase_began(self, msg: DayPhaseBegan) -> None:
        self._master_on_phase(msg)

    def _take_master(self, why: str) -> int:
        self.table = reopen_instruments(self.ctx, self.table, held_in_ledger(Path(self.ctx.data_dir), self._reader))
        for segment, security_id in self.engine.instrument_keys():
            inst = self.table.get(segment, security_id)
            if inst is not None:
                self._set_limits(inst)  # a new lot size, tick or freeze quantity applies from now
        return len(self.table)

    # Intents ------------------------------------------------------------------------------------
    def warm_hot_path(self) -> None:
        """The full check list for the last approved intent again, under an id never approved:
        ``RiskEngine.check`` changes nothing."""
        if self._rehearsal is not None:
            self.engine.check(msgspec.structs.replace(self._rehearsal, intent_id=REHEARSAL_INTENT_ID), self.ctx.now_ns())

    def on_order_intent(self, intent: OrderIntent) -> None:
        # hot path: one intent through the full check list
        now = self.ctx.now_ns()
        self._ensure_instrument(intent.spec.segment, intent.spec.security_id)
        result = self.engine.approve(intent, now)
        if isinstance(result, Denial):
            if result.reason is DenyReason.DUPLICATE_INTENT:
                self._resent(intent, now)
            else:
                self._deny(intent, result, now)
            return
        approved_ns = self.ctx.now_ns()  # after the checks: the latency harness splits the hops here
        self._rehearsal = intent
        for order in result:
            self._submit(order, approved_ns)

    def on_submit_group(self, group: SubmitGroup) -> None:
        """Every leg passes the checks in order (each sees the ones before it as open orders), or
        none is sent: the legs approved before a denied one are released, and every leg is
        denied with the reason. An approved group goes to execution as one message."""
        now = self.ctx.now_ns()
        key = f"group:{group.group_id}"
        if key in self.unacked:
            return  # a re-send we are still delivering
        approved: list[OrderIntent] = []
        for leg in group.legs:
            leg = leg if leg.group_id else msgspec.structs.replace(leg, group_id=group.group_id)
            self._ensure_instrument(leg.spec.segment, leg.spec.security_id)
            result = self.engine.approve(leg, now)
            if not isinstance(result, Denial) and len(result) != 1:
                for order in result:
                    self.engine.release(order.intent_id)
                result = Denial(DenyReason.QTY_ABOVE_FREEZE, f"leg {leg.intent_id}: {leg.spec.qty_units} units is above "
                                                             "the freeze quantity; a group leg is never sliced")
            if isinstance(result, Denial):
                if result.reason is DenyReason.DUPLICATE_INTENT and not approved:
                    # Approved before: execution knows it by group id and says again where it stands.
                    self.ctx.send(EXECUTION, msgspec.structs.replace(group, ts_approved_ns=now))
                    return
                for order in approved:
                    self.engine.release(order.intent_id)
                for other in group.legs:
                    denial = result if other.intent_id == leg.intent_id else Denial(
                        DenyReason.GROUP_LEG_DENIED, f"group {group.group_id}: leg {leg.intent_id} was denied: "
                                                     f"{result.reason.value}: {result.message}")
                    self._deny(other, denial, now)
                return
            approved.append(result[0])
        msg = msgspec.structs.replace(group, legs=approved, ts_approved_ns=now)
        self.unacked.sent(key, msg, self.ctx.monotonic_ns(), parts=[leg.intent_id for leg in approved])
        self.ctx.send(EXECUTION, msg)

    def on_group_event(self, msg: GroupEvent) -> None:
        self.unacked.ack(f"group:{msg.group_id}")
        if msg.state is GroupState.REJECTED:  # refused by execution before any leg was sent
            for leg in msg.legs:
                self.engine.release(leg.intent.intent_id)

    def _submit(self, order: OrderIntent, now: int) -> None:
        msg = SubmitOrder(order, now)
        self.unacked.sent(order.intent_id, msg, self.ctx.monotonic_ns())
        self.ctx.send(EXECUTION, msg)

    def _resend_unacked(self) -> None:
        now = self.ctx.monotonic_ns()
        resend, abandoned = self.unacked.due(now)
        for intent_id, _msg, tries in abandoned:
            self.log.error("resend_abandoned", intent_id=intent_id, tries=tries)
        for intent_id, msg, _tries in resend:
            self.resent += 1
            self.log.warning("order_resent", intent_id=intent_id, reason="no acknowledgement from execution")
            self.ctx.send(EXECUTION, msg)
        for _intent_id, denied, _tries in self.unacked_denials.due(now)[0]:
            self.ctx.send(EXECUTION, denied)

    def _resent(self, intent: OrderIntent, now: int) -> None:
        """An intent approved before came again (its sender missed the answer): not a denial.
        Execution records the re-send and publishes the order's state, which answers the sender;
        an approval still on its way to execution stays with ``unacked``, re-sent until recorded."""
        spec = intent.spec
        self.ctx.send(EXECUTION, IntentResent(intent.intent_id, intent.strategy, spec.segment, spec.security_id, now))

    def _deny(self, intent: OrderIntent, denial: Denial, now: int) -> None:
        denied = to_order_denied(intent, denial, now, intent.ts_init_ns)
        self.ctx.publish(topics.RISK_DENIED.encode(), denied)
        if len(self.unacked_denials) >= MAX_UNACKED_DENIALS:  # execution gone for long: keep the newest
            oldest = next(iter(self.unacked_denials))
            self.unacked_denials.ack(oldest)
            self.log.error("denial_not_recorded", intent_id=oldest, reason="execution did not acknowledge it")
        self.unacked_denials.sent(denied.intent_id, denied, self.ctx.monotonic_ns())
        self.ctx.send(EXECUTION, denied)
        suppressed = self._deny_log.allow((denied.strategy, denied.reason_code))
        if suppressed is not None:
            self.log.info("intent_denied", intent_id=denied.intent_id, strategy=denied.strategy,
                          reason=denied.reason_code, message=denied.message, suppressed=suppressed)

    def on_order_denied(self, msg: OrderDenied) -> None:
        """A denial routed back to us (co-located): nothing to do."""

    def on_denial_recorded(self, msg: DenialRecorded) -> None:
        self.unacked_denials.ack(msg.intent_id)

    # Post-trade ---------------------------------------------------------------------------------
    def on_order_event(self, msg: OrderEvent) -> None:
        self.unacked.ack(msg.intent_id)  # execution has it in the ledger (a leg: its whole group)
        self.engine.on_order_state(msg)
        if self.flatten:
            self._flatten_step()

    def on_fill(self, msg: Fill) -> None:
        self.engine.on_fill(msg)
        self._act(self.monitor.on_fill(msg, msg.product, self.ctx.now_ns()))

    def on_position(self, msg: Position) -> None:
        """Execution's figure after fills, and after a conversion between products (which moves
        units with no fill): the monitors take the units it says (``PostTradeMonitor.take_position``)."""
        self.engine.on_position(msg)
        self.monitor.take_position(msg.strategy, msg.segment, msg.security_id, msg.product, msg.net_qty_units,
                                   msg.open_cost_paise, self.ctx.now_ns())

    def on_tick(self, msg: Tick) -> None:
        self.engine.on_mark(msg.segment, msg.security_id, msg.ltp_paise)
        self._act(self.monitor.on_mark(msg.segment, msg.security_id, msg.ltp_paise, self.ctx.now_ns()))

    def on_quote(self, msg: Quote) -> None:
        self.engine.on_mark(msg.segment, msg.security_id, msg.ltp_paise)
        self._act(self.monitor.on_mark(msg.segment, msg.security_id, msg.ltp_paise, self.ctx.now_ns()))

    # Replay batches: marks in bulk, stopping where a post-trade rule could fire ---------------------
    def market_batch_horizon(self, batch: MarketBatch, start: int, stop: int) -> int:
        held = [j for j in batch.instruments_in(start, stop) if self.monitor.open_positions(*batch.keys[j])]
        if not held:
            return stop
        if len(held) > 1:  # the day's P&L couples their marks: one message at a time
            return min(stop, *(int(batch.rows_of(j, start, stop)[0]) for j in held))
        c = batch.columns_of(held[0])
        lo, hi = batch.span(held[0], start, stop)
        prices = c.ltp_paise[lo:hi]
        valid = prices > 0
        if valid.all():
            k = self.monitor.first_firing_mark(*batch.keys[held[0]], prices, self.ctx.now_ns())
            return int(c.rows[lo + k]) if k < prices.size else stop
        marks = c.rows[lo:hi][valid]
        k = self.monitor.first_firing_mark(*batch.keys[held[0]], prices[valid], self.ctx.now_ns())
        return int(marks[k]) if k < marks.size else stop

    def on_market_batch(self, batch: MarketBatch, start: int, stop: int) -> None:
        # Hot path (replay): a slice between two orders holds a few rows, where numpy's min/max
        # cost several times a list's (~8 µs each under load against ~1.5 µs).
        now = self.ctx.now_ns()
        for j in batch.instruments_in(start, stop):
            segment, security_id = batch.keys[j]
            lo, hi = batch.span(j, start, stop)
            marks = [p for p in batch.columns_of(j).ltp_paise[lo:hi].tolist() if p > 0]
            self.engine.on_mark(segment, security_id, marks[-1] if marks else 0)
            if marks:
                self.monitor.take_quiet_marks(segment, security_id, marks[-1], max(marks), min(marks), now)

    def _open_reader(self) -> LedgerReader | None:
        if self._reader is None:
            try:
                self._reader = LedgerReader.open(ledger_dir(self.ctx.data_dir))
            except LedgerError:
                return None  # execution has not created it yet
        return self._reader

    def _follow_ledger_cash(self) -> None:
        reader = self._open_reader()
        if reader is None:
            return
        with reader.snapshot() as snap:
            wallet = snap.wallet()
        if wallet is not None:
            self.engine.set_cash(wallet.cash_paise)

    def _reconcile_with_ledger(self) -> None:
        reader = self._open_reader()
        if reader is None:
            return
        open_ids = self.engine.open_intent_ids()
        fixed = 0
        with reader.snapshot() as snap:
            for key in open_ids:
                coid = snap.client_order_id_for(key) or key
                order = snap.order(coid)
                if order is not None and order.state in TERMINAL_ORDER_STATES:
                    self.engine.on_order_state(order)
                    fixed += 1
            for pos in snap.positions().values():
                if self.engine.position_units(pos.strategy, pos.segment, pos.security_id,
                                              pos.product) != pos.net_qty_units:
                    self.engine.on_position(pos)
                    self.monitor.take_position(pos.strategy, pos.segment, pos.security_id, pos.product,
                                               pos.net_qty_units, pos.open_cost_paise, self.ctx.now_ns())
                    fixed += 1
            wallet = snap.wallet()
        if wallet is not None:
            self.engine.set_cash(wallet.cash_paise)
        if fixed:
            self.log.info("reconciled_with_ledger", corrections=fixed)
            self._flatten_step()

    # The calendar --------------------------------------------------------------------------------
    def _announce_calendar(self, now_ns: int) -> None:
        """Once per IST day (and at start): a WARNING while the fallback is in use or the calendar
        library's data ends within WARN_DAYS; the standing to the run dir and the bus."""
        day = ist_day(now_ns)
        if day == self._calendar_day or self.calendar_source is None:
            return
        self._calendar_day = day
        status = self._publish_calendar(now_ns)
        if status.fallback_in_use:
            self.log.warning("calendar_fallback_in_use", calendar=status.calendar, data_end=status.data_end,
                             hint="sessions are weekdays minus 26 Jan, 1 May, 15 Aug, 2 Oct, 25 Dec and the "
                                  "configured holidays: add this year's holidays (`shikra calendar add-holiday`) "
                                  "or upgrade exchange_calendars")
        elif status.warning:
            self.log.warning("calendar_data_ending", calendar=status.calendar, data_end=status.data_end,
                             days_left=status.days_left,
                             hint="after it the fallback trades weekdays minus 26 Jan, 1 May, 15 Aug, 2 Oct, "
                                  "25 Dec and the configured holidays: add the coming year's holidays "
                                  "(`shikra calendar add-holiday`) or upgrade exchange_calendars")

    def _publish_calendar(self, now_ns: int) -> CalendarStatus:
        status = calendar_status(self.calendar, now_ns)
        self.ctx.publish(topics.CALENDAR_STATUS.encode(), status)
        try:
            write_calendar_status(self.ctx.run_dir, status)
        except OSError as exc:
            self.log.warning("calendar_status_not_written", error=str(exc))
        return status

    def _refresh_calendar(self) -> None:
        """Take an edited overrides file (``shikra calendar``) without a restart; a damaged one is
        refused with its reason and the calendar keeps what it had."""
        if self.calendar_source is None:
            return
        try:
            changed = self.calendar_source.refresh()
        except CalendarError as exc:
            self.log.error("calendar_overrides_refused", error=str(exc), hint="the calendar keeps its previous "
                           "overrides; fix the file with `shikra calendar`")
            changed = False
        if changed:
            self.engine.set_calendar(self.calendar)
            self.log.warning("calendar_overrides_changed", path=str(self.calendar_source.path))
        self._publish_calendar(self.ctx.now_ns())

    def _on_clock(self) -> None:
        now = self.ctx.now_ns()
        self._announce_calendar(now)
        self._act(self.monitor.on_clock(now))
        self._act(self.expiry_close.due(now, self._holdings(), self._contract, self.engine.pending_units))
        self._flatten_step()
        self._publish_usage()

    def _holdings(self) -> list[Holding]:
        """Open positions with their product: the one place risk's expiry close learns a product."""
        return [Holding(*row) for row in self.monitor.holdings()]

    def _contract(self, segment: int, security_id: int) -> Contract | None:
        inst = self.table.get(segment, security_id)
        return None if inst is None else Contract(inst.instrument, inst.expiry_yyyymmdd)

    def _publish_usage(self) -> None:
        """``risk.usage`` for ``shikra risk show`` (through the control API): when a figure in it
        changed, and with ``risk.limits`` every USAGE_REPUBLISH_S for a reader that restarted (a
        quiet market, or a simulated day's every second, does not send the same figures each
        second)."""
        e = self.engine
        lim = e.limits
        now = self.ctx.now_ns()
        usage = RiskUsage(
            state=e.status.state.value, orders_today=e.orders_today,
            orders_last_second=e.orders_in_last_second(now), trades_today=e.trades_today,
            open_orders=e.open_orders, gross_exposure_paise=e.gross_paise, net_long_paise=e.net_long_paise,
            net_short_paise=e.net_short_paise, day_pnl_paise=self.monitor.daily_pnl_paise(),
            cash_paise=e.cash_paise, reserved_paise=e.reserved_paise,
            max_orders_per_second=lim.max_orders_per_second, max_orders_per_day=lim.max_orders_per_day,
            max_trades_per_day=lim.max_trades_per_day, max_open_orders=lim.max_open_orders,
            max_gross_exposure_paise=lim.max_gross_exposure_paise,
            max_net_exposure_paise=lim.max_net_exposure_paise, daily_max_loss_paise=lim.daily_max_loss_paise,
            ts_ns=0)
        if now - self._republished_ns >= USAGE_REPUBLISH_S * NS_PER_S:
            self._republished_ns = now
            self._publish_limits()
        elif usage == self._usage_sent:
            return
        self.ctx.publish(topics.RISK_USAGE.encode(), msgspec.structs.replace(usage, ts_ns=now))
        self._usage_sent = usage

    def _publish_limits(self) -> None:
        """``risk.limits``: the run-time limit changes kept, for the control API's GetRiskLimits."""
        kept = self.limit_changes
        self.ctx.publish(topics.RISK_LIMITS.encode(),
                         RiskLimitsKept(msgspec.json.encode(kept.changes).decode(), kept.by, kept.ts_ns))

    def _act(self, actions: Any) -> None:
        if not actions:
            return
        now = self.ctx.now_ns()
        for action in actions:
            self.ctx.publish(topics.RISK_ACTION.encode(), to_risk_action(action, now))
            # Every action goes in the ledger's audit table with its reason (execution writes it).
            self.ctx.send(EXECUTION, RecordAudit(
                who="risk", action=f"risk_{action.action.value.lower()}",
                args={"reason_code": action.reason.value, "strategy": action.strategy,
                      "instrument": instrument_label(action.segment, action.security_id),
                      "side": action.side, "qty_units": str(action.qty_units)},
                result=action.message, ts_ns=now))
            self.log.warning("risk_action", action=action.action.value, reason=action.reason.value,
                             message=action.message)
            if action.action is ActionKind.KILL_AND_FLATTEN:
                self._halt(action.reason.value, action.message, "risk", flatten=True)
            elif action.action is ActionKind.EXIT and action.reason.value == "DAILY_MAX_LOSS":
                continue  # the flattener closes these, once their working orders are gone
            elif action.action in (ActionKind.EXIT, ActionKind.SQUARE_OFF):
                self.exit_seq += 1
                intent = exit_intent(action, f"risk-exit-{now}-{self.exit_seq}", now)
                self._ensure_instrument(action.segment, action.security_id)
                result = self.engine.approve(intent, now)
                if isinstance(result, Denial):
                    self._deny(intent, result, now)
                else:
                    for order in result:
                        self._submit(order, now)

    def on_reduce_risk(self, msg: ReduceRisk) -> None:
        """Execution found positions that disagree with the broker's: only reducing orders pass."""
        result = trading.apply(self.engine.status, trading.Command.REDUCE, by=msg.by, role="system",
                               now_ns=msg.ts_ns, reason_code=msg.reason_code, detail=msg.detail)
        if isinstance(result, trading.TransitionRefused):
            self.log.warning("reduce_refused", reason=msg.reason_code, state=self.engine.status.state.value,
                             why=result.message)
            return
        if result is self.engine.status:
            return  # already REDUCING: nothing changes
        self._set_status(result)
        self.ctx.send(EXECUTION, RecordAudit(who=msg.by, action="risk_reduce",
                                             args={"reason_code": msg.reason_code, "cmd_id": msg.cmd_id},
                                             result=msg.detail, ts_ns=msg.ts_ns))

    # Commands from the control API --------------------------------------------------------------
    def _reply(self, cmd_id: str, ok: bool, code: str = "", detail: str = "") -> None:
        sender = getattr(self.ctx, "sender", "")
        if sender:
            self.ctx.reply(sender, Reply(cmd_id, self.ctx.name, ok, code, detail))

    def on_set_risk_limits(self, msg: SetRiskLimits) -> None:
        """Merge, validate, keep (data dir), apply; the reply's detail is the limits now in force."""
        try:
            changes = merge_changes(self.limit_changes.changes, parse_update(msg.changes_json))
            base = effective_limits(self.ctx.config.risk.limits, changes)
        except BadLimits as exc:
            self.log.warning("risk_limits_refused", by=msg.by, error=str(exc))
            self._reply(msg.cmd_id, False, "BAD_LIMITS", str(exc))
            return
        kept = LimitsChanges(changes, msg.by, msg.ts_ns)
        try:
            save_changes(self.ctx.data_dir, kept)
        except OSError as exc:
            self._reply(msg.cmd_id, False, "NOT_SAVED", f"limits not changed: they could not be kept: {exc}")
            return
        self.limit_changes = kept
        limits = _enforced_limits(self.ctx.config, base)
        self.engine.set_limits(limits)
        self.monitor.set_limits(limits)
        self.log.warning("risk_limits_set", by=msg.by, changes=msgspec.json.encode(changes).decode())
        self._publish_limits()
        self._reply(msg.cmd_id, True, "", limits_json(base))

    def on_square_off_all(self, msg: SquareOffAll) -> None:
        """Cancel the open orders, then close each position at market once nothing works on it."""
        now = self.ctx.now_ns()
        self.ctx.send(EXECUTION, CancelAllOrders(f"squareoff-{msg.cmd_id}", msg.by, now, msg.strategy))
        keys = [key for key in self.engine.exposed() if not msg.strategy or key[0] == msg.strategy]
        self.flatten.update(keys)
        self.log.warning("square_off_all", by=msg.by, strategy=msg.strategy or "*", positions=len(keys))
        self._flatten_step()
        self._reply(msg.cmd_id, True, "", str(len(keys)))

    def on_modify_order(self, msg: ModifyOrder) -> None:
        """A modification passes the checks for its new values (``RiskEngine.check_modify``)
        before it goes to execution; the reply says which."""
        order = self._ledger_order(msg.client_order_id)
        if order is None:
            self._reply(msg.cmd_id, False, "UNKNOWN_ORDER", f"no order {msg.client_order_id!r} in the ledger")
            return
        if order.state in TERMINAL_ORDER_STATES:
            self._reply(msg.cmd_id, False, "ORDER_CLOSED", f"order {order.client_order_id} is {order.state.value}")
            return
        self._ensure_instrument(order.spec.segment, order.spec.security_id)
        denial = self.engine.check_modify(order, msg.qty_units, msg.price_paise, msg.trigger_price_paise,
                                          self.ctx.now_ns())
        if denial is not None:
            self.log.info("modify_denied", client_order_id=order.client_order_id, by=msg.by,
                          reason=denial.reason.value, message=denial.message)
            self._reply(msg.cmd_id, False, denial.reason.value, denial.message)
            return
        self.ctx.send(EXECUTION, msg)
        self._reply(msg.cmd_id, True)

    def _ledger_order(self, client_order_id: str) -> OrderEvent | None:
        reader = self._open_reader()
        if reader is None:
            return None
        with reader.snapshot() as snap:
            return snap.order(client_order_id)

    # Kill switch --------------------------------------------------------------------------------
    def on_kill_switch(self, engaged: bool, reason: str) -> None:
        if engaged:
            self._halt("KILL_SWITCH", reason, "supervisor", flatten=False)
        else:
            now = self.ctx.now_ns()
            result = trading.release_kill(self.engine.status, by="supervisor", role="admin", now_ns=now)
            if isinstance(result, trading.RiskStatus):
                self.monitor.acknowledge_daily_kill(now)  # the operator's decision holds for today
                self.flatten.clear()
                self._set_status(result)

    def _halt(self, reason_code: str, detail: str, by: str, flatten: bool) -> None:
        now = self.ctx.now_ns()
        result = trading.engage_kill(self.engine.status, reason_code=reason_code, detail=detail, by=by,
                                     role="admin", now_ns=now)
        if isinstance(result, trading.RiskStatus):
            self._set_status(result)
        self.ctx.send(EXECUTION, CancelAllOrders(f"halt-{now}", by, now))
        if flatten:
            # Orders in flight count too: one approved before the halt may fill after it.
            self.flatten.update(self.engine.exposed())
            self._flatten_step()

    def _flatten_step(self) -> None:
        """Close every position marked for flattening that has no working order left: working
        orders are being canceled, and an exit sent beside them could overshoot past flat."""
        if not self.flatten:
            return
        now = self.ctx.now_ns()
        for key in list(self.flatten):
            units = self.engine.position_units(*key)
            pending = self.engine.pending_units(*key)
            if units == 0 and not pending:
                self.flatten.discard(key)  # flat and nothing working that could reopen it
                continue
            if units == 0:
                continue
            if pending:
                continue
            strategy, segment, security_id, product = key
            self.log.warning("flatten_position", strategy=strategy, security_id=security_id, product=product,
                             units=units)
            self.exit_seq += 1
            spec = OrderSpec(segment=segment, security_id=security_id, side="SELL" if units > 0 else "BUY",
                             order_type="MARKET", product=product, qty_units=abs(units))  # type: ignore[arg-type]
            intent = OrderIntent(f"risk-flatten-{now}-{self.exit_seq}", strategy, spec, now, now, now, True)
            self._ensure_instrument(segment, security_id)
            result = self.engine.approve(intent, now)
            if isinstance(result, Denial):
                self._deny(intent, result, now)
            else:
                for order in result:
                    self._submit(order, now)

    def _set_status(self, status: trading.RiskStatus) -> None:
        self.engine.set_status(status)
        msg = trading.to_message(status, self.ctx.now_ns())
        self.ctx.publish(topics.RISK_STATE.encode(), msg)
        self.ctx.send(EXECUTION, msg)  # persisted in the ledger by its writer
        self.log.warning("trading_state", state=status.state.value, reason=status.reason_code, detail=status.detail)

