"""A replayed block of frames, decoded column-wise, as the rows of a :class:`MarketBatch`.

The feed owns this step (it knows its decoder's tables); ``actors.replay`` only knows rows.
"""

from __future__ import annotations

import numpy as np

from actors.feed.decode_columnar import DecodedBatch
from actors.replay.batch import (DEPTH_COLUMNS, DEPTH_LEVELS, QUOTE_COLUMN, QUOTE_FIELDS, ROW_FULL, ROW_OTHER,
                                 ROW_QUOTE, ROW_TICK, MarketBatch)
from ipc.messages import Tick

# Tables whose messages make a frame's row ROW_OTHER (they have no columns in a MarketBatch).
_OTHER_TABLES = tuple(k for k in DecodedBatch.KINDS if k not in ("ticks", "quotes", "depths"))


def market_batch(decoded: DecodedBatch, n_frames: int) -> MarketBatch:
    """Rows for ``n_frames`` frames decoded together (``decoded.<table>["frame"]`` says whose)."""
    n = n_frames

    def count(table: dict[str, np.ndarray]) -> np.ndarray:
        return np.bincount(table["frame"], minlength=n) if table else np.zeros(n, dtype=np.int64)

    n_tick, n_quote, n_depth = count(decoded.ticks), count(decoded.quotes), count(decoded.depths)
    n_other = sum((count(getattr(decoded, k)) for k in _OTHER_TABLES), np.zeros(n, dtype=np.int64))
    alone = n_other == 0
    kind = np.zeros(n, dtype=np.int8)
    kind[alone & (n_tick == 1) & (n_quote == 0) & (n_depth == 0)] = ROW_TICK
    kind[alone & (n_tick == 0) & (n_quote == 1) & (n_depth == 0)] = ROW_QUOTE
    kind[alone & (n_tick == 0) & (n_quote == 1) & (n_depth == 1)] = ROW_FULL
    quote = np.zeros((n, len(QUOTE_FIELDS)), dtype=np.int64)
    depth = np.zeros((n, 6, DEPTH_LEVELS), dtype=np.int64)
    t = decoded.ticks
    if t:
        sel = kind[t["frame"]] == ROW_TICK
        rows = t["frame"][sel]
        for name in Tick.__struct_fields__:
            quote[rows, QUOTE_COLUMN[name]] = t[name][sel]
    t = decoded.quotes
    if t:
        sel = kind[t["frame"]] != ROW_OTHER
        rows = t["frame"][sel]
        for name in QUOTE_FIELDS:
            quote[rows, QUOTE_COLUMN[name]] = t[name][sel]
    t = decoded.depths
    if t:
        sel = kind[t["frame"]] == ROW_FULL
        rows = t["frame"][sel]
        for c, name in enumerate(DEPTH_COLUMNS):
            depth[rows, c, :] = t[name][sel]
    other_rows = np.flatnonzero(kind == ROW_OTHER)
    other = decoded.frame_messages(other_rows) if other_rows.size else {}
    return MarketBatch(kind, quote, depth, other)
