"""A loopback fake Dhan for the live venue's tests: REST v2 order endpoints over HTTP (stdlib
``http.server`` in a thread) and the order-update websocket (``websockets``, its own loop thread),
both on 127.0.0.1, driven through the real ``dhanhq`` package.

REST: POST /v2/orders, GET /v2/orders, GET /v2/orders/{id}, GET /v2/orders/external/{corr},
PUT /v2/orders/{id}, DELETE /v2/orders/{id}, GET /v2/trades[/{order id}] (the trade book: one row
per ``trade()``), GET /v2/positions (netted from the trades, per instrument and product, plus any
``carry_position``, moved between products by conversions), POST /v2/positions/convert (checks
the position exists in ``fromProductType`` on the ``positionType`` side with ``convertQty`` units,
else HTTP 400 DH-905), GET /v2/fundlimit, POST /v2/margincalculator (``margin_rate`` of the order's
value). A wrong ``access-token`` header (or ``expire_token()``) gets HTTP 401 with DH-901.
Steering: ``reject_next(code, message)``, ``drop_next(record=...)`` (close the connection without
an answer, after or before recording the order), ``hold_next_place()`` (record the order, then
keep the request unanswered until ``release_holds()``: a client killed meanwhile never hears
back), ``set_down(True)`` (every REST request is dropped unanswered: Dhan unreachable),
``trade(order_id, qty_units, price_paise)`` (a trade: pushes PART_TRADED / TRADED),
``external_order(...)`` (an order placed on web.dhan.co), ``set_stream(enabled)`` (close and
refuse order-update connections).

Stop orders (``STOP_LOSS`` / ``STOP_LOSS_MARKET``) rest PENDING with their ``triggerPrice`` until
the test moves the market through it: ``trigger_stops(ltp_paise)`` trades every resting stop whose
trigger the price crossed (a SELL stop at or below its trigger, a BUY stop at or above), an SL-M
at that price and an SL at its limit; ``resting_stops()`` lists them. ``modifications`` counts the
PUTs an order took (Dhan refuses the 26th with DH-906).

Order updates: after the login frame (checked), every status change of every order is pushed as
``{"Type":"order_alert","Data":{...}}`` with PascalCase keys and title-case statuses ("Pending",
"Traded") as the real samples show.

Broker session (DHAN_PROTOCOL.md section G): the auth host on the same server (``auth_url``):
POST /app/generateAccessToken?dhanClientId=&pin=&totp= checks the PIN and the TOTP (pyotp against
``totp_secret``, on ``now_s``'s clock, one window either side; a code is single-use) and issues a new token
(a JWT whose ``exp`` is ``token_lifetime_s`` away, ``expiryTime`` in IST); GET /v2/RenewToken
renews a still-valid token. A new token replaces the old one (``revoke_on_login``: the old one is
refused from then on and order-update streams logged in with it are closed). ``wrong_pins_to_lock``
wrong PINs in a row lock the account (``lock_account()`` at once); every login is in ``auth_calls``.
Tokens expire ``token_lifetime_s`` after issue (the initial token too, counted from ``start()``).
``now_s`` is Dhan's clock (the wall clock by default): a test on a simulated clock passes its own,
so that TOTP codes and token expiries agree with the engine's time, as a real Dhan's agree with a
real engine's.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pyotp
from urllib.parse import parse_qs, urlsplit
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

TOKEN = "eyJ0eXAiOiJKV1QifQ.fake-dhan-order-token.c2lnbmF0dXJl"
CLIENT_ID = "1100998877"
PIN = "482916"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # base32, as Dhan's QR code holds
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


def make_token(client_id: str, expires_s: int, serial: int) -> str:
    """A JWT-shaped token with an ``exp`` claim (unsigned: the fake only compares strings)."""
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{part({'typ': 'JWT', 'alg': 'HS512'})}.{part({'dhanClientId': client_id, 'exp': expires_s, 'n': serial})}" \
           f".c2lnbmF0dXJl{serial}"

_LOG = logging.getLogger("tests.fake_dhan")
_LOG.setLevel(logging.WARNING)

_STREAM_ORDER_TYPE = {"LIMIT": "LMT", "MARKET": "MKT", "STOP_LOSS": "SL", "STOP_LOSS_MARKET": "SLM"}
_STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_MARKET"})
_STREAM_STATUS = {"PENDING": "Pending", "TRANSIT": "Transit", "PART_TRADED": "Part_Traded", "TRADED": "Traded",
                  "CANCELLED": "Cancelled", "REJECTED": "Rejected", "EXPIRED": "Expired"}


def _rupees(price_paise: int) -> float:
    return float(Decimal(price_paise) / 100)


class FakeDhan:
    """``with FakeDhan() as fake``: ``rest_url`` and ``ws_url`` to point the venue at."""

    def __init__(self, *, token: str = TOKEN, client_id: str = CLIENT_ID, pin: str = PIN,
                 totp_secret: str = TOTP_SECRET, token_lifetime_s: float = 86400.0,
                 revoke_on_login: bool = True, wrong_pins_to_lock: int = 3,
                 now_s: Callable[[], float] = time.time) -> None:
        self.now_s = now_s
        self.token = token
        self.client_id = client_id
        self.pin = pin
        self.totp_secret = totp_secret
        self.token_lifetime_s = token_lifetime_s
        self.revoke_on_login = revoke_on_login
        self.wrong_pins_to_lock = wrong_pins_to_lock
        self.tokens: dict[str, float] = {}  # valid token -> expiry (now_s's clock, s)
        self.auth_calls: list[tuple[str, int]] = []  # (endpoint, HTTP status)
        self.issued: list[str] = []  # tokens issued by login or renewal, in order
        self.locked = False
        self._wrong_pins = 0
        self._used_totps: set[str] = set()
        # Called (on the HTTP thread) when a login or renewal is granted: ``before_issue`` while the
        # old token still works, ``on_issue`` right after the new one replaced it, before it is
        # answered (a test's trade "around the renewal", while no stream holds the new token yet).
        self.before_issue: list[Callable[[], None]] = []
        self.on_issue: list[Callable[[], None]] = []
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
        self.margin_rate = Decimal("0.2")  # POST /margincalculator: totalMargin = rate x qty x price
        self.trades: list[dict[str, Any]] = []  # GET /trades rows
        self.carried: dict[tuple[str, str], int] = {}  # (segment, security id) -> net qty from before today
        self.converted: dict[tuple[str, str, str], int] = {}  # (segment, security id, product) -> units moved in
        self.down = False
        self._next_trade = 90_000_001
        self._hold_next = 0
        self._held: list[threading.Event] = []
        self._http: ThreadingHTTPServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws_conns: dict[ServerConnection, str] = {}  # -> the token it logged in with
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

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def token_ok(self, token: str) -> bool:
        """A token the fake would accept now (issued, not replaced, not expired)."""
        with self.lock:
            expiry = self.tokens.get(token)
        return expiry is not None and self.now_s() < expiry and not self.token_expired

    def issue_token(self, lifetime_s: float | None = None) -> str:
        """A new token (as a login would give), replacing the old ones when ``revoke_on_login``."""
        lifetime = self.token_lifetime_s if lifetime_s is None else lifetime_s
        expires = self.now_s() + lifetime
        with self.lock:
            token = make_token(self.client_id, int(expires), len(self.issued) + 1)
            if self.revoke_on_login:
                self.tokens.clear()
            self.tokens[token] = expires
            self.token = token
            self.issued.append(token)
            self.token_expired = False
        if self.revoke_on_login and self._loop is not None:
            for ws, used in list(self._ws_conns.items()):
                if used != token:  # logged in with a token that is no longer valid
                    asyncio.run_coroutine_threadsafe(ws.close(1008, "token replaced"), self._loop)
        return token

    def lock_account(self) -> None:
        self.locked = True

    def __enter__(self) -> "FakeDhan":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self
        self.tokens[self.token] = self.now_s() + self.token_lifetime_s

        class Handler(_Handler):
            server_fake = fake

        self._http = _QuietServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, name="fake-dhan-http", daemon=True).start()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._ws_run, name="fake-dhan-ws", daemon=True).start()
        if not self._ready.wait(5):
            raise RuntimeError("fake Dhan websocket did not start")

    def stop(self) -> None:
        self.release_holds()
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
            if req.get("MsgCode") != 42 or not self.token_ok(str(req.get("Token"))) \
                    or req.get("ClientId") != self.client_id:
                await ws.close(1008, "login refused")
                return
            self._ws_conns[ws] = str(req.get("Token"))
            await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            self._ws_conns.pop(ws, None)

    # Steering ----------------------------------------------------------------------------------
    def reject_next(self, code: str, message: str, http_status: int = 400) -> None:
        self._reject.append((http_status, code, message))

    def drop_next(self, *, record: bool) -> None:
        """The next POST /orders gets no answer: the connection closes (after recording the order
        when ``record``)."""
        self._drop.append(record)

    def expire_token(self) -> None:
        self.token_expired = True

    def hold_next_place(self) -> None:
        """The next POST /orders records the order and then waits for ``release_holds()``."""
        self._hold_next += 1

    @property
    def holding(self) -> int:
        return len(self._held)

    def release_holds(self) -> None:
        for event in self._held:
            event.set()

    def set_down(self, down: bool) -> None:
        self.down = down

    def convert_requests(self) -> list[dict[str, Any]]:
        return self.requests_of("POST", "/v2/positions/convert")

    def carry_position(self, segment: str, security_id: int, net_qty_units: int) -> None:
        """A position the account holds from before today (no trade today explains it)."""
        self.carried[(segment, str(security_id))] = net_qty_units

    def requests_of(self, method: str, prefix: str) -> list[dict[str, Any]]:
        return [body for m, path, body in list(self.requests) if m == method and path.startswith(prefix)]

    def set_stream(self, enabled: bool) -> None:
        self.stream_enabled = enabled
        if not enabled and self._loop is not None:
            for ws in list(self._ws_conns):
                asyncio.run_coroutine_threadsafe(ws.close(1001, "going away"), self._loop)

    @property
    def stream_clients(self) -> int:
        return len(self._ws_conns)

    @property
    def stream_tokens(self) -> list[str]:
        """The token each open order-update connection logged in with."""
        return list(self._ws_conns.values())

    def order_by_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [o for o in self.orders.values() if o["correlationId"] == correlation_id]

    def place_requests(self) -> list[dict[str, Any]]:
        return [body for method, path, body in self.requests if method == "POST" and path == "/v2/orders"]

    def trade(self, order_id: str, qty_units: int, price_paise: int, *, push: bool = True) -> None:
        """A trade of ``qty_units`` at ``price_paise`` on an open order: a trade-book row, and
        (``push``) an order update on the stream."""
        with self.lock:
            row = self.orders[order_id]
            self.trades.append({
                "dhanClientId": self.client_id, "orderId": order_id, "exchangeOrderId": f"1100{order_id}",
                "exchangeTradeId": str(self._next_trade), "transactionType": row["transactionType"],
                "exchangeSegment": row["exchangeSegment"], "productType": row["productType"],
                "orderType": row["orderType"], "tradingSymbol": row.get("tradingSymbol", ""),
                "securityId": row["securityId"], "tradedQuantity": qty_units, "tradedPrice": _rupees(price_paise),
                "createTime": "2026-11-20 10:00:00", "updateTime": "2026-11-20 10:00:00",
                "exchangeTime": "2026-11-20 10:00:00", "drvExpiryDate": "NA", "drvOptionType": "NA",
                "drvStrikePrice": 0.0})
            self._next_trade += 1
            filled = row["filledQty"] + qty_units
            assert filled <= row["quantity"], "fake: overfill"
            value = Decimal(str(row["averageTradedPrice"])) * row["filledQty"] + Decimal(price_paise) / 100 * qty_units
            row["filledQty"] = filled
            row["remainingQuantity"] = row["quantity"] - filled
            row["averageTradedPrice"] = float((value / filled).quantize(Decimal("0.01")))
            row["tradedPrice"] = _rupees(price_paise)
            row["orderStatus"] = "TRADED" if filled == row["quantity"] else "PART_TRADED"
        if push:
            self.push(order_id)

    def resting_stops(self) -> list[dict[str, Any]]:
        """The stop orders Dhan holds open (untriggered), as GET /orders rows."""
        with self.lock:
            return [dict(o) for o in self.orders.values()
                    if o["orderType"] in _STOP_TYPES and o["orderStatus"] in ("PENDING", "TRANSIT")]

    def trigger_stops(self, ltp_paise: int) -> list[str]:
        """The market trades at ``ltp_paise``: every resting stop it crossed triggers and trades in
        full (SL-M at ``ltp_paise``, SL at its limit); returns their order ids."""
        fired = []
        for row in self.resting_stops():
            trigger = round(Decimal(str(row["triggerPrice"])) * 100)
            crossed = ltp_paise <= trigger if row["transactionType"] == "SELL" else ltp_paise >= trigger
            if not crossed:
                continue
            price = ltp_paise if row["orderType"] == "STOP_LOSS_MARKET" else round(Decimal(str(row["price"])) * 100)
            self.trade(row["orderId"], row["remainingQuantity"], price)
            fired.append(row["orderId"])
        return fired

    def set_status(self, order_id: str, status: str, reason: str = "", *, push: bool = True) -> None:
        with self.lock:
            self.orders[order_id]["orderStatus"] = status
            self.orders[order_id]["omsErrorDescription"] = reason
        if push:
            self.push(order_id)

    def positions(self) -> list[dict[str, Any]]:
        """GET /positions: today's trades netted per instrument and product, plus carried ones."""
        with self.lock:
            trades = list(self.trades)
            carried = dict(self.carried)
            converted = dict(self.converted)
        book: dict[tuple[str, str, str], dict[str, Decimal]] = {}
        for t in trades:
            key = (t["exchangeSegment"], t["securityId"], t["productType"])
            p = book.setdefault(key, {"buyQty": Decimal(0), "sellQty": Decimal(0), "buyValue": Decimal(0),
                                      "sellValue": Decimal(0)})
            side = "buy" if t["transactionType"] == "BUY" else "sell"
            p[f"{side}Qty"] += t["tradedQuantity"]
            p[f"{side}Value"] += Decimal(str(t["tradedPrice"])) * t["tradedQuantity"]
        for key in converted:  # a product that holds only converted units has a row too
            book.setdefault(key, {"buyQty": Decimal(0), "sellQty": Decimal(0), "buyValue": Decimal(0),
                                  "sellValue": Decimal(0)})
        rows = []
        for (segment, security_id, product), p in sorted(book.items()):
            net = (int(p["buyQty"] - p["sellQty"]) + carried.pop((segment, security_id), 0)
                   + converted.get((segment, security_id, product), 0))
            rows.append(self._position_row(segment, security_id, product, net, p))
        for (segment, security_id), net in sorted(carried.items()):
            rows.append(self._position_row(segment, security_id, "MARGIN", net, {}))
        return rows

    def _position_row(self, segment: str, security_id: str, product: str, net: int,
                      p: dict[str, Decimal]) -> dict[str, Any]:
        buy_qty, sell_qty = int(p.get("buyQty", 0)), int(p.get("sellQty", 0))
        return {"dhanClientId": self.client_id, "tradingSymbol": f"SEC{security_id}", "securityId": security_id,
                "positionType": "LONG" if net > 0 else "SHORT" if net < 0 else "CLOSED",
                "exchangeSegment": segment, "productType": product,
                "buyAvg": float(p["buyValue"] / buy_qty) if buy_qty else 0.0, "buyQty": buy_qty,
                "costPrice": 0.0, "sellAvg": float(p["sellValue"] / sell_qty) if sell_qty else 0.0,
                "sellQty": sell_qty, "netQty": net, "realizedProfit": 0.0, "unrealizedProfit": 0.0,
                "rbiReferenceRate": 1.0, "multiplier": 1, "carryForwardBuyQty": 0, "carryForwardSellQty": 0,
                "carryForwardBuyValue": 0.0, "carryForwardSellValue": 0.0, "dayBuyQty": buy_qty,
                "daySellQty": sell_qty, "dayBuyValue": float(p.get("buyValue", 0)),
                "daySellValue": float(p.get("sellValue", 0)), "drvExpiryDate": "NA", "drvOptionType": "NA",
                "drvStrikePrice": 0.0, "crossCurrency": False}

    def push(self, order_id: str) -> None:
        with self.lock:
            row = dict(self.orders[order_id])
        data = {"Exchange": row["exchangeSegment"][:3], "Segment": "D", "Source": "P", "SecurityId": row["securityId"],
                "ClientId": self.client_id, "OrderNo": row["orderId"], "CorrelationId": row["correlationId"],
                "TxnType": row["transactionType"][0], "OrderType": _STREAM_ORDER_TYPE[row["orderType"]],
                "Quantity": row["quantity"], "TriggerPrice": row["triggerPrice"],
                "TradedQty": row["filledQty"], "RemainingQuantity": row["remainingQuantity"],
                "Price": row["price"], "TradedPrice": row["tradedPrice"], "AvgTradedPrice": row["averageTradedPrice"],
                "Status": _STREAM_STATUS[row["orderStatus"]], "ReasonDescription": row["omsErrorDescription"],
                "refLtp": 0}
        text = json.dumps({"Type": "order_alert", "Data": data})
        if self._loop is not None:
            for ws in list(self._ws_conns):
                try:
                    asyncio.run_coroutine_threadsafe(ws.send(text), self._loop).result(2)
                except ConnectionClosed:
                    # A client that died without a close frame (kill -9): a real server drops it too.
                    self._ws_conns.pop(ws, None)

    # REST (called on the HTTP server's threads) --------------------------------------------------
    def handle(self, method: str, path: str, headers: Any, body: dict[str, Any]) -> tuple[int, Any] | None:
        self.requests.append((method, path, body))
        if self.down:
            return None
        if method == "POST" and urlsplit(path).path == "/app/generateAccessToken":
            answer = self._generate(parse_qs(urlsplit(path).query))
            self.auth_calls.append(("generateAccessToken", answer[0]))
            return answer
        if not self.token_ok(str(headers.get("access-token"))):
            if path == "/v2/RenewToken":
                self.auth_calls.append(("RenewToken", 401))
            return 401, {"errorType": "Invalid_Authentication", "errorCode": "DH-901",
                         "errorMessage": "Client ID or user generated access token is invalid or expired."}
        if method == "GET" and path == "/v2/RenewToken":
            self.auth_calls.append(("RenewToken", 200))
            return 200, self._token_answer(self._issued())
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["v2", "fundlimit"]:
            return 200, {"dhanClientId": self.client_id, "availabelBalance": self.funds_rupees,
                         "sodLimit": self.funds_rupees, "collateralAmount": 0.0, "receiveableAmount": 0.0,
                         "utilizedAmount": 0.0, "blockedPayoutAmount": 0.0, "withdrawableBalance": self.funds_rupees}
        if method == "GET" and parts == ["v2", "trades"]:
            with self.lock:
                return 200, [dict(t) for t in self.trades]
        if method == "GET" and parts[:2] == ["v2", "trades"] and len(parts) == 3:
            with self.lock:
                return 200, [dict(t) for t in self.trades if t["orderId"] == parts[2]]
        if method == "GET" and parts == ["v2", "positions"]:
            return 200, self.positions()
        if method == "POST" and parts == ["v2", "positions", "convert"]:
            return self._convert(body)
        if method == "POST" and parts == ["v2", "margincalculator"]:
            price = Decimal(str(body.get("price") or body.get("triggerPrice") or 0))
            total = (self.margin_rate * price * int(body["quantity"])).quantize(Decimal("0.01"))
            available = Decimal(str(self.funds_rupees))
            return 200, {"totalMargin": float(total), "spanMargin": float(total), "exposureMargin": 0.0,
                         "availableBalance": float(available), "variableMargin": 0.0,
                         "insufficientBalance": float(max(total - available, Decimal(0))), "brokerage": 20.0,
                         "leverage": "5.00"}
        if method == "POST" and parts == ["v2", "orders"]:
            if self._drop:
                if self._drop.pop(0):
                    self._new_order(body)
                return None
            if self._hold_next:
                self._hold_next -= 1
                order_id = self._new_order(body)
                event = threading.Event()
                self._held.append(event)
                event.wait(30)
                return 200, {"orderId": order_id, "orderStatus": "PENDING"}
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
                    row["remainingQuantity"] = body["quantity"] - row["filledQty"]
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

    def _generate(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        def refused(message: str) -> tuple[int, Any]:
            return 400, {"status": "error", "errorType": "Invalid_Authentication", "errorMessage": message}

        client_id, pin, totp = (query.get(k, [""])[0] for k in ("dhanClientId", "pin", "totp"))
        if client_id != self.client_id:
            return refused("Invalid client id")
        if self.locked:
            return refused("Your account is locked due to multiple failed attempts. Reset it on web.dhan.co")
        if pin != self.pin:
            self._wrong_pins += 1
            if self._wrong_pins >= self.wrong_pins_to_lock:
                self.locked = True
            return refused("Invalid PIN entered")
        self._wrong_pins = 0
        totp_ok = pyotp.TOTP(self.totp_secret).verify(totp, for_time=int(self.now_s()), valid_window=1)
        if totp in self._used_totps or not totp_ok:
            return refused("Invalid TOTP")
        self._used_totps.add(totp)
        return 200, self._token_answer(self._issued())

    def _issued(self) -> str:
        for hook in list(self.before_issue):
            hook()
        token = self.issue_token()
        for hook in list(self.on_issue):
            hook()
        return token

    def _token_answer(self, token: str) -> dict[str, Any]:
        with self.lock:
            expires = self.tokens[token]
        return {"dhanClientId": self.client_id, "dhanClientName": "FAKE TRADER", "dhanClientUcc": "FAKE1",
                "givenPowerOfAttorney": False, "accessToken": token,
                "expiryTime": dt.datetime.fromtimestamp(expires, IST).replace(tzinfo=None).isoformat(
                    timespec="milliseconds")}

    def _convert(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self._reject:
            status, code, message = self._reject.pop(0)
            return status, {"errorType": "Input_Exception", "errorCode": code, "errorMessage": message}
        segment, security_id = body["exchangeSegment"], str(body["securityId"])
        source, destination, qty = body["fromProductType"], body["toProductType"], int(body["convertQty"])
        held = next((row["netQty"] for row in self.positions() if (row["exchangeSegment"], row["securityId"],
                                                                     row["productType"]) == (segment, security_id,
                                                                                             source)), 0)
        side = "LONG" if held > 0 else "SHORT"
        if held == 0 or body["positionType"] != side or qty > abs(held) or source == destination:
            return 400, {"errorType": "Input_Exception", "errorCode": "DH-905",
                         "errorMessage": f"no {body['positionType']} {source} position of {qty} to convert"}
        moved = qty if held > 0 else -qty
        with self.lock:
            self.converted[(segment, security_id, source)] = self.converted.get((segment, security_id, source), 0) - moved
            self.converted[(segment, security_id, destination)] = (
                self.converted.get((segment, security_id, destination), 0) + moved)
        return 200, {"status": "success", "message": "Position converted"}

    def add_order(self, correlation_id: str, qty_units: int, price_paise: int, security_id: int = 55796, *,
                  segment: str = "NSE_FNO", side: str = "BUY", product: str = "INTRADAY", push: bool = True) -> str:
        """An order Dhan already holds (as if placed before a restart, or on web.dhan.co with
        any correlation id); returns its order id."""
        return self._new_order({"correlationId": correlation_id, "transactionType": side,
                                "exchangeSegment": segment, "productType": product, "orderType": "LIMIT",
                                "validity": "DAY", "securityId": str(security_id), "quantity": qty_units,
                                "price": _rupees(price_paise), "triggerPrice": 0.0}, push=push)

    def _new_order(self, body: dict[str, Any], push: bool = True) -> str:
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
                "tradingSymbol": f"SEC{body['securityId']}", "createTime": "2026-11-20 09:30:00",
                "updateTime": "2026-11-20 09:30:00", "exchangeTime": "2026-11-20 09:30:00",
            }
        if push:
            self.push(order_id)
        return order_id


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request (the kill -9 tests) is expected, not a server fault


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
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client went away (killed while its request was held)
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")
