"""Local ledger commands: ``shikra journal --local [--json]`` and ``shikra export trades|entries --out FILE``.

Both read the ledger of the data directory read-only (an LMDB reader: safe while the daemon
runs, and without it). Hooked into ``engine.cli`` with ``add_commands(sub, common)``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import msgspec

from engine.model.journal import Journal, Stats, build_journal, iter_fills
from engine.ledger.export import export_entries, export_trades, format_rupees

EXIT_OK = 0
EXIT_ERROR = 1


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``export`` to the ``shikra`` sub-command parser (``journal`` is in cli_remote: the API by
    default, ``--local`` runs :func:`cmd_journal` here)."""
    p = sub.add_parser("export", parents=[common], help="write ledger trades or entries as CSV")
    p.add_argument("what", choices=["trades", "entries"], help="trades: one row per fill; entries: every event")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.set_defaults(fn=cmd_export)


def _open_reader(args: argparse.Namespace) -> Any:
    from engine.cli import _paths  # the CLI's own config / data-dir resolution
    from engine.ledger import LedgerError, LedgerReader, ledger_dir

    data_dir, _run_dir = _paths(args)
    try:
        return LedgerReader.open(ledger_dir(data_dir))
    except LedgerError as exc:
        print(f"shikra: {exc}", file=sys.stderr)
        return None


def cmd_journal(args: argparse.Namespace) -> int:
    reader = _open_reader(args)
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
    reader = _open_reader(args)
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
