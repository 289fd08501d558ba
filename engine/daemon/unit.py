"""Entry point of a unit process: ``python -m engine.daemon.unit --unit NAME --run-dir DIR ...``.

The supervisor writes the effective config to ``<run_dir>/config.json`` (no secrets in it) and
starts one of these per unit; it hosts the unit's actors in an :class:`actors.host.ActorHost`.
It lives in the daemon, not in ``actors/``, because it reads the assembled config and the topology.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from actors.base import EXIT_CONFIG
from actors.host import ActorHost
from actors.registry import UnknownActor, resolve
from engine.config import from_json
from engine.daemon.topology import plan_units
from engine.logs import get_logger, setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="engine.daemon.unit")
    parser.add_argument("--unit", required=True)
    parser.add_argument("--run-dir", required=True, type=Path)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--lifeline-fd", type=int, default=-1,
                        help="read end of a pipe the supervisor holds open; EOF means it is gone")
    args = parser.parse_args(argv)

    cfg = from_json((args.run_dir / "config.json").read_bytes())
    setup_logging(cfg.log.level, cfg.log.format, unit=args.unit)
    log = get_logger("actor_main")
    units = {u.name: u for u in plan_units(cfg)}
    unit = units.get(args.unit)
    if unit is None:
        log.error("unknown_unit", unit=args.unit, known=",".join(units))
        return EXIT_CONFIG
    try:
        local = [(name, resolve(name, cfg.engine.actor_classes)) for name in unit.actors]
    except UnknownActor as exc:
        log.error("actor_class_error", unit=args.unit, error=str(exc))
        return EXIT_CONFIG
    host = ActorHost(args.unit, local, cfg.engine.actors, cfg, args.data_dir, args.run_dir,
                     lifeline_fd=args.lifeline_fd, freeze_gc=True)
    return host.run()


if __name__ == "__main__":
    sys.exit(main())
