"""The ledger on disk: one LMDB environment, its tables, how their keys and rows are encoded.

Layout (named databases in one environment under ``<data dir>/ledger``):

* ``events``: key = big-endian u64 sequence (1, 2, ...), value = a framed ``LedgerEvent``
  (``frame_event``: 0xC1, the CRC-32 of the body, the msgpack body; events written before
  schema 4 are the bare msgpack body and read as they are). Append-only; an event the fold
  refuses is never written. Every read of an event checks its CRC (``decode_event``).
* derived tables, written in the SAME write transaction as the events that change them, so a
  crash can never leave them disagreeing with ``events``: ``orders`` (client order id ->
  latest OrderEvent), ``fills`` (fill id -> Fill), ``positions`` (msgpack ``[strategy, segment,
  security_id, product]`` -> Position; ``[strategy, segment, security_id]`` before schema 5), ``wallets`` (account -> Wallet), ``strategy_state`` (strategy ->
  StrategyStateSaved), ``audit`` (u64 sequence -> AuditRecord), ``intents`` (intent id ->
  IntentRecorded), ``meta`` (``counters``, ``trading``; plus the non-derived ``schema`` and
  ``id_prefix`` written once at creation), ``users`` (name -> User) and ``tokens`` (token
  SHA-256 hex -> Token) for the control API, ``groups`` (group id -> latest GroupEvent) for
  order groups.
* indexes, written in the same transaction: ``open_orders`` and ``open_groups`` hold the keys
  of the orders not in a terminal state and of the groups not finished.

What is derived is computed only by ``engine.ledger.fold``; the writer's ``rebuild_derived`` and
``verify`` (``engine.ledger.verify``) replay ``events`` through it. The writer is
``engine.ledger.writer``, the readers ``engine.ledger.reader``; both answer the same queries
(``engine.ledger.queries``).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Union

import lmdb
import msgspec

from engine.ledger.errors import LedgerError, LedgerErrorCode
from engine.ledger.fold import (
    AUDIT,
    DERIVED_TABLES,
    FILLS,
    GROUPS,
    INTENTS,
    META,
    META_COUNTERS,
    META_TRADING,
    ORDERS,
    POSITIONS,
    STRATEGY_STATE,
    TOKENS,
    USERS,
    WALLETS,
    is_open_group,
    is_open_order,
)
from engine.ledger.legacy import OLD_RECORD_TYPES, legacy_position_key, upgrade
from engine.ledger.records import (
    LEDGER_EVENT_TYPES,
    AuditRecord,
    Counters,
    IntentRecorded,
    LedgerEvent,
    StrategyStateSaved,
    Token,
    TradingStateChanged,
    UnreadableRecord,
    User,
    Wallet,
)
from ipc.messages import Fill, GroupEvent, OrderEvent, Position, PositionKey, Product

LEDGER_DIR_NAME: Final = "ledger"
LOCK_FILE_NAME: Final = "writer.lock"
# 3: orders and order groups carry the order's fields as one OrderSpec (order@2, group@2; the
# old records stay in ``events`` and read through engine.ledger.legacy). 2: the open_orders and
# open_groups indexes. A ledger of schema 1, 2 or 3 is migrated at the writer's open.
# 4: every event written from now on carries its CRC-32 (``frame_event``); the events stored
# before stay as they were and read without a checksum, so the migration writes only the version.
# 5: positions are kept per product (key ``[strategy, segment, security_id, product]``; fills and
# positions carry ``product``). What schema 4 and older stored reads as INTRADAY (the product the
# engine then assumed for every position); the migration rewrites the positions table's keys and
# rows once, ``events`` stays as written.
SCHEMA_VERSION: Final = b"5"
SCHEMA_V1: Final = b"1"
SCHEMA_V2: Final = b"2"
SCHEMA_V3: Final = b"3"
SCHEMA_V4: Final = b"4"
RESHAPED_TABLES: Final = (ORDERS, GROUPS)  # their rows changed shape in schema 3
# Tables whose stored rows (or keys) may be of an earlier shape that means the same: compare them
# as today's code writes them. Fills gained ``product`` in schema 5 and are never rewritten (the
# table grows with every fill); positions were re-keyed by the migration to schema 5, but a
# reader may meet a ledger whose writer has not opened it since the upgrade.
READ_AS_TODAY: Final = (*RESHAPED_TABLES, FILLS, POSITIONS)
EVENTS: Final = "events"
OPEN_ORDERS: Final = "open_orders"  # index: client order id -> b"" for every open order
OPEN_GROUPS: Final = "open_groups"  # index: group id -> b"" for every group not finished
MAX_DBS: Final = 16
META_SCHEMA: Final = b"schema"
META_ID_PREFIX: Final = b"id_prefix"
DERIVED_META_KEYS: Final = (META_COUNTERS, META_TRADING)


def ledger_dir(data_dir: str | os.PathLike[str]) -> Path:
    """Where the ledger lives under a data directory."""
    return Path(data_dir) / LEDGER_DIR_NAME


# ------------------------------------------------------------------------------------------
# Codecs: how keys and rows of each table are stored
# ------------------------------------------------------------------------------------------

U64: Final = struct.Struct(">Q")
ENCODER: Final = msgspec.msgpack.Encoder()


class _Reading:
    """A decoder of ``current`` that also reads the shapes earlier versions stored (the
    ``engine.ledger.legacy`` records) and hands back today's message: old records are never
    rewritten in ``events``, and a reader may meet a ledger not yet migrated."""

    __slots__ = ("decode_raw",)

    def __init__(self, *current: type) -> None:
        self.decode_raw = msgspec.msgpack.Decoder(Union[(*current, *OLD_RECORD_TYPES)]).decode  # type: ignore[misc]

    def decode(self, raw: Any) -> Any:
        return upgrade(self.decode_raw(raw))


_EVENT_DECODER: Final = _Reading(*LEDGER_EVENT_TYPES)
_POSITION_KEY_DECODER: Final = msgspec.msgpack.Decoder(tuple[str, int, int, Product])


# An event's frame: the tag is a byte msgpack never uses, so a bare record of schema 3 or earlier
# (a msgpack array: 0x90-0x9F, 0xDC or 0xDD first) is told apart from a framed one.
EVENT_FRAME_TAG: Final = 0xC1
_FRAME_TAG_BYTE: Final = bytes([EVENT_FRAME_TAG])
_FRAME: Final = struct.Struct(">BI")  # tag, CRC-32 of the body
_FRAME_BYTES: Final = _FRAME.size
_pack_frame: Final = _FRAME.pack
_crc32: Final = zlib.crc32


def frame_event(body: bytes) -> bytes:
    """The stored form of an encoded event: tag, CRC-32 of ``body``, ``body``."""
    # Order path: once per event written (one CRC of ~200 bytes and a concatenation).
    return _pack_frame(EVENT_FRAME_TAG, _crc32(body)) + body


def event_body(seq: int, raw: Any) -> Any:
    """The msgpack body of stored event ``seq`` (``raw``: bytes or a buffer), its CRC checked.
    Raises LedgerError CORRUPT naming the sequence when the CRC does not match (the file was
    damaged after the write); an event of schema 3 or earlier has no CRC and comes back as it is."""
    if raw[:1] != _FRAME_TAG_BYTE:
        return raw
    if len(raw) < _FRAME_BYTES:
        raise LedgerError(LedgerErrorCode.CORRUPT, f"event seq {seq}: {len(raw)} bytes, shorter than its frame")
    stored = _FRAME.unpack_from(raw)[1]
    body = raw[_FRAME_BYTES:]
    computed = _crc32(body)
    if computed != stored:
        raise LedgerError(LedgerErrorCode.CORRUPT,
                          f"event seq {seq} fails its checksum (stored CRC-32 {stored:08x}, computed {computed:08x}): "
                          "the ledger file was damaged after the event was written")
    return body


def seq_key(seq: int) -> bytes:
    """LMDB key of sequence ``seq`` (big-endian so byte order is numeric order)."""
    return U64.pack(seq)


_str_key: Final = str.encode  # the C method: key encoding runs several times per order


def decode_str_key(raw: Any) -> str:
    return bytes(raw).decode()


def _decode_position_key(raw: Any) -> PositionKey:
    """A positions key; one stored before schema 5 (no product) reads as INTRADAY, so a reader
    of a ledger its writer has not migrated yet sees the same keys."""
    try:
        return _POSITION_KEY_DECODER.decode(raw)
    except msgspec.ValidationError:
        return legacy_position_key(raw)


def decode_seq_key(raw: Any) -> int:
    return U64.unpack(raw)[0]


KEY_ENCODERS: Final[dict[str, Callable[[Any], bytes]]] = {
    ORDERS: _str_key,
    FILLS: _str_key,
    POSITIONS: ENCODER.encode,
    WALLETS: _str_key,
    STRATEGY_STATE: _str_key,
    AUDIT: seq_key,
    INTENTS: _str_key,
    META: _str_key,
    USERS: _str_key,
    TOKENS: _str_key,
    GROUPS: _str_key,
}
KEY_DECODERS: Final[dict[str, Callable[[Any], Any]]] = {
    ORDERS: decode_str_key,
    FILLS: decode_str_key,
    POSITIONS: _decode_position_key,
    WALLETS: decode_str_key,
    STRATEGY_STATE: decode_str_key,
    AUDIT: decode_seq_key,
    INTENTS: decode_str_key,
    META: decode_str_key,
    USERS: decode_str_key,
    TOKENS: decode_str_key,
    GROUPS: decode_str_key,
}
ROW_DECODERS: Final[dict[str, Any]] = {
    ORDERS: _Reading(OrderEvent),
    FILLS: msgspec.msgpack.Decoder(Fill),
    POSITIONS: msgspec.msgpack.Decoder(Position),
    WALLETS: msgspec.msgpack.Decoder(Wallet),
    STRATEGY_STATE: msgspec.msgpack.Decoder(StrategyStateSaved),
    AUDIT: msgspec.msgpack.Decoder(AuditRecord),
    INTENTS: msgspec.msgpack.Decoder(IntentRecorded),
    USERS: msgspec.msgpack.Decoder(User),
    TOKENS: msgspec.msgpack.Decoder(Token),
    GROUPS: _Reading(GroupEvent),
}
_META_DECODERS: Final[dict[str, msgspec.msgpack.Decoder[Any]]] = {
    META_COUNTERS: msgspec.msgpack.Decoder(Counters),
    META_TRADING: msgspec.msgpack.Decoder(TradingStateChanged),
}


# Tables that grow with every order live in LMDB (engine.ledger.stored); the writer keeps in memory
# only the rows the keep rule picks, whose keys an index database also holds.
STORED: Final[dict[str, tuple[Callable[[Any], bool] | None, str | None]]] = {
    ORDERS: (is_open_order, OPEN_ORDERS),
    FILLS: (None, None),
    INTENTS: (None, None),
    AUDIT: (None, None),
    GROUPS: (is_open_group, OPEN_GROUPS),
}
INDEXES: Final[dict[str, str]] = {index: table for table, (_keep, index) in STORED.items() if index}


def decode_row(table: str, key: Any, raw: Any) -> Any:
    if table == META:
        return _META_DECODERS[key].decode(raw)
    return ROW_DECODERS[table].decode(raw)


def decode_event(seq: int, raw: Any) -> LedgerEvent | UnreadableRecord:
    """Decode a stored event, its CRC checked (``event_body``: LedgerError CORRUPT on a mismatch);
    one whose body does not decode (e.g. a newer schema's record) comes back unreadable."""
    body = event_body(seq, raw)
    try:
        return _EVENT_DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return UnreadableRecord(seq=seq, error=str(exc), raw=bytes(body))


def open_dbs(env: lmdb.Environment, create: bool) -> dict[str, Any]:
    """Every database; a reader of a ledger not yet migrated to schema 2 has no indexes."""
    dbs = {name: env.open_db(name.encode(), create=create) for name in (EVENTS, *DERIVED_TABLES)}
    for index in INDEXES:
        try:
            dbs[index] = env.open_db(index.encode(), create=create)
        except lmdb.NotFoundError:
            if create:
                raise
    return dbs


def stored_rows(txn: lmdb.Transaction, dbs: Mapping[str, Any], table: str) -> Iterator[tuple[Any, Any]]:
    """``(raw key, raw row)`` of one derived table; for meta only the derived keys."""
    cursor = txn.cursor(db=dbs[table])
    if table != META:
        yield from cursor.iternext()
        return
    for name in DERIVED_META_KEYS:
        raw = cursor.get(name.encode())
        if raw is not None:
            yield name.encode(), raw


def decode_stored(table: str, key: Any, raw: Any) -> Any:
    try:
        return decode_row(table, key, raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise LedgerError(LedgerErrorCode.CORRUPT, f"{table} row {key!r} does not decode: {exc}") from exc


def checked_decoder(table: str) -> Callable[[Any], Any]:
    """Decode a row read on demand; one that does not decode raises LedgerError CORRUPT."""
    decode = ROW_DECODERS[table].decode

    def checked(raw: Any) -> Any:
        try:
            return decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise LedgerError(LedgerErrorCode.CORRUPT, f"a stored {table} row does not decode: {exc}") from exc

    return checked

