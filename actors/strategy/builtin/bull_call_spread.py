"""Bull call spread: BUY a CE and SELL a CE of a higher strike (same expiry).

Strikes by steps (the default): the long CE ``long_otm_steps`` chain steps above ATM (0 = ATM), the
short CE ``width_steps`` steps above that. By delta (``long_delta_ppm`` and ``short_delta_ppm``,
both set, in millionths: 500000 = 0.50): the CEs whose delta is nearest each target, the short's
below the long's. IV conditions, entry, exit and grouping: ``_structure``."""

from __future__ import annotations

from actors.strategy.builtin._structure import LegSpec, OptionStructure, StructureParams, check_spread


class BullCallSpreadParams(StructureParams):
    long_otm_steps: int = 0
    width_steps: int = 2
    long_delta_ppm: int = 0  # 0 = strikes by steps
    short_delta_ppm: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_spread(self.width_steps, self.long_delta_ppm, self.short_delta_ppm)


class BullCallSpread(OptionStructure):
    kind = "bull_call_spread"
    group_structure = "BULL_CALL_SPREAD"
    Params = BullCallSpreadParams

    @classmethod
    def legs(cls, params: StructureParams) -> tuple[LegSpec, ...]:
        assert isinstance(params, BullCallSpreadParams)
        if params.long_delta_ppm:
            return (LegSpec("CE", 0, "BUY", delta_ppm=params.long_delta_ppm),
                    LegSpec("CE", 0, "SELL", delta_ppm=params.short_delta_ppm))
        k = params.long_otm_steps
        return (LegSpec("CE", k, "BUY"), LegSpec("CE", k + params.width_steps, "SELL"))
