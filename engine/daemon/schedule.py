"""The daily schedule in the supervisor: the plan of ``engine.model.schedule`` driven on a clock.

At each phase's time :class:`DaySchedule` publishes ``DayPhaseBegan`` on ``schedule.`` (each actor
does its part and answers ``DailyTaskFinished``) and runs the supervisor's own tasks: at pre-open
the instrument master refresh (``engine.model.master_refresh``; every day, trading or not), at a
trading day's post-close the ledger backup (``engine.ledger.backup``). Those run through ``run``,
which the host passes in: the supervisor runs them in a worker thread (a download must not hold
the trio loop), a test on a SimClock runs them at once.

Restarts (the catch-up). On start the schedule announces the phase in force, and first that day's
pre-open when a trading day's session has begun but the pre-open was never announced (the daemon
was down at 08:30). The actors' tasks are idempotent (a feed already connected stays connected,
reconcile again finds nothing new, cancelling DAY orders when none are left does nothing, a
summary already taken has nothing new); the supervisor's own are not repeated: the day's
successful refresh and backup are kept in ``<data_dir>/schedule.json`` (the supervisor's file, like
the kill switch's) and skipped after a restart. A unit that restarts alone gets the phase in force
sent to its actors (``current``), so a feed restarted at night stays disconnected.

The timer is re-armed at most :data:`RECHECK_S` ahead: a wall clock that steps (NTP, a VM resumed)
or a calendar edited in between is seen within that time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

import msgspec

from engine.files import replace_file
from engine.ledger import ledger_dir
from engine.ledger.backup import BackupFailed, daily_backup
from engine.model.calendar import CalendarError, CalendarSource
from engine.model.ist import NS_PER_S
from engine.model.lookup import instruments_dir
from engine.model.master_refresh import MasterRefreshFailed, master_source, read_meta, refresh_master
from engine.model.schedule import PhaseAt, current_phase, day_plan, next_phase, phases_between
from ipc import topics
from ipc.messages import DailyTask, DailyTaskFinished, DayPhaseBegan, InstrumentMasterStatus, Message

if TYPE_CHECKING:
    from engine.config import Config
    from engine.logs import Log
    from engine.model.clock import Clock, Timer

SUPERVISOR: Final = "supervisor"
STATE_FILE: Final = "schedule.json"  # in the data dir: the supervisor's own tasks done, per day
RECHECK_S: Final = 300.0

Outcome = tuple[bool, str, str]  # ok, reason code, detail
Publish = Callable[[bytes, Message], None]
# run(task_fn, done): call task_fn (blocking, maybe slow) and then done(its outcome) on the
# schedule's thread.
Run = Callable[[Callable[[], Outcome], Callable[[Outcome], None]], None]


def run_now(task_fn: Callable[[], Outcome], done: Callable[[Outcome], None]) -> None:
    """``Run`` for a simulated clock: the task at once, on this thread."""
    done(task_fn())


class ScheduleState(msgspec.Struct):
    """What the supervisor did on ``day``: the phases announced and its tasks that succeeded."""

    day: str = ""
    phases: list[str] = msgspec.field(default_factory=list)
    tasks_ok: list[str] = msgspec.field(default_factory=list)


class DaySchedule:
    def __init__(self, cfg: Config, data_dir: Path, clock: Clock, publish: Publish, run: Run, log: Log) -> None:
        self.cfg = cfg
        self.scfg = cfg.schedule
        self.data_dir = data_dir
        self.clock = clock
        self.publish = publish
        self.run = run
        self.log = log
        self.calendar_source = CalendarSource(cfg.calendar, data_dir)
        self.state_path = data_dir / STATE_FILE
        self.state = self._load_state()
        self.current: DayPhaseBegan | None = None
        self._checked_ns = 0
        self._timer: Timer | None = None
        self._running: set[str] = set()  # the supervisor's tasks in flight

    # State ------------------------------------------------------------------------------------
    def _load_state(self) -> ScheduleState:
        try:
            return msgspec.json.decode(self.state_path.read_bytes(), type=ScheduleState)
        except FileNotFoundError:
            return ScheduleState()
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            # Only costs a repeated refresh or backup today: say so and start afresh.
            self.log.warning("schedule_state_unreadable", path=str(self.state_path), error=str(exc)[:200])
            return ScheduleState()

    def _day_state(self, day: str) -> ScheduleState:
        if self.state.day != day:
            self.state = ScheduleState(day=day)
        return self.state

    def _save_state(self) -> None:
        try:
            replace_file(self.state_path, msgspec.json.encode(self.state))
        except OSError as exc:
            self.log.warning("schedule_state_not_saved", path=str(self.state_path), error=str(exc))

    # Driving ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Announce the phase in force (with the catch-up, see the module docstring) and arm the
        timer for the next one."""
        now = self.clock.now_ns()
        calendar = self._calendar()
        cur = current_phase(calendar, self.scfg, now)
        if cur.trading_day and cur.phase == "session" and "pre_open" not in self._day_state(cur.day).phases:
            pre_open = day_plan(calendar, self.scfg, dt.date.fromisoformat(cur.day))[0]
            self.log.info("schedule_catch_up", day=cur.day, phase="pre_open")
            self._announce(pre_open)
        self._announce(cur)
        self._checked_ns = now
        self._arm(now)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _calendar(self):  # type: ignore[no-untyped-def]
        try:
            self.calendar_source.refresh()
        except CalendarError as exc:
            self.log.warning("calendar_overrides_refused", error=str(exc))
        return self.calendar_source.calendar

    def _arm(self, now_ns: int) -> None:
        nxt = next_phase(self._calendar(), self.scfg, now_ns)
        delay_s = min(max(0, nxt.at_ns - now_ns) / NS_PER_S, RECHECK_S)
        self._timer = self.clock.call_later(delay_s, self._on_timer)

    def _on_timer(self) -> None:
        now = self.clock.now_ns()
        due = phases_between(self._calendar(), self.scfg, self._checked_ns, now)
        if due:
            # A clock that jumped over whole days (a machine suspended) announces the last day's
            # phases only: yesterday's pre-open is of no use today.
            last_day = due[-1].day
            for phase in due:
                if phase.day == last_day:
                    self._announce(phase)
        self._checked_ns = now
        self._arm(now)

    def _announce(self, phase: PhaseAt) -> None:
        now = self.clock.now_ns()
        msg = DayPhaseBegan(phase.day, phase.phase, phase.trading_day, now)
        self.current = msg
        state = self._day_state(phase.day)
        if phase.phase not in state.phases:
            state.phases.append(phase.phase)
            self._save_state()
        self.log.info("day_phase_began", day=phase.day, phase=phase.phase, trading_day=phase.trading_day)
        self.publish(topics.SCHEDULE.encode() + b"phase", msg)
        if phase.phase == "pre_open":
            self.refresh_master(phase.day, by_hand=False)
        elif phase.phase == "post_close" and phase.trading_day and self.scfg.backup_keep_days > 0:
            self._own_task(phase.day, "backup", self._backup(phase.day))

    # The supervisor's tasks -------------------------------------------------------------------
    def refresh_master(self, day: str, by_hand: bool) -> bool:
        """The instrument master refresh (pre-open, or ``shikra instruments refresh``). False when
        one is already running. Skipped at pre-open when the master is not downloaded ("sample" or
        a file the operator keeps) or today's refresh already succeeded."""
        source = master_source(self.cfg.instruments.master)
        if source is None and not by_hand:
            return True
        if not by_hand and "instrument_master" in self._day_state(day).tasks_ok:
            self.log.info("daily_task_skipped", task="instrument_master", day=day, why="done today")
            return True
        meta = read_meta(instruments_dir(self.data_dir), source or "dhan")
        if not by_hand and meta is not None and meta.master_date == day:
            # Downloaded today already (the start of a daemon that had none): not again.
            return self._own_task(day, "instrument_master",
                                  lambda: (True, "", f"today's master in place: {meta.rows} instruments"))
        return self._own_task(day, "instrument_master", self._refresh)

    def _own_task(self, day: str, task: DailyTask, fn: Callable[[], Outcome]) -> bool:
        if task in self._running:
            return False
        if task == "backup" and task in self._day_state(day).tasks_ok:
            self.log.info("daily_task_skipped", task=task, day=day, why="done today")
            return True
        self._running.add(task)
        started = self.clock.now_ns()

        def done(outcome: Outcome) -> None:
            self._running.discard(task)
            self._task_finished(day, task, started, outcome)

        self.run(fn, done)
        return True

    def _task_finished(self, day: str, task: DailyTask, started_ns: int, outcome: Outcome) -> None:
        ok, reason, detail = outcome
        now = self.clock.now_ns()
        if ok:
            state = self._day_state(day)
            if task not in state.tasks_ok:
                state.tasks_ok.append(task)
                self._save_state()
            self.log.info("daily_task_finished", task=task, day=day, ok=True, detail=detail)
        else:
            self.log.error("daily_task_failed", task=task, day=day, reason=reason, detail=detail)
        if task == "instrument_master":
            meta = read_meta(instruments_dir(self.data_dir))
            self.publish(topics.INSTRUMENTS_STATUS.encode(), InstrumentMasterStatus(
                ok, meta.master_date if meta else "", meta.rows if meta else 0, reason, detail, now))
        self.publish(topics.SCHEDULE.encode() + b"task", DailyTaskFinished(day, task, SUPERVISOR, ok, reason, detail,
                                                                          started_ns, now))

    def _refresh(self) -> Outcome:
        source = master_source(self.cfg.instruments.master)
        if source is None:
            return (False, "not_downloaded", f'instruments.master is "{self.cfg.instruments.master}", '
                                             'not "dhan" or "kite": nothing to download')
        try:
            meta = refresh_master(self.cfg.instruments.download, instruments_dir(self.data_dir), self.clock.now_ns(),
                                  source=source)
        except MasterRefreshFailed as exc:
            return (False, exc.reason_code, exc.detail + "; trading on the last good master")
        return (True, "", f"{meta.rows} instruments, dated {meta.master_date}")

    def _backup(self, day: str) -> Callable[[], Outcome]:
        def backup() -> Outcome:
            try:
                done = daily_backup(self.data_dir, ledger_dir(self.data_dir), dt.date.fromisoformat(day),
                                    self.scfg.backup_keep_days)
            except BackupFailed as exc:
                return (False, "ledger_damaged" if exc.damaged else "backup_failed", str(exc)[:300])
            except OSError as exc:
                return (False, "backup_failed", str(exc)[:300])
            return (True, "", f"{done.path}: {done.size_bytes} bytes, {done.events} events, verified")
        return backup
