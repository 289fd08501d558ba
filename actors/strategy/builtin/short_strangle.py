"""Short strangle: SELL the CE ``call_otm_steps`` chain steps above ATM and SELL the PE
``put_otm_steps`` steps below it (both out of the money). Entry, exit and grouping:
``_structure``."""

from __future__ import annotations

from actors.strategy.builtin._structure import LegSpec, OptionStructure, StructureParams


class ShortStrangleParams(StructureParams):
    call_otm_steps: int = 2
    put_otm_steps: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("call_otm_steps", "put_otm_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} ({getattr(self, name)}) must be at least 1 (0 is a straddle)")


class ShortStrangle(OptionStructure):
    kind = "short_strangle"
    group_structure = "STRANGLE"
    Params = ShortStrangleParams

    @classmethod
    def legs(cls, params: StructureParams) -> tuple[LegSpec, ...]:
        assert isinstance(params, ShortStrangleParams)
        return (LegSpec("CE", params.call_otm_steps, "SELL"), LegSpec("PE", -params.put_otm_steps, "SELL"))
