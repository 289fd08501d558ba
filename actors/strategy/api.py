"""What a strategy is: a plain class with handlers, typed parameters and persisted state.

    class MyStrategy(Strategy):
        kind = "my_strategy"
        Params = MyParams                    # a StrategyParams subclass (frozen, unknown keys refused)

        def on_start(self) -> None: ...
        def on_tick(self, tick: Tick) -> None:
            if ...: self.ctx.buy(self.instrument, 65, cause=tick)

Handlers: ``on_start``, ``on_tick``, ``on_quote``, ``on_bar``, ``on_book``, ``on_order``, ``on_fill``,
``on_denied``, ``on_stop``. A strategy never touches sockets; it talks through its :class:`StrategyContext`.
State: ``State`` (a msgspec Struct class) and ``self.state`` are saved to the ledger by the actor
and restored after a restart.

What a strategy holds is ``ctx.position`` (its fills) and what it has working is ``ctx.working``
(its live orders' unfilled units): the engine's reports, kept across restarts from the ledger.
An order asked for is not a position: risk may deny it, the venue reject it, or it may fill in
part. Decide on these two, not on what was sent (``actors.strategy.exposure``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import msgspec

from actors.strategy.exposure import WorkingUnits
from engine.control_api.quoting import QUOTE_CHARS, quote_value
from ipc.messages import (Bar, BookUpdate, Fill, GroupStructure, OrderDenied, OrderEvent, OrderType, Product, Quote,
                          Side, Tick, Validity)

if TYPE_CHECKING:
    from engine.model.instruments import InstrumentTable
    from engine.model.option_time import TradingTime
    from engine.logs import Log


class StrategyParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every strategy's parameters."""


class StrategyState(msgspec.Struct, kw_only=True):
    """Base of every strategy's persisted state (mutable; saved after changes)."""


class InstrumentRef(msgspec.Struct, frozen=True):
    """An instrument as a strategy sees it (resolved from the instrument master at load)."""

    segment: int
    security_id: int
    symbol: str = ""
    lot_size_units: int = 1
    tick_paise: int = 5


class GroupLegOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One leg of an order group a strategy submits (``StrategyContext.submit_group``)."""

    instrument: InstrumentRef
    side: Side
    qty_units: int
    order_type: OrderType = "MARKET"
    price_paise: int = 0
    product: Product = "INTRADAY"


DEFAULT_GROUP_TIMEOUT_MS = 30_000  # a group not complete by then rolls back (execution's groups)


class StrategyContext(Protocol):
    name: str
    log: "Log"

    def now_ns(self) -> int: ...
    def submit(self, instrument: InstrumentRef, side: Side, qty_units: int, *, order_type: OrderType = "MARKET",
               price_paise: int = 0, trigger_price_paise: int = 0, validity: Validity = "DAY",
               product: Product = "INTRADAY", reduce_only: bool = False, group_id: str = "",
               cause: Tick | Quote | Bar | BookUpdate | None = None) -> str:
        """Send an order; returns its intent id. The order is checked here, once, against the
        instrument master's lot size and tick (``ipc.order_rules``): one that breaks a rule (a
        quantity that is not whole lots, a price off the tick or on a MARKET order, ...) never
        leaves, and reaches ``on_denied`` with the reason soon after this returns."""
        ...
    def submit_group(self, group_id: str, structure: GroupStructure, legs: list[GroupLegOrder], *,
                     timeout_ms: int = DEFAULT_GROUP_TIMEOUT_MS,
                     cause: Tick | Quote | Bar | BookUpdate | None = None) -> list[str]:
        """Submit several legs as one unit (risk checks every leg; execution sends BUY legs first,
        SELL legs once they are filled, and rolls the whole group back if a leg fails or the
        group is not complete in ``timeout_ms``). Returns the legs' intent ids in order. Leg
        orders reach ``on_order`` / ``on_fill`` like any other; a group refused as a whole reaches
        ``on_denied`` once per leg."""
        ...
    def buy(self, instrument: InstrumentRef, qty_units: int, **kw: Any) -> str: ...
    def sell(self, instrument: InstrumentRef, qty_units: int, **kw: Any) -> str: ...
    def cancel(self, client_order_id: str) -> None: ...
    def protect(self, instrument: InstrumentRef, trigger_price_paise: int, *, product: Product = "INTRADAY") -> bool:
        """The stop of this strategy's position in ``instrument`` (0 withdraws it). With
        ``protective_stop = "venue"`` in the strategy's config, execution rests a stop order for it
        at the venue (sized to the position, moved as this is called again, cancelled when the
        position closes, kept across restarts) and True is returned; with "engine" nothing leaves
        and False is returned: the strategy's own exit rules are the stop. Call it whenever the
        stop moves (only a changed value is sent). The strategy learns a stop fill from
        ``on_fill`` / ``position`` like any other; a reduce-only exit that finds its position closed
        by the stop is rejected (``STOP_CLOSED_POSITION``)."""
        ...
    def position(self, instrument: InstrumentRef, product: Product | None = None) -> int:
        """This strategy's net filled units in the instrument (+ long, - short): in ``product``,
        or in every product together (None)."""
        ...
    def working(self, instrument: InstrumentRef, product: Product | None = None) -> WorkingUnits:
        """Units of this strategy's orders in the instrument (in ``product``, or in all: None)
        that are sent and neither filled nor dead yet, per side. A denied or rejected order leaves
        it at once."""
        ...
    def subscribe_bars(self, instrument: InstrumentRef, timeframe_s: int) -> None: ...
    def save_state(self) -> None: ...
    def resolve(self, text: str) -> InstrumentRef: ...

    def subscribe(self, instrument: InstrumentRef) -> None:
        """Deliver this instrument's ticks, quotes and book updates to the strategy from now on
        (idempotent). For instruments chosen at run time, e.g. an option picked at entry."""
        ...

    @property
    def table(self) -> "InstrumentTable | None":
        """The loaded instrument master (option chains, expiries, lot sizes); None if not loaded."""
        ...

    def option_time(self, segment: int, expiry_yyyymmdd: int, at_ns: int) -> "TradingTime":
        """Trading time from ``at_ns`` to the settlement of contracts of ``segment`` expiring on that
        date, on the engine's market calendar (``engine.model.option_time``): the time the priced
        chain solves Black-76 with."""
        ...

    @property
    def risk_free_rate_annual(self) -> float:
        """The rate the priced chain discounts premiums and carries the spot with (``[control]
        risk_free_rate_annual``): continuously compounded, annual."""
        ...


class Strategy:
    """Base class; subclasses set ``kind`` and ``Params`` and override handlers they need."""

    kind: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams
    State: ClassVar[type[StrategyState]] = StrategyState

    def __init__(self, ctx: StrategyContext, params: StrategyParams, instrument: InstrumentRef | None) -> None:
        self.ctx = ctx
        self.params = params
        self.instrument = instrument
        self.state = self.State()

    def instruments(self) -> list[InstrumentRef]:
        """Instruments whose market data this strategy receives (default: its own)."""
        return [self.instrument] if self.instrument is not None else []

    def on_start(self) -> None: ...
    def on_tick(self, tick: Tick) -> None: ...
    def on_quote(self, quote: Quote) -> None: ...
    def on_bar(self, bar: Bar) -> None: ...
    def on_book(self, book: BookUpdate) -> None: ...
    def on_order(self, order: OrderEvent) -> None: ...
    def on_fill(self, fill: Fill) -> None: ...
    def on_denied(self, denied: OrderDenied) -> None: ...  # risk refused an intent
    def on_stop(self) -> None: ...

    def on_params_changed(self, old: StrategyParams) -> None:
        """Parameters were replaced at run time (``self.params`` is already the new value)."""


class BadParams(Exception):
    """A parameter failed validation; the message names the strategy, the key and the problem."""


def parse_params(cls: type[Strategy], name: str, raw: dict[str, Any]) -> StrategyParams:
    """``raw`` as ``cls``'s Params; BadParams names the key and the problem (a key past the
    quoting limit is cut: a huge input is never echoed whole)."""
    for key in raw:
        if len(key) > QUOTE_CHARS:  # no parameter has such a name; msgspec would quote it whole
            raise BadParams(f"strategy '{name}' ({cls.kind}): unknown parameter {quote_value(key)}")
    try:
        return msgspec.convert(raw, cls.Params, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc).replace("`", "")
        text = text.replace(" - at $.", " at params.").replace("Object contains unknown field", "unknown parameter")
        raise BadParams(f"strategy '{name}' ({cls.kind}): {text}") from None
