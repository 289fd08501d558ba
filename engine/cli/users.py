"""Users and tokens of the control API: ``shikra users add NAME --role ROLE | list | revoke NAME |
bootstrap-admin NAME [--save]``.

The first admin: ``shikra users bootstrap-admin NAME`` needs file access to the data directory.
With the daemon stopped it writes the user and its token straight into the ledger (holding the
ledger's writer lock). With the daemon running it sends the user to the execution actor through
the run directory's socket (the same local trust as ``shikra kill``) and waits until the ledger
shows it. The token is printed once (``--save`` also writes it to the token file).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from actors.control.auth import check_user_name, new_token
from engine.files import replace_file
from engine.cli.common import (
    EXIT_ERROR,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Client,
    default_token_path,
    emit,
    enum_name,
    fail,
    local_paths,
    local_socket,
    run,
    running_config,
    table,
    to_builtins,
)
from engine.control_api import control_pb2 as pb
from engine.daemon.lock import is_locked
from engine.ledger import AuditRecord, Ledger, LedgerError, LedgerReader, TokenIssued, UserAdded, ledger_dir
from ipc import codec
from ipc.messages import USER_ROLES, AddUser, RecordAudit


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("users", help="users and tokens of the control API (admin)")
    users = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = users.add_parser("add", parents=[client], help="create a user (or change its role) and print a new token")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=USER_ROLES)
    q.set_defaults(fn=cmd_users)
    users.add_parser("list", parents=[client], help="every user with role and state").set_defaults(fn=cmd_users)
    q = users.add_parser("revoke", parents=[client], help="revoke a user and all its tokens")
    q.add_argument("name")
    q.set_defaults(fn=cmd_users)
    q = users.add_parser("bootstrap-admin", parents=[client],
                         help="create an admin locally (needs the data directory; no token needed)")
    q.add_argument("name")
    q.add_argument("--save", action="store_true", help="also write the token to ~/.config/shikra/token (0600)")
    q.add_argument("--force", action="store_true", help="with --save: overwrite an existing token file")
    q.set_defaults(fn=cmd_users)


def _user_rows(users: Sequence[Any]) -> str:
    rows = [[u.name, enum_name("Role", u.role).lower(), "active" if u.active else "revoked", u.active_tokens,
             u.updated_by or "-"] for u in users]
    return table(["USER", "ROLE", "STATE", "TOKENS", "CHANGED BY"], rows, frozenset({3}))


def _print_token(name: str, token: str, token_id: str) -> None:
    print(f"token for {name} (id {token_id}); it is shown only now, store it safely:", file=sys.stderr)
    print(token)


def cmd_users(args: argparse.Namespace) -> int:
    if args.action == "bootstrap-admin":
        return _bootstrap_admin(args)

    def body(c: Client) -> int:
        if args.action == "list":
            emit(args, c(c.users.ListUsers, pb.ListUsersRequest()),
                 lambda r: _user_rows(r.users) if r.users else "no users")
        elif args.action == "add":
            role = pb.Role.Value(f"ROLE_{args.role.upper()}")
            resp = c(c.users.AddUser, pb.AddUserRequest(name=args.name, role=role))
            if args.json:
                print(msgspec.json.encode(to_builtins(resp)).decode())
            else:
                _print_token(resp.user.name, resp.token, resp.token_id)
        else:
            resp = c(c.users.RevokeUser, pb.RevokeUserRequest(name=args.name))
            emit(args, resp, lambda r: f"user {r.user.name} revoked ({r.tokens_revoked} tokens)")
        return EXIT_OK

    return run(args, body)


def _save_token(token: str, force: bool) -> Path:
    path = default_token_path()
    if path.exists() and not force:
        raise CliError(EXIT_USAGE, f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    replace_file(path, (token + "\n").encode(), durable=False, mode=0o600)
    return path


def _bootstrap_admin(args: argparse.Namespace) -> int:
    """Create an admin by writing to the ledger (daemon stopped) or to execution's inbox (running)."""
    problem = check_user_name(args.name)
    if problem is not None:
        return fail(args, CliError(EXIT_USAGE, problem))
    cfg, data_dir, run_dir = local_paths(args)
    issued = new_token()
    who = f"local:{getpass.getuser()}"
    now = time.time_ns()
    audit = AuditRecord(who=who, action="BootstrapAdmin", args={"name": args.name, "token_id": issued.token_id},
                        result=f"OK user {args.name} role admin token {issued.token_id}", ts_ns=now)
    try:
        if is_locked(data_dir) is None:
            with Ledger.open(ledger_dir(data_dir), cfg.ledger) as ledger:
                report = ledger.append_report(
                    [UserAdded(name=args.name, role="admin", by=who, ts_ns=now),
                     TokenIssued(token_sha256=issued.token_sha256, token_id=issued.token_id, name=args.name, by=who,
                                 ts_ns=now), audit], all_or_nothing=True)
            if report.issues:
                raise CliError(EXIT_ERROR, f"the ledger refused the user: {report.issues[0][1].detail}")
            how = "written to the ledger (daemon not running)"
        else:
            _bootstrap_through_daemon(args.name, issued, who, now, audit, data_dir, run_dir)
            how = "recorded by the running daemon"
        if args.save:
            path = _save_token(issued.token, args.force)
            print(f"saved the token to {path}", file=sys.stderr)
    except LedgerError as exc:
        return fail(args, CliError(EXIT_ERROR, f"ledger: {exc}"))
    except CliError as exc:
        return fail(args, exc)
    if args.json:
        print(msgspec.json.encode({"name": args.name, "role": "admin", "token": issued.token,
                                   "token_id": issued.token_id, "how": how}).decode())
    else:
        print(f"admin {args.name} {how}", file=sys.stderr)
        _print_token(args.name, issued.token, issued.token_id)
    return EXIT_OK


def _bootstrap_through_daemon(name: str, issued: Any, who: str, now: int, audit: Any, data_dir: Path,
                              run_dir: Path, timeout_s: float = 10.0) -> None:
    cfg = running_config(run_dir)
    if "execution" not in cfg.engine.actors:
        raise CliError(EXIT_NOT_RUNNING, "the running daemon has no execution actor to record the user")
    sock = local_socket(run_dir, cfg, "execution", linger_ms=2000)
    try:
        add = AddUser(cmd_id=f"bootstrap-{issued.token_id}", name=name, role="admin", token_sha256=issued.token_sha256,
                      token_id=issued.token_id, by=who, ts_ns=now)
        sock.send_multipart((b"cmd.AddUser", codec.encode(add)))
        sock.send_multipart((b"cmd.RecordAudit", codec.encode(RecordAudit(
            who=audit.who, action=audit.action, args=audit.args, result=audit.result, ts_ns=audit.ts_ns))))
    finally:
        sock.close()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with LedgerReader.open(ledger_dir(data_dir)) as reader, reader.snapshot() as snap:
                if snap.token(issued.token_sha256) is not None:
                    return
        except LedgerError:
            pass  # not created yet: execution is still starting
        time.sleep(0.05)
    raise CliError(EXIT_NOT_RUNNING, f"the daemon did not record admin {name} within {timeout_s:.0f}s (is the "
                                       "execution actor running? see `shikra status`)")
