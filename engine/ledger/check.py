"""Is the ledger on disk whole? Checked before any unit opens it (``shikra run``) and by
``shikra ledger verify``, without modifying a byte of it.

``check_ledger`` opens the environment read-only. With ``lock=False`` (nothing else has the
ledger open: the daemon's start, which holds the data directory's lock) LMDB opens ``data.mdb``
read-only and never touches ``lock.mdb``; with ``lock=True`` (a running daemon) it reads in a
registered MVCC snapshot, which only takes a reader slot in ``lock.mdb``.

What it finds, in order (each stops the check: what follows would read damaged pages):

* missing: no ``data.mdb`` -- not damage, the execution actor creates a new ledger;
* truncated: the file ends before the last page LMDB's meta page names (reading past the end of
  a mapped file kills the process with SIGBUS, so the size is compared before any page is read);
* not readable by LMDB (MDB_INVALID, MDB_CORRUPTED, a page of the wrong type, ...);
* a schema this code does not read;
* then every table is walked: each event's CRC-32 (schema 4) and decoding, each derived row's
  decoding, so every B-tree page is visited;
* ``full``: ``engine.ledger.verify`` replays the events and compares every derived table and index.

A damaged page can still crash the reading process (LMDB trusts its page pointers), so the
daemon and the CLI run the check in a child process (``check_in_subprocess``): a crash there is
reported as damage, never as a crash of ``shikra run``.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Final, Literal

import lmdb
import msgspec

from engine.ledger.errors import LedgerError, LedgerErrorCode
from engine.ledger.fold import DERIVED_TABLES, META
from engine.ledger.schema import (
    EVENTS,
    INDEXES,
    KEY_DECODERS,
    MAX_DBS,
    META_SCHEMA,
    SCHEMA_V1,
    SCHEMA_V2,
    SCHEMA_V3,
    SCHEMA_VERSION,
    decode_event,
    decode_seq_key,
    decode_stored,
    open_dbs,
    stored_rows,
)
from engine.ledger.records import UnreadableRecord
from engine.ledger.verify import verify_txn

DATA_FILE: Final = "data.mdb"
READABLE_SCHEMAS: Final = (SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_VERSION)
# Exit codes of ``python -m engine.ledger.check`` (the values of actors.base's EXIT_LEDGER_DAMAGED
# are the daemon's; this child's only tell its parent which report it printed).
_CHILD_OK: Final = 0
_CHILD_DAMAGED: Final = 65
_MAX_PROBLEMS_SHOWN: Final = 20

Outcome = Literal["missing", "ok", "damaged"]


class LedgerCheck(msgspec.Struct, frozen=True):
    """``problems``: what is wrong, most telling first (empty unless ``outcome`` is damaged).
    ``events``: events read; ``full``: whether the derived tables were recomputed and compared."""

    path: str
    outcome: Outcome
    problems: list[str] = []
    events: int = 0
    full: bool = False
    elapsed_ms: int = 0

    @property
    def damaged(self) -> bool:
        return self.outcome == "damaged"

    @property
    def rebuildable(self) -> bool:
        """The events are whole and only derived tables or indexes disagree with them."""
        return bool(self.problems) and all(p.startswith("stored ") for p in self.problems)

    def what_to_do(self) -> str:
        if self.rebuildable:
            return ("stop the daemon and run `shikra ledger rebuild` (the events are whole: the derived tables are "
                    "recomputed from them), or restore a backup; `shikra ledger verify` lists every difference")
        return ("restore a backup of the ledger (`shikra ledger backup FILE` makes one) in place of this data.mdb; "
                "`shikra ledger verify` lists every problem")

    def message(self) -> str:
        """One line for a log and stderr: the file, what is wrong, what to do."""
        if not self.damaged:
            return f"ledger {self.path}: {self.outcome}"
        first = self.problems[0] if self.problems else "unknown damage"
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        return f"ledger {self.path} is damaged: {first}{more}; {self.what_to_do()}"


def check_ledger(directory: str | os.PathLike[str], *, full: bool, lock: bool = False) -> LedgerCheck:
    """Check the ledger in ``directory`` without writing to it (see the module docstring).
    ``lock``: True while a daemon may be writing it (read in a registered snapshot)."""
    started_ns = time.monotonic_ns()
    path = Path(directory) / DATA_FILE
    if not path.exists():
        return LedgerCheck(path=str(path), outcome="missing")
    problems: list[str] = []
    events = 0
    try:
        env = lmdb.open(str(directory), readonly=True, lock=lock, create=False, subdir=True, max_dbs=MAX_DBS,
                        map_size=0)
    except lmdb.Error as exc:
        problems.append(f"LMDB cannot open it: {exc}")
    else:
        try:
            events = _check_env(env, path, full, problems)
        except lmdb.Error as exc:
            problems.append(f"LMDB cannot read it: {type(exc).__name__}: {exc}")
        finally:
            env.close()
    return LedgerCheck(path=str(path), outcome="damaged" if problems else "ok", problems=problems, events=events,
                       full=full, elapsed_ms=(time.monotonic_ns() - started_ns) // 1_000_000)


def _check_env(env: lmdb.Environment, path: Path, full: bool, problems: list[str]) -> int:
    page_bytes = env.stat()["psize"]
    ends_at = (env.info()["last_pgno"] + 1) * page_bytes
    size = path.stat().st_size
    if size < ends_at:
        problems.append(f"truncated: the file holds {size} bytes, its last page ends at byte {ends_at}")
        return 0
    try:
        dbs = open_dbs(env, create=False)
    except lmdb.NotFoundError as exc:
        problems.append(f"a table is missing: {exc}")
        return 0
    with env.begin(buffers=True) as txn:
        schema = txn.get(META_SCHEMA, db=dbs[META])
        if schema is not None and bytes(schema) not in READABLE_SCHEMAS:
            problems.append(f"it has schema {bytes(schema)!r}, this version reads up to {SCHEMA_VERSION!r} "
                            "(written by a newer version of shikra?)")
            return 0
        if full:
            found, _tables = verify_txn(txn, dbs)
            problems.extend(found)
            return _count(txn, dbs[EVENTS])
        return _walk(txn, dbs, problems)


def _count(txn: lmdb.Transaction, db: object) -> int:
    return int(txn.stat(db)["entries"])


def _walk(txn: lmdb.Transaction, dbs: dict[str, object], problems: list[str]) -> int:
    """Read every event (CRC and decoding) and every derived row and index key (decoding): every
    page of every table is visited."""
    events = 0
    for raw_key, raw in txn.cursor(db=dbs[EVENTS]).iternext():
        events += 1
        seq = decode_seq_key(raw_key)
        try:
            event = decode_event(seq, raw)
        except LedgerError as exc:
            problems.append(str(exc).removeprefix(f"{LedgerErrorCode.CORRUPT.value}: "))
        else:
            if isinstance(event, UnreadableRecord):
                problems.append(f"event seq {seq} does not decode: {event.error}")
        if len(problems) >= _MAX_PROBLEMS_SHOWN:
            return events
    for table in DERIVED_TABLES:
        decode_key = KEY_DECODERS[table]
        for raw_key, raw in stored_rows(txn, dbs, table):
            try:
                decode_stored(table, decode_key(raw_key), raw)
            except (LedgerError, msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError,
                    KeyError, struct.error) as exc:
                problems.append(f"{table}: a row does not decode: {exc}")
                if len(problems) >= _MAX_PROBLEMS_SHOWN:
                    return events
    for index in INDEXES:
        if index in dbs:
            for _key in txn.cursor(db=dbs[index]).iternext(values=False):
                pass
    return events


# ------------------------------------------------------------------------------------------
# In a child process: a crash on a damaged page is reported, never suffered
# ------------------------------------------------------------------------------------------


def check_in_subprocess(directory: str | os.PathLike[str], *, full: bool, lock: bool = False) -> LedgerCheck:
    """``check_ledger`` in a child process (``python -m engine.ledger.check``). A child that dies
    (SIGBUS, SIGSEGV on a damaged page) or prints no report means damage too."""
    path = Path(directory) / DATA_FILE
    cmd = [sys.executable, "-m", "engine.ledger.check", str(directory)]
    if full:
        cmd.append("--full")
    if lock:
        cmd.append("--lock")
    started_ns = time.monotonic_ns()
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if done.returncode in (_CHILD_OK, _CHILD_DAMAGED):
        try:
            return msgspec.json.decode(done.stdout, type=LedgerCheck)
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
    if done.returncode < 0:
        what = f"reading it crashed the check (signal {-done.returncode}): a damaged page"
    else:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        what = f"the check failed (exit {done.returncode}: {tail[0][:200]})"
    return LedgerCheck(path=str(path), outcome="damaged", problems=[what], full=full,
                       elapsed_ms=(time.monotonic_ns() - started_ns) // 1_000_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.ledger.check")
    parser.add_argument("directory")
    parser.add_argument("--full", action="store_true", help="also replay the events and compare the derived tables")
    parser.add_argument("--lock", action="store_true", help="read in a registered snapshot (a daemon may write)")
    args = parser.parse_args(argv)
    report = check_ledger(args.directory, full=args.full, lock=args.lock)
    sys.stdout.buffer.write(msgspec.json.encode(report))
    return _CHILD_DAMAGED if report.damaged else _CHILD_OK


if __name__ == "__main__":
    sys.exit(main())
