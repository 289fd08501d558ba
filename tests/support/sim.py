"""The engine's own actors in this process on a simulated clock: time rules tested in a blink,
without daemons or sleeping.

    engine = SimEngine(tmp_path / "data", ist_ns(FRIDAY, dt.time(10, 0)), ("risk", "execution"))
    engine.depth(rel, bids=[(99_00, 100)], asks=[(101_00, 100)])   # market data, as the feed sends it
    engine.send("risk", intent)                                    # a message to one actor
    engine.advance_to(ist_ns(FRIDAY, dt.time(15, 25)))             # the timers due on the way fire
    engine.seen(OrderEvent)                                        # what was published, by type
    engine.close()

The actors run in a real :class:`actors.host.ActorHost` (the in-process bus of the co-located
topology) on a :class:`engine.model.clock.SimClock`. A probe actor, first on the bus, records every
message published, with the simulated time it was published at. Nothing moves the clock but the
test (``advance_to`` / ``advance_by``), or, for a day driven by the synthetic feed, the timers.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import msgspec

from actors.base import Actor
from actors.host import ActorHost
from actors.registry import resolve
from engine.config import Config
from engine.daemon.schedule import DaySchedule, run_now
from engine.logs import get_logger
from engine.ledger import LedgerReader, ledger_dir
from engine.model.clock import SimClock
from ipc import topics
from ipc.messages import Depth, Message, Quote, Tick
from tests.support.wait import eventually, stepping

PROBE = "probe"
NS_PER_S = 1_000_000_000
M = TypeVar("M")
T = TypeVar("T")
PUMP_POLL_MS = 5          # one wait for I/O in ``pump``: short, so the condition is checked often
PUMP_TIMEOUT_S = 30.0     # a hang guard


class _Probe(Actor):
    """Records every message published (and any sent to it) as (simulated time, message)."""

    subscriptions = ("",)
    seen: list[tuple[int, Message]]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.seen = []
        self.handlers = _Everything(self._record)

    def _record(self, msg: Message) -> None:
        self.seen.append((self.ctx.now_ns(), msg))


class _Everything(dict):  # type: ignore[type-arg]
    """A handler table that answers every message type with one function."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self._fn = fn

    def get(self, key: Any, default: Any = None) -> Any:
        return self._fn


def sim_config(actors: Sequence[str], base: Config | None = None, **sections: Any) -> Config:
    """``base`` (the defaults) with ``actors`` co-located, the exchange calendar (also for the
    synthetic market), no fsync, and ``sections`` replaced (each a dict merged into its section)."""
    cfg = base or Config()
    rep = msgspec.structs.replace
    cfg = rep(cfg, engine=rep(cfg.engine, actors=list(actors), topology="co-located", colocated=list(actors)),
              risk=rep(cfg.risk, market_hours="exchange"), ledger=rep(cfg.ledger, durability="os"))
    if sections:
        raw = msgspec.to_builtins(cfg)
        for name, values in sections.items():
            raw[name] = _merge(raw.get(name, {}), values)
        cfg = msgspec.convert(raw, Config)
    return cfg


def _merge(into: Any, values: Any) -> Any:
    if isinstance(into, dict) and isinstance(values, dict):
        return {**into, **{k: _merge(into.get(k), v) for k, v in values.items()}}
    return values


class SimEngine:
    """``actors`` (names, in start order) on a SimClock that starts at ``start_ns``; see the module
    docstring. ``config`` defaults to :func:`sim_config` of the actors. ``schedule``: the
    supervisor's daily schedule (``engine.daemon.schedule``) runs on the same clock; without it
    the actors see ``[schedule] enabled = false``."""

    def __init__(self, data_dir: Path, start_ns: int, actors: Sequence[str], config: Config | None = None,
                 schedule: bool = False) -> None:
        self.config = config or sim_config(actors)
        if not schedule and self.config.schedule.enabled:
            # No supervisor's schedule announces the day's phases: the actors must not wait for them.
            self.config = msgspec.structs.replace(
                self.config, schedule=msgspec.structs.replace(self.config.schedule, enabled=False))
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Short (unix socket paths), and in memory where there is /dev/shm: risk's usage file is
        # rewritten whenever its figures change, which a simulated day does in quick succession.
        self.run_dir = Path(tempfile.mkdtemp(prefix="shk-sim-", dir="/dev/shm" if Path("/dev/shm").is_dir() else "/tmp"))
        self.clock = SimClock(start_ns)
        self._abandoned: list[Actor] = []  # killed actors, reaped at close
        self._holds: list[tuple[Callable[[], bool], str]] = []  # see hold_clock_while
        local = [(PROBE, _Probe)] + [(name, resolve(name, self.config.engine.actor_classes)) for name in actors]
        self.host = ActorHost("sim", local, [name for name, _ in local], self.config, self.data_dir, self.run_dir,
                              clock=self.clock)
        code = self.host.start()
        if code:
            self.close()
            raise RuntimeError(f"the simulated engine did not start (exit code {code}; see the log)")
        self._probe: _Probe = self.host.actors[PROBE]  # type: ignore[assignment]
        # The supervisor's daily schedule on the same clock (its own tasks run at once).
        self.schedule: DaySchedule | None = None
        if schedule:
            self.schedule = DaySchedule(self.config, self.data_dir, self.clock, self._publish_recorded, run_now,
                                        get_logger("sim.schedule"))
            self.schedule.start()
            self.host.drain()

    def _publish_recorded(self, topic: bytes, msg: Message) -> None:
        """Published as the supervisor would, and recorded (the probe does not hear itself)."""
        self._probe.seen.append((self.clock.now_ns(), msg))
        self.host.publish(PROBE, topic, msg)

    # Time ---------------------------------------------------------------------------------------
    def now_ns(self) -> int:
        return self.clock.now_ns()

    def advance_to(self, t_ns: int) -> None:
        """Move the clock to ``t_ns``: every timer due by then fires, in order, at its time (and
        the clock holds after one that leaves a ``hold_clock_while`` condition true)."""
        self.host.advance_clock(t_ns, self._settle if self._holds else None)

    def advance_by(self, seconds: float) -> None:
        self.advance_to(self.clock.now_ns() + round(seconds * NS_PER_S))

    # Real I/O, time held ---------------------------------------------------------------------------
    def pump(self, until: Callable[[], T | None], what: str, timeout_s: float = PUMP_TIMEOUT_S) -> T:
        """Serve the actors' real sockets and fds (a live venue's REST answers and order updates,
        the Dhan feed's frames) with the clock held, until ``until()`` is truthy; returns it.
        Simulated time does not move: timers already due (those I/O handlers set for "now") fire.
        ``timeout_s`` of real time is a hang guard, not a speed assertion."""
        host = self.host

        def step() -> None:
            host.poll_io(PUMP_POLL_MS)
            host.advance_clock(self.clock.now_ns())

        return eventually(stepping(step, until), what, timeout_s, describe=self._describe, poll_s=0)

    def hold_clock_while(self, busy: Callable[[], bool], what: str) -> None:
        """From now on, when a timer leaves ``busy()`` true (it started real I/O whose answer
        depends on the simulated time, e.g. a login that Dhan checks against its TOTP window and
        clock), the clock holds there and the I/O is served until ``busy()`` is false: that I/O
        takes no simulated time, as it takes next to none of a real day. For rare I/O only: each
        hold costs real time, and ``busy`` is asked after every timer."""
        self._holds.append((busy, what))

    def _settle(self) -> None:
        for busy, what in self._holds:
            if busy():
                self.pump(lambda: not busy(), f"{what}, the clock held")

    def _describe(self) -> str:
        tail = [f"{t}: {type(m).__name__}" for t, m in self._probe.seen[-10:]]
        return "last published: " + "; ".join(tail)

    # Killing an actor ------------------------------------------------------------------------------
    def kill(self, name: str) -> None:
        """``kill -9`` of one actor, in this process: the instance is dropped without its stop
        handlers (``ActorHost.abandon``). What the kernel would take back from a killed process
        is taken back: its ledger's writer lock and mapping (closing the LMDB environment; with
        durability "os" what it committed is in the page cache either way, as after a kill).
        Its threads and connections (REST workers, the order-update websocket) are left running,
        unserved, until ``close`` reaps them: what they receive is lost, as a dead process's is."""
        actor = self.host.abandon(name)
        self._abandoned.append(actor)
        ledger = getattr(actor, "ledger", None)
        if ledger is not None:
            ledger.close()

    def restart(self, name: str) -> None:
        """A fresh instance of ``name`` on the same data dir (its ledger), started as at start-up."""
        code = self.host.restart_actor(name)
        if code:
            raise RuntimeError(f"{name} did not start again (exit code {code}; see the log)")

    # Input --------------------------------------------------------------------------------------
    def publish(self, topic: bytes, msg: Message) -> None:
        """Publish on the bus now (as another actor would) and deliver what it causes."""
        self.host.publish(PROBE, topic, msg)
        self.host.drain()

    def send(self, target: str, msg: Message) -> None:
        """A reliable message to one actor (as another actor would send it), delivered now."""
        self.host.send(PROBE, target, msg)
        self.host.drain()

    def tick(self, inst: Any, ltp_paise: int) -> None:
        now = self.clock.now_ns()
        self.publish(topics.instrument_topic(topics.TICK, inst.segment, inst.security_id),
                     Tick(inst.segment, inst.security_id, ltp_paise, now, now))

    def depth(self, inst: Any, bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]]) -> None:
        """A 5-level book (what a full packet brings): the paper venue fills against it."""
        now = self.clock.now_ns()
        self.publish(topics.instrument_topic(topics.DEPTH, inst.segment, inst.security_id),
                     Depth(inst.segment, inst.security_id, "both", [p for p, _ in bids], [q for _, q in bids],
                           [1] * len(bids), [p for p, _ in asks], [q for _, q in asks], [1] * len(asks), now, now))

    def quote(self, inst: Any, ltp_paise: int) -> None:
        now = self.clock.now_ns()
        self.publish(topics.instrument_topic(topics.QUOTE, inst.segment, inst.security_id),
                     Quote(inst.segment, inst.security_id, ltp_paise, 1, ltp_paise, 0, 0, 0, ltp_paise,
                           ltp_paise, ltp_paise, ltp_paise, now, now))

    # Output -------------------------------------------------------------------------------------
    def seen(self, kind: type[M]) -> list[M]:
        """Every message of type ``kind`` published so far, in order."""
        return [msg for _t, msg in self._probe.seen if isinstance(msg, kind)]  # type: ignore[misc]

    def seen_at(self, kind: type[M]) -> list[tuple[int, M]]:
        """(simulated time published, message) for every ``kind`` published so far."""
        return [(t, msg) for t, msg in self._probe.seen if isinstance(msg, kind)]  # type: ignore[misc]

    def actor(self, name: str) -> Any:
        return self.host.actors[name]

    def instrument(self, symbol: str) -> Any:
        """A row of the instrument master the actors use (the sample, for the clock's day)."""
        for name in ("execution", "risk", "strategy", "feed"):
            table = getattr(self.host.actors.get(name), "table", None)
            if table is not None:
                inst = table.by_symbol(symbol)
                assert inst is not None, symbol
                return inst
        raise LookupError("no hosted actor holds the instrument master")

    def ledger_facts(self) -> dict[str, Any]:
        """Orders, fills, positions and audit rows as the ledger holds them now."""
        with LedgerReader.open(ledger_dir(self.data_dir)) as reader, reader.snapshot() as snap:
            return {"orders": snap.orders(), "fills": snap.fills(), "positions": snap.positions(),
                    "audit": [row for _seq, row in snap.audit()]}

    def close(self) -> None:
        if self.schedule is not None:
            self.schedule.stop()
        try:
            if self.host.actors:
                self.host.shutdown()
        finally:
            for actor in self._abandoned:
                _reap(actor)
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> "SimEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reap(actor: Any) -> None:
    """Stop the threads a killed actor left behind (its live venue's or feed source's), so that
    they do not outlive the test."""
    for part in ("venue", "source"):
        thing = getattr(actor, part, None)
        stop = getattr(thing, "stop", None)
        if stop is not None:
            try:
                stop()
            except Exception:  # noqa: BLE001 - half-dead by design; only its threads matter here
                pass


def at_ist(day: Any, *hms: int) -> int:
    """Epoch ns of IST ``hh:mm[:ss]`` on ``day``."""
    import datetime as dt

    from engine.model.ist import ist_ns

    return ist_ns(day, dt.time(*hms))
