"""``shikra ledger verify | backup | rebuild`` on real ledgers, the daemon stopped (the running
daemon's cases are in tests/daemon/test_ledger_damage.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.cli.common import EXIT_ERROR, EXIT_LEDGER_DAMAGED, EXIT_OK
from engine.ledger import LedgerReader, ledger_dir
from engine.ledger.check import check_ledger
from tests.support.ledger_damage import forge_wallet, sha256, truncate_to_half, write_ledger


@pytest.fixture
def shikra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``shikra ledger ACTION ARGS`` on this test's data dir: (exit code, stdout, stderr)."""
    config = tmp_path / "shikra.toml"
    config.write_text("")
    monkeypatch.setenv("SHIKRA_CONFIG", str(config))
    data = tmp_path / "data"

    def run(action: str, *args: str) -> tuple[int, str, str]:
        code = main(["ledger", action, "--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    run.ledger = ledger_dir(data)  # type: ignore[attr-defined]
    return run


def test_verify_reports_a_whole_ledger_and_a_missing_one(shikra) -> None:
    assert shikra("verify")[0] == EXIT_ERROR  # no ledger yet
    write_ledger(shikra.ledger, orders=20)
    code, out, _err = shikra("verify", "--json")
    assert code == EXIT_OK and json.loads(out)["outcome"] == "ok" and json.loads(out)["events"] == 81


def test_verify_names_a_truncated_ledger_and_exits_65_changing_nothing(shikra) -> None:
    write_ledger(shikra.ledger, orders=200)
    truncate_to_half(shikra.ledger)
    before = sha256(shikra.ledger / "data.mdb")
    code, out, _err = shikra("verify")
    assert code == EXIT_LEDGER_DAMAGED and "truncated" in out and "restore a backup" in out
    assert sha256(shikra.ledger / "data.mdb") == before
    code, _out, err = shikra("rebuild")  # a rebuild cannot bring back lost pages
    assert code == EXIT_LEDGER_DAMAGED and "cannot repair" in err
    assert sha256(shikra.ledger / "data.mdb") == before


def test_rebuild_recomputes_a_forged_wallet_from_the_events(shikra) -> None:
    write_ledger(shikra.ledger, orders=20)
    with LedgerReader.open(shikra.ledger) as reader:
        cash = reader.wallet().cash_paise
    forge_wallet(shikra.ledger)
    code, out, _err = shikra("verify")
    assert code == EXIT_LEDGER_DAMAGED and "stored wallets" in out and "shikra ledger rebuild" in out
    code, out, _err = shikra("rebuild")
    assert code == EXIT_OK and "from 81 events" in out
    assert shikra("verify")[0] == EXIT_OK
    with LedgerReader.open(shikra.ledger) as reader:
        assert reader.wallet().cash_paise == cash


def test_backup_writes_a_compacted_copy_that_opens_and_verifies(shikra, tmp_path: Path) -> None:
    write_ledger(shikra.ledger, orders=50)
    target = tmp_path / "backup.mdb"
    code, out, _err = shikra("backup", str(target))
    assert code == EXIT_OK and "verified" in out
    restored = tmp_path / "restored"
    restored.mkdir()
    target.rename(restored / "data.mdb")
    report = check_ledger(restored, full=True)
    assert report.outcome == "ok" and report.events == 201
    assert shikra("backup", str(restored / "data.mdb"))[0] == EXIT_ERROR  # never overwrites a file
