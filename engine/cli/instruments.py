"""The instrument master: ``shikra instruments search TEXT | chain UNDERLYING [--expiry DATE]``
through the control API, and ``shikra instruments refresh`` (the Dhan master downloaded now:
by the running daemon's supervisor, or here when no daemon runs)."""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from typing import Any

from engine.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Client,
    emit,
    fail,
    local_paths,
    run,
    running_config,
    rupees,
    send_local,
    table,
)
from engine.control_api import control_pb2 as pb
from engine.daemon.lock import is_locked
from engine.model.lookup import instruments_dir
from engine.model.master_refresh import MasterRefreshFailed, downloaded_master_path, refresh_master
from ipc.messages import RefreshInstrumentMaster


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
    q = inst.add_parser("refresh", parents=[common], help="download, validate and swap in the Dhan master now "
                                                          "([instruments] master = \"dhan\")")
    q.set_defaults(fn=cmd_refresh)


def cmd_refresh(args: argparse.Namespace) -> int:
    cfg, data_dir, run_dir = local_paths(args)
    if is_locked(data_dir) is not None:
        # The supervisor owns the master's files; the actors take the new one at the session boundary.
        cfg = running_config(run_dir)
        if cfg.instruments.master != "dhan":
            print(f'shikra: instruments.master is "{cfg.instruments.master}", not "dhan": nothing to download',
                  file=sys.stderr)
            return EXIT_ERROR
        who = f"local:{os.environ.get('USER', 'unknown')}"
        code = send_local(data_dir, run_dir, RefreshInstrumentMaster(uuid.uuid4().hex, who, time.time_ns()))
        if code == EXIT_OK:
            print("instrument master refresh started by the daemon; `shikra status` shows the master's date")
        return code
    try:
        meta = refresh_master(cfg.instruments.download, instruments_dir(data_dir), time.time_ns())
    except MasterRefreshFailed as exc:
        print(f"shikra: instrument master refresh failed: {exc.reason_code}: {exc.detail}", file=sys.stderr)
        return EXIT_ERROR
    note = "" if cfg.instruments.master == "dhan" else ' (the config uses another master: set master = "dhan")'
    print(f"instrument master {downloaded_master_path(instruments_dir(data_dir))}: {meta.rows} instruments, "
          f"dated {meta.master_date}{note}")
    return EXIT_OK


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
