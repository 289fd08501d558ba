"""Trading time to expiry (engine/model/option_time.py): sessions count, nights, weekends and
holidays do not; the year is the sessions of the 365 days from today."""

from __future__ import annotations

import datetime as dt

from engine.model.calendar import AlwaysOpenCalendar, CalendarConfig, Holiday, SessionCalendar
from engine.model.ist import NS_PER_S, ist_ns
from engine.model.option_time import OptionClock
from ipc.segments import Segment

FRIDAY = dt.date(2026, 11, 27)
TUESDAY_EXPIRY = 20261201
SESSION_NS = (6 * 3600 + 15 * 60) * NS_PER_S  # NSE 09:15-15:30


def test_a_weekend_costs_an_option_no_time() -> None:
    clock = OptionClock(SessionCalendar(), Segment.NSE_FNO)
    friday_close = clock.to_expiry(TUESDAY_EXPIRY, ist_ns(FRIDAY, dt.time(15, 30)))
    sunday = clock.to_expiry(TUESDAY_EXPIRY, ist_ns(FRIDAY + dt.timedelta(days=2), dt.time(12, 0)))
    # Monday's and Tuesday's sessions are left either way.
    assert friday_close.left_ns == 2 * SESSION_NS
    assert sunday.left_ns == 2 * SESSION_NS
    assert 240 <= friday_close.year_sessions <= 260  # past the library's data: weekdays less fixed holidays
    # Every regular session is 6 h 15 min (special sessions are overrides, none here).
    assert friday_close.year_ns == friday_close.year_sessions * SESSION_NS


def test_time_left_runs_down_inside_the_session_to_zero_at_the_expiry_close() -> None:
    clock = OptionClock(SessionCalendar(), Segment.NSE_FNO)
    tuesday = dt.date(2026, 12, 1)
    assert clock.to_expiry(TUESDAY_EXPIRY, ist_ns(tuesday, dt.time(9, 15))).left_ns == SESSION_NS
    assert clock.to_expiry(TUESDAY_EXPIRY, ist_ns(tuesday, dt.time(15, 0))).left_ns == 30 * 60 * NS_PER_S
    assert clock.to_expiry(TUESDAY_EXPIRY, ist_ns(tuesday, dt.time(15, 30))).left_ns == 0
    assert clock.to_expiry(TUESDAY_EXPIRY, ist_ns(tuesday, dt.time(16, 0))).years == 0.0


def test_a_configured_holiday_takes_its_session_out() -> None:
    monday = dt.date(2026, 11, 30)
    calendar = SessionCalendar(overrides=(CalendarConfig(holidays=[Holiday(date=monday, exchange="NSE")]),))
    clock = OptionClock(calendar, Segment.NSE_FNO)
    assert clock.to_expiry(TUESDAY_EXPIRY, ist_ns(FRIDAY, dt.time(16, 0))).left_ns == SESSION_NS


def test_the_always_open_market_measures_calendar_time_over_a_365_day_year() -> None:
    clock = OptionClock(AlwaysOpenCalendar(), Segment.NSE_FNO)
    t = clock.to_expiry(TUESDAY_EXPIRY, ist_ns(FRIDAY, dt.time(15, 30)))
    assert t.left_ns == 4 * 86_400 * NS_PER_S
    assert (t.year_sessions, t.year_ns) == (365, 365 * 86_400 * NS_PER_S)
    assert t.years == 4 / 365
