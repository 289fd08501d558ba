"""Parsing a Dhan instrument master (scrip-master CSV) into the arrays of an ``InstrumentTable``.

Both published Dhan layouts and Kite's instrument dump load, told apart by the header
(DHAN_PROTOCOL.md section D, KITE_PROTOCOL.md section D):

* **compact** (``api-scrip-master.csv``, 16 ``SEM_*`` columns),
* **detailed** (``api-scrip-master-detailed.csv``, ``EXCH_ID, SEGMENT, ... SM_FREEZE_QTY``), and
* **kite** (``https://api.kite.trade/instruments``: ``instrument_token, exchange_token,
  tradingsymbol, name, last_price, expiry, strike, tick_size, lot_size, instrument_type, segment,
  exchange``).

Header names are matched case-insensitively and ignoring surrounding spaces; unused columns (and
the empty column a trailing comma makes) are ignored. The columns of the table are listed in
``engine.model.instruments``.

Parsing rules
-------------
* Prices (strike, tick) are parsed as decimal text (``decimal.Decimal``) and scaled exactly, never
  through float arithmetic: ``29150.00000`` rupees -> 2915000 paise. A value with non-zero digits
  below one paisa (``0.0025`` rupees) is not representable and the row is skipped.
* TICK_SIZE has no stated unit and the file mixes spellings: ``0.0500`` on index and futures rows,
  ``5.0000`` / ``10.0000`` on option and stock rows. No NSE/BSE instrument ticks in 0.05 paise
  and no option ticks in 5 rupees, so with ``tick_size_unit="auto"`` a value below 1 is read as
  rupees and a value of 1 or more as paise (both examples -> 5 paise). Exactly ``1.0000`` is
  read as 1 paisa (it could be 1 rupee on some MCX contracts); pass ``"paise"`` or ``"rupees"``
  to force one unit when a file is known to be uniform.
* Compact files have no underlying column: for derivatives it is the trading symbol without its
  trailing ``-<month>-FUT`` or ``-<month>-<strike>-<CE|PE>`` parts (``BAJAJ-AUTO-Nov2026-FUT`` ->
  ``BAJAJ-AUTO``); for everything else it is the trading symbol itself. The detailed file's
  UNDERLYING_SYMBOL is used when present and falls back to the same rule when blank or ``NA``.
* In derivative rows UNDERLYING_SECURITY_ID is the exchange's own index token (26000 for NIFTY),
  not the IDX_I id; it is deliberately not loaded. Join on the underlying symbol.
* Kite rows (``_kite_columns``): the security id is the ``exchange_token`` (the exchange's own
  id, which is Dhan's security id for NSE, NFO, BSE and BFO instruments; indices carry Kite's own
  number), the segment comes from Kite's ``segment`` and ``exchange`` columns (NCO and MCXSX
  instruments have no segment of ours and are skipped), and ``instrument_token`` is kept in its
  own column for the ticker. Kite does not say index or stock for a derivative: a future or
  option whose ``name`` is the trading symbol of an NSE/BSE equity is a stock derivative
  (FUTSTK/OPTSTK), any other NFO/BFO one an index derivative; MCX ones are FUTCOM/OPTFUT,
  currency ones FUTCUR/OPTCUR. Ticks are rupees. An index row's underlying is the name its
  derivatives carry (``KITE_INDEX_UNDERLYINGS``: ``NIFTY 50`` -> ``NIFTY``) and its lot 1.
* Bad rows never stop a load. Each skipped row is counted once, under the first failing reason in
  ``SkipReason`` order, in ``LoadReport.skipped``. For a duplicate (segment, security_id) the first
  row in the file wins. A missing required column is fatal (``MasterFormatError``), naming the
  column, the layout and the file.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np

from engine.model.instruments import OPTION_TYPES, build_indices, str_ops, yyyymmdd
from ipc.segments import Segment, instrument_key

__all__ = [
    "COMPACT_COLUMNS",
    "DETAILED_COLUMNS",
    "LoadReport",
    "MasterFormatError",
    "SkipReason",
    "parse_master",
]

TickSizeUnit = Literal["auto", "paise", "rupees"]
MasterLayout = Literal["compact", "detailed", "kite"]
CacheStatus = Literal[
    "hit", "written", "unwritable", "corrupt_rebuilt", "disabled", "changed_during_read"
]

DETAILED_COLUMNS: tuple[str, ...] = (
    "EXCH_ID", "SEGMENT", "SECURITY_ID", "ISIN", "INSTRUMENT", "UNDERLYING_SECURITY_ID",
    "UNDERLYING_SYMBOL", "SYMBOL_NAME", "DISPLAY_NAME", "INSTRUMENT_TYPE", "SERIES", "LOT_SIZE",
    "SM_EXPIRY_DATE", "STRIKE_PRICE", "OPTION_TYPE", "TICK_SIZE", "EXPIRY_FLAG", "BRACKET_FLAG",
    "COVER_FLAG", "ASM_GSM_FLAG", "ASM_GSM_CATEGORY", "BUY_SELL_INDICATOR", "BUY_CO_MIN_MARGIN_PER",
    "BUY_CO_SL_RANGE_MAX_PERC", "BUY_CO_SL_RANGE_MIN_PERC", "BUY_BO_MIN_MARGIN_PER",
    "BUY_BO_PROFIT_RANGE_MAX_PERC", "BUY_BO_PROFIT_RANGE_MIN_PERC", "MTF_LEVERAGE",
    "SM_UPPER_LIMIT", "SM_LOWER_LIMIT", "SM_FREEZE_QTY",
)  # fmt: skip
COMPACT_COLUMNS: tuple[str, ...] = (
    "SEM_EXM_EXCH_ID", "SEM_SEGMENT", "SEM_SMST_SECURITY_ID", "SEM_INSTRUMENT_NAME",
    "SEM_EXPIRY_CODE", "SEM_TRADING_SYMBOL", "SEM_LOT_UNITS", "SEM_CUSTOM_SYMBOL",
    "SEM_EXPIRY_DATE", "SEM_STRIKE_PRICE", "SEM_OPTION_TYPE", "SEM_TICK_SIZE", "SEM_EXPIRY_FLAG",
    "SEM_EXCH_INSTRUMENT_TYPE", "SEM_SERIES", "SM_SYMBOL_NAME",
)  # fmt: skip

KITE_COLUMNS: tuple[str, ...] = (
    "INSTRUMENT_TOKEN", "EXCHANGE_TOKEN", "TRADINGSYMBOL", "NAME", "LAST_PRICE", "EXPIRY", "STRIKE",
    "TICK_SIZE", "LOT_SIZE", "INSTRUMENT_TYPE", "SEGMENT", "EXCHANGE",
)  # fmt: skip
# Kite's index trading symbol -> the underlying name its futures and options carry.
KITE_INDEX_UNDERLYINGS: dict[str, str] = {
    "NIFTY 50": "NIFTY", "NIFTY BANK": "BANKNIFTY", "NIFTY FIN SERVICE": "FINNIFTY",
    "NIFTY MID SELECT": "MIDCPNIFTY", "NIFTY NEXT 50": "NIFTYNXT50", "SENSEX": "SENSEX", "BANKEX": "BANKEX",
}  # fmt: skip
# Kite segment (before any "-FUT" / "-OPT") -> (exchange, Dhan segment letter) of _SEGMENT_OF.
_KITE_SEGMENT_OF: dict[str, tuple[str, str]] = {
    "NSE": ("NSE", "E"), "BSE": ("BSE", "E"), "NFO": ("NSE", "D"), "BFO": ("BSE", "D"), "CDS": ("NSE", "C"),
    "BCD": ("BSE", "C"), "MCX": ("MCX", "M"),
}  # fmt: skip
_KITE_KIND: dict[str, tuple[str, str]] = {"D": ("IDX", "STK"), "M": ("COM", "COM"), "C": ("CUR", "CUR")}

# Our field -> the column that carries it, per layout. Fields in _OPTIONAL may be absent.
_FIELDS: dict[MasterLayout, dict[str, str]] = {
    "detailed": {
        "exchange": "EXCH_ID", "segment": "SEGMENT", "security_id": "SECURITY_ID",
        "instrument": "INSTRUMENT", "underlying": "UNDERLYING_SYMBOL", "symbol": "SYMBOL_NAME",
        "display_name": "DISPLAY_NAME", "lot_size": "LOT_SIZE", "expiry": "SM_EXPIRY_DATE",
        "strike": "STRIKE_PRICE", "option_type": "OPTION_TYPE", "tick_size": "TICK_SIZE",
        "expiry_flag": "EXPIRY_FLAG", "freeze_qty": "SM_FREEZE_QTY",
    },
    "compact": {
        "exchange": "SEM_EXM_EXCH_ID", "segment": "SEM_SEGMENT",
        "security_id": "SEM_SMST_SECURITY_ID", "instrument": "SEM_INSTRUMENT_NAME",
        "symbol": "SEM_TRADING_SYMBOL", "display_name": "SEM_CUSTOM_SYMBOL",
        "lot_size": "SEM_LOT_UNITS", "expiry": "SEM_EXPIRY_DATE", "strike": "SEM_STRIKE_PRICE",
        "option_type": "SEM_OPTION_TYPE", "tick_size": "SEM_TICK_SIZE",
        "expiry_flag": "SEM_EXPIRY_FLAG",
    },
    "kite": {
        "instrument_token": "INSTRUMENT_TOKEN", "security_id": "EXCHANGE_TOKEN", "symbol": "TRADINGSYMBOL",
        "name": "NAME", "expiry": "EXPIRY", "strike": "STRIKE", "tick_size": "TICK_SIZE", "lot_size": "LOT_SIZE",
        "instrument": "INSTRUMENT_TYPE", "segment": "SEGMENT", "exchange": "EXCHANGE",
    },
}  # fmt: skip
_OPTIONAL = frozenset({"display_name", "expiry_flag", "freeze_qty", "underlying"})

# (exchange, SEGMENT letter) -> feed segment name (DHAN_PROTOCOL.md D, "Mapping rows to feed
# segments").
_SEGMENT_OF: dict[tuple[str, str], Segment] = {
    ("NSE", "I"): Segment.IDX_I, ("BSE", "I"): Segment.IDX_I,
    ("NSE", "E"): Segment.NSE_EQ, ("NSE", "D"): Segment.NSE_FNO, ("NSE", "C"): Segment.NSE_CURRENCY,
    ("BSE", "E"): Segment.BSE_EQ, ("BSE", "D"): Segment.BSE_FNO, ("BSE", "C"): Segment.BSE_CURRENCY,
    ("MCX", "M"): Segment.MCX_COMM,
}  # fmt: skip

_NONE_TEXT = frozenset({"", "NA", "N/A", "-"})


class MasterFormatError(ValueError):
    """The file is not an instrument master (Dhan or Kite) this loader can read (fatal; names the file)."""


class SkipReason(str, enum.Enum):
    """Why a row was left out; a row counts under the first reason that applies, in this order."""

    MALFORMED_LINE = "malformed_line"  # more fields than the header; the CSV reader dropped it
    MISSING_ID = "missing_id"
    BAD_ID = "bad_id"  # not a whole number in 1..2**32-1
    UNKNOWN_SEGMENT = "unknown_segment"  # (exchange, segment letter) not in the mapping table
    BAD_LOT_SIZE = "bad_lot_size"  # blank, not a whole number, or < 1
    BAD_TICK_SIZE = "bad_tick_size"  # not a number, negative, or finer than one paisa
    BAD_STRIKE = "bad_strike"  # not a number, finer than one paisa, or <= 0 on a CE/PE row
    BAD_OPTION_TYPE = "bad_option_type"  # not CE, PE, XX or blank
    BAD_EXPIRY = "bad_expiry"  # not YYYY-MM-DD[ time], or a derivative without an expiry
    DUPLICATE_ID = "duplicate_id"  # (segment, security_id) seen earlier in the file


_REASONS: tuple[SkipReason, ...] = tuple(SkipReason)
_REASON_CODE = {r: i + 1 for i, r in enumerate(_REASONS)}  # 0 = row kept


class LoadReport(msgspec.Struct, frozen=True):
    """What a load did. ``skipped`` maps ``SkipReason`` values to row counts (absent = 0)."""

    path: str
    layout: MasterLayout
    rows_read: int  # data lines in the file, malformed ones included
    rows_loaded: int
    skipped: dict[str, int]
    freeze_qty_defaulted: int  # SM_FREEZE_QTY present but unreadable -> stored as 0
    tick_size_unit: TickSizeUnit
    cache: CacheStatus
    cache_path: str
    load_s: float

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())


def _read_header(src: Path) -> list[str]:
    with src.open("r", encoding="utf-8-sig", errors="replace", newline="") as f:
        line = f.readline()
    return [c.strip().strip('"').strip().upper() for c in line.rstrip("\r\n").split(",")]


def _detect_layout(src: Path, header: list[str]) -> MasterLayout:
    names = set(header)
    if "INSTRUMENT_TOKEN" in names and "EXCHANGE_TOKEN" in names:
        layout: MasterLayout = "kite"
    elif "SEM_SMST_SECURITY_ID" in names or any(n.startswith("SEM_") for n in names):
        layout = "compact"
    elif "SECURITY_ID" in names or "EXCH_ID" in names:
        layout = "detailed"
    else:
        shown = ", ".join(header[:6]) or "<empty>"
        raise MasterFormatError(
            f"{src}: not an instrument master: the header has neither SEM_SMST_SECURITY_ID "
            f"(Dhan compact), SECURITY_ID (Dhan detailed) nor INSTRUMENT_TOKEN and EXCHANGE_TOKEN (Kite); "
            f"it starts {shown}"
        )
    missing = [
        col for field, col in _FIELDS[layout].items() if field not in _OPTIONAL and col not in names
    ]
    if missing:
        raise MasterFormatError(
            f"{src}: {layout} instrument master is missing required column"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(header has {len(header)} columns)"
        )
    return layout


def _read_columns(src: Path, layout: MasterLayout) -> tuple[dict[str, np.ndarray], int, int]:
    """Needed columns as object arrays of str ('' for blank), rows read, malformed lines dropped."""
    import pandas as pd  # here, not at the top: only the process that parses a master pays for pandas
    wanted = {col: field for field, col in _FIELDS[layout].items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        frame = pd.read_csv(
            src,
            dtype=str,
            na_filter=False,
            keep_default_na=False,
            index_col=False,
            # Every column is read (no usecols): only then does the reader notice, and drop, a
            # line with more fields than the header, typically an unquoted comma in a name that
            # would shift every later column.
            encoding="utf-8-sig",
            encoding_errors="replace",
            on_bad_lines="warn",
            engine="c",
            low_memory=False,
        )
    malformed = sum(
        str(w.message).count("Skipping line")
        for w in caught
        if issubclass(w.category, pd.errors.ParserWarning)
    )
    columns: dict[str, np.ndarray] = {}
    for name in frame.columns:
        field = wanted.get(str(name).strip().strip('"').strip().upper())
        if field is not None and field not in columns:
            columns[field] = frame[name].to_numpy(dtype=object, na_value="")
    return columns, len(frame) + malformed, malformed


def _factorize(col: np.ndarray) -> tuple[np.ndarray, list[str]]:
    import pandas as pd  # here, not at the top: only the process that parses a master pays for pandas
    codes, uniques = pd.factorize(col, use_na_sentinel=False)
    return codes, [str(u).strip() for u in uniques]


def _per_unique(col: np.ndarray, fn: Callable[[str], int | None], bad: int) -> np.ndarray:
    """Apply ``fn`` once per distinct value (``None`` -> ``bad``); spread to the rows as int64."""
    codes, uniques = _factorize(col)
    values = np.fromiter(
        (bad if (v := fn(u)) is None else v for u in uniques), dtype=np.int64, count=len(uniques)
    )
    return values[codes]


def _scaled_decimal(text: str, scale: int) -> int | None:
    """``text`` x 10**scale as an exact int; None when not a finite decimal or not exact."""
    try:
        value = decimal.Decimal(text).scaleb(scale)
    except decimal.InvalidOperation:
        return None
    if not value.is_finite() or value != value.to_integral_value() or abs(value) >= _BIG:
        return None
    return int(value)


_BIG = 1 << 61  # larger magnitudes are refused (they would not fit the int64 columns)
_BAD = -(1 << 62)  # "could not parse" in int64 work arrays
_INT32_LIMIT = 1 << 31  # lot, tick and freeze columns are int32


def _parse_amount_paise(text: str) -> int | None:
    """Rupee text -> paise; '' / NA -> 0; negative (the futures -0.01 placeholder) -> 0."""
    if text.upper() in _NONE_TEXT:
        return 0
    paise = _scaled_decimal(text, 2)
    if paise is None:
        return None
    return max(paise, 0)


def _tick_parser(unit: TickSizeUnit) -> Callable[[str], int | None]:
    def parse(text: str) -> int | None:
        if text.upper() in _NONE_TEXT:
            return 0
        try:
            value = decimal.Decimal(text)
        except decimal.InvalidOperation:
            return None
        if not value.is_finite() or value < 0:
            return None
        rupees = unit == "rupees" or (unit == "auto" and value < 1)
        return _scaled_decimal(text, 2 if rupees else 0)

    return parse


def _parse_whole(text: str, *, none: int | None) -> int | None:
    """A whole number written as '65' or '65.0'; ``none`` for blank / NA; None when invalid."""
    if text.upper() in _NONE_TEXT:
        return none
    return _scaled_decimal(text, 0)


def _parse_expiry(text: str) -> int | None:
    """'2026-11-24' or '2026-11-24 14:30:00' -> 20261124; blank, NA, 0001-01-01 -> 0."""
    if text.upper() in _NONE_TEXT or text == "0":
        return 0
    head, rest = text[:10], text[10:]
    if rest and rest[0] not in " T":
        return None
    try:
        day = dt.date.fromisoformat(head)
    except ValueError:
        return None
    return 0 if day.year < 1900 else yyyymmdd(day)


def _parse_option_type(text: str) -> int | None:
    up = text.upper()
    if up in _NONE_TEXT or up == "XX":
        return 0
    if up in ("CE", "PE"):
        return OPTION_TYPES.index(up)
    return None


def _derive_underlying(symbol: str, option_code: int) -> str:
    parts = symbol.rsplit("-", 3 if option_code else 2)
    return parts[0] if len(parts) == (4 if option_code else 3) else symbol


def _to_bytes(col: np.ndarray) -> np.ndarray:
    """Object array of str -> fixed-width UTF-8 bytes, stripped."""
    try:
        out = col.astype("S")  # ASCII fast path
    except UnicodeEncodeError:
        out = np.array([s.encode("utf-8") for s in col], dtype="S")
    return str_ops.strip(out) if out.shape[0] else out


class _Fields(msgspec.Struct):
    """Every row's parsed values (before bad rows are dropped); _BAD / -1 mark parse failures."""

    security_id: np.ndarray  # int64, 0 where not ok
    id_missing: np.ndarray  # bool
    id_ok: np.ndarray  # bool
    segment: np.ndarray  # int8 feed code, -1 unknown
    exchange: np.ndarray  # object str, upper-case
    instrument: np.ndarray  # object str, upper-case
    is_deriv: np.ndarray  # bool: instrument FUT* / OPT*
    lot: np.ndarray  # int64
    tick: np.ndarray  # int64
    strike: np.ndarray  # int64
    option: np.ndarray  # int8 index into OPTION_TYPES, -1 bad
    expiry: np.ndarray  # int64 yyyymmdd, 0 none, -1 bad
    freeze: np.ndarray  # int64, 0 where unknown or unreadable
    freeze_bad: np.ndarray  # bool: present but unreadable
    instrument_token: np.ndarray  # int64 Kite instrument token, 0 for a Dhan master


def _parse_fields(cols: dict[str, np.ndarray], tick_size_unit: TickSizeUnit) -> _Fields:
    import pandas as pd  # here, not at the top: only the process that parses a master pays for pandas
    n = cols["security_id"].shape[0]
    blank = np.full(n, "", dtype=object)
    # Ids are all distinct, so they are parsed per row (as float64: exact for ids < 2**53).
    raw_id = cols["security_id"]
    id_num = np.asarray(pd.to_numeric(raw_id, errors="coerce"), dtype=np.float64)
    id_ok = np.isfinite(id_num) & (id_num >= 1) & (id_num < 2**32) & (id_num == np.floor(id_num))

    ex_codes, ex_uniques = _factorize(cols["exchange"])
    sg_codes, sg_uniques = _factorize(cols["segment"])
    seg_lut = np.full((max(len(ex_uniques), 1), max(len(sg_uniques), 1)), -1, dtype=np.int8)
    for i, ex in enumerate(ex_uniques):
        for j, sg in enumerate(sg_uniques):
            segment = _SEGMENT_OF.get((ex.upper(), sg.upper()))
            if segment is not None:
                seg_lut[i, j] = segment
    in_codes, in_uniques = _factorize(cols["instrument"])
    in_names = np.array([u.upper() for u in in_uniques] or [""], dtype=object)
    deriv_lut = np.array([nm.startswith(("FUT", "OPT")) for nm in in_names], dtype=bool)

    freeze = _per_unique(cols.get("freeze_qty", blank), lambda t: _parse_whole(t, none=0), _BAD)
    freeze_bad = (freeze < 0) | (freeze >= _INT32_LIMIT)
    token = np.zeros(n, dtype=np.int64)
    if "instrument_token" in cols:
        tok_num = np.asarray(pd.to_numeric(cols["instrument_token"], errors="coerce"), dtype=np.float64)
        tok_ok = np.isfinite(tok_num) & (tok_num >= 1) & (tok_num < 2**32) & (tok_num % 1 == 0)
        id_ok &= tok_ok  # a row the ticker cannot name is no use
        token = np.where(tok_ok, tok_num, 0).astype(np.int64)
    return _Fields(
        instrument_token=token,
        security_id=np.where(id_ok, id_num, 0).astype(np.int64),
        id_missing=np.isnan(id_num) & (raw_id == ""),
        id_ok=id_ok,
        segment=seg_lut[ex_codes, sg_codes],
        exchange=np.array([u.upper() for u in ex_uniques] or [""], dtype=object)[ex_codes],
        instrument=in_names[in_codes],
        is_deriv=deriv_lut[in_codes],
        lot=_per_unique(cols["lot_size"], lambda t: _parse_whole(t, none=None), _BAD),
        tick=_per_unique(cols["tick_size"], _tick_parser(tick_size_unit), _BAD),
        strike=_per_unique(cols["strike"], _parse_amount_paise, _BAD),
        option=_per_unique(cols["option_type"], _parse_option_type, -1).astype(np.int8),
        expiry=_per_unique(cols["expiry"], _parse_expiry, -1),
        freeze=np.where(freeze_bad, 0, freeze),
        freeze_bad=freeze_bad,
    )


def _skip_reasons(f: _Fields) -> np.ndarray:
    """Per row: 0 = keep, else the ``_REASON_CODE`` of the first ``SkipReason`` that applies."""
    reason = np.zeros(f.security_id.shape[0], dtype=np.int8)

    def flag(r: SkipReason, mask: np.ndarray) -> None:
        reason[(reason == 0) & mask] = _REASON_CODE[r]

    flag(SkipReason.MISSING_ID, f.id_missing)
    flag(SkipReason.BAD_ID, ~f.id_ok)
    flag(SkipReason.UNKNOWN_SEGMENT, f.segment < 0)
    flag(SkipReason.BAD_LOT_SIZE, (f.lot < 1) | (f.lot >= _INT32_LIMIT))
    flag(SkipReason.BAD_TICK_SIZE, (f.tick == _BAD) | (f.tick >= _INT32_LIMIT))
    flag(SkipReason.BAD_STRIKE, (f.strike == _BAD) | ((f.option > 0) & (f.strike <= 0)))
    flag(SkipReason.BAD_OPTION_TYPE, f.option < 0)
    flag(SkipReason.BAD_EXPIRY, (f.expiry < 0) | (f.is_deriv & (f.expiry == 0)))
    # Duplicates among otherwise good rows: a stable sort keeps the first row of the file first.
    id_key = instrument_key(f.segment.astype(np.int64), f.security_id)
    ok = np.flatnonzero(reason == 0)
    order = ok[np.argsort(id_key[ok], kind="stable")]
    dup = np.zeros(order.shape[0], dtype=bool)
    dup[1:] = id_key[order[1:]] == id_key[order[:-1]]
    reason[order[dup]] = _REASON_CODE[SkipReason.DUPLICATE_ID]
    return reason


def _kept_arrays(
    cols: dict[str, np.ndarray], f: _Fields, keep: np.ndarray
) -> dict[str, np.ndarray]:
    """The table's columns (kept rows only) and vocabularies, then its indices."""
    n_kept = int(keep.sum())
    blank = np.full(n_kept, "", dtype=object)
    symbol_text = cols["symbol"][keep]
    underlying = _underlyings(
        cols["underlying"][keep] if "underlying" in cols else blank,
        symbol_text,
        f.option[keep],
        f.is_deriv[keep],
    )
    uc_codes, uc_uniques = _factorize(underlying)
    ex_codes, ex_uniques = _factorize(f.exchange[keep])
    in_codes, in_uniques = _factorize(f.instrument[keep])
    raw_flags = cols["expiry_flag"][keep] if "expiry_flag" in cols else blank
    flags = _per_unique(raw_flags, _flag_code, 0)
    symbol = _to_bytes(symbol_text)
    display = _to_bytes(cols["display_name"][keep]) if "display_name" in cols else symbol.copy()
    arrays: dict[str, np.ndarray] = {
        "security_id": f.security_id[keep],
        "segment": f.segment[keep],
        "exchange_code": ex_codes.astype(np.int16),
        "symbol": symbol,
        "display_name": display,
        "underlying_code": uc_codes.astype(np.int32),
        "instrument_code": in_codes.astype(np.int16),
        "expiry_yyyymmdd": f.expiry[keep].astype(np.int32),
        "strike_paise": f.strike[keep],
        "option_code": f.option[keep],
        "lot_size_units": f.lot[keep].astype(np.int32),
        "tick_paise": f.tick[keep].astype(np.int32),
        "freeze_qty_units": f.freeze[keep].astype(np.int32),
        "expiry_flag": flags.astype(np.uint8).view("S1"),
        "instrument_token": f.instrument_token[keep],
        "exchange_vocab": np.array(ex_uniques, dtype="U"),
        "instrument_vocab": np.array(in_uniques, dtype="U"),
        "underlying_vocab": np.array(uc_uniques, dtype="U"),
    }
    arrays.update(build_indices(arrays, f.is_deriv[keep]))
    return arrays


def parse_master(src: Path, tick_size_unit: TickSizeUnit) -> tuple[dict[str, np.ndarray], LoadReport]:
    """The table's arrays (columns, vocabularies, indices) and the report of a parse (cache fields
    blank). Raises ``MasterFormatError`` for a header this parser cannot read, ``OSError``."""
    header = _read_header(src)
    layout = _detect_layout(src, header)
    cols, rows_read, malformed = _read_columns(src, layout)
    if layout == "kite":
        cols = _kite_columns(cols)
        tick_size_unit = "rupees"  # Kite's tick_size is always rupees (0.05)
    fields = _parse_fields(cols, tick_size_unit)
    reason = _skip_reasons(fields)
    keep = reason == 0
    counts = np.bincount(reason, minlength=len(_REASONS) + 1)
    skipped = {r.value: int(counts[_REASON_CODE[r]]) for r in _REASONS if counts[_REASON_CODE[r]]}
    if malformed:
        skipped[SkipReason.MALFORMED_LINE.value] = malformed
    report = LoadReport(
        path=str(src),
        layout=layout,
        rows_read=rows_read,
        rows_loaded=int(keep.sum()),
        skipped=skipped,
        freeze_qty_defaulted=int((fields.freeze_bad & keep).sum()),
        tick_size_unit=tick_size_unit,
        cache="disabled",
        cache_path="",
        load_s=0.0,
    )
    return _kept_arrays(cols, fields, keep), report


def _flag_code(text: str) -> int:
    """Expiry flag -> its ASCII code, 0 for none (N, NA, blank); other letters kept as given."""
    up = text.upper()
    if up in _NONE_TEXT or up == "N" or len(up) != 1:
        return 0
    return ord(up) if up.isalpha() and up.isascii() else 0


def _underlyings(
    raw: np.ndarray, symbol: np.ndarray, option_code: np.ndarray, is_deriv: np.ndarray
) -> np.ndarray:
    """Upper-case underlying per row: the column's value, or derived from the trading symbol
    where the column is blank / NA / absent (always, for the compact layout)."""
    codes, uniques = _factorize(raw)
    names = np.array([u.upper() for u in uniques] or [""], dtype=object)
    out = names[codes] if raw.shape[0] else raw.copy()
    derive = np.array([u.upper() in _NONE_TEXT for u in uniques] or [True], dtype=bool)[codes]
    plain = np.flatnonzero(derive & ~is_deriv)
    out[plain] = [s.strip().upper() for s in symbol[plain]]
    for i in np.flatnonzero(derive & is_deriv).tolist():
        out[i] = _derive_underlying(symbol[i].strip(), int(option_code[i])).upper()
    return out


def _kite_columns(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Kite's columns rewritten as the Dhan fields the parser reads (module docstring)."""
    n = cols["security_id"].shape[0]
    symbol = np.array([t.strip() for t in cols["symbol"]], dtype=object)
    name = np.array([t.strip().upper() for t in cols["name"]], dtype=object)
    kind = np.array([t.strip().upper() for t in cols["instrument"]], dtype=object)
    kite_seg = np.array([t.strip().upper().partition("-")[0] for t in cols["segment"]], dtype=object)
    exchange = np.array([t.strip().upper() for t in cols["exchange"]], dtype=object)
    letter = np.full(n, "", dtype=object)
    for i in range(n):
        if kite_seg[i] == "INDICES":
            letter[i] = "I"
        else:
            exchange[i], letter[i] = _KITE_SEGMENT_OF.get(kite_seg[i], (exchange[i], "?"))
    equities = {s.upper() for s, k, lt in zip(symbol, kind, letter) if lt == "E" and k == "EQ"}
    instrument = np.full(n, "", dtype=object)
    option = np.full(n, "XX", dtype=object)
    underlying = name.copy()
    display = np.where(name != "", cols["name"], symbol).astype(object)
    lot = cols["lot_size"].copy()
    for i in range(n):
        k, lt = kind[i], letter[i]
        if lt == "I":
            instrument[i] = "INDEX"
            underlying[i] = KITE_INDEX_UNDERLYINGS.get(symbol[i].upper(), symbol[i].upper())
            if lot[i].strip() in ("", "0"):
                lot[i] = "1"  # an index is not traded; Dhan's masters give it a lot of 1
        elif lt == "E":
            instrument[i] = "EQUITY" if k == "EQ" else k
            underlying[i] = symbol[i].upper()
        elif k in ("FUT", "CE", "PE") and lt in _KITE_KIND:
            idx, stk = _KITE_KIND[lt]
            instrument[i] = ("FUT" if k == "FUT" else "OPT") + (stk if name[i] in equities else idx)
            if lt == "M" and k != "FUT":
                instrument[i] = "OPTFUT"
            option[i] = k if k != "FUT" else "XX"
        else:
            instrument[i] = k
    return {**cols, "exchange": exchange, "segment": letter, "instrument": instrument, "option_type": option,
            "underlying": underlying, "display_name": display, "lot_size": lot, "symbol": symbol}
