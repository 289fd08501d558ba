"""Risk limits: resolution order and parsing."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from actors.risk.limits import OrderLimits, RiskLimits, StrategyLimits, decode_limits, resolve

# Limits: resolution order and parsing
# --------------------------------------------------------------------------------------------


def test_limits_resolve_strategy_instrument_then_strategy_then_instrument_then_default():
    lim = RiskLimits(
        strategies={
            "s": StrategyLimits(max_position_units=150, instruments={"NSE_FNO.1": OrderLimits(max_position_units=300)})
        },
        instruments={"NSE_FNO.1": OrderLimits(max_position_units=1_800, price_band_bps=100),
                     "NSE_FNO.2": OrderLimits(max_position_units=900)},
    )
    assert resolve(lim, "s", "NSE_FNO.1").max_position_units == 300
    assert resolve(lim, "s", "NSE_FNO.2").max_position_units == 150
    assert resolve(lim, "t", "NSE_FNO.2").max_position_units == 900
    assert resolve(lim, "t", "NSE_FNO.3").max_position_units == 10_000
    assert resolve(lim, "s", "NSE_FNO.1").price_band_bps == 100  # field by field


def test_limits_parse_from_toml_and_refuse_unknown_fields():
    lim = decode_limits(
        b'max_orders_per_second = 5\nsquare_off_ist = 15:20:00\n[strategies.ema]\norder_cooldown_s = 1.5\n'
    )
    assert lim.max_orders_per_second == 5 and lim.square_off_ist == dt.time(15, 20)
    assert resolve(lim, "ema", "NSE_FNO.1").order_cooldown_ns == 1_500_000_000
    with pytest.raises(msgspec.ValidationError, match="max_order_valu"):
        decode_limits(b"max_order_valu = 5\n")
    with pytest.raises(msgspec.ValidationError, match="max_orders_per_second"):
        decode_limits(b"max_orders_per_second = 0\n")
    with pytest.raises(msgspec.ValidationError, match="every field"):
        decode_limits(b"[default]\nflip_only = true\n")


def test_default_rate_is_sebi_threshold():
    assert RiskLimits().max_orders_per_second == 10


# --------------------------------------------------------------------------------------------
