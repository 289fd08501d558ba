"""Post-trade monitors: daily loss, per-trade loss and target, trailing stop, square-off, cut-off.

A :class:`PostTradeMonitor` is driven by fills (``on_fill``), marks (``on_mark``, last traded
prices) and a clock (``on_clock``, called by the actor's timer). Each call returns the
:class:`Action` values that fired; the actor shell writes them to the ledger, publishes them as
``RiskAction`` and turns exits into reduce-only MARKET intents (:func:`exit_intent`). Nothing here
does I/O.

Rules (P&L in paise, charges included, exact integers):

- Daily max loss: day P&L = today's cash flow (fills, minus charges) + open quantity x mark - the
  value of the positions carried into the day. At exactly minus the limit
  nothing happens; one paisa worse fires KILL_AND_FLATTEN once per IST day, followed by an EXIT for
  every open position. A position carried over the IST day boundary starts the day at its last
  mark (the previous close when marks ran to the close).
- Max loss per trade: a trade is a position from flat (or a flip) until flat again; its P&L counts
  every fill since entry plus the open quantity at the mark. Below minus the limit (strictly)
  fires EXIT. Target per trade: at or above the target fires EXIT.
- Trailing stop: the best mark since entry (highest for a long, lowest for a short); when the
  mark retreats from it by ``trailing_stop_paise`` or ``trailing_stop_bps`` of it (either, so the
  tighter wins) fires EXIT. Touching the stop level fires, as a stop order would.
- Square-off: from the segment's ``square_off_ist`` on a trading day every INTRADAY position is
  squared off (SQUARE_OFF). Entry cut-off: at the segment's ``entry_cutoff_ist`` one BLOCK_ENTRIES
  notice per segment and day (the pre-trade check does the blocking).

An exit fires once per position; it re-arms when the position goes flat or grows again, or by
:meth:`PostTradeMonitor.rearm` when the exit order failed.
"""

from __future__ import annotations

import enum

import msgspec
import numpy as np

from actors.risk.checks import BPS
from actors.risk.limits import ResolvedLimits, RiskLimits, limits_key, resolve, segment_times
from engine.model.calendar import SessionCalendar, default_calendar
from engine.model.ist import ist_day, time_of_day_ns
from ipc.messages import SIDES, Fill, OrderIntent, OrderSpec, RiskAction
from ipc.segments import instrument_label, segment_label



class ActionKind(str, enum.Enum):
    KILL_AND_FLATTEN = "KILL_AND_FLATTEN"  # engage the kill switch; EXIT actions follow
    EXIT = "EXIT"  # close one position now
    SQUARE_OFF = "SQUARE_OFF"  # close one INTRADAY position at square-off time
    BLOCK_ENTRIES = "BLOCK_ENTRIES"  # notice: the entry cut-off passed for a segment


class MonitorReason(str, enum.Enum):
    DAILY_MAX_LOSS = "DAILY_MAX_LOSS"
    MAX_LOSS_PER_TRADE = "MAX_LOSS_PER_TRADE"
    TARGET_PER_TRADE = "TARGET_PER_TRADE"
    TRAILING_STOP = "TRAILING_STOP"
    SQUARE_OFF_TIME = "SQUARE_OFF_TIME"
    EXPIRY_CLOSE = "EXPIRY_CLOSE"  # a contract expiring today (actors/risk/expiry_close.py)
    ENTRY_CUTOFF = "ENTRY_CUTOFF"


class Action(msgspec.Struct, frozen=True, kw_only=True):
    """One monitor decision. For EXIT / SQUARE_OFF, ``side`` and ``qty_units`` are the closing
    order's; ``product`` is the position's."""

    action: ActionKind
    reason: MonitorReason
    message: str
    ts_event_ns: int
    strategy: str = ""
    segment: int = 0
    security_id: int = 0
    product: str = ""
    side: str = ""
    qty_units: int = 0


_NO_ACTIONS: tuple[Action, ...] = ()


class _Pos:
    """One strategy's position in one instrument and product."""

    __slots__ = ("strategy", "segment", "security_id", "product", "limits", "net_units", "mark_paise",
                 "day_flow_paise", "day_start_value_paise", "day_pnl_paise", "trade_flow_paise",
                 "best_paise", "exiting")

    def __init__(self, strategy: str, segment: int, security_id: int, product: str, limits: ResolvedLimits) -> None:
        self.strategy = strategy
        self.segment = segment
        self.security_id = security_id
        self.product = product
        self.limits = limits
        self.net_units = 0
        self.mark_paise = 0
        self.day_flow_paise = 0  # cash in from today's fills, net of charges
        self.day_start_value_paise = 0  # position carried into the day x its mark at the roll
        self.day_pnl_paise = 0  # day_pnl() as last added into the monitor's total
        self.trade_flow_paise = 0  # cash in since the trade's entry, net of charges
        self.best_paise = 0
        self.exiting = False

    def day_pnl(self) -> int:
        return self.day_flow_paise + self.net_units * self.mark_paise - self.day_start_value_paise

    def trade_pnl(self) -> int:
        return self.trade_flow_paise + self.net_units * self.mark_paise

    def name(self) -> str:
        return f"{self.strategy} {instrument_label(self.segment, self.security_id)} {self.product}"


class PostTradeMonitor:
    """Post-trade rules over every position of one account. Not thread-safe (one actor loop)."""

    def __init__(self, limits: RiskLimits, calendar: SessionCalendar | None = None) -> None:
        self.limits = limits
        self.calendar = calendar if calendar is not None else default_calendar()
        self._positions: dict[tuple[str, int, int, str], _Pos] = {}
        self._by_instrument: dict[tuple[int, int], list[_Pos]] = {}
        self._day = -1
        self._day_pnl_paise = 0  # sum of every position's day_pnl_paise, kept incrementally
        self._killed_today = False
        self._cutoff_noticed: set[int] = set()

    # --- state -------------------------------------------------------------------------------

    def set_limits(self, limits: RiskLimits) -> None:
        self.limits = limits
        for (strategy, seg, sid, _), pos in self._positions.items():
            pos.limits = resolve(limits, strategy, limits_key(seg, sid))

    def daily_pnl_paise(self) -> int:
        """Realised + unrealised P&L of the IST day so far, charges included."""
        return self._day_pnl_paise

    def _refresh_pnl(self, pos: _Pos) -> None:
        pnl = pos.day_pnl()
        self._day_pnl_paise += pnl - pos.day_pnl_paise
        pos.day_pnl_paise = pnl

    def position_units(self, strategy: str, segment: int, security_id: int, product: str) -> int:
        pos = self._positions.get((strategy, segment, security_id, product))
        return pos.net_units if pos is not None else 0

    def seed_position(
        self, strategy: str, segment: int, security_id: int, product: str, net_units: int, open_cost_paise: int,
        mark_paise: int, now_ns: int,
    ) -> None:
        """Start tracking a position that exists already (actor restart), from the ledger.

        ``open_cost_paise`` is the signed cost of the open quantity (``Position.open_cost_paise``):
        the trade's P&L counts from it; the day's P&L counts from ``net_units x mark_paise``.
        """
        self._roll_day(now_ns)
        pos = self._pos(strategy, segment, security_id, product)
        pos.net_units = net_units
        pos.mark_paise = mark_paise
        pos.best_paise = mark_paise
        pos.trade_flow_paise = -open_cost_paise
        pos.day_flow_paise = 0
        pos.day_start_value_paise = net_units * mark_paise
        pos.exiting = False
        self._refresh_pnl(pos)

    def take_position(self, strategy: str, segment: int, security_id: int, product: str, net_units: int,
                      open_cost_paise: int, now_ns: int) -> None:
        """Execution's absolute figure for one position. When it differs from what the fills
        gave (a conversion moved units between products, or a fill was missed) the position takes
        it: the trade's P&L counts from ``open_cost_paise``; the day's P&L stays where it was (a
        conversion moves units between products at the same mark, so the total does not move).
        Nothing changes when they agree (the figure published after every fill)."""
        key = (strategy, segment, security_id, product)
        pos = self._positions.get(key)
        if (pos.net_units if pos is not None else 0) == net_units:
            return
        self._roll_day(now_ns)
        pos = self._pos(strategy, segment, security_id, product)
        if pos.mark_paise <= 0 and net_units:
            pos.mark_paise = abs(open_cost_paise) // abs(net_units)
        # Units arriving (or leaving) without a fill: their value at the mark moves with them.
        pos.day_start_value_paise += (net_units - pos.net_units) * pos.mark_paise
        if pos.net_units == 0 or (net_units != 0 and (net_units > 0) != (pos.net_units > 0)):
            pos.best_paise = pos.mark_paise
        pos.net_units = net_units
        pos.trade_flow_paise = -open_cost_paise if net_units else 0
        pos.exiting = False
        self._refresh_pnl(pos)

    def holdings(self) -> list[tuple[str, int, int, str, int]]:
        """``(strategy, segment, security_id, product, net units)`` of every open position."""
        return [(p.strategy, p.segment, p.security_id, p.product, p.net_units)
                for p in self._positions.values() if p.net_units]

    def acknowledge_daily_kill(self, now_ns: int) -> None:
        """An operator released the kill switch after today's daily-loss breach: the breach has
        been seen and acted on, so it does not fire again until the next IST day."""
        self._roll_day(now_ns)
        self._killed_today = True

    def rearm(self, strategy: str, segment: int, security_id: int, product: str) -> None:
        """Let a position's exit fire again (its exit order was rejected or cancelled)."""
        pos = self._positions.get((strategy, segment, security_id, product))
        if pos is not None:
            pos.exiting = False

    def _roll_day(self, now_ns: int) -> None:
        day = ist_day(now_ns)
        if day == self._day:
            return
        self._day = day
        self._killed_today = False
        self._cutoff_noticed.clear()
        self._day_pnl_paise = 0
        for pos in self._positions.values():
            pos.day_flow_paise = 0
            pos.day_start_value_paise = pos.net_units * pos.mark_paise
            pos.day_pnl_paise = 0

    def _pos(self, strategy: str, segment: int, security_id: int, product: str) -> _Pos:
        key = (strategy, segment, security_id, product)
        pos = self._positions.get(key)
        if pos is None:
            name = limits_key(segment, security_id)
            limits = resolve(self.limits, strategy, name)
            pos = self._positions[key] = _Pos(strategy, segment, security_id, product, limits)
            self._by_instrument.setdefault((segment, security_id), []).append(pos)
        return pos

    # --- inputs ------------------------------------------------------------------------------

    def on_fill(self, fill: Fill, product: str, now_ns: int) -> list[Action] | tuple[Action, ...]:
        """Apply a fill of an order with ``product``; returns the actions that fired."""
        self._roll_day(now_ns)
        pos = self._pos(fill.strategy, fill.segment, fill.security_id, product)
        price = fill.price_paise
        delta = fill.qty_units if fill.side == "BUY" else -fill.qty_units
        before = pos.net_units
        after = before + delta
        flow = -delta * price - fill.charges_paise
        pos.day_flow_paise += flow
        pos.mark_paise = price
        if before == 0 or (after != 0 and (before > 0) != (after > 0)):
            # Entry from flat, or a flip: a new trade starts with the part that opened it.
            pos.trade_flow_paise = -after * price - fill.charges_paise
            pos.best_paise = price
            pos.exiting = False
        else:
            pos.trade_flow_paise += flow
            if abs(after) > abs(before):
                pos.exiting = False
        pos.net_units = after
        if after == 0:
            pos.trade_flow_paise = 0
            pos.exiting = False
        self._refresh_pnl(pos)
        return self._evaluate(pos, now_ns)

    def on_mark(
        self, segment: int, security_id: int, price_paise: int, now_ns: int
    ) -> list[Action] | tuple[Action, ...]:
        """Last traded price of an instrument; returns the actions that fired."""
        # Hot path: once per tick; returns a shared empty tuple when nothing fires.
        positions = self._by_instrument.get((segment, security_id))
        if not positions or price_paise <= 0:
            return _NO_ACTIONS
        if ist_day(now_ns) != self._day:
            self._roll_day(now_ns)
        out: list[Action] | tuple[Action, ...] = _NO_ACTIONS
        for pos in positions:
            pos.mark_paise = price_paise
            if pos.net_units == 0:
                continue
            self._refresh_pnl(pos)
            if pos.net_units > 0:
                if price_paise > pos.best_paise:
                    pos.best_paise = price_paise
            elif price_paise < pos.best_paise:
                pos.best_paise = price_paise
            fired = self._evaluate(pos, now_ns)
            if fired:
                out = fired if not out else [*out, *fired]
        return out

    # --- replay batches: many marks at once -----------------------------------------------------

    def open_positions(self, segment: int, security_id: int) -> int:
        """How many positions (strategy x product) are open in this instrument."""
        return sum(1 for pos in self._by_instrument.get((segment, security_id), ()) if pos.net_units)

    def first_firing_mark(self, segment: int, security_id: int, prices: np.ndarray, now_ns: int) -> int:
        """Index of the first of ``prices`` (positive LTPs of one instrument, as ``on_mark`` would
        get them in turn from now on) at which a rule fires; ``len(prices)`` when none does. No
        side effects. Only exact while no other instrument with an open position gets a mark in
        between (the day's P&L couples them); 0 (might fire at once) when the instrument has more
        than one open position, the IST day is about to roll, or the numbers are too large for
        int64 arithmetic."""
        positions = [pos for pos in self._by_instrument.get((segment, security_id), ()) if pos.net_units]
        if not positions or not prices.size:
            return int(prices.size)
        if len(positions) > 1 or ist_day(now_ns) != self._day:
            return 0
        pos = positions[0]
        lim = pos.limits
        if int(prices.max()) >= 2**40 or abs(pos.net_units) >= 2**20 or abs(pos.trade_flow_paise) >= 2**60 \
                or abs(self._day_pnl_paise) >= 2**60:
            return 0
        day_rest = self._day_pnl_paise - pos.day_pnl_paise + pos.day_flow_paise - pos.day_start_value_paise
        # Here, not at the top: only a replay in blocks runs (and imports) numba kernels.
        from actors.risk.kernels import first_firing

        return int(first_firing(prices, pos.net_units, pos.best_paise, pos.trade_flow_paise, pos.exiting, day_rest,
                                self._killed_today, self.limits.daily_max_loss_paise, lim.max_loss_per_trade_paise,
                                lim.target_per_trade_paise, lim.trailing_stop_paise, lim.trailing_stop_bps))

    def take_quiet_marks(self, segment: int, security_id: int, last_paise: int, high_paise: int, low_paise: int,
                         now_ns: int) -> None:
        """The state ``on_mark`` leaves after positive marks of one instrument on none of which a
        rule fired (see ``first_firing_mark``): the last, the highest and the lowest of them."""
        positions = self._by_instrument.get((segment, security_id))
        if not positions:
            return
        if ist_day(now_ns) != self._day:
            self._roll_day(now_ns)
        for pos in positions:
            pos.mark_paise = last_paise
            if pos.net_units == 0:
                continue
            self._refresh_pnl(pos)
            if pos.net_units > 0:
                pos.best_paise = max(pos.best_paise, high_paise)
            else:
                pos.best_paise = min(pos.best_paise, low_paise)

    def on_clock(self, now_ns: int) -> list[Action]:
        """Time rules: entry cut-off notices and INTRADAY square-off, per segment (IST)."""
        self._roll_day(now_ns)
        day = self.calendar.day(now_ns)
        tod_ns = now_ns - day.start_ns
        out: list[Action] = []
        for segment in day.bounds:
            times = segment_times(self.limits, segment)
            if segment not in self._cutoff_noticed and tod_ns >= time_of_day_ns(times.entry_cutoff_ist):
                self._cutoff_noticed.add(segment)
                out.append(Action(
                    action=ActionKind.BLOCK_ENTRIES, reason=MonitorReason.ENTRY_CUTOFF, ts_event_ns=now_ns,
                    segment=segment,
                    message=f"{segment_label(segment)}: entry cut-off "
                            f"{times.entry_cutoff_ist:%H:%M:%S} IST passed; new entries are denied",
                ))
        for pos in self._positions.values():
            if pos.net_units == 0 or pos.exiting or pos.product != "INTRADAY" or pos.segment not in day.bounds:
                continue
            times = segment_times(self.limits, pos.segment)
            if tod_ns >= time_of_day_ns(times.square_off_ist):
                out.append(self._exit(pos, ActionKind.SQUARE_OFF, MonitorReason.SQUARE_OFF_TIME, now_ns,
                                      f"square-off time {times.square_off_ist:%H:%M:%S} IST"))
        return out

    # --- rules -------------------------------------------------------------------------------

    def _exit(self, pos: _Pos, kind: ActionKind, reason: MonitorReason, now_ns: int, why: str) -> Action:
        pos.exiting = True
        side = "SELL" if pos.net_units > 0 else "BUY"
        qty = abs(pos.net_units)
        return Action(
            action=kind, reason=reason, ts_event_ns=now_ns, strategy=pos.strategy, segment=pos.segment,
            security_id=pos.security_id, product=pos.product, side=side, qty_units=qty,
            message=f"{pos.name()}: {why}; {side} {qty} to close position {pos.net_units} "
                    f"at mark {pos.mark_paise} paise",
        )

    def _evaluate(self, pos: _Pos, now_ns: int) -> list[Action] | tuple[Action, ...]:
        out: list[Action] | tuple[Action, ...] = _NO_ACTIONS
        if not self._killed_today:
            max_loss = self.limits.daily_max_loss_paise
            pnl = self._day_pnl_paise
            if pnl < -max_loss:
                return self._kill(pnl, max_loss, now_ns)
        if pos.net_units == 0 or pos.exiting:
            return out
        lim = pos.limits
        trade = pos.trade_pnl()
        if lim.max_loss_per_trade_paise and trade < -lim.max_loss_per_trade_paise:
            return [self._exit(pos, ActionKind.EXIT, MonitorReason.MAX_LOSS_PER_TRADE, now_ns,
                               f"trade P&L {trade} paise is below max loss per trade "
                               f"-{lim.max_loss_per_trade_paise} paise")]
        if lim.target_per_trade_paise and trade >= lim.target_per_trade_paise:
            return [self._exit(pos, ActionKind.EXIT, MonitorReason.TARGET_PER_TRADE, now_ns,
                               f"trade P&L {trade} paise reached target {lim.target_per_trade_paise} paise")]
        if lim.trailing_stop_paise or lim.trailing_stop_bps:
            best, mark = pos.best_paise, pos.mark_paise
            retreat = best - mark if pos.net_units > 0 else mark - best
            hit_paise = lim.trailing_stop_paise > 0 and retreat >= lim.trailing_stop_paise
            hit_bps = lim.trailing_stop_bps > 0 and retreat * BPS >= lim.trailing_stop_bps * best
            if retreat > 0 and (hit_paise or hit_bps):
                return [self._exit(pos, ActionKind.EXIT, MonitorReason.TRAILING_STOP, now_ns,
                                   f"mark {mark} paise is {retreat} paise from best {best} paise; trailing stop "
                                   f"{lim.trailing_stop_paise} paise / {lim.trailing_stop_bps} bps")]
        return out

    def _kill(self, pnl: int, max_loss: int, now_ns: int) -> list[Action]:
        self._killed_today = True
        out = [Action(
            action=ActionKind.KILL_AND_FLATTEN, reason=MonitorReason.DAILY_MAX_LOSS, ts_event_ns=now_ns,
            message=f"day P&L {pnl} paise is below daily max loss -{max_loss} paise",
        )]
        for pos in self._positions.values():
            if pos.net_units != 0:
                out.append(self._exit(pos, ActionKind.EXIT, MonitorReason.DAILY_MAX_LOSS, now_ns,
                                      f"flatten after daily max loss (day P&L {pnl} paise)"))
        return out


def to_risk_action(action: Action, ts_init_ns: int) -> RiskAction:
    """The bus message for ``action``."""
    return RiskAction(
        action=action.action.value,
        reason_code=action.reason.value,
        detail=action.message,
        strategy=action.strategy,
        segment=action.segment,
        security_id=action.security_id,
        ts_event_ns=action.ts_event_ns,
        ts_init_ns=ts_init_ns,
    )


def exit_intent(action: Action, intent_id: str, now_ns: int) -> OrderIntent:
    """A reduce-only MARKET DAY intent that closes the position an EXIT / SQUARE_OFF names.

    Raises ValueError for an action that closes nothing (KILL_AND_FLATTEN, BLOCK_ENTRIES).
    """
    if action.qty_units <= 0 or action.side not in SIDES:
        raise ValueError(f"{action.action.value} action closes no position")
    spec = OrderSpec(segment=action.segment, security_id=action.security_id, side=action.side,  # type: ignore[arg-type]
                     order_type="MARKET", validity="DAY", product=action.product,  # type: ignore[arg-type]
                     qty_units=action.qty_units)
    return OrderIntent(
        intent_id=intent_id,
        strategy=action.strategy,
        spec=spec,
        ts_event_ns=action.ts_event_ns,
        ts_init_ns=now_ns,
        ts_created_ns=now_ns,
        reduce_only=True,
    )
