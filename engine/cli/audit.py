"""The ledger's audit table: ``shikra audit [--since T] [--user U] [--json]``.

Reads the data directory's ledger read-only, as ``export`` and ``journal --local`` do (an LMDB
reader: safe while the daemon runs, and without it; no token). Rows come oldest first; times are
shown in IST. ``--since`` takes an IST date or date and time (``2025-01-31``, ``2025-01-31
09:15``, ``2025-01-31T09:15:30``; an explicit offset such as ``+00:00`` wins), an IST time of day
today (``09:15``), or a span back from now (``90s``, ``30m``, ``2h``, ``7d``). ``--user`` keeps the
rows of one ``who``: a user's name, or an actor such as ``risk``. ``--json`` prints one JSON object
per row (``seq``, ``ts_ns``, ``time_ist``, ``who``, ``action``, ``args``, ``result``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import msgspec

from engine.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, open_ledger_reader, table
from engine.ledger import AuditRecord
from engine.model.ist import IST, NS_PER_S, ist_ns, today_ist

_PAGE_ROWS = 1000  # rows decoded per read: memory stays flat however long the audit is
_SPAN = re.compile(r"(\d+)([smhd])")
_SPAN_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


class SinceError(ValueError):
    """``--since`` text that is none of the accepted forms."""


def parse_since(text: str, now_ns: int) -> int:
    """Epoch ns of a ``--since`` value (see the module docstring for the forms); raises SinceError."""
    text = text.strip()
    span = _SPAN.fullmatch(text)
    if span is not None:
        return now_ns - int(span.group(1)) * _SPAN_S[span.group(2)] * NS_PER_S
    try:
        t = dt.time.fromisoformat(text)
    except ValueError:
        pass
    else:
        if t.tzinfo is None:
            return ist_ns(today_ist(now_ns), t)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SinceError(f"--since {text!r}: not a date, a date and time, a time of day (IST) or a span such as "
                         "30m, 2h or 7d") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=IST)
    return int(when.timestamp()) * NS_PER_S + when.microsecond * 1000


def _ist(ts_ns: int) -> dt.datetime:
    """``ts_ns`` as an IST datetime, to the microsecond (integer arithmetic: no float rounding)."""
    return dt.datetime.fromtimestamp(ts_ns // NS_PER_S, IST).replace(microsecond=ts_ns % NS_PER_S // 1000)


def ist_text(ts_ns: int) -> str:
    """``2025-01-31 09:15:30.123`` (IST, milliseconds)."""
    return _ist(ts_ns).isoformat(sep=" ", timespec="milliseconds").removesuffix("+05:30")


def select(rows: Iterator[tuple[int, AuditRecord]], since_ns: int | None, user: str | None
           ) -> Iterator[tuple[int, AuditRecord]]:
    """The rows at or after ``since_ns`` by ``user`` (None: any). Rows are filtered one by one, not
    cut at the first match: the writers' clocks are not one, so times are only nearly in order."""
    for seq, row in rows:
        if since_ns is not None and row.ts_ns < since_ns:
            continue
        if user is not None and row.who != user:
            continue
        yield seq, row


def as_json(seq: int, row: AuditRecord) -> dict[str, Any]:
    return {"seq": seq, "ts_ns": row.ts_ns, "time_ist": _ist(row.ts_ns).isoformat(timespec="milliseconds"),
            "who": row.who, "action": row.action, "args": row.args, "result": row.result}


def as_cells(seq: int, row: AuditRecord) -> list[str]:
    details = " ".join(f"{k}={v}" for k, v in row.args.items())
    return [str(seq), ist_text(row.ts_ns), row.who, row.action, details, row.result]


def _all_rows(reader: Any) -> Iterator[tuple[int, AuditRecord]]:
    """Every audit row, oldest first, from one snapshot, a page at a time."""
    with reader.snapshot() as snap:
        after = 0
        while True:
            page = snap.audit(after + 1, _PAGE_ROWS)
            yield from page
            if len(page) < _PAGE_ROWS:
                return
            after = page[-1][0]


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("audit", parents=[common], help="the ledger's audit table: who did what, and what was refused "
                                                       "(reads the data directory; no token)")
    p.add_argument("--since", metavar="T", help="rows from T on: an IST date or date and time, an IST time of day "
                                                "today, or a span back from now (30m, 2h, 7d)")
    p.add_argument("--user", metavar="U", help="only the rows of U (a user's name, or an actor such as risk)")
    p.add_argument("--json", action="store_true", help="one JSON object per row instead of a table")
    p.set_defaults(fn=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    since_ns = None
    if args.since is not None:
        try:
            since_ns = parse_since(args.since, time.time_ns())
        except SinceError as exc:
            print(f"shikra: {exc}", file=sys.stderr)
            return EXIT_USAGE
    reader = open_ledger_reader(args)
    if reader is None:
        return EXIT_ERROR
    with reader:
        rows = select(_all_rows(reader), since_ns, args.user)
        if args.json:
            encode = msgspec.json.Encoder().encode
            for seq, row in rows:
                sys.stdout.write(encode(as_json(seq, row)).decode() + "\n")
            return EXIT_OK
        cells = [as_cells(seq, row) for seq, row in rows]
    if not cells:
        print("no audit rows" + (" matching" if args.since or args.user else ""))
    else:
        print(table(["SEQ", "TIME (IST)", "WHO", "ACTION", "DETAILS", "RESULT"], cells, frozenset({0})))
    return EXIT_OK
