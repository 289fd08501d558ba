"""What the actors share of the daily schedule (``engine.daemon.schedule`` publishes the phases):
answering a task, and taking a new instrument master at the session boundary.

A new master (``InstrumentMasterStatus`` ok after a refresh, or a new IST day's pre-open: the
bundled sample is regenerated per day) is taken at once outside the session and, during it, at
its end (the next phase): a contract's lot size or tick never changes under an open order's feet
mid-session. Instruments that left the master while positions or open orders are held in them are
kept (``InstrumentTable.keep_held``), so those positions stay exitable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.ledger import LedgerError, LedgerReader, ledger_dir
from engine.model.instruments import InstrumentTable
from engine.model.ist import ist_date
from engine.model.lookup import MasterUnavailable, open_instruments
from ipc import topics
from ipc.messages import DailyTask, DailyTaskFinished, DayPhaseBegan, InstrumentMasterStatus

TASK_TOPIC = (topics.SCHEDULE + "task").encode()


def task_finished(ctx: Any, day: str, task: DailyTask, ok: bool, detail: str, started_ns: int,
                  reason_code: str = "") -> None:
    """Publish one task's outcome (``shikra schedule`` and the notify actor read it)."""
    ctx.publish(TASK_TOPIC, DailyTaskFinished(day, task, ctx.name, ok, reason_code, detail[:300], started_ns,
                                              ctx.now_ns()))


def held_in_ledger(data_dir: Path, reader: LedgerReader | None = None) -> set[tuple[int, int]]:
    """(segment, security id) of every open position and open order the ledger holds. ``reader``:
    the actor's own open reader, if it keeps one (LMDB allows one handle per process)."""
    try:
        if reader is not None:
            return _held(reader)
        with LedgerReader.open(ledger_dir(data_dir)) as own:
            return _held(own)
    except LedgerError:
        return set()


def _held(reader: LedgerReader) -> set[tuple[int, int]]:
    with reader.snapshot() as snap:
        held = {(p.segment, p.security_id) for p in snap.positions().values() if p.net_qty_units}
        held.update((o.spec.segment, o.spec.security_id) for o in snap.open_orders().values())
        return held


def reopen_instruments(ctx: Any, previous: InstrumentTable, held: set[tuple[int, int]]) -> InstrumentTable:
    """The master as it is now on disk (for the clock's IST day), keeping ``held`` instruments
    that left it. Raises MasterUnavailable."""
    table = open_instruments(ctx.config.instruments.master, ctx.data_dir, ist_date(ctx.now_ns()))
    kept = table.keep_held(previous, held)
    if kept:
        ctx.log.warning("instruments_kept_for_positions", count=len(kept),
                        first=",".join(f"{i.symbol}" for i in kept[:5]))
    return table


class MasterReload:
    """Mixin: call ``_master_on_phase`` from ``on_day_phase_began``; ``on_instrument_master_status``
    is handled here. ``_take_master`` (the actor's) swaps in the table ``_load_master`` opens."""

    ctx: Any
    log: Any
    _in_session = False
    _master_pending = False

    def on_instrument_master_status(self, msg: InstrumentMasterStatus) -> None:
        if not msg.ok:
            return  # the last good master stays in use
        self._master_pending = True
        if not self._in_session:
            self._reload_master("instrument master refreshed")

    def _master_on_phase(self, msg: DayPhaseBegan) -> None:
        was_in_session = self._in_session
        self._in_session = msg.phase == "session"
        if msg.phase == "pre_open" and msg.trading_day:
            self._master_pending = True  # a new day: the sample master is the day's
        if self._master_pending and not self._in_session:
            self._reload_master("session ended" if was_in_session else f"{msg.phase} of {msg.day}")

    def _reload_master(self, why: str) -> None:
        self._master_pending = False
        try:
            rows = self._take_master(why)
        except MasterUnavailable as exc:
            self.log.error("instruments_reload_failed", why=why, error=str(exc)[:300])
            return
        self.log.info("instruments_reloaded", why=why, rows=rows)

    def _take_master(self, why: str) -> int:  # pragma: no cover - every user overrides it
        raise NotImplementedError

