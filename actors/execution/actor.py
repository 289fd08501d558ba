"""The execution actor: the OMS and the ledger's only writer.

Write-ahead: an order is in the ledger (SUBMITTED, with its client order id from the ledger's
persisted counter) before it reaches the venue; a fill is in the ledger before it is published.
An intent re-sent after a crash is recognised by its intent id and never becomes a second order.

Restart: the ledger gives back every order, fill, position and the cash. The paper venue lives in
this process, so a crash loses its resting orders: every order the ledger still holds open is
handed to the fresh venue again (same client order id, fills kept), which is what "ask the venue
for what it missed" means for paper.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import msgspec

from actors.base import Actor, ActorContext
from actors.execution import orders as fsm
from actors.execution.paper import (
    Accepted,
    Filled,
    PaperVenue,
    PaperVenueConfig,
    PaperWallet,
    VenueEvent,
    fill_message,
    lifecycle_event,
)
from engine.ledger import (
    AuditRecord,
    CashMovement,
    Ledger,
    LedgerError,
    TradingStateChanged,
    ledger_dir,
)
from engine.market import open_instruments
from ipc import topics
from ipc.messages import (
    CancelAllOrders,
    CancelOrder,
    Depth,
    Fill,
    ModifyOrder,
    OrderDenied,
    OrderEvent,
    OrderState,
    Position,
    Quote,
    RiskStateChanged,
    SubmitOrder,
    Tick,
)

TERMINAL = {OrderState.DENIED, OrderState.REJECTED, OrderState.FILLED, OrderState.CANCELED, OrderState.EXPIRED}


def restore_snapshot(event: OrderEvent, fill_ids: Sequence[str]) -> fsm.OrderSnapshot:
    """An order as the ledger last recorded it, ready for more events."""
    spec = fsm.OrderSpec(client_order_id=event.client_order_id, intent_id=event.intent_id, strategy=event.strategy,
                         segment=event.segment, security_id=event.security_id, side=event.side,
                         order_type=event.order_type, validity=event.validity, product=event.product,
                         qty_units=event.qty_units, price_paise=event.price_paise,
                         trigger_price_paise=event.trigger_price_paise, ts_created_ns=event.ts_created_ns,
                         ts_approved_ns=event.ts_approved_ns)
    return fsm.OrderSnapshot(spec=spec, qty_units=event.qty_units, price_paise=event.price_paise,
                             trigger_price_paise=event.trigger_price_paise, state=event.state,
                             filled_qty_units=event.filled_qty_units, filled_value_paise=event.filled_value_paise,
                             fill_ids=tuple(fill_ids), triggered=event.state == OrderState.TRIGGERED,
                             venue_order_id=event.venue_order_id, reason_code=event.reason_code,
                             reason=event.reason, ts_sent_ns=event.ts_sent_ns)


class ExecutionActor(Actor):
    subscriptions = (topics.DEPTH, topics.TICK, topics.QUOTE)

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.orders: dict[str, fsm.OrderSnapshot] = {}   # open orders by client order id
        self.illegal = 0
        self._instruments: dict[tuple[int, int], Any] = {}  # the master's rows, looked up once

    # Start-up -----------------------------------------------------------------------------------
    def on_start(self) -> None:
        cfg = self.ctx.config
        self.table = open_instruments(cfg, self.ctx.data_dir)
        self.ledger = Ledger.open(ledger_dir(self.ctx.data_dir), cfg.ledger)
        now = time.time_ns()
        if self.ledger.wallet() is None:
            self.ledger.append([CashMovement(kind="DEPOSIT", amount_paise=cfg.execution.starting_cash_paise,
                                             account="main", note="paper starting cash", ts_ns=now)])
        wallet = self.ledger.wallet()
        assert wallet is not None
        self.venue = PaperVenue(PaperVenueConfig(ack_latency_us=cfg.execution.ack_latency_us),
                                PaperWallet(wallet.cash_paise))
        for (strategy, segment, security_id), pos in self.ledger.positions().items():
            if pos.net_qty_units:
                kind = self._instrument_type(segment, security_id)
                mark = abs(pos.open_cost_paise) // abs(pos.net_qty_units)
                self.venue.set_position(segment, security_id, pos.net_qty_units, mark, instrument_type=kind)
        fills_by_order: dict[str, list[str]] = {}
        with self.ledger.reader().snapshot() as snap:
            for fill in snap.fills().values():
                fills_by_order.setdefault(fill.client_order_id, []).append(fill.fill_id)
        resent = 0
        for event in self.ledger.open_orders():
            order = restore_snapshot(event, fills_by_order.get(event.client_order_id, ()))
            self.orders[order.spec.client_order_id] = order
            self._instrument_type(order.spec.segment, order.spec.security_id)
            self._handle(self.venue.submit(order, now), now)
            resent += 1
        self.ledger.start_background_sync()
        if cfg.execution.ack_latency_us > 0:
            self.ctx.every(max(0.0005, cfg.execution.ack_latency_us / 2e6), self._poll_venue)
        self.log.info("execution_ready", venue=cfg.execution.venue, cash_paise=wallet.cash_paise,
                      open_orders=len(self.orders), resent_to_venue=resent, last_seq=self.ledger.last_seq)

    def _instrument(self, segment: int, security_id: int) -> Any:
        key = (segment, security_id)
        inst = self._instruments.get(key)
        if inst is None:
            inst = self.table.get(segment, security_id)
            if inst is not None:
                self._instruments[key] = inst
                self.venue.set_instrument_type(segment, security_id, inst.instrument)
        return inst

    def _instrument_type(self, segment: int, security_id: int) -> str:
        inst = self._instrument(segment, security_id)
        return inst.instrument if inst is not None else ""

    def on_stop(self) -> None:
        self.ledger.sync()
        self.ledger.close()

    # Orders in ----------------------------------------------------------------------------------
    def on_submit_order(self, msg: SubmitOrder) -> None:
        # hot path: validate, write ahead, hand to the venue
        intent = msg.intent
        now = time.time_ns()
        known = self.ledger.client_order_id_for(intent.intent_id)
        if known is not None:
            # A re-send (the sender missed our acknowledgement): never a second order, but say
            # again what became of it so the sender can stop re-sending.
            existing = self.ledger.order(known)
            self.log.info("duplicate_intent", intent_id=intent.intent_id, client_order_id=known)
            if existing is not None:
                self.ctx.publish(topics.strategy_topic(topics.ORDER, existing.strategy), existing)
            return
        inst = self._instrument(intent.segment, intent.security_id)
        # The id comes from the ledger in the same txn as the order; validate with a placeholder.
        spec = fsm.spec_from_intent(intent, "PENDING", msg.ts_approved_ns)
        reject: str = ""
        code: str = ""
        if inst is None:
            code, reject = "UNKNOWN_INSTRUMENT", f"instrument {fsm.instrument_label(intent.segment, intent.security_id)} is not in the master"
        else:
            reason = fsm.validate_spec(spec, inst.lot_size_units, inst.tick_paise, inst.freeze_qty_units)
            if reason is not None:
                code = reason.value
                reject = fsm.describe_reject(reason, spec, inst.lot_size_units, inst.tick_paise, inst.freeze_qty_units)
        state = OrderState.REJECTED if code else OrderState.SUBMITTED
        first = OrderEvent(client_order_id="", intent_id=intent.intent_id, strategy=intent.strategy,
                           segment=intent.segment, security_id=intent.security_id, side=intent.side,
                           order_type=intent.order_type, validity=intent.validity, product=intent.product,
                           qty_units=intent.qty_units, price_paise=intent.price_paise,
                           trigger_price_paise=intent.trigger_price_paise, state=state, filled_qty_units=0,
                           filled_value_paise=0, venue_order_id="", reason_code=code, reason=reject,
                           ts_event_ns=now, ts_init_ns=intent.ts_init_ns, ts_created_ns=intent.ts_created_ns,
                           ts_approved_ns=msg.ts_approved_ns)  # ts_sent_ns 0: not yet at the venue
        recorded = self.ledger.record_new_order(first)
        if recorded.issue is not None or recorded.duplicate:
            self.log.error("order_not_recorded", intent_id=intent.intent_id,
                           issue=str(recorded.issue) if recorded.issue else "duplicate")
            return
        coid = recorded.client_order_id
        first = msgspec.structs.replace(first, client_order_id=coid)
        self.ctx.publish(topics.strategy_topic(topics.ORDER, intent.strategy), first)
        if code:
            self.log.info("order_rejected", client_order_id=coid, reason=code, detail=reject)
            return
        spec = msgspec.structs.replace(spec, client_order_id=coid)
        order = fsm.apply(fsm.new_order(spec), fsm.Submit())
        assert not isinstance(order, fsm.IllegalTransition)
        sent = time.time_ns()  # after the write-ahead: this is when the venue gets it
        order = msgspec.structs.replace(order, ts_sent_ns=sent)
        self.orders[coid] = order
        self._handle(self.venue.submit(order, sent), sent)

    def on_cancel_order(self, msg: CancelOrder) -> None:
        self._cancel(msg.client_order_id, msg.by)

    def on_cancel_all_orders(self, msg: CancelAllOrders) -> None:
        for coid, order in list(self.orders.items()):
            if not msg.strategy or order.spec.strategy == msg.strategy:
                self._cancel(coid, msg.by)

    def _cancel(self, coid: str, by: str) -> None:
        order = self.orders.get(coid)
        if order is None:
            self.log.warning("cancel_unknown_order", client_order_id=coid, by=by)
            return
        now = time.time_ns()
        pending = fsm.apply(order, fsm.RequestCancel())
        if isinstance(pending, fsm.IllegalTransition):
            self.log.warning("cancel_refused", client_order_id=coid, reason=pending.reason)
            return
        self._record([], [pending], now)
        self.orders[coid] = pending
        self._handle(self.venue.cancel(coid, now), now)

    def on_modify_order(self, msg: ModifyOrder) -> None:
        order = self.orders.get(msg.client_order_id)
        if order is None:
            self.log.warning("modify_unknown_order", client_order_id=msg.client_order_id, by=msg.by)
            return
        now = time.time_ns()
        request = fsm.RequestModify(qty_units=msg.qty_units, price_paise=msg.price_paise,
                                    trigger_price_paise=msg.trigger_price_paise)
        pending = fsm.apply(order, request)
        if isinstance(pending, fsm.IllegalTransition):
            self.log.warning("modify_refused", client_order_id=msg.client_order_id, reason=pending.reason)
            return
        self._record([], [pending], now)
        self.orders[msg.client_order_id] = pending
        self._handle(self.venue.modify(msg.client_order_id, msg.qty_units, msg.price_paise,
                                       msg.trigger_price_paise, now), now)

    # Market data for the paper venue --------------------------------------------------------------
    def on_depth(self, msg: Depth) -> None:
        # hot path: O(1) when nothing rests on this instrument
        events = self.venue.on_depth(msg, time.time_ns())
        if events:
            self._handle(events, time.time_ns())

    def on_tick(self, msg: Tick) -> None:
        events = self.venue.on_tick(msg, time.time_ns())
        if events:
            self._handle(events, time.time_ns())

    def on_quote(self, msg: Quote) -> None:
        events = self.venue.on_quote(msg, time.time_ns())
        if events:
            self._handle(events, time.time_ns())

    def _poll_venue(self) -> None:
        now = time.time_ns()
        events = self.venue.poll(now)
        if events:
            self._handle(events, now)

    # Venue events -> state machine -> ledger -> bus ------------------------------------------------
    def _handle(self, events: Sequence[VenueEvent], now: int) -> None:
        fills: list[Fill] = []
        updated: list[fsm.OrderSnapshot] = []
        for ev in events:
            order = self.orders.get(ev.client_order_id)
            if order is None:
                self.log.warning("venue_event_unknown_order", client_order_id=ev.client_order_id,
                                 event=type(ev).__name__)
                continue
            if isinstance(ev, Accepted) and order.state is not OrderState.SUBMITTED:
                continue  # a restored order handed to the fresh venue again: already accepted
            new = fsm.apply(order, lifecycle_event(ev))
            if isinstance(new, fsm.IllegalTransition):
                self.illegal += 1
                self.log.error("illegal_transition", client_order_id=ev.client_order_id, code=new.code.value,
                               reason=new.reason)
                continue
            if isinstance(ev, Filled):
                fills.append(fill_message(ev, new, ts_init_ns=now))
            updated.append(new)
            self.orders[ev.client_order_id] = new
        if updated:
            self._record(fills, updated, now)

    def _record(self, fills: list[Fill], updated: list[fsm.OrderSnapshot], now: int) -> None:
        """One ledger transaction for the batch, then publish (a fill is stored before it is seen)."""
        order_events = [fsm.to_order_event(o, ts_event_ns=now, ts_init_ns=now) for o in updated]
        latest: dict[str, OrderEvent] = {e.client_order_id: e for e in order_events}
        batch: list[Any] = [*fills, *latest.values()]
        try:
            self.ledger.append(batch)
        except LedgerError as exc:
            # Nothing may be published that is not in the ledger; the supervisor restarts us and
            # the orders come back from the ledger.
            self.log.error("ledger_write_failed", error=str(exc))
            raise
        for fill in fills:
            self.ctx.publish(topics.strategy_topic(topics.FILL, fill.strategy), fill)
        for event in latest.values():
            self.ctx.publish(topics.strategy_topic(topics.ORDER, event.strategy), event)
            if event.state in TERMINAL:
                self.orders.pop(event.client_order_id, None)
        if fills:
            wallet = self.ledger.wallet()
            if wallet is not None:
                self.venue.wallet.set_cash(wallet.cash_paise)  # type: ignore[union-attr]
            for key in {(f.strategy, f.segment, f.security_id) for f in fills}:
                pos = self.ledger.position(*key)
                if pos is not None:
                    self.ctx.publish(topics.strategy_topic(topics.POSITION, key[0]),
                                     msgspec.structs.replace(pos, ts_event_ns=now, ts_init_ns=now))

    # Records for others -------------------------------------------------------------------------
    def on_order_denied(self, msg: OrderDenied) -> None:
        self.ledger.append([AuditRecord(who="risk", action="deny_intent",
                                        args={"intent_id": msg.intent_id, "strategy": msg.strategy,
                                              "instrument": fsm.instrument_label(msg.segment, msg.security_id),
                                              "reason_code": msg.reason_code},
                                        result=msg.message, ts_ns=msg.ts_event_ns)])

    def on_risk_state_changed(self, msg: RiskStateChanged) -> None:
        self.ledger.append([TradingStateChanged(state=msg.state, reason_code=msg.reason_code, detail=msg.detail,
                                                by=msg.by, ts_ns=msg.ts_event_ns)])

    def on_kill_switch(self, engaged: bool, reason: str) -> None:
        if engaged:
            for coid in list(self.orders):
                self._cancel(coid, "kill_switch")

    def on_position(self, msg: Position) -> None:
        """Positions are ours; one routed back in-process is ignored."""
