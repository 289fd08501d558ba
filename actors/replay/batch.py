"""Market data in bulk on the in-process bus: one row per feed frame, numpy columns.

A co-located host replaying a capture as fast as possible (a backtest) hands the frames of a block
to its actors as a :class:`MarketBatch` instead of one message at a time; the rules are in
:func:`actors.replay.delivery.deliver`. In short: rows on which no actor would send or
publish anything are taken in bulk, every other row goes through the bus as the messages the feed
would have published for it, so the actors end in the same state and send the same messages in the
same order as they would one message at a time.

A row is one frame. Rows of the three common kinds carry their values in columns:

- ``ROW_TICK``  a frame that decoded to one ``Tick``;
- ``ROW_QUOTE`` one ``Quote`` (a quote packet);
- ``ROW_FULL``  one ``Quote`` and one 5-level ``Depth`` (a full packet).

Anything else (prev close, OI, market status, a disconnect, a frame of several packets, a frame
whose packets were all dropped) is ``ROW_OTHER`` and keeps its decoded messages as Structs.
Columns are int64 (paise, units, ns); ``quote`` holds every ``Quote`` field in field order for
quote and full rows (tick rows fill segment, security id, LTP and the two times, zeros elsewhere),
``depth`` the six level lists of a full row. Nothing here is ever encoded: a batch lives in one
process.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np

from ipc import topics
from ipc.messages import Depth, Message, Quote, Tick
from ipc.segments import InstrumentId, instrument_key

ROW_OTHER: Final = 0
ROW_TICK: Final = 1
ROW_QUOTE: Final = 2
ROW_FULL: Final = 3

QUOTE_FIELDS: Final = Quote.__struct_fields__
QUOTE_COLUMN: Final = {name: i for i, name in enumerate(QUOTE_FIELDS)}  # a Quote field's column in ``quote``
Q_SEGMENT: Final = QUOTE_COLUMN["segment"]
Q_SECURITY_ID: Final = QUOTE_COLUMN["security_id"]
Q_LTP: Final = QUOTE_COLUMN["ltp_paise"]
Q_LTQ: Final = QUOTE_COLUMN["ltq_units"]
Q_VOLUME: Final = QUOTE_COLUMN["volume_units"]
Q_TS_EVENT: Final = QUOTE_COLUMN["ts_event_ns"]
Q_TS_INIT: Final = QUOTE_COLUMN["ts_init_ns"]
DEPTH_LEVELS: Final = 5
# depth[i] = (bid price, bid qty, bid orders, ask price, ask qty, ask orders) x 5 levels
D_BID_PX, D_BID_QTY, D_BID_ORDERS, D_ASK_PX, D_ASK_QTY, D_ASK_ORDERS = range(6)
DEPTH_COLUMNS: Final = ("bid_price_paise", "bid_qty_units", "bid_orders", "ask_price_paise", "ask_qty_units",
                        "ask_orders")  # the Depth fields behind depth[:, D_BID_PX ... D_ASK_ORDERS]


class BookColumns(NamedTuple):
    """Top of book after each full row (what its ``BookUpdate`` says), 0 on other rows. Derived
    by the book actor (``BookActor.prepare_market_batch``)."""

    best_bid_paise: np.ndarray
    best_ask_paise: np.ndarray
    mid_x2_paise: np.ndarray  # best bid + best ask when both sides have a price, else 0


class InstrumentColumns(NamedTuple):
    """Every row of one instrument in a batch (ascending) and its values, for slicing by ``span``."""

    rows: np.ndarray
    kind: np.ndarray
    ltp_paise: np.ndarray
    ltq_units: np.ndarray
    ts_event_ns: np.ndarray
    mid_x2_paise: np.ndarray | None  # None: no book columns in the batch


class MarketBatch:
    """Rows (frames) of market data; see the module docstring. The feed builds them from its
    decoded columns (``actors.feed.batches.market_batch``)."""

    __slots__ = ("n", "kind", "quote", "depth", "segment", "security_id", "ltp_paise", "ts_event_ns",
                 "instrument", "keys", "other_rows", "_other", "_by_instrument", "_bounds", "book",
                 "is_trade", "is_full", "_columns", "_spans")

    def __init__(self, kind: np.ndarray, quote: np.ndarray, depth: np.ndarray,
                 other: dict[int, list[Message]]) -> None:
        self.n = int(kind.size)
        self.kind = kind
        self.quote = quote
        self.depth = depth
        self.segment = np.ascontiguousarray(quote[:, Q_SEGMENT])
        self.security_id = np.ascontiguousarray(quote[:, Q_SECURITY_ID])
        self.ltp_paise = np.ascontiguousarray(quote[:, Q_LTP])
        self.ts_event_ns = np.ascontiguousarray(quote[:, Q_TS_EVENT])
        self.is_trade = kind != ROW_OTHER  # rows with a Tick or a Quote (an LTP)
        self.is_full = kind == ROW_FULL
        self.other_rows = np.flatnonzero(~self.is_trade)
        self._other = other
        self.book: BookColumns | None = None
        # Instruments in order of first appearance; instrument[i] indexes keys (-1: other row).
        typed = np.flatnonzero(self.is_trade)
        packed = instrument_key(self.segment[typed], self.security_id[typed])
        uniq, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
        by_first = np.argsort(first, kind="stable")
        rank = np.empty_like(by_first)
        rank[by_first] = np.arange(by_first.size)
        self.instrument = np.full(self.n, -1, dtype=np.int64)
        self.instrument[typed] = rank[inverse]
        self.keys: list[InstrumentId] = [InstrumentId.from_key(k) for k in uniq[by_first].tolist()]
        order = np.argsort(self.instrument[typed], kind="stable")
        self._by_instrument = typed[order]  # rows grouped by instrument, ascending within one
        self._bounds = np.searchsorted(self.instrument[self._by_instrument], np.arange(len(self.keys) + 1))
        self._columns: list[InstrumentColumns | None] = [None] * len(self.keys)
        self._spans: dict[tuple[int, int, int], tuple[int, int]] = {}

    # Rows -------------------------------------------------------------------------------------
    def columns_of(self, instrument: int) -> InstrumentColumns:
        """All rows of ``instrument`` (an index into ``keys``) with their values (computed once;
        call after the book columns are set, i.e. not from ``prepare_market_batch``)."""
        cols = self._columns[instrument]
        if cols is None:
            rows = self._by_instrument[self._bounds[instrument]:self._bounds[instrument + 1]]
            book = self.book
            cols = self._columns[instrument] = InstrumentColumns(
                rows, self.kind[rows], self.ltp_paise[rows], self.quote[rows, Q_LTQ], self.ts_event_ns[rows],
                book.mid_x2_paise[rows] if book is not None else None)
        return cols

    def span(self, instrument: int, start: int, stop: int) -> tuple[int, int]:
        """Where the rows of ``instrument`` in ``[start, stop)`` sit in ``columns_of(instrument)``."""
        # hot path: every actor asks for the same few ranges, once per batch slice
        key = (instrument, start, stop)
        found = self._spans.get(key)
        if found is None:
            rows = self._by_instrument[self._bounds[instrument]:self._bounds[instrument + 1]]
            found = self._spans[key] = (int(rows.searchsorted(start)), int(rows.searchsorted(stop)))
        return found

    def rows_of(self, instrument: int, start: int, stop: int) -> np.ndarray:
        """Rows of ``instrument`` in ``[start, stop)``, ascending."""
        rows = self._by_instrument[self._bounds[instrument]:self._bounds[instrument + 1]]
        return rows[rows.searchsorted(start):rows.searchsorted(stop)]

    def instruments_in(self, start: int, stop: int) -> list[int]:
        """Instruments with at least one row in ``[start, stop)``, in order of first appearance."""
        if len(self.keys) == 1:
            lo, hi = self.span(0, start, stop)
            return [0] if hi > lo else []
        present = np.unique(self.instrument[start:stop])
        return [j for j in present.tolist() if j >= 0]

    def next_other(self, start: int) -> int:
        """The first ROW_OTHER row at or after ``start``, or ``n``."""
        k = int(self.other_rows.searchsorted(start))
        return int(self.other_rows[k]) if k < self.other_rows.size else self.n

    # Messages ---------------------------------------------------------------------------------
    def messages(self, i: int) -> list[Message]:
        """The messages of row ``i``, in the order the feed publishes them."""
        kind = self.kind[i]
        if kind == ROW_OTHER:
            return self._other.get(i, [])
        if kind == ROW_TICK:
            q = self.quote[i]
            return [Tick(int(q[Q_SEGMENT]), int(q[Q_SECURITY_ID]), int(q[Q_LTP]), int(q[Q_TS_EVENT]),
                         int(q[Q_TS_INIT]))]
        quote = Quote(*self.quote[i].tolist())
        if kind == ROW_QUOTE:
            return [quote]
        bp, bq, bo, ap, aq, ao = self.depth[i].tolist()
        return [quote, Depth(quote.segment, quote.security_id, "both", bp, bq, bo, ap, aq, ao,
                             quote.ts_event_ns, quote.ts_init_ns)]

    def topics_of(self, kind: int, instrument: int, with_book: bool) -> tuple[bytes, ...]:
        """Topics a row of ``kind`` for ``instrument`` is published on (``with_book``: and the book
        update a local book actor publishes for a full row)."""
        seg, sid = self.keys[instrument]
        if kind == ROW_TICK:
            return (topics.instrument_topic(topics.TICK, seg, sid),)
        if kind == ROW_QUOTE:
            return (topics.instrument_topic(topics.QUOTE, seg, sid),)
        out = (topics.instrument_topic(topics.QUOTE, seg, sid), topics.instrument_topic(topics.DEPTH, seg, sid))
        return out + ((topics.instrument_topic(topics.BOOK, seg, sid),) if with_book else ())
