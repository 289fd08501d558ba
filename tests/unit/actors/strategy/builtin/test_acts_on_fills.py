"""Built-in strategies decide on what filled, not on what they asked for: under the real risk
checks with a tight order rate, a fast feed, and venue rejections, ema_cross never holds more than
its one-lot long, and a denied exit is sent again instead of being taken as done."""

from __future__ import annotations

import datetime as dt

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from actors.risk.limits import RiskLimits
from actors.strategy.builtin.ema_cross import EmaCross
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
