"""CSV export of trades (fills) and of ledger entries (every event), exact to the paisa.

Rupee columns are formatted from integer paise with integer arithmetic ("1650.50", "-12.05"),
never through a float. Times are ISO 8601 with nanoseconds and the zone offset (IST by default).
The writers take ``(seq, event)`` pairs, e.g. ``LedgerReader.iter_events()``, so they are pure;
``export_*`` stream them from one snapshot, one event at a time.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Iterable
from typing import Final, TextIO

from engine.ledger.fold import fill_cash_delta_paise
from engine.ledger.records import (
    AuditRecord,
    CashMovement,
    IntentRecorded,
    LedgerEvent,
    PositionConverted,
    PositionSettled,
    StrategyStateSaved,
    TradingStateChanged,
    UnreadableRecord,
    event_kind,
    event_time_ns,
)
from engine.ledger.reader import LedgerReader
from engine.model.ist import IST
from engine.model.money import format_paise
from ipc.messages import Fill, OrderEvent
from ipc.segments import instrument_label, segment_label


TRADE_COLUMNS: Final = (
    "seq", "time", "fill_id", "client_order_id", "venue_order_id", "strategy", "segment",
    "security_id", "side", "qty_units", "price_rupees", "value_rupees", "charges_rupees",
    "cash_rupees",
)
ENTRY_COLUMNS: Final = (
    "seq", "time", "type", "ref", "strategy", "instrument", "side", "qty_units", "price_rupees",
    "amount_rupees", "state", "detail",
)

SeqEvent = tuple[int, "LedgerEvent | UnreadableRecord"]


format_rupees = format_paise  # exact rupees with two decimals: the one money module says how


def iso_time(ts_ns: int, tz: dt.tzinfo = IST) -> str:
    """``2024-05-02T09:15:00.123456789+05:30`` from integer ns since the epoch (UTC)."""
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    moment = dt.datetime.fromtimestamp(seconds, tz)
    offset = moment.isoformat()[19:]  # "+05:30" (isoformat has no fraction at whole seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}{offset}"


def write_trades_csv(events: Iterable[SeqEvent], out: TextIO, tz: dt.tzinfo = IST) -> int:
    """Write one row per fill (in sequence order of ``events``); returns the number of rows.

    ``cash_rupees`` is the fill's effect on cash: -(value + charges) for a BUY,
    value - charges for a SELL.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TRADE_COLUMNS)
    rows = 0
    for seq, event in events:
        if not isinstance(event, Fill):
            continue
        writer.writerow((
            seq, iso_time(event.ts_event_ns, tz), event.fill_id, event.client_order_id,
            event.venue_order_id, event.strategy, segment_label(event.segment), event.security_id,
            event.side, event.qty_units, format_rupees(event.price_paise),
            format_rupees(event.qty_units * event.price_paise), format_rupees(event.charges_paise),
            format_rupees(fill_cash_delta_paise(event)),
        ))
        rows += 1
    return rows


def write_entries_csv(events: Iterable[SeqEvent], out: TextIO, tz: dt.tzinfo = IST) -> int:
    """Write one row per ledger event with its key fields; returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ENTRY_COLUMNS)
    rows = 0
    for seq, event in events:
        writer.writerow(_entry_row(seq, event, tz))
        rows += 1
    return rows


def _entry_row(seq: int, event: LedgerEvent | UnreadableRecord, tz: dt.tzinfo) -> tuple[object, ...]:
    if isinstance(event, UnreadableRecord):
        return (seq, "", "unreadable", "", "", "", "", "", "", "", "", event.error)
    when = iso_time(event_time_ns(event), tz)
    kind = event_kind(event)
    if isinstance(event, OrderEvent):
        spec = event.spec
        detail = (f"{spec.order_type} {spec.validity} {spec.product} filled {event.filled_qty_units} "
                  f"venue {event.venue_order_id or '-'} {event.reason_code} {event.reason}").strip()
        return (seq, when, kind, event.client_order_id, event.strategy,
                instrument_label(spec.segment, spec.security_id), spec.side, spec.qty_units,
                format_rupees(spec.price_paise), format_rupees(event.filled_value_paise),
                event.state.value, detail)
    if isinstance(event, Fill):
        return (seq, when, kind, event.fill_id, event.strategy,
                instrument_label(event.segment, event.security_id), event.side, event.qty_units,
                format_rupees(event.price_paise), format_rupees(fill_cash_delta_paise(event)), "",
                f"order {event.client_order_id} {event.product} charges {format_rupees(event.charges_paise)}")
    if isinstance(event, CashMovement):
        signed = -event.amount_paise if event.kind == "WITHDRAWAL" else event.amount_paise
        return (seq, when, kind, event.account, "", "", "", "", "", format_rupees(signed), event.kind, event.note)
    if isinstance(event, AuditRecord):
        args = json.dumps(event.args, sort_keys=True, separators=(",", ":"))
        return (seq, when, kind, event.who, "", "", "", "", "", "", event.action, f"{args} -> {event.result}")
    if isinstance(event, StrategyStateSaved):
        return (seq, when, kind, event.strategy, event.strategy, "", "", "", "", "", "",
                f"{len(event.state)} bytes")
    if isinstance(event, TradingStateChanged):
        return (seq, when, kind, event.by, "", "", "", "", "", "", event.state,
                f"{event.reason_code} {event.detail}".strip())
    if isinstance(event, IntentRecorded):
        return (seq, when, kind, event.intent_id, event.strategy, "", "", "", "", "", "",
                f"order {event.client_order_id} (no {event.order_no})")
    if isinstance(event, PositionConverted):
        return (seq, when, kind, event.by, event.strategy, instrument_label(event.segment, event.security_id),
                "", event.qty_units, "", "", f"{event.from_product}->{event.to_product}",
                f"converted by {event.by}" + (f" at {event.venue_ref}" if event.venue_ref else ""))
    if isinstance(event, PositionSettled):
        return (seq, when, kind, event.fill_id, event.strategy, instrument_label(event.segment, event.security_id),
                "", event.net_qty_units, format_rupees(event.value_per_unit_paise), "", event.kind,
                f"expiry {event.expiry_yyyymmdd} settlement price {format_rupees(event.settlement_price_paise)} "
                f"({event.price_source}) STT {format_rupees(event.stt_paise)}")
    return (seq, when, kind, "", "", "", "", "", "", "", "", "")


def export_trades(reader: LedgerReader, path: str | os.PathLike[str], tz: dt.tzinfo = IST) -> int:
    """Write the trades CSV of everything in the ledger (one snapshot) to ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        return write_trades_csv(reader.iter_events(), out, tz)


def export_entries(reader: LedgerReader, path: str | os.PathLike[str], tz: dt.tzinfo = IST) -> int:
    """Write the ledger entries CSV (one snapshot) to ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        return write_entries_csv(reader.iter_events(), out, tz)
