"""The shell of the loopback websocket servers that stand in for a broker's feed in tests
(``fake_dhan_feed``, ``fake_kite_ticker``): a real websocket server (websockets asyncio) on
127.0.0.1 running its own event loop in a thread, so a test drives it with plain calls. The
protocol is the subclass's: its ``_handler`` and ``_check_request`` (the handshake), and its open
connections in ``_conns`` (each with ``ws`` and ``silent``)."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable, Self

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from tests.support.wait import eventually


class LoopbackWebSocketServer:
    """Start with ``start()`` (or ``with Server() as srv``); ``url`` is ws://127.0.0.1:PORT."""

    name = "loopback websocket server"  # in errors and the thread's name

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._conns: dict[int, Any] = {}  # open connections by index (the subclass's own records)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self.port = 0

    # Lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=self.name.lower().replace(" ", "-"), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{self.name} did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None and self._thread is not None \
                and self._thread.is_alive():
            self._loop.call_soon_threadsafe(lambda: self._stopped.done() or self._stopped.set_result(None))
            self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    def _serve_options(self) -> dict[str, Any]:
        """Keyword arguments of ``websockets.serve`` beyond the common ones (the server's pings)."""
        return {"ping_interval": None}

    async def _main(self) -> None:
        self._stopped = asyncio.get_running_loop().create_future()
        async with serve(self._handler, "127.0.0.1", 0, process_request=self._check_request, compression=None,
                         close_timeout=1.0, logger=self._logger, **self._serve_options()) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stopped
            for conn in list(self._conns.values()):
                conn.ws.transport.abort()

    # The protocol (server thread) -----------------------------------------------------------
    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        raise NotImplementedError

    async def _handler(self, ws: ServerConnection) -> None:
        raise NotImplementedError

    # Test controls (called from the test thread) --------------------------------------------
    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` (a function or a coroutine function) on the server's loop and return its result."""
        assert self._loop is not None

        async def run() -> Any:
            result = fn()
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def go_silent(self) -> None:
        """The open connections stop streaming (a stall); new connections stream normally."""
        def go() -> None:
            for conn in self._conns.values():
                conn.silent = True
        self._call(go)

    def drop(self) -> None:
        """Abort every open connection's TCP socket, no close frame (an abrupt drop)."""
        def go() -> None:
            for conn in self._conns.values():
                conn.ws.transport.abort()
        self._call(go)

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
        eventually(predicate, f"{self.name}: {what}", timeout_s, poll_s=0.005)
