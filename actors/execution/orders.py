"""Orders: what was asked (``OrderSpec``), whether it may be sent (``validate_spec``), and a pure
state machine over its life (``apply``).

Everything here takes values and returns values: no clock, no I/O, no logging. The OMS shell
logs and refuses whatever comes back as an ``IllegalTransition``.

Lifecycle (``ipc.messages.OrderState``)::

    INITIALIZED -> DENIED                                  (risk or local validation said no)
    INITIALIZED -> SUBMITTED -> ACCEPTED -> [TRIGGERED] -> PARTIALLY_FILLED -> FILLED
                        |           |            |               |
                        +-> REJECTED +-> PENDING_CANCEL / PENDING_UPDATE -> back, or CANCELED
                                     +-> CANCELED / EXPIRED

The whole table is ``TRANSITIONS``; the per-event guards and effects are small functions in
``_HANDLERS``. Rules the table alone cannot say:

- A fill never takes the filled quantity above the order quantity (``OVERFILL``); a fill whose
  ``fill_id`` was already applied is refused (``DUPLICATE_FILL``) in every state, so a replayed
  fill is recognised before anything else is checked. The caller treats it as "already have it".
- Fills stay legal while PENDING_CANCEL / PENDING_UPDATE: the venue may trade before it acts on
  the request. A fill that completes the order ends it FILLED whatever was pending, unless a
  pending modify asks for a bigger quantity: then the order stays open until the venue answers.
- CancelRejected / ModifyRejected return to the state before the request, brought up to date:
  PARTIALLY_FILLED if fills arrived meanwhile, TRIGGERED if a stop order triggered meanwhile.
- Only SL / SL_M orders take ``Trigger``, once. A venue may report a stop order's fill without a
  separate trigger update; that fill is accepted and marks the order triggered (the fill proves
  the trigger; refusing a real fill would lose it).
- A modify request counts against ``modify_cap`` when it is *requested* (Dhan refuses the 26th
  modification of an order; counting requests can never send one too many).
- While a modify is pending, a fill up to the *requested* quantity is legal: the venue may have
  applied the modify and traded before its confirmation reaches us. Such a fill proves the
  modify, which is then adopted.
- A cancel may be requested while a modify is pending (the kill switch must not wait); the
  modify's answer is still applied when it arrives.
- DENIED, REJECTED, FILLED, CANCELED and EXPIRED are terminal: every event is refused.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Final, Union

import msgspec
from msgspec import structs

from engine.model.money import AvgPrice, format_paise, is_on_tick
from ipc.messages import (
    ORDER_TYPES,
    PRICED_ORDER_TYPES,
    PRODUCTS,
    SIDES,
    TERMINAL_ORDER_STATES,
    TRIGGERED_ORDER_TYPES,
    VALIDITIES,
    OrderEvent,
    OrderIntent,
    OrderState,
    OrderType,
    Product,
    Side,
    Validity,
)
from ipc.segments import EQUITY_SEGMENTS, Segment, instrument_label

DHAN_MODIFY_CAP: Final = 25  # Dhan: an order can be modified at most 25 times


TERMINAL_STATES: Final = TERMINAL_ORDER_STATES
PENDING_STATES: Final = frozenset({OrderState.PENDING_CANCEL, OrderState.PENDING_UPDATE})


# --------------------------------------------------------------------------------------------
# What was asked, and whether it may be sent
# --------------------------------------------------------------------------------------------


class OrderSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One order as asked. Prices in paise (0 where the order type takes none), qty in units."""

    client_order_id: str
    intent_id: str
    strategy: str
    segment: int
    security_id: int
    side: Side
    order_type: OrderType
    validity: Validity
    product: Product
    qty_units: int
    price_paise: int = 0
    trigger_price_paise: int = 0
    ts_created_ns: int = 0
    ts_approved_ns: int = 0


def spec_from_intent(intent: OrderIntent, client_order_id: str, ts_approved_ns: int = 0) -> OrderSpec:
    """The ``OrderSpec`` for an approved ``OrderIntent`` under a fresh client order id."""
    return OrderSpec(
        client_order_id=client_order_id,
        intent_id=intent.intent_id,
        strategy=intent.strategy,
        segment=intent.segment,
        security_id=intent.security_id,
        side=intent.side,
        order_type=intent.order_type,
        validity=intent.validity,
        product=intent.product,
        qty_units=intent.qty_units,
        price_paise=intent.price_paise,
        trigger_price_paise=intent.trigger_price_paise,
        ts_created_ns=intent.ts_created_ns,
        ts_approved_ns=ts_approved_ns,
    )


class RejectReason(str, enum.Enum):
    """Why ``validate_spec`` refused an order before it left for the venue."""

    MISSING_CLIENT_ORDER_ID = "MISSING_CLIENT_ORDER_ID"
    SEGMENT_NOT_TRADABLE = "SEGMENT_NOT_TRADABLE"
    BAD_SIDE = "BAD_SIDE"
    BAD_ORDER_TYPE = "BAD_ORDER_TYPE"
    BAD_VALIDITY = "BAD_VALIDITY"
    BAD_PRODUCT = "BAD_PRODUCT"
    PRODUCT_NOT_FOR_SEGMENT = "PRODUCT_NOT_FOR_SEGMENT"
    LOT_SIZE_INVALID = "LOT_SIZE_INVALID"
    TICK_SIZE_INVALID = "TICK_SIZE_INVALID"
    QTY_NOT_POSITIVE = "QTY_NOT_POSITIVE"
    QTY_NOT_LOT_MULTIPLE = "QTY_NOT_LOT_MULTIPLE"
    QTY_ABOVE_FREEZE = "QTY_ABOVE_FREEZE"
    PRICE_REQUIRED = "PRICE_REQUIRED"
    PRICE_NOT_ALLOWED = "PRICE_NOT_ALLOWED"
    PRICE_NOT_ON_TICK = "PRICE_NOT_ON_TICK"
    TRIGGER_REQUIRED = "TRIGGER_REQUIRED"
    TRIGGER_NOT_ALLOWED = "TRIGGER_NOT_ALLOWED"
    TRIGGER_NOT_ON_TICK = "TRIGGER_NOT_ON_TICK"
    TRIGGER_BEYOND_PRICE = "TRIGGER_BEYOND_PRICE"


def validate_spec(
    spec: OrderSpec, lot_size_units: int, tick_paise: int, freeze_qty_units: int = 0
) -> RejectReason | None:
    """The first reason ``spec`` cannot be sent for an instrument with these parameters, or None.

    ``freeze_qty_units`` 0 means "no freeze limit known"; otherwise a quantity above it is
    refused (the exchange would reject it). A stop-limit (SL) BUY needs trigger <= price and a
    SELL trigger >= price, as NSE requires. Never raises; build the text with ``describe_reject``.
    """
    if not spec.client_order_id:
        return RejectReason.MISSING_CLIENT_ORDER_ID
    if spec.segment == Segment.IDX_I:  # indices have prices, not orders
        return RejectReason.SEGMENT_NOT_TRADABLE
    if spec.side not in SIDES:
        return RejectReason.BAD_SIDE
    if spec.order_type not in ORDER_TYPES:
        return RejectReason.BAD_ORDER_TYPE
    if spec.validity not in VALIDITIES:
        return RejectReason.BAD_VALIDITY
    if spec.product not in PRODUCTS:
        return RejectReason.BAD_PRODUCT
    if spec.product == "CNC" and spec.segment not in EQUITY_SEGMENTS:
        return RejectReason.PRODUCT_NOT_FOR_SEGMENT
    if lot_size_units <= 0:
        return RejectReason.LOT_SIZE_INVALID
    if tick_paise <= 0:
        return RejectReason.TICK_SIZE_INVALID
    if spec.qty_units <= 0:
        return RejectReason.QTY_NOT_POSITIVE
    if spec.qty_units % lot_size_units:
        return RejectReason.QTY_NOT_LOT_MULTIPLE
    if freeze_qty_units > 0 and spec.qty_units > freeze_qty_units:
        return RejectReason.QTY_ABOVE_FREEZE
    if spec.order_type in PRICED_ORDER_TYPES:
        if spec.price_paise <= 0:
            return RejectReason.PRICE_REQUIRED
        if not is_on_tick(spec.price_paise, tick_paise):
            return RejectReason.PRICE_NOT_ON_TICK
    elif spec.price_paise != 0:
        return RejectReason.PRICE_NOT_ALLOWED
    if spec.order_type in TRIGGERED_ORDER_TYPES:
        if spec.trigger_price_paise <= 0:
            return RejectReason.TRIGGER_REQUIRED
        if not is_on_tick(spec.trigger_price_paise, tick_paise):
            return RejectReason.TRIGGER_NOT_ON_TICK
    elif spec.trigger_price_paise != 0:
        return RejectReason.TRIGGER_NOT_ALLOWED
    if spec.order_type == "SL" and _trigger_beyond_price(spec):
        return RejectReason.TRIGGER_BEYOND_PRICE
    return None


def _trigger_beyond_price(spec: OrderSpec) -> bool:
    # A buy stop fires when the market rises to the trigger, then rests at its limit: the limit
    # below the trigger could never fill. Mirror image for a sell stop.
    if spec.side == "BUY":
        return spec.trigger_price_paise > spec.price_paise
    return spec.trigger_price_paise < spec.price_paise


def describe_reject(
    reason: RejectReason,
    spec: OrderSpec,
    lot_size_units: int,
    tick_paise: int,
    freeze_qty_units: int = 0,
) -> str:
    """Human text for ``reason`` with the numbers involved, e.g.
    ``"qty 75 is not a multiple of lot size 65 for NSE_FNO:55796"``. Prices are shown in rupees.
    """
    where = instrument_label(spec.segment, spec.security_id)
    price = format_paise(spec.price_paise)
    trigger = format_paise(spec.trigger_price_paise)
    tick = format_paise(tick_paise) if tick_paise > 0 else str(tick_paise)
    texts: dict[RejectReason, str] = {
        RejectReason.MISSING_CLIENT_ORDER_ID: "order has no client order id",
        RejectReason.SEGMENT_NOT_TRADABLE: "segment is not tradable (indices take no orders)",
        RejectReason.BAD_SIDE: f"side {spec.side!r} is not BUY or SELL",
        RejectReason.BAD_ORDER_TYPE: f"order type {spec.order_type!r} is not MARKET, LIMIT, SL or SL_M",
        RejectReason.BAD_VALIDITY: f"validity {spec.validity!r} is not DAY or IOC",
        RejectReason.BAD_PRODUCT: f"product {spec.product!r} is not INTRADAY, CNC or MARGIN",
        RejectReason.PRODUCT_NOT_FOR_SEGMENT: f"product {spec.product} is for equity segments only",
        RejectReason.LOT_SIZE_INVALID: f"instrument lot size {lot_size_units} is not positive",
        RejectReason.TICK_SIZE_INVALID: f"instrument tick size {tick_paise} paise is not positive",
        RejectReason.QTY_NOT_POSITIVE: f"qty {spec.qty_units} is not positive",
        RejectReason.QTY_NOT_LOT_MULTIPLE: (
            f"qty {spec.qty_units} is not a multiple of lot size {lot_size_units}"
        ),
        RejectReason.QTY_ABOVE_FREEZE: (
            f"qty {spec.qty_units} is above the freeze quantity {freeze_qty_units}"
        ),
        RejectReason.PRICE_REQUIRED: f"{spec.order_type} order needs a positive price, got {price}",
        RejectReason.PRICE_NOT_ALLOWED: f"{spec.order_type} order takes no price, got {price}",
        RejectReason.PRICE_NOT_ON_TICK: f"price {price} is not on tick {tick}",
        RejectReason.TRIGGER_REQUIRED: (
            f"{spec.order_type} order needs a positive trigger price, got {trigger}"
        ),
        RejectReason.TRIGGER_NOT_ALLOWED: (
            f"{spec.order_type} order takes no trigger price, got {trigger}"
        ),
        RejectReason.TRIGGER_NOT_ON_TICK: f"trigger price {trigger} is not on tick {tick}",
        RejectReason.TRIGGER_BEYOND_PRICE: (
            f"{spec.side} SL trigger {trigger} is "
            f"{'above' if spec.side == 'BUY' else 'below'} its limit price {price}"
        ),
    }
    return f"{texts[reason]} for {where}"


# --------------------------------------------------------------------------------------------
# Events that move an order (venue reports and our own requests)
# --------------------------------------------------------------------------------------------


class LifecycleEvent(msgspec.Struct, frozen=True, tag=True):
    """Base of the events ``apply`` understands (tagged by class name so they can be stored)."""


class Deny(LifecycleEvent):
    """Refused before leaving (risk denial, or ``validate_spec``)."""

    reason_code: str
    reason: str = ""


class Submit(LifecycleEvent):
    """Handed to the venue at ``ts_sent_ns``."""

    ts_sent_ns: int = 0


class Accept(LifecycleEvent):
    """The venue acknowledged the order (open at the exchange)."""

    venue_order_id: str = ""


class Reject(LifecycleEvent):
    """The venue refused the order."""

    reason_code: str
    reason: str = ""


class Trigger(LifecycleEvent):
    """A stop order's trigger price was reached; it now works as a limit / market order."""


class Fill(LifecycleEvent):
    """A trade against the order: ``qty_units`` at ``price_paise``; ``fill_id`` is unique per order."""

    fill_id: str
    qty_units: int
    price_paise: int


class RequestCancel(LifecycleEvent):
    """We asked the venue to cancel."""


class CancelRejected(LifecycleEvent):
    """The venue refused our cancel (the order keeps working)."""

    reason_code: str = ""
    reason: str = ""


class Cancel(LifecycleEvent):
    """The order is cancelled (our request granted, or the venue cancelled it on its own)."""

    reason_code: str = ""
    reason: str = ""


class RequestModify(LifecycleEvent):
    """We asked the venue to change the working order to these values (qty is the new total)."""

    qty_units: int
    price_paise: int
    trigger_price_paise: int = 0


class ModifyAccepted(LifecycleEvent):
    """The venue applied the pending modify."""


class ModifyRejected(LifecycleEvent):
    """The venue refused the pending modify (the order keeps its old values)."""

    reason_code: str = ""
    reason: str = ""


class Expire(LifecycleEvent):
    """The validity ran out (end of day for DAY; the unfilled rest of an IOC)."""


AnyLifecycleEvent = Union[
    Deny,
    Submit,
    Accept,
    Reject,
    Trigger,
    Fill,
    RequestCancel,
    CancelRejected,
    Cancel,
    RequestModify,
    ModifyAccepted,
    ModifyRejected,
    Expire,
]
LIFECYCLE_EVENT_TYPES: tuple[type[LifecycleEvent], ...] = AnyLifecycleEvent.__args__  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# The order as it stands
# --------------------------------------------------------------------------------------------


class OrderSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """One order after some events. Never mutated: ``apply`` returns a new snapshot.

    ``qty_units`` / ``price_paise`` / ``trigger_price_paise`` are the working values (the spec's,
    or a modify's once accepted). The exact average fill price is
    ``filled_value_paise / filled_qty_units``. ``resume_state`` is the state a pending request
    left, ``pending_modify`` the modify awaiting the venue's answer.
    """

    spec: OrderSpec
    qty_units: int
    price_paise: int
    trigger_price_paise: int
    state: OrderState = OrderState.INITIALIZED
    filled_qty_units: int = 0
    filled_value_paise: int = 0
    fill_ids: tuple[str, ...] = ()
    triggered: bool = False
    modify_count: int = 0
    modify_cap: int = DHAN_MODIFY_CAP
    resume_state: OrderState | None = None
    pending_modify: RequestModify | None = None
    venue_order_id: str = ""
    reason_code: str = ""
    reason: str = ""
    ts_sent_ns: int = 0

    @property
    def leaves_qty_units(self) -> int:
        """Quantity still working (0 once terminal or fully filled is reached by fills)."""
        return self.qty_units - self.filled_qty_units

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def avg_fill_price(self) -> AvgPrice:
        """The exact average fill price as a (value, qty) pair."""
        return AvgPrice(self.filled_value_paise, self.filled_qty_units)


def new_order(spec: OrderSpec, modify_cap: int = DHAN_MODIFY_CAP) -> OrderSnapshot:
    """A fresh INITIALIZED snapshot for ``spec``, allowing ``modify_cap`` modify requests."""
    return OrderSnapshot(
        spec=spec,
        qty_units=spec.qty_units,
        price_paise=spec.price_paise,
        trigger_price_paise=spec.trigger_price_paise,
        modify_cap=modify_cap,
    )


def modified_spec(order: OrderSnapshot, request: RequestModify) -> OrderSpec:
    """The spec as it would stand after ``request``: run ``validate_spec`` on it before sending."""
    return structs.replace(
        order.spec,
        qty_units=request.qty_units,
        price_paise=request.price_paise,
        trigger_price_paise=request.trigger_price_paise,
    )


class TransitionError(str, enum.Enum):
    """Why ``apply`` refused an event."""

    ORDER_TERMINAL = "ORDER_TERMINAL"
    NOT_ALLOWED_IN_STATE = "NOT_ALLOWED_IN_STATE"
    DUPLICATE_FILL = "DUPLICATE_FILL"
    OVERFILL = "OVERFILL"
    BAD_FILL = "BAD_FILL"
    NOT_A_STOP_ORDER = "NOT_A_STOP_ORDER"
    ALREADY_TRIGGERED = "ALREADY_TRIGGERED"
    MODIFY_CAP_REACHED = "MODIFY_CAP_REACHED"
    BAD_MODIFY = "BAD_MODIFY"
    NO_PENDING_MODIFY = "NO_PENDING_MODIFY"


class IllegalTransition(msgspec.Struct, frozen=True):
    """A refused event: the order is unchanged. ``reason`` has the numbers."""

    code: TransitionError
    client_order_id: str
    from_state: OrderState
    event: str
    reason: str


# --------------------------------------------------------------------------------------------
# The transition table
# --------------------------------------------------------------------------------------------


class Next(enum.Enum):
    """Targets computed from the order rather than fixed in the table."""

    STAY = "STAY"  # keep the current state
    RESUME = "RESUME"  # back to the state before the pending request, brought up to date
    BY_FILL = "BY_FILL"  # FILLED if complete; else PARTIALLY_FILLED, or STAY while pending


_S = OrderState
Target = OrderState | Next

# (state, event type) -> target. A pair that is absent is illegal.
TRANSITIONS: Final[dict[tuple[OrderState, type[LifecycleEvent]], Target]] = {
    (_S.INITIALIZED, Deny): _S.DENIED,
    (_S.INITIALIZED, Submit): _S.SUBMITTED,
    (_S.INITIALIZED, Cancel): _S.CANCELED,  # never sent: cancelled locally
    (_S.SUBMITTED, Accept): _S.ACCEPTED,
    (_S.SUBMITTED, Reject): _S.REJECTED,
    (_S.SUBMITTED, Trigger): _S.TRIGGERED,  # the trigger update outran the acknowledgement
    (_S.SUBMITTED, Fill): Next.BY_FILL,  # so did the trade
    (_S.SUBMITTED, RequestCancel): _S.PENDING_CANCEL,
    (_S.SUBMITTED, Cancel): _S.CANCELED,
    (_S.SUBMITTED, Expire): _S.EXPIRED,
    (_S.ACCEPTED, Trigger): _S.TRIGGERED,
    (_S.ACCEPTED, Fill): Next.BY_FILL,
    (_S.ACCEPTED, RequestCancel): _S.PENDING_CANCEL,
    (_S.ACCEPTED, RequestModify): _S.PENDING_UPDATE,
    (_S.ACCEPTED, Cancel): _S.CANCELED,
    (_S.ACCEPTED, Expire): _S.EXPIRED,
    (_S.TRIGGERED, Fill): Next.BY_FILL,
    (_S.TRIGGERED, RequestCancel): _S.PENDING_CANCEL,
    (_S.TRIGGERED, RequestModify): _S.PENDING_UPDATE,
    (_S.TRIGGERED, Cancel): _S.CANCELED,
    (_S.TRIGGERED, Expire): _S.EXPIRED,
    (_S.PARTIALLY_FILLED, Fill): Next.BY_FILL,
    (_S.PARTIALLY_FILLED, RequestCancel): _S.PENDING_CANCEL,
    (_S.PARTIALLY_FILLED, RequestModify): _S.PENDING_UPDATE,
    (_S.PARTIALLY_FILLED, Cancel): _S.CANCELED,
    (_S.PARTIALLY_FILLED, Expire): _S.EXPIRED,
    (_S.PENDING_CANCEL, Accept): Next.STAY,  # cancel was asked before the acknowledgement came
    (_S.PENDING_CANCEL, Reject): _S.REJECTED,  # ... or before the venue refused the order
    (_S.PENDING_CANCEL, Trigger): Next.STAY,
    (_S.PENDING_CANCEL, Fill): Next.BY_FILL,
    (_S.PENDING_CANCEL, Cancel): _S.CANCELED,
    (_S.PENDING_CANCEL, CancelRejected): Next.RESUME,
    (_S.PENDING_CANCEL, ModifyAccepted): Next.STAY,  # a modify was out when cancel was asked
    (_S.PENDING_CANCEL, ModifyRejected): Next.STAY,
    (_S.PENDING_CANCEL, Expire): _S.EXPIRED,
    (_S.PENDING_UPDATE, Trigger): Next.STAY,
    (_S.PENDING_UPDATE, Fill): Next.BY_FILL,
    (_S.PENDING_UPDATE, RequestCancel): _S.PENDING_CANCEL,
    (_S.PENDING_UPDATE, ModifyAccepted): Next.RESUME,
    (_S.PENDING_UPDATE, ModifyRejected): Next.RESUME,
    (_S.PENDING_UPDATE, Cancel): _S.CANCELED,
    (_S.PENDING_UPDATE, Expire): _S.EXPIRED,
}


def apply(order: OrderSnapshot, event: LifecycleEvent) -> OrderSnapshot | IllegalTransition:
    """``order`` after ``event``: a new snapshot, or an ``IllegalTransition`` (order unchanged).

    Never raises for any event of the types above; the caller logs and refuses the error value.
    """
    if isinstance(event, Fill) and event.fill_id in order.fill_ids:
        return _illegal(
            order, event, TransitionError.DUPLICATE_FILL, f"fill {event.fill_id!r} already applied"
        )
    if order.state in TERMINAL_STATES:
        return _illegal(
            order, event, TransitionError.ORDER_TERMINAL, f"order is {order.state.value}, final"
        )
    target = TRANSITIONS.get((order.state, type(event)))
    if target is None:
        return _illegal(
            order,
            event,
            TransitionError.NOT_ALLOWED_IN_STATE,
            f"{type(event).__name__} is not allowed in {order.state.value}",
        )
    return _HANDLERS[type(event)](order, event, target)


def _illegal(
    order: OrderSnapshot, event: LifecycleEvent, code: TransitionError, reason: str
) -> IllegalTransition:
    return IllegalTransition(
        code=code,
        client_order_id=order.spec.client_order_id,
        from_state=order.state,
        event=type(event).__name__,
        reason=reason,
    )


def _awaits_bigger_modify(order: OrderSnapshot) -> bool:
    pending = order.pending_modify
    return pending is not None and pending.qty_units > order.filled_qty_units


def _is_complete(order: OrderSnapshot) -> bool:
    """Filled in full, and no pending modify could still make the order bigger."""
    return order.filled_qty_units == order.qty_units and not _awaits_bigger_modify(order)


def _resume(order: OrderSnapshot) -> OrderState:
    """Where a finished pending request returns to (``order`` already carries its effects)."""
    if order.state is OrderState.PENDING_CANCEL and order.pending_modify is not None:
        return OrderState.PENDING_UPDATE  # the cancel is answered, the modify still is not
    base = order.resume_state or OrderState.ACCEPTED
    if _is_complete(order):
        return OrderState.FILLED
    if order.filled_qty_units > 0:
        return OrderState.PARTIALLY_FILLED
    if order.triggered and base in (OrderState.SUBMITTED, OrderState.ACCEPTED):
        return OrderState.TRIGGERED
    return base


def _leave_pending(order: OrderSnapshot, state: OrderState) -> OrderSnapshot:
    return structs.replace(order, state=state, resume_state=None)


def _to(order: OrderSnapshot, target: Target) -> OrderState:
    if target is Next.STAY:
        return order.state
    if target is Next.RESUME:
        return _resume(order)
    assert isinstance(target, OrderState), target  # BY_FILL is resolved inside _on_fill
    return target


# --------------------------------------------------------------------------------------------
# Per-event guards and effects (the table has already said the pair is legal)
# --------------------------------------------------------------------------------------------


def _on_deny(order: OrderSnapshot, event: Deny, target: Target) -> OrderSnapshot | IllegalTransition:
    return structs.replace(
        order, state=_to(order, target), reason_code=event.reason_code, reason=event.reason
    )


def _on_submit(order: OrderSnapshot, event: Submit, target: Target) -> OrderSnapshot | IllegalTransition:
    return structs.replace(order, state=_to(order, target), ts_sent_ns=event.ts_sent_ns)


def _on_accept(order: OrderSnapshot, event: Accept, target: Target) -> OrderSnapshot | IllegalTransition:
    venue_order_id = event.venue_order_id or order.venue_order_id
    if order.state is OrderState.PENDING_CANCEL:
        if order.resume_state is not OrderState.SUBMITTED:
            return _illegal(
                order, event, TransitionError.NOT_ALLOWED_IN_STATE, "order was already accepted"
            )
        return structs.replace(order, resume_state=OrderState.ACCEPTED, venue_order_id=venue_order_id)
    return structs.replace(order, state=_to(order, target), venue_order_id=venue_order_id)


def _on_reject(order: OrderSnapshot, event: Reject, target: Target) -> OrderSnapshot | IllegalTransition:
    if order.state is OrderState.PENDING_CANCEL and order.resume_state is not OrderState.SUBMITTED:
        return _illegal(order, event, TransitionError.NOT_ALLOWED_IN_STATE, "order was already accepted")
    return _leave_pending(
        structs.replace(order, reason_code=event.reason_code, reason=event.reason, pending_modify=None),
        _to(order, target),
    )


def _on_trigger(
    order: OrderSnapshot, event: Trigger, target: Target
) -> OrderSnapshot | IllegalTransition:
    if order.spec.order_type not in TRIGGERED_ORDER_TYPES:
        return _illegal(
            order,
            event,
            TransitionError.NOT_A_STOP_ORDER,
            f"{order.spec.order_type} order has no trigger",
        )
    if order.triggered:
        return _illegal(order, event, TransitionError.ALREADY_TRIGGERED, "order already triggered")
    return structs.replace(order, state=_to(order, target), triggered=True)


def _on_fill(order: OrderSnapshot, event: Fill, target: Target) -> OrderSnapshot | IllegalTransition:
    if not event.fill_id or event.qty_units <= 0 or event.price_paise <= 0:
        return _illegal(
            order,
            event,
            TransitionError.BAD_FILL,
            f"fill {event.fill_id!r} needs an id, positive qty and price; "
            f"got qty {event.qty_units} at {format_paise(event.price_paise)}",
        )
    pending = order.pending_modify
    cap_units = order.qty_units if pending is None else max(order.qty_units, pending.qty_units)
    filled = order.filled_qty_units + event.qty_units
    if filled > cap_units:
        return _illegal(
            order,
            event,
            TransitionError.OVERFILL,
            f"fill {event.fill_id!r} of {event.qty_units} would make filled {filled} "
            f"exceed order qty {cap_units}",
        )
    updated = structs.replace(
        order,
        filled_qty_units=filled,
        filled_value_paise=order.filled_value_paise + event.qty_units * event.price_paise,
        fill_ids=order.fill_ids + (event.fill_id,),
        triggered=order.triggered or order.spec.order_type in TRIGGERED_ORDER_TYPES,
    )
    if pending is not None and filled > order.qty_units:
        # Only the requested quantity allows this fill: the venue applied the modify already.
        updated = structs.replace(
            updated,
            qty_units=pending.qty_units,
            price_paise=pending.price_paise,
            trigger_price_paise=pending.trigger_price_paise,
            pending_modify=None,
        )
        if order.state is OrderState.PENDING_UPDATE:
            updated = _leave_pending(updated, _resume(updated))
    if _is_complete(updated):
        return _leave_pending(structs.replace(updated, pending_modify=None), OrderState.FILLED)
    # Filled in full at the old qty while a bigger modify is out: which one the venue applied
    # first is unknown until it answers, so the order stays open (pending) until then.
    if updated.state in PENDING_STATES:
        return updated
    return structs.replace(updated, state=OrderState.PARTIALLY_FILLED)


def _on_request_cancel(
    order: OrderSnapshot, event: RequestCancel, target: Target
) -> OrderSnapshot | IllegalTransition:
    resume_state = order.resume_state if order.state in PENDING_STATES else order.state
    return structs.replace(order, state=_to(order, target), resume_state=resume_state)


def _on_cancel_rejected(
    order: OrderSnapshot, event: CancelRejected, target: Target
) -> OrderSnapshot | IllegalTransition:
    state = _to(order, target)
    updated = structs.replace(order, reason_code=event.reason_code, reason=event.reason)
    if state is OrderState.PENDING_UPDATE:  # the modify is still out: keep its resume state
        return structs.replace(updated, state=state)
    return _leave_pending(updated, state)


def _on_cancel(order: OrderSnapshot, event: Cancel, target: Target) -> OrderSnapshot | IllegalTransition:
    return _leave_pending(
        structs.replace(order, reason_code=event.reason_code, reason=event.reason, pending_modify=None),
        _to(order, target),
    )


def _on_request_modify(
    order: OrderSnapshot, event: RequestModify, target: Target
) -> OrderSnapshot | IllegalTransition:
    if order.modify_count >= order.modify_cap:
        return _illegal(
            order,
            event,
            TransitionError.MODIFY_CAP_REACHED,
            f"order already modified {order.modify_count} times (cap {order.modify_cap})",
        )
    if event.qty_units <= order.filled_qty_units:
        return _illegal(
            order,
            event,
            TransitionError.BAD_MODIFY,
            f"new qty {event.qty_units} must exceed filled qty {order.filled_qty_units}",
        )
    if event.price_paise < 0 or event.trigger_price_paise < 0:
        return _illegal(
            order,
            event,
            TransitionError.BAD_MODIFY,
            f"negative price {format_paise(event.price_paise)} "
            f"or trigger {format_paise(event.trigger_price_paise)}",
        )
    return structs.replace(
        order,
        state=_to(order, target),
        resume_state=order.state,
        pending_modify=event,
        modify_count=order.modify_count + 1,
    )


def _on_modify_accepted(
    order: OrderSnapshot, event: ModifyAccepted, target: Target
) -> OrderSnapshot | IllegalTransition:
    pending = order.pending_modify
    if pending is None:
        return _illegal(order, event, TransitionError.NO_PENDING_MODIFY, "no modify is pending")
    # A fill may have raced the modify; never let the working qty fall below what is filled.
    qty_units = max(pending.qty_units, order.filled_qty_units)
    updated = structs.replace(
        order,
        qty_units=qty_units,
        price_paise=pending.price_paise,
        trigger_price_paise=pending.trigger_price_paise,
        pending_modify=None,
    )
    return _settle(updated, target)


def _on_modify_rejected(
    order: OrderSnapshot, event: ModifyRejected, target: Target
) -> OrderSnapshot | IllegalTransition:
    if order.pending_modify is None:
        return _illegal(order, event, TransitionError.NO_PENDING_MODIFY, "no modify is pending")
    updated = structs.replace(
        order, pending_modify=None, reason_code=event.reason_code, reason=event.reason
    )
    return _settle(updated, target)


def _settle(updated: OrderSnapshot, target: Target) -> OrderSnapshot:
    """After a modify's answer: FILLED if that made the order complete, else per ``target``."""
    if _is_complete(updated):
        return _leave_pending(updated, OrderState.FILLED)
    if target is Next.STAY:
        return updated
    return _leave_pending(updated, _resume(updated))


def _on_expire(order: OrderSnapshot, event: Expire, target: Target) -> OrderSnapshot | IllegalTransition:
    return _leave_pending(structs.replace(order, pending_modify=None), _to(order, target))


_Handler = Callable[[OrderSnapshot, "LifecycleEvent", Target], "OrderSnapshot | IllegalTransition"]
_HANDLERS: Final[dict[type[LifecycleEvent], _Handler]] = {
    Deny: _on_deny,  # type: ignore[dict-item]
    Submit: _on_submit,  # type: ignore[dict-item]
    Accept: _on_accept,  # type: ignore[dict-item]
    Reject: _on_reject,  # type: ignore[dict-item]
    Trigger: _on_trigger,  # type: ignore[dict-item]
    Fill: _on_fill,  # type: ignore[dict-item]
    RequestCancel: _on_request_cancel,  # type: ignore[dict-item]
    CancelRejected: _on_cancel_rejected,  # type: ignore[dict-item]
    Cancel: _on_cancel,  # type: ignore[dict-item]
    RequestModify: _on_request_modify,  # type: ignore[dict-item]
    ModifyAccepted: _on_modify_accepted,  # type: ignore[dict-item]
    ModifyRejected: _on_modify_rejected,  # type: ignore[dict-item]
    Expire: _on_expire,  # type: ignore[dict-item]
}


def invariant_violations(order: OrderSnapshot) -> tuple[str, ...]:
    """What is wrong with ``order`` (empty when it is consistent); used by tests and on rebuild."""
    problems: list[str] = []
    if not 0 <= order.filled_qty_units <= order.qty_units:
        problems.append(f"filled {order.filled_qty_units} outside 0..qty {order.qty_units}")
    if order.state is OrderState.FILLED and order.filled_qty_units != order.qty_units:
        problems.append(f"FILLED with filled {order.filled_qty_units}/{order.qty_units}")
    if (
        order.state not in TERMINAL_STATES
        and order.filled_qty_units == order.qty_units
        and not _awaits_bigger_modify(order)
    ):
        problems.append(f"{order.state.value} is open but filled in full ({order.qty_units})")
    if order.state is OrderState.PARTIALLY_FILLED and order.filled_qty_units == 0:
        problems.append("PARTIALLY_FILLED with nothing filled")
    if order.state in PENDING_STATES and order.resume_state is None:
        problems.append(f"{order.state.value} without a state to return to")
    if order.state is OrderState.PENDING_UPDATE and order.pending_modify is None:
        problems.append("PENDING_UPDATE without a pending modify")
    if order.state in TERMINAL_STATES and order.pending_modify is not None:
        problems.append(f"{order.state.value} with a pending modify")
    if len(set(order.fill_ids)) != len(order.fill_ids):
        problems.append("duplicate fill ids")
    if order.filled_qty_units == 0 and order.filled_value_paise != 0:
        problems.append(f"value {order.filled_value_paise} with no quantity")
    if order.modify_count > order.modify_cap:
        problems.append(f"modified {order.modify_count} times, cap {order.modify_cap}")
    return tuple(problems)


# --------------------------------------------------------------------------------------------
# Bus mapping
# --------------------------------------------------------------------------------------------


def to_order_event(order: OrderSnapshot, *, ts_event_ns: int, ts_init_ns: int) -> OrderEvent:
    """The ``ipc.messages.OrderEvent`` that publishes ``order`` as it stands (working values)."""
    spec = order.spec
    return OrderEvent(
        client_order_id=spec.client_order_id,
        intent_id=spec.intent_id,
        strategy=spec.strategy,
        segment=spec.segment,
        security_id=spec.security_id,
        side=spec.side,
        order_type=spec.order_type,
        validity=spec.validity,
        product=spec.product,
        qty_units=order.qty_units,
        price_paise=order.price_paise,
        trigger_price_paise=order.trigger_price_paise,
        state=order.state,
        filled_qty_units=order.filled_qty_units,
        filled_value_paise=order.filled_value_paise,
        venue_order_id=order.venue_order_id,
        reason_code=order.reason_code,
        reason=order.reason,
        ts_event_ns=ts_event_ns,
        ts_init_ns=ts_init_ns,
        ts_created_ns=spec.ts_created_ns,
        ts_approved_ns=spec.ts_approved_ns,
        ts_sent_ns=order.ts_sent_ns,
    )
