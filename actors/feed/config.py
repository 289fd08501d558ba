"""The feed actor's configuration: the ``[feed]`` section and its sources."""

from __future__ import annotations

from typing import Literal

import msgspec

from engine.section import Section


class SyntheticFeedConfig(Section):
    seed: int = 7
    rate_per_s: int = 200
    underlyings: list[str] = msgspec.field(default_factory=lambda: ["NIFTY"])
    option_strikes_each_side: int = 3
    stocks: list[str] = msgspec.field(default_factory=lambda: ["RELIANCE", "HDFCBANK"])
    index_vol_annual: float = 0.15


class ReplayFeedConfig(Section):
    path: str = ""
    pace: Literal["recorded", "fast"] = "recorded"
    loop: bool = False


class DhanFeedConfig(Section):
    url: str = "wss://api-feed.dhan.co"
    mode: Literal["ticker", "quote", "full"] = "full"
    instruments: list[str] = msgspec.field(default_factory=list)  # "NSE_FNO:55796" or symbols
    stall_timeout_s: float = 15.0
    ltt_epoch_is_ist: bool = False
    connect_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    too_many_connections_backoff_s: float = 60.0
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    max_pending_frames: int = 100_000


class KiteFeedConfig(Section):
    """``[feed.kite]``: the Kite ticker (credentials from the Kite session cache: engine.kite_session)."""

    url: str = "wss://ws.kite.trade"
    mode: Literal["ltp", "quote", "full"] = "full"
    instruments: list[str] = msgspec.field(default_factory=list)  # "NSE_EQ:2885" or symbols
    stall_timeout_s: float = 15.0
    connect_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    max_pending_frames: int = 100_000


class FeedConfig(Section):
    source: Literal["synthetic", "replay", "dhan", "kite"] = "synthetic"
    record_path: str = ""   # also write every raw frame to this capture file
    synthetic: SyntheticFeedConfig = SyntheticFeedConfig()
    replay: ReplayFeedConfig = ReplayFeedConfig()
    dhan: DhanFeedConfig = DhanFeedConfig()
    kite: KiteFeedConfig = KiteFeedConfig()


def check_feed_config(feed: FeedConfig) -> str:
    """The first problem with the feed section as "key: what is wrong", or "" when none."""
    if feed.source == "replay" and not feed.replay.path:
        return "replay.path: required when feed.source = 'replay'"
    dh = feed.dhan
    for key in ("stall_timeout_s", "connect_timeout_s", "close_timeout_s", "reconnect_initial_s",
                "reconnect_max_s", "too_many_connections_backoff_s", "ping_interval_s", "ping_timeout_s",
                "max_pending_frames"):
        if getattr(dh, key) <= 0:
            return f"dhan.{key}: must be > 0"
    if dh.reconnect_max_s < dh.reconnect_initial_s:
        return "dhan.reconnect_max_s: must be >= feed.dhan.reconnect_initial_s"
    ki = feed.kite
    for key in ("stall_timeout_s", "connect_timeout_s", "close_timeout_s", "reconnect_initial_s",
                "reconnect_max_s", "ping_interval_s", "ping_timeout_s", "max_pending_frames"):
        if getattr(ki, key) <= 0:
            return f"kite.{key}: must be > 0"
    if ki.reconnect_max_s < ki.reconnect_initial_s:
        return "kite.reconnect_max_s: must be >= feed.kite.reconnect_initial_s"
    if feed.synthetic.rate_per_s <= 0:
        return "synthetic.rate_per_s: must be > 0"
    if feed.synthetic.option_strikes_each_side < 0:
        return "synthetic.option_strikes_each_side: must be >= 0"
    return ""
