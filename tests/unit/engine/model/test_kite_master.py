"""Kite's instrument dump loaded into the InstrumentTable: ids, tokens, kinds, lots, ticks, chains,
and bad rows or columns reported (KITE_PROTOCOL.md section D)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.model.instruments import kite_tokens
from engine.model.master import load_instruments
from engine.model.master_csv import MasterFormatError, SkipReason
from ipc.segments import Segment
from tests.support.kite_instruments import HEADER, ROWS



def write(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "kite-master.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_rows_load_with_exchange_tokens_as_ids_and_tokens_kept(tmp_path: Path) -> None:
    table = load_instruments(write(tmp_path, ROWS), use_cache=False)
    assert table.report.layout == "kite" and table.report.rows_loaded == len(ROWS)
    rel = table.get(Segment.NSE_EQ, 2885)
    assert rel is not None and (rel.instrument, rel.tick_paise, rel.lot_size_units) == ("EQUITY", 10, 1)
    assert table.get(Segment.BSE_EQ, 500325) is not None
    tokens = kite_tokens(table)
    assert tokens[738561] == (Segment.NSE_EQ, 2885) and tokens[256265] == (Segment.IDX_I, 1001)
    assert tokens[56789255] == (Segment.MCX_COMM, 221833)


def test_derivative_kinds_follow_whether_the_name_is_a_listed_stock(tmp_path: Path) -> None:
    table = load_instruments(write(tmp_path, ROWS), use_cache=False)
    kinds = {i.symbol: i.instrument for i in table}
    assert kinds["NIFTY26DECFUT"] == "FUTIDX" and kinds["NIFTY26D0824500CE"] == "OPTIDX"
    assert kinds["RELIANCE26DEC1400CE"] == "OPTSTK" and kinds["CRUDEOIL26DECFUT"] == "FUTCOM"
    fut = table.contract("NIFTY", 20261229, 0, "XX")
    assert fut is not None and (fut.segment, fut.security_id, fut.lot_size_units) == (Segment.NSE_FNO, 52219, 65)


def test_an_option_chain_and_the_index_spot_work_on_kite_instruments(tmp_path: Path) -> None:
    table = load_instruments(write(tmp_path, ROWS), use_cache=False)
    assert table.nearest_expiry("NIFTY", dt.date(2026, 12, 7)) == 20261208
    chain = table.option_chain("NIFTY", 20261208)
    assert chain is not None and chain.segment == Segment.NSE_FNO and chain.lot_size_units == 65
    assert [(s.strike_paise, s.ce_security_id, s.pe_security_id) for s in chain.strikes] == [
        (2_450_000, 40236, 40237), (2_455_000, 40238, 0), (2_460_000, 40239, 40240)]
    assert chain.step_paise == 5_000
    spot = table.spot("NIFTY")
    assert spot is not None and (spot.segment, spot.security_id, spot.symbol) == (Segment.IDX_I, 1001, "NIFTY 50")
    assert spot.lot_size_units == 1
    sel = table.select_strike("NIFTY", 20261208, 2_456_000, 1)
    assert not isinstance(sel, str) and (sel.strike_paise, sel.ce_security_id) == (2_460_000, 40239)


def test_bad_rows_are_skipped_and_counted_by_reason(tmp_path: Path) -> None:
    bad = [
        "x,1,BAD1,BAD,0,,0,0.05,1,EQ,NSE,NSE",                          # token not a number
        "999,,BAD2,BAD,0,,0,0.05,1,EQ,NSE,NSE",                         # no exchange token
        "1000,2,BAD3,BAD,0,2026-12-29,0,1,1,FUT,NCO-FUT,NCO",           # NCO: no segment of ours
        "1001,3,BAD4,BAD,0,,0,0.0025,1,FUT,CDS-FUT,CDS",                # tick finer than a paisa
        "1002,4,BAD5,BAD,0,,0,0.05,0,EQ,NSE,NSE",                       # lot 0 on a traded row
        "1003,5,BAD6,NIFTY,0,2026-13-40,24500,0.05,65,CE,NFO-OPT,NFO",    # expiry not YYYY-MM-DD
        "738561,2885,DUPE,RELIANCE,0,,0,0.05,1,EQ,NSE,NSE",             # same id as RELIANCE
    ]
    table = load_instruments(write(tmp_path, ROWS + bad), use_cache=False)
    assert table.report.rows_loaded == len(ROWS)
    assert table.report.skipped == {SkipReason.BAD_ID.value: 1, SkipReason.MISSING_ID.value: 1,
                                    SkipReason.UNKNOWN_SEGMENT.value: 1, SkipReason.BAD_TICK_SIZE.value: 1,
                                    SkipReason.BAD_LOT_SIZE.value: 1, SkipReason.BAD_EXPIRY.value: 1,
                                    SkipReason.DUPLICATE_ID.value: 1}


def test_a_kite_header_without_a_required_column_names_it(tmp_path: Path) -> None:
    header = HEADER.replace(",lot_size", "")
    with pytest.raises(MasterFormatError, match="kite instrument master is missing required column LOT_SIZE"):
        load_instruments(write(tmp_path, [], header), use_cache=False)


def test_the_cache_keeps_the_tokens(tmp_path: Path) -> None:
    path = write(tmp_path, ROWS)
    load_instruments(path, cache_dir=tmp_path)
    again = load_instruments(path, cache_dir=tmp_path)
    assert again.report.cache == "hit" and kite_tokens(again)[738561] == (Segment.NSE_EQ, 2885)
