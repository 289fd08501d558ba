"""``shikra calendar``: edits of the data dir's overrides file, ``show``, and a damaged file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.cli.common import EXIT_CONFIG
from engine.model.calendar import overrides_path


@pytest.fixture
def shikra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``shikra ARGS`` against a config and data dir of this test: (exit code, stdout, stderr)."""
    config = tmp_path / "shikra.toml"
    config.write_text('[feed]\nsource = "dhan"\n'
                      '[[calendar.holidays]]\ndate = 2027-03-22\nexchange = "BSE"\nname = "Holi (config)"\n')
    monkeypatch.setenv("SHIKRA_CONFIG", str(config))
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args[:2], "--data-dir", str(data), *args[2:]] if args[0] == "calendar" else list(args))
        out, err = capsys.readouterr()
        return code, out, err

    run.data = data  # type: ignore[attr-defined]
    return run


def show(shikra, start: str, days: int = 1, *extra: str) -> list[dict]:
    code, out, _err = shikra("calendar", "show", "--from", start, "--days", str(days), "--json", *extra)
    assert code == 0
    return json.loads(out)["sessions"]


def test_add_holiday_closes_the_date_and_remove_opens_it_again(shikra):
    code, out, _ = shikra("calendar", "add-holiday", "2027-03-25", "--name", "Holi")
    assert code == 0 and "holiday 2027-03-25 Thu (Holi) for NSE, BSE, MCX" in out
    saved = json.loads(overrides_path(shikra.data).read_text())
    assert saved == {"holidays": [{"date": "2027-03-25", "name": "Holi"}]}
    rows = show(shikra, "2027-03-25")
    assert [(r["exchange"], r["open_ist"], r["source"], r["name"]) for r in rows] == [
        ("NSE", None, "override", "Holi"), ("BSE", None, "override", "Holi"), ("MCX", None, "override", "Holi")]
    code, out, _ = shikra("calendar", "remove", "2027-03-25", "--exchange", "MCX")
    assert code == 0 and "removed 1 holiday(s)" in out
    assert [r["source"] for r in show(shikra, "2027-03-25")] == ["override", "override", "fallback"]
    assert shikra("calendar", "remove", "2027-03-25")[0] == 0
    assert [r["open_ist"] for r in show(shikra, "2027-03-25")] == ["09:15:00", "09:15:00", "09:00:00"]


def test_add_session_opens_a_saturday_with_its_hours(shikra):
    code, out, _ = shikra("calendar", "add-session", "2027-02-06", "--open", "09:15", "--close", "15:30",
                          "--exchange", "NSE", "--name", "Union Budget")
    assert code == 0 and "session 2027-02-06 Sat 09:15-15:30 IST (Union Budget) for NSE" in out
    rows = show(shikra, "2027-02-06")
    assert rows == [{"date": "2027-02-06", "exchange": "NSE", "open_ist": "09:15:00", "close_ist": "15:30:00",
                     "source": "override", "name": "Union Budget"}]


def test_a_session_that_closes_before_it_opens_is_refused_and_nothing_changes(shikra):
    code, _out, err = shikra("calendar", "add-session", "2027-11-08", "--open", "19:00", "--close", "18:00")
    assert code == 1 and "close_ist 18:00:00 is not after open_ist 19:00:00" in err
    assert not overrides_path(shikra.data).exists()


def test_removing_what_is_not_there_says_so_and_points_at_the_config(shikra):
    code, _out, err = shikra("calendar", "remove", "2027-03-22")
    assert code == 1 and "has no holiday or session on 2027-03-22" in err and "config's [calendar] section" in err


def test_show_marks_library_fallback_and_config_override(shikra):
    rows = show(shikra, "2026-12-31", 83)  # through 2027-03-23
    by = {(r["date"], r["exchange"]): r for r in rows}
    assert by[("2026-12-31", "NSE")]["source"] == "library"
    assert by[("2027-01-01", "NSE")]["source"] == "fallback" and by[("2027-01-01", "NSE")]["open_ist"] == "09:15:00"
    assert by[("2027-01-26", "NSE")] == {"date": "2027-01-26", "exchange": "NSE", "open_ist": None,
                                         "close_ist": None, "source": "fallback", "name": "Republic Day"}
    assert by[("2027-03-22", "BSE")]["name"] == "Holi (config)" and by[("2027-03-22", "NSE")]["open_ist"]
    assert ("2027-01-02", "NSE") not in by  # a Saturday
    code, out, _ = shikra("calendar", "show", "--from", "2027-01-25", "--days", "2", "--exchange", "NSE")
    assert code == 0
    lines = out.splitlines()
    assert "XBOM calendar data until 2026-12-31" in lines[0] and "fallback is in use" in lines[1]
    assert lines[-2].split() == ["2027-01-25", "Mon", "NSE", "09:15", "15:30", "fallback"]
    assert lines[-1].split() == ["2027-01-26", "Tue", "NSE", "closed", "fallback", "Republic", "Day"]


def test_a_damaged_overrides_file_is_a_config_error_naming_file_entry_and_problem(shikra):
    path = overrides_path(shikra.data)
    path.parent.mkdir(parents=True)
    path.write_text('{"holidays": [{"date": "2027-03-22"}, {"date": "22/03/2027"}]}')
    for args in (("calendar", "show"), ("calendar", "add-holiday", "2027-03-23")):
        code, _out, err = shikra(*args)
        assert code == EXIT_CONFIG and f"{path}: holidays[1].date" in err
    assert "22/03/2027" in path.read_text()  # never rewritten over


def test_a_bad_date_on_the_command_line_is_a_usage_error(shikra):
    with pytest.raises(SystemExit) as exc:
        shikra("calendar", "add-holiday", "2027-02-30")
    assert exc.value.code == 2
