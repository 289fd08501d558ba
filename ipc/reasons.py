"""The two closed sets of reason codes an order can meet, shared by every actor and venue.

``DenyReason``: why an intent never became an order, refused at the edge (a malformed order, in
the strategy context's ``submit`` or the control API) or by risk's pre-trade checks.
``OrderDenied.reason_code`` carries its value.

``RejectReason``: why an order that exists (it has a client order id) was refused, cancelled or
ended by execution or a venue, and why a venue refused a cancel or a modify. Every venue maps its
own codes onto these (the paper venue uses them directly; Dhan's DH-9xx codes are mapped in
``actors.execution.dhan_rest``, with Dhan's code kept in the text). ``OrderEvent.reason_code``
carries its value.

Values equal names: the code is what a log line, a dashboard and the control API show. A code is
never renamed (ledgers on disk and dashboards hold them); new ones are added.
"""

from __future__ import annotations

import enum

import msgspec


class DenyReason(str, enum.Enum):
    """Why an intent was refused before it became an order."""

    # The order's own fields (the edge's check, ``ipc.order_rules``)
    BAD_INTENT = "BAD_INTENT"  # an empty or non-string id or strategy
    BAD_SIDE = "BAD_SIDE"
    BAD_ORDER_TYPE = "BAD_ORDER_TYPE"
    BAD_VALIDITY = "BAD_VALIDITY"
    BAD_PRODUCT = "BAD_PRODUCT"
    PRODUCT_NOT_FOR_SEGMENT = "PRODUCT_NOT_FOR_SEGMENT"  # CNC outside the equity segments
    BAD_QTY = "BAD_QTY"  # not an integer
    QTY_NOT_POSITIVE = "QTY_NOT_POSITIVE"
    BAD_PRICE = "BAD_PRICE"  # not an integer, negative, zero where needed, set where not allowed
    QTY_NOT_LOT_MULTIPLE = "QTY_NOT_LOT_MULTIPLE"
    PRICE_NOT_ON_TICK = "PRICE_NOT_ON_TICK"
    # Risk: the instrument
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    NOT_TRADABLE = "NOT_TRADABLE"
    INSTRUMENT_EXPIRED = "INSTRUMENT_EXPIRED"
    QTY_ABOVE_FREEZE = "QTY_ABOVE_FREEZE"
    # Risk: state, time and limits
    DUPLICATE_INTENT = "DUPLICATE_INTENT"
    HALTED = "HALTED"
    REDUCING = "REDUCING"
    REDUCE_ONLY = "REDUCE_ONLY"
    MARKET_CLOSED = "MARKET_CLOSED"
    ENTRY_CUTOFF = "ENTRY_CUTOFF"
    NO_LAST_PRICE = "NO_LAST_PRICE"
    PRICE_OUTSIDE_BAND = "PRICE_OUTSIDE_BAND"
    RATE_LIMIT_SECOND = "RATE_LIMIT_SECOND"
    RATE_LIMIT_DAY = "RATE_LIMIT_DAY"
    MAX_OPEN_ORDERS = "MAX_OPEN_ORDERS"
    COOLDOWN = "COOLDOWN"
    FLIP_ONLY = "FLIP_ONLY"
    MAX_ORDER_VALUE = "MAX_ORDER_VALUE"
    MAX_TRADES_PER_DAY = "MAX_TRADES_PER_DAY"
    MAX_POSITION_UNITS = "MAX_POSITION_UNITS"
    MAX_POSITION_VALUE = "MAX_POSITION_VALUE"
    MAX_GROSS_EXPOSURE = "MAX_GROSS_EXPOSURE"
    MAX_NET_EXPOSURE = "MAX_NET_EXPOSURE"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    GROUP_LEG_DENIED = "GROUP_LEG_DENIED"  # another leg of the same group was denied: none is sent


# Denials that are wrong whatever the engine's state (the order itself, or its instrument); every
# other reason depends on the state (limits, halted, market hours, funds).
INVALID_ORDER_DENIALS: frozenset[DenyReason] = frozenset({
    DenyReason.BAD_INTENT, DenyReason.BAD_SIDE, DenyReason.BAD_ORDER_TYPE, DenyReason.BAD_VALIDITY,
    DenyReason.BAD_PRODUCT, DenyReason.PRODUCT_NOT_FOR_SEGMENT, DenyReason.BAD_QTY, DenyReason.QTY_NOT_POSITIVE,
    DenyReason.BAD_PRICE, DenyReason.QTY_NOT_LOT_MULTIPLE, DenyReason.PRICE_NOT_ON_TICK,
    DenyReason.UNKNOWN_INSTRUMENT, DenyReason.NOT_TRADABLE, DenyReason.QTY_ABOVE_FREEZE,
})


class Denial(msgspec.Struct, frozen=True):
    """A refusal: the code, and a message that names the numbers involved."""

    reason: DenyReason
    message: str


class RejectReason(str, enum.Enum):
    """Why execution or a venue refused, cancelled or ended an order, or refused a request."""

    # Execution, before any venue
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"  # not in the instrument master
    NOT_RECONCILED = "NOT_RECONCILED"  # live trading waits for the first reconciliation
    # Any venue: the order
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"
    INVALID_ORDER = "INVALID_ORDER"  # the venue cannot express or work it
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"  # paper wallet; Dhan's margin calculator
    NO_MARKET_DATA = "NO_MARKET_DATA"  # paper: no book for the instrument yet
    NO_CHARGE_SCHEDULE = "NO_CHARGE_SCHEDULE"  # paper: no charges known for its segment class
    STOP_ALREADY_CROSSED = "STOP_ALREADY_CROSSED"
    SESSION_CLOSED = "SESSION_CLOSED"
    VENUE_REJECTED = "VENUE_REJECTED"  # the broker's RMS or the exchange said no (text says why)
    VENUE_HALTED = "VENUE_HALTED"  # after a fatal broker error nothing more is sent
    RATE_LIMITED = "RATE_LIMITED"  # our own rate windows: it would have waited too long
    ORDER_STATE_UNKNOWN = "ORDER_STATE_UNKNOWN"  # the broker could not be asked whether it has it
    # Any venue: how an order ended
    IOC_UNFILLED = "IOC_UNFILLED"
    STOP_CLOSED_POSITION = "STOP_CLOSED_POSITION"  # a reduce-only exit found its position closed by the stop
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    VENUE_CANCELLED = "VENUE_CANCELLED"  # cancelled by the venue, not asked by us
    # Any venue: a cancel or a modify refused
    ORDER_UNKNOWN = "ORDER_UNKNOWN"
    ORDER_CLOSED = "ORDER_CLOSED"
    INVALID_MODIFY = "INVALID_MODIFY"
    MODIFY_CAP = "MODIFY_CAP"  # Dhan: at most 25 modifications of an order
    SLICED_ORDER = "SLICED_ORDER"  # an order sent as child orders cannot be modified
    # A broker's API errors (Dhan DH-9xx, mapped in actors.execution.dhan_rest)
    AUTH_FAILED = "AUTH_FAILED"  # token invalid or expired, wrong client id
    NO_API_ACCESS = "NO_API_ACCESS"  # the account has no trading API access
    ACCOUNT_PROBLEM = "ACCOUNT_PROBLEM"
    BROKER_RATE_LIMIT = "BROKER_RATE_LIMIT"  # the broker's own rate limit
    BAD_INPUT = "BAD_INPUT"  # the broker refused a field
    ORDER_ERROR = "ORDER_ERROR"
    DATA_ERROR = "DATA_ERROR"
    BROKER_ERROR = "BROKER_ERROR"  # the broker's internal server error
    NETWORK_ERROR = "NETWORK_ERROR"
    IP_NOT_ALLOWED = "IP_NOT_ALLOWED"  # the static IP is not whitelisted
    BROKER_OTHER = "BROKER_OTHER"  # a code the adapter does not know (the text carries it)
    HTTP_ERROR = "HTTP_ERROR"  # an HTTP error without a broker error body
