"""The hand-off between the gRPC thread (asyncio) and the actor's own loop (zmq.Poller).

The actor loop owns every socket and all engine state; the gRPC thread never touches them. It
posts a function to the actor loop (``post``: a deque plus one byte on a socketpair the actor
loop watches, the same pattern as a feed source's thread) and, when it needs an answer, awaits an
asyncio future that the actor side resolves through ``loop.call_soon_threadsafe`` (``ask``).
"""

from __future__ import annotations

import asyncio
import collections
import socket
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Answer = Callable[[Any], None]


class Bridge:
    def __init__(self) -> None:
        self._work: collections.deque[Callable[[], None]] = collections.deque()
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)
        self.closed = False

    def fileno(self) -> int:
        """The fd the actor loop watches (readable when work is queued)."""
        return self._r.fileno()

    # Any thread ---------------------------------------------------------------------------------
    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on the actor loop soon (FIFO). Never blocks."""
        self._work.append(fn)
        try:
            self._w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # the buffer is full of wake-ups already (or we are closing): the loop will drain

    # gRPC thread --------------------------------------------------------------------------------
    async def ask(self, start: Callable[[Answer], None], timeout_s: float) -> Any:
        """Run ``start(answer)`` on the actor loop and wait until it (or a later handler) calls
        ``answer(value)``; return the value. Raises TimeoutError after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def answer(value: Any) -> None:  # called on the actor loop
            loop.call_soon_threadsafe(_resolve, future, value)

        def run() -> None:
            try:
                start(answer)
            except Exception as exc:  # the caller gets the error at once instead of a timeout
                loop.call_soon_threadsafe(_fail, future, exc)
                raise

        self.post(run)
        return await asyncio.wait_for(future, timeout_s)

    # Actor loop ---------------------------------------------------------------------------------
    def drain(self, on_error: Callable[[Exception], None] | None = None) -> int:
        """Run the queued work; returns how many items ran. Call when ``fileno()`` is readable.
        An item that raises is reported to ``on_error`` and the rest still run."""
        try:
            while self._r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        ran = 0
        work = self._work
        while work:
            fn = work.popleft()
            ran += 1
            try:
                fn()
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(exc)
        return ran

    def close(self) -> None:
        self.closed = True
        self._r.close()
        self._w.close()


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():  # the caller may have timed out or been cancelled meanwhile
        future.set_result(value)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
