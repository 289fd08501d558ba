"""Base of the single-instrument signal strategies (rsi_reversal, vwap_breakout, mean_reversion).

A subclass turns each price (a bar close when ``timeframe_s`` > 0, else every trade price) into a
wanted position: +1 long, -1 short, 0 flat, or None (keep what is held). The base sends the
market orders that move the held position there: closing a position is a reduce-only order of its
size; a reversal is a close then an open. Quantities are ``qty_lots`` x the instrument's lot size.

The position the strategy believes it holds (``target_units``) moves when an order is sent and
moves back by whatever part of an order never fills (rejected, cancelled, expired, or denied by
risk), so a refused entry is tried again on the next signal instead of being assumed done.
"""

from __future__ import annotations

from actors.strategy.api import Strategy, StrategyParams, StrategyState
from actors.strategy.builtin._common import never_filled_units
from actors.strategy.market_rows import MarketRows, first_handled_row
from ipc.messages import Bar, OrderDenied, OrderEvent, OrderState, Product, Quote, Tick


class SignalParams(StrategyParams):
    timeframe_s: int = 60  # 0 = every trade price
    qty_lots: int = 1
    product: Product = "INTRADAY"

    def __post_init__(self) -> None:
        if self.timeframe_s < 0:
            raise ValueError(f"timeframe_s ({self.timeframe_s}) must be 0 (every tick) or more")
        if self.qty_lots < 1:
            raise ValueError(f"qty_lots ({self.qty_lots}) must be at least 1")


class SignalState(StrategyState):
    target_units: int = 0  # signed position the strategy is moving to
    pending: dict[str, int] = {}  # intent id -> signed units it moves target_units by
    orders: int = 0


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
        if want is None or self.instrument is None:
            return
        st = self.state
        lot_units = self.params.qty_lots * self.instrument.lot_size_units
        goal = want * lot_units
        if goal == st.target_units:
            return
        if st.target_units != 0 and (goal == 0 or (goal > 0) != (st.target_units > 0)):
            self._send(-st.target_units, cause, reduce_only=True)
        if goal != 0:
            self._send(goal - st.target_units, cause, reduce_only=False)
        self.ctx.save_state()

    def _send(self, delta_units: int, cause: Bar | Tick | Quote, *, reduce_only: bool) -> None:
        assert self.instrument is not None
        side = "BUY" if delta_units > 0 else "SELL"
        intent_id = self.ctx.submit(self.instrument, side, abs(delta_units), product=self.params.product,
                                    reduce_only=reduce_only, cause=cause)
        st = self.state
        st.target_units += delta_units
        st.pending[intent_id] = delta_units
        st.orders += 1

    def on_order(self, order: OrderEvent) -> None:
        delta = self.state.pending.get(order.intent_id)
        if delta is None:
            return
        lost = never_filled_units(order)
        if lost:
            self._undo(order.intent_id, lost if delta > 0 else -lost)
        elif order.state is OrderState.FILLED:
            del self.state.pending[order.intent_id]

    def on_denied(self, denied: OrderDenied) -> None:
        delta = self.state.pending.get(denied.intent_id)
        if delta is not None:
            self._undo(denied.intent_id, delta)

    def _undo(self, intent_id: str, units: int) -> None:
        st = self.state
        del st.pending[intent_id]
        st.target_units -= units
        self.ctx.log.warning("order_not_filled", strategy=self.ctx.name, intent_id=intent_id, units=units,
                             target_units=st.target_units)
        self.ctx.save_state()
