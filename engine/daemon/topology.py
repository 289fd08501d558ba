"""Which actors share a process.

``isolated``: one process (unit) per actor. ``co-located``: the actors in ``engine.colocated`` share
one unit called ``hotpath`` and talk on the in-process bus; the rest stay isolated.
"""

from __future__ import annotations

import msgspec

from actors.registry import STOP_ORDER
from engine.config import Config

HOTPATH = "hotpath"


class Unit(msgspec.Struct, frozen=True):
    name: str
    actors: tuple[str, ...]


def plan_units(cfg: Config) -> list[Unit]:
    eng = cfg.engine
    if eng.topology == "isolated":
        return [Unit(name, (name,)) for name in eng.actors]
    hot = tuple(name for name in eng.actors if name in eng.colocated)
    units = [Unit(HOTPATH, hot)] if hot else []
    units += [Unit(name, (name,)) for name in eng.actors if name not in eng.colocated]
    return units


def stop_rank(unit: Unit) -> int:
    """Units stop in DESIGN.md's order; a unit holding execution stops with execution (last)."""
    return max(STOP_ORDER.index(a) if a in STOP_ORDER else -1 for a in unit.actors)
