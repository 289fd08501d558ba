"""The scanner: screens over the instruments with live market data, defined in config.

Pure: a :class:`Universe` (numpy columns of what the control actor keeps, with each instrument's
master attributes), the market's recent history (``engine.model.open_interest.MarketHistory``)
and a screen in; the picked rows with their measure out. ``actors.control.scan`` runs the
configured screens on the control actor's clock.

A screen (``[[scanner.screens]]``) first filters (segments, instrument types, underlyings, a least
price and day volume), then picks by its ``kind``; each measure is an integer whose unit names it:

* ``gainers`` / ``losers``: change against the previous close, ``change_bp`` (at least
  ``min_change_bp`` either way), biggest move first;
* ``volume_spike``: the volume rate of the last ``window_s`` against the day's average rate before
  that window (as sampled since the engine first saw the instrument today), ``spike_pct``
  (100 = the same rate; at least ``min_spike_pct``);
* ``oi_buildup``: OI change since the open (``window_s`` 0) or over ``window_s``, ``oi_change_bp``
  of the base OI, with its buildup class (``buildups`` keeps some classes; none counts NONE);
* ``gap_up`` / ``gap_down``: the day's open against the previous close, ``gap_bp`` (at least
  ``min_gap_bp``);
* ``near_high`` / ``near_low``: the last price within ``within_bp`` of the day's high (low),
  ``from_high_bp`` / ``from_low_bp``, nearest first.
Ties go to the lower instrument key (segment, then security id), so a result is reproducible.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

import msgspec
import numpy as np

from engine.model.ist import NS_PER_S
from engine.model.open_interest import (
    BP,
    BUILDUPS,
    NONE,
    MarketHistory,
    changes_from,
    classify_buildups,
    open_baseline,
)
from engine.section import Section
from ipc.messages import Buildup, ScreenKind
from ipc.segments import SECURITY_ID_BITS, Segment

MEASURE_NAMES: Final[dict[str, str]] = {
    "gainers": "change_bp", "losers": "change_bp", "volume_spike": "spike_pct", "oi_buildup": "oi_change_bp",
    "gap_up": "gap_bp", "gap_down": "gap_bp", "near_high": "from_high_bp", "near_low": "from_low_bp",
}
# The kind-specific settings, and the kinds each applies to: a setting given to another kind is an
# error (it would be silently ignored otherwise).
KIND_FIELDS: Final[dict[str, frozenset[str]]] = {
    "min_change_bp": frozenset({"gainers", "losers"}),
    "window_s": frozenset({"volume_spike", "oi_buildup"}),
    "min_spike_pct": frozenset({"volume_spike"}),
    "min_oi_change_bp": frozenset({"oi_buildup"}),
    "buildups": frozenset({"oi_buildup"}),
    "min_gap_bp": frozenset({"gap_up", "gap_down"}),
    "within_bp": frozenset({"near_high", "near_low"}),
}
SCREEN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # it is part of a topic: scan.<name>


class ScreenConfig(Section):
    """One screen: ``name`` (lowercase letters, digits, ``_`` and ``-``: it is the topic
    ``scan.<name>``), ``kind``, ``top`` hits at most; filters (empty: any): ``segments`` (labels:
    NSE_EQ, NSE_FNO, ...), ``instrument_types`` (the master's: EQUITY, INDEX, OPTIDX, FUTSTK, ...),
    ``underlyings``; ``min_price_paise``, ``min_volume_units``. The kind's own settings: see the
    module's docstring."""

    name: str
    kind: ScreenKind
    top: int = 10
    segments: list[str] = msgspec.field(default_factory=list)
    instrument_types: list[str] = msgspec.field(default_factory=list)
    underlyings: list[str] = msgspec.field(default_factory=list)
    min_price_paise: int = 0
    min_volume_units: int = 0
    window_s: int = 0
    min_change_bp: int = 0
    min_spike_pct: int = 0
    min_oi_change_bp: int = 0
    buildups: list[Buildup] = msgspec.field(default_factory=list)
    min_gap_bp: int = 0
    within_bp: int = 0


def _default_screens() -> list[ScreenConfig]:
    return [
        ScreenConfig(name="gainers", kind="gainers"),
        ScreenConfig(name="losers", kind="losers"),
        ScreenConfig(name="volume-spikes", kind="volume_spike", window_s=900, min_spike_pct=200),
        ScreenConfig(name="oi-buildup", kind="oi_buildup", instrument_types=["OPTIDX", "OPTSTK", "FUTIDX", "FUTSTK"]),
        ScreenConfig(name="gap-up", kind="gap_up", min_gap_bp=100),
        ScreenConfig(name="gap-down", kind="gap_down", min_gap_bp=100),
        ScreenConfig(name="near-high", kind="near_high", within_bp=25),
        ScreenConfig(name="near-low", kind="near_low", within_bp=25),
    ]


class ScannerConfig(Section):
    """``[scanner]``: the screens, run and published on ``scan.<name>`` every ``interval_s``
    (0: only when asked, by ``shikra scan``)."""

    interval_s: float = 5.0
    screens: list[ScreenConfig] = msgspec.field(default_factory=_default_screens)


def check_screen(screen: ScreenConfig, keep_s: float) -> str | None:
    """What is wrong with one screen (without naming it; :func:`check_scanner_config` does), or
    None. ``keep_s``: how far back the market's history goes (a window may not exceed it)."""
    if not SCREEN_NAME.fullmatch(screen.name):
        return "name must be 1-40 of a-z, 0-9, '_' and '-', starting with a letter or digit"
    if screen.top < 1:
        return f"top {screen.top} must be >= 1"
    for label in screen.segments:
        if Segment.from_label(label) is None:
            return f"segments: {label[:20]!r} is not a segment ({', '.join(s.name for s in Segment)})"
    defaults = ScreenConfig(name=screen.name, kind=screen.kind)
    for field, kinds in KIND_FIELDS.items():
        if screen.kind not in kinds and getattr(screen, field) != getattr(defaults, field):
            return f"{field} applies to {' and '.join(sorted(kinds))} screens, not {screen.kind}"
    for field in ("min_price_paise", "min_volume_units", "window_s", "min_change_bp", "min_spike_pct",
                  "min_oi_change_bp", "min_gap_bp", "within_bp"):
        if getattr(screen, field) < 0:
            return f"{field} {getattr(screen, field)} must be >= 0"
    if screen.kind == "volume_spike" and screen.window_s <= 0:
        return "window_s must be > 0 for a volume_spike screen (the recent period compared with the day)"
    if screen.window_s > keep_s:
        return f"window_s {screen.window_s} is longer than the market history kept ({keep_s:g} s: control.history_s)"
    if screen.kind in ("near_high", "near_low") and screen.within_bp <= 0:
        return f"within_bp must be > 0 for a {screen.kind} screen (how near, in basis points)"
    if "NONE" in screen.buildups:
        return "buildups: NONE is not a buildup (leave buildups empty to keep every class)"
    return None


def check_scanner_config(sc: ScannerConfig, keep_s: float) -> str | None:
    """What is wrong (naming the screen: ``screens[2] ("spikes"): ...``), or None."""
    if sc.interval_s < 0:
        return f"interval_s {sc.interval_s} must be >= 0"
    seen: set[str] = set()
    for i, screen in enumerate(sc.screens):
        problem = check_screen(screen, keep_s)
        if problem is None and screen.name in seen:
            problem = "the name is used by an earlier screen"
        if problem is not None:
            return f"screens[{i}] ({screen.name[:40]!r}): {problem}"
        seen.add(screen.name)
    return None


class Universe(NamedTuple):
    """Every instrument with market data at ``ts_ns``: int64 columns aligned on ``keys``
    (ascending packed keys), and the master's ``instrument_type`` and ``underlying`` (str arrays;
    empty for an instrument not in the master)."""

    ts_ns: int
    keys: np.ndarray
    ltp_paise: np.ndarray
    prev_close_paise: np.ndarray
    open_paise: np.ndarray
    high_paise: np.ndarray
    low_paise: np.ndarray
    volume_units: np.ndarray
    oi_units: np.ndarray
    prev_oi_units: np.ndarray
    instrument_type: np.ndarray
    underlying: np.ndarray


class Picked(NamedTuple):
    """A screen's hits, best first: rows of the universe, their measure and buildup (indices
    into ``BUILDUPS``), and how many instruments passed the filters."""

    rows: np.ndarray
    measure: np.ndarray
    buildup: np.ndarray
    universe_size: int


def bp(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` in basis points, rounded half up, element-wise; 0 where ``den`` <= 0."""
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    safe = np.where(den > 0, den, 1)
    return np.where(den > 0, (2 * num * BP + safe) // (2 * safe), 0).astype(np.int64)


def _filtered(screen: ScreenConfig, u: Universe) -> np.ndarray:
    keep = (u.ltp_paise > 0) & (u.ltp_paise >= screen.min_price_paise) & (u.volume_units >= screen.min_volume_units)
    if screen.segments:
        codes = [int(Segment.from_label(s)) for s in screen.segments]  # type: ignore[arg-type]
        keep &= np.isin(u.keys >> SECURITY_ID_BITS, codes)
    if screen.instrument_types:
        keep &= np.isin(u.instrument_type, screen.instrument_types)
    if screen.underlyings:
        keep &= np.isin(u.underlying, screen.underlyings)
    return keep


def _spike_pct(u: Universe, history: MarketHistory, window_ns: int) -> tuple[np.ndarray, np.ndarray]:
    base = history.window_start(u.keys, u.ts_ns, window_ns)
    first = history.day_first(u.keys)
    window_span = u.ts_ns - base.ts_ns
    prior_span = base.ts_ns - first.ts_ns
    prior_volume = base.volume_units - first.volume_units
    ok = base.found & first.found & (window_span > 0) & (prior_span > 0) & (prior_volume > 0)
    # A ratio of rates: floats only here (volume times nanoseconds overflows int64).
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = ((u.volume_units - base.volume_units) / np.where(ok, window_span, 1)) / (
            np.where(ok, prior_volume, 1) / np.where(ok, prior_span, 1))
    return ok, np.where(ok, np.rint(ratio * 100), 0).astype(np.int64)


def run_screen(screen: ScreenConfig, u: Universe, history: MarketHistory) -> Picked:
    """``screen`` over ``u`` now (``u.ts_ns``), with ``history`` for window kinds."""
    keep = _filtered(screen, u)
    universe_size = int(keep.sum())
    buildup = np.full(u.keys.shape, NONE, dtype=np.int8)
    kind = screen.kind
    if kind in ("gainers", "losers"):
        measure = bp(u.ltp_paise - u.prev_close_paise, u.prev_close_paise)
        least = max(screen.min_change_bp, 1)
        keep &= (u.prev_close_paise > 0) & ((measure >= least) if kind == "gainers" else (measure <= -least))
        score = np.abs(measure)
    elif kind in ("gap_up", "gap_down"):
        measure = bp(u.open_paise - u.prev_close_paise, u.prev_close_paise)
        least = max(screen.min_gap_bp, 1)
        keep &= (u.prev_close_paise > 0) & (u.open_paise > 0) & (
            (measure >= least) if kind == "gap_up" else (measure <= -least))
        score = np.abs(measure)
    elif kind in ("near_high", "near_low"):
        extreme = u.high_paise if kind == "near_high" else u.low_paise
        measure = bp(np.abs(extreme - u.ltp_paise), extreme)
        keep &= (extreme > 0) & (measure <= screen.within_bp)
        score = -measure  # nearest first
    elif kind == "volume_spike":
        ok, measure = _spike_pct(u, history, screen.window_s * NS_PER_S)
        keep &= ok & (measure >= max(screen.min_spike_pct, 1))
        score = measure
    else:  # oi_buildup
        if screen.window_s:
            base = history.window_start(u.keys, u.ts_ns, screen.window_s * NS_PER_S)
        else:
            base = open_baseline(history, u.keys, u.prev_close_paise, u.prev_oi_units)
        price_change, oi_change = changes_from(base, u.ltp_paise, u.oi_units)
        measure = bp(oi_change, base.oi_units)
        buildup = classify_buildups(price_change, oi_change, base.ltp_paise, base.oi_units, 0,
                                    screen.min_oi_change_bp)
        keep &= (u.oi_units > 0) & base.found & (base.oi_units > 0) & (buildup != NONE)
        if screen.buildups:
            keep &= np.isin(buildup, [BUILDUPS.index(b) for b in screen.buildups])
        score = np.abs(measure)
    rows = np.flatnonzero(keep)
    # Best first, then the lower key (rows are in key order, and the sort is stable).
    rows = rows[np.argsort(-score[rows], kind="stable")][:screen.top]
    return Picked(rows, measure[rows], buildup[rows], universe_size)
