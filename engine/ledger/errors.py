"""What a ledger failure is: one code per cause, raised by the writer, the readers and the codecs."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Final

import lmdb


class LedgerErrorCode(str, enum.Enum):
    LOCKED = "LOCKED"  # another process holds the writer lock
    NOT_FOUND = "NOT_FOUND"  # no ledger at the path (readers never create one)
    FULL = "FULL"  # the map would have to grow past max_map_size_bytes
    CORRUPT = "CORRUPT"  # LMDB found the file damaged, an event fails its checksum, a stored row does not
    # decode, or verify_on_open found differences
    SCHEMA = "SCHEMA"  # written by an incompatible version
    CLOSED = "CLOSED"  # used after close()
    BUSY = "BUSY"  # the map must grow while a snapshot of the writer's own reader is open


# What a restart cannot fix: the same bytes are read again (engine.ledger.check, actors.host).
PERMANENT_CODES = frozenset({LedgerErrorCode.CORRUPT, LedgerErrorCode.SCHEMA})


class LedgerError(Exception):
    """A ledger failure: ``code`` says which, the message says where and with which numbers."""

    def __init__(self, code: LedgerErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code

    @property
    def permanent(self) -> bool:
        return self.code in PERMANENT_CODES


# What LMDB raises for a damaged file: a page of the wrong type, a page past the end, not an LMDB
# file. Caught where the ledger calls LMDB and raised as LedgerError CORRUPT (``damaged``), so no
# LMDB exception reaches a caller.
LMDB_DAMAGE: Final = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError)
# A read transaction that meets a damaged page is also marked failed, and LMDB may report that
# (MDB_BAD_TXN) instead of the damage itself: for a fresh read transaction it means the same.
LMDB_READ_DAMAGE: Final = (*LMDB_DAMAGE, lmdb.BadTxnError)


def damaged(path: Path | str, exc: lmdb.Error) -> LedgerError:
    return LedgerError(LedgerErrorCode.CORRUPT,
                       f"ledger {path} is damaged ({type(exc).__name__}: {exc}); restore a backup, or see "
                       "`shikra ledger verify`")
