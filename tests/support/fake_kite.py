"""A loopback fake Kite Connect for the Kite venue's tests: the REST API with kiteconnect's URL
shapes (stdlib ``http.server`` in a thread; form-encoded bodies, ``X-Kite-Version: 3``,
``Authorization: token <api_key>:<access_token>``) and the ticker websocket's order postbacks
(``websockets``, its own loop thread), both on 127.0.0.1, driven through the real ``kiteconnect``.

REST (docs/KITE_PROTOCOL.md section C): POST /session/token (the login: ``request_token`` from
``new_request_token()``, the checksum = SHA-256 of api_key + request_token + api_secret), POST
/orders/{variety}, PUT and DELETE /orders/{variety}/{order_id}, GET /orders, GET /trades, GET
/portfolio/positions (``net`` netted from the trades per instrument and product, ``day`` the same),
PUT /portfolio/positions (a conversion of today's position), GET /user/margins (``equity.net`` =
``funds_rupees``), POST /margins/orders (JSON: ``total`` =
``margin_rate`` x qty x price). Answers ``{"status": "success", "data": ...}``; errors
``{"status": "error", "error_type": ..., "message": ...}`` with Kite's HTTP statuses. A missing or
wrong token: 403 TokenException.

Steering: ``reject_next(error_type, message, http_status)``, ``drop_next(record=...)`` (close the
connection without an answer, after or before recording the order), ``set_down(True)`` (every REST
request is dropped unanswered), ``trade(order_id, qty, price)`` (a trade: OPEN with a fill, then
COMPLETE; a postback each), ``external_order(...)`` (an order placed on kite.zerodha.com),
``carry_position(...)``, ``invalidate_token()`` (a logout: the token is refused from then on and
ticker connections with it are closed), ``set_ticker(enabled)`` (close and refuse connections),
``mute_ticker(True)`` (connections stay open but nothing, not even a heartbeat, is sent: a
vanished ticker). ``modifications`` counts the PUTs per order (the 26th is refused).

Ticker: ``wss://.../?api_key=&access_token=`` (a wrong token is refused at the handshake with HTTP
403); a 1-byte heartbeat every ``heartbeat_s``; every status change of every order as a text frame
``{"type": "order", "data": {...}}`` (the order-book row).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

API_KEY = "kitekey7x9q2"
API_SECRET = "kitesecret4f8h2k9z"
TOKEN = "kiteaccesstoken0a1b2c3d4e5f6g7h"
USER_ID = "ZX1234"
MAX_MODIFICATIONS = 25
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))

_LOG = logging.getLogger("tests.fake_kite")
_LOG.setLevel(logging.WARNING)


def _rupees(price_paise: int) -> float:
    return float(Decimal(price_paise) / 100)


def _now_text() -> str:
    return dt.datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S")


def _error(status: int, error_type: str, message: str) -> tuple[int, Any]:
    return status, {"status": "error", "error_type": error_type, "message": message, "data": None}


class FakeKite:
    """``with FakeKite() as fake``: ``rest_url`` and ``ticker_url`` to point the venue at."""

    def __init__(self, *, api_key: str = API_KEY, api_secret: str = API_SECRET, token: str = TOKEN,
                 heartbeat_s: float = 0.05) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.token = token
        self.heartbeat_s = heartbeat_s
        self.lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}  # order id -> row (as GET /orders)
        self.trades: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # (method, path, body)
        self.modifications: dict[str, int] = {}
        self.carried: dict[tuple[str, str, str], int] = {}  # (exchange, symbol, product) -> net qty
        self.request_tokens: set[str] = set()
        self.logins: list[dict[str, Any]] = []
        self.funds_rupees = 250000.55
        self.margin_rate = Decimal("0.2")
        self.down = False
        self.ticker_enabled = True
        self.ticker_muted = False
        self._reject: list[tuple[int, str, str]] = []
        self._drop: list[bool] = []
        self._next_id = 261207000000001
        self._next_trade = 50_000_001
        self._http: ThreadingHTTPServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws_conns: dict[ServerConnection, str] = {}  # -> the token it connected with
        self._ready = threading.Event()
        self.http_port = 0
        self.ws_port = 0
        self.ticker_connects = 0

    # Lifecycle ---------------------------------------------------------------------------------
    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ticker_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/"

    def __enter__(self) -> "FakeKite":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._http = _QuietServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, name="fake-kite-http", daemon=True).start()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._ws_run, name="fake-kite-ws", daemon=True).start()
        if not self._ready.wait(5):
            raise RuntimeError("fake Kite ticker did not start")

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop_ws.set)

    # Ticker ------------------------------------------------------------------------------------
    def _ws_run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._ws_main())  # type: ignore[union-attr]

    async def _ws_main(self) -> None:
        self._stop_ws = asyncio.Event()
        async with serve(self._ws_handler, "127.0.0.1", 0, logger=_LOG, compression=None,
                         process_request=self._ws_check) as server:
            self.ws_port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop_ws.wait()

    def _ws_check(self, conn: ServerConnection, request: Request) -> Response | None:
        query = parse_qs(urlsplit(request.path).query)
        key = query.get("api_key", [""])[0]
        token = query.get("access_token", [""])[0]
        if not self.ticker_enabled:
            return Response(503, "Service Unavailable", Headers(), b"ticker down")
        if key != self.api_key or token != self.token:
            return Response(403, "Forbidden", Headers(), b"invalid api_key or access_token")
        return None

    async def _ws_handler(self, ws: ServerConnection) -> None:
        token = parse_qs(urlsplit(ws.request.path).query).get("access_token", [""])[0]  # type: ignore[union-attr]
        self._ws_conns[ws] = token
        self.ticker_connects += 1
        try:
            while True:
                if not self.ticker_muted:
                    await ws.send(b"\x00")  # a heartbeat
                try:
                    await asyncio.wait_for(ws.recv(), self.heartbeat_s)
                except TimeoutError:
                    pass
        except ConnectionClosed:
            pass
        finally:
            self._ws_conns.pop(ws, None)

    def push(self, order_id: str) -> None:
        """A postback of the order's current row on every ticker connection."""
        if self._loop is None or self.ticker_muted:
            return
        with self.lock:
            frame = json.dumps({"type": "order", "id": "", "data": dict(self.orders[order_id])})
        for ws in list(self._ws_conns):
            asyncio.run_coroutine_threadsafe(self._send(ws, frame), self._loop)

    async def _send(self, ws: ServerConnection, frame: str) -> None:
        try:
            await ws.send(frame)
        except ConnectionClosed:
            pass

    # Steering ----------------------------------------------------------------------------------
    def reject_next(self, error_type: str, message: str, http_status: int = 400) -> None:
        self._reject.append((http_status, error_type, message))

    def drop_next(self, *, record: bool) -> None:
        """The next POST /orders gets no answer (after recording the order when ``record``)."""
        self._drop.append(record)

    def set_down(self, down: bool) -> None:
        self.down = down

    def invalidate_token(self) -> None:
        """A logout (or a login elsewhere): the token in use is refused from now on."""
        self.token = ""
        self._close_ticker(1008, "token invalidated")

    def set_ticker(self, enabled: bool) -> None:
        self.ticker_enabled = enabled
        if not enabled:
            self._close_ticker(1001, "going away")

    def mute_ticker(self, muted: bool) -> None:
        self.ticker_muted = muted

    def _close_ticker(self, code: int, why: str) -> None:
        if self._loop is not None:
            for ws in list(self._ws_conns):
                asyncio.run_coroutine_threadsafe(ws.close(code, why), self._loop)

    @property
    def ticker_clients(self) -> int:
        return len(self._ws_conns)

    def new_request_token(self) -> str:
        """What Kite's login page puts in the redirect (valid once)."""
        token = f"reqtok{len(self.request_tokens) + 1:04d}"
        self.request_tokens.add(token)
        return token

    def carry_position(self, exchange: str, symbol: str, product: str, net_qty_units: int) -> None:
        self.carried[(exchange, symbol, product)] = net_qty_units

    def requests_of(self, method: str, prefix: str) -> list[dict[str, Any]]:
        return [body for m, path, body in list(self.requests) if m == method and path.startswith(prefix)]

    def place_requests(self) -> list[dict[str, Any]]:
        return [body for method, path, body in list(self.requests) if method == "POST" and path.startswith("/orders/")]

    def orders_tagged(self, tag: str) -> list[dict[str, Any]]:
        with self.lock:
            return [o for o in self.orders.values() if o.get("tag") == tag]

    def trade(self, order_id: str, qty_units: int, price_paise: int, *, push: bool = True) -> None:
        """A trade on an open order: a trade-book row, the order's fill (COMPLETE when whole), a postback."""
        with self.lock:
            row = self.orders[order_id]
            self.trades.append({
                "trade_id": str(self._next_trade), "order_id": order_id, "exchange_order_id": f"1100{order_id}",
                "exchange": row["exchange"], "tradingsymbol": row["tradingsymbol"],
                "instrument_token": row["instrument_token"], "product": row["product"],
                "average_price": _rupees(price_paise), "quantity": qty_units, "transaction_type": row["transaction_type"],
                "fill_timestamp": _now_text(), "exchange_timestamp": _now_text(), "order_timestamp": _now_text()})
            self._next_trade += 1
            before, value = row["filled_quantity"], Decimal(str(row["average_price"])) * row["filled_quantity"]
            filled = before + qty_units
            row["filled_quantity"] = filled
            row["pending_quantity"] = row["quantity"] - filled
            row["average_price"] = float(((value + Decimal(price_paise) / 100 * qty_units) / filled).quantize(
                Decimal("0.0001")))
            row["status"] = "COMPLETE" if filled >= row["quantity"] else "OPEN"
            row["exchange_update_timestamp"] = _now_text()
        if push:
            self.push(order_id)

    def set_status(self, order_id: str, status: str, message: str = "", *, push: bool = True) -> None:
        with self.lock:
            row = self.orders[order_id]
            row["status"] = status
            row["status_message"] = message or None
        if push:
            self.push(order_id)

    def external_order(self, symbol: str, qty_units: int, price_paise: int, *, side: str = "BUY",
                       exchange: str = "NFO", product: str = "NRML") -> str:
        """An order placed outside Shikra (kite.zerodha.com): no tag, pushed like any other."""
        body = dict(exchange=exchange, tradingsymbol=symbol, transaction_type=side, quantity=str(qty_units),
                    product=product, order_type="LIMIT", price=str(_rupees(price_paise)), validity="DAY")
        oid = self._new_order("regular", body)
        return oid

    def positions_net(self, key: tuple[str, str, str]) -> int:
        """The net quantity of (exchange, symbol, product) as GET /portfolio/positions has it."""
        return sum(row["quantity"] for row in self.positions()["net"]
                   if (row["exchange"], row["tradingsymbol"], row["product"]) == key)

    def positions(self) -> dict[str, list[dict[str, Any]]]:
        nets: dict[tuple[str, str, str], list[int]] = {}
        with self.lock:
            for t in self.trades:
                key = (t["exchange"], t["tradingsymbol"], t["product"])
                acc = nets.setdefault(key, [0, 0])
                acc[0 if t["transaction_type"] == "BUY" else 1] += t["quantity"]
            for key, qty in self.carried.items():
                acc = nets.setdefault(key, [0, 0])
                acc[0 if qty > 0 else 1] += abs(qty)
        rows = [{"exchange": ex, "tradingsymbol": sym, "product": prod, "instrument_token": 0,
                 "quantity": buy - sell, "buy_quantity": buy, "sell_quantity": sell}
                for (ex, sym, prod), (buy, sell) in nets.items()]
        return {"net": rows, "day": rows}

    # REST --------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Any, body: dict[str, Any]) -> tuple[int, Any] | None:
        route = urlsplit(path).path
        self.requests.append((method, route, body))
        if self.down:
            return None
        if route == "/session/token" and method == "POST":
            return self._login(body)
        if headers.get("Authorization") != f"token {self.api_key}:{self.token}" or not self.token:
            return _error(403, "TokenException", "Incorrect `api_key` or `access_token`.")
        parts = route.strip("/").split("/")
        if parts[0] == "orders" and method == "POST" and len(parts) == 2:
            return self._place(parts[1], body)
        if parts[0] == "orders" and method in ("PUT", "DELETE") and len(parts) == 3:
            return self._change(method, parts[2], body)
        if route == "/orders" and method == "GET":
            with self.lock:
                return 200, {"status": "success", "data": [dict(o) for o in self.orders.values()]}
        if route == "/trades" and method == "GET":
            with self.lock:
                return 200, {"status": "success", "data": [dict(t) for t in self.trades]}
        if route == "/portfolio/positions" and method == "PUT":  # a conversion
            key = (body.get("exchange", ""), body.get("tradingsymbol", ""), body.get("old_product", ""))
            sign = 1 if body.get("transaction_type") == "BUY" else -1
            qty = sign * int(body.get("quantity", 0))
            if body.get("position_type") != "day" or abs(self.positions_net(key)) < abs(qty):
                return _error(400, "InputException", "Position not found or quantity exceeds the open position.")
            new_key = (key[0], key[1], body.get("new_product", ""))
            self.carried[key] = self.carried.get(key, 0) - qty
            self.carried[new_key] = self.carried.get(new_key, 0) + qty
            return 200, {"status": "success", "data": True}
        if route == "/portfolio/positions":
            return 200, {"status": "success", "data": self.positions()}
        if route == "/user/margins":
            net = self.funds_rupees
            return 200, {"status": "success", "data": {
                "equity": {"enabled": True, "net": net, "available": {"opening_balance": net, "live_balance": net,
                                                                     "cash": net},
                           "utilised": {"debits": 0.0}},
                "commodity": {"enabled": False, "net": 0.0, "available": {}, "utilised": {}}}}
        if route == "/margins/orders" and method == "POST":
            rows = body if isinstance(body, list) else []
            return 200, {"status": "success", "data": [
                {"type": "equity", "tradingsymbol": r.get("tradingsymbol"), "exchange": r.get("exchange"),
                 "total": float(self.margin_rate * Decimal(str(r.get("quantity", 0))) * Decimal(str(r.get("price", 0)))),
                 "charges": {"brokerage": 20.0}} for r in rows]}
        return _error(404, "GeneralException", f"route not found: {method} {route}")

    def _login(self, body: dict[str, Any]) -> tuple[int, Any]:
        self.logins.append(body)
        request_token = str(body.get("request_token", ""))
        expected = hashlib.sha256((self.api_key + request_token + self.api_secret).encode()).hexdigest()
        if body.get("api_key") != self.api_key or request_token not in self.request_tokens:
            return _error(403, "TokenException", "Token is invalid or has expired.")
        if body.get("checksum") != expected:
            return _error(403, "TokenException", "Invalid checksum")
        self.request_tokens.discard(request_token)
        self.token = f"kiteaccess{len(self.logins):04d}{request_token}"
        self._close_ticker(1008, "token replaced")
        return 200, {"status": "success", "data": {
            "user_id": USER_ID, "user_name": "Test", "access_token": self.token, "public_token": "pub",
            "refresh_token": "", "login_time": _now_text(), "api_key": self.api_key}}

    def _place(self, variety: str, body: dict[str, Any]) -> tuple[int, Any] | None:
        if self._reject:
            status, error_type, message = self._reject.pop(0)
            return _error(status, error_type, message)
        tag = str(body.get("tag", ""))
        if tag and (len(tag) > 20 or not tag.isalnum()):
            return _error(400, "InputException", "Tag length should be less than 20 characters and alphanumeric.")
        drop = self._drop.pop(0) if self._drop else None
        if drop is False:
            return None
        oid = self._new_order(variety, body)
        if drop:
            return None
        return 200, {"status": "success", "data": {"order_id": oid}}

    def _new_order(self, variety: str, body: dict[str, Any]) -> str:
        with self.lock:
            oid = str(self._next_id)
            self._next_id += 1
            tag = body.get("tag") or None
            self.orders[oid] = {
                "order_id": oid, "exchange_order_id": None, "parent_order_id": None, "status": "OPEN",
                "status_message": None, "order_timestamp": _now_text(), "exchange_update_timestamp": _now_text(),
                "variety": variety, "exchange": body.get("exchange"), "tradingsymbol": body.get("tradingsymbol"),
                "instrument_token": 12345, "order_type": body.get("order_type"),
                "transaction_type": body.get("transaction_type"), "validity": body.get("validity", "DAY"),
                "product": body.get("product"), "quantity": int(body.get("quantity", 0)),
                "disclosed_quantity": 0, "price": float(body.get("price") or 0),
                "trigger_price": float(body.get("trigger_price") or 0), "average_price": 0.0,
                "filled_quantity": 0, "pending_quantity": int(body.get("quantity", 0)), "cancelled_quantity": 0,
                "tag": tag, "tags": [tag] if tag else [], "placed_by": USER_ID}
        self.push(oid)
        return oid

    def _change(self, method: str, order_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        if self._reject:
            status, error_type, message = self._reject.pop(0)
            return _error(status, error_type, message)
        with self.lock:
            row = self.orders.get(order_id)
            if row is None:
                return _error(400, "InputException", "Invalid `order_id`.")
            if row["status"] not in ("OPEN", "TRIGGER PENDING"):
                return _error(400, "OrderException", f"Order cannot be modified or cancelled as it is {row['status']}.")
            if method == "DELETE":
                row["status"] = "CANCELLED"
                row["cancelled_quantity"] = row["quantity"] - row["filled_quantity"]
            else:
                count = self.modifications.get(order_id, 0) + 1
                if count > MAX_MODIFICATIONS:
                    return _error(400, "OrderException", "Maximum allowed order modifications exceeded.")
                self.modifications[order_id] = count
                row["quantity"] = int(body.get("quantity", row["quantity"]))
                if "price" in body:
                    row["price"] = float(body["price"])
                if "trigger_price" in body:
                    row["trigger_price"] = float(body["trigger_price"])
        self.push(order_id)
        return 200, {"status": "success", "data": {"order_id": order_id}}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request is expected, not a server fault


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeKite
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = {}
        if method in ("GET", "DELETE"):
            body = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        elif "json" in (self.headers.get("Content-Type") or ""):
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
        else:
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        answer = self.server_fake.handle(method, self.path, self.headers, body)
        if answer is None:
            self.close_connection = True
            self.connection.close()
            return
        status, payload = answer
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

