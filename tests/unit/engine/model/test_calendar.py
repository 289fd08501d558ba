"""The market calendar: exchange_calendars (XBOM) where it has data, the fallback past it, and the
configured holidays and special sessions on top; hours, cut-off, square-off."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model import calendar as calendar_module
from engine.model import ist
from engine.model.calendar import (
    FIXED_HOLIDAYS,
    SEGMENT_HOURS,
    CalendarConfig,
    CalendarError,
    CalendarSource,
    Holiday,
    SessionCalendar,
    SpecialSession,
    calendar_status,
    default_calendar,
    overrides_path,
    read_calendar_status,
    read_overrides,
    render_calendar_status,
    write_calendar_status,
    write_overrides,
)
from engine.model.ist import ist_ns
from ipc.segments import Segment

MONDAY = dt.date(2026, 11, 23)
SATURDAY = dt.date(2026, 11, 21)
REPUBLIC_DAY = dt.date(2026, 1, 26)
DIWALI_BALIPRATIPADA = dt.date(2026, 11, 10)
NEW_YEAR_2027 = dt.date(2027, 1, 1)  # a Friday, past exchange_calendars 4.13.2's data (ends 2026-12-31)


@pytest.fixture(scope="module")
def cal() -> SessionCalendar:
    return default_calendar()


def with_overrides(*holidays: Holiday, sessions: tuple[SpecialSession, ...] = ()) -> SessionCalendar:
    return SessionCalendar(overrides=(CalendarConfig(holidays=list(holidays), sessions=list(sessions)),))


def open_at(c: SessionCalendar, segment: int, d: dt.date, h: int, m: int = 0) -> bool:
    return c.is_market_open(segment, ist_ns(d, dt.time(h, m)))


# --------------------------------------------------------------------------------------------
# The library's range
# --------------------------------------------------------------------------------------------


def test_library_session_is_0915_to_1530_ist(cal):
    assert cal.session_bounds(MONDAY, Segment.NSE_FNO) == (ist_ns(MONDAY, dt.time(9, 15)), ist_ns(MONDAY, dt.time(15, 30)))
    assert cal.session_bounds(MONDAY, Segment.BSE_EQ) == cal.session_bounds(MONDAY, Segment.NSE_EQ)
    assert cal.source(MONDAY, "NSE") == "library"


@pytest.mark.parametrize("holiday", [REPUBLIC_DAY, DIWALI_BALIPRATIPADA])
def test_exchange_holiday_is_closed(cal, holiday):
    assert holiday.weekday() < 5
    assert not cal.is_trading_day(holiday)
    assert cal.session_bounds(holiday) is None
    assert not open_at(cal, Segment.NSE_FNO, holiday, 10)
    assert cal.closed_reason(holiday, Segment.NSE_FNO) == "an exchange holiday"


def test_normal_weekday_open_at_10(cal):
    assert cal.is_trading_day(MONDAY)
    assert open_at(cal, Segment.NSE_FNO, MONDAY, 10) and open_at(cal, Segment.NSE_EQ, MONDAY, 10)


@pytest.mark.parametrize(
    "t,is_open",
    [(dt.time(9, 14, 59), False), (dt.time(9, 15), True), (dt.time(15, 29, 59), True),
     (dt.time(15, 30), False), (dt.time(15, 31), False)],
)
def test_session_edges(cal, t, is_open):
    assert cal.is_market_open(Segment.NSE_FNO, ist_ns(MONDAY, t)) is is_open


def test_weekend_closed(cal):
    assert not cal.is_trading_day(SATURDAY)
    assert not open_at(cal, Segment.NSE_FNO, SATURDAY, 10)
    assert not open_at(cal, Segment.MCX_COMM, SATURDAY, 10)
    assert cal.closed_reason(SATURDAY, Segment.NSE_FNO) == "a weekend"


def test_mcx_trades_into_the_evening_and_follows_exchange_holidays(cal):
    assert open_at(cal, Segment.MCX_COMM, MONDAY, 9) and open_at(cal, Segment.MCX_COMM, MONDAY, 22)
    assert not open_at(cal, Segment.NSE_FNO, MONDAY, 22)
    assert not open_at(cal, Segment.MCX_COMM, MONDAY, 23, 30)
    assert not open_at(cal, Segment.MCX_COMM, REPUBLIC_DAY, 18)


def test_currency_session_and_index_never_trades(cal):
    assert open_at(cal, Segment.NSE_CURRENCY, MONDAY, 16, 30)
    assert not open_at(cal, Segment.IDX_I, MONDAY, 10)


def test_a_whole_year_inside_the_library_range_is_the_library_schedule_untouched():
    """2026, day by day and segment by segment, against exchange_calendars itself: the fallback and
    overrides for other dates change nothing inside the library's range."""
    import exchange_calendars

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lib = exchange_calendars.get_calendar("XBOM")
        sched = lib.schedule.loc["2026-01-01":"2026-12-31"]
    library = {ts.date(): (o.value, c.value) for ts, o, c in zip(sched.index, sched["open"], sched["close"])}
    assert len(library) > 240
    ours = with_overrides(Holiday(date=dt.date(2027, 3, 22), name="Holi"),
                          sessions=(SpecialSession(date=dt.date(2027, 11, 8), open_ist=dt.time(18),
                                                   close_ist=dt.time(19)),))
    d = dt.date(2026, 1, 1)
    while d.year == 2026:
        for segment, hours in SEGMENT_HOURS.items():
            expected = library.get(d)
            if expected is not None and hours.open_ist is not None:
                expected = (ist_ns(d, hours.open_ist), ist_ns(d, hours.close_ist))  # type: ignore[arg-type]
            assert ours.session_bounds(d, segment) == expected, (d, segment)
        assert ours.source(d, "NSE") == "library"
        d += dt.timedelta(days=1)


# --------------------------------------------------------------------------------------------
# The fallback past the library's data
# --------------------------------------------------------------------------------------------


def test_new_years_day_2027_is_a_trading_day_on_the_fallback(cal):
    assert cal.uses_fallback(NEW_YEAR_2027) and not cal.covers(NEW_YEAR_2027)
    assert NEW_YEAR_2027.weekday() == 4 and (1, 1) not in FIXED_HOLIDAYS
    assert cal.session_bounds(NEW_YEAR_2027, Segment.NSE_FNO) == (ist_ns(NEW_YEAR_2027, dt.time(9, 15)),
                                                          ist_ns(NEW_YEAR_2027, dt.time(15, 30)))
    assert open_at(cal, Segment.MCX_COMM, NEW_YEAR_2027, 22)
    assert cal.source(NEW_YEAR_2027, "NSE") == "fallback"


def test_republic_day_2027_is_closed_on_the_fallback(cal):
    day = dt.date(2027, 1, 26)
    assert day.weekday() == 1
    assert not cal.is_trading_day(day) and not open_at(cal, Segment.NSE_FNO, day, 10) and not open_at(cal, Segment.MCX_COMM, day, 18)
    assert "Republic Day" in cal.closed_reason(day, Segment.NSE_FNO)


def test_a_weekend_past_the_library_data_is_closed(cal):
    saturday = dt.date(2027, 1, 2)
    assert saturday.weekday() == 5
    assert not cal.is_trading_day(saturday) and not cal.is_trading_day(saturday + dt.timedelta(days=1))


@settings(max_examples=300, deadline=None)
@given(offset_days=st.integers(min_value=1, max_value=12 * 366))
def test_the_fallback_is_weekdays_minus_the_fixed_date_holidays(offset_days):
    cal = default_calendar()
    d = cal.last_date + dt.timedelta(days=offset_days)  # also past the precomputed horizon: extended
    expected = d.weekday() < 5 and (d.month, d.day) not in FIXED_HOLIDAYS
    assert cal.is_trading_day(d) is expected
    assert cal.is_trading_day(d, Segment.MCX_COMM) is expected
    day = cal.day(ist_ns(d, dt.time(12, 0)))
    assert day.is_trading_day is expected and (Segment.NSE_FNO in day.bounds) is expected


# --------------------------------------------------------------------------------------------
# Overrides: configured holidays and special sessions
# --------------------------------------------------------------------------------------------


def test_a_configured_holiday_closes_its_exchange_only():
    holi = dt.date(2027, 3, 22)
    c = with_overrides(Holiday(date=holi, exchange="NSE", name="Holi"))
    assert not open_at(c, Segment.NSE_FNO, holi, 10) and not open_at(c, Segment.NSE_CURRENCY, holi, 10)
    assert open_at(c, Segment.BSE_EQ, holi, 10) and open_at(c, Segment.MCX_COMM, holi, 10)
    assert c.source(holi, "NSE") == "override" and c.source(holi, "BSE") == "fallback"
    assert "Holi" in c.closed_reason(holi, Segment.NSE_FNO)


def test_a_configured_holiday_inside_the_library_range_closes_every_exchange():
    c = with_overrides(Holiday(date=MONDAY, name="Unexpected closure"))
    assert not any(c.is_trading_day(MONDAY, seg) for seg in (Segment.NSE_EQ, Segment.BSE_EQ, Segment.MCX_COMM))


def test_muhurat_session_on_a_holiday_evening_is_open_only_in_its_hours():
    muhurat = SpecialSession(date=DIWALI_BALIPRATIPADA, open_ist=dt.time(18, 0), close_ist=dt.time(19, 0),
                             exchange="NSE", name="Muhurat trading")
    c = with_overrides(Holiday(date=DIWALI_BALIPRATIPADA, name="Diwali"), sessions=(muhurat,))
    day = DIWALI_BALIPRATIPADA
    assert not open_at(c, Segment.NSE_FNO, day, 10) and not open_at(c, Segment.NSE_FNO, day, 17, 59)
    assert open_at(c, Segment.NSE_FNO, day, 18) and open_at(c, Segment.NSE_EQ, day, 18, 59)
    assert not open_at(c, Segment.NSE_FNO, day, 19)
    assert not open_at(c, Segment.BSE_EQ, day, 18, 30)  # the session is NSE's
    assert c.source(day, "NSE") == "override"


def test_saturday_budget_session_opens_the_market(cal):
    budget = dt.date(2027, 2, 6)
    assert budget.weekday() == 5 and not cal.is_trading_day(budget)
    c = with_overrides(sessions=(SpecialSession(date=budget, open_ist=dt.time(9, 15), close_ist=dt.time(15, 30),
                                                name="Union Budget"),))
    assert open_at(c, Segment.NSE_FNO, budget, 10) and open_at(c, Segment.BSE_EQ, budget, 10)
    assert not open_at(c, Segment.NSE_FNO, budget, 16)
    day = c.day(ist_ns(budget, dt.time(10, 0)))
    assert day.is_trading_day and day.bounds[Segment.NSE_FNO] == (ist_ns(budget, dt.time(9, 15)), ist_ns(budget, dt.time(15, 30)))
    row = next(r for r in c.sessions(budget, 1) if r.exchange == "NSE")
    assert (row.open_ist, row.close_ist, row.source, row.name) == (dt.time(9, 15), dt.time(15, 30), "override",
                                                                   "Union Budget")


@settings(max_examples=60, deadline=None)
@given(holidays=st.sets(st.integers(min_value=0, max_value=120), max_size=8),
       exchange=st.sampled_from(["NSE", "BSE", "MCX", "ALL"]))
def test_configured_holidays_close_exactly_their_dates(holidays, exchange):
    base = dt.date(2027, 2, 1)
    c = with_overrides(*(Holiday(date=base + dt.timedelta(days=k), exchange=exchange) for k in holidays))
    plain = default_calendar()
    for k in range(0, 121):
        d = base + dt.timedelta(days=k)
        for segment, ex in ((Segment.NSE_FNO, "NSE"), (Segment.BSE_EQ, "BSE"), (Segment.MCX_COMM, "MCX")):
            closed_here = k in holidays and exchange in (ex, "ALL")
            assert c.is_trading_day(d, segment) is (plain.is_trading_day(d, segment) and not closed_here)


def test_a_later_overrides_source_wins_for_a_session_on_the_same_date():
    d = dt.date(2027, 11, 8)
    config = CalendarConfig(sessions=[SpecialSession(date=d, open_ist=dt.time(18), close_ist=dt.time(19))])
    file = CalendarConfig(sessions=[SpecialSession(date=d, open_ist=dt.time(18, 15), close_ist=dt.time(19, 15))])
    c = SessionCalendar(overrides=(config, file))
    assert c.session_bounds(d, Segment.NSE_EQ) == (ist_ns(d, dt.time(18, 15)), ist_ns(d, dt.time(19, 15)))


def test_calendar_show_rows_list_sessions_and_closed_weekdays(cal):
    rows = cal.sessions(dt.date(2027, 1, 25), 7)  # Mon 25 .. Sun 31 Jan 2027
    nse = [r for r in rows if r.exchange == "NSE"]
    assert [r.date.day for r in nse] == [25, 26, 27, 28, 29]  # the weekend is not listed
    closed = nse[1]
    assert (closed.open_ist, closed.source, closed.name) == (None, "fallback", "Republic Day")
    assert {r.exchange for r in rows} == {"NSE", "BSE", "MCX"}


# --------------------------------------------------------------------------------------------
# The overrides file
# --------------------------------------------------------------------------------------------


def test_overrides_file_round_trips(tmp_path):
    path = overrides_path(tmp_path)
    cal = CalendarConfig(holidays=[Holiday(date=dt.date(2027, 3, 22), exchange="NSE", name="Holi")],
                         sessions=[SpecialSession(date=dt.date(2027, 11, 8), open_ist=dt.time(18),
                                                  close_ist=dt.time(19), name="Muhurat")])
    write_overrides(path, cal)
    assert read_overrides(path) == cal
    assert read_overrides(tmp_path / "absent.json") == CalendarConfig()


@pytest.mark.parametrize("content,names", [
    ('{"holidays": [{"date": "2027-13-01"}]}', ["holidays[0].date"]),
    ('{"holidays": [{"date": "2027-01-05", "exchange": "NYSE"}]}', ["holidays[0].exchange", "NYSE"]),
    ('{"sessions": [{"date": "2027-11-08", "open_ist": "19:00:00", "close_ist": "18:00:00", "exchange": "NSE"}]}',
     ["sessions[0]", "2027-11-08 NSE", "close_ist 18:00:00 is not after open_ist 19:00:00"]),
    ('{"sessions": [{"date": "2027-11-08", "open_ist": "18:00:00", "close_ist": "19:00:00"},'
     ' {"date": "2027-11-08", "open_ist": "18:30:00", "close_ist": "19:00:00", "exchange": "MCX"}]}',
     ["sessions[1]", "MCX already has a session on 2027-11-08 (sessions[0])"]),
    ('{"holidays": [{"date": "2027-01-05", "when": 1}]}', ["holidays[0]", "when"]),
    ('{"holidays": [', ["not valid JSON"]),
])
def test_a_damaged_overrides_file_is_refused_naming_file_entry_and_problem(tmp_path, content, names):
    path = overrides_path(tmp_path)
    path.write_text(content)
    with pytest.raises(CalendarError) as err:
        read_overrides(path)
    text = str(err.value)
    assert text.startswith(str(path)) and all(n in text for n in names), text


def test_calendar_source_takes_an_edited_file_and_keeps_the_old_overrides_when_it_is_damaged(tmp_path):
    holi = dt.date(2027, 3, 22)
    source = CalendarSource(CalendarConfig(), tmp_path)
    assert source.calendar.is_trading_day(holi) and not source.refresh()
    cal = source.calendar
    before = cal.day(ist_ns(holi, dt.time(10)))
    write_overrides(overrides_path(tmp_path), CalendarConfig(holidays=[Holiday(date=holi, name="Holi")]))
    assert source.refresh() and source.calendar is cal
    assert not cal.is_trading_day(holi) and cal.day(ist_ns(holi, dt.time(10))) != before
    overrides_path(tmp_path).write_text('{"holidays": [{"date": "someday"}]}')
    with pytest.raises(CalendarError):
        source.refresh()
    assert not cal.is_trading_day(holi)  # still the last good overrides
    assert not source.refresh()  # reported once, not at every look


def test_calendar_source_refuses_a_damaged_file_at_start(tmp_path):
    overrides_path(tmp_path).write_text(json.dumps({"holidays": [{"date": "2027-02-30"}]}))
    with pytest.raises(CalendarError, match=r"calendar\.json: holidays\[0\]\.date"):
        CalendarSource(CalendarConfig(), tmp_path)


# --------------------------------------------------------------------------------------------
# Standing: how loudly the operator hears about the data's end
# --------------------------------------------------------------------------------------------


def test_standing_warns_from_30_days_before_the_data_ends_and_while_on_the_fallback(cal, tmp_path: Path):
    end = cal.last_date
    far = calendar_status(cal, ist_ns(end - dt.timedelta(days=31), dt.time(10)))
    assert (far.days_left, far.warning, far.fallback_in_use) == (31, False, False)
    near = calendar_status(cal, ist_ns(end - dt.timedelta(days=30), dt.time(10)))
    assert (near.days_left, near.warning, near.fallback_in_use) == (30, True, False)
    past = calendar_status(cal, ist_ns(end + dt.timedelta(days=4), dt.time(10)))
    assert (past.days_left, past.warning, past.fallback_in_use) == (-4, True, True)
    assert past.data_end == end.isoformat() and past.calendar == "XBOM"
    assert "FALLBACK IN USE" in render_calendar_status(past)
    assert "WARNING" in render_calendar_status(near) and "30 day(s)" in render_calendar_status(near)
    assert render_calendar_status(far) == f"calendar: XBOM data until {end} (31 days)"
    write_calendar_status(tmp_path, past)
    assert read_calendar_status(tmp_path) == past


# --------------------------------------------------------------------------------------------
# Instants and IST arithmetic
# --------------------------------------------------------------------------------------------


def test_entry_cutoff_with_fake_clock(cal):
    cutoff = dt.time(15, 15)
    assert cal.entry_allowed(ist_ns(MONDAY, dt.time(15, 14, 59)), cutoff)
    assert not cal.entry_allowed(ist_ns(MONDAY, dt.time(15, 15)), cutoff)
    assert not cal.entry_allowed(ist_ns(MONDAY, dt.time(9, 0)), cutoff)  # before the open
    assert not cal.entry_allowed(ist_ns(REPUBLIC_DAY, dt.time(10, 0)), cutoff)


def test_square_off_due_with_fake_clock(cal):
    at = dt.time(15, 25)
    assert not cal.square_off_due(ist_ns(MONDAY, dt.time(15, 24, 59)), at)
    assert cal.square_off_due(ist_ns(MONDAY, dt.time(15, 25)), at)
    assert cal.square_off_due(ist_ns(MONDAY, dt.time(15, 40)), at)
    assert not cal.square_off_due(ist_ns(SATURDAY, dt.time(15, 25)), at)


def test_precomputed_day_matches_the_calendar(cal):
    now = ist_ns(MONDAY, dt.time(12, 0))
    day = cal.day(now)
    assert day.is_trading_day and day.start_ns <= now < day.end_ns
    assert day.end_ns - day.start_ns == ist.DAY_NS
    assert day.start_ns == ist_ns(MONDAY, dt.time(0, 0))
    assert day.bounds[Segment.NSE_FNO] == cal.session_bounds(MONDAY, Segment.NSE_FNO)
    assert Segment.IDX_I not in day.bounds
    assert cal.day(ist_ns(SATURDAY, dt.time(12, 0))).bounds == {}
    assert cal.day(now + 1) is day  # memoised: the hot path builds nothing


def test_ist_arithmetic_round_trips():
    now = ist_ns(MONDAY, dt.time(23, 59, 59))
    assert ist.ist_date(now) == MONDAY
    assert ist.ist_date(now + ist.NS_PER_S) == MONDAY + dt.timedelta(days=1)
    assert ist.ist_time_of_day_ns(now) == ist.time_of_day_ns(dt.time(23, 59, 59))
    assert ist.day_date(ist.ist_day_number(MONDAY)) == MONDAY
    assert ist.today_ist(now) == MONDAY
    assert ist.NS_PER_S == 1000 * ist.NS_PER_MS == 1_000_000 * ist.NS_PER_US
    # 10:00 IST is 04:30 UTC
    utc = dt.datetime(2026, 11, 23, 4, 30, tzinfo=dt.timezone.utc)
    assert ist_ns(MONDAY, dt.time(10, 0)) == int(utc.timestamp()) * ist.NS_PER_S
    assert dt.datetime(2026, 11, 23, 10, 0, tzinfo=ist.IST) == utc


# The library's table, cached between processes -----------------------------------------------


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """A fresh cache directory, and no table remembered by this process."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calendar_module.read_library.cache_clear()
    yield tmp_path
    calendar_module.read_library.cache_clear()


def test_library_table_from_the_cache_file_equals_the_library_itself(cache_home):
    built = calendar_module.read_library("XBOM")  # no file yet: built from the library, file written
    path = calendar_module.library_cache_path("XBOM")
    assert path is not None and path.parent.parent == cache_home and path.exists()
    calendar_module.read_library.cache_clear()
    from_file = calendar_module.read_library("XBOM")
    assert from_file == built == calendar_module._build_library("XBOM")
    assert len(from_file.sessions) > 4000  # twenty years of sessions


def test_library_cache_is_read_without_building(cache_home, monkeypatch):
    calendar_module.read_library("XBOM")
    calendar_module.read_library.cache_clear()

    def no_library(exchange: str) -> None:
        raise AssertionError("the library was read although today's cache file exists")

    monkeypatch.setattr(calendar_module, "_build_library", no_library)
    assert calendar_module.read_library("XBOM").first_day > 0


def test_unreadable_library_cache_is_rebuilt_and_other_days_tables_removed(cache_home):
    path = calendar_module.library_cache_path("XBOM")
    assert path is not None
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00 not msgpack")
    stale = path.parent / "calendar-XBOM-2001-01-01-0.msgpack"
    stale.write_bytes(b"old")
    lib = calendar_module.read_library("XBOM")
    assert lib == calendar_module._build_library("XBOM")
    assert msgspec.msgpack.decode(path.read_bytes(), type=calendar_module._Library) == lib
    assert not stale.exists()
