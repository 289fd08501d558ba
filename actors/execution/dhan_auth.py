"""Getting a Dhan access token without a browser (DHAN_PROTOCOL.md section G): by TOTP on the
auth host (``POST {auth_url}/app/generateAccessToken?dhanClientId=&pin=&totp=``) or by renewing a
still-valid web token (``GET {rest_url}/RenewToken``). The SDK has neither call: plain
``urllib.request``, blocking (run it in a worker thread; ``shikra dhan login`` calls it directly).

``login`` never raises for what the broker or the network does: it returns a ``LoginOutcome``
whose ``reason`` says which refusal it was. Dhan documents no error codes for these endpoints, so
a refusal is told apart by the words of its message (``refusal_reason``): the PIN, the TOTP, a
locked account, an expired token. The outcome's ``detail`` is the broker's message with every
secret masked (token, PIN, TOTP, client id): it goes to logs, alerts and statuses.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Final, Literal

import msgspec
import pyotp

from engine.credentials import Credentials, jwt_expiry_ns
from engine.logs import redact
from engine.model.ist import IST, NS_PER_S

TOTP_STEP_S: Final = 30  # RFC 6238 as Dhan uses it: SHA-1, 30 s windows, 6 digits
GENERATE_PATH: Final = "/app/generateAccessToken"
RENEW_PATH: Final = "/RenewToken"
_DETAIL_CHARS: Final = 300

Method = Literal["totp", "renew"]


class LoginReason(enum.StrEnum):
    """Why a login or renewal did not give a token (``BrokerSessionStatus.reason_code``)."""

    WRONG_PIN = "WRONG_PIN"
    BAD_TOTP = "BAD_TOTP"              # wrong code, or one already used in this 30 s window
    ACCOUNT_LOCKED = "ACCOUNT_LOCKED"  # too many wrong attempts, or blocked at Dhan
    TOKEN_EXPIRED = "TOKEN_EXPIRED"    # RenewToken on a token that expired (it revives none)
    REFUSED = "REFUSED"                # refused for a reason not told apart above
    NETWORK = "NETWORK"                # no answer (connection refused, timeout): retried
    BAD_RESPONSE = "BAD_RESPONSE"      # an answer without a token, or an unreadable one
    NO_LOGIN = "NO_LOGIN"              # neither a TOTP login nor a token to renew is configured


# Words of a refusal, first match wins (lowercased message).
_REFUSAL_WORDS: Final[tuple[tuple[re.Pattern[str], LoginReason], ...]] = (
    (re.compile(r"lock|block|suspend|disabled"), LoginReason.ACCOUNT_LOCKED),
    (re.compile(r"totp|\botp\b|one.time"), LoginReason.BAD_TOTP),
    (re.compile(r"\bpin\b|password"), LoginReason.WRONG_PIN),
    (re.compile(r"expire"), LoginReason.TOKEN_EXPIRED),
)


class LoginOutcome(msgspec.Struct, frozen=True):
    """A token and when it expires (``ok``), or why not. ``access_token`` is a secret."""

    ok: bool
    method: str
    access_token: str = ""
    expires_ns: int = 0
    reason: str = ""  # a LoginReason value when not ok
    detail: str = ""  # the broker's words, secrets masked

    def __repr__(self) -> str:
        return (f"LoginOutcome(ok={self.ok}, method={self.method!r}, expires_ns={self.expires_ns}, "
                f"reason={self.reason!r}, detail={self.detail!r})")

    __str__ = __repr__


def totp_now(secret: str, now_ns: int) -> str:
    """The 6-digit TOTP of ``secret`` (base32) for the window holding ``now_ns``. Raises
    ValueError for a secret that is not base32."""
    try:
        return pyotp.TOTP(secret).at(now_ns // NS_PER_S)
    except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
        raise ValueError(f"the TOTP secret is not base32 ({type(exc).__name__})") from None


def totp_window(now_ns: int) -> int:
    """The number of the 30 s TOTP window holding ``now_ns``."""
    return now_ns // (TOTP_STEP_S * NS_PER_S)


def refusal_reason(message: str) -> LoginReason:
    """A refusal's reason code from the broker's message (module docstring)."""
    text = message.lower()
    for pattern, reason in _REFUSAL_WORDS:
        if pattern.search(text):
            return reason
    return LoginReason.REFUSED


def parse_expiry_ns(body: dict[str, Any], token: str) -> int:
    """When the token in a login answer expires: its JWT ``exp`` when it has one, else
    ``expiryTime`` (ISO, IST when it carries no offset); 0 unknown."""
    from_jwt = jwt_expiry_ns(token)
    if from_jwt:
        return from_jwt
    text = body.get("expiryTime")
    if not isinstance(text, str) or not text:
        return 0
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=IST)
    return int(when.timestamp()) * NS_PER_S + when.microsecond * 1000


def parse_login_answer(status: int, payload: bytes, method: str, creds: Credentials,
                       secrets: tuple[str, ...] = ()) -> LoginOutcome:
    """An HTTP answer of either endpoint as an outcome (``secrets``: more values to mask)."""
    try:
        body = json.loads(payload) if payload else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return LoginOutcome(False, method, reason=LoginReason.BAD_RESPONSE,
                            detail=f"HTTP {status}: the answer is not a JSON object")
    token = body.get("accessToken") or body.get("token") or ""
    if 200 <= status < 300 and isinstance(token, str) and token:
        return LoginOutcome(True, method, access_token=token, expires_ns=parse_expiry_ns(body, token))
    words = " ".join(str(body.get(k) or "") for k in ("errorCode", "errorMessage", "remarks", "message", "status"))
    detail = mask_secrets(f"HTTP {status}: {words.strip() or 'no message'}", creds, secrets)
    if 200 <= status < 300:
        return LoginOutcome(False, method, reason=LoginReason.BAD_RESPONSE, detail=f"no token in the answer ({detail})")
    reason = refusal_reason(words)
    if reason is LoginReason.REFUSED and method == "renew" and status == 401:
        reason = LoginReason.TOKEN_EXPIRED
    return LoginOutcome(False, method, reason=reason, detail=detail)


def mask_secrets(text: str, creds: Credentials, more: tuple[str, ...] = ()) -> str:
    return redact(text, (creds.access_token, creds.pin, creds.totp_secret, creds.client_id, *more))[:_DETAIL_CHARS]


def generate_url(auth_url: str, creds: Credentials, totp: str) -> str:
    query = urllib.parse.urlencode({"dhanClientId": creds.client_id, "pin": creds.pin, "totp": totp})
    return f"{auth_url.rstrip('/')}{GENERATE_PATH}?{query}"


def login(creds: Credentials, method: Method, *, auth_url: str, rest_url: str, now_ns: int,
          timeout_s: float) -> LoginOutcome:
    """One attempt: generate a token by TOTP (the code for ``now_ns``'s window) or renew the
    current one. Blocking, never raises (module docstring)."""
    if method == "totp":
        if not creds.can_generate:
            return LoginOutcome(False, method, reason=LoginReason.NO_LOGIN,
                                detail="no PIN and TOTP secret in the credentials")
        try:
            totp = totp_now(creds.totp_secret, now_ns)
        except ValueError as exc:
            return LoginOutcome(False, method, reason=LoginReason.BAD_TOTP, detail=str(exc))
        request = urllib.request.Request(generate_url(auth_url, creds, totp), data=b"", method="POST",
                                         headers={"Accept": "application/json"})
        secrets: tuple[str, ...] = (totp,)
    else:
        if not creds.access_token:
            return LoginOutcome(False, method, reason=LoginReason.NO_LOGIN, detail="no token to renew")
        request = urllib.request.Request(
            f"{rest_url.rstrip('/')}{RENEW_PATH}", method="GET",
            headers={"access-token": creds.access_token, "dhanClientId": creds.client_id,
                     "client-id": creds.client_id, "Accept": "application/json"})
        secrets = ()
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - configured URL
            return parse_login_answer(response.status, response.read(), method, creds, secrets)
    except urllib.error.HTTPError as exc:
        try:
            payload = exc.read()
        except OSError:
            payload = b""
        return parse_login_answer(exc.code, payload, method, creds, secrets)
    except (OSError, ValueError) as exc:  # URLError, timeouts, a refused connection, a bad URL
        reason = getattr(exc, "reason", exc)
        return LoginOutcome(False, method, reason=LoginReason.NETWORK,
                            detail=mask_secrets(f"{type(exc).__name__}: {reason}", creds, secrets))
