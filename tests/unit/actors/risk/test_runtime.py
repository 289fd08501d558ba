"""Run-time risk changes: limit changes merged over the config and validated as a whole, and the
checks a modification of an open order passes (the new values, and the extra quantity as risk)."""

from __future__ import annotations

import msgspec
import pytest

from ipc.reasons import DenyReason
from actors.risk.limits import RiskLimits
from actors.risk.overrides import (
    BadLimits,
    LimitsChanges,
    effective_limits,
    load_changes,
    merge_changes,
    parse_update,
    save_changes,
)
from actors.risk.state import RiskStatus
from ipc.messages import Fill, OrderEvent, OrderSpec, OrderState, TradingState
from ipc.segments import Segment
from tests.unit.actors.risk.test_checks import NIFTY_OPT, T10
from tests.unit.actors.risk.test_engine import engine


# Limit changes ------------------------------------------------------------------------------------


def test_changes_merge_key_by_key_and_null_removes_one() -> None:
    current = {"max_orders_per_day": 5, "default": {"max_order_value_paise": 100, "price_band_bps": 50}}
    merged = merge_changes(current, {"default": {"max_order_value_paise": None}, "max_open_orders": 3})
    assert merged == {"max_orders_per_day": 5, "default": {"price_band_bps": 50}, "max_open_orders": 3}
    assert merge_changes(merged, {"default": {"price_band_bps": None}}) == {"max_orders_per_day": 5,
                                                                            "max_open_orders": 3}
    assert current["default"]["max_order_value_paise"] == 100  # inputs are not modified


def test_effective_limits_overlay_the_config_and_keep_its_other_values() -> None:
    base = RiskLimits(max_open_orders=7)
    limits = effective_limits(base, {"max_orders_per_day": 5, "default": {"max_order_value_paise": 100},
                                     "strategies": {"ema": {"max_position_units": 10}}})
    assert (limits.max_orders_per_day, limits.max_open_orders) == (5, 7)
    assert limits.default.max_order_value_paise == 100 and limits.default.price_band_bps == base.default.price_band_bps
    assert limits.strategies["ema"].max_position_units == 10
    assert limits.entry_cutoff_ist == base.entry_cutoff_ist  # times survive the JSON round trip
    assert effective_limits(base, {}) is base


@pytest.mark.parametrize("changes, words", [
    ({"max_orders_per_dy": 5}, ["unknown key", "max_orders_per_dy"]),
    ({"default": {"max_order_value_paise": -1}}, [">= 0", "default.max_order_value_paise"]),
    ({"max_orders_per_second": 0}, ["max_orders_per_second"]),
    ({"max_open_orders": "many"}, ["int", "max_open_orders"]),
    ({"entry_cutoff_ist": "25:00"}, ["entry_cutoff_ist"]),
])
def test_bad_changes_are_refused_naming_the_key(changes, words) -> None:
    with pytest.raises(BadLimits) as info:
        effective_limits(RiskLimits(), changes)
    assert all(w in str(info.value) for w in words), str(info.value)


@pytest.mark.parametrize("text", ["", "[1]", "{}", "{oops"])
def test_an_update_must_be_a_non_empty_json_object(text) -> None:
    with pytest.raises(BadLimits):
        parse_update(text)


def test_changes_are_kept_in_the_data_dir_and_a_broken_file_is_named(tmp_path) -> None:
    assert load_changes(tmp_path) == LimitsChanges()
    kept = LimitsChanges({"max_open_orders": 3}, "control:root", 42)
    save_changes(tmp_path, kept)
    assert load_changes(tmp_path) == kept
    (tmp_path / "risk_limits.json").write_text("{not json")
    with pytest.raises(BadLimits) as info:
        load_changes(tmp_path)
    assert "risk_limits.json" in str(info.value)


# Modify checks ------------------------------------------------------------------------------------


def open_order(**kw: object) -> OrderEvent:
    fields = dict(client_order_id="c-1", intent_id="i-1", strategy="ema", segment=Segment.NSE_FNO, security_id=NIFTY_OPT,
                  side="BUY", order_type="LIMIT", validity="DAY", product="INTRADAY", qty_units=65,
                  price_paise=10_000, trigger_price_paise=0, state=OrderState.ACCEPTED, filled_qty_units=0,
                  filled_value_paise=0, venue_order_id="", reason_code="", reason="", ts_event_ns=T10,
                  ts_init_ns=T10)
    fields.update(kw)
    spec = OrderSpec(**{k: v for k, v in fields.items() if k in OrderSpec.__struct_fields__})  # type: ignore[arg-type]
    return OrderEvent(spec=spec, **{k: v for k, v in fields.items()  # type: ignore[arg-type]
                                    if k in OrderEvent.__struct_fields__ and k != "spec"})


def test_modify_within_the_rules_passes() -> None:
    eng = engine()
    order = open_order()
    assert eng.check_modify(order, 130, 10_005, 0, T10) is None   # more qty, new price
    assert eng.check_modify(order, 65, 9_995, 0, T10) is None      # price only


@pytest.mark.parametrize("qty, price, trigger, reason", [
    (65 * 28, 10_000, 0, DenyReason.QTY_ABOVE_FREEZE),  # one exchange order: no slicing on a modify
    (65, 20_000, 0, DenyReason.PRICE_OUTSIDE_BAND),
    (0, 10_000, 0, DenyReason.BAD_QTY),  # not above what is filled (the values as an order: the edge's check)
])
def test_modify_values_pass_the_limits_a_new_order_would(qty, price, trigger, reason) -> None:
    denial = engine().check_modify(open_order(), qty, price, trigger, T10)
    assert denial is not None and denial.reason is reason, denial


def test_modify_cannot_go_below_what_is_filled() -> None:
    denial = engine().check_modify(open_order(filled_qty_units=65, state=OrderState.PARTIALLY_FILLED, qty_units=130),
                                   65, 10_000, 0, T10)
    assert denial is not None and "already filled" in denial.message


def test_a_bigger_quantity_is_new_risk_a_smaller_one_is_not() -> None:
    limits = RiskLimits(default=msgspec.structs.replace(RiskLimits().default, max_order_value_paise=65 * 10_000))
    eng = engine(limits)
    order = open_order()
    denial = eng.check_modify(order, 130, 10_000, 0, T10)
    assert denial is not None and denial.reason is DenyReason.MAX_ORDER_VALUE
    halted = engine()
    halted.set_status(RiskStatus(TradingState.HALTED, "KILL_SWITCH", "test", "admin", T10))
    assert halted.check_modify(order, 130, 10_000, 0, T10).reason is DenyReason.HALTED  # type: ignore[union-attr]
    assert halted.check_modify(order, 65, 9_995, 0, T10) is None  # a new price adds no risk


def test_a_bigger_sell_that_only_closes_the_position_passes_reducing_but_not_halted() -> None:
    eng = engine()
    eng.on_fill(Fill("f-1", "c-0", "v-0", "ema", Segment.NSE_FNO, NIFTY_OPT, "BUY", 195, 10_000, 0, T10, T10))
    sell = open_order(side="SELL")
    eng.set_status(RiskStatus(TradingState.REDUCING, "POSITION_MISMATCH", "test", "system", T10))
    assert eng.check_modify(sell, 130, 10_000, 0, T10) is None
    assert eng.check_modify(open_order(), 130, 10_000, 0, T10).reason is DenyReason.REDUCING  # type: ignore[union-attr]
    # Halted: only the engine's own reduce-only exits trade; an operator's order grows no further.
    eng.set_status(RiskStatus(TradingState.HALTED, "KILL_SWITCH", "test", "admin", T10))
    assert eng.check_modify(sell, 130, 10_000, 0, T10).reason is DenyReason.HALTED  # type: ignore[union-attr]


def test_a_bigger_quantity_meets_the_net_exposure_limit_a_new_order_would() -> None:
    # The engine here holds no position and no open order of its own, so a modify's extra units are
    # all the net exposure: 65 more at Rs 100 are Rs 6,500, over a Rs 5,000 limit, as a new order
    # of 65 would be; 25 more (Rs 2,500) fit.
    eng = engine(RiskLimits(max_net_exposure_paise=5_000 * 100))
    denial = eng.check_modify(open_order(), 130, 10_000, 0, T10)
    assert denial is not None and denial.reason is DenyReason.MAX_NET_EXPOSURE, denial
    assert eng.check_modify(open_order(), 90, 10_000, 0, T10) is None
