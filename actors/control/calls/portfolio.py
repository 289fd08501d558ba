"""PortfolioService and JournalService: trades, positions, funds and the trade journal, read
from a ledger snapshot. A mixin of :class:`actors.control.service.ControlApi`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

from actors.control import convert
from actors.control.auth import Principal
from actors.control.convert import Refusal
from engine.control_api import control_pb2 as pb
from engine.control_api.limits import quote_value
from engine.model.journal import build_journal, iter_fills

if TYPE_CHECKING:
    from actors.control.service import ControlApi


class PortfolioCalls:
    """Mixed into ControlApi (``self`` is the API)."""

    async def list_trades(self: ControlApi, who: Principal, req: pb.ListTradesRequest) -> Any:
        if req.limit < 0:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"limit {req.limit} must be >= 0")
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            fills = snap.fills()
        chosen = sorted((f for f in fills.values() if not req.strategy or f.strategy == req.strategy),
                        key=lambda f: (f.ts_event_ns, f.fill_id))
        if req.limit:
            chosen = chosen[-req.limit:]
        return pb.ListTradesResponse(trades=[convert.fill_to_pb(f, self._symbol(f.segment, f.security_id))
                                             for f in chosen])

    async def list_positions(self: ControlApi, who: Principal, req: pb.ListPositionsRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            positions = snap.positions()
        chosen = [p for key, p in sorted(positions.items())
                  if (not req.strategy or p.strategy == req.strategy) and (not req.open_only or p.net_qty_units)]
        realised = sum(p.realised_pnl_paise for p in chosen)
        charges = sum(p.charges_paise for p in chosen)
        return pb.ListPositionsResponse(
            positions=[convert.position_to_pb(p, self._symbol(p.segment, p.security_id)) for p in chosen],
            realised_pnl_paise=realised, charges_paise=charges, net_pnl_paise=realised - charges)

    async def get_funds(self: ControlApi, who: Principal, req: pb.GetFundsRequest) -> Any:
        account = req.account or "main"
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            wallet = snap.wallet(account)
        if wallet is None:
            return Refusal(grpc.StatusCode.NOT_FOUND, f"no wallet for account {quote_value(account)} in the ledger")
        return pb.GetFundsResponse(account=wallet.account, cash_paise=wallet.cash_paise,
                                   external_paise=wallet.external_paise, charges_paise=wallet.charges_paise,
                                   ts_ns=wallet.ts_ns)

    async def get_journal(self: ControlApi, who: Principal, req: pb.GetJournalRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
        assert self._reader is not None  # opened by _snapshot
        strategy = req.strategy.strip()
        # One fill at a time from one snapshot: memory does not grow with the ledger's history.
        journal = build_journal(f for f in iter_fills(self._reader) if not strategy or f.strategy == strategy)
        return convert.journal_to_pb(journal, req.include_trades)
