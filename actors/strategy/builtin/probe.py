"""The latency probe: a market order on every Nth tick of its instrument, alternating sides so the
position stays flat. Used by the tick-to-trade benchmark; harmless on paper.

For tests of what happens to a held position: ``max_orders`` stops after that many orders risk
did not deny (1: one long left open), and ``stop_loss_paise`` declares a trailing stop that far below the highest
price seen since the process started (``ctx.protect``: with ``protective_stop = "venue"`` it
rests at the venue)."""

from __future__ import annotations

from actors.strategy.api import Strategy, StrategyParams, StrategyState
from ipc.messages import OrderDenied, Quote, Tick


class ProbeParams(StrategyParams):
    every_n_ticks: int = 10
    qty_lots: int = 1
    qty_units: int = 0  # when > 0, sent as is (lets a test send a quantity risk must deny)
    max_orders: int = 0  # 0: no end
    stop_loss_paise: int = 0  # 0: no stop declared

    def __post_init__(self) -> None:
        if self.every_n_ticks < 1:
            raise ValueError(f"every_n_ticks ({self.every_n_ticks}) must be at least 1")
        if self.qty_lots < 1 or self.qty_units < 0:
            raise ValueError(f"qty_lots ({self.qty_lots}) must be at least 1 and qty_units ({self.qty_units}) >= 0")
        if self.max_orders < 0 or self.stop_loss_paise < 0:
            raise ValueError(f"max_orders ({self.max_orders}) and stop_loss_paise ({self.stop_loss_paise}) "
                             "must be >= 0")


class ProbeState(StrategyState):
    ticks: int = 0
    orders: int = 0


class ProbeStrategy(Strategy):
    kind = "probe"
    Params = ProbeParams
    State = ProbeState
    _peak_paise = 0  # the highest price since this process started: a restart trails from the market again

    def on_tick(self, tick: Tick) -> None:
        if self.params.stop_loss_paise:
            self._trail(tick.ltp_paise)
        self._count(tick)

    def _trail(self, ltp_paise: int) -> None:
        assert self.instrument is not None
        if self.ctx.position(self.instrument) <= 0 or ltp_paise <= self._peak_paise:
            return
        self._peak_paise = ltp_paise
        self.ctx.protect(self.instrument, ltp_paise - self.params.stop_loss_paise)

    def on_quote(self, quote: Quote) -> None:
        if self.params.stop_loss_paise:
            self._trail(quote.ltp_paise)
        self._count(quote)

    def on_denied(self, denied: OrderDenied) -> None:
        if self.params.max_orders:
            self.state.orders -= 1  # a denied order (e.g. before risk's first price) is sent again

    def _count(self, msg: Tick | Quote) -> None:
        # hot path: the benchmark's trigger
        st = self.state
        st.ticks += 1
        if st.ticks % self.params.every_n_ticks or (self.params.max_orders and st.orders >= self.params.max_orders):
            return
        assert self.instrument is not None
        qty = self.params.qty_units or self.params.qty_lots * self.instrument.lot_size_units
        side = "BUY" if st.orders % 2 == 0 else "SELL"
        st.orders += 1
        self.ctx.submit(self.instrument, side, qty, cause=msg)
        if self.params.max_orders:
            self.ctx.save_state()  # a restart must not send the orders again
