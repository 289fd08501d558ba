"""Iron condor: a short strangle hedged by long wings ``wing_steps`` chain steps further out.

Short strikes by steps (the default): ``short_otm_steps`` chain steps either side of ATM (0 makes
an iron butterfly). By delta (``short_delta_ppm``, |delta| in millionths: 200000 = 0.20): the CE and
the PE whose |delta| is nearest it; the wings then sit ``wing_steps`` beyond each short strike.
Legs, hedges first: BUY CE (short CE + wing), BUY PE (short PE - wing), SELL CE, SELL PE.

Zone (``zone_rules``, seed 003): the zone is the spot's range between the short PE's and the short
CE's strikes: enter only with the spot more than ``zone_margin_steps`` chain steps inside it; exit
(``zone_exit``) on the first index tick at or beyond a short strike, besides the P&L stop and
target. IV conditions, entry, exit and grouping: ``_structure``."""

from __future__ import annotations

from actors.strategy.builtin._structure import LegSpec, OptionStructure, StructureParams, Zone, check_delta


class IronCondorParams(StructureParams):
    short_otm_steps: int = 2
    wing_steps: int = 2
    short_delta_ppm: int = 0  # 0 = short strikes by steps
    zone_rules: bool = False
    zone_margin_steps: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.short_otm_steps < 0:
            raise ValueError(f"short_otm_steps ({self.short_otm_steps}) must be 0 or more")
        if self.wing_steps < 1:
            raise ValueError(f"wing_steps ({self.wing_steps}) must be at least 1")
        check_delta("short_delta_ppm", self.short_delta_ppm)
        if self.short_delta_ppm >= 500_000:
            raise ValueError(f"short_delta_ppm ({self.short_delta_ppm}) must be below 500000: the short legs are "
                             "out of the money")
        if self.zone_margin_steps < 0:
            raise ValueError(f"zone_margin_steps ({self.zone_margin_steps}) must be 0 or more")
        if self.zone_rules and not self.short_delta_ppm and self.short_otm_steps == 0:
            raise ValueError("zone_rules needs a zone: short_otm_steps 0 (an iron butterfly) puts both short "
                             "strikes at the ATM")


class IronCondor(OptionStructure):
    kind = "iron_condor"
    group_structure = "IRON_CONDOR"
    Params = IronCondorParams

    @classmethod
    def legs(cls, params: StructureParams) -> tuple[LegSpec, ...]:
        assert isinstance(params, IronCondorParams)
        w = params.wing_steps
        if params.short_delta_ppm:
            d = params.short_delta_ppm
            return (LegSpec("CE", w, "BUY", anchor=2), LegSpec("PE", -w, "BUY", anchor=3),
                    LegSpec("CE", 0, "SELL", delta_ppm=d), LegSpec("PE", 0, "SELL", delta_ppm=d))
        s = params.short_otm_steps
        return (LegSpec("CE", s + w, "BUY"), LegSpec("PE", -(s + w), "BUY"),
                LegSpec("CE", s, "SELL"), LegSpec("PE", -s, "SELL"))

    @classmethod
    def zone(cls, params: StructureParams) -> Zone | None:
        assert isinstance(params, IronCondorParams)
        return Zone(low_leg=3, high_leg=2, margin_steps=params.zone_margin_steps) if params.zone_rules else None
