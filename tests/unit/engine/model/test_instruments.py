"""engine.model.instruments, master_csv and master: both CSV layouts, exact paise, bad rows, cache, lookups, chains, strikes."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.model.instruments as instruments
import engine.model.master as master
from engine.model.instruments import Instrument, StrikeError, tick_sizes
from engine.model.master import load_instruments
from engine.model.master_csv import COMPACT_COLUMNS, DETAILED_COLUMNS, MasterFormatError, SkipReason
from ipc.segments import Segment


DETAILED_HEADER = ",".join(DETAILED_COLUMNS) + ","
COMPACT_HEADER = ",".join(COMPACT_COLUMNS)
_FILL = "N,N,N,NA,A,0,0,0,0,0,0,0"  # BRACKET_FLAG .. MTF_LEVERAGE

# Shaped like rows of the published detailed file (DHAN_PROTOCOL.md section D).
D_NIFTY_INDEX = (
    f"NSE,I,13,NA,INDEX,13,NIFTY,NIFTY,Nifty 50,INDEX,NA,1.0,0001-01-01,,XX,0.0500,N,{_FILL},"
    "0.0000,0.0000,0,"
)
D_NIFTY_CE = (
    "NSE,D,35084,NA,OPTIDX,26000,NIFTY,NIFTY-Sep2026-29150-CE,NIFTY 29 SEP 29150 CALL,OP,NA,65.0,"
    f"2026-09-29,29150.00000,CE,5.0000,M,{_FILL},20.1000,0.0500,1756,"
)
D_NIFTY_FUT = (
    "NSE,D,49081,NA,FUTIDX,26000,NIFTY,NIFTY-Sep2026-FUT,NIFTY SEP FUT,FF,NA,65.0,"
    f"2026-09-29,-0.01000,XX,0.0500,M,{_FILL},26050.0000,20450.0000,1800,"
)
D_RELIANCE = (
    "NSE,E,2885,INE002A01018,EQUITY,NA,RELIANCE,RELIANCE,RELIANCE INDUSTRIES,ES,EQ,1.0,,,,"
    f"10.0000,,{_FILL},0,0,0,"
)

# Shaped like rows of the published compact file.
C_NIFTY_INDEX = "NSE,I,13,INDEX,0,NIFTY,1.0,Nifty 50,0001-01-01,,XX,0.0500,,INDEX,X,NIFTY"
C_NIFTY_CE = (
    "NSE,D,35084,OPTIDX,0,NIFTY-Sep2026-29150-CE,65.0,NIFTY 29 SEP 29150 CALL,"
    "2026-09-29 14:30:00,29150.00000,CE,5.0000,M,OP,NA,NIFTY"
)
C_BAJAJ_FUT = (
    "NSE,D,52001,FUTSTK,0,BAJAJ-AUTO-Sep2026-FUT,75.0,BAJAJ-AUTO SEP FUT,"
    "2026-09-29 14:30:00,-0.01000,XX,0.1000,M,FUT,NA,BAJAJ-AUTO"
)
C_RELIANCE = (
    "NSE,E,2885,EQUITY,0,RELIANCE,1.0,Reliance Industries,,,,10.0000,NA,ES,EQ,"
    "RELIANCE INDUSTRIES LTD"
)
C_BSE_RELIANCE = "BSE,E,500325,EQUITY,0,RELIANCE,1.0,Reliance,,,,5.0000,NA,ES,A,RELIANCE INDUSTRIES"
C_EURINR_CE = (
    "NSE,C,2885,OPTCUR,0,EURINR-Aug2026-102.75-CE,1.0,EURINR CALL,2026-08-27 12:00:00,102.75,CE,"
    "0.2500,M,CUR OP,,"
)


def write(tmp_path: Path, header: str, *rows: str, name: str = "master.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def load(path: Path, **kw) -> instruments.InstrumentTable:
    return load_instruments(path, use_cache=False, **kw)


def d_option(
    sec_id: int, strike: int, opt: str, expiry: str = "2026-12-01", underlying: str = "NIFTY",
    exch: str = "NSE", tick: str = "5.0000", lot: str = "65.0",
) -> str:  # fmt: skip
    """A detailed-layout option row (weekly flag, freeze 1800)."""
    day = dt.date.fromisoformat(expiry)
    return (
        f"{exch},D,{sec_id},NA,OPTIDX,26000,{underlying},{underlying}-{day:%d%b%Y}-{strike}-{opt},"
        f"{underlying} {day:%d %b} {strike} {opt},OP,NA,{lot},{expiry},{strike}.00000,{opt},{tick},"
        f"W,{_FILL},0.0000,0.0000,1800,"
    )


def d_future(sec_id: int, expiry: str, underlying: str = "NIFTY", exch: str = "NSE") -> str:
    tag = f"{dt.date.fromisoformat(expiry):%b%Y}"
    return (
        f"{exch},D,{sec_id},NA,FUTIDX,26000,{underlying},{underlying}-{tag}-FUT,{underlying} FUT,"
        f"FUT,NA,65.0,{expiry},-0.01000,XX,0.0500,M,{_FILL},0.0000,0.0000,1800,"
    )


# --------------------------------------------------------------------------------------------
# Layouts and field parsing
# --------------------------------------------------------------------------------------------


def test_detailed_layout_loads_every_field_of_an_option_row(tmp_path: Path) -> None:
    rows = (D_NIFTY_INDEX, D_NIFTY_CE, D_NIFTY_FUT, D_RELIANCE)
    table = load(write(tmp_path, DETAILED_HEADER, *rows))
    assert table.report.layout == "detailed"
    assert table.report.rows_loaded == 4 and table.report.skipped == {}
    assert table.get(Segment.NSE_FNO, 35084) == Instrument(
        segment=Segment.NSE_FNO,
        security_id=35084,
        exchange="NSE",
        symbol="NIFTY-Sep2026-29150-CE",
        display_name="NIFTY 29 SEP 29150 CALL",
        underlying="NIFTY",
        instrument="OPTIDX",
        expiry_yyyymmdd=20260929,
        strike_paise=2915000,
        option_type="CE",
        lot_size_units=65,
        tick_paise=5,
        freeze_qty_units=1756,
        expiry_flag="M",
    )


def test_compact_layout_loads_the_same_option_as_the_detailed_one(tmp_path: Path) -> None:
    detailed = load(write(tmp_path, DETAILED_HEADER, D_NIFTY_CE, name="d.csv"))
    compact = load(write(tmp_path, COMPACT_HEADER, C_NIFTY_CE, name="c.csv"))
    assert compact.report.layout == "compact"
    # The compact layout has no freeze quantity column; everything else must agree.
    expected = msgspec_replace(detailed.get(Segment.NSE_FNO, 35084), freeze_qty_units=0)
    assert compact.get(Segment.NSE_FNO, 35084) == expected


def msgspec_replace(inst: Instrument | None, **changes: object) -> Instrument:
    import msgspec

    assert inst is not None
    return msgspec.structs.replace(inst, **changes)


def test_compact_underlying_is_the_symbol_without_its_contract_suffix(tmp_path: Path) -> None:
    table = load(write(tmp_path, COMPACT_HEADER, C_BAJAJ_FUT, C_NIFTY_CE, C_RELIANCE))
    assert table.get(Segment.NSE_FNO, 52001).underlying == "BAJAJ-AUTO"
    assert table.get(Segment.NSE_FNO, 35084).underlying == "NIFTY"
    assert table.get(Segment.NSE_EQ, 2885).underlying == "RELIANCE"


def test_index_row_maps_to_idx_i_with_no_expiry_strike_or_flag(tmp_path: Path) -> None:
    for header, row in ((DETAILED_HEADER, D_NIFTY_INDEX), (COMPACT_HEADER, C_NIFTY_INDEX)):
        nifty = load(write(tmp_path, header, row)).get(Segment.IDX_I, 13)
        assert nifty is not None
        assert (nifty.instrument, nifty.symbol) == ("INDEX", "NIFTY")
        assert (nifty.expiry_yyyymmdd, nifty.strike_paise) == (0, 0)
        assert (nifty.option_type, nifty.expiry_flag, nifty.expiry_date) == ("XX", "", None)


def test_header_names_match_case_insensitively_and_ignore_spaces(tmp_path: Path) -> None:
    header = ", ".join(c.lower() for c in COMPACT_COLUMNS)
    table = load(write(tmp_path, header, C_RELIANCE))
    assert table.get(Segment.NSE_EQ, 2885).symbol == "RELIANCE"


def test_futures_placeholder_strike_becomes_zero_paise(tmp_path: Path) -> None:
    fut = load(write(tmp_path, DETAILED_HEADER, D_NIFTY_FUT)).get(Segment.NSE_FNO, 49081)
    assert (fut.strike_paise, fut.option_type, fut.tick_paise, fut.freeze_qty_units) == (0, "XX", 5, 1800)


def test_rupee_amounts_convert_to_exact_paise(tmp_path: Path) -> None:
    # 4.35 * 100 is 434.99999999999994 in float arithmetic; a truncating float parse loses a paisa.
    rows = [d_option(1, 29150, "CE"), d_option(2, 4, "PE").replace("4.00000", "4.35"), C_EURINR_CE]
    table = load(write(tmp_path, DETAILED_HEADER, *rows[:2]))
    assert table.get(Segment.NSE_FNO, 1).strike_paise == 2915000
    assert table.get(Segment.NSE_FNO, 2).strike_paise == 435
    currency = load(write(tmp_path, COMPACT_HEADER, rows[2], name="cur.csv")).get(Segment.NSE_CURRENCY, 2885)
    assert (currency.strike_paise, currency.tick_paise) == (10275, 25)


@settings(max_examples=20, derandomize=True, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=40, unique=True))
def test_any_two_decimal_strike_round_trips_to_paise(tmp_path_factory, strikes_paise: list[int]) -> None:
    rows = [
        d_option(i + 1, 0, "CE").replace("0.00000", f"{p // 100}.{p % 100:02d}000")
        for i, p in enumerate(strikes_paise)
    ]
    table = load(write(tmp_path_factory.mktemp("prop"), DETAILED_HEADER, *rows))
    assert [table.get(Segment.NSE_FNO, i + 1).strike_paise for i in range(len(strikes_paise))] == strikes_paise


def test_tick_size_auto_reads_below_one_as_rupees_and_one_or_more_as_paise(tmp_path: Path) -> None:
    rows = [d_option(1, 100, "CE", tick="0.0500"), d_option(2, 100, "PE", tick="5.0000"),
            d_option(3, 200, "CE", tick="10.0000")]  # fmt: skip
    table = load(write(tmp_path, DETAILED_HEADER, *rows))
    assert [table.get(Segment.NSE_FNO, i).tick_paise for i in (1, 2, 3)] == [5, 5, 10]


def test_tick_size_unit_can_be_forced(tmp_path: Path) -> None:
    rows = (d_option(1, 100, "CE", tick="0.0500"), d_option(2, 100, "PE", tick="5.0000"))
    path = write(tmp_path, DETAILED_HEADER, *rows)
    as_rupees = load(path, tick_size_unit="rupees")
    assert (as_rupees.get(Segment.NSE_FNO, 1).tick_paise, as_rupees.get(Segment.NSE_FNO, 2).tick_paise) == (5, 500)
    as_paise = load(path, tick_size_unit="paise")  # 0.05 paise is not a whole paisa: row skipped
    assert as_paise.get(Segment.NSE_FNO, 2).tick_paise == 5
    assert as_paise.get(Segment.NSE_FNO, 1) is None
    assert as_paise.report.skipped == {SkipReason.BAD_TICK_SIZE.value: 1}
    with pytest.raises(ValueError, match="tick_size_unit"):
        load(path, tick_size_unit="lakhs")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Bad rows and bad files
# --------------------------------------------------------------------------------------------


def test_bad_rows_are_skipped_and_counted_by_reason(tmp_path: Path) -> None:
    good = d_option(10, 26000, "CE")
    rows = [
        good,
        d_option(11, 26000, "PE").replace(",11,", ",,"),  # missing id
        d_option(12, 26050, "CE").replace(",12,", ",12x,"),  # bad id
        d_option(13, 26050, "PE").replace("NSE,D,", "NSE,X,"),  # unknown segment
        d_option(14, 26100, "CE", lot="sixty-five"),
        d_option(15, 26100, "PE", tick="-5"),
        d_option(16, 26150, "CE").replace("26150.00000", "26150.0025"),  # finer than a paisa
        d_option(17, 26150, "XE").replace(",XE,", ",CA,"),
        d_option(18, 26200, "CE", expiry="2026-12-01").replace(",2026-12-01,", ",2026-13-45,"),
        d_future(19, "2026-12-29").replace(",2026-12-29,", ",,"),  # derivative without expiry
        d_option(10, 26250, "CE"),  # duplicate (NSE_FNO, 10): the first row wins
        good + "extra,fields,here",  # more fields than the header
        d_option(20, 26300, "PE"),
    ]
    table = load(write(tmp_path, DETAILED_HEADER, *rows))
    assert table.report.skipped == {
        SkipReason.MISSING_ID.value: 1,
        SkipReason.BAD_ID.value: 1,
        SkipReason.UNKNOWN_SEGMENT.value: 1,
        SkipReason.BAD_LOT_SIZE.value: 1,
        SkipReason.BAD_TICK_SIZE.value: 1,
        SkipReason.BAD_STRIKE.value: 1,
        SkipReason.BAD_OPTION_TYPE.value: 1,
        SkipReason.BAD_EXPIRY.value: 2,
        SkipReason.DUPLICATE_ID.value: 1,
        SkipReason.MALFORMED_LINE.value: 1,
    }
    assert (table.report.rows_read, table.report.rows_loaded, table.report.rows_skipped) == (13, 2, 11)
    assert sorted(i.security_id for i in table) == [10, 20]
    assert table.get(Segment.NSE_FNO, 10).strike_paise == 2600000


def test_unreadable_freeze_qty_defaults_to_zero_and_is_counted(tmp_path: Path) -> None:
    row = d_option(1, 26000, "CE").replace(",1800,", ",lots,")
    na_row = d_option(2, 26000, "PE").replace(",1800,", ",NA,")
    table = load(write(tmp_path, DETAILED_HEADER, row, na_row))
    assert [table.get(Segment.NSE_FNO, i).freeze_qty_units for i in (1, 2)] == [0, 0]
    assert table.report.freeze_qty_defaulted == 1
    assert table.report.skipped == {}


def test_missing_required_column_names_the_column_and_the_file(tmp_path: Path) -> None:
    header = DETAILED_HEADER.replace("SM_EXPIRY_DATE,", "")
    row = D_NIFTY_CE.replace("2026-09-29,", "")
    path = write(tmp_path, header, row)
    with pytest.raises(MasterFormatError, match="SM_EXPIRY_DATE") as err:
        load(path)
    assert str(path) in str(err.value) and "detailed" in str(err.value)


def test_a_file_that_is_not_a_master_is_refused_clearly(tmp_path: Path) -> None:
    for content in ("symbol,price\nRELIANCE,1300\n", ""):
        path = tmp_path / "other.csv"
        path.write_text(content)
        with pytest.raises(MasterFormatError, match="not an instrument master"):
            load(path)


def test_header_only_file_loads_an_empty_table(tmp_path: Path) -> None:
    table = load(write(tmp_path, COMPACT_HEADER))
    assert len(table) == 0
    assert table.get(Segment.NSE_EQ, 2885) is None
    assert table.search("RELIANCE") == []
    assert table.expiries("NIFTY", dt.date(2026, 1, 1)) == []


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


def test_unchanged_file_reloads_from_the_cache_without_parsing(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, DETAILED_HEADER, D_NIFTY_INDEX, D_NIFTY_CE)
    cache_dir = tmp_path / "cache"
    first = load_instruments(path, cache_dir=cache_dir)
    assert first.report.cache == "written"
    assert Path(first.report.cache_path).parent == cache_dir

    def no_parse(*_a, **_k):
        raise AssertionError("parsed again although the file did not change")

    monkeypatch.setattr(master, "parse_master", no_parse)
    again = load_instruments(path, cache_dir=cache_dir)
    assert again.report.cache == "hit"
    assert again.get(Segment.NSE_FNO, 35084) == first.get(Segment.NSE_FNO, 35084)
    assert again.report.rows_loaded == 2


def test_changed_file_is_parsed_again_and_the_old_cache_removed(tmp_path: Path) -> None:
    path = write(tmp_path, DETAILED_HEADER, D_NIFTY_CE)
    first = load_instruments(path)  # cache next to the data by default
    assert Path(first.report.cache_path).parent == tmp_path
    stat = path.stat()
    write(tmp_path, DETAILED_HEADER, D_NIFTY_CE.replace("65.0", "75.0"))  # same size, new content
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = load_instruments(path)
    assert second.report.cache == "written"
    assert second.get(Segment.NSE_FNO, 35084).lot_size_units == 75
    assert [p.name for p in tmp_path.glob("instruments-*.npz")] == [Path(second.report.cache_path).name]


def test_touching_the_file_invalidates_the_cache(tmp_path: Path) -> None:
    path = write(tmp_path, DETAILED_HEADER, D_NIFTY_CE)
    first = load_instruments(path, cache_dir=tmp_path / "c")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    second = load_instruments(path, cache_dir=tmp_path / "c")
    assert second.report.cache == "written"
    assert second.report.cache_path != first.report.cache_path


def test_caches_of_two_masters_in_one_directory_do_not_evict_each_other(tmp_path: Path) -> None:
    compact = write(tmp_path, COMPACT_HEADER, C_RELIANCE, name="api-scrip-master.csv")
    detailed = write(tmp_path, DETAILED_HEADER, D_RELIANCE, name="api-scrip-master-detailed.csv")
    load_instruments(compact)
    load_instruments(detailed)
    assert load_instruments(compact).report.cache == "hit"
    assert load_instruments(detailed).report.cache == "hit"


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_cache_is_rebuilt(tmp_path: Path, damage: str) -> None:
    path = write(tmp_path, DETAILED_HEADER, D_NIFTY_CE)
    cache_path = Path(load_instruments(path).report.cache_path)
    good = cache_path.read_bytes()
    cache_path.write_bytes(b"not an npz" if damage == "garbage" else good[: len(good) // 2])
    table = load_instruments(path)
    assert table.report.cache == "corrupt_rebuilt"
    assert table.get(Segment.NSE_FNO, 35084).strike_paise == 2915000
    assert load_instruments(path).report.cache == "hit"


def test_unwritable_cache_still_loads(tmp_path: Path) -> None:
    path = write(tmp_path, DETAILED_HEADER, D_NIFTY_CE)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache directory should be")
    table = load_instruments(path, cache_dir=blocker / "cache")
    assert table.report.cache == "unwritable"
    assert table.get(Segment.NSE_FNO, 35084) is not None


# --------------------------------------------------------------------------------------------
# Lookups
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def mixed(tmp_path: Path) -> instruments.InstrumentTable:
    rows = [C_NIFTY_INDEX, C_RELIANCE, C_BSE_RELIANCE, C_EURINR_CE, C_NIFTY_CE, C_BAJAJ_FUT]
    return load(write(tmp_path, COMPACT_HEADER, *rows))


def test_lookup_by_id_depends_on_the_segment(mixed: instruments.InstrumentTable) -> None:
    assert mixed.get(Segment.NSE_EQ, 2885).symbol == "RELIANCE"
    assert mixed.get(Segment.NSE_CURRENCY, 2885).symbol == "EURINR-Aug2026-102.75-CE"
    assert mixed.get(Segment.BSE_EQ, 2885) is None
    assert mixed.get(Segment.NSE_EQ, 999999) is None
    assert mixed.tick_paise(Segment.NSE_EQ, 2885) == 10


def test_lookup_by_symbol_is_case_insensitive_and_prefers_nse(mixed: instruments.InstrumentTable) -> None:
    assert mixed.by_symbol("nifty-sep2026-29150-ce").security_id == 35084
    assert mixed.by_symbol("Reliance").segment == Segment.NSE_EQ
    assert mixed.by_symbol("RELIANCE", Segment.BSE_EQ).security_id == 500325
    assert [i.segment for i in mixed.symbol_matches("RELIANCE")] == [Segment.NSE_EQ, Segment.BSE_EQ]
    assert mixed.by_symbol("RELIANCE", Segment.NSE_FNO) is None
    assert mixed.by_symbol("NOSUCH") is None


def test_spot_of_an_underlying_is_its_index_or_equity(mixed: instruments.InstrumentTable) -> None:
    assert (mixed.spot("NIFTY").segment, mixed.spot("NIFTY").security_id) == (Segment.IDX_I, 13)
    assert (mixed.spot("reliance").segment, mixed.spot("reliance").security_id) == (Segment.NSE_EQ, 2885)
    assert mixed.spot("BAJAJ-AUTO") is None


def test_tick_sizes_maps_segment_and_id_and_leaves_out_zero_ticks(tmp_path: Path) -> None:
    index_no_tick = D_NIFTY_INDEX.replace("0.0500", "0.0000")
    table = load(write(tmp_path, DETAILED_HEADER, index_no_tick, D_NIFTY_CE, D_RELIANCE))
    assert tick_sizes(table) == {(Segment.NSE_FNO, 35084): 5, (Segment.NSE_EQ, 2885): 10}


def test_search_puts_the_exact_symbol_first(tmp_path: Path) -> None:
    rows = [d_option(1, 26000, "CE"), d_option(2, 26000, "PE"), D_NIFTY_INDEX, d_future(3, "2026-12-29")]
    table = load(write(tmp_path, DETAILED_HEADER, *rows))
    assert table.search("nifty")[0].security_id == 13
    assert [i.security_id for i in table.search("nifty 26000 pe")] == [2]
    assert len(table.search("nifty", limit=2)) == 2
    assert table.search("   ") == []


def test_cli_search_prints_matches(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, DETAILED_HEADER, D_NIFTY_INDEX, D_NIFTY_CE)
    argv = ["search", "29150", "--master", str(path), "--cache-dir", str(tmp_path / "c")]
    assert master.main(argv) == 0
    out = capsys.readouterr().out
    assert "NIFTY-Sep2026-29150-CE" in out and "35084" in out and "Nifty 50" not in out


# --------------------------------------------------------------------------------------------
# Derivatives: contracts, expiries, chains, strikes
# --------------------------------------------------------------------------------------------

WEEK1, WEEK2, MONTH = "2026-11-24", "2026-12-01", "2026-12-29"


@pytest.fixture()
def fno(tmp_path: Path) -> instruments.InstrumentTable:
    """NIFTY options over three expiries (strikes 50 apart near 26000, 100 further out), written
    in a scrambled order, with a lone CE at the top; futures; a SENSEX chain on BSE_FNO."""
    rows = []
    sec = 1000
    strikes = [25700, 25800, 25900, 25950, 26000, 26050, 26100, 26200, 26300]
    for expiry in (MONTH, WEEK1, WEEK2):
        for strike in reversed(strikes):
            for opt in ("PE", "CE"):
                rows.append(d_option(sec, strike, opt, expiry=expiry))
                sec += 1
    rows.append(d_option(sec, 26500, "CE", expiry=WEEK2))  # no PE at 26500
    rows += [d_future(2001, MONTH), d_future(2002, WEEK1)]
    rows += [
        d_option(3000 + i, 85000 + 100 * i, "CE", expiry="2026-11-26", underlying="SENSEX", exch="BSE")
        for i in range(3)
    ]
    rows.append(D_NIFTY_INDEX)
    return load(write(tmp_path, DETAILED_HEADER, *rows))


def test_contract_lookup_by_underlying_expiry_strike_and_type(fno: instruments.InstrumentTable) -> None:
    ce = fno.contract("NIFTY", 20261201, 2600000, "CE")
    pe = fno.contract("nifty", 20261201, 2600000, "PE")
    assert (ce.option_type, ce.strike_paise, ce.expiry_yyyymmdd) == ("CE", 2600000, 20261201)
    assert pe.option_type == "PE" and pe.security_id != ce.security_id
    assert fno.contract("NIFTY", 20261229, 0, "XX").security_id == 2001
    assert fno.contract("NIFTY", 20261201, 2602500, "CE") is None
    assert fno.contract("NIFTY", 20261201, 2650000, "PE") is None
    assert fno.contract("SENSEX", 20261126, 8510000, "CE").segment == Segment.BSE_FNO
    assert fno.contract("SENSEX", 20261126, 8510000, "CE", segment=Segment.NSE_FNO) is None


def test_option_chain_orders_strikes_and_pairs_ce_with_pe(fno: instruments.InstrumentTable) -> None:
    chain = fno.option_chain("NIFTY", 20261201)
    strikes = chain.strike_values()
    assert strikes == sorted(strikes) and len(set(strikes)) == len(strikes)
    assert strikes[0] == 2570000 and strikes[-1] == 2650000
    for row in chain.strikes[:-1]:
        assert fno.get(Segment.NSE_FNO, row.ce_security_id).option_type == "CE"
        assert fno.get(Segment.NSE_FNO, row.pe_security_id).option_type == "PE"
        assert fno.get(Segment.NSE_FNO, row.ce_security_id).strike_paise == row.strike_paise
    assert chain.strikes[-1].pe_security_id == 0  # the lone CE
    assert (chain.segment, chain.lot_size_units, chain.expiry_yyyymmdd) == (Segment.NSE_FNO, 65, 20261201)
    assert fno.option_chain("NIFTY", 20300101) is None


def test_strike_step_is_the_most_common_gap(fno: instruments.InstrumentTable) -> None:
    # gaps: 100,100,50,50,50,50,100,100,(200) -> 50 and 100 both appear 4 times: the smaller wins
    assert fno.option_chain("NIFTY", 20261201).step_paise == 5000
    assert fno.option_chain("SENSEX", 20261126).step_paise == 10000


def test_atm_is_the_nearest_strike_and_a_tie_goes_up(fno: instruments.InstrumentTable) -> None:
    assert fno.atm_strike("NIFTY", 20261201, 2601900) == 2600000
    assert fno.atm_strike("NIFTY", 20261201, 2603100) == 2605000
    assert fno.atm_strike("NIFTY", 20261201, 2602500) == 2605000  # exactly halfway
    assert fno.atm_strike("NIFTY", 20261201, 2000000) == 2570000  # below the chain
    assert fno.atm_strike("NIFTY", 20261201, 9000000) == 2650000
    assert fno.atm_strike("NIFTY", 20300101, 2600000) is None


def test_select_strike_moves_whole_steps_from_atm(fno: instruments.InstrumentTable) -> None:
    up = fno.select_strike("NIFTY", 20261201, 2601900, offset=2)
    assert (up.atm_strike_paise, up.strike_paise, up.step_paise) == (2600000, 2610000, 5000)
    assert up.ce_security_id == fno.contract("NIFTY", 20261201, 2610000, "CE").security_id
    assert up.pe_security_id == fno.contract("NIFTY", 20261201, 2610000, "PE").security_id
    down = fno.select_strike("NIFTY", 20261201, 2601900, offset=-1)
    assert down.strike_paise == 2595000
    # 26000 + 3 * 50 = 26150 is not listed (the chain is 100 apart there)
    assert fno.select_strike("NIFTY", 20261201, 2601900, offset=3) is StrikeError.NOT_LISTED
    assert fno.select_strike("NIFTY", 20300101, 2601900) is StrikeError.NO_CHAIN


def test_expiries_are_sorted_and_skip_expired_ones(fno: instruments.InstrumentTable) -> None:
    assert fno.expiries("NIFTY", dt.date(2026, 11, 20)) == [20261124, 20261201, 20261229]
    assert fno.expiries("NIFTY", dt.date(2026, 11, 25)) == [20261201, 20261229]
    assert fno.expiries("NIFTY", dt.date(2026, 11, 20), kind="futures") == [20261124, 20261229]
    assert fno.nearest_expiry("NIFTY", dt.date(2026, 11, 25)) == 20261201
    assert fno.nearest_expiry("NIFTY", dt.date(2026, 12, 1)) == 20261201  # expiring today still trades
    assert fno.nearest_expiry("NIFTY", dt.date(2026, 12, 30)) is None
    assert fno.nearest_expiry("SENSEX", dt.date(2026, 11, 20)) == 20261126
    assert fno.nearest_expiry("NOSUCH", dt.date(2026, 11, 20)) is None
