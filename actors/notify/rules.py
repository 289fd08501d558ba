"""Which bus messages are worth an operator's attention: messages in, alerts out. Pure.

:class:`Rules` keeps the little state a transition needs (was the kill switch engaged, which
trading state risk announced, how often each actor had restarted), so that a status repeated every
second raises an alert once, when it changes. Time comes in as arguments (the actor's clock).
"""

from __future__ import annotations

import datetime as dt

from actors.notify.alerts import Alert, AlertKind, SeverityName
from engine.model.ist import IST, ist_date
from engine.model.money import format_paise
from ipc.messages import (
    BrokerSessionStatus,
    CalendarStatus,
    DaemonStatus,
    DailyTaskFinished,
    FeedStalled,
    InstrumentMasterStatus,
    OrderEvent,
    OrderState,
    RiskAction,
    RiskStateChanged,
    TradingState,
)
from ipc.segments import instrument_label

NS_PER_S = 1_000_000_000
# The supervisor's kill-switch reason for a restart storm (engine/daemon/supervisor.py).
RESTART_STORM_PREFIX = "restart storm"
# Risk's monitor reason and action when the day's loss passes the limit (actors/risk/monitors.py).
DAILY_MAX_LOSS = "DAILY_MAX_LOSS"
KILL_AND_FLATTEN = "KILL_AND_FLATTEN"

_TRADING_SEVERITY: dict[TradingState, SeverityName] = {
    TradingState.ACTIVE: "info", TradingState.REDUCING: "warning", TradingState.HALTED: "error"}


def ist_text(ts_ns: int) -> str:
    """``2026-11-20 10:15:03 IST``: the time an operator reads in an alert."""
    return dt.datetime.fromtimestamp(ts_ns / NS_PER_S, IST).strftime("%Y-%m-%d %H:%M:%S IST")


class Rules:
    def __init__(self) -> None:
        self._kill_engaged: bool | None = None  # None: no status seen yet
        self._kill_since_ns = 0
        self._trading: TradingState | None = None
        self._restarts: dict[str, int] = {}
        self._calendar_alerted_on: dt.date | None = None

    def supervisor_status(self, status: DaemonStatus, now_ns: int) -> list[Alert]:
        """Kill switch engaged (a restart storm is named as one) or released; an actor restarted.
        The first status seen alerts only an engaged switch (the daemon (re)started with it on)."""
        out: list[Alert] = []
        ks = status.kill_switch
        first = self._kill_engaged is None
        if ks.engaged and (first or not self._kill_engaged or ks.ts_ns != self._kill_since_ns):
            storm = ks.reason.startswith(RESTART_STORM_PREFIX)
            out.append(Alert(
                kind=AlertKind.RESTART_STORM if storm else AlertKind.KILL_SWITCH_ENGAGED, severity="critical",
                subject="kill_switch", title="Shikra: kill switch ENGAGED",
                body=f"{ks.reason} (by {ks.by or '?'} at {ist_text(ks.ts_ns or now_ns)}). No new risk is "
                     "taken until an operator runs `shikra kill --release`.",
                ts_ns=now_ns))
        elif not ks.engaged and self._kill_engaged:
            out.append(Alert(kind=AlertKind.KILL_SWITCH_RELEASED, severity="warning", subject="kill_switch",
                             title="Shikra: kill switch released",
                             body=f"released by {ks.by or '?'} at {ist_text(ks.ts_ns or now_ns)}",
                             ts_ns=now_ns))
        self._kill_engaged = ks.engaged
        self._kill_since_ns = ks.ts_ns
        for actor in status.actors:
            before = self._restarts.get(actor.name)
            self._restarts[actor.name] = actor.restarts
            if before is not None and actor.restarts > before:
                out.append(Alert(kind=AlertKind.ACTOR_RESTARTED, severity="warning", subject=actor.name,
                                 title=f"Shikra: actor {actor.name} restarted",
                                 body=f"{actor.name} restarted ({actor.restarts} restarts since the daemon started)",
                                 ts_ns=now_ns))
        return out

    def risk_state(self, msg: RiskStateChanged, now_ns: int) -> list[Alert]:
        """A change of risk's trading state (the first one seen: only a state other than ACTIVE)."""
        before, self._trading = self._trading, msg.state
        if msg.state == before or (before is None and msg.state is TradingState.ACTIVE):
            return []
        why = f"{msg.reason_code}: {msg.detail}" if msg.reason_code else msg.detail
        return [Alert(kind=AlertKind.TRADING_STATE, severity=_TRADING_SEVERITY[msg.state], subject="trading",
                      title=f"Shikra: trading {msg.state.value}",
                      body=f"trading is {msg.state.value} (was {before.value if before else 'unknown'}) since "
                           f"{ist_text(msg.ts_event_ns)}, by {msg.by or '?'}; {why}".rstrip("; "),
                      ts_ns=now_ns)]

    def calendar_status(self, msg: CalendarStatus, warn_days: int, now_ns: int) -> list[Alert]:
        """The calendar library's data ends within ``warn_days`` (or has ended: the fallback trades
        weekdays): once an IST day (risk repeats its status every minute; a dedupe window would let
        a standing condition come back every window)."""
        if not msg.fallback_in_use and msg.days_left > warn_days:
            return []
        today = ist_date(now_ns)
        if today == self._calendar_alerted_on:
            return []
        self._calendar_alerted_on = today
        if msg.fallback_in_use:
            body = (f"the market calendar {msg.calendar} has no data past {msg.data_end}: sessions now come from the "
                    "fallback (weekdays minus fixed-date and configured holidays). Add this year's holidays with "
                    "`shikra calendar add-holiday`, or upgrade exchange_calendars.")
            severity: SeverityName = "error"
        else:
            body = (f"the market calendar {msg.calendar} ends on {msg.data_end} ({msg.days_left} days left). Upgrade "
                    "exchange_calendars or list the coming year's holidays with `shikra calendar add-holiday`.")
            severity = "warning"
        return [Alert(kind=AlertKind.CALENDAR_DATA_ENDING, severity=severity, subject=msg.calendar,
                      title="Shikra: market calendar data ending", body=body, ts_ns=now_ns)]


def risk_action(msg: RiskAction, now_ns: int) -> list[Alert]:
    """The daily loss limit was hit: risk engaged the kill switch and flattens."""
    if msg.reason_code != DAILY_MAX_LOSS or msg.action != KILL_AND_FLATTEN:
        return []
    return [Alert(kind=AlertKind.DAILY_LOSS_LIMIT, severity="critical", subject="account",
                  title="Shikra: daily loss limit hit", body=f"{msg.detail}; positions are being flattened",
                  ts_ns=now_ns)]


def order_event(msg: OrderEvent, now_ns: int) -> list[Alert]:
    """An order the venue (or execution before it) refused."""
    if msg.state is not OrderState.REJECTED:
        return []
    spec = msg.spec
    instrument = instrument_label(spec.segment, spec.security_id)
    return [Alert(kind=AlertKind.ORDER_REJECTED, severity="warning", subject=f"{msg.strategy} {instrument}",
                  title=f"Shikra: order rejected ({msg.strategy}, {instrument})",
                  body=f"{spec.side} {spec.qty_units} {instrument} {spec.order_type} "
                       f"(order {msg.client_order_id}) rejected: {msg.reason_code}: {msg.reason}",
                  ts_ns=now_ns)]


def feed_stalled(msg: FeedStalled, now_ns: int) -> list[Alert]:
    return [Alert(kind=AlertKind.FEED_STALLED, severity="warning", subject=msg.source,
                  title=f"Shikra: {msg.source} feed stalled",
                  body=f"no market data for {msg.idle_ns / NS_PER_S:.1f} s while the market is open "
                       f"(limit {msg.stall_timeout_ns / NS_PER_S:.1f} s); reconnecting. Stalls so far: {msg.stalls}",
                  ts_ns=now_ns)]


def broker_session(msg: BrokerSessionStatus, warn_ns: int, now_ns: int) -> list[Alert]:
    """A failed login or renewal; a token that expires within ``warn_ns``."""
    expiry = ist_text(msg.expires_ns) if msg.expires_ns else "unknown"
    if not msg.ok and not msg.expires_ns:  # no token in use at all (Kite before the day's login)
        return [Alert(kind=AlertKind.TOKEN_RENEWAL_FAILED, severity="error", subject=msg.broker,
                      title=f"Shikra: no {msg.broker} access token",
                      body=f"{msg.reason_code}: {msg.detail}. No order goes to {msg.broker} until a token is "
                           "obtained.", ts_ns=now_ns)]
    if not msg.ok:
        return [Alert(kind=AlertKind.TOKEN_RENEWAL_FAILED, severity="error", subject=msg.broker,
                      title=f"Shikra: {msg.broker} token renewal failed",
                      body=f"{msg.reason_code}: {msg.detail}. The token in use expires {expiry}; "
                           "trading halts then unless a renewal succeeds.",
                      ts_ns=now_ns)]
    if msg.expires_ns and msg.expires_ns - now_ns <= warn_ns:
        left_min = max(0, (msg.expires_ns - now_ns) // (60 * NS_PER_S))
        return [Alert(kind=AlertKind.TOKEN_EXPIRING, severity="warning", subject=msg.broker,
                      title=f"Shikra: {msg.broker} token expires soon",
                      body=f"the access token expires {expiry} (in {left_min} min)", ts_ns=now_ns)]
    return []


def master_status(msg: InstrumentMasterStatus, now_ns: int) -> list[Alert]:
    if msg.ok:
        return []
    return [Alert(kind=AlertKind.MASTER_REFRESH_FAILED, severity="error", subject="instrument_master",
                  title="Shikra: instrument master refresh failed",
                  body=f"{msg.reason_code}: {msg.detail}. Trading continues on the last good master "
                       f"({msg.master_date or 'unknown date'}).",
                  ts_ns=now_ns)]


# Tasks whose failure has an alert of its own (from their status messages).
_ALERTED_ELSEWHERE = frozenset({"instrument_master", "broker_session"})


def daily_task(msg: DailyTaskFinished, now_ns: int) -> list[Alert]:
    """A failed task of the daily schedule (``shikra schedule`` shows them all)."""
    if msg.ok or msg.task in _ALERTED_ELSEWHERE:
        return []
    return [Alert(kind=AlertKind.DAILY_TASK_FAILED, severity="error", subject=f"{msg.task}:{msg.day}",
                  title=f"Shikra: daily task {msg.task} failed ({msg.actor})",
                  body=f"{msg.day} {msg.task} by {msg.actor}: {msg.reason_code}: {msg.detail}", ts_ns=now_ns)]


def money(paise: int) -> str:
    """Rupees for an alert's text."""
    return f"Rs {format_paise(paise)}"
