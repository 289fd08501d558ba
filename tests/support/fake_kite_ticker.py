"""A loopback Kite ticker for tests: a real websocket server (websockets asyncio) on 127.0.0.1 that
speaks the Kite ticker protocol (KITE_PROTOCOL.md section A).

* The handshake must carry ``api_key`` and ``access_token``; a wrong pair is refused with HTTP 403
  (what Kite answers). ``set_token`` changes the accepted token (a new login).
* JSON requests are recorded; ``subscribe`` adds tokens (in quote mode, Kite's default),
  ``mode`` sets their mode, ``unsubscribe`` removes them.
* A stream task per connection sends, every ``stream_interval_s``, one frame holding a packet per
  subscribed token in its mode (built with ``actors.feed.kite_wire``), a 1-byte heartbeat every
  ``heartbeat_every`` frames, and can push a text message (``send_text``).
* Tests steer it synchronously: ``drop()`` (abort the sockets), ``go_silent()`` (a stall).

It runs its own event loop in a thread (``tests.support.loopback_ws``).
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from actors.feed import kite_wire as kw
from tests.support.loopback_ws import LoopbackWebSocketServer

API_KEY = "kitetestapikey01"
TOKEN = "kite-test-access-token-0123456789"
EXCHANGE_TS_BASE_S = 1_767_000_000

_LOG = logging.getLogger("tests.fake_kite_ticker")
_LOG.setLevel(logging.WARNING)


def packet_for(mode: str, token: int, n: int) -> tuple[bytes, int]:
    """The ``n``-th streamed packet of a token and its last price (wire units)."""
    ltp = 10_000 + (token >> 8) % 1000 * 100 + 5 * n
    if token & 0xFF == kw.KiteSegment.INDICES:
        if mode == "ltp":
            return kw.encode_ltp(token, ltp), ltp
        ts = EXCHANGE_TS_BASE_S + n if mode == "full" else None
        return kw.encode_index(token, ltp, ltp + 50, ltp - 50, ltp - 10, ltp - 20, exchange_ts_s=ts), ltp
    if mode == "ltp":
        return kw.encode_ltp(token, ltp), ltp
    trade = dict(ltp=ltp, ltq=25, atp=ltp - 5, volume=1000 + n, buy_qty=600, sell_qty=500, open_=ltp - 100,
                 high=ltp + 50, low=ltp - 150, close=ltp - 80)
    if mode == "quote":
        return kw.encode_quote(token, **trade), ltp
    return kw.encode_full(token, **trade, ltt_s=EXCHANGE_TS_BASE_S + n, oi=7000, oi_high=8000, oi_low=6000,
                          exchange_ts_s=EXCHANGE_TS_BASE_S + n,
                          bids=[(100 * (i + 1), ltp - 5 * (i + 1), i + 1) for i in range(5)],
                          asks=[(90 * (i + 1), ltp + 5 * (i + 1), i + 2) for i in range(5)]), ltp


@dataclass
class _Conn:
    index: int
    ws: ServerConnection
    modes: dict[int, str] = field(default_factory=dict)  # token -> mode
    silent: bool = False


class FakeKiteTicker(LoopbackWebSocketServer):
    """Start with ``start()`` (or ``with FakeKiteTicker() as srv``); ``url`` is ws://127.0.0.1:PORT."""

    name = "fake Kite ticker"

    def __init__(self, *, api_key: str = API_KEY, token: str = TOKEN, stream_interval_s: float = 0.01,
                 heartbeat_every: int = 5) -> None:
        super().__init__(_LOG)
        self.api_key = api_key
        self.token = token
        self.stream_interval_s = stream_interval_s
        self.heartbeat_every = heartbeat_every
        self.requests: list[tuple[int, dict[str, Any]]] = []
        self.refused = 0  # handshakes refused with 403
        self.connections = 0
        self.sent_frames: list[bytes] = []
        self._conns: dict[int, _Conn] = {}
        self._counters: dict[int, int] = {}

    # Test controls ----------------------------------------------------------------------------
    def set_token(self, token: str) -> None:
        def go() -> None:
            self.token = token
        self._call(go)

    def send_text(self, payload: dict[str, Any]) -> None:
        async def go() -> None:
            for conn in list(self._conns.values()):
                await conn.ws.send(json.dumps(payload))
        self._call(go)

    def requests_on(self, connection: int) -> list[dict[str, Any]]:
        return [r for c, r in list(self.requests) if c == connection]

    def modes(self, connection: int) -> dict[int, str]:
        conn = self._conns.get(connection)
        return dict(conn.modes) if conn is not None else {}

    # Server side ------------------------------------------------------------------------------
    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        if q.get("api_key") != self.api_key or q.get("access_token") != self.token:
            self.refused += 1
            return connection.respond(http.HTTPStatus.FORBIDDEN, "invalid api_key or access_token\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        conn = _Conn(self.connections, ws)
        self._conns[conn.index] = conn
        streamer = asyncio.create_task(self._stream(conn))
        try:
            async for text in ws:
                req = json.loads(text)
                self.requests.append((conn.index, req))
                action, value = req.get("a"), req.get("v")
                if action == "subscribe":
                    for tok in value:
                        conn.modes.setdefault(int(tok), "quote")
                elif action == "mode":
                    for tok in value[1]:
                        conn.modes[int(tok)] = value[0]
                elif action == "unsubscribe":
                    for tok in value:
                        conn.modes.pop(int(tok), None)
        except ConnectionClosed:
            pass
        finally:
            streamer.cancel()
            self._conns.pop(conn.index, None)

    async def _stream(self, conn: _Conn) -> None:
        frames = 0
        try:
            while True:
                await asyncio.sleep(self.stream_interval_s)
                if conn.silent:
                    continue
                frames += 1
                if self.heartbeat_every and frames % self.heartbeat_every == 0:
                    await conn.ws.send(b"\x00")
                    continue
                if not conn.modes:
                    continue
                packets = []
                for tok, mode in list(conn.modes.items()):
                    n = self._counters.get(tok, 0)
                    self._counters[tok] = n + 1
                    packets.append(packet_for(mode, tok, n)[0])
                frame = kw.frame(packets)
                self.sent_frames.append(frame)
                await conn.ws.send(frame)
        except ConnectionClosed:
            pass
