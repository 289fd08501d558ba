"""The risk actor and the market calendar: overrides from the data dir, the fallback past the
library's data, and the daily warning, status file, bus message and metrics that announce it."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import msgspec
import pytest
from prometheus_client import generate_latest

from actors.base import ActorConfigError
from actors.gateway.metrics import EngineMetrics
from actors.risk.actor import RiskActor
from actors.risk.engine import RiskEngine
from ipc.reasons import DenyReason
from actors.risk.limits import RiskLimits
from engine.config import Config
from engine.model.calendar import (
    CalendarConfig,
    CalendarSource,
    Holiday,
    overrides_path,
    read_calendar_status,
    write_overrides,
)
from engine.model.ist import ist_ns
from ipc.messages import CalendarStatus
from ipc.segments import Segment
from tests.unit.actors.execution.test_actor import FakeCtx, actor_config
from tests.unit.actors.risk.test_checks import OPT, intent

DATA_END = dt.date(2026, 12, 31)  # exchange_calendars 4.13.2's XBOM data
TODAY = dt.date(2026, 12, 6)
MONDAY_2027 = dt.date(2027, 1, 4)


class ClockCtx(FakeCtx):
    """FakeCtx whose clock the test sets."""

    name = "risk"

    def __init__(self, config: Config, data_dir: Path, now_ns: int) -> None:
        super().__init__(config, data_dir)
        self.now = now_ns
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def now_ns(self) -> int:
        return self.now


def start_risk(data_dir: Path, now_ns: int, cfg: Config | None = None) -> tuple[RiskActor, ClockCtx]:
    ctx = ClockCtx(cfg or actor_config("exchange"), data_dir, now_ns)
    risk = RiskActor(ctx)
    risk.on_start()
    return risk, ctx


def statuses(ctx: ClockCtx) -> list[CalendarStatus]:
    return [m for t, m in ctx.published if isinstance(m, CalendarStatus) and t == b"calendar.status"]


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.getMessage().startswith("calendar_")]


def test_an_intent_at_10_on_the_first_monday_of_2027_is_not_denied_market_closed(tmp_path):
    source = CalendarSource(CalendarConfig(), tmp_path)
    eng = RiskEngine(RiskLimits(), [OPT], cash_paise=10**12, calendar=source.calendar)
    eng.on_mark(Segment.NSE_FNO, OPT.security_id, 10_000)
    now = ist_ns(MONDAY_2027, dt.time(10, 0))
    assert source.calendar.last_date == DATA_END
    assert eng.check(intent(ts_event_ns=now, ts_init_ns=now, ts_created_ns=now), now) is None


def test_the_risk_actor_warns_at_start_and_once_per_ist_day_while_the_data_ends_soon(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    risk, ctx = start_risk(tmp_path / "data", ist_ns(TODAY, dt.time(20, 0)))
    assert warnings_logged(caplog) == ["calendar_data_ending"]
    (status,) = statuses(ctx)
    assert (status.data_end, status.days_left, status.warning, status.fallback_in_use) == ("2026-12-31", 25, True,
                                                                                           False)
    assert read_calendar_status(ctx.run_dir) == status  # what `shikra status` shows
    ctx.now = ist_ns(TODAY, dt.time(23, 59, 59))
    risk._on_clock()
    assert len(warnings_logged(caplog)) == 1  # the same IST day: said once
    ctx.now = ist_ns(TODAY + dt.timedelta(days=1), dt.time(0, 0))
    risk._on_clock()
    assert warnings_logged(caplog) == ["calendar_data_ending"] * 2
    assert statuses(ctx)[-1].days_left == 24


def test_the_risk_actor_says_when_the_fallback_is_in_use(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    risk, ctx = start_risk(tmp_path / "data", ist_ns(MONDAY_2027, dt.time(8, 0)))
    assert warnings_logged(caplog) == ["calendar_fallback_in_use"]
    (status,) = statuses(ctx)
    assert status.fallback_in_use and status.days_left == -4
    risk._refresh_calendar()  # the minute timer also publishes, for late subscribers (the metrics)
    assert len(statuses(ctx)) == 2 and len(warnings_logged(caplog)) == 1


def test_no_calendar_warning_and_no_status_file_when_the_market_is_always_open(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    data = tmp_path / "data"
    (data / "run").mkdir(parents=True)
    (data / "run" / "calendar_status.json").write_bytes(b"left by an earlier run")
    risk, ctx = start_risk(data, ist_ns(MONDAY_2027, dt.time(8, 0)), actor_config("always"))
    assert warnings_logged(caplog) == [] and statuses(ctx) == []
    assert not (ctx.run_dir / "calendar_status.json").exists()


def test_the_risk_actor_takes_holidays_from_the_data_dir_and_edits_while_it_runs(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_overrides(overrides_path(data), CalendarConfig(holidays=[Holiday(date=MONDAY_2027, name="Test")]))
    risk, ctx = start_risk(data, ist_ns(MONDAY_2027, dt.time(8, 0)))
    risk.engine.on_mark(Segment.NSE_FNO, OPT.security_id, 10_000)
    risk.engine.set_instrument(OPT)
    now = ist_ns(MONDAY_2027, dt.time(10, 0))
    d = risk.engine.check(intent(), now)
    assert d is not None and d.reason is DenyReason.MARKET_CLOSED and "configured NSE holiday (Test)" in d.message
    write_overrides(overrides_path(data), CalendarConfig())  # `shikra calendar remove 2027-01-04`
    risk._refresh_calendar()
    assert risk.engine.check(intent(), now) is None


def test_a_damaged_overrides_file_stops_the_risk_actor_naming_it(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    overrides_path(data).write_text('{"sessions": [{"date": "2027-11-08", "open_ist": "19:00:00", '
                                    '"close_ist": "18:00:00"}]}')
    with pytest.raises(ActorConfigError) as err:
        start_risk(data, ist_ns(TODAY, dt.time(20, 0)))
    assert "calendar.json: sessions[0] (2027-11-08 ALL): close_ist 18:00:00 is not after open_ist 19:00:00" in str(
        err.value)


def test_a_configured_holiday_in_the_config_reaches_the_risk_checks(tmp_path):
    cfg = msgspec.structs.replace(actor_config("exchange"),
                                  calendar=CalendarConfig(holidays=[Holiday(date=MONDAY_2027, exchange="NSE")]))
    risk, _ctx = start_risk(tmp_path / "data", ist_ns(MONDAY_2027, dt.time(8, 0)), cfg)
    risk.engine.set_instrument(OPT)
    risk.engine.on_mark(Segment.NSE_FNO, OPT.security_id, 10_000)
    d = risk.engine.check(intent(), ist_ns(MONDAY_2027, dt.time(10, 0)))
    assert d is not None and d.reason is DenyReason.MARKET_CLOSED


def test_metrics_show_days_until_the_data_ends_and_the_fallback():
    m = EngineMetrics(lambda: 0)
    text = generate_latest(m.registry).decode()
    assert "shikra_calendar_days_until_data_end{" not in text  # nothing said yet: no made-up zero
    m.observe(CalendarStatus("XBOM", "2026-12-31", 25, False, True, 1))
    text = generate_latest(m.registry).decode()
    assert 'shikra_calendar_days_until_data_end{calendar="XBOM",data_end="2026-12-31"} 25.0' in text
    assert 'shikra_calendar_fallback_in_use{calendar="XBOM"} 0.0' in text
    m.observe(CalendarStatus("XBOM", "2026-12-31", -4, True, True, 2))
    assert 'shikra_calendar_fallback_in_use{calendar="XBOM"} 1.0' in generate_latest(m.registry).decode()
