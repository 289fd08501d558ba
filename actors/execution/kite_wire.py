"""Kite Connect's order wire formats for the live venue, in one place: our order as Kite's
parameters, and Kite's rows (order book, postbacks, trades, positions, margins) as the typed rows
the venue and reconciliation already work with (``dhan_wire``'s ``OrderUpdate``, ``BrokerOrder``,
``BrokerTrade``, ``BrokerPosition``, ``FundLimits``, ``MarginQuote``: prices in paise, quantities
in units). Field names follow docs/KITE_PROTOCOL.md section C and the ``kiteconnect`` SDK. Nothing
here does I/O; every parser raises ValueError naming the row and the field.

Our client order id as Kite's ``tag`` (``kite_tag``). Kite takes at most 20 alphanumeric
characters. Our ids are ``<prefix>-<n>`` (``SK7QX2-42``: the prefix is drawn from an alphabet
without I and O) and a sliced order's children ``<id>_<k>``: the tag replaces "-" by "O" and "_"
by "I" (``SK7QX2O42``, ``SK7QX2O42I3``), so it is deterministic, stays alphanumeric, and maps
back exactly (``client_order_id_of_tag``) — a restart finds its order in Kite's order book by it.
A child tag fits 20 characters up to order number 10**10; an id that would not fit is refused
before anything is sent.

Statuses: Kite's (``OPEN``, ``COMPLETE``, ``TRIGGER PENDING``, ``PUT ORDER REQ RECEIVED`` ...) are
mapped onto the vocabulary the venue's state rules use (``dhan_venue`` docstring): still being
validated before the exchange has it is ``TRANSIT``; working is ``PENDING`` (``PART_TRADED`` with
a fill); ``COMPLETE`` is ``TRADED``; ``CANCELLED`` / ``REJECTED`` as they are. Kite reports only
the average price of an order's fills, so fills from postbacks and the order book are priced from
the averages (``dhan_wire.fill_price_paise``); the trade book has each trade's own price.

Instruments: Kite names an instrument by exchange and trading symbol. ``SymbolResolver`` goes both
ways through the instrument table (``[instruments] master = "kite"``: its symbols are Kite's).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from collections.abc import Callable
from typing import Any, Final, Protocol

from actors.execution.dhan_wire import (
    BrokerOrder,
    BrokerPosition,
    BrokerTrade,
    FundLimits,
    MarginQuote,
    OrderUpdate,
    to_paise,
    to_units,
)
from actors.execution.orders import OrderSnapshot
from engine.model.ist import IST, NS_PER_S
from engine.model.money import Rounding, div_round, format_paise, parse_rupees
from ipc.messages import (
    PRICED_ORDER_TYPES,
    SIDES,
    TRIGGERED_ORDER_TYPES,
    VALIDITIES,
    OrderSpec,
    OrderType,
    Product,
    Side,
)
from ipc.segments import Segment

MAX_TAG_CHARS: Final = 20
# Ours -> Kite's, for requests (and back, for rows of orders we did not place).
ORDER_TYPES: Final[dict[str, str]] = {"MARKET": "MARKET", "LIMIT": "LIMIT", "SL": "SL", "SL_M": "SL-M"}
PRODUCTS: Final[dict[str, str]] = {"INTRADAY": "MIS", "CNC": "CNC", "MARGIN": "NRML"}
ORDER_TYPES_FROM_KITE: Final[dict[str, OrderType]] = {v: k for k, v in ORDER_TYPES.items()}  # type: ignore[misc]
# CO and MTF (bought on margin) have no product of ours: the nearest one.
PRODUCTS_FROM_KITE: Final[dict[str, Product]] = {"MIS": "INTRADAY", "CNC": "CNC", "NRML": "MARGIN", "CO": "INTRADAY",
                                                 "MTF": "CNC"}
# Our segment <-> Kite's exchange (orders name an exchange; NCO has no segment of ours).
EXCHANGES: Final[dict[int, str]] = {
    Segment.NSE_EQ: "NSE", Segment.BSE_EQ: "BSE", Segment.NSE_FNO: "NFO", Segment.BSE_FNO: "BFO",
    Segment.NSE_CURRENCY: "CDS", Segment.BSE_CURRENCY: "BCD", Segment.MCX_COMM: "MCX",
}
SEGMENTS: Final[dict[str, int]] = {v: int(k) for k, v in EXCHANGES.items()}
VARIETIES: Final = frozenset({"regular", "amo"})
# <prefix (no I, no O)>O<order number>[I<child>]: the tag of ``<prefix>-<n>[_<k>]``.
_OUR_TAG: Final = re.compile(r"[0-9A-HJ-NP-Z]+O[0-9]+(?:I[0-9]+)?")
# Kite's statuses before the exchange has the order (an RMS or exchange reject may still come).
_IN_TRANSIT: Final = frozenset({"PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING"})
_ENDED: Final = {"COMPLETE": "TRADED", "CANCELLED": "CANCELLED", "CANCELLED AMO": "CANCELLED",
                 "REJECTED": "REJECTED", "EXPIRED": "EXPIRED"}


class SymbolResolver(Protocol):
    """The instrument table both ways (``KiteVenue`` gets one from the execution actor)."""

    def symbol(self, segment: int, security_id: int) -> str | None: ...
    def instrument(self, segment: int, symbol: str) -> int | None: ...


# --------------------------------------------------------------------------------------------
# Our ids as Kite tags
# --------------------------------------------------------------------------------------------


def kite_tag(client_order_id: str) -> str:
    """The tag of ``client_order_id`` (module docstring); ValueError when it cannot be one."""
    tag = client_order_id.replace("-", "O").replace("_", "I")
    if not tag.isascii() or not tag.isalnum() or "O" in client_order_id or "I" in client_order_id:
        raise ValueError(f"client order id {client_order_id[:40]!r} has no Kite tag (A-Z, 0-9, '-', '_' "
                         "without I and O)")
    if len(tag) > MAX_TAG_CHARS:
        raise ValueError(f"client order id {client_order_id[:40]!r} is {len(tag)} characters as a Kite tag; "
                         f"Kite takes {MAX_TAG_CHARS}")
    return tag


def client_order_id_of_tag(tag: str) -> str:
    """Our client order id of a Kite ``tag`` ("" when it is none of ours: a tag set by hand)."""
    if len(tag) > MAX_TAG_CHARS or _OUR_TAG.fullmatch(tag) is None:
        return ""
    return tag.replace("O", "-").replace("I", "_")


def _tag_of(data: dict[str, Any]) -> str:
    tag = data.get("tag")
    if not tag and isinstance(data.get("tags"), list) and data["tags"]:
        tag = data["tags"][0]
    return str(tag or "").strip()


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def rupees_text(price_paise: int) -> str:
    """Paise -> the decimal text Kite's form body carries (165050 -> "1650.50": exact)."""
    return format_paise(price_paise)


def place_params(order: OrderSnapshot, symbol: str, variety: str) -> dict[str, Any]:
    """Keyword arguments of ``KiteConnect.place_order`` for ``order`` (its working qty, price and
    trigger), tagged with ``kite_tag``. Raises ValueError for what Kite cannot express."""
    spec = order.spec
    exchange = EXCHANGES.get(spec.segment)
    if exchange is None:
        raise ValueError(f"segment {spec.segment} is not a tradable Kite exchange")
    if spec.order_type not in ORDER_TYPES or spec.product not in PRODUCTS:
        raise ValueError(f"order type {spec.order_type} / product {spec.product} has no Kite mapping")
    if spec.validity not in VALIDITIES:
        raise ValueError(f"validity {spec.validity} has no Kite mapping")
    if variety not in VARIETIES:
        raise ValueError(f"variety {variety!r} is not one of {sorted(VARIETIES)}")
    params: dict[str, Any] = dict(
        variety=variety, exchange=exchange, tradingsymbol=symbol, transaction_type=spec.side,
        quantity=spec.qty_units, product=PRODUCTS[spec.product], order_type=ORDER_TYPES[spec.order_type],
        validity=spec.validity, tag=kite_tag(order.client_order_id))
    if spec.order_type in PRICED_ORDER_TYPES:
        params["price"] = rupees_text(spec.price_paise)
    if spec.order_type in TRIGGERED_ORDER_TYPES:
        params["trigger_price"] = rupees_text(spec.trigger_price_paise)
    if spec.order_type in ("MARKET", "SL_M"):
        params["market_protection"] = -1  # Kite's automatic protection: a MARKET order without it is refused
    return params


def modify_params(spec: OrderSpec, variety: str, venue_order_id: str, qty_units: int, price_paise: int,
                  trigger_price_paise: int) -> dict[str, Any]:
    """Keyword arguments of ``KiteConnect.modify_order``: absolute values (sending twice is safe)."""
    params: dict[str, Any] = dict(variety=variety, order_id=venue_order_id, quantity=qty_units,
                                  order_type=ORDER_TYPES[spec.order_type])
    if spec.order_type in PRICED_ORDER_TYPES:
        params["price"] = rupees_text(price_paise)
    if spec.order_type in TRIGGERED_ORDER_TYPES:
        params["trigger_price"] = rupees_text(trigger_price_paise)
    return params


def convert_params(segment: int, symbol: str, long: bool, qty_units: int, from_product: str,
                   to_product: str) -> dict[str, Any]:
    """Keyword arguments of ``KiteConnect.convert_position`` (PUT /portfolio/positions) for today's
    position (``position_type`` "day": a carried position is "overnight", which ``shikra convert``
    does not ask for)."""
    return dict(exchange=EXCHANGES[segment], tradingsymbol=symbol, transaction_type="BUY" if long else "SELL",
                position_type="day", quantity=qty_units, old_product=PRODUCTS[from_product],
                new_product=PRODUCTS[to_product])


def margin_params(spec: OrderSpec, symbol: str, variety: str, qty_units: int, price_paise: int,
                  trigger_price_paise: int) -> list[dict[str, Any]]:
    """The body of ``KiteConnect.order_margins`` (POST /margins/orders) for one order."""
    return [dict(exchange=EXCHANGES[spec.segment], tradingsymbol=symbol, transaction_type=spec.side,
                 variety=variety, product=PRODUCTS[spec.product], order_type=ORDER_TYPES[spec.order_type],
                 quantity=qty_units, price=float(rupees_text(price_paise)),
                 trigger_price=float(rupees_text(trigger_price_paise)))]


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


def kite_time_ns(value: Any) -> int:
    """A Kite timestamp (IST wall time: text "2026-12-07 09:15:02" or the naive datetime the SDK
    makes of it) -> UTC epoch ns; 0 when absent or unreadable."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return 0
    if not isinstance(value, dt.datetime):
        return 0
    if value.tzinfo is None:
        value = value.replace(tzinfo=IST)
    return int(value.timestamp()) * NS_PER_S + value.microsecond * 1000


def mapped_status(status: str, filled_units: int) -> str:
    """Kite's status -> the venue's vocabulary (module docstring); unknown ones are working."""
    status = status.strip().upper()
    if status in _ENDED:
        return _ENDED[status]
    if status in _IN_TRANSIT:
        return "TRANSIT"
    return "PART_TRADED" if filled_units > 0 else "PENDING"


class _Row:
    """Reads one Kite row's fields, naming the row and the field in every error."""

    __slots__ = ("data", "what")

    def __init__(self, data: Any, what: str, id_key: str) -> None:
        if not isinstance(data, dict):
            raise ValueError(f"{what}: not an object ({type(data).__name__})")
        self.data = data
        ident = data.get(id_key)
        self.what = f"{what} {ident!s}" if ident not in (None, "") else what

    def number(self, convert: Callable[[Any], int], key: str, *, required: bool = False) -> int:
        value = self.data.get(key)
        if value in (None, ""):
            if required:
                raise ValueError(f"{self.what}: {key} is missing")
            return 0
        try:
            return convert(value)
        except ValueError as exc:
            raise ValueError(f"{self.what}: {key}: {exc}") from None

    def text(self, key: str, *, required: bool = False) -> str:
        value = self.data.get(key)
        if value in (None, ""):
            if required:
                raise ValueError(f"{self.what}: {key} is missing")
            return ""
        return str(value).strip()

    def side(self) -> Side:
        side = self.text("transaction_type", required=True).upper()
        if side not in SIDES:
            raise ValueError(f"{self.what}: transaction_type {side!r} is not BUY or SELL")
        return side  # type: ignore[return-value]

    def instrument(self, resolver: SymbolResolver) -> tuple[int, int]:
        exchange = self.text("exchange", required=True).upper()
        segment = SEGMENTS.get(exchange)
        if segment is None:
            raise ValueError(f"{self.what}: exchange {exchange!r} has no segment here")
        symbol = self.text("tradingsymbol", required=True)
        security_id = resolver.instrument(segment, symbol)
        if security_id is None:
            raise ValueError(f"{self.what}: {exchange}:{symbol} is not in the instrument master")
        return segment, security_id


class KiteOrderUpdate(OrderUpdate, frozen=True):
    """An ``OrderUpdate`` that also carries the traded value from Kite's unrounded average."""

    traded_value_paise: int  # average_price x filled_quantity, half-even to the paisa once


def traded_value_paise(average_price: Any, filled_units: int) -> int:
    """The value of ``filled_units`` at Kite's ``average_price`` (as sent: 152.375 stays exact), in
    paise, rounded once. Raises ValueError for what is not an amount."""
    if isinstance(average_price, bool) or average_price is None:
        raise ValueError(f"not an average price: {average_price!r}")
    try:
        amount = Decimal(str(average_price).strip() or "0")
    except InvalidOperation:
        raise ValueError(f"not an average price: {average_price!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not a finite average price: {average_price!r}")
    return parse_rupees(amount * filled_units, Rounding.HALF_EVEN)


def fill_price_paise(filled_before: int, value_before_paise: int, update: KiteOrderUpdate) -> int:
    """Price of the increase ``update.traded_qty_units - filled_before``: what the traded value grew
    by over its quantity (half-even to the paisa). Exact when only this fill is new and Kite's
    average is unrounded; Kite sends no price per fill here (the trade book has them)."""
    delta = update.traded_qty_units - filled_before
    return div_round(update.traded_value_paise - value_before_paise, delta, Rounding.HALF_EVEN)


def parse_update(data: dict[str, Any]) -> KiteOrderUpdate:
    """A postback's ``data`` or an order-book row -> KiteOrderUpdate (statuses mapped); raises
    ValueError for a missing status or order id, or a bad number."""
    row = _Row(data, "order", "order_id")
    status = row.text("status", required=True)
    filled = row.number(to_units, "filled_quantity")
    try:
        value = traded_value_paise(data.get("average_price") or 0, filled)
    except ValueError as exc:
        raise ValueError(f"{row.what}: average_price: {exc}") from None
    return KiteOrderUpdate(
        correlation_id=client_order_id_of_tag(_tag_of(data)),
        venue_order_id=row.text("order_id", required=True),
        status=mapped_status(status, filled),
        qty_units=row.number(to_units, "quantity"),
        traded_qty_units=filled,
        traded_price_paise=0,  # Kite gives the average only
        avg_price_paise=row.number(to_paise, "average_price"),
        reason=row.text("status_message")[:200],
        traded_value_paise=value,
    )


def parse_order_row(data: Any, resolver: SymbolResolver) -> BrokerOrder:
    """A row of GET /orders (every order of the day, whoever placed it)."""
    row = _Row(data, "order", "order_id")
    update = parse_update(data)
    segment, security_id = row.instrument(resolver)
    order_type = ORDER_TYPES_FROM_KITE.get(row.text("order_type").upper(), "LIMIT")
    return BrokerOrder(
        venue_order_id=update.venue_order_id,
        correlation_id=update.correlation_id,
        status=update.status,
        spec=OrderSpec(
            segment=segment, security_id=security_id, side=row.side(),
            product=PRODUCTS_FROM_KITE.get(row.text("product").upper(), "INTRADAY"),
            order_type=order_type,
            validity="IOC" if row.text("validity").upper() == "IOC" else "DAY",
            qty_units=row.number(to_units, "quantity", required=True),
            price_paise=row.number(to_paise, "price") if order_type in PRICED_ORDER_TYPES else 0,
            trigger_price_paise=row.number(to_paise, "trigger_price") if order_type in TRIGGERED_ORDER_TYPES else 0,
        ),
        filled_qty_units=update.traded_qty_units,
        avg_price_paise=update.avg_price_paise,
        reason=update.reason,
        ts_created_ns=kite_time_ns(data.get("order_timestamp")),
        ts_updated_ns=kite_time_ns(data.get("exchange_update_timestamp") or data.get("exchange_timestamp")
                                   or data.get("order_timestamp")),
    )


def parse_trade_row(data: Any, resolver: SymbolResolver) -> BrokerTrade:
    """A row of GET /trades: one exchange trade of one order, at its own price."""
    row = _Row(data, "trade", "trade_id")
    qty = row.number(to_units, "quantity", required=True)
    price = row.number(to_paise, "average_price", required=True)
    if qty <= 0 or price <= 0:
        raise ValueError(f"{row.what}: quantity {qty} and average_price {format_paise(price)} must be positive")
    segment, security_id = row.instrument(resolver)
    return BrokerTrade(
        venue_order_id=row.text("order_id", required=True), trade_id=row.text("trade_id"), segment=segment,
        security_id=security_id, side=row.side(),
        product=PRODUCTS_FROM_KITE.get(row.text("product").upper(), "INTRADAY"), qty_units=qty, price_paise=price,
        ts_ns=kite_time_ns(data.get("exchange_timestamp") or data.get("fill_timestamp")))


def parse_position_row(data: Any, resolver: SymbolResolver) -> BrokerPosition:
    """A row of GET /portfolio/positions' ``net`` list (``product`` as ours: MIS is INTRADAY)."""
    row = _Row(data, "position", "tradingsymbol")
    segment, security_id = row.instrument(resolver)
    return BrokerPosition(
        segment=segment, security_id=security_id, product=_our_product(row.text("product").upper()),
        net_qty_units=row.number(to_units, "quantity", required=True),
        buy_qty_units=row.number(to_units, "buy_quantity"), sell_qty_units=row.number(to_units, "sell_quantity"),
        symbol=row.text("tradingsymbol"))


def _our_product(kite_product: str) -> str:
    """Our product for Kite's (an unknown one kept as sent: reconciliation then reports it)."""
    return PRODUCTS_FROM_KITE.get(kite_product, kite_product)


def position_rows(data: Any) -> Any:
    """The ``net`` list of a positions answer (the rows to compare; ``day`` is today's part)."""
    if isinstance(data, dict) and "net" in data:
        return data["net"]
    return data  # not the expected shape: parse_rows says so


def parse_fund_limits(data: Any) -> FundLimits:
    """GET /user/margins: the equity segment's ``net`` is what can be used (Kite's "available margin")."""
    if not isinstance(data, dict) or not isinstance(data.get("equity"), dict):
        raise ValueError("margins: no equity segment")
    equity = _Row(data["equity"], "margins equity", "")
    available = data["equity"].get("available")
    utilised = data["equity"].get("utilised")
    return FundLimits(
        available_paise=equity.number(to_paise, "net", required=True),
        utilized_paise=_Row(utilised, "margins utilised", "").number(to_paise, "debits")
        if isinstance(utilised, dict) else 0,
        sod_limit_paise=_Row(available, "margins available", "").number(to_paise, "opening_balance")
        if isinstance(available, dict) else 0)


def parse_order_margin(data: Any, available_paise: int) -> MarginQuote:
    """POST /margins/orders for one order (``total``: what it needs) against ``available_paise``
    (the last margins the venue read: Kite's answer does not carry it)."""
    if not isinstance(data, list) or len(data) != 1:
        raise ValueError(f"order margins: expected one row, got {type(data).__name__}")
    row = _Row(data[0], "order margins", "tradingsymbol")
    charges = data[0].get("charges")
    return MarginQuote(total_margin_paise=row.number(to_paise, "total", required=True),
                       available_paise=available_paise, insufficient_paise=0,
                       brokerage_paise=_Row(charges, "order charges", "").number(to_paise, "brokerage")
                       if isinstance(charges, dict) else 0)
