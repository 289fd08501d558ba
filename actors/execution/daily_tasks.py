"""Execution's part of the daily schedule (``engine.daemon.schedule``): at a trading day's pre-open
a fresh broker token (the live venue's session, ``live._session_pre_open``) and a reconciliation with the venue (live: a snapshot of Dhan's orders, trades and positions, the
task answered when it comes back or fails; paper: the ledger is the book of record, nothing to ask),
at post-close the DAY orders still open cancelled at the venue (``[schedule] cancel_day_orders``);
and the instrument master taken at the session boundary (``actors.daily``).

Idempotent: a phase announced again after a restart reconciles again (a reconciliation is always
safe) and finds no DAY order left to cancel."""

from __future__ import annotations

from typing import Any

from actors.daily import MasterReload, reopen_instruments, task_finished
from actors.execution.reconcile import is_external
from engine.model.ist import day_date, ist_day
from ipc.messages import DayPhaseBegan, is_protective_stop

BY = "schedule"


class DailyTasks(MasterReload):
    """Mixin of ``ExecutionActor``."""

    ctx: Any
    log: Any
    live: bool
    ledger: Any
    orders: dict[str, Any]
    table: Any
    _instruments: dict[tuple[int, int], Any]
    _calendar: Any  # engine.model.calendar.SessionCalendar, None when the market never closes
    _daily_reconcile: tuple[str, int] | None = None  # (day, started_ns) of the pre-open reconciliation asked

    def on_day_phase_began(self, msg: DayPhaseBegan) -> None:
        self._master_on_phase(msg)
        if not msg.trading_day:
            return
        if msg.phase == "pre_open":
            self._session_pre_open(msg.day)  # type: ignore[attr-defined]
            self._daily_reconcile_start(msg.day)
        elif msg.phase == "post_close" and self.ctx.config.schedule.cancel_day_orders:
            self._daily_cancel_day_orders(msg.day)

    def _daily_reconcile_start(self, day: str) -> None:
        now = self.ctx.now_ns()
        if not self.live:
            task_finished(self.ctx, day, "reconcile", True, "paper venue: the ledger is the book of record", now)
            return
        self._daily_reconcile = (day, now)
        self._live_request("pre-open")  # type: ignore[attr-defined]

    def _daily_reconciled(self, ok: bool, detail: str) -> None:
        """From LiveTrading: a snapshot was applied (ok) or failed."""
        if self._daily_reconcile is None:
            return
        day, started = self._daily_reconcile
        self._daily_reconcile = None
        task_finished(self.ctx, day, "reconcile", ok, detail, started, reason_code="" if ok else "snapshot_failed")

    def _daily_cancel_day_orders(self, day: str) -> None:
        now = self.ctx.now_ns()
        # Protective stops are left to their manager (it re-rests an expired one at the next open);
        # an order of a segment still in session (MCX in the evening) is not leftover yet.
        leftover = [coid for coid, order in self.orders.items()
                    if order.spec.validity == "DAY" and not is_external(coid)
                    and not is_protective_stop(order.intent_id) and self._session_over(order.spec.segment, now)]
        for coid in leftover:
            self._cancel(coid, BY)  # type: ignore[attr-defined]
        still = [coid for coid in leftover if coid in self.orders]
        self.log.info("day_orders_cancelled", day=day, cancelled=len(leftover), awaiting_venue=len(still))
        task_finished(self.ctx, day, "cancel_day_orders", True,
                      f"{len(leftover)} DAY orders cancelled" + (f", {len(still)} awaiting the venue" if still else ""),
                      now)

    def _session_over(self, segment: int, now_ns: int) -> bool:
        """Whether ``segment``'s session of today has closed by ``now_ns`` (or there is none today)."""
        calendar = self._calendar
        if calendar is None:  # the synthetic market never closes: the schedule's post-close decides
            return True
        bounds = calendar.session_bounds(day_date(ist_day(now_ns)), segment)
        return bounds is None or bounds[1] <= now_ns

    def _take_master(self, why: str) -> int:
        held = {(seg, sid) for (_s, seg, sid, _product), pos in self.ledger.positions().items() if pos.net_qty_units}
        held.update((o.spec.segment, o.spec.security_id) for o in self.orders.values())
        self.table = reopen_instruments(self.ctx, self.table, held)
        self._instruments.clear()  # looked up again from the new master
        return len(self.table)
