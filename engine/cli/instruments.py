"""The instrument master through the control API: ``shikra instruments search TEXT | chain
UNDERLYING [--expiry DATE]``."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli.common import EXIT_OK, EXIT_USAGE, CliError, Client, emit, fail, run, rupees, table
from engine.control_api import control_pb2 as pb


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("instruments", help="search the instrument master, option chains")
    inst = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = inst.add_parser("search", parents=[client], help="instruments matching every word of TEXT")
    q.add_argument("text")
    q.add_argument("--limit", type=int, default=20)
    q.set_defaults(fn=cmd_instruments)
    q = inst.add_parser("chain", parents=[client], help="option chain of UNDERLYING")
    q.add_argument("underlying")
    q.add_argument("--expiry", help="YYYY-MM-DD (default: the nearest)")
    q.set_defaults(fn=cmd_instruments)


def _expiry_arg(text: str | None) -> int:
    if not text:
        return 0
    digits = text.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        raise CliError(EXIT_USAGE, f"--expiry {text!r} is not YYYY-MM-DD")
    return int(digits)


def cmd_instruments(args: argparse.Namespace) -> int:
    def human_search(r: Any) -> str:
        if not r.instruments:
            return "no instruments"
        rows = [[i.segment, i.security_id, i.symbol, i.instrument_type, i.expiry_yyyymmdd or "-",
                 rupees(i.strike_paise) if i.strike_paise else "-", i.option_type, i.lot_size_units,
                 rupees(i.tick_paise)] for i in r.instruments]
        return table(["SEGMENT", "ID", "SYMBOL", "TYPE", "EXPIRY", "STRIKE", "OPT", "LOT", "TICK"], rows,
                     frozenset({1, 5, 7, 8}))

    def human_chain(r: Any) -> str:
        head = (f"{r.underlying} {r.segment} expiry {r.expiry_yyyymmdd}  lot {r.lot_size_units}  "
                f"step {rupees(r.step_paise)}")
        rows = [[s.ce_symbol or "-", s.ce_security_id or "-", rupees(s.strike_paise), s.pe_security_id or "-",
                 s.pe_symbol or "-"] for s in r.strikes]
        return head + "\n" + table(["CE", "CE ID", "STRIKE", "PE ID", "PE"], rows, frozenset({1, 2, 3}))

    try:
        expiry = _expiry_arg(getattr(args, "expiry", None))
    except CliError as exc:
        return fail(args, exc)

    def body(c: Client) -> int:
        if args.action == "search":
            emit(args, c(c.instruments.SearchInstruments, pb.SearchInstrumentsRequest(text=args.text,
                                                                                      limit=args.limit)),
                 human_search)
        else:
            emit(args, c(c.instruments.GetOptionChain,
                         pb.GetOptionChainRequest(underlying=args.underlying, expiry_yyyymmdd=expiry)), human_chain)
        return EXIT_OK

    return run(args, body)
