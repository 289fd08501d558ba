"""Dhan credentials: the client id and access token, from the environment or a private TOML file.

Environment variables win, value by value: ``SHIKRA_DHAN_CLIENT_ID`` and
``SHIKRA_DHAN_ACCESS_TOKEN``. A value missing from the environment is read from the credentials
file (``[credentials] file`` in the config), a TOML file with ``client_id = "..."`` and
``access_token = "..."`` that only its owner may read or write (mode 0600).

Both values are registered with :func:`engine.logs.register_secret` the moment they are read, so no
log line can show them (the client id keeps its last 4 characters, the token nothing), and the
:class:`Credentials` ``repr`` masks them too.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec

from engine.logs import mask, register_secret

CLIENT_ID_ENV_VAR = "SHIKRA_DHAN_CLIENT_ID"
TOKEN_ENV_VAR = "SHIKRA_DHAN_ACCESS_TOKEN"
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


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """A Dhan client id and access token (a JWT). Never log or encode these fields."""

    client_id: str
    access_token: str

    def __repr__(self) -> str:
        return (f"Credentials(client_id={mask(self.client_id, CLIENT_ID_KEEP)!r}, "
                f"access_token={mask(self.access_token, TOKEN_KEEP)!r})")

    __str__ = __repr__


def _read_file(path: Path) -> _CredentialsFile:
    """The file's values; raises CredentialsError unless it exists, is private and is valid."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CredentialsError(
            CredentialsProblem.FILE_NOT_FOUND,
            f"credentials file {path} does not exist (set [credentials] file to a 0600 TOML file with "
            f"client_id and access_token, or set {CLIENT_ID_ENV_VAR} and {TOKEN_ENV_VAR})") from None
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
                               f"credentials file {path}: {exc} (expected client_id and access_token "
                               "strings)") from None


def load_credentials(file: str | os.PathLike[str] | None = None,
                     env: Mapping[str, str] | None = None) -> Credentials:
    """Client id and access token, each from ``env`` (default ``os.environ``) when set there, else
    from ``file``. The file is only opened when the environment lacks a value.

    Raises CredentialsError (a ValueError) when a value is missing everywhere, or when the file is
    missing, not private (``mode & 0o077 != 0``) or not valid.
    """
    environ = os.environ if env is None else env
    client_id = environ.get(CLIENT_ID_ENV_VAR, "").strip()
    token = environ.get(TOKEN_ENV_VAR, "").strip()
    # Register as soon as a value exists in this process, before anything can fail and log.
    register_secret(client_id, keep=CLIENT_ID_KEEP)
    register_secret(token, keep=TOKEN_KEEP)
    path = Path(file).expanduser() if file else None
    if (not client_id or not token) and path is not None:
        values = _read_file(path)
        if not client_id:
            client_id = values.client_id.strip()
            register_secret(client_id, keep=CLIENT_ID_KEEP)
        if not token:
            token = values.access_token.strip()
            register_secret(token, keep=TOKEN_KEEP)
    missing = [name for name, value in (("client id", client_id), ("access token", token)) if not value]
    if missing:
        where = f"credentials file {path}" if path is not None else "no credentials file configured"
        raise CredentialsError(
            CredentialsProblem.MISSING,
            f"Dhan {' and '.join(missing)} not found ({where}): set {CLIENT_ID_ENV_VAR} and "
            f"{TOKEN_ENV_VAR} in the environment, or put client_id and access_token in a 0600 TOML "
            "file named by [credentials] file in the config")
    return Credentials(client_id, token)
