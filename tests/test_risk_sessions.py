"""Market calendar from exchange_calendars (XBOM): holidays, hours, cut-off, square-off."""

from __future__ import annotations

import datetime as dt

import pytest

from actors.risk import sessions as ss
from actors.risk.sessions import default_calendar, ist_ns
from ipc.segments import Segment

MONDAY = dt.date(2026, 11, 23)
SATURDAY = dt.date(2026, 11, 21)
REPUBLIC_DAY = dt.date(2026, 1, 26)
DIWALI_BALIPRATIPADA = dt.date(2026, 11, 10)


@pytest.fixture(scope="module")
def cal() -> ss.SessionCalendar:
    return default_calendar()


def test_library_session_is_0915_to_1530_ist(cal):
    assert cal.session_bounds(MONDAY, Segment.NSE_FNO) == (ist_ns(MONDAY, dt.time(9, 15)), ist_ns(MONDAY, dt.time(15, 30)))
    assert cal.session_bounds(MONDAY, Segment.BSE_EQ) == cal.session_bounds(MONDAY, Segment.NSE_EQ)


@pytest.mark.parametrize("holiday", [REPUBLIC_DAY, DIWALI_BALIPRATIPADA])
def test_exchange_holiday_is_closed(cal, holiday):
    assert holiday.weekday() < 5
    assert not cal.is_trading_day(holiday)
    assert cal.session_bounds(holiday) is None
    assert not cal.is_market_open(Segment.NSE_FNO, ist_ns(holiday, dt.time(10, 0)))


def test_normal_weekday_open_at_10(cal):
    assert cal.is_trading_day(MONDAY)
    assert cal.is_market_open(Segment.NSE_FNO, ist_ns(MONDAY, dt.time(10, 0)))
    assert ss.is_market_open(Segment.NSE_EQ, ist_ns(MONDAY, dt.time(10, 0)))


@pytest.mark.parametrize(
    "t,is_open",
    [(dt.time(9, 14, 59), False), (dt.time(9, 15), True), (dt.time(15, 29, 59), True),
     (dt.time(15, 30), False), (dt.time(15, 31), False)],
)
def test_session_edges(cal, t, is_open):
    assert cal.is_market_open(Segment.NSE_FNO, ist_ns(MONDAY, t)) is is_open


def test_weekend_closed(cal):
    assert not cal.is_trading_day(SATURDAY)
    assert not cal.is_market_open(Segment.NSE_FNO, ist_ns(SATURDAY, dt.time(10, 0)))
    assert not cal.is_market_open(Segment.MCX_COMM, ist_ns(SATURDAY, dt.time(10, 0)))


def test_mcx_trades_into_the_evening_and_follows_exchange_holidays(cal):
    assert cal.is_market_open(Segment.MCX_COMM, ist_ns(MONDAY, dt.time(9, 0)))
    assert cal.is_market_open(Segment.MCX_COMM, ist_ns(MONDAY, dt.time(22, 0)))
    assert not cal.is_market_open(Segment.NSE_FNO, ist_ns(MONDAY, dt.time(22, 0)))
    assert not cal.is_market_open(Segment.MCX_COMM, ist_ns(MONDAY, dt.time(23, 30)))
    assert not cal.is_market_open(Segment.MCX_COMM, ist_ns(REPUBLIC_DAY, dt.time(18, 0)))


def test_currency_session_and_index_never_trades(cal):
    assert cal.is_market_open(Segment.NSE_CURRENCY, ist_ns(MONDAY, dt.time(16, 30)))
    assert not cal.is_market_open(Segment.IDX_I, ist_ns(MONDAY, dt.time(10, 0)))


def test_day_beyond_library_data_is_closed(cal):
    jan = dt.date(2027, 1, 4)
    assert not cal.covers(jan) and cal.covers(MONDAY)
    assert not cal.is_trading_day(jan)


def test_entry_cutoff_with_fake_clock(cal):
    cutoff = dt.time(15, 15)
    assert ss.entry_allowed(ist_ns(MONDAY, dt.time(15, 14, 59)), cutoff)
    assert not ss.entry_allowed(ist_ns(MONDAY, dt.time(15, 15)), cutoff)
    assert not ss.entry_allowed(ist_ns(MONDAY, dt.time(9, 0)), cutoff)  # before the open
    assert not cal.entry_allowed(ist_ns(REPUBLIC_DAY, dt.time(10, 0)), cutoff)


def test_square_off_due_with_fake_clock(cal):
    at = dt.time(15, 25)
    assert not ss.square_off_due(ist_ns(MONDAY, dt.time(15, 24, 59)), at)
    assert ss.square_off_due(ist_ns(MONDAY, dt.time(15, 25)), at)
    assert ss.square_off_due(ist_ns(MONDAY, dt.time(15, 40)), at)
    assert not cal.square_off_due(ist_ns(SATURDAY, dt.time(15, 25)), at)


def test_precomputed_day_matches_the_calendar(cal):
    now = ist_ns(MONDAY, dt.time(12, 0))
    day = cal.day(now)
    assert day.is_trading_day and day.start_ns <= now < day.end_ns
    assert day.end_ns - day.start_ns == ss.DAY_NS
    assert day.start_ns == ist_ns(MONDAY, dt.time(0, 0))
    assert day.bounds[Segment.NSE_FNO] == cal.session_bounds(MONDAY, Segment.NSE_FNO)
    assert Segment.IDX_I not in day.bounds
    assert cal.day(ist_ns(SATURDAY, dt.time(12, 0))).bounds == {}


def test_ist_arithmetic_round_trips():
    now = ist_ns(MONDAY, dt.time(23, 59, 59))
    assert ss.ist_date(now) == MONDAY
    assert ss.ist_date(now + ss.NS_PER_S) == MONDAY + dt.timedelta(days=1)
    assert ss.ist_time_of_day_ns(now) == ss.time_of_day_ns(dt.time(23, 59, 59))
    # 10:00 IST is 04:30 UTC
    utc = dt.datetime(2026, 11, 23, 4, 30, tzinfo=dt.timezone.utc)
    assert ist_ns(MONDAY, dt.time(10, 0)) == int(utc.timestamp()) * ss.NS_PER_S
