"""One order sent to the broker as several child orders (above the freeze quantity): the
children's venue events become the parent's. Pure: no I/O, no clock.

The live venue places each child as its own Dhan order (correlation id
``reconcile.child_correlation_id``) and feeds every event about a child to
``SlicedOrder.on_child_event``, which returns the events the OMS sees for the parent (whose
state machine knows nothing of children) and the children to cancel. Rules:

- The first child ``Accepted`` accepts the parent (its Dhan order id becomes the parent's).
- Every child ``Filled`` is a parent ``Filled`` with the child's fill id (ids are per Dhan order,
  so they never collide), quantity, price and charges: fills aggregate to the parent.
- A child ``Rejected`` or ``Canceled`` that we did not ask for ends the parent: the other
  working children are cancelled (an order is one decision; half of it is not what was asked).
- When no child works any more and the parent is not filled in full, one final event: ``Rejected``
  (with the first refusal's code and text) if no child was ever accepted, ``Expired`` if every
  unfilled child expired, else ``Canceled`` (``CANCEL_REQUESTED`` when we asked).
- A child ``CancelRefused`` while that child still works is the parent's ``CancelRefused``.
- Parents are never modified (``modify`` is refused before it reaches here); a child
  ``Modified`` / ``ModifyRefused`` is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from actors.execution.venue import (
    Accepted,
    Canceled,
    CancelRefused,
    Expired,
    Filled,
    Rejected,
    VenueEvent,
)
from ipc.reasons import RejectReason

_WORKING, _FILLED, _REJECTED, _CANCELED, _EXPIRED = "working", "filled", "rejected", "canceled", "expired"


class _Child:
    __slots__ = ("qty_units", "filled_units", "state")

    def __init__(self, qty_units: int, filled_units: int) -> None:
        self.qty_units = qty_units
        self.filled_units = filled_units
        self.state = _FILLED if filled_units >= qty_units else _WORKING


class SlicedOrder:
    """The parent ``client_order_id`` of ``children`` (``(child correlation id, qty)`` in order).

    ``accepted`` / ``filled_by_child`` / ``cancel_asked`` restore a parent after a restart (what
    the ledger knows). ``done`` once the parent has had its last event."""

    def __init__(self, client_order_id: str, children: Sequence[tuple[str, int]], *,
                 accepted: bool = False, filled_by_child: dict[str, int] | None = None,
                 cancel_asked: bool = False) -> None:
        filled = filled_by_child or {}
        self.client_order_id = client_order_id
        self.children: dict[str, _Child] = {cid: _Child(qty, filled.get(cid, 0)) for cid, qty in children}
        self.qty_units = sum(qty for _cid, qty in children)
        self.accepted = accepted
        self.cancel_asked = cancel_asked
        self.aborted = False
        self.done = False
        self._first_refusal: tuple[RejectReason, str] | None = None  # (reason code, text)
        self._child_cancel: tuple[RejectReason, str] | None = None

    @property
    def filled_units(self) -> int:
        return sum(c.filled_units for c in self.children.values())

    def working_children(self) -> list[str]:
        return [cid for cid, c in self.children.items() if c.state == _WORKING]

    def request_cancel(self) -> list[str]:
        """We cancel the parent: the children to cancel."""
        self.cancel_asked = True
        return self.working_children()

    def on_child_event(self, event: VenueEvent) -> tuple[list[VenueEvent], list[str]]:
        """The parent's events for one child event, and the children to cancel now."""
        child = self.children.get(event.client_order_id)
        if child is None or self.done:
            return [], []
        out: list[VenueEvent] = []
        cancel: list[str] = []
        parent = self.client_order_id
        if isinstance(event, Accepted):
            if not self.accepted:
                self.accepted = True
                out.append(Accepted(client_order_id=parent, ts_event_ns=event.ts_event_ns,
                                    venue_order_id=event.venue_order_id))
        elif isinstance(event, Filled):
            child.filled_units += event.qty_units
            out.append(msgspec.structs.replace(event, client_order_id=parent))
            if child.filled_units >= child.qty_units:
                child.state = _FILLED
        elif isinstance(event, (Rejected, Canceled, Expired)):
            if child.state == _WORKING:
                cancel = self._child_ended(event, child)
        elif isinstance(event, CancelRefused):
            if child.state == _WORKING and self.cancel_asked:
                self.cancel_asked = False
                out.append(msgspec.structs.replace(event, client_order_id=parent))
        out.extend(self._final(event.ts_event_ns))
        return out, cancel

    def _child_ended(self, event: VenueEvent, child: _Child) -> list[str]:
        if isinstance(event, Expired):
            child.state = _EXPIRED
            return []
        assert isinstance(event, (Rejected, Canceled)), event
        code, text = event.reason_code, event.reason
        child.state = _REJECTED if isinstance(event, Rejected) else _CANCELED
        if isinstance(event, Rejected) and self._first_refusal is None:
            self._first_refusal = (code, text)
        if code is RejectReason.CANCEL_REQUESTED or self.cancel_asked:
            return []
        if self._child_cancel is None:
            self._child_cancel = (code, text)
        if self.aborted:
            return []
        self.aborted = True  # a part refused or cancelled by the broker ends the whole order
        return self.working_children()

    def _final(self, ts_ns: int) -> list[VenueEvent]:
        if self.done or self.working_children():
            return []
        self.done = True
        if self.filled_units >= self.qty_units:
            return []  # the last Filled completed the parent
        parent = self.client_order_id
        states = [c.state for c in self.children.values() if c.state != _FILLED]
        if not self.accepted and self._first_refusal is not None:
            code, text = self._first_refusal
            return [Rejected(client_order_id=parent, ts_event_ns=ts_ns, reason_code=code,
                             reason=f"order {parent} ({len(self.children)} child orders): {text}")]
        if states and all(s == _EXPIRED for s in states):
            return [Expired(client_order_id=parent, ts_event_ns=ts_ns)]
        if self.cancel_asked or self._child_cancel is None:
            code, text = RejectReason.CANCEL_REQUESTED, ""
        else:
            code, text = self._child_cancel
        summary = f"{self.filled_units} of {self.qty_units} filled across {len(self.children)} child orders"
        return [Canceled(client_order_id=parent, ts_event_ns=ts_ns, reason_code=code,
                         reason=f"{text}; {summary}" if text else summary)]
