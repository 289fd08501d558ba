"""Bear put spread: BUY the PE ``long_otm_steps`` chain steps below ATM (0 = ATM) and SELL the PE
``width_steps`` steps below that. Entry, exit and grouping: ``_structure``."""

from __future__ import annotations

from actors.strategy.builtin._structure import LegSpec, OptionStructure, StructureParams


class BearPutSpreadParams(StructureParams):
    long_otm_steps: int = 0
    width_steps: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width_steps < 1:
            raise ValueError(f"width_steps ({self.width_steps}) must be at least 1")


class BearPutSpread(OptionStructure):
    kind = "bear_put_spread"
    group_structure = "BEAR_PUT_SPREAD"
    Params = BearPutSpreadParams

    @classmethod
    def legs(cls, params: StructureParams) -> tuple[LegSpec, ...]:
        assert isinstance(params, BearPutSpreadParams)
        k = params.long_otm_steps
        return (LegSpec("PE", -k, "BUY"), LegSpec("PE", -(k + params.width_steps), "SELL"))
