"""Market data over the control API: ``shikra quote SYMBOL... [--depth]``, ``shikra oi UNDERLYING
[--expiry D] [--window 15m]`` (the OI tracker) and ``shikra scan [SCREEN]`` (the scanner)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Client,
    emit,
    expiry_arg,
    fail,
    instrument_ref,
    run,
    rupees,
    table,
)
from engine.control_api import control_pb2 as pb
from engine.model.ist import NS_PER_MS, NS_PER_S


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("quote", parents=[client],
                       help="last price, bid/ask, day OHLC, volume, OI, change and the data's age")
    p.add_argument("instruments", nargs="+", metavar="INSTRUMENT",
                   help="a trading symbol (RELIANCE, NIFTY-Dec2026-26000-CE) or SEGMENT:ID (NSE_FNO:55796)")
    p.add_argument("--depth", action="store_true", help="5 levels of bids and asks")
    p.set_defaults(fn=cmd_quote)
    p = sub.add_parser("oi", parents=[client],
                       help="open interest of an expiry: OI change by strike since the open and over a window, "
                            "buildup, put-call ratios, max pain")
    p.add_argument("underlying", help="NIFTY, BANKNIFTY, ...")
    p.add_argument("--expiry", help="YYYY-MM-DD (default: the nearest)")
    p.add_argument("--window", help="a rolling window: 15m, 1h, 300s (default: [control] oi_windows_s, the first "
                                    "shown)")
    p.set_defaults(fn=cmd_oi)
    p = sub.add_parser("scan", parents=[client], help="run the configured screens ([scanner] screens) now")
    p.add_argument("screen", nargs="?", default="", help="one screen's name (default: every screen)")
    p.set_defaults(fn=cmd_scan)


def age_text(age_ns: int) -> str:
    if age_ns < NS_PER_S:
        return f"{age_ns // NS_PER_MS}ms"
    return f"{age_ns // NS_PER_S}s"


def change_text(q: Any) -> str:
    if not q.prev_close_paise:
        return "-"
    sign = "+" if q.change_paise > 0 else ""
    bp = abs(q.change_bp)
    pct = f"{'-' if q.change_bp < 0 else sign}{bp // 100}.{bp % 100:02d}%"
    return f"{sign}{rupees(q.change_paise)} ({pct})"


def price_text(paise: int) -> str:
    """Rupees, or "-" for 0 (not seen: an index has no open, no bid, no ask)."""
    return rupees(paise) if paise else "-"


def _best(levels: Any) -> str:
    return f"{rupees(levels[0].price_paise)} x {levels[0].qty_units}" if levels else "-"


def human_quotes(r: Any) -> str:
    rows = []
    for q in r.quotes:
        if not q.has_data:
            rows.append([q.symbol or f"{q.segment}:{q.security_id}", "-", "-", "-", "-", "-", "-", "-", "-", "-",
                         "no market data"])
            continue
        age = age_text(q.age_ns) + (" STALE" if q.stale else "")
        rows.append([q.symbol or f"{q.segment}:{q.security_id}", price_text(q.ltp_paise), change_text(q),
                     _best(q.bids), _best(q.asks), price_text(q.open_paise), price_text(q.high_paise),
                     price_text(q.low_paise),
                     q.volume_units, q.oi_units or "-", age])
    out = table(["INSTRUMENT", "LTP", "CHANGE", "BID", "ASK", "OPEN", "HIGH", "LOW", "VOLUME", "OI", "AGE"], rows,
                frozenset({1, 5, 6, 7, 8, 9}))
    for q in r.quotes:
        if q.has_data and (len(q.bids) > 1 or len(q.asks) > 1):
            depth = [[lv.orders, lv.qty_units, rupees(lv.price_paise)] for lv in q.bids]
            asks = [[rupees(lv.price_paise), lv.qty_units, lv.orders] for lv in q.asks]
            width = max(len(depth), len(asks))
            depth += [["", "", ""]] * (width - len(depth))
            asks += [["", "", ""]] * (width - len(asks))
            out += f"\n\n{q.symbol} depth\n" + table(["ORDERS", "BID QTY", "BID", "ASK", "ASK QTY", "ORDERS"],
                                                       [b + a for b, a in zip(depth, asks)],
                                                       frozenset({0, 1, 2, 4, 5}))
    return out


def cmd_quote(args: argparse.Namespace) -> int:
    def body(c: Client) -> int:
        req = pb.GetQuoteRequest(instruments=[instrument_ref(t) for t in args.instruments], depth=args.depth)
        emit(args, c(c.market.GetQuote, req), human_quotes)
        return EXIT_OK

    return run(args, body)


_WINDOW_UNITS_S = {"s": 1, "m": 60, "h": 3600}


def window_arg(text: str) -> int:
    """``15m`` / ``1h`` / ``300s`` / ``300`` as seconds."""
    unit = text[-1:].lower()
    digits = text[:-1] if unit in _WINDOW_UNITS_S else text
    if not digits.isdigit() or int(digits) <= 0:
        raise CliError(EXIT_USAGE, f"--window {text[:20]!r} is not a duration like 5m, 15m, 1h or 300s")
    return int(digits) * _WINDOW_UNITS_S.get(unit, 1)


def window_text(window_s: int) -> str:
    if window_s == 0:
        return "open"
    if window_s % 3600 == 0:
        return f"{window_s // 3600}h"
    return f"{window_s // 60}m" if window_s % 60 == 0 else f"{window_s}s"


def ratio_text(ppm: int) -> str:
    return f"{ppm / 1_000_000:.2f}" if ppm else "-"  # display only: the wire has integer ppm


_BUILDUP_TEXT = {"NONE": "-", "LONG_BUILDUP": "long buildup", "SHORT_BUILDUP": "short buildup",
                 "LONG_UNWINDING": "long unwinding", "SHORT_COVERING": "short covering"}


def _oi_side(o: Any, shown: list[int]) -> list[Any]:
    if not o.security_id:
        return ["-"] * (2 + 2 * len(shown))
    cells: list[Any] = [price_text(o.ltp_paise), o.oi_units]
    for i in shown:
        c = o.changes[i]
        cells.append(f"{c.oi_change_units:+d}" if c.oi_change_units else "0")
    cells.append(_BUILDUP_TEXT.get(o.changes[shown[-1]].buildup, o.changes[shown[-1]].buildup))
    return cells


def oi_text(r: Any) -> str:
    """The tracker as a table: calls left, strike middle, puts right (mirrored); the OI change
    since the open and over the first rolling window, with that window's buildup."""
    shown = [0, 1] if len(r.windows_s) > 1 else [0]
    names = [window_text(r.windows_s[i]) for i in shown]
    head = (f"{r.underlying} {r.segment} expiry {r.expiry_yyyymmdd}  PCR OI {ratio_text(r.pcr_oi_ppm)}  "
            f"PCR volume {ratio_text(r.pcr_volume_ppm)}  max pain "
            f"{rupees(r.max_pain_strike_paise) if r.max_pain_strike_paise else '-'}\n"
            f"CE OI {r.ce_oi_units}  PE OI {r.pe_oi_units}  "
            + "  ".join(f"chg {window_text(t.window_s)} CE {t.ce_oi_change_units:+d} PE {t.pe_oi_change_units:+d}"
                        for t in r.totals))
    cols = ["LTP", "OI"] + [f"CHG {n}" for n in names] + [f"BUILDUP {names[-1]}"]
    rows = [_oi_side(s.ce, shown)[::-1] + [rupees(s.strike_paise)] + _oi_side(s.pe, shown) for s in r.strikes]
    headers = [f"CE {c}" for c in cols[::-1]] + ["STRIKE"] + [f"PE {c}" for c in cols]
    return head + "\n" + table(headers, rows, frozenset(range(len(headers))) - {0, len(headers) - 1})


def cmd_oi(args: argparse.Namespace) -> int:
    try:
        windows = [window_arg(args.window)] if args.window else []
        expiry = expiry_arg(args.expiry)
    except CliError as exc:
        return fail(args, exc)

    def body(c: Client) -> int:
        req = pb.GetOiTrackerRequest(underlying=args.underlying, expiry_yyyymmdd=expiry, windows_s=windows)
        emit(args, c(c.market.GetOiTracker, req), oi_text)
        return EXIT_OK

    return run(args, body)


def _measure_text(name: str, value: int) -> str:
    if name == "spike_pct":
        return f"{value / 100:.2f}x"
    sign = "+" if value > 0 and name in ("change_bp", "gap_bp", "oi_change_bp") else ("-" if value < 0 else "")
    v = abs(value)
    return f"{sign}{v // 100}.{v % 100:02d}%"


def scan_text(r: Any) -> str:
    parts = []
    for res in r.results:
        head = f"{res.screen} ({res.kind}, {len(res.hits)} of {res.universe_size})"
        if not res.hits:
            parts.append(head + "\n  nothing")
            continue
        rows = [[h.symbol or f"{h.segment}:{h.security_id}", price_text(h.ltp_paise),
                 _measure_text("change_bp", h.change_bp) if h.change_bp else "-", h.volume_units, h.oi_units or "-",
                 _measure_text(res.measure_name, h.measure)] + ([_BUILDUP_TEXT[h.buildup]] if res.kind == "oi_buildup"
                                                                else []) for h in res.hits]
        headers = ["INSTRUMENT", "LTP", "CHANGE", "VOLUME", "OI", res.measure_name.upper()] + (
            ["BUILDUP"] if res.kind == "oi_buildup" else [])
        parts.append(head + "\n" + table(headers, rows, frozenset({1, 2, 3, 4, 5})))
    return "\n\n".join(parts)


def cmd_scan(args: argparse.Namespace) -> int:
    def body(c: Client) -> int:
        emit(args, c(c.market.Scan, pb.ScanRequest(screen=args.screen)), scan_text)
        return EXIT_OK

    return run(args, body)
