"""Iron condor: a short strangle ``short_otm_steps`` chain steps either side of ATM, hedged by
long wings ``wing_steps`` further out. Legs, hedges first: BUY CE at ATM + short + wing, BUY PE at
ATM - short - wing, SELL CE at ATM + short, SELL PE at ATM - short. ``short_otm_steps`` 0 makes an
iron butterfly. Entry, exit and grouping: ``_structure``."""

from __future__ import annotations

from actors.strategy.builtin._structure import LegSpec, OptionStructure, StructureParams


class IronCondorParams(StructureParams):
    short_otm_steps: int = 2
    wing_steps: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.short_otm_steps < 0:
            raise ValueError(f"short_otm_steps ({self.short_otm_steps}) must be 0 or more")
        if self.wing_steps < 1:
            raise ValueError(f"wing_steps ({self.wing_steps}) must be at least 1")


class IronCondor(OptionStructure):
    kind = "iron_condor"
    group_structure = "IRON_CONDOR"
    Params = IronCondorParams

    @classmethod
    def legs(cls, params: StructureParams) -> tuple[LegSpec, ...]:
        assert isinstance(params, IronCondorParams)
        s, w = params.short_otm_steps, params.wing_steps
        return (LegSpec("CE", s + w, "BUY"), LegSpec("PE", -(s + w), "BUY"),
                LegSpec("CE", s, "SELL"), LegSpec("PE", -s, "SELL"))
