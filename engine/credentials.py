"""Dhan credentials: the client id and either an access token or what logs in for one (the PIN
and the TOTP secret), from the environment or a private TOML file; and the cached broker session.

Environment variables win, value by value: ``SHIKRA_DHAN_CLIENT_ID``, ``SHIKRA_DHAN_ACCESS_TOKEN``,
``SHIKRA_DHAN_PIN`` and ``SHIKRA_DHAN_TOTP_SECRET``. A value missing from the environment is read
from the credentials file (``[credentials] file`` in the config), a TOML file with ``client_id``,
``access_token``, ``pin`` and ``totp_secret`` keys that only its owner may read or write (mode
0600). A client id is required, and an access token or both the PIN and the TOTP secret (the
venue then logs in by itself: ``actors.execution.dhan_session``).

The session cache (``<data_dir>/dhan_session.json``, 0600, replaced atomically) holds the newest
token the engine (or ``shikra dhan login``) obtained, with its expiry: a restart and the feed
actor read it (:func:`session_credentials`), so a renewed token reaches every process without a
restart and outlives one.

Every value but the PIN is registered with :func:`engine.logs.register_secret` the moment it is
read, so no log line can show it (the client id keeps its last 4 characters, the rest nothing), and
the :class:`Credentials` ``repr`` masks them too. The PIN is not: six digits registered globally
would blank those digits inside every order id, price and timestamp of every log line. It only
ever travels in the auth host's query string, and what is built from it is masked where it is
built (``actors.execution.dhan_auth.mask_secrets``).
"""

from __future__ import annotations

import base64
import enum
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec

from engine.files import replace_file
from engine.kite_session import API_KEY_ENV_VAR, API_KEY_KEEP
from engine.logs import mask, register_secret
from engine.model.ist import NS_PER_S

BROKER = "dhan"  # BrokerSessionStatus.broker of the Dhan session
CLIENT_ID_ENV_VAR = "SHIKRA_DHAN_CLIENT_ID"
TOKEN_ENV_VAR = "SHIKRA_DHAN_ACCESS_TOKEN"
PIN_ENV_VAR = "SHIKRA_DHAN_PIN"
TOTP_SECRET_ENV_VAR = "SHIKRA_DHAN_TOTP_SECRET"
SESSION_CACHE_NAME = "dhan_session.json"
SECRET_FILE_MODE = 0o600
CLIENT_ID_KEEP = 4   # characters of the client id left visible in logs
TOKEN_KEEP = 0       # a token shows nothing
PRIVATE_MODE_MASK = 0o077  # any group/other permission bit makes the file not private


class CredentialsProblem(enum.Enum):
    MISSING = "missing"              # a value is in neither the environment nor the file
    FILE_NOT_FOUND = "file_not_found"
    FILE_NOT_PRIVATE = "file_not_private"  # readable or writable by group or others
    FILE_UNREADABLE = "file_unreadable"
    FILE_INVALID = "file_invalid"    # not TOML, or keys other than client_id / access_token


class CredentialsError(ValueError):
    """Credentials cannot be loaded; ``problem`` says why, the message says what to do."""

    def __init__(self, problem: CredentialsProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


class _CredentialsFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    client_id: str = ""
    access_token: str = ""
    pin: str = ""
    totp_secret: str = ""
    kite_api_key: str = ""  # Kite Connect's app (load_kite_app)
    kite_api_secret: str = ""


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """A Dhan client id, access token (a JWT; "" until a login gets one) and, for logging in by
    TOTP, the PIN and the TOTP secret (base32). Never log or encode these fields."""

    client_id: str
    access_token: str
    pin: str = ""
    totp_secret: str = ""

    @property
    def can_generate(self) -> bool:
        """A fresh token can be generated without a person (PIN and TOTP secret known)."""
        return bool(self.client_id and self.pin and self.totp_secret)

    def with_token(self, access_token: str) -> "Credentials":
        register_secret(access_token, keep=TOKEN_KEEP)
        return Credentials(self.client_id, access_token, self.pin, self.totp_secret)

    def __repr__(self) -> str:
        login = ", pin=********, totp_secret=********" if self.can_generate else ""
        return (f"Credentials(client_id={mask(self.client_id, CLIENT_ID_KEEP)!r}, "
                f"access_token={mask(self.access_token, TOKEN_KEEP)!r}{login})")

    __str__ = __repr__


def _read_file(path: Path) -> _CredentialsFile:
    """The file's values; raises CredentialsError unless it exists, is private and is valid."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CredentialsError(
            CredentialsProblem.FILE_NOT_FOUND,
            f"credentials file {path} does not exist (set [credentials] file to a 0600 TOML file with "
            f"client_id and access_token (or pin and totp_secret), or set {CLIENT_ID_ENV_VAR} and "
            f"{TOKEN_ENV_VAR})") from None
    except OSError as exc:
        raise CredentialsError(CredentialsProblem.FILE_UNREADABLE,
                               f"credentials file {path} cannot be read: {exc.strerror}") from None
    perms = stat.S_IMODE(st.st_mode)
    if perms & PRIVATE_MODE_MASK:
        raise CredentialsError(
            CredentialsProblem.FILE_NOT_PRIVATE,
            f"credentials file {path} has mode {perms:04o}: group or others can read or write it; "
            f"run `chmod 600 {path}` and start again")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CredentialsError(CredentialsProblem.FILE_UNREADABLE,
                               f"credentials file {path} cannot be read: {exc.strerror}") from None
    try:
        return msgspec.toml.decode(data, type=_CredentialsFile)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        # msgspec's messages name keys and positions, never values.
        raise CredentialsError(CredentialsProblem.FILE_INVALID,
                               f"credentials file {path}: {exc} (expected client_id, access_token, pin, "
                               "totp_secret, kite_api_key and kite_api_secret strings)") from None


def load_credentials(file: str | os.PathLike[str] | None = None,
                     env: Mapping[str, str] | None = None) -> Credentials:
    """Client id, access token, PIN and TOTP secret, each from ``env`` (default ``os.environ``)
    when set there, else from ``file``. The file is only opened when the environment lacks a value.

    Raises CredentialsError (a ValueError) when the client id is missing everywhere, or the
    access token and the login pair (PIN and TOTP secret) both are; or when the file is missing,
    not private (``mode & 0o077 != 0``) or not valid.
    """
    environ = os.environ if env is None else env
    # keep None: not registered (the PIN: module docstring)
    names: tuple[tuple[str, str, int | None], ...] = (
        ("client_id", CLIENT_ID_ENV_VAR, CLIENT_ID_KEEP), ("access_token", TOKEN_ENV_VAR, TOKEN_KEEP),
        ("pin", PIN_ENV_VAR, None), ("totp_secret", TOTP_SECRET_ENV_VAR, TOKEN_KEEP))
    values: dict[str, str] = {}
    for key, var, keep in names:
        values[key] = environ.get(var, "").strip()
        # Register as soon as a value exists in this process, before anything can fail and log.
        if keep is not None:
            register_secret(values[key], keep=keep)
    path = Path(file).expanduser() if file else None
    if not all(values.values()) and path is not None:
        from_file = _read_file(path)
        for key, _var, keep in names:
            if not values[key]:
                values[key] = getattr(from_file, key).strip()
                if keep is not None:
                    register_secret(values[key], keep=keep)
    creds = Credentials(**values)
    missing = [] if creds.client_id else ["client id"]
    if not creds.access_token and not creds.can_generate:
        missing.append("access token")
    if missing:
        where = f"credentials file {path}" if path is not None else "no credentials file configured"
        raise CredentialsError(
            CredentialsProblem.MISSING,
            f"Dhan {' and '.join(missing)} not found ({where}): set {CLIENT_ID_ENV_VAR} and "
            f"{TOKEN_ENV_VAR} in the environment, or put client_id and access_token (or pin and totp_secret, "
            "to log in by TOTP) in a 0600 TOML file named by [credentials] file in the config")
    return creds


# Kite Connect ------------------------------------------------------------------------------------
KITE_API_SECRET_ENV_VAR = "SHIKRA_KITE_API_SECRET"


@dataclass(frozen=True, slots=True, repr=False)
class KiteApp:
    """A Kite Connect app: its API key and secret (the secret signs the login's checksum). Never
    log or encode these fields."""

    api_key: str
    api_secret: str

    def __repr__(self) -> str:
        return f"KiteApp(api_key={mask(self.api_key, API_KEY_KEEP)!r}, api_secret='********')"

    __str__ = __repr__


def load_kite_app(file: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None, *,
                  need_secret: bool = True) -> KiteApp:
    """The Kite app's API key and secret, each from ``env`` (default ``os.environ``:
    ``SHIKRA_KITE_API_KEY``, ``SHIKRA_KITE_API_SECRET``) when set there, else from the credentials
    file's ``kite_api_key`` / ``kite_api_secret``. Both are registered log secrets at once.
    Raises CredentialsError when the key (or, ``need_secret``, the secret) is missing everywhere or
    the file is missing, not private or not valid."""
    environ = os.environ if env is None else env
    api_key = environ.get(API_KEY_ENV_VAR, "").strip()
    api_secret = environ.get(KITE_API_SECRET_ENV_VAR, "").strip()
    register_secret(api_key, keep=API_KEY_KEEP)
    register_secret(api_secret, keep=TOKEN_KEEP)
    path = Path(file).expanduser() if file else None
    if (not api_key or not api_secret) and path is not None:
        from_file = _read_file(path)
        api_key = api_key or from_file.kite_api_key.strip()
        api_secret = api_secret or from_file.kite_api_secret.strip()
        register_secret(api_key, keep=API_KEY_KEEP)
        register_secret(api_secret, keep=TOKEN_KEEP)
    missing = [name for name, value in (("kite_api_key", api_key), ("kite_api_secret", api_secret))
               if not value and (name == "kite_api_key" or need_secret)]
    if missing:
        where = f"credentials file {path}" if path is not None else "no credentials file configured"
        raise CredentialsError(
            CredentialsProblem.MISSING,
            f"Kite {' and '.join(missing)} not found ({where}): put them in the 0600 TOML file named by "
            f"[credentials] file, or set {API_KEY_ENV_VAR} and {KITE_API_SECRET_ENV_VAR}")
    return KiteApp(api_key, api_secret)


# The session cache ------------------------------------------------------------------------------
class CachedSession(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The newest Dhan token obtained, for ``client_id``; ``expires_ns`` UTC epoch ns."""

    client_id: str
    access_token: str
    expires_ns: int
    obtained_ns: int
    how: str  # "totp", "renew" or "cli"


def session_cache_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / SESSION_CACHE_NAME


def write_session_cache(data_dir: str | os.PathLike[str], session: CachedSession) -> None:
    """Replace the cache atomically, mode 0600 (never readable by others, even for an instant).
    Raises OSError when the data directory cannot be written."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    replace_file(session_cache_path(data_dir), msgspec.json.encode(session), mode=SECRET_FILE_MODE)


def read_session_cache(data_dir: str | os.PathLike[str]) -> CachedSession | None:
    """The cached session, or None when there is none or it cannot be trusted (unreadable, not
    private, not valid: a token in a file others could read is not used). Its token is registered
    as a secret before it is returned."""
    path = session_cache_path(data_dir)
    try:
        if stat.S_IMODE(path.stat().st_mode) & PRIVATE_MODE_MASK:
            return None
        cached = msgspec.json.decode(path.read_bytes(), type=CachedSession)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    register_secret(cached.access_token, keep=TOKEN_KEEP)
    return cached


def cache_stamp(data_dir: str | os.PathLike[str]) -> int:
    """The cache file's modification time (ns), 0 when absent: cheap to poll for a new login."""
    try:
        return session_cache_path(data_dir).stat().st_mtime_ns
    except OSError:
        return 0


def jwt_expiry_ns(token: str) -> int:
    """The ``exp`` claim (seconds since the epoch) of a JWT, in ns; 0 when the token is not a JWT
    or has none. The signature is not checked: the broker checks it, this only plans renewals."""
    parts = token.split(".")
    if len(parts) != 3:
        return 0
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = payload.get("exp") if isinstance(payload, dict) else None
    except (ValueError, TypeError):
        return 0
    return int(exp) * NS_PER_S if isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp > 0 else 0


def token_expiry_ns(token: str, cached: CachedSession | None = None) -> int:
    """When ``token`` expires: the cache's word for it when it is the cached token, else its JWT
    ``exp``; 0 unknown."""
    if cached is not None and cached.access_token == token and cached.expires_ns:
        return cached.expires_ns
    return jwt_expiry_ns(token)


def session_credentials(creds: Credentials, data_dir: str | os.PathLike[str], now_ns: int
                        ) -> tuple[Credentials, int]:
    """``creds`` with the best token known and its expiry (0 unknown): the cached one when it is
    for this client id, not expired, and expires no sooner than the configured token (a renewal is
    newer than the token it renewed); else the configured one (which may be "" or expired: the
    session then logs in)."""
    cached = read_session_cache(data_dir)
    own_expiry = token_expiry_ns(creds.access_token, cached) if creds.access_token else 0
    if cached is not None and cached.client_id == creds.client_id and cached.access_token \
            and cached.expires_ns > now_ns and (not creds.access_token or cached.expires_ns >= own_expiry):
        return creds.with_token(cached.access_token), cached.expires_ns
    return creds, own_expiry
