"""Instrument master load speed on a full-size (289,000-row) detailed CSV.

Run: ``.venv/bin/python -m pytest bench/test_instruments_bench.py --benchmark-enable -s -q``

The CSV is generated into a temp dir first (not timed). Target: the cold load (parse, build the
indices, write the cache) under 3 s on the 2-core dev machine; the cached reload near-instant.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.model.master import load_instruments
from engine.model.master_csv import DETAILED_COLUMNS

FULL_ROWS = 289_000
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TAIL = "N,N,N,NA,A,0,0,0,0,0,0,0"  # BRACKET_FLAG .. MTF_LEVERAGE


def _line(
    exch: str, seg: str, sec_id: int, isin: str, instrument: str, u_id: str, underlying: str,
    symbol: str, display: str, itype: str, series: str, lot: int, expiry: str, strike: str,
    opt: str, tick: str, flag: str, freeze: int,
) -> str:  # fmt: skip
    return (
        f"{exch},{seg},{sec_id},{isin},{instrument},{u_id},{underlying},{symbol},{display},{itype},"
        f"{series},{lot}.0,{expiry},{strike},{opt},{tick},{flag},{_TAIL},0.0000,0.0000,{freeze},"
    )


def _rows(rng: random.Random) -> Iterator[str]:
    """Endless realistic rows: indices, equities, then F&O contracts of many underlyings."""
    sec_id = 1
    for name in ("NIFTY", "BANKNIFTY", "FINNIFTY", "INDIA VIX", "SENSEX"):
        yield _line("NSE", "I", sec_id, "NA", "INDEX", str(sec_id), name, name, name.title(), "INDEX",
                    "NA", 1, "0001-01-01", "", "XX", "0.0500", "N", 0)  # fmt: skip
        sec_id += 1
    for exch in ("NSE", "BSE"):
        for k in range(9000):
            sym = f"STK{k:05d}"
            yield _line(exch, "E", 100_000 + k + (0 if exch == "NSE" else 400_000), f"INE{k:06d}01018",
                        "EQUITY", "NA", sym, sym, f"Stock {k} Ltd", "ES", "EQ", 1, "", "", "",
                        rng.choice(("5.0000", "10.0000", "1.0000")), "", 0)  # fmt: skip
    start = dt.date(2026, 11, 24)
    contract_id = 1_000_000
    k = 0
    while True:
        underlying = f"STK{k % 9000:05d}" if k % 10 else ("NIFTY", "BANKNIFTY", "FINNIFTY")[k // 10 % 3]
        kind = "OPTIDX" if k % 10 == 0 else "OPTSTK"
        spot = rng.randrange(100, 60000)
        step = max(1, spot // 50)
        for e in range(3):
            expiry = start + dt.timedelta(days=7 * e + 7 * (k % 4))
            mon = _MONTHS[expiry.month - 1]
            lot = rng.choice((65, 30, 250, 500, 1200))
            yield _line("NSE", "D", contract_id, "NA", "FUT" + kind[3:], "26000", underlying,
                        f"{underlying}-{mon}{expiry.year}-FUT", f"{underlying} {mon.upper()} FUT", "FUT",
                        "NA", lot, expiry.isoformat(), "-0.01000", "XX", "0.0500", "M", 1800)  # fmt: skip
            contract_id += 1
            for s in range(-20, 21):
                strike = spot + s * step
                for opt, word in (("CE", "CALL"), ("PE", "PUT")):
                    yield _line("NSE", "D", contract_id, "NA", kind, "26000", underlying,
                                f"{underlying}-{expiry.day:02d}{mon}{expiry.year}-{strike}-{opt}",
                                f"{underlying} {expiry.day} {mon.upper()} {strike} {word}", "OP", "NA",
                                lot, expiry.isoformat(), f"{strike}.00000", opt, "5.0000",
                                "W" if e else "M", 1800)  # fmt: skip
                    contract_id += 1
        k += 1


def write_full_master(path: Path, rows: int = FULL_ROWS, seed: int = 7) -> Path:
    """A deterministic detailed-layout master with ``rows`` data rows."""
    gen = _rows(random.Random(seed))
    with path.open("w", encoding="ascii") as f:
        f.write(",".join(DETAILED_COLUMNS) + ",\n")
        for _ in range(rows):
            f.write(next(gen) + "\n")
    return path


@pytest.fixture(scope="module")
def full_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_full_master(tmp_path_factory.mktemp("master") / "api-scrip-master-detailed.csv")


def test_cold_load_parses_289k_rows(benchmark, full_master: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"

    def fresh() -> None:
        shutil.rmtree(cache_dir, ignore_errors=True)

    table = benchmark.pedantic(
        lambda: load_instruments(full_master, cache_dir=cache_dir), setup=fresh, rounds=3, iterations=1
    )
    assert len(table) == FULL_ROWS
    assert table.report.cache == "written"
    print(f"\ncold load of {FULL_ROWS} rows: {table.report.load_s:.3f} s (last round)")


def test_cached_load_of_289k_rows(benchmark, full_master: Path, tmp_path: Path) -> None:
    load_instruments(full_master, cache_dir=tmp_path)  # warm the cache
    table = benchmark.pedantic(
        lambda: load_instruments(full_master, cache_dir=tmp_path), rounds=10, iterations=1
    )
    assert table.report.cache == "hit"
    print(f"\ncached load of {FULL_ROWS} rows: {table.report.load_s * 1000:.1f} ms (last round)")
