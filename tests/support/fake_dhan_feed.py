"""A loopback Dhan market-feed server for tests: a real websocket server (websockets asyncio) on
127.0.0.1 that speaks the v2 protocol.

* The handshake must carry ``version=2``, ``authType=2``, ``token`` and ``clientId`` (missing or
  wrong version/authType: HTTP 400). The token is checked on every connect (``token``, or
  ``token_check`` to share the REST fake's tokens). A wrong token gets a disconnect packet 808 and a close
  (or, with ``auth_failure="http"``, HTTP 401 at the handshake); a wrong client id gets 810.
* Every JSON request is recorded. Subscriptions (15/17/21) add instruments and, like the real
  server, send one prev-close packet per instrument; 16/18/22 remove them; 12 closes.
* A stream task per connection sends, every ``stream_interval_s``, one packet per subscribed
  instrument in the subscribed mode (ticker/quote/full, built with ``actors.feed.wire``), one
  packet per frame unless told to stack several. Prices follow a deterministic plan per instrument.
* The server pings every ``ping_interval_s`` (the client's library must answer).
* Tests steer it synchronously: ``disconnect(code)``, ``go_silent()``, ``drop()``, ``stack(n)``.

It runs its own event loop in a thread, so a test drives it with plain calls
(``tests.support.loopback_ws``).
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Literal
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from actors.feed import wire
from ipc.segments import Segment
from tests.support.loopback_ws import LoopbackWebSocketServer

TOKEN = "eyJ0eXAiOiJKV1QifQ.fake-dhan-test-token.c2lnbmF0dXJl"
CLIENT_ID = "1100223344"
LTT_BASE_S = 1_767_000_000
SUBSCRIBE_MODES: dict[int, str] = {15: "ticker", 17: "quote", 21: "full"}
UNSUBSCRIBE_CODES = frozenset({16, 18, 22})
DISCONNECT_CODE = 12

# The server's own library logs (request lines with the token at DEBUG) are not the client's:
# keep them out of tests that look for the token in log records.
_LOG = logging.getLogger("tests.fake_dhan_feed")
_LOG.setLevel(logging.WARNING)


@dataclass
class SentPacket:
    """What one streamed packet said (for tests to compare decoded messages with)."""

    code: int
    segment: int
    security_id: int
    ltp_paise: int


@dataclass
class _Conn:
    index: int
    ws: ServerConnection
    subs: dict[tuple[int, int], int] = field(default_factory=dict)  # -> subscribe request code
    silent: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def packet_for(mode: str, segment: int, security_id: int, n: int) -> tuple[bytes, int]:
    """The ``n``-th streamed packet of an instrument and its LTP in paise."""
    ltp = 10_000 + (security_id % 1000) * 100 + 5 * n
    ltt = LTT_BASE_S + n
    if mode == "ticker":
        return wire.encode_ticker(segment, security_id, ltp, ltt), ltp
    trade = dict(ltp_paise=ltp, ltq_units=25 + n % 10, ltt_s=ltt, atp_paise=ltp - 5, volume_units=1000 + n,
                 total_sell_qty_units=500, total_buy_qty_units=600, open_paise=ltp - 100,
                 close_paise=0, high_paise=ltp + 50, low_paise=ltp - 150)
    if mode == "quote":
        return wire.encode_quote(segment, security_id, **trade), ltp
    return wire.encode_full(
        segment, security_id, **trade, oi_units=7_000 + n, oi_day_high_units=8_000, oi_day_low_units=6_000,
        bid_price_paise=[ltp - 5 * (i + 1) for i in range(5)], bid_qty_units=[100 * (i + 1) for i in range(5)],
        bid_orders=[i + 1 for i in range(5)], ask_price_paise=[ltp + 5 * (i + 1) for i in range(5)],
        ask_qty_units=[90 * (i + 1) for i in range(5)], ask_orders=[i + 2 for i in range(5)]), ltp


class FakeDhanFeed(LoopbackWebSocketServer):
    """Start with ``start()`` (or ``with FakeDhanFeed() as srv``); ``url`` is ws://127.0.0.1:PORT."""

    name = "fake Dhan feed"

    def __init__(self, *, token: str = TOKEN, client_id: str = CLIENT_ID, ping_interval_s: float = 0.1,
                 stream_interval_s: float = 0.01, stream_limit_frames: int | None = None,
                 send_prev_close: bool = True, auth_failure: Literal["packet", "http"] = "packet",
                 token_check: Callable[[str], bool] | None = None) -> None:
        super().__init__(_LOG)
        self.token = token
        # Which tokens the server takes: ``token`` alone, or what ``token_check`` accepts (the REST
        # fake's, so a token renewed there works here too).
        self.token_check = token_check or (lambda t: t == self.token)
        self.client_id = client_id
        self.ping_interval_s = ping_interval_s
        self.stream_interval_s = stream_interval_s
        self.stream_limit_frames = stream_limit_frames
        self.send_prev_close = send_prev_close
        self.auth_failure = auth_failure
        # Observations (appended on the server thread, read by the test).
        self.queries: list[dict[str, str]] = []
        self.requests: list[tuple[int, dict[str, Any]]] = []  # (connection index, JSON request)
        self.sent_frames: list[bytes] = []       # every binary frame handed to a socket, in order
        self.sent_packets: list[SentPacket] = []  # every streamed (not prev-close) packet
        self.connections = 0                      # websocket connections accepted
        self.stream_frames = 0
        self._conns: dict[int, _Conn] = {}
        self._counters: dict[tuple[int, int], int] = {}
        self._stack = 1
        self.paused = False

    def _serve_options(self) -> dict[str, Any]:
        return {"ping_interval": self.ping_interval_s, "ping_timeout": max(5.0, 20 * self.ping_interval_s)}

    # Test controls (called from the test thread) ----------------------------------------------
    def disconnect(self, reason_code: int) -> None:
        """Send a disconnect packet with ``reason_code`` on every open connection, then close it."""
        async def go() -> None:
            for conn in list(self._conns.values()):
                await self._send(conn, wire.encode_disconnect(reason_code))
                await conn.ws.close()
        self._call(go)

    def pause(self) -> None:
        """Every connection stops streaming until ``resume()``. When this returns, ``sent_packets``
        is final (a batch already started is still sent, and is already listed)."""
        def go() -> None:
            self.paused = True
        self._call(go)

    def resume(self) -> None:
        def go() -> None:
            self.paused = False
        self._call(go)

    def stack(self, packets_per_frame: int) -> None:
        """From now on, streamed frames carry this many packets each."""
        def go() -> None:
            self._stack = packets_per_frame
        self._call(go)

    def subscriptions(self, connection: int | None = None) -> list[dict[str, Any]]:
        """Subscribe requests received (on one connection, 1-based, or all)."""
        return [r for c, r in list(self.requests)
                if r.get("RequestCode") in SUBSCRIBE_MODES and (connection is None or c == connection)]

    def open_connections(self) -> int:
        return len(self._conns)

    def pong_seen(self) -> bool:
        """True once some client answered one of our pings."""
        return any(c.ws.latency > 0 for c in list(self._conns.values()))

    # Server side ----------------------------------------------------------------------------
    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        self.queries.append(q)
        missing = [k for k in ("version", "token", "clientId", "authType") if k not in q]
        if missing or q["version"] != "2" or q["authType"] != "2":
            return connection.respond(http.HTTPStatus.BAD_REQUEST, f"bad query: missing {missing}\n")
        if self.auth_failure == "http" and not self.token_check(q["token"]):
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "invalid token\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        conn = _Conn(self.connections, ws)
        assert ws.request is not None
        q = {k: v[0] for k, v in parse_qs(urlsplit(ws.request.path).query).items()}
        if not self.token_check(q["token"]) or q["clientId"] != self.client_id:
            reason = wire.DisconnectReason.AUTHENTICATION_FAILED if not self.token_check(q["token"]) \
                else wire.DisconnectReason.CLIENT_ID_INVALID
            await self._send(conn, wire.encode_disconnect(reason))
            await ws.close(1008, "authentication failed")
            return
        self._conns[conn.index] = conn
        streamer = asyncio.create_task(self._stream(conn))
        try:
            async for text in ws:
                await self._on_request(conn, json.loads(text))
        except ConnectionClosed:
            pass
        finally:
            streamer.cancel()
            self._conns.pop(conn.index, None)

    async def _on_request(self, conn: _Conn, req: dict[str, Any]) -> None:
        self.requests.append((conn.index, req))
        code = req.get("RequestCode")
        keys = [(int(Segment[i["ExchangeSegment"]]), int(i["SecurityId"])) for i in req.get("InstrumentList", [])]
        if code in SUBSCRIBE_MODES:
            for key in keys:
                conn.subs[key] = code
                if self.send_prev_close:
                    await self._send(conn, wire.encode_prev_close(key[0], key[1], 9_900 + key[1] % 1000, 0))
        elif code in UNSUBSCRIBE_CODES:
            for key in keys:
                conn.subs.pop(key, None)
        elif code == DISCONNECT_CODE:
            await conn.ws.close()

    async def _send(self, conn: _Conn, frame: bytes) -> None:
        async with conn.lock:  # one writer at a time, so sent_frames is in wire order
            # Listed before the send: the client may read the frame before this task resumes.
            self.sent_frames.append(frame)
            await conn.ws.send(frame)

    async def _stream(self, conn: _Conn) -> None:
        try:
            await self._stream_until_closed(conn)
        except ConnectionClosed:
            pass

    async def _stream_until_closed(self, conn: _Conn) -> None:
        while True:
            await asyncio.sleep(self.stream_interval_s)
            if conn.silent or self.paused or not conn.subs:
                continue
            batch: list[bytes] = []
            for (segment, security_id), code in list(conn.subs.items()):
                n = self._counters.get((segment, security_id), 0)
                self._counters[(segment, security_id)] = n + 1
                packet, ltp = packet_for(SUBSCRIBE_MODES[code], segment, security_id, n)
                self.sent_packets.append(SentPacket(packet[0], segment, security_id, ltp))
                batch.append(packet)
            stack = self._stack
            for i in range(0, len(batch), stack):
                if self.stream_limit_frames is not None and self.stream_frames >= self.stream_limit_frames:
                    del self.sent_packets[len(self.sent_packets) - len(batch) + i:]
                    return
                self.stream_frames += 1
                await self._send(conn, b"".join(batch[i:i + stack]))
