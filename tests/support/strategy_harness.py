"""Drive one strategy without processes: a fake StrategyContext that records every order and
cancel as data, a clock the test sets, positions from the fills the test feeds back, and
instruments resolved from the bundled sample master (generated for 2026-11-20).

    h = StrategyHarness(EmaCross, {"fast": 3, "slow": 5}, instrument="RELIANCE", tmp_path=tmp_path)
    h.at(dt.time(9, 30))
    sent = h.tick(h.inst("RELIANCE"), 250_000)     # the orders this tick caused
    h.fill(sent[0], 250_000)                        # execution reports a fill

Positions and working orders come from the order events, fills and denials the test feeds back,
kept by the engine's own ``actors.strategy.exposure.Exposure`` (as the strategy actor keeps them).

Market data goes where the actor would send it: ticks and quotes of the strategy's instruments
(``instruments()`` plus ``ctx.subscribe``) to ``on_tick`` / ``on_quote``, and through real
``BarBuilder``s for every ``subscribe_bars`` (a bar closes when a later tick arrives, as live).
``bar()`` hands a scripted bar straight to ``on_bar``. Every message is stamped with the clock.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from pathlib import Path
from typing import Any

import msgspec

from engine.model.ist import ist_ns
from actors.strategy.api import InstrumentRef, Strategy, StrategyState, parse_params
from actors.strategy.bars import BarBuilder
from actors.strategy.exposure import Exposure, WorkingUnits
from actors.control.config import ControlConfig
from engine.model.calendar import SessionCalendar
from engine.model.instruments import InstrumentTable
from engine.model.option_time import OptionClock, TradingTime
from engine.model.master import load_instruments
from engine.model.lookup import resolve_instrument
from engine.model.sample_master import BUNDLED_PATH
from ipc.messages import (
    Bar,
    BookUpdate,
    Fill,
    OrderDenied,
    OrderEvent,
    OrderIntent,
    OrderSpec,
    OrderState,
    OrderType,
    Product,
    Quote,
    Side,
    Tick,
    Validity,
)
from ipc.order_rules import check_order

TRADING_DAY = dt.date(2026, 11, 20)  # the day the bundled sample master was generated for (a Friday)
NS_PER_S = 1_000_000_000


@functools.lru_cache(maxsize=None)
def _option_clock(segment: int) -> OptionClock:
    return OptionClock(SessionCalendar(), segment)


@functools.lru_cache(maxsize=1)
def _table_at(cache_dir: str) -> InstrumentTable:
    return load_instruments(BUNDLED_PATH, cache_dir=Path(cache_dir))


def sample_table(cache_dir: Path) -> InstrumentTable:
    """The bundled sample master, loaded once per test session (its cache under ``cache_dir``)."""
    return _table_at(str(cache_dir))


class SentOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One ``ctx.submit`` as the test sees it."""

    intent_id: str
    side: Side
    segment: int
    security_id: int
    symbol: str
    qty_units: int
    order_type: OrderType
    price_paise: int
    trigger_price_paise: int
    validity: Validity
    product: Product
    reduce_only: bool
    group_id: str
    ts_ns: int  # the clock when it was sent

    def spec(self) -> OrderSpec:
        return OrderSpec(segment=self.segment, security_id=self.security_id, side=self.side, order_type=self.order_type,
                         validity=self.validity, product=self.product, qty_units=self.qty_units,
                         price_paise=self.price_paise, trigger_price_paise=self.trigger_price_paise)

    def brief(self) -> tuple[str, str, int, str, int, str]:
        """(side, symbol, qty_units, order_type, price_paise, group_id): what most tests compare."""
        return (self.side, self.symbol, self.qty_units, self.order_type, self.price_paise, self.group_id)


class LogLine(msgspec.Struct, frozen=True):
    level: str
    event: str
    fields: dict[str, Any]


class RecordingLog:
    """Stands in for ``engine.logs.Log``: keeps every line for the test to read."""

    def __init__(self) -> None:
        self.lines: list[LogLine] = []

    def _add(self, level: str, event: str, fields: dict[str, Any]) -> None:
        self.lines.append(LogLine(level, event, fields))

    def debug(self, event: str, **fields: Any) -> None:
        self._add("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._add("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._add("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._add("error", event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._add("error", event, fields)

    def events(self, level: str | None = None) -> list[str]:
        return [ln.event for ln in self.lines if level is None or ln.level == level]


class FakeContext:
    """A StrategyContext that records instead of sending (see the module docstring)."""

    def __init__(self, name: str, table: InstrumentTable | None, clock_ns: int) -> None:
        self.name = name
        self.log = RecordingLog()
        self.clock_ns = clock_ns
        self._table = table
        self.orders: list[SentOrder] = []
        self.cancels: list[str] = []
        self.protects: list[tuple[int, int, int, str]] = []  # (segment, security id, trigger paise, product)
        self.subscribed: list[InstrumentRef] = []
        self.bar_subscriptions: list[tuple[InstrumentRef, int]] = []
        self.exposure = Exposure()
        self.saves = 0
        self.groups: list[tuple[str, str, list[str], int]] = []  # (group id, structure, leg intent ids, timeout)
        self._seq = 0

    @property
    def table(self) -> InstrumentTable | None:
        return self._table

    # Option time on the exchange calendar and the chain's default rate, as the actor gives them.
    risk_free_rate_annual = ControlConfig().risk_free_rate_annual

    def option_time(self, segment: int, expiry_yyyymmdd: int, at_ns: int) -> TradingTime:
        return _option_clock(segment).to_expiry(expiry_yyyymmdd, at_ns)

    def now_ns(self) -> int:
        return self.clock_ns

    def submit(self, instrument: InstrumentRef, side: Side, qty_units: int, *, order_type: OrderType = "MARKET",
               price_paise: int = 0, trigger_price_paise: int = 0, validity: Validity = "DAY",
               product: Product = "INTRADAY", reduce_only: bool = False, group_id: str = "",
               cause: Tick | Quote | Bar | BookUpdate | None = None) -> str:
        self._seq += 1
        intent_id = f"{self.name}-{self._seq}"
        # The real context checks every order at this edge (and denies a bad one): a built-in
        # strategy must never make one, so a test fails here with the rule it broke.
        inst = self._table.get(instrument.segment, instrument.security_id) if self._table is not None else None
        lot, tick = (inst.lot_size_units, inst.tick_paise) if inst is not None else (instrument.lot_size_units,
                                                                                    instrument.tick_paise)
        spec = OrderSpec(segment=instrument.segment, security_id=instrument.security_id, side=side,
                         order_type=order_type, validity=validity, product=product, qty_units=qty_units,
                         price_paise=price_paise, trigger_price_paise=trigger_price_paise)
        denial = check_order(spec, lot, tick)
        assert denial is None, f"{self.name} made an invalid order: {denial.reason.value}: {denial.message}"
        self.exposure.sent(OrderIntent(intent_id, self.name, spec, self.clock_ns, self.clock_ns, self.clock_ns,
                                       reduce_only, group_id))
        self.orders.append(SentOrder(
            intent_id=intent_id, side=side, segment=instrument.segment, security_id=instrument.security_id,
            symbol=instrument.symbol, qty_units=qty_units, order_type=order_type, price_paise=price_paise,
            trigger_price_paise=trigger_price_paise, validity=validity, product=product, reduce_only=reduce_only,
            group_id=group_id, ts_ns=self.clock_ns))
        return intent_id

    def submit_group(self, group_id: str, structure: str, legs: list[Any], *, timeout_ms: int = 30_000,
                     cause: Tick | Quote | Bar | BookUpdate | None = None) -> list[str]:
        """Each leg is recorded as a SentOrder with the group id (what tests compare), and the
        group itself in ``groups``."""
        ids = [self.submit(leg.instrument, leg.side, leg.qty_units, order_type=leg.order_type,
                           price_paise=leg.price_paise, product=leg.product, group_id=group_id, cause=cause)
               for leg in legs]
        self.groups.append((group_id, structure, ids, timeout_ms))
        return ids

    def buy(self, instrument: InstrumentRef, qty_units: int, **kw: Any) -> str:
        return self.submit(instrument, "BUY", qty_units, **kw)

    def sell(self, instrument: InstrumentRef, qty_units: int, **kw: Any) -> str:
        return self.submit(instrument, "SELL", qty_units, **kw)

    def cancel(self, client_order_id: str) -> None:
        self.cancels.append(client_order_id)

    def protect(self, instrument: InstrumentRef, trigger_price_paise: int, *, product: Product = "INTRADAY") -> bool:
        self.protects.append((instrument.segment, instrument.security_id, trigger_price_paise, product))
        return True

    def position(self, instrument: InstrumentRef, product: Product | None = None) -> int:
        return self.exposure.position((self.name, instrument.segment, instrument.security_id), product)

    def working(self, instrument: InstrumentRef, product: Product | None = None) -> WorkingUnits:
        return self.exposure.working((self.name, instrument.segment, instrument.security_id), product)

    def held(self, segment: int, security_id: int) -> int:
        """Net filled units in an instrument (what the test's fills made)."""
        return self.exposure.position((self.name, segment, security_id))

    def subscribe_bars(self, instrument: InstrumentRef, timeframe_s: int) -> None:
        self.bar_subscriptions.append((instrument, timeframe_s))

    def subscribe(self, instrument: InstrumentRef) -> None:
        if instrument not in self.subscribed:
            self.subscribed.append(instrument)

    def save_state(self) -> None:
        self.saves += 1

    def resolve(self, text: str) -> InstrumentRef:
        assert self._table is not None
        inst = resolve_instrument(self._table, text)
        return InstrumentRef(inst.segment, inst.security_id, inst.symbol, inst.lot_size_units, inst.tick_paise)


def client_order_id(order: SentOrder) -> str:
    return f"c-{order.intent_id}"


class StrategyHarness:
    """One strategy, its fake context and the scripted market (see the module docstring)."""

    def __init__(self, cls: type[Strategy], params: dict[str, Any] | None = None, *, instrument: str = "",
                 cache_dir: Path, name: str = "t", start: dt.time = dt.time(9, 15),
                 day: dt.date = TRADING_DAY, state: StrategyState | None = None, autostart: bool = True) -> None:
        self.cls = cls
        self.raw_params = dict(params or {})
        self.instrument_text = instrument
        self.day = day
        self.table = sample_table(cache_dir)
        self.ctx = FakeContext(name, self.table, ist_ns(day, start))
        self.params = parse_params(cls, name, self.raw_params)
        ref = self.ctx.resolve(instrument) if instrument else None
        self.strategy = cls(self.ctx, self.params, ref)  # type: ignore[arg-type]
        if state is not None:
            self.strategy.state = state
        self._builders: dict[tuple[int, int], list[BarBuilder]] = {}
        self._fill_seq = 0
        self._filled: dict[str, int] = {}
        if autostart:
            self.start()

    # Set-up -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.strategy.on_start()
        for ref, tf in self.ctx.bar_subscriptions:
            self._builders.setdefault((ref.segment, ref.security_id), []).append(
                BarBuilder(tf, ref.segment, ref.security_id))

    def inst(self, text: str) -> InstrumentRef:
        """``"RELIANCE"``, ``"NSE_FNO:122558"`` or an option's trading symbol."""
        return self.ctx.resolve(text)

    def option(self, underlying: str, strike_rupees: int, option_type: str, expiry_index: int = 0) -> InstrumentRef:
        expiry = self.table.expiries(underlying, self.day)[expiry_index]
        inst = self.table.contract(underlying, expiry, strike_rupees * 100, option_type)  # type: ignore[arg-type]
        assert inst is not None, (underlying, expiry, strike_rupees, option_type)
        return InstrumentRef(inst.segment, inst.security_id, inst.symbol, inst.lot_size_units, inst.tick_paise)

    # The clock ----------------------------------------------------------------------------------
    def at(self, t: dt.time) -> None:
        """Set the clock to IST wall time ``t`` on the harness's trading day."""
        self.ctx.clock_ns = ist_ns(self.day, t)

    def advance(self, seconds: float) -> None:
        self.ctx.clock_ns += int(seconds * NS_PER_S)

    @property
    def now_ns(self) -> int:
        return self.ctx.clock_ns

    # Market data --------------------------------------------------------------------------------
    def _routed(self, ref: InstrumentRef) -> bool:
        key = (ref.segment, ref.security_id)
        refs = list(self.strategy.instruments()) + self.ctx.subscribed
        return any((r.segment, r.security_id) == key for r in refs)

    def _since(self, mark: int) -> list[SentOrder]:
        return self.ctx.orders[mark:]

    def tick(self, ref: InstrumentRef, ltp_paise: int) -> list[SentOrder]:
        """A trade-price tick at the clock; returns the orders it caused."""
        mark = len(self.ctx.orders)
        now = self.ctx.clock_ns
        if self._routed(ref):
            self.strategy.on_tick(Tick(ref.segment, ref.security_id, ltp_paise, now, now))
        self._feed_bars(ref, ltp_paise, 0)
        return self._since(mark)

    def quote(self, ref: InstrumentRef, ltp_paise: int, ltq_units: int = 0) -> list[SentOrder]:
        """A quote packet (LTP, last traded quantity) at the clock; returns the orders it caused."""
        mark = len(self.ctx.orders)
        now = self.ctx.clock_ns
        if self._routed(ref):
            self.strategy.on_quote(Quote(ref.segment, ref.security_id, ltp_paise, ltq_units, ltp_paise, 0, 0, 0,
                                         ltp_paise, ltp_paise, ltp_paise, ltp_paise, now, now))
        self._feed_bars(ref, ltp_paise, ltq_units)
        return self._since(mark)

    def book(self, ref: InstrumentRef, bid_paise: int, ask_paise: int, qty_units: int = 100) -> list[SentOrder]:
        """A book update (top of book ``bid_paise`` / ``ask_paise``, 0 for an empty side) at the clock;
        returns the orders it caused."""
        mark = len(self.ctx.orders)
        now = self.ctx.clock_ns
        both = bid_paise > 0 and ask_paise > 0
        if self._routed(ref):
            self.strategy.on_book(BookUpdate(ref.segment, ref.security_id, bid_paise, qty_units, ask_paise, qty_units,
                                             0, bid_paise + ask_paise if both else 0,
                                             ask_paise - bid_paise if both else 0, 0.0, 1, now, now))
        return self._since(mark)

    def _feed_bars(self, ref: InstrumentRef, price_paise: int, qty_units: int) -> None:
        now = self.ctx.clock_ns
        for builder in self._builders.get((ref.segment, ref.security_id), ()):
            for bar in builder.on_tick(now, price_paise, qty_units, now):
                self.strategy.on_bar(bar)

    def bar(self, ref: InstrumentRef, timeframe_s: int, close_paise: int, *, high_paise: int | None = None,
            low_paise: int | None = None, open_paise: int | None = None, volume_units: int = 0) -> list[SentOrder]:
        """A scripted bar closing at the clock (``ts_event_ns`` = now); returns the orders it caused."""
        mark = len(self.ctx.orders)
        now = self.ctx.clock_ns
        high = close_paise if high_paise is None else high_paise
        low = close_paise if low_paise is None else low_paise
        opn = close_paise if open_paise is None else open_paise
        self.strategy.on_bar(Bar(ref.segment, ref.security_id, timeframe_s, opn, high, low, close_paise, volume_units,
                                 now - timeframe_s * NS_PER_S, now, now))
        return self._since(mark)

    # Order flow ---------------------------------------------------------------------------------
    def _event(self, order: SentOrder, state: OrderState, filled_units: int, value_paise: int,
               reason_code: str = "") -> OrderEvent:
        now = self.ctx.clock_ns
        return OrderEvent(client_order_id(order), order.intent_id, self.ctx.name, order.spec(), state, filled_units,
                          value_paise, "", reason_code, reason_code, now, now)

    def accept(self, order: SentOrder) -> list[SentOrder]:
        """Execution reports the order ACCEPTED (gives the strategy its client order id)."""
        mark = len(self.ctx.orders)
        self._on_order(self._event(order, OrderState.ACCEPTED, 0, 0))
        return self._since(mark)

    def fill(self, order: SentOrder, price_paise: int, qty_units: int | None = None) -> list[SentOrder]:
        """Execution fills ``qty_units`` (default: the rest) of ``order`` at ``price_paise``: an order
        event (PARTIALLY_FILLED or FILLED), then the Fill. Returns the orders the strategy sent."""
        mark = len(self.ctx.orders)
        done = self._filled.get(order.intent_id, 0)
        qty = order.qty_units - done if qty_units is None else qty_units
        assert 0 < qty <= order.qty_units - done, (qty, order.qty_units, done)
        self._filled[order.intent_id] = done + qty
        state = OrderState.FILLED if done + qty == order.qty_units else OrderState.PARTIALLY_FILLED
        self._on_order(self._event(order, state, done + qty, (done + qty) * price_paise))
        self._fill_seq += 1
        now = self.ctx.clock_ns
        self._on_fill(Fill(f"f{self._fill_seq}", client_order_id(order), f"v-{order.intent_id}", self.ctx.name,
                           order.segment, order.security_id, order.side, qty, price_paise, 0, now, now,
                           order.product))
        return self._since(mark)

    def fill_all(self, orders: list[SentOrder], price_paise: dict[int, int] | int) -> list[SentOrder]:
        """Fill every order at one price, or at ``price_paise[security_id]``."""
        mark = len(self.ctx.orders)
        for o in orders:
            self.fill(o, price_paise if isinstance(price_paise, int) else price_paise[o.security_id])
        return self._since(mark)

    def foreign_fill(self, ref: InstrumentRef, side: Side, qty_units: int, price_paise: int) -> list[SentOrder]:
        """A fill of an order the strategy did not send itself (e.g. the execution engine rolling
        back a leg of a failed group)."""
        mark = len(self.ctx.orders)
        self._fill_seq += 1
        now = self.ctx.clock_ns
        self._on_fill(Fill(f"f{self._fill_seq}", f"rollback-{self._fill_seq}", "", self.ctx.name,
                           ref.segment, ref.security_id, side, qty_units, price_paise, 0, now, now))
        return self._since(mark)

    def reject(self, order: SentOrder, state: OrderState = OrderState.REJECTED) -> list[SentOrder]:
        """Execution ends the order unfilled (or with what filled so far): REJECTED / CANCELED / EXPIRED."""
        mark = len(self.ctx.orders)
        done = self._filled.get(order.intent_id, 0)
        self._on_order(self._event(order, state, done, 0, reason_code="TEST"))
        return self._since(mark)

    def deny(self, order: SentOrder, reason_code: str = "MAX_ORDER_VALUE") -> list[SentOrder]:
        """Risk refuses the intent."""
        mark = len(self.ctx.orders)
        now = self.ctx.clock_ns
        self.ctx.exposure.dropped(order.intent_id)
        self.strategy.on_denied(OrderDenied(order.intent_id, self.ctx.name, order.segment, order.security_id,
                                            reason_code, "denied by the test", now, now))
        return self._since(mark)

    def _on_order(self, event: OrderEvent) -> None:
        self.ctx.exposure.on_order(event)  # as the actor does: its view first, then the strategy
        self.strategy.on_order(event)

    def _on_fill(self, fill: Fill) -> None:
        self.ctx.exposure.on_fill(fill)
        self.strategy.on_fill(fill)

    # Persistence --------------------------------------------------------------------------------
    def restarted(self, cache_dir: Path) -> "StrategyHarness":
        """A new harness whose strategy starts from this one's state after a msgpack round trip
        (as the ledger stores it), with the same clock, positions and order counter."""
        blob = msgspec.msgpack.encode(self.strategy.state)
        state = msgspec.msgpack.decode(blob, type=self.cls.State)
        again = StrategyHarness(self.cls, self.raw_params, cache_dir=cache_dir, name=self.ctx.name,
                                day=self.day, state=state, autostart=False,
                                instrument=self.instrument_text)
        again.ctx.clock_ns = self.ctx.clock_ns
        again.ctx.exposure = copy.deepcopy(self.ctx.exposure)  # the actor seeds it from the ledger
        again.ctx._seq = self.ctx._seq
        again._filled = dict(self._filled)
        again.start()
        return again
