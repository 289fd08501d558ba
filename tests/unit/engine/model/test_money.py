"""engine.model.money: exact rupee/paise conversion, tick rounding, average price, rate application."""

from __future__ import annotations

import decimal
import math
import re
import struct
from decimal import Decimal
from fractions import Fraction

import msgspec
import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from engine.model.money import (
    AvgPrice,
    Rounding,
    apply_rate,
    div_round,
    format_avg_rupees,
    format_paise,
    is_on_tick,
    notional_paise,
    parse_rupees,
    price_to_paise,
    prices_to_paise,
    rate_e8_from_percent,
    round_to_tick,
)

FAST = settings(max_examples=300, deadline=None, derandomize=True)

_DECIMAL_MODES = {
    Rounding.HALF_UP: decimal.ROUND_HALF_UP,
    Rounding.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    Rounding.DOWN: decimal.ROUND_DOWN,
    Rounding.UP: decimal.ROUND_UP,
    Rounding.FLOOR: decimal.ROUND_FLOOR,
    Rounding.CEILING: decimal.ROUND_CEILING,
}


# ---------------------------------------------------------------------------- parse / format


@pytest.mark.parametrize(
    ("text", "paise"),
    [
        ("1650.5", 165050),
        ("1650.50", 165050),
        ("1650", 165000),
        ("0.05", 5),
        (".05", 5),
        ("7.", 700),
        ("-12.3", -1230),
        ("+0.01", 1),
        ("  42.10\n", 4210),
        ("29150.00000", 2915000),  # instrument master strike: exact, trailing zeros only
        ("0", 0),
    ],
)
def test_parse_rupees_text_is_exact(text: str, paise: int) -> None:
    assert parse_rupees(text) == paise


def test_parse_rupees_accepts_decimal_and_int() -> None:
    assert parse_rupees(Decimal("120.55")) == 12055
    assert parse_rupees(Decimal("1.2E+3")) == 120000
    assert parse_rupees(250) == 25000


def test_parse_rupees_reads_rest_json_decoded_with_decimal_floats() -> None:
    decoded = msgspec.json.Decoder(float_hook=Decimal).decode(b'{"price": 1650.5}')
    assert parse_rupees(decoded["price"]) == 165050


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "  ",
        "abc",
        "1.005",
        "12.3456",
        "1e3",
        "1,650.50",
        "₹10",
        "nan",
        "NaN",
        "inf",
        "--1",
        "1.2.3",
        "0x10",
    ],
)
def test_parse_rupees_rejects_bad_text_naming_it(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_rupees(bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    "bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("0.001")]
)
def test_parse_rupees_rejects_non_finite_or_sub_paisa_decimal(bad: Decimal) -> None:
    with pytest.raises(ValueError, match="parse_rupees"):
        parse_rupees(bad)


@pytest.mark.parametrize("bad", [1650.5, float("nan"), True, None, b"1.00"])
def test_parse_rupees_refuses_floats_bools_and_other_types(bad: object) -> None:
    with pytest.raises(ValueError, match="parse_rupees"):
        parse_rupees(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("paise", "text"),
    [(165050, "1650.50"), (5, "0.05"), (0, "0.00"), (-5, "-0.05"), (-165050, "-1650.50")],
)
def test_format_paise_has_two_decimals_and_sign(paise: int, text: str) -> None:
    assert format_paise(paise) == text


def test_format_paise_refuses_non_int() -> None:
    with pytest.raises(ValueError, match="format_paise"):
        format_paise(12.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="format_paise"):
        format_paise(True)


@FAST
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_then_parse_round_trips_every_paise_amount(paise: int) -> None:
    assert parse_rupees(format_paise(paise)) == paise


@FAST
@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=0, max_value=2))
def test_parse_then_format_round_trips_canonical_text(paise: int, extra_zeros: int) -> None:
    text = format_paise(paise)
    assert format_paise(parse_rupees(text + "0" * extra_zeros)) == text


# ---------------------------------------------------------------------------- rounding core


@FAST
@given(
    st.integers(min_value=-(10**18), max_value=10**18),
    st.integers(min_value=1, max_value=10**9),
    st.sampled_from(list(Rounding)),
)
@example(5, 2, Rounding.HALF_EVEN)
@example(-5, 2, Rounding.HALF_UP)
@example(7, 2, Rounding.HALF_EVEN)
def test_div_round_agrees_with_decimal_for_every_mode(n: int, d: int, mode: Rounding) -> None:
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        expected = int((Decimal(n) / Decimal(d)).quantize(Decimal(1), rounding=_DECIMAL_MODES[mode]))
    assert div_round(n, d, mode) == expected


@pytest.mark.parametrize(
    ("mode", "results"),
    [
        (Rounding.HALF_UP, (3, -3, 3, 2)),
        (Rounding.HALF_EVEN, (2, -2, 3, 2)),
        (Rounding.DOWN, (2, -2, 2, 2)),
        (Rounding.UP, (3, -3, 3, 3)),
        (Rounding.FLOOR, (2, -3, 2, 2)),
        (Rounding.CEILING, (3, -2, 3, 3)),
    ],
)
def test_rounding_modes_match_documented_table(mode: Rounding, results: tuple[int, ...]) -> None:
    # 2.5, -2.5, 2.7, 2.2
    assert (
        div_round(5, 2, mode),
        div_round(-5, 2, mode),
        div_round(27, 10, mode),
        div_round(22, 10, mode),
    ) == results


def test_div_round_refuses_non_positive_denominator() -> None:
    with pytest.raises(ValueError, match="denominator"):
        div_round(1, 0, Rounding.HALF_UP)


# ---------------------------------------------------------------------------- ticks


@FAST
@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.integers(min_value=1, max_value=10_000),
    st.sampled_from([Rounding.HALF_UP, Rounding.HALF_EVEN]),
)
def test_round_to_tick_nearest_lands_on_tick_within_half_a_tick(
    price: int, tick: int, mode: Rounding
) -> None:
    result = round_to_tick(price, tick, mode)
    assert is_on_tick(result, tick)
    assert 2 * abs(result - price) <= tick


@FAST
@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=1, max_value=10_000))
def test_round_to_tick_floor_and_ceiling_bracket_the_price(price: int, tick: int) -> None:
    low = round_to_tick(price, tick, Rounding.FLOOR)
    high = round_to_tick(price, tick, Rounding.CEILING)
    assert low <= price <= high
    assert high - low in (0, tick)
    assert is_on_tick(low, tick) and is_on_tick(high, tick)


def test_round_to_tick_ties_follow_the_mode() -> None:
    assert round_to_tick(10_250, 5, Rounding.HALF_UP) == 10_250  # already on tick
    assert round_to_tick(10_252, 5, Rounding.HALF_UP) == 10_250
    assert round_to_tick(10_253, 5, Rounding.HALF_UP) == 10_255
    assert round_to_tick(25, 10, Rounding.HALF_UP) == 30
    assert round_to_tick(25, 10, Rounding.HALF_EVEN) == 20
    assert round_to_tick(25, 10, Rounding.DOWN) == 20


def test_tick_helpers_refuse_non_positive_tick() -> None:
    with pytest.raises(ValueError, match="tick"):
        round_to_tick(100, 0)
    with pytest.raises(ValueError, match="tick"):
        is_on_tick(100, -5)
    with pytest.raises(ValueError, match="tick"):
        price_to_paise(1.0, 0)


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


@pytest.mark.parametrize(
    ("rupees", "tick", "paise"),
    [
        (152.30, 5, 15230),
        (120.55, 5, 12055),
        (0.05, 5, 5),
        (24_812.35, 5, 2_481_235),
        (81_234.55, 5, 8_123_455),  # float32 spacing here is ~0.78 paise: only the tick saves it
        (1_34_500.0, 500, 13_450_000),  # MRF-like ₹5 tick
        (2_900.0, 10, 290_000),
    ],
)
def test_price_to_paise_recovers_the_venue_price_from_float32(rupees: float, tick: int, paise: int) -> None:
    assert price_to_paise(_f32(rupees), tick) == paise
    assert price_to_paise(np.float32(rupees), tick) == paise


@FAST
@given(st.integers(min_value=1, max_value=2_000_000), st.sampled_from([1, 5, 10, 25, 50, 500]))
def test_price_to_paise_is_exact_for_every_on_tick_price(ticks: int, tick: int) -> None:
    paise = ticks * tick
    assume(paise < tick * 2**23)  # float32 holds the price within half a tick up to here
    assert price_to_paise(_f32(paise / 100), tick) == paise
    assert price_to_paise(paise / 100, tick) == paise


@FAST
@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from([1, 5, 10, 25, 500]),
)
@example(0.125, 5)  # an exact tie: 2.5 ticks -> the even tick, 2
@example(-0.125, 5)
@example(0.375, 5)  # 7.5 ticks -> 8
def test_price_to_paise_of_a_float32_is_the_nearest_tick_to_its_exact_value_ties_to_even(
        price: float, tick: int) -> None:
    # A float32 times 100 is exact in float64, and the division by the tick cannot cross a tie,
    # so for feed floats the float rule is the exact rule.
    result = price_to_paise(price, tick)
    assert is_on_tick(result, tick)
    exact = Fraction(price) * 100
    assert 2 * abs(result - exact) <= tick
    if 2 * abs(result - exact) == tick:  # a tie goes to the even multiple of the tick
        assert (result // tick) % 2 == 0


@FAST
@given(
    st.lists(st.floats(width=32), min_size=1, max_size=16),
    st.sampled_from([1, 5, 10, 25, 500]),
)
def test_price_to_paise_is_prices_to_paise_one_at_a_time(prices: list[float], tick: int) -> None:
    # The scalar form (the live decoder's) and the sequence form are the same rule.
    try:
        expected: list[int] | None = prices_to_paise(prices, tick)
    except ValueError:
        expected = None
    try:
        got: list[int] | None = [price_to_paise(p, tick) for p in prices]
    except ValueError:
        got = None
    assert got == expected


def test_price_to_paise_tie_goes_to_the_even_tick() -> None:
    assert price_to_paise(0.125, 5) == 10 and price_to_paise(-0.125, 5) == -10
    assert price_to_paise(0.375, 5) == 40
    assert price_to_paise(0.125) == 12 and price_to_paise(0.135) == 14  # 13.5 in float64 -> 14


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_price_to_paise_refuses_non_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="not finite"):
        price_to_paise(bad, 5)


# ---------------------------------------------------------------------------- notional, average


def test_notional_is_the_exact_product() -> None:
    assert notional_paise(65, 12050) == 783_250


def test_avg_price_is_an_exact_pair() -> None:
    avg = AvgPrice().add(65, 12050).add(65, 12075)
    assert (avg.value_paise, avg.qty_units) == (1_568_125, 130)
    assert avg.rounded_paise(Rounding.HALF_EVEN) == 12062  # 12062.5 -> even
    assert avg.rounded_paise(Rounding.HALF_UP) == 12063
    assert avg.display() == "120.62"
    assert avg.display(4) == "120.6250"


def test_format_avg_rupees_handles_no_quantity_and_bad_places() -> None:
    assert format_avg_rupees(0, 0) == "-"
    with pytest.raises(ValueError, match="places"):
        format_avg_rupees(100, 1, places=1)
    with pytest.raises(ValueError, match="no quantity"):
        AvgPrice().rounded_paise()


@FAST
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=10_000), st.integers(min_value=1, max_value=10**8)),
        min_size=1,
        max_size=20,
    )
)
def test_avg_price_display_is_the_exact_average_rounded(fills: list[tuple[int, int]]) -> None:
    avg = AvgPrice()
    for qty, price in fills:
        avg = avg.add(qty, price)
    exact = Fraction(sum(q * p for q, p in fills), sum(q for q, _ in fills))
    shown = Fraction(Decimal(avg.display(6))) * 100
    assert abs(shown - exact) <= Fraction(1, 2 * 10**4)
    assert min(p for _, p in fills) <= exact <= max(p for _, p in fills)


# ---------------------------------------------------------------------------- rates


def test_apply_rate_examples_with_explicit_rounding() -> None:
    # 0.1 % of ₹8450 = ₹8.45
    assert apply_rate(845_000, 100_000) == 845
    # SEBI ₹10/crore on ₹16.25 lakh = 162.5 paise: the tie decides
    assert apply_rate(162_500_000, 100, Rounding.HALF_UP) == 163
    assert apply_rate(162_500_000, 100, Rounding.HALF_EVEN) == 162
    assert apply_rate(162_500_000, 100, Rounding.DOWN) == 162
    # 0.03503 % of ₹7832.50 = 274.37 paise
    assert apply_rate(783_250, 35_030, Rounding.HALF_UP) == 274
    assert apply_rate(783_250, 35_030, Rounding.UP) == 275


@FAST
@given(
    st.integers(min_value=0, max_value=10**13),
    st.integers(min_value=0, max_value=10**8),
    st.sampled_from(list(Rounding)),
)
def test_apply_rate_is_within_one_paisa_of_exact_and_ordered_by_mode(
    amount: int, rate: int, mode: Rounding
) -> None:
    exact = Fraction(amount * rate, 10**8)
    result = apply_rate(amount, rate, mode)
    assert abs(result - exact) < 1
    assert apply_rate(amount, rate, Rounding.DOWN) <= result <= apply_rate(amount, rate, Rounding.UP)
    if mode in (Rounding.HALF_UP, Rounding.HALF_EVEN):
        assert 2 * abs(result - exact) <= 1


@pytest.mark.parametrize(
    ("percent", "rate_e8"),
    [
        ("0.1", 100_000),
        ("0.00297", 2_970),
        ("0.03503", 35_030),
        ("0.0001", 100),
        ("18", 18_000_000),
        (Decimal("0.025"), 25_000),
    ],
)
def test_rate_e8_from_percent(percent: str | Decimal, rate_e8: int) -> None:
    assert rate_e8_from_percent(percent) == rate_e8


@pytest.mark.parametrize("bad", ["0.0000001", "abc", "1e-3", ""])
def test_rate_e8_from_percent_rejects_bad_or_too_fine_rates(bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        rate_e8_from_percent(bad)
