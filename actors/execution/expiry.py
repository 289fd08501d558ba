"""When a DAY order expires: at the first close of its segment's session after it was placed (and
when one may be placed again: the next open),
from the exchange calendar (``engine.model.calendar``). Pure: takes the calendar and times.

The synthetic market's ``AlwaysOpenCalendar`` has no close, so there DAY orders never expire.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from engine.model.calendar import AlwaysOpenCalendar, SessionCalendar
from engine.model.ist import ist_day

_EPOCH: Final = dt.date(1970, 1, 1)
HORIZON_DAYS: Final = 16  # longer than any run of exchange holidays; beyond it: no close known


def day_order_expiry_ns(calendar: SessionCalendar, segment: int, placed_ns: int,
                        horizon_days: int = HORIZON_DAYS) -> int | None:
    """Epoch ns of the first session close of ``segment`` strictly after ``placed_ns``: a DAY
    order placed then expires at that instant (close inclusive). None when the calendar never
    closes (always-open) or has no session of the segment within ``horizon_days`` IST days."""
    if isinstance(calendar, AlwaysOpenCalendar):
        return None
    first = ist_day(placed_ns)
    for day in range(first, first + horizon_days):
        bounds = calendar.session_bounds(_EPOCH + dt.timedelta(days=day), segment)
        if bounds is not None and bounds[1] > placed_ns:
            return bounds[1]
    return None


def next_session_open_ns(calendar: SessionCalendar, segment: int, after_ns: int,
                         horizon_days: int = HORIZON_DAYS) -> int | None:
    """Epoch ns of the first open of ``segment``'s session strictly after ``after_ns``: when an
    order that expired at a close may be placed again. None when the calendar never closes
    (always-open: no wait) or has no session of the segment within ``horizon_days`` IST days."""
    if isinstance(calendar, AlwaysOpenCalendar):
        return None
    first = ist_day(after_ns)
    for day in range(first, first + horizon_days):
        bounds = calendar.session_bounds(_EPOCH + dt.timedelta(days=day), segment)
        if bounds is not None and bounds[0] > after_ns:
            return bounds[0]
    return None
