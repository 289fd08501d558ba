"""Dhan instrument master (scrip-master CSV) -> a compact, typed, indexed table.

Both published layouts load, told apart by the header (DHAN_PROTOCOL.md section D):

* **compact** (``api-scrip-master.csv``, 16 ``SEM_*`` columns), and
* **detailed** (``api-scrip-master-detailed.csv``, ``EXCH_ID, SEGMENT, ... SM_FREEZE_QTY``).

Header names are matched case-insensitively and ignoring surrounding spaces; unused columns (and
the empty column a trailing comma makes) are ignored.

The table is a set of numpy columns (one row per instrument), never a list of dicts, plus sorted
index arrays so that every lookup is a binary search, not a scan:

=================  ==========================================================================
column             meaning
=================  ==========================================================================
security_id        Dhan security id (int; unique per segment, not across segments)
segment            Dhan feed segment code (``ipc.segments.Segment``), from (exchange, letter)
exchange           NSE / BSE / MCX
symbol             trading symbol (detailed SYMBOL_NAME, compact SEM_TRADING_SYMBOL)
display_name       detailed DISPLAY_NAME, compact SEM_CUSTOM_SYMBOL
underlying         underlying symbol (detailed UNDERLYING_SYMBOL; compact: see below)
instrument         INDEX, EQUITY, FUTIDX, OPTIDX, FUTSTK, OPTSTK, FUTCOM, OPTFUT, ...
expiry_yyyymmdd    expiry date as the integer yyyymmdd (20261124); 0 when none. Chosen over
                   days-since-epoch because it reads in a debugger and still sorts and compares
strike_paise       strike in paise; 0 when none (futures carry -0.01 in the file)
option_type        CE / PE / XX
lot_size_units     lot size in units
tick_paise         tick size in paise; 0 when the file gives none (indices often carry 0)
freeze_qty_units   exchange freeze quantity in units; 0 when unknown (compact has no column)
expiry_flag        W (weekly) / M (monthly) / "" when none (the file says N, NA or nothing);
                   any other single letter is kept as given
=================  ==========================================================================

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
* Bad rows never stop a load. Each skipped row is counted once, under the first failing reason in
  ``SkipReason`` order, in ``LoadReport.skipped``. For a duplicate (segment, security_id) the first
  row in the file wins. A missing required column is fatal (``MasterFormatError``), naming the
  column, the layout and the file.

Caching
-------
``load_instruments`` writes the parsed table (columns and indices) to
``<cache_dir>/instruments-<csv stem>-<key>.npz``, where the key hashes the file size, mtime_ns, the
first and last 64 KiB of the file, the tick-size option and the cache layout version. Reloading an
unchanged file reads only the npz; a changed file misses and is parsed again, and older caches of
the same CSV are deleted. A cache that cannot be read or written is reported, never fatal.

CLI: ``python -m engine.model.instruments search TEXT --master PATH [--limit N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import enum
import hashlib
import os
import sys
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np
import pandas as pd

from engine.files import replacing
from ipc.segments import SECURITY_ID_MASK, Segment, instrument_key, segment_label

__all__ = [
    "COMPACT_COLUMNS",
    "DETAILED_COLUMNS",
    "ChainStrike",
    "Instrument",
    "InstrumentTable",
    "LoadReport",
    "MasterFormatError",
    "OptionChain",
    "SkipReason",
    "StrikeError",
    "StrikeSelection",
    "date_from_yyyymmdd",
    "load_instruments",
    "tick_sizes",
    "yyyymmdd",
]

TickSizeUnit = Literal["auto", "paise", "rupees"]
MasterLayout = Literal["compact", "detailed"]
OptionType = Literal["CE", "PE", "XX"]
ExpiryKind = Literal["options", "futures", "all"]
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

_OPTION_TYPES: tuple[OptionType, ...] = ("XX", "CE", "PE")  # code = index
# Vectorised string ops: numpy.strings (numpy >= 2), same functions as numpy.char on 1.26.
_str_ops = getattr(np, "strings", np.char)
_NONE_TEXT = frozenset({"", "NA", "N/A", "-"})
_CACHE_VERSION = 1  # bump when the parse rules or the cached array layout change
_CACHE_PREFIX = "instruments-"
_HASH_BYTES = 65536
# Group key of a derivative: underlying code << 36 | segment << 32 | expiry yyyymmdd.
_UC_SHIFT = 36
_SEG_SHIFT = 32


class MasterFormatError(ValueError):
    """The file is not a Dhan instrument master this loader can read (fatal; names the file)."""


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


class Instrument(msgspec.Struct, frozen=True, gc=False):
    """One row of the master: prices in paise, quantities in units, expiry yyyymmdd (0 = none)."""

    segment: int
    security_id: int
    exchange: str
    symbol: str
    display_name: str
    underlying: str
    instrument: str
    expiry_yyyymmdd: int
    strike_paise: int
    option_type: OptionType
    lot_size_units: int
    tick_paise: int
    freeze_qty_units: int
    expiry_flag: str

    @property
    def expiry_date(self) -> dt.date | None:
        return date_from_yyyymmdd(self.expiry_yyyymmdd) if self.expiry_yyyymmdd else None


class ChainStrike(msgspec.Struct, frozen=True, gc=False):
    """One strike of a chain; a security id is 0 when that side is not listed."""

    strike_paise: int
    ce_security_id: int
    pe_security_id: int


class OptionChain(msgspec.Struct, frozen=True):
    """Options of one underlying, segment and expiry; strikes strictly ascending.

    ``step_paise`` is the most common gap between neighbouring strikes (the smaller gap on a tie;
    0 for a one-strike chain): chains are often 50 apart near the money and 100 further out.
    """

    underlying: str
    segment: int
    expiry_yyyymmdd: int
    lot_size_units: int
    step_paise: int
    strikes: tuple[ChainStrike, ...]

    def strike_values(self) -> list[int]:
        return [s.strike_paise for s in self.strikes]


class StrikeError(str, enum.Enum):
    NO_CHAIN = "no_chain"  # no options listed for the underlying / segment / expiry
    NOT_LISTED = "strike_not_listed"  # ATM + offset * step is not a listed strike


class StrikeSelection(msgspec.Struct, frozen=True, gc=False):
    strike_paise: int
    atm_strike_paise: int
    step_paise: int
    offset: int
    ce_security_id: int  # 0 when not listed
    pe_security_id: int  # 0 when not listed


def yyyymmdd(day: dt.date) -> int:
    """``date(2026, 11, 24)`` -> ``20261124``."""
    return day.year * 10000 + day.month * 100 + day.day


def date_from_yyyymmdd(value: int) -> dt.date:
    """``20261124`` -> ``date(2026, 11, 24)``; raises ValueError for 0 or an impossible date."""
    return dt.date(value // 10000, value // 100 % 100, value % 100)


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------


class InstrumentTable:
    """The loaded master: numpy columns plus sorted indices. Read-only after construction.

    Built by ``load_instruments``; ``arrays`` is the dict of columns and indices that the cache
    stores. Lookups are binary searches over the indices (microseconds), except ``search``, which
    is a vectorised text scan meant for people (tens of milliseconds).
    """

    def __init__(self, arrays: dict[str, np.ndarray], report: LoadReport) -> None:
        self.arrays = arrays
        self.report = report
        a = arrays
        self._security_id = a["security_id"]
        self._segment = a["segment"]
        self._exchange_code = a["exchange_code"]
        self._symbol = a["symbol"]
        self._display = a["display_name"]
        self._underlying_code = a["underlying_code"]
        self._instrument_code = a["instrument_code"]
        self._expiry = a["expiry_yyyymmdd"]
        self._strike = a["strike_paise"]
        self._option = a["option_code"]
        self._lot = a["lot_size_units"]
        self._tick = a["tick_paise"]
        self._freeze = a["freeze_qty_units"]
        self._flag = a["expiry_flag"]
        self._exchanges: list[str] = a["exchange_vocab"].tolist()
        self._instruments: list[str] = a["instrument_vocab"].tolist()
        self._underlyings: list[str] = a["underlying_vocab"].tolist()
        self._underlying_index = {name: code for code, name in enumerate(self._underlyings)}
        self._id_keys = a["id_keys"]
        self._id_rows = a["id_rows"]
        self._sym_keys = a["symbol_keys"]
        self._sym_rows = a["symbol_rows"]
        self._drv_keys = a["deriv_keys"]
        self._drv_rows = a["deriv_rows"]
        self._drv_strike = self._strike[self._drv_rows]
        self._drv_option = self._option[self._drv_rows]
        self._display_upper: np.ndarray | None = None  # built on the first search

    def __len__(self) -> int:
        return int(self._security_id.shape[0])

    def __repr__(self) -> str:
        return f"InstrumentTable({len(self)} rows from {self.report.path!r})"

    # -- rows -------------------------------------------------------------------------------

    def row(self, i: int) -> Instrument:
        """The instrument at row ``i`` (0 <= i < len(self))."""
        return Instrument(
            segment=int(self._segment[i]),
            security_id=int(self._security_id[i]),
            exchange=self._exchanges[self._exchange_code[i]],
            symbol=self._symbol[i].decode("utf-8", "replace"),
            display_name=self._display[i].decode("utf-8", "replace"),
            underlying=self._underlyings[self._underlying_code[i]],
            instrument=self._instruments[self._instrument_code[i]],
            expiry_yyyymmdd=int(self._expiry[i]),
            strike_paise=int(self._strike[i]),
            option_type=_OPTION_TYPES[self._option[i]],
            lot_size_units=int(self._lot[i]),
            tick_paise=int(self._tick[i]),
            freeze_qty_units=int(self._freeze[i]),
            expiry_flag=self._flag[i].decode("ascii", "replace"),
        )

    def __iter__(self) -> Iterator[Instrument]:
        for i in range(len(self)):
            yield self.row(i)

    # -- by id ------------------------------------------------------------------------------

    def _row_of(self, segment: int, security_id: int) -> int:
        if not (0 <= segment < 16 and 0 < security_id <= SECURITY_ID_MASK):
            return -1
        key = instrument_key(segment, security_id)
        pos = int(np.searchsorted(self._id_keys, key))
        if pos < self._id_keys.shape[0] and int(self._id_keys[pos]) == key:
            return int(self._id_rows[pos])
        return -1

    def get(self, segment: int, security_id: int) -> Instrument | None:
        """The instrument with this Dhan segment code and security id, or None."""
        i = self._row_of(segment, security_id)
        return self.row(i) if i >= 0 else None

    def tick_paise(self, segment: int, security_id: int) -> int | None:
        """Tick size in paise of one instrument (0 = the file gives none); None if unknown id."""
        i = self._row_of(segment, security_id)
        return int(self._tick[i]) if i >= 0 else None

    # -- by symbol --------------------------------------------------------------------------

    def symbol_matches(self, symbol: str, segment: int | None = None) -> list[Instrument]:
        """Every row whose trading symbol equals ``symbol`` (case-insensitive), optionally in one
        segment; ordered by segment code, then security id. Dhan trading symbols are not
        guaranteed unique (weeklies of one month may share one): use ``contract`` for
        derivatives."""
        key = symbol.strip().upper().encode("utf-8")
        if not key or len(key) > self._sym_keys.dtype.itemsize:
            return []  # longer than every symbol (and would make numpy widen the whole index)
        lo = int(np.searchsorted(self._sym_keys, key, "left"))
        hi = int(np.searchsorted(self._sym_keys, key, "right"))
        rows = self._sym_rows[lo:hi]
        if segment is not None:
            rows = rows[self._segment[rows] == segment]
        rows = rows[np.lexsort((self._security_id[rows], self._segment[rows]))]
        return [self.row(int(i)) for i in rows]

    def by_symbol(self, symbol: str, segment: int | None = None) -> Instrument | None:
        """The instrument with this trading symbol (case-insensitive). When several segments list
        the symbol and none is given, the lowest segment code wins: IDX_I, then NSE_EQ, NSE_FNO,
        ... so NSE is preferred to BSE."""
        found = self.symbol_matches(symbol, segment)
        return found[0] if found else None

    def spot(self, underlying: str) -> Instrument | None:
        """The instrument an underlying's derivatives are priced from: its IDX_I index row
        (INSTRUMENT=INDEX, e.g. NIFTY -> 13), else its equity (NSE before BSE)."""
        for inst in self.symbol_matches(underlying):
            is_index = inst.instrument == "INDEX" and inst.segment == Segment.IDX_I
            if is_index or inst.instrument == "EQUITY":
                return inst
        return None

    # -- derivatives ------------------------------------------------------------------------

    def _underlying_code_of(self, underlying: str) -> int:
        return self._underlying_index.get(underlying.strip().upper(), -1)

    def _span(self, lo_key: int, hi_key: int) -> tuple[int, int]:
        """Positions in the derivative index with lo_key <= key < hi_key."""
        lo = int(np.searchsorted(self._drv_keys, lo_key, "left"))
        hi = int(np.searchsorted(self._drv_keys, hi_key, "left"))
        return lo, hi

    def _underlying_span(self, uc: int) -> tuple[int, int]:
        return self._span(uc << _UC_SHIFT, (uc + 1) << _UC_SHIFT)

    def _resolve_segment(self, uc: int, segment: int | None, kind: ExpiryKind = "all") -> int:
        """The segment to use for an underlying: as given, else the lowest segment code that
        lists a derivative of ``kind`` for it (NSE_FNO before BSE_FNO); -1 if none."""
        if segment is not None:
            return segment if 0 <= segment < 16 else -1
        lo, hi = self._underlying_span(uc)
        keys = self._drv_keys[lo:hi]
        if kind != "all":
            keys = keys[self._kind_mask(self._drv_option[lo:hi], kind)]
        if keys.shape[0] == 0:
            return -1
        return int(((keys >> _SEG_SHIFT) & 0xF).min())

    @staticmethod
    def _kind_mask(option_codes: np.ndarray, kind: ExpiryKind) -> np.ndarray:
        if kind == "options":
            return option_codes != 0
        if kind == "futures":
            return option_codes == 0
        return np.ones(option_codes.shape, dtype=bool)

    def expiries(
        self,
        underlying: str,
        today: dt.date,
        *,
        segment: int | None = None,
        kind: ExpiryKind = "options",
    ) -> list[int]:
        """Expiries (yyyymmdd, ascending) of an underlying's options / futures that have not
        expired on ``today``: a contract expiring today is still listed (it trades until the
        close). Without ``segment`` the lowest segment code listing that kind is used."""
        uc = self._underlying_code_of(underlying)
        if uc < 0:
            return []
        seg = self._resolve_segment(uc, segment, kind)
        if seg < 0:
            return []
        base = (uc << _UC_SHIFT) | (seg << _SEG_SHIFT)
        lo, hi = self._span(base | yyyymmdd(today), base | 0xFFFFFFFF)
        keys = self._drv_keys[lo:hi][self._kind_mask(self._drv_option[lo:hi], kind)]
        return [int(k) for k in np.unique(keys & 0xFFFFFFFF)]

    def nearest_expiry(
        self,
        underlying: str,
        today: dt.date,
        *,
        segment: int | None = None,
        kind: ExpiryKind = "options",
    ) -> int | None:
        """The first expiry (yyyymmdd) on or after ``today``, or None."""
        found = self.expiries(underlying, today, segment=segment, kind=kind)
        return found[0] if found else None

    def _group(
        self, underlying: str, expiry_yyyymmdd: int, segment: int | None
    ) -> tuple[int, int, int]:
        """(lo, hi, segment) of one (underlying, segment, expiry) group in the derivative index."""
        uc = self._underlying_code_of(underlying)
        bad_segment = segment is not None and not 0 <= segment < 16
        if uc < 0 or bad_segment or not 0 < expiry_yyyymmdd < 1 << 32:
            return 0, 0, -1
        if segment is None:
            lo, hi = self._underlying_span(uc)
            keys = self._drv_keys[lo:hi]
            keys = keys[(keys & 0xFFFFFFFF) == expiry_yyyymmdd]
            if keys.shape[0] == 0:
                return 0, 0, -1
            segment = int(((keys >> _SEG_SHIFT) & 0xF).min())
        key = (uc << _UC_SHIFT) | (segment << _SEG_SHIFT) | expiry_yyyymmdd
        lo, hi = self._span(key, key + 1)
        return lo, hi, segment

    def contract(
        self,
        underlying: str,
        expiry_yyyymmdd: int,
        strike_paise: int,
        option_type: OptionType,
        *,
        segment: int | None = None,
    ) -> Instrument | None:
        """The derivative with these terms (a future: ``strike_paise=0, option_type="XX"``).
        Without ``segment`` the lowest segment code listing that expiry is used."""
        if option_type not in _OPTION_TYPES:
            return None
        lo, hi, _ = self._group(underlying, expiry_yyyymmdd, segment)
        strikes = self._drv_strike[lo:hi]
        a = lo + int(np.searchsorted(strikes, strike_paise, "left"))
        b = lo + int(np.searchsorted(strikes, strike_paise, "right"))
        code = _OPTION_TYPES.index(option_type)
        for pos in range(a, b):
            if self._drv_option[pos] == code:
                return self.row(int(self._drv_rows[pos]))
        return None

    def option_chain(
        self, underlying: str, expiry_yyyymmdd: int, *, segment: int | None = None
    ) -> OptionChain | None:
        """CE and PE security ids per strike, strikes ascending; None when nothing is listed."""
        lo, hi, seg = self._group(underlying, expiry_yyyymmdd, segment)
        opt = self._drv_option[lo:hi]
        keep = opt != 0
        if not keep.any():
            return None
        rows = self._drv_rows[lo:hi][keep]
        strikes = self._drv_strike[lo:hi][keep]
        opt = opt[keep]
        uniq, first = np.unique(strikes, return_index=True)
        ce = np.zeros(uniq.shape[0], dtype=np.int64)
        pe = np.zeros(uniq.shape[0], dtype=np.int64)
        slot = np.searchsorted(uniq, strikes)
        ids = self._security_id[rows]
        # Reversed so that, for a duplicated contract, the first row in the index wins.
        ce[slot[opt == 1][::-1]] = ids[opt == 1][::-1]
        pe[slot[opt == 2][::-1]] = ids[opt == 2][::-1]
        gaps = np.diff(uniq)
        step = 0
        if gaps.shape[0]:
            values, counts = np.unique(gaps, return_counts=True)
            step = int(values[int(np.argmax(counts))])  # argmax takes the first (smallest) tie
        return OptionChain(
            underlying=self._underlyings[self._underlying_code[rows[0]]],
            segment=seg,
            expiry_yyyymmdd=expiry_yyyymmdd,
            lot_size_units=int(self._lot[rows[first[0]]]),
            step_paise=step,
            strikes=tuple(
                ChainStrike(strike_paise=int(s), ce_security_id=int(c), pe_security_id=int(p))
                for s, c, p in zip(uniq.tolist(), ce.tolist(), pe.tolist(), strict=True)
            ),
        )

    def atm_strike(
        self, underlying: str, expiry_yyyymmdd: int, spot_paise: int, *, segment: int | None = None
    ) -> int | None:
        """The listed strike nearest to ``spot_paise``; exactly halfway between two strikes the
        higher one wins (round half up, the usual ATM convention). None when no chain."""
        chain = self.option_chain(underlying, expiry_yyyymmdd, segment=segment)
        return None if chain is None else _nearest_strike(chain.strike_values(), spot_paise)

    def select_strike(
        self,
        underlying: str,
        expiry_yyyymmdd: int,
        spot_paise: int,
        offset: int = 0,
        *,
        segment: int | None = None,
    ) -> StrikeSelection | StrikeError:
        """The strike ``offset`` chain steps from ATM (``+n`` higher strikes, ``-n`` lower), with
        its CE and PE ids. The step is the chain's ``step_paise``; if ATM + offset * step is not
        listed the answer is ``StrikeError.NOT_LISTED`` (never a silently different strike)."""
        chain = self.option_chain(underlying, expiry_yyyymmdd, segment=segment)
        if chain is None:
            return StrikeError.NO_CHAIN
        values = chain.strike_values()
        atm = _nearest_strike(values, spot_paise)
        target = atm + offset * chain.step_paise
        pos = int(np.searchsorted(values, target))
        if (offset and not chain.step_paise) or pos >= len(values) or values[pos] != target:
            return StrikeError.NOT_LISTED
        hit = chain.strikes[pos]
        return StrikeSelection(
            strike_paise=target,
            atm_strike_paise=atm,
            step_paise=chain.step_paise,
            offset=offset,
            ce_security_id=hit.ce_security_id,
            pe_security_id=hit.pe_security_id,
        )

    # -- search -----------------------------------------------------------------------------

    def search(self, text: str, limit: int = 20) -> list[Instrument]:
        """Instruments whose symbol or display name contains every word of ``text``
        (case-insensitive for ASCII letters). Exact symbol matches come first, then symbols starting with the first
        word, then the rest; within a rank by segment, expiry, strike, option type, symbol."""
        words = [w.encode("utf-8") for w in text.upper().split()]
        if not words or limit <= 0:
            return []
        if self._display_upper is None:
            self._display_upper = _str_ops.upper(self._display)
        sym_upper = self._sym_keys  # sorted upper-case symbols; row ids in _sym_rows
        disp_upper = self._display_upper[self._sym_rows]
        hit = np.ones(sym_upper.shape[0], dtype=bool)
        for w in words:
            hit &= (_str_ops.find(sym_upper, w) >= 0) | (_str_ops.find(disp_upper, w) >= 0)
        pos = np.flatnonzero(hit)
        if pos.shape[0] == 0:
            return []
        joined = b" ".join(words)
        prefix = _str_ops.startswith(sym_upper[pos], words[0])
        rank = np.where(sym_upper[pos] == joined, 0, np.where(prefix, 1, 2))
        rows = self._sym_rows[pos]
        keys = (self._option[rows], self._strike[rows], self._expiry[rows], self._segment[rows])
        order = np.lexsort((pos, *keys, rank))
        return [self.row(int(rows[i])) for i in order[:limit]]


def _nearest_strike(values: Sequence[int], spot_paise: int) -> int:
    """Nearest value in ascending ``values``; a tie goes to the higher value."""
    pos = int(np.searchsorted(values, spot_paise, "left"))
    if pos == 0:
        return int(values[0])
    if pos >= len(values):
        return int(values[-1])
    below, above = int(values[pos - 1]), int(values[pos])
    return above if above - spot_paise <= spot_paise - below else below


def tick_sizes(table: InstrumentTable) -> dict[tuple[int, int], int]:
    """``(segment, security_id) -> tick_paise`` for every instrument with a tick (> 0).

    Instruments whose file gives no tick (indices often carry 0) are left out, so the caller's
    own default applies to them instead of a division by zero.
    """
    a = table.arrays
    keep = a["tick_paise"] > 0
    segs = a["segment"][keep].tolist()
    ids = a["security_id"][keep].tolist()
    ticks = a["tick_paise"][keep].tolist()
    return dict(zip(zip(segs, ids, strict=True), ticks, strict=True))


# --------------------------------------------------------------------------------------------
# Loading and caching
# --------------------------------------------------------------------------------------------


def load_instruments(
    path: str | os.PathLike[str],
    *,
    tick_size_unit: TickSizeUnit = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> InstrumentTable:
    """Load a Dhan instrument master CSV (compact or detailed, detected from the header).

    ``cache_dir`` defaults to the CSV's own directory. Raises ``MasterFormatError`` when the
    header lacks a required column or is not a Dhan master, ``OSError`` when the CSV cannot be
    read, ``ValueError`` for an unknown ``tick_size_unit``. Bad rows and cache problems are
    reported in ``table.report``, never raised.
    """
    if tick_size_unit not in ("auto", "paise", "rupees"):
        raise ValueError(
            f"tick_size_unit must be 'auto', 'paise' or 'rupees', not {tick_size_unit!r}"
        )
    started = time.perf_counter()
    src = Path(path)
    if not use_cache:
        arrays, report = _parse(src, tick_size_unit)
        return InstrumentTable(arrays, _with(report, "disabled", "", started))

    cdir = Path(cache_dir) if cache_dir is not None else src.parent
    key = _cache_key(src, tick_size_unit)
    cache_path = cdir / f"{_CACHE_PREFIX}{src.stem}-{key}.npz"
    status: CacheStatus = "written"
    if cache_path.exists():
        loaded = _read_cache(cache_path)
        if loaded is not None:
            arrays, report = loaded
            return InstrumentTable(arrays, _with(report, "hit", str(cache_path), started))
        status = "corrupt_rebuilt"
    arrays, report = _parse(src, tick_size_unit)
    if _cache_key(src, tick_size_unit) != key:
        status = "changed_during_read"  # do not file new content under the old key
    elif not _write_cache(cache_path, arrays, report, src.stem):
        status = "unwritable"
    return InstrumentTable(arrays, _with(report, status, str(cache_path), started))


def _with(report: LoadReport, cache: CacheStatus, cache_path: str, started: float) -> LoadReport:
    return msgspec.structs.replace(
        report, cache=cache, cache_path=cache_path, load_s=time.perf_counter() - started
    )


def _cache_key(src: Path, tick_size_unit: TickSizeUnit) -> str:
    st = src.stat()
    h = hashlib.blake2b(digest_size=10)
    h.update(f"{_CACHE_VERSION}|{st.st_size}|{st.st_mtime_ns}|{tick_size_unit}|".encode())
    with src.open("rb") as f:
        h.update(f.read(_HASH_BYTES))
        if st.st_size > _HASH_BYTES:
            f.seek(max(_HASH_BYTES, st.st_size - _HASH_BYTES))
            h.update(f.read(_HASH_BYTES))
    return h.hexdigest()


def _read_cache(cache_path: Path) -> tuple[dict[str, np.ndarray], LoadReport] | None:
    try:
        with np.load(cache_path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        report = msgspec.json.decode(arrays.pop("_report").tobytes(), type=LoadReport)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, msgspec.DecodeError):
        return None
    if not _REQUIRED_ARRAYS <= arrays.keys():
        return None
    return arrays, report


def _write_cache(
    cache_path: Path, arrays: dict[str, np.ndarray], report: LoadReport, stem: str
) -> bool:
    """Write atomically (temp file + rename), then delete older caches of the same CSV."""
    payload = dict(arrays)
    payload["_report"] = np.frombuffer(msgspec.json.encode(report), dtype=np.uint8)
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(cache_path, durable=False, mode=0o600) as f:  # a cache: rebuilt if lost
            np.savez(f, **payload)
        for old in cache_path.parent.glob(f"{_CACHE_PREFIX}*.npz"):
            # The key is hex (no dash), so this recovers the stem even when it contains dashes.
            old_stem = old.name[len(_CACHE_PREFIX) : -len(".npz")].rpartition("-")[0]
            if old_stem == stem and old != cache_path:
                old.unlink(missing_ok=True)
    except OSError:
        return False
    return True


# -- parsing ---------------------------------------------------------------------------------


def _read_header(src: Path) -> list[str]:
    with src.open("r", encoding="utf-8-sig", errors="replace", newline="") as f:
        line = f.readline()
    return [c.strip().strip('"').strip().upper() for c in line.rstrip("\r\n").split(",")]


def _detect_layout(src: Path, header: list[str]) -> MasterLayout:
    names = set(header)
    if "SEM_SMST_SECURITY_ID" in names or any(n.startswith("SEM_") for n in names):
        layout: MasterLayout = "compact"
    elif "SECURITY_ID" in names or "EXCH_ID" in names:
        layout = "detailed"
    else:
        shown = ", ".join(header[:6]) or "<empty>"
        raise MasterFormatError(
            f"{src}: not a Dhan instrument master: the header has neither SEM_SMST_SECURITY_ID "
            f"(compact) nor SECURITY_ID (detailed); it starts {shown}"
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
        return _OPTION_TYPES.index(up)
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
    return _str_ops.strip(out) if out.shape[0] else out


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
    option: np.ndarray  # int8 index into _OPTION_TYPES, -1 bad
    expiry: np.ndarray  # int64 yyyymmdd, 0 none, -1 bad
    freeze: np.ndarray  # int64, 0 where unknown or unreadable
    freeze_bad: np.ndarray  # bool: present but unreadable


def _parse_fields(cols: dict[str, np.ndarray], tick_size_unit: TickSizeUnit) -> _Fields:
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
    return _Fields(
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
        "exchange_vocab": np.array(ex_uniques, dtype="U"),
        "instrument_vocab": np.array(in_uniques, dtype="U"),
        "underlying_vocab": np.array(uc_uniques, dtype="U"),
    }
    arrays.update(_build_indices(arrays, f.is_deriv[keep]))
    return arrays


def _parse(src: Path, tick_size_unit: TickSizeUnit) -> tuple[dict[str, np.ndarray], LoadReport]:
    header = _read_header(src)
    layout = _detect_layout(src, header)
    cols, rows_read, malformed = _read_columns(src, layout)
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


_REQUIRED_ARRAYS = frozenset(
    {
        "security_id", "segment", "exchange_code", "symbol", "display_name", "underlying_code",
        "instrument_code", "expiry_yyyymmdd", "strike_paise", "option_code", "lot_size_units",
        "tick_paise", "freeze_qty_units", "expiry_flag", "exchange_vocab", "instrument_vocab",
        "underlying_vocab", "id_keys", "id_rows", "symbol_keys", "symbol_rows", "deriv_keys",
        "deriv_rows",
    }
)  # fmt: skip


def _build_indices(a: dict[str, np.ndarray], is_deriv: np.ndarray) -> dict[str, np.ndarray]:
    """Sorted keys + row numbers for the id, symbol and derivative-contract lookups."""
    id_key = instrument_key(a["segment"].astype(np.int64), a["security_id"])
    id_rows = np.argsort(id_key, kind="stable").astype(np.int32)
    sym_upper = _str_ops.upper(a["symbol"])
    sym_rows = np.argsort(sym_upper, kind="stable").astype(np.int32)
    drv = np.flatnonzero(is_deriv & (a["expiry_yyyymmdd"] > 0))
    group = (
        (a["underlying_code"][drv].astype(np.int64) << _UC_SHIFT)
        | (a["segment"][drv].astype(np.int64) << _SEG_SHIFT)
        | a["expiry_yyyymmdd"][drv].astype(np.int64)
    )
    order = np.lexsort((drv, a["option_code"][drv], a["strike_paise"][drv], group))
    return {
        "id_keys": id_key[id_rows],
        "id_rows": id_rows,
        "symbol_keys": sym_upper[sym_rows],
        "symbol_rows": sym_rows,
        "deriv_keys": group[order],
        "deriv_rows": drv[order].astype(np.int32),
    }


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _format_row(inst: Instrument) -> str:
    expiry = str(inst.expiry_date) if inst.expiry_yyyymmdd else "-"
    p = inst.strike_paise
    strike = f"{p // 100}.{p % 100:02d}" if p else "-"
    return (
        f"{segment_label(inst.segment):<12} {inst.security_id:>8}  {inst.symbol:<28} {inst.instrument:<7} "
        f"{expiry:<10} {strike:>10} {inst.option_type}  lot {inst.lot_size_units:<5} "
        f"tick {inst.tick_paise}p  {inst.display_name}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.model.instruments")
    sub = parser.add_subparsers(dest="command", required=True)
    p_search = sub.add_parser("search", help="find instruments by symbol or name")
    p_search.add_argument("text")
    p_search.add_argument("--master", required=True, type=Path, help="instrument master CSV")
    p_search.add_argument("--limit", type=int, default=20)
    p_search.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        table = load_instruments(args.master, cache_dir=args.cache_dir)
    except (MasterFormatError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for inst in table.search(args.text, args.limit):
        print(_format_row(inst))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
