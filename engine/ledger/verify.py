"""Replay and compare: fold ``events`` again and report where the stored derived tables, the
indexes or the writer's in-memory tables differ from what the fold recomputes.

The writer uses it for ``verify`` and ``rebuild_derived``, the readers for ``verify``; a report
lists differences, it never repairs (``Ledger.rebuild_derived`` does).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

import lmdb
import msgspec

from engine.ledger.errors import LedgerError
from engine.ledger.fold import DERIVED_TABLES, FoldIssue, FoldIssueCode, Tables, fold_events
from engine.ledger.records import LedgerEvent, UnreadableRecord
from engine.ledger.schema import (
    ENCODER,
    EVENTS,
    INDEXES,
    KEY_DECODERS,
    KEY_ENCODERS,
    READ_AS_TODAY,
    ROW_DECODERS,
    STORED,
    decode_event,
    decode_row,
    decode_seq_key,
    stored_rows,
)
from engine.ledger.stored import StoredTable

_MAX_DIFFS_PER_TABLE: Final = 50


def memory_rows(tables: Tables) -> dict[str, Mapping[Any, Any]]:
    """What a table holds in memory: a stored table its kept rows, any other table everything."""
    return {table: rows.kept if isinstance(rows, StoredTable) else rows for table, rows in tables.by_name.items()}


def kept_rows(tables: Tables) -> dict[str, Mapping[Any, Any]]:
    """What the writer should hold in memory, given complete tables (e.g. recomputed ones)."""
    out: dict[str, Mapping[Any, Any]] = {}
    for table, rows in tables.by_name.items():
        if table in STORED:
            keep = STORED[table][0]
            out[table] = {key: row for key, row in rows.items() if keep is not None and keep(row)}
        else:
            out[table] = rows
    return out


def index_keys(tables: Tables) -> dict[str, set[bytes]]:
    """Keys each index should hold, given complete tables."""
    return {index: {KEY_ENCODERS[table](key) for key, row in tables.by_name[table].items()
                    if STORED[table][0](row)}  # type: ignore[misc]
            for index, table in INDEXES.items()}


def encoded_tables(tables: Mapping[str, Mapping[Any, Any]]) -> dict[str, dict[bytes, bytes]]:
    return {
        table: {KEY_ENCODERS[table](key): ENCODER.encode(row) for key, row in tables[table].items()}
        for table in DERIVED_TABLES
    }


def diff_tables(label: str, expected: Mapping[str, Mapping[bytes, bytes]],
                 actual: Mapping[str, Mapping[bytes, bytes]]) -> list[str]:
    """Differences of ``actual`` from ``expected`` (the recomputed tables), capped per table."""
    problems: list[str] = []
    for table in DERIVED_TABLES:
        want, have = expected[table], actual[table]
        decode_key = KEY_DECODERS[table]
        found: list[str] = []
        for raw_key in sorted(want.keys() | have.keys()):
            a, b = want.get(raw_key), have.get(raw_key)
            if a == b:
                continue
            key = decode_key(raw_key)
            if b is None:
                found.append(f"{label} {table}: key {key!r} is missing (recomputed {_show(table, key, a)})")
            elif a is None:
                found.append(f"{label} {table}: key {key!r} is not in the recomputed tables ({_show(table, key, b)})")
            else:
                found.append(f"{label} {table}: key {key!r} is {_show(table, key, b)}, "
                             f"recomputed {_show(table, key, a)}")
        if len(found) > _MAX_DIFFS_PER_TABLE:
            extra = len(found) - _MAX_DIFFS_PER_TABLE
            found = found[:_MAX_DIFFS_PER_TABLE] + [f"{label} {table}: ... and {extra} more differences"]
        problems.extend(found)
    return problems


def _show(table: str, key: Any, raw: Any) -> str:
    try:
        return repr(decode_row(table, key, raw))
    except Exception as exc:  # shown in a report, never raised: the row is what is wrong
        return f"<undecodable {len(raw)} bytes: {exc}>"


def read_events(txn: lmdb.Transaction, dbs: Mapping[str, Any], problems: list[str],
                 unreadable: list[tuple[int, FoldIssue]] | None = None,
                 strict: bool = False) -> Iterator[tuple[int, LedgerEvent]]:
    """Every readable event in order, one at a time; gaps and unreadable events are reported.
    An event that fails its checksum is reported too, or with ``strict`` raises LedgerError
    CORRUPT (a rebuild must not fold what the disk damaged)."""
    expected_seq = 1
    for raw_key, raw in txn.cursor(db=dbs[EVENTS]).iternext():
        seq = decode_seq_key(raw_key)
        if seq != expected_seq:
            problems.append(f"events: sequence jumps from {expected_seq - 1} to {seq}")
        expected_seq = seq + 1
        try:
            event = decode_event(seq, raw)
        except LedgerError as exc:
            if strict:
                raise
            problems.append(f"events: {exc}")
            continue
        if isinstance(event, UnreadableRecord):
            problems.append(f"events: seq {seq} does not decode: {event.error}")
            if unreadable is not None:
                unreadable.append((seq, FoldIssue(code=FoldIssueCode.UNKNOWN_RECORD, detail=event.error)))
            continue
        yield seq, event


def _as_today(table: str, raw: bytes) -> bytes:
    """A stored row as today's code writes it: a ledger not yet migrated (read while no writer
    has opened it since the upgrade) holds rows of an earlier shape that mean the same."""
    if table not in READ_AS_TODAY:
        return raw
    try:
        return ENCODER.encode(ROW_DECODERS[table].decode(raw))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return raw  # reported as a difference, with the bytes that are there


def _key_as_today(table: str, raw_key: bytes) -> bytes:
    """A stored key as today's code writes it (a positions key of schema 4 has no product)."""
    if table not in READ_AS_TODAY:
        return raw_key
    try:
        return KEY_ENCODERS[table](KEY_DECODERS[table](raw_key))
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError):
        return raw_key


def verify_txn(txn: lmdb.Transaction, dbs: Mapping[str, Any]) -> tuple[list[str], Tables]:
    """Replay ``events`` and compare with the stored derived tables and indexes, in one snapshot."""
    problems: list[str] = []
    recomputed, refused = fold_events(read_events(txn, dbs, problems))
    problems.extend(f"events: seq {seq} is refused by the fold: {issue.code.value} {issue.detail}"
                    for seq, issue in refused)
    stored = {table: {_key_as_today(table, bytes(k)): _as_today(table, bytes(v)) for k, v in stored_rows(txn, dbs, table)}
              for table in DERIVED_TABLES}
    problems.extend(diff_tables("stored", encoded_tables(recomputed.by_name), stored))
    for index, want in index_keys(recomputed).items():
        if index not in dbs:
            problems.append(f"stored {index}: the index does not exist (the writer builds it at open)")
            continue
        have = {bytes(k) for k in txn.cursor(db=dbs[index]).iternext(values=False)}
        for raw_key in sorted(want - have)[:_MAX_DIFFS_PER_TABLE]:
            problems.append(f"stored {index}: key {raw_key.decode(errors='replace')!r} is missing "
                            f"(its {INDEXES[index]} row is open)")
        for raw_key in sorted(have - want)[:_MAX_DIFFS_PER_TABLE]:
            problems.append(f"stored {index}: key {raw_key.decode(errors='replace')!r} should not be there "
                            f"(its {INDEXES[index]} row is not open, or there is none)")
    return problems, recomputed
