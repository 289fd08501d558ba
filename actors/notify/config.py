"""The notify actor's configuration: the ``[notify]`` section."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec

from actors.notify.alerts import SeverityName
from engine.section import Section


class NotifyConfig(Section):
    """Operator alerts through apprise (actors/notify). Without a URL nothing is sent (alerts still
    go to the audit table when the actor runs); with one, the daemon runs the notify actor."""

    # Apprise URLs: tgram://, mailtos://, slack://, discord://, ntfy://, json:// (a plain webhook), ...
    # They carry tokens: keep them in urls_file (0600) rather than here if the config is shared.
    urls: list[str] = msgspec.field(default_factory=list)
    urls_file: str = ""                # a file with one apprise URL per line (# comments)
    min_severity: SeverityName = "info"
    dedupe_window_s: float = 3600.0    # the same alert (kind, subject and text) again within this: dropped
    rate_limit_count: int = 5          # at most this many alerts of one kind and subject ...
    rate_limit_window_s: float = 3600.0  # ... in any window this long; the rest are counted
    queue_size: int = 100              # alerts waiting for the sender; past it the oldest is dropped
    send_attempts: int = 4             # per target, the first included
    retry_initial_s: float = 2.0
    retry_max_s: float = 60.0
    stop_timeout_s: float = 5.0        # at stop, the queued alerts get this long to go out
    calendar_warn_days: int = 30       # alert while the calendar library's data ends within this
    token_warn_s: float = 7200.0       # alert while the broker token expires within this
    summary: bool = True               # the end-of-day summary
    summary_at_ist: dt.time = dt.time(15, 45)  # after the NSE/BSE close; IST


def notify_urls(cfg: NotifyConfig) -> list[str]:
    """``urls`` and the lines of ``urls_file`` (blank lines and ``#`` comments skipped). Raises
    OSError when the file cannot be read."""
    urls = list(cfg.urls)
    if cfg.urls_file:
        for line in Path(cfg.urls_file).expanduser().read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                urls.append(line)
    return urls


def check_notify_config(cfg: NotifyConfig) -> str:
    """The first problem with the notify section as "key: what is wrong", or "" when none."""
    for key in ("dedupe_window_s", "rate_limit_window_s", "retry_initial_s", "retry_max_s", "stop_timeout_s"):
        if getattr(cfg, key) < 0:
            return f"{key}: must be >= 0, got {getattr(cfg, key)}"
    for key in ("rate_limit_count", "queue_size", "send_attempts"):
        if getattr(cfg, key) < 1:
            return f"{key}: must be >= 1, got {getattr(cfg, key)}"
    if cfg.rate_limit_window_s <= 0:
        return "rate_limit_window_s: must be > 0"
    if cfg.summary_at_ist.tzinfo is not None:
        return "summary_at_ist: an IST time of day without a zone"
    if any(not u.strip() or "://" not in u for u in cfg.urls):
        return "urls: each entry is an apprise URL (scheme://...)"
    return ""
