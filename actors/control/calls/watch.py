"""OrderService.WatchOrders: order events, fills and denials streamed to each watching client.

The actor loop hands every event to :meth:`WatchCalls.publish_event`; it is fanned out on the
gRPC thread's loop to one bounded queue per client. A client that falls behind is cut off
(RESOURCE_EXHAUSTED) rather than slowing the engine. A mixin of
:class:`actors.control.service.ControlApi` (its ``__init__`` makes ``_watchers`` and ``watching``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc

from actors.control import convert
from engine.control_api import control_pb2 as pb
from engine.control_api.limits import check_request, clip_detail
from ipc.messages import Fill, OrderDenied, OrderEvent

if TYPE_CHECKING:
    from actors.control.service import ControlApi


class Watcher:
    __slots__ = ("queue", "overflowed", "strategy")

    def __init__(self, size: int, strategy: str) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue(size)
        self.overflowed = False
        self.strategy = strategy


class WatchCalls:
    """Mixed into ControlApi (``self`` is the API)."""

    def publish_event(self: ControlApi, msg: OrderEvent | Fill | OrderDenied) -> None:
        """Called on the ACTOR loop for every order event, fill and denial: hand it to the
        watchers' loop. Cheap when nobody watches (the caller checks ``watching`` first)."""
        loop = self.loop
        if loop is not None and self._watchers:
            loop.call_soon_threadsafe(self._fan_out, msg)

    def _fan_out(self: ControlApi, msg: Any) -> None:
        for watcher in self._watchers:
            if watcher.overflowed:
                continue
            try:
                watcher.queue.put_nowait(msg)
            except asyncio.QueueFull:
                # A slow client must never slow the engine or grow memory without bound.
                watcher.overflowed = True

    def _event_to_pb(self: ControlApi, msg: Any, strategy: str) -> pb.WatchOrdersResponse | None:
        if strategy and getattr(msg, "strategy", "") != strategy:
            return None
        where = msg.spec if isinstance(msg, OrderEvent) else msg
        symbol = self._symbol(where.segment, where.security_id)
        if isinstance(msg, OrderEvent):
            return pb.WatchOrdersResponse(order=convert.order_to_pb(msg, symbol))
        if isinstance(msg, Fill):
            return pb.WatchOrdersResponse(fill=convert.fill_to_pb(msg, symbol))
        if isinstance(msg, OrderDenied):
            return pb.WatchOrdersResponse(denial=convert.denial_to_pb(msg, symbol))
        return None

    async def watch_orders(self: ControlApi, request: pb.WatchOrdersRequest,
                           context: grpc.aio.ServicerContext) -> AsyncIterator[pb.WatchOrdersResponse]:
        await self._gate("WatchOrders", request, context)
        oversized = check_request(request)
        if oversized is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, clip_detail(oversized))
        watcher = Watcher(self.settings.watch_queue_events, request.strategy)
        self._watchers.add(watcher)
        self.watching = len(self._watchers)
        try:
            # Headers go out once the watcher is registered: a client that waits for them
            # (call.initial_metadata()) misses no event that happens afterwards.
            await context.send_initial_metadata((("shikra-watch", "subscribed"),))
            while True:
                msg = await watcher.queue.get()
                if watcher.overflowed:
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                        f"this client fell {self.settings.watch_queue_events} events behind; "
                                        "reconnect and re-read orders with ListOrders")
                out = self._event_to_pb(msg, request.strategy)
                if out is not None:
                    yield out
        finally:
            self._watchers.discard(watcher)
            self.watching = len(self._watchers)
