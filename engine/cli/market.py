"""Market data over the control API: ``shikra quote SYMBOL... [--depth]``."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli.common import EXIT_OK, Client, emit, instrument_ref, run, rupees, table
from engine.control_api import control_pb2 as pb
from engine.model.ist import NS_PER_MS, NS_PER_S


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("quote", parents=[client],
                       help="last price, bid/ask, day OHLC, volume, OI, change and the data's age")
    p.add_argument("instruments", nargs="+", metavar="INSTRUMENT",
                   help="a trading symbol (RELIANCE, NIFTY-Dec2026-26000-CE) or SEGMENT:ID (NSE_FNO:55796)")
    p.add_argument("--depth", action="store_true", help="5 levels of bids and asks")
    p.set_defaults(fn=cmd_quote)


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
