"""``shikra dhan login [--json]``: get a fresh Dhan access token now, by hand, the way the running
venue does by itself (``actors.execution.dhan_session``): by TOTP on the auth host when the
credentials hold the PIN and TOTP secret, else by renewing the token in use (RenewToken). The
token goes to the session cache in the data directory (0600, atomic) and never to the terminal;
the expiry is printed. Works with the daemon stopped (its next start uses the token) or running
(the execution actor takes it up within ``execution.dhan.session_cache_check_s`` and tells the
feed).

Exit codes: 0 a token was obtained; 1 Dhan refused or did not answer (the reason code says which:
WRONG_PIN, BAD_TOTP, ACCOUNT_LOCKED, TOKEN_EXPIRED, NETWORK, ...); 78 (config) no credentials, or
neither a PIN and TOTP secret nor a token to renew.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from typing import Any

import msgspec

from actors.execution.dhan_auth import login
from actors.execution.dhan_session import BrokerSession
from engine.cli.common import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, local_paths
from engine.credentials import CredentialsError, load_credentials, session_cache_path
from engine.logs import get_logger
from engine.model.ist import IST, NS_PER_S

_LOGGER = "cli.dhan"


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    """Add ``dhan`` and its actions to the ``shikra`` sub-command parser."""
    p = sub.add_parser("dhan", parents=[common], help="the Dhan broker session: log in by hand")
    actions = p.add_subparsers(dest="dhan_command", required=True, metavar="ACTION")
    q = actions.add_parser("login", parents=[common],
                           help="get a fresh access token (TOTP or renewal), cache it, print its expiry")
    q.add_argument("--json", action="store_true", help="print JSON instead of a line")
    q.set_defaults(fn=cmd_login)


def cmd_login(args: argparse.Namespace) -> int:
    cfg, data_dir, _run_dir = local_paths(args)
    try:
        creds = load_credentials(cfg.credentials.file or None)
    except CredentialsError as exc:
        print(f"shikra: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    # The session's own log lines are for the daemon's log; here the outcome is printed.
    logging.getLogger(f"shikra.{_LOGGER}").addHandler(logging.NullHandler())
    now_ns = time.time_ns()
    dcfg = cfg.execution.dhan
    session = BrokerSession(dcfg, creds, data_dir, now_ns, log=get_logger(_LOGGER))
    session.request("cli")
    started = session.begin(now_ns)
    if started is None:
        print("shikra: no way to log in to Dhan: put pin and totp_secret (or an access_token to renew) in the "
              f"credentials file ({cfg.credentials.file or 'none configured'})", file=sys.stderr)
        return EXIT_CONFIG
    method, current = started
    outcome = login(current, method, auth_url=dcfg.auth_url, rest_url=dcfg.rest_url, now_ns=now_ns,
                    timeout_s=dcfg.auth_timeout_s)
    change = session.finish(outcome, "cli", now_ns)
    status = change.status
    if args.json:
        print(msgspec.json.encode({"ok": status.ok, "method": method, "expires_ns": status.expires_ns,
                                   "reason_code": status.reason_code, "detail": status.detail,
                                   "cache": str(session_cache_path(data_dir))}).decode())
    if not status.ok:
        if not args.json:
            print(f"shikra: Dhan refused the {method} login: {status.reason_code}: {status.detail}", file=sys.stderr)
        return EXIT_ERROR
    if not args.json:
        print(f"Dhan token obtained by {method}; expires {_when(status.expires_ns, now_ns)}; cached in "
              f"{session_cache_path(data_dir)} (a running daemon takes it up within "
              f"{dcfg.session_cache_check_s:g}s)")
    return EXIT_OK


def _when(expires_ns: int, now_ns: int) -> str:
    if not expires_ns:
        return "at an unknown time (Dhan did not say)"
    text = dt.datetime.fromtimestamp(expires_ns / NS_PER_S, IST).strftime("%Y-%m-%d %H:%M:%S IST")
    return f"{text} (in {(expires_ns - now_ns) / NS_PER_S / 3600:.1f}h)"
