"""Live trading on a broker (Dhan or Kite: ``execution.venue``), the execution actor's side:
reconciliation with the broker, the start-up
gate, fund limits. A mixin of ``ExecutionActor`` (it uses the actor's ledger, venue, context
and order path); the comparisons themselves are pure functions in ``reconcile.py``.

Reconciliation runs at start and every ``reconcile_interval_s`` (sooner when the order stream
reports an order we did not place). The venue fetches Dhan's order book, trade book and
positions and first brings the orders it holds open up to date (missed fills from the trade
book, statuses); then, here:

1. Orders of ours the venue no longer holds (ended in the ledger): a trade the ledger lacks is
   recorded (the position must be the broker's), with an ERROR line and an audit row.
2. Orders at Dhan that are none of ours: recorded as ``EXTERNAL`` orders with their trades as
   fills of the ``EXTERNAL`` book (``reconcile`` module docstring says why), logged and audited
   once, brought up to date on every later reconciliation; they appear in order listings.
3. Positions: the ledger's net quantity per instrument (every strategy, ``EXTERNAL`` included)
   against Dhan's. A difference seen on ``position_mismatch_confirmations`` reconciliations in a
   row (an early one is asked for at once) is an alert: an ERROR line, an audit row, and
   ``ReduceRisk`` to risk, which moves trading to REDUCING (only reducing orders pass) and
   announces it. An operator resumes with ``shikra kill`` then ``shikra kill --release``.

Start-up gate: until the first reconciliation succeeds no order goes to Dhan. Intents (and
order groups) that arrive meanwhile are held in arrival order and go out once it succeeds; one
held longer than ``startup_hold_s`` is recorded REJECTED with ``NOT_RECONCILED`` and the reason
(never lost, never late). A failing reconciliation is retried with backoff
(``reconcile_retry_initial_s`` doubling to ``reconcile_retry_max_s``); every failure is logged
with the call that failed and when the next attempt is, and ``shikra status`` shows it
(``venue_status.json``). Cancels pass the gate: they only take risk away.

Funds: the first reconciliation and every ``funds_refresh_s`` read ``fundlimit``; the ledger's
cash follows the available balance (an ADJUSTMENT of the difference), which risk's funds check
reads.

Broker session (the venue's, ``dhan_session`` or ``kite_broker_session``): its statuses go out on ``broker.session`` (the feed
re-reads the cached token on them, notify alerts, the gateway's metric shows the expiry; never the
token) and into ``venue_status.json``. The daily schedule's pre-open asks for a fresh token; the
first status after it answers the schedule's ``broker_session`` task (``DailyTaskFinished``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from actors.daily import task_finished
from actors.execution import groups as grp
from actors.execution.charges import charges_for_fill, segment_class_for
from actors.execution.reconcile import (
    EXTERNAL_STRATEGY,
    SETTLEMENT_REASON,
    BrokerSnapshot,
    ConversionDone,
    FundsUpdate,
    PositionDifference,
    SnapshotFailed,
    TradeFill,
    external_client_order_id,
    external_order_event,
    is_external,
    matched_settlement_units,
    matches_settlement,
    missing_fills,
    orders_by_owner,
    position_differences,
    recorded_by_venue_order,
    settlement_lag_units,
    settlement_order_event,
    settlement_units,
    trades_by_order,
)
from actors.execution.venue_status import VenueStatus, write_venue_status
from engine.backoff import backoff_s
from engine.ledger import AuditRecord, CashMovement
from engine.model.expiry_day import has_expired
from engine.model.ist import NS_PER_S
from ipc import topics
from ipc.messages import (
    BrokerSessionStatus,
    Fill,
    Message,
    OrderEvent,
    OrderSpec,
    OrderState,
    ReduceRisk,
    SubmitGroup,
    SubmitOrder,
    position_key,
)
from ipc.reasons import RejectReason
from ipc.segments import instrument_label

if TYPE_CHECKING:
    from actors.execution.config import LiveVenueConfig

POSITION_MISMATCH = "POSITION_MISMATCH"
EARLY_RECONCILE_S = 2.0  # a reconciliation asked for out of turn waits at least this long


class LiveTrading:
    """Mixin for ``ExecutionActor`` when ``execution.venue`` is a broker (module docstring)."""

    ctx: Any
    log: Any
    ledger: Any
    venue: Any
    orders: dict[str, Any]
    _live_on_conversion: Any  # actors.execution.conversions

    # Start-up -----------------------------------------------------------------------------------
    def _live_init(self) -> None:
        self.trading_enabled = False
        venue = self.ctx.config.execution.venue
        self._dcfg: LiveVenueConfig = getattr(self.ctx.config.execution, venue)  # [execution.<venue>]
        self._broker: str = self.venue.broker_label  # "Dhan", "Kite": in what the operator reads
        self._held: dict[str, tuple[Message, int]] = {}  # intent / group id -> (message, arrival ns)
        self._deferred_group_commands: list[tuple[str, Any]] = []
        self._reconcile_failures = 0
        self._last_error = ""
        self._last_reconciled_ns = 0
        self._next_attempt_ns = 0
        self._last_request_ns = 0
        self._mismatch: tuple[PositionDifference, ...] = ()
        self._mismatch_streak = 0
        self._reduced_for: tuple[PositionDifference, ...] = ()
        self._external_orders = sum(1 for coid in self.ledger.orders() if is_external(coid))
        # {Dhan order id: (qty, value)} recorded: built from the ledger once, then kept up to date
        # with every fill recorded, so a reconciliation never scans every fill ever made.
        self._recorded = recorded_by_venue_order(self.ledger.fills().values())
        self._session_status: BrokerSessionStatus | None = None
        self._session_task: tuple[str, int] | None = None  # (day, started ns) of a pre-open login asked for
        # The engine's expiry settlements and the broker's reports of them matched so far (reconcile.py).
        self._settled_units = settlement_units(self.ledger.fills().values())
        self._settlement_matched = matched_settlement_units(
            order for coid, order in self.ledger.orders().items() if is_external(coid))
        self._settlement_deferred: set[str] = set()  # broker orders on expired contracts, logged once

    def _live_start(self, now_ns: int) -> None:
        if self.ledger.wallet() is None:
            self.ledger.append([CashMovement(kind="ADJUSTMENT", amount_paise=0, account="main",
                                             note=f"live account opened; funds from {self._broker}", ts_ns=now_ns)])
        cfg = self._dcfg
        self.ctx.every(cfg.reconcile_interval_s, self._live_periodic)
        self.ctx.every(cfg.funds_refresh_s, lambda: self.venue.request_funds(self.ctx.now_ns()))
        self.ctx.every(1.0, self._live_expire_held)
        self._live_request("start")
        session = self.venue.session
        if session is not None:
            self._live_session_status(session.status(self.ctx.now_ns()))
        self._live_write_status()

    def _live_request(self, why: str) -> None:
        now = self.ctx.now_ns()
        if self.venue.request_snapshot(now, with_funds=not self.trading_enabled):
            self._last_request_ns = now
            self.log.debug("reconcile_requested", why=why)

    def _live_periodic(self) -> None:
        if self.trading_enabled:  # before that, failures are retried with backoff
            self._live_request("periodic")

    # What the venue brought back ----------------------------------------------------------------
    def _live_after_poll(self) -> None:
        """Called after every venue poll: reconciliation results and fund limits."""
        for update in self.venue.take_account_updates():
            if isinstance(update, BrokerSnapshot):
                self._live_on_snapshot(update)
            elif isinstance(update, SnapshotFailed):
                self._live_on_failure(update)
            elif isinstance(update, FundsUpdate):
                self._live_apply_funds(update.funds.available_paise, update.ts_ns)
            elif isinstance(update, ConversionDone):
                self._live_on_conversion(update)
        for status in self.venue.take_session_updates():
            self._live_session_status(status)
        if self.venue.take_external_activity() and self.trading_enabled \
                and self.ctx.now_ns() - self._last_request_ns > EARLY_RECONCILE_S * NS_PER_S:
            self._live_request("an order placed outside Shikra was reported")

    def _live_on_failure(self, failed: SnapshotFailed) -> None:
        cfg = self._dcfg
        self._reconcile_failures += 1
        self._last_error = failed.detail[:300]
        if self.trading_enabled:
            delay_s = cfg.reconcile_interval_s
        else:
            delay_s = backoff_s(self._reconcile_failures - 1, cfg.reconcile_retry_initial_s, cfg.reconcile_retry_max_s)
            self.ctx.call_later(delay_s, lambda: self._live_request("retry"))
        self._next_attempt_ns = self.ctx.now_ns() + int(delay_s * NS_PER_S)
        log = self.log.error if not self.trading_enabled else self.log.warning
        log("reconcile_failed", attempt=self._reconcile_failures, trading_enabled=self.trading_enabled,
            retry_in_s=round(delay_s, 1), held_intents=len(self._held), detail=self._last_error,
            hint="" if self.trading_enabled else f"no order goes to {self._broker} until a reconciliation succeeds")
        self._live_write_status()
        self._daily_reconciled(False, f"attempt {self._reconcile_failures}: {self._last_error}")  # type: ignore[attr-defined]

    def _live_on_snapshot(self, snap: BrokerSnapshot) -> None:
        now = self.ctx.now_ns()
        if snap.row_errors:
            self.log.warning("reconcile_rows_skipped", rows=len(snap.row_errors), first=snap.row_errors[0])
        self._live_reconcile_orders(snap, now)
        if snap.funds is not None:
            self._live_apply_funds(snap.funds.available_paise, now)
        self._live_check_positions(snap, now)
        if self._reconcile_failures:
            self.log.info("reconcile_recovered", after_failures=self._reconcile_failures)
        self._reconcile_failures = 0
        self._last_error = ""
        self._last_reconciled_ns = now
        self._next_attempt_ns = now + int(self._dcfg.reconcile_interval_s * NS_PER_S)
        self.log.debug("reconciled", orders=len(snap.orders), trades=len(snap.trades),
                       positions=len(snap.positions))
        if not self.trading_enabled:
            self._live_enable_trading(now)
        self._live_write_status()
        self._daily_reconciled(True, f"{len(snap.orders)} orders, {len(snap.trades)} trades, "  # type: ignore[attr-defined]
                                     f"{len(snap.positions)} positions at the venue")

    # The broker session --------------------------------------------------------------------------
    def _session_pre_open(self, day: str) -> None:
        """Pre-open of a trading day (``daily_tasks``): a fresh broker token before the session,
        the schedule's ``broker_session`` task answered once the attempt ends."""
        now = self.ctx.now_ns()
        if not self.live:
            task_finished(self.ctx, day, "broker_session", True, "paper venue: no broker session", now)
        elif self.venue.request_session("pre_open"):
            self._session_task = (day, now)
            self.log.info("broker_session_pre_open", day=day)
        else:
            task_finished(self.ctx, day, "broker_session", False,
                          "the credentials hold no PIN and TOTP secret and no token to renew", now,
                          reason_code="NO_LOGIN")

    def _live_session_status(self, status: BrokerSessionStatus) -> None:
        now = self.ctx.now_ns()
        status = msgspec.structs.replace(status, ts_ns=now)
        self._session_status = status
        self.ctx.publish(topics.BROKER_SESSION.encode(), status)
        if self._session_task is not None:
            day, started = self._session_task
            self._session_task = None
            task_finished(self.ctx, day, "broker_session", status.ok, status.detail, started,
                          reason_code=status.reason_code)
        self._live_write_status()

    # 1 and 2: orders the venue does not hold ------------------------------------------------------
    def _live_reconcile_orders(self, snap: BrokerSnapshot, now: int) -> None:
        ours = self.ledger.orders()
        mine, external = orders_by_owner(snap.orders, ours)
        trades = trades_by_order(snap.trades)
        recorded = self._recorded
        fills: list[Fill] = []
        events: list[OrderEvent] = []
        audits: list[AuditRecord] = []
        for coid, rows in mine.items():
            if coid in self.orders or is_external(coid):
                continue  # held open by the venue: it brought them up to date already
            order = ours[coid]
            added: list[Fill] = []
            for row in rows:
                qty, value = recorded.get(row.venue_order_id, (0, 0))
                for tf in missing_fills(row.venue_order_id, trades.get(row.venue_order_id, ()), qty, value):
                    added.append(self._live_fill(order.spec, order.strategy, coid, row.venue_order_id, tf, value,
                                                 now))
                    value += tf.qty_units * tf.price_paise
            if not added:
                continue
            filled = order.filled_qty_units + sum(f.qty_units for f in added)
            worth = order.filled_value_paise + sum(f.qty_units * f.price_paise for f in added)
            state = OrderState.FILLED if filled >= order.spec.qty_units else order.state
            text = (f"{self._broker}'s trade book has {filled - order.filled_qty_units} more unit(s) of order {coid} than "
                    f"the ledger after it ended {order.state.value}; recorded so positions match the broker")
            self.log.error("reconcile_fills_after_close", client_order_id=coid, fills=len(added), detail=text)
            audits.append(AuditRecord(who="execution", action="reconcile_missed_fills",
                                      args={"client_order_id": coid, "fills": str(len(added))}, result=text,
                                      ts_ns=now))
            fills.extend(added)
            events.append(msgspec.structs.replace(order, state=state, filled_qty_units=filled,
                                                  filled_value_paise=worth, ts_event_ns=now, ts_init_ns=now))
        for row in external:
            coid = external_client_order_id(row.venue_order_id)
            qty, value = recorded.get(row.venue_order_id, (0, 0))
            known = ours.get(coid)
            if known is not None and known.reason_code == SETTLEMENT_REASON:
                continue  # the broker's settlement, matched once
            if known is None and self._live_settlement(row, trades.get(row.venue_order_id, []), events, audits, now):
                continue
            added = []
            for tf in missing_fills(row.venue_order_id, trades.get(row.venue_order_id, ()), qty, value):
                added.append(self._live_fill(row.spec, EXTERNAL_STRATEGY, coid, row.venue_order_id, tf, value, now))
                qty += tf.qty_units
                value += tf.qty_units * tf.price_paise
            event = external_order_event(row, qty, value, now)
            if known is None:
                self._external_orders += 1
                text = (f"{self._broker} order {row.venue_order_id} ({row.spec.side} {row.spec.qty_units} "
                        f"{instrument_label(row.spec.segment, row.spec.security_id)}, {row.status}) was placed outside "
                        f"Shikra; recorded as {coid} in the {event.strategy} book")
                self.log.warning("external_order", client_order_id=coid, venue_order_id=row.venue_order_id,
                                 status=row.status, filled_units=qty, detail=text)
                audits.append(AuditRecord(who="execution", action="reconcile_external_order",
                                          args={"client_order_id": coid, "venue_order_id": row.venue_order_id},
                                          result=text, ts_ns=now))
            fills.extend(added)
            if known is None or added or (known.state, known.spec) != (event.state, event.spec):
                events.append(event)
        if fills or events or audits:
            self._live_record(audits, fills, events, now)

    def _live_settlement(self, row: Any, row_trades: list[Any], events: list[OrderEvent], audits: list[AuditRecord],
                         now: int) -> bool:
        """A broker order none of ours on a contract that expired: the broker's report of a
        settlement. Matched to the engine's own (recorded once, without fills: True), or left for a
        later reconciliation while the engine has not settled (True: nothing recorded now); False
        for any other order."""
        traded = sum(t.qty_units for t in row_trades)
        spec = row.spec
        label = instrument_label(spec.segment, spec.security_id)
        if matches_settlement(row, traded, self._settled_units, self._settlement_matched):
            key = (spec.segment, spec.security_id, spec.side)
            self._settlement_matched[key] = self._settlement_matched.get(key, 0) + traded
            event = settlement_order_event(row, traded, sum(t.qty_units * t.price_paise for t in row_trades), now)
            text = (f"{self._broker} order {row.venue_order_id} ({spec.side} {traded} {label}) is the exchange's settlement of an "
                    f"expired contract; matched to the engine's settlement and recorded as {event.client_order_id} "
                    "without fills")
            self.log.info("settlement_matched", client_order_id=event.client_order_id, venue_order_id=row.venue_order_id,
                          units=traded, detail=text)
            audits.append(AuditRecord(who="execution", action="reconcile_settlement_matched",
                                      args={"client_order_id": event.client_order_id,
                                            "venue_order_id": row.venue_order_id}, result=text, ts_ns=now))
            events.append(event)
            return True
        inst = self._instrument(spec.segment, spec.security_id)  # type: ignore[attr-defined]
        if traded and inst is not None and has_expired(inst.expiry_yyyymmdd, now):
            if row.venue_order_id not in self._settlement_deferred:
                self._settlement_deferred.add(row.venue_order_id)
                self.log.warning("settlement_not_yet_matched", venue_order_id=row.venue_order_id, instrument=label,
                                 units=traded, detail="a broker trade on an expired contract the engine has not "
                                 "settled (yet): it is matched once the engine's settlement is recorded")
            return True
        return False

    def _live_note_settlement(self, fills: list[Fill]) -> None:
        """The engine recorded settlement fills (expiry_settlement.py): the broker's report is matched to them."""
        for key, units in settlement_units(fills).items():
            self._settled_units[key] = self._settled_units.get(key, 0) + units

    def _live_fill(self, spec: OrderSpec, strategy: str, coid: str, vid: str, tf: TradeFill, value_before: int,
                   now: int) -> Fill:
        """The ledger fill for a trade-book trade of order ``coid`` of ``strategy``."""
        segment_class = segment_class_for(spec.segment, self._instrument_type(spec.segment, spec.security_id),
                                          spec.product)
        charges = 0
        if segment_class is not None:
            charges = charges_for_fill(segment_class, spec.side, tf.qty_units, tf.price_paise, value_before == 0,
                                       self._dcfg.charges, order_value_before_paise=value_before).total_paise
        return Fill(fill_id=tf.fill_id, client_order_id=coid, venue_order_id=vid, strategy=strategy or EXTERNAL_STRATEGY,
                    segment=spec.segment, security_id=spec.security_id, side=spec.side, qty_units=tf.qty_units,
                    price_paise=tf.price_paise, charges_paise=charges, ts_event_ns=tf.ts_ns or now, ts_init_ns=now,
                    product=spec.product)

    def _live_record(self, audits: list[AuditRecord], fills: list[Fill], events: list[OrderEvent], now: int) -> None:
        batch: list[Any] = [*audits, *fills, *events]
        report = self.ledger.append_report(batch)
        refused = {index for index, _issue in report.issues}
        for index, issue in report.issues:
            self.log.warning("reconcile_record_refused", code=issue.code.value, detail=issue.detail)
        self._live_note_fills([r for i, r in enumerate(batch) if isinstance(r, Fill) and i not in refused])
        touched = set()
        for index, record in enumerate(batch):
            if index in refused:
                continue
            if isinstance(record, Fill):
                self.ctx.publish(topics.strategy_topic(topics.FILL, record.strategy), record)
                touched.add(position_key(record))
            elif isinstance(record, OrderEvent):
                self.ctx.publish(topics.strategy_topic(topics.ORDER, record.strategy), record)
        for key in touched:
            pos = self.ledger.position(*key)
            if pos is not None:
                self.ctx.publish(topics.strategy_topic(topics.POSITION, key[0]), self._marked(pos, now))

    def _live_note_fills(self, fills: list[Fill]) -> None:
        for vid, (qty, value) in recorded_by_venue_order(fills).items():
            before_qty, before_value = self._recorded.get(vid, (0, 0))
            self._recorded[vid] = (before_qty + qty, before_value + value)

    # 3: positions ---------------------------------------------------------------------------------
    def _live_check_positions(self, snap: BrokerSnapshot, now: int) -> None:
        lag = settlement_lag_units(self._settled_units, self._settlement_matched)
        diffs = tuple(position_differences(self.ledger.positions().values(), snap.positions))
        if lag:
            # A difference of exactly what the engine settled and the broker has not reported yet is
            # awaited: per instrument, every product together (the product the broker books its
            # settlement in is the broker's to say).
            apart: dict[tuple[int, int], int] = {}
            for d in diffs:
                apart[(d.segment, d.security_id)] = apart.get((d.segment, d.security_id), 0) + d.broker_units - d.ledger_units
            diffs = tuple(d for d in diffs if apart[(d.segment, d.security_id)] != lag.get((d.segment, d.security_id), 0))
        if not diffs:
            if self._mismatch:
                self.log.info("positions_agree", after_reconciliations=self._mismatch_streak)
            self._mismatch, self._mismatch_streak, self._reduced_for = (), 0, ()
            return
        self._mismatch_streak = self._mismatch_streak + 1 if diffs == self._mismatch else 1
        self._mismatch = diffs
        text = "; ".join(d.describe(instrument_label(d.segment, d.security_id), self._broker) for d in diffs)
        if self._mismatch_streak < self._dcfg.position_mismatch_confirmations:
            self.log.warning("positions_differ", detail=text, seen=self._mismatch_streak,
                             confirm_after=self._dcfg.position_mismatch_confirmations)
            self.ctx.call_later(EARLY_RECONCILE_S, lambda: self._live_request("confirm a position difference"))
            return
        if diffs == self._reduced_for:
            return  # this very difference was reported already
        self._reduced_for = diffs
        detail = (f"positions disagree with {self._broker} after {self._mismatch_streak} reconciliations: {text}. Trading "
                  f"is REDUCING (only orders that reduce a position pass); check the positions at {self._broker}, then "
                  "`shikra kill` and `shikra kill --release` to resume")
        self.log.error("positions_disagree", detail=detail, instruments=len(diffs))
        self.ledger.append([AuditRecord(who="execution", action="reconcile_positions_disagree",
                                        args={"instruments": str(len(diffs))}, result=detail, ts_ns=now)])
        if "risk" in self.ctx.config.engine.actors:
            self.ctx.send("risk", ReduceRisk(cmd_id=f"reconcile-{now}", reason_code=POSITION_MISMATCH, detail=detail,
                                             by="execution", ts_ns=now))

    # Funds --------------------------------------------------------------------------------------
    def _live_apply_funds(self, available_paise: int, now: int) -> None:
        """The ledger's cash follows the broker's available balance (risk checks funds against it)."""
        wallet = self.ledger.wallet()
        delta = available_paise - (wallet.cash_paise if wallet is not None else 0)
        if delta or wallet is None:
            self.ledger.append([CashMovement(kind="ADJUSTMENT", amount_paise=delta, account="main",
                                             note="broker available balance (fundlimit)", ts_ns=now)])
            self.log.info("broker_funds", available_paise=available_paise, adjusted_by_paise=delta)

    # The start-up gate --------------------------------------------------------------------------
    def _live_hold(self, key: str, msg: Message) -> bool:
        """Hold ``msg`` until the first reconciliation (True), or False when trading is enabled."""
        if self.trading_enabled:
            return False
        if key not in self._held:
            self._held[key] = (msg, self.ctx.now_ns())
            self.log.info("order_held", id=key, why=f"waiting for the first reconciliation with {self._broker}",
                          held=len(self._held))
            self._live_write_status()
        return True

    def _live_enable_trading(self, now: int) -> None:
        self.trading_enabled = True
        self.log.info("trading_enabled", venue=self.ctx.config.execution.venue, held=len(self._held),
                      open_orders=len(self.orders), external_orders=self._external_orders)
        held, self._held = self._held, {}
        for msg, _arrived in held.values():
            if isinstance(msg, SubmitOrder):
                self.on_submit_order(msg)  # type: ignore[attr-defined]
            elif isinstance(msg, SubmitGroup):
                self.on_submit_group(msg)  # type: ignore[attr-defined]
        deferred, self._deferred_group_commands = self._deferred_group_commands, []
        for group_id, command in deferred:
            self._group_command(group_id, command)  # type: ignore[attr-defined]

    def _live_expire_held(self) -> None:
        if self.trading_enabled or not self._held:
            return
        now = self.ctx.now_ns()
        cutoff = now - int(self._dcfg.startup_hold_s * NS_PER_S)
        for key, (msg, arrived) in list(self._held.items()):
            if arrived > cutoff:
                continue
            del self._held[key]
            why = (f"live trading waits for the first reconciliation with {self._broker} ({self._reconcile_failures} "
                   f"attempt(s) failed: {self._last_error or 'no answer yet'}); held "
                   f"{self._dcfg.startup_hold_s:g}s and refused")
            self.log.warning("order_refused_not_reconciled", id=key, detail=why)
            if isinstance(msg, SubmitOrder):
                self.on_submit_order(msg, refuse=(RejectReason.NOT_RECONCILED, why))  # type: ignore[attr-defined]
            elif isinstance(msg, SubmitGroup):
                group = grp.rejected(grp.new_group(msg), grp.GroupReason.NOT_RECONCILED, why)
                self._group_record(group, grp.GroupStep.REJECTED, now)  # type: ignore[attr-defined]
        self._live_write_status()

    def _live_write_status(self) -> None:
        try:
            write_venue_status(self.ctx.run_dir, VenueStatus(
                venue=self.ctx.config.execution.venue, trading_enabled=self.trading_enabled, last_reconciled_ns=self._last_reconciled_ns,
                failed_attempts=self._reconcile_failures, last_error=self._last_error,
                next_attempt_ns=self._next_attempt_ns, held_intents=len(self._held),
                external_orders=self._external_orders,
                positions_disagree=[d.describe(instrument_label(d.segment, d.security_id), self._broker)
                                    for d in self._mismatch],
                stream_up=self.venue.stats().stream_up, ts_ns=self.ctx.now_ns(),
                session_expires_ns=self._session_status.expires_ns if self._session_status else 0,
                session_error=(f"{self._session_status.reason_code}: {self._session_status.detail}"
                               if self._session_status and not self._session_status.ok else "")))
        except OSError as exc:
            self.log.warning("venue_status_not_written", error=str(exc))
