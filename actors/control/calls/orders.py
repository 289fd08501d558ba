"""OrderService: place, cancel, modify and read orders. A mixin of
:class:`actors.control.service.ControlApi`; runs on the gRPC thread's loop.

Placing and cancelling go to the actor loop through the bridge (``EngineSide``); a modification
goes to risk as a command (it checks the new values first). Reads come from a ledger snapshot.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import grpc
import msgspec

from actors.control import convert
from actors.control.auth import Principal
from actors.control.convert import Refusal
from actors.control.peers import EXECUTION, RISK
from engine.control_api import control_pb2 as pb
from engine.control_api.quoting import QUOTE_CHARS, quote_value
from engine.ledger import LedgerSnapshot, is_open_order
from engine.model.instruments import Instrument
from engine.model.lookup import UnknownInstrument, resolve_instrument
from ipc.messages import ModifyOrder, OrderDenied, OrderEvent, OrderState, TradingState
from ipc.segments import instrument_label

if TYPE_CHECKING:
    from actors.control.service import ControlApi


def _coid_number(client_order_id: str) -> int:
    tail = client_order_id.rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0


class OrderCalls:
    """Mixed into ControlApi (``self`` is the API)."""

    def _order_path_ready(self: ControlApi) -> Refusal | None:
        """UNAVAILABLE unless risk and execution are up. A DEALER queues for a peer that is away
        and delivers when it is back: an order the client gave up on (timeout) must not reach the
        market minutes later, so it is not sent at all. (The supervisor publishes a state change at
        once, and its whole status once a second.)"""
        return self.peers.not_ready((RISK, EXECUTION), "the order")

    def _resolve(self: ControlApi, ref: pb.InstrumentRef) -> Instrument | Refusal:
        key = convert.instrument_key(ref)
        if isinstance(key, Refusal):
            return key
        if isinstance(key, str):
            try:
                return resolve_instrument(self.instruments, key)
            except UnknownInstrument as exc:  # its text has the symbol in full: quoted here when long
                why = (str(exc) if len(key) <= QUOTE_CHARS
                       else f"no instrument with symbol {quote_value(key)} in the instrument master")
                return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"UNKNOWN_INSTRUMENT: {why}")
        inst = self.instruments.get(*key)
        if inst is None:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT,
                           f"UNKNOWN_INSTRUMENT: {instrument_label(*key)} is not in the instrument master")
        return inst

    def _order_by_intent(self: ControlApi, intent_id: str) -> OrderEvent | None:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return None
            coid = snap.client_order_id_for(intent_id)
            return snap.order(coid) if coid is not None else None

    async def place_order(self: ControlApi, who: Principal, req: pb.PlaceOrderRequest) -> Any:
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

    def _open_order(self: ControlApi, coid: str, what: str) -> OrderEvent | Refusal:
        """The open order ``coid`` from the ledger, or why ``what`` cannot be done to it."""
        if not coid:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "client_order_id is required")
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            order = snap.order(coid)
        if order is None:
            return Refusal(grpc.StatusCode.NOT_FOUND, f"no order {quote_value(coid)} in the ledger")
        if not is_open_order(order):
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION, f"order {coid} is {order.state.value}: {what}")
        return order

    async def cancel_order(self: ControlApi, who: Principal, req: pb.CancelOrderRequest) -> Any:
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

    async def modify_order(self: ControlApi, who: Principal, req: pb.ModifyOrderRequest) -> Any:
        coid = req.client_order_id.strip()
        for name in ("qty_units", "price_paise", "trigger_price_paise"):
            if getattr(req, name) < 0:
                return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"{name} {getattr(req, name)} must not be negative "
                                                                 "(0 leaves it unchanged)")
        order = self._open_order(coid, "it cannot be modified")
        if isinstance(order, Refusal):
            return order
        if order.state in (OrderState.PENDING_UPDATE, OrderState.PENDING_CANCEL):
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION, f"order {coid} is {order.state.value}: wait for the "
                                                                "venue's answer to the previous request")
        spec = order.spec
        qty = req.qty_units or spec.qty_units
        price = req.price_paise or spec.price_paise
        trigger = req.trigger_price_paise or spec.trigger_price_paise
        if (qty, price, trigger) == (spec.qty_units, spec.price_paise, spec.trigger_price_paise):
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"nothing to change: order {coid} already has qty {qty}, "
                                                             f"price {price}, trigger {trigger} paise")
        inst = self.instruments.get(spec.segment, spec.security_id)
        if inst is None:
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION, f"UNKNOWN_INSTRUMENT: order {coid} is for "
                                                                f"{spec.segment}:{spec.security_id}, which the "
                                                                "instrument master no longer lists")
        invalid = convert.order_refusal(msgspec.structs.replace(spec, qty_units=qty, price_paise=price,
                                                                trigger_price_paise=trigger), inst)
        if invalid is not None:
            return invalid
        sent_ns = self.engine.now_ns()
        msg = ModifyOrder(uuid.uuid4().hex, coid, qty, price, trigger, f"control:{who.name}", sent_ns)
        reply = await self._command(RISK, msg, f"the modification of {coid}")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return convert.code_refusal(reply.code, reply.detail)

        def answered(s: LedgerSnapshot) -> Any:
            o = s.order(coid)
            if o is None or o.state is OrderState.PENDING_UPDATE or o.ts_event_ns < sent_ns:
                return None
            return o

        final = await self._wait_ledger(answered, self.timeout_s)
        if final is None:
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED, f"the venue did not answer the modification of {coid} "
                                                              f"within {self.timeout_s}s; `shikra orders {coid}` "
                                                              "shows where it is")
        done = final.spec
        modified = (done.qty_units, done.price_paise, done.trigger_price_paise) == (qty, price, trigger)
        return pb.ModifyOrderResponse(order=convert.order_to_pb(final, self._symbol(done.segment, done.security_id)),
                                      modified=modified)

    async def cancel_all_orders(self: ControlApi, who: Principal, req: pb.CancelAllOrdersRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            open_orders = snap.open_orders()
        ids = sorted((coid for coid, o in open_orders.items() if not req.strategy or o.strategy == req.strategy),
                     key=_coid_number)
        by = f"control:{who.name}"
        self.bridge.post(lambda: self.engine.cancel_all(req.strategy, by))
        return pb.CancelAllOrdersResponse(client_order_ids=ids)

    async def list_orders(self: ControlApi, who: Principal, req: pb.ListOrdersRequest) -> Any:
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

    async def get_order(self: ControlApi, who: Principal, req: pb.GetOrderRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            order = snap.order(req.client_order_id.strip()) if req.client_order_id.strip() else None
        if order is None:
            return Refusal(grpc.StatusCode.NOT_FOUND, f"no order {quote_value(req.client_order_id)} in the ledger")
        symbol = self._symbol(order.spec.segment, order.spec.security_id)
        return pb.GetOrderResponse(order=convert.order_to_pb(order, symbol))
