"""Base of the option structures (short_straddle, short_strangle, iron_condor, bull_call_spread,
bear_put_spread): several option legs entered and exited together as one order group.

Entry: on the first tick or quote of the underlying's index with event time in
[``entry_time_ist``, ``entry_cutoff_ist``), while no structure is held and fewer than
``max_entries_per_day`` were entered that IST day. Strikes come from the chain of the
``expiry_index``-th expiry (0 = nearest) listed on or after that day: each leg sits a fixed
number of chain steps from the ATM strike of the index's LTP, or (the spreads' and the condor's
delta parameters) is the option whose |delta| is nearest a target, or sits a number of steps from
another leg's strike (see each kind). Every leg is a market order of ``qty_lots`` x the lot size;
the legs go out as one order group (``ctx.submit_group``, id ``<name>-<yyyymmdd>-<n>``): risk checks
every leg, execution puts the BUY (hedge) legs on first and the SELL legs once they are filled, and
rolls the group back if a leg fails. If a leg can not be chosen, or a condition below does not
hold, the entry is skipped (logged ``entry_skipped`` with its code) and tried again a minute later
(``QUOTE_RETRY_S`` when it waits for quotes).

Greeks (``_greeks``): a structure that picks a leg by delta or has an IV condition watches its
chain: from the index's first tick it subscribes to the CE and PE of ``chain_strikes_each_side``
strikes (plus one) either side of the ATM and the expiry's future, follows the ATM as the spot
moves, and solves Black-76 over that window as the priced chain does. IV conditions (all off by
default) on the ATM strike's volatility (``atm_iv_ppm``, millionths): at most ``atm_iv_max_ppm``,
at least ``atm_iv_min_ppm``, and its percentile among the day's samples (one every
``iv_sample_s`` of event time, from the first index tick; in memory: a restart samples the day
again) within [``iv_percentile_min``, ``iv_percentile_max``] once there are
``iv_percentile_min_samples`` samples.

Zone (the iron condor's ``zone_rules``): the zone is the open interval between the short put's
and the short call's strikes. Enter only with the spot more than ``zone_margin_steps`` chain steps
inside it; once open, the structure exits (``zone_exit``) on the first index tick at or beyond a
short strike.

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

from actors.strategy.api import GroupLegOrder, Strategy, StrategyParams, StrategyState
from actors.strategy.builtin._greeks import (
    PPM,
    DeltaMiss,
    IvSession,
    OptionQuotes,
    PricedWindow,
    atm_iv_ppm,
    nearest_strike,
    pick_by_delta,
    price_window,
    window_range,
)
from engine.model.expiry_day import listing_day
from engine.model.instruments import Instrument, OptionChain
from engine.model.option_inputs import forward_paise, solve_price_paise
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
from ipc.messages import BookUpdate, Fill, OrderDenied, OrderEvent, Product, Quote, Side, Tick

PICK_RETRY_S = 60  # after a failed strike pick (or an entry condition not met), wait this long
QUOTE_RETRY_S = 5  # after an entry that waited for option quotes (just subscribed, say)
EXIT_RETRY_S = 1  # after a closing order died, wait this long before sending it again (the order rate)


class LegSpec(msgspec.Struct, frozen=True):
    """One leg of a structure: ``steps`` chain steps from ATM (+ higher strikes, - lower); with
    ``delta_ppm`` > 0 the option whose |delta| is nearest it instead; with ``anchor`` >= 0,
    ``steps`` chain steps from the strike of leg ``anchor`` (an index into the kind's legs)."""

    option_type: OptionType
    steps: int
    side: Side
    delta_ppm: int = 0
    anchor: int = -1


class Zone(msgspec.Struct, frozen=True):
    """The legs (indices into the kind's legs) whose strikes bound a structure's zone."""

    low_leg: int
    high_leg: int
    margin_steps: int


class SkipReason(str, enum.Enum):
    """Why an entry was skipped, beside ``PickError`` and ``_greeks.DeltaMiss``."""

    EXPIRED = "expiry_settled"  # the expiry's settlement moment has passed
    NO_ATM_IV = "no_atm_iv"  # an IV condition is set and the ATM strike has no volatility yet
    ATM_IV_ABOVE_MAX = "atm_iv_above_max"
    ATM_IV_BELOW_MIN = "atm_iv_below_min"
    IV_HISTORY_SHORT = "iv_history_short"  # fewer samples today than iv_percentile_min_samples
    IV_PERCENTILE_OUTSIDE = "iv_percentile_outside"
    SAME_STRIKE = "legs_share_an_option"  # two legs chose the same option (a coarse chain)
    SPOT_OUTSIDE_ZONE = "spot_outside_zone"


# Codes that wait for quotes: tried again after QUOTE_RETRY_S, not PICK_RETRY_S.
_QUOTE_WAITS = frozenset({DeltaMiss.NO_QUOTES.value, DeltaMiss.NEIGHBOUR_UNPRICED.value, SkipReason.NO_ATM_IV.value})


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
    # Greeks (module docstring): the window priced, and the IV conditions (0 / 0-100 = off).
    chain_strikes_each_side: int = 10
    atm_iv_max_ppm: int = 0
    atm_iv_min_ppm: int = 0
    iv_percentile_min: int = 0
    iv_percentile_max: int = 100
    iv_sample_s: int = 60
    iv_percentile_min_samples: int = 30

    def __post_init__(self) -> None:
        for name in ("qty_lots", "max_entries_per_day", "chain_strikes_each_side", "iv_sample_s",
                     "iv_percentile_min_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} ({getattr(self, name)}) must be at least 1")
        for name in ("expiry_index", "target_pnl_paise", "stop_loss_pnl_paise", "atm_iv_max_ppm", "atm_iv_min_ppm"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} ({getattr(self, name)}) must be 0 or more")
        for name in ("iv_percentile_min", "iv_percentile_max"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"{name} ({getattr(self, name)}) must be within 0-100")
        if self.iv_percentile_min > self.iv_percentile_max:
            raise ValueError(f"iv_percentile_min ({self.iv_percentile_min}) must not be above iv_percentile_max "
                             f"({self.iv_percentile_max})")
        if self.atm_iv_max_ppm and self.atm_iv_min_ppm > self.atm_iv_max_ppm:
            raise ValueError(f"atm_iv_min_ppm ({self.atm_iv_min_ppm}) must not be above atm_iv_max_ppm "
                             f"({self.atm_iv_max_ppm})")
        check_session_times(entry_time_ist=self.entry_time_ist, entry_cutoff_ist=self.entry_cutoff_ist,
                            square_off_ist=self.square_off_ist)

    @property
    def iv_percentile_on(self) -> bool:
        return self.iv_percentile_min > 0 or self.iv_percentile_max < 100

    @property
    def iv_rules_on(self) -> bool:
        return bool(self.atm_iv_max_ppm or self.atm_iv_min_ppm) or self.iv_percentile_on


def check_delta(name: str, delta_ppm: int) -> None:
    """A delta target in millionths of |delta|: 0 (off) or strictly between 0 and 1."""
    if not 0 <= delta_ppm < PPM:
        raise ValueError(f"{name} ({delta_ppm}) must be 0 (off) or an |delta| in millionths below {PPM} "
                         "(250000 = 0.25)")


def check_spread(width_steps: int, long_delta_ppm: int, short_delta_ppm: int) -> None:
    """The parameters a vertical spread shares (the bull call's and the bear put's)."""
    if width_steps < 1:
        raise ValueError(f"width_steps ({width_steps}) must be at least 1")
    check_delta("long_delta_ppm", long_delta_ppm)
    check_delta("short_delta_ppm", short_delta_ppm)
    if bool(long_delta_ppm) != bool(short_delta_ppm):
        unset = "short_delta_ppm" if long_delta_ppm else "long_delta_ppm"
        raise ValueError(f"{unset} must be set too: strikes by delta need both legs' targets")
    if long_delta_ppm and short_delta_ppm >= long_delta_ppm:
        raise ValueError(f"short_delta_ppm ({short_delta_ppm}) must be below long_delta_ppm ({long_delta_ppm}): "
                         "the short leg is the one farther out of the money")


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
    # The entered structure's zone (its short strikes), 0 without zone rules.
    zone_low_paise: int = 0
    zone_high_paise: int = 0


class OptionStructure(Strategy):
    """Subclasses set ``kind``, ``Params`` and ``legs(params)`` (and ``zone(params)`` for zone rules)."""

    State: ClassVar[type[StrategyState]] = StructureState
    # ipc.messages.GroupStructure of the entry group, for whoever turns the legs into a SubmitGroup
    # (an exit group closes legs: "CUSTOM").
    group_structure: ClassVar[str] = "CUSTOM"
    params: StructureParams
    state: StructureState

    @classmethod
    def legs(cls, params: StructureParams) -> tuple[LegSpec, ...]:
        raise NotImplementedError

    @classmethod
    def zone(cls, params: StructureParams) -> Zone | None:
        """The zone rules of this structure (None: none)."""
        return None

    def on_start(self) -> None:
        self._derive()
        self._retry_after_ns = 0
        self._quotes = OptionQuotes()
        self._chain: tuple[int, OptionChain | PickError, Instrument | None] | None = None  # (listing day, ...)
        self._watch_spot_paise = 0  # the spot the watched window was centred for (0: none yet)
        self.index = index_ref(self.ctx, self.kind, self.params.underlying, self.instrument)
        if self.index is not None:
            self.ctx.subscribe(self.index)
        for leg in self.state.legs:  # restored state: keep watching what is held
            self.ctx.subscribe(leg.ref())

    def on_params_changed(self, old: StrategyParams) -> None:
        self._derive()
        self._watch_spot_paise = 0  # the window may have changed: watched again on the next index tick

    def _derive(self) -> None:
        """What the handlers need from the parameters, worked out once."""
        p = self.params
        self._entry_ns = time_of_day_ns(p.entry_time_ist)
        self._cutoff_ns = time_of_day_ns(p.entry_cutoff_ist)
        self._square_off_ns = time_of_day_ns(p.square_off_ist)
        self._specs = self.legs(p)
        self._zone = self.zone(p)
        self._uses_chain = p.iv_rules_on or any(s.delta_ppm for s in self._specs)
        if not hasattr(self, "_iv") or self._iv.every_ns != p.iv_sample_s * NS_PER_S:
            self._iv = IvSession(p.iv_sample_s * NS_PER_S)

    # Market data ------------------------------------------------------------------------------
    def on_tick(self, tick: Tick) -> None:
        self._on_price(tick.segment, tick.security_id, tick.ltp_paise, tick.ts_event_ns, tick)

    def on_quote(self, quote: Quote) -> None:
        self._on_price(quote.segment, quote.security_id, quote.ltp_paise, quote.ts_event_ns, quote)

    def on_book(self, book: BookUpdate) -> None:
        # hot path: every book update of a watched option
        if self._uses_chain:
            self._quotes.on_book(book.segment, book.security_id, book.best_bid_paise, book.best_ask_paise)

    def _on_price(self, segment: int, security_id: int, ltp_paise: int, ts_ns: int, cause: Tick | Quote) -> None:
        # hot path: every tick of the index, of each leg and of each watched option
        if ltp_paise <= 0:
            return
        st = self.state
        day = ist_day(ts_ns)
        if day != st.day:
            st.day, st.entries_today, st.realised_today_paise = day, 0, 0
        index = self.index
        is_index = index is not None and security_id == index.security_id and segment == index.segment
        if self._uses_chain and not is_index:
            self._quotes.on_trade(segment, security_id, ltp_paise)
        leg = self._leg(segment, security_id)
        if leg is not None:
            leg.mark_paise = ltp_paise
        square_off = ist_time_of_day_ns(ts_ns) >= self._square_off_ns
        if is_index and self._uses_chain and not square_off:
            self._watch(ltp_paise, ts_ns, day)
        if st.phase is Phase.FLAT:
            if not square_off and is_index:
                self._maybe_enter(ltp_paise, ts_ns, cause)
        elif st.phase is Phase.EXITING:
            if leg is not None and not (leg.exit_failed and ts_ns - leg.exit_sent_ns < EXIT_RETRY_S * NS_PER_S):
                self._close_leg(leg, "", cause)  # re-send a closing order that died
        elif square_off:
            self._exit(ExitReason.SQUARE_OFF, cause)
        elif st.phase is Phase.OPEN:
            reason = self._exit_rule() if leg is not None else None
            if reason is None and is_index and st.zone_high_paise and not \
                    st.zone_low_paise < ltp_paise < st.zone_high_paise:
                reason = ExitReason.ZONE_EXIT
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

    # The chain (greeks) -----------------------------------------------------------------------
    def _expiry_chain(self, ts_ns: int) -> tuple[OptionChain | PickError, Instrument | None]:
        """The chain of the ``expiry_index``-th expiry listed at ``ts_ns`` and its future (if
        listed), kept for the listing day."""
        day = ist_day(ts_ns)
        if self._chain is not None and self._chain[0] == day:
            return self._chain[1], self._chain[2]
        p = self.params
        table = self.ctx.table
        chain: OptionChain | PickError
        future = None
        if table is None:
            chain = PickError.NO_TABLE
        else:
            expiries = table.expiries(p.underlying, listing_day(ts_ns))
            if len(expiries) <= p.expiry_index:
                chain = PickError.NO_EXPIRY
            else:
                found = table.option_chain(p.underlying, expiries[p.expiry_index])
                chain = found if found is not None else PickError.NO_CHAIN
                if found is not None:
                    future = table.contract(p.underlying, found.expiry_yyyymmdd, 0, "XX", segment=found.segment)
        self._chain = (day, chain, future)
        return chain, future

    def _forward_atm(self, chain: OptionChain, future: Instrument | None, spot_paise: int,
                     ts_ns: int) -> tuple[int, int, float]:
        """(forward paise, ATM strike paise, years to expiry) at ``ts_ns``."""
        time = self.ctx.option_time(chain.segment, chain.expiry_yyyymmdd, ts_ns)
        fut = 0
        if future is not None:
            ltp, bid, ask = self._quotes.get(future.segment, future.security_id)
            fut = solve_price_paise(bid, ask, ltp)
        fwd, _source = forward_paise(fut, spot_paise, time.years, self.ctx.risk_free_rate_annual)
        return fwd, nearest_strike(chain, fwd), time.years

    def _watch(self, spot_paise: int, ts_ns: int, day: int) -> None:
        """Subscribe to the options around the money (and the future) once the spot has moved half
        a strike step from where they were chosen; sample the ATM volatility when due."""
        chain, future = self._expiry_chain(ts_ns)
        if isinstance(chain, PickError):
            return
        step = chain.step_paise or 1
        if not self._watch_spot_paise or abs(spot_paise - self._watch_spot_paise) * 2 >= step:
            self._watch_spot_paise = spot_paise
            _fwd, atm, _years = self._forward_atm(chain, future, spot_paise, ts_ns)
            if future is not None:
                self.ctx.subscribe(ref_of(future))
            table = self.ctx.table
            assert table is not None
            # one strike more each side than is priced: the neighbours a delta pick looks at
            for i in window_range(chain, atm, self.params.chain_strikes_each_side + 1):
                for sid in (chain.strikes[i].ce_security_id, chain.strikes[i].pe_security_id):
                    inst = table.get(chain.segment, sid) if sid else None
                    if inst is not None:
                        self.ctx.subscribe(ref_of(inst))
        if self.params.iv_percentile_on and self._iv.due(day, ts_ns):
            priced = self._price(spot_paise, ts_ns)
            iv = atm_iv_ppm(priced) if isinstance(priced, PricedWindow) else 0
            if iv:
                self._iv.add(ts_ns, iv)

    def _price(self, spot_paise: int, ts_ns: int) -> PricedWindow | PickError | SkipReason:
        chain, future = self._expiry_chain(ts_ns)
        if isinstance(chain, PickError):
            return chain
        time = self.ctx.option_time(chain.segment, chain.expiry_yyyymmdd, ts_ns)
        if time.left_ns <= 0:
            return SkipReason.EXPIRED
        fwd, atm, _years = self._forward_atm(chain, future, spot_paise, ts_ns)
        window = window_range(chain, atm, self.params.chain_strikes_each_side)
        return price_window(chain, window, self._quotes, fwd, atm, time, self.ctx.risk_free_rate_annual)

    def _iv_skip(self, window: PricedWindow) -> tuple[SkipReason, dict[str, int]] | None:
        """Why the IV conditions keep the structure out now (None: they hold or are off)."""
        p = self.params
        if not p.iv_rules_on:
            return None
        iv = atm_iv_ppm(window)
        if not iv:
            return SkipReason.NO_ATM_IV, {"atm_strike_paise": window.atm_strike_paise}
        if p.atm_iv_max_ppm and iv > p.atm_iv_max_ppm:
            return SkipReason.ATM_IV_ABOVE_MAX, {"atm_iv_ppm": iv, "atm_iv_max_ppm": p.atm_iv_max_ppm}
        if p.atm_iv_min_ppm and iv < p.atm_iv_min_ppm:
            return SkipReason.ATM_IV_BELOW_MIN, {"atm_iv_ppm": iv, "atm_iv_min_ppm": p.atm_iv_min_ppm}
        if p.iv_percentile_on:
            if len(self._iv) < p.iv_percentile_min_samples:
                return SkipReason.IV_HISTORY_SHORT, {"samples": len(self._iv),
                                                     "iv_percentile_min_samples": p.iv_percentile_min_samples}
            pct = self._iv.percentile(iv)
            if not p.iv_percentile_min <= pct <= p.iv_percentile_max:
                return SkipReason.IV_PERCENTILE_OUTSIDE, {"atm_iv_ppm": iv, "iv_percentile": pct,
                                                          "iv_percentile_min": p.iv_percentile_min,
                                                          "iv_percentile_max": p.iv_percentile_max}
        return None

    # Entry ------------------------------------------------------------------------------------
    def _skip(self, code: str, ts_ns: int, **fields: object) -> None:
        retry_s = QUOTE_RETRY_S if code in _QUOTE_WAITS else PICK_RETRY_S
        self._retry_after_ns = ts_ns + retry_s * NS_PER_S
        self.ctx.log.warning("entry_skipped", strategy=self.ctx.name, code=code, underlying=self.params.underlying,
                             expiry_index=self.params.expiry_index, retry_in_s=retry_s, **fields)

    def _pick_legs(self, spot_paise: int, ts_ns: int,
                   window: PricedWindow | None) -> list[Instrument] | tuple[str, dict[str, object]]:
        """The option of every leg (in ``legs()`` order), or (skip code, what to log)."""
        p = self.params
        picked: list[Instrument | None] = [None] * len(self._specs)
        # anchored legs after the legs they sit beside
        for i in sorted(range(len(self._specs)), key=lambda k: self._specs[k].anchor >= 0):
            spec = self._specs[i]
            where: dict[str, object] = {"option_type": spec.option_type, "leg": i}
            if spec.delta_ppm:
                assert window is not None
                hit = pick_by_delta(window, spec.option_type, spec.delta_ppm)
                if hit.option is None:
                    assert hit.miss is not None
                    return hit.miss.value, {**where, "target_delta_ppm": spec.delta_ppm, "strike_paise": hit.strike_paise,
                                            "iv_status": hit.status}
                inst = self.ctx.table.get(window.chain.segment, hit.option.security_id)  # type: ignore[union-attr]
                if inst is None:
                    return PickError.NO_CONTRACT.value, {**where, "strike_paise": hit.option.strike_paise}
            elif spec.anchor >= 0:
                chain, _future = self._expiry_chain(ts_ns)
                anchor = picked[spec.anchor]
                assert anchor is not None and not isinstance(chain, PickError)
                strike = anchor.strike_paise + spec.steps * chain.step_paise
                where["strike_paise"] = strike
                if strike not in chain.strike_values():
                    return PickError.NOT_LISTED.value, where
                found = self.ctx.table.contract(p.underlying, chain.expiry_yyyymmdd, strike,  # type: ignore[union-attr]
                                                spec.option_type, segment=chain.segment)
                if found is None:
                    return PickError.NO_CONTRACT.value, where
                inst = found
            else:
                got = pick_option(self.ctx.table, p.underlying, listing_day(ts_ns), spot_paise, spec.option_type,
                                  spec.steps, p.expiry_index)
                if isinstance(got, PickError):
                    return got.value, {**where, "spot_paise": spot_paise, "steps_from_atm": spec.steps}
                inst = got
            picked[i] = inst
        out = [inst for inst in picked if inst is not None]
        if len({(inst.segment, inst.security_id) for inst in out}) < len(out):
            return SkipReason.SAME_STRIKE.value, {"options": [inst.symbol for inst in out]}
        return out

    def _maybe_enter(self, spot_paise: int, ts_ns: int, cause: Tick | Quote) -> None:
        p = self.params
        st = self.state
        tod = ist_time_of_day_ns(ts_ns)
        if not self._entry_ns <= tod < self._cutoff_ns or st.entries_today >= p.max_entries_per_day:
            return
        if ts_ns < self._retry_after_ns:
            return
        today = ist_date(ts_ns)
        window: PricedWindow | None = None
        if self._uses_chain:
            priced = self._price(spot_paise, ts_ns)
            if not isinstance(priced, PricedWindow):
                self._skip(priced.value, ts_ns, spot_paise=spot_paise)
                return
            window = priced
            why = self._iv_skip(window)
            if why is not None:
                self._skip(why[0].value, ts_ns, **why[1])
                return
        got = self._pick_legs(spot_paise, ts_ns, window)
        if isinstance(got, tuple):
            self._skip(got[0], ts_ns, **got[1])
            return
        zone_low = zone_high = 0
        if self._zone is not None:
            zone_low, zone_high = got[self._zone.low_leg].strike_paise, got[self._zone.high_leg].strike_paise
            chain, _future = self._expiry_chain(ts_ns)
            margin = self._zone.margin_steps * (chain.step_paise if not isinstance(chain, PickError) else 0)
            if not zone_low + margin < spot_paise < zone_high - margin:
                self._skip(SkipReason.SPOT_OUTSIDE_ZONE.value, ts_ns, spot_paise=spot_paise, zone_low_paise=zone_low,
                           zone_high_paise=zone_high, margin_paise=margin)
                return
        st.entries_today += 1
        st.entries_total += 1
        st.group_id = f"{self.ctx.name}-{today.strftime('%Y%m%d')}-{st.entries_total}"
        st.legs = []
        st.phase = Phase.ENTERING
        st.last_exit_reason = None
        st.zone_low_paise, st.zone_high_paise = zone_low, zone_high
        orders = []
        # BUY (hedge) legs first, stable
        for spec, inst in sorted(zip(self._specs, got, strict=True), key=lambda si: si[0].side != "BUY"):
            ref = ref_of(inst)
            self.ctx.subscribe(ref)
            orders.append(GroupLegOrder(instrument=ref, side=spec.side, qty_units=p.qty_lots * ref.lot_size_units,
                                        product=p.product))
        intent_ids = self.ctx.submit_group(st.group_id, self.group_structure, orders, cause=cause)  # type: ignore[arg-type]
        for order, intent_id in zip(orders, intent_ids, strict=True):
            st.legs.append(Leg.of(order.instrument, side=order.side, units=order.qty_units,
                                  entry_intent_id=intent_id))
        extra: dict[str, object] = {}
        if window is not None:
            by_sid = {g.security_id: g for g in window.ce + window.pe if g.security_id}
            extra = {"atm_iv_ppm": atm_iv_ppm(window), "forward_paise": window.forward_paise,
                     "deltas_ppm": [by_sid[o.instrument.security_id].delta_ppm if o.instrument.security_id in by_sid
                                    else None for o in orders]}
        if zone_high:
            extra.update(zone_low_paise=zone_low, zone_high_paise=zone_high)
        self.ctx.log.info("structure_entered", strategy=self.ctx.name, kind=self.kind, group_id=st.group_id,
                          spot_paise=spot_paise, legs=[f"{leg.side} {leg.symbol}" for leg in st.legs], **extra)
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
