"""``shikra alerts test``: send one alert to every configured target ([notify] urls and
urls_file) and report each target ok or failed. Exit code 0 when every target took it, 1 when one
failed, 78 (config) when no target is configured. Targets are named without their secrets."""

from __future__ import annotations

import argparse
import socket
import sys
import time
from typing import Any

from actors.notify.alerts import Alert, AlertKind
from actors.notify.config import notify_urls
from actors.notify.sender import make_targets
from engine.cli.common import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, config_from_args


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    """Add ``alerts`` and its actions to the ``shikra`` sub-command parser."""
    p = sub.add_parser("alerts", parents=[common], help="operator alerts: test the configured targets")
    actions = p.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    q = actions.add_parser("test", parents=[common], help="send one alert to every configured target")
    q.set_defaults(fn=cmd_test)


def cmd_test(args: argparse.Namespace) -> int:
    cfg, source = config_from_args(args)
    try:
        urls = notify_urls(cfg.notify)
    except OSError as exc:
        print(f"shikra: notify.urls_file {cfg.notify.urls_file}: {exc.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    if not urls:
        print(f"shikra: no alert target configured ([notify] urls or urls_file in {source})", file=sys.stderr)
        return EXIT_CONFIG
    alert = Alert(kind=AlertKind.TEST, severity="info", subject="test", title="Shikra: test alert",
                  body=f"a test alert from `shikra alerts test` on {socket.gethostname()}: this target works",
                  ts_ns=time.time_ns())
    failed = 0
    for target in make_targets(urls):
        if not target.usable:
            print(f"{target.label}: failed (apprise does not know this URL)")
            failed += 1
        elif target.send(alert):
            print(f"{target.label}: ok")
        else:
            print(f"{target.label}: failed")
            failed += 1
    return EXIT_ERROR if failed else EXIT_OK
