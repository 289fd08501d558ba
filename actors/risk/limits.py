"""Risk limits configuration (frozen msgspec Structs that forbid unknown fields).

Two kinds of limit:

- **Account-wide** (:class:`RiskLimits` fields only): exposure, open orders, order rates, trades
  per day, daily loss, entry cut-off and square-off times. They bound the whole account.
- **Per order / per position** (:class:`OrderLimits`): order value, position size, fat-finger band,
  cooldown, flip-only, slicing, per-trade loss and target, trailing stop. These have an account
  default and may be overridden per strategy and per instrument.

Resolution order for an :class:`OrderLimits` field, for strategy ``s`` trading instrument ``i``
(first layer that sets the field wins, field by field; ``None`` means "not set here"):

1. ``strategies[s].instruments[i]`` - this strategy on this instrument
2. ``strategies[s]``                - this strategy on any instrument
3. ``instruments[i]``               - any strategy on this instrument
4. ``default``                      - the account default (every field set)

The strategy layers win over the instrument layer because the strategy is what is being limited:
a strategy capped at 150 units stays capped even where the instrument allows 1,800. To give one
strategy more room on one instrument, use layer 1. Instrument keys are ``"<SEGMENT>.<id>"``
(``"NSE_FNO.55796"``, :func:`limits_key`), as in topic names.

Units are in the names; integers are paise, units, basis points. For optional rules 0 means off
(band, cooldown, per-trade loss, target, trailing stop); caps are always in force (0 allows nothing).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from ipc.segments import Segment, instrument_label, segment_label

NonNeg = Annotated[int, msgspec.Meta(ge=0)]
Positive = Annotated[int, msgspec.Meta(gt=0)]
NonNegFloat = Annotated[float, msgspec.Meta(ge=0.0)]

# SEBI: an API client sending more than 10 orders per second must register its algo with the
# exchange through the broker; staying at or below 10/s keeps an unregistered setup compliant.
SEBI_UNREGISTERED_ORDERS_PER_SECOND = 10


class OrderLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Overridable per-order and per-position limits; ``None`` = not set at this layer.

    - ``max_order_value_paise``: qty x reference price of one intent (before slicing).
    - ``max_position_units`` / ``max_position_value_paise``: |strategy position| in one instrument,
      counting its open orders on the same side as filled (worst case).
    - ``price_band_bps``: a limit / trigger price must lie within this many basis points of the
      last traded price (fat-finger guard). 0 = off.
    - ``order_cooldown_s``: minimum time between two approved orders of one strategy in one
      instrument; orders that reduce the position are exempt. 0 = off.
    - ``flip_only``: a strategy's consecutive orders in one instrument must alternate sides.
    - ``slicing_enabled``: an intent above the instrument's freeze quantity is sliced into orders
      of at most the freeze quantity; otherwise it is denied.
    - ``max_loss_per_trade_paise``: exit a position whose P&L since entry is below minus this. 0 = off.
    - ``target_per_trade_paise``: exit a position whose P&L since entry reaches this. 0 = off.
    - ``trailing_stop_bps`` / ``trailing_stop_paise``: exit when the mark retreats this far from the
      best price since entry (the tighter of the two when both are set). 0 = off.
    """

    max_order_value_paise: NonNeg | None = None
    max_position_units: NonNeg | None = None
    max_position_value_paise: NonNeg | None = None
    price_band_bps: NonNeg | None = None
    order_cooldown_s: NonNegFloat | None = None
    flip_only: bool | None = None
    slicing_enabled: bool | None = None
    max_loss_per_trade_paise: NonNeg | None = None
    target_per_trade_paise: NonNeg | None = None
    trailing_stop_bps: NonNeg | None = None
    trailing_stop_paise: NonNeg | None = None


# Every field set: the account default layer. Rupee figures are for a small options account; set
# them for yours.
DEFAULT_ORDER_LIMITS = OrderLimits(
    max_order_value_paise=10_00_000_00,  # Rs 10 lakh
    max_position_units=10_000,
    max_position_value_paise=20_00_000_00,  # Rs 20 lakh
    price_band_bps=500,  # 5 % around the last price
    order_cooldown_s=0.0,
    flip_only=False,
    slicing_enabled=True,
    max_loss_per_trade_paise=0,
    target_per_trade_paise=0,
    trailing_stop_bps=0,
    trailing_stop_paise=0,
)


class StrategyLimits(OrderLimits, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A strategy's overrides, plus overrides for that strategy on given instruments."""

    instruments: dict[str, OrderLimits] = {}


class SegmentTimes(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Entry cut-off and intraday square-off times (IST) for one segment.

    New entries are denied from ``entry_cutoff_ist`` (inclusive); INTRADAY positions are squared
    off from ``square_off_ist`` (inclusive).
    """

    entry_cutoff_ist: dt.time
    square_off_ist: dt.time


def _default_segment_times() -> dict[str, SegmentTimes]:
    # MCX and currency trade later than equity; their intraday positions are squared off shortly
    # before their own close instead of at the equity time.
    return {
        Segment.MCX_COMM.label: SegmentTimes(dt.time(23, 0), dt.time(23, 15)),
        Segment.NSE_CURRENCY.label: SegmentTimes(dt.time(16, 45), dt.time(16, 50)),
        Segment.BSE_CURRENCY.label: SegmentTimes(dt.time(16, 45), dt.time(16, 50)),
    }


class RiskLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """All risk limits of one account.

    - ``max_gross_exposure_paise``: sum over instruments of |net qty| x mark, open orders counted
      as filled on whichever side makes it larger.
    - ``max_net_exposure_paise``: |sum over instruments of signed qty x mark|, open orders counted
      as filled on the order's side.
    - ``max_open_orders``: working orders at the venue (each slice counts).
    - ``max_orders_per_second`` (sliding 1 s window) / ``max_orders_per_day`` (IST day): approved
      orders, each slice counted.
    - ``max_trades_per_day``: entries per IST day (a fill that opens a position from flat or flips
      it). Orders that reduce a position are never refused for it.
    - ``margin_bps``: cash an opening order must find free, as basis points of its value
      (10000 = full value, no leverage). Venue margin rules are authoritative; this is a guard.
    - ``entry_cutoff_ist`` / ``square_off_ist``: default times for segments without an entry in
      ``segment_times`` (keyed by segment name).
    - ``daily_max_loss_paise``: realised + unrealised P&L of the IST day may reach minus this;
      one paisa more and the kill switch is engaged and positions flattened.
    """

    default: OrderLimits = DEFAULT_ORDER_LIMITS
    strategies: dict[str, StrategyLimits] = {}
    instruments: dict[str, OrderLimits] = {}

    max_gross_exposure_paise: NonNeg = 50_00_000_00  # Rs 50 lakh
    max_net_exposure_paise: NonNeg = 25_00_000_00  # Rs 25 lakh
    max_open_orders: NonNeg = 50
    max_orders_per_second: Positive = SEBI_UNREGISTERED_ORDERS_PER_SECOND
    max_orders_per_day: NonNeg = 1_000
    max_trades_per_day: NonNeg = 50
    margin_bps: NonNeg = 10_000
    entry_cutoff_ist: dt.time = dt.time(15, 15)
    square_off_ist: dt.time = dt.time(15, 25)
    segment_times: dict[str, SegmentTimes] = msgspec.field(default_factory=_default_segment_times)
    daily_max_loss_paise: NonNeg = 10_000_00  # Rs 10,000

    def __post_init__(self) -> None:
        missing = [f for f in OrderLimits.__struct_fields__ if getattr(self.default, f) is None]
        if missing:
            raise ValueError(f"risk.default must set every field; missing {missing}")


class ResolvedLimits(msgspec.Struct, frozen=True):
    """The effective :class:`OrderLimits` for one (strategy, instrument), every field set.

    ``order_cooldown_ns`` is the cooldown converted once to integer nanoseconds.
    """

    max_order_value_paise: int
    max_position_units: int
    max_position_value_paise: int
    price_band_bps: int
    order_cooldown_ns: int
    flip_only: bool
    slicing_enabled: bool
    max_loss_per_trade_paise: int
    target_per_trade_paise: int
    trailing_stop_bps: int
    trailing_stop_paise: int


def limits_key(segment: int, security_id: int) -> str:
    """The key of an instrument in ``instruments`` tables: ``"NSE_FNO.55796"``."""
    return instrument_label(segment, security_id, ".")


def resolve(limits: RiskLimits, strategy: str, instrument: str) -> ResolvedLimits:
    """Effective limits for ``strategy`` on ``instrument`` (key from :func:`limits_key`).

    Applies the resolution order in the module docstring. Pure; not for the hot path (the engine
    caches the result per strategy and instrument).
    """
    strat = limits.strategies.get(strategy)
    layers: list[OrderLimits] = []
    if strat is not None:
        pair = strat.instruments.get(instrument)
        if pair is not None:
            layers.append(pair)
        layers.append(strat)
    inst = limits.instruments.get(instrument)
    if inst is not None:
        layers.append(inst)
    layers.append(limits.default)

    def pick(field: str) -> object:
        for layer in layers:
            value = getattr(layer, field)
            if value is not None:
                return value
        raise AssertionError(f"default limits leave {field} unset")  # RiskLimits forbids this

    return ResolvedLimits(
        max_order_value_paise=pick("max_order_value_paise"),  # type: ignore[arg-type]
        max_position_units=pick("max_position_units"),  # type: ignore[arg-type]
        max_position_value_paise=pick("max_position_value_paise"),  # type: ignore[arg-type]
        price_band_bps=pick("price_band_bps"),  # type: ignore[arg-type]
        order_cooldown_ns=round(pick("order_cooldown_s") * 1_000_000_000),  # type: ignore[operator]
        flip_only=pick("flip_only"),  # type: ignore[arg-type]
        slicing_enabled=pick("slicing_enabled"),  # type: ignore[arg-type]
        max_loss_per_trade_paise=pick("max_loss_per_trade_paise"),  # type: ignore[arg-type]
        target_per_trade_paise=pick("target_per_trade_paise"),  # type: ignore[arg-type]
        trailing_stop_bps=pick("trailing_stop_bps"),  # type: ignore[arg-type]
        trailing_stop_paise=pick("trailing_stop_paise"),  # type: ignore[arg-type]
    )


def segment_times(limits: RiskLimits, segment: int) -> SegmentTimes:
    """Entry cut-off and square-off times for a segment (its own entry or the account default)."""
    own = limits.segment_times.get(segment_label(segment))
    if own is not None:
        return own
    return SegmentTimes(limits.entry_cutoff_ist, limits.square_off_ist)


def decode_limits(data: bytes | str, fmt: str = "toml") -> RiskLimits:
    """Parse limits from TOML or JSON text; raises ``msgspec.ValidationError`` with the field path."""
    if fmt == "toml":
        return msgspec.toml.decode(data, type=RiskLimits)
    return msgspec.json.decode(data, type=RiskLimits)
