"""actors.execution.charges: worked examples per segment class and properties of the schedule."""

from __future__ import annotations

from fractions import Fraction

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import structs

from actors.execution.charges import (
    CHARGE_PROFILES,
    DEFAULT_SCHEDULE,
    INDEX_OPTIONS_RATES,
    ZERODHA_SCHEDULE,
    ChargeBreakdown,
    ChargeMemo,
    ChargeRates,
    ChargeSchedule,
    SegmentClass,
    charges_for_fill,
    segment_class_for,
)
from actors.execution.config import ExecutionConfig
from engine.model.money import Rounding, apply_rate

C = SegmentClass
FAST = settings(max_examples=300, deadline=None, derandomize=True)


def breakdown(
    turnover: int, brokerage: int, stt: int, exchange: int, sebi: int, stamp: int, gst: int
) -> ChargeBreakdown:
    total = brokerage + stt + exchange + sebi + stamp + gst
    return ChargeBreakdown(turnover, brokerage, stt, exchange, sebi, stamp, 0, gst, total)


# ---------------------------------------------------------------------------- worked examples
# Hand arithmetic, every component HALF_UP to the paisa:
#
# NIFTY option BUY 65 @ ₹120.50: turnover 65 x 12050 = 783250 p
#   brokerage flat 2000 | STT buy 0 | exch 783250 x 0.03503% = 274.37 -> 274
#   SEBI 783250 x 0.0001% = 0.78 -> 1 | stamp 783250 x 0.003% = 23.50 (23.4975) -> 23
#   GST 18% x (2000 + 274 + 1 = 2275) = 409.5 -> 410 | total 2708
# NIFTY option SELL 65 @ ₹130.00: turnover 845000 p
#   brokerage 2000 | STT 0.15% = 1267.5 -> 1268 | exch 296.0035 -> 296 | SEBI 0.845 -> 1 | stamp 0
#   GST 18% x 2297 = 413.46 -> 413 | total 3978
# RELIANCE intraday 100 @ ₹2900: turnover 29000000 p
#   brokerage min(2000, 0.03% = 8700) = 2000 | exch 0.00297% = 861.3 -> 861 | SEBI 29
#   BUY: STT 0, stamp 0.003% = 870 | SELL: STT 0.025% = 7250, stamp 0
#   GST 18% x (2000 + 861 + 29 = 2890) = 520.2 -> 520 | totals 4280 / 10660
# INFY delivery BUY 10 @ ₹1500: turnover 1500000 p
#   brokerage 0 | STT 0.1% = 1500 | exch 44.55 -> 45 | SEBI 1.5 -> 2 (tie, away from zero)
#   stamp 0.015% = 225 | GST 18% x 47 = 8.46 -> 8 | total 1780
# NIFTY futures 65 @ ₹25000: turnover 162500000 p
#   brokerage min(2000, 48750) = 2000 | exch 0.00173% = 2811.25 -> 2811 | SEBI 162.5 -> 163
#   BUY: STT 0, stamp 0.002% = 3250 | SELL: STT 0.05% = 81250, stamp 0
#   GST 18% x 4974 = 895.32 -> 895 | totals 9119 / 87119

WORKED = [
    (C.INDEX_OPTIONS, "BUY", 65, 12050, breakdown(783_250, 2000, 0, 274, 1, 23, 410)),
    (C.INDEX_OPTIONS, "SELL", 65, 13000, breakdown(845_000, 2000, 1268, 296, 1, 0, 413)),
    (C.EQUITY_INTRADAY, "BUY", 100, 290_000, breakdown(29_000_000, 2000, 0, 861, 29, 870, 520)),
    (C.EQUITY_INTRADAY, "SELL", 100, 290_000, breakdown(29_000_000, 2000, 7250, 861, 29, 0, 520)),
    (C.EQUITY_DELIVERY, "BUY", 10, 150_000, breakdown(1_500_000, 0, 1500, 45, 2, 225, 8)),
    (C.EQUITY_DELIVERY, "SELL", 10, 150_000, breakdown(1_500_000, 0, 1500, 45, 2, 0, 8)),
    (C.INDEX_FUTURES, "BUY", 65, 2_500_000, breakdown(162_500_000, 2000, 0, 2811, 163, 3250, 895)),
    (C.INDEX_FUTURES, "SELL", 65, 2_500_000, breakdown(162_500_000, 2000, 81_250, 2811, 163, 0, 895)),
]


@pytest.mark.parametrize(
    ("cls", "side", "qty", "price", "expected"), WORKED, ids=[f"{w[0].value}-{w[1]}" for w in WORKED]
)
def test_worked_example_matches_hand_arithmetic(
    cls: SegmentClass, side: str, qty: int, price: int, expected: ChargeBreakdown
) -> None:
    assert charges_for_fill(cls, side, qty, price, True, DEFAULT_SCHEDULE) == expected  # type: ignore[arg-type]


def test_option_round_trip_costs_the_two_legs() -> None:
    buy = charges_for_fill(C.INDEX_OPTIONS, "BUY", 65, 12050, True)
    sell = charges_for_fill(C.INDEX_OPTIONS, "SELL", 65, 13000, True)
    assert buy.total_paise + sell.total_paise == 2708 + 3978  # ₹66.86 on a ₹617.50 gross profit


def test_small_intraday_order_pays_the_percent_brokerage_below_the_flat_cap() -> None:
    # 10 @ ₹100 = ₹1000 turnover: 0.03% = 30 paise < ₹20
    charges = charges_for_fill(C.EQUITY_INTRADAY, "BUY", 10, 10_000, True)
    assert charges.brokerage_paise == 30


def test_stock_fno_uses_index_rates_unless_configured() -> None:
    assert charges_for_fill(C.STOCK_OPTIONS, "SELL", 250, 4_000, True) == charges_for_fill(
        C.INDEX_OPTIONS, "SELL", 250, 4_000, True
    )
    assert charges_for_fill(C.STOCK_FUTURES, "SELL", 250, 300_000, True) == charges_for_fill(
        C.INDEX_FUTURES, "SELL", 250, 300_000, True
    )
    custom = ChargeSchedule(
        stock_options=structs.replace(INDEX_OPTIONS_RATES, brokerage_flat_paise=1_500)
    )
    assert charges_for_fill(C.STOCK_OPTIONS, "SELL", 250, 4_000, True, custom).brokerage_paise == 1_500
    assert charges_for_fill(C.INDEX_OPTIONS, "SELL", 250, 4_000, True, custom).brokerage_paise == 2_000


# ---------------------------------------------------------------------------- brokerage per order


def test_flat_brokerage_is_charged_once_on_the_first_fill() -> None:
    first = charges_for_fill(C.INDEX_OPTIONS, "BUY", 65, 12050, True)
    later = charges_for_fill(C.INDEX_OPTIONS, "BUY", 65, 12050, False)
    assert (first.brokerage_paise, later.brokerage_paise) == (2000, 0)
    assert later.gst_paise == apply_rate(later.exchange_paise + later.sebi_paise, 18_000_000)


def test_percent_brokerage_across_partial_fills_adds_up_to_the_whole_order() -> None:
    # 50 + 50 @ ₹100 intraday: order turnover ₹10000, 0.03% = ₹3.00 in total
    first = charges_for_fill(C.EQUITY_INTRADAY, "BUY", 50, 10_000, True, order_value_before_paise=0)
    second = charges_for_fill(
        C.EQUITY_INTRADAY, "BUY", 50, 10_000, False, order_value_before_paise=500_000
    )
    assert (first.brokerage_paise, second.brokerage_paise) == (150, 150)
    # Without the running value, only the first fill sets the percent leg (documented).
    assert charges_for_fill(C.EQUITY_INTRADAY, "BUY", 50, 10_000, False).brokerage_paise == 0


@FAST
@given(
    st.lists(st.integers(min_value=1, max_value=5_000), min_size=1, max_size=12),
    st.integers(min_value=5, max_value=1_000_000),
)
def test_percent_brokerage_increments_sum_to_the_capped_order_brokerage(
    qtys: list[int], price: int
) -> None:
    value_before = 0
    charged = 0
    for i, qty in enumerate(qtys):
        charged += charges_for_fill(
            C.INDEX_FUTURES, "SELL", qty, price, i == 0, order_value_before_paise=value_before
        ).brokerage_paise
        value_before += qty * price
    assert charged == min(2000, apply_rate(value_before, 30_000))


def test_running_order_value_must_agree_with_first_fill_flag() -> None:
    with pytest.raises(ValueError, match="first_fill_of_order"):
        charges_for_fill(C.EQUITY_INTRADAY, "BUY", 1, 100, True, order_value_before_paise=500)
    with pytest.raises(ValueError, match="first_fill_of_order"):
        charges_for_fill(C.EQUITY_INTRADAY, "BUY", 1, 100, False, order_value_before_paise=0)


@pytest.mark.parametrize(("side", "qty", "price"), [("HOLD", 1, 100), ("BUY", 0, 100), ("SELL", 1, 0)])
def test_bad_fill_inputs_are_refused(side: str, qty: int, price: int) -> None:
    with pytest.raises(ValueError, match="charges_for_fill"):
        charges_for_fill(C.EQUITY_INTRADAY, side, qty, price, True)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- properties

fills = st.tuples(
    st.sampled_from(list(SegmentClass)),
    st.sampled_from(["BUY", "SELL"]),
    st.integers(min_value=1, max_value=100_000),
    st.integers(min_value=5, max_value=10_000_000),
    st.booleans(),
)


@FAST
@given(fills)
def test_charges_are_non_negative_and_total_is_the_sum(fill: tuple) -> None:
    cls, side, qty, price, first = fill
    c = charges_for_fill(cls, side, qty, price, first)
    parts = (
        c.brokerage_paise,
        c.stt_paise,
        c.exchange_paise,
        c.sebi_paise,
        c.stamp_paise,
        c.ipft_paise,
        c.gst_paise,
    )
    assert all(p >= 0 for p in parts)
    assert c.total_paise == sum(parts)
    assert c.turnover_paise == qty * price


@FAST
@given(fills)
def test_stt_on_buys_only_for_delivery_and_stamp_on_buys_only(fill: tuple) -> None:
    cls, side, qty, price, first = fill
    c = charges_for_fill(cls, side, qty, price, first)
    turnover = qty * price
    stt_on_buys = cls is C.EQUITY_DELIVERY
    if side == "BUY" and not stt_on_buys:
        assert c.stt_paise == 0
    if (side == "SELL" or stt_on_buys) and turnover >= 2_500:  # lowest rate 0.02% -> >= 0.5 paise
        assert c.stt_paise > 0
    if side == "SELL":
        assert c.stamp_paise == 0
    elif turnover >= 25_000:  # lowest stamp rate 0.002% -> >= 0.5 paise
        assert c.stamp_paise > 0


@FAST
@given(fills)
def test_gst_is_18_percent_of_its_base_rounded_half_up(fill: tuple) -> None:
    cls, side, qty, price, first = fill
    c = charges_for_fill(cls, side, qty, price, first)
    base = c.brokerage_paise + c.exchange_paise + c.sebi_paise + c.ipft_paise
    exact = Fraction(18 * base, 100)
    assert abs(c.gst_paise - exact) <= Fraction(1, 2)
    if exact.denominator == 2:  # an exact half paisa goes up
        assert c.gst_paise > exact


@FAST
@given(fills)
def test_each_rate_component_is_the_exact_amount_rounded_half_up(fill: tuple) -> None:
    cls, side, qty, price, first = fill
    c = charges_for_fill(cls, side, qty, price, first)
    rates = DEFAULT_SCHEDULE.rates_for(cls)
    turnover = qty * price
    for amount, rate in ((c.exchange_paise, rates.exchange_rate_e8), (c.sebi_paise, rates.sebi_rate_e8)):
        exact = Fraction(turnover * rate, 10**8)
        assert abs(amount - exact) <= Fraction(1, 2)


def test_schedule_rounding_is_configurable() -> None:
    down = ChargeSchedule(rounding=Rounding.DOWN)
    c = charges_for_fill(C.INDEX_FUTURES, "BUY", 65, 2_500_000, True, down)
    assert (c.sebi_paise, c.gst_paise) == (162, 895)  # 162.5 truncated; 18% x 4973 = 895.14


# ---------------------------------------------------------------------------- config and mapping


def test_schedule_loads_from_config_and_refuses_unknown_keys() -> None:
    text = (
        b'{"index_options": {"brokerage_flat_paise": 1500, "stt_sell_rate_e8": 150000},'
        b' "rounding": "HALF_EVEN"}'
    )
    schedule = msgspec.json.decode(text, type=ChargeSchedule)
    assert schedule.index_options.stt_sell_rate_e8 == 150_000
    assert schedule.index_options.gst_rate_e8 == 18_000_000
    assert schedule.rounding is Rounding.HALF_EVEN
    with pytest.raises(msgspec.ValidationError, match="stt_rate"):
        msgspec.json.decode(
            b'{"index_options": {"brokerage_flat_paise": 0, "stt_rate": 1}}', type=ChargeSchedule
        )
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"equity": {}}', type=ChargeSchedule)


def test_schedule_is_frozen() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_SCHEDULE.rounding = Rounding.DOWN  # type: ignore[misc]
    assert isinstance(DEFAULT_SCHEDULE.index_options, ChargeRates)


@pytest.mark.parametrize(
    ("segment", "instrument", "product", "expected"),
    [
        (1, "EQUITY", "INTRADAY", C.EQUITY_INTRADAY),
        ("NSE_EQ", "EQUITY", "CNC", C.EQUITY_DELIVERY),
        (4, "EQUITY", "MARGIN", C.EQUITY_DELIVERY),  # MTF is delivery-based
        (2, "FUTIDX", "INTRADAY", C.INDEX_FUTURES),
        ("NSE_FNO", "OPTIDX", "MARGIN", C.INDEX_OPTIONS),
        (2, "futstk", "MARGIN", C.STOCK_FUTURES),
        (8, "OPTSTK", "INTRADAY", C.STOCK_OPTIONS),
        ("BSE_FNO", "OPTIDX", "INTRADAY", C.INDEX_OPTIONS),
        (0, "INDEX", "INTRADAY", None),
        (5, "FUTCOM", "INTRADAY", None),
        (3, "FUTCUR", "MARGIN", None),
        ("NOPE", "EQUITY", "CNC", None),
        (1, "EQUITY", "BO", None),
        (2, "OPTFUT", "INTRADAY", None),
    ],
)
def test_segment_class_for_dhan_codes(
    segment: int | str, instrument: str, product: str, expected: SegmentClass | None
) -> None:
    assert segment_class_for(segment, instrument, product) is expected


# Zerodha's profile --------------------------------------------------------------------------------


def test_zerodha_profile_prices_an_option_round_trip_as_its_contract_note_by_hand() -> None:
    """NIFTY options, 75 units bought at ₹100 and sold at ₹120, worked by hand from zerodha.com/charges.

    Buy, turnover ₹7,500.00 = 750000 paise: brokerage flat ₹20 = 2000; STT 0 (sell side only);
    transaction 0.03553 % = 266.475 -> 266; SEBI 0.0001 % = 0.75 -> 1; stamp 0.003 % = 22.5 -> 23;
    GST 18 % of (2000 + 266 + 1) = 408.06 -> 408. Total 2698.
    Sell, turnover ₹9,000.00 = 900000 paise: brokerage 2000; STT 0.15 % = 1350; transaction 319.77 ->
    320; SEBI 0.9 -> 1; stamp 0; GST 18 % of 2321 = 417.78 -> 418. Total 4089.
    """
    zerodha = CHARGE_PROFILES["zerodha"]
    buy = charges_for_fill(SegmentClass.INDEX_OPTIONS, "BUY", 75, 10_000, True, zerodha)
    sell = charges_for_fill(SegmentClass.INDEX_OPTIONS, "SELL", 75, 12_000, True, zerodha)
    assert (buy.brokerage_paise, buy.stt_paise, buy.exchange_paise, buy.sebi_paise, buy.stamp_paise, buy.gst_paise,
            buy.total_paise) == (2000, 0, 266, 1, 23, 408, 2698)
    assert (sell.brokerage_paise, sell.stt_paise, sell.exchange_paise, sell.sebi_paise, sell.stamp_paise,
            sell.gst_paise, sell.total_paise) == (2000, 1350, 320, 1, 0, 418, 4089)
    # Gross ₹1,500.00 less ₹67.87 of charges: the net a Zerodha P&L statement shows.
    assert 75 * (12_000 - 10_000) - buy.total_paise - sell.total_paise == 143213


def test_zerodha_profile_differs_from_the_default_only_in_transaction_charges_with_ipft() -> None:
    """Equity intraday ₹2,00,000 each way: 0.03 % = ₹60 caps at ₹20; NSE 0.00297 % + IPFT ₹10 a crore
    (0.0001 %) = 0.00307 % = ₹6.14 -> 614 paise, where the default schedule has 594."""
    fill = (SegmentClass.EQUITY_INTRADAY, "SELL", 1000, 20_000, True)
    zerodha = charges_for_fill(*fill, CHARGE_PROFILES["zerodha"])  # type: ignore[arg-type]
    default = charges_for_fill(*fill, CHARGE_PROFILES["default"])  # type: ignore[arg-type]
    assert (zerodha.exchange_paise, default.exchange_paise) == (614, 594)
    assert (zerodha.brokerage_paise, zerodha.stt_paise) == (default.brokerage_paise, default.stt_paise) == (2000, 5000)


def test_paper_charges_profile_is_chosen_by_name_and_an_unknown_one_is_refused() -> None:
    cfg = msgspec.toml.decode(b'venue = "paper"\n[paper]\ncharges_profile = "zerodha"\n', type=ExecutionConfig)
    assert CHARGE_PROFILES[cfg.paper.charges_profile] is CHARGE_PROFILES["zerodha"]
    with pytest.raises(msgspec.ValidationError, match="charges_profile"):
        msgspec.toml.decode(b'[paper]\ncharges_profile = "upstox"\n', type=ExecutionConfig)


a_fill_seen = st.tuples(st.sampled_from(list(SegmentClass)), st.sampled_from(["BUY", "SELL"]), st.integers(1, 50),
                        st.integers(1, 40), st.integers(0, 3))


@settings(max_examples=50, deadline=None)
@given(fills=st.lists(a_fill_seen, min_size=1, max_size=60), zerodha=st.booleans())
def test_the_charge_memo_gives_what_charges_for_fill_computes(fills, zerodha):
    """Repeats, partial fills and a memo that overflows and forgets all answer as computed afresh."""
    schedule = ZERODHA_SCHEDULE if zerodha else DEFAULT_SCHEDULE
    memo = ChargeMemo(schedule, limit=7)  # forgets often
    for seg_class, side, qty, price_step, value_before_steps in fills:
        price = 100_00 + price_step * 5  # few distinct prices: the memo answers most
        value_before = value_before_steps * 1_000_00
        for first, before in ((True, None), (True, 0), (value_before == 0, value_before)):
            assert memo(seg_class, side, qty, price, first, order_value_before_paise=before) == charges_for_fill(
                seg_class, side, qty, price, first, schedule, order_value_before_paise=before)
