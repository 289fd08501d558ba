"""The execution actor's protective stops: the shell around ``stops.plan`` (mixed into the actor).

A strategy with ``protective_stop = "venue"`` declares its stop (``ProtectPosition``). The stop
order is an ordinary order of that strategy in the ledger (write-ahead, fills, positions), whose
intent id says it is a protective stop (``ipc.messages.protective_stop_intent_id``); it takes the
ordinary order path to the venue. After a restart it comes back from the ledger with the other
open orders: the paper venue gets it again, the Dhan venue looks it up by correlation id and
adopts it. Nothing is placed a second time, and the protection is rebuilt from the order's values
(the strategy's next declaration replaces them).

OCO: an exit of the strategy (any order of its on the side that closes the position: its own
exit, risk's flatten or square-off) that would make the stop and the exits together larger than
the position waits, recorded SUBMITTED, until the stop has shrunk or gone at the venue; a
reduce-only exit that finds its position already closed by the stop is rejected
(``STOP_CLOSED_POSITION``), and the strategy learns the position is closed from the stop's fills.
Each position's stop is worked out again on the next loop turn after anything about it changed
(never from inside another order's bookkeeping), one venue request at a time.

Restart: the stop's modify count comes back from the ledger's history of the order (the venue's
cap holds across restarts); an exit that was waiting for the stop (SUBMITTED, never sent) waits
again rather than going at once. A venue that refuses to move the stop (its modification cap:
``MODIFY_CAP``, or Dhan's order error) gets it cancelled and placed afresh; any other refusal of
a modify or cancel is asked again after ``RETRY_NS``, never in a tight loop.

Session close: a stop is a DAY order. One that expires while its (CNC / MARGIN) position is still
open is placed again at the segment's next session open (the exchange calendar, through the
actor's clock), not at once; after a restart in between, the expired stop's values are the
protection again (until the strategy declares anew).
"""

from __future__ import annotations

from typing import Any, Iterable

from actors.execution import orders as fsm
from actors.execution import stops
from actors.execution.expiry import next_session_open_ns
from actors.execution.venue import CancelRefused, ModifyRefused, Rejected
from engine.model.calendar import CalendarError, CalendarSource, SessionCalendar, market_hours
from engine.model.ist import NS_PER_S
from ipc.messages import (Fill, ModifyOrder, OrderEvent, OrderIntent, OrderSpec, OrderState, PositionKey,
                          ProtectPosition, SubmitOrder, is_protective_stop, position_key, protective_stop_intent_id,
                          protective_stop_seq)
from ipc.reasons import RejectReason
from ipc.segments import instrument_label

Key = PositionKey  # (strategy, segment, security id, product): a position, its stop in its product
# While in one of these the stop has a request out (or triggered and trades): wait for the venue.
_BUSY = frozenset({OrderState.INITIALIZED, OrderState.SUBMITTED, OrderState.PENDING_UPDATE,
                   OrderState.PENDING_CANCEL, OrderState.TRIGGERED})
STOP_BY = "protective_stop"
# A modify refused for one of these will never be granted: the stop is cancelled and placed afresh.
# Dhan answers its modification cap with an order error (DH-906 -> ORDER_ERROR); ours is MODIFY_CAP.
_CANNOT_MOVE = frozenset({RejectReason.MODIFY_CAP.value, RejectReason.ORDER_ERROR.value})
RETRY_NS = NS_PER_S  # a stop's modify or cancel refused for another reason is asked again after this


class ProtectiveStops:
    """Mixin for ``ExecutionActor`` (uses its ledger, orders, venue and order paths)."""

    ctx: Any
    log: Any
    ledger: Any
    venue: Any
    orders: dict[str, fsm.OrderSnapshot]
    _awaiting_book: dict[tuple[int, int], list[str]]

    def _stops_init(self) -> None:
        self._protections: dict[Key, stops.Protection] = {}
        self._stop_orders: dict[Key, str] = {}  # position -> its stop's client order id (open)
        self._held_exits: dict[Key, dict[str, bool]] = {}  # position -> exits waiting: coid -> reduce_only
        self._stops_dirty: set[Key] = set()
        self._stops_due = False
        self._stops_no_modify: set[str] = set()  # stops the venue will not move: replaced instead
        self._stops_retry_at: dict[Key, int] = {}  # position -> not worked again before (a refusal)
        self._stops_place_at: dict[Key, int] = {}  # position -> its stop expired: placed again from
        self._stops_calendar: SessionCalendar | None = None  # None: the market never closes

    # Restart -------------------------------------------------------------------------------------
    def _stops_modifies_asked(self, open_orders: Iterable[OrderEvent]) -> dict[str, int]:
        """The modifications asked so far of each open protective stop, from the ledger's history
        of the order (its events all follow the sequence its intent id was made from)."""
        since = {e.client_order_id: protective_stop_seq(e.intent_id) for e in open_orders
                 if is_protective_stop(e.intent_id)}
        if not since:
            return {}
        history = self.ledger.order_history(set(since), min(since.values()))
        return {coid: fsm.modifies_asked(events) for coid, events in history.items()}

    @staticmethod
    def _stops_restore_order(event: OrderEvent) -> tuple[bool, bool]:
        """The order open orders are restored in: the protective stops first, then the orders at
        the venue, then those never sent (an exit held for its stop is judged against all the rest)."""
        return (not is_protective_stop(event.intent_id),
                event.state is OrderState.SUBMITTED and not event.venue_order_id)

    def _stops_restore(self, order: fsm.OrderSnapshot) -> bool:
        """A restored open order: a stop is its position's stop again; an exit never sent (SUBMITTED,
        no venue order id) that the stop still leaves no room for is held again, not sent (it was
        held before: a released exit found room, and the stop's shrinking that made it is in the
        ledger). A held exit's reduce-only flag is not in the ledger: it is taken as reduce-only,
        so a stop fill meanwhile rejects it rather than turning it into a new position."""
        spec = order.spec
        key = (order.strategy, spec.segment, spec.security_id, spec.product)
        if is_protective_stop(order.intent_id):
            self._stop_orders[key] = order.client_order_id
            return False
        if key not in self._stop_orders or order.state is not OrderState.SUBMITTED or order.venue_order_id:
            return False
        return self._stops_hold(order, reduce_only=True)

    def _stops_start(self) -> None:
        """After the open orders came back from the ledger: each open stop is this position's
        stop again (adopted, not placed twice); its values are the protection until the
        strategy declares again."""
        for coid, order in self.orders.items():
            if not is_protective_stop(order.intent_id):
                continue
            spec = order.spec
            key = (order.strategy, spec.segment, spec.security_id, spec.product)
            self._stop_orders[key] = coid
            self._protections[key] = self._protection_of(spec)
            self._stops_dirty.add(key)
        if self._stop_orders:
            self.log.info("protective_stops_adopted", stops=len(self._stop_orders))
        self._stops_calendar = self._stops_open_calendar()
        self._stops_reprotect_expired()
        self._stops_schedule()

    def _stops_open_calendar(self) -> SessionCalendar | None:
        """The exchange calendar the stops wait on after a close: the actor's (paper), or its own
        live (Dhan expires DAY orders itself, so the actor keeps none)."""
        calendar: SessionCalendar | None = getattr(self, "_calendar", None)
        cfg = self.ctx.config
        if calendar is None and market_hours(cfg) == "exchange":
            try:
                calendar = CalendarSource(cfg.calendar, self.ctx.data_dir).calendar
            except CalendarError as exc:
                self.log.warning("protective_stop_calendar_refused", error=str(exc))
        return calendar

    def _stops_reprotect_expired(self) -> None:
        """Open positions without an open stop whose last stop expired at a close (the process
        was down over it): that stop's values are the protection again, placed at the next open.
        Reads the orders table once, only when such a position exists."""
        unprotected = {key for key, pos in self.ledger.positions().items()
                       if pos.net_qty_units and key not in self._stop_orders and key not in self._protections}
        if not unprotected:
            return
        latest: dict[Key, OrderEvent] = {}
        for event in self.ledger.orders().values():
            if not is_protective_stop(event.intent_id):
                continue
            key = (event.strategy, event.spec.segment, event.spec.security_id, event.spec.product)
            known = latest.get(key)
            if key in unprotected and (known is None
                                       or protective_stop_seq(event.intent_id) > protective_stop_seq(known.intent_id)):
                latest[key] = event
        for key, event in latest.items():
            if event.state is OrderState.EXPIRED:
                self._protections[key] = self._protection_of(event.spec)
                self._stops_expired(key, event.ts_event_ns)
                self.log.info("protective_stop_restored", client_order_id=event.client_order_id,
                              trigger_paise=event.spec.trigger_price_paise)

    @staticmethod
    def _protection_of(spec: OrderSpec) -> stops.Protection:
        """The protection a stop order carries out (its trigger, limit offset and product)."""
        offset = abs(spec.price_paise - spec.trigger_price_paise) if spec.order_type == "SL" else 0
        return stops.Protection(trigger_price_paise=spec.trigger_price_paise, limit_offset_paise=offset,
                                product=spec.product)

    def _stops_expired(self, key: Key, expired_ns: int) -> None:
        """The position's stop expired at a close: placed again at the segment's next open."""
        calendar = self._stops_calendar
        opens = next_session_open_ns(calendar, key[1], expired_ns) if calendar is not None else None
        now = self.ctx.now_ns()
        if opens is None or opens <= now:
            return
        self._stops_place_at[key] = opens
        self.log.info("protective_stop_waits_for_open", strategy=key[0],
                      instrument=instrument_label(key[1], key[2]), opens_ns=opens)
        self._stops_wake(key, opens, now)

    def _stops_wake(self, key: Key, at_ns: int, now_ns: int) -> None:
        def wake() -> None:
            self._stops_dirty.add(key)
            self._stops_schedule()
        self.ctx.call_later((at_ns - now_ns) / NS_PER_S, wake)

    def _stops_refused(self, event: ModifyRefused | CancelRefused) -> None:
        """The venue refused to move or cancel a stop: one it will never move is replaced (its
        modify count is taken as at the cap); otherwise the position waits ``RETRY_NS``."""
        order = self.orders.get(event.client_order_id)
        if order is None or not is_protective_stop(order.intent_id):
            return
        key = (order.strategy, order.spec.segment, order.spec.security_id, order.spec.product)
        if isinstance(event, ModifyRefused) and event.reason_code.value in _CANNOT_MOVE:
            self._stops_no_modify.add(event.client_order_id)
            self.log.warning("protective_stop_not_movable", client_order_id=event.client_order_id,
                             reason=event.reason_code.value, detail=event.reason)
            return
        now = self.ctx.now_ns()
        self._stops_retry_at[key] = now + RETRY_NS
        self.log.warning("protective_stop_request_refused", client_order_id=event.client_order_id,
                         request="modify" if isinstance(event, ModifyRefused) else "cancel",
                         reason=event.reason_code.value, detail=event.reason)
        self._stops_wake(key, now + RETRY_NS, now)

    # Inputs --------------------------------------------------------------------------------------
    def on_protect_position(self, msg: ProtectPosition) -> None:
        key = (msg.strategy, msg.segment, msg.security_id, msg.product)
        if msg.trigger_price_paise <= 0:
            self._protections.pop(key, None)
        else:
            trigger = self._on_tick_toward_safety(msg)
            before = self._protections.get(key)
            refused = before.refused_trigger_paise if before is not None else 0
            self._protections[key] = stops.Protection(
                trigger_price_paise=trigger, limit_offset_paise=max(0, msg.limit_offset_paise),
                step_paise=max(0, msg.step_paise), product=msg.product, refused_trigger_paise=refused)
        self._stops_dirty.add(key)
        self._stops_drain()

    def _on_tick_toward_safety(self, msg: ProtectPosition) -> int:
        """The trigger on the instrument's tick, rounded away from the market (a long's SELL stop
        down, a short's BUY stop up), so a valid stop is never refused for its tick."""
        inst = self._instrument(msg.segment, msg.security_id)  # type: ignore[attr-defined]
        tick = inst.tick_paise if inst is not None and inst.tick_paise > 0 else 1
        pos = self._position_units((msg.strategy, msg.segment, msg.security_id, msg.product))
        down = -(msg.trigger_price_paise // -tick) * tick if pos < 0 else msg.trigger_price_paise // tick * tick
        return max(tick, down)

    def _stops_hold(self, order: fsm.OrderSnapshot, reduce_only: bool) -> bool:
        """Whether a new order must wait for its position's stop to shrink (it is then held here,
        recorded SUBMITTED, and sent by ``_stops_drain``). Hot path: one dict lookup when the
        position has no stop."""
        spec = order.spec
        key = (order.strategy, spec.segment, spec.security_id, spec.product)
        coid = self._stop_orders.get(key)
        if coid is None or is_protective_stop(order.intent_id):
            return False
        pos = self._position_units(key)
        if not pos or spec.side != stops.stop_side(pos):
            return False
        if stops.exit_may_go(pos, self._closing_units(key, pos, held=False), order.leaves_qty_units,
                             self._resting(key)):
            return False
        self._held_exits.setdefault(key, {})[order.client_order_id] = reduce_only
        self.log.info("exit_waits_for_stop", client_order_id=order.client_order_id, stop=coid,
                      instrument=instrument_label(spec.segment, spec.security_id))
        self._stops_dirty.add(key)
        self._stops_schedule()
        return True

    def _stops_note(self, fills: list[Fill], events: Iterable[OrderEvent]) -> None:
        """After a ledger commit: the positions whose stop may need work."""
        watched = self._stop_orders.keys() | self._protections.keys() | self._held_exits.keys()
        if not watched:
            return
        touched = {position_key(f) for f in fills}
        touched.update((e.strategy, e.spec.segment, e.spec.security_id, e.spec.product) for e in events)
        touched &= watched
        if touched:
            self._stops_dirty |= touched
            self._stops_schedule()

    def _stops_back_at_venue(self, order: fsm.OrderSnapshot) -> None:
        """A restored order is at the fresh paper venue again (no event says so): its position's
        stop, which waited for it, is worked out again."""
        key = (order.strategy, order.spec.segment, order.spec.security_id, order.spec.product)
        if key in self._stop_orders:
            self._stops_dirty.add(key)
            self._stops_schedule()

    def _stops_is_stop(self, coid: str) -> bool:
        order = self.orders.get(coid)
        return order is not None and is_protective_stop(order.intent_id)

    def _stops_cancelled_by_operator(self, coid: str, by: str) -> None:
        """An operator cancelled a stop by its id: the protection is withdrawn (not placed again)
        until the strategy declares it again."""
        order = self.orders.get(coid)
        if order is None or not is_protective_stop(order.intent_id) or by == STOP_BY:
            return
        key = (order.strategy, order.spec.segment, order.spec.security_id, order.spec.product)
        if self._protections.pop(key, None) is not None:
            self.log.warning("protective_stop_withdrawn", client_order_id=coid, by=by)

    # The loop ------------------------------------------------------------------------------------
    def _stops_schedule(self) -> None:
        if self._stops_dirty and not self._stops_due:
            self._stops_due = True
            self.ctx.call_later(0.0, self._stops_drain)

    def _stops_drain(self) -> None:
        self._stops_due = False
        dirty, self._stops_dirty = self._stops_dirty, set()
        for key in sorted(dirty):
            self._stops_sync(key)
        self._stops_schedule()  # what the requests above changed is looked at on the next turn

    def _stops_sync(self, key: Key) -> None:
        now = self.ctx.now_ns()
        if self._stops_retry_at.get(key, 0) > now:
            return  # a refusal: the wake-up set for it works the position again
        self._stops_retry_at.pop(key, None)
        pos = self._position_units(key)
        self._stop_forget_if_done(key)
        resting = self._resting(key)
        protection = self._protections.get(key)
        closing = self._closing_units(key, pos, held=True) if pos else 0
        coid = self._stop_orders.get(key)
        filled = self.orders[coid].filled_qty_units if coid is not None and coid in self.orders else 0
        action = stops.plan(protection, pos, closing, resting, filled)
        if not self.trading_enabled and isinstance(action, (stops.Place, stops.Modify)):  # type: ignore[attr-defined]
            action = stops.KEEP  # live, before the first reconciliation: the venue is not known yet
        if isinstance(action, stops.Place) and self._stops_place_at.get(key, 0) > now:
            action = stops.KEEP  # its last stop expired at the close: placed again at the open
        if isinstance(action, stops.Place):
            self._stop_place(key, action, now)
        elif isinstance(action, stops.Modify):
            self.log.info("protective_stop_modify", client_order_id=action.client_order_id,
                          trigger_paise=action.trigger_price_paise, qty_units=action.qty_units)
            self.on_modify_order(ModifyOrder(f"stop-modify-{now}", action.client_order_id,  # type: ignore[attr-defined]
                                             action.qty_units, action.price_paise, action.trigger_price_paise,
                                             STOP_BY, now))
        elif isinstance(action, stops.Cancel):
            self.log.info("protective_stop_cancel", client_order_id=action.client_order_id, why=action.why)
            self._cancel(action.client_order_id, STOP_BY)  # type: ignore[attr-defined]
        self._stops_release(key)

    def _stop_forget_if_done(self, key: Key) -> None:
        coid = self._stop_orders.get(key)
        if coid is None or coid in self.orders:
            return
        del self._stop_orders[key]
        self._stops_no_modify.discard(coid)
        event = self.ledger.order(coid)
        protection = self._protections.get(key)
        if event is not None and event.state is OrderState.EXPIRED:
            self._stops_expired(key, event.ts_event_ns)
        if event is not None and event.state is OrderState.REJECTED and protection is not None:
            # Refused (a trigger the market already crossed, margin, ...): not asked again at this
            # trigger; the strategy's own exit rules still hold the position.
            self._protections[key] = stops.Protection(
                trigger_price_paise=protection.trigger_price_paise, limit_offset_paise=protection.limit_offset_paise,
                step_paise=protection.step_paise, product=protection.product,
                refused_trigger_paise=event.spec.trigger_price_paise)
            self.log.warning("protective_stop_refused", client_order_id=coid, reason=event.reason_code,
                             detail=event.reason)

    def _stop_place(self, key: Key, place: stops.Place, now: int) -> None:
        strategy, segment, security_id, _product = key
        intent_id = protective_stop_intent_id(strategy, segment, security_id, self.ledger.last_seq())
        spec = OrderSpec(segment=segment, security_id=security_id, side=place.side, order_type=place.order_type,
                         validity="DAY", product=place.product, qty_units=place.qty_units,
                         price_paise=place.price_paise, trigger_price_paise=place.trigger_price_paise)
        self.log.info("protective_stop_place", intent_id=intent_id, side=place.side, qty_units=place.qty_units,
                      trigger_paise=place.trigger_price_paise)
        self.on_submit_order(SubmitOrder(OrderIntent(intent_id, strategy, spec, now, now, now, True), now))  # type: ignore[attr-defined]
        self._stops_place_at.pop(key, None)
        coid = self.ledger.client_order_id_for(intent_id)
        if coid is not None:
            self._stop_orders[key] = coid
            if coid not in self.orders:
                self._stops_dirty.add(key)  # ended at once (refused, or filled): learnt next turn

    def _stops_release(self, key: Key) -> None:
        """Exits waiting for the stop: sent once the invariant holds with them; a reduce-only one
        whose position the stop closed meanwhile is rejected."""
        held = self._held_exits.get(key)
        if not held:
            return
        now = self.ctx.now_ns()
        pos = self._position_units(key)
        for coid, reduce_only in list(held.items()):
            order = self.orders.get(coid)
            if order is None or order.state is not OrderState.SUBMITTED:
                del held[coid]
                continue
            at_venue = self._closing_units(key, pos, held=False) if pos else 0
            leaves = order.leaves_qty_units
            if reduce_only and (not pos or order.spec.side != stops.stop_side(pos) or at_venue + leaves > abs(pos)):
                del held[coid]
                text = (f"reduce-only {order.spec.side} {leaves} no longer reduces position {pos} in "
                        f"{instrument_label(order.spec.segment, order.spec.security_id)}: the protective stop "
                        f"closed it")
                self.log.info("exit_rejected_stop_closed", client_order_id=coid, position_units=pos)
                self._handle([Rejected(client_order_id=coid, ts_event_ns=now,  # type: ignore[attr-defined]
                                       reason_code=RejectReason.STOP_CLOSED_POSITION, reason=text)], now)
                continue
            if not pos or order.spec.side != stops.stop_side(pos) or stops.exit_may_go(pos, at_venue, leaves,
                                                                                       self._resting(key)):
                del held[coid]
                self.log.info("exit_released", client_order_id=coid)
                self._handle(self.venue.submit(order, now), now)  # type: ignore[attr-defined]
        if not held:
            self._held_exits.pop(key, None)

    # Views ---------------------------------------------------------------------------------------
    def _position_units(self, key: Key) -> int:
        pos = self.ledger.position(*key)
        return pos.net_qty_units if pos is not None else 0

    def _resting(self, key: Key) -> stops.Resting | None:
        coid = self._stop_orders.get(key)
        order = self.orders.get(coid) if coid is not None else None
        if order is None:
            return None
        awaiting = coid in self._awaiting_book.get((order.spec.segment, order.spec.security_id), ())
        modify = order.pending_modify
        return stops.Resting(client_order_id=order.client_order_id, side=order.spec.side,
                             open_units=order.leaves_qty_units, trigger_price_paise=order.spec.trigger_price_paise,
                             busy=awaiting or order.state in _BUSY,
                             modify_count=order.modify_cap if coid in self._stops_no_modify else order.modify_count,
                             modify_cap=order.modify_cap,
                             pending_units=modify.qty_units - order.filled_qty_units if modify is not None else 0)

    def _closing_units(self, key: Key, pos: int, *, held: bool) -> int:
        """Open units of the position's strategy orders on the closing side, its stop left out;
        with ``held``, the exits waiting for the stop too."""
        side = stops.stop_side(pos)
        waiting = self._held_exits.get(key, {})
        strategy, segment, security_id, product = key
        total = 0
        for coid, order in self.orders.items():
            spec = order.spec
            if (spec.security_id != security_id or spec.segment != segment or order.strategy != strategy
                    or spec.side != side or spec.product != product or is_protective_stop(order.intent_id)):
                continue
            if not held and coid in waiting:
                continue
            total += order.leaves_qty_units
        return total
