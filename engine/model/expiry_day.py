"""When a derivative stops trading and is settled: the one place for the moment of expiry.

A contract expires on its master expiry date (``Instrument.expiry_yyyymmdd``, IST) at
``SETTLE_IST`` (15:30, the NSE and BSE derivatives close). From that instant it is no longer
offered (``listing_day``: the option chain and strike selection start from the next day), and
the engine settles what is still held (``actors.execution.settlement``). The master already moves
an expiry that falls on a holiday to the previous trading day, so no calendar is consulted here.
MCX contracts settle differently (options devolve into futures) and are not settled by the engine.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from engine.model.instruments import date_from_yyyymmdd
from engine.model.ist import ist_date, ist_ns, ist_time_of_day_ns, time_of_day_ns

SETTLE_IST: Final = dt.time(15, 30)


def settles_at_ns(expiry_yyyymmdd: int, settle_ist: dt.time = SETTLE_IST) -> int:
    """Epoch ns at which a contract expiring on ``expiry_yyyymmdd`` is settled (its expiry day at
    ``settle_ist`` IST). Raises ValueError for 0 (no expiry) or an impossible date."""
    return ist_ns(date_from_yyyymmdd(expiry_yyyymmdd), settle_ist)


def has_expired(expiry_yyyymmdd: int, now_ns: int, settle_ist: dt.time = SETTLE_IST) -> bool:
    """True once a contract with this expiry is past its settlement moment; False for 0 (none)."""
    return expiry_yyyymmdd > 0 and now_ns >= settles_at_ns(expiry_yyyymmdd, settle_ist)


def listing_day(now_ns: int, settle_ist: dt.time = SETTLE_IST) -> dt.date:
    """The first expiry date still offered at ``now_ns``: today's IST date until ``settle_ist``,
    then tomorrow (today's contracts have expired). Pass it as ``today`` to
    ``InstrumentTable.expiries`` / ``nearest_expiry``."""
    today = ist_date(now_ns)
    if ist_time_of_day_ns(now_ns) >= time_of_day_ns(settle_ist):
        return today + dt.timedelta(days=1)
    return today
