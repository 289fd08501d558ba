"""OI analytics (engine/model/open_interest.py): put-call ratio and max pain against hand-computed
chains, buildup classes from a table, and the market history's windows on a simulated clock."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.model.clock import SimClock
from engine.model.ist import NS_PER_S, ist_ns
from engine.model.open_interest import (
    MarketHistory,
    Sample,
    buildup_of,
    changes_from,
    max_pain,
    open_baseline,
    ratio_ppm,
)

DAY = dt.date(2026, 12, 7)
OPEN = ist_ns(DAY, dt.time(9, 15))
MINUTE_NS = 60 * NS_PER_S


def test_put_call_ratio_in_millionths_rounded_half_up() -> None:
    assert ratio_ppm(1_500, 1_000) == 1_500_000
    assert ratio_ppm(1, 3) == 333_333
    assert ratio_ppm(2, 3) == 666_667
    assert ratio_ppm(1, 2_000_000) == 1  # 0.5 ppm rounds up
    assert ratio_ppm(5, 0) == 0  # no calls: no ratio


def test_max_pain_of_a_hand_computed_chain() -> None:
    # Strikes 100, 110, 120 (rupees, in paise). Writers' payout at expiry K:
    #   K=100: puts 110 (20 x 10) + puts 120 (30 x 20) = 200 + 600 = 800 rupee-units
    #   K=110: calls 100 (50 x 10) + puts 120 (30 x 10) = 500 + 300 = 800
    #   K=120: calls 100 (50 x 20) + calls 110 (10 x 10) = 1000 + 100 = 1100
    # A tie of 800: the lower strike, 100.
    strikes = [10_000, 11_000, 12_000]
    assert max_pain(strikes, [50, 10, 0], [5, 20, 30]) == (10_000, 800 * 100)
    # More calls at 100 move it: K=100 pays 800, K=110: 60 x 10 + 300 = 900.
    assert max_pain(strikes, [60, 10, 0], [5, 20, 30]) == (10_000, 800 * 100)
    # Heavy puts high: K=100: 20x10 + 90x20 = 2000; K=110: 500 + 900 = 1400; K=120: 1100. Max pain 120.
    assert max_pain(strikes, [50, 10, 0], [5, 20, 90]) == (12_000, 1_100 * 100)


def test_max_pain_without_any_oi_is_none_and_bad_input_is_refused() -> None:
    assert max_pain([10_000, 11_000], [0, 0], [0, 0]) == (0, 0)
    assert max_pain([], [], []) == (0, 0)
    with pytest.raises(ValueError, match="ascending"):
        max_pain([11_000, 10_000], [1, 1], [1, 1])
    with pytest.raises(ValueError, match="2 strikes, 1 CE"):
        max_pain([10_000, 11_000], [1], [1, 1])


@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)), min_size=1, max_size=30),
       st.integers(1, 10**6))
def test_max_pain_equals_the_brute_force_minimum(oi: list[tuple[int, int]], step: int) -> None:
    strikes = [step * (i + 1) for i in range(len(oi))]
    ce = [c for c, _ in oi]
    pe = [p for _, p in oi]

    def payout(k: int) -> int:
        return sum(c * max(0, k - s) + p * max(0, s - k) for s, c, p in zip(strikes, ce, pe))

    got = max_pain(strikes, ce, pe)
    if not any(ce) and not any(pe):
        assert got == (0, 0)
        return
    best = min(payout(k) for k in strikes)
    assert got == (min(k for k in strikes if payout(k) == best), best)


@pytest.mark.parametrize(("price_change", "oi_change", "expected"), [
    (+5, +100, "LONG_BUILDUP"),
    (-5, +100, "SHORT_BUILDUP"),
    (-5, -100, "LONG_UNWINDING"),
    (+5, -100, "SHORT_COVERING"),
    (0, +100, "NONE"),
    (+5, 0, "NONE"),
    (0, 0, "NONE"),
])
def test_buildup_class_from_the_signs_of_price_and_oi_change(price_change: int, oi_change: int,
                                                              expected: str) -> None:
    assert buildup_of(price_change, oi_change, 10_000, 1_000) == expected


@pytest.mark.parametrize(("oi_change", "min_oi_bp", "expected"), [
    (100, 100, "LONG_BUILDUP"),   # 100 of 10_000 is 100 bp: enough
    (99, 100, "NONE"),            # 99 bp: not enough
    (-100, 100, "SHORT_COVERING"),
])
def test_buildup_thresholds_are_basis_points_of_the_base(oi_change: int, min_oi_bp: int, expected: str) -> None:
    assert buildup_of(+1, oi_change, 10_000, 10_000, min_oi_bp=min_oi_bp) == expected


def _sample(ts_ns: int, rows: dict[int, tuple[int, int, int]]) -> Sample:
    keys = np.array(sorted(rows), dtype=np.int64)
    cols = np.array([rows[k] for k in sorted(rows)], dtype=np.int64).reshape(-1, 3).T
    return Sample(ts_ns, keys, cols[0], cols[1], cols[2])


def test_rolling_windows_take_the_newest_sample_at_or_before_the_window_start() -> None:
    clock = SimClock(OPEN)
    history = MarketHistory(15 * MINUTE_NS)
    oi = [1_000]

    def take_sample() -> None:  # OI up 10 a minute, price up 1 paisa a minute
        history.add(_sample(clock.now_ns(), {7: (20_000 + oi[0] // 10, oi[0] * 3, oi[0])}))
        oi[0] += 10

    take_sample()
    clock.every(60.0, take_sample)
    clock.advance_to(OPEN + 30 * MINUTE_NS + 30 * NS_PER_S)
    now = clock.now_ns()  # 30 s after the last sample (minute 30)
    keys = np.array([7, 8], dtype=np.int64)
    five = history.window_start(keys, now, 5 * MINUTE_NS)
    assert five.found.tolist() == [True, False]
    assert five.ts_ns[0] == OPEN + 25 * MINUTE_NS  # 5.5 minutes back: the sample of minute 25
    assert five.oi_units[0] == 1_000 + 250
    price_change, oi_change = changes_from(five, np.array([20_130, 0]), np.array([1_300, 0]))
    assert oi_change.tolist() == [50, 0] and price_change.tolist() == [5, 0]
    # Only 15 minutes (and the one before) are kept: a 15-minute window starts at minute 15.
    fifteen = history.window_start(keys, now, 15 * MINUTE_NS)
    assert fifteen.ts_ns[0] == OPEN + 15 * MINUTE_NS
    assert len(history) == 16
    # A window longer than what is kept starts at the oldest sample kept, and says so by its time.
    assert history.window_start(keys, now, 60 * MINUTE_NS).ts_ns[0] == OPEN + 15 * MINUTE_NS


def test_the_open_is_the_previous_session_where_known_else_the_first_sample_of_the_day() -> None:
    history = MarketHistory(60 * MINUTE_NS)
    history.add(_sample(OPEN + MINUTE_NS, {1: (100, 10, 500), 2: (200, 20, 700)}))
    history.add(_sample(OPEN + 2 * MINUTE_NS, {1: (101, 11, 510), 2: (201, 21, 710), 3: (300, 30, 900)}))
    keys = np.array([1, 2, 3, 4], dtype=np.int64)
    base = open_baseline(history, keys, np.array([90, 0, 0, 0]), np.array([450, 0, 0, 0]))
    assert base.found.tolist() == [True, True, True, False]
    assert base.oi_units.tolist() == [450, 700, 900, 0]  # 1: the previous session's OI
    assert base.ltp_paise.tolist() == [90, 200, 300, 0]
    assert base.ts_ns.tolist() == [OPEN + MINUTE_NS, OPEN + MINUTE_NS, OPEN + 2 * MINUTE_NS, 0]


def test_a_new_ist_day_starts_the_history_afresh() -> None:
    history = MarketHistory(60 * MINUTE_NS)
    history.add(_sample(OPEN, {1: (100, 10, 500)}))
    next_open = ist_ns(DAY + dt.timedelta(days=1), dt.time(9, 15))
    history.add(_sample(next_open, {1: (110, 1, 600)}))
    assert len(history) == 1
    base = history.day_first(np.array([1], dtype=np.int64))
    assert base.oi_units.tolist() == [600] and base.volume_units.tolist() == [1]
    with pytest.raises(ValueError, match="older"):
        history.add(_sample(OPEN, {1: (100, 10, 500)}))
