"""The paper venue: a pure matching engine that fills orders against the live book.

``PaperVenue`` keeps the latest book and last trade price per instrument (``on_depth``,
``on_tick``, ``on_quote``) and answers order requests (``submit``, ``cancel``, ``modify``) with
``VenueEvent`` values (``actors.execution.venue``) that the execution actor feeds to the order
state machine and writes to the ledger. It has no sockets and no clock: every method takes
``now_ns``, and the same calls in the same order always give the same events (no randomness,
no wall clock, insertion-ordered iteration only).

Matching: ``actors.execution.paper_matching`` (what an arriving order takes from the book, when a
resting order fills, the queue models). Around it, the order's lifecycle here:

- What an arriving order leaves rests (DAY) or is cancelled (IOC, ``Canceled`` with
  ``IOC_UNFILLED``).
- SL and SL_M orders wait for the trigger, from ``Tick`` or ``Quote`` only (never from depth).
  They emit ``Triggered`` and then arrive as a LIMIT (SL, at its price) or MARKET (SL_M) order. A
  stop whose trigger the LTP has already crossed on arrival triggers at once, or is rejected
  (``STOP_ALREADY_CROSSED``) when ``stop_crossed_on_arrival="reject"`` (what Indian brokers do).
  The trade that triggered a stop does not also fill it passively.
- ``end_of_session`` expires every open order (DAY is the only resting validity).
- Modify: the quantity is the new total. A price change or a bigger quantity loses the queue
  place (re-queued behind the visible quantity, as exchanges do); a smaller quantity keeps it.
- Acknowledgement latency (``ack_latency_us`` > 0): requests reach the venue ``latency`` after
  they are made. ``submit`` / ``cancel`` / ``modify`` then return nothing for the request, and it
  is handled by the first call (``poll`` from a timer, or any ``on_*``) whose ``now_ns`` is at or
  past its due time, against the book held at that moment; its events carry the due time. Market
  data is never delayed, and what the venue reports is delivered at once.

Answers to cancels and modifies
-------------------------------
- An open order: ``Canceled`` (``CANCEL_REQUESTED``) / ``Modified`` or ``ModifyRefused``.
- An order the venue never saw: ``CancelRefused`` / ``ModifyRefused`` with ``ORDER_UNKNOWN``.
- An order that is already closed: its terminal event was already reported, and it ended the
  request in the state machine too, so the answer is nothing. One exception: a modify to a
  quantity above what an order filled in full keeps the state machine waiting for an answer, so it
  gets ``ModifyRefused`` (``ORDER_CLOSED``).

Charges: each fill carries ``charges_for_fill`` for the order's segment class (segment +
instrument type + product), with the order's filled value before the fill so that percent-capped
brokerage is charged once per order, exactly. Fill ids are ``f"{client_order_id}-{n}"``.

Funds (``PaperWallet``, optional; rules in ``actors.execution.paper_wallet``): at submit and modify
the order's requirement must fit in what the wallet has available, else ``INSUFFICIENT_FUNDS``
with the numbers; each fill moves the wallet's cash mirror at once.

Hot path: ``on_depth`` / ``on_tick`` / ``on_quote`` for an instrument with nothing resting look up
its book and its resting orders (two dict lookups on an int key), store the new references (no
copy) and return the shared empty tuple ``NO_EVENTS``: O(1), nothing allocated.
"""

from __future__ import annotations

import collections
import heapq
from collections.abc import Sequence
from typing import Final

import msgspec

from actors.execution.charges import ChargeMemo, SegmentClass, segment_class_for
from actors.execution.config import PaperVenueConfig
from actors.execution.orders import OrderSnapshot
from actors.execution.paper_matching import (
    Book,
    WorkingOrder,
    queue_at,
    shorten_queue,
    stop_crossed,
    take,
    trade_fill_units,
)
from actors.execution.paper_wallet import PaperWallet, funds_need, shortfall_text
from actors.execution.venue import (
    NO_EVENTS,
    Accepted,
    BookView,
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
from engine.model.ist import NS_PER_US
from engine.model.money import format_paise
from ipc.messages import Depth, Quote, Tick
from ipc.reasons import RejectReason
from ipc.segments import InstrumentId, instrument_label

# Closed orders remembered (a cancel or modify that crossed the close gets its exact answer, a
# reused id is refused). Those arrive within milliseconds of the close; the oldest are forgotten
# so that memory does not grow with every order ever made.
CLOSED_ORDERS_KEPT: Final = 10_000


class PaperVenueStats(msgspec.Struct, frozen=True):
    """Counters since the venue was built (bad input is counted here, never raised)."""

    submitted: int
    accepted: int
    rejected: int
    fills: int
    bad_depth_sides: int  # a depth side whose price and qty lists differ in length: ignored
    bad_prices: int  # a tick or quote with LTP <= 0: ignored


class _Counters:
    __slots__ = ("submitted", "accepted", "rejected", "fills", "bad_depth_sides", "bad_prices")

    def __init__(self) -> None:
        self.submitted = self.accepted = self.rejected = self.fills = 0
        self.bad_depth_sides = self.bad_prices = 0


_SUBMIT: Final = 0
_CANCEL: Final = 1
_MODIFY: Final = 2


# --------------------------------------------------------------------------------------------
# The venue
# --------------------------------------------------------------------------------------------


class PaperVenue:
    """A simulated exchange for paper trading (rules in the module docstring).

    Every public method takes ``now_ns`` and returns the events it caused, in order, as a
    sequence (the ``NO_EVENTS`` empty tuple when there are none). Orders come checked (their
    fields at the edge that made them, ``ipc.order_rules``); an order the venue cannot work now
    (no market data, funds, a reused id) is rejected with a ``RejectReason``, bad market data is
    counted in ``stats()``. ``wallet`` None means unlimited funds (no funds check).
    """

    def __init__(
        self, config: PaperVenueConfig | None = None, wallet: PaperWallet | None = None
    ) -> None:
        self.config = config if config is not None else PaperVenueConfig()
        self.wallet = wallet
        self._model = self.config.queue_model
        self._latency_ns = self.config.ack_latency_us * NS_PER_US
        self._charges = ChargeMemo(self.config.charges)
        # Per-instrument tables are keyed by the (segment, security_id) tuple, equal to InstrumentId:
        # on the per-tick path building it is as cheap as packing ints inline and cheaper than a call.
        self._books: dict[InstrumentId, Book] = {}
        self._orders: dict[str, WorkingOrder] = {}  # open orders by client order id
        self._resting: dict[InstrumentId, list[WorkingOrder]] = {}  # open orders per instrument, oldest first
        # cid -> units if it closed filled in full, else -1; the last CLOSED_ORDERS_KEPT, oldest first
        self._closed: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._instrument_types: dict[InstrumentId, str] = {}
        self._inbox: list[tuple[int, int, int, tuple[object, ...]]] = []  # (due, seq, kind, args)
        self._inbox_seq = 0
        self._venue_seq = 0
        self._n = _Counters()

    # Instruments and positions -----------------------------------------------------------------

    def set_instrument_type(self, segment: int, security_id: int, instrument_type: str) -> None:
        """The master's instrument type (FUTIDX, OPTIDX, FUTSTK, OPTSTK, EQUITY, ...) used to pick
        the charge schedule and margin rule when ``submit`` is not given one."""
        self._instrument_types[(segment, security_id)] = instrument_type

    def set_position(
        self,
        segment: int,
        security_id: int,
        net_qty_units: int,
        mark_price_paise: int,
        *,
        instrument_type: str = "",
    ) -> None:
        """Tell the wallet the ledger's net position (on start); a short blocks its value at
        ``mark_price_paise`` plus margin. No-op without a wallet."""
        if self.wallet is None:
            return
        key = (segment, security_id)
        block = 0
        if net_qty_units < 0:
            itype = instrument_type or self._instrument_types.get(key, "")
            seg_class = segment_class_for(segment, itype, "INTRADAY") or SegmentClass.EQUITY_INTRADAY
            unit = mark_price_paise + self.config.margin.per_unit_paise(seg_class, mark_price_paise)
            block = -net_qty_units * unit
        self.wallet.set_position(key, net_qty_units, block)

    # Requests ----------------------------------------------------------------------------------

    def submit(
        self, order: OrderSnapshot, now_ns: int, *, instrument_type: str = ""
    ) -> Sequence[VenueEvent]:
        """Send ``order`` (working values: qty, price, trigger; fills already on it are kept).

        Without latency the answer comes back at once: ``Accepted`` then any fills, or
        ``Rejected``. ``instrument_type`` overrides ``set_instrument_type`` for this order.
        """
        out: list[VenueEvent] = []
        self._drain(now_ns, out)
        if self._latency_ns:
            self._enqueue(now_ns, _SUBMIT, (order, instrument_type))
        else:
            self._arrive(order, instrument_type, now_ns, out)
        return out or NO_EVENTS

    def cancel(self, client_order_id: str, now_ns: int) -> Sequence[VenueEvent]:
        """Cancel an open order (answers in the module docstring)."""
        out: list[VenueEvent] = []
        self._drain(now_ns, out)
        if self._latency_ns:
            self._enqueue(now_ns, _CANCEL, (client_order_id,))
        else:
            self._cancel_arrives(client_order_id, now_ns, out)
        return out or NO_EVENTS

    def modify(
        self,
        client_order_id: str,
        qty_units: int,
        price_paise: int,
        trigger_price_paise: int,
        now_ns: int,
    ) -> Sequence[VenueEvent]:
        """Change an open order's total qty, limit price (0 for MARKET / SL_M) and trigger price
        (0 for MARKET / LIMIT). ``Modified`` may be followed by fills when the new price is
        marketable or a stop's new trigger is already crossed."""
        out: list[VenueEvent] = []
        self._drain(now_ns, out)
        args = (client_order_id, qty_units, price_paise, trigger_price_paise)
        if self._latency_ns:
            self._enqueue(now_ns, _MODIFY, args)
        else:
            self._modify_arrives(*args, now_ns, out)
        return out or NO_EVENTS

    def poll(self, now_ns: int) -> Sequence[VenueEvent]:
        """Handle the requests due by ``now_ns`` (only ever non-empty with ack latency)."""
        if not self._inbox or self._inbox[0][0] > now_ns:
            return NO_EVENTS
        out: list[VenueEvent] = []
        self._drain(now_ns, out)
        return out or NO_EVENTS

    def end_of_session(self, now_ns: int) -> Sequence[VenueEvent]:
        """Close the session: requests still in flight are answered now (new orders rejected
        ``SESSION_CLOSED``, cancels and modifies handled), then every open order expires."""
        out: list[VenueEvent] = []
        self._drain(now_ns, out)
        while self._inbox:
            _, _, kind, args = heapq.heappop(self._inbox)
            if kind == _SUBMIT:
                cid = args[0].client_order_id  # type: ignore[attr-defined]
                self._n.submitted += 1
                reason = "the session closed before the order arrived"
                self._reject(cid, now_ns, RejectReason.SESSION_CLOSED, reason, out)
            else:
                self._handle(kind, args, now_ns, out)
        for o in list(self._orders.values()):
            out.append(Expired(client_order_id=o.cid, ts_event_ns=now_ns))
            self._close(o, full=False)
        return out or NO_EVENTS

    # Market data -------------------------------------------------------------------------------

    def on_depth(self, depth: Depth, now_ns: int) -> Sequence[VenueEvent]:
        """Take a depth update (``sides`` says which side lists carry data; a one-sided update
        keeps the other side). Fills resting orders the new book crosses."""
        # Hot path: per depth packet; stores references, allocates nothing when nothing rests.
        out = self._drained(now_ns) if self._inbox and self._inbox[0][0] <= now_ns else None
        key = (depth.segment, depth.security_id)
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = Book()
        sides = depth.sides
        if sides != "ask":
            if len(depth.bid_price_paise) == len(depth.bid_qty_units):
                book.bid_px = depth.bid_price_paise
                book.bid_qty = depth.bid_qty_units
                book.bid_owned = False
            else:
                self._n.bad_depth_sides += 1
        if sides != "bid":
            if len(depth.ask_price_paise) == len(depth.ask_qty_units):
                book.ask_px = depth.ask_price_paise
                book.ask_qty = depth.ask_qty_units
                book.ask_owned = False
            else:
                self._n.bad_depth_sides += 1
        book.has_depth = True
        orders = self._resting.get(key)
        if orders is None:
            return out or NO_EVENTS
        return self._depth_moves(book, orders, now_ns, out or [])

    def on_tick(self, tick: Tick, now_ns: int) -> Sequence[VenueEvent]:
        """Take a last traded price: triggers stops, fills resting limits it reaches."""
        # Hot path: per tick.
        out = self._drained(now_ns) if self._inbox and self._inbox[0][0] <= now_ns else None
        ltp = tick.ltp_paise
        if ltp <= 0:
            self._n.bad_prices += 1
            return out or NO_EVENTS
        key = (tick.segment, tick.security_id)
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = Book()
        book.ltp_paise = ltp
        orders = self._resting.get(key)
        if orders is None:
            return out or NO_EVENTS
        return self._trade_moves(book, orders, ltp, 0, now_ns, out or [])

    def on_quote(self, quote: Quote, now_ns: int) -> Sequence[VenueEvent]:
        """As ``on_tick``, and the volume delta feeds the "volume" queue model."""
        # Hot path: per quote.
        out = self._drained(now_ns) if self._inbox and self._inbox[0][0] <= now_ns else None
        ltp = quote.ltp_paise
        if ltp <= 0:
            self._n.bad_prices += 1
            return out or NO_EVENTS
        key = (quote.segment, quote.security_id)
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = Book()
        book.ltp_paise = ltp
        previous = book.volume_units
        book.volume_units = quote.volume_units
        orders = self._resting.get(key)
        if orders is None:
            return out or NO_EVENTS
        traded = quote.volume_units - previous if previous >= 0 else 0
        return self._trade_moves(book, orders, ltp, max(traded, 0), now_ns, out or [])

    def on_quiet_market(
        self,
        segment: int,
        security_id: int,
        *,
        ltp_paise: int,
        volume_units: int,
        depth: tuple[list[int], list[int], list[int], list[int]] | None,
    ) -> None:
        """The end state of many ``on_tick`` / ``on_quote`` / ``on_depth`` calls of an instrument
        with nothing resting and no request due (``is_quiet``), all at once: the last positive
        LTP (0: none among them), the cumulative volume of the last quote with one (-1: none),
        the last 5-level depth as (bid prices, bid qtys, ask prices, ask qtys) or None. Bad prices
        among the calls are counted with ``count_bad_prices``. Replay batches only."""
        if ltp_paise <= 0 and depth is None:
            return
        key = (segment, security_id)
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = Book()
        if ltp_paise > 0:
            book.ltp_paise = ltp_paise
        if volume_units >= 0:
            book.volume_units = volume_units
        if depth is not None:
            book.bid_px, book.bid_qty, book.ask_px, book.ask_qty = depth
            book.bid_owned = book.ask_owned = False
            book.has_depth = True

    def count_bad_prices(self, n: int) -> None:
        """``n`` ticks or quotes with a non-positive LTP went by (see ``on_quiet_market``)."""
        self._n.bad_prices += n

    def is_quiet(self, segment: int, security_id: int) -> bool:
        """True when market data for this instrument can only update the book: no order rests on
        it and no request waits for its due time (ack latency)."""
        return not self._inbox and (segment, security_id) not in self._resting

    # Views -------------------------------------------------------------------------------------

    def book(self, segment: int, security_id: int) -> BookView | None:
        """A copy of the book held for an instrument, or None when nothing was seen for it."""
        book = self._books.get((segment, security_id))
        if book is None:
            return None
        return BookView(
            bid_price_paise=tuple(book.bid_px),
            bid_qty_units=tuple(book.bid_qty),
            ask_price_paise=tuple(book.ask_px),
            ask_qty_units=tuple(book.ask_qty),
            ltp_paise=book.ltp_paise,
            has_depth=book.has_depth,
        )

    def open_order_ids(self) -> tuple[str, ...]:
        """Client order ids of the orders open at the venue, oldest first."""
        return tuple(self._orders)

    def stats(self) -> PaperVenueStats:
        n = self._n
        return PaperVenueStats(
            submitted=n.submitted,
            accepted=n.accepted,
            rejected=n.rejected,
            fills=n.fills,
            bad_depth_sides=n.bad_depth_sides,
            bad_prices=n.bad_prices,
        )

    # Inbox (ack latency) -----------------------------------------------------------------------

    def _enqueue(self, now_ns: int, kind: int, args: tuple[object, ...]) -> None:
        self._inbox_seq += 1
        heapq.heappush(self._inbox, (now_ns + self._latency_ns, self._inbox_seq, kind, args))

    def _drained(self, now_ns: int) -> list[VenueEvent]:
        out: list[VenueEvent] = []
        self._drain(now_ns, out)
        return out

    def _drain(self, now_ns: int, out: list[VenueEvent]) -> None:
        inbox = self._inbox
        while inbox and inbox[0][0] <= now_ns:
            due, _, kind, args = heapq.heappop(inbox)
            self._handle(kind, args, due, out)

    def _handle(self, kind: int, args: tuple[object, ...], ts: int, out: list[VenueEvent]) -> None:
        if kind == _SUBMIT:
            self._arrive(args[0], args[1], ts, out)  # type: ignore[arg-type]
        elif kind == _CANCEL:
            self._cancel_arrives(args[0], ts, out)  # type: ignore[arg-type]
        else:
            self._modify_arrives(*args, ts, out)  # type: ignore[arg-type]

    # Arrivals ----------------------------------------------------------------------------------

    def _reject(
        self,
        cid: str,
        ts: int,
        code: RejectReason,
        reason: str,
        out: list[VenueEvent],
        remember: bool = True,
    ) -> None:
        self._n.rejected += 1
        if remember:
            self._remember_closed(cid, -1)
        out.append(Rejected(client_order_id=cid, ts_event_ns=ts, reason_code=code, reason=reason))

    def _arrive(
        self, order: OrderSnapshot, instrument_type: str, ts: int, out: list[VenueEvent]
    ) -> None:
        spec = order.spec
        cid = order.client_order_id
        self._n.submitted += 1
        if cid in self._orders or cid in self._closed:
            reason = f"client order id {cid!r} was already used at this venue"
            return self._reject(cid, ts, RejectReason.DUPLICATE_ORDER_ID, reason, out, remember=False)
        key = (spec.segment, spec.security_id)
        itype = instrument_type or self._instrument_types.get(key, "")
        seg_class = segment_class_for(spec.segment, itype, spec.product)
        if seg_class is None:
            label = instrument_label(spec.segment, spec.security_id)  # reason texts only on refusal
            reason = (
                f"no charge schedule for {label} (instrument type {itype!r}, product {spec.product})"
            )
            return self._reject(cid, ts, RejectReason.NO_CHARGE_SCHEDULE, reason, out)
        book = self._books.get(key)
        if book is None or (spec.order_type == "MARKET" and not book.has_depth):
            what = "no depth" if book is not None else "no market data"
            reason = f"{what} received yet for {instrument_label(*key)}: cannot work a {spec.order_type} order"
            return self._reject(cid, ts, RejectReason.NO_MARKET_DATA, reason, out)
        o = WorkingOrder(order, key, seg_class)
        crossed = o.armed and book.ltp_paise > 0 and stop_crossed(o.is_buy, o.trigger, book.ltp_paise)
        if crossed and self.config.stop_crossed_on_arrival == "reject":
            reason = (
                f"{o.spec.side} {o.spec.order_type} trigger {format_paise(o.trigger)} is already crossed by "
                f"LTP {format_paise(book.ltp_paise)} for {o.label}"
            )
            return self._reject(cid, ts, RejectReason.STOP_ALREADY_CROSSED, reason, out)
        if self.wallet is not None and not self._funds_ok(o, book, o.qty, o.limit, o.trigger, ts, out):
            return None
        self._n.accepted += 1
        self._venue_seq += 1
        o.venue_order_id = f"paper-{self._venue_seq}"
        out.append(Accepted(client_order_id=cid, ts_event_ns=ts, venue_order_id=o.venue_order_id))
        self._orders[cid] = o
        self._resting.setdefault(key, []).append(o)
        if crossed:
            self._trigger(o, book, ts, out)
        elif not o.armed:
            self._go_live(o, book, ts, out)
        return None

    def _funds_ok(
        self, o: WorkingOrder, book: Book, qty: int, limit: int, trigger: int, ts: int, out: list[VenueEvent]
    ) -> bool:
        """Block the requirement for ``o`` with these working values, or report the shortfall
        (a Rejected for a new order, a ModifyRefused for an open one) and return False."""
        wallet = self.wallet
        assert wallet is not None
        leaves = qty - o.filled
        same_side = sum(
            r.qty - r.filled for r in self._resting.get(o.key, ()) if r.is_buy == o.is_buy and r is not o
        )
        need = funds_need(wallet, o, book, leaves, limit, trigger, same_side, self.config, self._charges)
        modifying = o.cid in self._orders
        if need is None:
            reason = (
                f"no ask, bid or last price for {o.label} to price a {o.spec.side} {o.spec.order_type} order "
                "for the funds check"
            )
            self._refuse(o.cid, modifying, RejectReason.NO_MARKET_DATA, reason, ts, out)
            return False
        if need.total > wallet.available_paise + wallet.blocked_for(o.cid):
            reason = shortfall_text(wallet, o, need, leaves)
            self._refuse(o.cid, modifying, RejectReason.INSUFFICIENT_FUNDS, reason, ts, out)
            return False
        wallet.reserve(o.cid, need.total, leaves)
        return True

    def _refuse(
        self, cid: str, modifying: bool, code: RejectReason, reason: str, ts: int, out: list[VenueEvent]
    ) -> None:
        """A Rejected for a new order, a ModifyRefused for a modify of an open one."""
        if modifying:
            out.append(ModifyRefused(client_order_id=cid, ts_event_ns=ts, reason_code=code, reason=reason))
        else:
            self._reject(cid, ts, code, reason, out)

    def _trigger(self, o: WorkingOrder, book: Book, ts: int, out: list[VenueEvent]) -> None:
        o.armed = False
        o.market = o.spec.order_type == "SL_M"
        out.append(Triggered(client_order_id=o.cid, ts_event_ns=ts))
        self._go_live(o, book, ts, out)

    def _go_live(self, o: WorkingOrder, book: Book, ts: int, out: list[VenueEvent]) -> None:
        """``o`` arrives at the matching engine: take what crosses, then rest or cancel (IOC)."""
        if book.has_depth:
            self._take(o, book, ts, out, passive=False)
        if o.filled == o.qty:
            self._close(o, full=True)
        elif o.spec.validity == "IOC":
            reason = f"IOC: {o.qty - o.filled} of {o.qty} unfilled for {o.label}"
            code = RejectReason.IOC_UNFILLED
            out.append(Canceled(client_order_id=o.cid, ts_event_ns=ts, reason_code=code, reason=reason))
            self._close(o, full=False)
        elif not o.market:
            o.ahead = queue_at(book, o)

    def _cancel_arrives(self, cid: str, ts: int, out: list[VenueEvent]) -> None:
        o = self._orders.get(cid)
        if o is not None:
            code = RejectReason.CANCEL_REQUESTED
            out.append(Canceled(client_order_id=cid, ts_event_ns=ts, reason_code=code))
            self._close(o, full=False)
        elif cid not in self._closed:
            reason = f"order {cid!r} is unknown at the paper venue"
            code = RejectReason.ORDER_UNKNOWN
            out.append(CancelRefused(client_order_id=cid, ts_event_ns=ts, reason_code=code, reason=reason))

    def _modify_arrives(
        self, cid: str, qty: int, price: int, trigger: int, ts: int, out: list[VenueEvent]
    ) -> None:
        o = self._orders.get(cid)
        if o is None:
            self._modify_of_closed(cid, qty, ts, out)
            return
        if qty <= o.filled:  # fills may have arrived since the modify was asked (its values were checked then)
            self._refuse(cid, True, RejectReason.INVALID_MODIFY, f"qty {qty} must exceed the filled qty {o.filled}",
                         ts, out)
            return
        book = self._books[o.key]
        if self.wallet is not None and not self._funds_ok(o, book, qty, price, trigger, ts, out):
            return
        requeue = price != o.limit or qty > o.qty
        o.qty, o.limit, o.trigger = qty, price, trigger
        out.append(
            Modified(
                client_order_id=cid,
                ts_event_ns=ts,
                qty_units=qty,
                price_paise=price,
                trigger_price_paise=trigger,
            )
        )
        if requeue:  # behind our own other orders too
            orders = self._resting[o.key]
            orders.remove(o)
            orders.append(o)
        if o.armed:
            if book.ltp_paise > 0 and stop_crossed(o.is_buy, trigger, book.ltp_paise):
                self._trigger(o, book, ts, out)
            return
        if book.has_depth:
            self._take(o, book, ts, out, passive=False)
        if o.filled == o.qty:
            self._close(o, full=True)
        elif requeue and not o.market:
            o.ahead = queue_at(book, o)

    def _remember_closed(self, cid: str, units: int) -> None:
        closed = self._closed
        closed[cid] = units
        if len(closed) > CLOSED_ORDERS_KEPT:
            closed.popitem(last=False)

    def _modify_of_closed(self, cid: str, qty: int, ts: int, out: list[VenueEvent]) -> None:
        closed = self._closed.get(cid)
        if closed is None:
            reason = f"order {cid!r} is unknown at the paper venue"
            self._refuse(cid, True, RejectReason.ORDER_UNKNOWN, reason, ts, out)
        elif closed >= 0 and qty > closed:
            # The order filled in full at its old qty while this bigger modify was on its way: the
            # state machine keeps the order open until it hears the modify's fate.
            reason = f"order {cid!r} was filled in full ({closed} units) before the modify to {qty} arrived"
            self._refuse(cid, True, RejectReason.ORDER_CLOSED, reason, ts, out)

    # Fills and closing ---------------------------------------------------------------------------

    def _take(self, o: WorkingOrder, book: Book, ts: int, out: list[VenueEvent], passive: bool) -> None:
        """``o`` takes what crosses it (``paper_matching.take``); each take is a fill."""
        for qty, price in take(o, book, passive, self._model):
            self._fill(o, qty, price, ts, out)

    def _fill(self, o: WorkingOrder, qty: int, price: int, ts: int, out: list[VenueEvent]) -> None:
        value_before = o.filled_value
        charges = self._charges(
            o.seg_class, o.spec.side, qty, price, value_before == 0,  # type: ignore[arg-type]
            order_value_before_paise=value_before,
        )
        o.n_fills += 1
        o.filled += qty
        o.filled_value = value_before + qty * price
        self._n.fills += 1
        out.append(
            Filled(
                client_order_id=o.cid,
                ts_event_ns=ts,
                fill_id=f"{o.cid}-{o.n_fills}",
                qty_units=qty,
                price_paise=price,
                charges=charges,
            )
        )
        wallet = self.wallet
        if wallet is not None:
            unit_block = 0 if o.is_buy else price + self.config.margin.per_unit_paise(o.seg_class, price)
            leaves = o.qty - o.filled
            wallet.apply_fill(o.cid, o.key, o.is_buy, qty, price, charges.total_paise, leaves, unit_block)

    def _close(self, o: WorkingOrder, full: bool) -> None:
        del self._orders[o.cid]
        orders = self._resting[o.key]
        orders.remove(o)
        if not orders:
            del self._resting[o.key]
        self._remember_closed(o.cid, o.filled if full else -1)
        if self.wallet is not None:
            self.wallet.release(o.cid)

    def _depth_moves(
        self, book: Book, orders: list[WorkingOrder], ts: int, out: list[VenueEvent]
    ) -> list[VenueEvent]:
        model = self._model
        volume = model == "volume"
        for o in tuple(orders):
            if o.armed:
                continue
            if not o.market and volume:
                shorten_queue(o, book)
            for qty, price in take(o, book, not o.market, model):  # per depth packet: no extra call
                self._fill(o, qty, price, ts, out)
            if o.filled == o.qty:
                self._close(o, full=True)
        return out

    def _trade_moves(
        self, book: Book, orders: list[WorkingOrder], ltp: int, traded: int, ts: int, out: list[VenueEvent]
    ) -> list[VenueEvent]:
        model = self._model
        for o in tuple(orders):
            if o.armed:
                if stop_crossed(o.is_buy, o.trigger, ltp):
                    self._trigger(o, book, ts, out)
                continue
            if o.market:
                continue  # a market remainder needs depth to know what it can take
            qty = trade_fill_units(o, ltp, traded, model)
            if qty:
                self._fill(o, qty, o.limit, ts, out)
                if o.filled == o.qty:
                    self._close(o, full=True)
        return out
