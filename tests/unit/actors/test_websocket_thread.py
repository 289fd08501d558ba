"""actors.websocket_thread against a real loopback websockets server: connect, reconnect with the
shared backoff, stall detection on an injected clock, a clean stop from any state, and tasks that
the shell owns. Tests wait for things to happen (events with a safety timeout), never for time."""

from __future__ import annotations

import asyncio
import queue
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from actors.websocket_thread import Ended, WebSocketClient, WebSocketThread
from engine.backoff import backoff_s

SAFETY_TIMEOUT_S = 10.0  # a hung test fails here; nothing is asserted about speed


class Server:
    """A websockets server on 127.0.0.1 in its own thread. ``behaviour(server, ws, n)`` serves the
    n-th connection (0-based); ``received`` keeps what each connection received."""

    def __init__(self, behaviour: Callable[[Server, ServerConnection, int], Any]) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.received: list[list[str]] = []
        self.closed = threading.Event()  # a connection ended (set each time)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)
        self._thread.start()
        assert self._ready.wait(SAFETY_TIMEOUT_S)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", 0) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    async def _handle(self, ws: ServerConnection) -> None:
        n = self.connections
        self.connections += 1
        self.received.append([])
        try:
            await self.behaviour(self, ws, n)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def close(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(SAFETY_TIMEOUT_S)


async def record_until_closed(server: Server, ws: ServerConnection, n: int) -> None:
    async for msg in ws:
        server.received[n].append(str(msg))


class Client(WebSocketClient):
    """Says hello, hands every frame to ``frames``, and records every hook call in ``calls``."""

    def __init__(self, url: str, *, final_after_close: bool = False) -> None:
        self.url = url
        self.final_after_close = final_after_close
        self.shell: WebSocketThread | None = None
        self.calls: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.frames: list[str] = []
        self.got = False

    async def open(self) -> ClientConnection:
        self.calls.put(("open", None))
        return await connect(self.url, open_timeout=2.0)

    async def serve(self, ws: ClientConnection) -> Ended:
        self.got = False
        await ws.send("hello")
        self.calls.put(("serving", None))
        async for frame in ws:
            assert self.shell is not None
            self.shell.heard()
            self.got = True
            self.frames.append(str(frame))
            if frame == "boom":
                raise RuntimeError("a bug in the protocol code")
        return Ended("closed", worked=self.got, final=self.final_after_close)

    def open_failed(self, exc: Exception) -> Ended:
        self.calls.put(("open_failed", type(exc).__name__))
        return Ended("connect_failed")

    def closed(self, ws: ClientConnection, exc: ConnectionClosed) -> Ended:
        self.calls.put(("closed", exc.rcvd.code if exc.rcvd else 1006))
        return Ended("closed", worked=self.got)

    def stalled(self, idle_ns: int) -> Ended:
        self.calls.put(("stalled", idle_ns))
        return Ended("stalled", worked=self.got)

    async def goodbye(self, ws: ClientConnection) -> None:
        self.calls.put(("goodbye", None))
        await ws.send("bye")

    def session_failed(self, exc: Exception) -> Ended:
        self.calls.put(("session_failed", str(exc)))
        return super().session_failed(exc)

    def reconnecting(self, end: Ended, delay_s: float, attempt: int) -> None:
        self.calls.put(("reconnecting", (end.why, delay_s, attempt)))

    def thread_ended(self) -> None:
        self.calls.put(("thread_ended", None))

    def next_call(self, name: str) -> Any:
        """The argument of the next call of hook ``name`` (skipping others)."""
        while True:
            got, arg = self.calls.get(timeout=SAFETY_TIMEOUT_S)
            if got == name:
                return arg


@pytest.fixture
def rig() -> Iterator[Callable[..., tuple[Server, Client, WebSocketThread]]]:
    made: list[tuple[Server, WebSocketThread]] = []

    def make(behaviour: Callable[[Server, ServerConnection, int], Any], *, url: str | None = None,
             client_kw: dict[str, Any] | None = None, **kw: Any) -> tuple[Server, Client, WebSocketThread]:
        server = Server(behaviour)
        client = Client(url or server.url, **(client_kw or {}))
        kw.setdefault("reconnect_initial_s", 0.01)
        kw.setdefault("reconnect_max_s", 0.04)
        kw.setdefault("close_timeout_s", 1.0)
        shell = WebSocketThread(client, name="test-ws", rng=random.Random(5), **kw)
        client.shell = shell
        made.append((server, shell))
        shell.start()
        return server, client, shell

    yield make
    for server, shell in made:
        assert shell.stop(SAFETY_TIMEOUT_S), "the websocket thread must end on stop"
        server.close()


def test_a_closed_connection_is_reopened_after_the_shared_backoff(rig) -> None:
    async def close_after_one(server: Server, ws: ServerConnection, n: int) -> None:
        server.received[n].append(str(await ws.recv()))
        await ws.send(f"frame {n}")
        await ws.close()

    server, client, _ = rig(close_after_one)
    rng = random.Random(5)  # the shell's jitter, drawn in the same order
    for n in range(3):
        assert client.next_call("serving") is None
        why, delay_s, attempt = client.next_call("reconnecting")
        # Each connection carried a frame: the backoff starts again from the bottom every time.
        assert (why, attempt) == ("closed", 1)
        assert delay_s == backoff_s(0, 0.01, 0.04, rng)
    assert client.frames[:3] == ["frame 0", "frame 1", "frame 2"]
    assert server.received[0] == ["hello"]


def test_connections_that_carry_nothing_back_off_further_each_time(rig) -> None:
    async def close_at_once(server: Server, ws: ServerConnection, n: int) -> None:
        await ws.close()

    _, client, _ = rig(close_at_once)
    rng = random.Random(5)
    for attempt in range(4):
        _, delay_s, counted = client.next_call("reconnecting")
        assert counted == attempt + 1
        assert delay_s == backoff_s(attempt, 0.01, 0.04, rng)


def test_a_refused_connect_is_retried_with_backoff(rig) -> None:
    async def unused(server: Server, ws: ServerConnection, n: int) -> None:
        raise AssertionError("nothing listens where the client connects")

    # A port nobody listens on: bind a socket, note its port, close it.
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    _, client, _ = rig(unused, url=f"ws://127.0.0.1:{dead_port}")
    assert client.next_call("open_failed") in ("ConnectionRefusedError", "OSError")
    why, _, attempt = client.next_call("reconnecting")
    assert (why, attempt) == ("connect_failed", 1)
    assert client.next_call("open_failed") is not None


def test_stop_while_serving_says_goodbye_closes_and_joins(rig) -> None:
    server, client, shell = rig(record_until_closed)
    client.next_call("serving")
    assert shell.stop(SAFETY_TIMEOUT_S)
    assert client.next_call("goodbye") is None
    assert client.next_call("thread_ended") is None
    assert server.closed.wait(SAFETY_TIMEOUT_S)
    assert server.received[0] == ["hello", "bye"] and server.connections == 1


def test_stop_during_a_long_backoff_ends_the_thread_at_once(rig) -> None:
    async def close_at_once(server: Server, ws: ServerConnection, n: int) -> None:
        await ws.close()

    _, client, shell = rig(close_at_once, reconnect_initial_s=3600.0, reconnect_max_s=3600.0)
    client.next_call("reconnecting")
    assert shell.stop(SAFETY_TIMEOUT_S), "a stop must not wait for the backoff"


def test_silence_past_the_stall_timeout_on_the_injected_clock_reconnects(rig) -> None:
    now = [0]

    server, client, _ = rig(record_until_closed, stall_timeout_s=0.04, monotonic_ns=lambda: now[0])
    client.next_call("serving")
    now[0] += 40_000_000  # the clock moves on; the watch (every 10 ms of loop time) notices
    assert client.next_call("stalled") >= 40_000_000
    assert client.next_call("reconnecting")[0] == "stalled"
    assert client.next_call("serving") is None  # a new connection


def test_no_stall_while_frames_are_not_expected(rig) -> None:
    now = [0]
    expected = threading.Event()
    checks: queue.SimpleQueue[None] = queue.SimpleQueue()

    def expect_frames() -> bool:
        checks.put(None)
        return expected.is_set()

    _, client, _ = rig(record_until_closed, stall_timeout_s=0.04, monotonic_ns=lambda: now[0],
                       expect_frames=expect_frames)
    client.next_call("serving")
    now[0] += 10**12  # a long quiet night
    while not checks.empty():
        checks.get()
    for _ in range(2):  # two whole checks after the clock moved on
        checks.get(timeout=SAFETY_TIMEOUT_S)
    assert client.calls.empty(), "silence while nothing is expected is not a stall"
    expected.set()
    now[0] += 40_000_000
    assert client.next_call("stalled") >= 40_000_000


def test_a_final_end_stops_reconnecting_and_ends_the_thread(rig) -> None:
    async def close_after_one(server: Server, ws: ServerConnection, n: int) -> None:
        await ws.recv()
        await ws.send("last")
        await ws.close()

    server, client, shell = rig(close_after_one, client_kw={"final_after_close": True})
    assert client.next_call("thread_ended") is None
    assert shell.join(SAFETY_TIMEOUT_S) and server.connections == 1


def test_a_bug_in_serve_goes_to_session_failed_and_ends_the_thread_by_default(rig) -> None:
    async def send_boom(server: Server, ws: ServerConnection, n: int) -> None:
        await ws.send("boom")
        await record_until_closed(server, ws, n)

    server, client, shell = rig(send_boom)
    assert client.next_call("session_failed") == "a bug in the protocol code"
    assert client.next_call("thread_ended") is None
    assert shell.join(SAFETY_TIMEOUT_S)


def test_submitted_tasks_run_on_the_thread_and_are_cancelled_at_stop(rig) -> None:
    server, client, shell = rig(record_until_closed)
    client.next_call("serving")
    started, cancelled = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    assert shell.submit(forever)
    assert started.wait(SAFETY_TIMEOUT_S)
    assert shell.stop(SAFETY_TIMEOUT_S), "a task that never ends must not hold up the stop"
    assert cancelled.is_set()
    assert not shell.submit(forever), "nothing runs once the thread is gone"
