"""Derived tables that live in LMDB, not in memory: the writer's view of orders, fills, intents,
audit rows and order groups.

These tables grow with every order ever made. The writer keeps in memory only the rows its hot
path needs and that stay few (``keep``: open orders, open groups) plus the rows written by the
transaction in progress (``written``, the overlay); every other row is read from LMDB when asked
for: through the writer's own write transaction while a batch is being written (so a batch sees
its own writes and the fold's duplicate checks see every row ever stored), through a short read
transaction otherwise.

The writer owns the writes: it puts each changed row into LMDB itself and records it here with
``table[key] = row`` (only for tables that keep rows: for the others the put is all). Just
before the commit ``settle()`` moves the overlay into ``kept`` (dropping the rows ``keep`` does
not pick) and writes the index; if the transaction does not commit, ``discard()`` forgets the
overlay and ``unsettle()`` restores ``kept`` (LMDB forgot the rows already). The keys of the
kept rows are also stored in an index database (``open_orders``, ``open_groups``) so that
opening the ledger reads only them.

A writer that holds its commits (a backtest: ``Ledger.hold_commits``) puts nothing until the end
of a block; the rows its batches wrote wait in ``pending`` (read after ``kept``, before LMDB).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Final

import lmdb

from engine.ledger.errors import LMDB_READ_DAMAGE, damaged

ROWS_PER_READ: Final = 512  # rows decoded per read transaction when a whole table is iterated
_BAD_KEY: Final = (AttributeError, TypeError, ValueError, OverflowError, UnicodeError)


class MapGuard:
    """Read transactions open in this process on the writer's environment.

    The writer may remap the environment (grow it, or drop the pages it has touched) only while
    none is open: a snapshot would otherwise read through an unmapped address. A snapshot of
    another thread (the control API's server thread in a co-located topology) is waited for; one
    of the writer's own thread never ends while it waits, so the remap is refused instead.
    """

    __slots__ = ("_cond", "_open", "_remapping")

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open: dict[int, int] = {}  # thread id -> snapshots it has open
        self._remapping = False

    def enter(self) -> None:
        me = threading.get_ident()
        with self._cond:
            while self._remapping and me not in self._open:
                self._cond.wait()
            self._open[me] = self._open.get(me, 0) + 1

    def leave(self) -> None:
        me = threading.get_ident()
        with self._cond:
            left = self._open[me] - 1
            if left:
                self._open[me] = left
            else:
                del self._open[me]
            if not self._open:
                self._cond.notify_all()

    def acquire(self, wait_s: float) -> bool:
        """Exclusive use of the map (no snapshot open, none may start) until ``release``; waits
        up to ``wait_s`` for other threads' snapshots. False: not acquired (nothing to release)."""
        with self._cond:
            if threading.get_ident() in self._open:
                return False
            self._remapping = True  # new snapshots wait from now on
            if self._open and wait_s > 0:
                self._cond.wait_for(lambda: not self._open, timeout=wait_s)
            if self._open:
                self._remapping = False
                self._cond.notify_all()
                return False
            return True

    def release(self) -> None:
        with self._cond:
            self._remapping = False
            self._cond.notify_all()


class Reads:
    """Where a stored table reads: the writer's transaction in progress (``txn``), else a short
    read-only transaction of its own. One thread (the writer's)."""

    __slots__ = ("env", "txn")

    def __init__(self, env: lmdb.Environment) -> None:
        self.env = env
        self.txn: lmdb.Transaction | None = None

    def get(self, db: Any, key: bytes, decode: Callable[[Any], Any]) -> Any:
        """The decoded row at ``key``, None if there is none (or ``key`` cannot be an LMDB key)."""
        try:
            txn = self.txn
            if txn is not None:
                raw = txn.get(key, db=db)
                return None if raw is None else decode(raw)
            with self.env.begin(buffers=True) as own:
                raw = own.get(key, db=db)
                return None if raw is None else decode(raw)  # decoded before the buffer goes away
        except lmdb.BadValsizeError:
            return None  # empty or over 511 bytes: never stored
        except LMDB_READ_DAMAGE as exc:  # a damaged page met on demand: the ledger's error, not LMDB's
            raise damaged(self.env.path(), exc) from None

    def has(self, db: Any, key: bytes) -> bool:
        return self.get(db, key, _present) is not None

    def count(self, db: Any) -> int:
        try:
            txn = self.txn
            if txn is not None:
                return int(txn.stat(db)["entries"])
            with self.env.begin() as own:
                return int(own.stat(db)["entries"])
        except LMDB_READ_DAMAGE as exc:
            raise damaged(self.env.path(), exc) from None

    def rows(self, db: Any, decode_key: Callable[[Any], Any], decode: Callable[[Any], Any] | None
             ) -> Iterator[tuple[Any, Any]]:
        """``(key, row)`` in key order; ``decode`` None gives ``(key, None)``. Outside a write,
        ``ROWS_PER_READ`` rows per read transaction, none held open between them: every chunk
        is one commit's view, the whole iteration is not (the writer may write in between).
        A damaged page met on the way raises LedgerError CORRUPT."""
        try:
            yield from self._rows(db, decode_key, decode)
        except LMDB_READ_DAMAGE as exc:
            raise damaged(self.env.path(), exc) from None

    def _rows(self, db: Any, decode_key: Callable[[Any], Any], decode: Callable[[Any], Any] | None
              ) -> Iterator[tuple[Any, Any]]:
        txn = self.txn
        if txn is not None:
            for raw_key, raw in txn.cursor(db=db).iternext():
                yield decode_key(raw_key), (decode(raw) if decode is not None else None)
            return
        after: bytes | None = None
        while True:
            chunk: list[tuple[Any, Any]] = []
            with self.env.begin(buffers=True) as own:
                cursor = own.cursor(db=db)
                found = cursor.set_range(after) if after is not None else cursor.first()
                if found and after is not None and bytes(cursor.key()) == after:
                    found = cursor.next()
                while found and len(chunk) < ROWS_PER_READ:
                    after = bytes(cursor.key())
                    chunk.append((decode_key(after), decode(cursor.value()) if decode is not None else None))
                    found = cursor.next()
            yield from chunk
            if not found:
                return


def _present(raw: Any) -> bool:
    return True


class StoredTable(MutableMapping[Any, Any]):
    """One derived table in LMDB, seen as a mapping (see the module docstring).

    ``keep(row)`` picks the rows also held in memory (``kept``, as of the last commit); None keeps
    none. Rows are never deleted from a derived table, so ``del`` is refused.
    """

    __slots__ = ("name", "_reads", "_db", "_encode_key", "_decode_key", "_decode", "_keep", "kept", "written",
                 "_undo", "pending")

    def __init__(self, name: str, reads: Reads, db: Any, encode_key: Callable[[Any], bytes],
                 decode_key: Callable[[Any], Any], decode: Callable[[Any], Any],
                 keep: Callable[[Any], bool] | None = None, kept: dict[Any, Any] | None = None) -> None:
        self.name = name
        self._reads = reads
        self._db = db
        self._encode_key = encode_key
        self._decode_key = decode_key
        self._decode = decode
        self._keep = keep
        self.kept: dict[Any, Any] = kept if kept is not None else {}
        self.written: dict[Any, Any] = {}
        self._undo: list[tuple[Any, Any]] = []  # (key, kept row before the last settle, or None)
        # Rows of earlier batches not yet in LMDB: a writer that holds its commits (a backtest,
        # ``Ledger.hold_commits``) puts them at the end of the block; until then they are read here.
        self.pending: dict[Any, Any] = {}

    @property
    def keep(self) -> Callable[[Any], bool] | None:
        return self._keep

    # Order path: the fold's duplicate checks and the writer's lookups come here.
    def get(self, key: Any, default: Any = None) -> Any:
        row = self.written.get(key)
        if row is None:
            row = self.kept.get(key)
            if row is None:
                if self.pending:
                    row = self.pending.get(key)
                    if row is not None:
                        return row
                try:
                    raw_key = self._encode_key(key)
                except _BAD_KEY:
                    return default
                txn = self._reads.txn
                if txn is not None:  # inside a batch (the fold's checks): inlined, usually a miss
                    try:
                        raw = txn.get(raw_key, db=self._db)
                    except lmdb.BadValsizeError:
                        return default
                    return default if raw is None else self._decode(raw)
                row = self._reads.get(self._db, raw_key, self._decode)
                if row is None:
                    return default
        return row

    def __getitem__(self, key: Any) -> Any:
        row = self.get(key)
        if row is None:
            raise KeyError(key)
        return row

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None

    def __setitem__(self, key: Any, row: Any) -> None:
        self.written[key] = row  # the writer has put the row into the transaction in progress

    def __delitem__(self, key: Any) -> None:
        raise TypeError(f"{self.name}: derived rows are never deleted")

    def __iter__(self) -> Iterator[Any]:
        for key, _row in self._reads.rows(self._db, self._decode_key, None):
            yield key

    def __len__(self) -> int:
        return self._reads.count(self._db)

    def items(self) -> Iterator[tuple[Any, Any]]:  # type: ignore[override]
        """Every row, decoded a chunk at a time (never all of them in memory at once)."""
        return self._reads.rows(self._db, self._decode_key, self._decode)

    def values(self) -> Iterator[Any]:  # type: ignore[override]
        return (row for _key, row in self.items())

    # Transaction bookkeeping (the writer calls these) ------------------------------------------

    def settle(self, txn: lmdb.Transaction, index_db: Any) -> None:
        """Just before the commit, once per batch that wrote this table: put in ``index_db`` the
        key of every written row ``keep`` now picks and was not kept, delete the key of every
        kept row it no longer picks, and move the rows into ``kept``. ``unsettle`` takes that
        back if the commit then fails."""
        keep = self._keep
        assert keep is not None
        kept, encode_key, undo = self.kept, self._encode_key, self._undo
        undo.clear()
        for key, row in self.written.items():
            was = kept.get(key)
            if keep(row):
                if was is None and index_db is not None:
                    txn.put(encode_key(key), b"", db=index_db)
                kept[key] = row
            elif was is not None:
                if index_db is not None:
                    txn.delete(encode_key(key), db=index_db)
                del kept[key]
            else:
                continue
            undo.append((key, was))
        self.written.clear()

    def unsettle(self) -> None:
        """The commit after ``settle`` failed: ``kept`` as it was before the batch."""
        kept = self.kept
        for key, was in reversed(self._undo):
            if was is None:
                kept.pop(key, None)
            else:
                kept[key] = was
        self._undo.clear()

    def discard(self) -> None:
        """The transaction did not commit: forget what it wrote."""
        self.written.clear()
