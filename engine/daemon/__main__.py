"""``python -m engine.daemon --data-dir DIR [--config FILE]``: the supervisor in an interpreter of its own.

``shikra run`` resolves the config file and the data directory, then replaces itself with this
(``os.execv``: the same pid, so systemd and a caller that waits for it see no difference). The
daemon's longest-lived process then holds only what the supervisor imports, not the CLI's command
groups (gRPC, protobuf and every client command: tens of MB for as long as the daemon runs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.config import BUILT_IN_CONFIG, Config, load_config, resolve_paths
from engine.daemon.lock import AlreadyRunning
from engine.daemon.supervisor import run_daemon
from engine.logs import setup_logging

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.daemon")
    parser.add_argument("--config", type=Path, help="config TOML file (none: the built-in defaults)")
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args(argv)
    cfg, source = (load_config(args.config), str(args.config)) if args.config else (Config(), BUILT_IN_CONFIG)
    setup_logging(cfg.log.level, cfg.log.format, unit="supervisor")
    data_dir, run_dir = resolve_paths(cfg, args.data_dir)
    try:
        return run_daemon(cfg, data_dir, run_dir, source)
    except AlreadyRunning as exc:
        sys.exit(f"shikra: {exc}")  # exit code 1, the message on stderr


if __name__ == "__main__":
    sys.exit(main())
