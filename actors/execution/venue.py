"""What a venue reports about an order (``VenueEvent``), and what every venue offers (``Venue``).

The venue events are the order state machine's input as they come (``actors.execution.orders.apply``
takes them directly, beside the OMS's own requests): the paper venue and the Dhan venue emit
exactly these, and so will every later broker adapter. Each names its order by client order id
and carries the venue's time ``ts_event_ns``; reason codes are ``ipc.reasons.RejectReason``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Protocol, Union, runtime_checkable

import msgspec

from actors.execution.charges import ChargeBreakdown
from ipc.messages import Depth, Quote, Tick
from ipc.reasons import RejectReason

if TYPE_CHECKING:
    from actors.execution.orders import OrderSnapshot


class VenueEvent(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Base of what the venue reports about one order, at ``ts_event_ns`` (venue time)."""

    client_order_id: str
    ts_event_ns: int


class Accepted(VenueEvent):
    """The venue acknowledged the order (open at the exchange)."""

    venue_order_id: str


class Rejected(VenueEvent):
    """The venue refused the order."""

    reason_code: RejectReason
    reason: str


class Triggered(VenueEvent):
    """A stop order's trigger was reached; it now works as a LIMIT (SL) or MARKET (SL_M) order."""


class Filled(VenueEvent):
    """``qty_units`` traded at ``price_paise``; ``charges`` from ``charges_for_fill``.
    ``fill_id`` is unique per order (a fill seen twice has the same id)."""

    fill_id: str
    qty_units: int
    price_paise: int
    charges: ChargeBreakdown

    @property
    def charges_paise(self) -> int:
        return self.charges.total_paise


class Canceled(VenueEvent):
    """The order is cancelled (our request granted, or the venue cancelled it on its own)."""

    reason_code: RejectReason
    reason: str = ""


class Expired(VenueEvent):
    """The validity ran out (end of day for DAY; the unfilled rest of an IOC)."""


class Modified(VenueEvent):
    """The modify was applied: these are the order's working values now (qty is the total)."""

    qty_units: int
    price_paise: int
    trigger_price_paise: int


class ModifyRefused(VenueEvent):
    """The venue refused the pending modify (the order keeps its old values)."""

    reason_code: RejectReason
    reason: str


class CancelRefused(VenueEvent):
    """The venue refused our cancel (the order keeps working)."""

    reason_code: RejectReason
    reason: str


AnyVenueEvent = Union[
    Accepted, Rejected, Triggered, Filled, Canceled, Expired, Modified, ModifyRefused, CancelRefused
]
VENUE_EVENT_TYPES: tuple[type[VenueEvent], ...] = AnyVenueEvent.__args__  # type: ignore[attr-defined]
NO_EVENTS: Final[tuple[VenueEvent, ...]] = ()


class BookView(msgspec.Struct, frozen=True):
    """A copy of the book a venue holds for one instrument (quantities after our own takes)."""

    bid_price_paise: tuple[int, ...]
    bid_qty_units: tuple[int, ...]
    ask_price_paise: tuple[int, ...]
    ask_qty_units: tuple[int, ...]
    ltp_paise: int
    has_depth: bool = False  # a depth update arrived (a MARKET order needs one to be worked)


@runtime_checkable  # tests check that each venue has every method (isinstance / issubclass)
class Venue(Protocol):
    """What the execution actor asks of a venue. Every order method takes ``now_ns`` and returns
    the events it caused, in order (``NO_EVENTS`` when none); a venue that answers later returns
    them from ``poll``. Nothing raises for a bad order: it is ``Rejected`` with a reason."""

    def submit(self, order: OrderSnapshot, now_ns: int, *, instrument_type: str = "") -> Sequence[VenueEvent]: ...
    def cancel(self, client_order_id: str, now_ns: int) -> Sequence[VenueEvent]: ...
    def modify(self, client_order_id: str, qty_units: int, price_paise: int, trigger_price_paise: int,
               now_ns: int) -> Sequence[VenueEvent]: ...
    def poll(self, now_ns: int) -> Sequence[VenueEvent]: ...
    def end_of_session(self, now_ns: int) -> Sequence[VenueEvent]: ...
    def on_depth(self, depth: Depth, now_ns: int) -> Sequence[VenueEvent]: ...
    def on_tick(self, tick: Tick, now_ns: int) -> Sequence[VenueEvent]: ...
    def on_quote(self, quote: Quote, now_ns: int) -> Sequence[VenueEvent]: ...
    def book(self, segment: int, security_id: int) -> BookView | None: ...
    def set_instrument_type(self, segment: int, security_id: int, instrument_type: str) -> None: ...
    def set_position(self, segment: int, security_id: int, net_qty_units: int, mark_price_paise: int, *,
                     instrument_type: str = "") -> None: ...
    def open_order_ids(self) -> tuple[str, ...]: ...
    def stats(self) -> msgspec.Struct: ...  # each venue's own counters
