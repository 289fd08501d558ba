"""The ledger writer: one process appends events and folds the derived tables in the same
transaction (layout in ``engine.ledger.schema``).

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

Held commits (``hold_commits``, for a backtest, where durability is irrelevant): appends fold
and are answered exactly as above, but their writes wait in memory until ``commit_block`` puts
them in ONE transaction (each row once, at its latest value); the events and tables stored are
the same as with a commit per append (tests/unit/engine/backtest holds them equal).

Exclusivity: the writer holds ``fcntl.flock`` on ``writer.lock`` in the ledger directory.
Readers (``engine.ledger.reader``) are lock-free MVCC snapshots and follow the writer's map growth.
"""

from __future__ import annotations

import fcntl
import os
import random
import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import lmdb
import msgspec

from engine.ledger.config import LedgerConfig
from engine.ledger.errors import LMDB_DAMAGE, LedgerError, LedgerErrorCode, damaged
from engine.ledger.fold import (
    ABSENT,
    DERIVED_TABLES,
    META,
    POSITIONS,
    FoldIssue,
    FoldIssueCode,
    Tables,
    fold,
    fold_events,
)
from engine.ledger.queries import LedgerQueries
from engine.ledger.reader import LedgerReader, SharedEnv, share_writer_env, unshare_writer_env
from engine.ledger.records import TRADING_ACCOUNT, IntentRecorded, LedgerEvent, Wallet
from engine.ledger.schema import (
    DERIVED_META_KEYS,
    ENCODER,
    EVENTS,
    INDEXES,
    KEY_DECODERS,
    KEY_ENCODERS,
    LOCK_FILE_NAME,
    MAX_DBS,
    META_ID_PREFIX,
    META_SCHEMA,
    RESHAPED_TABLES,
    SCHEMA_V1,
    SCHEMA_V2,
    SCHEMA_V3,
    SCHEMA_V4,
    SCHEMA_VERSION,
    STORED,
    U64,
    checked_decoder,
    decode_event,
    decode_seq_key,
    decode_stored,
    frame_event,
    open_dbs,
    seq_key,
    stored_rows,
)
from engine.ledger.stored import MapGuard, Reads, StoredTable
from engine.ledger.verify import diff_tables, encoded_tables, index_keys, kept_rows, memory_rows, read_events, verify_txn
from ipc.messages import OrderEvent, Position, Product

# Pages a write may dirty beyond its payload (pessimistic): each put copies the B-tree path of
# its database, and each transaction writes free-list and meta pages.
_PAGES_PER_PUT: Final = 4
_PAGES_PER_TXN: Final = 8
_MAX_GROW_RETRIES: Final = 12
_GROW_WAIT_S: Final = 10.0  # a map growth waits this long for snapshots of other threads to close
_IN_MEMORY, _KEPT, _ON_DISK = "in memory", "kept", "on disk"  # how a batch writes a table (_use_tables)

# The intent id of order-path rehearsals (Actor.warm_hot_path): never a real one, strategies'
# ids are "<name>-<run>-<n>", so nothing a rehearsal does can collide with an order.
REHEARSAL_INTENT_ID: Final = "~rehearsal"


class _HeldWrites:
    """What the batches of a block wrote and ``commit_block`` will put (``Ledger.hold_commits``)."""

    __slots__ = ("txn", "events", "rows", "index", "stored")

    def __init__(self, tables: Tables) -> None:
        # A write transaction the block's lookups of stored rows go through (a read transaction
        # per miss costs more); nothing is put into it before ``commit_block``.
        self.txn: lmdb.Transaction | None = None
        self.events: list[tuple[int, bytes]] = []     # (seq, framed event)
        # table -> key -> its latest row; a stored table's dict is its ``pending`` (read there)
        self.rows: dict[str, dict[Any, Any]] = {
            name: rows.pending if isinstance(rows, StoredTable) else {} for name, rows in tables.by_name.items()}
        self.index: dict[Any, dict[bytes, bool]] = {}  # index db -> key -> present (settle's puts and deletes)
        self.stored = [rows for rows in tables.by_name.values() if isinstance(rows, StoredTable)]

    # ``StoredTable.settle`` writes the index through these, as into a transaction.
    def put(self, key: bytes, value: bytes, db: Any) -> None:
        self.index.setdefault(db, {})[key] = True

    def delete(self, key: bytes, db: Any) -> None:
        self.index.setdefault(db, {})[key] = False


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


def _load_tables(txn: lmdb.Transaction, dbs: Mapping[str, Any], reads: Reads) -> Tables:
    """The writer's tables: the small ones read whole; of the stored ones only the rows their
    index names (open orders, open groups), never the closed rows."""
    maps: dict[str, MutableMapping[Any, Any]] = {}
    for table in DERIVED_TABLES:
        decode_key = KEY_DECODERS[table]
        rows: dict[Any, Any] = {}
        if table in STORED:
            keep, index = STORED[table]
            if index is not None:
                db = dbs[table]
                for raw_key in txn.cursor(db=dbs[index]).iternext(values=False):
                    key = decode_key(raw_key)
                    raw = txn.get(raw_key, db=db)
                    if raw is None:
                        raise LedgerError(LedgerErrorCode.CORRUPT, f"{index} names {key!r}, which {table} lacks")
                    rows[key] = decode_stored(table, key, raw)
            maps[table] = StoredTable(table, reads, dbs[table], KEY_ENCODERS[table], decode_key,
                                      checked_decoder(table), keep, rows)
            continue
        for raw_key, raw in stored_rows(txn, dbs, table):
            key = decode_key(raw_key)
            rows[key] = decode_stored(table, key, raw)
        maps[table] = rows
    return Tables(**maps)


class Ledger(LedgerQueries):
    """The ledger writer. One per ledger directory (enforced with a lock file), one thread.

    Reads of open orders, positions, wallets, counters and the other small tables come from
    memory (O(1), no transaction); closed orders, fills, intents and audit rows from LMDB (one
    B-tree lookup in a short read transaction). ``append`` and friends block for the commit (and
    the fsync in ``sync`` mode); see the durability notes in the module docstring.
    """

    def __init__(self, path: Path, config: LedgerConfig, lock_fd: int, env: lmdb.Environment,
                 id_seed: int | None = None) -> None:
        # 29 instance attributes. Mind a 30th: on CPython 3.11 the instance then stopped sharing
        # its dict keys with the class and every append got ~0.2 us slower (measured while the
        # query layer was split out; bench/test_ledger_bench.py, ledger os/group per event). The
        # fsync thread and its stop event share one attribute to make room for ``_held``
        # (sys.getsizeof(ledger.__dict__): 296 bytes shared, 1584 with a 30th).
        self._path = path
        self._config = config
        self._lock_fd = lock_fd
        self._env = env
        self._dbs = open_dbs(env, create=True)
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
        self._syncer: tuple[threading.Thread, threading.Event] | None = None  # the fsync thread and its stop
        self._env_lock = threading.Lock()  # the syncer's fsync never overlaps a map resize
        self._map_releases = 0
        self._release_budget_bytes = config.map_release_bytes
        self._last_fsync_ns = time.monotonic_ns()
        self._group_fsync_ns = config.group_fsync_ms * 1_000_000
        self._held: _HeldWrites | None = None  # hold_commits
        self._id_prefix = self._init_meta(id_seed)
        env.reader_check()  # clear reader slots left by killed reader processes
        with env.begin(buffers=True) as txn:
            self._use_tables(_load_tables(txn, self._dbs, self._reads))
            cursor = txn.cursor(db=self._dbs[EVENTS])
            self._last_seq = decode_seq_key(cursor.key()) if cursor.last() else 0
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
                str(directory), map_size=config.initial_map_size_bytes, subdir=True, max_dbs=MAX_DBS,
                sync=sync, metasync=sync, writemap=(not sync) if config.writemap is None else config.writemap,
                max_readers=config.max_readers,
                lock=True,
            )
            try:
                ledger = cls(directory, config, lock_fd, env, id_seed)
            except LMDB_DAMAGE as exc:
                env.close()
                raise damaged(directory, exc) from None
            except BaseException:
                env.close()
                raise
        except LMDB_DAMAGE as exc:
            os.close(lock_fd)
            raise damaged(directory, exc) from None
        except BaseException:
            os.close(lock_fd)
            raise
        if config.verify_on_open:
            try:
                problems = ledger.verify()
            except BaseException:
                ledger.close()
                raise
            if problems:
                ledger.close()
                shown = "; ".join(problems[:5])
                raise LedgerError(LedgerErrorCode.CORRUPT,
                                  f"ledger {directory}: {len(problems)} differences, first: {shown}")
        share_writer_env(directory, SharedEnv(ledger._env, ledger._dbs, ledger._guard))
        return ledger

    def _init_meta(self, id_seed: int | None) -> str:
        """Check the schema (migrating a ledger of an earlier one) and the id prefix, in one
        transaction: a migration is all done or not at all. Returns the id prefix."""
        for _attempt in range(_MAX_GROW_RETRIES):
            try:
                with self._env.begin(write=True) as txn:
                    return self._init_meta_txn(txn, id_seed)
            except lmdb.MapFullError:  # a migration rewrites rows: it may need a bigger map
                self._map_full_retries += 1
                self._grow(self._env.info()["map_size"] * 2)
        raise LedgerError(LedgerErrorCode.FULL, f"ledger {self._path}: map still full while migrating")

    def _init_meta_txn(self, txn: lmdb.Transaction, id_seed: int | None) -> str:
        meta = self._dbs[META]
        schema = txn.get(META_SCHEMA, db=meta)
        if schema in (SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4):
            if schema == SCHEMA_V1:
                self._build_indexes(txn)  # schema 1 had no indexes
            if schema in (SCHEMA_V1, SCHEMA_V2):
                self._reshape_rows(txn)
            # Schema 4 frames new events with a CRC; the events already stored stay bare.
            self._key_positions_by_product(txn)  # schema 5
            txn.put(META_SCHEMA, SCHEMA_VERSION, db=meta)
        elif schema is None:
            txn.put(META_SCHEMA, SCHEMA_VERSION, db=meta)
        elif schema != SCHEMA_VERSION:
            raise LedgerError(LedgerErrorCode.SCHEMA,
                              f"ledger {self._path} has schema {schema!r}, this code reads {SCHEMA_VERSION!r}")
        prefix = txn.get(META_ID_PREFIX, db=meta)
        if prefix is None:
            prefix = _new_id_prefix(id_seed).encode()
            txn.put(META_ID_PREFIX, prefix, db=meta)
        return bytes(prefix).decode()

    def _reshape_rows(self, txn: lmdb.Transaction) -> None:
        """Rewrite the derived rows stored in an earlier shape (schema 3: orders and groups with
        the flat order fields) in today's; ``events`` keeps its records as they were written."""
        for table in RESHAPED_TABLES:
            db = self._dbs[table]
            old = [(bytes(k), bytes(v)) for k, v in txn.cursor(db=db).iternext()]
            for raw_key, raw in old:
                row = decode_stored(table, KEY_DECODERS[table](raw_key), raw)
                new = ENCODER.encode(row)
                if new != raw:
                    txn.put(raw_key, new, db=db)

    def _key_positions_by_product(self, txn: lmdb.Transaction) -> None:
        """Schema 5: every position row is re-keyed ``[strategy, segment, security_id, product]``
        and re-encoded with its product (INTRADAY for all of them: ``legacy_position_key``)."""
        db = self._dbs[POSITIONS]
        old = [(bytes(k), bytes(v)) for k, v in txn.cursor(db=db).iternext()]
        for raw_key, raw in old:
            key = KEY_DECODERS[POSITIONS](raw_key)
            row = decode_stored(POSITIONS, key, raw)
            new_key = KEY_ENCODERS[POSITIONS](key)
            if new_key != raw_key:
                txn.delete(raw_key, db=db)
            txn.put(new_key, ENCODER.encode(row), db=db)

    def _build_indexes(self, txn: lmdb.Transaction) -> None:
        """Fill the indexes from the stored tables (one scan; schema 1 had no indexes)."""
        for index, table in INDEXES.items():
            keep = STORED[table][0]
            assert keep is not None
            decode_key = KEY_DECODERS[table]
            txn.drop(self._dbs[index], delete=False)
            for raw_key, raw in txn.cursor(db=self._dbs[table]).iternext():
                if keep(decode_stored(table, decode_key(raw_key), raw)):
                    txn.put(bytes(raw_key), b"", db=self._dbs[index])

    def _use_tables(self, tables: Tables) -> None:
        """Adopt ``tables`` and route each table's writes: ``(key encoder, db, rows, how)``, how
        being _IN_MEMORY (a dict, taken back with undo), _KEPT (a stored table that keeps some
        rows: it notes the row) or _ON_DISK (a stored table that keeps none: the put is all; a
        read in the batch finds the row in the write transaction)."""
        self._tables = tables
        if self._held is not None:  # rebuild_derived committed the block, then replaced the tables
            self._held = _HeldWrites(tables)
        # (table, its index db or None) for the stored tables that keep rows in memory
        self._kept_tables = [(rows, self._dbs[index] if index is not None else None)
                             for rows in tables.by_name.values()
                             if isinstance(rows, StoredTable) and rows.keep is not None
                             for index in (STORED[rows.name][1],)]
        self._sinks = {table: (KEY_ENCODERS[table], self._dbs[table], rows,
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
        self.commit_block()
        self._closed = True
        unshare_writer_env(self._path)
        if self._syncer is not None:
            thread, stop = self._syncer
            stop.set()
            thread.join(timeout=5)
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
        raws: list[bytes | str] = []  # the framed event (with its CRC), or why it does not encode
        for event in events:
            try:
                raws.append(frame_event(ENCODER.encode(event)))
            except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
                raws.append(f"{type(event).__name__} does not encode as msgpack: {exc}")
        if self._held is not None:
            return self._stage(events, raws, all_or_nothing)
        payload_bytes = sum(len(raw) for raw in raws if isinstance(raw, bytes))
        self._ensure_room(payload_bytes, 4 * len(events))
        for _attempt in range(_MAX_GROW_RETRIES):
            try:
                result, last_seq = self._write_batch(events, raws, all_or_nothing)
            except lmdb.MapFullError:
                self._map_full_retries += 1
                self._grow(self._env.info()["map_size"] * 2)
                continue
            except LMDB_DAMAGE as exc:  # the write met a damaged page; nothing was committed
                raise damaged(self._path, exc) from None
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
        encode = ENCODER.encode
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
                txn.put(U64.pack(seq), raw, append=True, db=events_db)
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

    def _stage(self, events: Sequence[LedgerEvent], raws: Sequence[bytes | str], all_or_nothing: bool,
               rehearsal: bool = False) -> AppendResult:
        """``_write_batch`` for held commits: the same fold, the same answers, the same tables in
        memory; the writes go to ``self._held`` (put by ``commit_block``), not into LMDB."""
        # Order path (backtest).
        held = self._held
        assert held is not None
        if held.txn is None:
            held.txn = self._env.begin(write=True)
        self._reads.txn = held.txn
        tables = self._tables
        sinks = self._sinks
        undo: list[tuple[Any, Any, Any]] = []
        staged: list[tuple[int, bytes]] = []
        changed: list[tuple[str, Any, Any]] = []
        seqs: list[int] = []
        issues: list[tuple[int, FoldIssue]] = []
        seq = self._last_seq
        try:
            for index, event in enumerate(events):
                raw = raws[index]
                if type(raw) is str:
                    issues.append((index, FoldIssue(code=FoldIssueCode.BAD_FIELD, detail=f"batch index {index}: {raw}")))
                    seqs.append(0)
                    continue
                folded = fold(tables, seq + 1, event)
                if folded.issue is not None:
                    issues.append((index, folded.issue))
                    seqs.append(0)
                    continue
                seq += 1
                staged.append((seq, raw))  # type: ignore[arg-type]
                for table, key, row in folded.changes:
                    rows, how = sinks[table][2], sinks[table][3]
                    changed.append((table, key, row))
                    if how is _IN_MEMORY:
                        undo.append((rows, key, rows.get(key, ABSENT)))
                    # a stored table's ``written`` shows the row to the rest of the batch (and
                    # ``discard`` forgets it), the kept ones' and the others' alike
                    rows[key] = row
                seqs.append(seq)
        except BaseException:
            self._unstage(undo)
            raise
        if seq == self._last_seq or (issues and all_or_nothing) or rehearsal:
            self._unstage(undo)
            return AppendResult(seqs=[0] * len(events), issues=issues)
        held_rows = held.rows
        for table, key, row in changed:
            held_rows[table][key] = row
        for stored_table in held.stored:
            if stored_table.written and stored_table.keep is None:
                stored_table.written.clear()  # in ``pending`` now
        for stored_table, index_db in self._kept_tables:
            if stored_table.written:
                stored_table.settle(held, index_db)  # type: ignore[arg-type]  # the index ops wait too
        held.events.extend(staged)
        self._last_seq = seq
        return AppendResult(seqs=seqs, issues=issues)

    def _unstage(self, undo: list[tuple[Any, Any, Any]]) -> None:
        Tables.rollback(undo)
        for stored_table in self._held.stored:  # type: ignore[union-attr]
            stored_table.discard()

    def hold_commits(self) -> None:
        """From now on, appends stage their writes in memory until ``commit_block`` (a backtest
        commits once per block of frames: durability is irrelevant there). What appends return,
        and what queries answer, is unchanged. Whole-table reads, ``reader``, ``sync`` and ``close``
        commit the block first. Never for a live ledger: a crash loses the block."""
        self._check_open()
        if self._held is None:
            self._held = _HeldWrites(self._tables)

    def commit_block(self) -> None:
        """Put and commit what the appends since the last block staged (one transaction, each
        row at its latest value). Raises LedgerError FULL if the map cannot grow enough; then the
        block is lost and the ledger should be closed (the tables in memory are ahead of LMDB)."""
        held = self._held
        if held is None or held.txn is None:
            return
        held.txn.abort()  # only read through: the map may have to grow before the puts
        held.txn = None
        self._reads.txn = None
        if not held.events:
            return
        encode = ENCODER.encode
        puts: list[tuple[Any, bytes, bytes]] = []
        for table, rows in held.rows.items():
            if rows:
                encode_key, db = self._sinks[table][0], self._sinks[table][1]
                puts.extend((db, encode_key(key), encode(row)) for key, row in rows.items())
        payload_bytes = sum(len(raw) for _seq, raw in held.events) + sum(len(v) for _db, _k, v in puts)
        self._ensure_room(payload_bytes, len(held.events) + len(puts) + sum(map(len, held.index.values())))
        events_db = self._dbs[EVENTS]
        for _attempt in range(_MAX_GROW_RETRIES):
            txn = self._env.begin(write=True)
            try:
                for seq, raw in held.events:
                    txn.put(U64.pack(seq), raw, append=True, db=events_db)
                for db, key, value in puts:
                    txn.put(key, value, db=db)
                for db, keys in held.index.items():
                    for key, present in keys.items():
                        if present:
                            txn.put(key, b"", db=db)
                        else:
                            txn.delete(key, db=db)
                txn.commit()
            except lmdb.MapFullError:
                txn.abort()
                self._map_full_retries += 1
                self._grow(self._env.info()["map_size"] * 2)
                continue
            except LMDB_DAMAGE as exc:
                txn.abort()
                raise damaged(self._path, exc) from None
            except BaseException:
                txn.abort()
                raise
            break
        else:
            raise LedgerError(LedgerErrorCode.FULL,
                              f"ledger {self._path}: map still full after {_MAX_GROW_RETRIES} doublings")
        held.events.clear()
        for rows in held.rows.values():
            rows.clear()
        held.index.clear()
        self._after_commit()
        if self._config.map_release_bytes:
            self._release_budget_bytes -= payload_bytes
            if self._release_budget_bytes <= 0:
                self._release_map()

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

    def next_client_order_id(self) -> str:
        """The client order id the next new order is stored under: build the order with it, then
        ``record_new_order``. The persisted counter advances only when that order is stored."""
        return self.format_client_order_id(self._tables.next_order_no())

    def record_new_order(self, order: OrderEvent) -> NewOrder:
        """Store ``order`` (its first event, usually SUBMITTED), built with ``next_client_order_id``.

        The counter advances in the same transaction as the order (``IntentRecorded`` + the order
        event), so ids are unique forever, across restarts. If ``order.intent_id`` is already an
        order, nothing is written and that order's id comes back with ``duplicate=True``. Raises
        ValueError if ``order`` carries another id than the next one (a caller's bug).
        """
        # Order path. The fold refuses an intent recorded before (DUPLICATE_INTENT) inside the
        # write transaction: no separate lookup first (intents live in LMDB, not in memory).
        intent, first = self._new_order_events(order)
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
        return NewOrder(client_order_id=order.client_order_id, seq=result.seqs[1])

    def rehearse_new_order(self, order: OrderEvent) -> None:
        """Do what ``record_new_order`` does for ``order`` (under a fresh intent id and the next
        client order id), in a write transaction that is then aborted: nothing is stored, the
        tables, counters and sequence stay as they were. It keeps the order path's code and pages
        warm between orders (``Actor.warm_hot_path``)."""
        self._check_open()
        events = self._new_order_events(msgspec.structs.replace(
            order, intent_id=REHEARSAL_INTENT_ID, client_order_id=self.next_client_order_id()))
        raws = [frame_event(ENCODER.encode(event)) for event in events]
        if self._held is not None:
            self._stage(events, raws, all_or_nothing=True, rehearsal=True)
            return
        try:
            self._write_batch(events, raws, all_or_nothing=True, rehearsal=True)
        except lmdb.MapFullError:
            pass  # the real write grows the map; a rehearsal never does

    def _new_order_events(self, order: OrderEvent) -> tuple[IntentRecorded, OrderEvent]:
        """The two events that record ``order`` under the next client order id (its own)."""
        order_no = self._tables.next_order_no()
        if order.client_order_id != self.format_client_order_id(order_no):
            raise ValueError(f"order {order.client_order_id!r} of intent {order.intent_id!r}: a new order takes the "
                             f"next client order id, {self.format_client_order_id(order_no)!r} "
                             "(Ledger.next_client_order_id)")
        intent = IntentRecorded(intent_id=order.intent_id, client_order_id=order.client_order_id,
                                order_no=order_no, strategy=order.strategy, ts_ns=order.ts_event_ns)
        return intent, order

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
            while not stop.wait(period_s):
                if self._dirty and not self._closed:
                    self._dirty = False  # cleared first: a commit racing this sync is synced next round
                    try:
                        with self._env_lock:
                            self._env.sync(True)
                        self._fsyncs += 1
                    except lmdb.Error:
                        self._dirty = True

        stop = threading.Event()
        thread = threading.Thread(target=run, name="ledger-fsync", daemon=True)
        self._syncer = (thread, stop)
        thread.start()
        return True

    def sync(self) -> None:
        """fsync now (any policy); a held block is committed first."""
        self._check_open()
        self.commit_block()
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
        skipped and listed (a consistent ledger has none). Raises LedgerError CORRUPT, changing
        nothing, when an event fails its checksum: only a backup brings such an event back."""
        self._check_open()
        self.commit_block()
        unreadable: list[tuple[int, FoldIssue]] = []
        readable = 0

        def counted(pairs: Iterator[tuple[int, LedgerEvent]]) -> Iterator[tuple[int, LedgerEvent]]:
            nonlocal readable
            for pair in pairs:
                readable += 1
                yield pair

        try:
            with self._env.begin(buffers=True) as txn:
                tables, refused = fold_events(counted(read_events(txn, self._dbs, [], unreadable, strict=True)))
        except LMDB_DAMAGE as exc:
            raise damaged(self._path, exc) from None
        encoded = encoded_tables(tables.by_name)
        indexes = index_keys(tables)
        rows_count = sum(len(rows) for rows in encoded.values()) + sum(len(keys) for keys in indexes.values())
        self._ensure_room(sum(len(k) + len(v) for rows in encoded.values() for k, v in rows.items()), rows_count)
        for _attempt in range(_MAX_GROW_RETRIES):
            try:
                with self._env.begin(write=True) as txn:
                    for table in DERIVED_TABLES:
                        db = self._dbs[table]
                        if table == META:
                            for name in DERIVED_META_KEYS:
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

    def order_history(self, client_order_ids: set[str], from_seq: int) -> dict[str, list[OrderEvent]]:
        """Every recorded state of the orders ``client_order_ids`` (oldest first), read from the
        event log from sequence ``from_seq`` on (one short read transaction; the derived ``orders``
        table keeps only the latest state). For what only the history tells, e.g. how many
        modifications were asked of an order still open (a venue caps them). Unreadable events
        are skipped: ``verify`` reports them."""
        self._check_open()
        self.commit_block()
        history: dict[str, list[OrderEvent]] = {coid: [] for coid in client_order_ids}
        try:
            with self._env.begin(buffers=True) as txn:
                cursor = txn.cursor(db=self._dbs[EVENTS])
                if cursor.set_range(seq_key(max(from_seq, 1))):
                    for raw_key, raw in cursor.iternext():
                        event = decode_event(decode_seq_key(raw_key), raw)
                        if isinstance(event, OrderEvent) and event.client_order_id in history:
                            history[event.client_order_id].append(event)
        except LMDB_DAMAGE as exc:
            raise damaged(self._path, exc) from None
        return history

    def verify(self) -> list[str]:
        """Replay ``events`` through the fold and compare with the stored derived tables and
        with this writer's in-memory tables. Empty list = identical."""
        self._check_open()
        self.commit_block()
        try:
            with self._env.begin(buffers=True) as txn:
                problems, recomputed = verify_txn(txn, self._dbs)
        except LMDB_DAMAGE as exc:
            raise damaged(self._path, exc) from None
        # In memory: the small tables whole, of the stored ones the open rows (the rest was
        # compared on disk above).
        problems.extend(diff_tables("memory", encoded_tables(kept_rows(recomputed)),
                                     encoded_tables(memory_rows(self._tables))))
        return problems

    # -- reads: the query primitives (engine.ledger.queries) --------------------------------
    # From memory, or one LMDB lookup (see the class docstring). Order path: ``_get`` answers
    # the execution actor's order, position, wallet and intent lookups.

    def _get(self, table: str, key: Any) -> Any:
        return self._tables.by_name[table].get(key)

    def _all(self, table: str) -> Mapping[Any, Any]:
        """A read-only live view, not a copy: the small tables from memory; orders, fills,
        intents, audit and groups read from LMDB as it is iterated (do not hold it across
        appends if you need a fixed picture; iterating it reads the whole table). A held block is
        committed first when the table is read from LMDB."""
        rows = self._tables.by_name[table]
        if isinstance(rows, StoredTable):
            self.commit_block()
        return MappingProxyType(rows)

    def _open(self, table: str) -> dict[Any, Any]:
        """From memory: the rows the table keeps (open orders, open groups)."""
        rows = self._tables.by_name[table]
        assert isinstance(rows, StoredTable) and rows.keep is not None, f"{table} has no open rows"
        return dict(rows.kept)

    def _values(self, table: str) -> Iterator[Any]:
        rows = self._tables.by_name[table]
        if isinstance(rows, StoredTable):
            self.commit_block()
        return iter(rows.values())

    def last_seq(self) -> int:
        return self._last_seq

    # Order path: the lookups the execution actor makes for every order and fill answer what
    # LedgerQueries does, straight from the table: going through ``_get`` costs one more Python
    # call, ~50 ns on a 70-130 ns lookup (timeit, when the query layer was written).

    def order(self, client_order_id: str) -> OrderEvent | None:
        return self._tables.orders.get(client_order_id)

    def position(self, strategy: str, segment: int, security_id: int, product: Product = "INTRADAY"
                 ) -> Position | None:
        return self._tables.positions.get((strategy, segment, security_id, product))

    def wallet(self, account: str = TRADING_ACCOUNT) -> Wallet | None:
        return self._tables.wallets.get(account)

    def stats(self) -> LedgerStats:
        self.commit_block()
        used, size = self._used_and_size()
        return LedgerStats(
            last_seq=self._last_seq, commits=self._commits, fsyncs=self._fsyncs,
            map_grows=self._map_grows, map_full_retries=self._map_full_retries,
            refused=dict(self._refused), map_size_bytes=size, used_bytes=used, map_releases=self._map_releases,
        )

    def reader(self) -> LedgerReader:
        """A reader over this writer's own environment (LMDB forbids opening it twice in one
        process). Its snapshots must be closed before the next write: the map may grow. A
        held block is committed first."""
        self._check_open()
        self.commit_block()
        if self._shared_reader is None:
            self._shared_reader = LedgerReader(self._env, self._dbs, owns_env=False, path=self._path,
                                               guard=self._guard)
        return self._shared_reader
