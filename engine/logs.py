"""Structured logs: one line per event, JSON when not on a TTY, ``key=value`` text on a TTY.

Usage::

    log = get_logger("supervisor")
    log.info("actor_restarted", actor="feed", pid=1234, backoff_s=0.5)

Secrets never reach a log line: every value registered with :func:`register_secret` is replaced by
its mask in every formatted line, whichever logger wrote it (including third-party libraries).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import Any, Literal

import msgspec

LogFormat = Literal["auto", "json", "text"]

_secrets: dict[str, str] = {}
_json = msgspec.json.Encoder()
_context: dict[str, Any] = {}


def mask(value: str, keep: int = 4) -> str:
    """``"1000000001"`` -> ``"******0001"``; short values, and keep=0, are masked whole
    (a fixed-width mask: the length of a token is nobody's business)."""
    if keep <= 0:
        return "********"
    if len(value) <= keep * 2:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


def register_secret(value: str, keep: int = 4) -> None:
    """Mask this value in every log line from now on (tokens keep nothing, ids keep 4 chars)."""
    if value and len(value) >= 4:
        _secrets[value] = mask(value, keep)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each non-empty one of ``secrets`` masked whole: for text from a library or a
    server (an error, a close reason) that may quote a URL or a request, before it is logged or
    shown. The log masker (:func:`scrub`) is a safety net, not a licence."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def scrub(text: str) -> str:
    for secret, masked in _secrets.items():
        if secret in text:
            text = text.replace(secret, masked)
    return text


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        event = record.getMessage()
        if record.exc_info:
            fields = {**fields, "exc": self.formatException(record.exc_info)}
        if self.as_json:
            line = {"ts": _iso(record.created), "level": record.levelname.lower(), "logger": record.name,
                    "event": event, **_context, **fields}
            return scrub(_json.encode(line).decode())
        parts = [_iso(record.created), record.levelname.lower().ljust(7), f"{record.name}:", event]
        parts += [f"{k}={_text(v)}" for k, v in {**_context, **fields}.items()]
        return scrub(" ".join(parts))


def _text(value: Any) -> str:
    text = str(value)
    return repr(text) if (" " in text or not text) else text


class Log:
    """A named structured logger: ``log.info("event_name", key=value, ...)``."""

    __slots__ = ("_logger",)

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(f"shikra.{name}")

    def _log(self, level: int, event: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, event, extra={"fields": fields}, exc_info=exc_info)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields, exc_info=True)


def get_logger(name: str) -> Log:
    return Log(name)


def setup_logging(level: str = "info", fmt: LogFormat = "auto", **context: Any) -> None:
    """Configure the root handler once per process; ``context`` fields go on every line (e.g. actor)."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(as_json))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    _context.clear()
    _context.update(context)
    _context.setdefault("pid", os.getpid())


class Throttle:
    """At most one log line per key per ``interval_s``; the lines in between are counted and the
    count goes on the next line that passes (``suppressed=N``), so a flood costs one line a second."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._last: dict[object, float] = {}
        self._suppressed: dict[object, int] = {}

    def allow(self, key: object) -> int | None:
        """None: stay quiet. Otherwise log now, with the returned number of lines suppressed."""
        now = time.monotonic()
        if now - self._last.get(key, -1e18) < self.interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._suppressed.pop(key, 0)
