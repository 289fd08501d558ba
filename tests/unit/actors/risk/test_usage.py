"""Risk tells the control API its live usage on ``risk.usage`` and its kept limit changes on
``risk.limits`` (never through a file): when they change, and again every USAGE_REPUBLISH_S of its
clock so a restarted reader learns them."""

from __future__ import annotations

import datetime as dt

import msgspec

from actors.risk.actor import USAGE_REPUBLISH_S
from engine.model.ist import NS_PER_S, ist_ns
from ipc import topics
from ipc.messages import RiskLimitsKept, RiskUsage, SetRiskLimits
from tests.unit.actors.execution.test_actor import actor_config
from tests.unit.actors.risk.test_calendar import ClockCtx, start_risk

MONDAY = dt.date(2027, 1, 4)


def usages(ctx: ClockCtx) -> list[RiskUsage]:
    return [m for t, m in ctx.published if t == topics.RISK_USAGE.encode() and isinstance(m, RiskUsage)]


def test_risk_publishes_its_usage_on_change_and_again_every_period_of_its_clock(tmp_path):
    start = ist_ns(MONDAY, dt.time(10, 0))
    risk, ctx = start_risk(tmp_path / "data", start, actor_config("always"))
    risk._on_clock()
    (first,) = usages(ctx)
    assert first.ts_ns == start and first.max_open_orders == risk.engine.limits.max_open_orders
    assert not (ctx.run_dir / "risk_usage.json").exists()

    ctx.now = start + NS_PER_S
    risk._on_clock()
    assert len(usages(ctx)) == 1  # nothing changed within the period: not sent again

    risk.engine.set_limits(msgspec.structs.replace(risk.engine.limits, max_open_orders=7))
    ctx.now = start + 2 * NS_PER_S
    risk._on_clock()
    assert [u.max_open_orders for u in usages(ctx)] == [first.max_open_orders, 7]  # a change: at once

    ctx.now = start + 2 * NS_PER_S + int(USAGE_REPUBLISH_S * NS_PER_S)
    risk._on_clock()
    again = usages(ctx)[-1]
    assert len(usages(ctx)) == 3 and again.ts_ns == ctx.now and again.max_open_orders == 7


def limits(ctx: ClockCtx) -> list[RiskLimitsKept]:
    return [m for t, m in ctx.published if t == topics.RISK_LIMITS.encode() and isinstance(m, RiskLimitsKept)]


def test_risk_publishes_its_kept_limit_changes_at_its_first_second_after_a_change_and_every_period(tmp_path):
    start = ist_ns(MONDAY, dt.time(10, 0))
    risk, ctx = start_risk(tmp_path / "data", start, actor_config("always"))
    risk._on_clock()
    assert limits(ctx) == [RiskLimitsKept("{}", "", 0)]
    risk.on_set_risk_limits(SetRiskLimits("c1", '{"max_open_orders": 7}', "control:root", start + 1))
    assert limits(ctx)[-1] == RiskLimitsKept('{"max_open_orders":7}', "control:root", start + 1)
    ctx.now = start + NS_PER_S
    risk._on_clock()
    assert len(limits(ctx)) == 2  # within the period: not again
    ctx.now = start + int(USAGE_REPUBLISH_S * NS_PER_S)
    risk._on_clock()
    assert len(limits(ctx)) == 3 and limits(ctx)[-1] == limits(ctx)[-2]
