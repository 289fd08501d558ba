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
    p = sub.add_parser("positions", parents=[client], help="net positions with realised P&L and "
                                                                  "unrealised P&L at the book's marks")
    p.add_argument("--open", action="store_true", help="only non-zero positions")
    p.add_argument("--strategy")
    p.set_defaults(fn=cmd_positions)

    p = sub.add_parser("trades", parents=[client], help="fills, oldest first")
    p.add_argument("--strategy")
    p.add_argument("--limit", type=int, default=0, help="only the newest N")
    p.set_defaults(fn=cmd_trades)

    p = sub.add_parser("pnl", parents=[client], help="P&L per strategy and in total: realised, unrealised at the "
                                                      "book's marks, charges, net, today carried in vs traded today; "
                                                      "today's P&L per position")
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
             rupees(p.mark_paise) if p.marked else "-",
             rupees(p.unrealised_pnl_paise) if p.marked or not p.net_qty_units else "-",
             rupees(p.realised_pnl_paise), rupees(p.charges_paise)] for p in r.positions]
    return (table(["STRATEGY", "SYMBOL", "PRODUCT", "NET QTY", "AVG", "MARK", "UNREALISED", "REALISED", "CHARGES"],
                  rows, frozenset({3, 4, 5, 6, 7, 8}))
            + f"\nrealised {rupees(r.realised_pnl_paise)}  unrealised {rupees(r.unrealised_pnl_paise)}  "
              f"charges {rupees(r.charges_paise)}  net {rupees(r.total_pnl_paise)}"
            + f"\nmarks: {r.mark_source}; - : no mark yet")


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


class StrategyPnl(msgspec.Struct, kw_only=True):
    """One strategy's P&L (``shikra pnl``): over its positions, unrealised at the marks; today's
    split into what was carried in and what was traded today. Integer paise."""

    strategy: str
    realised_pnl_paise: int = 0
    unrealised_pnl_paise: int = 0
    charges_paise: int = 0
    net_pnl_paise: int = 0  # realised + unrealised - charges
    carry_pnl_paise: int = 0  # today, on the units carried in (realised + unrealised)
    day_pnl_paise: int = 0  # today, on what was traded today (realised + unrealised)
    day_charges_paise: int = 0


def strategy_pnl(positions: Any, day: Any) -> list[StrategyPnl]:
    """Per strategy, from ListPositions' positions and GetDayPnl's rows, plus a TOTAL row last."""
    by: dict[str, StrategyPnl] = {}
    for p in positions:
        s = by.setdefault(p.strategy, StrategyPnl(strategy=p.strategy))
        s.realised_pnl_paise += p.realised_pnl_paise
        s.unrealised_pnl_paise += p.unrealised_pnl_paise
        s.charges_paise += p.charges_paise
    for d in day:
        s = by.setdefault(d.strategy, StrategyPnl(strategy=d.strategy))
        s.carry_pnl_paise += d.carry_realised_pnl_paise + d.carry_unrealised_pnl_paise
        s.day_pnl_paise += d.day_realised_pnl_paise + d.day_unrealised_pnl_paise
        s.day_charges_paise += d.day_charges_paise
    rows = [by[name] for name in sorted(by)]
    total = StrategyPnl(strategy="TOTAL")
    for s in rows:
        s.net_pnl_paise = s.realised_pnl_paise + s.unrealised_pnl_paise - s.charges_paise
        for field in ("realised_pnl_paise", "unrealised_pnl_paise", "charges_paise", "net_pnl_paise",
                      "carry_pnl_paise", "day_pnl_paise", "day_charges_paise"):
            setattr(total, field, getattr(total, field) + getattr(s, field))
    return [*rows, total]


def cmd_pnl(args: argparse.Namespace) -> int:
    """P&L per strategy and in total: realised (the ledger's positions), unrealised at the marks
    execution publishes, charges, net; today's split into carried-in and traded today; then
    today's P&L per position."""

    def body(c: Client) -> int:
        resp = c(c.portfolio.ListPositions, pb.ListPositionsRequest(strategy=args.strategy or ""))
        day = c(c.portfolio.GetDayPnl, pb.GetDayPnlRequest(strategy=args.strategy or ""))
        rows = strategy_pnl(resp.positions, day.positions)
        if args.json:
            *strategies, total = rows
            print(msgspec.json.encode({
                "strategies": strategies, "total": total, "mark_source": resp.mark_source,
                "realised_pnl_paise": resp.realised_pnl_paise, "unrealised_pnl_paise": resp.unrealised_pnl_paise,
                "charges_paise": resp.charges_paise, "net_pnl_paise": resp.total_pnl_paise,
                "today": to_builtins(day)}).decode())
            return EXIT_OK
        print(table(["STRATEGY", "REALISED", "UNREALISED", "CHARGES", "NET", "TODAY CARRY", "TODAY TRADED",
                     "TODAY CHARGES"],
                    [[s.strategy, rupees(s.realised_pnl_paise), rupees(s.unrealised_pnl_paise), rupees(s.charges_paise),
                      rupees(s.net_pnl_paise), rupees(s.carry_pnl_paise), rupees(s.day_pnl_paise),
                      rupees(s.day_charges_paise)] for s in rows], frozenset(range(1, 8))))
        print(f"marks: {resp.mark_source}")
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
