"""When a contract expires and leaves the listing (engine/model/expiry_day.py)."""

from __future__ import annotations

import datetime as dt

from engine.model.expiry_day import has_expired, listing_day, settles_at_ns
from engine.model.ist import ist_ns

DAY = dt.date(2026, 11, 23)


def test_a_contract_expires_at_1530_ist_on_its_expiry_date() -> None:
    assert settles_at_ns(20261123) == ist_ns(DAY, dt.time(15, 30))
    assert not has_expired(20261123, ist_ns(DAY, dt.time(15, 29, 59)))
    assert has_expired(20261123, ist_ns(DAY, dt.time(15, 30)))
    assert not has_expired(0, ist_ns(DAY, dt.time(23, 0)))  # no expiry: never


def test_the_listing_moves_to_the_next_day_at_the_settlement() -> None:
    assert listing_day(ist_ns(DAY, dt.time(15, 29, 59))) == DAY
    assert listing_day(ist_ns(DAY, dt.time(15, 30))) == DAY + dt.timedelta(days=1)
    assert listing_day(ist_ns(DAY, dt.time(0, 0))) == DAY
