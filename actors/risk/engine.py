"""The stateful pre-trade checker: :class:`RiskEngine` holds one account's usage and runs the pure
checks of :mod:`actors.risk.checks` in a fixed cheap-first order.

The engine holds the mutable usage state (order rate window, orders and trades today, open
orders, positions, exposure, cash) and checks an intent with :meth:`RiskEngine.check`; the actor
shell commits an approval with :meth:`RiskEngine.record_approved`, which returns the orders to
submit (the intent, or its slices when it is above the freeze quantity), and feeds back fills,
order events, positions and marks. Every time is an epoch-ns argument from the caller's clock.

Conventions:

- "Reduces" is judged per strategy, instrument and product (``PositionKey``): an order reduces when
  it is opposite to the strategy's position in the order's product and, together with the
  strategy's open orders on the same side in that product, does not take the position past zero.
  A SELL INTRADAY against a CNC holding opens an INTRADAY short, as at the broker. Reducing orders skip the cooldown, entry cut-off, order value,
  trades-per-day, position, exposure and funds checks (they lower risk and their size is bounded
  by a position that passed those checks), never the instrument, band or rate checks: an exit or a
  flatten order can be refused for the order rate, and the shell retries it.
- Worst case for open orders: position and exposure checks count open orders as filled.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

from actors.risk.checks import (
    InstrumentLimits,
    check_band,
    check_cooldown,
    check_duplicate,
    check_entry_cutoff,
    check_flip_only,
    check_freeze,
    check_funds,
    check_gross_exposure,
    check_instrument,
    check_last_price,
    check_net_exposure,
    check_open_orders,
    check_order_value,
    check_position,
    check_rate_day,
    check_rate_second,
    check_reduce_only,
    check_session,
    check_trades_per_day,
    check_trading_state,
    reference_price,
    required_cash_paise,
    slice_count,
    slice_intent,
)
from actors.risk.limits import ResolvedLimits, RiskLimits, limits_key, resolve, segment_times
from actors.risk.state import RiskStatus
from engine.model.calendar import SessionCalendar, TradingDay, default_calendar
from engine.model.ist import NS_PER_S, time_of_day_ns
from engine.rate_window import RateWindow
from ipc.messages import TERMINAL_ORDER_STATES, Fill, OrderEvent, OrderIntent, Position, PositionKey, is_protective_stop
from ipc.reasons import Denial, DenyReason
from ipc.segments import Segment

# Intent ids remembered for the duplicate check. A re-send (the sender missed the answer) comes
# within seconds; execution also refuses an intent id the ledger has ever seen, for good.
RECENT_INTENTS_KEPT = 20_000


class RecentIds:
    """The last ``size`` distinct ids added, for membership tests: memory stays bounded however
    many intents a day (or a backtest) brings."""

    __slots__ = ("_size", "_ids", "_order")

    def __init__(self, size: int = RECENT_INTENTS_KEPT) -> None:
        self._size = size
        self._ids: set[str] = set()
        self._order: collections.deque[str] = collections.deque()

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, item: str) -> None:
        if item in self._ids:
            return
        if len(self._order) >= self._size:
            self._ids.discard(self._order.popleft())
        self._order.append(item)
        self._ids.add(item)

    def clear(self) -> None:
        self._ids.clear()
        self._order.clear()


class _Book:
    """Account-wide figures for one instrument and its share of the exposure sums."""

    __slots__ = (
        "net_units", "open_buy_units", "open_sell_units", "mark_paise", "gross_paise", "long_paise", "short_paise"
    )

    def __init__(self) -> None:
        self.net_units = 0
        self.open_buy_units = 0
        self.open_sell_units = 0
        self.mark_paise = 0
        self.gross_paise = 0  # max(|net + open buys|, |net - open sells|) x mark
        self.long_paise = 0  # (net + open buys) x mark
        self.short_paise = 0  # (net - open sells) x mark


class _Slot:
    """One strategy in one instrument and product: resolved limits, position, open orders, last
    order. The instrument's account-wide figures (``_Book``) are shared by its products."""

    __slots__ = ("limits", "book", "position_units", "pending_buy_units", "pending_sell_units",
                 "last_order_ns", "last_side")

    def __init__(self, limits: ResolvedLimits, book: _Book) -> None:
        self.limits = limits
        self.book = book
        self.position_units = 0
        self.pending_buy_units = 0
        self.pending_sell_units = 0
        self.last_order_ns = 0
        self.last_side = ""


class _Open:
    """An order at the venue as risk counts it."""

    __slots__ = ("slot", "side", "remaining_units", "ref_price_paise", "reserved_paise", "opening")

    def __init__(self, slot: _Slot, side: str, remaining_units: int, ref_price_paise: int, opening: bool) -> None:
        self.slot = slot
        self.side = side
        self.remaining_units = remaining_units
        self.ref_price_paise = ref_price_paise
        self.reserved_paise = 0
        self.opening = opening


class RiskEngine:
    """Pre-trade checker with the usage state of one account.

    ``check`` is pure with respect to the engine's usage counters (it only prunes the expired part
    of the rate window and rolls the IST day); ``record_approved`` commits. All times are epoch ns
    supplied by the caller (a fake clock in tests). Not thread-safe: one actor loop owns it.
    """

    def __init__(
        self,
        limits: RiskLimits,
        instruments: Iterable[InstrumentLimits],
        *,
        cash_paise: int,
        calendar: SessionCalendar | None = None,
        status: RiskStatus | None = None,
        venue_slices: bool = False,
    ) -> None:
        self.limits = limits
        self.venue_slices = venue_slices  # the venue splits above the freeze qty: approve whole
        self.calendar = calendar if calendar is not None else default_calendar()
        self.status = status if status is not None else RiskStatus()
        self.cash_paise = cash_paise
        self.reserved_paise = 0
        self.gross_paise = 0
        self.net_long_paise = 0
        self.net_short_paise = 0
        self.orders_today = 0
        self.trades_today = 0
        self.open_orders = 0
        self._instruments: dict[tuple[int, int], InstrumentLimits] = {}
        self._books: dict[tuple[int, int], _Book] = {}
        self._slots: dict[PositionKey, _Slot] = {}
        self._open: dict[str, _Open] = {}
        self._seen = RecentIds()
        self._rate = RateWindow(((NS_PER_S, limits.max_orders_per_second),))  # orders in the last second
        self._day: TradingDay | None = None
        self._day_start_ns = 0
        self._day_end_ns = 0
        self._cutoff_ns: dict[int, int] = {}
        for inst in instruments:
            self._instruments[(inst.segment, inst.security_id)] = inst

    # --- configuration -----------------------------------------------------------------------

    def set_instrument(self, inst: InstrumentLimits) -> None:
        """Add or replace an instrument (e.g. after the daily master refresh)."""
        self._instruments[(inst.segment, inst.security_id)] = inst

    def set_limits(self, limits: RiskLimits) -> None:
        """Replace the limits; usage state is kept, per-slot limits re-resolved."""
        self.limits = limits
        self._rate.set_limits(((NS_PER_S, limits.max_orders_per_second),))
        for (strategy, seg, sid, _product), slot in self._slots.items():
            slot.limits = resolve(limits, strategy, limits_key(seg, sid))
        self._day_end_ns = 0  # recompute cut-offs at the next call

    def set_calendar(self, calendar: SessionCalendar) -> None:
        """Take a changed calendar (overrides edited at run time): today is looked up again."""
        self.calendar = calendar
        self._day_end_ns = 0

    def set_status(self, status: RiskStatus) -> None:
        self.status = status

    def set_cash(self, cash_paise: int) -> None:
        """Authoritative cash from the ledger / venue (overrides what fills moved)."""
        self.cash_paise = cash_paise

    # --- internals ---------------------------------------------------------------------------

    def _roll_day(self, now_ns: int) -> None:
        day = self.calendar.day(now_ns)
        if self._day is not None and day.day != self._day.day:
            self.orders_today = 0
            self.trades_today = 0
            self._seen.clear()
        self._day = day
        self._day_start_ns = day.start_ns
        self._day_end_ns = day.end_ns
        self._cutoff_ns = {
            seg: day.start_ns + time_of_day_ns(segment_times(self.limits, seg).entry_cutoff_ist)
            for seg in map(int, Segment)
        }

    def _slot(self, strategy: str, segment: int, security_id: int, product: str) -> _Slot:
        key = (strategy, segment, security_id, product)
        slot = self._slots.get(key)
        if slot is None:
            ikey = (segment, security_id)
            book = self._books.get(ikey)
            if book is None:
                book = self._books[ikey] = _Book()
            limits = resolve(self.limits, strategy, limits_key(segment, security_id))
            slot = self._slots[key] = _Slot(limits, book)
        return slot

    def _reterm(self, book: _Book) -> None:
        """Recompute one instrument's share of the exposure sums after any change to it."""
        m = book.mark_paise
        long_units = book.net_units + book.open_buy_units
        short_units = book.net_units - book.open_sell_units
        gross = max(abs(long_units), abs(short_units)) * m
        long_p = long_units * m
        short_p = short_units * m
        self.gross_paise += gross - book.gross_paise
        self.net_long_paise += long_p - book.long_paise
        self.net_short_paise += short_p - book.short_paise
        book.gross_paise, book.long_paise, book.short_paise = gross, long_p, short_p

    @staticmethod
    def _reduces(slot: _Slot, side: str, qty_units: int) -> bool:
        pos = slot.position_units
        if side == "BUY":
            return pos < 0 and qty_units + slot.pending_buy_units <= -pos
        return pos > 0 and qty_units + slot.pending_sell_units <= pos

    # --- the check ---------------------------------------------------------------------------

    def check(self, intent: OrderIntent, now_ns: int) -> Denial | None:
        """Run every pre-trade check on ``intent`` at ``now_ns``; None approves. Never raises.

        Order: duplicate (an intent approved before), instrument, freeze, trading state, reduce-only,
        session and cut-off, last price and band, rates and open orders, cooldown and flip-only;
        then, for orders that do not reduce: order value, trades per day, position, exposure,
        funds.
        """
        # Hot path: once per intent; cheap checks first; allocates only lookup keys, a slot on
        # first use of a strategy/instrument pair, and a denial. The order's own fields were
        # checked at the edge (ipc.order_rules): here are limits, not shapes.
        spec = intent.spec
        side = spec.side
        order_type = spec.order_type
        qty = spec.qty_units
        price = spec.price_paise
        trigger = spec.trigger_price_paise
        if not (self._day_start_ns <= now_ns < self._day_end_ns):
            self._roll_day(now_ns)
        # First: a re-send of an approved intent is recognised as one whatever changed since (the
        # shell records it as a re-send, not a denial).
        d = check_duplicate(intent.intent_id, self._seen)
        if d is not None:
            return d
        segment = spec.segment
        security_id = spec.security_id
        inst = self._instruments.get((segment, security_id))
        d = check_instrument(inst, segment, security_id, self._day.day)  # type: ignore[union-attr]
        if d is not None:
            return d
        assert inst is not None
        slot = self._slot(intent.strategy, segment, security_id, spec.product)
        lim = slot.limits
        d = check_freeze(qty, inst, lim.slicing_enabled)
        if d is not None:
            return d

        reduces = self._reduces(slot, side, qty)
        reduce_only = intent.reduce_only is True
        d = check_trading_state(self.status.state, reduces, reduce_only)
        if d is not None:
            return d
        if reduce_only and not reduces:
            pending = slot.pending_buy_units if side == "BUY" else slot.pending_sell_units
            return check_reduce_only(reduce_only, reduces, slot.position_units, side, qty, pending)

        d = check_session(now_ns, self._day.bounds.get(segment), segment, self.calendar)  # type: ignore[union-attr]
        if d is not None:
            return d
        d = check_entry_cutoff(now_ns, self._cutoff_ns.get(segment, 0), reduces, segment)
        if d is not None:
            return d

        book = slot.book
        last = book.mark_paise
        d = check_last_price(order_type, last, lim.price_band_bps, segment, security_id)
        if d is not None:
            return d
        d = check_band(price, trigger, last, lim.price_band_bps)
        if d is not None:
            return d

        n = slice_count(qty, inst)
        d = check_rate_second(self._rate.count(now_ns), n, self.limits.max_orders_per_second)
        if d is not None:
            return d
        d = check_rate_day(self.orders_today, n, self.limits.max_orders_per_day)
        if d is not None:
            return d
        d = check_open_orders(self.open_orders, n, self.limits.max_open_orders)
        if d is not None:
            return d
        d = check_cooldown(now_ns, slot.last_order_ns, lim.order_cooldown_ns, reduces)
        if d is not None:
            return d
        d = check_flip_only(lim.flip_only, side, slot.position_units, slot.pending_buy_units, slot.pending_sell_units)
        if d is not None:
            return d

        if reduces:
            return None
        ref = reference_price(order_type, price, trigger, last)
        d = check_order_value(qty, ref, lim.max_order_value_paise)
        if d is not None:
            return d
        d = check_trades_per_day(self.trades_today, self.limits.max_trades_per_day, False)
        if d is not None:
            return d

        return self._check_added_units(slot, side, qty, last if last > 0 else ref, ref)

    def check_modify(self, order: OrderEvent, qty_units: int, price_paise: int, trigger_paise: int,
                     now_ns: int) -> Denial | None:
        """Check new values for an open order (``qty_units`` is the new total, filled part
        included; the values as an order were checked at the edge, ``ipc.order_rules``). The
        quantity must exceed what is filled and fit one exchange order (freeze), the prices the
        band; a bigger quantity is extra risk and passes the trading state and the order value,
        position, exposure and funds checks for the extra units. Never raises."""
        spec = order.spec
        if qty_units <= order.filled_qty_units:
            return Denial(DenyReason.BAD_QTY, f"new qty {qty_units} must exceed the {order.filled_qty_units} units "
                                              f"already filled of {order.client_order_id} (cancel it instead)")
        if not (self._day_start_ns <= now_ns < self._day_end_ns):
            self._roll_day(now_ns)
        segment, security_id = spec.segment, spec.security_id
        inst = self._instruments.get((segment, security_id))
        d = check_instrument(inst, segment, security_id, self._day.day)  # type: ignore[union-attr]
        if d is not None:
            return d
        assert inst is not None
        d = check_freeze(qty_units, inst, False)  # one exchange order: a modify cannot be sliced
        if d is not None:
            return d
        slot = self._slot(order.strategy, segment, security_id, spec.product)
        lim = slot.limits
        last = slot.book.mark_paise
        d = check_band(price_paise, trigger_paise, last, lim.price_band_bps)
        if d is not None:
            return d
        extra = qty_units - spec.qty_units
        if extra <= 0:
            return None
        side = spec.side
        reduces = self._reduces(slot, side, extra)
        d = check_trading_state(self.status.state, reduces, False)
        if d is not None:
            return d
        if reduces:
            return None
        ref = reference_price(spec.order_type, price_paise, trigger_paise, last)
        d = check_order_value(qty_units, ref, lim.max_order_value_paise)
        if d is not None:
            return d
        return self._check_added_units(slot, side, extra, last if last > 0 else ref, ref)

    def _check_added_units(self, slot: _Slot, side: str, added_units: int, mark_paise: int,
                           ref_paise: int) -> Denial | None:
        """Position, gross and net exposure and funds with ``added_units`` more on ``side``: the
        tail of a new order's checks and of a modify that raises an order's quantity (one rule for
        both, so a modify cannot grow exposure past a limit a new order would meet)."""
        lim = slot.limits
        book = slot.book
        if side == "BUY":
            projected = slot.position_units + slot.pending_buy_units + added_units
            long_units = book.net_units + book.open_buy_units + added_units
            short_units = book.net_units - book.open_sell_units
            net_after = self.net_long_paise - book.long_paise + long_units * mark_paise
        else:
            projected = slot.position_units - slot.pending_sell_units - added_units
            long_units = book.net_units + book.open_buy_units
            short_units = book.net_units - book.open_sell_units - added_units
            net_after = self.net_short_paise - book.short_paise + short_units * mark_paise
        d = check_position(projected, mark_paise, lim.max_position_units, lim.max_position_value_paise)
        if d is not None:
            return d
        gross_after = self.gross_paise - book.gross_paise + max(abs(long_units), abs(short_units)) * mark_paise
        d = check_gross_exposure(gross_after, self.limits.max_gross_exposure_paise)
        if d is not None:
            return d
        d = check_net_exposure(net_after, self.limits.max_net_exposure_paise)
        if d is not None:
            return d
        return check_funds(required_cash_paise(added_units * ref_paise, self.limits.margin_bps), self.cash_paise,
                           self.reserved_paise)

    # --- commit and feedback -----------------------------------------------------------------

    def slice(self, intent: OrderIntent, freeze_qty_units: int | None = None) -> list[OrderIntent]:
        """Slices of ``intent`` at the instrument's (or the given) freeze quantity, whole lots."""
        inst = self._instruments.get((intent.spec.segment, intent.spec.security_id))
        lot = inst.lot_size_units if inst is not None else 1
        if freeze_qty_units is None:
            freeze_qty_units = inst.freeze_qty_units if inst is not None else 0
        return slice_intent(intent, freeze_qty_units, lot)

    def record_approved(self, intent: OrderIntent, now_ns: int) -> list[OrderIntent]:
        """Commit an intent that passed :meth:`check`; returns the orders to submit.

        Counts each slice in the rate window, orders today and open orders; adds the open
        quantity to the strategy and account figures; reserves cash for opening orders; remembers
        the intent id (and slice ids) for duplicate detection. With ``venue_slices`` the intent
        goes whole (the venue sends its slices as child orders of one order), each slice still
        counted in the rate window and orders today.
        """
        if not (self._day_start_ns <= now_ns < self._day_end_ns):
            self._roll_day(now_ns)
        spec = intent.spec
        slot = self._slot(intent.strategy, spec.segment, spec.security_id, spec.product)
        side = spec.side
        opening = not self._reduces(slot, side, spec.qty_units)
        ref = reference_price(spec.order_type, spec.price_paise, spec.trigger_price_paise, slot.book.mark_paise)
        orders = self.slice(intent)
        self._seen.add(intent.intent_id)
        if self.venue_slices:
            self._rate.record(now_ns, len(orders))
            self.orders_today += len(orders)
            orders = [intent]
        for order in orders:
            if not self.venue_slices:
                self._rate.record(now_ns)
                self.orders_today += 1
            self._seen.add(order.intent_id)
            self._add_open(order.intent_id, slot, side, order.spec.qty_units, ref, opening)
        slot.last_order_ns = now_ns
        slot.last_side = side
        return orders

    def approve(self, intent: OrderIntent, now_ns: int) -> Denial | list[OrderIntent]:
        """:meth:`check` then, if approved, :meth:`record_approved`."""
        d = self.check(intent, now_ns)
        if d is not None:
            return d
        return self.record_approved(intent, now_ns)

    def _add_open(self, key: str, slot: _Slot, side: str, qty_units: int, ref_price_paise: int, opening: bool) -> None:
        o = _Open(slot, side, 0, ref_price_paise, opening)
        self._open[key] = o
        self.open_orders += 1
        self._set_remaining(o, qty_units)

    def _set_remaining(self, o: _Open, remaining_units: int) -> None:
        delta = remaining_units - o.remaining_units
        o.remaining_units = remaining_units
        slot, book = o.slot, o.slot.book
        if o.side == "BUY":
            slot.pending_buy_units += delta
            book.open_buy_units += delta
        else:
            slot.pending_sell_units += delta
            book.open_sell_units += delta
        self._reterm(book)
        if o.opening:
            reserved = required_cash_paise(remaining_units * o.ref_price_paise, self.limits.margin_bps)
            self.reserved_paise += reserved - o.reserved_paise
            o.reserved_paise = reserved

    def release(self, intent_id: str) -> None:
        """Forget an approved order that will never be sent (a leg of a group refused as a whole):
        its open quantity and reserved cash are freed. Its count in the rate window and orders
        today stays: conservative, and those figures are about what was approved."""
        o = self._open.pop(intent_id, None)
        if o is not None:
            self._set_remaining(o, 0)
            self.open_orders -= 1

    def on_order_state(self, event: OrderEvent) -> None:
        """Track an order's open quantity from execution's order events.

        Keyed by ``intent_id`` (each slice has its own). An event for an order risk did not approve
        (placed elsewhere, found by reconciliation) starts tracking it; terminal states stop it.
        """
        key = event.intent_id or event.client_order_id
        if is_protective_stop(key):
            # Execution's stop for a position: contingent on it and never more than it (the OCO in
            # actors.execution.stops), so an exit or a flatten is not refused for its units.
            return
        spec = event.spec
        terminal = event.state in TERMINAL_ORDER_STATES
        remaining = 0 if terminal else max(spec.qty_units - event.filled_qty_units, 0)
        o = self._open.get(key)
        if o is None:
            if terminal:
                return
            slot = self._slot(event.strategy, spec.segment, spec.security_id, spec.product)
            ref = spec.price_paise or spec.trigger_price_paise or slot.book.mark_paise
            self._add_open(key, slot, spec.side, remaining, ref, not self._reduces(slot, spec.side, remaining))
            return
        self._set_remaining(o, remaining)
        if terminal:
            del self._open[key]
            self.open_orders -= 1

    def on_fill(self, fill: Fill) -> None:
        """Apply a fill: strategy and account position, cash, entries counted for trades per day."""
        slot = self._slot(fill.strategy, fill.segment, fill.security_id, fill.product)
        delta = fill.qty_units if fill.side == "BUY" else -fill.qty_units
        before = slot.position_units
        after = before + delta
        slot.position_units = after
        book = slot.book
        book.net_units += delta
        if book.mark_paise <= 0:
            book.mark_paise = fill.price_paise
        self._reterm(book)
        self.cash_paise -= delta * fill.price_paise + fill.charges_paise
        if after != 0 and (before == 0 or (before > 0) != (after > 0)):
            self.trades_today += 1

    def on_position(self, position: Position) -> None:
        """Set a strategy's position from execution's authoritative snapshot (idempotent)."""
        slot = self._slot(position.strategy, position.segment, position.security_id, position.product)
        delta = position.net_qty_units - slot.position_units
        slot.position_units = position.net_qty_units
        slot.book.net_units += delta
        self._reterm(slot.book)

    def on_mark(self, segment: int, security_id: int, price_paise: int) -> None:
        """Last traded price of an instrument (ticks, book updates); non-positive prices ignored."""
        # Hot path: once per tick for instruments risk holds.
        book = self._books.get((segment, security_id))
        if book is None:
            book = self._books[(segment, security_id)] = _Book()
        if type(price_paise) is int and price_paise > 0 and price_paise != book.mark_paise:
            book.mark_paise = price_paise
            self._reterm(book)

    # --- views -------------------------------------------------------------------------------

    def open_intent_ids(self) -> list[str]:
        """Intent ids (or client order ids) of the orders risk counts as working."""
        return list(self._open)

    def pending_units(self, strategy: str, segment: int, security_id: int, product: str) -> int:
        """Units of approved orders not yet terminal (buys + sells) for one position key."""
        slot = self._slots.get((strategy, segment, security_id, product))
        return slot.pending_buy_units + slot.pending_sell_units if slot is not None else 0

    def has_instrument(self, segment: int, security_id: int) -> bool:
        return (segment, security_id) in self._instruments

    def instrument_keys(self) -> list[tuple[int, int]]:
        """(segment, security id) of every instrument set."""
        return list(self._instruments)

    def positions(self) -> dict[PositionKey, int]:
        """Net units per (strategy, segment, security_id, product), as risk counts them."""
        return {key: slot.position_units for key, slot in self._slots.items()}

    def exposed(self) -> list[PositionKey]:
        """Every (strategy, segment, security_id, product) with a position or an approved order not yet
        terminal: what a flatten must watch (an order in flight can still open a position)."""
        return [key for key, slot in self._slots.items()
                if slot.position_units or slot.pending_buy_units or slot.pending_sell_units]

    def position_units(self, strategy: str, segment: int, security_id: int, product: str) -> int:
        slot = self._slots.get((strategy, segment, security_id, product))
        return slot.position_units if slot is not None else 0

    def orders_in_last_second(self, now_ns: int) -> int:
        return self._rate.count(now_ns)
