"""Bull call spread: BUY the CE ``long_otm_steps`` chain steps above ATM (0 = ATM) and SELL the CE
``width_steps`` steps above that. Entry, exit and grouping: ``_structure``."""

from __future__ import annotations

from actors.strategy.builtin._structure import LegSpec, OptionStructure, StructureParams


class BullCallSpreadParams(StructureParams):
    long_otm_steps: int = 0
    width_steps: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width_steps < 1:
            raise ValueError(f"width_steps ({self.width_steps}) must be at least 1")


class BullCallSpread(OptionStructure):
    kind = "bull_call_spread"
    group_structure = "BULL_CALL_SPREAD"
    Params = BullCallSpreadParams

    @classmethod
    def legs(cls, params: StructureParams) -> tuple[LegSpec, ...]:
        assert isinstance(params, BullCallSpreadParams)
        k = params.long_otm_steps
        return (LegSpec("CE", k, "BUY"), LegSpec("CE", k + params.width_steps, "SELL"))
