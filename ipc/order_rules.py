"""What makes an order valid: checked once, at the edge where an order is made.

The edges are the strategy context's ``submit`` / ``submit_group`` and the control API's place and
modify: each builds an ``OrderSpec`` and calls ``check_order`` with the instrument's lot size and
tick. Past the edge everything trusts the spec (risk checks limits, not shapes; execution and the
venues work it). Messages decoded from the bus are type-checked by their schema already; what a
schema cannot say (a price on a MARKET order, a quantity that is not a whole number of lots) is
said here.

Never raises, whatever the spec holds: a Struct built in Python is not type-checked, so types are
tested before values. Every refusal is a ``Denial`` with its ``DenyReason`` and the numbers.
"""

from __future__ import annotations

from ipc.messages import (
    ORDER_TYPES,
    PRICED_ORDER_TYPES,
    PRODUCTS,
    SIDES,
    TRIGGERED_ORDER_TYPES,
    VALIDITIES,
    OrderSpec,
)
from ipc.reasons import Denial, DenyReason
from ipc.segments import EQUITY_SEGMENTS, Segment, instrument_label


def _where(spec: OrderSpec) -> str:
    segment, security_id = spec.segment, spec.security_id
    if type(segment) in (int, Segment) and type(security_id) is int:
        return instrument_label(segment, security_id)
    return f"{segment!r}:{security_id!r}"  # not an instrument id at all: show what was given


def _closed_sets(spec: OrderSpec) -> Denial | None:
    if type(spec.side) is not str or spec.side not in SIDES:
        return Denial(DenyReason.BAD_SIDE, f"side {spec.side!r} is not BUY or SELL")
    if type(spec.order_type) is not str or spec.order_type not in ORDER_TYPES:
        return Denial(DenyReason.BAD_ORDER_TYPE, f"order type {spec.order_type!r} is not one of MARKET, LIMIT, SL, SL_M")
    if type(spec.validity) is not str or spec.validity not in VALIDITIES:
        return Denial(DenyReason.BAD_VALIDITY, f"validity {spec.validity!r} is not DAY or IOC")
    if type(spec.product) is not str or spec.product not in PRODUCTS:
        return Denial(DenyReason.BAD_PRODUCT, f"product {spec.product!r} is not INTRADAY, CNC or MARGIN")
    return None


def _prices(spec: OrderSpec) -> Denial | None:
    """MARKET: price 0, trigger 0. LIMIT: price > 0, trigger 0. SL: price > 0, trigger > 0, and the
    limit not worse than the trigger (BUY price >= trigger, SELL price <= trigger: the limit beyond
    the trigger could never fill). SL_M: price 0, trigger > 0."""
    price, trigger, kind = spec.price_paise, spec.trigger_price_paise, spec.order_type
    if type(price) is not int:
        return Denial(DenyReason.BAD_PRICE, f"price {price!r} is not an integer number of paise")
    if type(trigger) is not int:
        return Denial(DenyReason.BAD_PRICE, f"trigger price {trigger!r} is not an integer number of paise")
    if price < 0 or trigger < 0:
        return Denial(DenyReason.BAD_PRICE, f"price {price} / trigger {trigger} paise must not be negative")
    needs_price = kind in PRICED_ORDER_TYPES
    if needs_price != (price > 0):
        what = "needs a price > 0" if needs_price else "must have price 0"
        return Denial(DenyReason.BAD_PRICE, f"{kind} order {what}; got price {price} paise")
    needs_trigger = kind in TRIGGERED_ORDER_TYPES
    if needs_trigger != (trigger > 0):
        what = "needs a trigger price > 0" if needs_trigger else "must have trigger price 0"
        return Denial(DenyReason.BAD_PRICE, f"{kind} order {what}; got trigger {trigger} paise")
    if kind == "SL" and (price < trigger if spec.side == "BUY" else price > trigger):
        return Denial(DenyReason.BAD_PRICE, f"SL {spec.side} limit price {price} paise is on the wrong side of "
                                            f"trigger {trigger} paise")
    return None


def check_order(spec: object, lot_size_units: int = 1, tick_paise: int = 1) -> Denial | None:
    """The first reason ``spec`` is not an order that can be made for an instrument with this lot
    size (units) and tick (paise), or None. A lot size or tick below 1 checks nothing of its kind
    (an instrument master without them)."""
    if type(spec) is not OrderSpec:
        return Denial(DenyReason.BAD_INTENT, f"expected an OrderSpec, got {type(spec).__name__}")
    if type(spec.segment) not in (int, Segment) or type(spec.security_id) is not int:
        return Denial(DenyReason.UNKNOWN_INSTRUMENT, f"no instrument {_where(spec)}")
    denial = _closed_sets(spec)
    if denial is not None:
        return denial
    if spec.product == "CNC" and spec.segment not in EQUITY_SEGMENTS:
        return Denial(DenyReason.PRODUCT_NOT_FOR_SEGMENT, f"product CNC is for equity segments only, not {_where(spec)}")
    qty = spec.qty_units
    if type(qty) is not int:
        return Denial(DenyReason.BAD_QTY, f"qty {qty!r} is not an integer number of units")
    if qty <= 0:
        return Denial(DenyReason.QTY_NOT_POSITIVE, f"qty {qty} must be positive")
    denial = _prices(spec)
    if denial is not None:
        return denial
    if lot_size_units > 1 and qty % lot_size_units:
        return Denial(DenyReason.QTY_NOT_LOT_MULTIPLE,
                      f"qty {qty} is not a multiple of lot size {lot_size_units} for {_where(spec)}")
    if tick_paise > 1:
        for what, paise in (("price", spec.price_paise), ("trigger", spec.trigger_price_paise)):
            if paise % tick_paise:
                return Denial(DenyReason.PRICE_NOT_ON_TICK, f"{what} {paise} paise is not a multiple of tick "
                                                            f"{tick_paise} paise for {_where(spec)}")
    return None
