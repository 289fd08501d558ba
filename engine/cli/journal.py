"""Round-trip trades and their figures, and the ledger as CSV: ``shikra journal [--strategy S]
[--trades] [--local]`` and ``shikra export trades|entries --out FILE``.

``journal`` asks the control API unless ``--local``; ``journal --local`` and ``export`` read the
data directory's ledger read-only (an LMDB reader: safe while the daemon runs, and without it).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import msgspec

from engine.cli.common import EXIT_ERROR, EXIT_OK, Client, clock, emit, open_ledger_reader, run, rupees, table
from engine.control_api import control_pb2 as pb
from engine.ledger.export import export_entries, export_trades, format_rupees
from engine.model.journal import Journal, Stats, build_journal, iter_fills


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("journal", parents=[client],
                       help="round-trip trades and their figures (win rate, P&L, drawdown, per strategy and day)")
    p.add_argument("--strategy", help="only this strategy")
    p.add_argument("--trades", action="store_true", help="also list every round trip")
    p.add_argument("--local", action="store_true", help="read the data directory's ledger instead of the API "
                                                        "(works with the daemon stopped; no token)")
    p.set_defaults(fn=cmd_journal)

    p = sub.add_parser("export", parents=[common], help="write ledger trades or entries as CSV")
    p.add_argument("what", choices=["trades", "entries"], help="trades: one row per fill; entries: every event")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.set_defaults(fn=cmd_export)


def cmd_journal(args: argparse.Namespace) -> int:
    return _journal_local(args) if args.local else _journal_remote(args)


def _journal_remote(args: argparse.Namespace) -> int:
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
        emit(args, c(c.journal.GetJournal, pb.GetJournalRequest(strategy=args.strategy or "",
                                                                include_trades=args.trades)), human)
        return EXIT_OK

    return run(args, body)


def _journal_local(args: argparse.Namespace) -> int:
    reader = open_ledger_reader(args)
    if reader is None:
        return EXIT_ERROR
    strategy = getattr(args, "strategy", None)
    with reader:  # the fills are read one at a time: memory does not grow with the ledger
        journal = build_journal(f for f in iter_fills(reader) if not strategy or f.strategy == strategy)
    if args.json:
        sys.stdout.write(msgspec.json.encode(journal).decode() + "\n")
    else:
        sys.stdout.write(render_journal(journal, with_trades=args.trades))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    reader = open_ledger_reader(args)
    if reader is None:
        return EXIT_ERROR
    with reader:
        write = export_trades if args.what == "trades" else export_entries
        try:
            rows = write(reader, args.out)
        except OSError as exc:
            print(f"shikra: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            return EXIT_ERROR
    print(f"wrote {rows} {args.what} rows to {args.out}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# Text rendering (rupees with two decimals, exact)
# --------------------------------------------------------------------------------------------

_COLUMNS = ("", "trades", "win %", "gross", "charges", "net", "avg win", "avg loss", "PF", "expect.", "max DD")


def _row(label: str, s: Stats) -> tuple[str, ...]:
    pf = "-" if s.profit_factor is None else f"{s.profit_factor:.2f}"
    return (label, str(s.trades), f"{100 * s.win_rate:.1f}", format_rupees(s.gross_pnl_paise),
            format_rupees(s.charges_paise), format_rupees(s.net_pnl_paise), format_rupees(s.avg_win_paise),
            format_rupees(s.avg_loss_paise), pf, format_rupees(s.expectancy_paise),
            format_rupees(s.max_drawdown_paise))


def _table(title: str, rows: list[tuple[str, ...]]) -> str:
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    lines = [title, "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(_COLUMNS, widths)))]
    for r in rows:
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines) + "\n\n"


def render_journal(journal: Journal, with_trades: bool = False) -> str:
    """The journal as text tables (rupees; PF = profit factor, DD = drawdown)."""
    if not journal.trades:
        open_note = f", {len(journal.open_lots)} open lots" if journal.open_lots else ""
        return f"no closed trades in {journal.fills} fills{open_note}\n"
    out = _table("All trades", [_row("all", journal.overall)])
    out += _table("By strategy", [_row(k, v) for k, v in journal.by_strategy.items()])
    out += _table("By strategy and instrument", [_row(k, v) for k, v in journal.by_instrument.items()])
    out += _table("By day (IST)", [_row(k, v) for k, v in journal.by_day.items()])
    if with_trades:
        out += "Trades\n"
        for t in journal.trades:
            out += (f"{t.strategy} {t.instrument} {t.direction} {t.qty_units} entry {format_rupees(t.entry_value_paise)} "
                    f"exit {format_rupees(t.exit_value_paise)} charges {format_rupees(t.charges_paise)} "
                    f"net {format_rupees(t.net_pnl_paise)}\n")
        out += "\n"
    if journal.open_lots:
        out += f"{len(journal.open_lots)} lots still open (not counted as trades)\n"
    if journal.bad_fills:
        out += f"{journal.bad_fills} fills skipped (non-positive qty or price, or an unknown side)\n"
    return out
