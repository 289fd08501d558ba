"""A loopback fake Dhan for the live venue's tests: REST v2 order endpoints over HTTP (stdlib
``http.server`` in a thread) and the order-update websocket (``websockets``, its own loop thread),
both on 127.0.0.1, driven through the real ``dhanhq`` package.

REST: POST /v2/orders, GET /v2/orders, GET /v2/orders/{id}, GET /v2/orders/external/{corr},
PUT /v2/orders/{id}, DELETE /v2/orders/{id}. A wrong ``access-token`` header (or ``expire_token()``)
gets HTTP 401 with DH-901. Steering: ``reject_next(code, message)``, ``drop_next(record=...)``
(close the connection without an answer, after or before recording the order), ``trade(order_id,
qty_units, price_paise)`` (pushes PART_TRADED / TRADED), ``set_stream(enabled)`` (close and refuse
order-update connections).

Order updates: after the login frame (checked), every status change of every order is pushed as
``{"Type":"order_alert","Data":{...}}`` with PascalCase keys and title-case statuses ("Pending",
"Traded") as the real samples show.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

TOKEN = "eyJ0eXAiOiJKV1QifQ.fake-dhan-order-token.c2lnbmF0dXJl"
CLIENT_ID = "1100998877"

_LOG = logging.getLogger("tests.fake_dhan")
_LOG.setLevel(logging.WARNING)

_STREAM_STATUS = {"PENDING": "Pending", "TRANSIT": "Transit", "PART_TRADED": "Part_Traded", "TRADED": "Traded",
                  "CANCELLED": "Cancelled", "REJECTED": "Rejected", "EXPIRED": "Expired"}


def _rupees(price_paise: int) -> float:
    return float(Decimal(price_paise) / 100)


class FakeDhan:
    """``with FakeDhan() as fake``: ``rest_url`` and ``ws_url`` to point the venue at."""

    def __init__(self, *, token: str = TOKEN, client_id: str = CLIENT_ID) -> None:
        self.token = token
        self.client_id = client_id
        self.lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}  # order id -> row (camelCase, as GET /orders)
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # (method, path, body)
        self.logins: list[dict[str, Any]] = []
        self._next_id = 5_200_000_001
        self._reject: list[tuple[int, str, str]] = []
        self._drop: list[bool] = []  # True: record the order, then drop
        self.stream_enabled = True
        self.token_expired = False
        self.funds_rupees = 250000.55  # GET /fundlimit availabelBalance
        self._http: ThreadingHTTPServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws_conns: set[ServerConnection] = set()
        self._ready = threading.Event()
        self.http_port = 0
        self.ws_port = 0

    # Lifecycle ---------------------------------------------------------------------------------
    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v2"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    def __enter__(self) -> "FakeDhan":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, name="fake-dhan-http", daemon=True).start()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._ws_run, name="fake-dhan-ws", daemon=True).start()
        if not self._ready.wait(5):
            raise RuntimeError("fake Dhan websocket did not start")

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop_ws.set)

    def _ws_run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._ws_main())  # type: ignore[union-attr]

    async def _ws_main(self) -> None:
        self._stop_ws = asyncio.Event()
        async with serve(self._ws_handler, "127.0.0.1", 0, logger=_LOG, compression=None) as server:
            self.ws_port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop_ws.wait()

    async def _ws_handler(self, ws: ServerConnection) -> None:
        if not self.stream_enabled:
            await ws.close(1008, "stream disabled")
            return
        try:
            login = json.loads(await ws.recv())
            req = login.get("LoginReq", {})
            self.logins.append(login)
            if req.get("MsgCode") != 42 or req.get("Token") != self.token or req.get("ClientId") != self.client_id:
                await ws.close(1008, "login refused")
                return
            self._ws_conns.add(ws)
            await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            self._ws_conns.discard(ws)

    # Steering ----------------------------------------------------------------------------------
    def reject_next(self, code: str, message: str, http_status: int = 400) -> None:
        self._reject.append((http_status, code, message))

    def drop_next(self, *, record: bool) -> None:
        """The next POST /orders gets no answer: the connection closes (after recording the order
        when ``record``)."""
        self._drop.append(record)

    def expire_token(self) -> None:
        self.token_expired = True

    def set_stream(self, enabled: bool) -> None:
        self.stream_enabled = enabled
        if not enabled and self._loop is not None:
            for ws in list(self._ws_conns):
                asyncio.run_coroutine_threadsafe(ws.close(1001, "going away"), self._loop)

    @property
    def stream_clients(self) -> int:
        return len(self._ws_conns)

    def order_by_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [o for o in self.orders.values() if o["correlationId"] == correlation_id]

    def place_requests(self) -> list[dict[str, Any]]:
        return [body for method, path, body in self.requests if method == "POST" and path == "/v2/orders"]

    def trade(self, order_id: str, qty_units: int, price_paise: int) -> None:
        """A trade of ``qty_units`` at ``price_paise`` on an open order (pushed on the stream)."""
        with self.lock:
            row = self.orders[order_id]
            filled = row["filledQty"] + qty_units
            assert filled <= row["quantity"], "fake: overfill"
            value = Decimal(str(row["averageTradedPrice"])) * row["filledQty"] + Decimal(price_paise) / 100 * qty_units
            row["filledQty"] = filled
            row["remainingQuantity"] = row["quantity"] - filled
            row["averageTradedPrice"] = float((value / filled).quantize(Decimal("0.01")))
            row["tradedPrice"] = _rupees(price_paise)
            row["orderStatus"] = "TRADED" if filled == row["quantity"] else "PART_TRADED"
        self.push(order_id)

    def set_status(self, order_id: str, status: str, reason: str = "") -> None:
        with self.lock:
            self.orders[order_id]["orderStatus"] = status
            self.orders[order_id]["omsErrorDescription"] = reason
        self.push(order_id)

    def push(self, order_id: str) -> None:
        with self.lock:
            row = dict(self.orders[order_id])
        data = {"Exchange": row["exchangeSegment"][:3], "Segment": "D", "Source": "P", "SecurityId": row["securityId"],
                "ClientId": self.client_id, "OrderNo": row["orderId"], "CorrelationId": row["correlationId"],
                "TxnType": row["transactionType"][0], "OrderType": "LMT", "Quantity": row["quantity"],
                "TradedQty": row["filledQty"], "RemainingQuantity": row["remainingQuantity"],
                "Price": row["price"], "TradedPrice": row["tradedPrice"], "AvgTradedPrice": row["averageTradedPrice"],
                "Status": _STREAM_STATUS[row["orderStatus"]], "ReasonDescription": row["omsErrorDescription"],
                "refLtp": 0}
        text = json.dumps({"Type": "order_alert", "Data": data})
        if self._loop is not None:
            for ws in list(self._ws_conns):
                asyncio.run_coroutine_threadsafe(ws.send(text), self._loop).result(2)

    # REST (called on the HTTP server's threads) --------------------------------------------------
    def handle(self, method: str, path: str, headers: Any, body: dict[str, Any]) -> tuple[int, Any] | None:
        self.requests.append((method, path, body))
        if self.token_expired or headers.get("access-token") != self.token:
            return 401, {"errorType": "Invalid_Authentication", "errorCode": "DH-901",
                         "errorMessage": "Client ID or user generated access token is invalid or expired."}
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["v2", "fundlimit"]:
            return 200, {"dhanClientId": self.client_id, "availabelBalance": self.funds_rupees,
                         "sodLimit": self.funds_rupees, "collateralAmount": 0.0, "receiveableAmount": 0.0,
                         "utilizedAmount": 0.0, "blockedPayoutAmount": 0.0, "withdrawableBalance": self.funds_rupees}
        if method == "POST" and parts == ["v2", "orders"]:
            if self._drop:
                if self._drop.pop(0):
                    self._new_order(body)
                return None
            if self._reject:
                status, code, message = self._reject.pop(0)
                return status, {"errorType": "Order_Error", "errorCode": code, "errorMessage": message}
            order_id = self._new_order(body)
            return 200, {"orderId": order_id, "orderStatus": "PENDING"}
        if method == "GET" and parts == ["v2", "orders"]:
            with self.lock:
                return 200, [dict(o) for o in self.orders.values()]
        if method == "GET" and parts[:3] == ["v2", "orders", "external"] and len(parts) == 4:
            found = self.order_by_correlation(parts[3])
            if not found:
                return 404, {"errorType": "Order_Error", "errorCode": "DH-906", "errorMessage": "Order not found"}
            return 200, found
        if len(parts) == 3 and parts[:2] == ["v2", "orders"]:
            order_id = parts[2]
            with self.lock:
                row = self.orders.get(order_id)
            if row is None:
                return 404, {"errorType": "Order_Error", "errorCode": "DH-906", "errorMessage": "Order not found"}
            if method == "GET":
                return 200, dict(row)
            if row["orderStatus"] not in ("PENDING", "PART_TRADED", "TRANSIT"):
                return 400, {"errorType": "Order_Error", "errorCode": "DH-906",
                             "errorMessage": f"Order is {row['orderStatus']}: cannot be changed"}
            if method == "DELETE":
                self.set_status(order_id, "CANCELLED")
                return 202, {"orderId": order_id, "orderStatus": "CANCELLED"}
            if method == "PUT":
                with self.lock:
                    row["quantity"] = body["quantity"]
                    row["price"] = body["price"]
                    row["triggerPrice"] = body["triggerPrice"]
                    row["modifications"] = row.get("modifications", 0) + 1
                    too_many = row["modifications"] > 25
                if too_many:
                    return 400, {"errorType": "Order_Error", "errorCode": "DH-906",
                                 "errorMessage": "Order modification limit exceeded"}
                self.push(order_id)
                return 200, {"orderId": order_id, "orderStatus": row["orderStatus"]}
        return 404, {"errorType": "Input_Exception", "errorCode": "DH-905", "errorMessage": f"no route {path}"}

    def add_order(self, correlation_id: str, qty_units: int, price_paise: int, security_id: int = 55796) -> str:
        """An order Dhan already holds (as if placed before a restart); returns its order id."""
        return self._new_order({"correlationId": correlation_id, "transactionType": "BUY",
                                "exchangeSegment": "NSE_FNO", "productType": "INTRADAY", "orderType": "LIMIT",
                                "validity": "DAY", "securityId": str(security_id), "quantity": qty_units,
                                "price": _rupees(price_paise), "triggerPrice": 0.0})

    def _new_order(self, body: dict[str, Any]) -> str:
        with self.lock:
            order_id = str(self._next_id)
            self._next_id += 1
            self.orders[order_id] = {
                "orderId": order_id, "correlationId": body.get("correlationId", ""), "orderStatus": "PENDING",
                "transactionType": body["transactionType"], "exchangeSegment": body["exchangeSegment"],
                "productType": body["productType"], "orderType": body["orderType"], "validity": body["validity"],
                "securityId": body["securityId"], "quantity": body["quantity"], "price": body["price"],
                "triggerPrice": body["triggerPrice"], "filledQty": 0, "remainingQuantity": body["quantity"],
                "averageTradedPrice": 0.0, "tradedPrice": 0.0, "omsErrorDescription": "", "omsErrorCode": "",
            }
        self.push(order_id)
        return order_id


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeDhan
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the request line is no secret, but keep test output quiet

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        answer = self.server_fake.handle(method, self.path, self.headers, body)
        if answer is None:
            self.close_connection = True
            self.connection.close()
            return
        status, payload = answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")
