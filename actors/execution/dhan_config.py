"""Configuration of the live Dhan venue (``[execution.dhan]``). Kept apart from the venue module
so that reading the config does not import the Dhan SDK."""

from __future__ import annotations

from typing import Final

import msgspec

from actors.execution.charges import DEFAULT_SCHEDULE, ChargeSchedule
from actors.execution.orders import DHAN_MODIFY_CAP

REST_BASE_URL: Final = "https://api.dhan.co/v2"
ORDER_UPDATE_URL: Final = "wss://api-order-update.dhan.co"
_NS_PER_S: Final = 1_000_000_000


class RateLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Order-API requests (place, modify, cancel) allowed per rolling window."""

    per_second: int = 10
    per_minute: int = 250
    per_hour: int = 1000
    per_day: int = 7000

    def __post_init__(self) -> None:
        for name in ("per_second", "per_minute", "per_hour", "per_day"):
            if getattr(self, name) <= 0:
                raise ValueError(f"RateLimits.{name} must be > 0, got {getattr(self, name)}")

    def windows(self) -> tuple[tuple[int, int], ...]:
        """``(span_ns, limit)`` per window."""
        return ((_NS_PER_S, self.per_second), (60 * _NS_PER_S, self.per_minute),
                (3600 * _NS_PER_S, self.per_hour), (86400 * _NS_PER_S, self.per_day))


class DhanVenueConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How the live venue talks to Dhan. URLs are overridable for the loopback fake in tests."""

    rest_url: str = REST_BASE_URL
    order_update_url: str = ORDER_UPDATE_URL
    rate_limits: RateLimits = RateLimits()
    max_queue_wait_s: float = 2.0
    modify_cap: int = DHAN_MODIFY_CAP
    rest_workers: int = 4
    rest_timeout_s: float = 5.0
    max_place_attempts: int = 2      # sends of one order, counting the first (only after "not found")
    max_lookup_attempts: int = 5
    max_request_retries: int = 3     # cancel / modify re-sends after a transport failure
    retry_backoff_s: float = 0.2     # doubled per attempt
    order_book_poll_s: float = 2.0   # GET /orders while the stream is down and orders are open
    stream_reconnect_initial_s: float = 0.5
    stream_reconnect_max_s: float = 30.0
    stream_connect_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    charges: ChargeSchedule = DEFAULT_SCHEDULE

    def __post_init__(self) -> None:
        if not 0 < self.modify_cap <= DHAN_MODIFY_CAP:
            raise ValueError(f"DhanVenueConfig.modify_cap must be 1..{DHAN_MODIFY_CAP}, got {self.modify_cap}")
        for name in ("rest_workers", "max_place_attempts", "max_lookup_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"DhanVenueConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_queue_wait_s", "rest_timeout_s", "retry_backoff_s", "order_book_poll_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"DhanVenueConfig.{name} must be > 0, got {getattr(self, name)}")
