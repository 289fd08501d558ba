"""EngineService: the daemon's status and its actor list, from the supervisor's latest status
message (``actors.control.peers``), and the day's schedule (``actors.control.schedule_log``). A mixin of :class:`actors.control.service.ControlApi`."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import grpc

from actors.control import convert
from actors.control.auth import Principal
from actors.control.convert import Refusal
from engine.control_api import control_pb2 as pb
from engine.control_api.quoting import quote_value
from engine.model.ist import ist_date
from engine.model.schedule import day_plan

if TYPE_CHECKING:
    from actors.control.service import ControlApi


class StatusCalls:
    """Mixed into ControlApi (``self`` is the API)."""

    async def get_status(self: ControlApi, who: Principal, req: pb.GetStatusRequest) -> Any:
        status = self.peers.daemon_status()
        return status if isinstance(status, Refusal) else convert.status_to_pb(status)

    async def list_actors(self: ControlApi, who: Principal, req: pb.ListActorsRequest) -> Any:
        status = self.peers.daemon_status()
        if isinstance(status, Refusal):
            return status
        full = convert.status_to_pb(status)
        return pb.ListActorsResponse(actors=list(full.actors), updated_ns=full.updated_ns)

    async def get_schedule(self: ControlApi, who: Principal, req: pb.GetScheduleRequest) -> Any:
        now = self.engine.now_ns()
        if req.day:
            try:
                day = dt.date.fromisoformat(req.day)
            except ValueError:
                return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"day {quote_value(req.day)} is not YYYY-MM-DD")
        else:
            day = ist_date(now)
        cfg = self.schedule_config
        planned = day_plan(self.schedule_calendar(), cfg, day)
        record = self.schedule_log.day(day.isoformat())
        began: dict[str, int] = {}
        for phase in record.phases:
            began.setdefault(phase.phase, phase.ts_ns)  # the first announcement (a restart repeats it)
        return pb.GetScheduleResponse(
            day=day.isoformat(), trading_day=planned[0].trading_day, enabled=cfg.enabled,
            phases=[pb.SchedulePhase(phase=p.phase, planned_ns=p.at_ns, began_ns=began.get(p.phase, 0))
                    for p in planned],
            tasks=[pb.ScheduleTask(task=t.task, actor=t.actor, ok=t.ok, reason_code=t.reason_code, detail=t.detail,
                                   started_ns=t.started_ns, finished_ns=t.ts_ns) for t in record.tasks])
