"""The ledger checked read-only before anything opens it (engine.ledger.check), and every event's
checksum verified where it is read. Real LMDB files in tmp dirs; the original bytes never change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.ledger import Ledger, LedgerConfig, LedgerError, LedgerErrorCode, LedgerReader
from engine.ledger.check import check_in_subprocess, check_ledger
from engine.ledger.schema import EVENT_FRAME_TAG, event_body, frame_event
from tests.support.ledger_damage import (
    flip_event_byte,
    forge_wallet,
    sha256,
    truncate_to_half,
    write_ledger,
    xor_middle,
)

GOLDEN = Path(__file__).parents[3] / "golden" / "ledger_schema2"


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("whole") / "ledger"
    write_ledger(path)
    return path


@pytest.fixture
def copy(whole: Path, tmp_path: Path) -> Path:
    path = tmp_path / "ledger"
    shutil.copytree(whole, path)
    return path


def test_a_whole_ledger_checks_ok_without_a_byte_or_a_file_changing(copy: Path) -> None:
    before = sha256(copy / "data.mdb")
    (copy / "lock.mdb").unlink()
    for full in (False, True):
        report = check_ledger(copy, full=full)
        assert (report.outcome, report.problems, report.events) == ("ok", [], 1 + 400 * 4)
    assert sha256(copy / "data.mdb") == before
    assert not (copy / "lock.mdb").exists()  # lock=False: LMDB did not even create its lock file


def test_a_missing_ledger_is_not_damage(tmp_path: Path) -> None:
    assert check_ledger(tmp_path / "nothing", full=True).outcome == "missing"


def test_a_truncated_ledger_is_damaged_and_left_as_it_was(copy: Path) -> None:
    truncate_to_half(copy)
    before = sha256(copy / "data.mdb")
    report = check_in_subprocess(copy, full=True)
    assert report.damaged and report.problems[0].startswith("truncated: the file holds")
    assert str(copy / "data.mdb") in report.message() and "restore a backup" in report.message()
    assert not report.rebuildable
    assert sha256(copy / "data.mdb") == before


def test_64_kib_flipped_in_the_middle_is_damaged_and_left_as_it_was(copy: Path) -> None:
    xor_middle(copy)
    before = sha256(copy / "data.mdb")
    for full in (False, True):
        report = check_in_subprocess(copy, full=full)
        assert report.damaged, report
    assert sha256(copy / "data.mdb") == before


def test_a_forged_wallet_is_found_by_the_full_check_and_can_be_rebuilt(copy: Path) -> None:
    forged = forge_wallet(copy)
    before = sha256(copy / "data.mdb")
    assert check_ledger(copy, full=False).outcome == "ok"  # the row decodes: only a replay tells
    report = check_in_subprocess(copy, full=True)
    assert report.damaged and report.rebuildable and "shikra ledger rebuild" in report.what_to_do()
    assert any(p.startswith("stored wallets:") and str(forged) in p for p in report.problems), report.problems
    assert sha256(copy / "data.mdb") == before
    with pytest.raises(LedgerError, match="differences") as refused:
        Ledger.open(copy, LedgerConfig(verify_on_open=True))
    assert refused.value.permanent


def test_an_event_failing_its_checksum_is_a_clear_ledger_error_naming_its_seq(copy: Path) -> None:
    flip_event_byte(copy, 7)
    with LedgerReader.open(copy) as reader:
        with pytest.raises(LedgerError, match="event seq 7 fails its checksum") as raised:
            reader.events()
        assert raised.value.code is LedgerErrorCode.CORRUPT and raised.value.permanent
        assert [seq for seq, _event in reader.events(limit=6)] == [1, 2, 3, 4, 5, 6]
    report = check_ledger(copy, full=False)
    assert report.damaged and report.problems == [report.problems[0]] and "event seq 7" in report.problems[0]
    assert check_ledger(copy, full=True).damaged
    with Ledger.open(copy, LedgerConfig()) as ledger:
        with pytest.raises(LedgerError, match="event seq 7 fails its checksum"):
            ledger.rebuild_derived()  # never folds what the disk damaged


def test_events_carry_a_crc_and_events_of_earlier_schemas_read_without_one(tmp_path: Path) -> None:
    body = b"\x93\x01\x02\x03"
    framed = frame_event(body)
    assert framed[0] == EVENT_FRAME_TAG and event_body(1, framed) == body
    assert event_body(1, body) == body  # a bare msgpack record of schema 3 or earlier
    old = tmp_path / "old"
    shutil.copytree(GOLDEN, old)
    assert check_ledger(old, full=True).outcome == "ok"


def test_lmdb_damage_reaches_callers_as_a_ledger_error_not_an_lmdb_one(copy: Path) -> None:
    xor_middle(copy)
    with pytest.raises(LedgerError) as raised:
        with LedgerReader.open(copy) as reader:
            reader.verify()
            reader.orders()
            list(reader.iter_events())
    assert raised.value.permanent and str(copy) in str(raised.value)



_READ_OLD_ORDER_AFTER_DAMAGE = """
import sys
from pathlib import Path
from engine.ledger import Ledger, LedgerConfig, LedgerError

path = Path(sys.argv[1])
with Ledger.open(path, LedgerConfig(verify_on_open=False)) as ledger:
    first = ledger.format_client_order_id(1)  # closed long ago: not kept in memory, read on demand
    data = path / "data.mdb"
    size = data.stat().st_size
    with open(data, "r+b") as f:  # every page after the two meta pages turns to noise
        f.seek(2 * 4096)
        f.write(bytes((i * 151 + 7) % 256 for i in range(size - 2 * 4096)))
    try:
        ledger.order(first)
        print("read")
    except LedgerError as exc:
        print("ledger-error", exc.code.value, exc)
"""


def test_damage_met_by_an_on_demand_read_is_the_ledgers_error_not_lmdbs(copy: Path) -> None:
    import subprocess
    import sys

    # In a child: reading a damaged page may also crash the process, which the parent would see.
    out = subprocess.run([sys.executable, "-c", _READ_OLD_ORDER_AFTER_DAMAGE, str(copy)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ledger-error CORRUPT") and str(copy) in out.stdout, out.stdout + out.stderr[-2000:]
