"""InstrumentService: instrument search and option chains from the instrument master the control
actor loaded. A mixin of :class:`actors.control.service.ControlApi`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

from actors.control import convert
from actors.control.auth import Principal
from actors.control.convert import Refusal
from engine.control_api import control_pb2 as pb
from engine.control_api.quoting import quote_value
from engine.model.expiry_day import listing_day
from engine.model.instruments import OptionChain, yyyymmdd
from ipc.segments import SEGMENT_LABELS, Segment

if TYPE_CHECKING:
    from actors.control.service import ControlApi


class InstrumentCalls:
    """Mixed into ControlApi (``self`` is the API)."""

    async def search_instruments(self: ControlApi, who: Principal, req: pb.SearchInstrumentsRequest) -> Any:
        if not req.text.strip():
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "text is required")
        if not 0 <= req.limit <= convert.MAX_SEARCH_LIMIT:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT,
                           f"limit {req.limit} is not within 0..{convert.MAX_SEARCH_LIMIT}")
        found = self.instruments.search(req.text, req.limit or convert.DEFAULT_SEARCH_LIMIT)
        return pb.SearchInstrumentsResponse(instruments=[convert.instrument_to_pb(i) for i in found])

    def _listed_chain(self: ControlApi, underlying_text: str, expiry_yyyymmdd: int,
                      segment_text: str) -> tuple[OptionChain, list[int]] | Refusal:
        """The chain of an underlying and expiry still trading (the nearest when ``expiry_yyyymmdd``
        is 0) and every expiry listed, or a refusal naming what is missing."""
        underlying = underlying_text.strip().upper()
        if not underlying:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "underlying is required")
        segment = None
        if segment_text:
            segment = Segment.from_label(segment_text)
            if segment is None:
                return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"segment {quote_value(segment_text)} is not one "
                                                                 f"of {SEGMENT_LABELS}")
        # Contracts past their settlement moment are no longer offered (engine.model.expiry_day).
        first_listed = listing_day(self.engine.now_ns())
        expiries = self.instruments.expiries(underlying, first_listed, segment=segment)
        expiry = expiry_yyyymmdd or (expiries[0] if expiries else 0)
        live = expiry >= yyyymmdd(first_listed)
        chain = self.instruments.option_chain(underlying, expiry, segment=segment) if expiry and live else None
        if chain is None:
            listed = ", ".join(map(str, expiries[:8])) or "none"
            return Refusal(grpc.StatusCode.NOT_FOUND,
                           f"no options of {quote_value(underlying)} expiring {expiry or '(any)'}; expiries "
                           f"listed: {listed}")
        return chain, expiries

    async def get_option_chain(self: ControlApi, who: Principal, req: pb.GetOptionChainRequest) -> Any:
        found = self._listed_chain(req.underlying, req.expiry_yyyymmdd, req.segment)
        if isinstance(found, Refusal):
            return found
        chain, expiries = found
        symbols = {}
        for strike in chain.strikes:
            for sid in (strike.ce_security_id, strike.pe_security_id):
                if sid:
                    symbols[sid] = self._symbol(chain.segment, sid)
        return convert.chain_to_pb(chain, symbols, expiries)
