"""Order books for many instruments in preallocated numpy arrays (one row per instrument).

Prices are integer paise, quantities integer units. Level 0 is the best. A row holds up to
``MAX_LEVELS`` levels per side; 5-level updates (full packets) replace levels 0..4 of both sides and
clear the rest, a 20-level one-sided update replaces that side only.
"""

from __future__ import annotations

import numpy as np

from actors.replay.batch import (
    D_ASK_PX,
    D_ASK_QTY,
    D_BID_PX,
    D_BID_QTY,
    DEPTH_LEVELS,
    Q_TS_EVENT,
    Q_TS_INIT,
    BookColumns,
    MarketBatch,
)
from ipc.messages import BookUpdate, Depth

MAX_LEVELS = 20


class BookStore:
    def __init__(self, capacity: int = 256) -> None:
        self._rows: dict[tuple[int, int], int] = {}
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        # The six level arrays are views of one (row, side column, level) array, in the order of
        # actors.replay.batch's depth columns, so that a whole book is written in one assignment.
        old = getattr(self, "_depth", None)
        depth = np.zeros((capacity, 6, MAX_LEVELS), dtype=np.int64)
        scalars = {name: np.zeros(capacity, dtype=np.int64) for name in
                   ("levels", "last_px", "ts_event_ns", "ts_init_ns", "updated_mono_ns")}
        if old is not None:
            n = old.shape[0]
            depth[:n] = old
            for name, arr in scalars.items():
                arr[:n] = getattr(self, name)
        self._depth = depth
        for c, name in enumerate(("bid_px", "bid_qty", "bid_orders", "ask_px", "ask_qty", "ask_orders")):
            setattr(self, name, depth[:, c, :])
        for name, arr in scalars.items():
            setattr(self, name, arr)
        self.capacity = capacity

    def row(self, segment: int, security_id: int) -> int:
        key = (segment, security_id)
        row = self._rows.get(key)
        if row is None:
            row = len(self._rows)
            if row >= self.capacity:
                self._alloc(self.capacity * 2)
            self._rows[key] = row
        return row

    def has(self, segment: int, security_id: int) -> bool:
        return (segment, security_id) in self._rows

    def keys(self) -> list[tuple[int, int]]:
        return list(self._rows)

    def apply_depth(self, d: Depth, now_mono_ns: int) -> int:
        """Apply one depth message; returns the row. Hot path."""
        r = self.row(d.segment, d.security_id)
        n = len(d.bid_price_paise)
        if d.sides == "both" and n == len(d.ask_price_paise) and n <= MAX_LEVELS:
            # both sides, as many levels each (full packets): one assignment for the six lists
            self._depth[r, :, :n] = (d.bid_price_paise, d.bid_qty_units, d.bid_orders, d.ask_price_paise,
                                     d.ask_qty_units, d.ask_orders)
            self._depth[r, :, n:] = 0
            self.levels[r] = n
            self.ts_event_ns[r] = d.ts_event_ns
            self.ts_init_ns[r] = d.ts_init_ns
            self.updated_mono_ns[r] = now_mono_ns
            return r
        if d.sides != "ask":
            n = len(d.bid_price_paise)
            self.bid_px[r, :n] = d.bid_price_paise
            self.bid_qty[r, :n] = d.bid_qty_units
            self.bid_orders[r, :n] = d.bid_orders
            self.bid_px[r, n:] = 0
            self.bid_qty[r, n:] = 0
            self.bid_orders[r, n:] = 0
        if d.sides != "bid":
            n = len(d.ask_price_paise)
            self.ask_px[r, :n] = d.ask_price_paise
            self.ask_qty[r, :n] = d.ask_qty_units
            self.ask_orders[r, :n] = d.ask_orders
            self.ask_px[r, n:] = 0
            self.ask_qty[r, n:] = 0
            self.ask_orders[r, n:] = 0
        n = max(len(d.bid_price_paise), len(d.ask_price_paise))
        self.levels[r] = n if d.sides == "both" else max(n, int(self.levels[r]))
        self.ts_event_ns[r] = d.ts_event_ns
        self.ts_init_ns[r] = d.ts_init_ns
        self.updated_mono_ns[r] = now_mono_ns
        return r

    def apply_batch(self, batch: MarketBatch, start: int, stop: int, now_mono_ns: int) -> list[tuple[int, int]]:
        """Rows ``[start, stop)`` of a replay batch at once: the state ``set_last`` and
        ``apply_depth`` would leave after each of their quotes, ticks and depths in turn. Returns
        the instruments whose depth changed."""
        # Here, not at the top: only a replay in blocks runs (and imports) numba kernels; the feed
        # that publishes the batches compiled them before the host was ready.
        from actors.replay.kernels import last_rows

        n_inst = len(batch.keys)
        last_full = last_rows(batch.instrument, batch.is_full, start, stop, n_inst)
        last_trade = last_rows(batch.instrument, batch.is_trade, start, stop, n_inst)
        depth_seen: list[tuple[int, int]] = []
        for j in batch.instruments_in(start, stop):
            segment, security_id = batch.keys[j]
            r = self.row(segment, security_id)
            t = int(last_trade[j])
            if t >= 0:
                self.last_px[r] = batch.ltp_paise[t]
            i = int(last_full[j])
            if i < 0:
                continue
            self._depth[r, :, :DEPTH_LEVELS] = batch.depth[i]
            self._depth[r, :, DEPTH_LEVELS:] = 0
            self.levels[r] = DEPTH_LEVELS
            self.ts_event_ns[r] = batch.quote[i, Q_TS_EVENT]
            self.ts_init_ns[r] = batch.quote[i, Q_TS_INIT]
            self.updated_mono_ns[r] = now_mono_ns
            depth_seen.append((segment, security_id))
        return depth_seen

    def set_last(self, segment: int, security_id: int, price_paise: int) -> None:
        # The row first: a new instrument may grow the store, which replaces ``last_px``.
        r = self.row(segment, security_id)
        self.last_px[r] = price_paise

    def update_message(self, r: int, segment: int, security_id: int) -> BookUpdate:
        """Top of book and derived figures for row ``r``. Empty levels (qty 0) are ignored."""
        # hot path: one read of the top level, one sum of both quantity rows
        bid_px, bq, _, ask_px, aq, _ = self._depth[r, :, 0].tolist()
        total_bid, total_ask = self._depth[r, 1::3].sum(axis=1).tolist()  # bid qty, ask qty
        bb = bid_px if bq > 0 else 0
        ba = ask_px if aq > 0 else 0
        both = bb > 0 and ba > 0
        imbalance = (total_bid - total_ask) / (total_bid + total_ask) if total_bid + total_ask else 0.0
        return BookUpdate(segment, security_id, bb, bq, ba, aq, int(self.last_px[r]),
                          bb + ba if both else 0, ba - bb if both else 0, imbalance, int(self.levels[r]),
                          int(self.ts_event_ns[r]), int(self.ts_init_ns[r]))

    def stale(self, now_mono_ns: int, limit_ns: int) -> list[tuple[int, int, int]]:
        """(segment, security_id, age_ns) of books not updated for longer than ``limit_ns``."""
        n = len(self._rows)
        if n == 0:
            return []
        updated = self.updated_mono_ns[:n]
        ages = now_mono_ns - updated
        keys = list(self._rows)
        # A row that never had depth (an index: ticks only) has no book to go stale.
        return [(keys[i][0], keys[i][1], int(ages[i])) for i in np.nonzero((ages > limit_ns) & (updated > 0))[0]]


def top_of_book_columns(batch: MarketBatch) -> BookColumns:
    """Best bid, best ask and mid x 2 of the ``BookUpdate`` after each full row of ``batch`` (as
    ``update_message`` computes them: a level without quantity is no price), 0 on other rows. A
    full row replaces both sides, so each row's top of book is its own."""
    bid_qty = batch.depth[:, D_BID_QTY, 0]
    ask_qty = batch.depth[:, D_ASK_QTY, 0]
    best_bid = np.where(bid_qty > 0, batch.depth[:, D_BID_PX, 0], 0)
    best_ask = np.where(ask_qty > 0, batch.depth[:, D_ASK_PX, 0], 0)
    both = (best_bid > 0) & (best_ask > 0) & batch.is_full
    return BookColumns(best_bid, best_ask, np.where(both, best_bid + best_ask, 0))
