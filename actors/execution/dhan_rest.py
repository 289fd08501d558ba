"""Dhan's REST API for the live venue: the SDK client per worker thread, outcomes told apart, and
Dhan's error codes on the one ``RejectReason`` set.

Calls go through the real ``dhanhq`` client, one per worker thread (a ``requests.Session`` is not
shared between threads), in a ``ThreadPoolExecutor`` (``RestWorkers``); each call's outcome is
handed back from the worker thread to whoever submitted it (``actors.execution.dhan_venue``).

Telling failures apart (``classify``). ``DhanHTTP`` turns every exception into
``{'status': 'failure', 'remarks': str}``; an API error has ``remarks`` as a dict with the
DH-9xx code. A response hook on each worker's session records the HTTP status, so a server
answer whose body is not JSON is not mistaken for a network failure.

DH-901 (token invalid or expired), DH-902 (no API access), DH-911 (IP not whitelisted) or an
HTTP 401/403 are fatal (``RestOutcome.fatal_code``): trading through Dhan cannot go on until the
operator acts (``fatal_message`` says how).

The access token and client id are never logged: text from the SDK is ``redact``-ed first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Literal

import msgspec
from dhanhq import DhanContext, dhanhq

from actors.execution.dhan_wire import ORDER_TYPES, PRODUCTS, rupees_float
from actors.execution.orders import OrderSnapshot
from engine.credentials import CLIENT_ID_ENV_VAR, TOKEN_ENV_VAR, Credentials
from engine.logs import redact as redact_secrets
from ipc.reasons import RejectReason
from ipc.segments import KNOWN_SEGMENTS, Segment, segment_label

# Dhan's API error codes on the one RejectReason set (Dhan's code stays in the event's text).
DHAN_CODES: Final[dict[str, RejectReason]] = {
    "DH-901": RejectReason.AUTH_FAILED,  # invalid authentication: token expired or invalid, client id wrong
    "DH-902": RejectReason.NO_API_ACCESS,  # the account has no trading API access
    "DH-903": RejectReason.ACCOUNT_PROBLEM,  # user account problem
    "DH-904": RejectReason.BROKER_RATE_LIMIT,  # rate limit exceeded at Dhan
    "DH-905": RejectReason.BAD_INPUT,  # input exception: a bad field
    "DH-906": RejectReason.ORDER_ERROR,  # order error
    "DH-907": RejectReason.DATA_ERROR,  # data error
    "DH-908": RejectReason.BROKER_ERROR,  # internal server error
    "DH-909": RejectReason.NETWORK_ERROR,  # network error
    "DH-910": RejectReason.BROKER_OTHER,  # others
    "DH-911": RejectReason.IP_NOT_ALLOWED,  # invalid IP: the static IP is not whitelisted
}


FATAL_CODES: Final = frozenset({"DH-901", "DH-902", "DH-911"})
FATAL_HTTP_STATUSES: Final = frozenset({401, 403})
NOT_FOUND_CODES: Final = frozenset({"DH-906", "DH-907"})  # order / data error: "no such order" on a lookup


class DhanFatal(msgspec.Struct, frozen=True):
    """Trading through Dhan cannot go on until the operator acts (``message`` says how)."""

    code: str  # DH-901, DH-902, DH-911, HTTP-401 / HTTP-403 or SESSION_EXPIRED (no new token in time)
    message: str
    open_orders: int


def fatal_message(code: str, detail: str, open_orders: int) -> str:
    """What the operator reads when the venue stops."""
    if code == "SESSION_EXPIRED":
        what = (f"the Dhan access token expired and no new one could be obtained ({detail}). Check pin and "
                "totp_secret in the credentials file (or enable TOTP on web.dhan.co), run `shikra dhan login`, "
                "then restart")
    elif code in ("DH-901", "HTTP-401"):
        what = (f"Dhan refused the access token ({code}: {detail}): it has expired or is invalid. Generate a new "
                f"token on web.dhan.co, set {TOKEN_ENV_VAR} (and check {CLIENT_ID_ENV_VAR}), or put pin and "
                "totp_secret in the credentials file so the engine logs in by itself; then restart")
    elif code == "DH-911":
        what = (f"Dhan refused the request from this IP ({code}: {detail}): whitelist this server's static IP "
                "on web.dhan.co, then restart")
    else:
        what = (f"Dhan refused API access ({code}: {detail}): check that trading APIs are enabled for this "
                "account on web.dhan.co, then restart")
    return (f"{what}. Live trading stopped; {open_orders} order(s) may still be working at Dhan: check them on "
            "web.dhan.co.")


def redact(text: str, credentials: Credentials) -> str:
    """``text`` with the access token and client id masked (before it is logged or shown)."""
    return redact_secrets(text, (credentials.access_token, credentials.client_id))


def place_params(order: OrderSnapshot) -> dict[str, Any]:
    """Keyword arguments of ``dhanhq.place_order`` for ``order`` (working qty/price/trigger; the
    client order id as ``tag`` = correlationId). Raises ValueError for what Dhan cannot express."""
    spec = order.spec
    if spec.segment not in KNOWN_SEGMENTS or spec.segment == Segment.IDX_I:
        raise ValueError(f"segment {spec.segment} is not a tradable Dhan segment")
    if spec.order_type not in ORDER_TYPES or spec.product not in PRODUCTS:
        raise ValueError(f"order type {spec.order_type} / product {spec.product} has no Dhan mapping")
    if not 0 < len(order.client_order_id) <= 30:
        raise ValueError(f"client order id {order.client_order_id!r} is not a Dhan correlationId (1..30 chars)")
    return dict(security_id=str(spec.security_id), exchange_segment=segment_label(spec.segment), transaction_type=spec.side,
                quantity=spec.qty_units, order_type=ORDER_TYPES[spec.order_type],
                product_type=PRODUCTS[spec.product], price=rupees_float(spec.price_paise),
                trigger_price=rupees_float(spec.trigger_price_paise), validity=spec.validity,
                tag=order.client_order_id)


OutcomeKind = Literal["ok", "api_error", "http_error", "transport"]


class RestOutcome(msgspec.Struct, frozen=True):
    """One SDK call's result, told apart: ``ok`` (2xx, ``data``), ``api_error`` (Dhan's error body:
    ``error_code`` DH-9xx), ``http_error`` (an answer without a Dhan error body), ``transport`` (no
    answer: connection refused or dropped, timeout)."""

    kind: OutcomeKind
    data: Any = None
    http_status: int = 0
    error_code: str = ""
    message: str = ""

    @property
    def fatal_code(self) -> str:
        """The code that stops trading, or ""."""
        if self.kind == "api_error" and self.error_code in FATAL_CODES:
            return self.error_code
        if self.http_status in FATAL_HTTP_STATUSES:
            return f"HTTP-{self.http_status}"
        return ""

    def reason(self) -> RejectReason:
        """The code on the one RejectReason set (``describe`` keeps Dhan's own code)."""
        if self.kind == "api_error":
            return DHAN_CODES.get(self.error_code, RejectReason.BROKER_OTHER)
        return RejectReason.HTTP_ERROR

    def describe(self) -> str:
        if self.kind == "api_error":
            return f"{self.error_code} {self.message}".strip()
        if self.kind == "http_error":
            return f"HTTP {self.http_status}: {self.message}"
        return self.message


def classify(response: Any, http_status: int) -> RestOutcome:
    """Tell an SDK response apart (``http_status`` 0: no HTTP answer was received)."""
    if not isinstance(response, dict):
        return RestOutcome("transport", message=f"unexpected SDK result {type(response).__name__}")
    if response.get("status") == "success":
        return RestOutcome("ok", data=response.get("data"), http_status=http_status)
    remarks = response.get("remarks")
    if isinstance(remarks, dict):
        code = str(remarks.get("error_code") or "")
        text = " ".join(str(remarks.get(k) or "") for k in ("error_type", "error_message")).strip()
        if code:
            return RestOutcome("api_error", http_status=http_status, error_code=code, message=text)
        return RestOutcome("http_error", http_status=http_status, message=text)
    text = str(remarks)[:300]
    if http_status:
        return RestOutcome("http_error", http_status=http_status, message=text)
    return RestOutcome("transport", message=text)


class RestClient:
    """One ``dhanhq`` client (its own ``requests.Session``) for one worker thread, with the last
    response's HTTP status recorded by a session hook (the SDK hides it)."""

    def __init__(self, credentials: Credentials, base_url: str, timeout_s: float) -> None:
        ctx = DhanContext(credentials.client_id, credentials.access_token)
        http = ctx.get_dhan_http()
        http.base_url = base_url.rstrip("/")
        http.timeout = timeout_s
        self.last_status = 0
        http.session.hooks["response"].append(self._record_status)
        self.api = dhanhq(ctx)

    def _record_status(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self.last_status = int(response.status_code)

    def call(self, call: Callable[[Any], Any], credentials: Credentials) -> RestOutcome:
        """Run ``call(sdk client)`` and tell its outcome apart; never raises (the SDK validates
        some arguments by raising: a transport outcome, the secrets redacted)."""
        self.last_status = 0
        try:
            return classify(call(self.api), self.last_status)
        except Exception as exc:
            return RestOutcome("transport", message=redact(f"{type(exc).__name__}: {exc}", credentials))


class RestWorkers:
    """``n_workers`` threads for blocking SDK calls, each with its own ``RestClient``. ``submit``
    runs one call on a worker and hands ``(tag, outcome)`` to ``deliver`` on that worker thread
    (``deliver`` must be thread-safe). ``start`` before use, ``stop`` at the end.
    ``set_credentials`` swaps the token: each worker builds a new client before its next call
    (a call already running finishes with the old one)."""

    def __init__(self, credentials: Any, base_url: str, timeout_s: float, n_workers: int,
                 deliver: Callable[[Any, Any], None], *, client_factory: Callable[[Any, str, float], Any] = RestClient,
                 thread_name: str = "dhan-rest") -> None:
        self._current = (credentials, 0)  # (credentials, generation): replaced whole, read without a lock
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._n_workers = n_workers
        self._deliver = deliver
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        # Another broker's SDK client (``kite_rest.KiteRestClient``): built the same way, with a
        # ``call(call, credentials) -> RestOutcome`` that never raises.
        self._client_factory = client_factory
        self._thread_name = thread_name

    @property
    def running(self) -> bool:
        return self._pool is not None

    @property
    def generation(self) -> int:
        """How many times the credentials were swapped (a request remembers the one it went with)."""
        return self._current[1]

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._n_workers, thread_name_prefix=self._thread_name)

    def stop(self) -> None:
        """Wait for the calls in flight (bounded by the REST timeout); drop those not started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def set_credentials(self, credentials: Any) -> None:
        """Calls started from now on go with ``credentials``."""
        self._current = (credentials, self._current[1] + 1)

    def submit(self, tag: Any, call: Callable[[Any], Any]) -> None:
        assert self._pool is not None, "RestWorkers.start() was not called"
        self._pool.submit(self._run, tag, call)

    def submit_plain(self, tag: Any, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` (no SDK client: e.g. a login on the auth host) on a worker and hand
        ``(tag, result)`` to ``deliver``; ``fn`` must not raise."""
        assert self._pool is not None, "RestWorkers.start() was not called"
        self._pool.submit(lambda: self._deliver(tag, fn()))

    def _run(self, tag: Any, call: Callable[[Any], Any]) -> None:
        # worker thread: one SDK call, its outcome handed back
        creds, generation = self._current
        client = getattr(self._local, "client", None)
        if client is None or getattr(self._local, "generation", -1) != generation:
            client = self._local.client = self._client_factory(creds, self._base_url, self._timeout_s)
            self._local.generation = generation
        self._deliver(tag, client.call(call, creds))
