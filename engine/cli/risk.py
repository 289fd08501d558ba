"""Risk through the control API: ``shikra risk show | halt REASON | release | limits | set
key=value ...`` (dotted keys nest) and ``shikra squareoff [--strategy S] [--yes]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import msgspec

from engine.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Client,
    clock,
    emit,
    enum_name,
    fail,
    parse_assignments,
    run,
    rupees,
    table,
)
from engine.control_api import control_pb2 as pb
from ipc.segments import instrument_label


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("risk", help="risk state and limits; halt (engage the kill switch) or release it")
    risk = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    risk.add_parser("show", parents=[client], help="trading state and kill switch").set_defaults(fn=cmd_risk)
    q = risk.add_parser("halt", parents=[client], help="engage the kill switch (trader)")
    q.add_argument("reason")
    q.set_defaults(fn=cmd_risk)
    risk.add_parser("release", parents=[client], help="release the kill switch (admin)").set_defaults(fn=cmd_risk)
    risk.add_parser("limits", parents=[client], help="the limits in force (config + run-time changes)") \
        .set_defaults(fn=cmd_risk)
    q = risk.add_parser("set", parents=[client], help="change limits: key=value ..., dotted keys nest "
                                                      "(default.max_order_value_paise=5000000); null undoes (admin)")
    q.add_argument("assignments", nargs="+", metavar="key=value")
    q.set_defaults(fn=cmd_risk)

    p = sub.add_parser("squareoff", parents=[client], help="cancel open orders and close every position at market")
    p.add_argument("--strategy", help="only this strategy's positions and orders")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(fn=cmd_squareoff)


def cmd_risk(args: argparse.Namespace) -> int:
    def human_state(r: Any) -> str:
        ks = r.kill_switch
        line = f"trading {enum_name('TradingState', r.state)}"
        if r.reason_code or r.ts_ns:
            line += f" ({r.reason_code}: {r.detail}; by {r.by or '-'} at {clock(r.ts_ns)})"
        line += f"\nkill switch: {'ENGAGED (' + ks.reason + ', by ' + ks.by + ')' if ks.engaged else 'released'}"
        if r.HasField("usage"):
            u = r.usage
            line += (f"\norders today {u.orders_today}/{u.max_orders_per_day}, last second "
                     f"{u.orders_last_second}/{u.max_orders_per_second}, trades today {u.trades_today}/"
                     f"{u.max_trades_per_day}, open orders {u.open_orders}/{u.max_open_orders}"
                     f"\ngross exposure {rupees(u.gross_exposure_paise)}/{rupees(u.max_gross_exposure_paise)}"
                     f", day P&L {rupees(u.day_pnl_paise)} (limit -{rupees(u.daily_max_loss_paise)})"
                     f", cash {rupees(u.cash_paise)}, reserved {rupees(u.reserved_paise)}")
        return line

    changes: dict[str, Any] = {}
    if args.action == "set":  # a bad assignment is a usage error before anything connects
        try:
            changes = parse_assignments(args.assignments, dotted=True)
        except CliError as exc:
            return fail(args, exc)

    def body(c: Client) -> int:
        if args.action in ("limits", "set"):
            return _limits(args, c, changes)
        if args.action == "show":
            emit(args, c(c.risk.GetRiskState, pb.GetRiskStateRequest()), human_state)
        elif args.action == "halt":
            emit(args, c(c.risk.EngageKillSwitch, pb.EngageKillSwitchRequest(reason=args.reason)),
                 lambda r: f"kill switch engaged: {r.kill_switch.reason}")
        else:
            emit(args, c(c.risk.ReleaseKillSwitch, pb.ReleaseKillSwitchRequest()), lambda r: "kill switch released")
        return EXIT_OK

    return run(args, body)


def _limits(args: argparse.Namespace, c: Client, changes: dict[str, Any]) -> int:
    """``risk limits`` / ``risk set`` (``changes``: the parsed assignments)."""
    if args.action == "limits":
        resp = c(c.risk.GetRiskLimits, pb.GetRiskLimitsRequest())
        changed = (f"\nrun-time changes (by {resp.changed_by} at {clock(resp.changed_ns)}): {resp.changes_json}"
                   if resp.changes_json not in ("", "{}") else "\nno run-time changes: the config's [risk.limits]")
        emit(args, resp, lambda r: msgspec.json.format(r.limits_json.encode(), indent=2).decode() + changed)
        return EXIT_OK
    resp = c(c.risk.SetRiskLimits, pb.SetRiskLimitsRequest(changes_json=msgspec.json.encode(changes).decode()))
    emit(args, resp, lambda r: f"limits changed; run-time changes now {r.changes_json}")
    return EXIT_OK


def cmd_squareoff(args: argparse.Namespace) -> int:
    scope = f"strategy {args.strategy}" if args.strategy else "EVERY strategy"
    if not args.yes:
        if not sys.stdin.isatty():
            return fail(args, CliError(EXIT_USAGE, "squareoff closes positions at market: add --yes"))
        answer = input(f"close every open position of {scope} at market? type yes: ")
        if answer.strip().lower() != "yes":
            return fail(args, CliError(EXIT_USAGE, "squareoff: not confirmed, nothing sent"))

    def human(r: Any) -> str:
        if not r.positions and not r.cancelled_client_order_ids:
            return "nothing to square off: no open positions or orders"
        rows = [[p.strategy, p.symbol or instrument_label(p.segment, p.security_id), p.net_qty_units] for p in r.positions]
        text = f"closing {len(r.positions)} positions at market; cancelling {len(r.cancelled_client_order_ids)} orders"
        return text + ("\n" + table(["STRATEGY", "SYMBOL", "NET QTY"], rows, frozenset({2})) if rows else "")

    def body(c: Client) -> int:
        emit(args, c(c.risk.SquareOffAll, pb.SquareOffAllRequest(strategy=args.strategy or "", confirm=True)), human)
        return EXIT_OK

    return run(args, body)
