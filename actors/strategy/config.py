"""The strategy actor's configuration: the ``[strategy]`` section and its instances."""

from __future__ import annotations

from typing import Literal

import msgspec

from engine.section import Section

ProtectiveStop = Literal["engine", "venue"]


class StrategyInstanceConfig(Section):
    name: str
    kind: str
    instrument: str = ""
    params: dict[str, object] = msgspec.field(default_factory=dict)
    enabled: bool = True
    # Keep positions in contracts that expire today past risk's expiry close ([risk.expiry]): the
    # engine settles them after the close (cash, or delivery for stock derivatives).
    hold_to_expiry: bool = False
    # Where the strategy's stop (``ctx.protect``) lives: "engine" (its own exit rules only, as
    # always) or "venue": execution also rests a stop order at the venue for the position, so it
    # stays protected when the engine, the VPS or the network is down (README: "Positions, stops
    # and expiry"). SL_M, or SL with the limit ``stop_limit_offset_paise`` beyond the trigger;
    # the resting stop is moved only by steps of ``stop_step_paise`` or more (0: one tick), since
    # a venue caps modifications per order.
    protective_stop: ProtectiveStop = "engine"
    stop_limit_offset_paise: int = 0
    stop_step_paise: int = 0

    def __post_init__(self) -> None:
        if self.stop_limit_offset_paise < 0 or self.stop_step_paise < 0:
            raise ValueError(f"strategy '{self.name}': stop_limit_offset_paise ({self.stop_limit_offset_paise}) "
                             f"and stop_step_paise ({self.stop_step_paise}) must be >= 0")


def _default_strategies() -> list[StrategyInstanceConfig]:
    # Paper trading out of the box: an EMA crossover on a liquid stock of the synthetic market.
    return [StrategyInstanceConfig(name="ema_reliance", kind="ema_cross", instrument="RELIANCE",
                                   params={"fast": 10, "slow": 30, "timeframe_s": 1, "qty_lots": 1})]


class StrategyConfig(Section):
    user_dir: str = ""
    # A capture file (``shikra record``) replayed through the bars and indicators at start, before
    # the first live tick: strategies begin with warm indicators. Orders and state changes made
    # while warming are dropped; only the indicators keep what they learned.
    warmup_capture: str = ""
    # Days (1-5) of Dhan one-minute candles fetched at start for every bar series of a whole
    # number of minutes (needs Dhan credentials; 0 = off). Same rules as warmup_capture.
    warmup_history_days: int = 0
    instances: list[StrategyInstanceConfig] = msgspec.field(default_factory=_default_strategies)
