"""Replays in bulk, as a strategy sees them: one instrument's rows of market data at once.

Optional for a strategy author. A replay (backtest) hands the strategy actor many rows of market
data at once (``actors.replay``); for each strategy it finds the first row at which the strategy
might act. A strategy that implements :class:`SkipsMarketRows` names that row itself and takes
the rows before it in bulk, which makes a backtest fast. Any other strategy's first row is the
first one with a message for a handler its class overrides (:func:`first_handled_row`): it gets
every message its handlers take, one at a time, as live, so it is always right.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from actors.replay.batch import ROW_FULL, ROW_QUOTE, ROW_TICK, MarketBatch
from actors.strategy.api import Strategy


class MarketRows(NamedTuple):
    """One instrument's market data in a replay batch, in order: one row per feed frame.

    ``kind`` says which messages a row stands for: ROW_TICK a ``Tick``; ROW_QUOTE a ``Quote``;
    ROW_FULL a ``Quote``, then (when ``mid_x2_paise`` is not None) the ``BookUpdate`` the book
    actor publishes after the packet's depth. Columns are int64: ``ltp_paise`` and ``ltq_units``
    (0 for ticks) and ``ts_event_ns`` of the tick or quote, ``mid_x2_paise`` of the book update
    (0 when a side of the book is empty, and on other rows)."""

    kind: np.ndarray
    ltp_paise: np.ndarray
    ltq_units: np.ndarray
    ts_event_ns: np.ndarray
    mid_x2_paise: np.ndarray | None


@runtime_checkable
class SkipsMarketRows(Protocol):
    """A strategy that takes, at once, the rows of market data on which it would not act."""

    def market_horizon(self, rows: MarketRows) -> int:
        """The index of the first of ``rows`` at which this strategy might do anything through its
        context (submit, cancel, save state, ...) if its handlers got the rows' messages in turn;
        ``len(rows.kind)`` when it would do nothing on any. No side effects. The rows before it
        go to ``skip_market``, that one and the rest to the handlers as usual. Too early only
        costs speed, too late would change what the strategy does."""
        ...

    def skip_market(self, rows: MarketRows) -> None:
        """Take ``rows`` (before the horizon: the strategy acts on none of them) as its handlers
        would, without calling them."""
        ...


def first_handled_row(strategy: Strategy, rows: MarketRows) -> int:
    """The horizon of a strategy that does not skip rows itself: the first row with a message for
    a handler its class overrides (so nothing is skipped that a handler would have seen)."""
    cls = type(strategy)
    kind = rows.kind
    handled = np.zeros(kind.size, dtype=bool)
    if _overrides(cls, "on_tick"):
        handled |= kind == ROW_TICK
    if _overrides(cls, "on_quote"):
        handled |= kind >= ROW_QUOTE
    if rows.mid_x2_paise is not None and _overrides(cls, "on_book"):
        handled |= kind == ROW_FULL
    hit = np.flatnonzero(handled)
    return int(hit[0]) if hit.size else int(kind.size)


def market_horizon(strategy: Strategy, rows: MarketRows) -> int:
    """Where ``strategy`` might first act in ``rows`` (see :class:`SkipsMarketRows`)."""
    if _skips(type(strategy)):
        return strategy.market_horizon(rows)  # type: ignore[attr-defined]
    return first_handled_row(strategy, rows)


def skip_market(strategy: Strategy, rows: MarketRows) -> None:
    """Hand ``strategy`` the rows before its horizon (nothing to do unless it skips rows itself:
    before :func:`first_handled_row` no handler it overrides has a message)."""
    if _skips(type(strategy)):
        strategy.skip_market(rows)  # type: ignore[attr-defined]


def rows_of(batch: MarketBatch, instrument: int, start: int, stop: int) -> tuple[np.ndarray, MarketRows]:
    """(rows, the strategies' view of them) for one instrument's rows in ``[start, stop)``
    (quantity 0 on ticks, as ``on_tick`` feeds bars)."""
    c = batch.columns_of(instrument)
    lo, hi = batch.span(instrument, start, stop)
    return c.rows[lo:hi], MarketRows(c.kind[lo:hi], c.ltp_paise[lo:hi], c.ltq_units[lo:hi], c.ts_event_ns[lo:hi],
                                     c.mid_x2_paise[lo:hi] if c.mid_x2_paise is not None else None)


@cache
def _skips(cls: type[Strategy]) -> bool:
    # once per class: a runtime Protocol check is too slow for every slice of a batch
    return issubclass(cls, SkipsMarketRows)


def _overrides(cls: type, name: str) -> bool:
    return getattr(cls, name) is not getattr(Strategy, name)
