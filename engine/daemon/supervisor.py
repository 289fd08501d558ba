"""The supervisor: ``shikra run``.

Spawns one OS process per unit (see ``engine.daemon.topology``), waits until every actor reports ready,
tells systemd, watches heartbeats, restarts a dead or hung unit with exponential backoff, engages
the kill switch on a restart storm, and on SIGTERM/SIGINT stops units in DESIGN.md's order.

Structured concurrency (trio): every task and child process has an owner that waits for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Literal

import msgspec
import trio
import zmq

from actors.base import EXIT_CONFIG, EXIT_LEDGER_DAMAGED, PERMANENT_EXIT_CODES
from engine.backoff import backoff_s
from engine.config import Config, RestartConfig, to_json
from engine.daemon import systemd
from engine.daemon.lock import DataDirLock
from engine.daemon.schedule import DaySchedule, Outcome
from engine.daemon.topology import Unit, plan_units, stop_rank
from engine.files import replace_file
from engine.ledger import ledger_dir
from engine.ledger.check import check_in_subprocess
from engine.model.ist import ist_date
from engine.model.lookup import instruments_dir, prepare_command
from engine.model.master_refresh import MasterRefreshFailed, downloaded_master_path, master_source, refresh_master
from engine.rate_window import RateWindow
from engine.logs import get_logger
from engine.model.clock import Clock, LiveClock
from engine.status_file import KILL_SWITCH_FILE, write_status
from ipc import codec, topics
from ipc.messages import (
    ActorStatus,
    DaemonStatus,
    EngageKillSwitch,
    Heartbeat,
    KillSwitchStatus,
    Message,
    Ping,
    RefreshInstrumentMaster,
    ReleaseKillSwitch,
    Reply,
    StopActor,
    SupervisorStatus,
)
from ipc.transport import Endpoints, Inbox, Outbox, StreamPublisher

SUPERVISOR = "supervisor"
_PERMANENT_CAUSES = {EXIT_CONFIG: "a configuration error", EXIT_LEDGER_DAMAGED: "the ledger is damaged"}

log = get_logger("supervisor")


class _ActorSeen(msgspec.Struct):
    state: str = "starting"
    last_heartbeat_ns: int = 0
    last_heartbeat_mono: float = 0.0
    msgs_in: int = 0
    msgs_out: int = 0
    bad_frames: int = 0
    kill_switch_engaged: bool = False


class _UnitState:
    def __init__(self, unit: Unit, restart: RestartConfig) -> None:
        self.unit = unit
        self.process: trio.Process | None = None
        self.started_ns = 0
        self.started_mono = 0.0
        self.restarts = 0
        # Restarts in the storm window (monotonic ns); a window of 0 s or less keeps only now.
        self.recent_restarts = RateWindow(((max(1, int(restart.window_s * 1e9)), restart.max_restarts),))
        self.seen: dict[str, _ActorSeen] = {name: _ActorSeen() for name in unit.actors}
        self.ready = trio.Event()
        self.state = "starting"
        self.killed_as_hung = False
        # Held while a process is spawned (a fork in a worker thread, slow on a loaded machine):
        # the stop waits for it, so a unit restarted just as the stop came is stopped in its turn.
        self.spawning = trio.Lock()

    def reset_for_spawn(self) -> None:
        self.seen = {name: _ActorSeen() for name in self.unit.actors}
        self.ready = trio.Event()
        self.killed_as_hung = False

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0


class Supervisor:
    def __init__(self, cfg: Config, data_dir: Path, run_dir: Path, config_source: str,
                 clock: Clock | None = None) -> None:
        self.cfg = cfg
        # The daily schedule's clock (its timers run in ``_run_clock``); a SimClock in tests.
        self.clock: Clock = clock if clock is not None else LiveClock()
        self.schedule: DaySchedule | None = None
        self.data_dir = data_dir
        self.run_dir = run_dir
        self.config_source = config_source
        self.units = [_UnitState(u, cfg.engine.restart) for u in plan_units(cfg)]
        self.by_actor = {name: us for us in self.units for name in us.unit.actors}
        eng = cfg.engine
        self.endpoints = Endpoints(run_dir, eng.transport, eng.tcp_host, eng.tcp_base_port,
                                   tuple(eng.actors) + (SUPERVISOR,))
        self.lock = DataDirLock(data_dir)
        self.started_ns = time.time_ns()
        self.state = "starting"
        self.stopping = False
        self.exit_code = 0
        self.kill_switch = self._load_kill_switch()
        self.zctx: zmq.Context | None = None
        self.inbox: Inbox | None = None
        self.publisher: StreamPublisher | None = None
        self.outboxes: dict[str, Outbox] = {}
        # Children watch the read end: when this process dies the pipe hits EOF and they stop.
        # (PR_SET_PDEATHSIG would not do: it fires when the spawning *thread* exits.)
        self._lifeline_r, self._lifeline_w = os.pipe()

    # Kill switch persistence ------------------------------------------------------------------
    def _load_kill_switch(self) -> KillSwitchStatus:
        path = self.data_dir / KILL_SWITCH_FILE
        try:
            return msgspec.json.decode(path.read_bytes(), type=KillSwitchStatus)
        except FileNotFoundError:
            return KillSwitchStatus()
        except (msgspec.DecodeError, msgspec.ValidationError):
            # An unreadable record must fail safe: treat the switch as engaged.
            log.error("kill_switch_file_unreadable", path=str(path))
            return KillSwitchStatus(True, f"unreadable {path}", "supervisor", time.time_ns())

    def _save_kill_switch(self) -> None:
        replace_file(self.data_dir / KILL_SWITCH_FILE, msgspec.json.encode(self.kill_switch))

    def engage_kill_switch(self, reason: str, by: str) -> None:
        if not self.kill_switch.engaged:
            self.kill_switch = KillSwitchStatus(True, reason, by, time.time_ns())
            self._save_kill_switch()
            log.error("kill_switch_engaged", reason=reason, by=by)
            systemd.notify(f"STATUS=KILL SWITCH ENGAGED: {reason}")
            self._publish_status()
        self._broadcast_kill_switch()

    def release_kill_switch(self, by: str) -> None:
        if self.kill_switch.engaged:
            self.kill_switch = KillSwitchStatus(False, "", by, time.time_ns())
            self._save_kill_switch()
            log.warning("kill_switch_released", by=by)
            systemd.notify("STATUS=running")
            self._publish_status()
        for us in self.units:
            for name in us.unit.actors:
                self._command(name, ReleaseKillSwitch(uuid.uuid4().hex, by, time.time_ns()))

    def _broadcast_kill_switch(self, only: _UnitState | None = None) -> None:
        ks = self.kill_switch
        for us in ([only] if only else self.units):
            for name in us.unit.actors:
                self._command(name, EngageKillSwitch(uuid.uuid4().hex, ks.reason, ks.by, time.time_ns()))

    # Sockets ----------------------------------------------------------------------------------
    def _open_sockets(self) -> None:
        self.zctx = zmq.Context.instance()
        self.inbox = Inbox(self.zctx, self.endpoints.inbox(SUPERVISOR))
        self.publisher = StreamPublisher(self.zctx, self.endpoints.pub(SUPERVISOR))

    def _publish(self, topic: bytes, msg: Message) -> None:
        if self.publisher is None:
            return
        self.publisher.on_subscription_frames()  # nobody polls this XPUB: read them here
        if self.publisher.wants(topic):
            self.publisher.send(topic, codec.encode(msg))

    def _command(self, actor: str, msg: msgspec.Struct) -> None:
        box = self.outboxes.get(actor)
        if box is None:
            assert self.zctx is not None
            box = Outbox(self.zctx, self.endpoints.inbox(actor), identity=SUPERVISOR, linger_ms=0)
            self.outboxes[actor] = box
        try:
            box.send(topics.command_topic(type(msg).__name__), codec.encode(msg))  # type: ignore[arg-type]
        except Exception as exc:
            log.warning("command_not_sent", actor=actor, command=type(msg).__name__, error=str(exc))

    async def _receive(self) -> None:
        """Heartbeats from actors and commands from local CLI tools, on the supervisor's ROUTER."""
        assert self.inbox is not None
        fd = self.inbox.sock.getsockopt(zmq.FD)
        while True:
            self._drain_inbox()
            with trio.move_on_after(0.5):
                await trio.lowlevel.wait_readable(fd)

    def _drain_inbox(self) -> None:
        """Handle everything queued on the inbox now (zmq's FD signals edges: drain everything
        EVENTS reports before waiting again)."""
        assert self.inbox is not None
        sock = self.inbox.sock
        while sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
            if len(frames) != 3:
                log.warning("bad_frame", where="supervisor.inbox", frames=len(frames))
                continue
            try:
                msg = codec.decode(frames[2].buffer)
            except codec.DecodeError as exc:
                log.warning("bad_frame", where="supervisor.inbox", kind=exc.failure.value,
                            detail=exc.detail[:200])
                continue
            self._on_message(frames[0].bytes, msg)

    def _on_message(self, sender: bytes, msg: msgspec.Struct) -> None:
        assert self.inbox is not None
        if isinstance(msg, Heartbeat):
            us = self.by_actor.get(msg.actor)
            if us is None or us.process is None or msg.pid != us.pid:
                return  # a late heartbeat from a process we already replaced
            seen = us.seen[msg.actor]
            changed = seen.state != msg.state or seen.kill_switch_engaged != msg.kill_switch_engaged
            seen.state = msg.state
            seen.kill_switch_engaged = msg.kill_switch_engaged
            seen.last_heartbeat_ns = msg.ts_ns
            seen.last_heartbeat_mono = time.monotonic()
            seen.msgs_in, seen.msgs_out, seen.bad_frames = msg.msgs_in, msg.msgs_out, msg.bad_frames
            if msg.state == "ready" and all(s.state == "ready" for s in us.seen.values()):
                if not us.ready.is_set():
                    us.state = "ready"
                    us.ready.set()
            if self.publisher is not None:
                topic = f"{topics.HEALTH}{msg.actor}".encode()
                self.publisher.on_subscription_frames()  # nobody polls this XPUB: read them here
                if self.publisher.wants(topic):
                    self.publisher.send(topic, codec.encode(msg))
            if changed:  # the order path waits for "ready": tell it now, not at the next second
                self._publish_status()
            return
        reply: Reply | None = None
        if isinstance(msg, EngageKillSwitch):
            self.engage_kill_switch(msg.reason, msg.by)
            reply = Reply(msg.cmd_id, SUPERVISOR, True)
        elif isinstance(msg, ReleaseKillSwitch):
            self.release_kill_switch(msg.by)
            reply = Reply(msg.cmd_id, SUPERVISOR, True)
        elif isinstance(msg, Ping):
            reply = Reply(msg.cmd_id, SUPERVISOR, True, detail=self.state)
        elif isinstance(msg, StopActor):
            self.request_stop(f"StopActor from {sender.decode(errors='replace')}")
            reply = Reply(msg.cmd_id, SUPERVISOR, True)
        elif isinstance(msg, RefreshInstrumentMaster):
            reply = self._refresh_by_hand(msg)
        if reply is not None:
            try:
                self.inbox.reply(sender, topics.REPLY.encode(), codec.encode(reply))
            except Exception as exc:
                log.warning("reply_failed", to=sender.decode(errors="replace"), error=str(exc))

    def _refresh_by_hand(self, msg: RefreshInstrumentMaster) -> Reply:
        """``shikra instruments refresh``: started now, answered at once; the outcome comes as
        InstrumentMasterStatus and DailyTaskFinished (``shikra schedule`` shows it)."""
        if self.schedule is None:
            return Reply(msg.cmd_id, SUPERVISOR, False, detail="the daemon is still starting; try again")
        if master_source(self.cfg.instruments.master) is None:
            return Reply(msg.cmd_id, SUPERVISOR, False, detail=f'instruments.master is "{self.cfg.instruments.master}",'
                                                              ' not "dhan" or "kite": there is nothing to download')
        log.info("master_refresh_requested", by=msg.by)
        day = ist_date(self.clock.now_ns()).isoformat()
        if not self.schedule.refresh_master(day, by_hand=True):
            return Reply(msg.cmd_id, SUPERVISOR, False, detail="a refresh is already running")
        return Reply(msg.cmd_id, SUPERVISOR, True, detail="refresh started")

    # The daily schedule -----------------------------------------------------------------------
    async def _run_clock(self) -> None:
        """Fire the clock's timers (the schedule's) as they come due."""
        while True:
            self.clock.run_due()
            due = self.clock.next_due_ns()
            wait_s = 1.0 if due is None else min(1.0, max(0.0, (due - self.clock.monotonic_ns()) / 1e9))
            await trio.sleep(wait_s)

    def _start_schedule(self, nursery: trio.Nursery) -> None:
        def run(task_fn: Callable[[], Outcome], done: Callable[[Outcome], None]) -> None:
            async def in_thread() -> None:
                try:
                    outcome = await trio.to_thread.run_sync(task_fn)
                except Exception as exc:  # a bug in a task must not take the supervisor down
                    log.exception("daily_task_crashed")
                    outcome = (False, "internal_error", f"{type(exc).__name__}: {str(exc)[:200]}")
                done(outcome)
            nursery.start_soon(in_thread)

        self.schedule = DaySchedule(self.cfg, self.data_dir, self.clock, self._publish, run, log)
        if self.cfg.schedule.enabled:
            self.schedule.start()
            nursery.start_soon(self._run_clock)
        else:
            log.info("schedule_disabled")

    async def _prepare_master(self) -> None:
        """``master = "dhan"`` and no master downloaded yet (a first start): download it now, or
        the actors cannot start (they exit naming the file and ``shikra instruments refresh``).
        Any other master (the bundled sample, a file): prepared once in a child process."""
        source = master_source(self.cfg.instruments.master)
        if source is None:
            await self._prepare_in_child()
            return
        folder = instruments_dir(self.data_dir)
        if downloaded_master_path(folder, source).exists():
            return
        try:
            meta = await trio.to_thread.run_sync(
                lambda: refresh_master(self.cfg.instruments.download, folder, self.clock.now_ns(), source=source))
        except MasterRefreshFailed as exc:
            log.error("master_download_failed", reason=exc.reason_code, detail=exc.detail)
            return
        log.info("master_downloaded", rows=meta.rows, master_date=meta.master_date)

    async def _prepare_in_child(self) -> None:
        """Write today's sample master and parse it into its cache (``engine.model.lookup``) in a
        child process: pandas and the exchange calendar load there and go with it, instead of in
        every actor (each would parse it at once on a first start). Not fatal: an actor that finds
        no cache prepares the master itself, and names any problem."""
        cmd = prepare_command(self.cfg.instruments.master, self.data_dir, ist_date(self.clock.now_ns()))
        done = await trio.run_process(cmd, check=False, stdin=subprocess.DEVNULL, capture_stderr=True)
        if done.returncode:
            log.warning("master_not_prepared", code=done.returncode,
                        error=done.stderr.decode(errors="replace").strip()[-300:])

    # Units ------------------------------------------------------------------------------------
    async def _spawn(self, us: _UnitState) -> None:
        us.reset_for_spawn()
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        cmd = [sys.executable, "-m", "engine.daemon.unit", "--unit", us.unit.name, "--run-dir", str(self.run_dir),
               "--data-dir", str(self.data_dir), "--lifeline-fd", str(self._lifeline_r)]
        us.process = await trio.lowlevel.open_process(cmd, env=env, stdin=subprocess.DEVNULL,
                                                      pass_fds=(self._lifeline_r,))
        us.started_ns = time.time_ns()
        us.started_mono = time.monotonic()
        us.state = "starting"
        log.info("unit_spawned", unit=us.unit.name, actors=",".join(us.unit.actors), child_pid=us.pid)

    async def _run_unit(self, us: _UnitState) -> None:
        """Keep one unit alive until the supervisor stops."""
        r = self.cfg.engine.restart
        while True:
            async with us.spawning:
                if self.stopping:  # after a restart's backoff: the stop has this unit
                    us.state = "stopped"
                    return
                await self._spawn(us)
            assert us.process is not None
            code = await us.process.wait()
            if self.stopping:
                us.state = "stopped"
                log.info("unit_exited", unit=us.unit.name, code=code)
                return
            if code in PERMANENT_EXIT_CODES:
                # A restart would meet the same configuration or the same ledger bytes: stop the
                # daemon with the unit's code (systemd's RestartPreventExitStatus lists it).
                cause = _PERMANENT_CAUSES[code]
                log.error("unit_failed_permanently", unit=us.unit.name, code=code, cause=cause,
                          hint="see the unit's log line above; restarting cannot help")
                us.state = "failed"
                self.exit_code = code
                self.request_stop(f"unit {us.unit.name} failed: {cause}")
                return
            now_ns = time.monotonic_ns()
            us.restarts += 1
            us.recent_restarts.record(now_ns)
            in_window = us.recent_restarts.count(now_ns)
            delay = backoff_s(in_window - 1, r.backoff_initial_s, r.backoff_max_s)
            cause = "hung (no heartbeat)" if us.killed_as_hung else f"exit code {code}"
            us.state = "restarting"
            self._publish_status()
            log.warning("unit_died", unit=us.unit.name, cause=cause, restarts=us.restarts,
                        in_window=in_window, backoff_s=delay)
            if in_window >= r.max_restarts:
                self.engage_kill_switch(
                    f"restart storm: {us.unit.name} restarted {in_window} times "
                    f"in {r.window_s:.0f}s", SUPERVISOR)
            await trio.sleep(delay)

    async def _watch_heartbeats(self) -> None:
        timeout = self.cfg.engine.heartbeat_timeout_s
        while True:
            await trio.sleep(min(0.25, timeout / 4))
            # Heartbeats queued while this process was busy (a blocking step of its own, e.g.
            # building the day's schedule just after ready: 1.5-5 s on a loaded machine) are
            # read before judging: woken together with the receiver after such a step, the
            # watcher ran first now and then and killed every healthy unit as hung.
            self._drain_inbox()
            now = time.monotonic()
            for us in self.units:
                if us.process is None or us.process.returncode is not None or us.killed_as_hung:
                    continue
                if self.stopping:
                    continue
                if not us.ready.is_set():
                    grace = max(self.cfg.engine.ready_timeout_s, timeout)
                    if now - us.started_mono > grace:
                        self._kill_hung(us, f"not ready after {grace:.0f}s")
                    continue
                last = min(s.last_heartbeat_mono for s in us.seen.values())
                if now - last > timeout:
                    self._kill_hung(us, f"no heartbeat for {now - last:.1f}s (limit {timeout}s)")

    def _kill_hung(self, us: _UnitState, why: str) -> None:
        log.error("unit_hung", unit=us.unit.name, child_pid=us.pid, why=why)
        us.killed_as_hung = True
        assert us.process is not None
        try:
            us.process.kill()  # SIGKILL also ends a SIGSTOPped process
        except ProcessLookupError:
            pass

    # Status and systemd -----------------------------------------------------------------------
    def snapshot(self) -> DaemonStatus:
        actors = []
        for us in self.units:
            for name in us.unit.actors:
                seen = us.seen[name]
                state = us.state if us.state in ("restarting", "stopped", "failed") else seen.state
                actors.append(ActorStatus(name, us.unit.name, us.pid, state, us.started_ns, us.restarts,
                                          seen.last_heartbeat_ns, seen.msgs_in, seen.msgs_out, seen.bad_frames,
                                          seen.kill_switch_engaged))
        return DaemonStatus(os.getpid(), self.state, self.started_ns, time.time_ns(), self.cfg.engine.topology,
                            str(self.data_dir), self.kill_switch, actors)

    def _publish_status(self, status: DaemonStatus | None = None) -> None:
        """``supervisor.status`` on the supervisor's publisher, which every actor's host and the
        gateway subscribe to: actors learn the supervisor's state from this, never from its files."""
        if self.publisher is None:
            return
        self.publisher.on_subscription_frames()  # nobody polls this XPUB: read them here
        topic = topics.SUPERVISOR_STATUS.encode()
        if self.publisher.wants(topic):
            self.publisher.send(topic, codec.encode(SupervisorStatus(status or self.snapshot())))

    async def _write_status(self) -> None:
        """The status file (for ``shikra status`` without a daemon answering) and the same status
        on the bus, once a second: a reader that (re)starts has it within a second."""
        while True:
            status = self.snapshot()
            self._publish_status(status)
            write_status(self.run_dir, status)
            await trio.sleep(1.0)

    async def _systemd_watchdog(self, period_s: float) -> None:
        while True:
            systemd.notify("WATCHDOG=1")
            await trio.sleep(period_s)

    # Lifecycle --------------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        if not self.stopping:
            log.info("stop_requested", reason=reason)
            self.stopping = True
            self._stop_requested.set()

    async def _wait_all_ready(self) -> Literal["ready", "late", "stopping"]:
        """Until every unit is ready ("ready"), the ready timeout passes ("late", logged), or a stop
        is requested first ("stopping": a stop during start-up, which a slow machine makes long,
        is no failed start)."""
        # Poll rather than wait on an Event: a unit that restarts during start-up gets a new one.
        deadline = trio.current_time() + self.cfg.engine.ready_timeout_s
        while not all(us.ready.is_set() for us in self.units):
            if self.stopping:
                return "stopping"
            if trio.current_time() > deadline:
                late = [us.unit.name for us in self.units if not us.ready.is_set()]
                log.error("not_ready", units=",".join(late), timeout_s=self.cfg.engine.ready_timeout_s)
                return "late"
            await trio.sleep(0.05)
        return "ready"

    async def _stop_units(self) -> None:
        """Stop units in order; each gets stop_timeout_s, then SIGTERM, then SIGKILL."""
        timeout = self.cfg.engine.stop_timeout_s
        for us in sorted(self.units, key=lambda u: stop_rank(u.unit)):
            async with us.spawning:  # a spawn in flight ends first; none starts after (stopping is set)
                proc = us.process
            if proc is None or proc.returncode is not None:
                continue
            us.state = "stopping"
            log.info("unit_stopping", unit=us.unit.name, child_pid=proc.pid)
            self._command(us.unit.actors[0], StopActor(uuid.uuid4().hex, "daemon stopping"))
            with trio.move_on_after(timeout):
                await proc.wait()
                continue
            log.warning("unit_stop_timeout", unit=us.unit.name, child_pid=proc.pid, action="SIGTERM")
            proc.terminate()
            with trio.move_on_after(2.0):
                await proc.wait()
                continue
            log.error("unit_stop_timeout", unit=us.unit.name, child_pid=proc.pid, action="SIGKILL")
            proc.kill()
            await proc.wait()

    async def _ledger_is_whole(self) -> bool:
        """Check the ledger before any unit opens it (engine.ledger.check, in a child process,
        read-only: the file is never modified). A damaged one stops the start with one message
        naming the file, what is wrong and what to do; a missing one is created by execution."""
        directory = ledger_dir(self.data_dir)
        full = self.cfg.ledger.verify_on_open
        # lock=False: this process holds the data directory's lock, so no unit writes the ledger.
        report = await trio.to_thread.run_sync(lambda: check_in_subprocess(directory, full=full, lock=False))
        if not report.damaged:
            log.info("ledger_checked", path=report.path, outcome=report.outcome, events=report.events,
                     full=report.full, elapsed_ms=report.elapsed_ms)
            return True
        log.error("ledger_damaged", path=report.path, problem=report.problems[0] if report.problems else "",
                  problems=len(report.problems), code=EXIT_LEDGER_DAMAGED, hint=report.what_to_do())
        print(f"shikra: {report.message()} (exit {EXIT_LEDGER_DAMAGED})", file=sys.stderr)
        return False

    async def _verify_in_background(self, interval_s: int) -> None:
        """The full ledger check (replay and compare) every ``interval_s`` on a read snapshot of the
        running daemon's ledger, in a child process. Damage found engages the kill switch: the
        figures the engine trades on may be wrong until an operator restores or rebuilds."""
        directory = ledger_dir(self.data_dir)
        while True:
            await trio.sleep(interval_s)
            report = await trio.to_thread.run_sync(lambda: check_in_subprocess(directory, full=True, lock=True))
            if not report.damaged:
                log.info("ledger_verified", path=report.path, events=report.events, elapsed_ms=report.elapsed_ms)
                continue
            log.error("ledger_damaged", path=report.path, problem=report.problems[0] if report.problems else "",
                      problems=len(report.problems), hint=report.what_to_do())
            self.engage_kill_switch(f"ledger verify: {report.message()[:300]}", SUPERVISOR)

    async def run(self) -> int:
        self._stop_requested = trio.Event()
        self.lock.acquire()
        try:
            if not await self._ledger_is_whole():
                return EXIT_LEDGER_DAMAGED
            self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            (self.run_dir / "config.json").write_bytes(to_json(self.cfg))
            await self._prepare_master()
            self._open_sockets()
            log.info("daemon_starting", pid=os.getpid(), config=self.config_source, data_dir=str(self.data_dir),
                     topology=self.cfg.engine.topology, units=",".join(u.unit.name for u in self.units))
            return await self._serve()
        finally:
            for box in self.outboxes.values():
                box.close()
            if self.inbox is not None:
                self.inbox.close()
            if self.publisher is not None:
                self.publisher.close()
            self.lock.release()

    async def _serve(self) -> int:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._on_signals, signals)
                nursery.start_soon(self._receive)
                nursery.start_soon(self._write_status)
                async with trio.open_nursery() as units_nursery:
                    for us in self.units:
                        units_nursery.start_soon(self._run_unit, us)
                    units_nursery.start_soon(self._watch_heartbeats)
                    units_nursery.start_soon(self._startup_then_wait, nursery)
                    await self._stop_requested.wait()
                    self.state = "stopping"
                    systemd.notify("STOPPING=1")
                    await self._stop_units()
                    units_nursery.cancel_scope.cancel()
                self.state = "stopped"
                status = self.snapshot()
                self._publish_status(status)
                write_status(self.run_dir, status)
                nursery.cancel_scope.cancel()
        log.info("daemon_stopped", code=self.exit_code)
        return self.exit_code

    async def _startup_then_wait(self, nursery: trio.Nursery) -> None:
        outcome = await self._wait_all_ready()
        if outcome == "stopping":
            # Exit code as the stop leaves it: 0 for SIGTERM, a unit's failure code otherwise.
            log.info("stopped_while_starting", units_not_ready=",".join(
                us.unit.name for us in self.units if not us.ready.is_set()))
            return
        if outcome == "late":
            self.exit_code = self.exit_code or 1
            self.request_stop("actors not ready in time")
            return
        self.state = "running"
        self._publish_status()
        if self.kill_switch.engaged:
            log.warning("kill_switch_still_engaged", reason=self.kill_switch.reason, by=self.kill_switch.by)
            self._broadcast_kill_switch()
        log.info("daemon_ready", units=len(self.units))
        systemd.notify("READY=1\nSTATUS=running")
        period = systemd.watchdog_period_s()
        if period is not None:
            nursery.start_soon(self._systemd_watchdog, period)
        if self.cfg.ledger.background_verify_interval_s:
            nursery.start_soon(self._verify_in_background, self.cfg.ledger.background_verify_interval_s)
        self._start_schedule(nursery)
        # A unit that restarts later must learn about an engaged kill switch as soon as it is ready.
        for us in self.units:
            nursery.start_soon(self._resync_on_ready, us)

    async def _resync_on_ready(self, us: _UnitState) -> None:
        seen = us.ready
        while True:
            await trio.sleep(0.2)
            if us.ready is not seen and us.ready.is_set():
                seen = us.ready
                if self.kill_switch.engaged:
                    self._broadcast_kill_switch(only=us)
                # A restarted unit learns the day's phase (a feed restarted at night stays off).
                if self.schedule is not None and self.schedule.current is not None:
                    for name in us.unit.actors:
                        self._command(name, self.schedule.current)

    async def _on_signals(self, signals: trio.abc.AsyncIterator[int]) -> None:  # type: ignore[name-defined]
        async for signum in signals:
            self.request_stop(signal.Signals(signum).name)


def run_daemon(cfg: Config, data_dir: Path, run_dir: Path, config_source: str) -> int:
    sup = Supervisor(cfg, data_dir, run_dir, config_source)
    return trio.run(sup.run)

