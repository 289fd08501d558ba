"""Kite's order postbacks over the ticker websocket, on a connection of the venue's own (the feed
actor's connection carries the market data), inside the shared websocket shell
(``actors.websocket_thread``: its own thread and asyncio loop).

The ticker authenticates in the URL's query (``api_key`` and ``access_token``) and pushes order
updates as text frames ``{"type": "order", "data": {...}}`` (the order as the order book has it);
binary frames are ticks (none: this connection subscribes to nothing) and 1-byte heartbeats, about
one a second, which keep the stall watch quiet. A connection that carries no frame for
``stream_stall_s`` is replaced (a vanished ticker); while none is up the venue polls the order book.
A handshake refused with 403 (the token) ends the stream for good: the venue's REST calls see the
refusal too and a new token starts a new stream.

Never logged: the URL's query (the token) — log lines name ``ticker_url`` without it; error text
passes through ``engine.logs.scrub``; the websocket library's frame logging stays off.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from actors.execution.config import KiteVenueConfig
from actors.websocket_thread import Ended, WebSocketClient, WebSocketThread
from engine.kite_session import KiteCredentials
from engine.logs import Log, scrub

HTTP_FORBIDDEN: Final = 403

_WS_LOGGER = logging.getLogger("shikra.execution.kite.websocket")
_WS_LOGGER.setLevel(logging.INFO)  # websockets logs frames and the request line at DEBUG: the URL has the token


def postback_thread(config: KiteVenueConfig, credentials: KiteCredentials, log: Log, rng: random.Random, *,
                    on_state: Callable[[bool], None], on_update: Callable[[Any], None]) -> WebSocketThread:
    """The postback stream's thread (not started)."""
    client = PostbackStream(config, credentials, log, on_state=on_state, on_update=on_update)
    thread = WebSocketThread(
        client, name="kite-postbacks", reconnect_initial_s=config.stream_reconnect_initial_s,
        reconnect_max_s=config.stream_reconnect_max_s, close_timeout_s=config.close_timeout_s, rng=rng,
        stall_timeout_s=config.stream_stall_s)
    client.heard = thread.heard
    return thread


class PostbackStream(WebSocketClient):
    """The ticker connection for order postbacks (module docstring). Runs on the stream's thread."""

    def __init__(self, config: KiteVenueConfig, credentials: KiteCredentials, log: Log, *,
                 on_state: Callable[[bool], None], on_update: Callable[[Any], None]) -> None:
        self._config = config
        self._log = log
        self._on_state = on_state
        self._on_update = on_update
        self._got = False  # this connection carried a frame
        self.heard: Callable[[], None] = lambda: None
        query = urlencode({"api_key": credentials.api_key, "access_token": credentials.access_token})
        self._url = f"{config.ticker_url.rstrip('/')}?{query}"

    async def open(self) -> ClientConnection:
        cfg = self._config
        return await connect(self._url, open_timeout=cfg.stream_connect_timeout_s, close_timeout=cfg.close_timeout_s,
                             compression=None, logger=_WS_LOGGER, max_size=2**20)

    def open_failed(self, exc: Exception) -> Ended:
        status = exc.response.status_code if isinstance(exc, InvalidStatus) else 0
        self._log.warning("kite_postback_connect_failed", url=self._config.ticker_url, error=type(exc).__name__,
                          http_status=status, detail=scrub(str(exc))[:200])
        if status == HTTP_FORBIDDEN:
            return Ended("token_refused", final=True, code=status)  # a new token starts a new stream
        return Ended("connect_failed")

    async def serve(self, ws: ClientConnection) -> Ended:
        self._got = False
        try:
            self._on_state(True)
            self._log.info("kite_postback_stream_connected", url=self._config.ticker_url)
            while True:
                frame = await ws.recv()
                self._got = True
                self.heard()
                if isinstance(frame, bytes):
                    continue  # heartbeats (and ticks, though nothing is subscribed)
                try:
                    msg = json.loads(frame, parse_float=Decimal)
                except (ValueError, TypeError):
                    self._on_update(None)  # counted as bad on the actor thread
                    continue
                if not isinstance(msg, dict):
                    continue
                kind = msg.get("type")
                if kind == "order":
                    self._on_update(msg.get("data"))
                elif kind == "error":
                    self._log.warning("kite_postback_error", detail=scrub(str(msg.get("data")))[:200])
        finally:
            self._on_state(False)

    def closed(self, ws: ClientConnection, exc: ConnectionClosed) -> Ended:
        self._log.warning("kite_postback_stream_closed", code=exc.rcvd.code if exc.rcvd else 1006)
        return Ended("closed", worked=self._got)

    def stalled(self, idle_ns: int) -> Ended:
        self._log.warning("kite_postback_stream_stalled", idle_s=round(idle_ns / 1e9, 1))
        return Ended("stalled", worked=self._got)

    def session_failed(self, exc: Exception) -> Ended:
        self.thread_failed(exc)
        return Ended("failed", final=True)  # the order-book poll takes over

    def reconnecting(self, end: Ended, delay_s: float, attempt: int) -> None:
        self._log.info("kite_postback_stream_reconnect", why=end.why, delay_s=round(delay_s, 3), attempt=attempt)

    def thread_failed(self, exc: BaseException) -> None:
        self._log.error("kite_postback_stream_failed", error=type(exc).__name__, detail=scrub(str(exc))[:200])

    def thread_ended(self) -> None:
        self._on_state(False)
