"""MarketService: quotes and priced option chains from the market data the control actor keeps
(``actors.control.market``). A mixin of :class:`actors.control.service.ControlApi`.

The instruments are resolved here, on the gRPC thread, against the instrument master; the market
is read on the actor loop (which owns it) through the bridge and comes back as immutable
snapshots, so a quote's fields are always of one moment.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import grpc
import msgspec

from actors.control import convert
from actors.control.auth import Principal
from actors.control.convert import Refusal
from actors.control.peers import FEED
from engine.control_api import control_pb2 as pb
from engine.control_api.quoting import quote_value
from engine.model.instruments import Instrument
from engine.model.ist import NS_PER_S
from ipc.messages import ChangeFeedSubscriptions, FeedSubscriptionsChanged

if TYPE_CHECKING:
    from actors.control.service import ControlApi

MAX_QUOTES = 100  # instruments per GetQuote (also engine.control_api.limits.FIELD_LIMITS)


class MarketCalls:
    """Mixed into ControlApi (``self`` is the API)."""

    async def get_quote(self: ControlApi, who: Principal, req: pb.GetQuoteRequest) -> Any:
        if not req.instruments:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "instruments: give at least one")
        found: list[Instrument] = []
        for n, ref in enumerate(req.instruments):
            inst = self._resolve(ref)
            if isinstance(inst, Refusal):
                return Refusal(inst.code, f"instruments[{n}]: {inst.message}")
            found.append(inst)
        keys = [(i.segment, i.security_id) for i in found]
        try:
            snaps, now_ns = await self.bridge.ask(lambda done: done(self.engine.market_snapshots(keys)),
                                                  self.timeout_s)
        except TimeoutError:
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED, f"the control actor's loop did not answer within "
                                                              f"{self.timeout_s}s")
        stale_after_ns = int(self.settings.quote_stale_after_s * NS_PER_S)
        return pb.GetQuoteResponse(
            quotes=[convert.quote_to_pb(inst, snap, now_ns, stale_after_ns, req.depth)
                    for inst, snap in zip(found, snaps, strict=True)],
            stale_after_ns=stale_after_ns, ts_ns=now_ns)

    async def get_priced_chain(self: ControlApi, who: Principal, req: pb.GetPricedChainRequest) -> Any:
        if req.strikes_each_side < 0:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT,
                           f"strikes_each_side {req.strikes_each_side} must be >= 0 (0: every strike)")
        found = self._listed_chain(req.underlying, req.expiry_yyyymmdd, req.segment)
        if isinstance(found, Refusal):
            return found
        chain, expiries = found
        table = self.instruments
        try:
            priced = await self.bridge.ask(
                lambda done: done(self.engine.priced_chain(table, chain, req.strikes_each_side)), self.timeout_s)
        except TimeoutError:
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED, f"the control actor's loop did not answer within "
                                                              f"{self.timeout_s}s")
        symbols = {}
        for row in priced.rows:
            for side in (row.ce, row.pe):
                if side is not None:
                    symbols[side.security_id] = self._symbol(chain.segment, side.security_id)
        return convert.priced_chain_to_pb(priced, symbols, expiries)

    async def get_oi_tracker(self: ControlApi, who: Principal, req: pb.GetOiTrackerRequest) -> Any:
        windows = list(req.windows_s)
        keep_s = self.settings.history_s
        for n, w in enumerate(windows):
            if not 0 < w <= keep_s:
                return Refusal(grpc.StatusCode.INVALID_ARGUMENT,
                               f"windows_s[{n}]: {w} must be > 0 and at most {keep_s} s (the market history kept, "
                               "[control] history_s)")
        if len(set(windows)) != len(windows):
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "windows_s: a window is given twice")
        found = self._listed_chain(req.underlying, req.expiry_yyyymmdd, req.segment)
        if isinstance(found, Refusal):
            return found
        chain, expiries = found
        try:
            tracked = await self.bridge.ask(
                lambda done: done(self.engine.oi_tracker(chain, windows or None)), self.timeout_s)
        except TimeoutError:
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED, f"the control actor's loop did not answer within "
                                                              f"{self.timeout_s}s")
        symbols = {}
        for row in tracked.rows:
            for side in (row.ce, row.pe):
                if side is not None:
                    symbols[side.security_id] = self._symbol(chain.segment, side.security_id)
        return convert.oi_tracker_to_pb(tracked, symbols, expiries)

    async def scan(self: ControlApi, who: Principal, req: pb.ScanRequest) -> Any:
        screens = self.scanner_config.screens
        if req.screen:
            screens = [s for s in screens if s.name == req.screen]
            if not screens:
                names = ", ".join(s.name for s in self.scanner_config.screens) or "none configured"
                return Refusal(grpc.StatusCode.NOT_FOUND,
                               f"no screen {quote_value(req.screen)} in [scanner] screens ({names})")
        table = self.instruments
        try:
            results = await self.bridge.ask(lambda done: done(self.engine.scan(table, screens)), self.timeout_s)
        except TimeoutError:
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED, f"the control actor's loop did not answer within "
                                                              f"{self.timeout_s}s")
        return pb.ScanResponse(results=[convert.scan_result_to_pb(r) for r in results],
                               ts_ns=results[0].ts_event_ns if results else self.engine.now_ns())

    async def subscribe_feed(self: ControlApi, who: Principal, req: pb.SubscribeFeedRequest) -> Any:
        answer = await self._change_feed(who, req.instruments, True)
        return answer if isinstance(answer, Refusal) else pb.SubscribeFeedResponse(changed=answer.changed,
                                                                                   subscribed=answer.subscribed)

    async def unsubscribe_feed(self: ControlApi, who: Principal, req: pb.UnsubscribeFeedRequest) -> Any:
        answer = await self._change_feed(who, req.instruments, False)
        return answer if isinstance(answer, Refusal) else pb.UnsubscribeFeedResponse(changed=answer.changed,
                                                                                     subscribed=answer.subscribed)

    async def _change_feed(self: ControlApi, who: Principal, refs: Any, subscribe: bool
                           ) -> FeedSubscriptionsChanged | Refusal:
        """The instruments resolved here; the feed (which owns its subscriptions) checks, keeps
        and applies the change (``actors.feed.operator``)."""
        if not refs:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "instruments: give at least one")
        found: list[Instrument] = []
        for n, ref in enumerate(refs):
            inst = self._resolve(ref)
            if isinstance(inst, Refusal):
                return Refusal(inst.code, f"instruments[{n}]: {inst.message}")
            found.append(inst)
        msg = ChangeFeedSubscriptions(uuid.uuid4().hex, subscribe, [i.segment for i in found],
                                      [i.security_id for i in found], f"control:{who.name}", self.engine.now_ns())
        reply = await self._command(FEED, msg, "the subscription change")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return convert.code_refusal(reply.code, reply.detail)
        return msgspec.json.decode(reply.detail, type=FeedSubscriptionsChanged)
