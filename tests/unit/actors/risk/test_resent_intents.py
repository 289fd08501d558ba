"""An intent sent again after risk approved it (its sender missed the answer: a restart, a slow
reply) is a re-send, not a denial: the audit records ``resend_intent`` naming the order it became,
never ``deny_intent … DUPLICATE_INTENT``, and it never becomes a second order. Risk and execution
run for real here (the real ledger), the bus between them is the test's hand."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from actors.risk.actor import RiskActor
from ipc.messages import IntentResent, OrderDenied, OrderEvent, OrderIntent, SubmitOrder, Tick
from tests.unit.actors.execution.test_actor import ExecHarness, FakeCtx, actor_config


class _Pair:
    """Risk and execution on one data dir; ``deliver`` hands risk's messages for execution over."""

    def __init__(self, data_dir: Path) -> None:
        self.exe = ExecHarness(data_dir)
        self.ctx = FakeCtx(actor_config(), data_dir)
        self.ctx.name = "risk"
        self.risk = RiskActor(self.ctx)
        self.risk.on_start()
        self.inst = self.exe.instrument("RELIANCE")
        now = time.time_ns()
        self.risk.on_tick(Tick(self.inst.segment, self.inst.security_id, 100_00, now, now))
        self.exe.depth(self.inst, [(99_95, 500)], [(100_05, 500)])

    def send(self, intent: OrderIntent) -> list[Any]:
        """``intent`` to risk; returns what risk sent execution for it."""
        before = len(self.ctx.sent)
        self.risk.on_order_intent(intent)
        return [m for target, m in self.ctx.sent[before:] if target == "execution"]

    def deliver(self, msgs: list[Any]) -> None:
        for msg in msgs:
            self.exe.actor.handlers[type(msg)](msg)

    def audit(self, action: str) -> list[Any]:
        return [row for _seq, row in self.exe.ledger.reader().audit(1, 100_000) if row.action == action]

    def orders_of(self, intent_id: str) -> list[OrderEvent]:
        return [o for o in self.exe.ledger.orders().values() if o.intent_id == intent_id]

    def close(self) -> None:
        self.risk.on_stop()
        self.exe.close()


@pytest.fixture
def pair(tmp_path: Path) -> Any:
    p = _Pair(tmp_path / "data")
    yield p
    p.close()


def test_an_intent_resent_after_it_became_an_order_is_audited_as_a_resend_not_a_denial(pair: _Pair) -> None:
    intent = pair.exe.intent(pair.inst, "BUY", 1)
    first = pair.send(intent)
    assert [type(m) for m in first] == [SubmitOrder]
    pair.deliver(first)
    [order] = pair.orders_of(intent.intent_id)

    again = pair.send(intent)  # the strategy missed the answer and sends it again
    assert [type(m) for m in again] == [IntentResent]
    assert not [m for _t, m in pair.ctx.published if isinstance(m, OrderDenied)], "a re-send is not a denial"
    published_before = len(pair.exe.ctx.published)
    pair.deliver(again)

    assert pair.audit("deny_intent") == []
    [row] = pair.audit("resend_intent")
    assert row.args["intent_id"] == intent.intent_id
    assert row.args["client_order_id"] == order.client_order_id
    assert pair.orders_of(intent.intent_id) == [pair.exe.ledger.order(order.client_order_id)], "still one order"
    # The sender gets its answer: the order's state, published again.
    republished = [m for _t, m in pair.exe.ctx.published[published_before:] if isinstance(m, OrderEvent)]
    assert [m.client_order_id for m in republished] == [order.client_order_id]


@pytest.mark.parametrize("restart_between", [False, True])
def test_an_intent_resent_again_and_again_is_one_audit_row_and_each_copy_is_answered(
        pair: _Pair, restart_between: bool) -> None:
    intent = pair.exe.intent(pair.inst, "BUY", 1)
    pair.deliver(pair.send(intent))
    pair.deliver(pair.send(intent))
    if restart_between:  # execution reads the re-sends it recorded back from the audit
        pair.exe.close()
        pair.exe = ExecHarness(pair.exe.data_dir)
    published_before = len(pair.exe.ctx.published)
    pair.deliver(pair.send(intent))
    pair.deliver(pair.send(intent))
    [order] = pair.orders_of(intent.intent_id)
    assert [row.args["client_order_id"] for row in pair.audit("resend_intent")] == [order.client_order_id]
    republished = [m for _t, m in pair.exe.ctx.published[published_before:] if isinstance(m, OrderEvent)]
    assert [m.client_order_id for m in republished] == [order.client_order_id] * 2


def test_a_resend_that_overtakes_the_approval_is_a_resend_and_the_approval_still_becomes_one_order(
        pair: _Pair) -> None:
    intent = pair.exe.intent(pair.inst, "BUY", 1)
    approval = pair.send(intent)  # on its way to execution (which is, say, restarting)
    again = pair.send(intent)
    pair.deliver(again)
    pair.deliver(approval)
    pair.deliver(approval)  # risk sends an unacknowledged approval again: no second order

    assert pair.audit("deny_intent") == []
    rows = pair.audit("resend_intent")
    assert [r.args["client_order_id"] for r in rows[:1]] == [""], "no order yet when the re-send came"
    [order] = pair.orders_of(intent.intent_id)
    assert [r.args["client_order_id"] for r in rows[1:]] == [order.client_order_id]


def test_a_genuine_denial_is_still_audited_as_one(pair: _Pair) -> None:
    intent = pair.exe.intent(pair.inst, "BUY", 1, order_type="LIMIT", price_paise=200_00)  # outside the band
    pair.deliver(pair.send(intent))
    pair.deliver(pair.send(intent))  # not approved before: checked again, denied again, recorded once
    assert [row.args["intent_id"] for row in pair.audit("deny_intent")] == [intent.intent_id]
    assert pair.audit("resend_intent") == []
    assert pair.orders_of(intent.intent_id) == []
