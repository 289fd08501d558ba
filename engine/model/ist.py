"""India Standard Time on integer nanoseconds: the one place for the IST offset and day arithmetic.

Timestamps in Shikra are integer nanoseconds since the Unix epoch (UTC). Market hours, cut-offs and
day boundaries are IST wall time. IST has no daylight saving, so IST wall time is UTC + 5:30 on
every date and an IST day boundary is plain integer arithmetic (no zoneinfo lookup per call).
Day numbers count days since 1970-01-01, the same numbering for :func:`ist_day` (an instant) and
:func:`ist_day_number` (a calendar date).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Final

NS_PER_US: Final = 1_000
NS_PER_MS: Final = 1_000_000
NS_PER_S: Final = 1_000_000_000
DAY_NS: Final = 86_400 * NS_PER_S
IST_OFFSET_NS: Final = 19_800 * NS_PER_S  # +05:30, no DST
IST: Final = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")
_EPOCH_DATE: Final = dt.date(1970, 1, 1)


def time_of_day_ns(t: dt.time) -> int:
    """Nanoseconds since midnight of a wall-clock time (tzinfo ignored: callers pass IST)."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * NS_PER_S + t.microsecond * 1000


def ist_day(now_ns: int) -> int:
    """IST calendar day of an epoch-ns instant, as days since 1970-01-01."""
    return (now_ns + IST_OFFSET_NS) // DAY_NS


def ist_day_number(d: dt.date) -> int:
    """Days since 1970-01-01 of a calendar date (the same numbering as :func:`ist_day`)."""
    return (d - _EPOCH_DATE).days


def day_date(day: int) -> dt.date:
    """The calendar date of a day number (the inverse of :func:`ist_day_number`)."""
    return _EPOCH_DATE + dt.timedelta(days=day)


def ist_date(now_ns: int) -> dt.date:
    """IST calendar date of an epoch-ns instant."""
    return day_date(ist_day(now_ns))


def ist_time_of_day_ns(now_ns: int) -> int:
    """Nanoseconds since IST midnight of an epoch-ns instant."""
    return (now_ns + IST_OFFSET_NS) % DAY_NS


def ist_midnight_ns(day: int) -> int:
    """Epoch ns of IST midnight that starts day number ``day``."""
    return day * DAY_NS - IST_OFFSET_NS


def ist_ns(d: dt.date, t: dt.time) -> int:
    """Epoch ns of IST wall time ``t`` on date ``d``."""
    return ist_midnight_ns(ist_day_number(d)) + time_of_day_ns(t)


def today_ist(now_ns: int | None = None) -> dt.date:
    """The IST date at ``now_ns`` (default: the wall clock; actors pass their context's time)."""
    return ist_date(time.time_ns() if now_ns is None else now_ns)
