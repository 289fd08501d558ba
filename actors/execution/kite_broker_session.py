"""The Kite broker session: which access token the live Kite venue uses, and what it says when it
has none. The venue owns it (``KiteVenue``, through ``DhanVenue``'s session interface); this module
decides, on the actor's clock.

A Kite token comes only from a person logging in (``shikra kite login``: Kite's login page, then
the request token exchanged with the checksum), which writes the session cache
(``engine.kite_session``, 0600, atomic). ``poll_cache`` takes a newer token of the configured API
key up every ``session_cache_check_s``: a running daemon needs no restart. There is nothing to
log in with here, so ``due`` never asks for a login; "can log in" means a token can arrive.

Tokens expire early each morning (about 06:00 IST, ``token_expiry_ns``). What the session says
(``BrokerSessionStatus``, broker "kite"; never the token):

- at the schedule's pre-open (``request("pre_open")``): ok with the expiry when a token is valid,
  else ``NO_TOKEN`` (the notify actor alerts) — orders then wait for a login (``KiteVenue``);
- when the token in use passes its expiry: ``NO_TOKEN`` (nothing trades at night; no halt);
- when Kite refuses the token before its expiry (``TokenException``: logged out, or a login
  elsewhere invalidated it): ``TOKEN_REFUSED``, the token is dropped and orders wait for a new one;
  if none arrives within ``token_wait_s``, ``halting`` (the venue stops: ``SESSION_EXPIRED``);
- a token taken up from the cache: ok with its expiry.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Final

from actors.execution.config import KiteVenueConfig
from actors.execution.dhan_session import SessionChange
from engine.kite_session import BROKER, KiteCredentials, read_session, session_cache_path
from engine.logs import Log, register_secret
from engine.model.ist import IST, NS_PER_S
from ipc.messages import BrokerSessionStatus

NO_TOKEN: Final = "NO_TOKEN"
TOKEN_REFUSED: Final = "TOKEN_REFUSED"
TOKEN_EXPIRY_IST: Final = dt.time(6, 0)  # Kite's tokens end early each morning (KITE_PROTOCOL.md C)


def token_expiry_ns(obtained_ns: int) -> int:
    """When a token obtained at ``obtained_ns`` expires: the next 06:00 IST after it."""
    obtained = dt.datetime.fromtimestamp(obtained_ns / NS_PER_S, IST)
    expiry = dt.datetime.combine(obtained.date(), TOKEN_EXPIRY_IST, IST)
    if expiry <= obtained:
        expiry += dt.timedelta(days=1)
    return int(expiry.timestamp()) * NS_PER_S


def _cache_stamp(data_dir: str | os.PathLike[str]) -> int:
    try:
        return session_cache_path(data_dir).stat().st_mtime_ns
    except OSError:
        return 0


class KiteBrokerSession:
    """The token in use (module docstring). Actor thread only; ``now_ns`` from the actor's clock."""

    def __init__(self, config: KiteVenueConfig, api_key: str, data_dir: str | os.PathLike[str], now_ns: int, *,
                 log: Log) -> None:
        self.config = config
        self._api_key = api_key
        register_secret(api_key, keep=4)
        self._data_dir = data_dir
        self._log = log
        self.credentials = KiteCredentials(api_key, "")
        self.expires_ns = 0
        self._cache_stamp = -1
        self._next_cache_check_ns = now_ns
        self._refused_at_ns = 0  # a token in use was refused: trading halts after token_wait_s
        self._refused_news = False
        self._check_asked = ""  # a status is owed (pre-open)
        self.last_reason = NO_TOKEN
        self.last_detail = self._no_token_text()
        self._take_cache(now_ns)

    # What DhanVenue asks of a session --------------------------------------------------------
    can_login = True  # a token can arrive (from `shikra kite login`); see the module docstring
    in_flight = False

    @property
    def has_token(self) -> bool:
        return bool(self.credentials.access_token)

    def request(self, why: str) -> None:
        """``pre_open``: a status is owed at the next ``poll_cache``; ``token_refused``: Kite
        refused the token in use (it is dropped)."""
        if why == "token_refused":
            if self.credentials.access_token:
                self._log.warning("broker_token_refused", broker=BROKER)
                self.credentials = KiteCredentials(self._api_key, "")
                self._refused_news = True
            return
        self._check_asked = why

    def due(self, now_ns: int) -> str:
        return ""  # a person logs in (module docstring)

    def begin(self, now_ns: int) -> None:
        return None

    def halting(self, now_ns: int) -> bool:
        """A refused token was not replaced within ``token_wait_s``."""
        return bool(self._refused_at_ns) and now_ns - self._refused_at_ns >= int(self.config.token_wait_s * NS_PER_S)

    def poll_cache(self, now_ns: int) -> SessionChange | None:
        """A refusal, an expiry, a token from the cache or an owed status, as a change to publish."""
        if self._refused_news:
            self._refused_news = False
            self._refused_at_ns = now_ns
            self.expires_ns = 0
            self.last_reason = TOKEN_REFUSED
            self.last_detail = (f"Kite refused the access token (logged out, or a login elsewhere replaced it); "
                                f"orders wait up to {self.config.token_wait_s:g}s: run `shikra kite login`")
            return SessionChange(None, self._status(False, now_ns))
        if self.credentials.access_token and self.expires_ns and now_ns >= self.expires_ns:
            self._log.info("broker_session_expired", broker=BROKER, expires_ns=self.expires_ns)
            self.credentials = KiteCredentials(self._api_key, "")
            self.expires_ns = 0
            self.last_reason, self.last_detail = NO_TOKEN, self._no_token_text()
            return SessionChange(None, self._status(False, now_ns))
        if now_ns >= self._next_cache_check_ns:
            self._next_cache_check_ns = now_ns + int(self.config.session_cache_check_s * NS_PER_S)
            if self._take_cache(now_ns):
                self._check_asked = ""
                return SessionChange(self.credentials, self._status(True, now_ns))
        if self._check_asked:
            self._check_asked = ""
            ok = self.has_token
            if not ok:
                self.last_reason, self.last_detail = NO_TOKEN, self._no_token_text()
            return SessionChange(None, self._status(ok, now_ns))
        return None

    def status(self, now_ns: int) -> BrokerSessionStatus:
        return self._status(self.has_token, now_ns)

    # Inside -------------------------------------------------------------------------------------
    def _take_cache(self, now_ns: int) -> bool:
        """A newer valid token of our API key in the cache is taken up (True)."""
        stamp = _cache_stamp(self._data_dir)
        if stamp == self._cache_stamp:
            return False
        self._cache_stamp = stamp
        cached = read_session(self._data_dir)
        if cached is None or cached.api_key != self._api_key or not cached.access_token \
                or cached.access_token == self.credentials.access_token \
                or (cached.expires_ns and cached.expires_ns <= now_ns):
            return False
        self.credentials = KiteCredentials(self._api_key, cached.access_token)
        self.expires_ns = cached.expires_ns
        self._refused_at_ns = 0
        self._refused_news = False
        self.last_reason = self.last_detail = ""
        self._log.info("broker_session_from_cache", broker=BROKER, expires_ns=cached.expires_ns)
        return True

    def _status(self, ok: bool, now_ns: int) -> BrokerSessionStatus:
        return BrokerSessionStatus(broker=BROKER, ok=ok, expires_ns=self.expires_ns if ok else 0,
                                   reason_code="" if ok else self.last_reason,
                                   detail="" if ok else self.last_detail, ts_ns=now_ns)

    def _no_token_text(self) -> str:
        return "no valid Kite access token: run `shikra kite login` (orders wait for it)"
