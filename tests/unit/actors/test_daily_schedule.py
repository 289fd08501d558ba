"""The daily schedule on a simulated clock: the supervisor's DaySchedule announces each phase and
the actors do their tasks (execution reconciles and cancels leftover DAY orders, strategy warms
up, notify sends the day's summary, the supervisor refreshes the master and backs up the ledger);
weekends and holidays idle; a new master reaches the actors at the session boundary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.daemon.schedule import STATE_FILE, DaySchedule, run_now
from engine.ledger.backup import BACKUPS_DIR
from engine.logs import get_logger
from engine.model.clock import SimClock
from engine.model.lookup import instruments_dir
from engine.model.master_refresh import MasterDownloadConfig, refresh_master
from engine.model.sample_master import sample_master_text
from ipc.messages import DailyTaskFinished, DayPhaseBegan, InstrumentMasterStatus, Message
from tests.support.master_server import MasterServer
from tests.support.sim import SimEngine, at_ist, sim_config

MONDAY = dt.date(2026, 12, 21)
HOLIDAY = dt.date(2026, 12, 22)  # a configured holiday
ACTORS = ("strategy", "risk", "execution", "notify")


def _config(**sections: object):  # type: ignore[no-untyped-def]
    return sim_config(ACTORS, calendar={"holidays": [{"date": HOLIDAY.isoformat(), "name": "test"}]}, **sections)


def _tasks(engine: SimEngine, day: dt.date) -> dict[str, tuple[str, bool]]:
    return {t.task: (t.actor, t.ok) for t in engine.seen(DailyTaskFinished) if t.day == day.isoformat()}


def _phases(engine: SimEngine) -> list[tuple[str, str, bool]]:
    return [(p.day, p.phase, p.trading_day) for p in engine.seen(DayPhaseBegan)]


def test_the_actors_do_their_tasks_through_a_trading_day_and_idle_on_a_holiday(tmp_path: Path) -> None:
    with SimEngine(tmp_path / "data", at_ist(MONDAY, 7, 0), ACTORS, config=_config(), schedule=True) as engine:
        assert _phases(engine) == [("2026-12-20", "night", False)]  # Sunday night, in force at start
        engine.advance_to(at_ist(MONDAY, 8, 31))
        assert _phases(engine)[-1] == ("2026-12-21", "pre_open", True)
        # (Paper answers the broker session too: there is none, as there is nothing to reconcile with.)
        assert _tasks(engine, MONDAY) == {"broker_session": ("execution", True), "reconcile": ("execution", True),
                                          "warm_up": ("strategy", True)}
        engine.advance_to(at_ist(MONDAY, 15, 41))
        assert [p for _d, p, _t in _phases(engine)] == ["night", "pre_open", "session", "post_close"]
        tasks = _tasks(engine, MONDAY)
        assert tasks["cancel_day_orders"] == ("execution", True)
        assert tasks["summary"] == ("notify", True)
        assert tasks["backup"] == ("supervisor", True)
        assert [p.name for p in (engine.data_dir / BACKUPS_DIR).iterdir()] == ["ledger-2026-12-21.mdb"]
        engine.advance_to(at_ist(HOLIDAY, 23, 0))
        assert _phases(engine)[-3:] == [("2026-12-21", "night", True), ("2026-12-22", "pre_open", False),
                                        ("2026-12-22", "night", False)]
        assert _tasks(engine, HOLIDAY) == {}  # nothing to do on a holiday (the master is the sample)
        engine.advance_to(at_ist(HOLIDAY + dt.timedelta(days=1), 9, 16))
        assert _phases(engine)[-1] == ("2026-12-23", "session", True)


def test_a_failed_task_is_alerted_and_a_post_close_announced_again_sends_no_second_summary(tmp_path: Path) -> None:
    with SimEngine(tmp_path / "data", at_ist(MONDAY, 15, 45), ACTORS, config=_config(), schedule=True) as engine:
        # Started in post-close: the phase in force is announced (the day's tasks run).
        assert _phases(engine) == [("2026-12-21", "post_close", True)]
        assert _tasks(engine, MONDAY)["summary"] == ("notify", True)
        summaries = [t for t in engine.seen(DailyTaskFinished) if t.task == "summary"]
        assert summaries[0].detail == "nothing traded since the last summary"
        failed = DailyTaskFinished("2026-12-21", "backup", "supervisor", False, "backup_failed", "disk full",
                                   engine.now_ns(), engine.now_ns())
        engine.publish(b"schedule.task", failed)
        audit = [row for row in engine.ledger_facts()["audit"] if row.action == "alert_daily_task_failed"]
        assert len(audit) == 1 and "disk full" in audit[0].result


def test_a_restarted_schedule_catches_up_the_pre_open_once_and_does_not_repeat_its_own_tasks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    published: list[Message] = []
    cfg = _config(schedule={"backup_keep_days": 2})
    log = get_logger("test.schedule")

    def schedule_at(t_ns: int) -> DaySchedule:
        clock = SimClock(t_ns)
        sched = DaySchedule(cfg, data, clock, lambda _topic, msg: published.append(msg), run_now, log)
        sched.start()
        return sched

    data.mkdir()
    # Down at 08:30, started at 10:00: the pre-open is caught up, then the session is in force.
    schedule_at(at_ist(MONDAY, 10, 0))
    assert [(m.phase, m.day) for m in published if isinstance(m, DayPhaseBegan)] == [
        ("pre_open", "2026-12-21"), ("session", "2026-12-21")]
    assert (data / STATE_FILE).exists()
    published.clear()
    # Restarted again in the session: the pre-open was announced today, so not again.
    sched = schedule_at(at_ist(MONDAY, 11, 0))
    assert [m.phase for m in published if isinstance(m, DayPhaseBegan)] == ["session"]
    assert sched.current is not None and sched.current.phase == "session"


def test_the_master_is_refreshed_at_pre_open_and_the_actors_take_it_at_the_session_boundary(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lines = sample_master_text(MONDAY).splitlines()
    new_contract = lines[-1]
    with MasterServer() as server:
        download = MasterDownloadConfig(url=server.url, min_rows=100)
        server.serve(("\n".join(lines[:-1]) + "\n").encode())  # Monday's master lacks one contract
        refresh_master(download, instruments_dir(data), at_ist(MONDAY, 8, 0))
        cfg = _config(instruments={"master": "dhan", "download": {"url": server.url, "min_rows": 100}})
        symbol = new_contract.split(",")[7]
        with SimEngine(data, at_ist(MONDAY, 10, 0), ACTORS, config=cfg, schedule=True) as engine:
            risk, execution, strategy = engine.actor("risk"), engine.actor("execution"), engine.actor("strategy")
            statuses = engine.seen(InstrumentMasterStatus)
            assert [s.ok for s in statuses] == [True]  # the catch-up's pre-open refreshed (same file)
            assert all(a.table.by_symbol(symbol) is None for a in (risk, execution, strategy))
            # A refresh by hand mid-session with the new contract: taken only once the session ends.
            server.serve(("\n".join(lines) + "\n").encode())
            engine.schedule.refresh_master("2026-12-21", by_hand=True)  # type: ignore[union-attr]
            engine.host.drain()
            assert engine.seen(InstrumentMasterStatus)[-1].ok
            assert execution.table.by_symbol(symbol) is None
            engine.advance_to(at_ist(MONDAY, 15, 41))
            for actor in (risk, execution, strategy):
                assert actor.table.by_symbol(symbol) is not None, actor.ctx.name
            # A failed download the next morning: the last good master stays, the failure is alerted.
            server.serve(b"not,a,master\n")
            engine.advance_to(at_ist(MONDAY + dt.timedelta(days=2), 8, 31))
            last = engine.seen(InstrumentMasterStatus)[-1]
            assert not last.ok and last.reason_code == "bad_columns" and last.master_date == "2026-12-21"
            assert execution.table.by_symbol(symbol) is not None
            audit = [row.action for row in engine.ledger_facts()["audit"]]
            assert "alert_master_refresh_failed" in audit


@pytest.mark.parametrize("held", [True, False])
def test_a_contract_that_left_the_master_stays_known_while_it_is_held(tmp_path: Path, held: bool) -> None:
    from engine.model.master import load_instruments

    lines = sample_master_text(MONDAY).splitlines()
    full, short = tmp_path / "full.csv", tmp_path / "short.csv"
    full.write_text("\n".join(lines) + "\n")
    short.write_text("\n".join(lines[:-1]) + "\n")
    old, new = load_instruments(full, use_cache=False), load_instruments(short, use_cache=False)
    gone = old.by_symbol(lines[-1].split(",")[7])
    assert gone is not None and new.get(gone.segment, gone.security_id) is None
    kept = new.keep_held(old, {(gone.segment, gone.security_id)} if held else set())
    assert (new.get(gone.segment, gone.security_id) == gone) is held
    assert (new.tick_paise(gone.segment, gone.security_id) == gone.tick_paise) is held
    assert len(kept) == int(held)
    assert new.by_symbol(gone.symbol) is None  # never offered for a new entry by symbol
