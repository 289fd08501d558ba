"""Kite Connect's daily login, the parts that are not a person's (docs/KITE_PROTOCOL.md section C):
the login URL for the app's API key, the request token out of the redirect (pasted, or caught by
a one-shot loopback HTTP listener when the app's redirect URL points at this machine), and the
exchange of it for an access token (``KiteConnect.generate_session`` against ``rest_url``: the
checksum is SHA-256 of api_key + request_token + api_secret, ``engine.kite_session.session_checksum``).
The session goes to the cache (``engine.kite_session.write_session``: 0600, atomic), where the
running venue and feed take it up. ``shikra kite login`` drives these.

Nothing here prints or logs a secret: the outcome's ``detail`` is Kite's message, scrubbed.
"""

from __future__ import annotations

import enum
import http.server
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

import msgspec
import requests
from kiteconnect import KiteConnect
from kiteconnect.exceptions import KiteException

from actors.execution.kite_broker_session import token_expiry_ns
from engine.credentials import KiteApp
from engine.kite_session import KiteSession, write_session
from engine.logs import register_secret, scrub

LOGIN_PAGE_VERSION: Final = "3"
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_PAGE_DONE: Final = b"<html><body><p>Shikra has the Kite login; you can close this tab.</p></body></html>"
_PAGE_FAILED: Final = b"<html><body><p>No request_token in this redirect (login cancelled?).</p></body></html>"


class LoginReason(enum.StrEnum):
    """Why a login did not give a token (``reason`` of ``KiteLoginOutcome``)."""

    NO_REQUEST_TOKEN = "NO_REQUEST_TOKEN"  # the redirect carried none (cancelled, or status=error)
    REFUSED = "REFUSED"                    # Kite refused the exchange (token used or expired, checksum)
    NETWORK = "NETWORK"                    # no answer
    BAD_RESPONSE = "BAD_RESPONSE"          # an answer without an access token
    NOT_CACHED = "NOT_CACHED"              # the token came, but the cache could not be written
    TIMEOUT = "TIMEOUT"                    # the listener heard no redirect in time


class KiteLoginOutcome(msgspec.Struct, frozen=True):
    ok: bool
    expires_ns: int = 0
    user_id: str = ""
    reason: str = ""
    detail: str = ""


def login_url(base_url: str, api_key: str) -> str:
    """Kite's login page for the app (the person logs in there; Kite redirects with a request token)."""
    return f"{base_url.rstrip('/')}?{urlencode({'api_key': api_key, 'v': LOGIN_PAGE_VERSION})}"


def request_token_from(text: str) -> str:
    """The request token in what the person pasted: the redirect URL (its ``request_token``
    parameter; ``status`` must not be ``error``) or the bare token. Raises ValueError saying what
    is missing."""
    text = text.strip()
    if "://" in text or "?" in text or "=" in text:
        query = parse_qs(urlsplit(text).query if "://" in text or "?" in text else text)
        if query.get("status", ["success"])[0] != "success":
            raise ValueError(f"the redirect says status={query['status'][0][:20]!r}: the login did not succeed")
        tokens = query.get("request_token", [])
        if not tokens or not tokens[0].strip():
            raise ValueError("the redirect URL has no request_token parameter")
        text = tokens[0].strip()
    if not text or not text.isalnum():
        raise ValueError("a request token is letters and digits (paste the whole redirect URL, or the token)")
    return text


def is_loopback(redirect_url: str) -> bool:
    """Whether ``redirect_url`` points at this machine over plain HTTP (the listener can catch it)."""
    parts = urlsplit(redirect_url)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS and parts.port is not None


def catch_redirect(redirect_url: str, timeout_s: float, *, on_listening: Callable[[], None] | None = None,
                   monotonic: Callable[[], float] = time.monotonic) -> str | None:
    """Listen once on ``redirect_url``'s host and port for Kite's redirect and return its query
    string (None when none came within ``timeout_s``). Requests to other paths get 404 and do not
    count. Raises OSError when the port cannot be bound."""
    parts = urlsplit(redirect_url)
    path = parts.path or "/"
    caught: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass  # the request line holds the request token

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != path:
                self.send_error(404)
                return
            good = "request_token=" in url.query
            page = _PAGE_DONE if good else _PAGE_FAILED
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            caught.append(url.query)

    server = http.server.HTTPServer((parts.hostname or "127.0.0.1", parts.port or 80), Handler)
    server.timeout = 0.2
    try:
        if on_listening is not None:
            on_listening()
        deadline = monotonic() + timeout_s
        while not caught and monotonic() < deadline:
            server.handle_request()  # one request or the 0.2 s timeout
    finally:
        server.server_close()
    return caught[0] if caught else None


def exchange(app: KiteApp, request_token: str, *, rest_url: str, timeout_s: float, data_dir: str | Path,
             now_ns: int) -> KiteLoginOutcome:
    """The request token for an access token (``generate_session``), cached for the daemon. Never
    raises for what Kite or the network does."""
    kite = KiteConnect(app.api_key, root=rest_url.rstrip("/"), timeout=timeout_s)
    try:
        data = kite.generate_session(request_token, api_secret=app.api_secret)
    except KiteException as exc:
        return KiteLoginOutcome(False, reason=LoginReason.REFUSED, detail=scrub(f"{type(exc).__name__}: {exc}")[:300])
    except requests.RequestException as exc:
        return KiteLoginOutcome(False, reason=LoginReason.NETWORK, detail=scrub(f"{type(exc).__name__}: {exc}")[:300])
    except Exception as exc:  # the SDK on an odd answer (a missing field)
        return KiteLoginOutcome(False, reason=LoginReason.BAD_RESPONSE, detail=scrub(f"{type(exc).__name__}")[:300])
    token = str(data.get("access_token") or "") if isinstance(data, dict) else ""
    if not token:
        return KiteLoginOutcome(False, reason=LoginReason.BAD_RESPONSE, detail="Kite's answer has no access_token")
    register_secret(token, keep=0)
    expires_ns = token_expiry_ns(now_ns)
    user_id = str(data.get("user_id") or "")
    try:
        write_session(data_dir, KiteSession(api_key=app.api_key, access_token=token, user_id=user_id,
                                            obtained_ns=now_ns, expires_ns=expires_ns))
    except OSError as exc:
        return KiteLoginOutcome(False, reason=LoginReason.NOT_CACHED,
                                detail=f"the session cache in {data_dir} cannot be written: {exc.strerror}")
    return KiteLoginOutcome(True, expires_ns=expires_ns, user_id=user_id)

