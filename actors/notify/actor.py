"""The notify actor: operator alerts from what the bus carries.

Listens to the supervisor's status, risk's state and actions, orders, fills and positions, the
calendar, feed, broker-session and instrument-master statuses; turns them into alerts
(``rules``), lets them through dedupe and rate limits (``gate``) on the actor's clock, writes each
one to the ledger's audit table (a ``RecordAudit`` to execution, the ledger's only writer) and hands
it to the sender's worker thread (``sender``), which talks to apprise: the loop never waits for
the network. The end-of-day summary (``summary``) goes out at ``summary_at_ist`` each day.
"""

from __future__ import annotations

import datetime as dt

from actors.base import Actor, ActorConfigError, ActorContext
from actors.daily import task_finished
from actors.notify import rules
from actors.notify.alerts import SEVERITY_RANK, Alert
from actors.notify.config import notify_urls
from actors.notify.gate import AlertGate
from actors.notify.sender import AlertSender, make_targets
from actors.notify.summary import DaySummary
from engine.model.ist import ist_date, ist_ns
from ipc import topics
from ipc.messages import (
    BrokerSessionStatus,
    CalendarStatus,
    DailyTaskFinished,
    DayPhaseBegan,
    FeedStalled,
    Fill,
    InstrumentMasterStatus,
    OrderEvent,
    Position,
    RecordAudit,
    RiskAction,
    RiskStateChanged,
    RiskUsage,
    SupervisorStatus,
)

EXECUTION = "execution"
NS_PER_S = 1_000_000_000
_AUDIT_CHARS = 2000


class NotifyActor(Actor):
    subscriptions = (topics.SUPERVISOR_STATUS, topics.RISK_STATE, topics.RISK_ACTION, topics.ORDER, topics.FILL,
                     topics.POSITION, topics.RISK_USAGE, topics.CALENDAR_STATUS, topics.FEED_STATUS,
                     topics.BROKER_SESSION, topics.INSTRUMENTS_STATUS, topics.SCHEDULE)

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        cfg = ctx.config.notify
        self.cfg = cfg
        self.rules = rules.Rules()
        self.gate = AlertGate(int(cfg.dedupe_window_s * NS_PER_S), cfg.rate_limit_count,
                              int(cfg.rate_limit_window_s * NS_PER_S))
        self.summary = DaySummary()
        self.sender: AlertSender | None = None
        self._min_rank = SEVERITY_RANK[cfg.min_severity]
        self._audit = EXECUTION in ctx.config.engine.actors

    def on_start(self) -> None:
        try:
            urls = notify_urls(self.cfg)
        except OSError as exc:
            raise ActorConfigError(f"notify.urls_file: cannot read {self.cfg.urls_file}: {exc.strerror}") from None
        if urls:
            targets = make_targets(urls)
            self.sender = AlertSender(targets, self.log, queue_size=self.cfg.queue_size,
                                      attempts=self.cfg.send_attempts, retry_initial_s=self.cfg.retry_initial_s,
                                      retry_max_s=self.cfg.retry_max_s)
            self.sender.start()
            self.log.info("notify_started", targets=[t.label for t in targets])
        else:
            self.log.info("notify_started", targets=[], note="no URL configured: alerts go to the audit table only")
        # Under the daily schedule the summary goes out at the trading day's post-close (none on
        # a holiday); without it, at summary_at_ist every day.
        if self.cfg.summary and not self.ctx.config.schedule.enabled:
            self._schedule_summary()

    def on_stop(self) -> None:
        if self.sender is not None:
            self.sender.stop(self.cfg.stop_timeout_s)
        self.log.info("notify_stopped", deduped=self.gate.deduped, rate_limited=self.gate.rate_limited,
                      dropped=self.sender.dropped if self.sender else 0,
                      sent=self.sender.sent if self.sender else 0, failed=self.sender.failed if self.sender else 0)

    # Messages --------------------------------------------------------------------------------------
    def on_supervisor_status(self, msg: SupervisorStatus) -> None:
        self.raise_alerts(self.rules.supervisor_status(msg.status, self.ctx.now_ns()))

    def on_risk_state_changed(self, msg: RiskStateChanged) -> None:
        self.raise_alerts(self.rules.risk_state(msg, self.ctx.now_ns()))

    def on_risk_action(self, msg: RiskAction) -> None:
        self.raise_alerts(rules.risk_action(msg, self.ctx.now_ns()))

    def on_order_event(self, msg: OrderEvent) -> None:
        self.raise_alerts(rules.order_event(msg, self.ctx.now_ns()))

    def on_fill(self, msg: Fill) -> None:
        self.summary.on_fill(msg)

    def on_position(self, msg: Position) -> None:
        self.summary.on_position(msg)

    def on_risk_usage(self, msg: RiskUsage) -> None:
        self.summary.on_risk_usage(msg)

    def on_calendar_status(self, msg: CalendarStatus) -> None:
        self.raise_alerts(self.rules.calendar_status(msg, self.cfg.calendar_warn_days, self.ctx.now_ns()))

    def on_feed_stalled(self, msg: FeedStalled) -> None:
        self.raise_alerts(rules.feed_stalled(msg, self.ctx.now_ns()))

    def on_broker_session_status(self, msg: BrokerSessionStatus) -> None:
        self.raise_alerts(rules.broker_session(msg, int(self.cfg.token_warn_s * NS_PER_S), self.ctx.now_ns()))

    def on_instrument_master_status(self, msg: InstrumentMasterStatus) -> None:
        self.raise_alerts(rules.master_status(msg, self.ctx.now_ns()))

    def on_daily_task_finished(self, msg: DailyTaskFinished) -> None:
        self.raise_alerts(rules.daily_task(msg, self.ctx.now_ns()))

    def on_day_phase_began(self, msg: DayPhaseBegan) -> None:
        if msg.phase != "post_close" or not msg.trading_day or not self.cfg.summary:
            return
        started = self.ctx.now_ns()
        alert = self.summary.take(started)
        if alert is not None:
            self.raise_alerts([alert])
        # Taken again (a phase announced again after a restart) there is nothing new: no repeat.
        task_finished(self.ctx, msg.day, "summary", True,
                      "sent" if alert is not None else "nothing traded since the last summary", started)

    # Alerts ----------------------------------------------------------------------------------------
    def raise_alerts(self, alerts: list[Alert]) -> None:
        """Through the severity floor and the gate; each one let through is audited and queued."""
        now = self.ctx.now_ns()
        for alert in alerts:
            if SEVERITY_RANK[alert.severity] < self._min_rank:
                continue
            admitted = self.gate.admit(alert, now)
            if admitted is None:
                continue
            self.log.info("alert", kind=admitted.kind.value, severity=admitted.severity, subject=admitted.subject,
                          title=admitted.title)
            if self._audit:
                self.ctx.send(EXECUTION, RecordAudit(
                    who="notify", action=f"alert_{admitted.kind.value.lower()}",
                    args={"severity": admitted.severity, "subject": admitted.subject, "title": admitted.title,
                          "targets": str(len(self.sender.targets) if self.sender else 0)},
                    result=admitted.body[:_AUDIT_CHARS], ts_ns=now))
            if self.sender is not None:
                self.sender.submit(admitted)

    # The end-of-day summary ------------------------------------------------------------------------
    def _schedule_summary(self) -> None:
        now = self.ctx.now_ns()
        due = next_at_ns(now, self.cfg.summary_at_ist)
        self.ctx.call_later((due - now) / NS_PER_S, self._send_summary)

    def _send_summary(self) -> None:
        alert = self.summary.take(self.ctx.now_ns())
        if alert is not None:
            self.raise_alerts([alert])
        self._schedule_summary()


def next_at_ns(now_ns: int, at_ist: dt.time) -> int:
    """The first instant after ``now_ns`` whose IST time of day is ``at_ist``."""
    today = ist_date(now_ns)
    due = ist_ns(today, at_ist)
    return due if due > now_ns else ist_ns(today + dt.timedelta(days=1), at_ist)
