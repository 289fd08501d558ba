"""The notify actor in a real host on the simulated clock, its alerts reaching a real HTTP webhook
on loopback through apprise (``json://``), and its audit rows reaching the ledger through execution."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ipc import topics
from ipc.messages import (
    DaemonStatus,
    Fill,
    KillSwitchStatus,
    OrderEvent,
    OrderSpec,
    OrderState,
    Position,
    SupervisorStatus,
)
from tests.support.sim import SimEngine, at_ist, sim_config
from tests.support.wait import eventually
from tests.support.webhook import Webhook

FRIDAY = dt.date(2026, 11, 20)
ACTORS = ("execution", "notify")


@pytest.fixture
def engines(tmp_path: Path):
    made: list[SimEngine] = []

    def make(urls: list[str], **notify: Any) -> SimEngine:
        cfg = sim_config(ACTORS, notify={"urls": urls, "retry_initial_s": 0.01, "retry_max_s": 0.05, **notify})
        engine = SimEngine(tmp_path / f"data{len(made)}", at_ist(FRIDAY, 10, 0), ACTORS, cfg)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


def supervisor_status(engaged: bool, reason: str = "", by: str = "", ts_ns: int = 0) -> SupervisorStatus:
    return SupervisorStatus(DaemonStatus(1, "running", 0, 0, "co-located", "/d",
                                         KillSwitchStatus(engaged, reason, by, ts_ns), []))


def rejected(n: int) -> OrderEvent:
    spec = OrderSpec(segment=1, security_id=2885, side="BUY", order_type="MARKET", qty_units=1)
    return OrderEvent(f"c{n}", f"i{n}", "ema", spec, OrderState.REJECTED, 0, 0, "", "VENUE_REJECTED",
                      f"RMS reject {n}", 0, 0)


def test_kill_switch_alert_reaches_the_webhook_and_the_audit_table(engines):
    with Webhook() as hook:
        engine = engines([hook.url("ops")])
        engine.publish(topics.SUPERVISOR_STATUS.encode(), supervisor_status(False))
        engine.publish(topics.SUPERVISOR_STATUS.encode(),
                       supervisor_status(True, "operator says stop", "cli:alice", engine.now_ns()))
        got = eventually(lambda: hook.find("kill switch ENGAGED"), "the kill switch alert at the webhook", 30)
        assert got[0]["path"] == "/ops" and got[0]["type"] == "failure"
        assert "operator says stop" in got[0]["message"]
        audit = [row for row in engine.ledger_facts()["audit"] if row.who == "notify"]
        assert [row.action for row in audit] == ["alert_kill_switch_engaged"]
        assert "operator says stop" in audit[0].result


def test_a_repeated_status_alerts_once(engines):
    with Webhook() as hook:
        engine = engines([hook.url()])
        engaged = supervisor_status(True, "feed: Dhan 807", "feed", engine.now_ns())
        for _ in range(3):
            engine.publish(topics.SUPERVISOR_STATUS.encode(), engaged)
            engine.advance_by(1.0)
        engine.publish(topics.ORDER.encode() + b"ema", rejected(1))  # a later alert: everything before it is sent
        eventually(lambda: hook.find("RMS reject 1"), "the reject alert", 30)
        assert len(hook.find("kill switch ENGAGED")) == 1


def test_rate_limit_holds_back_a_flood_of_rejects(engines):
    with Webhook() as hook:
        engine = engines([hook.url()], rate_limit_count=2, rate_limit_window_s=600.0)
        for n in range(5):
            engine.publish(topics.ORDER.encode() + b"ema", rejected(n))
        engine.advance_by(600.0)
        engine.publish(topics.ORDER.encode() + b"ema", rejected(5))
        last = eventually(lambda: hook.find("RMS reject 5"), "the reject after the window", 30)
        assert "3 more like this were held back" in last[0]["message"]
        assert len(hook.find("order rejected")) == 3


def test_a_failing_target_is_retried_until_it_takes_the_alert(engines):
    with Webhook(fail_first=2) as hook:
        engine = engines([hook.url()])
        engine.publish(topics.ORDER.encode() + b"ema", rejected(1))
        eventually(lambda: hook.find("RMS reject 1"), "the alert after two refusals", 30)
        assert hook.refused == 2


def test_an_unreachable_target_is_not_fatal_and_the_others_still_get_the_alert(engines):
    with Webhook() as hook:
        engine = engines(["json://127.0.0.1:1/nobody", hook.url()], send_attempts=2)
        engine.publish(topics.ORDER.encode() + b"ema", rejected(1))
        eventually(lambda: hook.find("RMS reject 1"), "the alert at the working target", 30)
        engine.publish(topics.ORDER.encode() + b"ema", rejected(2))
        eventually(lambda: hook.find("RMS reject 2"), "the next alert", 30)


def test_the_day_summary_goes_out_at_its_time_with_the_days_fills(engines):
    with Webhook() as hook:
        engine = engines([hook.url()])
        now = engine.now_ns()
        engine.publish(topics.FILL.encode() + b"ema", Fill("f1", "c1", "v1", "ema", 1, 2885, "BUY", 10, 100_00,
                                                           12_34, now, now))
        engine.publish(topics.POSITION.encode() + b"ema", Position("ema", 1, 2885, 10, 1000_00, 0, 0, 12_34, now, now))
        engine.publish(topics.POSITION.encode() + b"ema", Position("ema", 1, 2885, 10, 1000_00, 0, 50_00, 12_34,
                                                                   now, now))
        engine.advance_to(at_ist(FRIDAY, 15, 44))
        assert hook.find("day summary") == []
        engine.advance_to(at_ist(FRIDAY, 15, 46))
        got = eventually(lambda: hook.find("day summary 2026-11-20"), "the day summary", 30)
        assert got[0]["message"].splitlines()[0] == (
            "ema: P&L Rs 50.00 (Rs 37.66 after charges), 1 trades, charges Rs 12.34")
