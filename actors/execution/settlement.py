"""Expiry settlement of a held derivative: pure math in integer paise and units (no I/O, no clock).

What the exchange does with a contract still open after its expiry (NSE/BSE rules):

* Index options (OPTIDX): cash-settled at their intrinsic value against the underlying's
  settlement price ``S`` (the index's close on the expiry day): a call is worth ``max(0, S - K)``
  per unit, a put ``max(0, K - S)``; out of the money it expires worthless (value 0).
* Index futures (FUTIDX): cash-settled at ``S``.
* Stock derivatives (OPTSTK, FUTSTK): physically settled. An in-the-money option and every future
  turn into a delivery of the stock: long call / short put / long future buy the shares, long
  put / short call / short future sell them. Out-of-the-money stock options expire worthless.
  ``physical=False`` settles them in cash like index contracts (a venue that does).

How the engine records it. The contract's position is closed by a *settlement fill* at the
contract's value per unit (intrinsic value, or ``S`` for a future): the ledger's average-cost fold
then books exactly ``net x value - open cost`` of realised P&L and moves ``net x value`` of cash,
as the exchange's settlement does. For physical settlement a second fill opens the stock position
at ``S`` (``DELIVERY_PRODUCT``, a delivery holding): option leg at intrinsic plus stock at ``S``
is, in cash, the strike price paid or received per share (``S - K + K = S``), and the holding is
valued at the market from its first mark.

Charges (``actors.execution.charges``, one schedule):

* cash-settled option: STT on exercise (``exercise_stt_paise``, 0.15 % of ``intrinsic x units``)
  on a long in-the-money option only: the holder exercises; the writer pays none, and a worthless
  option is not exercised.
* futures: none (no STT or transaction charge on a final settlement).
* physical delivery: the delivery leg pays the equity delivery charges on ``units x S`` (STT on
  both sides at the delivery rate, stamp duty on the buyer, exchange and SEBI fees, GST), which is
  how a physically settled contract is taxed; the option leg pays no exercise STT.

Fill ids. Settlement fills are named by what they settle, so settling twice (a restart, a
retried timer) is refused by the ledger as a duplicate fill: the close is
``SETTLE-<expiry yyyymmdd>-<segment>-<security id>-<strategy>-<product>`` (a position is per
product, ``ipc.messages.PositionKey``) and the delivery the same with ``/D``. Their
``client_order_id`` is ``SETTLE-<expiry>-<segment>-<security id>`` (no order). The close carries
the settled position's product, the delivery ``DELIVERY_PRODUCT``.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from actors.execution.charges import (
    DEFAULT_SCHEDULE,
    ChargeSchedule,
    SegmentClass,
    charges_for_fill,
    exercise_stt_paise,
)
from ipc.messages import DELIVERY_PRODUCT, SETTLEMENT_DELIVERY_SUFFIX, SETTLEMENT_PREFIX, Fill, Product, Side

SettlementKind = Literal["CASH", "WORTHLESS", "PHYSICAL"]
OPTION_TYPES: Final = ("CE", "PE")
INDEX_DERIVATIVES: Final = frozenset({"OPTIDX", "FUTIDX"})
STOCK_DERIVATIVES: Final = frozenset({"OPTSTK", "FUTSTK"})
SETTLED_TYPES: Final = INDEX_DERIVATIVES | STOCK_DERIVATIVES  # what the engine settles (not MCX, currency)
_OPTION_CLASSES: Final = {"OPTIDX": SegmentClass.INDEX_OPTIONS, "OPTSTK": SegmentClass.STOCK_OPTIONS}


class SettlementLeg(msgspec.Struct, frozen=True):
    """One settlement fill: ``qty_units`` on ``side`` at ``price_paise``, ``charges_paise`` in total
    (of which ``stt_paise`` is STT)."""

    side: Side
    qty_units: int
    price_paise: int
    charges_paise: int
    stt_paise: int


class SettlementPlan(msgspec.Struct, frozen=True):
    """How one position settles. ``value_per_unit_paise``: the contract's worth per unit at
    settlement; ``close`` closes the contract at it; ``delivery`` (physical only) moves the stock."""

    kind: SettlementKind
    value_per_unit_paise: int
    close: SettlementLeg
    delivery: SettlementLeg | None = None

    def cash_delta_paise(self) -> int:
        """What the settlement does to cash: each leg's ``+-qty x price - charges``."""
        return sum(_leg_cash(leg) for leg in (self.close, self.delivery) if leg is not None)

    def charges_paise(self) -> int:
        return sum(leg.charges_paise for leg in (self.close, self.delivery) if leg is not None)


def _leg_cash(leg: SettlementLeg) -> int:
    value = leg.qty_units * leg.price_paise
    return (value if leg.side == "SELL" else -value) - leg.charges_paise


def intrinsic_value_paise(option_type: str, strike_paise: int, underlying_paise: int) -> int:
    """Per-unit intrinsic value of an option at ``underlying_paise``: ``max(0, S - K)`` for a call
    (CE), ``max(0, K - S)`` for a put (PE). Raises ValueError for another type or a negative price."""
    if underlying_paise < 0 or strike_paise < 0:
        raise ValueError(f"intrinsic value: strike {strike_paise} and underlying {underlying_paise} paise "
                         "must not be negative")
    if option_type == "CE":
        return max(0, underlying_paise - strike_paise)
    if option_type == "PE":
        return max(0, strike_paise - underlying_paise)
    raise ValueError(f"intrinsic value: option type {option_type!r} is not CE or PE")


def settlement_pnl_paise(net_qty_units: int, open_cost_paise: int, value_per_unit_paise: int) -> int:
    """Gross realised P&L of settling a position of ``net_qty_units`` whose open quantity cost
    ``open_cost_paise`` (signed, as the ledger keeps it) at ``value_per_unit_paise``."""
    return net_qty_units * value_per_unit_paise - open_cost_paise


def plan_settlement(*, instrument_type: str, option_type: str, strike_paise: int, net_qty_units: int,
                    settlement_price_paise: int, physical: bool = True,
                    schedule: ChargeSchedule = DEFAULT_SCHEDULE) -> SettlementPlan:
    """How a position of ``net_qty_units`` (non-zero; long > 0) in a contract of
    ``instrument_type`` (OPTIDX, OPTSTK, FUTIDX, FUTSTK) settles against the underlying's
    ``settlement_price_paise`` (> 0). ``physical``: stock derivatives are delivered (the exchange
    rule); index derivatives are always cash-settled. Raises ValueError for a flat position, a
    non-positive price or a contract type the engine does not settle (module docstring)."""
    if net_qty_units == 0:
        raise ValueError("settlement: the position is flat")
    if settlement_price_paise <= 0:
        raise ValueError(f"settlement: settlement price {settlement_price_paise} paise is not positive")
    if instrument_type not in SETTLED_TYPES:
        raise ValueError(f"settlement: {instrument_type!r} contracts are not settled by the engine "
                         f"(only {', '.join(sorted(SETTLED_TYPES))})")
    qty = abs(net_qty_units)
    long = net_qty_units > 0
    close_side: Side = "SELL" if long else "BUY"
    is_option = instrument_type.startswith("OPT")
    if is_option:
        value = intrinsic_value_paise(option_type, strike_paise, settlement_price_paise)
    else:
        value = settlement_price_paise
    delivers = physical and instrument_type in STOCK_DERIVATIVES and value > 0
    if delivers:
        # Buyer of the stock: a long call or future, a short put (assigned).
        takes_stock = long != (option_type == "PE")
        side: Side = "BUY" if takes_stock else "SELL"
        charges = charges_for_fill(SegmentClass.EQUITY_DELIVERY, side, qty, settlement_price_paise, True, schedule)
        delivery = SettlementLeg(side, qty, settlement_price_paise, charges.total_paise, charges.stt_paise)
        return SettlementPlan("PHYSICAL", value, SettlementLeg(close_side, qty, value, 0, 0), delivery)
    stt = 0
    if is_option and long and value > 0:
        stt = exercise_stt_paise(_OPTION_CLASSES[instrument_type], value * qty, schedule)
    kind: SettlementKind = "CASH" if value > 0 else "WORTHLESS"
    return SettlementPlan(kind, value, SettlementLeg(close_side, qty, value, stt, stt))


# ------------------------------------------------------------------------------------------------
# The fills that record a plan
# ------------------------------------------------------------------------------------------------


def settlement_order_id(expiry_yyyymmdd: int, segment: int, security_id: int) -> str:
    """The ``client_order_id`` of a contract's settlement fills (there is no order)."""
    return f"{SETTLEMENT_PREFIX}{expiry_yyyymmdd}-{segment}-{security_id}"


def settlement_fill_id(expiry_yyyymmdd: int, segment: int, security_id: int, strategy: str, product: str) -> str:
    """The id of the fill that closes ``strategy``'s ``product`` position in the contract (module docstring)."""
    return f"{settlement_order_id(expiry_yyyymmdd, segment, security_id)}-{strategy}-{product}"


def is_settlement(client_order_id: str) -> bool:
    return client_order_id.startswith(SETTLEMENT_PREFIX)


def settlement_fills(plan: SettlementPlan, *, strategy: str, product: Product, segment: int, security_id: int,
                     expiry_yyyymmdd: int, delivery_segment: int = 0, delivery_security_id: int = 0,
                     ts_ns: int) -> list[Fill]:
    """The ledger fills of ``plan`` for ``strategy``'s ``product`` position: the close, then the
    delivery (which needs the stock's ``delivery_segment`` / ``delivery_security_id``). Raises
    ValueError when a delivery has no stock to go to."""
    coid = settlement_order_id(expiry_yyyymmdd, segment, security_id)
    fill_id = settlement_fill_id(expiry_yyyymmdd, segment, security_id, strategy, product)
    close = plan.close
    fills = [Fill(fill_id=fill_id, client_order_id=coid, venue_order_id="", strategy=strategy, segment=segment,
                  security_id=security_id, side=close.side, qty_units=close.qty_units, price_paise=close.price_paise,
                  charges_paise=close.charges_paise, ts_event_ns=ts_ns, ts_init_ns=ts_ns, product=product)]
    leg = plan.delivery
    if leg is not None:
        if delivery_security_id <= 0:
            raise ValueError(f"settlement {fill_id}: physical delivery needs the underlying stock, none was given")
        fills.append(Fill(fill_id=fill_id + SETTLEMENT_DELIVERY_SUFFIX, client_order_id=coid, venue_order_id="",
                          strategy=strategy, segment=delivery_segment, security_id=delivery_security_id,
                          side=leg.side, qty_units=leg.qty_units, price_paise=leg.price_paise,
                          charges_paise=leg.charges_paise, ts_event_ns=ts_ns, ts_init_ns=ts_ns,
                          product=DELIVERY_PRODUCT))
    return fills
