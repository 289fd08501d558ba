"""The market data the control actor keeps from the bus, for quotes and priced option chains.

Control subscribes to the feed's ``tick.``, ``quote.``, ``depth.``, ``oi.`` and ``prevclose.``
topics and folds each message into one :class:`InstrumentMarket` per instrument (never reading
another actor's files). Memory is bounded by a least-recently-updated table of ``capacity``
instruments (``[control] market_instruments``): every instrument the feed streams is kept while
they fit (the default covers Dhan's 5 connections of 5,000 instruments), so an option chain is
priced from data that was already there when it is asked for; past the capacity the instrument
not updated for longest is dropped, and a quote for it says "no market data yet" until its next
update. A dropped instrument is counted (``evicted``).

Everything here runs on the actor loop; the gRPC thread gets immutable :class:`MarketSnapshot`
copies through the bridge. Pure: messages in, values out.
"""

from __future__ import annotations

import collections

import msgspec
import numpy as np

from ipc.messages import Depth, OpenInterest, PrevClose, Quote, Tick
from ipc.segments import instrument_key

DEPTH_LEVELS = 5  # kept per side: the full packet's 5 levels (the top 5 of a 20-level depth feed)


class Level(msgspec.Struct, frozen=True, array_like=True, gc=False):
    price_paise: int
    qty_units: int
    orders: int


class MarketSnapshot(msgspec.Struct, frozen=True, gc=False):
    """One instrument's market as control last heard it. Zeros mean "not seen": ``prev_close_paise``
    0 means no change can be computed; ``ts_init_ns`` is when the engine received the latest update
    (the age of a quote is measured from it)."""

    segment: int
    security_id: int
    ltp_paise: int
    ltq_units: int
    atp_paise: int
    volume_units: int
    open_paise: int
    high_paise: int
    low_paise: int
    close_paise: int
    prev_close_paise: int
    oi_units: int
    prev_oi_units: int
    total_buy_qty_units: int
    total_sell_qty_units: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts_event_ns: int
    ts_init_ns: int

    @property
    def best_bid_paise(self) -> int:
        return self.bids[0].price_paise if self.bids else 0

    @property
    def best_ask_paise(self) -> int:
        return self.asks[0].price_paise if self.asks else 0


class InstrumentMarket:
    """Mutable state of one instrument (actor loop only)."""

    __slots__ = ("segment", "security_id", "ltp_paise", "ltq_units", "atp_paise", "volume_units", "open_paise",
                 "high_paise", "low_paise", "close_paise", "prev_close_paise", "oi_units", "prev_oi_units",
                 "total_buy_qty_units", "total_sell_qty_units", "bids", "asks", "ts_event_ns", "ts_init_ns")

    def __init__(self, segment: int, security_id: int) -> None:
        self.segment = segment
        self.security_id = security_id
        self.ltp_paise = self.ltq_units = self.atp_paise = self.volume_units = 0
        self.open_paise = self.high_paise = self.low_paise = self.close_paise = 0
        self.prev_close_paise = self.oi_units = self.prev_oi_units = 0
        self.total_buy_qty_units = self.total_sell_qty_units = 0
        self.bids: tuple[Level, ...] = ()
        self.asks: tuple[Level, ...] = ()
        self.ts_event_ns = self.ts_init_ns = 0

    def _stamp(self, ts_event_ns: int, ts_init_ns: int) -> None:
        self.ts_event_ns = max(self.ts_event_ns, ts_event_ns)
        self.ts_init_ns = max(self.ts_init_ns, ts_init_ns)

    def snapshot(self) -> MarketSnapshot:
        return MarketSnapshot(
            self.segment, self.security_id, self.ltp_paise, self.ltq_units, self.atp_paise, self.volume_units,
            self.open_paise, self.high_paise, self.low_paise, self.close_paise, self.prev_close_paise,
            self.oi_units, self.prev_oi_units, self.total_buy_qty_units, self.total_sell_qty_units, self.bids,
            self.asks, self.ts_event_ns, self.ts_init_ns)


def _levels(prices: list[int], qtys: list[int], orders: list[int]) -> tuple[Level, ...]:
    # A level of price 0 is an empty slot of the packet, not a price.
    return tuple(Level(p, q, o) for p, q, o in zip(prices[:DEPTH_LEVELS], qtys, orders) if p > 0)


class MarketStore:
    """Instruments by (segment, security id), least recently updated first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity {capacity} must be >= 1")
        self.capacity = capacity
        self._table: collections.OrderedDict[tuple[int, int], InstrumentMarket] = collections.OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._table)

    def _entry(self, segment: int, security_id: int) -> InstrumentMarket:
        # hot path: every market message the feed publishes passes here
        key = (segment, security_id)
        table = self._table
        found = table.get(key)
        if found is not None:
            table.move_to_end(key)
            return found
        if len(table) >= self.capacity:
            table.popitem(last=False)
            self.evicted += 1
        found = table[key] = InstrumentMarket(segment, security_id)
        return found

    def on_tick(self, msg: Tick) -> None:
        m = self._entry(msg.segment, msg.security_id)
        m.ltp_paise = msg.ltp_paise
        m._stamp(msg.ts_event_ns, msg.ts_init_ns)

    def on_quote(self, msg: Quote) -> None:
        m = self._entry(msg.segment, msg.security_id)
        m.ltp_paise = msg.ltp_paise
        m.ltq_units = msg.ltq_units
        m.atp_paise = msg.atp_paise
        m.volume_units = msg.volume_units
        m.total_buy_qty_units = msg.total_buy_qty_units
        m.total_sell_qty_units = msg.total_sell_qty_units
        m.open_paise, m.high_paise, m.low_paise, m.close_paise = (msg.open_paise, msg.high_paise, msg.low_paise,
                                                                  msg.close_paise)
        if msg.oi_units:  # quote packets carry no OI (0): keep the last known
            m.oi_units = msg.oi_units
        m._stamp(msg.ts_event_ns, msg.ts_init_ns)

    def on_depth(self, msg: Depth) -> None:
        m = self._entry(msg.segment, msg.security_id)
        # A one-sided packet (the 20-level feed) updates its side only.
        if msg.sides in ("both", "bid"):
            m.bids = _levels(msg.bid_price_paise, msg.bid_qty_units, msg.bid_orders)
        if msg.sides in ("both", "ask"):
            m.asks = _levels(msg.ask_price_paise, msg.ask_qty_units, msg.ask_orders)
        m._stamp(msg.ts_event_ns, msg.ts_init_ns)

    def on_open_interest(self, msg: OpenInterest) -> None:
        m = self._entry(msg.segment, msg.security_id)
        m.oi_units = msg.oi_units
        m._stamp(msg.ts_event_ns, msg.ts_init_ns)

    def on_prev_close(self, msg: PrevClose) -> None:
        # Reference data, not a market update: it does not make a quote look fresh.
        m = self._entry(msg.segment, msg.security_id)
        m.prev_close_paise = msg.prev_close_paise
        m.prev_oi_units = msg.prev_oi_units

    def get(self, segment: int, security_id: int) -> InstrumentMarket | None:
        return self._table.get((segment, security_id))

    def snapshot(self, segment: int, security_id: int) -> MarketSnapshot | None:
        found = self._table.get((segment, security_id))
        return None if found is None else found.snapshot()

    def columns(self) -> dict[str, np.ndarray]:
        """Every instrument kept, as int64 columns in ascending packed key (``keys``), for the
        OI tracker's and the scanner's samples (``actors.control.views``). One pass over the table."""
        n = len(self._table)
        names = ("ltp_paise", "prev_close_paise", "open_paise", "high_paise", "low_paise", "volume_units", "oi_units",
                 "prev_oi_units")
        out = np.empty((len(names) + 1, n), dtype=np.int64)
        for j, m in enumerate(self._table.values()):
            out[:, j] = (instrument_key(m.segment, m.security_id), m.ltp_paise, m.prev_close_paise, m.open_paise,
                         m.high_paise, m.low_paise, m.volume_units, m.oi_units, m.prev_oi_units)
        order = np.argsort(out[0], kind="stable")
        cols = {"keys": out[0][order]}
        for i, name in enumerate(names, start=1):
            cols[name] = out[i][order]
        return cols
