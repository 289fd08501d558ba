"""Kite Connect's REST API for the live venue: the ``kiteconnect`` client per worker thread
(``dhan_rest.RestWorkers`` runs it), outcomes told apart, and Kite's error types on the one
``RejectReason`` set.

The SDK raises for every failure: a ``KiteException`` subclass named by the answer's
``error_type`` (with the HTTP status as ``code``) when Kite answered, a ``requests`` exception
when it did not. ``KiteRestClient.call`` turns both into a ``RestOutcome`` (``KiteOutcome``):
``api_error`` with the exception's name as ``error_code``, or ``transport``.

What stops trading (``KiteOutcome.fatal_code``): ``TokenException`` (the session expired or was
invalidated: the venue waits for a new login, ``kite_session``) and ``PermissionException`` (the
app or account may not do this). Which failed places may have reached Kite (looked up by tag
before anything is sent again): no answer, ``NetworkException``, ``GeneralException`` and
``DataException`` (Kite's OMS did not answer cleanly) and any HTTP 5xx. An ``OrderException`` or
``InputException`` is Kite refusing the order: nothing was placed.

Secrets: the SDK's messages never carry the token, but exception text from ``requests`` may carry
a URL; everything is passed through ``engine.logs.scrub`` (the API key and token are registered
secrets, ``engine.kite_session``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import requests
from kiteconnect import KiteConnect
from kiteconnect.exceptions import KiteException

from actors.execution.dhan_rest import RestOutcome
from engine.kite_session import KiteCredentials
from engine.logs import scrub
from ipc.reasons import RejectReason

TOKEN_EXCEPTION: Final = "TokenException"
KITE_ERRORS: Final[dict[str, RejectReason]] = {
    TOKEN_EXCEPTION: RejectReason.AUTH_FAILED,
    "PermissionException": RejectReason.NO_API_ACCESS,
    "OrderException": RejectReason.ORDER_ERROR,
    "InputException": RejectReason.BAD_INPUT,
    "DataException": RejectReason.DATA_ERROR,
    "NetworkException": RejectReason.NETWORK_ERROR,
    "GeneralException": RejectReason.BROKER_OTHER,
}
FATAL_ERRORS: Final = frozenset({TOKEN_EXCEPTION, "PermissionException"})
MAYBE_SENT_ERRORS: Final = frozenset({"NetworkException", "GeneralException", "DataException"})
HTTP_TOO_MANY_REQUESTS: Final = 429


class KiteOutcome(RestOutcome, frozen=True):
    """A ``RestOutcome`` whose codes are Kite's exception names (module docstring)."""

    @property
    def fatal_code(self) -> str:
        if self.kind == "api_error" and self.error_code in FATAL_ERRORS:
            return self.error_code
        return ""

    def reason(self) -> RejectReason:
        if self.kind == "api_error":
            if self.http_status == HTTP_TOO_MANY_REQUESTS:
                return RejectReason.BROKER_RATE_LIMIT
            return KITE_ERRORS.get(self.error_code, RejectReason.BROKER_OTHER)
        return RejectReason.HTTP_ERROR

    @property
    def maybe_sent(self) -> bool:
        """A failed place that may have reached Kite."""
        return self.kind == "transport" or self.http_status >= 500 or (
            self.kind == "api_error" and self.error_code in MAYBE_SENT_ERRORS
            and self.http_status != HTTP_TOO_MANY_REQUESTS)


class KiteRestClient:
    """One ``KiteConnect`` (its own ``requests.Session``) for one worker thread."""

    def __init__(self, credentials: KiteCredentials, base_url: str, timeout_s: float) -> None:
        self.api = KiteConnect(credentials.api_key, access_token=credentials.access_token or None,
                               root=base_url.rstrip("/"), timeout=timeout_s)

    def call(self, call: Callable[[Any], Any], credentials: KiteCredentials) -> KiteOutcome:
        """Run ``call(sdk client)`` and tell its outcome apart; never raises."""
        try:
            return KiteOutcome("ok", data=call(self.api), http_status=200)
        except KiteException as exc:
            return KiteOutcome("api_error", http_status=int(exc.code or 0), error_code=type(exc).__name__,
                               message=scrub(str(exc))[:300])
        except requests.RequestException as exc:
            return KiteOutcome("transport", message=scrub(f"{type(exc).__name__}: {exc}")[:300])
        except Exception as exc:  # the SDK's own bugs on an odd answer (a KeyError on a missing field)
            return KiteOutcome("transport", message=scrub(f"{type(exc).__name__}: {exc}")[:300])
