"""Expiry settlement, the execution actor's side: positions in contracts that expired are settled
by the engine (the math is ``settlement.py``; the moment is ``engine.model.expiry_day``).

A mixin of ``ExecutionActor`` (the ledger's writer), paper and live alike: every second, and at
start, each open position in a contract past its settlement moment (its expiry day, 15:30 IST) is
closed by settlement fills and a ``PositionSettled`` record, in one ledger transaction; the fills
and the new positions are then published like any other, so risk and the strategies see the
position go. A settlement is recorded once: its fill ids are derived from the contract and the
strategy, and the ledger refuses a fill id it already holds.

The settlement price. The underlying's settlement price is the official one when the operator gave
it (``shikra settlement set-price``, read from the data dir when a settlement is due; else
``[execution.settlement] prices_paise``), else the underlying's last traded price as
the engine saw it (the venue's book of the index or stock) on the expiry day. To have that price,
execution asks the feed to stream the underlying of every derivative held (``SubscribeInstruments``).
A position still open after its expiry day (the engine was down at the close) is settled only with
a configured price: a later day's price is not the expiry day's. Until a price is known the
position waits and an ERROR line says what to set, once per contract per start.
"""

from __future__ import annotations

from typing import Any, Final

from actors.execution.config import read_settlement_prices
from actors.execution.settlement import SETTLED_TYPES, plan_settlement, settlement_fills
from engine.ledger import PositionSettled
from engine.model.expiry_day import has_expired
from engine.model.instruments import date_from_yyyymmdd
from engine.model.ist import ist_date
from ipc import topics
from ipc.messages import DELIVERY_PRODUCT, Fill, Product, SubscribeInstruments, position_key
from ipc.segments import instrument_label

FEED: Final = "feed"
SETTLE_CHECK_S: Final = 1.0
SPOT_RESUBSCRIBE_S: Final = 60.0  # a restarted feed learns the underlyings again within this


class ExpirySettlement:
    """Mixin for ``ExecutionActor`` (module docstring)."""

    ctx: Any
    log: Any
    ledger: Any
    venue: Any
    table: Any
    live: bool

    def _settlement_init(self) -> None:
        self._settle_reported: set[tuple[int, int]] = set()  # contracts whose missing price was logged
        self._spots_sent: frozenset[tuple[int, int]] = frozenset()

    def _settlement_start(self, now_ns: int) -> None:
        self._settle_due(now_ns)
        self.ctx.every(SETTLE_CHECK_S, lambda: self._settle_due(self.ctx.now_ns()))
        self.ctx.every(SPOT_RESUBSCRIBE_S, lambda: self._subscribe_spots(force=True))

    def _settlement_schedule(self) -> Any:
        """The charge schedule fills are charged with: the live venue's, else the paper venue's."""
        return self.ctx.config.execution.dhan.charges if self.live else self.venue.config.charges

    # Which positions are due --------------------------------------------------------------------
    def _settle_due(self, now_ns: int) -> int:
        """Settle every open position in a contract past its settlement moment; returns how many."""
        settled = 0
        for (strategy, segment, security_id, product), pos in list(self.ledger.positions().items()):
            if not pos.net_qty_units:
                continue
            inst = self._instrument(segment, security_id)  # type: ignore[attr-defined]
            if inst is None or not has_expired(inst.expiry_yyyymmdd, now_ns):
                continue
            if inst.instrument not in SETTLED_TYPES:
                self._settle_report(inst, f"{inst.instrument} contracts are not settled by the engine; close or "
                                          "settle this position by hand", now_ns)
                continue
            if self._settle_one(strategy, product, inst, pos.net_qty_units, now_ns):
                settled += 1
        self._subscribe_spots()  # a derivative bought since the last check: its underlying too
        return settled

    def _settlement_price(self, inst: Any, now_ns: int) -> tuple[int, str] | None:
        """(price, source) of the underlying for ``inst``'s settlement, None when not known yet."""
        expiry = date_from_yyyymmdd(inst.expiry_yyyymmdd)
        try:  # `shikra settlement set-price` while we run: read when a settlement is due
            set_by_cli = read_settlement_prices(self.ctx.data_dir).price_for(inst.underlying, expiry)
        except ValueError as exc:
            set_by_cli = None
            self._settle_report(inst, f"the settlement prices file is ignored: {exc}", now_ns)
        if set_by_cli is not None:
            return set_by_cli, "cli"
        configured = self.ctx.config.execution.settlement.price_for(inst.underlying, expiry)
        if configured is not None:
            return configured, "config"
        if ist_date(now_ns) != expiry:
            return None  # a later day's price is not the expiry day's
        spot = self.table.spot(inst.underlying)
        view = self.venue.book(spot.segment, spot.security_id) if spot is not None else None
        if view is None or view.ltp_paise <= 0:
            return None
        return view.ltp_paise, "mark"

    def _settle_one(self, strategy: str, product: Product, inst: Any, net_units: int, now_ns: int) -> bool:
        label = instrument_label(inst.segment, inst.security_id)
        price = self._settlement_price(inst, now_ns)
        if price is None:
            expiry = date_from_yyyymmdd(inst.expiry_yyyymmdd)
            day = expiry.isoformat()
            self._settle_report(inst, f"no settlement price for {inst.underlying} on {day}: the engine saw no last "
                                      f"price of it that day; give the official one with `shikra settlement "
                                      f"set-price {inst.underlying} {day} PRICE` (or [execution.settlement] "
                                      "prices_paise)", now_ns)
            return False
        price_paise, source = price
        physical = inst.instrument.endswith("STK")
        delivery = self.table.spot(inst.underlying) if physical else None
        plan = plan_settlement(instrument_type=inst.instrument, option_type=inst.option_type,
                               strike_paise=inst.strike_paise, net_qty_units=net_units,
                               settlement_price_paise=price_paise, physical=physical,
                               schedule=self._settlement_schedule())
        if plan.delivery is not None and (delivery is None or delivery.instrument != "EQUITY"):
            self._settle_report(inst, f"{label} is physically settled but the master lists no stock "
                                      f"{inst.underlying} to deliver", now_ns)
            return False
        fills = settlement_fills(plan, strategy=strategy, product=product, segment=inst.segment,
                                 security_id=inst.security_id,
                                 expiry_yyyymmdd=inst.expiry_yyyymmdd,
                                 delivery_segment=delivery.segment if plan.delivery else 0,
                                 delivery_security_id=delivery.security_id if plan.delivery else 0, ts_ns=now_ns)
        record = PositionSettled(
            fill_id=fills[0].fill_id, strategy=strategy, segment=inst.segment, security_id=inst.security_id,
            expiry_yyyymmdd=inst.expiry_yyyymmdd, kind=plan.kind, net_qty_units=net_units,
            settlement_price_paise=price_paise, price_source=source, value_per_unit_paise=plan.value_per_unit_paise,
            stt_paise=plan.close.stt_paise + (plan.delivery.stt_paise if plan.delivery else 0),
            delivery_segment=fills[1].segment if plan.delivery else 0,
            delivery_security_id=fills[1].security_id if plan.delivery else 0,
            delivery_product=DELIVERY_PRODUCT if plan.delivery else "", ts_ns=now_ns, product=product)
        report = self.ledger.append_report([*fills, record], all_or_nothing=True)
        if report.issues:
            self.log.error("settlement_not_recorded", strategy=strategy, instrument=label,
                           issue=report.issues[0][1].detail)
            return False
        if self.live:
            self._live_note_settlement(fills)  # type: ignore[attr-defined]
        self.log.info("position_settled", strategy=strategy, instrument=label, kind=plan.kind, net_units=net_units,
                      settlement_price_paise=price_paise, price_source=source,
                      value_per_unit_paise=plan.value_per_unit_paise, charges_paise=plan.charges_paise())
        self._settle_publish(fills, now_ns)
        return True

    def _settle_publish(self, fills: list[Fill], now_ns: int) -> None:
        """After the ledger has them: the venue's mirrors, then the fills and positions on the bus."""
        wallet = self.ledger.wallet()
        if wallet is not None and self.venue.wallet is not None:
            self.venue.wallet.set_cash(wallet.cash_paise)
        positions = self.ledger.positions()
        for fill in fills:
            net = sum(p.net_qty_units for (_s, seg, sid, _product), p in positions.items()
                      if (seg, sid) == (fill.segment, fill.security_id))
            kind = self._instrument_type(fill.segment, fill.security_id)  # type: ignore[attr-defined]
            self.venue.set_position(fill.segment, fill.security_id, net, fill.price_paise, instrument_type=kind)
            self.ctx.publish(topics.strategy_topic(topics.FILL, fill.strategy), fill)
        for key in {position_key(f) for f in fills}:
            pos = self.ledger.position(*key)
            if pos is not None:
                marked = self._marked(pos, now_ns)  # type: ignore[attr-defined]
                self.ctx.publish(topics.strategy_topic(topics.POSITION, key[0]), marked)

    def _settle_report(self, inst: Any, detail: str, now_ns: int) -> None:
        key = (inst.segment, inst.security_id)
        if key in self._settle_reported:
            return
        self._settle_reported.add(key)
        self.log.error("settlement_waiting", instrument=instrument_label(*key), symbol=inst.symbol,
                       expiry=inst.expiry_yyyymmdd, detail=detail)

    # The underlyings of what is held ---------------------------------------------------------------
    def _subscribe_spots(self, force: bool = False) -> None:
        """Ask the feed to stream the underlying (index or stock) of every derivative held, so that
        its last price at the close is known. Sent when the set changes, and now and then."""
        if FEED not in self.ctx.config.engine.actors:
            return
        spots: set[tuple[int, int]] = set()
        for (_strategy, segment, security_id, _product), pos in self.ledger.positions().items():
            inst = self._instrument(segment, security_id) if pos.net_qty_units else None  # type: ignore[attr-defined]
            if inst is None or inst.instrument not in SETTLED_TYPES:
                continue
            spot = self.table.spot(inst.underlying)
            if spot is not None:
                spots.add((spot.segment, spot.security_id))
        if not spots or (not force and frozenset(spots) == self._spots_sent):
            return
        self._spots_sent = frozenset(spots)
        ordered = sorted(spots)
        self.ctx.send(FEED, SubscribeInstruments(self.ctx.name, [s for s, _ in ordered], [i for _, i in ordered]))
