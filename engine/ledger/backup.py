"""A consistent, compacted, verified copy of the ledger (``shikra ledger backup FILE`` and the
daily post-close backup kept ``[schedule] backup_keep_days``).

LMDB's own copy from one read snapshot (safe while the daemon writes), verified in a child
process, and only then renamed to the target: a backup file that exists is whole.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Final

import lmdb
import msgspec

from engine.ledger.check import DATA_FILE, check_in_subprocess
from engine.ledger.schema import MAX_DBS

BACKUPS_DIR: Final = "backups"  # in the data dir: the daily backups
_DAILY = re.compile(r"^ledger-(\d{4}-\d{2}-\d{2})\.mdb$")


class BackupFailed(Exception):
    """No backup written. ``damaged``: the ledger (or its copy) is damaged, not merely unwritable."""

    def __init__(self, message: str, damaged: bool) -> None:
        super().__init__(message)
        self.damaged = damaged


class BackupDone(msgspec.Struct, frozen=True):
    path: str
    size_bytes: int
    events: int


def backup_ledger(directory: Path, target: Path, daemon_running: bool) -> BackupDone:
    """Copy the ledger in ``directory`` to ``target`` (which must not exist). Raises BackupFailed."""
    if target.exists():
        raise BackupFailed(f"{target} exists; choose a new file", damaged=False)
    if not (directory / DATA_FILE).exists():
        raise BackupFailed(f"no ledger at {directory}", damaged=False)
    # Beside the target: the final rename stays on one filesystem.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            # A registered read snapshot while the daemon writes; no lock file at all otherwise.
            env = lmdb.open(str(directory), readonly=True, lock=daemon_running, create=False, subdir=True,
                            max_dbs=MAX_DBS, map_size=0)
            try:
                env.copy(str(staging), compact=True)
            finally:
                env.close()
        except lmdb.Error as exc:
            raise BackupFailed(f"ledger {directory / DATA_FILE} cannot be copied, it is damaged "
                               f"({type(exc).__name__}: {exc}); restore an earlier backup", damaged=True) from None
        check = check_in_subprocess(staging, full=True, lock=False)
        if check.damaged:
            raise BackupFailed(f"the copy does not verify, nothing written to {target}: "
                               f"{'; '.join(check.problems[:3])}", damaged=True)
        os.replace(staging / DATA_FILE, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BackupDone(str(target), target.stat().st_size, check.events)


def daily_backup(data_dir: Path, ledger: Path, day: dt.date, keep_days: int) -> BackupDone:
    """``<data_dir>/backups/ledger-<day>.mdb`` (replacing one of the same day: the later copy has
    more), then only the ``keep_days`` newest daily backups are kept. Raises BackupFailed."""
    folder = data_dir / BACKUPS_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"ledger-{day.isoformat()}.mdb"
    fresh = folder / f".ledger-{day.isoformat()}.new.mdb"
    fresh.unlink(missing_ok=True)
    done = backup_ledger(ledger, fresh, daemon_running=True)
    os.replace(fresh, target)
    dailies = sorted(p for p in folder.iterdir() if _DAILY.match(p.name))
    for old in dailies[:-keep_days] if keep_days > 0 else dailies:
        old.unlink(missing_ok=True)
    return msgspec.structs.replace(done, path=str(target))
