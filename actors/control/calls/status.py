"""EngineService: the daemon's status and its actor list, from the supervisor's latest status
message (``actors.control.peers``). A mixin of :class:`actors.control.service.ControlApi`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.control import convert
from actors.control.auth import Principal
from actors.control.convert import Refusal
from engine.control_api import control_pb2 as pb

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
