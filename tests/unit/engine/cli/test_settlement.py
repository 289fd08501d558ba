"""``shikra settlement``: the official settlement prices kept in the data dir, as the engine reads them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from actors.execution.config import SETTLEMENT_PRICES_FILE, read_settlement_prices
from engine.cli import main
from engine.cli.common import EXIT_CONFIG

EXPIRY = dt.date(2026, 11, 24)


@pytest.fixture
def shikra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    config = tmp_path / "shikra.toml"
    config.write_text('[execution.settlement]\nprices_paise = { "BANKNIFTY:2026-11-24" = 5900000 }\n')
    monkeypatch.setenv("SHIKRA_CONFIG", str(config))
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args[:2], "--data-dir", str(data), *args[2:]])
        out, err = capsys.readouterr()
        return code, out, err

    run.data = data  # type: ignore[attr-defined]
    return run


def test_set_price_is_what_the_engine_reads_and_remove_forgets_it(shikra) -> None:
    code, out, _ = shikra("settlement", "set-price", "nifty", "2026-11-24", "26012.35")
    assert code == 0 and "NIFTY:2026-11-24 set to 26012.35" in out
    assert read_settlement_prices(shikra.data).price_for("NIFTY", EXPIRY) == 26_012_35
    code, out, _ = shikra("settlement", "show", "--json")
    assert code == 0 and json.loads(out) == [
        {"key": "NIFTY:2026-11-24", "price_paise": 26_012_35, "source": "data dir"},
        {"key": "BANKNIFTY:2026-11-24", "price_paise": 59_000_00, "source": "config"}]
    assert shikra("settlement", "remove", "NIFTY", "2026-11-24")[0] == 0
    assert read_settlement_prices(shikra.data).price_for("NIFTY", EXPIRY) is None
    code, _out, err = shikra("settlement", "remove", "NIFTY", "2026-11-24")
    assert code != 0 and "no settlement price of NIFTY:2026-11-24" in err


def test_bad_input_and_a_damaged_file_are_refused_with_the_reason(shikra) -> None:
    with pytest.raises(SystemExit):
        shikra("settlement", "set-price", "NIFTY", "2026-11-24", "0")
    with pytest.raises(SystemExit):
        shikra("settlement", "set-price", "NIFTY", "24-11-2026", "26000")
    assert not (shikra.data / SETTLEMENT_PRICES_FILE).exists()
    shikra.data.mkdir(parents=True)
    (shikra.data / SETTLEMENT_PRICES_FILE).write_text('{"prices_paise": {"NIFTY:2026-11-24": 0}}')
    code, _out, err = shikra("settlement", "show")
    assert code == EXIT_CONFIG and SETTLEMENT_PRICES_FILE in err and "positive integer" in err
