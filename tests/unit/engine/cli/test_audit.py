"""``shikra audit``: the ledger's audit rows read offline (read-only), filtered by time and user,
shown with IST times, as a table or one JSON object per row."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.cli.audit import SinceError, ist_text, parse_since
from engine.cli.common import EXIT_ERROR, EXIT_USAGE
from engine.ledger import AuditRecord, Ledger, LedgerConfig, ledger_dir
from engine.model.ist import IST, NS_PER_S

# 2025-01-31 09:15:30.250 IST = 03:45:30.250 UTC
T0_NS = int(dt.datetime(2025, 1, 31, 3, 45, 30, tzinfo=dt.timezone.utc).timestamp()) * NS_PER_S + 250_000_000
HOUR_NS = 3600 * NS_PER_S


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    with Ledger.open(ledger_dir(data), LedgerConfig(durability="os")) as ledger:
        ledger.append([
            AuditRecord(who="alice", action="PlaceOrder", args={"symbol": "RELIANCE", "qty": "1"}, result="OK",
                        ts_ns=T0_NS),
            AuditRecord(who="risk", action="deny_intent", args={"intent_id": "s1-7", "reason_code": "MAX_OPEN_ORDERS"},
                        result="50 open orders + 1 new > limit 50", ts_ns=T0_NS + HOUR_NS),
            AuditRecord(who="alice", action="SetRiskLimits", args={"changes_json": "{}"}, result="OK",
                        ts_ns=T0_NS + 2 * HOUR_NS),
        ])
    return data


@pytest.fixture
def shikra(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("SHIKRA_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["audit", "--data-dir", str(data_dir), *args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def test_every_row_oldest_first_with_ist_times(shikra) -> None:
    code, out, _ = shikra()
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["SEQ", "TIME", "(IST)", "WHO", "ACTION", "DETAILS", "RESULT"]
    assert "2025-01-31 09:15:30.250" in lines[1] and "alice" in lines[1] and "symbol=RELIANCE qty=1" in lines[1]
    assert "2025-01-31 10:15:30.250" in lines[2] and "deny_intent" in lines[2]
    assert "SetRiskLimits" in lines[3] and len(lines) == 4


def test_json_is_one_object_per_row_with_exact_ns_and_ist_time(shikra) -> None:
    code, out, _ = shikra("--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["action"] for r in rows] == ["PlaceOrder", "deny_intent", "SetRiskLimits"]
    assert rows[0] == {"seq": rows[0]["seq"], "ts_ns": T0_NS, "time_ist": "2025-01-31T09:15:30.250+05:30",
                       "who": "alice", "action": "PlaceOrder", "args": {"symbol": "RELIANCE", "qty": "1"},
                       "result": "OK"}
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)


def test_since_and_user_filter_the_rows(shikra) -> None:
    _, out, _ = shikra("--json", "--since", "2025-01-31 10:00", "--user", "alice")
    assert [json.loads(line)["action"] for line in out.splitlines()] == ["SetRiskLimits"]
    _, out, _ = shikra("--json", "--user", "risk")
    assert [json.loads(line)["who"] for line in out.splitlines()] == ["risk"]
    code, out, _ = shikra("--since", "2025-02-01")
    assert code == 0 and out.strip() == "no audit rows matching"


def test_a_bad_since_is_a_usage_error_and_a_missing_ledger_an_error(shikra, tmp_path: Path, capsys) -> None:
    code, _, err = shikra("--since", "yesterday-ish")
    assert code == EXIT_USAGE and "--since 'yesterday-ish'" in err
    assert main(["audit", "--data-dir", str(tmp_path / "empty")]) == EXIT_ERROR
    assert "no ledger at" in capsys.readouterr().err


def test_since_forms() -> None:
    now = T0_NS
    assert parse_since("2025-01-31", now) == int(dt.datetime(2025, 1, 31, tzinfo=IST).timestamp()) * NS_PER_S
    assert parse_since("2025-01-31T09:15:30", now) == T0_NS - 250_000_000
    assert parse_since("2025-01-31 03:45:30+00:00", now) == T0_NS - 250_000_000  # an explicit offset wins
    assert parse_since("09:00", now) == parse_since("2025-01-31 09:00", now)  # today, IST
    assert parse_since("30m", now) == now - 1800 * NS_PER_S
    assert parse_since("7d", now) == now - 7 * 86_400 * NS_PER_S
    with pytest.raises(SinceError):
        parse_since("09:00+01:00", now)  # a time of day with an offset is no IST time
    assert ist_text(T0_NS) == "2025-01-31 09:15:30.250"
