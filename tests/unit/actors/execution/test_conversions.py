"""``shikra convert`` in execution: a position moves between products in the paper venue at once,
at Dhan through POST /positions/convert (the loopback fake, through the real dhanhq package) once
Dhan accepted it; refused with the reason when the position does not exist, the quantity exceeds
it, the products are the same, or Dhan says no. Recorded as one PositionConverted naming who asked."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import msgspec

from engine.ledger import PositionConverted
from ipc.messages import ConvertPosition, OrderState, Position, Reply
from tests.unit.actors.execution.test_actor import ExecHarness, data_dir  # noqa: F401 - fixture
from tests.unit.actors.execution.test_reconcile import RELIANCE, Live, fake, live  # noqa: F401 - fixtures

SENDER = "control"


def convert(h: Any, inst: tuple[int, int], qty: int, from_product: str = "INTRADAY", to_product: str = "CNC",
            strategy: str = "s1") -> str:
    cmd = ConvertPosition(cmd_id=uuid.uuid4().hex, strategy=strategy, segment=inst[0], security_id=inst[1],
                          from_product=from_product, to_product=to_product, qty_units=qty,  # type: ignore[arg-type]
                          by="control:alice", ts_ns=time.time_ns())
    h.ctx.sender = SENDER
    h.actor.on_convert_position(cmd)
    h.ctx.sender = ""
    return cmd.cmd_id


def reply(h: Any, cmd_id: str) -> Reply | None:
    found = [m for target, m in h.ctx.sent if target == SENDER and isinstance(m, Reply) and m.cmd_id == cmd_id]
    assert len(found) <= 1, found  # answered once
    return found[0] if found else None


def conversions(h: Any) -> list[PositionConverted]:
    with h.ledger.reader().snapshot() as snap:
        return [e for _seq, e in snap.events() if isinstance(e, PositionConverted)]


def paper_long(h: ExecHarness, qty: int, product: str = "INTRADAY") -> tuple[int, int]:
    inst = h.instrument("RELIANCE")
    h.depth(inst, [(150_000, 100)], [(150_100, 100)])
    intent = h.intent(inst, "BUY", qty)
    intent = msgspec.structs.replace(intent, spec=msgspec.structs.replace(intent.spec, product=product))
    assert h.submit(intent).state is OrderState.FILLED
    return inst.segment, inst.security_id


def test_paper_conversion_moves_the_units_records_who_asked_and_publishes_both_positions(data_dir: Path) -> None:
    h = ExecHarness(data_dir)
    try:
        inst = paper_long(h, 10)
        cmd_id = convert(h, inst, 4)
        answer = reply(h, cmd_id)
        assert answer is not None and answer.ok, answer
        intraday = h.ledger.position("s1", *inst, "INTRADAY")
        cnc = h.ledger.position("s1", *inst, "CNC")
        assert (intraday.net_qty_units, cnc.net_qty_units) == (6, 4)
        assert intraday.open_cost_paise + cnc.open_cost_paise == 10 * 150_100
        [record] = conversions(h)
        assert (record.by, record.qty_units, record.venue_ref) == ("control:alice", 4, "")
        published = {(p.product, p.net_qty_units) for p in h.published(Position)}
        assert {("INTRADAY", 6), ("CNC", 4)} <= published
        assert h.ledger.verify() == []
    finally:
        h.close()


def test_paper_conversion_is_refused_with_the_reason_and_changes_nothing(data_dir: Path) -> None:
    h = ExecHarness(data_dir)
    try:
        inst = paper_long(h, 10)
        cases = [
            (convert(h, inst, 11), "the INTRADAY position holds 10 units"),
            (convert(h, inst, 1, "CNC", "INTRADAY"), "no open CNC position"),
            (convert(h, inst, 1, "INTRADAY", "INTRADAY"), "the position is INTRADAY already"),
            (convert(h, inst, 1, strategy="other"), "no open INTRADAY position"),
            (convert(h, inst, 1, "INTRADAY", "MARGIN"), "NSE_EQ has no MARGIN position: equity converts between INTRADAY and CNC"),
        ]
        for cmd_id, why in cases:
            answer = reply(h, cmd_id)
            assert answer is not None and not answer.ok and answer.code == "BAD_CONVERSION", answer
            assert why in answer.detail, answer.detail
        assert conversions(h) == [] and h.ledger.position("s1", *inst, "INTRADAY").net_qty_units == 10
    finally:
        h.close()


def live_long(live: Live, qty: int) -> None:
    intent = live.intent(RELIANCE, "BUY", qty, 150000)
    live.submit(intent)
    live.until(lambda: (o := live.order_of(intent)) is not None and o.state is OrderState.ACCEPTED, "accepted")
    live.fake.trade(live.order_of(intent).venue_order_id, qty, 150000)  # type: ignore[union-attr]
    live.until(lambda: live.order_of(intent).filled_qty_units == qty, "filled")  # type: ignore[union-attr]


def test_live_conversion_goes_to_dhan_with_its_body_and_is_recorded_once_dhan_accepted(live: Live) -> None:
    live_long(live, 10)
    cmd_id = convert(live, RELIANCE, 4)
    assert reply(live, cmd_id) is None and conversions(live) == []  # not before Dhan answered
    live.until(lambda: reply(live, cmd_id) is not None, "Dhan's answer")
    assert reply(live, cmd_id).ok  # type: ignore[union-attr]
    [body] = live.fake.convert_requests()
    assert {k: v for k, v in body.items() if k != "dhanClientId"} == {
        "fromProductType": "INTRADAY", "exchangeSegment": "NSE_EQ", "positionType": "LONG",
        "securityId": str(RELIANCE[1]), "convertQty": 4, "toProductType": "CNC"}
    assert [r.venue_ref for r in conversions(live)] == ["dhan"]
    assert (live.ledger.position("s1", *RELIANCE, "INTRADAY").net_qty_units,
            live.ledger.position("s1", *RELIANCE, "CNC").net_qty_units) == (6, 4)
    # Dhan's positions, per product, agree with the ledger's after the conversion.
    live.reconcile()
    assert live.actor._mismatch == ()


def test_live_conversion_dhan_refuses_is_answered_with_dhans_reason_and_not_recorded(live: Live) -> None:
    live_long(live, 10)
    live.fake.reject_next("DH-905", "Conversion not allowed for this instrument")
    cmd_id = convert(live, RELIANCE, 4)
    live.until(lambda: reply(live, cmd_id) is not None, "Dhan's answer")
    answer = reply(live, cmd_id)
    assert answer is not None and not answer.ok and "Conversion not allowed" in answer.detail
    assert conversions(live) == [] and live.ledger.position("s1", *RELIANCE, "INTRADAY").net_qty_units == 10


def test_live_conversion_the_ledger_refuses_never_reaches_dhan(live: Live) -> None:
    live_long(live, 10)
    answer = reply(live, convert(live, RELIANCE, 12))
    assert answer is not None and answer.code == "BAD_CONVERSION" and live.fake.convert_requests() == []
