"""Every message that crosses an actor boundary.

Wire form: a msgspec Struct encoded as a MessagePack *array* whose first element is the tag
``"<kind>@<version>"``. The version is part of the tag so that a receiver refuses a message of a
schema it does not know (``ipc.codec`` tells "unknown version" apart from "corrupt").

Units are in the names: ``*_paise`` integer paise, ``*_units`` integer quantity in units (never
lots), ``*_ns`` integer nanoseconds since the Unix epoch (UTC). Every message carries
``ts_event_ns`` (exchange / origin time) and ``ts_init_ns`` (when the engine first saw the
underlying event) so that latency can be traced across hops.

Adding a field: append it with a default and keep the version. Changing or removing a field:
bump the version in the tag.
"""

from __future__ import annotations

import enum
from typing import Final, Literal, Union, get_args

import msgspec


class Message(msgspec.Struct, frozen=True, array_like=True, tag_field="t"):
    """Base of every bus message (frozen, array-encoded, tagged)."""


# --------------------------------------------------------------------------------------------
# Closed vocabularies: each listed here once. Other modules take the sets below (derived with
# typing.get_args) or get_args themselves; they never list the values again.
# --------------------------------------------------------------------------------------------

Side = Literal["BUY", "SELL"]
OrderType = Literal["MARKET", "LIMIT", "SL", "SL_M"]
Validity = Literal["DAY", "IOC"]
Product = Literal["INTRADAY", "CNC", "MARGIN"]
ActorState = Literal["starting", "ready", "stopping"]
DepthSides = Literal["both", "bid", "ask"]

SIDES: Final[frozenset[str]] = frozenset(get_args(Side))
ORDER_TYPES: Final[frozenset[str]] = frozenset(get_args(OrderType))
VALIDITIES: Final[frozenset[str]] = frozenset(get_args(Validity))
PRODUCTS: Final[frozenset[str]] = frozenset(get_args(Product))
PRICED_ORDER_TYPES: Final[frozenset[OrderType]] = frozenset({"LIMIT", "SL"})  # carry a limit price
TRIGGERED_ORDER_TYPES: Final[frozenset[OrderType]] = frozenset({"SL", "SL_M"})  # carry a trigger price


class TradingState(enum.StrEnum):
    """The risk engine's trading state (``actors.risk.state`` has the machine). A ``StrEnum``:
    on the wire and in the ledger it is the bare name, as when it was a Literal."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class OrderState(str, enum.Enum):
    INITIALIZED = "INITIALIZED"
    DENIED = "DENIED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    TRIGGERED = "TRIGGERED"
    PENDING_UPDATE = "PENDING_UPDATE"
    PENDING_CANCEL = "PENDING_CANCEL"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


# An order in one of these states takes no more events.
TERMINAL_ORDER_STATES: frozenset[OrderState] = frozenset(
    {OrderState.DENIED, OrderState.REJECTED, OrderState.FILLED, OrderState.CANCELED, OrderState.EXPIRED})


# --------------------------------------------------------------------------------------------
# Runtime: heartbeats and commands
# --------------------------------------------------------------------------------------------


class Heartbeat(Message, tag="heartbeat@1"):
    """Sent by every actor to the supervisor each heartbeat interval (and at once when ready)."""

    actor: str
    pid: int
    seq: int
    state: ActorState
    started_ns: int
    ts_ns: int
    msgs_in: int = 0
    msgs_out: int = 0
    bad_frames: int = 0
    kill_switch_engaged: bool = False  # the actor's host has obeyed an engaged kill switch


class StopActor(Message, tag="stop@1"):
    """Ask an actor to stop gracefully (run on_stop, close sockets, exit 0)."""

    cmd_id: str
    reason: str = ""


class EngageKillSwitch(Message, tag="kill.engage@1"):
    """Every actor obeys: no new risk may be taken until an explicit release."""

    cmd_id: str
    reason: str
    by: str
    ts_ns: int


class ReleaseKillSwitch(Message, tag="kill.release@1"):
    cmd_id: str
    by: str
    ts_ns: int


class Ping(Message, tag="ping@1"):
    cmd_id: str
    ts_ns: int


class Reply(Message, tag="reply@1"):
    """Answer to any command; ``code`` is empty on success, a reason code otherwise."""

    cmd_id: str
    actor: str
    ok: bool
    code: str = ""
    detail: str = ""


# --------------------------------------------------------------------------------------------
# Market data (produced by the feed actor from Dhan binary packets)
# --------------------------------------------------------------------------------------------


class Tick(Message, gc=False, tag="tick@1"):
    """Last traded price (Dhan ticker packet, code 2; index packet, code 1)."""

    segment: int
    security_id: int
    ltp_paise: int
    ts_event_ns: int
    ts_init_ns: int


class Quote(Message, tag="quote@1"):
    """Trade and session summary (Dhan quote packet, code 4, and the non-depth part of full, 8).

    ``oi_units`` and the OI day range are 0 when the packet does not carry them (quote packets).
    """

    segment: int
    security_id: int
    ltp_paise: int
    ltq_units: int
    atp_paise: int
    volume_units: int
    total_sell_qty_units: int
    total_buy_qty_units: int
    open_paise: int
    close_paise: int
    high_paise: int
    low_paise: int
    ts_event_ns: int
    ts_init_ns: int
    oi_units: int = 0
    oi_day_high_units: int = 0
    oi_day_low_units: int = 0


class Depth(Message, tag="depth@1"):
    """Market depth, best level first. 5 levels from full packets (both sides at once), 20 levels
    from the depth feed (one side per packet: ``sides`` says which lists carry data; the other
    side's lists are empty and mean "no update", not "empty book")."""

    segment: int
    security_id: int
    sides: DepthSides
    bid_price_paise: list[int]
    bid_qty_units: list[int]
    bid_orders: list[int]
    ask_price_paise: list[int]
    ask_qty_units: list[int]
    ask_orders: list[int]
    ts_event_ns: int
    ts_init_ns: int


class OpenInterest(Message, gc=False, tag="oi@1"):
    segment: int
    security_id: int
    oi_units: int
    ts_event_ns: int
    ts_init_ns: int


class PrevClose(Message, gc=False, tag="prevclose@1"):
    segment: int
    security_id: int
    prev_close_paise: int
    prev_oi_units: int
    ts_event_ns: int
    ts_init_ns: int


class MarketStatus(Message, gc=False, tag="mktstatus@1"):
    segment: int
    security_id: int
    ts_event_ns: int
    ts_init_ns: int


class FeedDisconnected(Message, tag="feed.disconnected@1"):
    """The venue closed the feed; ``reason_code`` is Dhan's numeric code (807 token expired, ...)."""

    reason_code: int
    reason: str
    ts_event_ns: int
    ts_init_ns: int


class BookUpdate(Message, gc=False, tag="book@1"):
    """Top of book and derived figures published by the book actor after each depth change."""

    segment: int
    security_id: int
    best_bid_paise: int
    best_bid_qty_units: int
    best_ask_paise: int
    best_ask_qty_units: int
    last_price_paise: int
    mid_x2_paise: int  # bid + ask: exact, halve only for display
    spread_paise: int
    imbalance: float  # (bid qty - ask qty) / (bid qty + ask qty) over the levels held; analytics
    levels: int
    ts_event_ns: int
    ts_init_ns: int


class BookStale(Message, tag="book.stale@1"):
    """No depth update for an instrument for longer than the configured limit."""

    segment: int
    security_id: int
    age_ns: int
    ts_event_ns: int
    ts_init_ns: int


class Bar(Message, tag="bar@1"):
    segment: int
    security_id: int
    timeframe_s: int
    open_paise: int
    high_paise: int
    low_paise: int
    close_paise: int
    volume_units: int
    ts_open_ns: int
    ts_event_ns: int  # bar close time
    ts_init_ns: int


# --------------------------------------------------------------------------------------------
# Orders: strategy -> risk -> execution, and the events that come back
# --------------------------------------------------------------------------------------------


class OrderSpec(msgspec.Struct, frozen=True, array_like=True, kw_only=True, gc=False):
    """One order as asked: the instrument, the side, the type, how many, at what price, for how
    long. The one shape of an order's fields: intents, the orders risk approves and the order
    events all carry it (never the fields listed again).

    Built and checked once, at the edge (``ipc.order_rules.check_order``: the strategy context's
    ``submit``, the control API's place and modify); everything inside trusts it. Prices in paise
    (0 where the order type takes none), quantity in units. In an ``OrderEvent`` it is the order
    as it works now: a modify's values once the venue applied it.
    """

    segment: int
    security_id: int
    side: Side
    order_type: OrderType
    validity: Validity = "DAY"
    product: Product = "INTRADAY"
    qty_units: int
    price_paise: int = 0
    trigger_price_paise: int = 0


class OrderIntent(Message, tag="intent@2"):
    """What a strategy (or an operator through control) wants. Risk approves or denies it.

    ``intent_id`` is unique forever for its origin (strategy name + persisted sequence), so a
    re-sent intent is recognised and never becomes a second order. ``reduce_only``: risk passes it
    only if it reduces the strategy's position (and while trading is halted, only such).
    """

    intent_id: str
    strategy: str
    spec: OrderSpec
    ts_event_ns: int
    ts_init_ns: int
    ts_created_ns: int
    reduce_only: bool = False
    group_id: str = ""


def slice_intent_id(intent_id: str, n: int) -> str:
    """The intent id of slice ``n`` (from 1) of an intent risk split at the freeze quantity."""
    return f"{intent_id}.{n}"


def sliced_from(intent_id: str) -> str:
    """The intent a slice's id names (the inverse of :func:`slice_intent_id`); an id that is no
    slice's is returned as it is (intent ids never end in ``.<digits>`` otherwise)."""
    base, dot, n = intent_id.rpartition(".")
    return base if dot and n.isdigit() else intent_id


PROTECTIVE_STOP_PREFIX: Final = "stop:"  # the intent ids of the stops execution rests for a position


def protective_stop_intent_id(strategy: str, segment: int, security_id: int, n: int) -> str:
    """The intent id of a protective stop execution places for ``strategy``'s position in the
    instrument; ``n`` makes it unique forever (execution uses the ledger's last sequence)."""
    return f"{PROTECTIVE_STOP_PREFIX}{strategy}:{segment}:{security_id}:{n}"


def protective_stop_seq(intent_id: str) -> int:
    """The ledger sequence a protective stop's intent id was made from (its events all come
    after it); 0 when ``intent_id`` is not one."""
    if not is_protective_stop(intent_id):
        return 0
    n = intent_id.rpartition(":")[2]
    return int(n) if n.isdigit() else 0


def is_protective_stop(intent_id: str) -> bool:
    """The order is a protective stop execution owns (never a strategy's own order: risk and the
    strategy's working view leave it out; it is contingent on the position, not exposure)."""
    return intent_id.startswith(PROTECTIVE_STOP_PREFIX)


class ProtectPosition(Message, tag="protect@1"):
    """A strategy's stop for its position in one instrument, to rest at the venue as a stop order
    (``protective_stop = "venue"``). Execution owns the order: it places it once the position is
    open (SL_M, or SL ``limit_offset_paise`` beyond the trigger), sizes it to the position less
    the strategy's working exits, moves it when the trigger moves by ``step_paise`` or more (within
    the venue's modification cap), and cancels it when the position closes by any route.
    ``trigger_price_paise`` 0 withdraws the protection (a resting stop is cancelled).
    ``product``: the entry's product (the stop closes that position)."""

    strategy: str
    segment: int
    security_id: int
    trigger_price_paise: int
    limit_offset_paise: int
    step_paise: int
    product: Product
    ts_ns: int


class SubmitOrder(Message, tag="submit@2"):
    """An approved intent on its way from risk to execution."""

    intent: OrderIntent
    ts_approved_ns: int


class CancelOrder(Message, tag="cancel@1"):
    cmd_id: str
    client_order_id: str
    by: str
    ts_ns: int


class CancelAllOrders(Message, tag="cancelall@1"):
    cmd_id: str
    by: str
    ts_ns: int
    strategy: str = ""  # empty: every strategy


class ModifyOrder(Message, tag="modify@1"):
    cmd_id: str
    client_order_id: str
    qty_units: int
    price_paise: int
    trigger_price_paise: int
    by: str
    ts_ns: int


class OrderDenied(Message, tag="denied@1"):
    """An intent was refused (at the edge, or by risk). ``reason_code`` is an
    ``ipc.reasons.DenyReason`` value; ``message`` has the numbers."""

    intent_id: str
    strategy: str
    segment: int
    security_id: int
    reason_code: str
    message: str
    ts_event_ns: int
    ts_init_ns: int


class DenialRecorded(Message, tag="denied.recorded@1"):
    """Execution wrote risk's denial of ``intent_id`` to the audit (or had written it before):
    risk stops re-sending it. Denials travel like orders: re-sent until acknowledged, recorded once."""

    intent_id: str
    ts_ns: int


class IntentResent(Message, tag="intent.resent@1"):
    """Risk got an intent it had approved before (its sender missed the answer and sent it again):
    neither a second order nor a denial. Execution writes it to the audit as ``resend_intent`` with
    the order it became and publishes that order's state again, which answers the sender."""

    intent_id: str
    strategy: str
    segment: int
    security_id: int
    ts_event_ns: int


class OrderEvent(Message, tag="order@2"):
    """The state of one order after a transition, as execution recorded it in the ledger.

    ``spec`` is the order as it works now (a modify's values once the venue applied it).
    Average fill price is exact as ``filled_value_paise / filled_qty_units`` (never a float).
    ``reason_code`` is an ``ipc.reasons.RejectReason`` value when the venue or execution refused or
    ended the order (``EXTERNAL`` for an order found at the broker that we did not place).
    ``ts_sent_ns`` is when execution handed the order to the venue (0 before that).
    """

    client_order_id: str
    intent_id: str
    strategy: str
    spec: OrderSpec
    state: OrderState
    filled_qty_units: int
    filled_value_paise: int
    venue_order_id: str
    reason_code: str
    reason: str
    ts_event_ns: int
    ts_init_ns: int
    ts_created_ns: int = 0
    ts_approved_ns: int = 0
    ts_sent_ns: int = 0


class Fill(Message, tag="fill@1"):
    fill_id: str
    client_order_id: str
    venue_order_id: str
    strategy: str
    segment: int
    security_id: int
    side: Side
    qty_units: int
    price_paise: int
    charges_paise: int
    ts_event_ns: int
    ts_init_ns: int
    # The product of the order it fills: a fill moves the position of that product only. A fill
    # recorded before products were kept (ledger schema 4 and older) reads as INTRADAY.
    product: Product = "INTRADAY"


# Fills of an expiry settlement (actors/execution/settlement.py) have no order: their ids start with
# this, and a physical delivery's fill (the stock taken or given) ends with the delivery suffix.
SETTLEMENT_PREFIX: Final = "SETTLE-"
SETTLEMENT_DELIVERY_SUFFIX: Final = "/D"
DELIVERY_PRODUCT: Final[Product] = "CNC"  # a physically delivered stock is a delivery holding


class Position(Message, tag="position@1"):
    """Net position of one strategy in one instrument and product (``PositionKey``).

    ``open_cost_paise`` is the signed cost of the open quantity (avg price = cost / net qty).
    INTRADAY, CNC and MARGIN positions of the same instrument are separate positions, as at the
    broker: the 15:25 square-off closes the INTRADAY one only, CNC and MARGIN carry over days.
    A position stored before products were kept (ledger schema 4 and older) reads as INTRADAY.
    """

    strategy: str
    segment: int
    security_id: int
    net_qty_units: int
    open_cost_paise: int
    realised_pnl_paise: int
    unrealised_pnl_paise: int
    charges_paise: int
    ts_event_ns: int
    ts_init_ns: int
    product: Product = "INTRADAY"


PositionKey = tuple[str, int, int, str]  # (strategy, segment, security_id, product): one position


def position_key(position: Position | Fill) -> PositionKey:
    """The key of the position ``position`` is (or that a fill moves)."""
    return (position.strategy, position.segment, position.security_id, position.product)


class RiskStateChanged(Message, tag="risk.state@1"):
    state: TradingState
    reason_code: str
    detail: str
    by: str
    ts_event_ns: int
    ts_init_ns: int


class ReduceRisk(Message, tag="risk.reduce@1"):
    """Move trading to REDUCING: only orders that reduce a position pass until an operator acts
    (``shikra kill`` then ``shikra kill --release`` brings it back to ACTIVE). Sent by execution
    when reconciliation finds positions that disagree with the broker's; ``reason_code`` and
    ``detail`` say which and by how much. Risk owns the trading state and announces the change."""

    cmd_id: str
    reason_code: str
    detail: str
    by: str
    ts_ns: int


class RiskAction(Message, tag="risk.action@1"):
    """A post-trade rule acted (daily loss breached, square-off time, trailing stop, ...)."""

    action: str
    reason_code: str
    detail: str
    strategy: str
    segment: int
    security_id: int
    ts_event_ns: int
    ts_init_ns: int


# --------------------------------------------------------------------------------------------
# Control plane: the control actor's commands to execution (the ledger's only writer)
# --------------------------------------------------------------------------------------------

UserRole = Literal["viewer", "trader", "admin"]  # least to most privileged: the order is the rank
USER_ROLES: Final[tuple[UserRole, ...]] = get_args(UserRole)


class RecordAudit(Message, tag="control.audit@1"):
    """Write one audit row (who did what with which arguments, and the result) to the ledger."""

    who: str
    action: str
    args: dict[str, str]
    result: str
    ts_ns: int


class AddUser(Message, tag="control.user.add@1"):
    """Create user ``name`` with ``role`` (or change its role / re-activate it) and record a new
    token for it. Only the token's SHA-256 travels; the token itself never leaves the control
    actor (or the local CLI that made it)."""

    cmd_id: str
    name: str
    role: UserRole
    token_sha256: str
    token_id: str
    by: str
    ts_ns: int


class RevokeUser(Message, tag="control.user.revoke@1"):
    """User ``name`` and all its tokens stop working."""

    cmd_id: str
    name: str
    by: str
    ts_ns: int


class SetStrategyParams(Message, tag="strategy.params@1"):
    """Replace some parameters of a running strategy. ``params_json`` is a JSON object of the keys
    to change; the merged parameters are validated by the strategy's Params before they apply."""

    cmd_id: str
    strategy: str
    params_json: str
    by: str
    ts_ns: int


class SaveStrategyState(Message, tag="strategy.state@1"):
    """A strategy's state to persist (msgpack of its State struct); execution writes it to the
    ledger, the strategy actor restores it at start before ``on_start``."""

    strategy: str
    state: bytes
    ts_ns: int




# --------------------------------------------------------------------------------------------
# Order groups: multi-leg orders with rollback (actors/execution/groups.py)
# --------------------------------------------------------------------------------------------

GroupStructure = Literal[
    "STRADDLE", "STRANGLE", "IRON_CONDOR", "BULL_CALL_SPREAD", "BEAR_PUT_SPREAD", "CUSTOM"
]


class GroupState(str, enum.Enum):
    """Life of an order group (transition table in ``actors.execution.groups``)."""

    NEW = "NEW"
    WORKING_BUYS = "WORKING_BUYS"  # the BUY (hedge) legs are out; SELL legs wait for them
    WORKING_SELLS = "WORKING_SELLS"  # every BUY leg filled; the SELL legs are out
    COMPLETE = "COMPLETE"  # every leg filled
    ROLLING_BACK = "ROLLING_BACK"  # cancelling working legs, flattening filled ones
    ROLLED_BACK = "ROLLED_BACK"  # every leg flat again (net zero)
    ROLLBACK_FAILED = "ROLLBACK_FAILED"  # a flatten kept failing: an operator must act
    REJECTED = "REJECTED"  # refused before any leg was sent


class SubmitGroup(Message, tag="group.submit@2"):
    """Several legs submitted as one unit (straddle, spread, iron condor, ...).

    Each leg is an ``OrderIntent`` with its own unique ``intent_id``, this ``strategy`` and this
    ``group_id`` (an empty ``group_id`` on a leg is taken as this one). BUY legs are sent first;
    SELL legs only once every BUY leg is filled, so a short option is never naked. A leg rejected,
    cancelled or expired, or a group not complete ``timeout_ms`` after it was accepted, rolls the
    group back: working legs are cancelled and filled quantity is flattened with reduce-only
    MARKET orders. A re-sent ``group_id`` is recognised and never becomes a second group.
    """

    group_id: str
    strategy: str
    structure: GroupStructure
    legs: list[OrderIntent]
    timeout_ms: int
    ts_event_ns: int
    ts_init_ns: int
    ts_approved_ns: int = 0


class CancelGroup(Message, tag="group.cancel@1"):
    """Abort a working group: it rolls back (a finished group is left as it is)."""

    cmd_id: str
    group_id: str
    by: str
    ts_ns: int


class GroupLeg(msgspec.Struct, frozen=True, array_like=True):
    """One leg of a group as it stands (part of ``GroupEvent``, never sent on its own).

    ``state`` is the leg order's state (None until it is sent). Flattening: ``flatten_attempts``
    reduce-only orders so far; ``flattened_qty_units`` filled by the finished ones;
    ``flatten_filled_qty_units`` filled so far by the working one (``flatten_working``), whose
    client order id is ``flatten_client_order_id`` once known. The leg is flat again when
    ``filled_qty_units == flattened_qty_units`` and no flatten order works.
    ``retry_at_ns``: a failed flatten is retried no earlier than this (0: at once).
    """

    intent: OrderIntent
    client_order_id: str = ""
    state: OrderState | None = None
    filled_qty_units: int = 0
    filled_value_paise: int = 0
    cancel_requested: bool = False
    flatten_attempts: int = 0
    flatten_working: bool = False
    flatten_client_order_id: str = ""
    flattened_qty_units: int = 0
    flatten_filled_qty_units: int = 0
    retry_at_ns: int = 0


class GroupEvent(Message, tag="group@2"):
    """A group after one step, as execution recorded it in the ledger (latest wins).

    ``step`` names what happened (``actors.execution.groups.GroupStep``); ``reason_code`` /
    ``detail`` say why a group was rejected or rolled back, with the numbers involved.
    ``ts_deadline_ns``: the group rolls back if it is not complete by then (0 before start).
    """

    group_id: str
    strategy: str
    structure: GroupStructure
    state: GroupState
    step: str
    reason_code: str
    detail: str
    legs: list[GroupLeg]
    timeout_ms: int
    ts_deadline_ns: int
    ts_event_ns: int
    ts_init_ns: int



# --------------------------------------------------------------------------------------------
# Run-time control of strategies and risk (the control actor's commands)
# --------------------------------------------------------------------------------------------

class StrategyInfo(msgspec.Struct, frozen=True, array_like=True):
    """One configured strategy as the strategy actor runs it."""

    name: str
    kind: str
    running: bool
    instruments: list[str]
    params_json: str
    changed_by: str = ""
    changed_ns: int = 0


class ListStrategies(Message, tag="strategy.list@1"):
    """Ask the strategy actor for every configured strategy; answered with a StrategyList."""

    cmd_id: str


class StrategyList(Message, tag="strategy.listed@1"):
    cmd_id: str
    strategies: list[StrategyInfo]


class SetStrategyRunning(Message, tag="strategy.run@1"):
    """Start (``running``) or stop a strategy; answered with a Reply. Kept across restarts."""

    cmd_id: str
    strategy: str
    running: bool
    by: str
    ts_ns: int


class SetRiskLimits(Message, tag="risk.limits@1"):
    """Change risk limits at run time: ``changes_json`` is merged into the current run-time
    changes (null removes one), validated as a whole, applied and kept; answered with a Reply
    whose detail is the effective limits as JSON."""

    cmd_id: str
    changes_json: str
    by: str
    ts_ns: int


class ConvertPosition(Message, tag="position.convert@1"):
    """Move ``qty_units`` of a strategy's position in one instrument from ``from_product`` to
    ``to_product`` (``shikra convert``). Execution checks it against the ledger, asks the venue
    (Dhan: ``POST /positions/convert``; the paper venue holds no products of its own), records
    ``PositionConverted`` and answers with a Reply (``code`` BAD_CONVERSION or the venue's when
    refused, ``detail`` the reason with the numbers)."""

    cmd_id: str
    strategy: str
    segment: int
    security_id: int
    from_product: Product
    to_product: Product
    qty_units: int
    by: str
    ts_ns: int


class SquareOffAll(Message, tag="risk.squareoff@1"):
    """Risk cancels the open orders and closes every position (of ``strategy`` when set)."""

    cmd_id: str
    by: str
    ts_ns: int
    strategy: str = ""


class LedgerStats(Message, tag="ledger.stats@1"):
    """The ledger writer's commit latency since it started: a histogram (counts per bucket, not
    cumulative; the last bucket is everything above the last bound) and the sum, in ns."""

    actor: str
    commits: int
    sum_ns: int
    bucket_upper_ns: list[int]
    bucket_counts: list[int]
    ts_ns: int


class CalendarStatus(Message, tag="calendar.status@1"):
    """The market calendar risk enforces, published by risk on ``calendar.status`` at start and
    every minute. ``warning`` is true while the operator must act: today's sessions come from the
    fallback (past the calendar library's data: weekdays minus fixed-date and configured holidays),
    or the library's data ends within 30 days. The metrics endpoint shows it; a notify actor
    alerts on ``warning``."""

    calendar: str  # the library's calendar ("XBOM")
    data_end: str  # ISO date of the library's last session
    days_left: int  # IST days from today to data_end (0 on it, negative past it)
    fallback_in_use: bool
    warning: bool
    ts_ns: int


# --------------------------------------------------------------------------------------------
# What actors and the supervisor tell the others about themselves (state learnt by message, not
# by reading another process's files). Each is published when it changes and again every few
# seconds, so a reader that (re)starts has it within one period.
# --------------------------------------------------------------------------------------------

class KillSwitchStatus(msgspec.Struct, frozen=True):
    """The supervisor's kill switch. Named fields (not array-like): the same struct is the
    ``kill_switch`` of ``<run_dir>/status.json`` and of ``<data_dir>/kill_switch.json``."""

    engaged: bool = False
    reason: str = ""
    by: str = ""
    ts_ns: int = 0


class ActorStatus(msgspec.Struct, frozen=True):
    name: str
    unit: str
    pid: int
    state: str  # starting, ready, stopping, restarting, stopped, failed
    started_ns: int
    restarts: int
    last_heartbeat_ns: int
    msgs_in: int = 0
    msgs_out: int = 0
    bad_frames: int = 0
    kill_switch_engaged: bool = False  # from the actor's heartbeat: it was told and obeys


class DaemonStatus(msgspec.Struct, frozen=True):
    """The supervisor's view of the engine. Named fields: it is also ``<run_dir>/status.json``,
    which ``shikra status`` reads while no daemon answers."""

    pid: int
    state: str  # starting, running, stopping, stopped
    started_ns: int
    updated_ns: int
    topology: str
    data_dir: str
    kill_switch: KillSwitchStatus
    actors: list[ActorStatus]


class SupervisorStatus(Message, tag="supervisor.status@1"):
    """The supervisor's status on ``supervisor.status``: once a second and at once when the kill
    switch or an actor's state changes. The control API and the metrics answer from the latest."""

    status: DaemonStatus


class RiskUsage(Message, tag="risk.usage@1"):
    """Risk's live figures against its limits, on ``risk.usage``: when a figure changed (checked
    once a second) and at least every ``actors.risk.actor.USAGE_REPUBLISH_S``. ``shikra risk show``
    shows the latest through the control API. ``ts_ns`` is when risk took the figures."""

    state: str
    orders_today: int
    orders_last_second: int
    trades_today: int
    open_orders: int
    gross_exposure_paise: int
    net_long_paise: int
    net_short_paise: int
    day_pnl_paise: int
    cash_paise: int
    reserved_paise: int
    max_orders_per_second: int
    max_orders_per_day: int
    max_trades_per_day: int
    max_open_orders: int
    max_gross_exposure_paise: int
    max_net_exposure_paise: int
    daily_max_loss_paise: int
    ts_ns: int


class RiskLimitsKept(Message, tag="risk.limits.kept@1"):
    """The run-time limit changes risk keeps (``shikra risk set``), on ``risk.limits``: at start,
    at once after a change, and every ``actors.risk.actor.USAGE_REPUBLISH_S``. ``changes_json`` is
    the JSON object of changes over ``[risk.limits]`` (``{}``: none); ``by``/``ts_ns`` say who made
    the last change and when (empty/0: never)."""

    changes_json: str
    by: str
    ts_ns: int


class FeedStalled(Message, tag="feed.stalled@1"):
    """The live feed received no frame for ``stall_timeout_ns`` while the market was open and is
    reconnecting; published by the feed on ``feed.status`` (the notify actor alerts on it).
    ``stalls`` counts the stalls since the feed started."""

    source: str  # the feed's source ("dhan")
    idle_ns: int
    stall_timeout_ns: int
    stalls: int
    ts_ns: int


class BrokerSessionStatus(Message, tag="broker.session@1"):
    """The broker session (the Dhan access token), on ``broker.session``: after each login or
    renewal attempt and when its expiry nears. ``ok`` false: the attempt failed, ``reason_code``
    says why (wrong PIN, bad TOTP, account locked, network) and ``detail`` has the broker's words
    (never the token). ``expires_ns``: when the token in use expires (0 unknown). The notify actor
    alerts on a failure and on a token that expires soon."""

    broker: str  # "dhan"
    ok: bool
    expires_ns: int
    reason_code: str
    detail: str
    ts_ns: int


class InstrumentMasterStatus(Message, tag="instruments.master@1"):
    """The instrument master after a refresh attempt, on ``instruments.status``. ``ok`` false: the
    download or its validation failed (``reason_code``, ``detail``) and the engine keeps trading on
    the last good master, dated ``master_date`` (ISO). The notify actor alerts on a failure."""

    ok: bool
    master_date: str
    rows: int
    reason_code: str
    detail: str
    ts_ns: int


class RefreshInstrumentMaster(Message, tag="instruments.refresh@1"):
    """Ask the supervisor to download, validate and swap in the instrument master now
    (``shikra instruments refresh``). Answered at once with a Reply; the outcome follows as an
    :class:`InstrumentMasterStatus` and a :class:`DailyTaskFinished`."""

    cmd_id: str
    by: str
    ts_ns: int


DayPhase = Literal["pre_open", "session", "post_close", "night"]
DailyTask = Literal[
    "broker_session",     # pre-open: a fresh broker token (the venue's session)
    "instrument_master",  # pre-open: download, validate and swap in the scrip master
    "reconcile",          # pre-open: the venue's orders, trades and positions against the ledger
    "warm_up",            # pre-open: strategies load history and subscribe
    "cancel_day_orders",  # post-close: leftover DAY orders cancelled at the venue
    "summary",            # post-close: the end-of-day journal summary (alerted)
    "backup",             # post-close: a consistent compacted ledger backup, kept N days
    "feed_connect",       # pre-open: live feeds connect
    "feed_disconnect",    # night: live feeds disconnect until the next pre-open
]
DAY_PHASES: Final[tuple[str, ...]] = get_args(DayPhase)
DAILY_TASKS: Final[tuple[str, ...]] = get_args(DailyTask)


class DayPhaseBegan(Message, tag="schedule.phase@1"):
    """The supervisor's daily schedule entered ``phase`` of the IST trading day ``day`` (ISO date),
    on ``schedule.``. Actors do their part of the phase when they receive it (the venue renews its
    broker session and reconciles at ``pre_open``, live feeds disconnect at ``night``...) and answer
    each task with :class:`DailyTaskFinished`. ``trading_day`` false: a weekend or holiday, the day
    idles (no pre-open work but the master refresh, no session)."""

    day: str
    phase: DayPhase
    trading_day: bool
    ts_ns: int


class DailyTaskFinished(Message, tag="schedule.task@1"):
    """One task of the daily schedule ran, on ``schedule.``: by whom (``actor``), whether it
    succeeded and, when not, a reason code and the detail (never a secret). ``shikra schedule``
    shows these with their times."""

    day: str
    task: DailyTask
    actor: str
    ok: bool
    reason_code: str
    detail: str
    started_ns: int
    ts_ns: int


class SubscribeInstruments(Message, tag="feed.subscribe@1"):
    """Ask the feed to stream these instruments too (an option picked at run time). Idempotent:
    the strategy actor sends its whole set again now and then, so a restarted feed catches up."""

    by: str
    segments: list[int]
    security_ids: list[int]


# Why an option of a priced chain has no implied volatility (``OK``: it has one). The solver's codes
# (``engine.model.black76.IV_STATUS_NAMES``) and the chain's own: no price to solve from, no
# underlying price, or the contract past its settlement moment.
IvStatus = Literal["OK", "NO_TIME_VALUE", "ABOVE_MAXIMUM", "BAD_INPUT", "NO_CONVERGENCE", "NO_PRICE",
                   "NO_UNDERLYING", "EXPIRED"]
IV_STATUSES: Final[tuple[str, ...]] = get_args(IvStatus)


class ChainSide(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One option (CE or PE) of a priced chain row. Prices in paise; ``iv_price_paise`` is the
    price the volatility was solved from (the mid of bid and ask when both are quoted, rounded
    down to a paisa, else the last trade; 0: none). Greeks are at the solved volatility, as
    integers: ``delta_ppm`` (dV/dF, millionths), ``gamma_ppb_per_rupee`` (delta's change per rupee
    of the underlying, billionths), ``theta_paise_per_day`` (per trading day of decay),
    ``vega_paise_per_vol_point`` (per 1 % of volatility); all 0 unless ``iv_status`` is OK.
    ``oi_change_units``: against the previous session's OI (0 when that is unknown)."""

    security_id: int
    ltp_paise: int
    bid_paise: int
    ask_paise: int
    volume_units: int
    oi_units: int
    oi_change_units: int
    iv_price_paise: int
    iv_status: IvStatus
    iv_ppm: int  # annualised, in millionths (150000 = 15 %)
    delta_ppm: int
    gamma_ppb_per_rupee: int
    theta_paise_per_day: int
    vega_paise_per_vol_point: int
    ts_event_ns: int  # the option's latest market data (0: none seen)


class ChainRow(msgspec.Struct, frozen=True, array_like=True, gc=False):
    strike_paise: int
    atm: bool
    ce: ChainSide | None  # None: not listed
    pe: ChainSide | None


class OptionChainSnapshot(Message, tag="chain@1"):
    """A priced option chain (``actors.control.chain``): per strike, CE and PE market data with
    the implied volatility and greeks of Black-76 on ``forward_paise``. ``underlying_source`` says
    where the forward came from: ``future`` (the same expiry's future, its mid or last trade) or
    ``spot`` (the index or stock carried at ``rate_ppm`` to expiry); empty when neither has a
    price. Time is trading time (``engine.model.option_time``): ``time_left_ns`` of
    ``year_trading_ns``. ``atm_strike_paise``: the listed strike nearest the forward (0: none)."""

    underlying: str
    segment: int
    expiry_yyyymmdd: int
    lot_size_units: int
    step_paise: int
    underlying_source: str
    spot_paise: int
    future_paise: int
    forward_paise: int
    rate_ppm: int
    time_left_ns: int
    year_trading_ns: int
    atm_strike_paise: int
    rows: list[ChainRow]
    ts_event_ns: int
    ts_init_ns: int


# How price and OI moved together over one period (``engine.model.open_interest``): price up and
# OI up is a long buildup, down and up a short buildup, down and down long unwinding, up and down
# short covering; NONE when either did not move (enough).
Buildup = Literal["NONE", "LONG_BUILDUP", "SHORT_BUILDUP", "LONG_UNWINDING", "SHORT_COVERING"]


class OiChange(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One option's change over one period: since the open (``window_s`` 0: against the previous
    session's OI and close when the feed sent them, else the first values seen today) or over the
    last ``window_s`` seconds. ``span_ns``: how far back the base actually is (shorter than the
    window while the engine has watched for less; 0: no base, the changes are 0)."""

    window_s: int
    span_ns: int
    oi_change_units: int
    price_change_paise: int
    buildup: Buildup


class OiSide(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One option (CE or PE) of an OI tracker row; ``changes`` in the snapshot's ``windows_s`` order."""

    security_id: int
    ltp_paise: int
    volume_units: int
    oi_units: int
    changes: list[OiChange]


class OiRow(msgspec.Struct, frozen=True, array_like=True, gc=False):
    strike_paise: int
    ce: OiSide | None  # None: not listed
    pe: OiSide | None


class OiWindowTotal(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """The chain's total OI change over one period, calls and puts apart."""

    window_s: int
    ce_oi_change_units: int
    pe_oi_change_units: int


class OiTrackerSnapshot(Message, tag="oitrack@1"):
    """Open interest of one underlying's expiry (``actors.control.oi``): per strike, each side's
    OI, volume and their changes since the open and over rolling windows (``windows_s``; 0 first,
    meaning since the open) with the buildup class; the totals; the put-call ratios of OI and of
    volume in millionths (1_000_000 = 1.0; 0 when the calls' total is 0); the max-pain strike
    and the writers' payout there (``engine.model.open_interest``)."""

    underlying: str
    segment: int
    expiry_yyyymmdd: int
    windows_s: list[int]
    ce_oi_units: int
    pe_oi_units: int
    ce_volume_units: int
    pe_volume_units: int
    pcr_oi_ppm: int
    pcr_volume_ppm: int
    max_pain_strike_paise: int
    max_pain_payout_paise: int
    totals: list[OiWindowTotal]
    rows: list[OiRow]
    ts_event_ns: int
    ts_init_ns: int


# What a screen ranks by (``engine.model.scanner``): the measure of each hit, its unit in the name.
ScreenKind = Literal["gainers", "losers", "volume_spike", "oi_buildup", "gap_up", "gap_down", "near_high",
                     "near_low"]


class ScanHit(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One instrument a screen picked. ``measure`` in the unit of the result's ``measure_name``;
    ``change_bp`` against the previous close (0 when unknown); ``buildup`` for oi_buildup screens
    (NONE otherwise)."""

    segment: int
    security_id: int
    symbol: str
    ltp_paise: int
    change_bp: int
    volume_units: int
    oi_units: int
    measure: int
    buildup: Buildup


class ScanResult(Message, tag="scan@1"):
    """One screen's hits, best first (``engine.model.scanner``); ``universe_size``: the
    instruments with market data that the screen's filters let in."""

    screen: str
    kind: ScreenKind
    measure_name: str
    hits: list[ScanHit]
    universe_size: int
    ts_event_ns: int
    ts_init_ns: int




# Every message type, for the decoder: keep this the last statement of the module.
AnyMessage = Union[
    Heartbeat,
    StopActor,
    EngageKillSwitch,
    ReleaseKillSwitch,
    Ping,
    Reply,
    Tick,
    Quote,
    Depth,
    OpenInterest,
    PrevClose,
    MarketStatus,
    FeedDisconnected,
    BookUpdate,
    BookStale,
    Bar,
    OrderIntent,
    SubmitOrder,
    CancelOrder,
    CancelAllOrders,
    ModifyOrder,
    OrderDenied,
    DenialRecorded,
    IntentResent,
    OrderEvent,
    Fill,
    Position,
    RiskStateChanged,
    ReduceRisk,
    RiskAction,
    RecordAudit,
    AddUser,
    RevokeUser,
    SaveStrategyState,
    SetStrategyParams,
    SubmitGroup,
    CancelGroup,
    GroupEvent,
    ListStrategies,
    StrategyList,
    SetStrategyRunning,
    SetRiskLimits,
    SquareOffAll,
    ConvertPosition,
    LedgerStats,
    CalendarStatus,
    SupervisorStatus,
    RiskUsage,
    RiskLimitsKept,
    FeedStalled,
    BrokerSessionStatus,
    InstrumentMasterStatus,
    RefreshInstrumentMaster,
    DayPhaseBegan,
    DailyTaskFinished,
    SubscribeInstruments,
    ProtectPosition,
    OptionChainSnapshot,
    OiTrackerSnapshot,
    ScanResult,
]


ALL_MESSAGE_TYPES: tuple[type[Message], ...] = AnyMessage.__args__  # type: ignore[attr-defined]
