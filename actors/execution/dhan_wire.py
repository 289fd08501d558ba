"""Dhan's REST and order-update wire formats, in one place: rupees and quantities at the SDK
boundary, and the typed rows the live venue and reconciliation work with.

Field names follow ``DHAN_PROTOCOL.md`` §B (order-update ``Data``, PascalCase) and §C (REST rows,
camelCase). Every parser takes the dict the SDK returned and gives back a frozen struct with
prices in paise and quantities in units, or raises ValueError naming the field and the row
(``order 5200000001: tradedQuantity: to_units: not a quantity: 'x'``). Nothing here does I/O.

- ``OrderUpdate`` (``parse_update``): one order's status from a stream ``order_alert`` or an
  order-book row; statuses are upper-cased (the stream sends "Traded", the REST API "TRADED").
- ``BrokerOrder`` (``parse_order_row``): a row of GET /orders.
- ``BrokerTrade`` (``parse_trade_row``): a row of GET /trades (one exchange trade).
- ``BrokerPosition`` (``parse_position_row``): a row of GET /positions.
- ``FundLimits`` (``parse_fund_limits``): GET /fundlimit (``availabelBalance`` is Dhan's spelling).
- ``MarginQuote`` (``parse_margin``): POST /margincalculator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Final, get_args

import msgspec

from engine.model.ist import ist_ns
from engine.model.money import Rounding, div_round, format_paise, parse_rupees, price_to_paise
from ipc.messages import SIDES, OrderSpec, OrderType, Product, Side
from ipc.segments import Segment

# Ours -> Dhan's, for requests.
ORDER_TYPES: Final = {"MARKET": "MARKET", "LIMIT": "LIMIT", "SL": "STOP_LOSS", "SL_M": "STOP_LOSS_MARKET"}
PRODUCTS: Final = {product: product for product in get_args(Product)}  # Dhan names them as we do
# Dhan's -> ours, for rows of orders we did not place. MTF is delivery bought on margin: CNC is the
# nearest of our products; CO and BO are intraday-only.
ORDER_TYPES_FROM_DHAN: Final[dict[str, OrderType]] = {v: k for k, v in ORDER_TYPES.items()}  # type: ignore[misc]
PRODUCTS_FROM_DHAN: Final[dict[str, Product]] = {
    "INTRADAY": "INTRADAY", "CNC": "CNC", "MARGIN": "MARGIN", "MTF": "CNC", "CO": "INTRADAY", "BO": "INTRADAY",
}
STATUSES: Final = frozenset({"TRANSIT", "PENDING", "PART_TRADED", "TRADED", "REJECTED", "CANCELLED", "EXPIRED",
                             "CLOSED", "TRIGGERED", "CONFIRM"})


# --------------------------------------------------------------------------------------------
# Money and quantities at the SDK boundary
# --------------------------------------------------------------------------------------------


def rupees_float(price_paise: int) -> float:
    """Paise -> the float the SDK sends (exact text first: 165050 -> float("1650.50"))."""
    return float(format_paise(price_paise))


def to_paise(value: Any) -> int:
    """A rupee amount from Dhan (float from the SDK's JSON, Decimal/str from ours, int) -> paise:
    a float by the engine's float rule (``price_to_paise``), text exactly, rounded half-even to the
    paisa past it (an average price). Raises ValueError for anything else."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"to_paise: not a rupee amount: {value!r}")
    if isinstance(value, float):
        try:
            return price_to_paise(value)
        except ValueError:
            raise ValueError(f"to_paise: not a finite amount: {value!r}") from None
    try:
        amount = Decimal(str(value).strip() or "0")
    except InvalidOperation:
        raise ValueError(f"to_paise: not a rupee amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"to_paise: not a finite amount: {value!r}")
    return parse_rupees(amount, Rounding.HALF_EVEN)


def to_units(value: Any) -> int:
    """A quantity from Dhan (int, or its text) -> units; raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"to_units: not a quantity: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, (str, Decimal)) and str(value).strip().lstrip("-").isdigit():
        return int(str(value).strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise ValueError(f"to_units: not a quantity: {value!r}")


def ist_time_ns(text: Any) -> int:
    """``"2026-11-20 09:15:03"`` (IST, as Dhan writes every time) -> ns since the epoch (UTC);
    0 for an empty or unreadable value (times order rows; they never move money)."""
    if not isinstance(text, str) or not text.strip():
        return 0
    try:
        moment = dt.datetime.strptime(text.strip()[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return 0
    return ist_ns(moment.date(), moment.time())


def _first(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = data.get(key)
        if value not in (None, ""):
            return value
    return None


class _Row:
    """Reads one row's fields, naming the row and the field in every error."""

    __slots__ = ("data", "what")

    def __init__(self, data: Any, what: str, id_keys: tuple[str, ...]) -> None:
        if not isinstance(data, dict):
            raise ValueError(f"{what}: not an object ({type(data).__name__})")
        self.data = data
        self.what = f"{what} {_first(data, *id_keys)!s}" if _first(data, *id_keys) is not None else what

    def number(self, convert: Callable[[Any], int], *keys: str, required: bool = False) -> int:
        value = _first(self.data, *keys)
        if value is None:
            if required:
                raise ValueError(f"{self.what}: {keys[0]} is missing")
            return 0
        try:
            return convert(value)
        except ValueError as exc:
            raise ValueError(f"{self.what}: {keys[0]}: {exc}") from None

    def text(self, *keys: str, required: bool = False) -> str:
        value = _first(self.data, *keys)
        if value is None:
            if required:
                raise ValueError(f"{self.what}: {keys[0]} is missing")
            return ""
        return str(value).strip()

    def segment(self, key: str = "exchangeSegment") -> int:
        name = self.text(key, required=True).upper()
        code = Segment.from_label(name)
        if code is None:
            raise ValueError(f"{self.what}: {key} {name!r} is not a Dhan exchange segment")
        return int(code)

    def side(self, key: str = "transactionType") -> Side:
        side = self.text(key, required=True).upper()
        if side not in SIDES:
            raise ValueError(f"{self.what}: {key} {side!r} is not BUY or SELL")
        return side  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Order updates (stream and order book alike)
# --------------------------------------------------------------------------------------------


class OrderUpdate(msgspec.Struct, frozen=True):
    """One order's status as Dhan reports it (stream ``order_alert`` or order-book row)."""

    correlation_id: str
    venue_order_id: str
    status: str  # upper case
    qty_units: int
    traded_qty_units: int  # cumulative
    traded_price_paise: int  # the last trade's price; 0 when not given
    avg_price_paise: int  # average over traded_qty_units; 0 when not given
    reason: str


def parse_update(data: dict[str, Any]) -> OrderUpdate:
    """An ``order_alert``'s ``Data`` (PascalCase) or an order-book row (camelCase) -> OrderUpdate.
    Raises ValueError (naming the key) for a missing status or a bad number."""
    status = _first(data, "Status", "orderStatus")
    if not isinstance(status, str):
        raise ValueError(f"order update without a status (OrderNo {data.get('OrderNo', data.get('orderId'))!r})")

    def number(convert: Callable[[Any], int], *keys: str) -> int:
        value = _first(data, *keys)
        try:
            return 0 if value is None else convert(value)
        except ValueError as exc:
            raise ValueError(f"order update {keys[0]}: {exc}") from None

    return OrderUpdate(
        correlation_id=str(_first(data, "CorrelationId", "correlationId") or ""),
        venue_order_id=str(_first(data, "OrderNo", "orderId") or ""),
        status=status.strip().upper(),
        qty_units=number(to_units, "Quantity", "quantity"),
        traded_qty_units=number(to_units, "TradedQty", "filledQty"),
        traded_price_paise=number(to_paise, "TradedPrice", "tradedPrice"),
        avg_price_paise=number(to_paise, "AvgTradedPrice", "averageTradedPrice"),
        reason=str(_first(data, "ReasonDescription", "omsErrorDescription", "Remarks") or "")[:200],
    )


def fill_price_paise(filled_before: int, value_before_paise: int, update: OrderUpdate) -> int:
    """Price of the increase ``update.traded_qty_units - filled_before``: ``TradedPrice`` when it
    agrees with the average within its rounding, else the increase's value from the averages over
    its quantity (half-even to the paisa: an update was missed, or a book row has only the average)."""
    delta = update.traded_qty_units - filled_before
    total = update.traded_qty_units
    traded = update.traded_price_paise
    if update.avg_price_paise <= 0:
        return traded
    avg_value = update.avg_price_paise * total
    if traded > 0 and 2 * abs(avg_value - (value_before_paise + traded * delta)) <= total:
        return traded  # the average is rounded to the paisa: up to half a paisa per unit
    return div_round(avg_value - value_before_paise, delta, Rounding.HALF_EVEN)


def fill_id(venue_order_id: str, cumulative_qty_units: int) -> str:
    """The id of the fill that brought Dhan order ``venue_order_id`` to ``cumulative_qty_units``
    traded. The stream reports cumulative traded quantities and the trade book lists trades whose
    running sum is the same scale, so the same fill seen both ways gets the same id."""
    return f"{venue_order_id}-{cumulative_qty_units}"


def fill_id_order(fill_id_text: str) -> str:
    """The Dhan order id a ``fill_id`` belongs to ("" when it is not one of ours)."""
    vid, sep, cum = fill_id_text.rpartition("-")
    return vid if sep and cum.isdigit() else ""


# --------------------------------------------------------------------------------------------
# REST rows
# --------------------------------------------------------------------------------------------


class BrokerOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A row of Dhan's order book (today's orders of the account, whoever placed them)."""

    venue_order_id: str
    correlation_id: str
    status: str  # upper case, one of STATUSES (unknown ones kept as sent)
    spec: OrderSpec
    filled_qty_units: int
    avg_price_paise: int
    reason: str
    ts_created_ns: int
    ts_updated_ns: int

    def as_update(self) -> OrderUpdate:
        return OrderUpdate(self.correlation_id, self.venue_order_id, self.status, self.spec.qty_units,
                           self.filled_qty_units, 0, self.avg_price_paise, self.reason)


def parse_order_row(data: Any) -> BrokerOrder:
    row = _Row(data, "order", ("orderId",))
    status = row.text("orderStatus", required=True).upper()
    order_type = ORDER_TYPES_FROM_DHAN.get(row.text("orderType").upper(), "LIMIT")
    validity = row.text("validity").upper()
    return BrokerOrder(
        venue_order_id=row.text("orderId", required=True),
        correlation_id=row.text("correlationId"),
        status=status,
        spec=OrderSpec(
            segment=row.segment(),
            security_id=row.number(to_units, "securityId", required=True),
            side=row.side(),
            product=PRODUCTS_FROM_DHAN.get(row.text("productType").upper(), "INTRADAY"),
            order_type=order_type,
            validity="IOC" if validity == "IOC" else "DAY",
            qty_units=row.number(to_units, "quantity", required=True),
            price_paise=row.number(to_paise, "price"),
            trigger_price_paise=row.number(to_paise, "triggerPrice"),
        ),
        filled_qty_units=row.number(to_units, "filledQty"),
        avg_price_paise=row.number(to_paise, "averageTradedPrice"),
        reason=row.text("omsErrorDescription")[:200],
        ts_created_ns=ist_time_ns(row.data.get("createTime")),
        ts_updated_ns=ist_time_ns(_first(row.data, "updateTime", "exchangeTime", "createTime")),
    )


class BrokerTrade(msgspec.Struct, frozen=True, kw_only=True):
    """A row of Dhan's trade book: one exchange trade of one order."""

    venue_order_id: str
    trade_id: str  # exchangeTradeId
    segment: int
    security_id: int
    side: Side
    product: Product
    qty_units: int
    price_paise: int
    ts_ns: int  # exchange time of the trade (0 when not given)

    def sort_key(self) -> tuple[int, int, str]:
        """Trades of one order in the order they happened: exchange time, then trade number."""
        tid = self.trade_id
        return (self.ts_ns, int(tid) if tid.isdigit() else 0, tid)


def parse_trade_row(data: Any) -> BrokerTrade:
    row = _Row(data, "trade", ("exchangeTradeId", "orderId"))
    qty = row.number(to_units, "tradedQuantity", required=True)
    price = row.number(to_paise, "tradedPrice", required=True)
    if qty <= 0 or price <= 0:
        raise ValueError(f"{row.what}: tradedQuantity {qty} and tradedPrice {format_paise(price)} must be positive")
    return BrokerTrade(
        venue_order_id=row.text("orderId", required=True),
        trade_id=row.text("exchangeTradeId"),
        segment=row.segment(),
        security_id=row.number(to_units, "securityId", required=True),
        side=row.side(),
        product=PRODUCTS_FROM_DHAN.get(row.text("productType").upper(), "INTRADAY"),
        qty_units=qty,
        price_paise=price,
        ts_ns=ist_time_ns(_first(row.data, "exchangeTime", "updateTime", "createTime")),
    )


class BrokerPosition(msgspec.Struct, frozen=True, kw_only=True):
    """A row of Dhan's positions: the account's net quantity in one instrument and product."""

    segment: int
    security_id: int
    product: str  # Dhan's product type as sent
    net_qty_units: int
    buy_qty_units: int
    sell_qty_units: int
    symbol: str


def parse_position_row(data: Any) -> BrokerPosition:
    row = _Row(data, "position", ("tradingSymbol", "securityId"))
    return BrokerPosition(
        segment=row.segment(),
        security_id=row.number(to_units, "securityId", required=True),
        product=row.text("productType").upper(),
        net_qty_units=row.number(to_units, "netQty", required=True),
        buy_qty_units=row.number(to_units, "buyQty"),
        sell_qty_units=row.number(to_units, "sellQty"),
        symbol=row.text("tradingSymbol"),
    )


class FundLimits(msgspec.Struct, frozen=True, kw_only=True):
    available_paise: int
    utilized_paise: int
    sod_limit_paise: int


def parse_fund_limits(data: Any) -> FundLimits:
    row = _Row(data, "fundlimit", ())
    return FundLimits(available_paise=row.number(to_paise, "availabelBalance", "availableBalance", required=True),
                      utilized_paise=row.number(to_paise, "utilizedAmount"),
                      sod_limit_paise=row.number(to_paise, "sodLimit"))


class MarginQuote(msgspec.Struct, frozen=True, kw_only=True):
    """Dhan's margin calculator for one order: what it needs and what the account has."""

    total_margin_paise: int
    available_paise: int
    insufficient_paise: int
    brokerage_paise: int

    @property
    def short_paise(self) -> int:
        """How much is missing (0 when the order fits the available balance)."""
        return max(self.insufficient_paise, self.total_margin_paise - self.available_paise, 0)


def parse_margin(data: Any) -> MarginQuote:
    row = _Row(data, "margincalculator", ())
    return MarginQuote(total_margin_paise=row.number(to_paise, "totalMargin", required=True),
                       available_paise=row.number(to_paise, "availableBalance", required=True),
                       insufficient_paise=row.number(to_paise, "insufficientBalance"),
                       brokerage_paise=row.number(to_paise, "brokerage"))


def parse_rows(data: Any, parse: Callable[[Any], Any]) -> tuple[list[Any], list[str]]:
    """Every row of a list answer that parses, and the errors of those that do not. A non-list
    answer is one error (Dhan answers an empty book with ``[]``)."""
    if not isinstance(data, list):
        return [], [f"expected a list of rows, got {type(data).__name__}"]
    rows: list[Any] = []
    errors: list[str] = []
    for item in data:
        try:
            rows.append(parse(item))
        except ValueError as exc:
            errors.append(str(exc)[:300])
    return rows, errors
