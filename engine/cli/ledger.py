"""The ledger on this machine: ``shikra ledger verify | backup FILE | rebuild``.

``verify`` checks the data directory's ledger read-only (``engine.ledger.check``, in a child
process): LMDB's pages, every event's checksum, and (unless ``--quick``) the derived tables
recomputed from the events. With the daemon stopped it opens ``data.mdb`` without a lock file and
changes nothing; with the daemon running it reads one consistent snapshot.

``backup FILE`` writes a consistent, compacted copy (LMDB's own copy, one read snapshot: safe while
the daemon runs), verifies the copy, and only then moves it to ``FILE``. To restore it, stop the
daemon and put ``FILE`` in place of ``<data_dir>/ledger/data.mdb`` (remove ``lock.mdb`` beside it).

``rebuild`` recomputes the derived tables (orders, positions, wallets, ...) from the events, for
a ledger whose events are whole but whose tables disagree with them. It writes the ledger, so it
refuses while the daemon runs; it refuses a ledger whose pages or events are damaged (only a
backup brings those back).

Exit codes: 0 whole (or done); 65 the ledger is damaged; 1 other errors (no ledger, the daemon
runs during a rebuild, FILE exists).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from engine.cli.common import EXIT_ERROR, EXIT_LEDGER_DAMAGED, EXIT_OK, local_paths
from engine.daemon.lock import is_locked
from engine.ledger import Ledger, LedgerError, ledger_dir
from engine.ledger.backup import BackupFailed, backup_ledger
from engine.ledger.check import DATA_FILE, LedgerCheck, check_in_subprocess


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("ledger", help="verify, back up or rebuild the ledger on this machine")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    v = actions.add_parser("verify", parents=[common], help="check pages, event checksums and derived tables "
                                                            "(read-only; safe while the daemon runs)")
    v.add_argument("--quick", action="store_true", help="pages and checksums only, not the derived tables")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.set_defaults(fn=cmd_verify)

    b = actions.add_parser("backup", parents=[common], help="write a consistent, compacted, verified copy "
                                                            "(safe while the daemon runs)")
    b.add_argument("file", help="where to write the copy (must not exist)")
    b.set_defaults(fn=cmd_backup)

    r = actions.add_parser("rebuild", parents=[common], help="recompute the derived tables from the events "
                                                             "(the daemon must be stopped)")
    r.set_defaults(fn=cmd_rebuild)


def _report(check: LedgerCheck) -> None:
    print(f"ledger {check.path}: {check.outcome}; {check.events} events read in {check.elapsed_ms / 1000:.2f} s"
          + ("" if check.full else " (pages and checksums only)"))
    for problem in check.problems:
        print(f"  {problem}")
    if check.damaged:
        print(f"what to do: {check.what_to_do()}")


def cmd_verify(args: argparse.Namespace) -> int:
    _cfg, data_dir, _run_dir = local_paths(args)
    directory = ledger_dir(data_dir)
    check = check_in_subprocess(directory, full=not args.quick, lock=is_locked(data_dir) is not None)
    if args.json:
        print(msgspec.json.encode(check).decode())
    else:
        _report(check)
    if check.outcome == "missing":
        if not args.json:
            print(f"shikra: no ledger at {directory} (the daemon creates it on its first start)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_LEDGER_DAMAGED if check.damaged else EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    _cfg, data_dir, _run_dir = local_paths(args)
    directory = ledger_dir(data_dir)
    try:
        done = backup_ledger(directory, Path(args.file).expanduser().resolve(), is_locked(data_dir) is not None)
    except BackupFailed as exc:
        print(f"shikra: {exc}", file=sys.stderr)
        return EXIT_LEDGER_DAMAGED if exc.damaged else EXIT_ERROR
    print(f"backup of {directory / DATA_FILE} written to {done.path}: {done.size_bytes} bytes, "
          f"{done.events} events, verified")
    return EXIT_OK


def cmd_rebuild(args: argparse.Namespace) -> int:
    cfg, data_dir, _run_dir = local_paths(args)
    directory = ledger_dir(data_dir)
    pid = is_locked(data_dir)
    if pid is not None:
        print(f"shikra: the daemon (pid {pid}) is running on {data_dir}; stop it before a rebuild", file=sys.stderr)
        return EXIT_ERROR
    # Pages and checksums first (read-only, in a child): a rebuild folds only whole events.
    check = check_in_subprocess(directory, full=False, lock=False)
    if check.outcome == "missing":
        print(f"shikra: no ledger at {directory}", file=sys.stderr)
        return EXIT_ERROR
    if check.damaged:
        print(f"shikra: {check.message()}; a rebuild cannot repair this", file=sys.stderr)
        return EXIT_LEDGER_DAMAGED
    config = msgspec.structs.replace(cfg.ledger, verify_on_open=False)  # what is rebuilt would fail it
    try:
        with Ledger.open(directory, config) as ledger:
            report = ledger.rebuild_derived()
            problems = ledger.verify()
    except LedgerError as exc:
        print(f"shikra: {exc}", file=sys.stderr)
        return EXIT_LEDGER_DAMAGED if exc.permanent else EXIT_ERROR
    print(f"rebuilt the derived tables of {directory / DATA_FILE} from {report.events} events")
    for seq, issue in report.refused:
        print(f"  event seq {seq} refused by the fold: {issue.code.value} {issue.detail}")
    if problems:
        for problem in problems:
            print(f"  {problem}")
        return EXIT_LEDGER_DAMAGED
    return EXIT_OK
