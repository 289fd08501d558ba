"""The account through the control API: ``shikra positions | trades | pnl | funds | convert``."""

from __future__ import annotations

import argparse
from typing import Any

import msgspec

from engine.cli.common import EXIT_OK, Client, clock, emit, enum_name, instrument_ref, run, rupees, table, to_builtins
from engine.control_api import control_pb2 as pb
from engine.model.money import format_avg_rupees
from ipc.messages import PRODUCTS
from ipc.segments import instrument_label


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("positions", parents=[client], help="net positions with realised P&L")
    p.add_argument("--open", action="store_true", help="only non-zero positions")
    p.add_argument("--strategy")
    p.set_defaults(fn=cmd_positions)

    p = sub.add_parser("trades", parents=[client], help="fills, oldest first")
    p.add_argument("--strategy")
    p.add_argument("--limit", type=int, default=0, help="only the newest N")
    p.set_defaults(fn=cmd_trades)

    p = sub.add_parser("pnl", parents=[client], help="realised P&L per strategy, charges, net; today's P&L per "
                                                      "position, carried in vs traded today")
    p.add_argument("--strategy")
    p.set_defaults(fn=cmd_pnl)

    p = sub.add_parser("convert", parents=[client], help="move units of a position to another product "
                                                          "(INTRADAY <-> CNC for equity, INTRADAY <-> MARGIN for "
                                                          "derivatives)")
    p.add_argument("strategy", help="the strategy whose position it is (see `shikra positions`)")
    p.add_argument("symbol", help="SYMBOL or SEGMENT:security_id")
    p.add_argument("qty", type=int, help="units to move")
    p.add_argument("--from", dest="from_product", required=True, choices=sorted(PRODUCTS))
    p.add_argument("--to", dest="to_product", required=True, choices=sorted(PRODUCTS))
    p.set_defaults(fn=cmd_convert)

    p = sub.add_parser("funds", parents=[client], help="cash, deposits and charges of the trading account")
    p.set_defaults(fn=cmd_funds)


def _positions_text(r: Any) -> str:
    if not r.positions:
        return "no positions"
    rows = [[p.strategy, p.symbol or instrument_label(p.segment, p.security_id), p.product, p.net_qty_units,
             format_avg_rupees(abs(p.open_cost_paise), abs(p.net_qty_units)) if p.net_qty_units else "-",
             rupees(p.realised_pnl_paise), rupees(p.charges_paise)] for p in r.positions]
    return (table(["STRATEGY", "SYMBOL", "PRODUCT", "NET QTY", "AVG", "REALISED", "CHARGES"], rows,
                  frozenset({3, 4, 5, 6}))
            + f"\nrealised {rupees(r.realised_pnl_paise)}  charges {rupees(r.charges_paise)}  "
              f"net {rupees(r.net_pnl_paise)}")


def cmd_positions(args: argparse.Namespace) -> int:
    def body(c: Client) -> int:
        resp = c(c.portfolio.ListPositions, pb.ListPositionsRequest(strategy=args.strategy or "",
                                                                    open_only=args.open))
        emit(args, resp, _positions_text)
        return EXIT_OK

    return run(args, body)


def _day_text(day: Any) -> str:
    """Today's P&L per position: what was carried in at the day's start vs traded today."""
    if not day.positions:
        return "today: no position carried in or traded"
    rows = [[d.strategy, d.symbol or instrument_label(d.segment, d.security_id), d.product, d.carried_qty_units,
             rupees(d.carry_realised_pnl_paise), rupees(d.carry_unrealised_pnl_paise) if d.marked else "-",
             d.day_open_qty_units, rupees(d.day_realised_pnl_paise),
             rupees(d.day_unrealised_pnl_paise) if d.marked else "-", rupees(d.day_charges_paise)]
            for d in day.positions]
    return (f"today (IST day from {clock(day.day_start_ns)}):\n"
            + table(["STRATEGY", "SYMBOL", "PRODUCT", "CARRIED", "CARRY REAL.", "CARRY UNREAL.", "DAY OPEN",
                     "DAY REAL.", "DAY UNREAL.", "CHARGES"], rows, frozenset({3, 4, 5, 6, 7, 8, 9}))
            + f"\ncarry {rupees(day.carry_pnl_paise)}  day {rupees(day.day_pnl_paise)}  "
              f"charges today {rupees(day.day_charges_paise)}  (- : no mark yet)")


def cmd_pnl(args: argparse.Namespace) -> int:
    """Realised P&L per strategy (gross, charges, net) from the ledger's positions, then today's
    P&L per position split into carried-in and traded today."""

    def body(c: Client) -> int:
        resp = c(c.portfolio.ListPositions, pb.ListPositionsRequest(strategy=args.strategy or ""))
        day = c(c.portfolio.GetDayPnl, pb.GetDayPnlRequest(strategy=args.strategy or ""))
        by_strategy: dict[str, list[int]] = {}
        for p in resp.positions:
            row = by_strategy.setdefault(p.strategy, [0, 0])
            row[0] += p.realised_pnl_paise
            row[1] += p.charges_paise
        if args.json:
            print(msgspec.json.encode({
                "strategies": [{"strategy": s, "realised_pnl_paise": r, "charges_paise": ch, "net_pnl_paise": r - ch}
                               for s, (r, ch) in sorted(by_strategy.items())],
                "realised_pnl_paise": resp.realised_pnl_paise, "charges_paise": resp.charges_paise,
                "net_pnl_paise": resp.net_pnl_paise, "today": to_builtins(day)}).decode())
            return EXIT_OK
        rows = [[s, rupees(r), rupees(ch), rupees(r - ch)] for s, (r, ch) in sorted(by_strategy.items())]
        rows.append(["TOTAL", rupees(resp.realised_pnl_paise), rupees(resp.charges_paise), rupees(resp.net_pnl_paise)])
        print(table(["STRATEGY", "REALISED", "CHARGES", "NET"], rows, frozenset({1, 2, 3})))
        print(_day_text(day))
        return EXIT_OK

    return run(args, body)


def cmd_trades(args: argparse.Namespace) -> int:
    def human(r: Any) -> str:
        if not r.trades:
            return "no trades"
        rows = [[t.fill_id, clock(t.ts_event_ns), t.client_order_id, t.strategy, t.symbol or t.security_id,
                 enum_name("Side", t.side), t.qty_units, rupees(t.price_paise), rupees(t.charges_paise)]
                for t in r.trades]
        return table(["FILL", "TIME", "ORDER", "STRATEGY", "SYMBOL", "SIDE", "QTY", "PRICE", "CHARGES"], rows,
                     frozenset({6, 7, 8}))

    def body(c: Client) -> int:
        emit(args, c(c.portfolio.ListTrades, pb.ListTradesRequest(strategy=args.strategy or "", limit=args.limit)),
             human)
        return EXIT_OK

    return run(args, body)


def cmd_funds(args: argparse.Namespace) -> int:
    def body(c: Client) -> int:
        emit(args, c(c.portfolio.GetFunds, pb.GetFundsRequest()),
             lambda r: f"account {r.account}: cash {rupees(r.cash_paise)}  deposits net {rupees(r.external_paise)}  "
                       f"charges paid {rupees(r.charges_paise)}")
        return EXIT_OK

    return run(args, body)


def cmd_convert(args: argparse.Namespace) -> int:
    def human(r: Any) -> str:
        a, b = r.from_position, r.to_position
        return (f"converted {args.qty} units of {args.strategy} {a.symbol or instrument_label(a.segment, a.security_id)}"
                f" {a.product} -> {b.product}: {a.product} now {a.net_qty_units}, {b.product} now {b.net_qty_units}")

    def body(c: Client) -> int:
        emit(args, c(c.portfolio.ConvertPosition, pb.ConvertPositionRequest(
            strategy=args.strategy, instrument=instrument_ref(args.symbol), from_product=args.from_product,
            to_product=args.to_product, qty_units=args.qty)), human)
        return EXIT_OK

    return run(args, body)
