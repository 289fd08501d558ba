"""Orders: a pure state machine over an order's life (``apply``). What was asked is the one
``ipc.messages.OrderSpec``, checked once at the edge that made it (``ipc.order_rules``).

Everything here takes values and returns values: no clock, no I/O, no logging. The OMS shell
logs and refuses whatever comes back as an ``IllegalTransition``. The events are the venue's
reports as the venue made them (``actors.execution.venue``: Accepted, Filled, Canceled, ...) and
the OMS's own requests (``Submit``, ``RequestCancel``, ``RequestModify``).

Lifecycle (``ipc.messages.OrderState``)::

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
- CancelRefused / ModifyRefused return to the state before the request, brought up to date:
  PARTIALLY_FILLED if fills arrived meanwhile, TRIGGERED if a stop order triggered meanwhile.
- Only SL / SL_M orders take ``Triggered``, once. A venue may report a stop order's fill without a
  separate trigger update; that fill is accepted and marks the order triggered (the fill proves
  the trigger; refusing a real fill would lose it).
- A modify request counts against ``modify_cap`` when it is *requested* (Dhan refuses the 26th
  modification of an order; counting requests can never send one too many).
- While a modify is pending, a fill up to the *requested* quantity is legal: the venue may have
  applied the modify and traded before its confirmation reaches us. Such a fill proves the
  modify, which is then adopted.
- A cancel may be requested while a modify is pending (the kill switch must not wait); the
  modify's answer is still applied when it arrives.
- REJECTED, FILLED, CANCELED and EXPIRED are terminal (and DENIED, which no order reaches here:
  a denied intent never becomes an order): every event is refused.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any, Final, Union

import msgspec
from msgspec import structs

from actors.execution.venue import (
    Accepted,
    Canceled,
    CancelRefused,
    Expired,
    Filled,
    Modified,
    ModifyRefused,
    Rejected,
    Triggered,
    VenueEvent,
)
from engine.model.money import AvgPrice, format_paise
from ipc.messages import TERMINAL_ORDER_STATES, TRIGGERED_ORDER_TYPES, Fill, OrderEvent, OrderSpec, OrderState

DHAN_MODIFY_CAP: Final = 25  # Dhan: an order can be modified at most 25 times
TERMINAL_STATES: Final = TERMINAL_ORDER_STATES
PENDING_STATES: Final = frozenset({OrderState.PENDING_CANCEL, OrderState.PENDING_UPDATE})


# --------------------------------------------------------------------------------------------
# Events that move an order: the venue's reports (actors.execution.venue) and our own requests
# --------------------------------------------------------------------------------------------


class Request(msgspec.Struct, frozen=True, tag=True):
    """Base of the OMS's own requests (the venue's reports are ``venue.VenueEvent``)."""


class Submit(Request):
    """Handed to the venue at ``ts_sent_ns``."""

    ts_sent_ns: int = 0


class RequestCancel(Request):
    """We asked the venue to cancel."""


class RequestModify(Request):
    """We asked the venue to change the working order to these values (qty is the new total)."""

    qty_units: int
    price_paise: int
    trigger_price_paise: int = 0


LifecycleEvent = Union[Request, VenueEvent]
AnyLifecycleEvent = Union[
    Submit,
    RequestCancel,
    RequestModify,
    Accepted,
    Rejected,
    Triggered,
    Filled,
    Canceled,
    Expired,
    Modified,
    ModifyRefused,
    CancelRefused,
]
LIFECYCLE_EVENT_TYPES: tuple[type, ...] = AnyLifecycleEvent.__args__  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# The order as it stands
# --------------------------------------------------------------------------------------------


class OrderSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """One order after some events. Never mutated: ``apply`` returns a new snapshot.

    ``spec`` is the order as it works now: what was asked, then a modify's values once the venue
    accepted it. The exact average fill price is ``filled_value_paise / filled_qty_units``.
    ``resume_state`` is the state a pending request left, ``pending_modify`` the modify awaiting
    the venue's answer.
    """

    client_order_id: str
    intent_id: str
    strategy: str
    spec: OrderSpec
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
    ts_created_ns: int = 0
    ts_approved_ns: int = 0
    ts_sent_ns: int = 0

    @property
    def leaves_qty_units(self) -> int:
        """Quantity still working (0 once terminal or fully filled is reached by fills)."""
        return self.spec.qty_units - self.filled_qty_units

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def avg_fill_price(self) -> AvgPrice:
        """The exact average fill price as a (value, qty) pair."""
        return AvgPrice(self.filled_value_paise, self.filled_qty_units)


def new_order(spec: OrderSpec, *, client_order_id: str, intent_id: str = "", strategy: str = "",
              ts_created_ns: int = 0, ts_approved_ns: int = 0, modify_cap: int = DHAN_MODIFY_CAP) -> OrderSnapshot:
    """A fresh INITIALIZED snapshot of ``spec``, allowing ``modify_cap`` modify requests."""
    return OrderSnapshot(client_order_id=client_order_id, intent_id=intent_id, strategy=strategy, spec=spec,
                         ts_created_ns=ts_created_ns, ts_approved_ns=ts_approved_ns, modify_cap=modify_cap)


def restore(event: OrderEvent, fill_ids: Sequence[str] = (), modify_count: int = 0) -> OrderSnapshot:
    """An order as the ledger last recorded it (``event``, with the ids of its fills), ready for
    more events. What the latest event does not keep starts afresh: a pending modify's values (the
    venue's answer still applies: its values are asked again) and, unless the caller counted it
    from the order's history (``modify_count``), the modify count."""
    return OrderSnapshot(client_order_id=event.client_order_id, intent_id=event.intent_id, strategy=event.strategy,
                         spec=event.spec, state=event.state, filled_qty_units=event.filled_qty_units,
                         filled_value_paise=event.filled_value_paise, fill_ids=tuple(fill_ids),
                         triggered=event.state is OrderState.TRIGGERED, venue_order_id=event.venue_order_id,
                         reason_code=event.reason_code, reason=event.reason, ts_created_ns=event.ts_created_ns,
                         ts_approved_ns=event.ts_approved_ns, ts_sent_ns=event.ts_sent_ns,
                         modify_count=modify_count)


def modifies_asked(history: Sequence[OrderEvent]) -> int:
    """How many modifications were asked of an order, from its recorded states (oldest first):
    each request is recorded as the order entering PENDING_UPDATE (fills while it waits stay
    there and are not counted again)."""
    asked, before = 0, None
    for event in history:
        if event.state is OrderState.PENDING_UPDATE and before is not OrderState.PENDING_UPDATE:
            asked += 1
        before = event.state
    return asked


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
TRANSITIONS: Final[dict[tuple[OrderState, type], Target]] = {
    (_S.INITIALIZED, Submit): _S.SUBMITTED,
    (_S.INITIALIZED, Canceled): _S.CANCELED,  # never sent: cancelled locally
    (_S.SUBMITTED, Accepted): _S.ACCEPTED,
    (_S.SUBMITTED, Rejected): _S.REJECTED,
    (_S.SUBMITTED, Triggered): _S.TRIGGERED,  # the trigger update outran the acknowledgement
    (_S.SUBMITTED, Filled): Next.BY_FILL,  # so did the trade
    (_S.SUBMITTED, RequestCancel): _S.PENDING_CANCEL,
    (_S.SUBMITTED, Canceled): _S.CANCELED,
    (_S.SUBMITTED, Expired): _S.EXPIRED,
    (_S.ACCEPTED, Triggered): _S.TRIGGERED,
    (_S.ACCEPTED, Filled): Next.BY_FILL,
    (_S.ACCEPTED, RequestCancel): _S.PENDING_CANCEL,
    (_S.ACCEPTED, RequestModify): _S.PENDING_UPDATE,
    (_S.ACCEPTED, Canceled): _S.CANCELED,
    (_S.ACCEPTED, Expired): _S.EXPIRED,
    (_S.TRIGGERED, Filled): Next.BY_FILL,
    (_S.TRIGGERED, RequestCancel): _S.PENDING_CANCEL,
    (_S.TRIGGERED, RequestModify): _S.PENDING_UPDATE,
    (_S.TRIGGERED, Canceled): _S.CANCELED,
    (_S.TRIGGERED, Expired): _S.EXPIRED,
    (_S.PARTIALLY_FILLED, Filled): Next.BY_FILL,
    (_S.PARTIALLY_FILLED, RequestCancel): _S.PENDING_CANCEL,
    (_S.PARTIALLY_FILLED, RequestModify): _S.PENDING_UPDATE,
    (_S.PARTIALLY_FILLED, Canceled): _S.CANCELED,
    (_S.PARTIALLY_FILLED, Expired): _S.EXPIRED,
    (_S.PENDING_CANCEL, Accepted): Next.STAY,  # cancel was asked before the acknowledgement came
    (_S.PENDING_CANCEL, Rejected): _S.REJECTED,  # ... or before the venue refused the order
    (_S.PENDING_CANCEL, Triggered): Next.STAY,
    (_S.PENDING_CANCEL, Filled): Next.BY_FILL,
    (_S.PENDING_CANCEL, Canceled): _S.CANCELED,
    (_S.PENDING_CANCEL, CancelRefused): Next.RESUME,
    (_S.PENDING_CANCEL, Modified): Next.STAY,  # a modify was out when cancel was asked
    (_S.PENDING_CANCEL, ModifyRefused): Next.STAY,
    (_S.PENDING_CANCEL, Expired): _S.EXPIRED,
    (_S.PENDING_UPDATE, Triggered): Next.STAY,
    (_S.PENDING_UPDATE, Filled): Next.BY_FILL,
    (_S.PENDING_UPDATE, RequestCancel): _S.PENDING_CANCEL,
    (_S.PENDING_UPDATE, Modified): Next.RESUME,
    (_S.PENDING_UPDATE, ModifyRefused): Next.RESUME,
    (_S.PENDING_UPDATE, Canceled): _S.CANCELED,
    (_S.PENDING_UPDATE, Expired): _S.EXPIRED,
}


def apply(order: OrderSnapshot, event: LifecycleEvent) -> OrderSnapshot | IllegalTransition:
    """``order`` after ``event``: a new snapshot, or an ``IllegalTransition`` (order unchanged).

    Never raises for any event of the types above; the caller logs and refuses the error value.
    """
    if isinstance(event, Filled) and event.fill_id in order.fill_ids:
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
        client_order_id=order.client_order_id,
        from_state=order.state,
        event=type(event).__name__,
        reason=reason,
    )


def _awaits_bigger_modify(order: OrderSnapshot) -> bool:
    pending = order.pending_modify
    return pending is not None and pending.qty_units > order.filled_qty_units


def _is_complete(order: OrderSnapshot) -> bool:
    """Filled in full, and no pending modify could still make the order bigger."""
    return order.filled_qty_units == order.spec.qty_units and not _awaits_bigger_modify(order)


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


def _on_submit(order: OrderSnapshot, event: Submit, target: Target) -> OrderSnapshot | IllegalTransition:
    return structs.replace(order, state=_to(order, target), ts_sent_ns=event.ts_sent_ns)


def _on_accept(order: OrderSnapshot, event: Accepted, target: Target) -> OrderSnapshot | IllegalTransition:
    venue_order_id = event.venue_order_id or order.venue_order_id
    if order.state is OrderState.PENDING_CANCEL:
        if order.resume_state is not OrderState.SUBMITTED:
            return _illegal(
                order, event, TransitionError.NOT_ALLOWED_IN_STATE, "order was already accepted"
            )
        return structs.replace(order, resume_state=OrderState.ACCEPTED, venue_order_id=venue_order_id)
    return structs.replace(order, state=_to(order, target), venue_order_id=venue_order_id)


def _on_reject(order: OrderSnapshot, event: Rejected, target: Target) -> OrderSnapshot | IllegalTransition:
    if order.state is OrderState.PENDING_CANCEL and order.resume_state is not OrderState.SUBMITTED:
        return _illegal(order, event, TransitionError.NOT_ALLOWED_IN_STATE, "order was already accepted")
    return _leave_pending(
        structs.replace(order, reason_code=event.reason_code.value, reason=event.reason, pending_modify=None),
        _to(order, target),
    )


def _on_trigger(
    order: OrderSnapshot, event: Triggered, target: Target
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


def _on_fill(order: OrderSnapshot, event: Filled, target: Target) -> OrderSnapshot | IllegalTransition:
    if not event.fill_id or event.qty_units <= 0 or event.price_paise <= 0:
        return _illegal(
            order,
            event,
            TransitionError.BAD_FILL,
            f"fill {event.fill_id!r} needs an id, positive qty and price; "
            f"got qty {event.qty_units} at {format_paise(event.price_paise)}",
        )
    pending = order.pending_modify
    qty_units = order.spec.qty_units
    cap_units = qty_units if pending is None else max(qty_units, pending.qty_units)
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
    if pending is not None and filled > qty_units:
        # Only the requested quantity allows this fill: the venue applied the modify already.
        updated = structs.replace(updated, spec=_with_modify(order.spec, pending, pending.qty_units),
                                  pending_modify=None)
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


def _on_cancel_refused(
    order: OrderSnapshot, event: CancelRefused, target: Target
) -> OrderSnapshot | IllegalTransition:
    state = _to(order, target)
    updated = structs.replace(order, reason_code=event.reason_code.value, reason=event.reason)
    if state is OrderState.PENDING_UPDATE:  # the modify is still out: keep its resume state
        return structs.replace(updated, state=state)
    return _leave_pending(updated, state)


def _on_cancel(order: OrderSnapshot, event: Canceled, target: Target) -> OrderSnapshot | IllegalTransition:
    return _leave_pending(
        structs.replace(order, reason_code=event.reason_code.value, reason=event.reason, pending_modify=None),
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


def _on_modified(
    order: OrderSnapshot, event: Modified, target: Target
) -> OrderSnapshot | IllegalTransition:
    pending = order.pending_modify
    if pending is None:
        return _illegal(order, event, TransitionError.NO_PENDING_MODIFY, "no modify is pending")
    # A fill may have raced the modify; never let the working qty fall below what is filled.
    qty_units = max(pending.qty_units, order.filled_qty_units)
    updated = structs.replace(order, spec=_with_modify(order.spec, pending, qty_units), pending_modify=None)
    return _settle(updated, target)


def _with_modify(spec: OrderSpec, modify: RequestModify, qty_units: int) -> OrderSpec:
    return structs.replace(spec, qty_units=qty_units, price_paise=modify.price_paise,
                           trigger_price_paise=modify.trigger_price_paise)


def _on_modify_refused(
    order: OrderSnapshot, event: ModifyRefused, target: Target
) -> OrderSnapshot | IllegalTransition:
    if order.pending_modify is None:
        return _illegal(order, event, TransitionError.NO_PENDING_MODIFY, "no modify is pending")
    updated = structs.replace(
        order, pending_modify=None, reason_code=event.reason_code.value, reason=event.reason
    )
    return _settle(updated, target)


def _settle(updated: OrderSnapshot, target: Target) -> OrderSnapshot:
    """After a modify's answer: FILLED if that made the order complete, else per ``target``."""
    if _is_complete(updated):
        return _leave_pending(updated, OrderState.FILLED)
    if target is Next.STAY:
        return updated
    return _leave_pending(updated, _resume(updated))


def _on_expire(order: OrderSnapshot, event: Expired, target: Target) -> OrderSnapshot | IllegalTransition:
    return _leave_pending(structs.replace(order, pending_modify=None), _to(order, target))


_Handler = Callable[[OrderSnapshot, Any, Target], "OrderSnapshot | IllegalTransition"]
_HANDLERS: Final[dict[type, _Handler]] = {
    Submit: _on_submit,
    Accepted: _on_accept,
    Rejected: _on_reject,
    Triggered: _on_trigger,
    Filled: _on_fill,
    RequestCancel: _on_request_cancel,
    CancelRefused: _on_cancel_refused,
    Canceled: _on_cancel,
    RequestModify: _on_request_modify,
    Modified: _on_modified,
    ModifyRefused: _on_modify_refused,
    Expired: _on_expire,
}


def invariant_violations(order: OrderSnapshot) -> tuple[str, ...]:
    """What is wrong with ``order`` (empty when it is consistent); used by tests and on rebuild."""
    problems: list[str] = []
    if not 0 <= order.filled_qty_units <= order.spec.qty_units:
        problems.append(f"filled {order.filled_qty_units} outside 0..qty {order.spec.qty_units}")
    if order.state is OrderState.FILLED and order.filled_qty_units != order.spec.qty_units:
        problems.append(f"FILLED with filled {order.filled_qty_units}/{order.spec.qty_units}")
    if (
        order.state not in TERMINAL_STATES
        and order.filled_qty_units == order.spec.qty_units
        and not _awaits_bigger_modify(order)
    ):
        problems.append(f"{order.state.value} is open but filled in full ({order.spec.qty_units})")
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
    return OrderEvent(
        client_order_id=order.client_order_id,
        intent_id=order.intent_id,
        strategy=order.strategy,
        spec=order.spec,
        state=order.state,
        filled_qty_units=order.filled_qty_units,
        filled_value_paise=order.filled_value_paise,
        venue_order_id=order.venue_order_id,
        reason_code=order.reason_code,
        reason=order.reason,
        ts_event_ns=ts_event_ns,
        ts_init_ns=ts_init_ns,
        ts_created_ns=order.ts_created_ns,
        ts_approved_ns=order.ts_approved_ns,
        ts_sent_ns=order.ts_sent_ns,
    )


def fill_message(event: Filled, order: OrderSnapshot, *, ts_init_ns: int) -> Fill:
    """The ``ipc.messages.Fill`` to record and publish for ``event`` of ``order``."""
    spec = order.spec
    return Fill(
        fill_id=event.fill_id,
        client_order_id=order.client_order_id,
        venue_order_id=order.venue_order_id,
        strategy=order.strategy,
        segment=spec.segment,
        security_id=spec.security_id,
        side=spec.side,
        qty_units=event.qty_units,
        price_paise=event.price_paise,
        charges_paise=event.charges.total_paise,
        ts_event_ns=event.ts_event_ns,
        ts_init_ns=ts_init_ns,
        product=spec.product,
    )
