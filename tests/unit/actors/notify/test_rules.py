"""Which bus messages raise which alerts, and only on a change."""

from __future__ import annotations

import datetime as dt

from actors.notify import rules
from actors.notify.alerts import AlertKind
from engine.model.ist import ist_ns
from ipc.messages import (
    ActorStatus,
    BrokerSessionStatus,
    CalendarStatus,
    DaemonStatus,
    FeedStalled,
    InstrumentMasterStatus,
    KillSwitchStatus,
    OrderEvent,
    OrderSpec,
    OrderState,
    RiskAction,
    RiskStateChanged,
    TradingState,
)

S = 1_000_000_000
T0 = ist_ns(dt.date(2026, 11, 20), dt.time(10, 0))


def status(engaged: bool = False, reason: str = "", by: str = "", ts_ns: int = 0, restarts: int = 0) -> DaemonStatus:
    actor = ActorStatus("feed", "feed", 1, "ready", 0, restarts, 0)
    return DaemonStatus(1, "running", 0, 0, "isolated", "/d", KillSwitchStatus(engaged, reason, by, ts_ns), [actor])


def kinds(alerts) -> list[AlertKind]:
    return [a.kind for a in alerts]


def test_kill_switch_alerts_when_engaged_and_released_not_on_every_status():
    r = rules.Rules()
    assert r.supervisor_status(status(), T0) == []
    engaged = r.supervisor_status(status(True, "operator", "cli:alice", T0), T0)
    assert kinds(engaged) == [AlertKind.KILL_SWITCH_ENGAGED]
    assert engaged[0].severity == "critical" and "operator" in engaged[0].body and "cli:alice" in engaged[0].body
    assert r.supervisor_status(status(True, "operator", "cli:alice", T0), T0 + S) == []
    released = r.supervisor_status(status(False, "", "cli:bob", T0 + 2 * S), T0 + 2 * S)
    assert kinds(released) == [AlertKind.KILL_SWITCH_RELEASED]


def test_a_daemon_started_with_the_kill_switch_on_alerts_once():
    r = rules.Rules()
    assert kinds(r.supervisor_status(status(True, "ledger verify", "supervisor", T0), T0)) == [
        AlertKind.KILL_SWITCH_ENGAGED]


def test_restart_storm_is_named_and_actor_restarts_alert():
    r = rules.Rules()
    r.supervisor_status(status(), T0)
    out = r.supervisor_status(status(True, "restart storm: feed restarted 5 times in 60s", "supervisor", T0,
                                     restarts=5), T0)
    assert kinds(out) == [AlertKind.RESTART_STORM, AlertKind.ACTOR_RESTARTED]


def test_trading_state_changes_alert_with_their_severity():
    r = rules.Rules()
    msg = RiskStateChanged(TradingState.ACTIVE, "", "", "risk", T0, T0)
    assert r.risk_state(msg, T0) == []  # the first ACTIVE is no news
    reducing = r.risk_state(RiskStateChanged(TradingState.REDUCING, "POSITION_MISMATCH", "RELIANCE 10 vs 0",
                                             "execution", T0, T0), T0)
    assert kinds(reducing) == [AlertKind.TRADING_STATE] and reducing[0].severity == "warning"
    assert "REDUCING" in reducing[0].title and "POSITION_MISMATCH" in reducing[0].body
    assert r.risk_state(RiskStateChanged(TradingState.REDUCING, "", "", "execution", T0, T0), T0) == []


def test_daily_loss_limit_alerts_on_risks_kill_action_only():
    kill = RiskAction("KILL_AND_FLATTEN", "DAILY_MAX_LOSS", "day P&L -1000001 paise", "", 0, 0, T0, T0)
    exit_ = RiskAction("EXIT", "DAILY_MAX_LOSS", "flatten", "s1", 1, 2885, T0, T0)
    assert kinds(rules.risk_action(kill, T0)) == [AlertKind.DAILY_LOSS_LIMIT]
    assert rules.risk_action(exit_, T0) == []


def test_a_rejected_order_alerts_with_the_reason():
    spec = OrderSpec(segment=1, security_id=2885, side="BUY", order_type="MARKET", qty_units=10)
    rejected = OrderEvent("c1", "i1", "ema", spec, OrderState.REJECTED, 0, 0, "", "VENUE_REJECTED",
                          "RMS: margin shortfall", T0, T0)
    out = rules.order_event(rejected, T0)
    assert kinds(out) == [AlertKind.ORDER_REJECTED]
    assert "RMS: margin shortfall" in out[0].body and out[0].subject.startswith("ema ")
    filled = OrderEvent("c1", "i1", "ema", spec, OrderState.FILLED, 10, 100, "", "", "", T0, T0)
    assert rules.order_event(filled, T0) == []


def test_calendar_alerts_from_thirty_days_before_the_data_ends():
    far = CalendarStatus("XBOM", "2026-12-31", 31, False, False, T0)
    near = CalendarStatus("XBOM", "2026-12-31", 30, False, True, T0)
    past = CalendarStatus("XBOM", "2026-12-31", -3, True, True, T0)
    assert rules.Rules().calendar_status(far, 30, T0) == []
    assert kinds(rules.Rules().calendar_status(near, 30, T0)) == [AlertKind.CALENDAR_DATA_ENDING]
    assert "30 days left" in rules.Rules().calendar_status(near, 30, T0)[0].body
    assert rules.Rules().calendar_status(past, 30, T0)[0].severity == "error"


def test_a_standing_calendar_warning_alerts_once_a_day_not_once_per_status():
    r = rules.Rules()
    day = 86400 * S
    near = CalendarStatus("XBOM", "2026-12-31", 3, False, True, T0)
    # Every minute for 24 hours from 10:00 IST: at once, and again at IST midnight (14 hours on).
    raised = [len(r.calendar_status(near, 30, T0 + minute * 60 * S)) for minute in range(24 * 60)]
    assert [minute for minute, n in enumerate(raised) if n] == [0, 14 * 60]
    assert len(r.calendar_status(near, 30, T0 + 2 * day)) == 1


def test_token_renewal_failure_and_near_expiry_alert():
    failed = BrokerSessionStatus("dhan", False, T0 + 3600 * S, "BAD_TOTP", "invalid TOTP", T0)
    soon = BrokerSessionStatus("dhan", True, T0 + 3600 * S, "", "", T0)
    later = BrokerSessionStatus("dhan", True, T0 + 20 * 3600 * S, "", "", T0)
    assert kinds(rules.broker_session(failed, 7200 * S, T0)) == [AlertKind.TOKEN_RENEWAL_FAILED]
    assert "BAD_TOTP" in rules.broker_session(failed, 7200 * S, T0)[0].body
    assert kinds(rules.broker_session(soon, 7200 * S, T0)) == [AlertKind.TOKEN_EXPIRING]
    assert rules.broker_session(later, 7200 * S, T0) == []


def test_no_kite_token_at_pre_open_alerts_that_nothing_is_sent():
    none = BrokerSessionStatus("kite", False, 0, "NO_TOKEN", "no valid Kite access token: run `shikra kite login`", T0)
    (alert,) = rules.broker_session(none, 7200 * S, T0)
    assert (alert.kind, alert.severity, alert.title) == (AlertKind.TOKEN_RENEWAL_FAILED, "error",
                                                         "Shikra: no kite access token")
    assert "shikra kite login" in alert.body and "No order goes to kite" in alert.body


def test_master_refresh_failure_and_feed_stall_alert():
    assert kinds(rules.master_status(InstrumentMasterStatus(False, "2026-11-19", 0, "ROW_COUNT", "12 rows", T0),
                                     T0)) == [AlertKind.MASTER_REFRESH_FAILED]
    assert rules.master_status(InstrumentMasterStatus(True, "2026-11-20", 200000, "", "", T0), T0) == []
    stall = rules.feed_stalled(FeedStalled("dhan", 16 * S, 15 * S, 1, T0), T0)
    assert kinds(stall) == [AlertKind.FEED_STALLED] and "16.0 s" in stall[0].body

