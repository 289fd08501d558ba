"""Base of the single-instrument signal strategies (rsi_reversal, vwap_breakout, mean_reversion).

A subclass turns each price (a bar close when ``timeframe_s`` > 0, else every trade price) into a
wanted position: +1 long, -1 short, 0 flat, or None (keep what is held). The base sends the
market orders that move the held position there: closing a position is a reduce-only order of its
size; a reversal is a close and an open sent together. Quantities are ``qty_lots`` x the
instrument's lot size.

It decides on what the engine reports, never on what it asked for: the position is what filled
(``ctx.position``), and while any of its orders still works (``ctx.working``) it waits for that
order's fill or end. So a denied or rejected exit leaves the position held and the next signal
closes it again; a refused entry is tried again on the next signal. Whatever part of a close and
an open sent together fills, the position stays within one ``qty_lots``. After an order fails the
strategy waits ``retry_s`` before the next order, so a rate limit is not answered with a flood.
"""

from __future__ import annotations

from actors.strategy.api import Strategy, StrategyParams, StrategyState
from actors.strategy.builtin._common import never_filled_units, protect_after_fill
from engine.model.ist import NS_PER_S
from actors.strategy.market_rows import MarketRows, first_handled_row
from ipc.messages import Bar, Fill, OrderDenied, OrderEvent, Product, Quote, Tick


class SignalParams(StrategyParams):
    timeframe_s: int = 60  # 0 = every trade price
    qty_lots: int = 1
    product: Product = "INTRADAY"
    retry_s: float = 1.0  # after a denied or rejected order, the pause before the next one
    stop_loss_paise: int = 0  # > 0: a stop this far beyond each entry's fill (ctx.protect); 0: none

    def __post_init__(self) -> None:
        if self.retry_s < 0:
            raise ValueError(f"retry_s ({self.retry_s}) must be 0 or more")
        if self.timeframe_s < 0:
            raise ValueError(f"timeframe_s ({self.timeframe_s}) must be 0 (every tick) or more")
        if self.qty_lots < 1:
            raise ValueError(f"qty_lots ({self.qty_lots}) must be at least 1")
        if self.stop_loss_paise < 0:
            raise ValueError(f"stop_loss_paise ({self.stop_loss_paise}) must be 0 (no stop) or more")


class SignalState(StrategyState):
    orders: int = 0
    retry_after_ns: int = 0  # no new order before this time: one just failed (``retry_s``)


class SignalStrategy(Strategy):
    """Subclasses implement ``wanted(price_paise, cause)``; see the module docstring."""

    params: SignalParams
    state: SignalState

    def on_start(self) -> None:
        if self.params.timeframe_s > 0 and self.instrument is not None:
            self.ctx.subscribe_bars(self.instrument, self.params.timeframe_s)

    def wanted(self, price_paise: int, cause: Bar | Tick | Quote) -> int | None:
        """+1 long, -1 short, 0 flat, None no opinion. Called once per bar close or trade price."""
        raise NotImplementedError

    def on_bar(self, bar: Bar) -> None:
        ref = self.instrument
        if ref is not None and bar.security_id == ref.security_id and bar.segment == ref.segment \
                and bar.timeframe_s == self.params.timeframe_s:
            self._decide(bar.close_paise, bar)

    def on_tick(self, tick: Tick) -> None:
        if self.params.timeframe_s == 0:
            self._decide(tick.ltp_paise, tick)

    def on_quote(self, quote: Quote) -> None:
        if self.params.timeframe_s == 0:
            self._decide(quote.ltp_paise, quote)

    def market_horizon(self, rows: MarketRows) -> int:
        # On bars, the tick and quote handlers ignore prices (bars come from the actor's builders):
        # no row of a replay batch can make this strategy act, unless a subclass handles more.
        cls = type(self)
        if (self.params.timeframe_s > 0 and cls.on_tick is SignalStrategy.on_tick
                and cls.on_quote is SignalStrategy.on_quote and cls.on_book is Strategy.on_book):
            return int(rows.kind.size)
        return first_handled_row(self, rows)

    def skip_market(self, rows: MarketRows) -> None:
        """Nothing to take: before the horizon no handler this class has would use a row."""

    def _decide(self, price_paise: int, cause: Bar | Tick | Quote) -> None:
        # hot path when timeframe_s = 0: one indicator update and integer compares
        want = self.wanted(price_paise, cause)
        ref = self.instrument
        if want is None or ref is None:
            return
        goal = want * self.params.qty_lots * ref.lot_size_units
        # Its own product only: units an operator converted (shikra convert) are no longer its to move.
        held = self.ctx.position(ref, self.params.product)
        if goal == held:
            return
        working = self.ctx.working(ref, self.params.product)
        if working.buy_units or working.sell_units:
            return  # an order still works: its fill or its end decides the next step
        st = self.state
        if st.retry_after_ns and self.ctx.now_ns() < st.retry_after_ns:
            return
        if held != 0 and (goal == 0 or (goal > 0) != (held > 0)):
            self._send(-held, cause, reduce_only=True)
            held = 0  # the open below is sized for a filled close; if the close fails, it nets out
        if goal != held:
            self._send(goal - held, cause, reduce_only=False)
        self.ctx.save_state()

    def _send(self, delta_units: int, cause: Bar | Tick | Quote, *, reduce_only: bool) -> None:
        assert self.instrument is not None
        side = "BUY" if delta_units > 0 else "SELL"
        self.ctx.submit(self.instrument, side, abs(delta_units), product=self.params.product,
                        reduce_only=reduce_only, cause=cause)
        self.state.orders += 1

    def on_fill(self, fill: Fill) -> None:
        if self.params.stop_loss_paise and self.instrument is not None:
            protect_after_fill(self.ctx, self.instrument, fill, self.params.stop_loss_paise, self.params.product)

    def on_order(self, order: OrderEvent) -> None:
        lost = never_filled_units(order)
        if lost:
            self._failed(order.intent_id, lost, order.reason_code or order.state.name)

    def on_denied(self, denied: OrderDenied) -> None:
        self._failed(denied.intent_id, None, denied.reason_code)

    def _failed(self, intent_id: str, units: int | None, reason: str) -> None:
        st = self.state
        st.retry_after_ns = self.ctx.now_ns() + int(self.params.retry_s * NS_PER_S)
        held = self.ctx.position(self.instrument, self.params.product) if self.instrument is not None else 0
        self.ctx.log.warning("order_not_filled", strategy=self.ctx.name, intent_id=intent_id, units=units,
                             reason=reason, held_units=held, retry_in_s=self.params.retry_s)
        self.ctx.save_state()
