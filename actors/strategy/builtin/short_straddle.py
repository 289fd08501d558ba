"""Short straddle: SELL the CE and SELL the PE of one strike, ``strike_offset`` chain steps from
ATM (+ higher, - lower; 0 = ATM). Entry, exit and grouping: ``_structure``."""

from __future__ import annotations

from actors.strategy.builtin._structure import LegSpec, OptionStructure, StructureParams


class ShortStraddleParams(StructureParams):
    strike_offset: int = 0


class ShortStraddle(OptionStructure):
    kind = "short_straddle"
    group_structure = "STRADDLE"
    Params = ShortStraddleParams

    @classmethod
    def legs(cls, params: StructureParams) -> tuple[LegSpec, ...]:
        assert isinstance(params, ShortStraddleParams)
        k = params.strike_offset
        return (LegSpec("CE", k, "SELL"), LegSpec("PE", k, "SELL"))
