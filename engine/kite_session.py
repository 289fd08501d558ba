"""The Kite Connect session: the one place for its cache file (name, format, mode) and the login
checksum.

Kite's access token lives one trading day (it expires early the next morning, KITE_PROTOCOL.md
section C). Whatever logs in (``shikra kite login``, written elsewhere) writes the session cache
``<data_dir>/kite_session.json``: 0600, replaced atomically, a :class:`KiteSession` as JSON. The feed
actor reads it when it connects and again on every ``BrokerSessionStatus(broker="kite")``, so a new
login reaches the running daemon without a restart. With no usable cache, the environment's
``SHIKRA_KITE_API_KEY`` and ``SHIKRA_KITE_ACCESS_TOKEN`` are used (a token obtained by hand).

The token and the API key are registered as log secrets the moment they are read.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec

from engine.files import replace_file
from engine.logs import mask, register_secret

KITE_SESSION_CACHE: Final = "kite_session.json"
SECRET_FILE_MODE: Final = 0o600
API_KEY_ENV_VAR: Final = "SHIKRA_KITE_API_KEY"
ACCESS_TOKEN_ENV_VAR: Final = "SHIKRA_KITE_ACCESS_TOKEN"
API_KEY_KEEP: Final = 4  # characters of the API key left visible in logs
_NOT_PRIVATE: Final = 0o077
BROKER: Final = "kite"  # BrokerSessionStatus.broker of a Kite login


class KiteSession(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A Kite login: ``expires_ns`` (UTC epoch ns; 0 unknown) and ``obtained_ns`` when it was made."""

    api_key: str
    access_token: str
    user_id: str
    obtained_ns: int
    expires_ns: int


@dataclass(frozen=True, slots=True, repr=False)
class KiteCredentials:
    """What the ticker connects with. Never log these fields."""

    api_key: str
    access_token: str

    def __repr__(self) -> str:
        return f"KiteCredentials(api_key={mask(self.api_key, API_KEY_KEEP)!r}, access_token='********')"

    __str__ = __repr__


def session_checksum(api_key: str, request_token: str, api_secret: str) -> str:
    """The ``checksum`` of ``POST /session/token``: hex SHA-256 of api_key + request_token +
    api_secret (KITE_PROTOCOL.md section C)."""
    return hashlib.sha256((api_key + request_token + api_secret).encode()).hexdigest()


def session_cache_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / KITE_SESSION_CACHE


def write_session(data_dir: str | os.PathLike[str], session: KiteSession) -> None:
    """Replace the cache atomically, mode 0600. Raises OSError when the data directory cannot be
    written."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    replace_file(session_cache_path(data_dir), msgspec.json.encode(session), mode=SECRET_FILE_MODE)


def read_session(data_dir: str | os.PathLike[str]) -> KiteSession | None:
    """The cached session, or None when there is none or it cannot be trusted (unreadable, readable
    by others, not valid). Its secrets are registered before it is returned."""
    path = session_cache_path(data_dir)
    try:
        if stat.S_IMODE(path.stat().st_mode) & _NOT_PRIVATE:
            return None
        session = msgspec.json.decode(path.read_bytes(), type=KiteSession)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    register_secret(session.access_token, keep=0)
    register_secret(session.api_key, keep=API_KEY_KEEP)
    return session


def feed_credentials(data_dir: str | os.PathLike[str], now_ns: int,
                     env: Mapping[str, str] | None = None) -> KiteCredentials | None:
    """The credentials to connect with now: the cached session's unless it has expired, else the
    environment's; None when neither has a token (the feed waits for a login)."""
    session = read_session(data_dir)
    if session is not None and session.access_token and session.api_key \
            and (session.expires_ns == 0 or session.expires_ns > now_ns):
        return KiteCredentials(session.api_key, session.access_token)
    environ = os.environ if env is None else env
    api_key = environ.get(API_KEY_ENV_VAR, "").strip()
    token = environ.get(ACCESS_TOKEN_ENV_VAR, "").strip()
    register_secret(token, keep=0)
    register_secret(api_key, keep=API_KEY_KEEP)
    return KiteCredentials(api_key, token) if api_key and token else None
