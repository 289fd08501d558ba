"""What an alert is: a kind, a severity, a subject (what it is about), a title and a body.

Closed sets here, once: the kinds the rules raise and the severities. Pure values, no I/O.
"""

from __future__ import annotations

import enum
from typing import Final, Literal, get_args

import msgspec

SeverityName = Literal["info", "warning", "error", "critical"]
SEVERITIES: Final[tuple[SeverityName, ...]] = get_args(SeverityName)
SEVERITY_RANK: Final[dict[str, int]] = {name: i for i, name in enumerate(SEVERITIES)}


class AlertKind(enum.StrEnum):
    KILL_SWITCH_ENGAGED = "KILL_SWITCH_ENGAGED"
    KILL_SWITCH_RELEASED = "KILL_SWITCH_RELEASED"
    RESTART_STORM = "RESTART_STORM"  # the supervisor engaged the kill switch on one
    ACTOR_RESTARTED = "ACTOR_RESTARTED"
    TRADING_STATE = "TRADING_STATE"  # risk's ACTIVE / REDUCING / HALTED
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    ORDER_REJECTED = "ORDER_REJECTED"
    FEED_STALLED = "FEED_STALLED"
    TOKEN_RENEWAL_FAILED = "TOKEN_RENEWAL_FAILED"
    TOKEN_EXPIRING = "TOKEN_EXPIRING"
    MASTER_REFRESH_FAILED = "MASTER_REFRESH_FAILED"
    CALENDAR_DATA_ENDING = "CALENDAR_DATA_ENDING"
    DAY_SUMMARY = "DAY_SUMMARY"
    DAILY_TASK_FAILED = "DAILY_TASK_FAILED"  # a task of the daily schedule (backup, reconcile...)
    TEST = "TEST"  # `shikra alerts test`


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One operator alert. ``subject`` names what it is about (an actor, a strategy, a calendar):
    dedupe and rate limits count per kind and subject. ``ts_ns`` is on the actor's clock."""

    kind: AlertKind
    severity: SeverityName
    subject: str
    title: str
    body: str
    ts_ns: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind.value, self.subject)
