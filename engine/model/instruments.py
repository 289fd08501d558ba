"""The instrument master as a compact, typed, indexed table, and the records it hands out.

Loaded by ``engine.model.master.load_instruments`` (parse once, then a cached npz); the Dhan CSV
layouts and their parsing rules are in ``engine.model.master_csv``.

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
underlying         underlying symbol (detailed UNDERLYING_SYMBOL; compact: see master_csv)
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
instrument_token   Kite's instrument token (the ticker's name for the row); 0 in a Dhan master
=================  ==========================================================================
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal

import msgspec
import numpy as np

from ipc.segments import SECURITY_ID_MASK, Segment, instrument_key

if TYPE_CHECKING:
    from engine.model.master_csv import LoadReport

__all__ = [
    "ChainStrike",
    "Instrument",
    "InstrumentTable",
    "OptionChain",
    "StrikeError",
    "StrikeSelection",
    "date_from_yyyymmdd",
    "kite_tokens",
    "tick_sizes",
    "yyyymmdd",
]

OptionType = Literal["CE", "PE", "XX"]
ExpiryKind = Literal["options", "futures", "all"]

OPTION_TYPES: tuple[OptionType, ...] = ("XX", "CE", "PE")  # code = index
# Vectorised string ops: numpy.strings (numpy >= 2), same functions as numpy.char on 1.26.
str_ops = getattr(np, "strings", np.char)
# Group key of a derivative: underlying code << 36 | segment << 32 | expiry yyyymmdd.
_UC_SHIFT = 36
_SEG_SHIFT = 32


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
        # Instruments no longer in this master, kept from the one it replaced because positions
        # are held in them (``keep_held``): ``get`` and ``tick_paise`` still find them, so the
        # positions stay exitable; searches and chains do not list them.
        self.retained: dict[tuple[int, int], Instrument] = {}

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
            option_type=OPTION_TYPES[self._option[i]],
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
        if i >= 0:
            return self.row(i)
        return self.retained.get((segment, security_id)) if self.retained else None

    def keep_held(self, previous: "InstrumentTable", held: Iterable[tuple[int, int]]) -> list[Instrument]:
        """Retain the instruments of ``held`` (segment, security id) that ``previous`` knew and
        this table does not (contracts that left the master while positions are open in them).
        Returns the ones retained."""
        kept = []
        for segment, security_id in held:
            if self._row_of(segment, security_id) >= 0:
                continue
            inst = previous.get(segment, security_id)
            if inst is not None:
                self.retained[(segment, security_id)] = inst
                kept.append(inst)
        return kept

    def tick_paise(self, segment: int, security_id: int) -> int | None:
        """Tick size in paise of one instrument (0 = the file gives none); None if unknown id."""
        i = self._row_of(segment, security_id)
        if i >= 0:
            return int(self._tick[i])
        kept = self.retained.get((segment, security_id)) if self.retained else None
        return kept.tick_paise if kept is not None else None

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
        # Kite names an index by its own symbol ("NIFTY 50") and its underlying by the derivatives'.
        uc = self._underlying_code_of(underlying)
        if uc >= 0 and "INDEX" in self._instruments:
            rows = np.flatnonzero((self._underlying_code == uc) & (self._segment == Segment.IDX_I)
                                  & (self._instrument_code == self._instruments.index("INDEX")))
            if rows.shape[0]:
                return self.row(int(rows[0]))
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
        if option_type not in OPTION_TYPES:
            return None
        lo, hi, _ = self._group(underlying, expiry_yyyymmdd, segment)
        strikes = self._drv_strike[lo:hi]
        a = lo + int(np.searchsorted(strikes, strike_paise, "left"))
        b = lo + int(np.searchsorted(strikes, strike_paise, "right"))
        code = OPTION_TYPES.index(option_type)
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
            self._display_upper = str_ops.upper(self._display)
        sym_upper = self._sym_keys  # sorted upper-case symbols; row ids in _sym_rows
        disp_upper = self._display_upper[self._sym_rows]
        hit = np.ones(sym_upper.shape[0], dtype=bool)
        for w in words:
            hit &= (str_ops.find(sym_upper, w) >= 0) | (str_ops.find(disp_upper, w) >= 0)
        pos = np.flatnonzero(hit)
        if pos.shape[0] == 0:
            return []
        joined = b" ".join(words)
        prefix = str_ops.startswith(sym_upper[pos], words[0])
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


def kite_tokens(table: InstrumentTable) -> dict[int, tuple[int, int]]:
    """Kite instrument token -> ``(segment, security_id)`` of every row that has one (a Kite
    master's rows; a Dhan master has none)."""
    a = table.arrays
    keep = a["instrument_token"] > 0
    pairs = zip(a["segment"][keep].tolist(), a["security_id"][keep].tolist(), strict=True)
    return dict(zip(a["instrument_token"][keep].tolist(), pairs, strict=True))


def tick_sizes(table: InstrumentTable) -> dict[tuple[int, int], int]:
    """``(segment, security_id) -> tick_paise`` for every instrument with a tick (> 0), the
    retained ones (``keep_held``) included.

    Instruments whose file gives no tick (indices often carry 0) are left out, so the caller's
    own default applies to them instead of a division by zero.
    """
    a = table.arrays
    keep = a["tick_paise"] > 0
    segs = a["segment"][keep].tolist()
    ids = a["security_id"][keep].tolist()
    ticks = a["tick_paise"][keep].tolist()
    out = dict(zip(zip(segs, ids, strict=True), ticks, strict=True))
    out.update((key, inst.tick_paise) for key, inst in table.retained.items() if inst.tick_paise > 0)
    return out


# The arrays a table is built from: what the parser produces and a cache must hold.
REQUIRED_ARRAYS = frozenset(
    {
        "security_id", "segment", "exchange_code", "symbol", "display_name", "underlying_code",
        "instrument_code", "expiry_yyyymmdd", "strike_paise", "option_code", "lot_size_units",
        "tick_paise", "freeze_qty_units", "expiry_flag", "instrument_token", "exchange_vocab", "instrument_vocab",
        "underlying_vocab", "id_keys", "id_rows", "symbol_keys", "symbol_rows", "deriv_keys",
        "deriv_rows",
    }
)  # fmt: skip


def build_indices(a: dict[str, np.ndarray], is_deriv: np.ndarray) -> dict[str, np.ndarray]:
    """Sorted keys + row numbers for the id, symbol and derivative-contract lookups."""
    id_key = instrument_key(a["segment"].astype(np.int64), a["security_id"])
    id_rows = np.argsort(id_key, kind="stable").astype(np.int32)
    sym_upper = str_ops.upper(a["symbol"])
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
