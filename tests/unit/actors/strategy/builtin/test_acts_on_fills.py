"""Built-in strategies decide on what filled, not on what they asked for: under the real risk
checks with a tight order rate, a fast feed, and venue rejections, ema_cross never holds more than
its one-lot long, option structures never hold a short leg without its hedge (or beyond their
size), and a denied exit is sent again instead of being taken as done."""

from __future__ import annotations

import datetime as dt

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from actors.risk.limits import RiskLimits
from actors.strategy.api import parse_params
from actors.strategy.builtin.bear_put_spread import BearPutSpread
from actors.strategy.builtin.bull_call_spread import BullCallSpread
from actors.strategy.builtin.ema_cross import EmaCross
from actors.strategy.builtin.iron_condor import IronCondor
from actors.strategy.builtin.mean_reversion import MeanReversion
from actors.strategy.builtin.rsi_reversal import RsiReversal
from actors.strategy.builtin.short_straddle import ShortStraddle
from actors.strategy.builtin.short_strangle import ShortStrangle
from actors.strategy.builtin.supertrend_options import SupertrendOptions
from actors.strategy.builtin.vwap_breakout import VwapBreakout
from tests.support.risked_venue import RiskedVenue
from tests.support.strategy_harness import StrategyHarness

TIGHT = RiskLimits(max_orders_per_second=1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "instruments"


def _ema(cache, **params) -> StrategyHarness:
    h = StrategyHarness(EmaCross, {"fast": 2, "slow": 3, "timeframe_s": 0, **params}, instrument="RELIANCE",
                        cache_dir=cache)
    h.at(dt.time(10, 0))
    return h


def test_a_denied_exit_leaves_the_position_held_and_is_sent_again_not_bought_again(cache):
    h = _ema(cache)
    rel = h.inst("RELIANCE")
    for ltp in (150_000, 149_000, 148_000):
        assert h.tick(rel, ltp) == []
    [buy] = h.tick(rel, 152_000)
    h.fill(buy, 152_000)
    [sell] = h.tick(rel, 140_000)
    assert (sell.side, sell.qty_units, sell.reduce_only) == ("SELL", 1, True)
    h.deny(sell, "RATE_LIMIT_SECOND")
    assert h.ctx.log.events("warning") == ["exit_not_filled"]
    assert h.ctx.log.lines[-1].fields["reason"] == "RATE_LIMIT_SECOND"
    assert h.tick(rel, 139_000) == []  # within exit_retry_s of the failed exit: no spam
    h.advance(1)
    [again] = h.tick(rel, 138_000)  # the signal still says flat: the exit again
    assert (again.side, again.qty_units, again.reduce_only) == ("SELL", 1, True)
    h.reject(again)
    h.advance(1)
    assert h.tick(rel, 160_000) == []  # the up-cross while the long is still held: it is the long wanted
    assert h.ctx.held(rel.segment, rel.security_id) == 1
    [exit_] = h.tick(rel, 120_000)
    assert (exit_.side, exit_.qty_units) == ("SELL", 1)


def test_an_up_cross_while_the_exit_works_buys_only_once_the_exit_filled(cache):
    h = _ema(cache)
    rel = h.inst("RELIANCE")
    for ltp in (150_000, 149_000, 148_000):
        h.tick(rel, ltp)
    [buy] = h.tick(rel, 152_000)
    h.fill(buy, 152_000)
    [sell] = h.tick(rel, 140_000)
    assert h.tick(rel, 170_000) == []  # the long is still held: nothing to buy yet
    h.fill(sell, 140_000)
    [entry] = h.tick(rel, 171_000)
    assert (entry.side, entry.qty_units) == ("BUY", 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.tuples(st.integers(-3_000, 3_000), st.integers(50, 400),
                                st.sampled_from(["fill", "fill", "fill", "reject", "hold"])),
                      min_size=20, max_size=200))
def test_ema_cross_never_holds_more_than_one_lot_under_a_rate_limit_and_rejections(cache, moves):
    h = _ema(cache, exit_retry_s=0)
    rel = h.inst("RELIANCE")
    fates = iter(m[2] for m in moves * 10)
    venue = RiskedVenue(h, TIGHT, fate=lambda order: next(fates, "fill"))
    price = 150_000
    lot = rel.lot_size_units
    for step, gap_ms, _ in moves:
        price = max(100_000, price + step // 5 * 5)
        h.advance(gap_ms / 1000)
        venue.price(rel, price)
        assert 0 <= h.ctx.held(rel.segment, rel.security_id) <= lot
        assert h.ctx.held(rel.segment, rel.security_id) + h.ctx.working(rel).buy_units <= lot
    # The venue calms down: once flat is wanted, what is held is sold.
    fates = iter(())
    for _ in range(8):
        price -= 2_000
        h.advance(1)
        venue.price(rel, price)
    assert h.ctx.held(rel.segment, rel.security_id) == 0


# Option structures: never a naked short leg ------------------------------------------------------------

STRUCTURES = {  # the kind, and whether its short legs are hedged by its long ones
    "iron_condor": (IronCondor, True), "bull_call_spread": (BullCallSpread, True),
    "bear_put_spread": (BearPutSpread, True), "short_straddle": (ShortStraddle, False),
    "short_strangle": (ShortStrangle, False)}


def _no_naked_short(h: StrategyHarness, hedged: bool) -> None:
    legs = h.strategy.state.legs  # type: ignore[attr-defined]
    net = {id(leg): h.ctx.held(leg.segment, leg.security_id) for leg in legs}
    for leg in legs:
        # never beyond the structure's size, never the other way round
        assert (0 <= net[id(leg)] <= leg.units) if leg.side == "BUY" else (-leg.units <= net[id(leg)] <= 0), leg
    if hedged:
        for option_type in ("CE", "PE"):
            same = [leg for leg in legs if leg.symbol.endswith(option_type)]
            short = -sum(min(net[id(leg)], 0) for leg in same)
            long_ = sum(max(net[id(leg)], 0) for leg in same)
            assert short <= long_, f"naked short {option_type}: {short} short, {long_} long"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(STRUCTURES)),
       moves=st.lists(st.tuples(st.integers(0, 4), st.integers(-800, 800), st.integers(50, 700),
                                st.sampled_from(["fill", "fill", "fill", "reject", "hold"])),
                      min_size=10, max_size=80))
def test_option_structures_never_hold_a_naked_short_leg_under_a_rate_limit_and_rejections(cache, kind, moves):
    cls, hedged = STRUCTURES[kind]
    n_legs = len(cls.legs(parse_params(cls, "t", {})))  # type: ignore[arg-type]
    h = StrategyHarness(cls, {"target_pnl_paise": 5_000, "stop_loss_pnl_paise": 5_000, "max_entries_per_day": 5},
                        cache_dir=cache)
    h.at(dt.time(9, 20))
    fates = iter([m[3] for m in moves] * 20)
    venue = RiskedVenue(h, RiskLimits(max_orders_per_second=n_legs), fate=lambda order: next(fates, "fill"))
    index = h.strategy.index  # type: ignore[attr-defined]
    venue.price(index, 2_601_000)
    prices: dict[int, int] = {}
    for which, step, gap_ms, _ in moves:
        h.advance(gap_ms / 1000)
        legs = h.strategy.state.legs  # type: ignore[attr-defined]
        if which == 0 or not legs:
            venue.price(index, 2_601_000 + step * 5)
        else:
            leg = legs[(which - 1) % len(legs)]
            prices[leg.security_id] = max(500, prices.get(leg.security_id, 10_000) + step // 5 * 5)
            venue.price(leg.ref(), prices[leg.security_id])
        _no_naked_short(h, hedged)
    # The square-off with a calm venue: every leg is closed, hedges last.
    fates = iter(())
    h.at(dt.time(15, 15))
    for _ in range(3):
        h.advance(1)
        venue.price(index, 2_601_000)
        for leg in list(h.strategy.state.legs):  # type: ignore[attr-defined]
            venue.price(leg.ref(), 10_000)
            _no_naked_short(h, hedged)
    assert all(h.ctx.held(leg.segment, leg.security_id) == 0 for leg in h.strategy.state.legs)  # type: ignore[attr-defined]


# The single-instrument signals and the SuperTrend options bot --------------------------------------------

SIGNALS = {"rsi_reversal": (RsiReversal, {"period": 2, "timeframe_s": 0}),
           "mean_reversion": (MeanReversion, {"lookback": 3, "entry_z": 1.0, "exit_z": 0.2, "timeframe_s": 0}),
           "vwap_breakout": (VwapBreakout, {"timeframe_s": 1, "band_bps": 5})}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(SIGNALS)),
       moves=st.lists(st.tuples(st.integers(-3_000, 3_000), st.integers(50, 700),
                                st.sampled_from(["fill", "fill", "fill", "reject", "hold"])), min_size=20, max_size=150))
def test_signal_strategies_never_hold_more_than_their_lots(cache, kind, moves):
    cls, params = SIGNALS[kind]
    h = StrategyHarness(cls, params, instrument="RELIANCE", cache_dir=cache)
    h.at(dt.time(10, 0))
    rel = h.inst("RELIANCE")
    fates = iter([m[2] for m in moves] * 10)
    venue = RiskedVenue(h, TIGHT, fate=lambda order: next(fates, "fill"))
    price = 150_000
    for step, gap_ms, _ in moves:
        price = max(100_000, price + step // 5 * 5)
        h.advance(gap_ms / 1000)
        venue.price(rel, price)
        assert abs(h.ctx.held(rel.segment, rel.security_id)) <= rel.lot_size_units


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.tuples(st.booleans(), st.integers(-6_000, 6_000), st.integers(100, 900),
                                st.sampled_from(["fill", "fill", "fill", "reject", "hold"])), min_size=20, max_size=150))
def test_supertrend_options_never_sells_an_option_it_does_not_hold(cache, moves):
    h = StrategyHarness(SupertrendOptions, {"timeframe_s": 1, "st_period": 3, "st_multiplier": 1.0, "flip_only": False,
                                            "max_trades_per_day": 50, "trailing_sl_points_paise": 500},
                        cache_dir=cache)
    h.at(dt.time(10, 0))
    fates = iter([m[3] for m in moves] * 10)
    venue = RiskedVenue(h, TIGHT, fate=lambda order: next(fates, "fill"))
    index = h.strategy.index  # type: ignore[attr-defined]
    spot, option = 2_601_000, 10_000
    for on_index, step, gap_ms, _ in moves:
        h.advance(gap_ms / 1000)
        held = h.strategy._positions()  # type: ignore[attr-defined]
        if on_index or not held:
            spot = max(2_500_000, spot + step // 5 * 5)
            venue.price(index, spot)
        else:
            option = max(500, option + step // 50 * 5)
            venue.price(held[0].ref(), option)
        for order in h.ctx.orders:
            assert h.ctx.held(order.segment, order.security_id) >= 0, order.symbol
