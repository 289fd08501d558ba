"""What each strategy holds and has working, from the engine's reports, never from its wishes.

A strategy asks for orders; risk may deny them, the venue may reject them, they may fill in part.
Its position is what *filled* (``Fill``, corrected by execution's absolute ``Position``), and
its working orders are the intents sent and not yet dead or filled (``OrderEvent``,
``OrderDenied``). A strategy that decides on these two never mistakes a denied exit for a closed
position. One ``Exposure`` per strategy actor (the live context) and per test context.

Units are signed by side where they are a position; working units are kept per side (both
positive) because a working sell does not cancel a working buy: either may die. Both are kept per
product (``PositionKey``) and asked for per instrument: one product, or all of them together.
"""

from __future__ import annotations

from typing import NamedTuple

from ipc.messages import (
    PRODUCTS,
    TERMINAL_ORDER_STATES,
    Fill,
    OrderEvent,
    OrderIntent,
    Position,
    PositionKey,
    is_protective_stop,
    position_key,
    sliced_from,
)

Key = tuple[str, int, int]  # (strategy, segment, security_id): one instrument of one strategy


class WorkingUnits(NamedTuple):
    """Units of a strategy's live orders in one instrument not yet filled, per side."""

    buy_units: int
    sell_units: int


class _Working:
    __slots__ = ("key", "buy", "qty_units", "filled_units")

    def __init__(self, key: PositionKey, buy: bool, qty_units: int) -> None:
        self.key = key
        self.buy = buy
        self.qty_units = qty_units
        self.filled_units = 0


class Exposure:
    """Positions from fills and working orders from order events (see the module docstring)."""

    def __init__(self) -> None:
        self._positions: dict[PositionKey, int] = {}
        self._orders: dict[str, _Working] = {}  # intent id -> its unfilled rest
        self._working: dict[PositionKey, list[int]] = {}  # [buy units, sell units] not yet filled

    # Queries ------------------------------------------------------------------------------------
    def position(self, key: Key, product: str | None = None) -> int:
        """Net units held in one product, or in all of them (None)."""
        if product is not None:
            return self._positions.get((*key, product), 0)
        return sum(self._positions.get((*key, p), 0) for p in PRODUCTS)

    def working(self, key: Key, product: str | None = None) -> WorkingUnits:
        """Units of live orders not yet filled, per side, in one product or in all (None)."""
        buy = sell = 0
        for p in (product,) if product is not None else PRODUCTS:
            units = self._working.get((*key, p))
            if units is not None:
                buy += units[0]
                sell += units[1]
        return WorkingUnits(buy, sell)

    def is_working(self, intent_id: str) -> bool:
        """The intent, or any slice of it, still works."""
        if intent_id in self._orders:
            return True
        prefix = intent_id + "."
        return any(k.startswith(prefix) and sliced_from(k) == intent_id for k in self._orders)

    # Reports ------------------------------------------------------------------------------------
    def sent(self, intent: OrderIntent) -> None:
        """An intent left for risk: it works until its order dies or fills, or risk denies it."""
        spec = intent.spec
        if intent.intent_id in self._orders:
            return
        order = _Working((intent.strategy, spec.segment, spec.security_id, spec.product), spec.side == "BUY",
                         spec.qty_units)
        self._orders[intent.intent_id] = order
        self._add(order, spec.qty_units)

    def seed_order(self, order: OrderEvent) -> None:
        """An order the ledger holds open (a restart): working with what is left of it."""
        spec = order.spec
        if order.intent_id in self._orders or order.state in TERMINAL_ORDER_STATES:
            return
        if is_protective_stop(order.intent_id):
            return  # execution's, contingent on the position: not the strategy's working exposure
        w = _Working((order.strategy, spec.segment, spec.security_id, spec.product), spec.side == "BUY",
                     spec.qty_units)
        w.filled_units = order.filled_qty_units
        self._orders[order.intent_id] = w
        self._add(w, spec.qty_units - order.filled_qty_units)

    def on_order(self, event: OrderEvent) -> None:
        w = self._orders.get(event.intent_id)
        if w is None:
            w = self._slice_seen(event)
            if w is None:
                return
        # A modify may change the quantity; what works is the rest of the order as it stands.
        before = w.qty_units - w.filled_units
        w.qty_units, w.filled_units = event.spec.qty_units, event.filled_qty_units
        if event.state in TERMINAL_ORDER_STATES:
            del self._orders[event.intent_id]
            self._add(w, -before)
        else:
            self._add(w, (w.qty_units - w.filled_units) - before)

    def _slice_seen(self, event: OrderEvent) -> _Working | None:
        """The first event of a slice (risk split the intent at the freeze quantity; each slice is
        an order with the id ``<intent>.<n>``): its units move from the intent to the slice, so the
        working total stays the same and each slice then works, fills or dies on its own."""
        parent_id = sliced_from(event.intent_id)
        parent = self._orders.get(parent_id) if parent_id != event.intent_id else None
        if parent is None:
            return None
        units = min(event.spec.qty_units, parent.qty_units - parent.filled_units)
        w = _Working(parent.key, parent.buy, units)
        self._orders[event.intent_id] = w
        parent.qty_units -= units
        if parent.qty_units <= parent.filled_units:
            del self._orders[parent_id]
        return w

    def dropped(self, intent_id: str) -> None:
        """Risk denied the intent (or it was never sent on): nothing of it works any more."""
        w = self._orders.pop(intent_id, None)
        if w is not None:
            self._add(w, -(w.qty_units - w.filled_units))

    def on_fill(self, fill: Fill) -> None:
        key = position_key(fill)
        signed = fill.qty_units if fill.side == "BUY" else -fill.qty_units
        self._positions[key] = self._positions.get(key, 0) + signed

    def on_position(self, position: Position) -> None:
        """Execution's absolute figure (after each fill, a conversion between products, and on a
        restart from the ledger) wins: a fill counted twice across a restart is corrected by the
        next one."""
        self._positions[position_key(position)] = position.net_qty_units

    def _add(self, w: _Working, units: int) -> None:
        sides = self._working.setdefault(w.key, [0, 0])
        sides[0 if w.buy else 1] += units
        if sides == [0, 0]:
            del self._working[w.key]
