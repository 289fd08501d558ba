"""PortfolioService and JournalService: trades, positions, funds and the trade journal, read
from a ledger snapshot. A mixin of :class:`actors.control.service.ControlApi`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import grpc

from actors.control import convert
from actors.control.auth import Principal
from actors.control.convert import Refusal
from engine.control_api import control_pb2 as pb
from engine.control_api.quoting import quote_value
from actors.control.peers import EXECUTION, MARK_SOURCE
from engine.ledger.daysplit import day_split
from engine.model.ist import ist_day, ist_midnight_ns
from engine.model.journal import build_journal, iter_fills
from ipc.messages import PRODUCTS, ConvertPosition
from ipc.segments import segment_label

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
        rows = []
        for p in chosen:
            row = convert.position_to_pb(p, self._symbol(p.segment, p.security_id))
            m = self.peers.marked(p)
            row.unrealised_pnl_paise, row.marked, row.mark_paise, row.mark_ts_ns = (
                m.unrealised_pnl_paise, m.marked, m.mark_paise, m.mark_ts_ns)
            rows.append(row)
        unrealised = sum(r.unrealised_pnl_paise for r in rows)
        return pb.ListPositionsResponse(
            positions=rows, realised_pnl_paise=realised, charges_paise=charges, net_pnl_paise=realised - charges,
            unrealised_pnl_paise=unrealised, total_pnl_paise=realised + unrealised - charges, mark_source=MARK_SOURCE)

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

    async def get_day_pnl(self: ControlApi, who: Principal, req: pb.GetDayPnlRequest) -> Any:
        """Today's P&L per position, carried in vs traded today (``engine.ledger.daysplit``), the
        unrealised parts at the marks execution last published."""
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
        assert self._reader is not None  # opened by _snapshot
        day_start = ist_midnight_ns(ist_day(self.engine.now_ns()))
        marks = dict(self.peers.marks)
        strategy = req.strategy.strip()
        with self._reader.snapshot() as snap:
            # One event at a time from one snapshot: memory does not grow with the ledger's history.
            split = day_split(snap.iter_events(), day_start, marks)
        rows = [pb.DayPnl(strategy=d.strategy, segment=segment_label(d.segment), security_id=d.security_id,
                          symbol=self._symbol(d.segment, d.security_id), product=d.product,
                          carried_qty_units=d.carried_qty_units, carried_cost_paise=d.carried_cost_paise,
                          carry_open_qty_units=d.carry_open_qty_units,
                          carry_realised_pnl_paise=d.carry_realised_pnl_paise,
                          carry_unrealised_pnl_paise=d.carry_unrealised_pnl_paise,
                          day_open_qty_units=d.day_open_qty_units, day_realised_pnl_paise=d.day_realised_pnl_paise,
                          day_unrealised_pnl_paise=d.day_unrealised_pnl_paise, day_charges_paise=d.day_charges_paise,
                          marked=(d.segment, d.security_id) in marks)
                for d in split.values() if not strategy or d.strategy == strategy]
        return pb.GetDayPnlResponse(
            positions=rows, day_start_ns=day_start,
            carry_pnl_paise=sum(r.carry_realised_pnl_paise + r.carry_unrealised_pnl_paise for r in rows),
            day_pnl_paise=sum(r.day_realised_pnl_paise + r.day_unrealised_pnl_paise for r in rows),
            day_charges_paise=sum(r.day_charges_paise for r in rows))

    async def convert_position(self: ControlApi, who: Principal, req: pb.ConvertPositionRequest) -> Any:
        """Execution checks the conversion against the ledger and the venue and records it; the
        answer is both positions as the ledger then holds them."""
        strategy = req.strategy.strip()
        if not strategy:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "strategy is required: the position to convert is "
                                                             "a strategy's (see `shikra positions`)")
        for name in ("from_product", "to_product"):
            if getattr(req, name) not in PRODUCTS:
                return Refusal(grpc.StatusCode.INVALID_ARGUMENT,
                               f"{name} {quote_value(getattr(req, name))} is not INTRADAY, CNC or MARGIN")
        if req.from_product == req.to_product:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"from_product and to_product are both {req.from_product}")
        if req.qty_units <= 0:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"qty_units {req.qty_units} must be > 0")
        inst = self._resolve(req.instrument)
        if isinstance(inst, Refusal):
            return inst
        msg = ConvertPosition(cmd_id=uuid.uuid4().hex, strategy=strategy, segment=inst.segment,
                              security_id=inst.security_id, from_product=req.from_product,  # type: ignore[arg-type]
                              to_product=req.to_product, qty_units=req.qty_units,  # type: ignore[arg-type]
                              by=f"control:{who.name}", ts_ns=self.engine.now_ns())
        reply = await self._command(EXECUTION, msg, "the conversion")
        if isinstance(reply, Refusal):
            return reply
        if not reply.ok:
            return convert.code_refusal(reply.code, reply.detail)
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            source = snap.position(strategy, inst.segment, inst.security_id, req.from_product)  # type: ignore[arg-type]
            destination = snap.position(strategy, inst.segment, inst.security_id, req.to_product)  # type: ignore[arg-type]
        symbol = self._symbol(inst.segment, inst.security_id)
        return pb.ConvertPositionResponse(from_position=convert.position_to_pb(source, symbol),
                                          to_position=convert.position_to_pb(destination, symbol))

    async def get_journal(self: ControlApi, who: Principal, req: pb.GetJournalRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
        assert self._reader is not None  # opened by _snapshot
        strategy = req.strategy.strip()
        # One fill at a time from one snapshot: memory does not grow with the ledger's history.
        journal = build_journal(f for f in iter_fills(self._reader) if not strategy or f.strategy == strategy)
        return convert.journal_to_pb(journal, req.include_trades)
