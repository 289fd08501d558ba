"""Risk's denials reach the audit exactly once: risk re-sends a denial until execution says it
recorded it, and execution records a re-sent one (also after its own restart) only once. A denial
sent while execution was being restarted used to vanish (the kill -9 pipeline test's intermittent
"intents lost": denied, but never audited)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from actors.risk.actor import RiskActor
from ipc.messages import DenialRecorded, OrderDenied, Tick
from tests.unit.actors.execution.test_actor import ExecHarness, FakeCtx, actor_config


def _denials(ledger) -> list[str]:
    return [row.args["intent_id"] for _seq, row in ledger.reader().audit(1, 100_000) if row.action == "deny_intent"]


def test_risk_resends_a_denial_until_execution_acknowledges_it(tmp_path: Path) -> None:
    h = ExecHarness(tmp_path / "data")
    ctx = FakeCtx(actor_config(), tmp_path / "data")
    ctx.name = "risk"
    risk = RiskActor(ctx)
    risk.on_start()
    try:
        inst = h.instrument("RELIANCE")
        now = time.time_ns()
        risk.on_tick(Tick(inst.segment, inst.security_id, 100_00, now, now))
        intent = h.intent(inst, "BUY", 1, order_type="LIMIT", price_paise=100_01)  # off the tick: denied
        risk.on_order_intent(intent)
        first = [m for _t, m in ctx.sent if isinstance(m, OrderDenied)]
        assert [d.intent_id for d in first] == [intent.intent_id]
        risk.unacked_denials.resend_after_ns = 0  # the resend timer's period has passed (no waiting)
        risk._resend_unacked()
        risk._resend_unacked()
        assert len([m for _t, m in ctx.sent if isinstance(m, OrderDenied)]) == 3, "re-sent while unacknowledged"
        risk.on_denial_recorded(DenialRecorded(intent.intent_id, time.time_ns()))
        risk._resend_unacked()
        assert len([m for _t, m in ctx.sent if isinstance(m, OrderDenied)]) == 3, "acknowledged: no more re-sends"
    finally:
        risk.on_stop()
        h.close()


@pytest.mark.parametrize("restart_between", [False, True])
def test_execution_records_a_resent_denial_once_and_acknowledges_every_copy(tmp_path: Path,
                                                                             restart_between: bool) -> None:
    h = ExecHarness(tmp_path / "data")
    inst = h.instrument("RELIANCE")
    now = time.time_ns()
    denied = OrderDenied("s1-t-9", "s1", inst.segment, inst.security_id, "MAX_OPEN_ORDERS",
                         "50 open orders + 1 new > limit 50", now, now)
    h.actor.on_order_denied(denied)
    if restart_between:
        h.close()
        h = ExecHarness(tmp_path / "data")
    h.actor.on_order_denied(denied)
    h.actor.on_order_denied(denied)
    try:
        assert _denials(h.ledger) == ["s1-t-9"]
        acks = [m for target, m in h.ctx.sent if isinstance(m, DenialRecorded) and target == "risk"]
        assert [a.intent_id for a in acks] == ["s1-t-9"] * (2 if restart_between else 3)
    finally:
        h.close()
