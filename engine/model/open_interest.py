"""Open-interest analytics and the market's recent history: put-call ratios, max pain, buildup
classes, and samples of price, volume and OI to measure change over rolling windows.

Pure: arrays and integers in, integers out. The control actor samples the market it keeps on its
clock (``actors.control.views``) into a :class:`MarketHistory`; the OI tracker
(``actors.control.oi``) and the scanner (``engine.model.scanner``) read changes from it.

Definitions (integers on the wire; see the README's "OI tracker and scanner"):

* **Put-call ratio** (:func:`ratio_ppm`): puts over calls, as a ratio in millionths
  (1_000_000 = 1.0), rounded half up; 0 when the calls' total is 0.
* **Max pain** (:func:`max_pain`): the listed strike at which option writers pay the least at
  expiry, sum over strikes k of CE_OI(k) * max(0, K - k) + PE_OI(k) * max(0, k - K); that payout
  in paise (OI units times paise). The lowest such strike on a tie; none without any OI.
* **Buildup** (:func:`classify_buildups`): from the signs of the price change and the OI change
  over one period: price up and OI up = long buildup, price down and OI up = short buildup, price
  down and OI down = long unwinding, price up and OI down = short covering; either change zero,
  or smaller than its threshold in basis points of its base, = ``NONE``.
"""

from __future__ import annotations

import bisect
from typing import Final, NamedTuple, get_args

import numpy as np

from engine.model.ist import ist_day
from ipc.messages import Buildup

RATIO_SCALE: Final = 1_000_000  # a ratio of 1.0 in ppm
BP: Final = 10_000  # basis points in 1.0

BUILDUPS: Final[tuple[Buildup, ...]] = get_args(Buildup)
NONE, LONG_BUILDUP, SHORT_BUILDUP, LONG_UNWINDING, SHORT_COVERING = range(5)  # indices into BUILDUPS


def ratio_ppm(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` in millionths, rounded half up; 0 when the denominator is 0."""
    if denominator <= 0:
        return 0
    return (2 * numerator * RATIO_SCALE + denominator) // (2 * denominator)


def max_pain(strikes_paise: list[int], ce_oi_units: list[int], pe_oi_units: list[int]) -> tuple[int, int]:
    """(the max-pain strike, the writers' payout there in paise); (0, 0) without any OI.

    ``strikes_paise`` ascending, one CE and one PE OI per strike (0 where a side is not listed).
    O(n) with running sums, in Python integers (exact at any size)."""
    n = len(strikes_paise)
    if not (n == len(ce_oi_units) == len(pe_oi_units)):
        raise ValueError(f"max_pain: {n} strikes, {len(ce_oi_units)} CE and {len(pe_oi_units)} PE OI values")
    if any(b <= a for a, b in zip(strikes_paise, strikes_paise[1:])):
        raise ValueError("max_pain: strikes must be strictly ascending")
    if not any(ce_oi_units) and not any(pe_oi_units):
        return 0, 0
    # Calls struck below K pay (K - k) each; puts struck above K pay (k - K) each.
    pe_units_above = sum(pe_oi_units)
    pe_weighted_above = sum(k * u for k, u in zip(strikes_paise, pe_oi_units))
    ce_units_below = ce_weighted_below = 0
    best_strike, best_payout = 0, -1
    for k, ce, pe in zip(strikes_paise, ce_oi_units, pe_oi_units):
        pe_units_above -= pe
        pe_weighted_above -= k * pe
        payout = k * ce_units_below - ce_weighted_below + pe_weighted_above - k * pe_units_above
        if best_payout < 0 or payout < best_payout:
            best_strike, best_payout = k, payout
        ce_units_below += ce
        ce_weighted_below += k * ce
    return best_strike, best_payout


def classify_buildups(price_change: np.ndarray, oi_change: np.ndarray, price_base: np.ndarray,
                      oi_base: np.ndarray, min_price_bp: int = 0, min_oi_bp: int = 0) -> np.ndarray:
    """Buildup class per instrument (indices into :data:`BUILDUPS`), element-wise over int64 arrays.

    A change counts when it is non-zero and at least ``min_*_bp`` basis points of its base (a base
    of 0 counts any non-zero change)."""
    price_change = np.asarray(price_change, dtype=np.int64)
    oi_change = np.asarray(oi_change, dtype=np.int64)
    price_moved = (price_change != 0) & (np.abs(price_change) * BP >= min_price_bp * np.asarray(price_base))
    oi_moved = (oi_change != 0) & (np.abs(oi_change) * BP >= min_oi_bp * np.asarray(oi_base))
    up, oi_up = price_change > 0, oi_change > 0
    out = np.full(price_change.shape, NONE, dtype=np.int8)
    both = price_moved & oi_moved
    out[both & up & oi_up] = LONG_BUILDUP
    out[both & ~up & oi_up] = SHORT_BUILDUP
    out[both & ~up & ~oi_up] = LONG_UNWINDING
    out[both & up & ~oi_up] = SHORT_COVERING
    return out


def buildup_of(price_change: int, oi_change: int, price_base: int = 0, oi_base: int = 0, min_price_bp: int = 0,
               min_oi_bp: int = 0) -> Buildup:
    """:func:`classify_buildups` for one instrument, by name."""
    code = classify_buildups(np.array([price_change]), np.array([oi_change]), np.array([price_base]),
                             np.array([oi_base]), min_price_bp, min_oi_bp)[0]
    return BUILDUPS[int(code)]


class Sample(NamedTuple):
    """The market at one moment: int64 columns aligned on ``keys`` (packed instrument keys,
    ``ipc.segments.instrument_key``, ascending)."""

    ts_ns: int
    keys: np.ndarray
    ltp_paise: np.ndarray
    volume_units: np.ndarray
    oi_units: np.ndarray


def empty_sample(ts_ns: int) -> Sample:
    z = np.zeros(0, dtype=np.int64)
    return Sample(ts_ns, z, z, z, z)


def positions_in(sample: Sample, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index into ``sample``'s columns, found) for each of ``keys`` (index 0 where not found)."""
    keys = np.asarray(keys, dtype=np.int64)
    if sample.keys.size == 0:
        return np.zeros(keys.shape, dtype=np.int64), np.zeros(keys.shape, dtype=np.bool_)
    at = np.searchsorted(sample.keys, keys)
    at = np.minimum(at, sample.keys.size - 1)
    return at, sample.keys[at] == keys


class Baseline(NamedTuple):
    """Values of ``keys`` at one earlier moment each: ``ts_ns`` per key (0 where ``found`` is
    False: no earlier value known, and the other columns are 0)."""

    found: np.ndarray
    ts_ns: np.ndarray
    ltp_paise: np.ndarray
    volume_units: np.ndarray
    oi_units: np.ndarray


def _baseline(sample: Sample, ts_of: np.ndarray | int, keys: np.ndarray) -> Baseline:
    """Each of ``keys`` in ``sample``; ``ts_of`` the sample's time, or one time per sampled key."""
    keys = np.asarray(keys, dtype=np.int64)
    at, found = positions_in(sample, keys)

    def pick(col: np.ndarray) -> np.ndarray:
        if col.size == 0:
            return np.zeros(keys.shape, dtype=np.int64)
        return np.where(found, col[at], 0).astype(np.int64)

    ts = pick(ts_of) if isinstance(ts_of, np.ndarray) else np.where(found, ts_of, 0).astype(np.int64)
    return Baseline(found, ts, pick(sample.ltp_paise), pick(sample.volume_units), pick(sample.oi_units))


class MarketHistory:
    """Samples of the market for the last ``keep_ns`` (plus the newest one older than that, so a
    window of ``keep_ns`` always has its start), and each instrument's first sample of the IST day
    (its "open" as the engine saw it). A sample of a new IST day clears the previous day's: day
    volume restarts at the open, and a window never spans a night.

    Memory: one sample is 32 bytes per instrument; ``keep_ns / interval`` + 2 samples are kept."""

    def __init__(self, keep_ns: int) -> None:
        if keep_ns <= 0:
            raise ValueError(f"keep_ns {keep_ns} must be > 0")
        self.keep_ns = keep_ns
        self._samples: list[Sample] = []
        self._times: list[int] = []
        self._day = -1
        self._first = empty_sample(0)
        self._first_ts = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, sample: Sample) -> None:
        """Append ``sample`` (its time not before the last one's)."""
        if self._times and sample.ts_ns < self._times[-1]:
            raise ValueError(f"sample at {sample.ts_ns} is older than the last one at {self._times[-1]}")
        day = ist_day(sample.ts_ns)
        if day != self._day:
            self._day = day
            self._samples.clear()
            self._times.clear()
            self._first, self._first_ts = empty_sample(0), np.zeros(0, dtype=np.int64)
        self._samples.append(sample)
        self._times.append(sample.ts_ns)
        # Keep the newest sample at or before the oldest window's start, drop what is older.
        cut = bisect.bisect_right(self._times, sample.ts_ns - self.keep_ns) - 1
        if cut > 0:
            del self._samples[:cut], self._times[:cut]
        self._add_first_seen(sample)

    def _add_first_seen(self, sample: Sample) -> None:
        new = ~np.isin(sample.keys, self._first.keys, assume_unique=True)
        if not new.any():
            return
        keys = np.concatenate([self._first.keys, sample.keys[new]])
        order = np.argsort(keys, kind="stable")
        cols = [np.concatenate([old, cur[new]])[order] for old, cur in
                ((self._first.ltp_paise, sample.ltp_paise), (self._first.volume_units, sample.volume_units),
                 (self._first.oi_units, sample.oi_units))]
        self._first_ts = np.concatenate([self._first_ts, np.full(int(new.sum()), sample.ts_ns, dtype=np.int64)])[order]
        self._first = Sample(0, keys[order], *cols)

    def at_or_before(self, ts_ns: int) -> Sample | None:
        """The newest sample taken at or before ``ts_ns`` (None: none that old)."""
        i = bisect.bisect_right(self._times, ts_ns) - 1
        return self._samples[i] if i >= 0 else None

    def oldest(self) -> Sample | None:
        return self._samples[0] if self._samples else None

    def window_start(self, keys: np.ndarray, now_ns: int, window_ns: int) -> Baseline:
        """Each key's value at the start of the window ending now: the newest sample at or before
        ``now_ns - window_ns``, else (the history is younger than the window) the oldest sample;
        ``ts_ns`` says which moment each value is from."""
        start = self.at_or_before(now_ns - window_ns) or self.oldest()
        if start is None:
            return _baseline(empty_sample(0), 0, keys)
        return _baseline(start, start.ts_ns, keys)

    def day_first(self, keys: np.ndarray) -> Baseline:
        """Each key's first sample of the day (``found`` False: not sampled today yet)."""
        return _baseline(self._first, self._first_ts, keys)


def open_baseline(history: MarketHistory, keys: np.ndarray, prev_close_paise: np.ndarray,
                  prev_oi_units: np.ndarray) -> Baseline:
    """Each key's values at the open: the previous session's close and OI where the feed sent
    them (OI does not move between sessions, so that is the open's OI exactly), else the first
    values sampled today. ``ts_ns`` is the first sample's time (0: none today)."""
    first = history.day_first(keys)
    prev_close = np.asarray(prev_close_paise, dtype=np.int64)
    prev_oi = np.asarray(prev_oi_units, dtype=np.int64)
    return Baseline(first.found | (prev_oi > 0), first.ts_ns, np.where(prev_close > 0, prev_close, first.ltp_paise),
                    first.volume_units, np.where(prev_oi > 0, prev_oi, first.oi_units))


def changes_from(base: Baseline, ltp_paise: np.ndarray, oi_units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(price change, OI change) against ``base``, 0 where the base is unknown (not found, or 0)."""
    ltp = np.asarray(ltp_paise, dtype=np.int64)
    oi = np.asarray(oi_units, dtype=np.int64)
    price_change = np.where(base.found & (base.ltp_paise > 0) & (ltp > 0), ltp - base.ltp_paise, 0)
    oi_change = np.where(base.found, oi - base.oi_units, 0)
    return price_change.astype(np.int64), oi_change.astype(np.int64)
