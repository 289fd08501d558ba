"""The control actor's views over time: the market's sampled history, the OI tracker and the
scanner. Kept apart from ``actors.control.actor`` (its loop) so the actor only wires timers and
calls; everything here runs on the actor loop, and the values it returns are immutable messages.

Every ``[control] history_sample_s`` the whole market kept (``MarketStore.columns``) becomes one
sample of :class:`engine.model.open_interest.MarketHistory`, which keeps ``history_s`` of them.
"""

from __future__ import annotations

import numpy as np

from actors.control.config import ControlConfig
from actors.control.market import MarketStore
from actors.control.oi import track_chain
from engine.model.instruments import InstrumentTable, OptionChain
from engine.model.ist import NS_PER_S
from engine.model.open_interest import BUILDUPS, MarketHistory, Sample
from engine.model.scanner import MEASURE_NAMES, ScannerConfig, ScreenConfig, Universe, bp, run_screen
from ipc.messages import OiTrackerSnapshot, ScanHit, ScanResult
from ipc.segments import split_key

_NOT_LISTED = ("", "", "")  # (instrument type, underlying, symbol) of an instrument not in the master


class MarketViews:
    """History, OI trackers and screens of one control actor (actor loop only)."""

    def __init__(self, settings: ControlConfig, scanner: ScannerConfig) -> None:
        self.settings = settings
        self.scanner = scanner
        self.history = MarketHistory(settings.history_s * NS_PER_S)
        self._attrs: dict[int, tuple[str, str, str]] = {}
        self._attrs_of: InstrumentTable | None = None

    def sample(self, market: MarketStore, now_ns: int) -> None:
        """Add the market now to the history (on the clock, every ``history_sample_s``)."""
        c = market.columns()
        self.history.add(Sample(now_ns, c["keys"], c["ltp_paise"], c["volume_units"], c["oi_units"]))

    def oi_tracker(self, chain: OptionChain, market: MarketStore, windows_s: list[int] | None,
                   now_ns: int) -> OiTrackerSnapshot:
        """``chain``'s tracker over ``windows_s`` (None: the configured ``oi_windows_s``)."""
        windows = self.settings.oi_windows_s if windows_s is None else windows_s
        return track_chain(chain, market, self.history, windows, now_ns)

    def _attributes(self, table: InstrumentTable, keys: np.ndarray) -> list[tuple[str, str, str]]:
        # The master's attributes of each key, remembered per master (a reload starts afresh).
        if table is not self._attrs_of:
            self._attrs, self._attrs_of = {}, table
        attrs = self._attrs
        out = []
        for key in keys.tolist():
            found = attrs.get(key)
            if found is None:
                inst = table.get(*split_key(key))
                found = attrs[key] = (inst.instrument, inst.underlying, inst.symbol) if inst else _NOT_LISTED
            out.append(found)
        return out

    def universe(self, table: InstrumentTable, market: MarketStore, now_ns: int) -> tuple[Universe, list[str]]:
        """The market now as the scanner's universe, and each row's trading symbol."""
        c = market.columns()
        attrs = self._attributes(table, c["keys"])
        u = Universe(now_ns, c["keys"], c["ltp_paise"], c["prev_close_paise"], c["open_paise"], c["high_paise"],
                     c["low_paise"], c["volume_units"], c["oi_units"], c["prev_oi_units"],
                     np.array([a[0] for a in attrs], dtype=object), np.array([a[1] for a in attrs], dtype=object))
        return u, [a[2] for a in attrs]

    def scan(self, table: InstrumentTable, market: MarketStore, screens: list[ScreenConfig],
             now_ns: int) -> list[ScanResult]:
        """Each of ``screens`` over the market now."""
        if not screens:
            return []
        u, symbols = self.universe(table, market, now_ns)
        change = bp(u.ltp_paise - u.prev_close_paise, u.prev_close_paise)
        results = []
        for screen in screens:
            picked = run_screen(screen, u, self.history)
            hits = []
            for row, measure, buildup in zip(picked.rows.tolist(), picked.measure.tolist(), picked.buildup.tolist()):
                segment, security_id = split_key(int(u.keys[row]))
                hits.append(ScanHit(segment, security_id, symbols[row], int(u.ltp_paise[row]), int(change[row]),
                                    int(u.volume_units[row]), int(u.oi_units[row]), measure, BUILDUPS[buildup]))
            results.append(ScanResult(screen.name, screen.kind, MEASURE_NAMES[screen.kind], hits, picked.universe_size,
                                      now_ns, now_ns))
        return results
