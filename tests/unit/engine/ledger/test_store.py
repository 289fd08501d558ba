"""The LMDB store: persistence, ids, refusals, map growth, exclusivity, rebuild/verify, readers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import lmdb
import msgspec
import pytest

from engine.ledger import (
    TRADING_ACCOUNT,
    AuditRecord,
    CashMovement,
    FoldIssueCode,
    Ledger,
    LedgerConfig,
    LedgerError,
    LedgerErrorCode,
    LedgerReader,
    StrategyStateSaved,
    TradingStateChanged,
)
from ipc.messages import Fill, OrderEvent, OrderSpec, OrderState
from tests.support.ledger import record_new

SEG, SID = 2, 55796
SMALL = LedgerConfig(initial_map_size_bytes=1024 * 1024)


def new_order(intent_id: str, side: str = "BUY", qty: int = 10, strategy: str = "s1") -> OrderEvent:
    spec = OrderSpec(segment=SEG, security_id=SID, side=side, order_type="LIMIT", qty_units=qty,  # type: ignore[arg-type]
                     price_paise=10_000)
    return OrderEvent(
        client_order_id="", intent_id=intent_id, strategy=strategy, spec=spec, state=OrderState.SUBMITTED, filled_qty_units=0, filled_value_paise=0,
        venue_order_id="", reason_code="", reason="", ts_event_ns=1_700_000_000_000_000_000, ts_init_ns=1,
    )


def fill(fill_id: str, coid: str, side: str, qty: int, price_paise: int, charges_paise: int = 0,
         strategy: str = "s1") -> Fill:
    return Fill(fill_id=fill_id, client_order_id=coid, venue_order_id="V", strategy=strategy, segment=SEG,
                security_id=SID, side=side, qty_units=qty, price_paise=price_paise, charges_paise=charges_paise,
                ts_event_ns=1_700_000_000_000_000_001, ts_init_ns=2)


def deposit(amount_paise: int) -> CashMovement:
    return CashMovement(kind="DEPOSIT", amount_paise=amount_paise, account=TRADING_ACCOUNT, note="seed", ts_ns=1)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, check=False)


def scripted_flow(ledger: Ledger) -> None:
    ledger.append([deposit(10_000_000)])
    buy = record_new(ledger, new_order("s1-1", "BUY", 10))
    ledger.append([fill("F1", buy.client_order_id, "BUY", 4, 10_000, 15)])
    ledger.append([fill("F2", buy.client_order_id, "BUY", 6, 10_150, 20),
                   msgspec.structs.replace(ledger.order(buy.client_order_id), state=OrderState.FILLED,
                                           filled_qty_units=10, filled_value_paise=100_900)])
    sell = record_new(ledger, new_order("s1-2", "SELL", 18))
    ledger.append([fill("F3", sell.client_order_id, "SELL", 3, 10_300, 12)])
    ledger.append([fill("F4", sell.client_order_id, "SELL", 15, 10_200, 30)])


def test_scripted_flow_is_stored_and_reads_back_identical_after_reopen(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger", SMALL) as ledger:
        scripted_flow(ledger)
        assert ledger.verify() == []
    with Ledger.open(tmp_path / "ledger", SMALL) as ledger:
        position = ledger.position("s1", SEG, SID)
        assert position is not None
        assert (position.net_qty_units, position.open_cost_paise) == (-8, -81_600)
        assert position.realised_pnl_paise == 630 + 770
        assert position.charges_paise == 77
        wallet = ledger.wallet()
        assert wallet is not None and wallet.cash_paise == 10_082_923
        assert ledger.last_seq() == 10
        assert ledger.verify() == []


def test_client_order_ids_are_short_and_unique_across_restarts(tmp_path: Path) -> None:
    ids = []
    with Ledger.open(tmp_path, SMALL) as ledger:
        ids += [record_new(ledger, new_order(f"s1-{n}")).client_order_id for n in range(3)]
    with Ledger.open(tmp_path, SMALL) as ledger:
        ids += [record_new(ledger, new_order(f"s1-{n}")).client_order_id for n in range(3, 5)]
        assert ledger.next_order_no() == 6
    assert len(set(ids)) == 5
    prefix = ids[0].split("-")[0]
    assert ids == [f"{prefix}-{n}" for n in range(1, 6)]
    assert all(re.fullmatch(r"SK[0-9A-Z]{4}-\d+", coid) and len(coid) <= 20 for coid in ids)


def test_resent_intent_returns_its_existing_order_and_writes_nothing(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        first = record_new(ledger, new_order("ema-7"))
        seq = ledger.last_seq()
        again = record_new(ledger, new_order("ema-7"))
        assert again.duplicate and again.client_order_id == first.client_order_id
        assert ledger.last_seq() == seq
        assert ledger.order(first.client_order_id).state is OrderState.SUBMITTED


def test_duplicate_fill_is_not_stored_and_is_counted(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.append([deposit(1_000_000), fill("F1", "SK-1", "BUY", 2, 5_000, 3)])
        result = ledger.append_report([fill("F1", "SK-1", "BUY", 2, 5_000, 3), deposit(1)])
        assert result.seqs == [0, 3]
        assert [(index, issue.code) for index, issue in result.issues] == [(0, FoldIssueCode.DUPLICATE_FILL)]
        assert ledger.stats().refused == {"DUPLICATE_FILL": 1}
        assert ledger.wallet().cash_paise == 1_000_000 - 10_003 + 1
        kinds = [type(event).__name__ for _seq, event in ledger.reader().events()]
        assert kinds == ["CashMovement", "Fill", "CashMovement"]


def test_all_or_nothing_batch_stores_nothing_when_one_event_is_refused(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        ledger.append([fill("F1", "SK-1", "BUY", 1, 100)])
        result = ledger.append_report([deposit(500), fill("F1", "SK-1", "BUY", 1, 100)], all_or_nothing=True)
        assert result.seqs == [0, 0]
        assert ledger.last_seq() == 1
        assert ledger.wallet().cash_paise == -100
        assert ledger.verify() == []


def test_map_grows_past_a_tiny_initial_map_without_error(tmp_path: Path) -> None:
    blob = os.urandom(64 * 1024)
    with Ledger.open(tmp_path, SMALL) as ledger:
        for n in range(80):
            ledger.append([StrategyStateSaved(strategy=f"s{n % 10}", state=blob, ts_ns=n),
                           fill(f"F{n}", "SK-1", "BUY", 1, 100 + n)])
        stats = ledger.stats()
        assert stats.map_grows >= 1
        assert stats.map_size_bytes > 4 * SMALL.initial_map_size_bytes
        assert ledger.verify() == []
    with LedgerReader.open(tmp_path) as reader:
        assert len(reader.fills()) == 80
        assert reader.strategy_state("s3").state == blob


def test_map_full_inside_a_transaction_grows_and_retries_the_whole_batch(tmp_path: Path) -> None:
    config = LedgerConfig(initial_map_size_bytes=256 * 1024, grow_at_percent=100)
    with Ledger.open(tmp_path, config) as ledger:
        ledger._ensure_room = lambda payload_bytes, puts: None  # only MapFullError can make room now
        # The fill is folded into memory before the blob overflows the map; a retry that did not
        # take that back would refuse the fill as a duplicate.
        result = ledger.append_report([fill("F1", "SK-1", "SELL", 3, 700),
                                       StrategyStateSaved(strategy="big", state=os.urandom(600 * 1024), ts_ns=1)])
        assert result.seqs == [1, 2] and result.issues == []
        assert ledger.stats().map_full_retries >= 1
        assert ledger.position("s1", SEG, SID).net_qty_units == -3
        assert ledger.verify() == []


def test_second_writer_in_another_process_fails_with_a_clear_error(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL):
        child = run_python(f"""
            from engine.ledger import Ledger, LedgerError
            try:
                Ledger.open({str(tmp_path)!r})
            except LedgerError as exc:
                print(exc.code.value, exc)
            else:
                print("OPENED")
        """)
    assert child.stdout.startswith("LOCKED "), child.stdout + child.stderr
    assert f"already open for writing by pid {os.getpid()}" in child.stdout


def test_second_writer_in_the_same_process_fails_and_the_first_keeps_working(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        with pytest.raises(LedgerError) as raised:
            Ledger.open(tmp_path, SMALL)
        assert raised.value.code is LedgerErrorCode.LOCKED
        assert ledger.append([deposit(1)]) == [1]
    with Ledger.open(tmp_path, SMALL) as reopened:  # the lock is released on close
        assert reopened.last_seq() == 1


def tamper_position(path: Path, net_qty_units: int) -> None:
    env = lmdb.open(str(path), max_dbs=16)
    positions = env.open_db(b"positions", create=False)
    with env.begin(write=True, db=positions) as txn:
        key, raw = next(iter(txn.cursor()))
        row = msgspec.msgpack.decode(raw, type=__import__("ipc.messages").messages.Position)
        txn.put(key, msgspec.msgpack.encode(msgspec.structs.replace(row, net_qty_units=net_qty_units)))
    env.close()


def test_verify_reports_a_stored_table_that_disagrees_with_the_events(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        scripted_flow(ledger)
    tamper_position(tmp_path, 999)
    with Ledger.open(tmp_path, SMALL) as ledger:
        problems = ledger.verify()
    assert any(p.startswith("stored positions: key ('s1', 2, 55796, 'INTRADAY')") and "net_qty_units=999" in p
               and "net_qty_units=-8" in p for p in problems), problems


def test_rebuild_derived_recomputes_every_table_from_the_events(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        scripted_flow(ledger)
        expected_cash = ledger.wallet().cash_paise
    tamper_position(tmp_path, 999)
    with Ledger.open(tmp_path, SMALL) as ledger:
        report = ledger.rebuild_derived()
        assert report.events == 10 and report.refused == []
        assert ledger.verify() == []
        assert ledger.position("s1", SEG, SID).net_qty_units == -8
        assert ledger.wallet().cash_paise == expected_cash
        assert ledger.next_order_no() == 3


def test_verify_on_open_refuses_a_ledger_whose_tables_disagree(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        scripted_flow(ledger)
    tamper_position(tmp_path, 1)
    with pytest.raises(LedgerError) as raised:
        Ledger.open(tmp_path, LedgerConfig(initial_map_size_bytes=1024 * 1024, verify_on_open=True))
    assert raised.value.code is LedgerErrorCode.CORRUPT
    assert "positions" in str(raised.value)


def test_snapshot_reads_every_table_at_one_commit(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        scripted_flow(ledger)
        ledger.append([
            AuditRecord(who="alice", action="kill.engage", args={"reason": "drill"}, result="ok", ts_ns=5),
            TradingStateChanged(state="HALTED", reason_code="OPERATOR", detail="drill", by="alice", ts_ns=5),
            StrategyStateSaved(strategy="s1", state=b"\x01\x02", ts_ns=6),
        ])
        with ledger.reader().snapshot() as snap:
            assert snap.last_seq() == 13
            orders = snap.orders()
            assert len(orders) == 2
            assert [o.spec.side for o in snap.open_orders().values()] == ["SELL"]
            assert len(snap.fills()) == 4 and snap.fill("F3").qty_units == 3
            assert snap.positions()[("s1", SEG, SID, "INTRADAY")].net_qty_units == -8
            assert snap.wallets()[TRADING_ACCOUNT].cash_paise == 10_082_923
            assert snap.strategy_state("s1").state == b"\x01\x02"
            assert snap.audit() == [(11, AuditRecord(who="alice", action="kill.engage", args={"reason": "drill"},
                                                     result="ok", ts_ns=5))]
            assert snap.trading_state().state == "HALTED"
            assert [seq for seq, _event in snap.events(from_seq=10, limit=3)] == [10, 11, 12]
            assert snap.client_order_id_for("s1-2") == ledger.client_order_id_for("s1-2")
            assert snap.next_order_no() == 3


def test_reader_in_another_process_reads_what_the_writer_committed(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        scripted_flow(ledger)
        child = run_python(f"""
            import json
            from engine.ledger import LedgerReader
            with LedgerReader.open({str(tmp_path)!r}) as reader:
                position = reader.positions()[("s1", 2, 55796, "INTRADAY")]
                print(json.dumps({{"cash": reader.wallets()["main"].cash_paise, "net": position.net_qty_units,
                                  "seq": reader.last_seq(), "verify": reader.verify()}}))
        """)
    assert json.loads(child.stdout) == {"cash": 10_082_923, "net": -8, "seq": 10, "verify": []}, child.stderr


def test_reader_of_a_missing_ledger_says_so(tmp_path: Path) -> None:
    with pytest.raises(LedgerError) as raised:
        LedgerReader.open(tmp_path / "nothing")
    assert raised.value.code is LedgerErrorCode.NOT_FOUND


def test_group_policy_fsyncs_only_when_due(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, LedgerConfig(initial_map_size_bytes=1 << 20, durability="group",
                                            group_fsync_ms=50)) as ledger:
        later = time.monotonic_ns() + 10**12  # far ahead of the clock the append itself reads
        assert ledger.sync_if_due(later) is False  # nothing unsynced yet
        ledger.append([deposit(1)])
        assert ledger.sync_deadline_ns() is not None
        assert ledger.sync_if_due(later) is True
        assert ledger.sync_deadline_ns() is None
        ledger.append([deposit(2)])
        assert ledger.sync_if_due(later + 49_000_000) is False
        assert ledger.sync_if_due(later + 50_000_000) is True
        assert ledger.stats().fsyncs == 2


def test_os_policy_never_fsyncs_before_close(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, LedgerConfig(initial_map_size_bytes=1 << 20, durability="os")) as ledger:
        for n in range(5):
            ledger.append([deposit(n + 1)])
        assert ledger.sync_if_due(time.monotonic_ns() + 10**12) is False
        assert ledger.stats().fsyncs == 0
    with LedgerReader.open(tmp_path) as reader:
        assert reader.last_seq() == 5


def test_config_refuses_unknown_fields_and_bad_values() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"durability": "group", "fsync": True}, LedgerConfig)
    with pytest.raises(msgspec.ValidationError, match="group_fsync_ms 0"):
        msgspec.convert({"group_fsync_ms": 0}, LedgerConfig)
    with pytest.raises(ValueError, match="grow_at_percent 5"):
        LedgerConfig(grow_at_percent=5)


def test_closed_ledger_refuses_writes(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path, SMALL)
    ledger.close()
    with pytest.raises(LedgerError) as raised:
        ledger.append([deposit(1)])
    assert raised.value.code is LedgerErrorCode.CLOSED


def test_growing_while_an_own_snapshot_is_open_is_refused_not_crashed(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, LedgerConfig(initial_map_size_bytes=256 * 1024)) as ledger:
        big = StrategyStateSaved(strategy="big", state=os.urandom(512 * 1024), ts_ns=1)
        with ledger.reader().snapshot():
            with pytest.raises(LedgerError) as raised:
                ledger.append([big])
        assert raised.value.code is LedgerErrorCode.BUSY
        assert ledger.append([big]) == [1]


def test_event_that_does_not_encode_is_refused_with_the_reason(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, SMALL) as ledger:
        bad = AuditRecord(who="bob", action="x", args={"when": object()}, result="", ts_ns=1)  # type: ignore[dict-item]
        result = ledger.append_report([bad, deposit(3)])
        assert result.seqs == [0, 1]
        [(index, issue)] = result.issues
        assert index == 0 and issue.code is FoldIssueCode.BAD_FIELD
        assert "AuditRecord does not encode as msgpack" in issue.detail


def test_a_reader_in_the_writers_process_shares_its_environment(tmp_path):
    """Co-located actors: LMDB forbids a second open of the environment in one process."""
    from engine.ledger import CashMovement, Ledger, LedgerReader
    ledger = Ledger.open(tmp_path / "l")
    try:
        ledger.append([CashMovement(kind="DEPOSIT", amount_paise=500, account="main", note="", ts_ns=1)])
        with LedgerReader.open(tmp_path / "l") as reader, reader.snapshot() as snap:
            assert snap.wallet().cash_paise == 500
        ledger.append([CashMovement(kind="DEPOSIT", amount_paise=5, account="main", note="", ts_ns=2)])
        assert ledger.wallet().cash_paise == 505  # the writer still works after the reader closed
    finally:
        ledger.close()


def test_a_reader_in_the_writers_process_follows_the_writer_closed_and_opened_again(tmp_path):
    """An actor restarted in-process (a rehearsal's kill of execution): the reader another actor
    opened reads through the new writer's environment, and says CLOSED while there is none."""
    from engine.ledger import CashMovement, Ledger, LedgerError, LedgerErrorCode, LedgerReader
    first = Ledger.open(tmp_path / "l")
    first.append([CashMovement(kind="DEPOSIT", amount_paise=500, account="main", note="", ts_ns=1)])
    reader = LedgerReader.open(tmp_path / "l")
    try:
        first.close()
        with pytest.raises(LedgerError) as err, reader.snapshot():
            pass
        assert err.value.code is LedgerErrorCode.CLOSED
        second = Ledger.open(tmp_path / "l")
        try:
            second.append([CashMovement(kind="DEPOSIT", amount_paise=5, account="main", note="", ts_ns=2)])
            with reader.snapshot() as snap:
                assert snap.wallet().cash_paise == 505
        finally:
            second.close()
    finally:
        reader.close()
