"""The trading day's plan (engine.model.schedule): phases from the calendar over weeks with a
weekend, a library holiday, a configured holiday, a special session and days past the library."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model.calendar import CalendarConfig, Holiday, SessionCalendar, SpecialSession
from engine.model.ist import ist_ns
from engine.model.schedule import PhaseAt, ScheduleConfig, current_phase, day_plan, next_phase, phases_between

CFG = ScheduleConfig()
TUESDAY_HOLIDAY = dt.date(2026, 12, 22)  # configured
CALENDAR = SessionCalendar(overrides=(CalendarConfig(
    holidays=[Holiday(date=TUESDAY_HOLIDAY, name="configured")],
    sessions=[SpecialSession(date=dt.date(2026, 12, 26), open_ist=dt.time(18, 15), close_ist=dt.time(19, 15),
                             name="Saturday special")]),))


def at(d: dt.date, hh: int, mm: int) -> int:
    return ist_ns(d, dt.time(hh, mm))


def plan(d: dt.date) -> list[tuple[str, str, bool]]:
    return [(p.phase, dt.datetime.fromtimestamp(p.at_ns / 1e9, dt.timezone(dt.timedelta(hours=5, minutes=30)))
             .strftime("%H:%M"), p.trading_day) for p in day_plan(CALENDAR, CFG, d)]


def test_a_trading_day_has_pre_open_session_post_close_and_night() -> None:
    assert plan(dt.date(2026, 12, 21)) == [("pre_open", "08:30", True), ("session", "09:15", True),
                                           ("post_close", "15:40", True), ("night", "17:00", True)]


def test_a_week_walks_through_weekdays_holidays_a_weekend_and_a_special_session() -> None:
    week = [dt.date(2026, 12, 21) + dt.timedelta(days=i) for i in range(7)]
    trading = {d.isoformat(): day_plan(CALENDAR, CFG, d)[0].trading_day for d in week}
    assert trading == {"2026-12-21": True, "2026-12-22": False,  # configured holiday
                       "2026-12-23": True, "2026-12-24": True,
                       "2026-12-25": False,  # Christmas, from the library
                       "2026-12-26": True,   # Saturday, a special session
                       "2026-12-27": False}  # Sunday
    assert plan(TUESDAY_HOLIDAY) == [("pre_open", "08:30", False), ("night", "17:00", False)]
    assert plan(dt.date(2026, 12, 26)) == [("pre_open", "08:30", True), ("session", "18:15", True),
                                           ("post_close", "19:25", True), ("night", "20:45", True)]
    phases = phases_between(CALENDAR, CFG, at(week[0], 0, 0), at(week[-1], 23, 59))
    assert [p.phase for p in phases if p.day == "2026-12-23"] == ["pre_open", "session", "post_close", "night"]
    assert sum(p.phase == "session" for p in phases) == 4
    assert [p.at_ns for p in phases] == sorted(p.at_ns for p in phases)


def test_days_past_the_library_use_the_fallback_weekdays_minus_fixed_holidays() -> None:
    assert CALENDAR.uses_fallback(dt.date(2027, 1, 4))
    assert plan(dt.date(2027, 1, 4))[1] == ("session", "09:15", True)  # a Monday, standard hours
    assert plan(dt.date(2027, 1, 26)) == [("pre_open", "08:30", False), ("night", "17:00", False)]  # Republic Day
    assert next_phase(CALENDAR, CFG, at(dt.date(2026, 12, 31), 18, 0)) == PhaseAt(
        at(dt.date(2027, 1, 1), 8, 30), "2027-01-01", "pre_open", True)  # 1 January is a weekday in the fallback


def test_next_and_current_phase_around_the_boundaries() -> None:
    monday = dt.date(2026, 12, 21)
    assert next_phase(CALENDAR, CFG, at(monday, 8, 29)).phase == "pre_open"
    assert next_phase(CALENDAR, CFG, at(monday, 8, 30)).phase == "session"  # strictly after
    assert current_phase(CALENDAR, CFG, at(monday, 8, 30)).phase == "pre_open"
    assert current_phase(CALENDAR, CFG, at(monday, 12, 0)).phase == "session"
    # Before Monday's pre-open the night of Sunday (a closed day) is in force.
    early = current_phase(CALENDAR, CFG, at(monday, 3, 0))
    assert (early.day, early.phase, early.trading_day) == ("2026-12-20", "night", False)
    # The holiday's next phase after its night is Wednesday's pre-open.
    assert next_phase(CALENDAR, CFG, at(TUESDAY_HOLIDAY, 17, 1)).day == "2026-12-23"


def test_the_offsets_come_from_the_config() -> None:
    cfg = ScheduleConfig(pre_open_ist=dt.time(7, 45), post_close_after_s=0, night_after_s=3600)
    phases = day_plan(CALENDAR, cfg, dt.date(2026, 12, 21))
    assert [p.at_ns for p in phases] == [at(dt.date(2026, 12, 21), 7, 45), at(dt.date(2026, 12, 21), 9, 15),
                                         at(dt.date(2026, 12, 21), 15, 30), at(dt.date(2026, 12, 21), 16, 30)]


def test_a_night_before_the_post_close_is_refused() -> None:
    with pytest.raises(ValueError, match="night_after_s"):
        ScheduleConfig(post_close_after_s=600, night_after_s=300)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=at(dt.date(2026, 11, 1), 0, 0), max_value=at(dt.date(2027, 3, 1), 0, 0)))
def test_the_current_phase_began_at_or_before_now_and_the_next_after_it(now_ns: int) -> None:
    cur = current_phase(CALENDAR, CFG, now_ns)
    nxt = next_phase(CALENDAR, CFG, now_ns)
    assert cur.at_ns <= now_ns < nxt.at_ns
    assert phases_between(CALENDAR, CFG, cur.at_ns, nxt.at_ns) == [nxt]  # nothing in between


def test_a_daemon_trading_mcx_too_keeps_its_day_open_until_mcx_closes() -> None:
    cfg = ScheduleConfig(segments=("NSE_EQ", "MCX_COMM"))
    phases = day_plan(CALENDAR, cfg, dt.date(2026, 12, 21))
    assert [(p.phase, p.at_ns) for p in phases] == [
        ("pre_open", at(dt.date(2026, 12, 21), 8, 30)), ("session", at(dt.date(2026, 12, 21), 9, 0)),
        ("post_close", at(dt.date(2026, 12, 21), 23, 40)),
        ("night", at(dt.date(2026, 12, 21), 23, 30) + CFG.night_after_s * 1_000_000_000)]


def test_schedule_segments_must_name_segments() -> None:
    with pytest.raises(ValueError, match="'NSE_XX' is not a segment"):
        ScheduleConfig(segments=("NSE_EQ", "NSE_XX"))
    with pytest.raises(ValueError, match="at least one segment"):
        ScheduleConfig(segments=())
