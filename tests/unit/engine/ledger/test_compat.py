"""A ledger written by an earlier version opens, reads and verifies with this one.

``tests/golden/ledger_schema2`` was written by the code of commit 6af32a5 (schema 2: orders and
groups with the order's fields listed flat, ``order@1`` / ``group@1`` / ``intent@1``); the script
that wrote it is beside it. Every test works on a copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import lmdb
import msgspec
import pytest

from engine.ledger import Ledger, LedgerConfig, LedgerReader
from engine.ledger.schema import SCHEMA_VERSION
from ipc.messages import GroupEvent, GroupState, OrderEvent, OrderSpec, OrderState

GOLDEN = Path(__file__).parents[3] / "golden" / "ledger_schema2"
SMALL = LedgerConfig(initial_map_size_bytes=1024 * 1024, durability="os")

# What the golden ledger holds, in today's shapes (see tests/golden/make_ledger_schema2.py).
FILLED = OrderSpec(segment=2, security_id=55796, side="BUY", order_type="LIMIT", qty_units=75, price_paise=10_000)
MODIFIED = OrderSpec(segment=2, security_id=55796, side="SELL", order_type="SL", qty_units=150, price_paise=9_850,
                     trigger_price_paise=9_900)
REJECTED = OrderSpec(segment=2, security_id=55796, side="BUY", order_type="MARKET", validity="IOC", product="MARGIN",
                     qty_units=75)


@pytest.fixture
def old(tmp_path: Path) -> Path:
    path = tmp_path / "ledger"
    shutil.copytree(GOLDEN, path)
    return path


def _by_intent(orders: dict[str, OrderEvent]) -> dict[str, OrderEvent]:
    return {o.intent_id: o for o in orders.values()}


def _raw_rows(path: Path, db: bytes) -> list[bytes]:
    env = lmdb.open(str(path), readonly=True, max_dbs=16, subdir=True, lock=False)
    try:
        with env.begin() as txn:
            return [bytes(v) for _k, v in txn.cursor(db=env.open_db(db, txn=txn)).iternext()]
    finally:
        env.close()


def _assert_golden_content(orders: dict[str, OrderEvent], groups: dict[str, GroupEvent]) -> None:
    by_intent = _by_intent(orders)
    assert by_intent["s1-r1-1"].spec == FILLED and by_intent["s1-r1-1"].state is OrderState.FILLED
    assert (by_intent["s1-r1-1"].filled_qty_units, by_intent["s1-r1-1"].filled_value_paise) == (75, 749_750)
    assert by_intent["s1-r1-2"].spec == MODIFIED and by_intent["s1-r1-2"].state is OrderState.ACCEPTED
    assert by_intent["s1-r1-2"].ts_sent_ns == 1_700_000_000_000_000_005
    assert by_intent["s1-r1-3"].spec == REJECTED and by_intent["s1-r1-3"].reason_code == "NO_MARKET_DATA"
    assert by_intent["manual-alice-r7"].state is OrderState.CANCELED
    working = groups["g-1"]
    assert working.state is GroupState.WORKING_BUYS and [leg.intent.spec.security_id for leg in working.legs] == [
        55796, 55797]
    assert working.legs[1].client_order_id == "X-9" and working.legs[0].intent.group_id == "g-1"
    assert groups["g-2"].legs[0].intent.spec.side == "SELL"


def test_a_reader_reads_the_old_ledger_in_todays_shapes_before_any_writer_opened_it(old: Path) -> None:
    with LedgerReader.open(old) as reader, reader.snapshot() as snap:
        _assert_golden_content(snap.orders(), snap.groups())
        assert [o.intent_id for o in snap.open_orders().values()] == ["s1-r1-2"]
        kinds = [type(event).__name__ for _seq, event in snap.events()]
        assert kinds.count("OrderEvent") == 14 and kinds.count("GroupEvent") == 2
        assert snap.verify() == []  # rows of the old shape mean the same as today's


def test_the_writer_migrates_the_old_ledger_once_and_it_verifies(old: Path) -> None:
    events_before = _raw_rows(old, b"events")
    with Ledger.open(old, LedgerConfig(initial_map_size_bytes=1024 * 1024, verify_on_open=True)) as ledger:
        assert ledger.verify() == []
        _assert_golden_content(dict(ledger.orders()), dict(ledger.groups()))
        assert [o.intent_id for o in ledger.open_orders().values()] == ["s1-r1-2"]
        assert list(ledger.open_groups()) == ["g-1"]
        position = ledger.position("s1", 2, 55796)
        assert position is not None and (position.net_qty_units, position.open_cost_paise) == (75, 749_750)
        assert ledger.wallet().cash_paise == 100_000_000 - 749_750 - 40
        assert ledger.trading_state().state == "REDUCING"
        assert ledger.next_order_no() == 5  # four orders were recorded: ids are never issued twice
    assert _raw_rows(old, b"events") == events_before  # the event log is never rewritten
    assert all(b"order@2" in row for row in _raw_rows(old, b"orders"))
    assert all(b"group@2" in row and b"intent@2" in row for row in _raw_rows(old, b"groups"))
    env = lmdb.open(str(old), readonly=True, max_dbs=16, subdir=True, lock=False)
    with env.begin() as txn:
        assert txn.get(b"schema", db=env.open_db(b"meta", txn=txn)) == SCHEMA_VERSION == b"5"
        # Schema 5: positions are keyed per product; what schema 4 and older kept is INTRADAY.
        keys = [msgspec.msgpack.decode(k) for k, _v in txn.cursor(db=env.open_db(b"positions", txn=txn)).iternext()]
        assert keys == [["s1", 2, 55796, "INTRADAY"]]
    env.close()


def test_a_migrated_ledger_takes_new_orders_and_reopens_clean(old: Path) -> None:
    with Ledger.open(old, SMALL) as ledger:
        coid = ledger.next_client_order_id()
        modified = _by_intent(dict(ledger.orders()))["s1-r1-2"]
        new = OrderEvent(client_order_id=coid, intent_id="s1-r2-1", strategy="s1", spec=FILLED,
                         state=OrderState.SUBMITTED, filled_qty_units=0, filled_value_paise=0, venue_order_id="",
                         reason_code="", reason="", ts_event_ns=1_700_000_001_000_000_000, ts_init_ns=1)
        recorded = ledger.record_new_order(new)
        assert recorded.issue is None and recorded.client_order_id == coid and coid.endswith("-5")
        ledger.append([OrderEvent(**{**{f: getattr(modified, f) for f in modified.__struct_fields__},
                                     "state": OrderState.CANCELED, "reason_code": "CANCEL_REQUESTED"})])
    with Ledger.open(old, LedgerConfig(initial_map_size_bytes=1024 * 1024, verify_on_open=True)) as ledger:
        assert ledger.verify() == []
        assert list(ledger.open_orders()) == [coid]
