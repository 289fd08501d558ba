"""Base of the option structures (short_straddle, short_strangle, iron_condor, bull_call_spread,
bear_put_spread): several option legs entered and exited together as one order group.

Entry: on the first tick or quote of the underlying's index with event time in
[``entry_time_ist``, ``entry_cutoff_ist``), while no structure is held and fewer than
``max_entries_per_day`` were entered that IST day. Strikes come from the chain of the
``expiry_index``-th expiry (0 = nearest) listed on or after that day: each leg sits a fixed
number of chain steps from the ATM strike of the index's LTP (see each kind). Every leg is a
market order of ``qty_lots`` x the lot size; the legs go out as one order group
(``ctx.submit_group``, id ``<name>-<yyyymmdd>-<n>``): risk checks every leg, execution puts the BUY
(hedge) legs on first and the SELL legs once they are filled, and rolls the group back if a leg
fails. If a leg can not be chosen the entry is skipped and tried again a
minute later.

Exit: the structure's P&L (sum over legs of sold - bought + net units x LTP, in paise; charges
excluded) is marked on every tick or quote of a leg once every leg is filled (a leg's first fill
price is its mark until it ticks).
P&L <= -``stop_loss_pnl_paise`` exits (stop first), P&L >= ``target_pnl_paise`` exits (0 = off);
at ``square_off_ist`` (any tick of the index or a leg) whatever is held is closed. The exit closes
each leg with a reduce-only market order tagged ``<entry group>-x``: the short legs first, the
long (hedge) legs only once no short leg is held, so a denied or rejected close never leaves a
short leg without its hedge. What a leg holds is its fills, never what was ordered: a closing
order that dies (denied by risk, rejected by the venue) leaves the leg held, is logged with its
reason code, and is sent again on the leg's next tick, at most once per ``EXIT_RETRY_S``.
If an entry leg never fills, the structure is left to the execution engine's group rollback and
only the square-off acts on what remains held.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import ClassVar

import msgspec

from actors.strategy.api import GroupLegOrder, InstrumentRef, Strategy, StrategyParams, StrategyState
from engine.model.expiry_day import listing_day
from actors.strategy.builtin._common import (
    NS_PER_S,
    ExitReason,
    Holding,
    IndexUnderlying,
    OptionType,
    PickError,
    check_session_times,
    ist_date,
    ist_day,
    index_ref,
    ist_time_of_day_ns,
    never_filled_units,
    pick_option,
    ref_of,
    time_of_day_ns,
)
from ipc.messages import Fill, OrderDenied, OrderEvent, Product, Quote, Side, Tick

PICK_RETRY_S = 60  # after a failed strike pick, wait this long before picking again
EXIT_RETRY_S = 1  # after a closing order died, wait this long before sending it again (the order rate)


class LegSpec(msgspec.Struct, frozen=True):
    """One leg of a structure: ``steps`` chain steps from ATM (+ higher strikes, - lower)."""

    option_type: OptionType
    steps: int
    side: Side


class StructureParams(StrategyParams):
    underlying: IndexUnderlying = "NIFTY"
    expiry_index: int = 0  # 0 = nearest expiry on or after today
    qty_lots: int = 1
    product: Product = "INTRADAY"
    entry_time_ist: dt.time = dt.time(9, 20)
    entry_cutoff_ist: dt.time = dt.time(14, 30)
    square_off_ist: dt.time = dt.time(15, 15)
    max_entries_per_day: int = 1
    target_pnl_paise: int = 0  # 0 = off
    stop_loss_pnl_paise: int = 0  # 0 = off

    def __post_init__(self) -> None:
        for name in ("qty_lots", "max_entries_per_day"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} ({getattr(self, name)}) must be at least 1")
        for name in ("expiry_index", "target_pnl_paise", "stop_loss_pnl_paise"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} ({getattr(self, name)}) must be 0 or more")
        check_session_times(entry_time_ist=self.entry_time_ist, entry_cutoff_ist=self.entry_cutoff_ist,
                            square_off_ist=self.square_off_ist)


class Phase(str, enum.Enum):
    FLAT = "flat"
    ENTERING = "entering"  # legs sent, not all filled
    OPEN = "open"
    EXITING = "exiting"
    BROKEN = "broken"  # an entry leg never filled: left to the group rollback and the square-off


class Leg(Holding, kw_only=True):
    side: Side  # the entry side
    units: int  # ordered at entry
    entry_intent_id: str
    exit_working_units: int = 0
    exit_orders: dict[str, int] = {}  # closing intent id -> units
    dead_intent_ids: list[str] = []
    exit_sent_ns: int = 0  # event time of the last closing order
    exit_failed: bool = False  # the last closing order died: the next waits EXIT_RETRY_S

    @property
    def goal_units(self) -> int:
        return self.units if self.side == "BUY" else -self.units


class StructureState(StrategyState):
    day: int = 0
    entries_today: int = 0
    entries_total: int = 0  # numbers the group ids
    phase: Phase = Phase.FLAT
    group_id: str = ""
    legs: list[Leg] = []
    realised_today_paise: int = 0
    last_exit_reason: ExitReason | None = None


class OptionStructure(Strategy):
    """Subclasses set ``kind``, ``Params`` and ``legs(params)``."""

    State: ClassVar[type[StrategyState]] = StructureState
    # ipc.messages.GroupStructure of the entry group, for whoever turns the legs into a SubmitGroup
    # (an exit group closes legs: "CUSTOM").
    group_structure: ClassVar[str] = "CUSTOM"
    params: StructureParams
    state: StructureState

    @classmethod
    def legs(cls, params: StructureParams) -> tuple[LegSpec, ...]:
        raise NotImplementedError

    def on_start(self) -> None:
        p = self.params
        self._entry_ns = time_of_day_ns(p.entry_time_ist)
        self._cutoff_ns = time_of_day_ns(p.entry_cutoff_ist)
        self._square_off_ns = time_of_day_ns(p.square_off_ist)
        self._retry_after_ns = 0
        self.index = index_ref(self.ctx, self.kind, self.params.underlying, self.instrument)
        if self.index is not None:
            self.ctx.subscribe(self.index)
        for leg in self.state.legs:  # restored state: keep watching what is held
            self.ctx.subscribe(leg.ref())

    # Market data ------------------------------------------------------------------------------
    def on_tick(self, tick: Tick) -> None:
        self._on_price(tick.segment, tick.security_id, tick.ltp_paise, tick.ts_event_ns, tick)

    def on_quote(self, quote: Quote) -> None:
        self._on_price(quote.segment, quote.security_id, quote.ltp_paise, quote.ts_event_ns, quote)

    def _on_price(self, segment: int, security_id: int, ltp_paise: int, ts_ns: int, cause: Tick | Quote) -> None:
        # hot path: every tick of the index and of each leg
        if ltp_paise <= 0:
            return
        st = self.state
        day = ist_day(ts_ns)
        if day != st.day:
            st.day, st.entries_today, st.realised_today_paise = day, 0, 0
        leg = self._leg(segment, security_id)
        if leg is not None:
            leg.mark_paise = ltp_paise
        square_off = ist_time_of_day_ns(ts_ns) >= self._square_off_ns
        if st.phase is Phase.FLAT:
            index = self.index
            if not square_off and index is not None and security_id == index.security_id \
                    and segment == index.segment:
                self._maybe_enter(ltp_paise, ts_ns, cause)
        elif st.phase is Phase.EXITING:
            if leg is not None and not (leg.exit_failed and ts_ns - leg.exit_sent_ns < EXIT_RETRY_S * NS_PER_S):
                self._close_leg(leg, "", cause)  # re-send a closing order that died
        elif square_off:
            self._exit(ExitReason.SQUARE_OFF, cause)
        elif st.phase is Phase.OPEN and leg is not None:
            reason = self._exit_rule()
            if reason is not None:
                self._exit(reason, cause)

    def _exit_rule(self) -> ExitReason | None:
        # hot path: a few integer sums
        pnl = 0
        for leg in self.state.legs:
            if leg.mark_paise == 0:
                return None  # not every leg has a price yet
            pnl += leg.pnl_paise(leg.mark_paise)
        p = self.params
        if p.stop_loss_pnl_paise and pnl <= -p.stop_loss_pnl_paise:
            return ExitReason.STOP_LOSS
        if p.target_pnl_paise and pnl >= p.target_pnl_paise:
            return ExitReason.TARGET
        return None

    def _leg(self, segment: int, security_id: int) -> Leg | None:
        for leg in self.state.legs:
            if leg.matches(segment, security_id):
                return leg
        return None

    # Entry ------------------------------------------------------------------------------------
    def _maybe_enter(self, spot_paise: int, ts_ns: int, cause: Tick | Quote) -> None:
        p = self.params
        st = self.state
        tod = ist_time_of_day_ns(ts_ns)
        if not self._entry_ns <= tod < self._cutoff_ns or st.entries_today >= p.max_entries_per_day:
            return
        if ts_ns < self._retry_after_ns:
            return
        today = ist_date(ts_ns)
        specs = sorted(self.legs(p), key=lambda s: s.side != "BUY")  # BUY (hedge) legs first, stable
        picked: list[tuple[LegSpec, InstrumentRef]] = []
        for spec in specs:
            inst = pick_option(self.ctx.table, p.underlying, listing_day(ts_ns), spot_paise, spec.option_type, spec.steps,
                               p.expiry_index)
            if isinstance(inst, PickError):
                self._retry_after_ns = ts_ns + PICK_RETRY_S * NS_PER_S
                self.ctx.log.warning("entry_skipped", strategy=self.ctx.name, code=inst.value,
                                     underlying=p.underlying, spot_paise=spot_paise, option_type=spec.option_type,
                                     steps_from_atm=spec.steps, expiry_index=p.expiry_index,
                                     retry_in_s=PICK_RETRY_S)
                return
            picked.append((spec, ref_of(inst)))
        st.entries_today += 1
        st.entries_total += 1
        st.group_id = f"{self.ctx.name}-{today.strftime('%Y%m%d')}-{st.entries_total}"
        st.legs = []
        st.phase = Phase.ENTERING
        st.last_exit_reason = None
        orders = []
        for spec, ref in picked:
            self.ctx.subscribe(ref)
            orders.append(GroupLegOrder(instrument=ref, side=spec.side, qty_units=p.qty_lots * ref.lot_size_units,
                                        product=p.product))
        intent_ids = self.ctx.submit_group(st.group_id, self.group_structure, orders, cause=cause)  # type: ignore[arg-type]
        for order, intent_id in zip(orders, intent_ids, strict=True):
            st.legs.append(Leg.of(order.instrument, side=order.side, units=order.qty_units,
                                  entry_intent_id=intent_id))
        self.ctx.log.info("structure_entered", strategy=self.ctx.name, kind=self.kind, group_id=st.group_id,
                          spot_paise=spot_paise, legs=[f"{leg.side} {leg.symbol}" for leg in st.legs])
        self.ctx.save_state()

    # Exit -------------------------------------------------------------------------------------
    def _exit(self, reason: ExitReason, cause: Tick | Quote) -> None:
        st = self.state
        st.phase = Phase.EXITING
        st.last_exit_reason = reason
        pnl = sum(leg.pnl_paise(leg.mark_paise) for leg in st.legs)
        self.ctx.log.info("structure_exit", strategy=self.ctx.name, group_id=st.group_id, reason=reason.value,
                          pnl_paise=pnl)
        group = f"{st.group_id}-x"
        for leg in sorted(st.legs, key=lambda g: g.net_units > 0):  # closing BUYs (short legs) first
            self._close_leg(leg, group, cause)
        self._settle()
        self.ctx.save_state()

    def _close_leg(self, leg: Leg, group_id: str, cause: Tick | Quote | None) -> None:
        """Send a reduce-only order for whatever of the leg no closing order covers yet; a long
        leg (a hedge) waits until no leg is held short."""
        uncovered = abs(leg.net_units) - leg.exit_working_units
        if uncovered <= 0:
            return
        if leg.net_units > 0 and any(g.net_units < 0 for g in self.state.legs):
            return  # selling the hedge now would leave a short leg naked
        side: Side = "SELL" if leg.net_units > 0 else "BUY"
        intent_id = self.ctx.submit(leg.ref(), side, uncovered, product=self.params.product, reduce_only=True,
                                    group_id=group_id, cause=cause)
        leg.exit_working_units += uncovered
        leg.exit_orders[intent_id] = uncovered
        leg.exit_failed = False
        if cause is not None:
            leg.exit_sent_ns = cause.ts_event_ns

    def _settle(self) -> None:
        """After an exit (or a broken entry) is flat and nothing can still fill: book it, go flat."""
        st = self.state
        if st.phase not in (Phase.EXITING, Phase.BROKEN):
            return
        if any(leg.net_units or leg.exit_working_units for leg in st.legs):
            return
        if any(self._entry_live(leg) for leg in st.legs):
            return
        st.realised_today_paise += sum(leg.pnl_paise(0) for leg in st.legs)
        st.phase = Phase.FLAT
        self.ctx.log.info("structure_closed", strategy=self.ctx.name, group_id=st.group_id,
                          realised_today_paise=st.realised_today_paise)

    @staticmethod
    def _entry_live(leg: Leg) -> bool:
        filled = leg.bought_units if leg.side == "BUY" else leg.sold_units
        return leg.entry_intent_id not in leg.dead_intent_ids and filled < leg.units

    # Order flow -------------------------------------------------------------------------------
    def on_fill(self, fill: Fill) -> None:
        leg = self._leg(fill.segment, fill.security_id)
        if leg is None:
            return
        st = self.state
        leg.add_fill(fill.side, fill.qty_units, fill.price_paise)
        if leg.mark_paise == 0:
            leg.mark_paise = fill.price_paise  # a trade at that price: a mark until the leg ticks
        if fill.side != leg.side:  # a closing fill (or the group's rollback of this leg)
            leg.exit_working_units = max(0, leg.exit_working_units - fill.qty_units)
        if st.phase is Phase.ENTERING and all(g.net_units == g.goal_units for g in st.legs):
            st.phase = Phase.OPEN
        elif st.phase is Phase.EXITING:
            # An entry fill that arrived after the exit is closed too; a short leg closed frees
            # the hedges that waited for it.
            for g in st.legs:
                self._close_leg(g, f"{st.group_id}-x", None)
        self._settle()
        self.ctx.save_state()

    def on_order(self, order: OrderEvent) -> None:
        leg = self._leg(order.spec.segment, order.spec.security_id)
        lost = never_filled_units(order)
        if leg is None or not lost or order.intent_id in leg.dead_intent_ids:
            return
        self._order_died(leg, order.intent_id, lost, order.reason_code or order.state.value)

    def on_denied(self, denied: OrderDenied) -> None:
        leg = self._leg(denied.segment, denied.security_id)
        if leg is None or denied.intent_id in leg.dead_intent_ids:
            return
        units = leg.units if denied.intent_id == leg.entry_intent_id else leg.exit_orders.get(denied.intent_id, 0)
        self._order_died(leg, denied.intent_id, units, denied.reason_code)

    def _order_died(self, leg: Leg, intent_id: str, units: int, reason_code: str = "") -> None:
        st = self.state
        leg.dead_intent_ids.append(intent_id)
        if intent_id == leg.entry_intent_id:
            if st.phase in (Phase.ENTERING, Phase.OPEN):
                st.phase = Phase.BROKEN
            self.ctx.log.error("structure_leg_failed", strategy=self.ctx.name, group_id=st.group_id,
                               symbol=leg.symbol, side=leg.side, units=units)
        elif intent_id in leg.exit_orders:
            leg.exit_working_units = max(0, leg.exit_working_units - units)
            leg.exit_failed = True
            self.ctx.log.warning("closing_order_not_filled", strategy=self.ctx.name, symbol=leg.symbol,
                                 units=units, reason=reason_code, held_units=leg.net_units,
                                 retry_in_s=EXIT_RETRY_S)
        self._settle()
        self.ctx.save_state()
