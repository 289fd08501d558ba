"""Sending alerts through apprise, off the actor loop.

One apprise object per configured URL, so each target's result is known (``shikra alerts test``
reports them one by one). :class:`AlertSender` owns a worker thread and a bounded queue: ``submit``
never blocks (when the queue is full the oldest alert is dropped and counted); the thread sends
each alert to every target, retrying a failed target with backoff (``engine.backoff``), and logs
what it could not deliver. Nothing here is fatal.

Apprise URLs carry tokens (a Telegram bot token is even the URL's "host"): logs name a target only
by :func:`target_label`, and apprise's own logger, which may print a whole URL, is silenced.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import apprise

from actors.notify.alerts import Alert, SeverityName
from engine.backoff import backoff_s

# Schemes whose URL host is a server name, not a secret: their label shows it. Other schemes
# (tgram://BOT_TOKEN/..., discord://WEBHOOK_ID/TOKEN, slack://TOKENS) show the scheme only.
_HOST_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms", "ntfy", "ntfys", "mailto", "mailtos",
                           "gotify", "gotifys", "matrix", "matrixs", "mqtt", "mqtts", "apprise", "apprises"})

_NOTIFY_TYPE: dict[SeverityName, Any] = {
    "info": apprise.NotifyType.INFO, "warning": apprise.NotifyType.WARNING,
    "error": apprise.NotifyType.FAILURE, "critical": apprise.NotifyType.FAILURE}

# apprise logs a URL it cannot parse in full, token included.
logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)


def target_label(index: int, url: str) -> str:
    """``#1 json://127.0.0.1:8080``, ``#2 tgram``: a target as logs and the CLI name it, without
    its secrets."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "") if scheme in _HOST_SCHEMES else ""
        port = f":{parts.port}" if host and parts.port else ""
    except ValueError:
        return f"#{index + 1} (unparsable URL)"
    return f"#{index + 1} {scheme}://{host}{port}" if host else f"#{index + 1} {scheme or '?'}"


class Target:
    """One apprise URL. ``usable`` is False when apprise does not know the URL."""

    def __init__(self, index: int, url: str) -> None:
        self.label = target_label(index, url)
        self._apprise = apprise.Apprise()
        self.usable = bool(self._apprise.add(url))

    def send(self, alert: Alert) -> bool:
        """One attempt (blocking: the sender's thread or the CLI). False on any failure."""
        if not self.usable:
            return False
        try:
            return bool(self._apprise.notify(body=alert.body, title=alert.title,
                                             notify_type=_NOTIFY_TYPE[alert.severity]))
        except Exception:  # noqa: BLE001 - a plugin's bug is a failed send, never the caller's crash
            return False


def make_targets(urls: list[str]) -> list[Target]:
    return [Target(i, url) for i, url in enumerate(urls)]


class AlertSender:
    """The worker thread and its bounded queue. ``log`` is the actor's logger (thread-safe)."""

    def __init__(self, targets: list[Target], log: Any, *, queue_size: int, attempts: int,
                 retry_initial_s: float, retry_max_s: float, rng: random.Random | None = None,
                 on_result: Callable[[Alert, str, bool], None] | None = None) -> None:
        self.targets = targets
        self.log = log
        self.queue_size = queue_size
        self.attempts = attempts
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self._rng = rng or random.Random()
        self._on_result = on_result
        self._queue: collections.deque[Alert] = collections.deque()
        self._cond = threading.Condition()
        self._closing = threading.Event()  # stop: no more retry waits, finish what is queued
        self._thread = threading.Thread(target=self._run, name="notify-sender", daemon=True)
        self.dropped = 0
        self.sent = 0
        self.failed = 0
        for t in targets:
            if not t.usable:
                log.error("notify_target_unusable", target=t.label, hint="apprise does not know this URL")

    def start(self) -> None:
        self._thread.start()

    def submit(self, alert: Alert) -> None:
        """Queue ``alert``; never blocks. A full queue drops its oldest alert (counted, logged)."""
        with self._cond:
            if len(self._queue) >= self.queue_size:
                old = self._queue.popleft()
                self.dropped += 1
                self.log.warning("alert_dropped", kind=old.kind.value, subject=old.subject, dropped=self.dropped,
                                 queue_size=self.queue_size)
            self._queue.append(alert)
            self._cond.notify()

    def stop(self, timeout_s: float) -> bool:
        """Send what is queued (one attempt each, no more waits) within ``timeout_s``; True when
        the thread ended."""
        self._closing.set()
        with self._cond:
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        left = len(self._queue)
        if left or self._thread.is_alive():
            self.log.warning("alerts_not_sent_at_stop", queued=left)
        return not self._thread.is_alive()

    def _next(self) -> Alert | None:
        with self._cond:
            while not self._queue and not self._closing.is_set():
                self._cond.wait()
            return self._queue.popleft() if self._queue else None

    def _run(self) -> None:
        while True:
            alert = self._next()
            if alert is None:
                return
            for target in self.targets:
                ok = self._deliver(target, alert)
                if self._on_result is not None:
                    self._on_result(alert, target.label, ok)

    def _deliver(self, target: Target, alert: Alert) -> bool:
        for attempt in range(self.attempts):
            if target.send(alert):
                self.sent += 1
                return True
            if attempt + 1 >= self.attempts or self._closing.is_set():
                break
            delay_s = backoff_s(attempt, self.retry_initial_s, self.retry_max_s, self._rng)
            self.log.warning("alert_send_failed", target=target.label, kind=alert.kind.value, attempt=attempt + 1,
                             retry_in_ms=int(delay_s * 1000))
            # Real time, on this thread: a retry waits for the network, not for the engine's clock.
            if self._closing.wait(delay_s):
                break
        self.failed += 1
        self.log.error("alert_undelivered", target=target.label, kind=alert.kind.value, subject=alert.subject,
                       attempts=self.attempts)
        return False
