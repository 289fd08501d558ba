"""Numba kernels over a :class:`actors.replay.batch.MarketBatch`'s columns (replay hot paths).

Apart from the batch itself so that importing the batch (every host does) does not load numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from actors.replay.batch import ROW_FULL, ROW_TICK


@njit(cache=True)
def last_rows(instrument, mask, start, stop, n_instruments):  # type: ignore[no-untyped-def]
    """Per instrument, the last row in ``[start, stop)`` where ``mask`` is set (-1: none)."""
    out = np.full(n_instruments, -1, dtype=np.int64)
    for i in range(start, stop):
        if mask[i]:
            j = instrument[i]
            if j >= 0:
                out[j] = i
    return out


@njit(cache=True)
def trades_and_latest(is_trade, ts_event_ns, start, stop):  # type: ignore[no-untyped-def]
    """(ticks and quotes in rows ``[start, stop)``, the latest ``ts_event_ns`` among them)."""
    count = 0
    latest = 0
    for i in range(start, stop):
        if is_trade[i]:
            count += 1
            if ts_event_ns[i] > latest:
                latest = ts_event_ns[i]
    return count, latest


@njit(cache=True)
def last_trades(instrument, kind, ltp_paise, start, stop, n_instruments):  # type: ignore[no-untyped-def]
    """Per instrument over rows ``[start, stop)``: the last full row, the last row with a positive
    LTP and the last quote or full row with one (-1: none); and how many ticks and quotes carried
    a non-positive LTP."""
    last_full = np.full(n_instruments, -1, dtype=np.int64)
    last_ltp = np.full(n_instruments, -1, dtype=np.int64)
    last_quote = np.full(n_instruments, -1, dtype=np.int64)
    bad = 0
    for i in range(start, stop):
        j = instrument[i]
        if j < 0:
            continue
        k = kind[i]
        if k == ROW_FULL:
            last_full[j] = i
        if ltp_paise[i] > 0:
            last_ltp[j] = i
            if k != ROW_TICK:
                last_quote[j] = i
        else:
            bad += 1
    return last_full, last_ltp, last_quote, bad


def warmup() -> None:
    """Compile (or load from numba's cache) this module's kernels."""
    rows = np.zeros(2, dtype=np.int64)
    last_rows(rows, np.ones(2, dtype=np.bool_), 0, 2, 1)
    trades_and_latest(np.ones(2, dtype=np.bool_), rows, 0, 2)
    last_trades(rows, np.ones(2, dtype=np.int8), rows, 0, 2, 1)
