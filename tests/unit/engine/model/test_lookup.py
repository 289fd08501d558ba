"""The master prepared once in a child process (``python -m engine.model.lookup``), then opened by
every actor from its cache."""

from __future__ import annotations

import datetime as dt

from engine.model.lookup import main, master_path, open_instruments

DAY = dt.date(2026, 11, 23)


def test_prepared_sample_master_is_opened_from_its_cache(tmp_path):
    assert main(["--master", "sample", "--data-dir", str(tmp_path), "--day", DAY.isoformat()]) == 0
    assert master_path("sample", tmp_path, DAY).exists()
    table = open_instruments("sample", tmp_path, DAY)
    assert table.report.cache == "hit"  # parsed by the child: nothing to parse (no pandas) here
    assert table.by_symbol("RELIANCE") is not None


def test_missing_master_file_exits_2_naming_it(tmp_path, capsys):
    missing = tmp_path / "nowhere.csv"
    assert main(["--master", str(missing), "--data-dir", str(tmp_path), "--day", DAY.isoformat()]) == 2
    assert str(missing) in capsys.readouterr().err
