"""Reconciliation with the broker, and order slicing: pure functions over the ledger's view and
Dhan's (order book, trade book, positions). No I/O, no clock; the execution actor and the live
venue call them and act on what they return.

Fill identity. A fill's id is ``{Dhan order id}-{cumulative traded qty after it}``
(``dhan_wire.fill_id``). The order-update stream reports cumulative traded quantities; the trade
book lists trades whose running sum (in the order they happened) is the same scale, so a fill
seen on both gets one id. Exactly-once does not rest on the id alone (an update the stream never
delivered merges two trades into one increase): ``missing_fills`` applies only what lies above the
quantity already recorded for that Dhan order (its *watermark*), and the ledger refuses a
``fill_id`` it has already applied as the last line of defence.

External orders. An order in Dhan's book whose correlation id is none of ours (placed on
web.dhan.co, the app, another program) is recorded as an order of the strategy ``EXTERNAL``
(client order id ``EXT-<Dhan order id>``) and its trades as fills of that strategy. Decision: they
move the ``EXTERNAL`` book, never a strategy's: the account's total position per instrument
equals the broker's (what a trader checks), while no strategy sees a trade it did not make.
Risk counts the ``EXTERNAL`` book like any other (exposure, daily loss, square-off).

Slicing. An order above the instrument's freeze quantity goes to Dhan as child orders of at most
the largest whole-lot quantity under the freeze (``slice_quantities``), remainder last. Child
``n`` (from 1) has correlation id ``<client order id>_<n>`` (``child_correlation_id``): derived,
never stored, so a restarted venue finds every child by looking it up.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from typing import Final

import msgspec

from actors.execution.dhan_wire import (
    PRODUCTS_FROM_DHAN,
    BrokerOrder,
    BrokerPosition,
    BrokerTrade,
    FundLimits,
    fill_id,
    fill_id_order,
)
from engine.model.money import Rounding, div_round
from ipc.messages import SETTLEMENT_PREFIX, ConvertPosition, Fill, OrderEvent, OrderState, Position, PositionKey

EXTERNAL_STRATEGY: Final = "EXTERNAL"  # the broker's other orders; engine.config refuses it as a strategy name
EXTERNAL_PREFIX: Final = "EXT-"
EXTERNAL_REASON: Final = "EXTERNAL"
CHILD_SEPARATOR: Final = "_"  # Dhan's correlationId allows [a-zA-Z0-9 _-]; our ids never hold "_"
MAX_CORRELATION_ID: Final = 30
MAX_CHILDREN: Final = 99


# --------------------------------------------------------------------------------------------
# Slicing above the freeze quantity
# --------------------------------------------------------------------------------------------


def slice_size_units(lot_size_units: int, freeze_qty_units: int) -> int:
    """Largest whole-lot quantity not above the freeze quantity (0: none fits, or no freeze)."""
    if freeze_qty_units <= 0:
        return 0
    lot = lot_size_units if lot_size_units > 0 else 1
    return freeze_qty_units - freeze_qty_units % lot


def slice_quantities(qty_units: int, lot_size_units: int, freeze_qty_units: int) -> list[int]:
    """The child quantities of an order of ``qty_units``: ``[qty_units]`` when it is within the
    freeze quantity (or none is known); otherwise full slices then the remainder. Every child is
    a whole number of lots when ``qty_units`` is. Raises ValueError when no whole lot fits under
    the freeze quantity or more than ``MAX_CHILDREN`` children would be needed."""
    if freeze_qty_units <= 0 or qty_units <= freeze_qty_units:
        return [qty_units]
    size = slice_size_units(lot_size_units, freeze_qty_units)
    if size <= 0:
        raise ValueError(f"freeze qty {freeze_qty_units} is below one lot of {lot_size_units}")
    full, rest = divmod(qty_units, size)
    parts = [size] * full + ([rest] if rest else [])
    if len(parts) > MAX_CHILDREN:
        raise ValueError(f"qty {qty_units} would need {len(parts)} orders of at most {size} (freeze qty "
                         f"{freeze_qty_units}); at most {MAX_CHILDREN} are sent for one order")
    return parts


def child_correlation_id(client_order_id: str, n: int) -> str:
    """Correlation id of child ``n`` (1-based) of ``client_order_id``. Raises ValueError past
    Dhan's 30 characters."""
    cid = f"{client_order_id}{CHILD_SEPARATOR}{n}"
    if len(cid) > MAX_CORRELATION_ID:
        raise ValueError(f"child correlation id {cid!r} is longer than Dhan's {MAX_CORRELATION_ID} characters")
    return cid


def parent_of(correlation_id: str) -> tuple[str, int] | None:
    """``("SK7QX2-42", 3)`` for ``"SK7QX2-42_3"``; None when it is not a child id."""
    parent, sep, n = correlation_id.rpartition(CHILD_SEPARATOR)
    if not sep or not parent or not n.isdigit() or n.startswith("0"):
        return None
    return parent, int(n)


def owner_of(correlation_id: str, ours: Container[str]) -> str | None:
    """Our client order id behind a Dhan correlation id (the order itself, or the parent of a
    child), or None when the order is not ours."""
    if correlation_id and correlation_id in ours:
        return correlation_id
    parent = parent_of(correlation_id)
    if parent is not None and parent[0] in ours:
        return parent[0]
    return None


# --------------------------------------------------------------------------------------------
# Fills: what the trade book has that we have not recorded
# --------------------------------------------------------------------------------------------


class TradeFill(msgspec.Struct, frozen=True):
    """A fill to record for one Dhan order: ``fill_id`` on the cumulative scale (module docstring)."""

    fill_id: str
    qty_units: int
    price_paise: int
    ts_ns: int


def missing_fills(venue_order_id: str, trades: Iterable[BrokerTrade], filled_qty_units: int,
                  filled_value_paise: int) -> list[TradeFill]:
    """Fills of Dhan order ``venue_order_id`` that lie above what is recorded for it
    (``filled_qty_units`` worth ``filled_value_paise``), one per trade in the order they happened.

    A trade that straddles the recorded quantity (the stream reported a cumulative quantity the
    trade book splits differently) gives only its unrecorded part, priced so that the order's
    recorded value ends equal to the trade book's (half-even to the paisa). Nothing when the
    record is at or above the trade book (the book lags the stream)."""
    out: list[TradeFill] = []
    cum = 0
    value = 0
    for trade in sorted(trades, key=BrokerTrade.sort_key):
        start = cum
        cum += trade.qty_units
        value += trade.qty_units * trade.price_paise
        if cum <= filled_qty_units:
            continue
        if start >= filled_qty_units:
            out.append(TradeFill(fill_id(venue_order_id, cum), trade.qty_units, trade.price_paise, trade.ts_ns))
            continue
        part = cum - filled_qty_units
        part_value = value - filled_value_paise
        price = div_round(part_value, part, Rounding.HALF_EVEN) if part_value > 0 else trade.price_paise
        out.append(TradeFill(fill_id(venue_order_id, cum), part, price, trade.ts_ns))
    return out


def recorded_by_venue_order(fills: Iterable[Fill]) -> dict[str, tuple[int, int]]:
    """``{Dhan order id: (qty, value)}`` recorded in the ledger, from the fill ids (a sliced
    order's fills belong to its children's Dhan orders)."""
    out: dict[str, tuple[int, int]] = {}
    for fill in fills:
        vid = fill_id_order(fill.fill_id)
        if vid:
            qty, value = out.get(vid, (0, 0))
            out[vid] = (qty + fill.qty_units, value + fill.qty_units * fill.price_paise)
    return out


def trades_by_order(trades: Iterable[BrokerTrade]) -> dict[str, list[BrokerTrade]]:
    out: dict[str, list[BrokerTrade]] = {}
    for trade in trades:
        out.setdefault(trade.venue_order_id, []).append(trade)
    return out


# --------------------------------------------------------------------------------------------
# External orders
# --------------------------------------------------------------------------------------------


def external_client_order_id(venue_order_id: str) -> str:
    return f"{EXTERNAL_PREFIX}{venue_order_id}"


def is_external(client_order_id: str) -> bool:
    return client_order_id.startswith(EXTERNAL_PREFIX)


def external_state(status: str, filled_qty_units: int, qty_units: int) -> OrderState:
    """Our state for a Dhan status of an order we did not place, given what is recorded filled."""
    if qty_units > 0 and filled_qty_units >= qty_units:
        return OrderState.FILLED
    if status == "CANCELLED" or (status == "REJECTED" and filled_qty_units):
        return OrderState.CANCELED
    if status == "REJECTED":
        return OrderState.REJECTED
    if status == "EXPIRED":
        return OrderState.EXPIRED
    return OrderState.PARTIALLY_FILLED if filled_qty_units else OrderState.ACCEPTED


def external_order_event(row: BrokerOrder, filled_qty_units: int, filled_value_paise: int,
                         now_ns: int) -> OrderEvent:
    """The ledger record of an order Dhan has and we did not place (module docstring)."""
    coid = external_client_order_id(row.venue_order_id)
    corr = f"correlationId {row.correlation_id!r}" if row.correlation_id else "no correlationId"
    return OrderEvent(
        client_order_id=coid, intent_id=coid, strategy=EXTERNAL_STRATEGY, spec=row.spec,
        state=external_state(row.status, filled_qty_units, row.spec.qty_units), filled_qty_units=filled_qty_units,
        filled_value_paise=filled_value_paise, venue_order_id=row.venue_order_id, reason_code=EXTERNAL_REASON,
        reason=f"placed outside Shikra ({corr}); Dhan status {row.status}" + (f": {row.reason}" if row.reason else ""),
        ts_event_ns=now_ns, ts_init_ns=now_ns, ts_created_ns=row.ts_created_ns)


# --------------------------------------------------------------------------------------------
# Positions
# --------------------------------------------------------------------------------------------


class PositionDifference(msgspec.Struct, frozen=True):
    """An instrument and product where the ledger's net quantity (all strategies, ``EXTERNAL``
    included) differs from the broker's."""

    segment: int
    security_id: int
    product: str
    ledger_units: int
    broker_units: int

    def describe(self, label: str, broker: str = "Dhan") -> str:
        return f"{label} {self.product}: ledger {self.ledger_units:+d}, {broker} {self.broker_units:+d}"


def position_differences(ledger: Iterable[Position], broker: Iterable[BrokerPosition]) -> list[PositionDifference]:
    """Every instrument and product whose net quantity differs, ordered by (segment, security
    id, product). Dhan's rows carry ``productType``; MTF counts as CNC and CO/BO as INTRADAY
    (``PRODUCTS_FROM_DHAN``, as for its orders), an unknown one as itself (always a difference)."""
    ours: dict[tuple[int, int, str], int] = {}
    for pos in ledger:
        key = (pos.segment, pos.security_id, pos.product)
        ours[key] = ours.get(key, 0) + pos.net_qty_units
    theirs: dict[tuple[int, int, str], int] = {}
    for row in broker:
        key = (row.segment, row.security_id, PRODUCTS_FROM_DHAN.get(row.product, row.product))
        theirs[key] = theirs.get(key, 0) + row.net_qty_units
    return [PositionDifference(seg, sid, product, ours.get((seg, sid, product), 0), theirs.get((seg, sid, product), 0))
            for seg, sid, product in sorted(ours.keys() | theirs.keys())
            if ours.get((seg, sid, product), 0) != theirs.get((seg, sid, product), 0)]


# --------------------------------------------------------------------------------------------
# What the venue hands the actor
# --------------------------------------------------------------------------------------------


class BrokerSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Dhan's order book, trade book and positions fetched for one reconciliation (and the fund
    limits when they were asked for). ``row_errors`` lists rows that did not parse (skipped)."""

    orders: list[BrokerOrder]
    trades: list[BrokerTrade]
    positions: list[BrokerPosition]
    funds: FundLimits | None
    row_errors: list[str]
    ts_ns: int


class SnapshotFailed(msgspec.Struct, frozen=True):
    """A reconciliation could not fetch what it needs; ``detail`` says which call and why."""

    detail: str
    ts_ns: int


class FundsUpdate(msgspec.Struct, frozen=True):
    """A periodic fund-limit answer."""

    funds: FundLimits
    ts_ns: int


class ConversionDone(msgspec.Struct, frozen=True):
    """Dhan answered a position conversion (``POST /positions/convert``): ``ok``, or why not
    (``reason_code`` a RejectReason value, ``detail`` Dhan's code and message)."""

    command: ConvertPosition
    ok: bool
    reason_code: str
    detail: str
    ts_ns: int


AccountUpdate = BrokerSnapshot | SnapshotFailed | FundsUpdate | ConversionDone


def orders_by_owner(rows: Iterable[BrokerOrder], ours: Container[str]) -> tuple[dict[str, list[BrokerOrder]],
                                                                                 list[BrokerOrder]]:
    """Dhan's orders split into ours (by our client order id: an order or its children) and the
    external ones."""
    mine: dict[str, list[BrokerOrder]] = {}
    external: list[BrokerOrder] = []
    for row in rows:
        owner = owner_of(row.correlation_id, ours)
        if owner is None:
            external.append(row)
        else:
            mine.setdefault(owner, []).append(row)
    return mine, external


def ledger_net_units(positions: Mapping[PositionKey, Position]) -> dict[tuple[int, int], int]:
    """Net units per instrument, every strategy and product together."""
    out: dict[tuple[int, int], int] = {}
    for (_strategy, segment, security_id, _product), pos in positions.items():
        out[(segment, security_id)] = out.get((segment, security_id), 0) + pos.net_qty_units
    return out


# --------------------------------------------------------------------------------------------
# The broker's settlement of an expired contract
# --------------------------------------------------------------------------------------------
#
# The engine settles a contract held to expiry itself (``actors.execution.settlement``): its
# settlement fills close the position and, for a physical delivery, open the stock's. Dhan then
# reports the exchange's settlement as an order none of ours (no correlation id) with a trade at
# the settlement price. Recording it as an EXTERNAL order with fills would move the account twice.
# Instead such an order, on an instrument and side the engine's settlement moved and within the
# units it moved, is matched: recorded once as an EXTERNAL order with reason SETTLEMENT, FILLED,
# and no fills. Until the broker has reported it, its positions may still show the contract (and
# not the delivered stock): ``settlement_lag_units`` is how far the broker may lag the ledger for
# that reason, and a position difference of exactly that is awaited, not alerted.

SETTLEMENT_REASON: Final = "SETTLEMENT"
SettledKey = tuple[int, int, str]  # (segment, security id, side of the settlement fill)


def settlement_units(fills: Iterable[Fill]) -> dict[SettledKey, int]:
    """Units the engine's settlement fills moved, per instrument and side."""
    out: dict[SettledKey, int] = {}
    for fill in fills:
        if fill.client_order_id.startswith(SETTLEMENT_PREFIX):
            key = (fill.segment, fill.security_id, fill.side)
            out[key] = out.get(key, 0) + fill.qty_units
    return out


def matched_settlement_units(orders: Iterable[OrderEvent]) -> dict[SettledKey, int]:
    """Units of the broker's settlement orders already matched, per instrument and side."""
    out: dict[SettledKey, int] = {}
    for order in orders:
        if order.reason_code == SETTLEMENT_REASON:
            key = (order.spec.segment, order.spec.security_id, order.spec.side)
            out[key] = out.get(key, 0) + order.filled_qty_units
    return out


def matches_settlement(row: BrokerOrder, traded_units: int, settled: Mapping[SettledKey, int],
                       matched: Mapping[SettledKey, int]) -> bool:
    """Whether a broker order none of ours, which traded ``traded_units``, is the broker's report of
    a settlement the engine recorded: same instrument and side, within the units not yet matched."""
    key = (row.spec.segment, row.spec.security_id, row.spec.side)
    return 0 < traded_units <= settled.get(key, 0) - matched.get(key, 0)


def settlement_order_event(row: BrokerOrder, traded_units: int, traded_value_paise: int, now_ns: int) -> OrderEvent:
    """The ledger record of the broker's settlement order: FILLED, with no fills of its own."""
    return OrderEvent(
        client_order_id=external_client_order_id(row.venue_order_id),
        intent_id=external_client_order_id(row.venue_order_id), strategy=EXTERNAL_STRATEGY, spec=row.spec,
        state=OrderState.FILLED, filled_qty_units=traded_units, filled_value_paise=traded_value_paise,
        venue_order_id=row.venue_order_id, reason_code=SETTLEMENT_REASON,
        reason=f"Dhan's settlement of an expired contract ({row.spec.side} {traded_units}), matched to the engine's "
               "own settlement fills: recorded without fills, the engine's settlement moved the position",
        ts_event_ns=now_ns, ts_init_ns=now_ns, ts_created_ns=row.ts_created_ns)


def settlement_lag_units(settled: Mapping[SettledKey, int], matched: Mapping[SettledKey, int]) -> dict[tuple[int, int], int]:
    """Per instrument: broker net - ledger net to expect while the broker has not reported the
    settlements the engine recorded (a SELL settlement left the broker long that much more)."""
    out: dict[tuple[int, int], int] = {}
    for (segment, security_id, side), units in settled.items():
        pending = units - matched.get((segment, security_id, side), 0)
        if pending > 0:
            out[(segment, security_id)] = out.get((segment, security_id), 0) + (pending if side == "SELL" else -pending)
    return {key: lag for key, lag in out.items() if lag}
