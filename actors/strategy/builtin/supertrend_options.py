"""SuperTrend options bot: buys an index option in the direction of the index's SuperTrend.

Signal (on each ``timeframe_s`` candle close of the index, default 5 s):
- SuperTrend(``st_period``, ``st_multiplier``) direction up -> buy the CE, down -> buy the PE, of
  the nearest (``expiry_index`` 0) expiry, at the ATM strike of the candle close moved
  ``strike_offset`` chain steps out of the money (CE: higher strikes, PE: lower; negative: in the
  money). Quantity = ``qty_lots`` x the option's lot size. Market orders.
- Optional confirmations: MACD line above its signal (CE) / below it (PE) with ``use_macd``; the
  ``htf_timeframe_s`` (60 s) SuperTrend pointing the same way with ``use_htf``.
- Entry rules: candle close at or after ``market_open_ist`` and before ``entry_cutoff_ist``
  (default 15:00 IST); at most ``max_trades_per_day`` entries per IST day; with ``flip_only`` only
  on the candle where the direction changes (otherwise on any candle close while flat); no entry
  within ``cooldown_s`` of this strategy's previous order; none after the daily loss limit hit.
  One position at a time: on a reversal the old option is sold and the new one bought on the same
  candle (subject to the same rules; a cooldown blocks the new entry).

Exits, on every tick or quote of the held option, first rule that holds wins:
  square-off time (``square_off_ist``, default 15:25 IST, also checked on candle closes),
  daily max loss (realised + open P&L of the day <= -``daily_max_loss_paise``; no more entries that
  day), max loss per trade (open P&L <= -``max_loss_per_trade_paise``), target (LTP - average
  entry >= ``target_points_paise``), trailing stop (peak LTP since entry - LTP >=
  ``trailing_sl_points_paise``; the peak starts at the first fill price). A limit of 0 is off.
On a candle close: exit when the SuperTrend points against the held option, unless the position
is younger than ``min_hold_s`` (then the next candle close tries again).

Exits are reduce-only market sells of the filled quantity; an entry still working is cancelled;
units that fill after the exit was sent are sold too. Time rules use the event time of the message
handled (``_common``). The index is ``table.spot(underlying)`` unless the instance configures an
``instrument`` (its bars are used instead).
"""

from __future__ import annotations

import datetime as dt
import math


from actors.strategy.api import Strategy, StrategyParams, StrategyState
from engine.model.expiry_day import listing_day
from actors.strategy.builtin._common import (
    NS_PER_S,
    ExitReason,
    Holding,
    IndexUnderlying,
    OptionType,
    PickError,
    check_session_times,
    ist_day,
    index_ref,
    ist_time_of_day_ns,
    never_filled_units,
    pick_option,
    ref_of,
    time_of_day_ns,
)
from actors.strategy.indicators import MacdStream, SuperTrendStream
from ipc.messages import Bar, Fill, OrderDenied, OrderEvent, Product, Quote, Tick


class SupertrendOptionsParams(StrategyParams):
    underlying: IndexUnderlying = "NIFTY"
    timeframe_s: int = 5
    st_period: int = 10
    st_multiplier: float = 3.0
    use_macd: bool = False
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    use_htf: bool = False
    htf_timeframe_s: int = 60
    htf_st_period: int = 10
    htf_st_multiplier: float = 3.0
    strike_offset: int = 0  # chain steps out of the money (CE up, PE down); negative = in the money
    expiry_index: int = 0  # 0 = nearest expiry on or after today
    qty_lots: int = 1
    product: Product = "INTRADAY"
    market_open_ist: dt.time = dt.time(9, 15)
    entry_cutoff_ist: dt.time = dt.time(15, 0)
    square_off_ist: dt.time = dt.time(15, 25)
    max_trades_per_day: int = 3
    flip_only: bool = True
    cooldown_s: int = 0
    min_hold_s: int = 0
    daily_max_loss_paise: int = 0  # 0 = off
    max_loss_per_trade_paise: int = 0  # 0 = off
    target_points_paise: int = 0  # option price gain per unit; 0 = off
    trailing_sl_points_paise: int = 0  # option price fall from its peak per unit; 0 = off

    def __post_init__(self) -> None:
        for name in ("timeframe_s", "st_period", "qty_lots", "max_trades_per_day", "macd_fast", "macd_slow",
                     "macd_signal", "htf_timeframe_s", "htf_st_period"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} ({value}) must be at least 1")
        for name in ("cooldown_s", "min_hold_s", "expiry_index", "daily_max_loss_paise", "max_loss_per_trade_paise",
                     "target_points_paise", "trailing_sl_points_paise"):
            value = getattr(self, name)
            if value < 0:
                raise ValueError(f"{name} ({value}) must be 0 (off) or more")
        for name in ("st_multiplier", "htf_st_multiplier"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} ({value}) must be a positive number")
        if self.macd_fast >= self.macd_slow:
            raise ValueError(f"macd_fast ({self.macd_fast}) must be below macd_slow ({self.macd_slow})")
        if self.use_htf and self.htf_timeframe_s <= self.timeframe_s:
            raise ValueError(f"htf_timeframe_s ({self.htf_timeframe_s}) must be above timeframe_s "
                             f"({self.timeframe_s})")
        check_session_times(market_open_ist=self.market_open_ist, entry_cutoff_ist=self.entry_cutoff_ist,
                            square_off_ist=self.square_off_ist)


class OptionPosition(Holding, kw_only=True):
    """The held option: its fills (``Holding``) plus the orders that opened and close it."""

    option_type: OptionType
    entry_units: int  # ordered
    entry_intent_id: str
    entry_client_order_id: str = ""  # known once execution reports the order
    entry_dead_units: int = 0  # ordered units that will never fill
    opened_ns: int = 0  # event time of the first entry fill
    peak_paise: int = 0  # highest price since the first fill (trailing stop)
    exit_reason: ExitReason | None = None
    exit_working_units: int = 0  # units of exit orders sent and neither filled nor dead
    exit_orders: dict[str, int] = {}  # exit intent id -> units
    dead_intent_ids: list[str] = []  # order outcomes already counted (events may repeat)

    @property
    def entry_done(self) -> bool:
        return self.bought_units + self.entry_dead_units >= self.entry_units


class SupertrendOptionsState(StrategyState):
    day: int = 0  # IST day number the counters below belong to
    trades_today: int = 0
    realised_today_paise: int = 0
    halted_today: bool = False  # the daily loss limit was hit
    last_order_ns: int = 0
    active: OptionPosition | None = None  # the position the rules manage
    closing: list[OptionPosition] = []  # positions being sold
    last_exit_reason: ExitReason | None = None
    trades_total: int = 0


class SupertrendOptions(Strategy):
    kind = "supertrend_options"
    Params = SupertrendOptionsParams
    State = SupertrendOptionsState

    params: SupertrendOptionsParams
    state: SupertrendOptionsState

    def on_start(self) -> None:
        p = self.params
        self.st = SuperTrendStream(p.st_period, p.st_multiplier)
        self.htf = SuperTrendStream(p.htf_st_period, p.htf_st_multiplier)
        self.macd = MacdStream(p.macd_fast, p.macd_slow, p.macd_signal)
        self.direction = 0  # last SuperTrend direction seen: +1 up, -1 down, 0 not ready
        self.htf_direction = 0
        self.macd_hist = math.nan
        self._open_ns = time_of_day_ns(p.market_open_ist)
        self._cutoff_ns = time_of_day_ns(p.entry_cutoff_ist)
        self._square_off_ns = time_of_day_ns(p.square_off_ist)
        self.index = index_ref(self.ctx, self.kind, self.params.underlying, self.instrument)
        if self.index is None:
            return
        self.ctx.subscribe_bars(self.index, p.timeframe_s)
        if p.use_htf:
            self.ctx.subscribe_bars(self.index, p.htf_timeframe_s)
        for pos in self._positions():  # restored state: keep watching what is held
            self.ctx.subscribe(pos.ref())

    def _positions(self) -> list[OptionPosition]:
        st = self.state
        return ([st.active] if st.active is not None else []) + st.closing

    def _find(self, segment: int, security_id: int) -> OptionPosition | None:
        st = self.state
        if st.active is not None and st.active.matches(segment, security_id):
            return st.active
        for pos in st.closing:
            if pos.matches(segment, security_id):
                return pos
        return None

    def _roll_day(self, ts_ns: int) -> None:
        day = ist_day(ts_ns)
        st = self.state
        if day != st.day:
            st.day = day
            st.trades_today = 0
            st.realised_today_paise = 0
            st.halted_today = False

    # Candles ----------------------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        p = self.params
        if self.index is None or bar.security_id != self.index.security_id or bar.segment != self.index.segment:
            return
        if p.use_htf and bar.timeframe_s == p.htf_timeframe_s:
            _, d = self.htf.update(bar.high_paise, bar.low_paise, bar.close_paise)
            self.htf_direction = 0 if math.isnan(d) else int(d)
            return
        if bar.timeframe_s != p.timeframe_s:
            return
        _, d = self.st.update(bar.high_paise, bar.low_paise, bar.close_paise)
        if p.use_macd:
            self.macd_hist = self.macd.update(bar.close_paise)[2]
        t = bar.ts_event_ns
        self._roll_day(t)
        if ist_time_of_day_ns(t) >= self._square_off_ns:
            self._exit_active(ExitReason.SQUARE_OFF, bar)
            return
        if math.isnan(d):
            return
        direction = int(d)
        flipped = self.direction != 0 and direction != self.direction
        self.direction = direction
        active = self.state.active
        if active is not None and active.bought_units > 0 and active.option_type != ("CE" if direction > 0 else "PE"):
            if t - active.opened_ns >= p.min_hold_s * NS_PER_S:
                self._exit_active(ExitReason.REVERSAL, bar)
            else:
                self.ctx.log.debug("reversal_exit_held", strategy=self.ctx.name, held_s=(t - active.opened_ns) / 1e9,
                                   min_hold_s=p.min_hold_s)
        if self.state.active is None:
            self._maybe_enter(direction, flipped, bar)

    def _maybe_enter(self, direction: int, flipped: bool, bar: Bar) -> None:
        p = self.params
        st = self.state
        t = bar.ts_event_ns
        tod = ist_time_of_day_ns(t)
        if p.daily_max_loss_paise and st.realised_today_paise <= -p.daily_max_loss_paise:
            st.halted_today = True
        if not self._open_ns <= tod < self._cutoff_ns or st.halted_today:
            return
        if st.trades_today >= p.max_trades_per_day:
            return
        if p.flip_only and not flipped:
            return
        if st.last_order_ns and t - st.last_order_ns < p.cooldown_s * NS_PER_S:
            return
        if p.use_macd and not (self.macd_hist > 0.0 if direction > 0 else self.macd_hist < 0.0):
            return  # NaN (warming up) confirms nothing
        if p.use_htf and self.htf_direction != direction:
            return
        option_type: OptionType = "CE" if direction > 0 else "PE"
        steps = p.strike_offset if direction > 0 else -p.strike_offset
        pick = pick_option(self.ctx.table, p.underlying, listing_day(t), bar.close_paise, option_type, steps,
                           p.expiry_index)
        if isinstance(pick, PickError):
            self.ctx.log.warning("entry_skipped", strategy=self.ctx.name, code=pick.value, underlying=p.underlying,
                                 spot_paise=bar.close_paise, option_type=option_type, steps_from_atm=steps,
                                 expiry_index=p.expiry_index)
            return
        ref = ref_of(pick)
        self.ctx.subscribe(ref)
        qty = p.qty_lots * ref.lot_size_units
        intent_id = self.ctx.buy(ref, qty, product=p.product, cause=bar)
        st.active = OptionPosition.of(ref, option_type=option_type, entry_units=qty, entry_intent_id=intent_id)
        st.trades_today += 1
        st.trades_total += 1
        st.last_order_ns = t
        self.ctx.save_state()

    # Option prices ----------------------------------------------------------------------------
    def on_tick(self, tick: Tick) -> None:
        self._on_price(tick.segment, tick.security_id, tick.ltp_paise, tick.ts_event_ns, tick)

    def on_quote(self, quote: Quote) -> None:
        self._on_price(quote.segment, quote.security_id, quote.ltp_paise, quote.ts_event_ns, quote)

    def _on_price(self, segment: int, security_id: int, ltp_paise: int, ts_ns: int, cause: Tick | Quote) -> None:
        # hot path: every tick of the held option; integer compares only
        pos = self._find(segment, security_id)
        if pos is None or ltp_paise <= 0:
            return
        pos.mark_paise = ltp_paise
        if pos is not self.state.active:
            self._work_exit(pos, cause)  # re-send an exit that died
            return
        if pos.bought_units == 0:
            return  # nothing filled yet: nothing to protect
        if ltp_paise > pos.peak_paise:
            pos.peak_paise = ltp_paise
            trail = self.params.trailing_sl_points_paise
            if trail and pos.peak_paise > trail:
                # The trailing stop also rests at the venue with protective_stop = "venue" (only
                # a changed level is sent; execution moves the order in steps).
                self.ctx.protect(pos.ref(), pos.peak_paise - trail, product=self.params.product)
        self._roll_day(ts_ns)
        reason = self._exit_rule(pos, ltp_paise, ts_ns)
        if reason is not None:
            if reason is ExitReason.DAILY_MAX_LOSS:
                self.state.halted_today = True
            self._exit_active(reason, cause)

    def _exit_rule(self, pos: OptionPosition, ltp_paise: int, ts_ns: int) -> ExitReason | None:
        """The first exit rule that holds at this price, in priority order."""
        # hot path
        p = self.params
        if ist_time_of_day_ns(ts_ns) >= self._square_off_ns:
            return ExitReason.SQUARE_OFF
        trade_pnl = pos.pnl_paise(ltp_paise)
        if p.daily_max_loss_paise:
            day_pnl = self.state.realised_today_paise + trade_pnl
            for other in self.state.closing:
                day_pnl += other.pnl_paise(other.mark_paise)
            if day_pnl <= -p.daily_max_loss_paise:
                return ExitReason.DAILY_MAX_LOSS
        if p.max_loss_per_trade_paise and trade_pnl <= -p.max_loss_per_trade_paise:
            return ExitReason.MAX_TRADE_LOSS
        # LTP - average entry >= target, without dividing: ltp * units - cost >= target * units
        if p.target_points_paise and ltp_paise * pos.bought_units - pos.bought_paise >= \
                p.target_points_paise * pos.bought_units:
            return ExitReason.TARGET
        if p.trailing_sl_points_paise and pos.peak_paise - ltp_paise >= p.trailing_sl_points_paise:
            return ExitReason.TRAILING_SL
        return None

    # Exits ------------------------------------------------------------------------------------
    def _exit_active(self, reason: ExitReason, cause: Tick | Quote | Bar) -> None:
        st = self.state
        pos = st.active
        if pos is None:
            return
        st.active = None
        st.closing.append(pos)
        pos.exit_reason = reason
        st.last_exit_reason = reason
        if not pos.entry_done and pos.entry_client_order_id:
            self.ctx.cancel(pos.entry_client_order_id)
        self.ctx.log.info("exit", strategy=self.ctx.name, reason=reason.value, symbol=pos.symbol,
                          units=pos.net_units, mark_paise=pos.mark_paise, pnl_paise=pos.pnl_paise(pos.mark_paise))
        self._work_exit(pos, cause)
        self._settle(pos)
        self.ctx.save_state()

    def _work_exit(self, pos: OptionPosition, cause: Tick | Quote | Bar | None) -> None:
        """Sell whatever of a closing position no exit order covers yet."""
        uncovered = pos.net_units - pos.exit_working_units
        if uncovered <= 0:
            return
        intent_id = self.ctx.sell(pos.ref(), uncovered, product=self.params.product, reduce_only=True, cause=cause)
        pos.exit_working_units += uncovered
        pos.exit_orders[intent_id] = uncovered
        if cause is not None:
            self.state.last_order_ns = cause.ts_event_ns

    def _settle(self, pos: OptionPosition) -> None:
        """Book a closing position's P&L once it is flat and nothing more can fill."""
        if pos.net_units == 0 and pos.entry_done and pos.exit_working_units == 0 and pos in self.state.closing:
            self.state.closing.remove(pos)
            self.state.realised_today_paise += pos.pnl_paise(0)

    # Order flow -------------------------------------------------------------------------------
    def on_fill(self, fill: Fill) -> None:
        pos = self._find(fill.segment, fill.security_id)
        if pos is None:
            return
        pos.add_fill(fill.side, fill.qty_units, fill.price_paise)
        if fill.side == "BUY":
            if pos.opened_ns == 0:
                pos.opened_ns = fill.ts_event_ns
                pos.peak_paise = fill.price_paise
            if pos is not self.state.active:
                self._work_exit(pos, None)  # a late entry fill: sell it too
        else:
            pos.exit_working_units = max(0, pos.exit_working_units - fill.qty_units)
        self._settle(pos)
        self.ctx.save_state()

    def on_order(self, order: OrderEvent) -> None:
        pos = self._find(order.spec.segment, order.spec.security_id)
        if pos is None:
            return
        if order.spec.side == "BUY" and order.intent_id == pos.entry_intent_id:
            pos.entry_client_order_id = order.client_order_id
        dead = never_filled_units(order)
        if dead and order.intent_id not in pos.dead_intent_ids:
            pos.dead_intent_ids.append(order.intent_id)
            self._order_died(pos, order.intent_id, dead)

    def on_denied(self, denied: OrderDenied) -> None:
        pos = self._find(denied.segment, denied.security_id)
        if pos is None or denied.intent_id in pos.dead_intent_ids:
            return
        pos.dead_intent_ids.append(denied.intent_id)
        if denied.intent_id == pos.entry_intent_id:
            self._order_died(pos, denied.intent_id, pos.entry_units)
        elif denied.intent_id in pos.exit_orders:
            self._order_died(pos, denied.intent_id, pos.exit_orders[denied.intent_id])

    def _order_died(self, pos: OptionPosition, intent_id: str, units: int) -> None:
        st = self.state
        if intent_id == pos.entry_intent_id:
            pos.entry_dead_units += units
            if pos is st.active and pos.bought_units == 0:
                st.active = None  # never opened: the next signal may enter again
                st.trades_today -= 1
        else:
            pos.exit_working_units = max(0, pos.exit_working_units - units)  # the next tick sells again
        self.ctx.log.warning("order_not_filled", strategy=self.ctx.name, intent_id=intent_id, symbol=pos.symbol,
                             units=units)
        self._settle(pos)
        self.ctx.save_state()
