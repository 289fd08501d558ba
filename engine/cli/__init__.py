"""The ``shikra`` command: one module per command group, sharing only ``common``.

    daemon       run, init, status, kill (this machine's daemon), actors
    feed         tail, record, capture inspect
    orders       orders, buy, sell, cancel, modify, watch
    portfolio    positions, trades, pnl, funds
    risk         risk show|halt|release|limits|set, squareoff
    instruments  instruments search|chain
    market       quote, oi, scan
    users        users add|list|revoke|bootstrap-admin
    strategies   strategies list|start|stop|params|set
    journal      journal, export
    ledger       ledger verify|backup|rebuild
    audit        audit (the ledger's audit table)
    calendar     calendar show|add-holiday|add-session|remove
    backtest     backtest
    alerts       alerts test
    dhan         dhan login (the broker session by hand)
    kite         kite login (Kite Connect's daily login)

Exit codes: see ``engine.cli.common``.
"""

from __future__ import annotations

import argparse
import os
import sys

from engine.cli import (
    alerts,
    audit,
    backtest,
    calendar,
    common,
    daemon,
    dhan,
    feed,
    instruments,
    journal,
    kite,
    ledger,
    market,
    orders,
    portfolio,
    risk,
    schedule,
    settlement,
    strategies,
    users,
)
from engine.config import ConfigError

GROUPS = (daemon, feed, orders, portfolio, risk, instruments, market, users, strategies, journal, ledger, audit, calendar,
          backtest, alerts, settlement, schedule, dhan, kite)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shikra", description="Shikra trading engine")
    local = common.common_options()
    client = common.client_options(local)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(sub, local, client)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args))
    except ConfigError as exc:
        print(f"shikra: config error: {exc}", file=sys.stderr)
        return common.EXIT_CONFIG
    except KeyboardInterrupt:
        return common.EXIT_ERROR
    except BrokenPipeError:  # `shikra capture inspect F | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return common.EXIT_OK
