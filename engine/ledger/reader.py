"""Reading the ledger from any process while the writer writes: lock-free MVCC snapshots.

``LedgerReader.open(path)`` in a process other than the writer's; ``Ledger.reader()`` in the
writer's (LMDB forbids opening one environment twice in a process, so a reader asked for there
shares the writer's environment). Readers follow the writer's map growth.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, NamedTuple

import lmdb

from engine.ledger.errors import LMDB_READ_DAMAGE, LedgerError, LedgerErrorCode, damaged
from engine.ledger.fold import AUDIT
from engine.ledger.queries import LedgerQueries
from engine.ledger.records import AuditRecord, LedgerEvent, UnreadableRecord
from engine.ledger.schema import (
    EVENTS,
    KEY_DECODERS,
    KEY_ENCODERS,
    MAX_DBS,
    ROW_DECODERS,
    STORED,
    decode_event,
    decode_row,
    decode_seq_key,
    open_dbs,
    seq_key,
)
from engine.ledger.stored import MapGuard
from engine.ledger.verify import verify_txn

_MAX_RESIZE_RETRIES: Final = 12


class SharedEnv(NamedTuple):
    """A writer's open environment, lent to readers in its process."""

    env: lmdb.Environment
    dbs: Mapping[str, Any]
    guard: MapGuard


# Writers open in this process, by resolved directory (the writer adds itself at open and
# removes itself at close): a reader opened there shares the writer's environment.
_WRITER_ENVS: dict[str, SharedEnv] = {}


def share_writer_env(directory: Path, shared: SharedEnv) -> None:
    _WRITER_ENVS[str(directory.resolve())] = shared


def unshare_writer_env(directory: Path) -> None:
    _WRITER_ENVS.pop(str(directory.resolve()), None)


class LedgerSnapshot(LedgerQueries):
    """A consistent read of the whole ledger at one commit (an LMDB read transaction).

    Valid only inside ``LedgerReader.snapshot()``; everything it returns is decoded (owned) data:
    the whole-table queries return dicts.
    """

    def __init__(self, txn: lmdb.Transaction, dbs: Mapping[str, Any]) -> None:
        self._txn = txn
        self._dbs = dbs

    # -- the query primitives (engine.ledger.queries) --------------------------------------

    def _get(self, table: str, key: Any) -> Any:
        raw = self._txn.get(KEY_ENCODERS[table](key), db=self._dbs[table])
        return None if raw is None else decode_row(table, key, raw)

    def _all(self, table: str) -> dict[Any, Any]:
        decode_key = KEY_DECODERS[table]
        decoder = ROW_DECODERS[table]
        return {decode_key(k): decoder.decode(v) for k, v in self._txn.cursor(db=self._dbs[table]).iternext()}

    def _open(self, table: str) -> dict[Any, Any]:
        """From the table's index (a scan of every row only for a ledger the writer has not yet
        migrated to schema 2, which has no indexes)."""
        keep, index_name = STORED[table]
        assert keep is not None and index_name is not None, f"{table} has no open rows"
        index = self._dbs.get(index_name)
        if index is None:
            return {key: row for key, row in self._all(table).items() if keep(row)}
        decode_key = KEY_DECODERS[table]
        out: dict[Any, Any] = {}
        for raw_key in self._txn.cursor(db=index).iternext(values=False):
            key = decode_key(raw_key)
            row = self._get(table, key)
            if row is not None:
                out[key] = row
        return out

    def _values(self, table: str) -> Iterator[Any]:
        decode = ROW_DECODERS[table].decode
        for _raw_key, raw in self._txn.cursor(db=self._dbs[table]).iternext():
            yield decode(raw)

    def last_seq(self) -> int:
        cursor = self._txn.cursor(db=self._dbs[EVENTS])
        return decode_seq_key(cursor.key()) if cursor.last() else 0

    # -- what only a snapshot reads: the event log and the audit trail ---------------------

    def audit(self, from_seq: int = 1, limit: int | None = None) -> list[tuple[int, AuditRecord]]:
        return self._range(AUDIT, from_seq, limit, lambda seq, raw: ROW_DECODERS[AUDIT].decode(raw))

    def last_audit_seq(self) -> int:
        """Sequence of the newest audit row, 0 if none."""
        cursor = self._txn.cursor(db=self._dbs[AUDIT])
        return decode_seq_key(cursor.key()) if cursor.last() else 0

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
            seq = decode_seq_key(raw_key)
            yield seq, decode_event(seq, raw)

    def _range(self, table: str, from_seq: int, limit: int | None,
               decode: Callable[[int, Any], Any]) -> list[tuple[int, Any]]:
        out: list[tuple[int, Any]] = []
        cursor = self._txn.cursor(db=self._dbs[table])
        if limit == 0 or not cursor.set_range(seq_key(max(from_seq, 0))):
            return out
        for raw_key, raw in cursor.iternext():
            seq = decode_seq_key(raw_key)
            out.append((seq, decode(seq, raw)))
            if limit is not None and len(out) >= limit:
                break
        return out

    def verify(self) -> list[str]:
        return verify_txn(self._txn, self._dbs)[0]


class LedgerReader(LedgerQueries):
    """Reads the ledger from any process while the writer writes (lock-free MVCC snapshots).

    ``LedgerReader.open(path)`` in a process other than the writer's; ``Ledger.reader()`` in
    the writer's. Follows map growth: a snapshot that finds the map resized adopts the new size
    and retries. The queries each take their own snapshot (their one primitive call does); use
    ``snapshot()`` to read several tables at one commit.
    """

    def __init__(self, env: lmdb.Environment, dbs: Mapping[str, Any], owns_env: bool, path: Path,
                 guard: MapGuard | None = None) -> None:
        self._env = env
        self._dbs = dbs
        self._guard = guard  # the writer's, when its environment is shared (same process)
        self._owns_env = owns_env
        self._path = path
        self._closed = False
        # Opened by path where the writer's environment was lent (``open``): the key it was lent
        # under, so that the reader follows a writer closed and opened again in this process.
        self._borrowed_from = ""
        self.snapshots_open = 0
        self.map_resizes = 0

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> LedgerReader:
        """Open an existing ledger read-only. Raises LedgerError NOT_FOUND if there is none."""
        directory = Path(path)
        shared = _WRITER_ENVS.get(str(directory.resolve()))
        if shared is not None:
            reader = cls(shared.env, shared.dbs, owns_env=False, path=directory, guard=shared.guard)
            reader._borrowed_from = str(directory.resolve())
            return reader
        if not (directory / "data.mdb").exists():
            raise LedgerError(LedgerErrorCode.NOT_FOUND,
                              f"no ledger at {directory} (the execution actor creates it on first start)")
        # map_size=0: adopt the size the writer recorded; later growth is handled in _begin.
        try:
            env = lmdb.open(str(directory), readonly=True, create=False, subdir=True, max_dbs=MAX_DBS, lock=True,
                            map_size=0)
        except LMDB_READ_DAMAGE as exc:
            raise damaged(directory, exc) from None
        try:
            dbs = open_dbs(env, create=False)
        except lmdb.NotFoundError as exc:
            env.close()
            raise LedgerError(LedgerErrorCode.NOT_FOUND, f"ledger {directory} lacks its databases: {exc}") from exc
        except LMDB_READ_DAMAGE as exc:
            env.close()
            raise damaged(directory, exc) from None
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
        for _attempt in range(_MAX_RESIZE_RETRIES):
            try:
                return self._env.begin(buffers=True)
            except lmdb.MapResizedError:
                # The writer grew the map past ours: adopt the size it recorded, then retry.
                self._env.set_mapsize(0)
                self.map_resizes += 1
        raise LedgerError(LedgerErrorCode.BUSY, f"reader of {self._path}: map kept growing under it")

    def _follow_writer(self) -> None:
        """Borrow the environment of the writer open in this process now: the one lent at open
        closes with its writer, and a writer opened again (an actor restarted in-process, as a
        rehearsal kills one) lends a new one. Raises LedgerError CLOSED while none is open."""
        shared = _WRITER_ENVS.get(self._borrowed_from)
        if shared is None:
            raise LedgerError(LedgerErrorCode.CLOSED,
                              f"reader of {self._path}: the ledger's writer in this process closed it")
        if shared.env is not self._env:
            self._env, self._dbs, self._guard = shared.env, shared.dbs, shared.guard

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[LedgerSnapshot]:
        if self._borrowed_from and not self._closed:
            self._follow_writer()
        guard = self._guard
        if guard is not None:
            guard.enter()  # the writer does not remap while this is open
        try:
            txn = self._begin()
            self.snapshots_open += 1
            try:
                yield LedgerSnapshot(txn, self._dbs)
            except LMDB_READ_DAMAGE as exc:  # a read met a damaged page: say so, never as an LMDB error
                raise damaged(self._path, exc) from None
            finally:
                self.snapshots_open -= 1
                txn.abort()
        finally:
            if guard is not None:
                guard.leave()

    # -- the query primitives: one snapshot each (engine.ledger.queries) --------------------

    def _get(self, table: str, key: Any) -> Any:
        with self.snapshot() as snap:
            return snap._get(table, key)

    def _all(self, table: str) -> dict[Any, Any]:
        with self.snapshot() as snap:
            return snap._all(table)

    def _open(self, table: str) -> dict[Any, Any]:
        with self.snapshot() as snap:
            return snap._open(table)

    def _values(self, table: str) -> Iterator[Any]:
        """One snapshot, open until the iteration ends or the iterator is closed."""
        with self.snapshot() as snap:
            yield from snap._values(table)

    def last_seq(self) -> int:
        with self.snapshot() as snap:
            return snap.last_seq()

    # -- the event log and the audit trail --------------------------------------------------

    def audit(self, from_seq: int = 1, limit: int | None = None) -> list[tuple[int, AuditRecord]]:
        with self.snapshot() as snap:
            return snap.audit(from_seq, limit)

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
