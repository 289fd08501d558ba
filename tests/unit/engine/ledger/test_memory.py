"""The writer keeps only open orders (and the small tables) in memory; everything else is read
from LMDB on demand, and the rules that need the whole history still see all of it."""

from __future__ import annotations

import threading
import tracemalloc
from pathlib import Path

import lmdb
import msgspec
import pytest

import engine.ledger
from engine.ledger import (
    FoldIssueCode,
    IntentRecorded,
    Ledger,
    LedgerConfig,
    LedgerError,
    LedgerErrorCode,
    LedgerReader,
)
from engine.ledger.export import export_trades
from engine.ledger.fold import is_open_order
from engine.ledger.stored import MapGuard, Reads, StoredTable
from ipc.messages import OrderEvent, OrderState
from tests.support.ledger import record_new
from tests.unit.engine.ledger.test_store import SMALL, deposit, fill, new_order

ROUND_TRIPS = 300
LEDGER_SOURCE = Path(engine.ledger.__file__).parent  # not this test's own tests/unit/engine/ledger/


def trade_round_trips(ledger: Ledger, count: int, start: int = 0) -> list[str]:
    """``count`` orders, each filled in full and closed; returns their client order ids."""
    coids = []
    for n in range(start, start + count):
        side = "BUY" if n % 2 == 0 else "SELL"
        recorded = record_new(ledger, new_order(f"s1-{n}", side, 10))
        coid = recorded.client_order_id
        order = ledger.order(coid)
        assert order is not None
        ledger.append([fill(f"F{n}", coid, side, 10, 10_000 + n, 5),
                       msgspec.structs.replace(order, state=OrderState.FILLED, filled_qty_units=10,
                                               filled_value_paise=10 * (10_000 + n))])
        coids.append(coid)
    return coids


def open_one(ledger: Ledger, intent_id: str) -> str:
    return record_new(ledger, new_order(intent_id, "BUY", 5)).client_order_id


def test_closed_orders_are_still_read_back_but_only_open_ones_are_listed_open(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.append([deposit(10**9)])
        closed = trade_round_trips(ledger, ROUND_TRIPS)
        still_open = open_one(ledger, "s1-open")
        assert list(ledger.open_orders()) == [still_open]
        assert ledger.order(closed[0]).state is OrderState.FILLED
        assert ledger.order(closed[-1]).filled_value_paise == 10 * (10_000 + ROUND_TRIPS - 1)
        assert ledger.order("SK0000-0") is None and ledger.order("") is None
        assert ledger.fill("F0") is not None and ledger.fill("F-none") is None
        assert ledger.client_order_id_for("s1-7") == closed[7]
        assert len(ledger.orders()) == ROUND_TRIPS + 1
        assert {f.fill_id for f in ledger.fills().values()} == {f"F{n}" for n in range(ROUND_TRIPS)}
        assert ledger.verify() == []


def test_reopening_reads_the_open_orders_and_never_the_closed_rows(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.append([deposit(10**9)])
        closed = trade_round_trips(ledger, 20)
        still_open = open_one(ledger, "s1-open")
    # Spoil one closed order's stored row: a ledger that read every row at open would refuse to open.
    env = lmdb.open(str(tmp_path), max_dbs=16, subdir=True)
    with env.begin(write=True) as txn:
        txn.put(closed[3].encode(), b"\xc1 not msgpack", db=env.open_db(b"orders", txn=txn))
    env.close()
    with Ledger.open(tmp_path, SMALL) as ledger:
        assert list(ledger.open_orders()) == [still_open]
        assert ledger.order(closed[4]).state is OrderState.FILLED
        with pytest.raises(LedgerError) as raised:
            ledger.order(closed[3])
        assert raised.value.code is LedgerErrorCode.CORRUPT
        assert any(closed[3] in problem for problem in ledger.verify())
        ledger.rebuild_derived()
        assert ledger.order(closed[3]).state is OrderState.FILLED
        assert ledger.verify() == []


def test_memory_of_the_writer_does_not_grow_with_closed_orders(tmp_path: Path) -> None:
    # A map that does not grow while measured: a growth allocates ~1 MB once, which is not per order.
    with Ledger.open(tmp_path, LedgerConfig(initial_map_size_bytes=64 * 1024 * 1024)) as ledger:
        ledger.append([deposit(10**9)])
        trade_round_trips(ledger, 50)  # warm up: the tables and the map exist
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            trade_round_trips(ledger, 1000, start=50)
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        grown = sum(stat.size_diff for stat in after.compare_to(before, "filename")
                    if Path(stat.traceback[0].filename).is_relative_to(LEDGER_SOURCE))
        # Allocated by the ledger itself and still held (the test allocates the events it writes).
        assert grown < 64 * 1024, grown  # the previous writer: ~235 KB here
        assert ledger.open_orders() == {}


def test_a_fill_applied_long_ago_is_still_refused_after_a_restart(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.append([deposit(10**9)])
        coids = trade_round_trips(ledger, 50)
    with Ledger.open(tmp_path, SMALL) as ledger:
        cash = ledger.wallet().cash_paise
        result = ledger.append_report([fill("F3", coids[3], "SELL", 10, 10_003, 5)])
        assert [issue.code for _index, issue in result.issues] == [FoldIssueCode.DUPLICATE_FILL]
        assert "already applied" in result.issues[0][1].detail
        assert ledger.wallet().cash_paise == cash


def test_an_intent_recorded_long_ago_is_still_recognised_after_a_restart(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.append([deposit(10**9)])
        coids = trade_round_trips(ledger, 50)
    with Ledger.open(tmp_path, SMALL) as ledger:
        seq = ledger.last_seq()
        again = record_new(ledger, new_order("s1-5"))
        assert again.duplicate and again.client_order_id == coids[5]
        assert ledger.stats().refused == {}  # a re-sent intent is answered, not refused
        recorded = IntentRecorded(intent_id="s1-5", client_order_id="SKXXXX-999", order_no=999, strategy="s1",
                                  ts_ns=1)
        result = ledger.append_report([recorded])
        assert [issue.code for _index, issue in result.issues] == [FoldIssueCode.DUPLICATE_INTENT]
        reused = IntentRecorded(intent_id="s1-new", client_order_id=coids[0], order_no=ledger.next_order_no(),
                                strategy="s1", ts_ns=1)
        result = ledger.append_report([reused])
        assert [issue.code for _index, issue in result.issues] == [FoldIssueCode.CLIENT_ORDER_ID_REUSED]
        assert ledger.last_seq() == seq


def test_a_batch_sees_its_own_writes_and_a_refused_batch_leaves_no_open_order(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.append([deposit(10**9)])
        coid = open_one(ledger, "s1-a")
        result = ledger.append_report([fill("FX", coid, "BUY", 2, 100), fill("FX", coid, "BUY", 2, 100)])
        assert [issue.code for _index, issue in result.issues] == [FoldIssueCode.DUPLICATE_FILL]
        order = ledger.order(coid)
        second = msgspec.structs.replace(order, client_order_id="SK-OTHER", intent_id="s1-b")
        refused = ledger.append_report([second, fill("FX", coid, "BUY", 1, 100)], all_or_nothing=True)
        assert refused.seqs == [0, 0]
        assert list(ledger.open_orders()) == [coid]
        assert ledger.order("SK-OTHER") is None
        assert ledger.verify() == []
    with Ledger.open(tmp_path, SMALL) as ledger:
        assert list(ledger.open_orders()) == [coid]


def test_readers_and_the_csv_export_read_every_row_from_disk(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.append([deposit(10**9)])
        closed = trade_round_trips(ledger, 30)
        still_open = open_one(ledger, "s1-open")
    with LedgerReader.open(tmp_path) as reader:
        assert list(reader.open_orders()) == [still_open]
        assert set(reader.orders()) == {*closed, still_open}
        assert reader.verify() == []
        rows = export_trades(reader, tmp_path / "trades.csv")
    assert rows == 30
    assert (tmp_path / "trades.csv").read_text().count("\n") == 31


def test_an_open_order_index_that_disagrees_is_reported_by_verify(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.append([deposit(10**9)])
        closed = trade_round_trips(ledger, 3)
        still_open = open_one(ledger, "s1-open")
    env = lmdb.open(str(tmp_path), max_dbs=16, subdir=True)
    with env.begin(write=True) as txn:
        index = env.open_db(b"open_orders", txn=txn)
        txn.delete(still_open.encode(), db=index)
        txn.put(closed[0].encode(), b"", db=index)
    env.close()
    with LedgerReader.open(tmp_path) as reader:
        problems = reader.verify()
    assert any("open_orders" in p and still_open in p and "missing" in p for p in problems), problems
    assert any("open_orders" in p and closed[0] in p and "should not be there" in p for p in problems), problems
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.rebuild_derived()
        assert list(ledger.open_orders()) == [still_open]
        assert ledger.verify() == []


def test_a_ledger_of_the_previous_schema_gets_its_open_order_index_at_open(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.append([deposit(10**9)])
        trade_round_trips(ledger, 5)
        still_open = open_one(ledger, "s1-open")
    env = lmdb.open(str(tmp_path), max_dbs=16, subdir=True)
    with env.begin(write=True) as txn:  # what schema 1 left: no index at all
        txn.drop(env.open_db(b"open_orders", txn=txn), delete=True)
        txn.drop(env.open_db(b"open_groups", txn=txn), delete=True)
        txn.put(b"schema", b"1", db=env.open_db(b"meta", txn=txn))
    env.close()
    with LedgerReader.open(tmp_path) as reader:  # a reader of the old layout still finds open orders
        assert list(reader.open_orders()) == [still_open]
    with Ledger.open(tmp_path, SMALL) as ledger:
        assert list(ledger.open_orders()) == [still_open]
        assert ledger.verify() == []


def test_the_writer_releases_its_map_but_never_under_an_open_snapshot(tmp_path: Path) -> None:
    config = LedgerConfig(initial_map_size_bytes=16 * 1024 * 1024, map_release_bytes=512)  # no growth here
    with Ledger.open(tmp_path, config) as ledger:
        ledger.append([deposit(10**9)])
        with ledger.reader().snapshot() as snap:
            trade_round_trips(ledger, 10)
            assert ledger.stats().map_releases == 0
            assert snap.wallet().cash_paise == 10**9  # the snapshot's view, still readable
        trade_round_trips(ledger, 10, start=10)
        assert ledger.stats().map_releases > 0
        assert ledger.order(ledger.client_order_id_for("s1-3")).state is OrderState.FILLED
        assert ledger.verify() == []


def test_an_open_order_event_keeps_the_order_open_until_a_terminal_one(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        coid = open_one(ledger, "s1-a")
        order: OrderEvent = ledger.order(coid)
        ledger.append([msgspec.structs.replace(order, state=OrderState.ACCEPTED, venue_order_id="V1")])
        assert [o.state for o in ledger.open_orders().values()] == [OrderState.ACCEPTED]
        ledger.append([msgspec.structs.replace(order, state=OrderState.CANCELED, venue_order_id="V1")])
        assert ledger.open_orders() == {}
        assert ledger.order(coid).state is OrderState.CANCELED
    with Ledger.open(tmp_path, SMALL) as ledger:
        assert ledger.open_orders() == {}
        assert ledger.order(coid).state is OrderState.CANCELED


def test_streamed_events_are_the_listed_events(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.append([deposit(10**9)])
        trade_round_trips(ledger, 5)
    with LedgerReader.open(tmp_path) as reader:
        assert list(reader.iter_events()) == reader.events()
        assert list(reader.iter_events(from_seq=4)) == reader.events(from_seq=4)


def test_a_remap_waits_for_another_threads_snapshot_and_refuses_under_its_own() -> None:
    guard = MapGuard()
    guard.enter()
    assert not guard.acquire(wait_s=60)  # this thread's own snapshot: waiting would never end
    guard.leave()
    opened, close, results = threading.Event(), threading.Event(), []

    def reader() -> None:
        guard.enter()
        opened.set()
        close.wait()
        guard.leave()

    other = threading.Thread(target=reader)
    other.start()
    opened.wait()
    assert not guard.acquire(wait_s=0)  # a release of the map never waits
    waiter = threading.Thread(target=lambda: results.append(guard.acquire(wait_s=60)))
    waiter.start()
    close.set()  # the other thread's snapshot ends: the growth goes ahead
    waiter.join()
    other.join()
    assert results == [True]
    guard.release()
    guard.enter()  # snapshots start again once the remap is done
    guard.leave()


def test_open_orders_in_memory_come_back_when_a_commit_fails_after_they_were_settled(tmp_path: Path) -> None:
    env = lmdb.open(str(tmp_path), max_dbs=4, map_size=1 << 20)
    orders_db, index_db = env.open_db(b"orders"), env.open_db(b"open_orders")
    reads = Reads(env)
    decoder = msgspec.msgpack.Decoder(OrderEvent)
    table = StoredTable("orders", reads, orders_db, str.encode, lambda raw: bytes(raw).decode(), decoder.decode,
                        is_open_order)
    submitted = msgspec.structs.replace(new_order("s1-1"), client_order_id="SK-1")
    with env.begin(write=True) as txn:
        txn.put(b"SK-1", msgspec.msgpack.encode(submitted), db=orders_db)
        table["SK-1"] = submitted
        table.settle(txn, index_db)
    assert list(table.kept) == ["SK-1"]
    filled = msgspec.structs.replace(submitted, state=OrderState.FILLED)
    txn = env.begin(write=True)
    txn.put(b"SK-1", msgspec.msgpack.encode(filled), db=orders_db)
    table["SK-1"] = filled
    table.settle(txn, index_db)
    assert table.kept == {}
    txn.abort()  # the commit did not happen
    table.discard()
    table.unsettle()
    assert table.kept == {"SK-1": submitted}
    assert table.get("SK-1") == submitted
    with env.begin() as check:
        assert check.get(b"SK-1", db=index_db) == b""
    env.close()
