"""The control actor's record of the daily schedule: what ran survives a restart of control."""

from __future__ import annotations

from pathlib import Path

from actors.control.schedule_log import KEEP_DAYS, ScheduleLog
from engine.cli.schedule import render
from engine.control_api import control_pb2 as pb
from ipc.messages import DailyTaskFinished, DayPhaseBegan


def test_what_ran_is_kept_per_day_in_controls_file_and_read_back_after_a_restart(tmp_path: Path) -> None:
    log = ScheduleLog(tmp_path)
    log.record(DayPhaseBegan("2026-12-21", "pre_open", True, 1))
    log.record(DailyTaskFinished("2026-12-21", "reconcile", "execution", True, "", "3 orders", 1, 2))
    log.record(DailyTaskFinished("2026-12-21", "instrument_master", "supervisor", False, "bad_columns", "x", 1, 3))
    log.save()
    again = ScheduleLog(tmp_path)
    day = again.day("2026-12-21")
    assert day.trading_day and [p.phase for p in day.phases] == ["pre_open"]
    assert [(t.task, t.ok) for t in day.tasks] == [("reconcile", True), ("instrument_master", False)]
    assert again.day("2026-12-22").tasks == ()


def test_only_the_last_days_are_kept_and_a_damaged_file_starts_empty(tmp_path: Path) -> None:
    log = ScheduleLog(tmp_path)
    for i in range(KEEP_DAYS + 3):
        log.record(DayPhaseBegan(f"2026-11-{i + 1:02d}", "night", False, i))
    assert len(log.days) == KEEP_DAYS and "2026-11-01" not in log.days
    (tmp_path / "control-schedule.json").write_text("{nope")
    broken = ScheduleLog(tmp_path)
    assert broken.days == {} and broken.load_error


def test_shikra_schedule_shows_planned_and_began_times_and_each_task() -> None:
    r = pb.GetScheduleResponse(day="2026-12-21", trading_day=True, enabled=True, phases=[
        pb.SchedulePhase(phase="pre_open", planned_ns=1797822000_000000000, began_ns=1797822001_000000000),
        pb.SchedulePhase(phase="session", planned_ns=1797824700_000000000)],
        tasks=[pb.ScheduleTask(task="backup", actor="supervisor", ok=False, reason_code="backup_failed",
                               detail="disk full", started_ns=1797822001_000000000, finished_ns=1797822002_000000000)])
    text = render(r)
    assert "2026-12-21: trading day" in text
    assert "08:30:00" in text and "08:30:01" in text and "09:15:00" in text
    assert "backup" in text and "NO" in text and "backup_failed: disk full" in text
