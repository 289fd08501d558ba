"""One websocket connection kept up by a thread of its own: the shell shared by the Dhan market
feed (``actors/feed/dhan.py``) and the Dhan order-update stream (``actors/execution/dhan_stream.py``).

An actor's loop is synchronous (a ``zmq`` poller); a websocket wants asyncio. ``WebSocketThread``
runs an asyncio loop (uvloop when asked for and installed) in one thread. Under one
``asyncio.TaskGroup`` it connects, serves the connection until it ends, and reconnects after
:func:`engine.backoff.backoff_s` (with jitter), until it is stopped or the client says a retry
cannot help. With ``stall_timeout_s``, a connection that carried no frame for that long while
frames are expected ends as stalled (and is replaced). Every task has an owner that waits for it:
races (connect or serve against stop and the stall watch) run in a TaskGroup of their own.

The protocol belongs to the client (a :class:`WebSocketClient`): how to connect, what to send and
read, what an end means, what to log. Its methods run on the websocket thread, so what it hands to
the actor goes through something thread-safe (a deque or queue and a wake pipe).

The owner calls ``start()`` once and ``stop()`` once; ``stop()`` joins the thread, bounded. The
thread is a daemon only so that one stuck in a library call past that bound cannot hold up the
process's exit (the websocket library's close could hang: DHAN_PROTOCOL.md #139).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from engine.backoff import backoff_s

T = TypeVar("T")

MIN_STALL_CHECK_S: Final = 0.01
# What a failed connect raises (an HTTP status refused at the handshake is an InvalidHandshake).
CONNECT_ERRORS: Final = (OSError, TimeoutError, InvalidHandshake, InvalidURI)


@dataclasses.dataclass(frozen=True, slots=True)
class Ended:
    """Why a connection (or the attempt to open one) ended, and what to do next.

    ``worked``: it carried something, so the backoff starts again from the bottom.
    ``retry_after_s``: the client's own wait before the next connect instead of the backoff.
    ``final``: a retry cannot help (refused credentials, a bug): the thread ends.
    ``code``: the protocol's reason code, for the client's own log line."""

    why: str
    worked: bool = False
    retry_after_s: float | None = None
    final: bool = False
    code: int = 0


STOPPED: Final = Ended("stopped", final=True)


class WebSocketClient:
    """What one websocket protocol does inside the shell. Every method runs on the websocket
    thread. ``open`` and ``serve`` are required; the rest have plain defaults."""

    async def open(self) -> ClientConnection:
        """Connect (``websockets.asyncio.client.connect``); the errors in ``CONNECT_ERRORS`` go
        to :meth:`open_failed`."""
        raise NotImplementedError

    async def serve(self, ws: ClientConnection) -> Ended:
        """Use the connection until it ends. It is cancelled when the thread stops or the
        connection stalls; ``ConnectionClosed`` goes to :meth:`closed`. Call the shell's
        ``heard()`` for every frame that shows the connection is alive."""
        raise NotImplementedError

    def open_failed(self, exc: Exception) -> Ended:
        return Ended("connect_failed")

    def closed(self, ws: ClientConnection, exc: ConnectionClosed) -> Ended:
        return Ended("closed")

    def stalled(self, idle_ns: int) -> Ended:
        return Ended("stalled")

    async def goodbye(self, ws: ClientConnection) -> None:
        """On stop, before the shell closes the connection; must return within the close timeout."""

    def session_failed(self, exc: Exception) -> Ended:
        """An unexpected exception from one connection (a bug): by default the thread ends."""
        return Ended("failed", final=True)

    def reconnecting(self, end: Ended, delay_s: float, attempt: int) -> None:
        """The next connect is ``delay_s`` away (``attempt``: backoff waits since one worked)."""

    def thread_failed(self, exc: BaseException) -> None:
        """An exception escaped the shell itself; the thread ends."""

    def thread_ended(self) -> None:
        """The thread is about to end (stopped, final, or failed); its loop is closed."""


class WebSocketThread:
    """Keeps one websocket connection up for ``client`` (module docstring).

    ``reconnect_initial_s`` / ``reconnect_max_s``: the backoff; ``rng`` its jitter (seed it in
    tests). ``close_timeout_s``: the most a close may take. ``stall_timeout_s`` (None: no stall
    detection) with ``expect_frames`` (thread-safe, must not raise; default: always).
    ``monotonic_ns`` is the clock of the stall watch (injected by tests). ``uvloop``: run the loop
    on uvloop when it is installed.
    """

    def __init__(self, client: WebSocketClient, *, name: str, reconnect_initial_s: float,
                 reconnect_max_s: float, close_timeout_s: float, rng: random.Random | None = None,
                 stall_timeout_s: float | None = None, expect_frames: Callable[[], bool] | None = None,
                 monotonic_ns: Callable[[], int] = time.monotonic_ns, uvloop: bool = False) -> None:
        if stall_timeout_s is not None and stall_timeout_s <= 0:
            raise ValueError(f"stall_timeout_s must be > 0, got {stall_timeout_s}")
        self.client = client
        self.name = name
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.close_timeout_s = close_timeout_s
        self.stall_timeout_s = stall_timeout_s
        self._rng = rng or random.Random()
        self._expect_frames = expect_frames or _always
        self._monotonic_ns = monotonic_ns
        self._uvloop = uvloop
        self._heard_ns = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._group: asyncio.TaskGroup | None = None  # owns what submit() starts
        self._submitted: set[asyncio.Task[None]] = set()

    # Owner's side (any thread) --------------------------------------------------------------
    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: start called twice")
        self._loop = _new_event_loop(self._uvloop)
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end: the connection says goodbye and closes. Returns at once."""
        loop, stop = self._loop, self._stop
        if loop is None or stop is None:
            return
        try:
            loop.call_soon_threadsafe(stop.set)
        except RuntimeError:
            pass  # the loop already finished (the client ended it)

    def stop(self, timeout_s: float) -> bool:
        """``request_stop`` and wait up to ``timeout_s`` for the thread; True if it ended."""
        self.request_stop()
        return self.join(timeout_s)

    def join(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the thread to end; True if it did (or never started)."""
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def submit(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Run ``fn()`` on the websocket thread as a task the shell owns (cancelled when the
        thread stops). False when the thread is not running (nothing will run)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(self._spawn, fn)
        except RuntimeError:
            return False  # the loop is shutting down
        return True

    # Websocket thread -----------------------------------------------------------------------
    def heard(self) -> None:
        """The connection is alive (a frame arrived): resets the stall watch."""
        self._heard_ns = self._monotonic_ns()

    def _spawn(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self._group is None:
            return  # stopping: dropped, like a message to a closed connection
        task = self._group.create_task(fn())
        self._submitted.add(task)
        task.add_done_callback(self._submitted.discard)

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except Exception as exc:
            self.client.thread_failed(_unwrap(exc))
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                self.client.thread_ended()

    async def _main(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                await self._keep_connected()
            finally:
                self._group = None
                for task in list(self._submitted):
                    task.cancel()

    async def _keep_connected(self) -> None:
        stop = self._stop
        assert stop is not None
        attempt = 0
        while not stop.is_set():
            try:
                end = await self._session()
            except Exception as exc:
                end = self.client.session_failed(exc)
            if end.final or stop.is_set():
                return
            if end.worked:
                attempt = 0
            if end.retry_after_s is not None:
                delay_s = end.retry_after_s
            else:
                delay_s = backoff_s(attempt, self.reconnect_initial_s, self.reconnect_max_s, self._rng)
                attempt += 1
            self.client.reconnecting(end, delay_s, attempt)
            try:
                async with asyncio.timeout(delay_s):
                    await stop.wait()
                return
            except TimeoutError:
                pass

    async def _session(self) -> Ended:
        """One connection from connect to close."""
        opened = await _first(self._stopped, self._open)
        if isinstance(opened, Ended):
            return opened
        ws = opened
        try:
            self._heard_ns = self._monotonic_ns()
            racers: list[Callable[[], Awaitable[Ended]]] = [self._stopped, lambda: self._serve(ws)]
            if self.stall_timeout_s is not None:
                racers.append(self._watch_stall)
            end = await _first(*racers)
            if end is STOPPED:
                await self.client.goodbye(ws)
            return end
        finally:
            await self._close(ws)

    async def _stopped(self) -> Ended:
        assert self._stop is not None
        await self._stop.wait()
        return STOPPED

    async def _open(self) -> ClientConnection | Ended:
        try:
            return await self.client.open()
        except CONNECT_ERRORS as exc:
            return self.client.open_failed(exc)

    async def _serve(self, ws: ClientConnection) -> Ended:
        try:
            return await self.client.serve(ws)
        except ConnectionClosed as exc:
            return self.client.closed(ws, exc)

    async def _watch_stall(self) -> Ended:
        """Returns when nothing was heard for ``stall_timeout_s`` while frames were expected."""
        assert self.stall_timeout_s is not None
        timeout_ns = int(self.stall_timeout_s * 1e9)
        period_s = max(MIN_STALL_CHECK_S, self.stall_timeout_s / 4)
        while True:
            await asyncio.sleep(period_s)
            now = self._monotonic_ns()
            if not self._expect_frames():
                self._heard_ns = now  # silence while none is expected is not a stall
                continue
            idle_ns = now - self._heard_ns
            if idle_ns >= timeout_ns:
                return self.client.stalled(idle_ns)

    async def _close(self, ws: ClientConnection) -> None:
        try:
            await asyncio.wait_for(ws.close(), self.close_timeout_s)
        except (TimeoutError, ConnectionClosed, OSError):
            pass
        finally:
            ws.transport.abort()  # a dead peer must never hold us past the timeout (#139)


async def _first(*starts: Callable[[], Awaitable[T]]) -> T:
    """Run ``start()`` of each as a task of one TaskGroup; the first to return gives the result
    and the others are cancelled and awaited. An exception from any is raised as itself (the
    others cancelled). A task is only started by its own task, so one cancelled before it ran
    leaves no coroutine behind."""
    results: list[T] = []
    tasks: list[asyncio.Task[None]] = []

    async def run(start: Callable[[], Awaitable[T]]) -> None:
        result = await start()
        if not results:
            results.append(result)
            for task in tasks:
                if task is not asyncio.current_task():
                    task.cancel()

    try:
        async with asyncio.TaskGroup() as group:
            for start in starts:
                tasks.append(group.create_task(run(start)))
    except BaseExceptionGroup as eg:
        raise _unwrap(eg) from None
    return results[0]


def _unwrap(exc: BaseException) -> BaseException:
    """The exception itself when a TaskGroup wrapped exactly one."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _always() -> bool:
    return True


def _new_event_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()
