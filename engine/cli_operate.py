"""The operator's ``shikra`` commands beyond orders and users, over the gRPC control API:

    shikra actors                                   shikra modify ID [--qty N] [--limit P] [--trigger P]
    shikra squareoff [--strategy S] [--yes]         shikra strategies list | start NAME | stop NAME
    shikra strategies params NAME                   shikra strategies set NAME key=value ... [--local]
    shikra risk limits                              shikra risk set key=value ... (dotted keys nest)
    shikra journal [--strategy S] [--trades]        (``--local`` reads the ledger files directly)

Connection, token, ``--json`` and exit codes as in :mod:`engine.cli_remote`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import msgspec

from engine.cli_remote import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Client,
    _emit,
    _enum_name,
    _fail,
    _paise_arg,
    _run,
    clock,
    order_rows,
    rupees,
    table,
)
from ipc.segments import instrument_label


def parse_assignments(items: list[str], dotted: bool) -> dict[str, Any]:
    """``key=value`` words as a JSON-able object: values are JSON where they parse (numbers,
    true/false, null), text otherwise; with ``dotted``, ``a.b=1`` nests as ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(EXIT_USAGE, f"'{item}' is not key=value")
        try:
            parsed: Any = msgspec.json.decode(value)
        except msgspec.DecodeError:
            parsed = value
        node = out
        parts = key.split(".") if dotted else [key]
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise CliError(EXIT_USAGE, f"'{item}': {part} is given a value and keys")
            node = child
        node[parts[-1]] = parsed
    return out


# Actors -----------------------------------------------------------------------------------------

def cmd_actors(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    def human(r: Any) -> str:
        rows = [[a.name, a.unit, a.pid or "-", a.state, f"{a.uptime_ns // 1_000_000_000}s", a.restarts,
                 clock(a.last_heartbeat_ns), a.msgs_in, a.msgs_out, a.bad_frames] for a in r.actors]
        return table(["ACTOR", "PROCESS", "PID", "STATE", "UPTIME", "RESTARTS", "HEARTBEAT", "IN", "OUT", "BAD"],
                     rows, frozenset({2, 4, 5, 7, 8, 9}))

    def body(c: Client) -> int:
        _emit(args, c(c.engine.ListActors, pb.ListActorsRequest()), human)
        return EXIT_OK

    return _run(args, body)


# Modify and square-off --------------------------------------------------------------------------

def cmd_modify(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    try:
        price = _paise_arg(args.limit, "--limit")
        trigger = _paise_arg(args.trigger, "--trigger")
    except CliError as exc:
        return _fail(args, exc)
    if args.qty is None and not price and not trigger:
        return _fail(args, CliError(EXIT_USAGE, "modify: give at least one of --qty, --limit, --trigger"))
    if args.qty is not None and args.qty <= 0:
        return _fail(args, CliError(EXIT_USAGE, f"modify: --qty {args.qty} must be positive (units, the new total)"))

    def body(c: Client) -> int:
        resp = c(c.orders.ModifyOrder, pb.ModifyOrderRequest(client_order_id=args.id, qty_units=args.qty or 0,
                                                             price_paise=price, trigger_price_paise=trigger))
        o = resp.order
        _emit(args, resp, lambda r: (f"order {o.client_order_id} {_enum_name('OrderState', o.state)}: "
                                     + ("modified\n" if r.modified else f"NOT modified ({o.reason_code}: {o.reason})\n")
                                     + order_rows([o])))
        if not resp.modified:
            print(f"shikra: the venue refused the modification: {o.reason_code}: {o.reason}", file=sys.stderr)
            return 5
        return EXIT_OK

    return _run(args, body)


def cmd_squareoff(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    scope = f"strategy {args.strategy}" if args.strategy else "EVERY strategy"
    if not args.yes:
        if not sys.stdin.isatty():
            return _fail(args, CliError(EXIT_USAGE, "squareoff closes positions at market: add --yes"))
        answer = input(f"close every open position of {scope} at market? type yes: ")
        if answer.strip().lower() != "yes":
            return _fail(args, CliError(EXIT_USAGE, "squareoff: not confirmed, nothing sent"))

    def human(r: Any) -> str:
        if not r.positions and not r.cancelled_client_order_ids:
            return "nothing to square off: no open positions or orders"
        rows = [[p.strategy, p.symbol or instrument_label(p.segment, p.security_id), p.net_qty_units] for p in r.positions]
        text = f"closing {len(r.positions)} positions at market; cancelling {len(r.cancelled_client_order_ids)} orders"
        return text + ("\n" + table(["STRATEGY", "SYMBOL", "NET QTY"], rows, frozenset({2})) if rows else "")

    def body(c: Client) -> int:
        _emit(args, c(c.risk.SquareOffAll, pb.SquareOffAllRequest(strategy=args.strategy or "", confirm=True)), human)
        return EXIT_OK

    return _run(args, body)


# Strategies -------------------------------------------------------------------------------------

def _strategy_rows(strategies: Any) -> str:
    if not strategies:
        return "no strategies configured"
    rows = [[s.name, s.kind, "running" if s.running else "STOPPED", " ".join(s.instruments) or "-", s.net_qty_units,
             s.open_orders, rupees(s.realised_pnl_paise), rupees(s.charges_paise), s.changed_by or "-"]
            for s in strategies]
    return table(["NAME", "KIND", "STATE", "INSTRUMENTS", "NET QTY", "OPEN", "REALISED", "CHARGES", "CHANGED BY"],
                 rows, frozenset({4, 5, 6, 7}))


def cmd_strategies(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    action = args.action
    if action == "set":
        try:
            changes = parse_assignments(args.assignments, dotted=False)
        except CliError as exc:
            return _fail(args, exc)
        if args.local:
            return _set_local(args, changes)

    def body(c: Client) -> int:
        stub = c.strategies
        if action == "list":
            _emit(args, c(stub.ListStrategies, pb.ListStrategiesRequest()), lambda r: _strategy_rows(r.strategies))
        elif action == "start":
            _emit(args, c(stub.StartStrategy, pb.StartStrategyRequest(name=args.name)),
                  lambda r: _strategy_rows([r.strategy]))
        elif action == "stop":
            _emit(args, c(stub.StopStrategy, pb.StopStrategyRequest(name=args.name)),
                  lambda r: _strategy_rows([r.strategy]) + f"\ncancel sent for {len(r.cancelled_client_order_ids)} "
                                                           "open orders; positions stay (shikra squareoff)")
        elif action == "params":
            _emit(args, c(stub.GetStrategyParams, pb.GetStrategyParamsRequest(name=args.name)),
                  lambda r: f"{r.name}: {r.params_json}")
        else:
            _emit(args, c(stub.SetStrategyParams, pb.SetStrategyParamsRequest(
                name=args.name, changes_json=msgspec.json.encode(changes).decode())),
                lambda r: f"{r.name}: {r.params_json}")
        return EXIT_OK

    return _run(args, body)


def _set_local(args: argparse.Namespace, changes: dict[str, Any]) -> int:
    """``strategies set --local``: through the run directory's socket (file access, no token)."""
    import os
    import time
    import uuid

    from engine.cli import _paths, _send_to_supervisor
    from ipc.messages import SetStrategyParams

    data_dir, run_dir = _paths(args)
    who = f"local:{os.environ.get('USER', 'unknown')}"
    msg = SetStrategyParams(uuid.uuid4().hex, args.name, msgspec.json.encode(changes).decode(), who, time.time_ns())
    return _send_to_supervisor(data_dir, run_dir, msg, target="strategy")


# Risk limits ------------------------------------------------------------------------------------

def risk_limits_action(args: argparse.Namespace, c: Client) -> int:
    """``risk limits`` / ``risk set``: called by cli_remote's ``cmd_risk``."""
    from engine.control_api import control_pb2 as pb

    if args.action == "limits":
        resp = c(c.risk.GetRiskLimits, pb.GetRiskLimitsRequest())
        changed = (f"\nrun-time changes (by {resp.changed_by} at {clock(resp.changed_ns)}): {resp.changes_json}"
                   if resp.changes_json not in ("", "{}") else "\nno run-time changes: the config's [risk.limits]")
        _emit(args, resp, lambda r: msgspec.json.format(r.limits_json.encode(), indent=2).decode() + changed)
        return EXIT_OK
    changes = parse_assignments(args.assignments, dotted=True)
    resp = c(c.risk.SetRiskLimits, pb.SetRiskLimitsRequest(changes_json=msgspec.json.encode(changes).decode()))
    _emit(args, resp, lambda r: f"limits changed; run-time changes now {r.changes_json}")
    return EXIT_OK


# Journal ----------------------------------------------------------------------------------------

def journal_remote(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    def pf(s: Any) -> str:
        return f"{s.profit_factor_ppm / 1e6:.2f}" if s.has_profit_factor else "-"

    def rows(stats: Any) -> list[list[Any]]:
        return [[k, s.trades, f"{s.win_rate_ppm / 1e4:.1f}", rupees(s.gross_pnl_paise), rupees(s.charges_paise),
                 rupees(s.net_pnl_paise), rupees(s.avg_win_paise), rupees(s.avg_loss_paise), pf(s),
                 rupees(s.expectancy_paise), rupees(s.max_drawdown_paise)] for k, s in stats]

    heads = ["", "TRADES", "WIN %", "GROSS", "CHARGES", "NET", "AVG WIN", "AVG LOSS", "PF", "EXPECT.", "MAX DD"]
    right = frozenset(range(1, 11))

    def human(r: Any) -> str:
        if not r.overall.trades:
            return f"no closed trades in {r.fills} fills" + (f", {r.open_lots} open lots" if r.open_lots else "")
        out = [table(heads, rows([("all", r.overall)]), right), "",
               "By strategy", table(heads, rows(sorted(r.by_strategy.items())), right), "",
               "By day (IST)", table(heads, rows(sorted(r.by_day.items())), right)]
        if r.trades:
            out += ["", "Trades", table(
                ["STRATEGY", "INSTRUMENT", "DIR", "QTY", "ENTRY", "EXIT", "CHARGES", "NET", "CLOSED"],
                [[t.strategy, t.instrument, t.direction, t.qty_units, rupees(t.entry_value_paise),
                  rupees(t.exit_value_paise), rupees(t.charges_paise), rupees(t.net_pnl_paise), clock(t.ts_exit_ns)]
                 for t in r.trades], frozenset({3, 4, 5, 6, 7}))]
        if r.open_lots:
            out.append(f"{r.open_lots} lots still open (not counted as trades)")
        return "\n".join(out)

    def body(c: Client) -> int:
        _emit(args, c(c.journal.GetJournal, pb.GetJournalRequest(strategy=args.strategy or "",
                                                                 include_trades=args.trades)), human)
        return EXIT_OK

    return _run(args, body)


def add_commands(sub: Any, client: argparse.ArgumentParser) -> None:
    """Called by cli_remote.add_commands with its client options parser."""
    p = sub.add_parser("actors", parents=[client], help="every actor: process, state, uptime, restarts, messages")
    p.set_defaults(fn=cmd_actors)

    p = sub.add_parser("modify", parents=[client], help="change an open order's qty, limit price or trigger")
    p.add_argument("id", help="client order id")
    p.add_argument("--qty", type=int, help="the new total quantity in units (filled part included)")
    p.add_argument("--limit", metavar="PRICE", help="new limit price in rupees")
    p.add_argument("--trigger", metavar="PRICE", help="new stop trigger in rupees")
    p.set_defaults(fn=cmd_modify)

    p = sub.add_parser("squareoff", parents=[client], help="cancel open orders and close every position at market")
    p.add_argument("--strategy", help="only this strategy's positions and orders")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(fn=cmd_squareoff)

    p = sub.add_parser("strategies", help="list, start, stop strategies; get or set their parameters")
    st = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    st.add_parser("list", parents=[client], help="every configured strategy with state and P&L") \
        .set_defaults(fn=cmd_strategies)
    for action, text in (("start", "start a stopped strategy (kept across restarts)"),
                         ("stop", "stop a strategy: no new orders, its open orders cancelled (kept across restarts)"),
                         ("params", "a strategy's parameters")):
        q = st.add_parser(action, parents=[client], help=text)
        q.add_argument("name")
        q.set_defaults(fn=cmd_strategies)
    q = st.add_parser("set", parents=[client], help="set NAME key=value ...: validated by the strategy, kept")
    q.add_argument("name")
    q.add_argument("assignments", nargs="+", metavar="key=value")
    q.add_argument("--local", action="store_true", help="through the local run directory instead of the API")
    q.set_defaults(fn=cmd_strategies)
