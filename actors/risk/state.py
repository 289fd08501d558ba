"""Trading state machine and kill switch: ACTIVE / REDUCING / HALTED, transitions as data.

- ACTIVE: every order that passes the pre-trade checks goes.
- REDUCING: only orders that reduce the strategy's position pass (risk off, exits allowed).
- HALTED (kill switch engaged): no new risk. Cancels always pass (they never reach risk). An order
  passes only if it is marked ``reduce_only`` *and* reduces the position: that is how the risk
  actor's own flatten orders get out after a KILL_AND_FLATTEN; everything else is denied HALTED.

Who may do what is in :data:`TRANSITIONS`: anyone but a viewer may engage the kill switch or
move to REDUCING (``system`` is the engine itself: monitors, supervisor); only an admin may release
it. Every function here is pure: it takes a :class:`RiskStatus` and returns a new one or a
:class:`TransitionRefused` value; nothing raises for a refused transition.
"""

from __future__ import annotations

import enum
from typing import Literal, NamedTuple

import msgspec

from ipc.messages import RiskStateChanged, TradingState, UserRole

Role = Literal[UserRole, "system"]  # "system": the engine itself (monitors, supervisor)


class Command(str, enum.Enum):
    ENGAGE_KILL = "ENGAGE_KILL"
    RELEASE_KILL = "RELEASE_KILL"
    REDUCE = "REDUCE"
    RESUME = "RESUME"


class Admission(str, enum.Enum):
    """Which orders a state lets through (cancels always pass)."""

    ALL = "ALL"
    REDUCING_ONLY = "REDUCING_ONLY"  # any order that reduces the position
    FLATTEN_ONLY = "FLATTEN_ONLY"  # reduce_only orders that reduce the position


ADMISSION: dict[TradingState, Admission] = {
    TradingState.ACTIVE: Admission.ALL,
    TradingState.REDUCING: Admission.REDUCING_ONLY,
    TradingState.HALTED: Admission.FLATTEN_ONLY,
}


class Rule(NamedTuple):
    target: TradingState
    roles: frozenset[str]


_TIGHTEN = frozenset({"trader", "admin", "system"})
_ADMIN = frozenset({"admin"})
_OPERATOR = frozenset({"trader", "admin"})

# (from, command) -> rule. A pair not in the table is an invalid transition. Engaging again while
# HALTED (or reducing again while REDUCING) is allowed and changes nothing: supervisors and
# monitors may repeat themselves safely.
TRANSITIONS: dict[tuple[TradingState, Command], Rule] = {
    (TradingState.ACTIVE, Command.ENGAGE_KILL): Rule(TradingState.HALTED, _TIGHTEN),
    (TradingState.REDUCING, Command.ENGAGE_KILL): Rule(TradingState.HALTED, _TIGHTEN),
    (TradingState.HALTED, Command.ENGAGE_KILL): Rule(TradingState.HALTED, _TIGHTEN),
    (TradingState.HALTED, Command.RELEASE_KILL): Rule(TradingState.ACTIVE, _ADMIN),
    (TradingState.ACTIVE, Command.REDUCE): Rule(TradingState.REDUCING, _TIGHTEN),
    (TradingState.REDUCING, Command.REDUCE): Rule(TradingState.REDUCING, _TIGHTEN),
    (TradingState.REDUCING, Command.RESUME): Rule(TradingState.ACTIVE, _OPERATOR),
}


class RefusalCode(str, enum.Enum):
    NOT_PERMITTED = "NOT_PERMITTED"
    INVALID_TRANSITION = "INVALID_TRANSITION"


class RiskStatus(msgspec.Struct, frozen=True):
    """The trading state and why/who/when it was entered."""

    state: TradingState = TradingState.ACTIVE
    reason_code: str = ""
    detail: str = ""
    by: str = ""
    since_ns: int = 0


class TransitionRefused(msgspec.Struct, frozen=True):
    code: RefusalCode
    message: str


def apply(
    status: RiskStatus,
    command: Command,
    *,
    by: str,
    role: str,
    now_ns: int,
    reason_code: str = "",
    detail: str = "",
) -> RiskStatus | TransitionRefused:
    """Apply ``command`` on behalf of ``by`` (holding ``role``) at ``now_ns``.

    Returns the new status, the same ``status`` object when the command changes nothing (repeat
    engage / reduce), or a :class:`TransitionRefused`. Never raises.
    """
    rule = TRANSITIONS.get((status.state, command))
    if rule is None:
        return TransitionRefused(
            RefusalCode.INVALID_TRANSITION,
            f"{command.value} is not valid in state {status.state.value}",
        )
    if role not in rule.roles:
        return TransitionRefused(
            RefusalCode.NOT_PERMITTED,
            f"{command.value} needs role {'/'.join(sorted(rule.roles))}; {by!r} has role {role!r}",
        )
    if rule.target is status.state and command in (Command.ENGAGE_KILL, Command.REDUCE):
        return status
    return RiskStatus(rule.target, reason_code or command.value, detail, by, now_ns)


def engage_kill(
    status: RiskStatus, *, reason_code: str, detail: str, by: str, role: str, now_ns: int
) -> RiskStatus | TransitionRefused:
    """Kill switch on: state HALTED with the reason and who engaged it."""
    return apply(status, Command.ENGAGE_KILL, by=by, role=role, now_ns=now_ns, reason_code=reason_code, detail=detail)


def release_kill(
    status: RiskStatus, *, by: str, role: str, now_ns: int, detail: str = ""
) -> RiskStatus | TransitionRefused:
    """Kill switch off (HALTED -> ACTIVE); refused unless ``role`` is admin."""
    return apply(status, Command.RELEASE_KILL, by=by, role=role, now_ns=now_ns, detail=detail)


def admits(state: TradingState, reduces: bool, reduce_only: bool) -> bool:
    """Whether ``state`` lets an order through, given whether it reduces the position and whether
    it is flagged ``reduce_only``. Cancels are not orders here: they always pass."""
    admission = ADMISSION[state]
    if admission is Admission.ALL:
        return True
    if admission is Admission.REDUCING_ONLY:
        return reduces
    return reduces and reduce_only


def to_message(status: RiskStatus, ts_init_ns: int) -> RiskStateChanged:
    """The bus message announcing ``status``."""
    return RiskStateChanged(
        state=status.state,
        reason_code=status.reason_code,
        detail=status.detail,
        by=status.by,
        ts_event_ns=status.since_ns,
        ts_init_ns=ts_init_ns,
    )
