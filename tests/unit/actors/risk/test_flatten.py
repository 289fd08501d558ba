"""A flatten (daily-loss halt, square-off) also watches orders still in flight: an order approved
before the halt that fills after it is closed too (it used to be missed when the position was flat
at the moment of the halt: the daily-loss daemon test's intermittent 'position not flattened')."""

from __future__ import annotations

import time
from pathlib import Path

from actors.risk.actor import RiskActor
from ipc.messages import Fill, OrderEvent, SquareOffAll, SubmitOrder, Tick
from tests.unit.actors.execution.test_actor import ExecHarness, FakeCtx, actor_config


def _risk(tmp_path: Path) -> tuple[ExecHarness, FakeCtx, RiskActor]:
    h = ExecHarness(tmp_path / "data")  # owns the ledger risk reads
    ctx = FakeCtx(actor_config(), tmp_path / "data")
    ctx.name = "risk"
    risk = RiskActor(ctx)
    risk.on_start()
    return h, ctx, risk


def _submitted(ctx: FakeCtx) -> list[SubmitOrder]:
    return [m for _t, m in ctx.sent if isinstance(m, SubmitOrder)]


def test_square_off_closes_a_position_opened_by_an_order_in_flight_when_it_began(tmp_path: Path) -> None:
    h, ctx, risk = _risk(tmp_path)
    try:
        inst = h.instrument("RELIANCE")
        now = time.time_ns()
        risk.on_tick(Tick(inst.segment, inst.security_id, 100_00, now, now))
        h.depth(inst, bids=[(99_00, 100)], asks=[(101_00, 100)])
        risk.on_order_intent(h.intent(inst, "BUY", 5))
        (entry,) = _submitted(ctx)
        # The square-off arrives while the BUY is still on its way to execution: flat so far.
        risk.on_square_off_all(SquareOffAll("sq-1", "test", time.time_ns()))
        assert len(_submitted(ctx)) == 1, "nothing to close yet: the entry has not filled"
        # Execution works the entry; its fill and order events reach risk after the square-off.
        h.actor.on_submit_order(entry)
        for _topic, msg in h.ctx.published:
            if isinstance(msg, OrderEvent):
                risk.on_order_event(msg)
            elif isinstance(msg, Fill):
                risk.on_fill(msg)
        exits = _submitted(ctx)[1:]
        assert [(e.intent.side, e.intent.qty_units, e.intent.reduce_only) for e in exits] == [("SELL", 5, True)]
    finally:
        risk.on_stop()
        h.close()
