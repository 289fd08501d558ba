"""EMA crossover: long ``qty_lots`` when the fast EMA crosses above the slow one, flat when it
crosses below. On bar closes (``timeframe_s`` > 0), or on every price (``timeframe_s`` = 0): every
trade price (``price = "last"``, ticks and quotes) or every mid price of the book
(``price = "mid"``, book updates with both sides; bars are built from trade prices, so "mid" needs
``timeframe_s`` = 0). Market orders; the position target is persisted so a restart does not buy
twice."""

from __future__ import annotations

from typing import Literal

import msgspec

import numpy as np

from actors.strategy.api import Strategy, StrategyParams, StrategyState
from actors.strategy.indicators import EmaStream, ema_cross_scan
from actors.strategy.market_rows import MarketRows
from ipc.messages import Bar, BookUpdate, Product, Quote, Tick

PriceSource = Literal["last", "mid"]


class EmaCrossParams(StrategyParams):
    fast: int = msgspec.field(default=10)
    slow: int = msgspec.field(default=30)
    timeframe_s: int = 5
    qty_lots: int = 1
    product: Product = "INTRADAY"
    price: PriceSource = "last"

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise ValueError(f"fast ({self.fast}) must be at least 1 and below slow ({self.slow})")
        if self.qty_lots < 1:
            raise ValueError(f"qty_lots ({self.qty_lots}) must be at least 1")
        if self.timeframe_s < 0:
            raise ValueError(f"timeframe_s ({self.timeframe_s}) must be 0 (every tick) or more")
        if self.price == "mid" and self.timeframe_s != 0:
            raise ValueError(f"price 'mid' needs timeframe_s 0 (bars are built from trade prices), "
                             f"got {self.timeframe_s}")


class EmaCrossState(StrategyState):
    long: bool = False
    crosses: int = 0


class EmaCross(Strategy):
    kind = "ema_cross"
    Params = EmaCrossParams
    State = EmaCrossState

    def on_start(self) -> None:
        p = self.params
        assert isinstance(p, EmaCrossParams)
        self.fast = EmaStream(p.fast)
        self.slow = EmaStream(p.slow)
        self.prev_diff = 0.0
        if p.timeframe_s > 0 and self.instrument is not None:
            self.ctx.subscribe_bars(self.instrument, p.timeframe_s)

    def on_bar(self, bar: Bar) -> None:
        self._update(bar.close_paise, bar)

    def on_tick(self, tick: Tick) -> None:
        if self._on_trades:
            self._update(tick.ltp_paise, tick)

    def on_quote(self, quote: Quote) -> None:
        if self._on_trades:
            self._update(quote.ltp_paise, quote)

    def on_book(self, book: BookUpdate) -> None:
        if self._on_mids and book.mid_x2_paise > 0:  # 0: a side of the book is empty, no mid
            self._update(book.mid_x2_paise / 2, book)

    @property
    def _on_trades(self) -> bool:
        p = self.params
        assert isinstance(p, EmaCrossParams)
        return p.timeframe_s == 0 and p.price == "last"

    @property
    def _on_mids(self) -> bool:
        p = self.params
        assert isinstance(p, EmaCrossParams)
        return p.price == "mid"

    # Replays: many prices at once, up to the one it trades on --------------------------------------
    def _feed(self, rows: MarketRows) -> tuple[np.ndarray | None, float, bool]:
        """(values whose messages reach ``_update``, the factor to the price, skip values <= 0):
        every tick and quote LTP, or every book mid (mid x2 / 2; 0: no mid, no update)."""
        if self._on_trades:
            return rows.ltp_paise, 1.0, False
        if self._on_mids:
            return rows.mid_x2_paise, 0.5, True
        return None, 1.0, False

    def market_horizon(self, rows: MarketRows) -> int:
        values, scale, skip = self._feed(rows)
        if values is None:
            return int(rows.kind.size)
        st = self.state
        assert isinstance(st, EmaCrossState)
        k, _ = ema_cross_scan(self.fast, self.slow, self.prev_diff, st.long, values, commit=False, scale=scale,
                              skip_nonpositive=skip)
        return k  # values are per row: the index is the row's

    def skip_market(self, rows: MarketRows) -> None:
        values, scale, skip = self._feed(rows)
        if values is None:
            return
        st = self.state
        assert isinstance(st, EmaCrossState)
        k, self.prev_diff = ema_cross_scan(self.fast, self.slow, self.prev_diff, st.long, values, commit=True,
                                           scale=scale, skip_nonpositive=skip)
        assert k == values.size, "skip_market was given a row past the horizon"

    def _update(self, price: float, cause: Bar | Tick | Quote | BookUpdate) -> None:
        # hot path (timeframe_s = 0): two O(1) EMA updates and a sign test
        fast = self.fast.update(price)
        slow = self.slow.update(price)
        if not self.slow.ready:
            return
        diff = fast - slow
        prev, self.prev_diff = self.prev_diff, diff
        if prev == 0.0:
            return
        p = self.params
        assert isinstance(p, EmaCrossParams) and self.instrument is not None
        st = self.state
        assert isinstance(st, EmaCrossState)
        if prev <= 0.0 < diff and not st.long:
            st.long = True
            st.crosses += 1
            self.ctx.buy(self.instrument, p.qty_lots * self.instrument.lot_size_units, product=p.product, cause=cause)
            self.ctx.save_state()
        elif prev >= 0.0 > diff and st.long:
            st.long = False
            st.crosses += 1
            self.ctx.sell(self.instrument, p.qty_lots * self.instrument.lot_size_units, product=p.product,
                          cause=cause, reduce_only=True)
            self.ctx.save_state()
