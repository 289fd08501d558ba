"""RSI reversal: long when RSI(``period``) crosses up through ``oversold``, flat when it crosses
down through ``overbought``. A cross needs two consecutive RSI values: the previous strictly on
one side of the level, the current at or beyond it (``prev < oversold <= rsi`` buys,
``prev > overbought >= rsi`` sells). Long only; market orders through ``SignalStrategy``."""

from __future__ import annotations

import math

from actors.strategy.builtin._signal import SignalParams, SignalState, SignalStrategy
from actors.strategy.indicators import RsiStream
from ipc.messages import Bar, Quote, Tick


class RsiReversalParams(SignalParams):
    period: int = 14
    oversold: float = 30.0
    overbought: float = 70.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.period < 2:
            raise ValueError(f"period ({self.period}) must be at least 2")
        if not (math.isfinite(self.oversold) and math.isfinite(self.overbought)
                and 0.0 < self.oversold < self.overbought < 100.0):
            raise ValueError(f"need 0 < oversold ({self.oversold}) < overbought ({self.overbought}) < 100")


class RsiReversalState(SignalState):
    pass


class RsiReversal(SignalStrategy):
    kind = "rsi_reversal"
    Params = RsiReversalParams
    State = RsiReversalState

    params: RsiReversalParams

    def on_start(self) -> None:
        super().on_start()
        self.rsi = RsiStream(self.params.period)
        self.prev = math.nan

    def wanted(self, price_paise: int, cause: Bar | Tick | Quote) -> int | None:
        # hot path when timeframe_s = 0
        value = self.rsi.update(price_paise)
        prev, self.prev = self.prev, value
        p = self.params
        if prev < p.oversold <= value:  # False while either is NaN
            return 1
        if prev > p.overbought >= value:
            return 0
        return None
