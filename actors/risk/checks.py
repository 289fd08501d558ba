"""Pre-trade checks as pure functions: values in, ``None`` (approve) or a :class:`Denial` out.

Each ``check_*`` function takes values and returns ``None`` or a :class:`Denial` with a
:class:`DenyReason` and a message that names the numbers involved. Nothing here holds state or
reads a clock: time arrives as ``now_ns`` arguments. The stateful :class:`~actors.risk.engine.RiskEngine`
keeps the usage figures and calls these in a fixed order. The order's own fields (side, type,
quantity, prices for the type, lot and tick) were checked once at the edge that made it
(``ipc.order_rules``: the strategy context, the control API); risk trusts the typed intent and
checks limits.

Conventions:

- A limit is the largest value allowed: at the limit passes, one unit past it is denied.
- Reference price of an intent (for value, position value, funds): LIMIT and SL use the limit
  price, SL_M its trigger price, MARKET the last price (denied NO_LAST_PRICE if none is known).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container
from typing import Literal

import msgspec

from actors.risk.state import ADMISSION, Admission
from engine.model.calendar import SessionCalendar
from engine.model.ist import IST_OFFSET_NS, ist_date
from ipc.messages import OrderDenied, OrderIntent, TradingState, slice_intent_id
from ipc.reasons import Denial, DenyReason
from ipc.segments import instrument_label, segment_label

BPS = 10_000


InstrumentKind = Literal[
    "EQUITY", "FUTIDX", "FUTSTK", "OPTIDX", "OPTSTK", "FUTCOM", "OPTFUT", "FUTCUR", "OPTCUR", "INDEX"
]


class InstrumentLimits(msgspec.Struct, frozen=True):
    """What risk needs to know about one instrument (adapt from the instrument master).

    ``freeze_qty_units`` is the largest quantity one exchange order may carry (0: no limit).
    ``expiry_ist_day`` is the expiry date as days since 1970-01-01 (``engine.model.ist.ist_day_number``),
    0 for none; the instrument trades up to and including that day. ``kind`` INDEX never trades.
    """

    segment: int
    security_id: int
    lot_size_units: int
    tick_paise: int
    freeze_qty_units: int = 0
    expiry_ist_day: int = 0
    tradable: bool = True
    kind: InstrumentKind = "EQUITY"
    symbol: str = ""


def _ist(ts_ns: int) -> str:
    """An epoch-ns instant as IST wall time, for messages."""
    t = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=(ts_ns + IST_OFFSET_NS) // 1000)
    return f"{t:%Y-%m-%d %H:%M:%S} IST"


def _day(ist_day_number: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=ist_day_number)


# --------------------------------------------------------------------------------------------
# Instrument
# --------------------------------------------------------------------------------------------


def check_instrument(
    inst: InstrumentLimits | None, segment: object, security_id: object, today_ist_day: int
) -> Denial | None:
    """The instrument is known, tradable and not past its expiry day."""
    if inst is None:
        return Denial(DenyReason.UNKNOWN_INSTRUMENT, f"no instrument {instrument_label(segment, security_id)}")
    if not inst.tradable or inst.kind == "INDEX":
        return Denial(DenyReason.NOT_TRADABLE, f"{instrument_label(segment, security_id)} ({inst.kind}) is not tradable")
    if inst.expiry_ist_day and today_ist_day > inst.expiry_ist_day:
        return Denial(
            DenyReason.INSTRUMENT_EXPIRED,
            f"{instrument_label(segment, security_id)} expired on {_day(inst.expiry_ist_day)} (IST day {inst.expiry_ist_day}); "
            f"today is {_day(today_ist_day)} (day {today_ist_day})",
        )
    return None


def slice_size_units(inst: InstrumentLimits) -> int:
    """Largest whole-lot quantity not above the freeze quantity (0 when no lot fits)."""
    lot = inst.lot_size_units if inst.lot_size_units > 0 else 1
    return inst.freeze_qty_units - inst.freeze_qty_units % lot


def slice_count(qty_units: int, inst: InstrumentLimits) -> int:
    """How many exchange orders ``qty_units`` becomes (1 when within the freeze quantity)."""
    freeze = inst.freeze_qty_units
    if freeze <= 0 or qty_units <= freeze:
        return 1
    size = slice_size_units(inst)
    return -(-qty_units // size) if size > 0 else 0


def check_freeze(qty_units: int, inst: InstrumentLimits, slicing_enabled: bool) -> Denial | None:
    """Above the freeze quantity is sliced when slicing is enabled, denied otherwise."""
    freeze = inst.freeze_qty_units
    if freeze <= 0 or qty_units <= freeze:
        return None
    if not slicing_enabled:
        return Denial(
            DenyReason.QTY_ABOVE_FREEZE,
            f"qty {qty_units} is above freeze qty {freeze} for {instrument_label(inst.segment, inst.security_id)} "
            f"and slicing is disabled",
        )
    if slice_size_units(inst) <= 0:
        return Denial(
            DenyReason.QTY_ABOVE_FREEZE,
            f"qty {qty_units} is above freeze qty {freeze} for {instrument_label(inst.segment, inst.security_id)} "
            f"and no whole lot of {inst.lot_size_units} fits under it",
        )
    return None


# --------------------------------------------------------------------------------------------
# State and time
# --------------------------------------------------------------------------------------------

def check_duplicate(intent_id: str, seen: Container[str]) -> Denial | None:
    if intent_id in seen:
        return Denial(DenyReason.DUPLICATE_INTENT, f"intent {intent_id!r} was already approved today")
    return None


def check_trading_state(state: TradingState, reduces: bool, reduce_only: bool) -> Denial | None:
    """HALTED passes only reduce_only orders that reduce; REDUCING only orders that reduce."""
    admission = ADMISSION[state]
    if admission is Admission.ALL:
        return None
    if admission is Admission.REDUCING_ONLY:
        if reduces:
            return None
        return Denial(DenyReason.REDUCING, "trading state is REDUCING: only orders that reduce a position pass")
    if reduces and reduce_only:
        return None
    return Denial(
        DenyReason.HALTED,
        f"kill switch engaged (HALTED): only reduce_only orders that reduce a position pass "
        f"(reduce_only={reduce_only}, reduces={reduces})",
    )


def check_reduce_only(
    reduce_only: bool, reduces: bool, position_units: int, side: str, qty_units: int, pending_same_side_units: int
) -> Denial | None:
    """An intent flagged reduce_only must reduce the strategy's position without crossing zero."""
    if not reduce_only or reduces:
        return None
    return Denial(
        DenyReason.REDUCE_ONLY,
        f"reduce_only {side} {qty_units} does not reduce position {position_units} "
        f"(open {side} orders {pending_same_side_units})",
    )


def check_session(
    now_ns: int, bounds: tuple[int, int] | None, segment: int, calendar: SessionCalendar
) -> Denial | None:
    """The segment is in its continuous session (open inclusive, close exclusive)."""
    if bounds is not None and bounds[0] <= now_ns < bounds[1]:
        return None
    d = ist_date(now_ns)
    seg = segment_label(segment)
    if bounds is None:
        return Denial(DenyReason.MARKET_CLOSED, f"{seg} is closed on {d}: {calendar.closed_reason(d, segment)}")
    return Denial(
        DenyReason.MARKET_CLOSED,
        f"{seg} is closed at {_ist(now_ns)}; session is {_ist(bounds[0])} to {_ist(bounds[1])}",
    )


def check_entry_cutoff(now_ns: int, cutoff_ns: int, reduces: bool, segment: int) -> Denial | None:
    """No new entries from the cut-off (inclusive); reducing orders still pass."""
    if reduces or now_ns < cutoff_ns:
        return None
    return Denial(
        DenyReason.ENTRY_CUTOFF,
        f"entries in {segment_label(segment)} stop at the cut-off {_ist(cutoff_ns)}; "
        f"now {_ist(now_ns)}",
    )


def check_cooldown(now_ns: int, last_order_ns: int, cooldown_ns: int, reduces: bool) -> Denial | None:
    """At least ``cooldown_ns`` since this strategy's last order in the instrument (at it passes)."""
    if cooldown_ns <= 0 or reduces or last_order_ns == 0:
        return None
    elapsed = now_ns - last_order_ns
    if elapsed >= cooldown_ns:
        return None
    return Denial(DenyReason.COOLDOWN, f"{elapsed} ns since the last order; cooldown is {cooldown_ns} ns")


def check_flip_only(flip_only: bool, side: str, position_units: int, pending_buy_units: int,
                    pending_sell_units: int) -> Denial | None:
    """With flip-only, an order may not add to the position (open orders counted as filled)."""
    if not flip_only:
        return None
    if side == "BUY":
        worst = position_units + pending_buy_units
        if worst <= 0:
            return None
    else:
        worst = position_units - pending_sell_units
        if worst >= 0:
            return None
    return Denial(
        DenyReason.FLIP_ONLY,
        f"flip-only: {side} would add to position {worst} (position {position_units}, "
        f"open buys {pending_buy_units}, open sells {pending_sell_units})",
    )


# --------------------------------------------------------------------------------------------
# Price
# --------------------------------------------------------------------------------------------


def reference_price(order_type: str, price_paise: int, trigger_paise: int, last_paise: int) -> int:
    """Price used to value an intent (0 when it cannot be valued: MARKET with no last price)."""
    if order_type == "LIMIT" or order_type == "SL":
        return price_paise
    if order_type == "SL_M":
        return trigger_paise
    return last_paise


def check_last_price(order_type: str, last_paise: int, band_bps: int, segment: int, security_id: int) -> Denial | None:
    """A last price is needed to value a MARKET order and to apply the price band."""
    if last_paise > 0 or (order_type != "MARKET" and band_bps <= 0):
        return None
    return Denial(
        DenyReason.NO_LAST_PRICE,
        f"no last price for {instrument_label(segment, security_id)}: cannot value a {order_type} order or apply the "
        f"{band_bps} bps band",
    )


def check_band(price_paise: int, trigger_paise: int, last_paise: int, band_bps: int) -> Denial | None:
    """Limit and trigger prices lie within ``band_bps`` of the last price (at the edge passes)."""
    if band_bps <= 0:
        return None
    limit = band_bps * last_paise
    for what, p in (("price", price_paise), ("trigger", trigger_paise)):
        if p and abs(p - last_paise) * BPS > limit:
            return Denial(
                DenyReason.PRICE_OUTSIDE_BAND,
                f"{what} {p} paise is {abs(p - last_paise) * BPS // last_paise} bps from last price "
                f"{last_paise} paise; band is {band_bps} bps",
            )
    return None


# --------------------------------------------------------------------------------------------
# Rates and counts
# --------------------------------------------------------------------------------------------


def check_rate_second(orders_in_window: int, new_orders: int, limit: int) -> Denial | None:
    if orders_in_window + new_orders <= limit:
        return None
    return Denial(
        DenyReason.RATE_LIMIT_SECOND,
        f"{orders_in_window} orders in the last second + {new_orders} new > limit {limit} per second",
    )


def check_rate_day(orders_today: int, new_orders: int, limit: int) -> Denial | None:
    if orders_today + new_orders <= limit:
        return None
    return Denial(DenyReason.RATE_LIMIT_DAY, f"{orders_today} orders today + {new_orders} new > limit {limit} per day")


def check_open_orders(open_orders: int, new_orders: int, limit: int) -> Denial | None:
    if open_orders + new_orders <= limit:
        return None
    return Denial(DenyReason.MAX_OPEN_ORDERS, f"{open_orders} open orders + {new_orders} new > limit {limit}")


def check_trades_per_day(trades_today: int, limit: int, reduces: bool) -> Denial | None:
    """A new entry needs ``trades_today < limit``; reducing orders always pass."""
    if reduces or trades_today < limit:
        return None
    return Denial(DenyReason.MAX_TRADES_PER_DAY, f"{trades_today} trades today; limit {limit} per day")


# --------------------------------------------------------------------------------------------
# Value, position, exposure, funds
# --------------------------------------------------------------------------------------------


def check_order_value(qty_units: int, ref_price_paise: int, limit_paise: int) -> Denial | None:
    value = qty_units * ref_price_paise
    if value <= limit_paise:
        return None
    return Denial(
        DenyReason.MAX_ORDER_VALUE,
        f"order value {value} paise (qty {qty_units} x {ref_price_paise} paise) > limit {limit_paise} paise",
    )


def check_position(projected_units: int, price_paise: int, max_units: int, max_value_paise: int) -> Denial | None:
    """|projected position| within units and value caps (open orders counted as filled)."""
    units = abs(projected_units)
    if units > max_units:
        return Denial(DenyReason.MAX_POSITION_UNITS, f"position would be {projected_units} units; limit {max_units}")
    value = units * price_paise
    if value > max_value_paise:
        return Denial(
            DenyReason.MAX_POSITION_VALUE,
            f"position would be {projected_units} units x {price_paise} paise = {value} paise; "
            f"limit {max_value_paise} paise",
        )
    return None


def check_gross_exposure(projected_paise: int, limit_paise: int) -> Denial | None:
    if projected_paise <= limit_paise:
        return None
    return Denial(
        DenyReason.MAX_GROSS_EXPOSURE, f"gross exposure would be {projected_paise} paise; limit {limit_paise} paise"
    )


def check_net_exposure(projected_paise: int, limit_paise: int) -> Denial | None:
    if abs(projected_paise) <= limit_paise:
        return None
    return Denial(
        DenyReason.MAX_NET_EXPOSURE, f"net exposure would be {projected_paise} paise; limit {limit_paise} paise"
    )


def required_cash_paise(value_paise: int, margin_bps: int) -> int:
    """Cash an opening order of ``value_paise`` must find free (rounded up to the paisa)."""
    return -(-value_paise * margin_bps // BPS)


def check_funds(required_paise: int, cash_paise: int, reserved_paise: int) -> Denial | None:
    free = cash_paise - reserved_paise
    if required_paise <= free:
        return None
    return Denial(
        DenyReason.INSUFFICIENT_FUNDS,
        f"order needs {required_paise} paise; free cash {free} paise (cash {cash_paise}, "
        f"reserved by open orders {reserved_paise})",
    )


# --------------------------------------------------------------------------------------------
# Slicing and the bus form of a denial
# --------------------------------------------------------------------------------------------


def slice_intent(intent: OrderIntent, freeze_qty_units: int, lot_size_units: int = 1) -> list[OrderIntent]:
    """Split ``intent`` into orders of at most ``freeze_qty_units`` (whole lots), remainder last.

    Returns ``[intent]`` unchanged when it fits. Slice ids are ``ipc.messages.slice_intent_id``, n from 1.
    Raises ValueError when ``freeze_qty_units`` is positive but no whole lot fits under it (the
    engine denies that case with QTY_ABOVE_FREEZE before slicing).
    """
    qty = intent.spec.qty_units
    if freeze_qty_units <= 0 or qty <= freeze_qty_units:
        return [intent]
    lot = lot_size_units if lot_size_units > 0 else 1
    size = freeze_qty_units - freeze_qty_units % lot
    if size <= 0:
        raise ValueError(f"freeze qty {freeze_qty_units} is below one lot of {lot}")
    out = []
    n = 0
    while qty > 0:
        n += 1
        part = size if qty > size else qty
        out.append(msgspec.structs.replace(intent, intent_id=slice_intent_id(intent.intent_id, n),
                                           spec=msgspec.structs.replace(intent.spec, qty_units=part)))
        qty -= part
    return out


def to_order_denied(intent: OrderIntent, denial: Denial, ts_event_ns: int, ts_init_ns: int) -> OrderDenied:
    """The OrderDenied message for ``denial`` of ``intent``."""
    spec = intent.spec
    return OrderDenied(intent_id=intent.intent_id, strategy=intent.strategy, segment=spec.segment,
                       security_id=spec.security_id, reason_code=denial.reason.value, message=denial.message,
                       ts_event_ns=ts_event_ns, ts_init_ns=ts_init_ns)
