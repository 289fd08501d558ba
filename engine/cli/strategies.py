"""Strategies through the control API: ``shikra strategies list | start NAME | stop NAME | params
NAME | set NAME key=value ... [--local] | add NAME --kind K [--instrument I] [--params JSON] |
remove NAME`` (``--local``: through the run directory's socket)."""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any

import msgspec

from engine.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Client,
    emit,
    fail,
    local_paths,
    parse_assignments,
    run,
    rupees,
    send_local,
    table,
)
from engine.control_api import control_pb2 as pb
from engine.control_api.limits import MAX_JSON_DEPTH, json_depth
from ipc.messages import SetStrategyParams


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
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
    q = st.add_parser("add", parents=[client], help="add a strategy instance: started at once, kept across restarts")
    q.add_argument("name")
    q.add_argument("--kind", required=True, help="the strategy class (ema_cross, probe, iron_condor, ...)")
    # One instrument per instance (as in [[strategy.instances]]); option strategies pick their legs.
    q.add_argument("--instrument", "--instruments", dest="instrument", default="", metavar="INSTRUMENT",
                   help="the strategy's instrument: a symbol or SEGMENT:ID")
    q.add_argument("--params", default="{}", metavar="JSON", help='parameters as a JSON object, e.g. \'{"fast": 12}\'')
    q.set_defaults(fn=cmd_strategies)
    q = st.add_parser("remove", parents=[client], help="stop and forget a strategy (refused while it holds a "
                                                         "position or has orders working)")
    q.add_argument("name")
    q.set_defaults(fn=cmd_strategies)


def _strategy_rows(strategies: Any) -> str:
    if not strategies:
        return "no strategies configured"
    rows = [[s.name, s.kind, "running" if s.running else "STOPPED", " ".join(s.instruments) or "-", s.net_qty_units,
             s.open_orders, rupees(s.realised_pnl_paise), rupees(s.charges_paise), s.changed_by or "-"]
            for s in strategies]
    return table(["NAME", "KIND", "STATE", "INSTRUMENTS", "NET QTY", "OPEN", "REALISED", "CHARGES", "CHANGED BY"],
                 rows, frozenset({4, 5, 6, 7}))


def cmd_strategies(args: argparse.Namespace) -> int:
    action = args.action
    if action == "add":
        problem = _params_problem(args.params)
        if problem:
            return fail(args, CliError(EXIT_USAGE, f"--params: {problem}"))
    if action == "set":
        try:
            changes = parse_assignments(args.assignments, dotted=False)
        except CliError as exc:
            return fail(args, exc)
        if args.local:
            return _set_local(args, changes)

    def body(c: Client) -> int:
        stub = c.strategies
        if action == "list":
            emit(args, c(stub.ListStrategies, pb.ListStrategiesRequest()), lambda r: _strategy_rows(r.strategies))
        elif action == "start":
            emit(args, c(stub.StartStrategy, pb.StartStrategyRequest(name=args.name)),
                 lambda r: _strategy_rows([r.strategy]))
        elif action == "stop":
            emit(args, c(stub.StopStrategy, pb.StopStrategyRequest(name=args.name)),
                 lambda r: _strategy_rows([r.strategy]) + f"\ncancel sent for {len(r.cancelled_client_order_ids)} "
                                                          "open orders; positions stay (shikra squareoff)")
        elif action == "add":
            emit(args, c(stub.AddStrategy, pb.AddStrategyRequest(name=args.name, kind=args.kind,
                                                                 instrument=args.instrument,
                                                                 params_json=args.params)),
                 lambda r: _strategy_rows([r.strategy]))
        elif action == "remove":
            emit(args, c(stub.RemoveStrategy, pb.RemoveStrategyRequest(name=args.name)),
                 lambda r: f"removed {r.name} ({r.kind})")
        elif action == "params":
            emit(args, c(stub.GetStrategyParams, pb.GetStrategyParamsRequest(name=args.name)),
                 lambda r: f"{r.name}: {r.params_json}")
        else:
            emit(args, c(stub.SetStrategyParams, pb.SetStrategyParamsRequest(
                name=args.name, changes_json=msgspec.json.encode(changes).decode())),
                lambda r: f"{r.name}: {r.params_json}")
        return EXIT_OK

    return run(args, body)


def _params_problem(text: str) -> str:
    """What is wrong with ``--params`` ("" when it is a JSON object), checked before sending."""
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        return f"nests {depth:,} levels of [ and {{; at most {MAX_JSON_DEPTH}"
    try:
        params = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        return f"not JSON: {exc}"
    return "" if isinstance(params, dict) else 'a JSON object of parameters is needed, e.g. \'{"fast": 12}\''


def _set_local(args: argparse.Namespace, changes: dict[str, Any]) -> int:
    """``strategies set --local``: through the run directory's socket (file access, no token)."""
    _cfg, data_dir, run_dir = local_paths(args)
    who = f"local:{os.environ.get('USER', 'unknown')}"
    msg = SetStrategyParams(uuid.uuid4().hex, args.name, msgspec.json.encode(changes).decode(), who, time.time_ns())
    return send_local(data_dir, run_dir, msg, target="strategy")
