"""Expiry settlement math (actors/execution/settlement.py): intrinsic values, what each contract
type settles into, the charges, and that the ledger's fold books exactly the settlement's P&L and cash."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.execution.config import SettlementConfig
from actors.execution.charges import DEFAULT_SCHEDULE, SegmentClass, charges_for_fill, exercise_stt_paise
from actors.execution.settlement import (
    intrinsic_value_paise,
    plan_settlement,
    settlement_fills,
    settlement_pnl_paise,
)
from engine.ledger import apply_fill, fill_cash_delta_paise
from ipc.messages import Fill, Position

STRIKE = 26_000_00
LOT = 65


def opened(net_units: int, cost_paise: int) -> Position:
    return Position("s", 2, 1, net_units, cost_paise, 0, 0, 0, 0, 0)


def test_intrinsic_value_of_calls_and_puts() -> None:
    assert intrinsic_value_paise("CE", STRIKE, 26_123_45) == 123_45
    assert intrinsic_value_paise("CE", STRIKE, 25_900_00) == 0
    assert intrinsic_value_paise("PE", STRIKE, 25_900_00) == 100_00
    assert intrinsic_value_paise("PE", STRIKE, STRIKE) == 0  # at the money: worthless
    with pytest.raises(ValueError, match="XX"):
        intrinsic_value_paise("XX", STRIKE, 1)


def test_long_itm_index_call_is_cash_settled_at_intrinsic_with_stt_on_exercise() -> None:
    plan = plan_settlement(instrument_type="OPTIDX", option_type="CE", strike_paise=STRIKE, net_qty_units=LOT,
                           settlement_price_paise=26_123_45)
    assert plan.kind == "CASH" and plan.delivery is None
    assert (plan.close.side, plan.close.qty_units, plan.close.price_paise) == ("SELL", LOT, 123_45)
    # 0.15 % of 65 x ₹123.45 = ₹12.036375 -> ₹12.04
    assert plan.close.stt_paise == plan.close.charges_paise == 12_04
    assert plan.cash_delta_paise() == LOT * 123_45 - 12_04


def test_short_itm_put_pays_intrinsic_and_no_exercise_stt() -> None:
    plan = plan_settlement(instrument_type="OPTIDX", option_type="PE", strike_paise=STRIKE, net_qty_units=-2 * LOT,
                           settlement_price_paise=25_950_00)
    assert (plan.kind, plan.close.side, plan.close.price_paise, plan.close.charges_paise) == ("CASH", "BUY", 50_00, 0)
    assert plan.cash_delta_paise() == -2 * LOT * 50_00


def test_otm_option_expires_worthless_without_charges() -> None:
    plan = plan_settlement(instrument_type="OPTIDX", option_type="CE", strike_paise=STRIKE, net_qty_units=LOT,
                           settlement_price_paise=25_999_95)
    assert (plan.kind, plan.value_per_unit_paise, plan.charges_paise()) == ("WORTHLESS", 0, 0)


def test_index_future_settles_at_the_settlement_price() -> None:
    plan = plan_settlement(instrument_type="FUTIDX", option_type="XX", strike_paise=0, net_qty_units=-LOT,
                           settlement_price_paise=26_123_45)
    assert (plan.kind, plan.close.side, plan.close.price_paise, plan.charges_paise()) == ("CASH", "BUY", 26_123_45, 0)


@pytest.mark.parametrize("option_type, net, stock_side", [
    ("CE", 500, "BUY"),    # long call exercised: takes the shares
    ("CE", -500, "SELL"),  # short call assigned: gives them
    ("PE", 500, "SELL"),   # long put exercised: gives them
    ("PE", -500, "BUY"),   # short put assigned: takes them
])
def test_itm_stock_option_is_delivered(option_type: str, net: int, stock_side: str) -> None:
    settle = 1_432_10 if option_type == "CE" else 1_367_90
    plan = plan_settlement(instrument_type="OPTSTK", option_type=option_type, strike_paise=1_400_00,
                           net_qty_units=net, settlement_price_paise=settle)
    assert plan.kind == "PHYSICAL" and plan.delivery is not None
    assert (plan.delivery.side, plan.delivery.qty_units, plan.delivery.price_paise) == (stock_side, 500, settle)
    assert plan.close.charges_paise == 0  # delivery charges instead of exercise STT
    delivery = charges_for_fill(SegmentClass.EQUITY_DELIVERY, stock_side, 500, settle, True)  # type: ignore[arg-type]
    assert plan.delivery.charges_paise == delivery.total_paise
    # In cash: the strike per share changes hands (intrinsic on the option, S on the stock).
    assert plan.cash_delta_paise() == (-500 if stock_side == "BUY" else 500) * 1_400_00 - delivery.total_paise


def test_stock_future_delivery_and_otm_stock_option_expire_without_delivery() -> None:
    future = plan_settlement(instrument_type="FUTSTK", option_type="XX", strike_paise=0, net_qty_units=-250,
                             settlement_price_paise=1_432_10)
    assert future.delivery is not None and (future.delivery.side, future.close.price_paise) == ("SELL", 1_432_10)
    otm = plan_settlement(instrument_type="OPTSTK", option_type="CE", strike_paise=1_500_00, net_qty_units=500,
                          settlement_price_paise=1_432_10)
    assert (otm.kind, otm.delivery) == ("WORTHLESS", None)
    cash = plan_settlement(instrument_type="OPTSTK", option_type="CE", strike_paise=1_400_00, net_qty_units=500,
                           settlement_price_paise=1_432_10, physical=False)
    assert (cash.kind, cash.delivery) == ("CASH", None)
    assert cash.close.stt_paise == exercise_stt_paise(SegmentClass.STOCK_OPTIONS, 500 * 32_10)


def test_refuses_what_it_cannot_settle() -> None:
    for kwargs, words in [({"net_qty_units": 0}, "flat"), ({"settlement_price_paise": 0}, "not positive"),
                          ({"instrument_type": "OPTFUT"}, "not settled")]:
        args = {"instrument_type": "OPTIDX", "option_type": "CE", "strike_paise": STRIKE, "net_qty_units": LOT,
                "settlement_price_paise": STRIKE, **kwargs}
        with pytest.raises(ValueError, match=words):
            plan_settlement(**args)  # type: ignore[arg-type]


def test_settlement_fills_carry_ids_that_name_what_they_settle() -> None:
    plan = plan_settlement(instrument_type="OPTSTK", option_type="CE", strike_paise=1_400_00, net_qty_units=500,
                           settlement_price_paise=1_432_10)
    close, delivery = settlement_fills(plan, strategy="s", product="MARGIN", segment=2, security_id=700001,
                                       expiry_yyyymmdd=20261123, delivery_segment=1, delivery_security_id=2885, ts_ns=7)
    assert close.fill_id == "SETTLE-20261123-2-700001-s-MARGIN" and close.client_order_id == "SETTLE-20261123-2-700001"
    assert delivery.fill_id == "SETTLE-20261123-2-700001-s-MARGIN/D"
    assert (delivery.segment, delivery.security_id) == (1, 2885)
    # The close settles the contract's MARGIN position; the stock is delivered into a CNC holding.
    assert (close.product, delivery.product) == ("MARGIN", "CNC")
    with pytest.raises(ValueError, match="underlying stock"):
        settlement_fills(plan, strategy="s", product="MARGIN", segment=2, security_id=700001,
                         expiry_yyyymmdd=20261123, ts_ns=7)


@settings(max_examples=400, deadline=None)
@given(option_type=st.sampled_from(["CE", "PE", "XX"]),
       instrument=st.sampled_from(["OPTIDX", "OPTSTK", "FUTIDX", "FUTSTK"]),
       strike=st.integers(1, 10**8), settle=st.integers(1, 10**8),
       lots=st.integers(-200, 200).filter(bool), lot=st.integers(1, 1_800),
       entry=st.integers(0, 10**7), physical=st.booleans())
def test_settlement_conserves_cash_and_books_the_exact_pnl(option_type: str, instrument: str, strike: int,
                                                           settle: int, lots: int, lot: int, entry: int,
                                                           physical: bool) -> None:
    """Through the ledger's own fold: the contract ends flat with cost 0; realised P&L moves by
    exactly net x value - cost; cash by net x value (plus the delivery's value) - charges; all integers."""
    if instrument.startswith("FUT"):
        option_type, strike = "XX", 0
    elif option_type == "XX":
        option_type = "CE"
    net = lots * lot
    cost = net * entry
    position = opened(net, cost)
    plan = plan_settlement(instrument_type=instrument, option_type=option_type, strike_paise=strike,
                           net_qty_units=net, settlement_price_paise=settle, physical=physical)
    fills = settlement_fills(plan, strategy="s", product="MARGIN", segment=2, security_id=1, expiry_yyyymmdd=20261123,
                             delivery_segment=1, delivery_security_id=2885, ts_ns=1)
    after = apply_fill(position, fills[0])
    value = plan.value_per_unit_paise
    assert (after.net_qty_units, after.open_cost_paise) == (0, 0)
    assert after.realised_pnl_paise == settlement_pnl_paise(net, cost, value) == net * value - cost
    assert after.charges_paise == plan.close.charges_paise
    cash = sum(fill_cash_delta_paise(f) for f in fills)
    assert cash == plan.cash_delta_paise()
    stock_value = 0
    if plan.delivery is not None:
        delivered = fills[1]
        stock_value = (delivered.qty_units if delivered.side == "BUY" else -delivered.qty_units) * settle
        assert instrument.endswith("STK") and physical and delivered.qty_units == abs(net)
    assert cash == net * value - stock_value - plan.charges_paise()
    if instrument.startswith("OPT") and plan.delivery is None:
        itm_long = net > 0 and value > 0
        expected = exercise_stt_paise(SegmentClass.INDEX_OPTIONS if instrument == "OPTIDX"
                                      else SegmentClass.STOCK_OPTIONS, value * abs(net), DEFAULT_SCHEDULE)
        assert plan.close.stt_paise == (expected if itm_long else 0)
    assert all(type(x) is int for f in fills for x in (f.qty_units, f.price_paise, f.charges_paise))


def test_a_fill_at_zero_is_a_valid_worthless_settlement_for_the_fold() -> None:
    fill = Fill("SETTLE-1-2-3-s", "SETTLE-1-2-3", "", "s", 2, 3, "SELL", LOT, 0, 0, 1, 1)
    after = apply_fill(opened(LOT, LOT * 5_00), fill)
    assert (after.net_qty_units, after.realised_pnl_paise) == (0, -LOT * 5_00)


def test_configured_settlement_prices_are_checked_where_they_are_read() -> None:
    cfg = msgspec.convert({"prices_paise": {"NIFTY:2026-11-23": 26_012_35}}, SettlementConfig)
    assert cfg.price_for("nifty", dt.date(2026, 11, 23)) == 26_012_35
    assert cfg.price_for("NIFTY", dt.date(2026, 11, 24)) is None
    for bad, words in [({"NIFTY-2026-11-23": 1}, "is not"), ({"nifty:2026-11-23": 1}, "capitals"),
                       ({"NIFTY:2026-11-23": 0}, "positive")]:
        with pytest.raises(msgspec.ValidationError, match=words):
            msgspec.convert({"prices_paise": bad}, SettlementConfig)
