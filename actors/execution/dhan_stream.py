"""Dhan's order-update websocket, inside the shared websocket shell (``actors.websocket_thread``: its
own thread and asyncio loop).

It logs in, then hands each ``order_alert``'s data to ``on_update`` (``None`` for a message that
is not JSON: the venue counts it as bad) and says when it is up or down (``on_state``). Both
callbacks run on the stream's thread: they must be thread-safe (the venue puts into its queue and
wakes its actor). Reconnects with backoff; after a failed session it stops for good and the
venue's order-book poll takes over.

The access token and client id are never logged: the websocket library's frame logging (DEBUG,
which would show the login frame) is kept off, and error text is ``redact``-ed first.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from actors.execution.config import DhanVenueConfig
from actors.execution.dhan_rest import redact
from actors.websocket_thread import Ended, WebSocketClient, WebSocketThread
from engine.credentials import Credentials
from engine.logs import Log

LOGIN_MSG_CODE: Final = 42

_WS_LOGGER = logging.getLogger("shikra.execution.dhan.websocket")
_WS_LOGGER.setLevel(logging.INFO)  # websockets logs frames at DEBUG: the login frame has the token


def order_update_thread(config: DhanVenueConfig, credentials: Credentials, log: Log, rng: random.Random, *,
                        on_state: Callable[[bool], None], on_update: Callable[[Any], None]) -> WebSocketThread:
    """The order-update stream's thread (not started)."""
    return WebSocketThread(
        OrderUpdateStream(config, credentials, log, on_state=on_state, on_update=on_update),
        name="dhan-order-updates", reconnect_initial_s=config.stream_reconnect_initial_s,
        reconnect_max_s=config.stream_reconnect_max_s, close_timeout_s=config.close_timeout_s, rng=rng)


class OrderUpdateStream(WebSocketClient):
    """Dhan's order-update websocket inside the shared shell: log in, then hand each
    ``order_alert`` to ``on_update``. Runs on the stream's thread."""

    def __init__(self, config: DhanVenueConfig, credentials: Credentials, log: Log, *,
                 on_state: Callable[[bool], None], on_update: Callable[[Any], None]) -> None:
        self._config = config
        self._creds = credentials
        self._log = log
        self._on_state = on_state
        self._on_update = on_update
        self._got = False  # this connection carried a message
        self._login = json.dumps({"LoginReq": {"MsgCode": LOGIN_MSG_CODE, "ClientId": credentials.client_id,
                                               "Token": credentials.access_token}, "UserType": "SELF"})

    async def open(self) -> ClientConnection:
        cfg = self._config
        return await connect(cfg.order_update_url, open_timeout=cfg.stream_connect_timeout_s,
                             close_timeout=cfg.close_timeout_s, compression=None, logger=_WS_LOGGER)

    def open_failed(self, exc: Exception) -> Ended:
        self._log.warning("dhan_order_stream_connect_failed", url=self._config.order_update_url,
                          error=type(exc).__name__, detail=redact(str(exc), self._creds)[:200])
        return Ended("connect_failed")

    async def serve(self, ws: ClientConnection) -> Ended:
        self._got = False
        try:
            await ws.send(self._login)
            self._on_state(True)
            self._log.info("dhan_order_stream_connected", url=self._config.order_update_url)
            while True:
                text = await ws.recv()
                self._got = True
                try:
                    msg = json.loads(text, parse_float=Decimal)
                except (ValueError, TypeError):
                    self._on_update(None)  # counted as bad on the actor thread
                    continue
                if isinstance(msg, dict) and str(msg.get("Type", "")).lower() == "order_alert":
                    self._on_update(msg.get("Data"))
        finally:
            self._on_state(False)

    def closed(self, ws: ClientConnection, exc: ConnectionClosed) -> Ended:
        self._log.warning("dhan_order_stream_closed", code=exc.rcvd.code if exc.rcvd else 1006)
        return Ended("closed", worked=self._got)

    def session_failed(self, exc: Exception) -> Ended:
        self.thread_failed(exc)
        return Ended("failed", final=True)  # the order-book poll takes over

    def reconnecting(self, end: Ended, delay_s: float, attempt: int) -> None:
        self._log.info("dhan_order_stream_reconnect", delay_s=round(delay_s, 3), attempt=attempt)

    def thread_failed(self, exc: BaseException) -> None:
        self._log.error("dhan_order_stream_failed", error=type(exc).__name__,
                        detail=redact(str(exc), self._creds)[:200])

    def thread_ended(self) -> None:
        self._on_state(False)
