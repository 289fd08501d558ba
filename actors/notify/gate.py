"""Dedupe and rate limits: which alerts go out. Pure; every time is passed in (the actor's clock).

- **Dedupe**: an alert with the same kind, subject, title and body as one let through less than
  ``dedupe_window_ns`` ago is dropped (a status republished every second alerts once).
- **Rate limit**: at most ``rate_limit_count`` alerts of one kind and subject in any
  ``rate_limit_window_ns`` (a flapping feed or a rejecting venue does not flood the phone). The
  ones held back are counted, and the next one let through says how many.
"""

from __future__ import annotations

from actors.notify.alerts import Alert
from engine.rate_window import RateWindow

# Past this many remembered alerts the gate forgets the ones older than its windows.
_PRUNE_AT = 1024


class AlertGate:
    def __init__(self, dedupe_window_ns: int, rate_limit_count: int, rate_limit_window_ns: int) -> None:
        self.dedupe_window_ns = dedupe_window_ns
        self.rate_limit_count = rate_limit_count
        self.rate_limit_window_ns = rate_limit_window_ns
        self._sent_ns: dict[tuple[str, str, str, str], int] = {}
        self._windows: dict[tuple[str, str], RateWindow] = {}
        self._held: dict[tuple[str, str], int] = {}
        self.deduped = 0
        self.rate_limited = 0

    def admit(self, alert: Alert, now_ns: int) -> Alert | None:
        """The alert to send (its body noting the ones held back since the last), or None."""
        fingerprint = (alert.kind.value, alert.subject, alert.title, alert.body)
        last = self._sent_ns.get(fingerprint)
        if last is not None and now_ns - last < self.dedupe_window_ns:
            self.deduped += 1
            return None
        window = self._windows.get(alert.key)
        if window is None:
            window = self._windows[alert.key] = RateWindow([(self.rate_limit_window_ns, self.rate_limit_count)])
        if window.earliest_ns(now_ns) > now_ns:
            self.rate_limited += 1
            self._held[alert.key] = self._held.get(alert.key, 0) + 1
            return None
        window.record(now_ns)
        if len(self._sent_ns) >= _PRUNE_AT:
            self._prune(now_ns)
        self._sent_ns[fingerprint] = now_ns
        held = self._held.pop(alert.key, 0)
        if held:
            return Alert(kind=alert.kind, severity=alert.severity, subject=alert.subject, title=alert.title,
                         body=f"{alert.body}\n({held} more like this were held back by the rate limit)",
                         ts_ns=alert.ts_ns)
        return alert

    def _prune(self, now_ns: int) -> None:
        self._sent_ns = {k: t for k, t in self._sent_ns.items() if now_ns - t < self.dedupe_window_ns}
        self._windows = {k: w for k, w in self._windows.items() if w.count(now_ns) or k in self._held}
