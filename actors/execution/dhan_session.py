"""The Dhan broker session: which access token the live venue uses, and when it gets a new one.
The venue owns it (``DhanVenue``); this module decides, on the actor's clock, and keeps the cache.

When a login is wanted (``due``):
- at the daily schedule's pre-open (``request("pre_open")``);
- when less than ``renew_before_s`` of the token's life remains (``expiring``);
- when Dhan refused the token (HTTP 401 / DH-901 on REST, ``request("token_refused")``): the
  token is dropped and a login runs at once;
- at start without a usable token (``no_token``);
By TOTP (``dhan_auth``) when the credentials hold the PIN and TOTP secret, else by RenewToken of
the token in use. The call itself runs in a worker (the venue's); ``begin`` hands out what to call
and ``finish`` takes the outcome.

A refused attempt is retried after :func:`engine.backoff.backoff_s` (``login_retry_initial_s``
doubling to ``login_retry_max_s``), rounded up to the start of a TOTP window: a code is single-use
per 30 s window, so a second try inside the same window would be refused for that alone (for the
same reason a login never runs twice in one window). The token in use stays in use meanwhile;
``halting`` says when it has expired with no newer one: only then does trading stop.

Every token obtained is written to the session cache (``engine.credentials``: 0600, atomic, with
its expiry) so the feed actor and a restart use it; a token another process put there (``shikra
dhan login``) is taken up by ``poll_cache``. Each change yields a ``BrokerSessionStatus`` (expiry
and reason only: never the token).
"""

from __future__ import annotations

import os
import random
from typing import Final

import msgspec

from actors.execution.config import DhanVenueConfig
from actors.execution.dhan_auth import TOTP_STEP_S, LoginOutcome, LoginReason, Method, totp_window
from engine.backoff import backoff_s
from engine.credentials import (
    BROKER,
    CachedSession,
    Credentials,
    cache_stamp,
    read_session_cache,
    session_credentials,
    write_session_cache,
)
from engine.logs import Log
from engine.model.ist import NS_PER_S
from ipc.messages import BrokerSessionStatus

_WINDOW_NS: Final = TOTP_STEP_S * NS_PER_S


class SessionChange(msgspec.Struct, frozen=True):
    """What an attempt (or a token found in the cache) changed: the credentials to use from now
    (None: keep the current ones) and the status to publish."""

    credentials: Credentials | None
    status: BrokerSessionStatus


class BrokerSession:
    """The token in use and the renewal policy (module docstring). Actor thread only; ``now_ns``
    always from the actor's clock."""

    def __init__(self, config: DhanVenueConfig, credentials: Credentials, data_dir: str | os.PathLike[str],
                 now_ns: int, *, log: Log, rng: random.Random | None = None) -> None:
        self.config = config
        self._data_dir = data_dir
        self._log = log
        self._rng = rng or random.Random()
        self.credentials, self.expires_ns = session_credentials(credentials, data_dir, now_ns)
        self._want = "" if self.credentials.access_token else "no_token"
        self._lost_token = False  # a token in use was refused and dropped
        self._in_flight = False
        self.failures = 0
        self.retry_at_ns = 0
        self._last_window = -1
        self.last_reason = ""
        self.last_detail = ""
        self._cache_stamp = cache_stamp(data_dir)
        self._next_cache_check_ns = now_ns + int(config.session_cache_check_s * NS_PER_S)

    # What and when --------------------------------------------------------------------------
    @property
    def method(self) -> Method | None:
        """How a new token is got: TOTP when the PIN and secret are known, else renewing the
        token in use; None when neither can (a person must act)."""
        if self.credentials.can_generate:
            return "totp"
        return "renew" if self.credentials.access_token else None

    @property
    def can_login(self) -> bool:
        return self.method is not None

    @property
    def in_flight(self) -> bool:
        return self._in_flight

    def request(self, why: str) -> None:
        """Ask for a login as soon as the retry rules allow (``pre_open``, ``token_refused``)."""
        if why == "token_refused" and self.credentials.can_generate and self.credentials.access_token:
            self._lost_token = True
            # Refused: the token is no good, whatever its expiry says. (With RenewToken only, it is
            # kept: it is all there is to renew.)
            self._log.warning("broker_token_refused", broker=BROKER, method=self.method)
            self.credentials = self.credentials.with_token("")
            self.expires_ns = 0
        if not self._want or why == "token_refused":
            self._want = why

    def due(self, now_ns: int) -> str:
        """Why a login should start now ("" when none should)."""
        if self._in_flight or self.method is None or now_ns < self.retry_at_ns:
            return ""
        if self._want:
            return self._want
        if self.expires_ns and self.expires_ns - now_ns <= int(self.config.renew_before_s * NS_PER_S):
            return "expiring"
        return ""

    def begin(self, now_ns: int) -> tuple[Method, Credentials] | None:
        """Start an attempt: how and with what (the TOTP is computed by the caller for
        ``now_ns``'s window). None when it must wait for the next TOTP window (this one's code was
        used already)."""
        method = self.method
        if method is None:
            return None
        window = totp_window(now_ns)
        if method == "totp" and window == self._last_window:
            self.retry_at_ns = (window + 1) * _WINDOW_NS
            return None
        self._last_window = window if method == "totp" else self._last_window
        self._in_flight = True
        return method, self.credentials

    def finish(self, outcome: LoginOutcome, why: str, now_ns: int) -> SessionChange:
        """The attempt's outcome: a new token in use (and cached), or the next try scheduled."""
        self._in_flight = False
        if outcome.ok:
            self.credentials = self.credentials.with_token(outcome.access_token)
            self.expires_ns = outcome.expires_ns
            self._lost_token = False
            self._want = ""
            self.failures = 0
            self.retry_at_ns = 0
            self.last_reason = self.last_detail = ""
            self._write_cache(outcome.method, now_ns)
            self._log.info("broker_session_renewed", broker=BROKER, method=outcome.method, why=why,
                           expires_ns=self.expires_ns, valid_s=(self.expires_ns - now_ns) // NS_PER_S)
            return SessionChange(self.credentials, self._status(True, now_ns))
        self.failures += 1
        self.last_reason, self.last_detail = outcome.reason, outcome.detail
        if outcome.reason == LoginReason.TOKEN_EXPIRED and self.method == "renew":
            # RenewToken revives no expired token: nothing more to try until a person logs in
            # (`shikra dhan login` or a new token in the credentials), which poll_cache picks up.
            self.credentials = self.credentials.with_token("")
            self._want = ""
            self.retry_at_ns = 0
        else:
            delay_ns = int(backoff_s(self.failures - 1, self.config.login_retry_initial_s,
                                     self.config.login_retry_max_s, self._rng) * NS_PER_S)
            # The next TOTP window at or after the backoff: a code is single-use per window.
            self.retry_at_ns = -(-(now_ns + delay_ns) // _WINDOW_NS) * _WINDOW_NS
        self._log.error("broker_session_refused", broker=BROKER, method=outcome.method, why=why,
                        reason_code=outcome.reason, detail=outcome.detail, failures=self.failures,
                        retry_in_s=max(0, self.retry_at_ns - now_ns) // NS_PER_S if self.retry_at_ns else None,
                        token_expires_ns=self.expires_ns)
        return SessionChange(None, self._status(False, now_ns))

    def halting(self, now_ns: int) -> bool:
        """Trading must stop: a token that was in use has expired (or was refused) and the attempt
        to replace it failed, or nothing can get one without a person. Not while an attempt runs,
        and not at a start without any token (nothing was trading: logins go on being retried,
        each failure alerted, and no order reaches Dhan meanwhile)."""
        if self._in_flight:
            return False
        if self.method is None:
            return True
        if self.failures == 0:
            return False
        if self.credentials.access_token:
            return bool(self.expires_ns) and now_ns >= self.expires_ns
        return self._lost_token

    # Another process's login ----------------------------------------------------------------
    def poll_cache(self, now_ns: int) -> SessionChange | None:
        """Every ``session_cache_check_s``: a newer token in the cache (``shikra dhan login``
        wrote it) is taken up."""
        if now_ns < self._next_cache_check_ns:
            return None
        self._next_cache_check_ns = now_ns + int(self.config.session_cache_check_s * NS_PER_S)
        stamp = cache_stamp(self._data_dir)
        if stamp == self._cache_stamp:
            return None
        self._cache_stamp = stamp
        cached = read_session_cache(self._data_dir)
        if cached is None or cached.client_id != self.credentials.client_id \
                or cached.access_token == self.credentials.access_token or cached.expires_ns <= now_ns \
                or (self.credentials.access_token and cached.expires_ns < self.expires_ns):
            return None
        self.credentials = self.credentials.with_token(cached.access_token)
        self.expires_ns = cached.expires_ns
        self._lost_token = False
        self._want = ""
        self.failures = 0
        self.retry_at_ns = 0
        self.last_reason = self.last_detail = ""
        self._log.info("broker_session_from_cache", broker=BROKER, how=cached.how, expires_ns=cached.expires_ns)
        return SessionChange(self.credentials, self._status(True, now_ns))

    def status(self, now_ns: int) -> BrokerSessionStatus:
        """The session as it stands (published at start and on request)."""
        return self._status(not self.last_reason, now_ns)

    # Inside -------------------------------------------------------------------------------------
    def _status(self, ok: bool, now_ns: int) -> BrokerSessionStatus:
        return BrokerSessionStatus(broker=BROKER, ok=ok, expires_ns=self.expires_ns,
                                   reason_code="" if ok else self.last_reason,
                                   detail="" if ok else self.last_detail, ts_ns=now_ns)

    def _write_cache(self, how: str, now_ns: int) -> None:
        try:
            write_session_cache(self._data_dir, CachedSession(
                client_id=self.credentials.client_id, access_token=self.credentials.access_token,
                expires_ns=self.expires_ns, obtained_ns=now_ns, how=how))
            self._cache_stamp = cache_stamp(self._data_dir)  # our own write is not news
        except OSError as exc:
            # The token still works in this process; a restart or the feed would not see it.
            self._log.error("broker_session_not_cached", broker=BROKER, error=exc.strerror or type(exc).__name__)

