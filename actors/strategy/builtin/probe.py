"""The latency probe: a market order on every Nth tick of its instrument, alternating sides so the
position stays flat. Used by the tick-to-trade benchmark; harmless on paper."""

from __future__ import annotations

from actors.strategy.api import Strategy, StrategyParams, StrategyState
from ipc.messages import Quote, Tick


class ProbeParams(StrategyParams):
    every_n_ticks: int = 10
    qty_lots: int = 1
    qty_units: int = 0  # when > 0, sent as is (lets a test send a quantity risk must deny)

    def __post_init__(self) -> None:
        if self.every_n_ticks < 1:
            raise ValueError(f"every_n_ticks ({self.every_n_ticks}) must be at least 1")
        if self.qty_lots < 1 or self.qty_units < 0:
            raise ValueError(f"qty_lots ({self.qty_lots}) must be at least 1 and qty_units ({self.qty_units}) >= 0")


class ProbeState(StrategyState):
    ticks: int = 0
    orders: int = 0


class ProbeStrategy(Strategy):
    kind = "probe"
    Params = ProbeParams
    State = ProbeState

    def on_tick(self, tick: Tick) -> None:
        self._count(tick)

    def on_quote(self, quote: Quote) -> None:
        self._count(quote)

    def _count(self, msg: Tick | Quote) -> None:
        # hot path: the benchmark's trigger
        st = self.state
        st.ticks += 1
        if st.ticks % self.params.every_n_ticks:
            return
        assert self.instrument is not None
        qty = self.params.qty_units or self.params.qty_lots * self.instrument.lot_size_units
        side = "BUY" if st.orders % 2 == 0 else "SELL"
        st.orders += 1
        self.ctx.submit(self.instrument, side, qty, cause=msg)
