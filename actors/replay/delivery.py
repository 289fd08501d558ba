"""Delivering a :class:`MarketBatch` to the actors of one host: in bulk where that changes nothing.

The contract: the rows of a batch reach the host's actors as if ``publish_row(i)`` (which
publishes the messages of row ``i``) were called for each row in turn with the bus drained after
each, i.e. everything a row causes is delivered before the next row.

Taking rows in bulk is optional for an actor: one that implements :class:`BatchConsumer` may take
rows it would not act on at once; every other actor (a plain actor) gets each row's messages
one at a time, as from a live feed. Before rows ``[a, b)`` go out, each batch consumer names the
first row at which it might send or publish anything (``market_batch_horizon``, no side effects),
and a plain actor's first row is the first one carrying a topic it subscribes to. Rows before the
earliest of those cause nothing, so their order across actors does not matter: each consumer
takes them at once (``on_market_batch``). That earliest row, and every ROW_OTHER row, then goes
through the bus one message at a time.

On a market-time clock (a backtest), rows go in bulk only while the clock stands still: a row
whose exchange time is later than every row before it starts a new slice, and the clock moves to
it (firing the timers due by then) before any actor looks at the slice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

import numpy as np

from actors.replay.batch import ROW_FULL, ROW_QUOTE, ROW_TICK, MarketBatch
from ipc import topics

if TYPE_CHECKING:
    from actors.base import Actor
    from engine.config import EngineConfig
    from engine.logs import Log

_MARKET_PREFIXES = (topics.TICK, topics.QUOTE, topics.DEPTH, topics.BOOK)
BATCH_PUBLISHER = "feed"  # the one actor that publishes market batches (a replay in blocks)


@runtime_checkable
class BatchConsumer(Protocol):
    """An actor that takes replayed market data in bulk (optional; see the module docstring)."""

    def market_batch_horizon(self, batch: MarketBatch, start: int, stop: int) -> int:
        """The first row in ``[start, stop)`` whose messages might make this actor send or publish
        anything (``stop`` if none). Must not change the actor's state; too early only costs speed,
        too late would change what happens."""
        ...

    def on_market_batch(self, batch: MarketBatch, start: int, stop: int) -> None:
        """Take rows ``[start, stop)`` at once, ending in the state their messages one by one would
        have left. None of them makes the actor send or publish (the horizons guarantee it)."""
        ...


@runtime_checkable
class BatchPreparer(Protocol):
    """A batch consumer that derives, from a new batch, what other consumers read from it (the book
    actor: the top of book its ``BookUpdate`` messages would carry)."""

    def prepare_market_batch(self, batch: MarketBatch) -> None:
        """A new batch arrives (before any of its rows goes out)."""
        ...


def receives_market_batches(engine: EngineConfig, name: str) -> bool:
    """True when actor ``name`` may be handed market batches, so its batch kernels must be compiled
    at start-up: batches go only to the actors of the feed's own process (``publish_market_batch``
    sends rows one by one to other processes), which is the co-located unit (the backtest's too)."""
    return engine.topology == "co-located" and BATCH_PUBLISHER in engine.colocated and name in engine.colocated


def subscribes_to_market_data(cls: type[Actor]) -> bool:
    """True when an actor of ``cls`` subscribes to some topic a batch row is published on."""
    return any(p.startswith(m) or m.startswith(p) for p in cls.subscriptions for m in _MARKET_PREFIXES)


class BatchDelivery:
    """Delivers the batches of one origin (the feed) to ``targets``: the other actors of the host
    that subscribe to market data, in the host's order.

    ``drain`` delivers what the bus holds; ``advance_clock`` (market time only, else None) moves
    the simulated clock to a row's exchange time, firing the timers due on the way."""

    def __init__(self, targets: list[tuple[str, Actor]], drain: Callable[[], None], log: Log,
                 now_ns: Callable[[], int], advance_clock: Callable[[int], None] | None) -> None:
        self.targets = targets
        self._drain = drain
        self._log = log
        self._now_ns = now_ns
        self._advance_clock = advance_clock
        self._consumers = [(name, a) for name, a in targets if isinstance(a, BatchConsumer)]
        self._preparers = [(name, a) for name, a in self._consumers if isinstance(a, BatchPreparer)]
        self._plain = [type(a) for _, a in targets if not isinstance(a, BatchConsumer)]

    def one_by_one(self, batch: MarketBatch, publish_row: Callable[[int], None]) -> None:
        """Every row through the bus (the reference the bulk path must match)."""
        for i in range(batch.n):
            publish_row(i)
            self._drain()

    def deliver(self, batch: MarketBatch, publish_row: Callable[[int], None]) -> int:
        """Deliver ``batch`` (see the module docstring); returns how many rows went in bulk.
        Hot path (replay)."""
        if not self.targets:
            self.one_by_one(batch, publish_row)
            return 0
        consumers = self._consumers
        for name, actor in self._preparers:
            self._call(name, actor.prepare_market_batch, batch)
        plain = [_wanted_rows(cls, batch) for cls in self._plain]
        n = batch.n
        moves = _clock_moves(batch) if self._advance_clock is not None else None
        in_bulk = 0
        a = 0
        while a < n:
            stop = batch.next_other(a)
            if moves is not None and stop > a:
                stop = self._at_row_time(batch, moves, a, stop)
            for rows in plain:
                k = int(np.searchsorted(rows, a))
                if k < rows.size and rows[k] < stop:
                    stop = int(rows[k])
            for name, actor in consumers:
                if stop == a:
                    break
                try:
                    stop = min(stop, actor.market_batch_horizon(batch, a, stop))
                except Exception:
                    self._log.exception("handler_failed", actor=name, message="market_batch_horizon")
                    stop = a
            if stop > a:
                in_bulk += stop - a
                for name, actor in consumers:
                    self._call(name, actor.on_market_batch, batch, a, stop)
            if stop >= n:
                return in_bulk
            publish_row(stop)
            self._drain()
            a = stop + 1
        return in_bulk

    def _at_row_time(self, batch: MarketBatch, moves: np.ndarray, a: int, stop: int) -> int:
        """Move the clock to trade row ``a``'s exchange time; returns where the clock would move
        next (a bound on this slice)."""
        assert self._advance_clock is not None
        ts = int(batch.ts_event_ns[a])
        if ts > self._now_ns():
            self._advance_clock(ts)
        k = int(moves.searchsorted(a, side="right"))
        return min(stop, int(moves[k])) if k < moves.size else stop

    def _call(self, name: str, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception:  # an actor bug must not take the loop down with it
            self._log.exception("handler_failed", actor=name, message=getattr(fn, "__name__", "?"))


def _clock_moves(batch: MarketBatch) -> np.ndarray:
    """Rows whose exchange time is later than that of every trade row before them in the
    batch: the only rows that can move a market-time clock (other rows carry 0 here; one of
    them that moved the clock only makes a later row here a needless slice boundary)."""
    ts = batch.ts_event_ns
    if ts.size < 2:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(ts[1:] > np.maximum.accumulate(ts)[:-1]) + 1


def _wanted_rows(cls: type[Actor], batch: MarketBatch) -> np.ndarray:
    """Rows of ``batch`` that carry a topic a plain actor of class ``cls`` subscribes to."""
    prefixes = [p.encode() for p in cls.subscriptions]
    wanted = np.zeros((len(batch.keys) + 1, ROW_FULL + 1), dtype=bool)  # last row: ROW_OTHER rows
    for j in range(len(batch.keys)):
        for kind in (ROW_TICK, ROW_QUOTE, ROW_FULL):
            wanted[j, kind] = any(t.startswith(p) for t in batch.topics_of(kind, j, batch.book is not None)
                                  for p in prefixes)
    return np.flatnonzero(wanted[batch.instrument, batch.kind])
