"""EMA crossover: long ``qty_lots`` when the fast EMA crosses above the slow one, flat when it
crosses below. On bar closes (``timeframe_s`` > 0), or on every price (``timeframe_s`` = 0): every
trade price (``price = "last"``, ticks and quotes) or every mid price of the book
(``price = "mid"``, book updates with both sides; bars are built from trade prices, so "mid" needs
``timeframe_s`` = 0). Market orders.

What it holds is its fills (``ctx.position``), never what it asked for: on the up-cross it buys up
to one ``qty_lots`` long counting what it holds and what is still working; on the down-cross it
sells what it holds. An exit that risk denies (the order rate, reduce-only) or the venue rejects
leaves the position held: it is logged (``exit_not_filled`` with the reason code) and sent again on
the next price while the signal is still flat, at most once per ``exit_retry_s``. An entry is made
on its cross only (a denied entry waits for the next cross); while an exit is still working the
entry waits for its outcome, so a long never exceeds ``qty_lots``. The signal is persisted and
the position comes from the ledger, so a restart neither buys twice nor forgets to sell."""

from __future__ import annotations

from typing import Literal

import msgspec

import numpy as np

from actors.strategy.api import Strategy, StrategyParams, StrategyState
from actors.strategy.builtin._common import NS_PER_S, never_filled_units, protect_after_fill
from actors.strategy.indicators import EmaStream, ema_cross_scan
from actors.strategy.market_rows import MarketRows
from ipc.messages import Bar, BookUpdate, Fill, OrderDenied, OrderEvent, Product, Quote, Tick

PriceSource = Literal["last", "mid"]


class EmaCrossParams(StrategyParams):
    fast: int = msgspec.field(default=10)
    slow: int = msgspec.field(default=30)
    timeframe_s: int = 5
    qty_lots: int = 1
    product: Product = "INTRADAY"
    price: PriceSource = "last"
    exit_retry_s: int = 1  # an exit that did not fill is sent again at most this often
    stop_loss_paise: int = 0  # > 0: a stop this far below the entry's fill (ctx.protect); 0: none


    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise ValueError(f"fast ({self.fast}) must be at least 1 and below slow ({self.slow})")
        if self.qty_lots < 1:
            raise ValueError(f"qty_lots ({self.qty_lots}) must be at least 1")
        if self.exit_retry_s < 0:
            raise ValueError(f"exit_retry_s ({self.exit_retry_s}) must be 0 or more")
        if self.stop_loss_paise < 0:
            raise ValueError(f"stop_loss_paise ({self.stop_loss_paise}) must be 0 (no stop) or more")
        if self.timeframe_s < 0:
            raise ValueError(f"timeframe_s ({self.timeframe_s}) must be 0 (every tick) or more")
        if self.price == "mid" and self.timeframe_s != 0:
            raise ValueError(f"price 'mid' needs timeframe_s 0 (bars are built from trade prices), "
                             f"got {self.timeframe_s}")


class EmaCrossState(StrategyState):
    long: bool = False  # the last cross was up: the signal wants the long
    crosses: int = 0
    entry_due: bool = False  # the up-cross's entry waits for a working exit's outcome
    exit_intent_id: str = ""  # the last exit sent
    exit_sent_ns: int = 0  # event time it was sent at (the retry's cooldown)
    exit_failed: bool = False  # it was denied or died unfilled: the next one waits exit_retry_s


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
        if self._pending():
            return 0  # an entry or an exit to retry: any price may act
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
        st = self.state
        assert isinstance(st, EmaCrossState)
        if self.slow.ready:
            diff = fast - slow
            prev, self.prev_diff = self.prev_diff, diff
            if prev != 0.0 and prev <= 0.0 < diff and not st.long:
                st.long = st.entry_due = True
                st.crosses += 1
                self.ctx.save_state()
            elif prev != 0.0 and prev >= 0.0 > diff and st.long:
                st.long = st.entry_due = False
                st.crosses += 1
                self.ctx.save_state()
        if st.entry_due or not st.long:
            self._steer(cause)

    def _pending(self) -> bool:
        """An order may go out on the next price: an entry due, or a holding the signal wants sold."""
        st = self.state
        assert isinstance(st, EmaCrossState) and self.instrument is not None
        if st.long:
            return st.entry_due
        product = self.params.product  # type: ignore[attr-defined]
        return self.ctx.position(self.instrument, product) - self.ctx.working(self.instrument, product).sell_units > 0

    def _steer(self, cause: Bar | Tick | Quote | BookUpdate) -> None:
        """Move what is held (fills) and working toward what the signal wants (module docstring)."""
        p = self.params
        st = self.state
        ref = self.instrument
        assert isinstance(p, EmaCrossParams) and isinstance(st, EmaCrossState) and ref is not None
        # Its own product only: units an operator converted (shikra convert) are no longer its to move.
        held = self.ctx.position(ref, p.product)
        working = self.ctx.working(ref, p.product)
        if st.long:
            if working.sell_units:
                return  # an exit is still working: its fill or its death decides what to buy
            st.entry_due = False
            lot = ref.lot_size_units
            units = (p.qty_lots * lot - held - working.buy_units) // lot * lot
            if units > 0:
                self.ctx.buy(ref, units, product=p.product, cause=cause)
            self.ctx.save_state()
            return
        unsold = held - working.sell_units
        if unsold <= 0:
            return
        if st.exit_failed and cause.ts_event_ns - st.exit_sent_ns < p.exit_retry_s * NS_PER_S:
            return  # the last exit failed moments ago: do not spam the rate limit
        st.exit_intent_id = self.ctx.sell(ref, unsold, product=p.product, cause=cause, reduce_only=True)
        st.exit_sent_ns = cause.ts_event_ns
        st.exit_failed = False
        self.ctx.save_state()

    # Order outcomes: an exit that will not fill leaves the position held ----------------------------
    def on_fill(self, fill: Fill) -> None:
        p = self.params
        assert isinstance(p, EmaCrossParams)
        if p.stop_loss_paise and self.instrument is not None:
            protect_after_fill(self.ctx, self.instrument, fill, p.stop_loss_paise, p.product)

    def on_denied(self, denied: OrderDenied) -> None:
        self._exit_failed(denied.intent_id, denied.reason_code)

    def on_order(self, order: OrderEvent) -> None:
        if never_filled_units(order):
            self._exit_failed(order.intent_id, order.reason_code or order.state.value)

    def _exit_failed(self, intent_id: str, reason_code: str) -> None:
        st = self.state
        assert isinstance(st, EmaCrossState)
        if not intent_id or intent_id != st.exit_intent_id or self.instrument is None:
            return
        p = self.params
        assert isinstance(p, EmaCrossParams)
        st.exit_failed = True
        self.ctx.save_state()
        self.ctx.log.warning("exit_not_filled", strategy=self.ctx.name, intent_id=intent_id, reason=reason_code,
                             held_units=self.ctx.position(self.instrument, p.product), retry_in_s=p.exit_retry_s)
