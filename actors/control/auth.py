"""Who may call what: bearer tokens, roles, and the rate limit on audit rows for rejections.

Pure: the caller reads the token and user rows from the ledger and passes them in.

Tokens are ``shk_`` + 43 characters of ``secrets.token_urlsafe(32)``: 256 random bits. The ledger
keeps only ``sha256(token)``. A fast unsalted hash is the right tool here, unlike for passwords:
a slow salted hash (bcrypt, argon2) protects *guessable* secrets from a dictionary attack on a
stolen hash, and nobody can guess or invert 256 random bits, so stretching would only slow every
call. Unsalted also means the hash is the ledger key, so a call costs one B-tree lookup and no
secret is ever compared byte by byte in Python (no timing side channel on the token itself).
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from collections.abc import Iterable
from typing import Final

import msgspec

from engine.control_api.quoting import quote_value
from engine.ledger.records import Token, User
from ipc.messages import USER_ROLES, UserRole

TOKEN_PREFIX: Final = "shk_"
TOKEN_BYTES: Final = 32  # 256 bits
_TOKEN_TEXT: Final = re.compile(r"shk_[A-Za-z0-9_-]{43}")
_USER_NAME: Final = re.compile(r"[a-z][a-z0-9._-]{0,31}")

ROLE_RANK: Final[dict[str, int]] = {role: rank for rank, role in enumerate(USER_ROLES, 1)}  # viewer 1 .. admin 3

# The least role each method needs (roles are ordered viewer < trader < admin). A method missing
# here is refused for everyone: a new RPC is closed until someone decides who may call it.
METHOD_ROLES: Final[dict[str, UserRole]] = {
    "GetStatus": "viewer",
    "GetSchedule": "viewer",
    "ListActors": "viewer",
    "GetRiskLimits": "viewer",
    "ListStrategies": "viewer",
    "GetStrategyParams": "viewer",
    "GetJournal": "viewer",
    "ModifyOrder": "trader",
    "SquareOffAll": "trader",
    "StartStrategy": "trader",
    "StopStrategy": "trader",
    "SetStrategyParams": "trader",
    "AddStrategy": "trader",
    "RemoveStrategy": "trader",
    "SubscribeFeed": "trader",
    "UnsubscribeFeed": "trader",
    "SetRiskLimits": "admin",
    "ListOrders": "viewer",
    "GetOrder": "viewer",
    "WatchOrders": "viewer",
    "ListTrades": "viewer",
    "ListPositions": "viewer",
    "GetFunds": "viewer",
    "GetDayPnl": "viewer",
    "ConvertPosition": "trader",
    "GetRiskState": "viewer",
    "SearchInstruments": "viewer",
    "GetOptionChain": "viewer",
    "GetQuote": "viewer",
    "GetPricedChain": "viewer",
    "GetOiTracker": "viewer",
    "Scan": "viewer",
    "PlaceOrder": "trader",
    "CancelOrder": "trader",
    "CancelAllOrders": "trader",
    "EngageKillSwitch": "trader",
    "ReleaseKillSwitch": "admin",
    "AddUser": "admin",
    "ListUsers": "admin",
    "RevokeUser": "admin",
}
# Calls that change state: each one is audited with its arguments and result.
STATE_CHANGING: Final = frozenset({
    "PlaceOrder", "CancelOrder", "CancelAllOrders", "EngageKillSwitch", "ReleaseKillSwitch", "AddUser",
    "RevokeUser", "ModifyOrder", "SquareOffAll", "SetRiskLimits", "StartStrategy", "StopStrategy",
    "SetStrategyParams", "ConvertPosition", "AddStrategy", "RemoveStrategy", "SubscribeFeed", "UnsubscribeFeed",
})


class AuthFailure(str, enum.Enum):
    NO_TOKEN = "NO_TOKEN"              # no authorization metadata
    MALFORMED = "MALFORMED"            # not "Bearer shk_<43 chars>"
    UNKNOWN_TOKEN = "UNKNOWN_TOKEN"    # no token with this hash
    REVOKED_TOKEN = "REVOKED_TOKEN"
    USER_INACTIVE = "USER_INACTIVE"    # the token's user was revoked (or is missing)
    ROLE_TOO_LOW = "ROLE_TOO_LOW"      # authenticated, but the method needs a higher role
    UNKNOWN_METHOD = "UNKNOWN_METHOD"  # not in METHOD_ROLES


class Principal(msgspec.Struct, frozen=True):
    """An authenticated caller."""

    name: str
    role: UserRole
    token_id: str

    @property
    def who(self) -> str:
        return self.name


class Rejection(msgspec.Struct, frozen=True):
    """Why a call was refused. ``unauthenticated`` picks the status: UNAUTHENTICATED (who are
    you?) or PERMISSION_DENIED (we know you, and no). ``who`` is the user when known."""

    failure: AuthFailure
    message: str
    who: str = ""
    token_id: str = ""

    @property
    def unauthenticated(self) -> bool:
        return self.failure not in (AuthFailure.ROLE_TOO_LOW, AuthFailure.UNKNOWN_METHOD)


class IssuedToken(msgspec.Struct, frozen=True):
    token: str          # shown once, never stored
    token_id: str       # public label
    token_sha256: str   # what the ledger keeps


def token_sha256(token: str) -> str:
    """Lower-case hex SHA-256 of the token's UTF-8 bytes (the ledger's key for it)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> IssuedToken:
    """A fresh random token with its public id and its hash."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    return IssuedToken(token=token, token_id=secrets.token_hex(4), token_sha256=token_sha256(token))


def check_user_name(name: str) -> str | None:
    """What is wrong with a user name, or None: lower-case letters, digits, '.', '_', '-',
    starting with a letter, at most 32 characters (it becomes part of strategy names and ids)."""
    if not isinstance(name, str) or not _USER_NAME.fullmatch(name):
        return (f"user name {quote_value(name)} must be 1..32 characters of a-z, 0-9, '.', '_', '-' and start with a "
                "letter")
    return None


def bearer_token(metadata: Iterable[tuple[str, str | bytes]]) -> str | Rejection:
    """The token from ``authorization: Bearer <token>`` call metadata, or why there is none."""
    for key, value in metadata:
        if key.lower() != "authorization":
            continue
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        scheme, _, token = text.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not _TOKEN_TEXT.fullmatch(token):
            return Rejection(AuthFailure.MALFORMED, "authorization metadata must be 'Bearer shk_…' with a token "
                                                    "issued by `shikra users add` or `bootstrap-admin`")
        return token
    return Rejection(AuthFailure.NO_TOKEN, "no authorization metadata: send 'authorization: Bearer <token>' "
                                           "(the CLI reads $SHIKRA_TOKEN or ~/.config/shikra/token)")


def authenticate(token: Token | None, user: User | None) -> Principal | Rejection:
    """The caller a token row (looked up by the presented token's hash) stands for."""
    if token is None:
        return Rejection(AuthFailure.UNKNOWN_TOKEN, "unknown token")
    if token.revoked:
        return Rejection(AuthFailure.REVOKED_TOKEN, f"token {token.token_id} of user {token.name} is revoked",
                         who=token.name, token_id=token.token_id)
    if user is None or not user.active:
        return Rejection(AuthFailure.USER_INACTIVE, f"user {token.name} is revoked", who=token.name,
                         token_id=token.token_id)
    return Principal(name=user.name, role=user.role, token_id=token.token_id)


def role_allows(role: str, needed: str) -> bool:
    return ROLE_RANK.get(role, 0) >= ROLE_RANK.get(needed, 99)


def authorize(principal: Principal, method: str) -> Principal | Rejection:
    """The principal again when its role may call ``method``, else a PERMISSION_DENIED rejection."""
    needed = METHOD_ROLES.get(method)
    if needed is None:
        return Rejection(AuthFailure.UNKNOWN_METHOD, f"method {method} is not open to any role",
                         who=principal.name, token_id=principal.token_id)
    if not role_allows(principal.role, needed):
        return Rejection(AuthFailure.ROLE_TOO_LOW,
                         f"user {principal.name} has role {principal.role}; {method} needs {needed}",
                         who=principal.name, token_id=principal.token_id)
    return principal


class AuditLimiter:
    """Token bucket for audit rows of *rejected* calls: anyone who can reach the port can make
    them, and each one is a ledger write. ``burst`` rows at once, ``rate_per_s`` sustained; the
    rest are counted and the count goes into the next row that is written."""

    def __init__(self, rate_per_s: float = 5.0, burst: int = 50) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._last_s: float | None = None
        self.suppressed = 0
        self.suppressed_total = 0

    def admit(self, now_s: float) -> int | None:
        """None: do not write this row (it was counted). Otherwise write it, and the int is how
        many rows were suppressed since the last written one (to record with it)."""
        if self._last_s is not None:
            self._tokens = min(float(self.burst), self._tokens + (now_s - self._last_s) * self.rate_per_s)
        self._last_s = now_s
        if self._tokens < 1.0:
            self.suppressed += 1
            self.suppressed_total += 1
            return None
        self._tokens -= 1.0
        skipped, self.suppressed = self.suppressed, 0
        return skipped
