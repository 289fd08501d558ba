"""Mean reversion on the z-score of price against its rolling mean.

``z = (price - mean) / sd`` over the last ``lookback`` prices (this one included; population
standard deviation). Long when ``z < -entry_z``; short when ``z > entry_z`` (flat instead when
``allow_short`` is false); flat again once ``|z| < exit_z``. A flat window (sd = 0) decides
nothing. Market orders through ``SignalStrategy``."""

from __future__ import annotations

import math

from actors.strategy.builtin._signal import SignalParams, SignalState, SignalStrategy
from actors.strategy.indicators import BBandsStream
from ipc.messages import Bar, Quote, Tick


class MeanReversionParams(SignalParams):
    lookback: int = 20
    entry_z: float = 2.0
    exit_z: float = 0.5
    allow_short: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lookback < 2:
            raise ValueError(f"lookback ({self.lookback}) must be at least 2")
        if not (math.isfinite(self.entry_z) and math.isfinite(self.exit_z) and 0.0 <= self.exit_z < self.entry_z):
            raise ValueError(f"need 0 <= exit_z ({self.exit_z}) < entry_z ({self.entry_z})")


class MeanReversionState(SignalState):
    pass


class MeanReversion(SignalStrategy):
    kind = "mean_reversion"
    Params = MeanReversionParams
    State = MeanReversionState

    params: MeanReversionParams

    def on_start(self) -> None:
        super().on_start()
        # Bollinger bands at 1 sd: upper - middle is the rolling (population) standard deviation.
        self.bands = BBandsStream(self.params.lookback, 1.0, 1.0)
        self.z = math.nan

    def wanted(self, price_paise: int, cause: Bar | Tick | Quote) -> int | None:
        # hot path when timeframe_s = 0
        upper, mean, _ = self.bands.update(price_paise)
        sd = upper - mean
        if not sd > 0.0:  # warming up (NaN) or a flat window
            self.z = math.nan
            return None
        z = self.z = (price_paise - mean) / sd
        p = self.params
        if z < -p.entry_z:
            return 1
        if z > p.entry_z:
            return -1 if p.allow_short else 0
        if abs(z) < p.exit_z:
            return 0
        return None
