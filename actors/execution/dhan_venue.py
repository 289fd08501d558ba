"""The live Dhan venue: the ``Venue`` interface over Dhan's REST API and order-update stream.

``DhanVenue`` answers ``submit`` / ``cancel`` / ``modify`` / ``poll`` / ``on_depth`` / ``on_tick`` /
``on_quote`` / ``end_of_session`` with ``VenueEvent`` sequences, like ``PaperVenue``, so the
execution actor can use either. The difference: nothing is answered at once. Requests go to a
queue; ``poll(now_ns)`` sends what the rate limits allow and returns what came back.

Threads. Everything about an order lives on the actor's thread. REST calls run in worker threads
(``actors.execution.dhan_rest``: the SDK client, outcomes told apart, Dhan's error codes); the
order-update websocket runs in the shared websocket shell (``actors.execution.dhan_stream``). Both
hand raw results to a thread-safe queue and write one byte to a pipe (``wake_fd``) so the actor
can ``ctx.watch_fd(venue.wake_fd, poll)``; ``poll`` also runs from the actor's timer to send
rate-limited requests, retries and the order-book fallback.

Per order, requests run one at a time and in order (a cancel never overtakes its place order);
cancels go ahead of new places and modifies in the queue.

What a failure means here (told apart by ``dhan_rest.classify``):

- API error (DH-9xx) on place: ``Rejected`` with the code (``RejectReason.BAD_INPUT`` for DH-905 ...) and message.
- Transport failure (no answer) on place: the order may or may not exist. Never re-sent blindly:
  it is looked up by correlation id (our client order id) and adopted when found; only when
  Dhan answers that no such order exists is it sent again (at most ``max_place_attempts``).
  While the lookup cannot get an answer the order stays SUBMITTED and the order-book poll keeps
  looking for its correlation id.
- Transport failure on cancel / modify: retried (both set absolute values: sending twice is safe).
- DH-901 (token invalid or expired), DH-902 (no API access), DH-911 (IP not whitelisted) or an
  HTTP 401/403: fatal. ``on_fatal(DhanFatal)`` is called once on the actor's thread with a message
  that says what to do; every queued and later request is refused with ``VENUE_HALTED``. With a
  broker session that can log in (below), DH-901 / HTTP 401 are not fatal: the request waits, the
  token is dropped and a login runs at once; the request goes again with the new token.

Broker session (``session``, a ``dhan_session.BrokerSession``): the venue owns the access token.
``poll`` starts a login when the session says one is due (pre-open, token near its end, refused),
in a REST worker; a new token goes to the REST workers at once (each builds a new client) and to
a new order-update stream, started beside the old one, which is stopped once the new one is
logged in (an update seen on both is recognised: fill ids are cumulative). Then a reconciliation
snapshot fetches the trade book, so a fill pushed while no stream was listening is not missed.
When the token has expired and no login could replace it, the venue goes fatal
(``SESSION_EXPIRED``): trading halts only then. Statuses for the bus come out of
``take_session_updates``.

Order statuses (compared case-insensitively; stream ``order_alert`` and order-book rows alike):

- TRANSIT: Dhan has it, the exchange not yet: the venue order id is kept, no event (the exchange
  may still reject it, and ``Rejected`` is only legal before ``Accepted``).
- PENDING (or any later status): ``Accepted`` once.
- TRADED / PART_TRADED: ``Filled`` for each increase of the cumulative traded quantity. The price
  is ``TradedPrice`` when it agrees with ``AvgTradedPrice`` over the whole filled quantity (within
  the average's rounding); otherwise (an update was missed, or a book row that has only the
  average) the increase is priced from the averages. Fill ids are ``{venue order id}-{cumulative
  qty}``: the same update seen twice gives the same id, which the OMS recognises.
- REJECTED: ``Rejected`` (``VENUE_REJECTED``, with ``ReasonDescription``); after ``Accepted``,
  ``Canceled`` with the same code (nothing is working any more).
- CANCELLED: ``Canceled`` (``CANCEL_REQUESTED`` when we asked, else ``VENUE_CANCELLED``).
- EXPIRED: ``Expired``.

Rate limits (``RateLimits``, order APIs only: place, modify, cancel; ``engine.rate_window``): a
request waits in the queue until every window (second, minute, hour, day; rolling) has room, so the 11th order in a second
goes out in the next second. A place or modify whose projected send time is more than
``max_queue_wait_s`` away is refused at once (``RATE_LIMITED``): an order a minute late is worse
than none. Cancels always wait, never refused. Modifications: at most ``modify_cap`` (25) per
order, counted when sent; the next is refused with ``MODIFY_CAP`` without calling Dhan.

Margin (``margin_check``): before a new order is placed, Dhan's margin calculator is asked (in a
worker, like every call) what it needs; an order whose margin exceeds the available balance is
``Rejected`` with ``INSUFFICIENT_MARGIN`` and both figures, without reaching the order API. When the
calculator cannot answer the order is placed anyway: Dhan's own RMS checks margin again.

Slicing (``slicing``; rules in ``slicing.py`` and ``reconcile.py``): an order above the freeze
quantity that ``set_instrument_limits`` gave for its instrument is placed as child orders (each at
most the largest whole-lot quantity under the freeze), correlation ids ``<client order id>_<n>``.
Each child is looked after like any order here (lookup after a lost answer, fills from the stream,
cancel); the OMS only sees the parent. A sliced order cannot be modified (``SLICED_ORDER``).

Reconciliation (``request_snapshot``): the order book, trade book and positions (and fund limits
when asked) are fetched in workers. When all have answered, every order this venue holds open is
brought up to date from them: missing fills from the trade book (one per trade, on the same
cumulative fill-id scale as the stream, only above what was already reported: never twice),
then its status. The snapshot itself is handed to the actor (``take_account_updates``), which
compares it with the ledger: external orders, fills of orders no longer held here, positions.

The access token and client id are never logged by this module: log lines name orders and codes,
and text from the SDK or the websocket library is redacted before it is logged.

Not here: super and forever orders; modifying a sliced order.
"""

from __future__ import annotations

import os
import queue
import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec

from actors.execution.charges import ChargeBreakdown, charges_for_fill, segment_class_for
from actors.execution.config import DhanVenueConfig
from actors.execution.dhan_rest import (
    NOT_FOUND_CODES,
    DhanFatal,
    RestClient,
    RestOutcome,
    RestWorkers,
    classify,
    fatal_message,
    place_params,
    redact,
)
from actors.execution.dhan_auth import login
from actors.execution.dhan_session import BrokerSession, SessionChange
from actors.execution.dhan_stream import order_update_thread
from actors.execution.dhan_wire import (
    ORDER_TYPES,
    PRODUCTS,
    FundLimits,
    MarginQuote,
    OrderUpdate,
    fill_id,
    fill_id_order,
    fill_price_paise,
    parse_fund_limits,
    parse_margin,
    parse_order_row,
    parse_position_row,
    parse_rows,
    parse_trade_row,
    parse_update,
    rupees_float,
)
from actors.execution.orders import OrderSnapshot
from actors.execution.reconcile import (
    AccountUpdate,
    BrokerSnapshot,
    ConversionDone,
    FundsUpdate,
    SnapshotFailed,
    child_correlation_id,
    missing_fills,
    slice_quantities,
    trades_by_order,
)
from actors.execution.slicing import SlicedOrder
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
    VenueEvent,
)
from actors.websocket_thread import WebSocketThread
from engine.backoff import backoff_s
from engine.credentials import Credentials
from engine.logs import Log, get_logger
from engine.model.ist import NS_PER_S
from engine.model.money import format_paise
from engine.rate_window import RateWindow
from ipc.messages import BrokerSessionStatus, ConvertPosition, Depth, OrderState, Quote, Tick
from ipc.reasons import RejectReason
from ipc.segments import segment_label

NO_CHARGES: Final = ChargeBreakdown(0, 0, 0, 0, 0, 0, 0, 0, 0)


# Request kinds (one SDK call each)
_PLACE, _LOOKUP, _CANCEL, _MODIFY, _BOOK = "place", "lookup", "cancel", "modify", "book"
_ORDERS, _TRADES, _POSITIONS, _FUNDS, _MARGIN = "orders", "trades", "positions", "funds", "margin"
_CONVERT = "convert"  # POST /positions/convert
_ORDER_APIS: Final = frozenset({_PLACE, _CANCEL, _MODIFY})
# Requests about the account rather than one order: never held back by an order's own request.
_ACCOUNT_KINDS: Final = frozenset({_BOOK, _ORDERS, _TRADES, _POSITIONS, _FUNDS, _MARGIN, _CONVERT})
_SNAPSHOT_PARTS: Final = (_ORDERS, _TRADES, _POSITIONS)
_FRESH_STATES: Final = frozenset({OrderState.INITIALIZED, OrderState.SUBMITTED})
_AUTH_CODES: Final = frozenset({"DH-901", "HTTP-401"})  # the token refused: a login can fix it
SESSION_EXPIRED: Final = "SESSION_EXPIRED"


class _Live:
    """What the venue knows about one order (actor thread only)."""

    __slots__ = ("order", "cid", "venue_order_id", "qty", "price", "trigger", "filled", "filled_value",
                 "accepted", "closed", "busy", "modifies", "cancel_asked", "place_attempts", "unknown",
                 "seg_class", "parent", "restored_fills", "restored")

    def __init__(self, order: OrderSnapshot, seg_class: Any, parent: str = "") -> None:
        self.order = order
        self.cid = order.client_order_id
        self.venue_order_id = order.venue_order_id
        self.qty = order.spec.qty_units
        self.price = order.spec.price_paise
        self.trigger = order.spec.trigger_price_paise
        self.filled = order.filled_qty_units
        self.filled_value = order.filled_value_paise
        self.accepted = False
        self.closed = False
        self.busy = False
        self.modifies = order.modify_count
        self.cancel_asked = False
        self.place_attempts = 0
        self.unknown = False  # a place whose fate Dhan could not be asked about
        self.seg_class = seg_class
        self.parent = parent  # the client order id of a sliced order's parent ("" when not a child)
        # A restored child does not know its Dhan order id: its watermark comes from the parent's
        # recorded fills once the id is learned ((fill id, qty, price) of the parent).
        self.restored_fills: tuple[tuple[str, int, int], ...] = ()
        self.restored = False  # handed back after a restart: it may be at Dhan already


class _Request:
    __slots__ = ("kind", "cid", "args", "attempt", "not_before_ns", "generation")

    def __init__(self, kind: str, cid: str, args: tuple[Any, ...] = (), attempt: int = 0) -> None:
        self.kind = kind
        self.cid = cid
        self.args = args
        self.attempt = attempt
        self.not_before_ns = 0
        self.generation = 0  # of the credentials it was sent with


class DhanVenueStats(msgspec.Struct, frozen=True, kw_only=True):
    submitted: int
    sent: int  # order-API requests sent (place, modify, cancel)
    rejected: int
    fills: int
    lookups: int
    transport_failures: int
    queued: int
    in_flight: int  # REST calls sent whose result poll() has not taken yet
    stream_up: bool
    stream_connects: int
    stream_updates: int
    unmatched_updates: int  # updates of orders this venue does not hold (placed elsewhere)
    bad_updates: int
    book_polls: int
    margin_checks: int
    sliced_orders: int
    snapshots: int  # reconciliation snapshots completed (fetched in full)
    snapshot_failures: int
    logins: int  # login / renewal attempts finished (ok or not)
    stream_generation: int  # order-update streams started (one more per new token)
    fatal_code: str


class DhanVenue:
    """The live venue (module docstring). ``start()`` before use, ``stop()`` at the end.

    ``on_fatal`` is called once, on the thread that calls ``poll``, when Dhan refuses the
    credentials or the account. ``rest_factory(credentials, base_url, timeout_s)`` builds one
    ``dhanhq`` client per worker thread (default: the real package). No method raises for what
    Dhan answers; bad updates are counted in ``stats()``.
    """

    wallet = None  # funds live at Dhan; the OMS's paper wallet mirror does not apply
    # What another broker's venue built on this one (``kite_venue.KiteVenue``) replaces: the SDK
    # client per worker, the codes that mean "the token was refused", and the methods in
    # "Broker hooks" below. Everything else (queues, limits, lookups, slicing, reconciliation) is shared.
    rest_client: Callable[[Any, str, float], Any] = RestClient
    auth_codes: frozenset[str] = _AUTH_CODES
    broker_label = "Dhan"

    def __init__(self, config: DhanVenueConfig, credentials: Credentials, *,
                 on_fatal: Callable[[DhanFatal], None] | None = None, log: Log | None = None,
                 rng: random.Random | None = None, session: BrokerSession | None = None) -> None:
        self.config = config
        self._session = session
        if session is not None:
            credentials = session.credentials
        self._creds = credentials
        self._on_fatal = on_fatal
        self._log = log or get_logger("execution.dhan")
        self._rng = rng or random.Random()
        self._limiter = RateWindow(config.rate_limits.windows())
        self._orders: dict[str, _Live] = {}
        self._open: dict[str, _Live] = {}  # insertion-ordered: open orders only
        self._by_venue_id: dict[str, str] = {}
        self._instrument_types: dict[tuple[int, int], str] = {}
        self._ltp: dict[tuple[int, int], int] = {}
        self._urgent: deque[_Request] = deque()  # cancels
        self._normal: deque[_Request] = deque()  # places, modifies, lookups
        self._delayed: list[_Request] = []  # retries waiting for their not_before_ns
        self._inbox: queue.SimpleQueue[tuple[str, Any, Any]] = queue.SimpleQueue()
        self._rest = RestWorkers(credentials, config.rest_url, config.rest_timeout_s, config.rest_workers,
                                 self._rest_done, client_factory=type(self).rest_client,
                                 thread_name=f"{self.broker_label.lower()}-rest")
        self._rfd = self._wfd = -1
        self._wake_pending = False
        self._fatal: DhanFatal | None = None
        self._book_poll_due_ns = 0
        self._pumped: list[VenueEvent] = []
        self._in_flight = 0
        self._book_inflight = False
        self._stream_up = False
        self._stream: WebSocketThread | None = None  # the order-update stream
        self._limits: dict[tuple[int, int], tuple[int, int]] = {}  # instrument -> (lot, freeze) in units
        # Sliced orders by the parent's client order id (kept when done, like _orders: a client
        # order id is never sent twice, and a late child event is recognised and dropped).
        self._parents: dict[str, SlicedOrder] = {}
        self._child_parent: dict[str, str] = {}  # child correlation id -> parent client order id
        self._snap_parts: dict[str, RestOutcome] = {}
        self._snap_waiting: set[str] = set()  # parts of the snapshot in flight
        self._funds_inflight = False
        self._awaiting_margin = 0  # places waiting for the margin calculator's answer
        self._updates: list[AccountUpdate] = []
        self._external_activity = False
        self._stream_wanted = False
        self._stream_gen = 0
        self._old_streams: list[WebSocketThread] = []  # replaced by a new token's stream; stopping
        self._awaiting_token: list[_Request] = []  # refused for the token: sent again with the next one
        self._session_updates: list[BrokerSessionStatus] = []
        self._snapshot_after_stream = False  # a new token's stream: reconcile once it is up
        self._snapshot_wanted = False
        self._n = dict(submitted=0, sent=0, rejected=0, fills=0, lookups=0, transport_failures=0,
                       stream_connects=0, stream_updates=0, unmatched_updates=0, bad_updates=0, book_polls=0,
                       margin_checks=0, sliced_orders=0, snapshots=0, snapshot_failures=0, logins=0)

    # Lifecycle -------------------------------------------------------------------------------
    @property
    def wake_fd(self) -> int:
        """A pipe readable when results are waiting: ``ctx.watch_fd(venue.wake_fd, poll_fn)``."""
        return self._rfd

    @property
    def fatal(self) -> DhanFatal | None:
        return self._fatal

    def start(self, *, stream: bool = True) -> None:
        """Start the REST worker pool and (``stream``) the order-update websocket thread."""
        if self._rest.running:
            raise RuntimeError("DhanVenue.start called twice")
        self._rfd, self._wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._rest.start()
        self._stream_wanted = stream
        if stream and self._creds.access_token:  # else once a login got a token
            self._start_stream()

    def _start_stream(self) -> None:
        """A new order-update stream with the current token; the one it replaces keeps listening
        until the new one is logged in (``_stream_state``)."""
        if self._stream is not None:
            self._old_streams.append(self._stream)
        self._stream_gen += 1
        gen = self._stream_gen
        self._stream = self._new_stream(lambda up: self._stream_state(gen, up))
        self._stream.start()

    # Broker hooks (class docstring) ------------------------------------------------------------
    def _new_stream(self, on_state: Callable[[bool], None]) -> WebSocketThread:
        """The order-update stream's thread (not started), with the current credentials."""
        return order_update_thread(self.config, self._creds, self._log, self._rng, on_state=on_state,
                                   on_update=self._stream_update)

    def _check_order(self, order: OrderSnapshot) -> None:
        """Raises ValueError for an order the broker cannot express."""
        place_params(order)

    def _sdk_call(self, r: _Request, o: _Live | None) -> Callable[[Any], Any]:
        """The SDK call for request ``r`` (of order ``o``; None for account requests)."""
        if r.kind == _PLACE:
            assert o is not None
            working = msgspec.structs.replace(o.order.spec, qty_units=o.qty, price_paise=o.price,
                                              trigger_price_paise=o.trigger)
            params = place_params(msgspec.structs.replace(o.order, spec=working))
            return lambda c: c.place_order(**params)
        if r.kind == _LOOKUP:
            cid = r.cid
            return lambda c: c.get_order_by_correlationID(cid)
        if r.kind == _CANCEL:
            assert o is not None
            vid = o.venue_order_id
            return lambda c: c.cancel_order(vid)
        if r.kind == _MODIFY:
            assert o is not None
            qty, price, trigger = r.args
            spec = o.order.spec
            vid = o.venue_order_id
            return lambda c: c.modify_order(vid, ORDER_TYPES[spec.order_type], "", qty, rupees_float(price),
                                            rupees_float(trigger), 0, spec.validity)
        if r.kind == _MARGIN:
            first = self._orders[r.args[0][0]]
            spec = first.order.spec
            qty = sum(self._orders[c].qty for c in r.args[0])
            margin = dict(security_id=str(spec.security_id), exchange_segment=segment_label(spec.segment),
                          transaction_type=spec.side, quantity=qty, product_type=PRODUCTS[spec.product],
                          price=rupees_float(first.price), trigger_price=rupees_float(first.trigger))
            return lambda c: c.margin_calculator(**margin)
        if r.kind == _TRADES:
            return lambda c: c.get_trade_book()
        if r.kind == _POSITIONS:
            return lambda c: c.get_positions()
        if r.kind == _FUNDS:
            return lambda c: c.get_fund_limits()
        if r.kind == _CONVERT:
            command, long = r.args
            body = dict(from_product_type=PRODUCTS[command.from_product],
                        exchange_segment=segment_label(command.segment), position_type="LONG" if long else "SHORT",
                        security_id=str(command.security_id), convert_qty=command.qty_units,
                        to_product_type=PRODUCTS[command.to_product])
            return lambda c: c.convert_position(**body)
        return lambda c: c.get_order_list()  # _BOOK (fallback poll) or _ORDERS (snapshot): the order book

    def _parse_update(self, data: dict[str, Any]) -> OrderUpdate:
        """A stream message's order data or an order-book row; raises ValueError."""
        return parse_update(data)

    def _has_status(self, data: dict[str, Any]) -> bool:
        return isinstance(data.get("orderStatus"), str)

    def _venue_id_of(self, data: dict[str, Any]) -> str:
        """The broker's order id in a place response or a lookup row ("" when absent)."""
        return str(data.get("orderId") or "")

    def _maybe_sent(self, res: RestOutcome) -> bool:
        """A failed place that may have reached the broker: looked up before anything is sent again."""
        return res.kind == "transport" or (res.kind == "http_error" and res.http_status >= 500) or (
            res.kind == "api_error" and res.error_code in ("DH-908", "DH-909"))

    def _lookup_row(self, o: _Live, res: RestOutcome) -> dict[str, Any] | None:
        """The broker's row of ``o`` in a successful lookup answer (None: not there)."""
        row = res.data[0] if isinstance(res.data, list) and res.data else res.data
        return row if isinstance(row, dict) and row else None

    def _answered_not_found(self, res: RestOutcome) -> bool:
        """A failed lookup that is the broker's answer "no such order"."""
        return (res.kind == "api_error" and res.error_code in NOT_FOUND_CODES) or (
            res.kind == "http_error" and res.http_status == 404)

    def _parse_funds(self, data: Any) -> FundLimits:
        return parse_fund_limits(data)

    def _parse_margin(self, data: Any) -> MarginQuote:
        return parse_margin(data)

    def _parse_snapshot(self, parts: dict[str, RestOutcome]) -> tuple[list[Any], list[Any], list[Any], list[str]]:
        """Orders, trades and positions of a snapshot's answers, and the rows that did not parse."""
        errors: list[str] = []
        orders, bad = parse_rows(parts[_ORDERS].data, parse_order_row)
        errors += [f"orders: {e}" for e in bad]
        trades, bad = parse_rows(parts[_TRADES].data, parse_trade_row)
        errors += [f"trades: {e}" for e in bad]
        positions, bad = parse_rows(parts[_POSITIONS].data, parse_position_row)
        errors += [f"positions: {e}" for e in bad]
        return orders, trades, positions, errors

    def _fatal_message(self, code: str, detail: str, open_orders: int) -> str:
        """What the operator reads when the venue stops."""
        return fatal_message(code, detail, open_orders)

    def _login_call(self, creds: Any, method: Any, now_ns: int) -> Callable[[], Any]:
        """A login attempt (run in a worker; must not raise)."""
        cfg = self.config
        return lambda: login(creds, method, auth_url=cfg.auth_url, rest_url=cfg.rest_url, now_ns=now_ns,
                             timeout_s=cfg.auth_timeout_s)

    def stop(self) -> None:
        """Stop the stream threads and the pool (waits for requests in flight, bounded by the REST
        timeout). Results not yet polled are dropped: the next start reconciles."""
        for old in self._old_streams:
            old.request_stop()
        if self._stream is not None:
            self._stream.stop(self.config.close_timeout_s + 1.0)
            self._stream = None
        for old in self._old_streams:
            old.join(self.config.close_timeout_s + 1.0)
        self._old_streams.clear()
        self._rest.stop()
        for fd in (self._rfd, self._wfd):
            if fd >= 0:
                os.close(fd)
        self._rfd = self._wfd = -1

    # Instruments and market data (kept for marks; live fills come from Dhan) -------------------
    def set_instrument_type(self, segment: int, security_id: int, instrument_type: str) -> None:
        self._instrument_types[(segment, security_id)] = instrument_type

    def set_position(self, segment: int, security_id: int, net_qty_units: int, mark_price_paise: int, *,
                     instrument_type: str = "") -> None:
        """Positions live at Dhan; nothing to mirror here."""

    def on_depth(self, depth: Depth, now_ns: int) -> Sequence[VenueEvent]:
        return NO_EVENTS  # hot path: live orders do not match locally

    def on_tick(self, tick: Tick, now_ns: int) -> Sequence[VenueEvent]:
        # hot path: one dict store
        self._ltp[(tick.segment, tick.security_id)] = tick.ltp_paise
        return NO_EVENTS

    def on_quote(self, quote: Quote, now_ns: int) -> Sequence[VenueEvent]:
        # hot path: one dict store
        self._ltp[(quote.segment, quote.security_id)] = quote.ltp_paise
        return NO_EVENTS

    def book(self, segment: int, security_id: int) -> BookView | None:
        """The last traded price seen (for marks); no depth is kept."""
        ltp = self._ltp.get((segment, security_id))
        return None if ltp is None else BookView((), (), (), (), ltp)

    def end_of_session(self, now_ns: int) -> Sequence[VenueEvent]:
        """Dhan expires DAY orders itself and says so (EXPIRED): nothing to do here."""
        return NO_EVENTS

    def set_instrument_limits(self, segment: int, security_id: int, lot_size_units: int,
                              freeze_qty_units: int) -> None:
        """Lot size and exchange freeze quantity of an instrument (units; freeze 0: unknown, no
        slicing). Orders above the freeze quantity are sliced (module docstring)."""
        self._limits[(segment, security_id)] = (lot_size_units, freeze_qty_units)

    def open_order_ids(self) -> tuple[str, ...]:
        """Client order ids of the orders still working (a sliced order once, by its parent id)."""
        ids = [o.cid for o in self._open.values() if not o.parent]
        ids.extend(cid for cid, p in self._parents.items() if not p.done)
        return tuple(ids)

    def stats(self) -> DhanVenueStats:
        return DhanVenueStats(**self._n, queued=len(self._urgent) + len(self._normal) + len(self._delayed),
                              in_flight=self._in_flight, stream_generation=self._stream_gen,
                              stream_up=self._stream_up, fatal_code=self._fatal.code if self._fatal else "")

    # The broker session --------------------------------------------------------------------------
    @property
    def session(self) -> BrokerSession | None:
        return self._session

    def request_session(self, why: str) -> bool:
        """Ask for a fresh token (the schedule's pre-open); False without a session that can log in
        or after a fatal error. The outcome comes out of ``take_session_updates``."""
        if self._session is None or not self._session.can_login or self._fatal is not None:
            return False
        self._session.request(why)
        return True

    def take_session_updates(self) -> list[BrokerSessionStatus]:
        """Broker-session statuses since the last call (after each login attempt and token change)."""
        updates, self._session_updates = self._session_updates, []
        return updates

    def _session_step(self, now_ns: int, out: list[VenueEvent]) -> None:
        """A token from the cache, a login that is due, or the end of an expired session."""
        session = self._session
        if session is None or self._fatal is not None:
            return
        change = session.poll_cache(now_ns)
        if change is not None:
            self._session_changed(change, now_ns)
        why = session.due(now_ns)
        if why and self._rest.running:
            started = session.begin(now_ns)
            if started is not None:
                method, creds = started
                self._log.info("broker_session_login", method=method, why=why)
                self._rest.submit_plain(("login", why), self._login_call(creds, method, now_ns))
        if session.halting(now_ns):
            self._go_fatal(SESSION_EXPIRED, f"{session.last_reason or 'NO_LOGIN'}: "
                                            f"{session.last_detail or 'no way to get a new token'}", now_ns, out)

    def _session_changed(self, change: SessionChange, now_ns: int) -> None:
        self._session_updates.append(change.status)
        creds = change.credentials
        if creds is None or creds.access_token == self._creds.access_token:
            return
        self._creds = creds
        self._rest.set_credentials(creds)
        if self._stream_wanted:
            self._snapshot_after_stream = True
            self._start_stream()
        else:
            self._snapshot_wanted = True
        self._requeue_awaiting()

    def _requeue_awaiting(self) -> None:
        """What Dhan refused for an old token goes again, at the front of the queues."""
        waiting, self._awaiting_token = self._awaiting_token, []
        for r in reversed(waiting):
            (self._urgent if r.kind == _CANCEL else self._normal).appendleft(r)

    def _request_snapshot_if_wanted(self, now_ns: int) -> None:
        if self._snapshot_wanted and self.request_snapshot(now_ns):
            self._snapshot_wanted = False
            self._log.info("dhan_reconcile_after_new_token")

    # Requests ----------------------------------------------------------------------------------
    def submit(self, order: OrderSnapshot, now_ns: int, *, instrument_type: str = "") -> Sequence[VenueEvent]:
        """Queue ``order`` for Dhan. Refused at once (``Rejected``) after a fatal error, for an
        order Dhan cannot express, a client order id already used, or a projected wait above
        ``max_queue_wait_s``; otherwise the answer comes from ``poll``. An order that already has a
        venue order id or is past SUBMITTED (handed back after a restart) is treated as ``restore``."""
        restored = bool(order.venue_order_id) or order.state not in _FRESH_STATES
        return self._parentize(self._enter(order, now_ns, instrument_type, lookup_first=restored), now_ns)

    def restore(self, order: OrderSnapshot, now_ns: int, *, instrument_type: str = "",
                fills: Sequence[tuple[str, int, int]] = ()) -> Sequence[VenueEvent]:
        """An order the ledger holds open after a restart: looked up by correlation id first (each
        child of a sliced order by its own) and adopted (missed fills and status reported); placed
        only when Dhan answers that it has no such order, it never had a venue order id and no
        cancel is pending. Never a second order. ``fills`` are the order's recorded fills
        ``(fill id, qty, price)``: a child's share of them is known by its Dhan order id."""
        return self._parentize(self._enter(order, now_ns, instrument_type, lookup_first=True, fills=fills), now_ns)

    def request_snapshot(self, now_ns: int, *, with_funds: bool = False) -> bool:
        """Fetch the order book, trade book and positions (and ``with_funds`` the fund limits) for a
        reconciliation; the result comes out of ``take_account_updates`` after ``poll``. False
        when one is already in flight or the venue stopped for good."""
        if self._snap_waiting or self._fatal is not None:
            return False
        self._snap_parts = {}
        parts = _SNAPSHOT_PARTS + ((_FUNDS,) if with_funds else ())
        self._snap_waiting = set(parts)
        for kind in parts:
            self._normal.appendleft(_Request(kind, "", ("snapshot",)))
        self._pump(now_ns)  # account requests never wait for the order-API limits
        return True

    def request_funds(self, now_ns: int) -> bool:
        """Fetch the fund limits (result from ``take_account_updates``); False if one is in flight."""
        if self._funds_inflight or self._fatal is not None:
            return False
        self._funds_inflight = True
        self._normal.appendleft(_Request(_FUNDS, "", ("funds",)))
        self._pump(now_ns)
        return True

    def request_conversion(self, command: ConvertPosition, long: bool, now_ns: int) -> bool:
        """Ask Dhan to convert a position (``POST /positions/convert``; ``long``: the position's
        side, Dhan's ``positionType``); the answer comes out of ``take_account_updates`` as a
        ``ConversionDone``. False when the venue stopped for good (nothing was sent)."""
        if self._fatal is not None:
            return False
        self._normal.appendleft(_Request(_CONVERT, "", (command, long)))
        self._pump(now_ns)
        return True

    def take_account_updates(self) -> list[AccountUpdate]:
        """Snapshots, snapshot failures and fund limits that arrived since the last call."""
        updates, self._updates = self._updates, []
        return updates

    def take_external_activity(self) -> bool:
        """Whether the stream reported an order this venue does not hold since the last call (an
        order placed elsewhere: worth an early reconciliation)."""
        seen, self._external_activity = self._external_activity, False
        return seen

    def fetch_funds_paise(self) -> int:
        """The account's available balance from GET /fundlimit (``availabelBalance``: Dhan's
        spelling), in paise. Blocking: for tools, never the order path (the actor uses
        ``request_funds``). Raises RuntimeError with the reason when Dhan does not answer with a
        balance."""
        client = RestClient(self._creds, self.config.rest_url, self.config.rest_timeout_s)
        outcome = classify(client.api.get_fund_limits(), client.last_status)
        if outcome.kind != "ok":
            raise RuntimeError(f"fundlimit: {outcome.kind} {outcome.describe()}")
        try:
            return parse_fund_limits(outcome.data).available_paise
        except ValueError as exc:
            raise RuntimeError(str(exc)) from None

    def _enter(self, order: OrderSnapshot, now_ns: int, instrument_type: str, *,
               lookup_first: bool, fills: Sequence[tuple[str, int, int]] = ()) -> Sequence[VenueEvent]:
        spec = order.spec
        cid = order.client_order_id
        self._n["submitted"] += 1
        if cid in self._orders or cid in self._parents:
            return self._reject(cid, now_ns, RejectReason.DUPLICATE_ORDER_ID, f"client order id {cid} was already sent")
        if self._fatal is not None:
            return self._reject(cid, now_ns, RejectReason.VENUE_HALTED, self._halted_text("order"))
        try:
            self._check_order(order)
            parts = self._slices(order)
        except ValueError as exc:
            return self._reject(cid, now_ns, RejectReason.INVALID_ORDER, f"order {cid}: {exc}")
        if not lookup_first:
            wait_ns = self._limiter.projected_ns(now_ns, self._queued_order_apis() + len(parts) - 1) - now_ns
            if wait_ns > self.config.max_queue_wait_s * NS_PER_S:
                return self._reject(cid, now_ns, RejectReason.RATE_LIMITED, self._rate_text(cid, wait_ns))
        itype = instrument_type or self._instrument_types.get((spec.segment, spec.security_id), "")
        seg_class = segment_class_for(spec.segment, itype, spec.product)
        if len(parts) == 1:
            live = _Live(order, seg_class)
            self._orders[cid] = live
            self._open[cid] = live
            targets = [live]
            if lookup_first:
                live.restored = True
                live.accepted = order.state not in _FRESH_STATES  # the OMS already knows it was accepted
                live.cancel_asked = order.state is OrderState.PENDING_CANCEL
                if order.venue_order_id:
                    self._by_venue_id[order.venue_order_id] = cid
        else:
            targets = self._enter_sliced(order, parts, seg_class, lookup_first, fills)
        if lookup_first:
            for live in targets:
                self._normal.append(_Request(_LOOKUP, live.cid))
        elif self.config.margin_check:
            self._awaiting_margin += len(targets)
            self._normal.append(_Request(_MARGIN, cid, (tuple(t.cid for t in targets),)))
        else:
            for live in targets:
                self._normal.append(_Request(_PLACE, live.cid))
        return self._pump(now_ns)

    def _slices(self, order: OrderSnapshot) -> list[int]:
        """Child quantities of ``order`` (one: not sliced). Raises ValueError (see reconcile)."""
        spec = order.spec
        lot, freeze = self._limits.get((spec.segment, spec.security_id), (1, 0))
        if not self.config.slicing or spec.qty_units <= freeze or freeze <= 0:
            return [spec.qty_units]
        return slice_quantities(spec.qty_units, lot, freeze)

    def _enter_sliced(self, order: OrderSnapshot, parts: list[int], seg_class: Any, restored: bool,
                      fills: Sequence[tuple[str, int, int]]) -> list[_Live]:
        cid = order.client_order_id
        children: list[_Live] = []
        for n, qty in enumerate(parts, start=1):
            child_cid = child_correlation_id(cid, n)
            child_order = msgspec.structs.replace(
                order, client_order_id=child_cid, spec=msgspec.structs.replace(order.spec, qty_units=qty),
                filled_qty_units=0, filled_value_paise=0, fill_ids=(), venue_order_id="")
            live = _Live(child_order, seg_class, parent=cid)
            live.restored_fills = tuple(fills)
            live.restored = restored
            live.cancel_asked = order.state is OrderState.PENDING_CANCEL
            self._orders[child_cid] = live
            self._open[child_cid] = live
            self._child_parent[child_cid] = cid
            children.append(live)
        self._parents[cid] = SlicedOrder(cid, [(c.cid, c.qty) for c in children],
                                         accepted=restored and order.state not in _FRESH_STATES,
                                         cancel_asked=order.state is OrderState.PENDING_CANCEL)
        self._n["sliced_orders"] += 1
        self._log.info("dhan_order_sliced", client_order_id=cid, qty_units=order.spec.qty_units, children=len(parts),
                       child_qty_units=parts[0], restored=restored)
        return children

    def cancel(self, client_order_id: str, now_ns: int) -> Sequence[VenueEvent]:
        """Queue a cancel (ahead of places and modifies; never refused for rate). A sliced order
        cancels every working child; children not yet sent are dropped here."""
        parent = self._parents.get(client_order_id)
        if parent is None:
            return self._parentize(self._cancel_live(client_order_id, now_ns), now_ns)
        if parent.done:
            return NO_EVENTS
        if self._fatal is not None:
            return (CancelRefused(client_order_id=client_order_id, ts_event_ns=now_ns,
                                  reason_code=RejectReason.VENUE_HALTED,
                                  reason=self._halted_text("cancel")),)
        events: list[VenueEvent] = []
        for child_cid in parent.request_cancel():
            events.extend(self._cancel_child(child_cid, now_ns))
        return self._parentize(events, now_ns)

    def _cancel_child(self, child_cid: str, now_ns: int) -> Sequence[VenueEvent]:
        o = self._orders[child_cid]
        if not o.closed and not o.place_attempts and not o.busy and not o.venue_order_id and not o.restored:
            # Never sent (waiting for the rate limits or the margin answer): nothing to ask Dhan.
            out: list[VenueEvent] = []
            self._close(o, out, Canceled(client_order_id=child_cid, ts_event_ns=now_ns,
                                         reason_code=RejectReason.CANCEL_REQUESTED,
                                         reason=f"child {child_cid} not sent to {self.broker_label}"))
            return out
        return self._cancel_live(child_cid, now_ns)

    def _cancel_live(self, client_order_id: str, now_ns: int) -> Sequence[VenueEvent]:
        o = self._orders.get(client_order_id)
        if o is None:
            return (CancelRefused(client_order_id=client_order_id, ts_event_ns=now_ns,
                                  reason_code=RejectReason.ORDER_UNKNOWN,
                                  reason=f"order {client_order_id} was never sent to {self.broker_label}"),)
        if o.closed:
            return NO_EVENTS
        if self._fatal is not None:
            return (CancelRefused(client_order_id=client_order_id, ts_event_ns=now_ns,
                                  reason_code=RejectReason.VENUE_HALTED,
                                  reason=self._halted_text("cancel")),)
        o.cancel_asked = True
        self._urgent.append(_Request(_CANCEL, client_order_id))
        return self._pump(now_ns)

    def modify(self, client_order_id: str, qty_units: int, price_paise: int, trigger_price_paise: int,
               now_ns: int) -> Sequence[VenueEvent]:
        """Queue a modify (total qty, limit price, trigger price). Refused at once past the
        modification cap, after a fatal error, for a sliced order, or when it would wait too long
        for the rate limits."""
        o = self._orders.get(client_order_id)
        refuse: tuple[RejectReason, str] | None = None
        parent = self._parents.get(client_order_id)
        if parent is not None:
            if parent.done:
                return NO_EVENTS
            refuse = RejectReason.SLICED_ORDER, (f"order {client_order_id} went to {self.broker_label} as {len(parent.children)} child "
                                               "orders (above the freeze quantity) and cannot be modified: cancel "
                                               "it and place a new order")
        elif o is None:
            refuse = RejectReason.ORDER_UNKNOWN, f"order {client_order_id} was never sent to {self.broker_label}"
        elif o.closed:
            return NO_EVENTS
        elif self._fatal is not None:
            refuse = RejectReason.VENUE_HALTED, self._halted_text("modify")
        elif o.modifies >= self.config.modify_cap:
            refuse = RejectReason.MODIFY_CAP, (f"order {client_order_id} was modified {o.modifies} times; {self.broker_label} allows "
                                             f"{self.config.modify_cap}: cancel it and place a new order")
        else:
            wait_ns = self._limiter.projected_ns(now_ns, self._queued_order_apis()) - now_ns
            if wait_ns > self.config.max_queue_wait_s * NS_PER_S:
                refuse = RejectReason.RATE_LIMITED, self._rate_text(client_order_id, wait_ns)
        if refuse is not None:
            return (ModifyRefused(client_order_id=client_order_id, ts_event_ns=now_ns,
                                  reason_code=refuse[0], reason=refuse[1]),)
        assert o is not None
        o.modifies += 1  # counted when asked: never one too many
        self._normal.append(_Request(_MODIFY, client_order_id, (qty_units, price_paise, trigger_price_paise)))
        return self._pump(now_ns)

    def poll(self, now_ns: int) -> Sequence[VenueEvent]:
        """Take what came back (REST results, order updates), send what may be sent now."""
        if self._rfd >= 0:
            try:
                os.read(self._rfd, 4096)
            except BlockingIOError:
                pass
        self._wake_pending = False
        out: list[VenueEvent] = []
        while True:
            try:
                kind, request, payload = self._inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "rest":
                self._on_rest(request, payload, now_ns, out)
            elif kind == "update":
                self._n["stream_updates"] += 1
                self._on_update_data(payload, now_ns, out)
            elif kind == "stream":
                self._on_stream_state(request, bool(payload))
            elif kind == "login":
                self._n["logins"] += 1
                if self._session is not None:
                    self._session_changed(self._session.finish(payload, request[1], now_ns), now_ns)
        self._session_step(now_ns, out)
        self._request_snapshot_if_wanted(now_ns)
        self._due_book_poll(now_ns)
        out.extend(self._pump(now_ns))
        return self._parentize(out, now_ns)

    def _parentize(self, events: Sequence[VenueEvent], now_ns: int) -> Sequence[VenueEvent]:
        """Events of sliced orders' children become their parents' (``slicing.SlicedOrder``);
        a child refused or cancelled by Dhan cancels its working siblings."""
        if not self._child_parent or not events:
            return events or NO_EVENTS
        out: list[VenueEvent] = []
        pending = deque(events)
        while pending:
            ev = pending.popleft()
            parent_cid = self._child_parent.get(ev.client_order_id)
            if parent_cid is None:
                out.append(ev)
                continue
            parent = self._parents[parent_cid]
            parent_events, to_cancel = parent.on_child_event(ev)
            out.extend(parent_events)
            for child_cid in to_cancel:
                if not self._orders[child_cid].closed:
                    self._log.warning("dhan_child_ended_order", client_order_id=parent_cid, child=ev.client_order_id,
                                      child_event=type(ev).__name__, cancelling=child_cid)
                pending.extend(self._cancel_child(child_cid, now_ns))
        return out or NO_EVENTS

    # Sending -----------------------------------------------------------------------------------
    def _queued_order_apis(self) -> int:
        """Order-API requests waiting to be sent, counting places that wait for a margin answer."""
        return sum(1 for r in self._normal if r.kind in _ORDER_APIS) + len(self._urgent) + self._awaiting_margin

    def _pump(self, now_ns: int) -> Sequence[VenueEvent]:
        """Send what the limits and per-order sequencing allow; refuse everything after a fatal."""
        if self._fatal is not None:
            return self._refuse_queued(now_ns)
        self._pumped = []
        if self._delayed:
            ready = [r for r in self._delayed if r.not_before_ns <= now_ns]
            if ready:
                self._delayed = [r for r in self._delayed if r.not_before_ns > now_ns]
                for r in ready:
                    (self._urgent if r.kind == _CANCEL else self._normal).appendleft(r)
        for q in (self._urgent, self._normal):
            kept: deque[_Request] = deque()
            while q:
                r = q.popleft()
                if r.kind in _ACCOUNT_KINDS:
                    self._dispatch(r, None)
                    continue
                o = self._orders.get(r.cid)
                if o is None or o.busy:
                    if o is not None:
                        kept.append(r)  # its order has a request in flight: after that one
                    continue
                if r.kind in (_CANCEL, _MODIFY) and o is not None and not o.venue_order_id and not o.closed:
                    if o.unknown:  # its place could not be confirmed: nothing to address it by
                        self._refuse_unaddressable(r, o, now_ns)
                    else:
                        kept.append(r)  # its place is still being confirmed
                    continue
                if o is not None and o.closed and r.kind != _LOOKUP:
                    continue  # its order ended meanwhile: moot
                if r.kind in _ORDER_APIS:
                    if self._limiter.earliest_ns(now_ns) > now_ns:
                        kept.append(r)
                        kept.extend(q)
                        q.clear()
                        break
                    self._limiter.record(now_ns)
                    self._n["sent"] += 1
                self._dispatch(r, o)
            q.extend(kept)
        out, self._pumped = self._pumped, []
        return out or NO_EVENTS

    def _refuse_unaddressable(self, r: _Request, o: _Live, now_ns: int) -> None:
        text = (f"order {o.cid}: {self.broker_label} could not be asked whether it has the order (no order id yet); "
                f"check it at {self.broker_label}")
        if r.kind == _CANCEL:
            o.cancel_asked = False
            self._pumped.append(CancelRefused(client_order_id=o.cid, ts_event_ns=now_ns, reason=text,
                                              reason_code=RejectReason.ORDER_STATE_UNKNOWN))
        else:
            self._pumped.append(ModifyRefused(client_order_id=o.cid, ts_event_ns=now_ns, reason=text,
                                              reason_code=RejectReason.ORDER_STATE_UNKNOWN))

    def _dispatch(self, r: _Request, o: _Live | None) -> None:
        """Hand ``r`` to a worker."""
        assert self._rest.running, "DhanVenue.start() was not called"
        if o is not None:
            o.busy = True
        if r.kind == _PLACE:
            assert o is not None
            o.place_attempts += 1
        elif r.kind == _LOOKUP:
            self._n["lookups"] += 1
        elif r.kind == _MARGIN:
            self._n["margin_checks"] += 1
        elif r.kind == _BOOK:
            self._n["book_polls"] += 1
        call = self._sdk_call(r, o)
        self._in_flight += 1
        r.generation = self._rest.generation
        self._rest.submit(r, call)

    def _rest_done(self, r: Any, outcome: Any) -> None:
        # worker thread: the outcome (a RestOutcome, or a LoginOutcome for a ("login", why) tag)
        # goes to the actor thread
        self._inbox.put(("login" if isinstance(r, tuple) else "rest", r, outcome))
        self._wake()

    def _wake(self) -> None:
        if not self._wake_pending and self._wfd >= 0:
            self._wake_pending = True
            try:
                os.write(self._wfd, b"\x01")
            except (BlockingIOError, OSError):
                pass

    # Results -----------------------------------------------------------------------------------
    def _on_rest(self, r: _Request, res: RestOutcome, now_ns: int, out: list[VenueEvent]) -> None:
        self._in_flight -= 1
        if res.kind == "transport":
            self._n["transport_failures"] += 1
        fatal = res.fatal_code
        if fatal in self.auth_codes and self._session is not None and self._session.can_login and self._fatal is None:
            # The token was refused: this request waits for the next one (nothing reached Dhan's
            # order book: authentication comes first).
            self._awaiting_token.append(r)
            o = self._orders.get(r.cid)
            if o is not None and r.kind not in _ACCOUNT_KINDS:
                o.busy = False
            if r.generation == self._rest.generation:  # not one sent before the last new token
                self._log.warning("dhan_token_refused", request=r.kind, code=fatal)
                self._session.request("token_refused")
            else:
                self._requeue_awaiting()  # a newer token is in use already: send it again with that
            return
        if fatal:
            self._go_fatal(fatal, res.describe(), now_ns, out)
        if r.kind in _ACCOUNT_KINDS:
            self._on_account(r, res, now_ns, out)
            return
        o = self._orders.get(r.cid)
        if o is None:
            return
        o.busy = False
        if r.kind == _PLACE:
            self._on_place(o, res, now_ns, out)
        elif r.kind == _LOOKUP:
            self._on_lookup(o, r, res, now_ns, out)
        elif r.kind == _CANCEL:
            self._on_cancel(o, r, res, now_ns, out)
        else:
            self._on_modify(o, r, res, now_ns, out)

    def _on_place(self, o: _Live, res: RestOutcome, now_ns: int, out: list[VenueEvent]) -> None:
        if res.kind == "ok" and isinstance(res.data, dict):
            self._adopt(o, res.data, now_ns, out)
        elif self._maybe_sent(res):
            # It may have reached Dhan: ask before sending again (never a second order).
            self._log.warning("dhan_place_outcome_unknown", client_order_id=o.cid, failure=res.kind,
                              detail=res.describe()[:200])
            self._normal.appendleft(_Request(_LOOKUP, o.cid, attempt=0))
        elif not o.closed:
            self._close_rejected(o, res.reason(), f"{self.broker_label} refused order {o.cid}: {res.describe()}", now_ns, out)

    def _on_lookup(self, o: _Live, r: _Request, res: RestOutcome, now_ns: int, out: list[VenueEvent]) -> None:
        if o.closed:
            return
        if res.kind == "ok":
            row = self._lookup_row(o, res)
            if row is not None:
                self._log.info("dhan_place_found_by_correlation_id", client_order_id=o.cid)
                o.unknown = False
                self._adopt(o, row, now_ns, out)
                return
        if res.kind == "ok" or self._answered_not_found(res):
            # Dhan answered and has no such order: it never arrived.
            if o.venue_order_id:
                # A restored order Dhan once acknowledged: never placed again.
                o.unknown = True
                self._log.error("dhan_known_order_not_found", client_order_id=o.cid,
                                venue_order_id=o.venue_order_id, detail=res.describe()[:200])
            elif o.cancel_asked:
                # Cancelled before it ever reached Dhan (a cancel pending across a restart).
                self._close(o, out, Canceled(client_order_id=o.cid, ts_event_ns=now_ns,
                                             reason_code=RejectReason.CANCEL_REQUESTED,
                                             reason=f"order {o.cid} never reached {self.broker_label}; cancelled here"))
            elif o.place_attempts < self.config.max_place_attempts:
                self._log.info("dhan_place_resend", client_order_id=o.cid, attempt=o.place_attempts + 1)
                self._normal.appendleft(_Request(_PLACE, o.cid))
            else:
                self._close_rejected(o, RejectReason.NETWORK_ERROR, f"order {o.cid} did not reach {self.broker_label} after "
                                     f"{o.place_attempts} attempts: {res.describe()}", now_ns, out)
            return
        if r.attempt + 1 < self.config.max_lookup_attempts:
            self._retry(_Request(_LOOKUP, o.cid, attempt=r.attempt + 1), now_ns)
        else:
            # Unknown: leave it open; the order-book poll looks for its correlation id.
            o.unknown = True
            self._log.error("dhan_order_state_unknown", client_order_id=o.cid, lookups=r.attempt + 1,
                            detail=res.describe()[:200])

    def _on_cancel(self, o: _Live, r: _Request, res: RestOutcome, now_ns: int, out: list[VenueEvent]) -> None:
        if o.closed:
            return
        if res.kind == "ok":
            data = res.data if isinstance(res.data, dict) else {}
            if str(data.get("orderStatus", "")).upper() == "CANCELLED":
                self._close(o, out, Canceled(client_order_id=o.cid, ts_event_ns=now_ns,
                                             reason_code=RejectReason.CANCEL_REQUESTED))
            return  # otherwise the stream (or book poll) says CANCELLED
        if res.kind == "transport" and r.attempt + 1 <= self.config.max_request_retries:
            self._retry(_Request(_CANCEL, o.cid, attempt=r.attempt + 1), now_ns)
            return
        o.cancel_asked = False
        out.append(CancelRefused(client_order_id=o.cid, ts_event_ns=now_ns, reason_code=res.reason(),
                                 reason=f"{self.broker_label} refused to cancel order {o.cid}: {res.describe()}"))

    def _on_modify(self, o: _Live, r: _Request, res: RestOutcome, now_ns: int, out: list[VenueEvent]) -> None:
        if o.closed:
            return
        qty, price, trigger = r.args
        if res.kind == "ok":
            o.qty, o.price, o.trigger = qty, price, trigger
            out.append(Modified(client_order_id=o.cid, ts_event_ns=now_ns, qty_units=qty, price_paise=price,
                                trigger_price_paise=trigger))
            return
        if res.kind == "transport" and r.attempt + 1 <= self.config.max_request_retries \
                and o.modifies < self.config.modify_cap:
            o.modifies += 1
            self._retry(_Request(_MODIFY, o.cid, r.args, attempt=r.attempt + 1), now_ns)
            return
        out.append(ModifyRefused(client_order_id=o.cid, ts_event_ns=now_ns, reason_code=res.reason(),
                                 reason=f"{self.broker_label} refused to modify order {o.cid}: {res.describe()}"))

    def _retry(self, r: _Request, now_ns: int) -> None:
        r.not_before_ns = now_ns + int(backoff_s(r.attempt - 1, self.config.retry_backoff_s) * NS_PER_S)
        self._delayed.append(r)

    def _adopt(self, o: _Live, data: dict[str, Any], now_ns: int, out: list[VenueEvent]) -> None:
        """A place response or a lookup row: the venue order id, then its status."""
        vid = self._venue_id_of(data)
        if vid:
            self._learn_vid(o, vid)
        if self._has_status(data):  # a place response has none: the stream or the book poll tells it
            try:
                self._apply(o, self._parse_update(data), now_ns, out)
            except ValueError:
                self._n["bad_updates"] += 1

    # Account requests: margin, snapshots, funds ---------------------------------------------
    def _on_account(self, r: _Request, res: RestOutcome, now_ns: int, out: list[VenueEvent]) -> None:
        if r.kind == _BOOK:
            self._book_inflight = False
            if res.kind == "ok" and isinstance(res.data, list):
                for row in res.data:
                    if isinstance(row, dict):
                        self._on_update_data(row, now_ns, out, from_book=True)
        elif r.kind == _MARGIN:
            self._on_margin(r, res, now_ns, out)
        elif r.kind == _CONVERT:
            ok = res.kind == "ok"
            detail = "" if ok else self._redact(res.describe())[:300]
            self._updates.append(ConversionDone(r.args[0], ok, "" if ok else res.reason().value, detail, now_ns))
        elif r.kind == _FUNDS and r.args == ("funds",):
            self._funds_inflight = False
            if res.kind == "ok":
                try:
                    self._updates.append(FundsUpdate(self._parse_funds(res.data), now_ns))
                except ValueError as exc:
                    self._log.warning("dhan_funds_unreadable", error=str(exc)[:200])
            else:
                self._log.warning("dhan_funds_failed", failure=res.kind, detail=self._redact(res.describe())[:200])
        elif r.kind in self._snap_waiting:
            self._snap_waiting.discard(r.kind)
            self._snap_parts[r.kind] = res
            if not self._snap_waiting:
                self._finish_snapshot(now_ns, out)

    def _on_margin(self, r: _Request, res: RestOutcome, now_ns: int, out: list[VenueEvent]) -> None:
        """Dhan's margin calculator answered for order ``r.cid`` (its children ``r.args[0]``):
        place it, or refuse it when the margin exceeds the available balance."""
        targets = [self._orders[c] for c in r.args[0] if not self._orders[c].closed]
        if not targets:
            return
        if self._fatal is not None:
            code = res.reason() if res.fatal_code else RejectReason.VENUE_HALTED
            text = f"{self.broker_label} refused order {r.cid}: {res.describe()}" if res.fatal_code else self._halted_text("order")
            for o in targets:
                self._close_rejected(o, code, text, now_ns, out)
            return
        quote = None
        if res.kind == "ok":
            try:
                quote = self._parse_margin(res.data)
            except ValueError as exc:
                self._log.warning("dhan_margin_unreadable", client_order_id=r.cid, error=str(exc)[:200])
        else:
            self._log.warning("dhan_margin_unknown", client_order_id=r.cid, failure=res.kind,
                              detail=self._redact(res.describe())[:200])
        if quote is not None and quote.short_paise > 0:
            text = (f"order {r.cid} needs margin {format_paise(quote.total_margin_paise)}; available "
                    f"{format_paise(quote.available_paise)} (short by {format_paise(quote.short_paise)}), "
                    f"per {self.broker_label}'s margin calculator")
            for o in targets:
                self._close_rejected(o, RejectReason.INSUFFICIENT_FUNDS, text, now_ns, out)
            return
        # Fits, or the calculator could not say: Dhan's RMS checks the margin again on the place.
        for o in reversed(targets):
            self._normal.appendleft(_Request(_PLACE, o.cid))

    def _finish_snapshot(self, now_ns: int, out: list[VenueEvent]) -> None:
        parts = self._snap_parts
        self._snap_parts = {}
        failed = [f"{kind}: {parts[kind].kind} {self._redact(parts[kind].describe())[:120]}"
                  for kind in (*_SNAPSHOT_PARTS, _FUNDS) if kind in parts and parts[kind].kind != "ok"]
        if failed:
            self._n["snapshot_failures"] += 1
            self._updates.append(SnapshotFailed("; ".join(failed), now_ns))
            return
        orders, trades, positions, errors = self._parse_snapshot(parts)
        funds = None
        if _FUNDS in parts:
            try:
                funds = self._parse_funds(parts[_FUNDS].data)
            except ValueError as exc:
                errors.append(f"fundlimit: {exc}")
        snapshot = BrokerSnapshot(orders=orders, trades=trades, positions=positions, funds=funds,
                                  row_errors=errors, ts_ns=now_ns)
        self._n["snapshots"] += 1
        self._reconcile_held(snapshot, now_ns, out)
        self._updates.append(snapshot)

    def _reconcile_held(self, snapshot: BrokerSnapshot, now_ns: int, out: list[VenueEvent]) -> None:
        """Bring every order held open here up to date from a snapshot: its Dhan order id, its
        acknowledgement, the trade book's fills it has not reported (``missing_fills``), then its
        status (which can add only what the trade book did not have yet)."""
        trades = trades_by_order(snapshot.trades)
        by_vid = {row.venue_order_id: row for row in snapshot.orders}
        by_corr = {row.correlation_id: row for row in snapshot.orders if row.correlation_id}
        for o in list(self._open.values()):
            row = by_vid.get(o.venue_order_id) if o.venue_order_id else by_corr.get(o.cid)
            if row is None or o.closed:
                continue
            if not o.venue_order_id:
                self._learn_vid(o, row.venue_order_id)
            if not o.accepted and row.status not in ("TRANSIT", "REJECTED"):
                o.accepted = True
                out.append(Accepted(client_order_id=o.cid, ts_event_ns=now_ns, venue_order_id=o.venue_order_id))
            for fill in missing_fills(o.venue_order_id, trades.get(o.venue_order_id, ()), o.filled, o.filled_value):
                if o.filled + fill.qty_units > o.qty:
                    self._log.error("dhan_trade_book_overfill", client_order_id=o.cid, fill_id=fill.fill_id,
                                    filled_units=o.filled, qty_units=fill.qty_units, order_qty_units=o.qty)
                    break
                self._log.info("dhan_fill_from_trade_book", client_order_id=o.parent or o.cid, fill_id=fill.fill_id,
                               qty_units=fill.qty_units, price_paise=fill.price_paise)
                self._record_fill(o, fill.fill_id, fill.qty_units, fill.price_paise, now_ns, out)
            self._apply(o, row.as_update(), now_ns, out)

    # Order updates -----------------------------------------------------------------------------
    def _on_update_data(self, data: Any, now_ns: int, out: list[VenueEvent], from_book: bool = False) -> None:
        try:
            if not isinstance(data, dict):
                raise ValueError("not an object")
            update = self._parse_update(data)
        except ValueError as exc:
            self._n["bad_updates"] += 1
            self._log.warning("dhan_bad_order_update", error=str(exc)[:200])
            return
        cid = update.correlation_id if update.correlation_id in self._orders else \
            self._by_venue_id.get(update.venue_order_id, "")
        o = self._orders.get(cid)
        if o is None:
            if not from_book:
                self._n["unmatched_updates"] += 1
                self._external_activity = True
            return
        if update.venue_order_id and not o.venue_order_id:
            self._learn_vid(o, update.venue_order_id)
        self._apply(o, update, now_ns, out)

    def _learn_vid(self, o: _Live, vid: str) -> None:
        """``o``'s Dhan order id is known now. A restored child takes its share of the parent's
        recorded fills as its watermark (its fill ids carry this order id), so nothing it already
        reported is reported again."""
        if o.venue_order_id == vid:
            return
        o.venue_order_id = vid
        o.unknown = False
        self._by_venue_id[vid] = o.cid
        if o.restored_fills:
            mine = [(qty, price) for fid, qty, price in o.restored_fills if fill_id_order(fid) == vid]
            o.filled = sum(q for q, _p in mine)
            o.filled_value = sum(q * p for q, p in mine)
            o.restored_fills = ()
            if o.filled:
                self._log.info("dhan_child_restored", client_order_id=o.parent, child=o.cid, filled_units=o.filled)

    def _apply(self, o: _Live, u: OrderUpdate, now_ns: int, out: list[VenueEvent]) -> None:
        """Events for ``o`` from a status report (rules in the module docstring)."""
        if o.closed:
            return
        status = u.status
        if status == "REJECTED":
            text = f"{self.broker_label} rejected order {o.cid}: {u.reason or 'no reason given'}"
            if o.accepted:
                self._close(o, out, Canceled(client_order_id=o.cid, ts_event_ns=now_ns,
                                             reason_code=RejectReason.VENUE_REJECTED, reason=text))
            else:
                self._close_rejected(o, RejectReason.VENUE_REJECTED, text, now_ns, out)
            return
        if status == "TRANSIT":
            return
        if not o.accepted and o.venue_order_id:
            o.accepted = True
            out.append(Accepted(client_order_id=o.cid, ts_event_ns=now_ns, venue_order_id=o.venue_order_id))
        if u.traded_qty_units > o.filled:
            self._fill(o, u, now_ns, out)
        if status == "CANCELLED":
            code = RejectReason.CANCEL_REQUESTED if o.cancel_asked else RejectReason.VENUE_CANCELLED
            self._close(o, out, Canceled(client_order_id=o.cid, ts_event_ns=now_ns, reason_code=code,
                                         reason=u.reason))
        elif status == "EXPIRED":
            self._close(o, out, Expired(client_order_id=o.cid, ts_event_ns=now_ns))
        elif status == "TRADED" and o.filled >= o.qty:
            self._mark_closed(o)

    def _fill(self, o: _Live, u: OrderUpdate, now_ns: int, out: list[VenueEvent]) -> None:
        qty = u.traded_qty_units - o.filled
        self._record_fill(o, fill_id(o.venue_order_id, u.traded_qty_units), qty,
                          fill_price_paise(o.filled, o.filled_value, u), now_ns, out)

    def _record_fill(self, o: _Live, fid: str, qty: int, price: int, now_ns: int, out: list[VenueEvent]) -> None:
        """``qty`` more of ``o`` traded at ``price``: its watermark moves, a ``Filled`` goes out."""
        if price <= 0:
            self._n["bad_updates"] += 1
            self._log.error("dhan_fill_without_price", client_order_id=o.cid, qty_units=qty)
            return
        spec = o.order.spec
        seg_class = o.seg_class or segment_class_for(spec.segment, "", spec.product)
        if seg_class is None:  # currency / commodity: no schedule here; Dhan's contract note has them
            charges = NO_CHARGES
        else:
            charges = charges_for_fill(seg_class, spec.side, qty, price, o.filled == 0, self.config.charges,
                                       order_value_before_paise=o.filled_value)
        o.filled += qty
        o.filled_value += qty * price
        self._n["fills"] += 1
        out.append(Filled(client_order_id=o.cid, ts_event_ns=now_ns, fill_id=fid, qty_units=qty, price_paise=price,
                          charges=charges))

    def _close(self, o: _Live, out: list[VenueEvent], event: VenueEvent) -> None:
        self._mark_closed(o)
        out.append(event)

    def _mark_closed(self, o: _Live) -> None:
        o.closed = True
        self._open.pop(o.cid, None)

    def _close_rejected(self, o: _Live, code: RejectReason, text: str, now_ns: int, out: list[VenueEvent]) -> None:
        self._n["rejected"] += 1
        self._log.info("dhan_order_rejected", client_order_id=o.cid, reason_code=code.value, detail=text[:300])
        self._close(o, out, Rejected(client_order_id=o.cid, ts_event_ns=now_ns, reason_code=code,
                                     reason=text))

    def _reject(self, cid: str, now_ns: int, code: RejectReason, text: str) -> Sequence[VenueEvent]:
        self._n["rejected"] += 1
        return (Rejected(client_order_id=cid, ts_event_ns=now_ns, reason_code=code, reason=text),)

    # Fallback, fatal ---------------------------------------------------------------------------
    def _due_book_poll(self, now_ns: int) -> None:
        """GET /orders every ``order_book_poll_s`` while the stream is down (or an order's fate is
        unknown) and orders are open."""
        if self._book_inflight or self._fatal is not None or not self._rest.running or now_ns < self._book_poll_due_ns:
            return
        if not self._open or (self._stream_up and not any(o.unknown for o in self._open.values())):
            return
        self._book_poll_due_ns = now_ns + int(self.config.order_book_poll_s * NS_PER_S)
        self._book_inflight = True
        self._dispatch(_Request(_BOOK, ""), None)

    def _go_fatal(self, code: str, detail: str, now_ns: int, out: list[VenueEvent]) -> None:
        if self._fatal is not None:
            return
        n_open = len(self._open)
        self._fatal = DhanFatal(code, self._fatal_message(code, self._redact(detail)[:200], n_open), n_open)
        self._log.error("dhan_venue_fatal", code=code, message=self._fatal.message)
        for stream in (self._stream, *self._old_streams):
            if stream is not None:
                stream.request_stop()  # the stream would be refused too
        out.extend(self._refuse_queued(now_ns))
        if self._on_fatal is not None:
            self._on_fatal(self._fatal)

    def _refuse_queued(self, now_ns: int) -> Sequence[VenueEvent]:
        out: list[VenueEvent] = []
        refused_for_token = {id(r) for r in self._awaiting_token}  # these never reached Dhan's book
        for r in [*self._urgent, *self._normal, *self._delayed, *self._awaiting_token]:
            if r.kind == _CONVERT:  # never sent: the conversion did not happen
                self._updates.append(ConversionDone(r.args[0], False, RejectReason.VENUE_HALTED.value,
                                                    self._halted_text("conversion"), now_ns))
                continue
            if r.kind == _MARGIN:
                self._awaiting_margin -= len(r.args[0])
                for child in r.args[0]:
                    o = self._orders[child]
                    if not o.closed:
                        self._close_rejected(o, RejectReason.VENUE_HALTED, self._halted_text("order"), now_ns, out)
                continue
            o = self._orders.get(r.cid)
            if o is None or o.closed or r.kind in _ACCOUNT_KINDS:
                continue
            if r.kind == _PLACE and (not o.place_attempts or id(r) in refused_for_token):
                self._close_rejected(o, RejectReason.VENUE_HALTED, self._halted_text("order"), now_ns, out)
            elif r.kind == _CANCEL:
                out.append(CancelRefused(client_order_id=r.cid, ts_event_ns=now_ns,
                                         reason_code=RejectReason.VENUE_HALTED,
                                         reason=self._halted_text("cancel")))
            elif r.kind == _MODIFY:
                out.append(ModifyRefused(client_order_id=r.cid, ts_event_ns=now_ns,
                                         reason_code=RejectReason.VENUE_HALTED,
                                         reason=self._halted_text("modify")))
        self._urgent.clear()
        self._normal.clear()
        self._delayed.clear()
        self._awaiting_token.clear()
        return out

    def _halted_text(self, what: str) -> str:
        code = self._fatal.code if self._fatal else "?"
        return f"live trading stopped after {code}: {what} not sent to {self.broker_label}"

    def _rate_text(self, cid: str, wait_ns: int) -> str:
        lim = self.config.rate_limits
        return (f"order {cid} would wait {wait_ns / NS_PER_S:.1f} s for {self.broker_label}'s order-API limits "
                f"({lim.per_second}/s, {lim.per_minute}/min, {lim.per_hour}/h, {lim.per_day}/day), more than "
                f"max_queue_wait_s {self.config.max_queue_wait_s}")

    def _redact(self, text: str) -> str:
        return redact(text, self._creds)

    def _stream_state(self, gen: int, up: bool) -> None:
        # stream thread: order-update stream number ``gen`` is up (just logged in) or down
        if up:
            self._n["stream_connects"] += 1
        self._inbox.put(("stream", gen, up))
        self._wake()

    def _on_stream_state(self, gen: int, up: bool) -> None:
        if gen != self._stream_gen:
            return  # a replaced stream: only the current one says whether updates flow
        self._stream_up = up
        if up and self._old_streams:
            for old in self._old_streams:
                old.request_stop()  # joined at stop(); its thread ends on its own
            self._log.info("dhan_order_stream_replaced", streams_stopped=len(self._old_streams))
            self._old_streams = [s for s in self._old_streams if not s.join(0)]
        if up and self._snapshot_after_stream:
            # Updates pushed while no stream of ours listened come from the trade book.
            self._snapshot_after_stream = False
            self._snapshot_wanted = True

    def _stream_update(self, data: Any) -> None:
        # stream thread: an order_alert's data (None: not JSON, counted as bad on the actor thread)
        self._inbox.put(("update", None, data))
        self._wake()
