"""A consistent, compacted, verified copy of the ledger (``shikra ledger backup FILE`` and the
daily post-close backup kept ``[schedule] backup_keep_days``).

LMDB's own copy from one read snapshot (safe while the daemon writes), verified in a child
process, and only then renamed to the target: a backup file that exists is whole.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
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
        problem = _copy_in_subprocess(directory, staging, daemon_running)
        if problem:
            raise BackupFailed(f"ledger {directory / DATA_FILE} cannot be copied, it is damaged ({problem}); "
                               "restore an earlier backup", damaged=True)
        check = check_in_subprocess(staging, full=True, lock=False)
        if check.damaged:
            raise BackupFailed(f"the copy does not verify, nothing written to {target}: "
                               f"{'; '.join(check.problems[:3])}", damaged=True)
        os.replace(staging / DATA_FILE, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BackupDone(str(target), target.stat().st_size, check.events)


def _copy_in_subprocess(directory: Path, staging: Path, lock: bool) -> str:
    """LMDB's compacting copy in a child process (``python -m engine.ledger.backup``): a damaged
    page that crashes the reader (SIGBUS) takes the child, not the daemon, and a process that has
    the ledger open itself (execution's, in a simulated engine) can still copy it. Returns "" on
    success, else what went wrong."""
    cmd = [sys.executable, "-m", "engine.ledger.backup", str(directory), str(staging)] + (["--lock"] if lock else [])
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if done.returncode == 0:
        return ""
    if done.returncode < 0:
        return f"reading it crashed the copy (signal {-done.returncode}): a damaged page"
    tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
    return tail[0][:300]


def _copy(directory: str, staging: str, lock: bool) -> None:
    # A registered read snapshot while the daemon writes; no lock file at all otherwise.
    env = lmdb.open(directory, readonly=True, lock=lock, create=False, subdir=True, max_dbs=MAX_DBS, map_size=0)
    try:
        env.copy(staging, compact=True)
    finally:
        env.close()


def main(argv: list[str] | None = None) -> int:
    """The child of ``_copy_in_subprocess``: exit 0 copied, 65 (sysexits EX_DATAERR) not."""
    parser = argparse.ArgumentParser(prog="python -m engine.ledger.backup")
    parser.add_argument("directory")
    parser.add_argument("staging")
    parser.add_argument("--lock", action="store_true", help="read in a registered snapshot (a daemon may write)")
    args = parser.parse_args(argv)
    try:
        _copy(args.directory, args.staging, args.lock)
    except lmdb.Error as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 65
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
