"""What the ledger stores: the event union and the rows of its derived tables.

Order, fill and order-group events are the bus messages themselves (``ipc.messages.OrderEvent``,
``ipc.messages.Fill`` and ``ipc.messages.GroupEvent``): the ledger stores exactly what execution
publishes. The other records
exist only in the ledger. Every record is a frozen, array-like msgspec Struct tagged
``"ledger.<kind>@<version>"`` in the same ``t`` tag field as the bus messages, so one decoder
reads the whole ``events`` database and refuses an unknown version instead of guessing.

Units are in the names: ``*_paise`` integer paise, ``*_units`` integer units, ``*_ns`` integer
nanoseconds since the Unix epoch (UTC).
"""

from __future__ import annotations

from typing import Literal, Union

import msgspec

from ipc.messages import Fill, GroupEvent, OrderEvent, Product, TradingState, UserRole

CashKind = Literal["DEPOSIT", "WITHDRAWAL", "ADJUSTMENT"]

# The single broker account that fills settle against (a Fill carries no account: one Dhan
# client id is one account). Cash movements may name other accounts (e.g. a margin pledge).
TRADING_ACCOUNT = "main"


class LedgerRecord(msgspec.Struct, frozen=True, array_like=True, tag_field="t"):
    """Base of the ledger-only records (frozen, array-encoded, tagged like bus messages)."""


class CashMovement(LedgerRecord, tag="ledger.cash@1"):
    """Money entering or leaving an account outside trading.

    DEPOSIT credits and WITHDRAWAL debits ``amount_paise`` (both must be > 0); ADJUSTMENT adds
    the signed ``amount_paise`` (a broker correction, interest, a reconciliation difference).
    """

    kind: CashKind
    amount_paise: int
    account: str
    note: str
    ts_ns: int


class AuditRecord(LedgerRecord, tag="ledger.audit@1"):
    """A state-changing operator call: who did what with which arguments, and the result."""

    who: str
    action: str
    args: dict[str, str]
    result: str
    ts_ns: int


class StrategyStateSaved(LedgerRecord, tag="ledger.strategy_state@1"):
    """A strategy's persisted state (opaque bytes the strategy encodes itself); latest wins."""

    strategy: str
    state: bytes
    ts_ns: int


class TradingStateChanged(LedgerRecord, tag="ledger.trading@1"):
    """Kill switch / trading state: HALTED (kill switch engaged), REDUCING or ACTIVE."""

    state: TradingState
    reason_code: str
    detail: str
    by: str
    ts_ns: int


class IntentRecorded(LedgerRecord, tag="ledger.intent@1"):
    """An intent became an order: ``intent_id`` is bound to ``client_order_id`` forever.

    ``order_no`` is the persisted counter value the id was made from; the ledger refuses an
    ``order_no`` below its counter so that an id is never issued twice.
    """

    intent_id: str
    client_order_id: str
    order_no: int
    strategy: str
    ts_ns: int


class UserAdded(LedgerRecord, tag="ledger.user_added@1"):
    """An operator of the control API was created, or given ``role`` (re-activated if revoked)."""

    name: str
    role: UserRole
    by: str
    ts_ns: int


class TokenIssued(LedgerRecord, tag="ledger.token_issued@1"):
    """A bearer token for user ``name``. Only its SHA-256 (64 lower-case hex digits) is stored:
    the token itself is shown once to whoever asked for it and never written anywhere.
    ``token_id`` is a short public label that names the token in listings and audit rows."""

    token_sha256: str
    token_id: str
    name: str
    by: str
    ts_ns: int


class UserRevoked(LedgerRecord, tag="ledger.user_revoked@1"):
    """User ``name`` and every token it holds stop working at once."""

    name: str
    by: str
    ts_ns: int


class PositionConverted(LedgerRecord, tag="ledger.position_converted@1"):
    """``qty_units`` of a strategy's position in one instrument moved from ``from_product`` to
    ``to_product`` (``shikra convert``; at Dhan through ``POST /positions/convert``), at their share
    of the position's open cost (``engine.ledger.fold``). ``by`` is who asked (the control API's
    user); ``venue_ref`` what the venue answered (empty for the paper venue)."""

    strategy: str
    segment: int
    security_id: int
    from_product: Product
    to_product: Product
    qty_units: int
    by: str
    venue_ref: str
    ts_ns: int


class PositionSettled(LedgerRecord, tag="ledger.settled@1"):
    """A position in a contract that expired was settled by the engine
    (``actors.execution.settlement``). The settlement fills, stored in the same transaction just
    before this record, carry the money and close the position; this record says why and how:
    ``kind`` CASH, WORTHLESS or PHYSICAL, against the underlying's ``settlement_price_paise`` taken
    from ``price_source`` ("mark": the last price the engine saw; "config": the operator's official
    price), worth ``value_per_unit_paise`` per unit (intrinsic value, or the future's price).
    ``fill_id`` names the closing fill; a physical delivery's stock is ``delivery_segment`` /
    ``delivery_security_id`` held as ``delivery_product``. ``product`` is the settled position's
    (ledger schema 5: positions are per product)."""

    fill_id: str
    strategy: str
    segment: int
    security_id: int
    expiry_yyyymmdd: int
    kind: str
    net_qty_units: int
    settlement_price_paise: int
    price_source: str
    value_per_unit_paise: int
    stt_paise: int
    delivery_segment: int
    delivery_security_id: int
    delivery_product: str
    ts_ns: int
    product: Product = "INTRADAY"


LedgerEvent = Union[
    OrderEvent,
    Fill,
    CashMovement,
    AuditRecord,
    StrategyStateSaved,
    TradingStateChanged,
    IntentRecorded,
    UserAdded,
    TokenIssued,
    UserRevoked,
    GroupEvent,  # order groups: the bus message itself, like OrderEvent
    PositionConverted,
    PositionSettled,
]
LEDGER_EVENT_TYPES: tuple[type, ...] = LedgerEvent.__args__  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------
# Rows of derived tables that are not events themselves
# ------------------------------------------------------------------------------------------


class Wallet(LedgerRecord, tag="ledger.wallet@1"):
    """Cash of one account.

    ``cash_paise`` = external movements - buy value - charges + sell value.
    ``external_paise`` is the net of deposits, withdrawals and adjustments;
    ``charges_paise`` the total charges of the fills settled against this account.
    """

    account: str
    cash_paise: int
    external_paise: int
    charges_paise: int
    ts_ns: int


class Counters(LedgerRecord, tag="ledger.counters@1"):
    """Persisted counters; ``next_order_no`` makes the next client order id."""

    next_order_no: int


class User(LedgerRecord, tag="ledger.user@1"):
    """Row of the ``users`` table. ``active`` is False after a revoke (the row is kept: audit
    rows name users, and a name is never silently reused by someone else)."""

    name: str
    role: UserRole
    active: bool
    created_ns: int
    updated_ns: int
    updated_by: str


class Token(LedgerRecord, tag="ledger.token@1"):
    """Row of the ``tokens`` table, keyed by ``token_sha256``."""

    token_sha256: str
    token_id: str
    name: str
    issued_ns: int
    issued_by: str
    revoked: bool = False
    revoked_ns: int = 0


class UnreadableRecord(msgspec.Struct, frozen=True):
    """An event a reader could not decode (e.g. a newer schema version); never written."""

    seq: int
    error: str
    raw: bytes


DEFAULT_TRADING_STATE = TradingStateChanged(
    state=TradingState.ACTIVE, reason_code="", detail="no trading state recorded", by="", ts_ns=0
)


def event_time_ns(event: LedgerEvent) -> int:
    """The time an event happened: ``ts_event_ns`` for bus messages, ``ts_ns`` otherwise."""
    if isinstance(event, (OrderEvent, Fill, GroupEvent)):
        return event.ts_event_ns
    return event.ts_ns


def event_kind(event: LedgerEvent) -> str:
    """The event's tag, e.g. ``fill@1`` or ``ledger.cash@1``."""
    return type(event).__struct_config__.tag  # type: ignore[return-value]
