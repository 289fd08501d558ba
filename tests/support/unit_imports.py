"""What one actor's process imports: ``python -m tests.support.unit_imports ACTOR DATA_DIR``.

Starts the actor the way its unit process does (``engine.daemon.unit``: the assembled default
config (the control API on any free port), the class from the registry, an :class:`actors.host.ActorHost` on the live clock), lets
``on_start`` run (kernels compile there, tables are built there), stops it, and prints the sorted
top-level names in ``sys.modules`` as JSON. ``supervisor`` builds the supervisor instead. Run it in
a fresh interpreter (tests do, in a subprocess): the caller's own imports would hide the actor's.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import msgspec


def unit_modules(actor: str, data_dir: Path) -> list[str]:
    from engine.config import BUILT_IN_CONFIG, Config, from_json, to_json

    from engine.model.ist import today_ist
    from engine.model.lookup import prepare_command

    defaults = Config()
    # The defaults, but the control API on a port of the OS's choice: a daemon running on this
    # machine may hold the default one.
    cfg = msgspec.structs.replace(defaults, control=msgspec.structs.replace(defaults.control, listen="127.0.0.1:0"))
    cfg = from_json(to_json(cfg))  # what a unit reads: the supervisor's config.json
    run_dir = Path(tempfile.mkdtemp(prefix="sk-imp-", dir="/tmp"))
    # What the supervisor does before it starts the units: the master prepared in a child.
    subprocess.run(prepare_command(cfg.instruments.master, data_dir, today_ist()), check=True)
    if actor == "supervisor":
        from engine.daemon.supervisor import Supervisor

        Supervisor(cfg, data_dir, run_dir, BUILT_IN_CONFIG)
    else:
        from actors.host import ActorHost
        from actors.registry import resolve

        host = ActorHost(actor, [(actor, resolve(actor, cfg.engine.actor_classes))], cfg.engine.actors, cfg,
                         data_dir, run_dir)
        code = host.start()
        host.shutdown()
        if code:
            raise SystemExit(f"{actor} did not start (exit code {code})")
    return sorted({name.partition(".")[0] for name in sys.modules})


if __name__ == "__main__":
    sys.stdout.buffer.write(msgspec.json.encode(unit_modules(sys.argv[1], Path(sys.argv[2]))) + b"\n")
