"""``shikra kite login [--request-token TEXT] [--listen] [--json]``: Kite Connect's daily login by
hand (a person must log in on Kite's page; nothing can do it for them).

It prints Kite's login URL for the configured API key (``kite_api_key`` in the credentials file or
``SHIKRA_KITE_API_KEY``), then takes the request token from the redirect: given with
``--request-token`` (the redirect URL or the bare token), caught by a one-shot listener when
``[execution.kite] redirect_url`` is a loopback URL (``http://127.0.0.1:<port>/...``, or
``--listen``), or else pasted on stdin. The token is exchanged for an access token with the
checksum (``kite_api_secret``), cached 0600 in the data directory (atomic) and never printed;
the expiry is. A running daemon takes it up within ``session_cache_check_s`` (the venue, and the
feed on the venue's ``BrokerSessionStatus``); a stopped one uses it at its next start.

Exit codes: 0 a token was obtained and cached; 1 Kite refused, did not answer, or no redirect
came (the reason code says which); 78 (config) no API key or secret, or the listener's port
cannot be bound.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any

import msgspec

from actors.execution.kite_login import (
    LoginReason,
    KiteLoginOutcome,
    catch_redirect,
    exchange,
    is_loopback,
    login_url,
    request_token_from,
)
from engine.cli.common import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, local_paths
from engine.credentials import CredentialsError, load_kite_app
from engine.kite_session import session_cache_path
from engine.model.ist import IST, NS_PER_S


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    """Add ``kite`` and its actions to the ``shikra`` sub-command parser."""
    p = sub.add_parser("kite", parents=[common], help="the Kite Connect session: the daily login")
    actions = p.add_subparsers(dest="kite_command", required=True, metavar="ACTION")
    q = actions.add_parser("login", parents=[common],
                           help="log in on Kite's page, exchange the request token, cache the access token")
    q.add_argument("--request-token", metavar="TEXT",
                   help="the redirect URL Kite sent the browser to, or its request_token (else asked for)")
    q.add_argument("--listen", action="store_true",
                   help="catch the redirect on [execution.kite] redirect_url (a loopback URL)")
    q.add_argument("--json", action="store_true", help="print JSON instead of a line")
    q.set_defaults(fn=cmd_login)


def cmd_login(args: argparse.Namespace) -> int:
    cfg, data_dir, _run_dir = local_paths(args)
    kcfg = cfg.execution.kite
    try:
        app = load_kite_app(cfg.credentials.file or None)
    except CredentialsError as exc:
        print(f"shikra: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    url = login_url(kcfg.login_url, app.api_key)
    print(f"Log in to Kite at:\n  {url}", file=sys.stderr)
    listen = args.listen or (not args.request_token and is_loopback(kcfg.redirect_url))
    if listen and not is_loopback(kcfg.redirect_url):
        print(f"shikra: --listen needs [execution.kite] redirect_url to be a loopback URL such as "
              f"http://127.0.0.1:8765/kite (it is {kcfg.redirect_url or 'not set'!r})", file=sys.stderr)
        return EXIT_CONFIG
    if args.request_token:
        text = args.request_token
    elif listen:
        try:
            query = catch_redirect(kcfg.redirect_url, kcfg.login_timeout_s, on_listening=lambda: print(
                f"Waiting for Kite's redirect on {kcfg.redirect_url} ({kcfg.login_timeout_s:g}s) ...", file=sys.stderr))
        except OSError as exc:
            print(f"shikra: cannot listen on {kcfg.redirect_url}: {exc.strerror}", file=sys.stderr)
            return EXIT_CONFIG
        if query is None:
            return _report(args, KiteLoginOutcome(False, reason=LoginReason.TIMEOUT,
                                                  detail=f"no redirect within {kcfg.login_timeout_s:g}s"), data_dir, 0)
        text = "?" + query
    else:
        print("Paste the URL the browser was sent to after the login (or its request_token): ", end="",
              file=sys.stderr, flush=True)
        text = sys.stdin.readline()
    try:
        request_token = request_token_from(text)
    except ValueError as exc:
        return _report(args, KiteLoginOutcome(False, reason=LoginReason.NO_REQUEST_TOKEN, detail=str(exc)), data_dir, 0)
    now_ns = time.time_ns()
    outcome = exchange(app, request_token, rest_url=kcfg.rest_url, timeout_s=kcfg.rest_timeout_s, data_dir=data_dir,
                       now_ns=now_ns)
    return _report(args, outcome, data_dir, now_ns, kcfg.session_cache_check_s)


def _report(args: argparse.Namespace, outcome: KiteLoginOutcome, data_dir: Any, now_ns: int,
            check_s: float = 0.0) -> int:
    cache = str(session_cache_path(data_dir))
    if args.json:
        print(msgspec.json.encode({"ok": outcome.ok, "expires_ns": outcome.expires_ns, "user_id": outcome.user_id,
                                   "reason_code": outcome.reason, "detail": outcome.detail, "cache": cache}).decode())
    if not outcome.ok:
        if not args.json:
            print(f"shikra: no Kite token: {outcome.reason}: {outcome.detail}", file=sys.stderr)
        return EXIT_ERROR
    if not args.json:
        expiry = dt.datetime.fromtimestamp(outcome.expires_ns / NS_PER_S, IST).strftime("%Y-%m-%d %H:%M IST")
        print(f"Kite token obtained for {outcome.user_id}; expires {expiry} (in "
              f"{(outcome.expires_ns - now_ns) / NS_PER_S / 3600:.1f}h); cached in {cache} (a running daemon takes it "
              f"up within {check_s:g}s)")
    return EXIT_OK
