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
    expiry_arg,
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
from engine.model.master_refresh import MasterRefreshFailed, downloaded_master_path, master_source, refresh_master
from ipc.messages import RefreshInstrumentMaster


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("instruments", help="search the instrument master, option chains")
    inst = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = inst.add_parser("search", parents=[client], help="instruments matching every word of TEXT")
    q.add_argument("text")
    q.add_argument("--limit", type=int, default=20)
    q.set_defaults(fn=cmd_instruments)
    q = inst.add_parser("chain", parents=[client], help="option chain of UNDERLYING priced now: LTP, bid/ask, "
                                                        "volume, OI, IV (and greeks)")
    q.add_argument("underlying")
    q.add_argument("--expiry", help="YYYY-MM-DD (default: the nearest)")
    q.add_argument("--strikes", type=int, default=0, metavar="N", help="N strikes each side of the ATM (default: all)")
    q.add_argument("--greeks", action="store_true", help="also delta, gamma, theta and vega")
    q.set_defaults(fn=cmd_instruments)
    q = inst.add_parser("refresh", parents=[common], help="download, validate and swap in the Dhan master now "
                                                          "([instruments] master = \"dhan\")")
    q.set_defaults(fn=cmd_refresh)


def cmd_refresh(args: argparse.Namespace) -> int:
    cfg, data_dir, run_dir = local_paths(args)
    if is_locked(data_dir) is not None:
        # The supervisor owns the master's files; the actors take the new one at the session boundary.
        cfg = running_config(run_dir)
        if master_source(cfg.instruments.master) is None:
            print(f'shikra: instruments.master is "{cfg.instruments.master}", not "dhan" or "kite": nothing to '
                  'download', file=sys.stderr)
            return EXIT_ERROR
        who = f"local:{os.environ.get('USER', 'unknown')}"
        code = send_local(data_dir, run_dir, RefreshInstrumentMaster(uuid.uuid4().hex, who, time.time_ns()))
        if code == EXIT_OK:
            print("instrument master refresh started by the daemon; `shikra status` shows the master's date")
        return code
    try:
        source = master_source(cfg.instruments.master) or "dhan"
        meta = refresh_master(cfg.instruments.download, instruments_dir(data_dir), time.time_ns(), source=source)
    except MasterRefreshFailed as exc:
        print(f"shikra: instrument master refresh failed: {exc.reason_code}: {exc.detail}", file=sys.stderr)
        return EXIT_ERROR
    note = "" if cfg.instruments.master == source else f' (the config uses another master: set master = "{source}")'
    print(f"instrument master {downloaded_master_path(instruments_dir(data_dir), source)}: {meta.rows} instruments, "
          f"dated {meta.master_date}{note}")
    return EXIT_OK


def _iv(o: Any) -> str:
    if o.iv_status != "OK":
        return o.iv_status.lower()
    return f"{o.iv_ppm / 10_000:.2f}%"  # display only: the value on the wire is integer ppm


def _side(o: Any, greeks: bool) -> list[Any]:
    if not o.security_id:
        return ["-"] * (11 if greeks else 7)
    cells = [o.oi_units, f"{o.oi_change_units:+d}" if o.oi_change_units else "0", o.volume_units, _iv(o),
             rupees(o.ltp_paise) if o.ltp_paise else "-", rupees(o.bid_paise) if o.bid_paise else "-",
             rupees(o.ask_paise) if o.ask_paise else "-"]
    if greeks:
        ok = o.iv_status == "OK"
        cells += [f"{o.delta_ppm / 1e6:+.3f}" if ok else "-", f"{o.gamma_ppb_per_rupee / 1e9:.5f}" if ok else "-",
                  rupees(o.theta_paise_per_day) if ok else "-", rupees(o.vega_paise_per_vol_point) if ok else "-"]
    return cells


def chain_text(r: Any, greeks: bool) -> str:
    """The priced chain as a table: calls on the left, the strike in the middle, puts on the right
    (mirrored, so each side reads outward from the strike)."""
    years = r.time_left_ns / r.year_trading_ns if r.year_trading_ns else 0.0
    head = (f"{r.underlying} {r.segment} expiry {r.expiry_yyyymmdd}  lot {r.lot_size_units}  "
            f"forward {rupees(r.forward_paise) if r.forward_paise else '-'} ({r.underlying_source or 'no price'})  "
            f"spot {rupees(r.spot_paise) if r.spot_paise else '-'}  ATM "
            f"{rupees(r.atm_strike_paise) if r.atm_strike_paise else '-'}  "
            f"T {years:.5f} trading years")
    cols = ["OI", "OI CHG", "VOLUME", "IV", "LTP", "BID", "ASK"] + (["DELTA", "GAMMA", "THETA", "VEGA"] if greeks else [])
    rows = []
    for s in r.strikes:
        ce = _side(s.ce, greeks)
        pe = _side(s.pe, greeks)
        strike = rupees(s.strike_paise) + (" *ATM*" if s.atm else "")
        rows.append(ce + [strike] + pe[::-1])
    headers = [f"CE {c}" for c in cols] + ["STRIKE"] + [f"PE {c}" for c in cols[::-1]]
    right = frozenset(range(len(headers))) - {len(cols)}
    return head + "\n" + table(headers, rows, right)


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
        return chain_text(r, args.greeks)

    try:
        expiry = expiry_arg(getattr(args, "expiry", None))
    except CliError as exc:
        return fail(args, exc)

    def body(c: Client) -> int:
        if args.action == "search":
            emit(args, c(c.instruments.SearchInstruments, pb.SearchInstrumentsRequest(text=args.text,
                                                                                      limit=args.limit)),
                 human_search)
        else:
            if args.strikes < 0:
                raise CliError(EXIT_USAGE, f"--strikes {args.strikes} must be >= 0")
            emit(args, c(c.market.GetPricedChain,
                         pb.GetPricedChainRequest(underlying=args.underlying, expiry_yyyymmdd=expiry,
                                                  strikes_each_side=args.strikes)), human_chain)
        return EXIT_OK

    return run(args, body)
