"""Order groups: several legs (straddle, strangle, spreads, iron condor) worked as one unit, with
rollback. A pure state machine: ``step(group, input, policy)`` returns the group after the input
and the commands the OMS must carry out; no clock, no I/O, no logging.

Rules
-----
- Legs are ``OrderIntent`` values sharing the group's ``group_id``. BUY legs are sent first, all at
  once; SELL legs go only after *every* BUY leg is FILLED, so a short option always has its hedge
  (a structure without BUY legs, e.g. a short straddle, sends its SELL legs at once).
- The group must be COMPLETE (every leg FILLED) by ``deadline_ns`` = start + ``timeout_ms``;
  otherwise, or as soon as any leg ends REJECTED / DENIED / CANCELED / EXPIRED, or on ``Abort``,
  it rolls back:
    1. every leg still working is cancelled (once);
    2. a leg whose order is final and has filled quantity is flattened with a reduce-only MARKET
       order on the other side for ``filled - flattened`` units. SELL legs (shorts) are bought
       back first; BUY legs (hedges) are sold only after every SELL leg is flat, so the rollback
       never leaves a naked short either;
    3. a flatten order that ends without filling everything is retried for the rest after
       ``policy.flatten_retry_ns``, up to ``policy.max_flatten_attempts`` orders per leg.
  The group is ROLLED_BACK when every leg is flat (filled == flattened, nothing working): the
  group's net position is zero again. When flattening cannot go on (a leg out of attempts and
  nothing else working) it is ROLLBACK_FAILED, the reason says which leg holds how many units,
  and an operator must act.
- Leg and flatten updates carry the order's *cumulative* state (as ``OrderEvent`` does), so a
  repeated update changes nothing; an update for a leg whose order is already final is ignored.

States and what may move them are data: ``TRANSITIONS`` maps (state, input type) to the states
that input can lead to; an input absent from it is ignored (``Stepped.ignored`` says why).

Intent ids of flatten orders are deterministic (``flatten_intent_id``), so after a crash the OMS
recognises an order it already placed for the group (``Resume``) instead of placing it twice.
"""

from __future__ import annotations

import enum
from typing import Final, Union

import msgspec
from msgspec import structs

from engine.model.ist import NS_PER_MS
from ipc.messages import (
    GroupEvent,
    GroupLeg,
    GroupState,
    GroupStructure,
    OrderIntent,
    OrderSpec,
    OrderState,
    SubmitGroup,
)
from ipc.segments import instrument_label

# Topic prefix of GroupEvent (``group.<strategy>``). Belongs in ipc.topics; kept here until it is
# added there.
GROUP_TOPIC: Final = "group."

_TERMINAL_ORDER: Final = frozenset(
    {OrderState.DENIED, OrderState.REJECTED, OrderState.FILLED, OrderState.CANCELED, OrderState.EXPIRED}
)
_WORKING: Final = frozenset({GroupState.WORKING_BUYS, GroupState.WORKING_SELLS})
FINISHED: Final = frozenset(
    {GroupState.COMPLETE, GroupState.ROLLED_BACK, GroupState.ROLLBACK_FAILED, GroupState.REJECTED}
)
_MAX_GROUP_ID_CHARS: Final = 100  # flatten intent ids add a suffix; ledger ids stop at 200 bytes


class GroupPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Limits and retry pacing of order groups."""

    max_legs: int = 8
    min_timeout_ms: int = 1
    max_timeout_ms: int = 3_600_000
    max_flatten_attempts: int = 5
    flatten_retry_ns: int = 500_000_000

    def __post_init__(self) -> None:
        if self.max_legs < 1:
            raise ValueError(f"GroupPolicy.max_legs must be >= 1, got {self.max_legs}")
        if not 1 <= self.min_timeout_ms <= self.max_timeout_ms:
            raise ValueError(
                f"GroupPolicy timeouts must satisfy 1 <= min <= max, got {self.min_timeout_ms}, "
                f"{self.max_timeout_ms}"
            )
        if self.max_flatten_attempts < 1:
            raise ValueError(f"GroupPolicy.max_flatten_attempts must be >= 1, got {self.max_flatten_attempts}")
        if self.flatten_retry_ns < 0:
            raise ValueError(f"GroupPolicy.flatten_retry_ns must be >= 0, got {self.flatten_retry_ns}")


DEFAULT_POLICY: Final = GroupPolicy()


class GroupReason(str, enum.Enum):
    """Why a group was refused, rolled back, or could not be rolled back."""

    # refused before any leg was sent
    BAD_GROUP_ID = "BAD_GROUP_ID"
    NO_LEGS = "NO_LEGS"
    TOO_MANY_LEGS = "TOO_MANY_LEGS"
    BAD_TIMEOUT = "BAD_TIMEOUT"
    LEG_OF_OTHER_GROUP = "LEG_OF_OTHER_GROUP"
    LEG_OF_OTHER_STRATEGY = "LEG_OF_OTHER_STRATEGY"
    DUPLICATE_LEG_INTENT = "DUPLICATE_LEG_INTENT"
    BAD_LEG_QTY = "BAD_LEG_QTY"  # not given any more (legs are checked where groups are made): ledgers hold it
    LEG_INVALID = "LEG_INVALID"  # the OMS found a leg it could not send (an instrument not in the master)
    KILL_SWITCH = "KILL_SWITCH"
    NOT_RECONCILED = "NOT_RECONCILED"  # live trading waits for the first reconciliation with the broker
    # why a group rolled back
    LEG_REJECTED = "LEG_REJECTED"
    LEG_DENIED = "LEG_DENIED"
    LEG_CANCELED = "LEG_CANCELED"
    LEG_EXPIRED = "LEG_EXPIRED"
    TIMEOUT = "TIMEOUT"
    ABORTED = "ABORTED"
    # why a rollback stopped
    FLATTEN_FAILED = "FLATTEN_FAILED"


_LEG_END_REASONS: Final = {
    OrderState.REJECTED: GroupReason.LEG_REJECTED,
    OrderState.DENIED: GroupReason.LEG_DENIED,
    OrderState.CANCELED: GroupReason.LEG_CANCELED,
    OrderState.EXPIRED: GroupReason.LEG_EXPIRED,
}


class GroupStep(str, enum.Enum):
    """What a step did, recorded as ``GroupEvent.step`` (the most significant thing wins)."""

    STARTED = "STARTED"
    REJECTED = "REJECTED"
    SELLS_RELEASED = "SELLS_RELEASED"
    COMPLETED = "COMPLETED"
    ROLLBACK_STARTED = "ROLLBACK_STARTED"
    FLATTEN_SENT = "FLATTEN_SENT"
    ROLLED_BACK = "ROLLED_BACK"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"
    LEG_UPDATE = "LEG_UPDATE"
    FLATTEN_UPDATE = "FLATTEN_UPDATE"
    RESUMED = "RESUMED"
    WAKE = "WAKE"
    ABORT = "ABORT"


# --------------------------------------------------------------------------------------------
# The group, its inputs and its commands
# --------------------------------------------------------------------------------------------


class Group(msgspec.Struct, frozen=True, kw_only=True):
    """One group as it stands. Never mutated: ``step`` returns a new one."""

    group_id: str
    strategy: str
    structure: GroupStructure
    legs: tuple[GroupLeg, ...]
    timeout_ms: int
    state: GroupState = GroupState.NEW
    deadline_ns: int = 0
    reason_code: str = ""
    detail: str = ""


class GroupInput(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Base of what ``step`` understands; ``now_ns`` is the time it is handled."""

    now_ns: int


class Start(GroupInput):
    """The OMS accepted the group: validate, set the deadline, send the first legs."""


class LegUpdate(GroupInput):
    """A leg order's state after a transition (cumulative fills)."""

    leg_index: int
    client_order_id: str
    state: OrderState
    filled_qty_units: int
    filled_value_paise: int = 0


class FlattenUpdate(GroupInput):
    """The working flatten order of a leg after a transition (cumulative fills of that order)."""

    leg_index: int
    client_order_id: str
    state: OrderState
    filled_qty_units: int


class Wake(GroupInput):
    """A timer: the deadline may have passed, or a flatten retry may be due."""


class Abort(GroupInput):
    """Roll back a working group (operator, kill switch)."""

    detail: str = ""


class Resume(GroupInput):
    """After a restart: send again what the group says was sent but whose order is unknown
    (the OMS recognises an intent it already recorded), then carry on."""


AnyGroupInput = Union[Start, LegUpdate, FlattenUpdate, Wake, Abort, Resume]


class Command(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Base of what the OMS must do for a group."""

    leg_index: int


class SendLeg(Command):
    intent: OrderIntent


class CancelLeg(Command):
    client_order_id: str


class SendFlatten(Command):
    """Place ``intent`` (reduce-only MARKET, the leg's other side) to flatten the leg."""

    intent: OrderIntent


class Stepped(msgspec.Struct, frozen=True):
    """``group`` after an input, the commands to carry out in order, and the step's name.
    ``ignored`` is non-empty when the input changed nothing and why."""

    group: Group
    commands: tuple[Command, ...]
    step: GroupStep
    ignored: str = ""


_G = GroupState
_ANY_END: Final = frozenset({_G.ROLLING_BACK, _G.ROLLED_BACK, _G.ROLLBACK_FAILED})

# (state, input type) -> the states the input may lead to. Absent: the input is ignored.
TRANSITIONS: Final[dict[tuple[GroupState, type[GroupInput]], frozenset[GroupState]]] = {
    (_G.NEW, Start): frozenset({_G.WORKING_BUYS, _G.WORKING_SELLS, _G.REJECTED}),
    (_G.WORKING_BUYS, LegUpdate): frozenset({_G.WORKING_BUYS, _G.WORKING_SELLS, _G.COMPLETE}) | _ANY_END,
    (_G.WORKING_BUYS, Wake): frozenset({_G.WORKING_BUYS}) | _ANY_END,
    (_G.WORKING_BUYS, Abort): _ANY_END,
    (_G.WORKING_BUYS, Resume): frozenset({_G.WORKING_BUYS}),
    (_G.WORKING_SELLS, LegUpdate): frozenset({_G.WORKING_SELLS, _G.COMPLETE}) | _ANY_END,
    (_G.WORKING_SELLS, Wake): frozenset({_G.WORKING_SELLS}) | _ANY_END,
    (_G.WORKING_SELLS, Abort): _ANY_END,
    (_G.WORKING_SELLS, Resume): frozenset({_G.WORKING_SELLS}),
    (_G.ROLLING_BACK, LegUpdate): _ANY_END,
    (_G.ROLLING_BACK, FlattenUpdate): _ANY_END,
    (_G.ROLLING_BACK, Wake): _ANY_END,
    (_G.ROLLING_BACK, Abort): frozenset({_G.ROLLING_BACK}),
    (_G.ROLLING_BACK, Resume): _ANY_END,
}


# --------------------------------------------------------------------------------------------
# Building, validating, mapping to the bus
# --------------------------------------------------------------------------------------------


def new_group(msg: SubmitGroup) -> Group:
    """A NEW group for ``msg``; a leg with an empty ``group_id`` is given the group's."""
    legs = tuple(
        GroupLeg(intent=leg if leg.group_id else structs.replace(leg, group_id=msg.group_id)) for leg in msg.legs
    )
    return Group(group_id=msg.group_id, strategy=msg.strategy, structure=msg.structure, legs=legs,
                 timeout_ms=msg.timeout_ms)


def group_problem(group: Group, policy: GroupPolicy = DEFAULT_POLICY) -> tuple[GroupReason, str] | None:
    """Why ``group`` cannot start (reason and text with the numbers), or None."""
    gid = group.group_id
    if not gid or len(gid) > _MAX_GROUP_ID_CHARS:
        return GroupReason.BAD_GROUP_ID, f"group id {gid!r} must have 1..{_MAX_GROUP_ID_CHARS} characters"
    if not group.legs:
        return GroupReason.NO_LEGS, f"group {gid} has no legs"
    if len(group.legs) > policy.max_legs:
        return GroupReason.TOO_MANY_LEGS, f"group {gid} has {len(group.legs)} legs, at most {policy.max_legs}"
    if not policy.min_timeout_ms <= group.timeout_ms <= policy.max_timeout_ms:
        return GroupReason.BAD_TIMEOUT, (
            f"group {gid} timeout {group.timeout_ms} ms is outside {policy.min_timeout_ms}.."
            f"{policy.max_timeout_ms} ms"
        )
    seen: set[str] = set()
    for i, leg in enumerate(group.legs):
        intent = leg.intent
        if intent.group_id != gid:
            return GroupReason.LEG_OF_OTHER_GROUP, f"leg {i} belongs to group {intent.group_id!r}, not {gid!r}"
        if intent.strategy != group.strategy:
            return GroupReason.LEG_OF_OTHER_STRATEGY, (
                f"leg {i} is for strategy {intent.strategy!r}, the group for {group.strategy!r}"
            )
        if not intent.intent_id or intent.intent_id in seen:
            return GroupReason.DUPLICATE_LEG_INTENT, f"leg {i} intent id {intent.intent_id!r} is empty or repeated"
        seen.add(intent.intent_id)
    return None


def rejected(group: Group, reason: GroupReason, detail: str) -> Group:
    """``group`` refused before anything was sent (the OMS's own checks: instruments, kill switch)."""
    return structs.replace(group, state=GroupState.REJECTED, reason_code=reason.value, detail=detail)


def to_group_event(group: Group, step: GroupStep, *, ts_event_ns: int, ts_init_ns: int) -> GroupEvent:
    """The ``ipc.messages.GroupEvent`` that records and publishes ``group`` as it stands."""
    return GroupEvent(
        group_id=group.group_id, strategy=group.strategy, structure=group.structure, state=group.state,
        step=step.value, reason_code=group.reason_code, detail=group.detail, legs=list(group.legs),
        timeout_ms=group.timeout_ms, ts_deadline_ns=group.deadline_ns, ts_event_ns=ts_event_ns,
        ts_init_ns=ts_init_ns,
    )


def group_from_event(event: GroupEvent) -> Group:
    """A group as the ledger last recorded it, ready for more inputs."""
    return Group(group_id=event.group_id, strategy=event.strategy, structure=event.structure,
                 legs=tuple(event.legs), timeout_ms=event.timeout_ms, state=event.state,
                 deadline_ns=event.ts_deadline_ns, reason_code=event.reason_code, detail=event.detail)


def flatten_intent_id(group_id: str, leg_index: int, attempt: int) -> str:
    """Deterministic id of the ``attempt``-th (1-based) flatten order of a leg."""
    return f"{group_id}~flat{leg_index}.{attempt}"


def exposure_units(leg: GroupLeg) -> int:
    """Units of the leg still open: filled by the leg, not yet taken back by flatten orders."""
    return leg.filled_qty_units - leg.flattened_qty_units - leg.flatten_filled_qty_units


def is_flat(leg: GroupLeg) -> bool:
    """Never sent, or final with every filled unit flattened and no flatten order working."""
    if leg.state is None:
        return True
    return (leg.state in _TERMINAL_ORDER and not leg.flatten_working
            and leg.filled_qty_units == leg.flattened_qty_units)


def next_wake_ns(group: Group) -> int | None:
    """When the OMS should feed ``Wake``: the deadline while working, the earliest due flatten
    retry while rolling back; None when nothing is time-driven."""
    if group.state in _WORKING:
        return group.deadline_ns
    if group.state is not GroupState.ROLLING_BACK:
        return None
    due = [leg.retry_at_ns for leg in group.legs
           if leg.retry_at_ns > 0 and not leg.flatten_working and exposure_units(leg) > 0]
    return min(due) if due else None


# --------------------------------------------------------------------------------------------
# The step function
# --------------------------------------------------------------------------------------------


def step(group: Group, event: GroupInput, policy: GroupPolicy = DEFAULT_POLICY) -> Stepped:
    """``group`` after ``event``, with the commands to carry out. Never raises for any input of
    the types above: an input that does not apply comes back in ``Stepped.ignored``."""
    allowed = TRANSITIONS.get((group.state, type(event)))
    if allowed is None:
        return _ignore(group, event, f"{type(event).__name__} does not apply to a {group.state.value} group")
    handler = _HANDLERS[type(event)]
    result = handler(group, event, policy)
    if not result.ignored and result.group.state not in allowed:  # a bug here, never bad input
        raise AssertionError(
            f"group {group.group_id}: {group.state.value} + {type(event).__name__} led to "
            f"{result.group.state.value}, not in TRANSITIONS"
        )
    return result


_INPUT_STEPS: Final[dict[type[GroupInput], GroupStep]] = {
    Start: GroupStep.STARTED,
    LegUpdate: GroupStep.LEG_UPDATE,
    FlattenUpdate: GroupStep.FLATTEN_UPDATE,
    Wake: GroupStep.WAKE,
    Abort: GroupStep.ABORT,
    Resume: GroupStep.RESUMED,
}


def _ignore(group: Group, event: GroupInput, why: str) -> Stepped:
    return Stepped(group=group, commands=(), step=_INPUT_STEPS[type(event)], ignored=why)


def _named(before: Group, after: Group, commands: tuple[Command, ...], event: GroupInput) -> Stepped:
    """Name the step by its most significant effect."""
    state = after.state
    if state is not before.state:
        if state is GroupState.WORKING_SELLS and before.state is GroupState.WORKING_BUYS:
            name = GroupStep.SELLS_RELEASED
        else:
            name = {
                GroupState.COMPLETE: GroupStep.COMPLETED,
                GroupState.ROLLING_BACK: GroupStep.ROLLBACK_STARTED,
                GroupState.ROLLED_BACK: GroupStep.ROLLED_BACK,
                GroupState.ROLLBACK_FAILED: GroupStep.ROLLBACK_FAILED,
                GroupState.REJECTED: GroupStep.REJECTED,
            }.get(state, _INPUT_STEPS[type(event)])
    elif any(isinstance(c, SendFlatten) for c in commands):
        name = GroupStep.FLATTEN_SENT
    else:
        name = _INPUT_STEPS[type(event)]
    return Stepped(group=after, commands=commands, step=name)


def _with_leg(group: Group, index: int, leg: GroupLeg) -> Group:
    legs = list(group.legs)
    legs[index] = leg
    return structs.replace(group, legs=tuple(legs))


def _on_start(group: Group, event: Start, policy: GroupPolicy) -> Stepped:
    problem = group_problem(group, policy)
    if problem is not None:
        after = rejected(group, *problem)
        return Stepped(group=after, commands=(), step=GroupStep.REJECTED)
    started = structs.replace(group, deadline_ns=event.now_ns + group.timeout_ms * NS_PER_MS)
    after, commands = _release(started)
    return Stepped(group=after, commands=commands, step=GroupStep.STARTED)


def _release(group: Group) -> tuple[Group, tuple[Command, ...]]:
    """Send what may go now: the BUY legs until they are all filled, then the SELL legs."""
    buys_done = all(leg.state is OrderState.FILLED for leg in group.legs if leg.intent.spec.side == "BUY")
    side = "SELL" if buys_done else "BUY"
    legs = list(group.legs)
    commands: list[Command] = []
    for i, leg in enumerate(legs):
        if leg.intent.spec.side == side and leg.state is None:
            legs[i] = structs.replace(leg, state=OrderState.SUBMITTED)
            commands.append(SendLeg(leg_index=i, intent=leg.intent))
    if all(leg.state is OrderState.FILLED for leg in legs):
        state = GroupState.COMPLETE
    else:
        state = GroupState.WORKING_SELLS if buys_done else GroupState.WORKING_BUYS
    return structs.replace(group, legs=tuple(legs), state=state), tuple(commands)


def _advance(before: Group, group: Group, event: GroupInput, policy: GroupPolicy) -> Stepped:
    """After a leg changed: roll back on a failed leg, else release / complete."""
    if group.state in _WORKING:
        for i, leg in enumerate(group.legs):
            if leg.state in _LEG_END_REASONS:
                reason = _LEG_END_REASONS[leg.state]  # type: ignore[index]
                detail = (f"leg {i} ({leg.intent.spec.side} {leg.intent.spec.qty_units} of {_label(leg)}) ended "
                          f"{leg.state.value} with {leg.filled_qty_units} filled")  # type: ignore[union-attr]
                return _rollback(before, group, reason, detail, event, policy)
        after, commands = _release(group)
        return _named(before, after, commands, event)
    after, commands = _settle(group, event.now_ns, policy)
    return _named(before, after, commands, event)


def _label(leg: GroupLeg) -> str:
    return instrument_label(leg.intent.spec.segment, leg.intent.spec.security_id)


def _rollback(before: Group, group: Group, reason: GroupReason, detail: str, event: GroupInput,
              policy: GroupPolicy) -> Stepped:
    rolling = structs.replace(group, state=GroupState.ROLLING_BACK, reason_code=reason.value, detail=detail)
    after, commands = _settle(rolling, event.now_ns, policy)
    return _named(before, after, commands, event)


def _settle(group: Group, now_ns: int, policy: GroupPolicy) -> tuple[Group, tuple[Command, ...]]:
    """One rollback pass: cancel what works, flatten what may be flattened, then decide."""
    legs = list(group.legs)
    commands: list[Command] = []
    for i, leg in enumerate(legs):
        if (leg.state is not None and leg.state not in _TERMINAL_ORDER and not leg.cancel_requested
                and leg.client_order_id):
            legs[i] = structs.replace(leg, cancel_requested=True)
            commands.append(CancelLeg(leg_index=i, client_order_id=leg.client_order_id))
    # Shorts first: a hedge is sold only once every SELL leg is flat.
    shorts_flat = all(is_flat(leg) for leg in legs if leg.intent.spec.side == "SELL")
    for i, leg in enumerate(legs):
        if leg.intent.spec.side == "BUY" and not shorts_flat:
            continue
        if leg.state is None or leg.state not in _TERMINAL_ORDER or leg.flatten_working:
            continue
        qty = exposure_units(leg)
        if qty <= 0 or leg.flatten_attempts >= policy.max_flatten_attempts or leg.retry_at_ns > now_ns:
            continue
        attempt = leg.flatten_attempts + 1
        legs[i] = structs.replace(leg, flatten_attempts=attempt, flatten_working=True, flatten_client_order_id="",
                                  flatten_filled_qty_units=0, retry_at_ns=0)
        commands.append(SendFlatten(leg_index=i, intent=_flatten_intent(group, i, leg, qty, attempt, now_ns)))
    after = structs.replace(group, legs=tuple(legs))
    if all(is_flat(leg) for leg in legs):
        return structs.replace(after, state=GroupState.ROLLED_BACK), tuple(commands)
    if not commands and _stuck(legs, policy):
        held = [f"leg {i} {exposure_units(leg)} units of {_label(leg)} after {leg.flatten_attempts} flatten orders"
                for i, leg in enumerate(legs) if not is_flat(leg)]
        detail = f"{group.detail}; rollback stopped: {'; '.join(held)} still open"
        return structs.replace(after, state=GroupState.ROLLBACK_FAILED, reason_code=GroupReason.FLATTEN_FAILED.value,
                               detail=detail), ()
    return after, tuple(commands)


def _stuck(legs: list[GroupLeg], policy: GroupPolicy) -> bool:
    """Nothing works and nothing waits for a retry that could still happen: the rollback cannot
    move by itself. A hedge waiting for a short that can never be bought back is stuck too."""
    for leg in legs:
        if (leg.state is not None and leg.state not in _TERMINAL_ORDER) or leg.flatten_working:
            return False  # a leg, its cancel or a flatten order is still working

    def pending(leg: GroupLeg) -> bool:
        return exposure_units(leg) > 0 and leg.flatten_attempts < policy.max_flatten_attempts

    sells = [leg for leg in legs if leg.intent.spec.side == "SELL"]
    if any(pending(leg) for leg in sells):
        return False
    buys_may_go = all(is_flat(leg) for leg in sells)
    return not (buys_may_go and any(pending(leg) for leg in legs if leg.intent.spec.side == "BUY"))


def _flatten_intent(group: Group, index: int, leg: GroupLeg, qty_units: int, attempt: int,
                    now_ns: int) -> OrderIntent:
    intent = leg.intent
    leg_spec = intent.spec
    spec = OrderSpec(segment=leg_spec.segment, security_id=leg_spec.security_id,
                     side="SELL" if leg_spec.side == "BUY" else "BUY", order_type="MARKET", validity="DAY",
                     product=leg_spec.product, qty_units=qty_units)
    return OrderIntent(intent_id=flatten_intent_id(group.group_id, index, attempt), strategy=intent.strategy,
                       spec=spec, ts_event_ns=now_ns, ts_init_ns=now_ns, ts_created_ns=now_ns, reduce_only=True,
                       group_id=group.group_id)


def _leg_index_problem(group: Group, index: int) -> str:
    if not 0 <= index < len(group.legs):
        return f"leg index {index} is outside 0..{len(group.legs) - 1}"
    return ""


def _on_leg_update(group: Group, event: LegUpdate, policy: GroupPolicy) -> Stepped:
    problem = _leg_index_problem(group, event.leg_index)
    if problem:
        return _ignore(group, event, problem)
    leg = group.legs[event.leg_index]
    if leg.state is None:
        return _ignore(group, event, f"leg {event.leg_index} was never sent")
    if leg.client_order_id and event.client_order_id != leg.client_order_id:
        return _ignore(group, event, f"order {event.client_order_id} is not leg {event.leg_index} "
                                     f"({leg.client_order_id})")
    if leg.state in _TERMINAL_ORDER:
        return _ignore(group, event, f"leg {event.leg_index} is already {leg.state.value}")
    updated = structs.replace(leg, client_order_id=event.client_order_id, state=event.state,
                              filled_qty_units=event.filled_qty_units, filled_value_paise=event.filled_value_paise)
    return _advance(group, _with_leg(group, event.leg_index, updated), event, policy)


def _on_flatten_update(group: Group, event: FlattenUpdate, policy: GroupPolicy) -> Stepped:
    problem = _leg_index_problem(group, event.leg_index)
    if problem:
        return _ignore(group, event, problem)
    leg = group.legs[event.leg_index]
    if not leg.flatten_working:
        return _ignore(group, event, f"no flatten order is working for leg {event.leg_index}")
    if leg.flatten_client_order_id and event.client_order_id != leg.flatten_client_order_id:
        return _ignore(group, event, f"order {event.client_order_id} is not the flatten order of leg "
                                     f"{event.leg_index} ({leg.flatten_client_order_id})")
    filled = max(event.filled_qty_units, leg.flatten_filled_qty_units)  # cumulative: never back
    if event.state in _TERMINAL_ORDER:
        retry_at = 0 if event.state is OrderState.FILLED else event.now_ns + policy.flatten_retry_ns
        updated = structs.replace(leg, flatten_client_order_id=event.client_order_id, flatten_working=False,
                                  flattened_qty_units=leg.flattened_qty_units + filled, flatten_filled_qty_units=0,
                                  retry_at_ns=retry_at)
    else:
        updated = structs.replace(leg, flatten_client_order_id=event.client_order_id,
                                  flatten_filled_qty_units=filled)
    return _advance(group, _with_leg(group, event.leg_index, updated), event, policy)


def _on_wake(group: Group, event: Wake, policy: GroupPolicy) -> Stepped:
    if group.state in _WORKING:
        if event.now_ns < group.deadline_ns:
            return _ignore(group, event, "deadline not reached")
        filled = sum(1 for leg in group.legs if leg.state is OrderState.FILLED)
        detail = (f"group not complete {group.timeout_ms} ms after start: {filled} of {len(group.legs)} legs "
                  f"filled")
        return _rollback(group, group, GroupReason.TIMEOUT, detail, event, policy)
    after, commands = _settle(group, event.now_ns, policy)
    return _named(group, after, commands, event)


def _on_abort(group: Group, event: Abort, policy: GroupPolicy) -> Stepped:
    if group.state is GroupState.ROLLING_BACK:
        return _ignore(group, event, "already rolling back")
    detail = event.detail or "aborted"
    return _rollback(group, group, GroupReason.ABORTED, detail, event, policy)


def _on_resume(group: Group, event: Resume, policy: GroupPolicy) -> Stepped:
    commands: list[Command] = []
    for i, leg in enumerate(group.legs):
        if leg.state is not None and not leg.client_order_id:
            commands.append(SendLeg(leg_index=i, intent=leg.intent))
        if leg.flatten_working and not leg.flatten_client_order_id:
            qty = leg.filled_qty_units - leg.flattened_qty_units
            intent = _flatten_intent(group, i, leg, qty, leg.flatten_attempts, event.now_ns)
            commands.append(SendFlatten(leg_index=i, intent=intent))
    if group.state is GroupState.ROLLING_BACK:
        after, more = _settle(group, event.now_ns, policy)
        return _named(group, after, (*commands, *more), event)
    return Stepped(group=group, commands=tuple(commands), step=GroupStep.RESUMED)


_HANDLERS: Final = {
    Start: _on_start,
    LegUpdate: _on_leg_update,
    FlattenUpdate: _on_flatten_update,
    Wake: _on_wake,
    Abort: _on_abort,
    Resume: _on_resume,
}
