"""Resend until acknowledged: what an actor keeps of the commands it sent to a peer.

An inbox never drops a message, but its actor may restart and lose what it had queued; so the
sender keeps each command (strategy's intents to risk, risk's orders to execution) until a reply
shows the peer has it, and sends it again when none came for ``resend_after_s``. After
``max_resends`` it gives up (the caller logs it); with None it never does (a peer that records
each message once, however often it comes: risk's denials for execution's audit).

Pure: the caller passes monotonic time in ns, does the sending and the logging, and calls
``ack`` with the id a reply carries. An entry sent as one message for several ids (a group and
its legs) is acknowledged by its own key or by any of its ``parts``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

M = TypeVar("M")


class _Entry(Generic[M]):
    __slots__ = ("msg", "sent_ns", "resends", "parts")

    def __init__(self, msg: M, sent_ns: int, parts: tuple[str, ...]) -> None:
        self.msg = msg
        self.sent_ns = sent_ns
        self.resends = 0
        self.parts = parts


class Unacked(Generic[M]):
    """Sent messages not yet acknowledged, oldest first. Not thread-safe: one loop owns it."""

    def __init__(self, resend_after_s: float, max_resends: int | None) -> None:
        self.resend_after_ns = int(resend_after_s * 1e9)
        self.max_resends = max_resends
        self._entries: dict[str, _Entry[M]] = {}
        self._owner: dict[str, str] = {}  # part -> key of the entry it belongs to

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        """The keys, oldest first."""
        return iter(self._entries)

    def sent(self, key: str, msg: M, now_ns: int, parts: Iterable[str] = ()) -> None:
        """``msg`` went out under ``key`` at ``now_ns``; ``parts`` also acknowledge it. A key sent
        again starts over (counts and time)."""
        # hot path (every intent and order): one entry
        old = self._entries.get(key)
        if old is not None:
            self._forget_parts(key, old)
        entry = _Entry(msg, now_ns, tuple(parts))
        self._entries[key] = entry
        for part in entry.parts:
            self._owner[part] = key

    def ack(self, key: str) -> M | None:
        """The peer has the message sent under ``key``, or the one ``key`` is a part of: forget it.
        Returns the message forgotten under ``key`` itself, else the one it was a part of, else
        None."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._forget_parts(key, entry)
        owner = self._owner.get(key)
        if owner is not None:
            whole = self._entries.pop(owner)
            self._forget_parts(owner, whole)
            if entry is None:
                entry = whole
        return entry.msg if entry is not None else None

    def drop_where(self, pred: Callable[[M], bool]) -> list[M]:
        """Forget every message for which ``pred`` is true (sent by something now stopped);
        returns them."""
        dropped = [key for key, e in self._entries.items() if pred(e.msg)]
        return [self._pop(key) for key in dropped]

    def due(self, now_ns: int) -> tuple[list[tuple[str, M, int]], list[tuple[str, M, int]]]:
        """``(resend, abandoned)``, each ``(key, message, resends so far)``, oldest first.

        ``resend``: unacknowledged for longer than ``resend_after_s``; counted and stamped as
        sent at ``now_ns``, the caller sends them. ``abandoned``: already sent ``max_resends``
        times and still not acknowledged; forgotten (never with ``max_resends`` None)."""
        resend: list[tuple[str, M, int]] = []
        abandoned: list[tuple[str, M, int]] = []
        cutoff = now_ns - self.resend_after_ns
        give_up = self.max_resends
        for key, entry in list(self._entries.items()):
            if give_up is not None and entry.resends >= give_up:
                self._pop(key)
                abandoned.append((key, entry.msg, entry.resends))
            elif entry.sent_ns < cutoff:
                entry.resends += 1
                entry.sent_ns = now_ns
                resend.append((key, entry.msg, entry.resends))
        return resend, abandoned

    def _pop(self, key: str) -> M:
        entry = self._entries.pop(key)
        self._forget_parts(key, entry)
        return entry.msg

    def _forget_parts(self, key: str, entry: _Entry[M]) -> None:
        owner = self._owner
        for part in entry.parts:
            if owner.get(part) == key:
                del owner[part]
