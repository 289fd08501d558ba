"""Bear put spread: BUY a PE and SELL a PE of a lower strike (same expiry).

Strikes by steps (the default): the long PE ``long_otm_steps`` chain steps below ATM (0 = ATM), the
short PE ``width_steps`` steps below that. By delta (``long_delta_ppm`` and ``short_delta_ppm``,
both set, as |delta| in millionths: 500000 = a put of delta -0.50): the PEs whose |delta| is
nearest each target, the short's below the long's. IV conditions, entry, exit and grouping:
``_structure``."""

from __future__ import annotations

from actors.strategy.builtin._structure import LegSpec, OptionStructure, StructureParams, check_spread


class BearPutSpreadParams(StructureParams):
    long_otm_steps: int = 0
    width_steps: int = 2
    long_delta_ppm: int = 0  # 0 = strikes by steps
    short_delta_ppm: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_spread(self.width_steps, self.long_delta_ppm, self.short_delta_ppm)


class BearPutSpread(OptionStructure):
    kind = "bear_put_spread"
    group_structure = "BEAR_PUT_SPREAD"
    Params = BearPutSpreadParams

    @classmethod
    def legs(cls, params: StructureParams) -> tuple[LegSpec, ...]:
        assert isinstance(params, BearPutSpreadParams)
        if params.long_delta_ppm:
            return (LegSpec("PE", 0, "BUY", delta_ppm=params.long_delta_ppm),
                    LegSpec("PE", 0, "SELL", delta_ppm=params.short_delta_ppm))
        k = params.long_otm_steps
        return (LegSpec("PE", -k, "BUY"), LegSpec("PE", -(k + params.width_steps), "SELL"))
