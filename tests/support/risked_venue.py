"""A strategy under the real risk checks and an unreliable venue, in one process: every order a
:class:`StrategyHarness` strategy sends goes through :class:`actors.risk.engine.RiskEngine`
(a tight ``max_orders_per_second`` makes it deny), and each approved order meets the fate a
test chooses (filled, rejected, or left working until the next step).

    venue = RiskedVenue(h, RiskLimits(max_orders_per_second=2), fate=lambda order: "fill")
    venue.price(ref, 250_000)      # a tick to risk (its mark) and the strategy; orders settle

Order groups (``ctx.submit_group``) are handled as execution does: risk checks every leg and
refuses the group whole; BUY legs fill before SELL legs; a leg that fails rolls the filled legs
back with fills of orders the strategy did not send.
"""

from __future__ import annotations

from typing import Callable, Literal

from actors.risk.checks import InstrumentLimits
from actors.risk.engine import RiskEngine
from actors.risk.limits import RiskLimits
from engine.model.calendar import default_calendar
from ipc.messages import Fill, OrderEvent, OrderIntent, OrderState
from ipc.segments import Segment
from tests.support.strategy_harness import SentOrder, StrategyHarness, client_order_id

Fate = Literal["fill", "reject", "hold"]
DEFAULT_PRICE_PAISE = 100_00  # an instrument's price before the test gives it one


class RiskedVenue:
    def __init__(self, h: StrategyHarness, limits: RiskLimits, fate: Callable[[SentOrder], Fate]) -> None:
        self.h = h
        self.fate = fate
        self.risk = RiskEngine(limits, [], cash_paise=10**12, calendar=default_calendar())
        self.marks: dict[tuple[int, int], int] = {}
        self.held: list[SentOrder] = []  # approved, working at the venue
        self.denied: list[tuple[SentOrder, str]] = []
        self.rejected: list[SentOrder] = []
        self._done = 0  # orders of h.ctx.orders handled so far

    # Market data --------------------------------------------------------------------------------
    def price(self, ref: object, ltp_paise: int) -> None:
        """A quote (a trade of 10 units) of ``ref`` at the harness clock: risk's mark, the strategy,
        then the orders it caused."""
        key = (ref.segment, ref.security_id)  # type: ignore[attr-defined]
        self.marks[key] = ltp_paise
        self.risk.on_mark(*key, ltp_paise)
        self.h.quote(ref, ltp_paise, ltq_units=10)  # type: ignore[arg-type]
        self.settle()

    # Orders ---------------------------------------------------------------------------------------
    def settle(self) -> None:
        """Decide every order sent since the last call (and those left working), until quiet."""
        waiting, self.held = self.held, []
        for order in waiting:
            self._meet_fate(order)
        while self._done < len(self.h.ctx.orders):
            order = self.h.ctx.orders[self._done]
            group = self._group_of(order)
            if group is None:
                self._done += 1
                self._one(order)
            else:
                self._done += len(group)
                self._group(group)

    def _intent(self, order: SentOrder) -> OrderIntent:
        self._ensure(order.segment, order.security_id)
        return OrderIntent(order.intent_id, self.h.ctx.name, order.spec(), order.ts_ns, order.ts_ns, order.ts_ns,
                           order.reduce_only, order.group_id)

    def _ensure(self, segment: int, security_id: int) -> None:
        if self.risk.has_instrument(segment, security_id):
            return
        inst = self.h.table.get(segment, security_id)
        assert inst is not None
        self.risk.set_instrument(InstrumentLimits(segment, security_id, inst.lot_size_units, inst.tick_paise,
                                                  inst.freeze_qty_units, 0, True, "EQUITY", inst.symbol))
        # An option picked at entry has not ticked yet: the venue's book gives risk a last price.
        self.risk.on_mark(segment, security_id, self.marks.setdefault((segment, security_id), DEFAULT_PRICE_PAISE))

    def _one(self, order: SentOrder) -> None:
        result = self.risk.approve(self._intent(order), self.h.now_ns)
        if not isinstance(result, list):
            self.denied.append((order, result.reason.value))
            self.h.deny(order, result.reason.value)
            return
        self._meet_fate(order)

    def _meet_fate(self, order: SentOrder) -> None:
        fate = self.fate(order)
        if fate == "fill":
            self._fill(order)
        elif fate == "reject":
            self._reject(order)
        else:
            self.held.append(order)

    def _fill(self, order: SentOrder) -> None:
        price = self.marks.get((order.segment, order.security_id), DEFAULT_PRICE_PAISE)
        now = self.h.now_ns
        self.risk.on_fill(Fill("", client_order_id(order), "", self.h.ctx.name, order.segment, order.security_id,
                               order.side, order.qty_units, price, 0, now, now))
        self.risk.on_order_state(self._event(order, OrderState.FILLED, order.qty_units))
        self.h.fill(order, price)

    def _reject(self, order: SentOrder) -> None:
        self.rejected.append(order)
        self.risk.on_order_state(self._event(order, OrderState.REJECTED, 0))
        self.h.reject(order)

    def _event(self, order: SentOrder, state: OrderState, filled_units: int) -> OrderEvent:
        now = self.h.now_ns
        return OrderEvent(client_order_id(order), order.intent_id, self.h.ctx.name, order.spec(), state, filled_units,
                          0, "", "", "", now, now)

    # Groups -----------------------------------------------------------------------------------------
    def _group_of(self, order: SentOrder) -> list[SentOrder] | None:
        for group_id, _structure, ids, _timeout in self.h.ctx.groups:
            if ids and ids[0] == order.intent_id:
                by_id = {o.intent_id: o for o in self.h.ctx.orders}
                return [by_id[i] for i in ids]
        return None

    def _group(self, legs: list[SentOrder]) -> None:
        approved: list[SentOrder] = []
        for leg in legs:
            d = self.risk.check(self._intent(leg), self.h.now_ns)
            if d is not None:
                for a in approved:
                    self.risk.release(a.intent_id)
                for other in legs:
                    self.denied.append((other, d.reason.value))
                    self.h.deny(other, d.reason.value)
                return
            self.risk.record_approved(self._intent(leg), self.h.now_ns)
            approved.append(leg)
        filled: list[SentOrder] = []
        for leg in sorted(legs, key=lambda o: o.side != "BUY"):  # hedges first, as execution sends them
            if self.fate(leg) == "reject":
                self._reject(leg)
                for rest in legs:
                    if rest is not leg and rest not in filled:
                        self._reject(rest)
                for done in reversed(filled):  # execution's rollback, shorts bought back first (fills of orders the strategy did not send)
                    back = "SELL" if done.side == "BUY" else "BUY"
                    price = self.marks.get((done.segment, done.security_id), DEFAULT_PRICE_PAISE)
                    now = self.h.now_ns
                    ref = self.h.inst(f"{Segment(done.segment).name}:{done.security_id}")
                    self.risk.on_fill(Fill("", "rollback", "", self.h.ctx.name, done.segment, done.security_id,
                                           back, done.qty_units, price, 0, now, now))
                    self.h.foreign_fill(ref, back, done.qty_units, price)
                return
            self._fill(leg)
            filled.append(leg)

