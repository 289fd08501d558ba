"""EMA crossover: on trade prices or on book mids; a replay's bulk rows give the orders and the
state that the same messages give one at a time."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from actors.replay.batch import ROW_FULL, ROW_QUOTE, ROW_TICK
from actors.strategy.api import BadParams, parse_params
from actors.strategy.builtin.ema_cross import EmaCross
from actors.strategy.market_rows import MarketRows, SkipsMarketRows
from ipc.messages import BookUpdate, Position
from tests.support.strategy_harness import StrategyHarness


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "instruments"


def test_mid_prices_trade_on_book_updates_and_ignore_trade_prices(cache):
    h = StrategyHarness(EmaCross, {"fast": 2, "slow": 3, "timeframe_s": 0, "price": "mid"}, instrument="RELIANCE",
                        cache_dir=cache)
    ref = h.inst("RELIANCE")
    for ltp in (100_000, 90_000, 80_000, 200_000, 300_000):
        assert h.tick(ref, ltp) == [] and h.quote(ref, ltp) == []
    for bid in (150_000, 149_900, 149_800):
        assert h.book(ref, bid, bid + 10) == []
    assert h.book(ref, 150_500, 0) == []  # one side empty: no mid
    sent = h.book(ref, 150_500, 150_510)
    assert [o.brief()[:3] for o in sent] == [("BUY", "RELIANCE", 1)]
    h.fill(sent[0], 150_510)
    sent = h.book(ref, 149_000, 149_010)
    assert [(o.side, o.reduce_only) for o in sent] == [("SELL", True)]


def test_last_prices_ignore_book_updates(cache):
    h = StrategyHarness(EmaCross, {"fast": 2, "slow": 3, "timeframe_s": 0}, instrument="RELIANCE", cache_dir=cache)
    ref = h.inst("RELIANCE")
    for bid in (150_000, 149_000, 148_000, 160_000, 170_000):
        assert h.book(ref, bid, bid + 10) == []
    for ltp in (150_000, 149_900, 149_800):
        assert h.tick(ref, ltp) == []
    assert [o.side for o in h.quote(ref, 150_500)] == ["BUY"]


def test_mid_prices_need_every_tick():
    with pytest.raises(BadParams, match="price 'mid' needs timeframe_s 0"):
        parse_params(EmaCross, "e", {"price": "mid", "timeframe_s": 5})
    with pytest.raises(BadParams, match="price"):
        parse_params(EmaCross, "e", {"price": "close", "timeframe_s": 0})


# --- replay batches --------------------------------------------------------------------------------


@st.composite
def rows(draw: st.DrawFn) -> list[tuple[int, int, int]]:
    """(kind, ltp, mid x2) rows around a price that wanders enough to cross often."""
    out = []
    for _ in range(draw(st.integers(0, 120))):
        kind = draw(st.sampled_from([ROW_TICK, ROW_QUOTE, ROW_FULL, ROW_FULL]))
        ltp = draw(st.integers(149_900, 150_100))
        mid = draw(st.sampled_from([0] + [2 * ltp + d for d in range(-10, 11, 5)])) if kind == ROW_FULL else 0
        out.append((kind, ltp, mid))
    return out


def _one_by_one(h: StrategyHarness, row: tuple[int, int, int]) -> None:
    ref = h.inst("RELIANCE")
    kind, ltp, mid = row
    if kind == ROW_TICK:
        h.tick(ref, ltp)
        return
    h.quote(ref, ltp)
    if kind == ROW_FULL:
        h.strategy.on_book(BookUpdate(ref.segment, ref.security_id, 0, 0, 0, 0, ltp, mid, 0, 0.0, 5, 0, 0))


def _market_rows(part: list[tuple[int, int, int]]) -> MarketRows:
    a = np.array(part, dtype=np.int64).reshape(-1, 3)
    return MarketRows(a[:, 0], a[:, 1], np.zeros(len(part), dtype=np.int64), np.zeros(len(part), dtype=np.int64), a[:, 2])


@settings(max_examples=150, deadline=None)
@given(data=rows(), price=st.sampled_from(["last", "mid"]), fast=st.integers(1, 4))
def test_bulk_rows_give_the_orders_and_state_of_one_at_a_time(cache, data, price, fast):
    params = {"fast": fast, "slow": fast + 3, "timeframe_s": 0, "price": price}
    ref_h = StrategyHarness(EmaCross, params, instrument="RELIANCE", cache_dir=cache)
    bulk_h = StrategyHarness(EmaCross, params, instrument="RELIANCE", cache_dir=cache)
    assert isinstance(bulk_h.strategy, SkipsMarketRows)  # it takes the rows before its horizon itself
    for row in data:
        _one_by_one(ref_h, row)
    i = 0
    while i < len(data):
        view = _market_rows(data[i:])
        k = bulk_h.strategy.market_horizon(view)
        assert 0 <= k <= len(data) - i
        bulk_h.strategy.skip_market(_market_rows(data[i:i + k]))
        assert not bulk_h.ctx.orders[len(ref_h.ctx.orders):]  # nothing was sent while skipping
        if i + k < len(data):
            _one_by_one(bulk_h, data[i + k])
        i += k + 1
    assert [o.brief() for o in bulk_h.ctx.orders] == [o.brief() for o in ref_h.ctx.orders]
    a, b = bulk_h.strategy, ref_h.strategy
    assert (a.prev_diff, a.state.long, a.state.crosses) == (b.prev_diff, b.state.long, b.state.crosses)
    assert a.fast._s.tolist() == b.fast._s.tolist() and a.slow._s.tolist() == b.slow._s.tolist()


def test_a_configured_stop_loss_is_declared_below_the_entry_fill_and_not_moved_by_the_exit(cache):
    h = StrategyHarness(EmaCross, {"fast": 2, "slow": 3, "timeframe_s": 0, "stop_loss_paise": 2_000,
                                   "product": "CNC"}, instrument="RELIANCE", cache_dir=cache)
    ref = h.inst("RELIANCE")
    for ltp in (150_000, 149_900, 149_800):
        h.tick(ref, ltp)
    (entry,) = h.tick(ref, 150_500)
    h.fill(entry, 150_510)
    assert h.ctx.protects == [(ref.segment, ref.security_id, 148_510, "CNC")]
    (exit_,) = h.tick(ref, 140_000)
    h.fill(exit_, 140_000)
    assert len(h.ctx.protects) == 1  # flat: execution cancels the stop itself


def test_no_stop_is_declared_without_a_stop_loss(cache):
    h = StrategyHarness(EmaCross, {"fast": 2, "slow": 3, "timeframe_s": 0}, instrument="RELIANCE", cache_dir=cache)
    ref = h.inst("RELIANCE")
    for ltp in (150_000, 149_900, 149_800):
        h.tick(ref, ltp)
    (entry,) = h.tick(ref, 150_500)
    h.fill(entry, 150_510)
    assert h.ctx.protects == []
    with pytest.raises(BadParams, match="stop_loss_paise"):
        parse_params(EmaCross, "e", {"stop_loss_paise": -1})


def test_units_an_operator_converted_to_another_product_are_no_longer_the_strategys_to_sell(cache):
    # `shikra convert` moved the strategy's INTRADAY long to CNC: a delivery holding the trader keeps.
    # The strategy manages its own product only: its exit does not try to sell the CNC units in
    # INTRADAY (risk would deny that reduce-only order, and the strategy would retry it for ever).
    h = StrategyHarness(EmaCross, {"fast": 2, "slow": 3, "timeframe_s": 0}, instrument="RELIANCE", cache_dir=cache)
    ref = h.inst("RELIANCE")
    for ltp in (150_000, 149_900, 149_800):
        h.tick(ref, ltp)
    (entry,) = h.tick(ref, 150_500)
    h.fill(entry, 150_510)
    units = entry.qty_units
    now = h.now_ns
    for product, net in (("INTRADAY", 0), ("CNC", units)):
        h.ctx.exposure.on_position(Position(h.ctx.name, ref.segment, ref.security_id, net, net * 150_510, 0, 0, 0,
                                            now, now, product=product))
    assert h.tick(ref, 140_000) == []  # the cross down: nothing of its own to sell
    assert h.ctx.position(ref) == units and h.ctx.position(ref, "INTRADAY") == 0
