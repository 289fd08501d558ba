"""Indian trading charges per fill, from a configurable schedule.

Amounts are integer paise; rates are integers in units of 1e-8 (``rate_e8``: 0.1 % = 100_000).
One ``ChargeRates`` per segment class; ``ChargeSchedule`` holds them (frozen msgspec Structs that
forbid unknown fields, so a typo in the config is an error, not a silent default).

Components, each on the fill's turnover (qty x price; for options that is the premium):

- brokerage: per executed *order*, ``min(flat, rate x order turnover)``, or just ``flat`` when
  the rate is 0. It is charged once per order, on its first fill (``first_fill_of_order``).
  When the rate leg applies and the order fills in parts, pass ``order_value_before_paise``
  (the order's filled value before this fill): each fill then pays the increase of
  ``min(flat, rate x cumulative value)``, so the fills of one order add up to exactly the
  order's brokerage. Without it the first fill's turnover alone sets the rate leg (the
  documented simplification, which undercharges a %-priced order that fills in parts).
- STT: side-dependent rate (delivery both sides; intraday, futures and options sell only).
- exchange transaction charges, SEBI turnover fee, IPFT (0 by default; some brokers list it).
- stamp duty: buy side only.
- GST: 18 % of (brokerage + exchange charges + SEBI fee + IPFT), computed on those components
  *after* each was rounded to the paisa, as a contract note shows them.

Rounding: every component is rounded to the paisa separately with ``schedule.rounding``
(HALF_UP by default: a tie goes away from zero; see ``engine.model.money.Rounding``), then summed.
Contract notes aggregate per scrip per day and round STT and stamp duty to the rupee, so a
day's per-fill sum can differ from the note by under ₹1 per component per scrip.

Default rates (``DEFAULT_SCHEDULE``) are the published NSE / Dhan-style rates for trades from
2026-04-01 (FY 2026-27; the Finance Act 2026 raised STT on derivatives): brokerage ₹0 delivery,
₹20 or 0.03 % (lower) intraday and futures, flat ₹20 options; STT 0.1 % delivery both sides,
0.025 % intraday sell, 0.05 % futures sell (0.02 % before), 0.15 % options sell on the premium
(0.1 % before); a backtest over older captures that must match old contract notes configures the
old rates (``[execution.paper.charges]``);
NSE transaction charges 0.00297 % equity, 0.00173 % futures, 0.03503 % options (premium); SEBI
₹10 per crore (0.0001 %); stamp duty (buy) 0.015 % delivery, 0.003 % intraday, 0.002 % futures,
0.003 % options; GST 18 %. STT on exercise (``stt_exercise_rate_e8``, options only): 0.15 % of
the intrinsic value of an in-the-money long option exercised at expiry, paid by the holder
(``exercise_stt_paise``), the Finance Act 2026 rate for trades from 2026-04-01 (0.125 % before).
A broker's own schedule is a named profile (``CHARGE_PROFILES``: ``zerodha``; the
``[execution.paper] charges_profile`` setting picks one for paper trading).
Rates change by budget and circular: check them against a real
contract note before trusting P&L to the paisa. BSE's transaction charges differ; pass a
BSE schedule for BSE segments.
"""

from __future__ import annotations

import enum
from typing import Final, Literal

import msgspec

from engine.model.money import Rounding, apply_rate, notional_paise
from ipc.messages import SIDES, Side
from ipc.segments import EQUITY_SEGMENTS, Segment


class SegmentClass(str, enum.Enum):
    """What the charges depend on: equity intraday/delivery, futures, options."""

    EQUITY_INTRADAY = "EQUITY_INTRADAY"
    EQUITY_DELIVERY = "EQUITY_DELIVERY"
    INDEX_FUTURES = "INDEX_FUTURES"
    INDEX_OPTIONS = "INDEX_OPTIONS"
    STOCK_FUTURES = "STOCK_FUTURES"  # index futures rates unless configured
    STOCK_OPTIONS = "STOCK_OPTIONS"  # index options rates unless configured


class ChargeRates(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Rates for one segment class. ``*_rate_e8`` in 1e-8 units of turnover; amounts in paise."""

    brokerage_flat_paise: int  # per executed order; the cap when brokerage_rate_e8 > 0
    brokerage_rate_e8: int = 0  # 0: flat only
    stt_buy_rate_e8: int = 0
    stt_sell_rate_e8: int = 0
    exchange_rate_e8: int = 0
    sebi_rate_e8: int = 100  # ₹10 per crore
    stamp_buy_rate_e8: int = 0
    ipft_rate_e8: int = 0
    gst_rate_e8: int = 18_000_000  # 18 %, on brokerage + exchange + SEBI + IPFT
    stt_exercise_rate_e8: int = 0  # options exercised at expiry: on the intrinsic value (holder pays)


EQUITY_INTRADAY_RATES: Final = ChargeRates(
    brokerage_flat_paise=2_000,
    brokerage_rate_e8=30_000,  # 0.03 %
    stt_sell_rate_e8=25_000,  # 0.025 %
    exchange_rate_e8=2_970,  # 0.00297 %
    stamp_buy_rate_e8=3_000,  # 0.003 %
)
EQUITY_DELIVERY_RATES: Final = ChargeRates(
    brokerage_flat_paise=0,
    stt_buy_rate_e8=100_000,  # 0.1 %
    stt_sell_rate_e8=100_000,
    exchange_rate_e8=2_970,
    stamp_buy_rate_e8=15_000,  # 0.015 %
)
INDEX_FUTURES_RATES: Final = ChargeRates(
    brokerage_flat_paise=2_000,
    brokerage_rate_e8=30_000,
    stt_sell_rate_e8=50_000,  # 0.05 % (Finance Act 2026; 0.02 % before 2026-04-01)
    exchange_rate_e8=1_730,  # 0.00173 %
    stamp_buy_rate_e8=2_000,  # 0.002 %
)
INDEX_OPTIONS_RATES: Final = ChargeRates(
    brokerage_flat_paise=2_000,
    stt_sell_rate_e8=150_000,  # 0.15 % of premium (Finance Act 2026; 0.1 % before 2026-04-01)
    exchange_rate_e8=35_030,  # 0.03503 % of premium
    stamp_buy_rate_e8=3_000,
    stt_exercise_rate_e8=150_000,  # 0.15 % of intrinsic value (Finance Act 2026; 0.125 % before 2026-04-01)
)


class ChargeSchedule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The rates for every segment class and the rounding rule for each component."""

    equity_intraday: ChargeRates = EQUITY_INTRADAY_RATES
    equity_delivery: ChargeRates = EQUITY_DELIVERY_RATES
    index_futures: ChargeRates = INDEX_FUTURES_RATES
    index_options: ChargeRates = INDEX_OPTIONS_RATES
    stock_futures: ChargeRates | None = None  # None: index_futures
    stock_options: ChargeRates | None = None  # None: index_options
    rounding: Rounding = Rounding.HALF_UP

    def rates_for(self, segment_class: SegmentClass) -> ChargeRates:
        """The rates that apply to ``segment_class`` (stock F&O falls back to index F&O)."""
        if segment_class is SegmentClass.EQUITY_INTRADAY:
            return self.equity_intraday
        if segment_class is SegmentClass.EQUITY_DELIVERY:
            return self.equity_delivery
        if segment_class is SegmentClass.INDEX_FUTURES:
            return self.index_futures
        if segment_class is SegmentClass.INDEX_OPTIONS:
            return self.index_options
        if segment_class is SegmentClass.STOCK_FUTURES:
            return self.stock_futures or self.index_futures
        if segment_class is SegmentClass.STOCK_OPTIONS:
            return self.stock_options or self.index_options
        raise ValueError(f"rates_for: unknown segment class {segment_class!r}")


DEFAULT_SCHEDULE: Final = ChargeSchedule()

# Zerodha's schedule (zerodha.com/charges, FY 2026-27): brokerage, STT, stamp, SEBI and GST as
# the default; its "transaction charges" fold NSE's Investor Protection Fund Trust fee into NSE's
# rate (₹10 per crore on equity and futures, ₹0.5 per lakh of premium on options) and its
# contract note rounds that sum as one component: 0.00307 % equity, 0.00183 % futures, 0.03553 %
# options premium. Paper P&L on a Kite account then matches its contract note (up to the note's
# rounding of STT and stamp to the rupee: the module docstring).
ZERODHA_SCHEDULE: Final = ChargeSchedule(
    equity_intraday=msgspec.structs.replace(EQUITY_INTRADAY_RATES, exchange_rate_e8=3_070),
    equity_delivery=msgspec.structs.replace(EQUITY_DELIVERY_RATES, exchange_rate_e8=3_070),
    index_futures=msgspec.structs.replace(INDEX_FUTURES_RATES, exchange_rate_e8=1_830),
    index_options=msgspec.structs.replace(INDEX_OPTIONS_RATES, exchange_rate_e8=35_530),
)
ChargeProfile = Literal["default", "zerodha"]
CHARGE_PROFILES: Final[dict[str, ChargeSchedule]] = {"default": DEFAULT_SCHEDULE, "zerodha": ZERODHA_SCHEDULE}


class ChargeBreakdown(msgspec.Struct, frozen=True):
    """Charges of one fill, each component in paise; ``total_paise`` is their exact sum."""

    turnover_paise: int
    brokerage_paise: int
    stt_paise: int
    exchange_paise: int
    sebi_paise: int
    stamp_paise: int
    ipft_paise: int
    gst_paise: int
    total_paise: int


def charges_for_fill(
    segment_class: SegmentClass,
    side: Side,
    qty_units: int,
    price_paise: int,
    first_fill_of_order: bool,
    schedule: ChargeSchedule = DEFAULT_SCHEDULE,
    *,
    order_value_before_paise: int | None = None,
) -> ChargeBreakdown:
    """Charges for one fill of ``qty_units`` at ``price_paise`` (see the module docstring).

    ``order_value_before_paise``: the order's filled value before this fill, for exact
    percent-capped brokerage across partial fills; must be 0 on the first fill and positive on
    later ones. Raises ValueError for a side other than BUY/SELL, a non-positive qty or price,
    or an ``order_value_before_paise`` that contradicts ``first_fill_of_order``.
    """
    if side not in SIDES:
        raise ValueError(f"charges_for_fill: side {side!r} is not BUY or SELL")
    if qty_units <= 0 or price_paise <= 0:
        raise ValueError(
            f"charges_for_fill: qty {qty_units} and price {price_paise} paise must be positive"
        )
    if order_value_before_paise is not None and first_fill_of_order != (order_value_before_paise == 0):
        raise ValueError(
            f"charges_for_fill: order value before this fill is {order_value_before_paise} paise "
            f"but first_fill_of_order is {first_fill_of_order}"
        )
    rates = schedule.rates_for(segment_class)
    rounding = schedule.rounding
    turnover = notional_paise(qty_units, price_paise)
    buy = side == "BUY"

    brokerage = _brokerage(rates, turnover, first_fill_of_order, order_value_before_paise, rounding)
    stt = apply_rate(turnover, rates.stt_buy_rate_e8 if buy else rates.stt_sell_rate_e8, rounding)
    exchange = apply_rate(turnover, rates.exchange_rate_e8, rounding)
    sebi = apply_rate(turnover, rates.sebi_rate_e8, rounding)
    stamp = apply_rate(turnover, rates.stamp_buy_rate_e8, rounding) if buy else 0
    ipft = apply_rate(turnover, rates.ipft_rate_e8, rounding)
    gst = apply_rate(brokerage + exchange + sebi + ipft, rates.gst_rate_e8, rounding)
    return ChargeBreakdown(
        turnover_paise=turnover,
        brokerage_paise=brokerage,
        stt_paise=stt,
        exchange_paise=exchange,
        sebi_paise=sebi,
        stamp_paise=stamp,
        ipft_paise=ipft,
        gst_paise=gst,
        total_paise=brokerage + stt + exchange + sebi + stamp + ipft + gst,
    )


class ChargeMemo:
    """``charges_for_fill`` under one schedule, remembered per (segment class, side, qty, price,
    first fill, order value before): a charge depends on nothing else, and a paper venue fills at
    the same few prices and quantities over and over. Bounded: forgets everything at ``limit``
    entries."""

    __slots__ = ("schedule", "_memo", "_limit")

    def __init__(self, schedule: ChargeSchedule = DEFAULT_SCHEDULE, limit: int = 4096) -> None:
        self.schedule = schedule
        self._limit = limit
        self._memo: dict[tuple[SegmentClass, str, int, int, bool, int | None], ChargeBreakdown] = {}

    def __call__(self, segment_class: SegmentClass, side: Side, qty_units: int, price_paise: int,
                 first_fill_of_order: bool, *, order_value_before_paise: int | None = None) -> ChargeBreakdown:
        # Order path (paper fills and funds checks): one dict lookup when the fill was seen before.
        key = (segment_class, side, qty_units, price_paise, first_fill_of_order, order_value_before_paise)
        found = self._memo.get(key)
        if found is None:
            found = charges_for_fill(segment_class, side, qty_units, price_paise, first_fill_of_order, self.schedule,
                                     order_value_before_paise=order_value_before_paise)
            if len(self._memo) >= self._limit:
                self._memo.clear()
            self._memo[key] = found
        return found


def exercise_stt_paise(segment_class: SegmentClass, intrinsic_value_paise: int,
                       schedule: ChargeSchedule = DEFAULT_SCHEDULE) -> int:
    """STT on an option exercised at expiry: ``stt_exercise_rate_e8`` of ``intrinsic_value_paise``
    (intrinsic value per unit x units, >= 0), rounded like every component. Only the holder of a
    long in-the-money option pays it; the caller decides that. Raises ValueError for a negative
    value."""
    if intrinsic_value_paise < 0:
        raise ValueError(f"exercise_stt_paise: intrinsic value {intrinsic_value_paise} paise is negative")
    rate = schedule.rates_for(segment_class).stt_exercise_rate_e8
    return apply_rate(intrinsic_value_paise, rate, schedule.rounding)


def _brokerage(
    rates: ChargeRates,
    turnover_paise: int,
    first_fill: bool,
    value_before_paise: int | None,
    rounding: Rounding,
) -> int:
    flat = rates.brokerage_flat_paise
    if rates.brokerage_rate_e8 == 0:
        return flat if first_fill else 0
    if value_before_paise is None:
        return (
            min(flat, apply_rate(turnover_paise, rates.brokerage_rate_e8, rounding)) if first_fill else 0
        )

    def order_brokerage(value_paise: int) -> int:
        return min(flat, apply_rate(value_paise, rates.brokerage_rate_e8, rounding))

    return order_brokerage(value_before_paise + turnover_paise) - order_brokerage(value_before_paise)


_FNO_SEGMENTS: Final = frozenset({Segment.NSE_FNO, Segment.BSE_FNO})
_FNO_CLASSES: Final[dict[str, SegmentClass]] = {
    "FUTIDX": SegmentClass.INDEX_FUTURES,
    "OPTIDX": SegmentClass.INDEX_OPTIONS,
    "FUTSTK": SegmentClass.STOCK_FUTURES,
    "OPTSTK": SegmentClass.STOCK_OPTIONS,
}


def segment_class_for(segment: int | str, instrument_type: str, product: str) -> SegmentClass | None:
    """The segment class of an instrument traded under ``product``, or None when no schedule here
    covers it (currency, commodity, indices, unknown codes); the caller reports that.

    ``segment`` is a Dhan segment code (2) or name ("NSE_FNO"); ``instrument_type`` is the master's
    INSTRUMENT column (FUTIDX, OPTIDX, FUTSTK, OPTSTK; anything on an equity segment is equity);
    ``product`` is INTRADAY, CNC or MARGIN (MARGIN on equity is MTF, a delivery product).
    """
    code = Segment.__members__.get(segment, -1) if isinstance(segment, str) else segment
    if code in EQUITY_SEGMENTS:
        if product == "INTRADAY":
            return SegmentClass.EQUITY_INTRADAY
        if product in ("CNC", "MARGIN"):
            return SegmentClass.EQUITY_DELIVERY
        return None
    if code in _FNO_SEGMENTS:
        return _FNO_CLASSES.get(instrument_type.strip().upper())
    return None
