"""What the built-in strategies share: IST session arithmetic on event time, instrument
references and option picks from the master, order outcomes, and exact paise accounting of a
holding built from fills.

Time rules (market hours, cut-offs, square-off) are evaluated on the *event* time of the message
being handled (``ts_event_ns`` of a tick, quote or bar close), never the wall clock, so that a
replay or a backtest obeys the recorded clock and a test sets the time by stamping its messages.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Final, Literal, Self

import msgspec

from actors.strategy.api import InstrumentRef, StrategyContext
from engine.model.instruments import Instrument, InstrumentTable, StrikeError
# Re-exported: the IST arithmetic lives in one place, engine.model.ist.
from engine.model.ist import NS_PER_S, ist_date, ist_day, ist_time_of_day_ns, time_of_day_ns
from ipc.messages import Fill, OrderEvent, OrderState, Product, Side

__all__ = [
    "INDEX_UNDERLYINGS",
    "NS_PER_S",
    "ExitReason",
    "Holding",
    "IndexUnderlying",
    "OptionType",
    "PickError",
    "check_session_times",
    "ist_date",
    "ist_day",
    "index_ref",
    "ist_time_of_day_ns",
    "never_filled_units",
    "pick_option",
    "ref_of",
    "time_of_day_ns",
]

IndexUnderlying = Literal["NIFTY", "BANKNIFTY", "SENSEX", "FINNIFTY"]
INDEX_UNDERLYINGS: Final = ("NIFTY", "BANKNIFTY", "SENSEX", "FINNIFTY")
OptionType = Literal["CE", "PE"]

_DEAD: Final = frozenset({OrderState.REJECTED, OrderState.CANCELED, OrderState.EXPIRED, OrderState.DENIED})


class ExitReason(str, enum.Enum):
    """Why a strategy closed a position (logged and kept in its state)."""

    SQUARE_OFF = "square_off"  # the configured square-off time was reached
    DAILY_MAX_LOSS = "daily_max_loss"  # the day's P&L reached the daily loss limit
    MAX_TRADE_LOSS = "max_trade_loss"  # this trade's P&L reached the per-trade loss limit
    TARGET = "target"  # the profit target was reached
    TRAILING_SL = "trailing_sl"  # the price fell back from its peak by the trailing distance
    STOP_LOSS = "stop_loss"  # a structure's P&L reached its stop
    REVERSAL = "reversal"  # the signal turned against the position
    ZONE_EXIT = "zone_exit"  # the spot left the zone between a structure's short strikes


class PickError(str, enum.Enum):
    """Why no option could be chosen from the master."""

    NO_TABLE = "no_instrument_table"
    NO_SPOT = "no_spot"  # the master lists no index (or equity) row for the underlying
    NO_EXPIRY = "no_expiry"  # fewer listed expiries than expiry_index + 1
    NO_CHAIN = "no_chain"
    NOT_LISTED = "strike_not_listed"  # ATM + offset steps is not a listed strike
    NO_CONTRACT = "no_contract"  # the strike is listed, the CE/PE side is not


def ref_of(inst: Instrument) -> InstrumentRef:
    """The strategy-side reference of a master row."""
    return InstrumentRef(inst.segment, inst.security_id, inst.symbol, inst.lot_size_units, inst.tick_paise)


def index_ref(ctx: StrategyContext, kind: str, underlying: str,
              configured: InstrumentRef | None) -> InstrumentRef | None:
    """The instrument an options strategy watches for its underlying: the instance's configured
    ``instrument`` if any, else the underlying's index from the master. None (and an error log
    line with the code) when neither exists: the strategy then stays idle."""
    if configured is not None:
        return configured
    table = ctx.table
    spot = table.spot(underlying) if table is not None else None
    if spot is None:
        code = PickError.NO_TABLE if table is None else PickError.NO_SPOT
        ctx.log.error("strategy_disabled", strategy=ctx.name, kind=kind, code=code.value,
                      detail=f"no index instrument for underlying {underlying}")
        return None
    return ref_of(spot)


def protect_after_fill(ctx: StrategyContext, ref: InstrumentRef, fill: Fill, stop_loss_paise: int,
                       product: Product) -> None:
    """A fixed stop ``stop_loss_paise`` beyond the price of a fill that opened or added to the
    position (below it for a long, above for a short), declared with ``ctx.protect`` (it rests at the
    venue with ``protective_stop = "venue"``). A fill that reduces the position leaves the stop
    where it is; a flat position's stop is cancelled by execution itself. 0: no stop."""
    if not stop_loss_paise or fill.segment != ref.segment or fill.security_id != ref.security_id:
        return
    held = ctx.position(ref, product)
    if not held or (fill.side == "BUY") != (held > 0):
        return
    trigger = fill.price_paise - stop_loss_paise if held > 0 else fill.price_paise + stop_loss_paise
    ctx.protect(ref, max(0, trigger), product=product)


def never_filled_units(order: OrderEvent) -> int:
    """Units of an order that will never fill: the unfilled rest once it is rejected, cancelled,
    expired or denied; 0 while it lives or once it is fully filled."""
    if order.state in _DEAD:
        return order.spec.qty_units - order.filled_qty_units
    return 0


def pick_option(table: InstrumentTable | None, underlying: str, today: dt.date, spot_paise: int,
                option_type: OptionType, steps_from_atm: int, expiry_index: int = 0) -> Instrument | PickError:
    """The option ``steps_from_atm`` chain steps from the ATM strike (``+n`` higher strikes,
    ``-n`` lower) of the ``expiry_index``-th listed expiry on or after ``today`` (0 = nearest).
    Pass ``engine.model.expiry_day.listing_day(now)`` as ``today``: after the settlement moment a
    contract expiring today is no longer offered.
    ATM is the listed strike nearest ``spot_paise`` (a tie goes up). Cold path (entry time)."""
    if table is None:
        return PickError.NO_TABLE
    expiries = table.expiries(underlying, today)
    if len(expiries) <= expiry_index:
        return PickError.NO_EXPIRY
    expiry = expiries[expiry_index]
    sel = table.select_strike(underlying, expiry, spot_paise, steps_from_atm)
    if sel is StrikeError.NO_CHAIN:
        return PickError.NO_CHAIN
    if sel is StrikeError.NOT_LISTED:
        return PickError.NOT_LISTED
    assert not isinstance(sel, StrikeError)
    inst = table.contract(underlying, expiry, sel.strike_paise, option_type)
    return PickError.NO_CONTRACT if inst is None else inst


def check_session_times(**times: dt.time) -> None:
    """Raise ValueError unless the given IST times are naive and strictly ascending in the given
    order (the message names each one)."""
    names = list(times)
    for name, t in times.items():
        if t.tzinfo is not None:
            raise ValueError(f"{name} ({t.isoformat()}) must be an IST wall time without a UTC offset")
    for a, b in zip(names, names[1:]):
        if not times[a] < times[b]:
            raise ValueError(f"{a} ({times[a].isoformat()}) must be before {b} ({times[b].isoformat()})")


class Holding(msgspec.Struct, kw_only=True):
    """One instrument's fills within one position, in exact paise and units.

    P&L at a mark is ``sold - bought + net * mark`` (cash flows plus the open quantity valued at
    the mark); charges are not included (execution books them).
    """

    segment: int
    security_id: int
    symbol: str = ""
    lot_size_units: int = 1
    tick_paise: int = 5
    bought_units: int = 0
    bought_paise: int = 0
    sold_units: int = 0
    sold_paise: int = 0
    mark_paise: int = 0  # last traded price seen (0 = none yet)

    @classmethod
    def of(cls, ref: InstrumentRef, **kw: Any) -> Self:
        return cls(segment=ref.segment, security_id=ref.security_id, symbol=ref.symbol,
                   lot_size_units=ref.lot_size_units, tick_paise=ref.tick_paise, **kw)

    def ref(self) -> InstrumentRef:
        return InstrumentRef(self.segment, self.security_id, self.symbol, self.lot_size_units, self.tick_paise)

    def matches(self, segment: int, security_id: int) -> bool:
        return self.security_id == security_id and self.segment == segment

    @property
    def net_units(self) -> int:
        return self.bought_units - self.sold_units

    def add_fill(self, side: Side, qty_units: int, price_paise: int) -> None:
        if side == "BUY":
            self.bought_units += qty_units
            self.bought_paise += qty_units * price_paise
        else:
            self.sold_units += qty_units
            self.sold_paise += qty_units * price_paise

    def pnl_paise(self, mark_paise: int) -> int:
        return self.sold_paise - self.bought_paise + self.net_units * mark_paise
