"""Topic names: dotted, prefix-filterable, one place for all of them.

Market data topics name the instrument as ``<SEGMENT>.<security_id>`` (``ipc.segments``) so a
subscriber can take one instrument (``tick.NSE_FNO.55796``), one segment (``tick.NSE_FNO.``) or
everything (``tick.``). Topic bytes for instruments are cached: they are built on the hot path.
"""

from __future__ import annotations

from functools import lru_cache

from ipc.segments import instrument_label

TICK = "tick."
QUOTE = "quote."
DEPTH = "depth."
OI = "oi."
PREV_CLOSE = "prevclose."
MARKET_STATUS = "mktstatus."
FEED_STATUS = "feed.status"
BOOK = "book."
BAR = "bar."
INTENT = "intent."
ORDER = "order."
FILL = "fill."
POSITION = "position."
GROUP = "group."
RISK_DENIED = "risk.denied"
RISK_STATE = "risk.state"
RISK_ACTION = "risk.action"
HEARTBEAT = "actor.heartbeat."
HEALTH = "actor.health."
COMMAND = "cmd."
REPLY = "reply."
LEDGER_STATS = "ledger.stats"
CALENDAR_STATUS = "calendar.status"
SUPERVISOR_STATUS = "supervisor.status"
RISK_USAGE = "risk.usage"
RISK_LIMITS = "risk.limits"
BROKER_SESSION = "broker.session"
INSTRUMENTS_STATUS = "instruments.status"
SCHEDULE = "schedule."  # DayPhaseBegan and DailyTaskFinished
CHAIN = "chain."  # OptionChainSnapshot: chain.<UNDERLYING>.<YYYYMMDD>
OI_TRACK = "oitrack."  # OiTrackerSnapshot: oitrack.<UNDERLYING>.<YYYYMMDD> (oi. is the feed's per instrument)
SCAN = "scan."  # ScanResult: scan.<SCREEN>


@lru_cache(maxsize=65536)
def instrument_topic(prefix: str, segment: int, security_id: int) -> bytes:
    """``tick.NSE_FNO.55796`` as bytes, cached (hot path)."""
    return f"{prefix}{instrument_label(segment, security_id, '.')}".encode()


@lru_cache(maxsize=4096)
def bar_topic(timeframe_s: int, segment: int, security_id: int) -> bytes:
    return f"{BAR}{timeframe_s}s.{instrument_label(segment, security_id, '.')}".encode()


@lru_cache(maxsize=1024)
def strategy_topic(prefix: str, strategy: str) -> bytes:
    """Per-strategy topics for the order path: ``order.ema_cross``, ``fill.ema_cross``."""
    return f"{prefix}{strategy}".encode()


@lru_cache(maxsize=256)
def chain_topic(underlying: str, expiry_yyyymmdd: int) -> bytes:
    """``chain.NIFTY.20261229``: one underlying's priced chain of one expiry."""
    return f"{CHAIN}{underlying}.{expiry_yyyymmdd}".encode()


@lru_cache(maxsize=256)
def oi_track_topic(underlying: str, expiry_yyyymmdd: int) -> bytes:
    """``oitrack.NIFTY.20261229``: one underlying's OI tracker of one expiry."""
    return f"{OI_TRACK}{underlying}.{expiry_yyyymmdd}".encode()


@lru_cache(maxsize=256)
def scan_topic(screen: str) -> bytes:
    """``scan.gainers``: one configured screen's result."""
    return f"{SCAN}{screen}".encode()


def heartbeat_topic(actor: str) -> bytes:
    return f"{HEARTBEAT}{actor}".encode()


def command_topic(name: str) -> bytes:
    return f"{COMMAND}{name}".encode()
