"""``shikra settlement``: the official settlement prices of expired contracts' underlyings.

The engine settles positions held past expiry against the underlying's last price it saw on the
expiry day (``actors.execution.expiry_settlement``). ``set-price`` gives the exchange's official
one instead, kept in the data dir (``actors.execution.config.SETTLEMENT_PRICES_FILE``) where a
running engine reads it when a settlement is due; it wins over ``[execution.settlement]
prices_paise`` in the config. A settlement already recorded is not redone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

import msgspec

from actors.execution.config import (
    SettlementConfig,
    read_settlement_prices,
    settlement_price_key,
    write_settlement_prices,
)
from engine.cli.common import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, local_paths
from engine.model.money import format_paise, parse_rupees


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a date YYYY-MM-DD") from None


def _rupees(text: str) -> int:
    try:
        paise = parse_rupees(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a price in rupees (e.g. 26012.35)") from None
    if paise <= 0:
        raise argparse.ArgumentTypeError(f"{text[:20]!r}: a settlement price must be positive")
    return paise


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("settlement", parents=[common], help="official settlement prices for expiry settlement")
    actions = p.add_subparsers(dest="settlement_command", required=True, metavar="ACTION")
    q = actions.add_parser("show", parents=[common], help="the settlement prices set (data dir and config)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(fn=cmd_show)
    q = actions.add_parser("set-price", parents=[common],
                           help="the official settlement price of UNDERLYING for contracts expiring on DATE")
    q.add_argument("underlying", metavar="UNDERLYING", help="as the instrument master names it, e.g. NIFTY")
    q.add_argument("date", type=_date, metavar="DATE", help="the expiry date, YYYY-MM-DD")
    q.add_argument("price", type=_rupees, metavar="PRICE", help="in rupees, e.g. 26012.35")
    q.set_defaults(fn=cmd_set_price)
    q = actions.add_parser("remove", parents=[common], help="forget the price set for UNDERLYING on DATE")
    q.add_argument("underlying", metavar="UNDERLYING")
    q.add_argument("date", type=_date, metavar="DATE")
    q.set_defaults(fn=cmd_remove)


def _load(args: argparse.Namespace) -> tuple[Any, SettlementConfig, SettlementConfig] | None:
    """(data dir, the data dir's prices, the config's), or None after printing why not."""
    cfg, data_dir, _run_dir = local_paths(args)
    try:
        return data_dir, read_settlement_prices(data_dir), cfg.execution.settlement
    except ValueError as exc:
        print(f"shikra: settlement prices: {exc}\n(fix the file by hand, or delete it to start again)",
              file=sys.stderr)
        return None


def _save(data_dir: Any, prices: dict[str, int], done: str) -> int:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = write_settlement_prices(data_dir, SettlementConfig(prices_paise=prices))
    except ValueError as exc:
        print(f"shikra: not changed: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"shikra: {data_dir}: cannot be written: {exc.strerror}", file=sys.stderr)
        return EXIT_ERROR
    print(f"{done} in {path}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_CONFIG
    _data_dir, kept, configured = loaded
    rows = [{"key": key, "price_paise": paise, "source": "data dir"} for key, paise in sorted(kept.prices_paise.items())]
    rows += [{"key": key, "price_paise": paise, "source": "config"}
             for key, paise in sorted(configured.prices_paise.items()) if key not in kept.prices_paise]
    if args.json:
        sys.stdout.write(msgspec.json.encode(rows).decode() + "\n")
        return EXIT_OK
    if not rows:
        print("no settlement prices set: expiry settlement uses the underlying's last price seen that day")
        return EXIT_OK
    print(f"{'UNDERLYING:EXPIRY':<24} {'PRICE':>14} SOURCE")
    for row in rows:
        print(f"{row['key']:<24} {format_paise(row['price_paise']):>14} {row['source']}")
    return EXIT_OK


def cmd_set_price(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_CONFIG
    data_dir, kept, _configured = loaded
    key = settlement_price_key(args.underlying, args.date)
    return _save(data_dir, {**kept.prices_paise, key: args.price},
                 f"settlement price of {key} set to {format_paise(args.price)}")


def cmd_remove(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_CONFIG
    data_dir, kept, _configured = loaded
    key = settlement_price_key(args.underlying, args.date)
    if key not in kept.prices_paise:
        print(f"shikra: no settlement price of {key} is set in the data dir", file=sys.stderr)
        return EXIT_ERROR
    return _save(data_dir, {k: v for k, v in kept.prices_paise.items() if k != key},
                 f"settlement price of {key} removed")
