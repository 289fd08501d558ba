"""The paper venue's matching rules: what an order takes from the book, and what a trade fills.

Pure functions over the book the paper venue holds for one instrument (``Book``) and an open
order's working values (``WorkingOrder``); ``actors.execution.paper_venue`` turns what they return
into ``Filled`` events and runs the order's lifecycle around them.

Matching rules
--------------
- An order that *arrives* (a submit, a stop's trigger, a modify) takes liquidity: it walks the
  opposite side best level first, one fill per level at that level's price, up to its limit
  price (MARKET: any price). Liquidity taken is removed from the book held here until the next
  depth update for that side replaces it (so two orders never take the same visible quantity);
  the next snapshot is the market's word again, because paper trades do not move the real book.
- A resting MARKET remainder (the book was too thin) fills on later depth updates, walking them.
- A resting LIMIT order is passive and fills at its own price, never better. It fills when the
  opposite best crosses it on a depth update (the visible crossing quantity, consumed), or when a
  trade (``Tick`` / ``Quote`` LTP) reaches it, according to ``queue_model``:

  ``"none"``           a trade at or through the limit fills the whole remainder (optimistic: as if
                       we were first in the queue). Depth: an opposite best at or through fills.
  ``"trade_through"``  only a trade strictly through the limit fills the remainder: at our price
                       the queue ahead of us may have absorbed the trade, strictly beyond it
                       everyone at our price has traded. Depth: the opposite best must be strictly
                       through too. The default: it never fills an order the market did not reach.
  ``"volume"``         on resting, the visible quantity at our price on our side is the queue ahead
                       of us. A trade strictly through fills the remainder; a ``Quote`` whose LTP is
                       at our price spends its volume delta (cumulative volume minus the previous
                       quote's) on the queue first, and only the excess fills us (a partial fill is
                       possible). ``Tick`` carries no volume, so only trades through fill. A depth
                       update can only shorten the queue (cancels ahead of us): ahead becomes the
                       visible quantity at our price when that is smaller, and 0 when our price lies
                       inside the visible range but the level is gone. Each of our orders is queued
                       as if it were our only one. An opposite best at our price fills as in "none"
                       (no real bid can rest at a price someone offers).

  Trade-driven fills have no size information except under "volume": they fill the remainder.
- SL and SL_M orders wait for the trigger (``stop_crossed``): BUY when LTP >= trigger, SELL when
  LTP <= trigger, from ``Tick`` or ``Quote`` only (never from depth). Once triggered they arrive
  as a LIMIT (SL, at its price) or MARKET (SL_M) order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from actors.execution.charges import SegmentClass
from actors.execution.config import QueueModel
from actors.execution.orders import OrderSnapshot
from ipc.messages import PRICED_ORDER_TYPES, TRIGGERED_ORDER_TYPES
from ipc.segments import InstrumentId, instrument_label

_NO_LEVELS: Final[list[int]] = []  # shared, never written: a side is copied before any take
NO_FILLS: Final[tuple[tuple[int, int], ...]] = ()


class Book:
    """Latest depth (references to the Depth message's lists until we take from them) and LTP."""

    __slots__ = (
        "bid_px",
        "bid_qty",
        "ask_px",
        "ask_qty",
        "bid_owned",
        "ask_owned",
        "has_depth",
        "ltp_paise",
        "volume_units",
    )

    def __init__(self) -> None:
        self.bid_px: list[int] = _NO_LEVELS
        self.bid_qty: list[int] = _NO_LEVELS
        self.ask_px: list[int] = _NO_LEVELS
        self.ask_qty: list[int] = _NO_LEVELS
        self.bid_owned = False  # True once bid_qty is our copy (safe to decrement)
        self.ask_owned = False
        self.has_depth = False
        self.ltp_paise = 0  # 0: no trade seen
        self.volume_units = -1  # cumulative volume of the last quote; -1: none yet


class WorkingOrder:
    """An open order at the venue: its spec (as the OMS sent it) and the matcher's working copy of
    what changes (the OMS holds the real snapshot)."""

    __slots__ = (
        "spec",
        "cid",
        "key",
        "is_buy",
        "qty",
        "filled",
        "filled_value",
        "limit",
        "trigger",
        "armed",
        "market",
        "ahead",
        "n_fills",
        "seg_class",
        "venue_order_id",
    )

    def __init__(self, order: OrderSnapshot, key: InstrumentId, seg_class: SegmentClass) -> None:
        spec = self.spec = order.spec
        self.cid = order.client_order_id
        self.key = key
        self.is_buy = spec.side == "BUY"
        self.qty = spec.qty_units
        self.filled = order.filled_qty_units
        self.filled_value = order.filled_value_paise
        self.limit = spec.price_paise if spec.order_type in PRICED_ORDER_TYPES else 0
        self.trigger = spec.trigger_price_paise
        self.armed = spec.order_type in TRIGGERED_ORDER_TYPES and not order.triggered  # awaits trigger
        self.market = spec.order_type == "MARKET" or (spec.order_type == "SL_M" and not self.armed)
        self.ahead = 0  # queue ahead of us at our price ("volume" model)
        self.n_fills = len(order.fill_ids)
        self.seg_class = seg_class
        self.venue_order_id = ""

    @property
    def label(self) -> str:
        """The instrument for a reason text (built only when one is: never on the fill path)."""
        return instrument_label(self.spec.segment, self.spec.security_id)


def stop_crossed(is_buy: bool, trigger: int, ltp: int) -> bool:
    """Whether a last traded price ``ltp`` reaches a stop's ``trigger``."""
    return ltp >= trigger if is_buy else ltp <= trigger


def take(o: WorkingOrder, book: Book, passive: bool, model: QueueModel) -> Sequence[tuple[int, int]]:
    """The fills ``(qty units, price paise)`` of ``o`` against the opposite side, best first, up to
    its limit; what is taken is removed from ``book``. Taking (``passive`` False) fills at each
    level's price; a resting order (``passive``) fills at its own limit, and under
    "trade_through" only against levels strictly through it. ``NO_FILLS`` when nothing crosses."""
    is_buy = o.is_buy
    px, qty = (book.ask_px, book.ask_qty) if is_buy else (book.bid_px, book.bid_qty)
    limit = 0 if o.market else o.limit
    strict = passive and model == "trade_through"
    leaves = o.qty - o.filled
    owned = book.ask_owned if is_buy else book.bid_owned
    fills: list[tuple[int, int]] | None = None  # made on the first fill: a miss allocates nothing
    for i in range(len(px)):
        p = px[i]
        q = qty[i]
        if p <= 0 or q <= 0:
            continue
        if limit and ((strict and p == limit) or (p > limit if is_buy else p < limit)):
            break
        if not owned:
            qty = list(qty)
            if is_buy:
                book.ask_qty, book.ask_owned = qty, True
            else:
                book.bid_qty, book.bid_owned = qty, True
            owned = True
        units = q if q < leaves else leaves
        qty[i] = q - units
        if fills is None:
            fills = []
        fills.append((units, limit if passive else p))
        leaves -= units
        if not leaves:
            break
    if fills is None:
        return NO_FILLS
    if passive and model == "volume":
        o.ahead = 0  # someone offered at our price: nobody real is left ahead of us
    return fills


def trade_fill_units(o: WorkingOrder, ltp: int, traded_units: int, model: QueueModel) -> int:
    """Units of the resting limit order ``o`` that a trade at ``ltp`` fills at its limit (0: none).
    ``traded_units`` is the quote's volume delta (0 for a tick); under "volume" it serves the queue
    ahead of ``o`` first (``o.ahead`` moves)."""
    limit = o.limit
    leaves = o.qty - o.filled
    if (ltp < limit) if o.is_buy else (ltp > limit):
        return leaves
    if ltp != limit or model == "trade_through":
        return 0
    if model == "none":
        return leaves
    # "volume": the trade at our price first serves the queue ahead of us
    if traded_units <= o.ahead:
        o.ahead -= traded_units
        return 0
    units = min(leaves, traded_units - o.ahead)
    o.ahead = 0
    return units


def queue_at(book: Book, o: WorkingOrder) -> int:
    """Visible quantity at ``o``'s price on its own side (0 when no such level is shown)."""
    px, qty = (book.bid_px, book.bid_qty) if o.is_buy else (book.ask_px, book.ask_qty)
    for p, q in zip(px, qty):
        if p == o.limit:
            return max(q, 0)
    return 0


def shorten_queue(o: WorkingOrder, book: Book) -> None:
    """"volume" model: cancels ahead of us can only shorten the queue."""
    if o.ahead <= 0:
        return
    px, qty = (book.bid_px, book.bid_qty) if o.is_buy else (book.ask_px, book.ask_qty)
    deepest = 0
    for p, q in zip(px, qty):
        if p <= 0:
            continue
        if p == o.limit:
            if q < o.ahead:
                o.ahead = max(q, 0)
            return
        deepest = p
    # Our price inside the visible range with no level there: everyone ahead has gone.
    if deepest and (o.limit > deepest if o.is_buy else o.limit < deepest):
        o.ahead = 0
