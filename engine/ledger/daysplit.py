"""The day's P&L split into what was carried in and what was traded today, per position
(strategy, instrument, product), from the ledger's events. Pure; integer paise.

``day_split(events, day_start_ns, marks)``: the events before ``day_start_ns`` (the IST day's start)
give each position as it was carried in (units and open cost: the fold's own figures). From then
on each position is two lots: the *carry* lot (the units carried in, at their open cost) and the
*day* lot (what today's fills opened). A fill on the position's side adds to the day lot; one
against it closes the carry lot first, then the day lot (each at its own average cost, the fold's
floor rule); units beyond flat open the day lot on the other side. A conversion between products
(``PositionConverted``) moves day-lot units first, then carried ones, into the same lot of the
destination. Unrealised P&L of a lot = its open units x the instrument's mark - its open cost
(0 without a mark).

The lots are first-in-first-out across the day boundary, while the ledger's positions use one
average cost: the realised / unrealised parts may differ from ``positions``, their sum (the P&L
of the day, before charges) is the same to the paisa.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from engine.ledger.fold import fold, fold_events
from engine.ledger.records import LedgerEvent, PositionConverted, event_time_ns
from ipc.messages import Fill, PositionKey, position_key


class DayPnl(msgspec.Struct, frozen=True, kw_only=True):
    """One position's day, carried-in vs traded today (units signed, paise)."""

    strategy: str
    segment: int
    security_id: int
    product: str
    carried_qty_units: int  # held at the day's start
    carried_cost_paise: int  # their open cost then (signed)
    carry_open_qty_units: int  # of the carried units, still open
    carry_realised_pnl_paise: int
    carry_unrealised_pnl_paise: int
    day_open_qty_units: int
    day_realised_pnl_paise: int
    day_unrealised_pnl_paise: int
    day_charges_paise: int  # charges of today's fills


class _Lot:
    __slots__ = ("units", "cost")

    def __init__(self, units: int = 0, cost: int = 0) -> None:
        self.units = units
        self.cost = cost

    def close(self, qty: int, price: int) -> tuple[int, int]:
        """Close up to ``qty`` units at ``price``: (units closed, realised P&L)."""
        held = abs(self.units)
        closed = min(qty, held)
        if not closed:
            return 0, 0
        removed = abs(self.cost) * closed // held
        if self.units > 0:
            realised = closed * price - removed
            self.cost -= removed
            self.units -= closed
        else:
            realised = removed - closed * price
            self.cost += removed
            self.units += closed
        return closed, realised

    def take(self, qty: int) -> tuple[int, int]:
        """Remove up to ``qty`` units with their share of the cost: (signed units, cost)."""
        held = abs(self.units)
        moved = min(qty, held)
        if not moved:
            return 0, 0
        cost = abs(self.cost) * moved // held
        sign = 1 if self.units > 0 else -1
        self.units -= sign * moved
        self.cost -= sign * cost
        return sign * moved, sign * cost

    def unrealised(self, mark: int | None) -> int:
        return self.units * mark - self.cost if mark is not None and self.units else 0


class _Day:
    __slots__ = ("carry", "day", "carried", "carried_cost", "carry_realised", "day_realised", "charges")

    def __init__(self, units: int, cost: int) -> None:
        self.carry = _Lot(units, cost)
        self.day = _Lot()
        self.carried, self.carried_cost = units, cost
        self.carry_realised = self.day_realised = self.charges = 0

    def net(self) -> int:
        return self.carry.units + self.day.units

    def fill(self, fill: Fill) -> None:
        direction = 1 if fill.side == "BUY" else -1
        qty, price = fill.qty_units, fill.price_paise
        self.charges += fill.charges_paise
        net = self.net()
        if net and (net > 0) != (direction > 0):
            closed, realised = self.carry.close(qty, price)
            self.carry_realised += realised
            qty -= closed
            closed, realised = self.day.close(qty, price)
            self.day_realised += realised
            qty -= closed
        if qty:
            self.day.units += direction * qty
            self.day.cost += direction * qty * price


def day_split(events: Iterable[tuple[int, LedgerEvent]], day_start_ns: int,
              marks: Mapping[tuple[int, int], int] | None = None) -> dict[PositionKey, DayPnl]:
    """Per position, its day from ``day_start_ns`` on (module docstring); ``marks`` maps
    (segment, security id) to a mark in paise. Positions flat all day are left out."""
    before: list[tuple[int, LedgerEvent]] = []
    today: list[tuple[int, LedgerEvent]] = []
    for seq, event in events:
        if not isinstance(event, (Fill, PositionConverted)):
            continue  # nothing else moves a position
        if not today and event_time_ns(event) < day_start_ns:
            before.append((seq, event))
        else:
            today.append((seq, event))
    tables, _refused = fold_events(before)
    days: dict[PositionKey, _Day] = {key: _Day(p.net_qty_units, p.open_cost_paise)
                                     for key, p in tables.positions.items() if p.net_qty_units}
    for seq, event in today:
        result = fold(tables, seq, event)  # what the ledger refused (a duplicate fill) moves nothing
        if result.issue is not None:
            continue
        tables.apply(result.changes)
        if isinstance(event, Fill):
            days.setdefault(position_key(event), _Day(0, 0)).fill(event)
        else:
            _convert(days, event)
    marks = marks or {}
    out: dict[PositionKey, DayPnl] = {}
    for key, d in sorted(days.items()):
        if not (d.carried or d.net() or d.carry_realised or d.day_realised or d.charges):
            continue
        mark = marks.get((key[1], key[2]))
        out[key] = DayPnl(strategy=key[0], segment=key[1], security_id=key[2], product=key[3],
                          carried_qty_units=d.carried, carried_cost_paise=d.carried_cost,
                          carry_open_qty_units=d.carry.units, carry_realised_pnl_paise=d.carry_realised,
                          carry_unrealised_pnl_paise=d.carry.unrealised(mark), day_open_qty_units=d.day.units,
                          day_realised_pnl_paise=d.day_realised, day_unrealised_pnl_paise=d.day.unrealised(mark),
                          day_charges_paise=d.charges)
    return out


def _convert(days: dict[PositionKey, _Day], converted: PositionConverted) -> None:
    base = (converted.strategy, converted.segment, converted.security_id)
    source = days.setdefault((*base, converted.from_product), _Day(0, 0))
    destination = days.setdefault((*base, converted.to_product), _Day(0, 0))
    left = converted.qty_units
    for lot_name in ("day", "carry"):
        units, cost = getattr(source, lot_name).take(left)
        lot = getattr(destination, lot_name)
        lot.units += units
        lot.cost += cost
        left -= abs(units)
