"""VWAP breakout: long when a bar closes above the session VWAP by more than ``band_bps`` basis
points (``close > vwap * (1 + band_bps / 10000)``), flat when a bar closes below the VWAP.

The VWAP is of the IST day's bars so far, this bar included (typical price (H+L+C)/3 weighted by
bar volume) and restarts each IST day. It needs traded volume, so bars come from quotes that
carry a last traded quantity (stocks, futures); an index has none and never trades here. Long
only; market orders through ``SignalStrategy``."""

from __future__ import annotations

import math

from actors.strategy.builtin._common import ist_day
from actors.strategy.builtin._signal import SignalParams, SignalState, SignalStrategy
from actors.strategy.indicators import VwapStream
from ipc.messages import Bar, Quote, Tick


class VwapBreakoutParams(SignalParams):
    band_bps: int = 10  # 10 bp = 0.1 % above the VWAP

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.timeframe_s < 1:
            raise ValueError(f"timeframe_s ({self.timeframe_s}) must be at least 1: the VWAP is built from bars")
        if not 0 <= self.band_bps <= 10_000:
            raise ValueError(f"band_bps ({self.band_bps}) must be within 0..10000")


class VwapBreakoutState(SignalState):
    pass


class VwapBreakout(SignalStrategy):
    kind = "vwap_breakout"
    Params = VwapBreakoutParams
    State = VwapBreakoutState

    params: VwapBreakoutParams

    def on_start(self) -> None:
        super().on_start()
        self.vwap = VwapStream()
        self.last_vwap = math.nan

    def wanted(self, price_paise: int, cause: Bar | Tick | Quote) -> int | None:
        assert isinstance(cause, Bar)  # timeframe_s >= 1: only bar closes arrive here
        vwap = self.vwap.update(cause.high_paise, cause.low_paise, cause.close_paise, cause.volume_units,
                                ist_day(cause.ts_open_ns))
        self.last_vwap = vwap
        if math.isnan(vwap):
            return None
        if price_paise > vwap * (1.0 + self.params.band_bps / 10_000):
            return 1
        if price_paise < vwap:
            return 0
        return None
