"""Derived ledger state: the ONE place it is computed, as a pure fold over events.

``fold(tables, seq, event)`` reads the current derived tables and returns the rows the event
changes (``FoldResult.changes``: ``(table, key, row)`` triples); it never mutates ``tables``. The
writer applies those rows to LMDB and to its in-memory tables in the same transaction as the event;
``rebuild`` and ``verify`` replay the events through the same function, so live state and replayed
state cannot drift apart by construction.

Accounting rules (all integer paise, exact):

* Position (per strategy, segment, security id and product: ``PositionKey``), average-cost
  method; a fill moves the position of its order's product (``Fill.product``). ``open_cost_paise`` is the
  signed cost of the open quantity (long > 0, short < 0). A fill on the side of the position (or
  on a flat one) adds ``qty * price`` to the cost. A fill against it closes
  ``closed = min(fill qty, |net|)`` units and removes
  ``removed = |cost| * closed // |net|`` (floor) of the cost magnitude; the rounding remainder stays
  with the still-open units, so closing the whole position always leaves cost exactly 0 and the
  sum of realised P&L over a round trip is exact. Realised P&L on the closed part is
  ``closed * price - removed`` for a long and ``removed - closed * price`` for a short. Units of
  the fill beyond ``|net|`` (a flip, e.g. long 10, sell 15) open the other side at the fill price.
  ``realised_pnl_paise`` is gross; the fill charges accumulate in ``charges_paise`` (net P&L =
  realised - charges). ``unrealised_pnl_paise`` needs a mark price and is always 0 here.
* Conversion (``PositionConverted``): ``qty_units`` of a position move to another product of
  the same strategy and instrument with their share of the open cost (the same floor rule as a
  close: converting the whole position moves its whole cost); realised P&L and charges stay with
  the source. Refused when the source does not hold that many units, the products are the same
  or unknown, or the destination holds the other side (a conversion never closes anything).
* Wallet (the trading account ``TRADING_ACCOUNT``): a BUY debits ``qty * price + charges``, a
  SELL credits ``qty * price - charges``; cash movements credit or debit their account.
* A fill whose ``fill_id`` was already applied is refused (idempotent) and reported, as is a
  re-recorded intent or a reused order number. A refused event changes nothing.
* Users of the control API (``users``: name -> User; ``tokens``: token SHA-256 -> Token):
  ``UserAdded`` creates a user or changes its role, and re-activates a revoked one (its old
  tokens stay revoked); ``TokenIssued`` needs an active user and a hash never seen before;
  ``UserRevoked`` deactivates the user and revokes every token it still holds, in the same event.
* Order groups (``groups``: group id -> the latest ``GroupEvent``): every step of a group is an
  event; once a group is COMPLETE, ROLLED_BACK, ROLLBACK_FAILED or REJECTED a later event for it
  is refused (``GROUP_FINISHED``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, MutableMapping
from typing import Any, Callable, Final, Literal

import msgspec

from engine.ledger.records import (
    TRADING_ACCOUNT,
    AuditRecord,
    CashMovement,
    Counters,
    IntentRecorded,
    LedgerEvent,
    PositionConverted,
    PositionSettled,
    StrategyStateSaved,
    Token,
    TokenIssued,
    TradingStateChanged,
    User,
    UserAdded,
    UserRevoked,
    Wallet,
)
from ipc.messages import (
    PRODUCTS,
    SIDES,
    USER_ROLES,
    Fill,
    GroupEvent,
    GroupState,
    OrderEvent,
    OrderState,
    Position,
    PositionKey,
    TradingState,
    position_key,
)

TableName = Literal[
    "orders", "fills", "positions", "wallets", "strategy_state", "audit", "intents", "meta", "users",
    "tokens", "groups",
]
ORDERS: Final = "orders"
FILLS: Final = "fills"
POSITIONS: Final = "positions"
WALLETS: Final = "wallets"
STRATEGY_STATE: Final = "strategy_state"
AUDIT: Final = "audit"
INTENTS: Final = "intents"
META: Final = "meta"
USERS: Final = "users"
TOKENS: Final = "tokens"
GROUPS: Final = "groups"  # order groups (actors/execution/groups.py): group id -> latest GroupEvent
DERIVED_TABLES: Final[tuple[TableName, ...]] = (
    ORDERS, FILLS, POSITIONS, WALLETS, STRATEGY_STATE, AUDIT, INTENTS, META, USERS, TOKENS, GROUPS,
)

# Keys of the derived rows in the meta table (meta also holds non-derived rows, see schema.py).
META_COUNTERS: Final = "counters"
META_TRADING: Final = "trading"

Change = tuple[str, Any, Any]  # (table, key, new row)

TERMINAL_ORDER_STATES: Final = frozenset(
    {OrderState.DENIED, OrderState.REJECTED, OrderState.FILLED, OrderState.CANCELED,
     OrderState.EXPIRED}
)
# Ids become LMDB keys (limit 511 bytes); anything this long is a bug upstream, not an id.
MAX_ID_BYTES: Final = 200
_FAST_ID_CHARS: Final = MAX_ID_BYTES // 4  # a str this short is within MAX_ID_BYTES in UTF-8
FIRST_ORDER_NO: Final = 1
_TRADING_STATES: Final = frozenset(TradingState)  # text from an old record compares equal
_HEX: Final = frozenset("0123456789abcdef")
SHA256_HEX_CHARS: Final = 64
ABSENT: Final = object()  # undo marker: the key had no row before


class FoldIssueCode(str, enum.Enum):
    DUPLICATE_FILL = "DUPLICATE_FILL"
    DUPLICATE_INTENT = "DUPLICATE_INTENT"
    ORDER_NO_REUSED = "ORDER_NO_REUSED"
    CLIENT_ORDER_ID_REUSED = "CLIENT_ORDER_ID_REUSED"
    BAD_ID = "BAD_ID"
    BAD_FIELD = "BAD_FIELD"
    UNKNOWN_RECORD = "UNKNOWN_RECORD"
    UNKNOWN_USER = "UNKNOWN_USER"
    DUPLICATE_TOKEN = "DUPLICATE_TOKEN"
    GROUP_FINISHED = "GROUP_FINISHED"  # a group event after the group reached a final state
    BAD_CONVERSION = "BAD_CONVERSION"  # a conversion the position cannot take (see PositionConverted)


class FoldIssue(msgspec.Struct, frozen=True):
    """Why an event was refused; ``detail`` names the event and the numbers involved."""

    code: FoldIssueCode
    detail: str


class FoldResult(msgspec.Struct, frozen=True):
    """Rows an event changes, or the issue it was refused for (then ``changes`` is empty)."""

    changes: tuple[Change, ...] = ()
    issue: FoldIssue | None = None


class Tables:
    """The derived tables, one mapping per table (see ``DERIVED_TABLES``).

    Plain dicts by default (``fold_events``, ``rebuild``, ``verify``). The writer gives
    the tables that grow with every order (orders, fills, intents, audit, groups) as mappings
    over LMDB that hold only the open rows in memory (``engine.ledger.stored``); the fold only
    calls ``get`` and ``in`` on them, so it reads the same rows either way.

    ``apply(changes, undo)`` records the previous rows in ``undo`` so that a batch can be taken
    back with ``rollback(undo)`` when its LMDB transaction does not commit.
    """

    __slots__ = (*DERIVED_TABLES, "by_name")

    orders: MutableMapping[str, OrderEvent]
    fills: MutableMapping[str, Fill]
    positions: MutableMapping[PositionKey, Position]
    wallets: MutableMapping[str, Wallet]
    strategy_state: MutableMapping[str, StrategyStateSaved]
    audit: MutableMapping[int, AuditRecord]
    intents: MutableMapping[str, IntentRecorded]
    meta: MutableMapping[str, Any]
    users: MutableMapping[str, User]
    tokens: MutableMapping[str, Token]
    groups: MutableMapping[str, GroupEvent]
    by_name: dict[str, MutableMapping[Any, Any]]

    def __init__(self, **maps: MutableMapping[Any, Any]) -> None:
        self.by_name = {name: maps.get(name, {}) for name in DERIVED_TABLES}
        for name, rows in self.by_name.items():
            setattr(self, name, rows)

    def apply(self, changes: Iterable[Change], undo: list[tuple[Any, Any, Any]] | None = None) -> None:
        by_name = self.by_name
        for table, key, row in changes:
            rows = by_name[table]
            if undo is not None:
                undo.append((rows, key, rows.get(key, ABSENT)))
            rows[key] = row

    @staticmethod
    def rollback(undo: list[tuple[Any, Any, Any]]) -> None:
        """Take back ``apply`` calls, newest first."""
        for rows, key, previous in reversed(undo):
            if previous is ABSENT:
                del rows[key]
            else:
                rows[key] = previous
        undo.clear()

    def next_order_no(self) -> int:
        counters = self.meta.get(META_COUNTERS)
        return counters.next_order_no if counters is not None else FIRST_ORDER_NO


def fold(tables: Tables, seq: int, event: LedgerEvent) -> FoldResult:
    """Rows that ``event`` (stored at sequence ``seq``) changes, given the current ``tables``.

    Pure: reads ``tables``, never mutates it. Never raises for a bad event: it is refused with a
    ``FoldIssue`` instead.
    """
    handler = _HANDLERS.get(type(event))
    if handler is None:
        return _refuse(FoldIssueCode.UNKNOWN_RECORD, f"seq {seq}: {type(event).__name__} is not a ledger event")
    return handler(tables, seq, event)


def fold_events(events: Iterable[tuple[int, LedgerEvent]]) -> tuple[Tables, list[tuple[int, FoldIssue]]]:
    """Fold ``(seq, event)`` pairs in order into fresh tables; also return the refused ones."""
    tables = Tables()
    issues: list[tuple[int, FoldIssue]] = []
    for seq, event in events:
        result = fold(tables, seq, event)
        if result.issue is not None:
            issues.append((seq, result.issue))
        else:
            tables.apply(result.changes)
    return tables, issues


def apply_fill(position: Position | None, fill: Fill) -> Position:
    """The position after ``fill`` (average-cost method; rules in the module docstring)."""
    if position is None:
        net, cost, realised, charges = 0, 0, 0, 0
    else:
        net = position.net_qty_units
        cost = position.open_cost_paise
        realised = position.realised_pnl_paise
        charges = position.charges_paise
    direction = 1 if fill.side == "BUY" else -1
    qty = fill.qty_units
    price = fill.price_paise
    if net == 0 or (net > 0) == (direction > 0):
        net += direction * qty
        cost += direction * qty * price
    else:
        open_qty = abs(net)
        closed = min(qty, open_qty)
        removed = abs(cost) * closed // open_qty
        if net > 0:
            realised += closed * price - removed
            cost -= removed
            net -= closed
        else:
            realised += removed - closed * price
            cost += removed
            net += closed
        opened = qty - closed
        if opened:  # flip: the rest opens the other side at the fill price
            net = direction * opened
            cost = direction * opened * price
    return Position(
        strategy=fill.strategy,
        segment=fill.segment,
        security_id=fill.security_id,
        net_qty_units=net,
        open_cost_paise=cost,
        realised_pnl_paise=realised,
        unrealised_pnl_paise=0,
        charges_paise=charges + fill.charges_paise,
        ts_event_ns=fill.ts_event_ns,
        ts_init_ns=fill.ts_init_ns,
        product=fill.product,
    )


def fill_cash_delta_paise(fill: Fill) -> int:
    """Cash effect of a fill: BUY -(qty * price + charges), SELL +(qty * price - charges)."""
    value = fill.qty_units * fill.price_paise
    if fill.side == "BUY":
        return -value - fill.charges_paise
    return value - fill.charges_paise


def is_open_order(order: OrderEvent) -> bool:
    return order.state not in TERMINAL_ORDER_STATES


# ------------------------------------------------------------------------------------------
# Handlers, one per event type
# ------------------------------------------------------------------------------------------


def _refuse(code: FoldIssueCode, detail: str) -> FoldResult:
    return FoldResult(issue=FoldIssue(code=code, detail=detail))


def _bad_id(what: str, name: str, value: object, allow_empty: bool = False) -> FoldResult | None:
    if not isinstance(value, str):
        return _refuse(FoldIssueCode.BAD_ID, f"{what}: {name} {value!r} is not a string")
    if not value and not allow_empty:
        return _refuse(FoldIssueCode.BAD_ID, f"{what}: {name} is empty")
    size = len(value.encode())
    if size > MAX_ID_BYTES:
        return _refuse(FoldIssueCode.BAD_ID, f"{what}: {name} is {size} bytes, over the {MAX_ID_BYTES}-byte limit")
    return None


def _bad_ints(what: str, event: Any, names: tuple[str, ...]) -> FoldResult | None:
    for name in names:
        value = getattr(event, name)
        if type(value) is not int:  # a float or bool here would make money inexact
            return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: {name} {value!r} is not an integer")
    return None


def _short_id(value: object) -> bool:
    # Fast accept for the common case; anything else goes through the exact ``_bad_id`` check.
    return type(value) is str and 0 < len(value) <= _FAST_ID_CHARS


def _fold_order(tables: Tables, seq: int, order: OrderEvent) -> FoldResult:
    spec = order.spec
    if not (_short_id(order.client_order_id) and type(spec.qty_units) is int
            and type(spec.price_paise) is int and type(order.filled_qty_units) is int
            and type(order.filled_value_paise) is int):
        what = f"seq {seq} order"
        bad = (_bad_id(what, "client_order_id", order.client_order_id)
               or _bad_ints(what, spec, ("qty_units", "price_paise"))
               or _bad_ints(what, order, ("filled_qty_units", "filled_value_paise")))
        if bad is not None:
            return bad
    return FoldResult(changes=((ORDERS, order.client_order_id, order),))


_FILL_INTS: Final = ("segment", "security_id", "qty_units", "price_paise", "charges_paise")


def _fold_fill(tables: Tables, seq: int, fill: Fill) -> FoldResult:
    # Hot on the order path: validation is one expression; messages are built only on failure.
    if not (_short_id(fill.fill_id) and type(fill.strategy) is str and len(fill.strategy) <= _FAST_ID_CHARS
            and type(fill.segment) is int and type(fill.security_id) is int
            and type(fill.qty_units) is int and type(fill.price_paise) is int
            and type(fill.charges_paise) is int and fill.side in SIDES and fill.qty_units > 0
            and fill.product in PRODUCTS):
        refused = _fill_refusal(seq, fill)
        if refused is not None:
            return refused
    seen = tables.fills.get(fill.fill_id)
    if seen is not None:
        return _refuse(
            FoldIssueCode.DUPLICATE_FILL,
            f"seq {seq} fill {fill.fill_id!r}: already applied (order {seen.client_order_id}, {seen.side} "
            f"{seen.qty_units} @ {seen.price_paise} paise); this copy is {fill.side} {fill.qty_units} @ "
            f"{fill.price_paise} paise",
        )
    key = position_key(fill)
    position = apply_fill(tables.positions.get(key), fill)
    wallet = _settle(tables.wallets.get(TRADING_ACCOUNT), TRADING_ACCOUNT, fill_cash_delta_paise(fill),
                     0, fill.charges_paise, fill.ts_event_ns)
    return FoldResult(changes=((FILLS, fill.fill_id, fill), (POSITIONS, key, position),
                               (WALLETS, TRADING_ACCOUNT, wallet)))


def _fill_refusal(seq: int, fill: Fill) -> FoldResult | None:
    what = f"seq {seq} fill {fill.fill_id!r}"
    bad = (
        _bad_id(what, "fill_id", fill.fill_id)
        or _bad_id(what, "strategy", fill.strategy, allow_empty=True)
        or _bad_ints(what, fill, _FILL_INTS)
    )
    if bad is not None:
        return bad
    if fill.side not in SIDES:
        return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: side {fill.side!r} is not BUY or SELL")
    if fill.qty_units <= 0:
        return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: qty_units {fill.qty_units} is not positive")
    if fill.product not in PRODUCTS:
        return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: product {fill.product!r} is not INTRADAY, CNC or MARGIN")
    return None


def _settle(wallet: Wallet | None, account: str, cash_delta: int, external_delta: int,
            charges_delta: int, ts_ns: int) -> Wallet:
    if wallet is None:
        wallet = Wallet(account=account, cash_paise=0, external_paise=0, charges_paise=0, ts_ns=0)
    return Wallet(
        account=account,
        cash_paise=wallet.cash_paise + cash_delta,
        external_paise=wallet.external_paise + external_delta,
        charges_paise=wallet.charges_paise + charges_delta,
        ts_ns=ts_ns,
    )


def _fold_cash(tables: Tables, seq: int, cash: CashMovement) -> FoldResult:
    what = f"seq {seq} cash {cash.kind}"
    bad = _bad_id(what, "account", cash.account) or _bad_ints(what, cash, ("amount_paise",))
    if bad is not None:
        return bad
    amount = cash.amount_paise
    if cash.kind == "DEPOSIT":
        delta = amount
    elif cash.kind == "WITHDRAWAL":
        delta = -amount
    elif cash.kind == "ADJUSTMENT":
        delta = amount
    else:
        return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: kind is not DEPOSIT, WITHDRAWAL or ADJUSTMENT")
    if cash.kind != "ADJUSTMENT" and amount <= 0:
        return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: amount_paise {amount} is not positive")
    wallet = _settle(tables.wallets.get(cash.account), cash.account, delta, delta, 0, cash.ts_ns)
    return FoldResult(changes=((WALLETS, cash.account, wallet),))


def _fold_audit(tables: Tables, seq: int, record: AuditRecord) -> FoldResult:
    return FoldResult(changes=((AUDIT, seq, record),))


def _fold_strategy_state(tables: Tables, seq: int, saved: StrategyStateSaved) -> FoldResult:
    what = f"seq {seq} strategy state"
    bad = _bad_id(what, "strategy", saved.strategy)
    if bad is not None:
        return bad
    if not isinstance(saved.state, bytes):
        return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: state is {type(saved.state).__name__}, not bytes")
    return FoldResult(changes=((STRATEGY_STATE, saved.strategy, saved),))


def _fold_trading(tables: Tables, seq: int, change: TradingStateChanged) -> FoldResult:
    if change.state not in _TRADING_STATES:
        return _refuse(FoldIssueCode.BAD_FIELD,
                       f"seq {seq} trading state: {change.state!r} is not ACTIVE, REDUCING or HALTED")
    return FoldResult(changes=((META, META_TRADING, change),))


def _fold_intent(tables: Tables, seq: int, intent: IntentRecorded) -> FoldResult:
    what = f"seq {seq} intent {intent.intent_id!r}"
    bad = (
        _bad_id(what, "intent_id", intent.intent_id)
        or _bad_id(what, "client_order_id", intent.client_order_id)
        or _bad_ints(what, intent, ("order_no",))
    )
    if bad is not None:
        return bad
    known = tables.intents.get(intent.intent_id)
    if known is not None:
        return _refuse(FoldIssueCode.DUPLICATE_INTENT,
                       f"{what}: already recorded as order {known.client_order_id}")
    next_no = tables.next_order_no()
    if intent.order_no < next_no:
        return _refuse(FoldIssueCode.ORDER_NO_REUSED,
                       f"{what}: order_no {intent.order_no} is below the counter {next_no}")
    if intent.client_order_id in tables.orders:
        return _refuse(FoldIssueCode.CLIENT_ORDER_ID_REUSED,
                       f"{what}: client_order_id {intent.client_order_id} already has an order")
    return FoldResult(changes=(
        (INTENTS, intent.intent_id, intent),
        (META, META_COUNTERS, Counters(next_order_no=intent.order_no + 1)),
    ))


def _fold_user_added(tables: Tables, seq: int, added: UserAdded) -> FoldResult:
    what = f"seq {seq} user {added.name!r}"
    bad = _bad_id(what, "name", added.name) or _bad_id(what, "by", added.by, allow_empty=True)
    if bad is not None:
        return bad
    if added.role not in USER_ROLES:
        return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: role {added.role!r} is not viewer, trader or admin")
    known = tables.users.get(added.name)
    created = known.created_ns if known is not None else added.ts_ns
    user = User(name=added.name, role=added.role, active=True, created_ns=created, updated_ns=added.ts_ns,
                updated_by=added.by)
    return FoldResult(changes=((USERS, added.name, user),))


def _fold_token_issued(tables: Tables, seq: int, issued: TokenIssued) -> FoldResult:
    what = f"seq {seq} token {issued.token_id!r} for user {issued.name!r}"
    bad = (_bad_id(what, "name", issued.name) or _bad_id(what, "token_id", issued.token_id)
           or _bad_id(what, "by", issued.by, allow_empty=True))
    if bad is not None:
        return bad
    digest = issued.token_sha256
    if not (isinstance(digest, str) and len(digest) == SHA256_HEX_CHARS and set(digest) <= _HEX):
        return _refuse(FoldIssueCode.BAD_FIELD,
                       f"{what}: token_sha256 is not {SHA256_HEX_CHARS} lower-case hex digits")
    user = tables.users.get(issued.name)
    if user is None or not user.active:
        state = "does not exist" if user is None else "is revoked"
        return _refuse(FoldIssueCode.UNKNOWN_USER, f"{what}: the user {state}")
    if digest in tables.tokens:
        return _refuse(FoldIssueCode.DUPLICATE_TOKEN,
                       f"{what}: this token hash is already recorded (token {tables.tokens[digest].token_id!r})")
    token = Token(token_sha256=digest, token_id=issued.token_id, name=issued.name, issued_ns=issued.ts_ns,
                  issued_by=issued.by)
    return FoldResult(changes=((TOKENS, digest, token),))


def _fold_user_revoked(tables: Tables, seq: int, revoked: UserRevoked) -> FoldResult:
    what = f"seq {seq} revoke user {revoked.name!r}"
    bad = _bad_id(what, "name", revoked.name) or _bad_id(what, "by", revoked.by, allow_empty=True)
    if bad is not None:
        return bad
    user = tables.users.get(revoked.name)
    if user is None:
        return _refuse(FoldIssueCode.UNKNOWN_USER, f"{what}: the user does not exist")
    changes: list[Change] = [(USERS, revoked.name, msgspec.structs.replace(
        user, active=False, updated_ns=revoked.ts_ns, updated_by=revoked.by))]
    # A scan of every token: users are a handful, and revocation must not depend on an index
    # that could disagree with the tokens themselves.
    for digest, token in tables.tokens.items():
        if token.name == revoked.name and not token.revoked:
            changes.append((TOKENS, digest, msgspec.structs.replace(token, revoked=True, revoked_ns=revoked.ts_ns)))
    return FoldResult(changes=tuple(changes))


# ------------------------------------------------------------------------------------------
# Order groups (actors/execution/groups.py)
# ------------------------------------------------------------------------------------------

FINISHED_GROUP_STATES: Final = frozenset(
    {GroupState.COMPLETE, GroupState.ROLLED_BACK, GroupState.ROLLBACK_FAILED, GroupState.REJECTED}
)


def is_open_group(group: GroupEvent) -> bool:
    return group.state not in FINISHED_GROUP_STATES


def _fold_group(tables: Tables, seq: int, group: GroupEvent) -> FoldResult:
    """``groups[group_id]`` = the latest event. A group that reached a final state stays there:
    a later event for it is refused (a re-sent group must never start over)."""
    what = f"seq {seq} group {group.group_id!r}"
    bad = _bad_id(what, "group_id", group.group_id) or _bad_id(what, "strategy", group.strategy, allow_empty=True)
    if bad is not None:
        return bad
    if not isinstance(group.state, GroupState):
        return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: state {group.state!r} is not a GroupState")
    known = tables.groups.get(group.group_id)
    if known is not None and not is_open_group(known):
        return _refuse(FoldIssueCode.GROUP_FINISHED,
                       f"{what}: the group is already {known.state.value}; this event says {group.state.value}")
    return FoldResult(changes=((GROUPS, group.group_id, group),))


# ------------------------------------------------------------------------------------------
# Conversions between products (``shikra convert``)
# ------------------------------------------------------------------------------------------


def convert_position(source: Position | None, destination: Position | None,
                     converted: PositionConverted) -> tuple[Position, Position] | str:
    """The source and destination positions after ``converted`` (rules in the module
    docstring), or why it cannot apply: a sentence with the numbers involved."""
    what = (f"{converted.strategy} {converted.segment}:{converted.security_id} {converted.qty_units} units "
            f"{converted.from_product} -> {converted.to_product}")
    if converted.from_product == converted.to_product:
        return f"{what}: the position is {converted.from_product} already"
    held = source.net_qty_units if source is not None else 0
    if held == 0:
        return f"{what}: no open {converted.from_product} position"
    if converted.qty_units > abs(held):
        return f"{what}: the {converted.from_product} position holds {abs(held)} units"
    other = destination.net_qty_units if destination is not None else 0
    if other and (other > 0) != (held > 0):
        return (f"{what}: the {converted.to_product} position is {other:+d} units, the other side; a conversion "
                "never closes a position (close one first)")
    assert source is not None
    direction = 1 if held > 0 else -1
    moved_cost = direction * (abs(source.open_cost_paise) * converted.qty_units // abs(held))
    moved_units = direction * converted.qty_units
    ts = converted.ts_ns
    after_source = msgspec.structs.replace(source, net_qty_units=held - moved_units,
                                           open_cost_paise=source.open_cost_paise - moved_cost,
                                           ts_event_ns=ts, ts_init_ns=ts)
    if destination is None:
        destination = Position(strategy=converted.strategy, segment=converted.segment,
                               security_id=converted.security_id, net_qty_units=0, open_cost_paise=0,
                               realised_pnl_paise=0, unrealised_pnl_paise=0, charges_paise=0, ts_event_ns=ts,
                               ts_init_ns=ts, product=converted.to_product)
    after_destination = msgspec.structs.replace(destination, net_qty_units=other + moved_units,
                                                open_cost_paise=destination.open_cost_paise + moved_cost,
                                                ts_event_ns=ts, ts_init_ns=ts)
    return after_source, after_destination


def _fold_conversion(tables: Tables, seq: int, converted: PositionConverted) -> FoldResult:
    what = f"seq {seq} conversion"
    bad = (_bad_id(what, "strategy", converted.strategy, allow_empty=True)
           or _bad_id(what, "by", converted.by, allow_empty=True)
           or _bad_ints(what, converted, ("segment", "security_id", "qty_units", "ts_ns")))
    if bad is not None:
        return bad
    for name in ("from_product", "to_product"):
        if getattr(converted, name) not in PRODUCTS:
            return _refuse(FoldIssueCode.BAD_FIELD,
                           f"{what}: {name} {getattr(converted, name)!r} is not INTRADAY, CNC or MARGIN")
    if converted.qty_units <= 0:
        return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: qty_units {converted.qty_units} is not positive")
    base = (converted.strategy, converted.segment, converted.security_id)
    source_key, destination_key = (*base, converted.from_product), (*base, converted.to_product)
    result = convert_position(tables.positions.get(source_key), tables.positions.get(destination_key), converted)
    if isinstance(result, str):
        return _refuse(FoldIssueCode.BAD_CONVERSION, f"{what}: {result}")
    return FoldResult(changes=((POSITIONS, source_key, result[0]), (POSITIONS, destination_key, result[1])))


# ------------------------------------------------------------------------------------------
# Expiry settlement (actors/execution/settlement.py)
# ------------------------------------------------------------------------------------------

_SETTLED_INTS: Final = ("segment", "security_id", "expiry_yyyymmdd", "net_qty_units", "settlement_price_paise",
                        "value_per_unit_paise", "stt_paise", "delivery_segment", "delivery_security_id")
SETTLEMENT_KINDS: Final = frozenset({"CASH", "WORTHLESS", "PHYSICAL"})


def _fold_settled(tables: Tables, seq: int, settled: PositionSettled) -> FoldResult:
    """The record of a settlement changes no table: its fills, stored just before it, did. It must
    name a fill that is stored and settles the same position (a record without its money is refused)."""
    what = f"seq {seq} settlement {settled.fill_id!r}"
    bad = (_bad_id(what, "fill_id", settled.fill_id) or _bad_id(what, "strategy", settled.strategy, allow_empty=True)
           or _bad_ints(what, settled, _SETTLED_INTS))
    if bad is not None:
        return bad
    if settled.kind not in SETTLEMENT_KINDS:
        return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: kind {settled.kind!r} is not CASH, WORTHLESS or PHYSICAL")
    fill = tables.fills.get(settled.fill_id)
    if fill is None or position_key(fill) != (settled.strategy, settled.segment, settled.security_id, settled.product):
        return _refuse(FoldIssueCode.BAD_FIELD, f"{what}: no stored fill {settled.fill_id!r} closes this position")
    return FoldResult()


_HANDLERS: Final[dict[type, Callable[[Tables, int, Any], FoldResult]]] = {
    OrderEvent: _fold_order,
    Fill: _fold_fill,
    CashMovement: _fold_cash,
    AuditRecord: _fold_audit,
    StrategyStateSaved: _fold_strategy_state,
    TradingStateChanged: _fold_trading,
    IntentRecorded: _fold_intent,
    UserAdded: _fold_user_added,
    TokenIssued: _fold_token_issued,
    UserRevoked: _fold_user_revoked,
    GroupEvent: _fold_group,
    PositionConverted: _fold_conversion,
    PositionSettled: _fold_settled,
}
