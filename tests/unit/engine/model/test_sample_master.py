"""engine.model.sample_master: deterministic, loads cleanly, never lists an expired contract."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.model import sample_master
from engine.model.instruments import InstrumentTable, date_from_yyyymmdd
from engine.model.master import load_instruments
from engine.model.sample_master import is_trading_day, monthly_expiry, weekly_expiries, write_sample_master
from ipc.segments import Segment

COMMITTED = sample_master.BUNDLED_PATH
COMMITTED_DAY = dt.date(2026, 11, 20)
TUESDAY, THURSDAY = 1, 3

# A Friday before a Tuesday holiday, a monthly-expiry Tuesday, a week across the year end, and a
# day after the calendar's last recorded session (weekends only from there on).
DAYS = [COMMITTED_DAY, dt.date(2026, 12, 29), dt.date(2026, 12, 24), dt.date(2027, 3, 15)]


def sample(tmp_path: Path, today: dt.date) -> InstrumentTable:
    return load_instruments(write_sample_master(tmp_path / f"sample-{today}.csv", today), use_cache=False)


def test_same_date_gives_the_same_bytes_and_another_date_differs(tmp_path: Path) -> None:
    a = write_sample_master(tmp_path / "a.csv", COMMITTED_DAY).read_bytes()
    b = write_sample_master(tmp_path / "b.csv", COMMITTED_DAY).read_bytes()
    c = write_sample_master(tmp_path / "c.csv", dt.date(2026, 12, 2)).read_bytes()
    assert a == b
    assert a != c


def test_committed_sample_matches_the_generator() -> None:
    assert COMMITTED.read_text() == sample_master.sample_master_text(COMMITTED_DAY)


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_sample_loads_with_no_bad_rows(tmp_path: Path, today: dt.date) -> None:
    table = sample(tmp_path, today)
    assert table.report.layout == "detailed"
    assert table.report.skipped == {}
    assert table.report.rows_loaded == table.report.rows_read == len(table) > 400


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_sample_has_no_expired_contract_and_expiries_fall_on_trading_days(
    tmp_path: Path, today: dt.date
) -> None:
    table = sample(tmp_path, today)
    expiries = {inst.expiry_date for inst in table if inst.expiry_yyyymmdd}
    assert expiries and min(expiries) >= today
    assert all(is_trading_day(day) for day in expiries)


def test_weekly_expiry_on_a_holiday_moves_to_the_previous_trading_day() -> None:
    holiday = dt.date(2026, 11, 24)  # a Tuesday the XBOM calendar lists as a holiday
    assert holiday.weekday() == TUESDAY and not is_trading_day(holiday)
    assert weekly_expiries(COMMITTED_DAY, TUESDAY, 2) == [dt.date(2026, 11, 23), dt.date(2026, 12, 1)]
    assert monthly_expiry(2026, 11, TUESDAY) == dt.date(2026, 11, 23)


def test_an_expiry_that_moved_before_today_is_not_listed() -> None:
    # On the holiday itself the week's (moved) expiry was yesterday.
    assert weekly_expiries(dt.date(2026, 11, 24), TUESDAY, 1) == [dt.date(2026, 12, 1)]


def test_nifty_lists_two_weeklies_and_a_monthly_and_bank_nifty_monthly_only(tmp_path: Path) -> None:
    table = sample(tmp_path, COMMITTED_DAY)
    assert table.expiries("NIFTY", COMMITTED_DAY) == [20261123, 20261201, 20261229]
    nifty = (20261123, 20261201, 20261229)
    ce_ids = [table.option_chain("NIFTY", e).strikes[0].ce_security_id for e in nifty]
    assert [table.get(Segment.NSE_FNO, i).expiry_flag for i in ce_ids] == ["M", "W", "M"]
    assert table.expiries("BANKNIFTY", COMMITTED_DAY) == [20261123]
    assert table.expiries("FINNIFTY", COMMITTED_DAY) == [20261123]
    assert table.expiries("SENSEX", COMMITTED_DAY) == [20261126, 20261203, 20261231]
    sensex = table.expiries("SENSEX", COMMITTED_DAY)
    assert all(date_from_yyyymmdd(e).weekday() == THURSDAY for e in sensex)
    assert table.option_chain("SENSEX", 20261203).segment == Segment.BSE_FNO


def test_chains_are_realistic_around_the_spot(tmp_path: Path) -> None:
    table = sample(tmp_path, COMMITTED_DAY)
    for name, spot_rupees, step_rupees, lot, expiry in (
        ("NIFTY", 26000, 50, 65, 20261201),
        ("BANKNIFTY", 59000, 100, 30, 20261123),
        ("FINNIFTY", 27500, 50, 60, 20261123),
        ("SENSEX", 85000, 100, 20, 20261203),
    ):
        chain = table.option_chain(name, expiry)
        assert (chain.step_paise, chain.lot_size_units, len(chain.strikes)) == (step_rupees * 100, lot, 31)
        assert table.atm_strike(name, expiry, spot_rupees * 100 + 1) == spot_rupees * 100
        assert all(s.ce_security_id and s.pe_security_id for s in chain.strikes)
    assert table.contract("NIFTY", 20261201, 2600000, "CE").freeze_qty_units == 1800


def test_indices_stocks_and_futures_are_listed(tmp_path: Path) -> None:
    table = sample(tmp_path, COMMITTED_DAY)
    indices = {i.symbol: i.security_id for i in table if i.instrument == "INDEX"}
    assert indices == {"NIFTY": 13, "BANKNIFTY": 25, "FINNIFTY": 27, "SENSEX": 51, "INDIA VIX": 21}
    assert all(table.get(Segment.IDX_I, sec_id) is not None for sec_id in indices.values())
    stocks = {
        i.symbol: (i.security_id, i.tick_paise, i.lot_size_units) for i in table if i.segment == Segment.NSE_EQ
    }
    assert stocks == {
        "HDFCBANK": (1333, 5, 1), "RELIANCE": (2885, 5, 1), "TCS": (11536, 5, 1),
        "INFY": (1594, 5, 1), "SBIN": (3045, 5, 1),
    }  # fmt: skip
    futures = {i.underlying: i.expiry_yyyymmdd for i in table if i.instrument == "FUTIDX"}
    nse_month, bse_month = 20261123, 20261126
    assert futures == {
        "NIFTY": nse_month, "BANKNIFTY": nse_month, "FINNIFTY": nse_month, "SENSEX": bse_month
    }  # fmt: skip


def test_a_contract_keeps_its_security_id_from_one_day_to_the_next(tmp_path: Path) -> None:
    day1 = sample(tmp_path, COMMITTED_DAY)
    day2 = sample(tmp_path, dt.date(2026, 11, 25))  # after the 23 Nov expiry
    later = dt.date(2026, 11, 25)
    shared = set(day1.expiries("NIFTY", COMMITTED_DAY)) & set(day2.expiries("NIFTY", later))
    assert shared
    for expiry in shared:
        assert day1.option_chain("NIFTY", expiry) == day2.option_chain("NIFTY", expiry)


def test_rewriting_identical_content_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = write_sample_master(tmp_path / "data" / "sample.csv", COMMITTED_DAY)
    mtime_ns = path.stat().st_mtime_ns
    write_sample_master(path, COMMITTED_DAY)
    assert path.stat().st_mtime_ns == mtime_ns
    write_sample_master(path, dt.date(2026, 12, 2))
    assert path.read_text() == sample_master.sample_master_text(dt.date(2026, 12, 2))


def test_cli_writes_the_sample_for_the_given_day(tmp_path: Path) -> None:
    out = tmp_path / "cli.csv"
    assert sample_master.main(["--today", "2026-11-20", "--out", str(out)]) == 0
    assert out.read_text() == COMMITTED.read_text()


def test_extra_stock_rows_load_as_nse_equities_beside_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "bigger.csv"
    extra = sample_master.stock_rows([(20001, "SOAK0001", "Soak Stock 1", "NA")])
    path.write_text(sample_master.sample_master_text(COMMITTED_DAY) + "\n".join(extra) + "\n")
    table = load_instruments(path, use_cache=False)
    row = table.by_symbol("SOAK0001", Segment.NSE_EQ)
    assert row is not None and (row.security_id, row.tick_paise, row.lot_size_units) == (20001, 5, 1)
    assert len(table) == len(sample(tmp_path, COMMITTED_DAY)) + 1
