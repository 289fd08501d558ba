"""The ledger on disk: one LMDB environment, one writer process, any number of reader processes.

Layout (named databases in one environment under ``<data dir>/ledger``):

* ``events``: key = big-endian u64 sequence (1, 2, ...), value = msgpack of a ``LedgerEvent``.
  Append-only; an event the fold refuses is never written.
* derived tables, written in the SAME write transaction as the events that change them, so a
  crash can never leave them disagreeing with ``events``: ``orders`` (client order id ->
  latest OrderEvent), ``fills`` (fill id -> Fill), ``positions`` (msgpack ``[strategy, segment,
  security_id]`` -> Position), ``wallets`` (account -> Wallet), ``strategy_state`` (strategy ->
  StrategyStateSaved), ``audit`` (u64 sequence -> AuditRecord), ``intents`` (intent id ->
  IntentRecorded), ``meta`` (``counters``, ``trading``; plus the non-derived ``schema`` and
  ``id_prefix`` written once at creation), ``users`` (name -> User) and ``tokens`` (token
  SHA-256 hex -> Token) for the control API, ``groups`` (group id -> latest GroupEvent) for
  order groups.
* indexes, written in the same transaction: ``open_orders`` and ``open_groups`` hold the keys
  of the orders not in a terminal state and of the groups not finished.

What is derived is computed only by ``engine.ledger.fold``; ``rebuild_derived`` and ``verify``
replay ``events`` through it.

Memory: the writer holds the small, bounded tables in memory (positions, wallets, strategy
state, meta, users, tokens) and, of the tables that grow with every order (orders, fills,
intents, audit, groups), only the open orders and open groups (``engine.ledger.stored``). Other
rows are read from LMDB when asked for, so neither the writer's memory nor its start-up grows
with the history. The pages it writes are released from its address space every
``map_release_bytes`` (``LedgerConfig``).

Durability (``LedgerConfig.durability``): ``sync`` fsyncs every commit; ``group`` commits without
fsync and fsyncs at most every ``group_fsync_ms`` (after a commit once that much time has
passed, and from ``sync_if_due`` which the owning actor calls on a timer); ``os`` fsyncs only on
close. Every policy survives a crash of the process (committed pages are in the OS page cache);
``group`` may lose the last ``group_fsync_ms`` of commits in a power cut and ``os`` everything
since the last close. LMDB documents that without fsync a machine crash can also damage the
file if the filesystem reorders writes: use ``sync`` where that matters more than latency.

Exclusivity: the writer holds ``fcntl.flock`` on ``writer.lock`` in the ledger directory.
Readers (``LedgerReader``) are lock-free MVCC snapshots and follow the writer's map growth.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import os
import random
import struct
import threading
import time
from collections.abc import Callable, Container, Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import lmdb
import msgspec

from engine.ledger.fold import (
    ABSENT,
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
    FoldIssue,
    FoldIssueCode,
    PositionKey,
    Tables,
    fold,
    fold_events,
    is_open_group,
    is_open_order,
)
from engine.ledger.records import (
    DEFAULT_TRADING_STATE,
    TRADING_ACCOUNT,
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
from engine.ledger.stored import MapGuard, Reads, StoredTable
from ipc.messages import Fill, GroupEvent, OrderEvent, Position

LEDGER_DIR_NAME: Final = "ledger"
LOCK_FILE_NAME: Final = "writer.lock"
SCHEMA_VERSION: Final = b"2"  # 2: the open_orders and open_groups indexes (1 is migrated at open)
_SCHEMA_V1: Final = b"1"
EVENTS: Final = "events"
OPEN_ORDERS: Final = "open_orders"  # index: client order id -> b"" for every open order
OPEN_GROUPS: Final = "open_groups"  # index: group id -> b"" for every group not finished
_MAX_DBS: Final = 16
_META_SCHEMA: Final = b"schema"
_META_ID_PREFIX: Final = b"id_prefix"
_DERIVED_META_KEYS: Final = (META_COUNTERS, META_TRADING)
# Pages a write may dirty beyond its payload (pessimistic): each put copies the B-tree path of
# its database, and each transaction writes free-list and meta pages.
_PAGES_PER_PUT: Final = 4
_PAGES_PER_TXN: Final = 8
_MAX_GROW_RETRIES: Final = 12
_GROW_WAIT_S: Final = 10.0  # a map growth waits this long for snapshots of other threads to close
_IN_MEMORY, _KEPT, _ON_DISK = "in memory", "kept", "on disk"  # how a batch writes a table (_use_tables)
_MAX_DIFFS_PER_TABLE: Final = 50
_MIB: Final = 1024 * 1024

Durability = Literal["sync", "group", "os"]


# The intent id of order-path rehearsals (Actor.warm_hot_path): never a real one, strategies'
# ids are "<name>-<run>-<n>", so nothing a rehearsal does can collide with an order.
REHEARSAL_INTENT_ID: Final = "~rehearsal"


class LedgerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How the ledger is stored. Sizes in bytes, intervals in milliseconds.

    ``grow_at_percent``: the map doubles before a write that would take usage above this
    percentage of the map (LMDB cannot write past its map; a MapFullError is also caught, the map
    grown and the whole transaction retried).

    ``writemap``: write through a shared writable map instead of ``write()`` calls. Commits cost
    less (no system call) and a process crash is survived the same way, but LMDB's fsync becomes
    an ``msync`` of the whole map and the data file is sized to the map (sparse). ``None``
    (default) picks True for ``group`` and ``os``, False for ``sync`` (bench/test_ledger_bench.py).

    ``map_release_bytes``: after this many bytes of events written, the writer remaps the file
    (when no snapshot is open in its process), which drops the pages it has touched from its
    address space. They stay in the OS page cache (nothing is read or written again); without
    this every page ever written since the last map growth counts in the process's resident
    memory. 0 = never.
    """

    durability: Durability = "group"
    group_fsync_ms: int = 50
    initial_map_size_bytes: int = 64 * _MIB
    max_map_size_bytes: int = 1024 * 1024 * _MIB
    grow_at_percent: int = 50
    max_readers: int = 126
    writemap: bool | None = None
    verify_on_open: bool = False
    map_release_bytes: int = 1 * _MIB

    def __post_init__(self) -> None:
        if self.durability not in ("sync", "group", "os"):
            raise ValueError(f"durability {self.durability!r} is not sync, group or os")
        if self.group_fsync_ms <= 0:
            raise ValueError(f"group_fsync_ms {self.group_fsync_ms} must be > 0")
        if self.initial_map_size_bytes < 256 * 1024:
            raise ValueError(f"initial_map_size_bytes {self.initial_map_size_bytes} is below 262144")
        if self.max_map_size_bytes < self.initial_map_size_bytes:
            raise ValueError(
                f"max_map_size_bytes {self.max_map_size_bytes} is below initial_map_size_bytes "
                f"{self.initial_map_size_bytes}"
            )
        if not 10 <= self.grow_at_percent <= 100:
            raise ValueError(f"grow_at_percent {self.grow_at_percent} is not within 10..100")
        if self.max_readers < 1:
            raise ValueError(f"max_readers {self.max_readers} must be >= 1")
        if self.map_release_bytes < 0:
            raise ValueError(f"map_release_bytes {self.map_release_bytes} must be >= 0")


class LedgerErrorCode(str, enum.Enum):
    LOCKED = "LOCKED"  # another process holds the writer lock
    NOT_FOUND = "NOT_FOUND"  # no ledger at the path (readers never create one)
    FULL = "FULL"  # the map would have to grow past max_map_size_bytes
    CORRUPT = "CORRUPT"  # verify_on_open found differences, or a stored row does not decode
    SCHEMA = "SCHEMA"  # written by an incompatible version
    CLOSED = "CLOSED"  # used after close()
    BUSY = "BUSY"  # the map must grow while a snapshot of the writer's own reader is open


class LedgerError(Exception):
    """A ledger failure: ``code`` says which, the message says where and with which numbers."""

    def __init__(self, code: LedgerErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code


class AppendResult(msgspec.Struct, frozen=True):
    """``seqs[i]`` is the sequence event ``i`` was stored at, 0 if it was refused; ``issues``
    lists ``(index in the batch, issue)`` for every refused event."""

    seqs: list[int]
    issues: list[tuple[int, FoldIssue]]


class NewOrder(msgspec.Struct, frozen=True):
    """Result of ``Ledger.record_new_order``.

    ``duplicate``: the intent was already an order (``client_order_id`` is that order's id and
    nothing was written). ``issue`` is set when the order was refused (nothing written, empty id).
    """

    client_order_id: str
    seq: int
    duplicate: bool = False
    issue: FoldIssue | None = None


class RebuildReport(msgspec.Struct, frozen=True):
    events: int
    refused: list[tuple[int, FoldIssue]]


class LedgerStats(msgspec.Struct, frozen=True):
    last_seq: int
    commits: int
    fsyncs: int
    map_grows: int
    map_full_retries: int
    refused: dict[str, int]
    map_size_bytes: int
    used_bytes: int
    map_releases: int = 0  # remaps that dropped written pages from the address space (map_release_bytes)


def ledger_dir(data_dir: str | os.PathLike[str]) -> Path:
    """Where the ledger lives under a data directory."""
    return Path(data_dir) / LEDGER_DIR_NAME


# ------------------------------------------------------------------------------------------
# Codecs: how keys and rows of each table are stored
# ------------------------------------------------------------------------------------------

_U64: Final = struct.Struct(">Q")
_ENCODER: Final = msgspec.msgpack.Encoder()
_EVENT_DECODER: Final = msgspec.msgpack.Decoder(LedgerEvent)
_POSITION_KEY_DECODER: Final = msgspec.msgpack.Decoder(tuple[str, int, int])


def seq_key(seq: int) -> bytes:
    """LMDB key of sequence ``seq`` (big-endian so byte order is numeric order)."""
    return _U64.pack(seq)


_str_key: Final = str.encode  # the C method: key encoding runs several times per order


def _decode_str_key(raw: Any) -> str:
    return bytes(raw).decode()


def _decode_position_key(raw: Any) -> PositionKey:
    return _POSITION_KEY_DECODER.decode(raw)


def _decode_seq_key(raw: Any) -> int:
    return _U64.unpack(raw)[0]


_KEY_ENCODERS: Final[dict[str, Callable[[Any], bytes]]] = {
    ORDERS: _str_key,
    FILLS: _str_key,
    POSITIONS: _ENCODER.encode,
    WALLETS: _str_key,
    STRATEGY_STATE: _str_key,
    AUDIT: seq_key,
    INTENTS: _str_key,
    META: _str_key,
    USERS: _str_key,
    TOKENS: _str_key,
    GROUPS: _str_key,
}
_KEY_DECODERS: Final[dict[str, Callable[[Any], Any]]] = {
    ORDERS: _decode_str_key,
    FILLS: _decode_str_key,
    POSITIONS: _decode_position_key,
    WALLETS: _decode_str_key,
    STRATEGY_STATE: _decode_str_key,
    AUDIT: _decode_seq_key,
    INTENTS: _decode_str_key,
    META: _decode_str_key,
    USERS: _decode_str_key,
    TOKENS: _decode_str_key,
    GROUPS: _decode_str_key,
}
_ROW_DECODERS: Final[dict[str, msgspec.msgpack.Decoder[Any]]] = {
    ORDERS: msgspec.msgpack.Decoder(OrderEvent),
    FILLS: msgspec.msgpack.Decoder(Fill),
    POSITIONS: msgspec.msgpack.Decoder(Position),
    WALLETS: msgspec.msgpack.Decoder(Wallet),
    STRATEGY_STATE: msgspec.msgpack.Decoder(StrategyStateSaved),
    AUDIT: msgspec.msgpack.Decoder(AuditRecord),
    INTENTS: msgspec.msgpack.Decoder(IntentRecorded),
    USERS: msgspec.msgpack.Decoder(User),
    TOKENS: msgspec.msgpack.Decoder(Token),
    GROUPS: msgspec.msgpack.Decoder(GroupEvent),
}
_META_DECODERS: Final[dict[str, msgspec.msgpack.Decoder[Any]]] = {
    META_COUNTERS: msgspec.msgpack.Decoder(Counters),
    META_TRADING: msgspec.msgpack.Decoder(TradingStateChanged),
}


# Tables that grow with every order live in LMDB (engine.ledger.stored); the writer keeps in memory
# only the rows the keep rule picks, whose keys an index database also holds.
_STORED: Final[dict[str, tuple[Callable[[Any], bool] | None, str | None]]] = {
    ORDERS: (is_open_order, OPEN_ORDERS),
    FILLS: (None, None),
    INTENTS: (None, None),
    AUDIT: (None, None),
    GROUPS: (is_open_group, OPEN_GROUPS),
}
_INDEXES: Final[dict[str, str]] = {index: table for table, (_keep, index) in _STORED.items() if index}


def _decode_row(table: str, key: Any, raw: Any) -> Any:
    if table == META:
        return _META_DECODERS[key].decode(raw)
    return _ROW_DECODERS[table].decode(raw)


def decode_event(seq: int, raw: Any) -> LedgerEvent | UnreadableRecord:
    """Decode a stored event; an undecodable one (e.g. a newer schema) comes back unreadable."""
    try:
        return _EVENT_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return UnreadableRecord(seq=seq, error=str(exc), raw=bytes(raw))


def _open_dbs(env: lmdb.Environment, create: bool) -> dict[str, Any]:
    """Every database; a reader of a ledger not yet migrated to schema 2 has no indexes."""
    dbs = {name: env.open_db(name.encode(), create=create) for name in (EVENTS, *DERIVED_TABLES)}
    for index in _INDEXES:
        try:
            dbs[index] = env.open_db(index.encode(), create=create)
        except lmdb.NotFoundError:
            if create:
                raise
    return dbs


def _stored_rows(txn: lmdb.Transaction, dbs: Mapping[str, Any], table: str) -> Iterator[tuple[Any, Any]]:
    """``(raw key, raw row)`` of one derived table; for meta only the derived keys."""
    cursor = txn.cursor(db=dbs[table])
    if table != META:
        yield from cursor.iternext()
        return
    for name in _DERIVED_META_KEYS:
        raw = cursor.get(name.encode())
        if raw is not None:
            yield name.encode(), raw


def _decode_stored(table: str, key: Any, raw: Any) -> Any:
    try:
        return _decode_row(table, key, raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise LedgerError(LedgerErrorCode.CORRUPT, f"{table} row {key!r} does not decode: {exc}") from exc


def _checked_decoder(table: str) -> Callable[[Any], Any]:
    """Decode a row read on demand; one that does not decode raises LedgerError CORRUPT."""
    decode = _ROW_DECODERS[table].decode

    def decode_row(raw: Any) -> Any:
        try:
            return decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise LedgerError(LedgerErrorCode.CORRUPT, f"a stored {table} row does not decode: {exc}") from exc

    return decode_row


def _load_tables(txn: lmdb.Transaction, dbs: Mapping[str, Any], reads: Reads) -> Tables:
    """The writer's tables: the small ones read whole; of the stored ones only the rows their
    index names (open orders, open groups), never the closed rows."""
    maps: dict[str, MutableMapping[Any, Any]] = {}
    for table in DERIVED_TABLES:
        decode_key = _KEY_DECODERS[table]
        rows: dict[Any, Any] = {}
        if table in _STORED:
            keep, index = _STORED[table]
            if index is not None:
                db = dbs[table]
                for raw_key in txn.cursor(db=dbs[index]).iternext(values=False):
                    key = decode_key(raw_key)
                    raw = txn.get(raw_key, db=db)
                    if raw is None:
                        raise LedgerError(LedgerErrorCode.CORRUPT, f"{index} names {key!r}, which {table} lacks")
                    rows[key] = _decode_stored(table, key, raw)
            maps[table] = StoredTable(table, reads, dbs[table], _KEY_ENCODERS[table], decode_key,
                                      _checked_decoder(table), keep, rows)
            continue
        for raw_key, raw in _stored_rows(txn, dbs, table):
            key = decode_key(raw_key)
            rows[key] = _decode_stored(table, key, raw)
        maps[table] = rows
    return Tables(**maps)


def _memory_rows(tables: Tables) -> dict[str, Mapping[Any, Any]]:
    """What a table holds in memory: a stored table its kept rows, any other table everything."""
    return {table: rows.kept if isinstance(rows, StoredTable) else rows for table, rows in tables.by_name.items()}


def _kept_rows(tables: Tables) -> dict[str, Mapping[Any, Any]]:
    """What the writer should hold in memory, given complete tables (e.g. recomputed ones)."""
    out: dict[str, Mapping[Any, Any]] = {}
    for table, rows in tables.by_name.items():
        if table in _STORED:
            keep = _STORED[table][0]
            out[table] = {key: row for key, row in rows.items() if keep is not None and keep(row)}
        else:
            out[table] = rows
    return out


def _index_keys(tables: Tables) -> dict[str, set[bytes]]:
    """Keys each index should hold, given complete tables."""
    return {index: {_KEY_ENCODERS[table](key) for key, row in tables.by_name[table].items()
                    if _STORED[table][0](row)}  # type: ignore[misc]
            for index, table in _INDEXES.items()}


def _encoded_tables(tables: Mapping[str, Mapping[Any, Any]]) -> dict[str, dict[bytes, bytes]]:
    return {
        table: {_KEY_ENCODERS[table](key): _ENCODER.encode(row) for key, row in tables[table].items()}
        for table in DERIVED_TABLES
    }


def _diff_tables(label: str, expected: Mapping[str, Mapping[bytes, bytes]],
                 actual: Mapping[str, Mapping[bytes, bytes]]) -> list[str]:
    """Differences of ``actual`` from ``expected`` (the recomputed tables), capped per table."""
    problems: list[str] = []
    for table in DERIVED_TABLES:
        want, have = expected[table], actual[table]
        decode_key = _KEY_DECODERS[table]
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
        return repr(_decode_row(table, key, raw))
    except Exception as exc:  # shown in a report, never raised: the row is what is wrong
        return f"<undecodable {len(raw)} bytes: {exc}>"


def _read_events(txn: lmdb.Transaction, dbs: Mapping[str, Any], problems: list[str],
                 unreadable: list[tuple[int, FoldIssue]] | None = None) -> Iterator[tuple[int, LedgerEvent]]:
    """Every readable event in order, one at a time; gaps and unreadable events are reported."""
    expected_seq = 1
    for raw_key, raw in txn.cursor(db=dbs[EVENTS]).iternext():
        seq = _decode_seq_key(raw_key)
        if seq != expected_seq:
            problems.append(f"events: sequence jumps from {expected_seq - 1} to {seq}")
        expected_seq = seq + 1
        event = decode_event(seq, raw)
        if isinstance(event, UnreadableRecord):
            problems.append(f"events: seq {seq} does not decode: {event.error}")
            if unreadable is not None:
                unreadable.append((seq, FoldIssue(code=FoldIssueCode.UNKNOWN_RECORD, detail=event.error)))
            continue
        yield seq, event


def _verify_txn(txn: lmdb.Transaction, dbs: Mapping[str, Any]) -> tuple[list[str], Tables]:
    """Replay ``events`` and compare with the stored derived tables and indexes, in one snapshot."""
    problems: list[str] = []
    recomputed, refused = fold_events(_read_events(txn, dbs, problems))
    problems.extend(f"events: seq {seq} is refused by the fold: {issue.code.value} {issue.detail}"
                    for seq, issue in refused)
    stored = {table: {bytes(k): bytes(v) for k, v in _stored_rows(txn, dbs, table)} for table in DERIVED_TABLES}
    problems.extend(_diff_tables("stored", _encoded_tables(recomputed.by_name), stored))
    for index, want in _index_keys(recomputed).items():
        if index not in dbs:
            problems.append(f"stored {index}: the index does not exist (the writer builds it at open)")
            continue
        have = {bytes(k) for k in txn.cursor(db=dbs[index]).iternext(values=False)}
        for raw_key in sorted(want - have)[:_MAX_DIFFS_PER_TABLE]:
            problems.append(f"stored {index}: key {raw_key.decode(errors='replace')!r} is missing "
                            f"(its {_INDEXES[index]} row is open)")
        for raw_key in sorted(have - want)[:_MAX_DIFFS_PER_TABLE]:
            problems.append(f"stored {index}: key {raw_key.decode(errors='replace')!r} should not be there "
                            f"(its {_INDEXES[index]} row is not open, or there is none)")
    return problems, recomputed


# ------------------------------------------------------------------------------------------
# Writer
# ------------------------------------------------------------------------------------------


def _acquire_writer_lock(path: Path) -> int:
    fd = os.open(path / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise LedgerError(
            LedgerErrorCode.LOCKED,
            f"ledger {path} is already open for writing by pid {holder}; it has one writer (the "
            f"execution actor): stop that process, or open a LedgerReader to read",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _new_id_prefix(seed: int | None = None) -> str:
    # A random tag per ledger keeps client order ids unique at the broker even if a ledger is
    # recreated (paper vs live data dirs, a wiped disk) and its counter starts again at 1. Seeded
    # (with the time of the opener's clock), the same seed gives the same tag.
    alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    raw = os.urandom(4) if seed is None else random.Random(seed).randbytes(4)
    return "SK" + "".join(alphabet[b % len(alphabet)] for b in raw)


# Writers open in this process, by directory: LMDB forbids opening one environment twice in a
# process, so a reader asked for in the writer's process (co-located topology) shares its environment.
_WRITERS: dict[str, "Ledger"] = {}


class Ledger:
    """The ledger writer. One per ledger directory (enforced with a lock file), one thread.

    Reads of open orders, positions, wallets, counters and the other small tables come from
    memory (O(1), no transaction); closed orders, fills, intents and audit rows from LMDB (one
    B-tree lookup in a short read transaction). ``append`` and friends block for the commit (and
    the fsync in ``sync`` mode); see the durability notes in the module docstring.
    """

    def __init__(self, path: Path, config: LedgerConfig, lock_fd: int, env: lmdb.Environment,
                 id_seed: int | None = None) -> None:
        self._path = path
        self._config = config
        self._lock_fd = lock_fd
        self._env = env
        self._dbs = _open_dbs(env, create=True)
        self._reads = Reads(env)
        self._guard = MapGuard()  # snapshots open on this environment in this process
        self._page_size = env.stat()["psize"]
        self._closed = False
        self._shared_reader: LedgerReader | None = None
        self._commits = 0
        self._fsyncs = 0
        self._map_grows = 0
        self._map_full_retries = 0
        self._refused: dict[str, int] = {}
        self._dirty = False
        self._syncer: threading.Thread | None = None
        self._syncer_stop = threading.Event()
        self._env_lock = threading.Lock()  # the syncer's fsync never overlaps a map resize
        self._map_releases = 0
        self._release_budget_bytes = config.map_release_bytes
        self._last_fsync_ns = time.monotonic_ns()
        self._group_fsync_ns = config.group_fsync_ms * 1_000_000
        self._id_prefix = self._init_meta(id_seed)
        env.reader_check()  # clear reader slots left by killed reader processes
        with env.begin(buffers=True) as txn:
            self._use_tables(_load_tables(txn, self._dbs, self._reads))
            cursor = txn.cursor(db=self._dbs[EVENTS])
            self._last_seq = _decode_seq_key(cursor.key()) if cursor.last() else 0
        self._room_budget_bytes = 0
        self._ensure_room(0, 0)

    @classmethod
    def open(cls, path: str | os.PathLike[str], config: LedgerConfig | None = None, *,
             id_seed: int | None = None) -> Ledger:
        """Open (creating if needed) the ledger in directory ``path`` for writing.

        ``id_seed``: a new ledger's client order id prefix is drawn from a generator seeded with
        it (the time of the opener's clock: reproducible on a simulated one); None = at random.

        Raises LedgerError LOCKED if another process (or another Ledger in this one) writes it,
        SCHEMA if it was written by an incompatible version, CORRUPT if ``verify_on_open`` finds
        differences (run ``rebuild_derived`` after reading them).
        """
        config = config or LedgerConfig()
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        lock_fd = _acquire_writer_lock(directory)
        try:
            sync = config.durability == "sync"
            env = lmdb.open(
                str(directory), map_size=config.initial_map_size_bytes, subdir=True, max_dbs=_MAX_DBS,
                sync=sync, metasync=sync, writemap=(not sync) if config.writemap is None else config.writemap,
                max_readers=config.max_readers,
                lock=True,
            )
            try:
                ledger = cls(directory, config, lock_fd, env, id_seed)
            except BaseException:
                env.close()
                raise
        except BaseException:
            os.close(lock_fd)
            raise
        if config.verify_on_open:
            problems = ledger.verify()
            if problems:
                ledger.close()
                shown = "; ".join(problems[:5])
                raise LedgerError(LedgerErrorCode.CORRUPT,
                                  f"ledger {directory}: {len(problems)} differences, first: {shown}")
        _WRITERS[str(directory.resolve())] = ledger
        return ledger

    def _init_meta(self, id_seed: int | None) -> str:
        with self._env.begin(write=True, db=self._dbs[META]) as txn:
            schema = txn.get(_META_SCHEMA)
            if schema == _SCHEMA_V1:
                self._build_indexes(txn)  # written by the previous version: add the indexes once
                txn.put(_META_SCHEMA, SCHEMA_VERSION)
            elif schema is None:
                txn.put(_META_SCHEMA, SCHEMA_VERSION)
            elif schema != SCHEMA_VERSION:
                raise LedgerError(LedgerErrorCode.SCHEMA,
                                  f"ledger {self._path} has schema {schema!r}, this code reads {SCHEMA_VERSION!r}")
            prefix = txn.get(_META_ID_PREFIX)
            if prefix is None:
                prefix = _new_id_prefix(id_seed).encode()
                txn.put(_META_ID_PREFIX, prefix)
        return prefix.decode()

    def _build_indexes(self, txn: lmdb.Transaction) -> None:
        """Fill the indexes from the stored tables (one scan; schema 1 had no indexes)."""
        for index, table in _INDEXES.items():
            keep = _STORED[table][0]
            assert keep is not None
            decode_key = _KEY_DECODERS[table]
            txn.drop(self._dbs[index], delete=False)
            for raw_key, raw in txn.cursor(db=self._dbs[table]).iternext():
                if keep(_decode_stored(table, decode_key(raw_key), raw)):
                    txn.put(bytes(raw_key), b"", db=self._dbs[index])

    def _use_tables(self, tables: Tables) -> None:
        """Adopt ``tables`` and route each table's writes: ``(key encoder, db, rows, how)``, how
        being _IN_MEMORY (a dict, taken back with undo), _KEPT (a stored table that keeps some
        rows: it notes the row) or _ON_DISK (a stored table that keeps none: the put is all; a
        read in the batch finds the row in the write transaction)."""
        self._tables = tables
        # (table, its index db or None) for the stored tables that keep rows in memory
        self._kept_tables = [(rows, self._dbs[index] if index is not None else None)
                             for rows in tables.by_name.values()
                             if isinstance(rows, StoredTable) and rows.keep is not None
                             for index in (_STORED[rows.name][1],)]
        self._sinks = {table: (_KEY_ENCODERS[table], self._dbs[table], rows,
                               _IN_MEMORY if not isinstance(rows, StoredTable)
                               else _KEPT if rows.keep is not None else _ON_DISK)
                       for table, rows in tables.by_name.items()}

    # -- context manager / lifecycle -------------------------------------------------------

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush to disk (every policy), close LMDB, release the writer lock. Idempotent."""
        if self._closed:
            return
        self._closed = True
        _WRITERS.pop(str(self._path.resolve()), None)
        if self._syncer is not None:
            self._syncer_stop.set()
            self._syncer.join(timeout=5)
        try:
            self._env.sync(True)
            self._env.close()
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def config(self) -> LedgerConfig:
        return self._config

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerError(LedgerErrorCode.CLOSED, f"ledger {self._path} is closed")

    # -- writing ---------------------------------------------------------------------------

    def append(self, events: Sequence[LedgerEvent]) -> list[int]:
        """Store ``events`` and their derived rows in ONE transaction; return their sequences.

        A refused event (duplicate fill id, re-recorded intent, bad field: see ``fold``) is not
        stored and gets sequence 0; ``append_report`` also says why. Raises LedgerError FULL if
        the map cannot grow enough; an exception leaves the ledger as it was before the call.
        """
        return self.append_report(events).seqs

    def append_report(self, events: Sequence[LedgerEvent], all_or_nothing: bool = False) -> AppendResult:
        """``append`` that also returns the refused events and why.

        ``all_or_nothing``: if any event is refused, store none of them.
        """
        result = self._append(events, all_or_nothing)
        for _index, issue in result.issues:
            self._refused[issue.code.value] = self._refused.get(issue.code.value, 0) + 1
        return result

    def _append(self, events: Sequence[LedgerEvent], all_or_nothing: bool) -> AppendResult:
        """``append_report`` without counting the refusals in ``stats``."""
        self._check_open()
        if not events:
            return AppendResult(seqs=[], issues=[])
        raws: list[bytes | str] = []  # the encoded event, or why it does not encode
        for event in events:
            try:
                raws.append(_ENCODER.encode(event))
            except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
                raws.append(f"{type(event).__name__} does not encode as msgpack: {exc}")
        payload_bytes = sum(len(raw) for raw in raws if isinstance(raw, bytes))
        self._ensure_room(payload_bytes, 4 * len(events))
        for _attempt in range(_MAX_GROW_RETRIES):
            try:
                result, last_seq = self._write_batch(events, raws, all_or_nothing)
            except lmdb.MapFullError:
                self._map_full_retries += 1
                self._grow(self._env.info()["map_size"] * 2)
                continue
            if last_seq != self._last_seq:
                self._last_seq = last_seq
                self._after_commit()
                if self._config.map_release_bytes:
                    self._release_budget_bytes -= payload_bytes
                    if self._release_budget_bytes <= 0:
                        self._release_map()
            return result
        raise LedgerError(LedgerErrorCode.FULL,
                          f"ledger {self._path}: map still full after {_MAX_GROW_RETRIES} doublings")

    def _write_batch(self, events: Sequence[LedgerEvent], raws: Sequence[bytes | str],
                     all_or_nothing: bool, rehearsal: bool = False) -> tuple[AppendResult, int]:
        """One write transaction for the batch. The in-memory tables are updated as the events
        fold (later events of the batch see earlier ones) and rolled back unless it commits.
        ``rehearsal``: do all of it, then abort and roll back (see ``rehearse_new_order``)."""
        # Order path: runs before every order leaves and every fill is published.
        tables = self._tables
        undo: list[tuple[Any, Any, Any]] = []  # for the in-memory tables; stored ones discard()
        seqs: list[int] = []
        issues: list[tuple[int, FoldIssue]] = []
        seq = self._last_seq
        sinks = self._sinks
        encode = _ENCODER.encode
        events_db = self._dbs[EVENTS]
        settled: list[StoredTable] = []
        txn = self._env.begin(write=True)
        self._reads.txn = txn  # the fold's lookups of stored rows see this batch's writes
        try:
            for index, event in enumerate(events):
                raw = raws[index]
                if type(raw) is str:
                    issue = FoldIssue(code=FoldIssueCode.BAD_FIELD, detail=f"batch index {index}: {raw}")
                    issues.append((index, issue))
                    seqs.append(0)
                    continue
                folded = fold(tables, seq + 1, event)
                if folded.issue is not None:
                    issues.append((index, folded.issue))
                    seqs.append(0)
                    continue
                seq += 1
                txn.put(_U64.pack(seq), raw, append=True, db=events_db)
                for table, key, row in folded.changes:  # what Tables.apply does, and the puts
                    encode_key, db, rows, how = sinks[table]
                    txn.put(encode_key(key), encode(row), db=db)
                    if how is _IN_MEMORY:
                        undo.append((rows, key, rows.get(key, ABSENT)))
                        rows[key] = row
                    elif how is _KEPT:
                        rows[key] = row
                seqs.append(seq)
            if seq == self._last_seq or (issues and all_or_nothing) or rehearsal:
                self._take_back(txn, undo, settled)
                return AppendResult(seqs=[0] * len(events), issues=issues), self._last_seq
            for stored_table, index_db in self._kept_tables:
                if stored_table.written:
                    stored_table.settle(txn, index_db)
                    settled.append(stored_table)
            txn.commit()
        except BaseException:
            self._take_back(txn, undo, settled)
            raise
        finally:
            self._reads.txn = None
        return AppendResult(seqs=seqs, issues=issues), seq

    def _take_back(self, txn: lmdb.Transaction, undo: list[tuple[Any, Any, Any]],
                   settled: list[StoredTable]) -> None:
        txn.abort()
        self._reads.txn = None
        Tables.rollback(undo)
        for stored_table, _index_db in self._kept_tables:
            stored_table.discard()
        for stored_table in settled:
            stored_table.unsettle()

    def _after_commit(self) -> None:
        self._commits += 1
        if self._syncer is not None:
            self._dirty = True  # the background syncer flushes it within group_fsync_ms
            return
        if self._config.durability == "sync":
            return
        self._dirty = True
        if self._config.durability == "group":
            self.sync_if_due(time.monotonic_ns())

    def record_new_order(self, order: OrderEvent) -> NewOrder:
        """Give ``order`` (its first event, usually SUBMITTED) a new client order id and store it.

        The id comes from the persisted counter, which advances in the same transaction as the
        order (``IntentRecorded`` + the order event), so ids are unique forever, across restarts.
        ``order.client_order_id`` is ignored. If ``order.intent_id`` is already an order, nothing
        is written and that order's id comes back with ``duplicate=True``.
        """
        # Order path. The fold refuses an intent recorded before (DUPLICATE_INTENT) inside the
        # write transaction: no separate lookup first (intents live in LMDB, not in memory).
        intent, first = self._new_order_events(order)
        client_order_id = intent.client_order_id
        result = self._append([intent, first], all_or_nothing=True)
        if result.issues:
            index, issue = result.issues[0]
            if index == 0 and issue.code is FoldIssueCode.DUPLICATE_INTENT:
                known = self._tables.intents.get(order.intent_id)
                if known is not None:  # a re-sent intent: not a refusal, nothing was written
                    return NewOrder(client_order_id=known.client_order_id, seq=0, duplicate=True)
            for _index, refused in result.issues:
                self._refused[refused.code.value] = self._refused.get(refused.code.value, 0) + 1
            return NewOrder(client_order_id="", seq=0, issue=issue)
        return NewOrder(client_order_id=client_order_id, seq=result.seqs[1])

    def rehearse_new_order(self, order: OrderEvent) -> None:
        """Do what ``record_new_order`` does for ``order`` (under a fresh intent id), in a write
        transaction that is then aborted: nothing is stored, the tables, counters and sequence
        stay as they were. It keeps the order path's code and pages warm between orders
        (``Actor.warm_hot_path``)."""
        self._check_open()
        events = self._new_order_events(msgspec.structs.replace(order, intent_id=REHEARSAL_INTENT_ID))
        raws = [_ENCODER.encode(event) for event in events]
        try:
            self._write_batch(events, raws, all_or_nothing=True, rehearsal=True)
        except lmdb.MapFullError:
            pass  # the real write grows the map; a rehearsal never does

    def _new_order_events(self, order: OrderEvent) -> tuple[IntentRecorded, OrderEvent]:
        """The two events that record ``order`` under the next client order id."""
        order_no = self._tables.next_order_no()
        client_order_id = self.format_client_order_id(order_no)
        intent = IntentRecorded(intent_id=order.intent_id, client_order_id=client_order_id,
                                order_no=order_no, strategy=order.strategy, ts_ns=order.ts_event_ns)
        return intent, msgspec.structs.replace(order, client_order_id=client_order_id)

    def format_client_order_id(self, order_no: int) -> str:
        """``<prefix>-<n>``, e.g. ``SK7QX2-42``: <= 20 chars for n < 10**12, [A-Z0-9-] only
        (Dhan's correlationId takes 30 of [a-zA-Z0-9 _-])."""
        return f"{self._id_prefix}-{order_no}"

    # -- durability ------------------------------------------------------------------------

    def sync_if_due(self, now_ns: int) -> bool:
        """``group`` policy: fsync if commits are unsynced and ``group_fsync_ms`` has passed
        since the last fsync. ``now_ns`` is ``time.monotonic_ns()``. Returns True if it synced.
        The owning actor calls this every ``group_fsync_ms`` so an idle tail is flushed too."""
        if self._config.durability != "group" or not self._dirty or self._closed:
            return False
        if now_ns - self._last_fsync_ns < self._group_fsync_ns:
            return False
        self.sync()
        self._last_fsync_ns = now_ns
        return True

    def sync_deadline_ns(self) -> int | None:
        """Monotonic time by which ``sync_if_due`` should run, None if nothing is unsynced."""
        if not self._dirty or self._config.durability != "group":
            return None
        return self._last_fsync_ns + self._group_fsync_ns

    def start_background_sync(self) -> bool:
        """``group`` policy off the hot path: a daemon thread fsyncs every ``group_fsync_ms`` while
        commits are unsynced, and appends never fsync inline (an inline fsync costs 150-250 µs on
        whichever order happens to trip the interval). py-lmdb releases the GIL while it syncs, so
        the actor's loop keeps running. Returns False for other policies (nothing to do)."""
        if self._config.durability != "group" or self._syncer is not None:
            return False
        period_s = self._config.group_fsync_ms / 1000

        def run() -> None:
            while not self._syncer_stop.wait(period_s):
                if self._dirty and not self._closed:
                    self._dirty = False  # cleared first: a commit racing this sync is synced next round
                    try:
                        with self._env_lock:
                            self._env.sync(True)
                        self._fsyncs += 1
                    except lmdb.Error:
                        self._dirty = True

        self._syncer = threading.Thread(target=run, name="ledger-fsync", daemon=True)
        self._syncer.start()
        return True

    def sync(self) -> None:
        """fsync now (any policy)."""
        self._check_open()
        self._env.sync(True)
        self._fsyncs += 1
        self._dirty = False

    # -- map size --------------------------------------------------------------------------

    def _used_and_size(self) -> tuple[int, int]:
        info = self._env.info()
        return (info["last_pgno"] + 1) * self._page_size, info["map_size"]

    def _ensure_room(self, payload_bytes: int, puts: int) -> None:
        """Grow the map before a write could take usage above ``grow_at_percent``.

        ``env.info()`` is read only when the bytes budgeted since the last reading run out; the
        per-write estimate is deliberately pessimistic (every put copies a B-tree path of
        ``_PAGES_PER_PUT`` pages, no freed page is reused), and MapFullError remains the backstop.
        """
        cost = 4 * payload_bytes + (puts * _PAGES_PER_PUT + _PAGES_PER_TXN) * self._page_size
        if cost <= self._room_budget_bytes:
            self._room_budget_bytes -= cost
            return
        used, size = self._used_and_size()
        percent = self._config.grow_at_percent
        new_size = size
        while (used + cost) * 100 > new_size * percent:
            new_size *= 2
        if new_size != size:
            self._grow(new_size)
        self._room_budget_bytes = new_size * percent // 100 - used - cost

    def _grow(self, new_size: int) -> None:
        limit = self._config.max_map_size_bytes
        if new_size > limit:
            raise LedgerError(LedgerErrorCode.FULL,
                              f"ledger {self._path} needs a map of {new_size} bytes, above max_map_size_bytes {limit}")
        if not self._guard.acquire(wait_s=_GROW_WAIT_S):
            raise LedgerError(LedgerErrorCode.BUSY,
                              f"ledger {self._path} must grow its map to {new_size} bytes while a snapshot of its "
                              f"environment is open in this process (on this thread, or for over {_GROW_WAIT_S} s "
                              f"on another); close snapshots before writing")
        try:
            with self._env_lock:
                self._env.set_mapsize(new_size)
        finally:
            self._guard.release()
        self._map_grows += 1
        self._room_budget_bytes = 0  # re-read usage against the new size on the next write
        self._release_budget_bytes = self._config.map_release_bytes  # a grow remaps too

    def _release_map(self) -> None:
        """Remap the file at its current size: the pages written so far leave this process's
        address space (they stay in the OS page cache). Skipped while a snapshot is open or the
        background fsync runs."""
        self._release_budget_bytes = self._config.map_release_bytes
        # Never waits: not for a snapshot, nor for the background fsync (the order path would
        # stall for it); the next release will do.
        if not self._env_lock.acquire(blocking=False):
            return
        try:
            if not self._guard.acquire(wait_s=0):
                return
            try:
                self._env.set_mapsize(self._env.info()["map_size"])
            finally:
                self._guard.release()
        finally:
            self._env_lock.release()
        self._map_releases += 1

    # -- rebuild / verify ------------------------------------------------------------------

    def rebuild_derived(self) -> RebuildReport:
        """Recompute every derived table by folding ``events`` from sequence 1 and replace the
        stored tables (one transaction) and the in-memory ones. Events the fold refuses are
        skipped and listed (a consistent ledger has none)."""
        self._check_open()
        unreadable: list[tuple[int, FoldIssue]] = []
        readable = 0

        def counted(pairs: Iterator[tuple[int, LedgerEvent]]) -> Iterator[tuple[int, LedgerEvent]]:
            nonlocal readable
            for pair in pairs:
                readable += 1
                yield pair

        with self._env.begin(buffers=True) as txn:
            tables, refused = fold_events(counted(_read_events(txn, self._dbs, [], unreadable)))
        encoded = _encoded_tables(tables.by_name)
        indexes = _index_keys(tables)
        rows_count = sum(len(rows) for rows in encoded.values()) + sum(len(keys) for keys in indexes.values())
        self._ensure_room(sum(len(k) + len(v) for rows in encoded.values() for k, v in rows.items()), rows_count)
        for _attempt in range(_MAX_GROW_RETRIES):
            try:
                with self._env.begin(write=True) as txn:
                    for table in DERIVED_TABLES:
                        db = self._dbs[table]
                        if table == META:
                            for name in _DERIVED_META_KEYS:
                                txn.delete(name.encode(), db=db)
                        else:
                            txn.drop(db, delete=False)
                        for key, value in encoded[table].items():
                            txn.put(key, value, db=db)
                    for index, keys in indexes.items():
                        txn.drop(self._dbs[index], delete=False)
                        for key in keys:
                            txn.put(key, b"", db=self._dbs[index])
            except lmdb.MapFullError:
                self._map_full_retries += 1
                self._grow(self._env.info()["map_size"] * 2)
                continue
            break
        else:
            raise LedgerError(LedgerErrorCode.FULL, f"ledger {self._path}: map still full during rebuild")
        del tables, encoded, indexes
        with self._env.begin(buffers=True) as txn:
            self._use_tables(_load_tables(txn, self._dbs, self._reads))
        self._after_commit()
        return RebuildReport(events=readable, refused=sorted(unreadable + refused, key=lambda item: item[0]))

    def verify(self) -> list[str]:
        """Replay ``events`` through the fold and compare with the stored derived tables and
        with this writer's in-memory tables. Empty list = identical."""
        self._check_open()
        with self._env.begin(buffers=True) as txn:
            problems, recomputed = _verify_txn(txn, self._dbs)
        # In memory: the small tables whole, of the stored ones the open rows (the rest was
        # compared on disk above).
        problems.extend(_diff_tables("memory", _encoded_tables(_kept_rows(recomputed)),
                                     _encoded_tables(_memory_rows(self._tables))))
        return problems

    # -- reads: from memory, or one LMDB lookup (see the class docstring) --------------------

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def next_order_no(self) -> int:
        return self._tables.next_order_no()

    def order(self, client_order_id: str) -> OrderEvent | None:
        return self._tables.orders.get(client_order_id)

    def orders(self) -> Mapping[str, OrderEvent]:
        """Read-only live view of every order, read from LMDB as it is iterated (do not hold it
        across appends if you need a fixed picture; iterating it reads the whole table)."""
        return MappingProxyType(self._tables.orders)

    def open_orders(self) -> list[OrderEvent]:
        """Orders not in a terminal state (from memory)."""
        return list(self._kept(ORDERS).values())

    def fills(self) -> Mapping[str, Fill]:
        """Read-only live view of every applied fill by fill id (same caveats as ``orders``)."""
        return MappingProxyType(self._tables.fills)

    def fill_applied(self, fill_id: str) -> bool:
        return fill_id in self._tables.fills

    def position(self, strategy: str, segment: int, security_id: int) -> Position | None:
        return self._tables.positions.get((strategy, segment, security_id))

    def positions(self) -> Mapping[PositionKey, Position]:
        return MappingProxyType(self._tables.positions)

    def wallet(self, account: str = TRADING_ACCOUNT) -> Wallet | None:
        return self._tables.wallets.get(account)

    def strategy_state(self, strategy: str) -> bytes | None:
        saved = self._tables.strategy_state.get(strategy)
        return saved.state if saved is not None else None

    def trading_state(self) -> TradingStateChanged:
        return self._tables.meta.get(META_TRADING, DEFAULT_TRADING_STATE)

    def client_order_id_for(self, intent_id: str) -> str | None:
        intent = self._tables.intents.get(intent_id)
        return intent.client_order_id if intent is not None else None

    def user(self, name: str) -> User | None:
        return self._tables.users.get(name)

    def users(self) -> Mapping[str, User]:
        return MappingProxyType(self._tables.users)

    def token(self, token_sha256: str) -> Token | None:
        return self._tables.tokens.get(token_sha256)

    # Order groups (actors/execution/groups.py)
    def group(self, group_id: str) -> GroupEvent | None:
        return self._tables.groups.get(group_id)

    def groups(self) -> Mapping[str, GroupEvent]:
        return MappingProxyType(self._tables.groups)

    def open_groups(self) -> list[GroupEvent]:
        """Groups not yet COMPLETE, ROLLED_BACK, ROLLBACK_FAILED or REJECTED (from memory)."""
        return list(self._kept(GROUPS).values())

    def _kept(self, table: str) -> Mapping[Any, Any]:
        rows = self._tables.by_name[table]
        assert isinstance(rows, StoredTable)
        return rows.kept

    def stats(self) -> LedgerStats:
        used, size = self._used_and_size()
        return LedgerStats(
            last_seq=self._last_seq, commits=self._commits, fsyncs=self._fsyncs,
            map_grows=self._map_grows, map_full_retries=self._map_full_retries,
            refused=dict(self._refused), map_size_bytes=size, used_bytes=used, map_releases=self._map_releases,
        )

    def reader(self) -> LedgerReader:
        """A reader over this writer's own environment (LMDB forbids opening it twice in one
        process). Its snapshots must be closed before the next write: the map may grow."""
        self._check_open()
        if self._shared_reader is None:
            self._shared_reader = LedgerReader(self._env, self._dbs, owns_env=False, path=self._path,
                                               guard=self._guard)
        return self._shared_reader


# ------------------------------------------------------------------------------------------
# Readers
# ------------------------------------------------------------------------------------------


class LedgerSnapshot:
    """A consistent read of the whole ledger at one commit (an LMDB read transaction).

    Valid only inside ``LedgerReader.snapshot()``; everything it returns is decoded (owned) data.
    """

    def __init__(self, txn: lmdb.Transaction, dbs: Mapping[str, Any]) -> None:
        self._txn = txn
        self._dbs = dbs

    def _get(self, table: str, key: Any) -> Any:
        raw = self._txn.get(_KEY_ENCODERS[table](key), db=self._dbs[table])
        return None if raw is None else _decode_row(table, key, raw)

    def _all(self, table: str) -> dict[Any, Any]:
        decode_key = _KEY_DECODERS[table]
        decoder = _ROW_DECODERS[table]
        return {decode_key(k): decoder.decode(v) for k, v in self._txn.cursor(db=self._dbs[table]).iternext()}

    def last_seq(self) -> int:
        cursor = self._txn.cursor(db=self._dbs[EVENTS])
        return _decode_seq_key(cursor.key()) if cursor.last() else 0

    def orders(self) -> dict[str, OrderEvent]:
        return self._all(ORDERS)

    def open_orders(self) -> dict[str, OrderEvent]:
        """Orders not in a terminal state: from the ``open_orders`` index (a scan of every order
        only for a ledger the writer has not yet migrated to schema 2)."""
        index = self._dbs.get(OPEN_ORDERS)
        if index is None:
            return {coid: order for coid, order in self._all(ORDERS).items() if is_open_order(order)}
        out: dict[str, OrderEvent] = {}
        for raw_key in self._txn.cursor(db=index).iternext(values=False):
            coid = _decode_str_key(raw_key)
            order = self._get(ORDERS, coid)
            if order is not None:
                out[coid] = order
        return out

    def order(self, client_order_id: str) -> OrderEvent | None:
        return self._get(ORDERS, client_order_id)

    def fills(self) -> dict[str, Fill]:
        return self._all(FILLS)

    def fill(self, fill_id: str) -> Fill | None:
        return self._get(FILLS, fill_id)

    def fills_of(self, client_order_ids: Container[str]) -> dict[str, list[Fill]]:
        """The fills of the given orders (fill id order), one fill decoded at a time: a scan of
        the fills table that keeps only these orders' fills in memory."""
        out: dict[str, list[Fill]] = {}
        decode = _ROW_DECODERS[FILLS].decode
        for _raw_key, raw in self._txn.cursor(db=self._dbs[FILLS]).iternext():
            fill = decode(raw)
            if fill.client_order_id in client_order_ids:
                out.setdefault(fill.client_order_id, []).append(fill)
        return out

    def positions(self) -> dict[PositionKey, Position]:
        return self._all(POSITIONS)

    def position(self, strategy: str, segment: int, security_id: int) -> Position | None:
        return self._get(POSITIONS, (strategy, segment, security_id))

    def wallets(self) -> dict[str, Wallet]:
        return self._all(WALLETS)

    def wallet(self, account: str = TRADING_ACCOUNT) -> Wallet | None:
        return self._get(WALLETS, account)

    def strategy_state(self, strategy: str) -> StrategyStateSaved | None:
        return self._get(STRATEGY_STATE, strategy)

    def strategy_states(self) -> dict[str, StrategyStateSaved]:
        return self._all(STRATEGY_STATE)

    def client_order_id_for(self, intent_id: str) -> str | None:
        intent = self._get(INTENTS, intent_id)
        return intent.client_order_id if intent is not None else None

    def next_order_no(self) -> int:
        counters = self._get(META, META_COUNTERS)
        return counters.next_order_no if counters is not None else 1

    def trading_state(self) -> TradingStateChanged:
        return self._get(META, META_TRADING) or DEFAULT_TRADING_STATE

    def audit(self, from_seq: int = 1, limit: int | None = None) -> list[tuple[int, AuditRecord]]:
        return self._range(AUDIT, from_seq, limit, lambda seq, raw: _ROW_DECODERS[AUDIT].decode(raw))

    def last_audit_seq(self) -> int:
        """Sequence of the newest audit row, 0 if none."""
        cursor = self._txn.cursor(db=self._dbs[AUDIT])
        return _decode_seq_key(cursor.key()) if cursor.last() else 0

    def user(self, name: str) -> User | None:
        return self._get(USERS, name)

    def users(self) -> dict[str, User]:
        return self._all(USERS)

    def token(self, token_sha256: str) -> Token | None:
        """The token row for a SHA-256 hex digest (one B-tree lookup), or None."""
        if not token_sha256 or len(token_sha256) > 200:
            return None  # not a digest; and LMDB keys are limited to 511 bytes
        return self._get(TOKENS, token_sha256)

    def tokens(self) -> dict[str, Token]:
        return self._all(TOKENS)

    def group(self, group_id: str) -> GroupEvent | None:
        return self._get(GROUPS, group_id)

    def groups(self) -> dict[str, GroupEvent]:
        return self._all(GROUPS)

    def events(self, from_seq: int = 1, limit: int | None = None) -> list[tuple[int, LedgerEvent | UnreadableRecord]]:
        """Events with sequence >= ``from_seq`` in order, at most ``limit``."""
        return self._range(EVENTS, from_seq, limit, decode_event)

    def iter_events(self, from_seq: int = 1) -> Iterator[tuple[int, LedgerEvent | UnreadableRecord]]:
        """Events with sequence >= ``from_seq`` in order, decoded one at a time (valid while the
        snapshot is open)."""
        cursor = self._txn.cursor(db=self._dbs[EVENTS])
        if not cursor.set_range(seq_key(max(from_seq, 0))):
            return
        for raw_key, raw in cursor.iternext():
            seq = _decode_seq_key(raw_key)
            yield seq, decode_event(seq, raw)

    def _range(self, table: str, from_seq: int, limit: int | None,
               decode: Callable[[int, Any], Any]) -> list[tuple[int, Any]]:
        out: list[tuple[int, Any]] = []
        cursor = self._txn.cursor(db=self._dbs[table])
        if limit == 0 or not cursor.set_range(seq_key(max(from_seq, 0))):
            return out
        for raw_key, raw in cursor.iternext():
            seq = _decode_seq_key(raw_key)
            out.append((seq, decode(seq, raw)))
            if limit is not None and len(out) >= limit:
                break
        return out

    def verify(self) -> list[str]:
        return _verify_txn(self._txn, self._dbs)[0]


class LedgerReader:
    """Reads the ledger from any process while the writer writes (lock-free MVCC snapshots).

    ``LedgerReader.open(path)`` in a process other than the writer's; ``Ledger.reader()`` in
    the writer's. Follows map growth: a snapshot that finds the map resized adopts the new size
    and retries. The one-call methods each take their own snapshot; use ``snapshot()`` to read
    several tables at one commit.
    """

    def __init__(self, env: lmdb.Environment, dbs: Mapping[str, Any], owns_env: bool, path: Path,
                 guard: MapGuard | None = None) -> None:
        self._env = env
        self._dbs = dbs
        self._guard = guard  # the writer's, when its environment is shared (same process)
        self._owns_env = owns_env
        self._path = path
        self._closed = False
        self.snapshots_open = 0
        self.map_resizes = 0

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> LedgerReader:
        """Open an existing ledger read-only. Raises LedgerError NOT_FOUND if there is none."""
        directory = Path(path)
        writer = _WRITERS.get(str(directory.resolve()))
        if writer is not None and not writer._closed:
            return cls(writer._env, writer._dbs, owns_env=False, path=directory, guard=writer._guard)
        if not (directory / "data.mdb").exists():
            raise LedgerError(LedgerErrorCode.NOT_FOUND,
                              f"no ledger at {directory} (the execution actor creates it on first start)")
        # map_size=0: adopt the size the writer recorded; later growth is handled in _begin.
        env = lmdb.open(str(directory), readonly=True, create=False, subdir=True, max_dbs=_MAX_DBS, lock=True,
                        map_size=0)
        try:
            dbs = _open_dbs(env, create=False)
        except lmdb.NotFoundError as exc:
            env.close()
            raise LedgerError(LedgerErrorCode.NOT_FOUND, f"ledger {directory} lacks its databases: {exc}") from exc
        except BaseException:
            env.close()
            raise
        return cls(env, dbs, owns_env=True, path=directory)

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_env:
            self._env.close()

    def _begin(self) -> lmdb.Transaction:
        if self._closed:
            raise LedgerError(LedgerErrorCode.CLOSED, f"reader of {self._path} is closed")
        for _attempt in range(_MAX_GROW_RETRIES):
            try:
                return self._env.begin(buffers=True)
            except lmdb.MapResizedError:
                # The writer grew the map past ours: adopt the size it recorded, then retry.
                self._env.set_mapsize(0)
                self.map_resizes += 1
        raise LedgerError(LedgerErrorCode.BUSY, f"reader of {self._path}: map kept growing under it")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[LedgerSnapshot]:
        guard = self._guard
        if guard is not None:
            guard.enter()  # the writer does not remap while this is open
        try:
            txn = self._begin()
            self.snapshots_open += 1
            try:
                yield LedgerSnapshot(txn, self._dbs)
            finally:
                self.snapshots_open -= 1
                txn.abort()
        finally:
            if guard is not None:
                guard.leave()

    def last_seq(self) -> int:
        with self.snapshot() as snap:
            return snap.last_seq()

    def orders(self) -> dict[str, OrderEvent]:
        with self.snapshot() as snap:
            return snap.orders()

    def open_orders(self) -> dict[str, OrderEvent]:
        with self.snapshot() as snap:
            return snap.open_orders()

    def order(self, client_order_id: str) -> OrderEvent | None:
        with self.snapshot() as snap:
            return snap.order(client_order_id)

    def fills(self) -> dict[str, Fill]:
        with self.snapshot() as snap:
            return snap.fills()

    def positions(self) -> dict[PositionKey, Position]:
        with self.snapshot() as snap:
            return snap.positions()

    def wallets(self) -> dict[str, Wallet]:
        with self.snapshot() as snap:
            return snap.wallets()

    def strategy_state(self, strategy: str) -> StrategyStateSaved | None:
        with self.snapshot() as snap:
            return snap.strategy_state(strategy)

    def trading_state(self) -> TradingStateChanged:
        with self.snapshot() as snap:
            return snap.trading_state()

    def audit(self, from_seq: int = 1, limit: int | None = None) -> list[tuple[int, AuditRecord]]:
        with self.snapshot() as snap:
            return snap.audit(from_seq, limit)

    def users(self) -> dict[str, User]:
        with self.snapshot() as snap:
            return snap.users()

    def groups(self) -> dict[str, GroupEvent]:
        with self.snapshot() as snap:
            return snap.groups()

    def events(self, from_seq: int = 1, limit: int | None = None) -> list[tuple[int, LedgerEvent | UnreadableRecord]]:
        with self.snapshot() as snap:
            return snap.events(from_seq, limit)

    def iter_events(self, from_seq: int = 1) -> Iterator[tuple[int, LedgerEvent | UnreadableRecord]]:
        """``events`` one at a time, all from one snapshot, which stays open until the iteration
        ends or the iterator is closed: memory does not grow with the ledger."""
        with self.snapshot() as snap:
            yield from snap.iter_events(from_seq)

    def verify(self) -> list[str]:
        """Replay and compare in one snapshot (see ``Ledger.verify``; no in-memory tables here)."""
        with self.snapshot() as snap:
            return snap.verify()
