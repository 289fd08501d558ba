"""The option model's inputs from market prices: the price solved from and the forward."""

from __future__ import annotations

import math

import pytest

from engine.model.option_inputs import forward_paise, solve_price_paise


def test_the_solve_price_is_the_mid_rounded_down_else_the_last_trade() -> None:
    assert solve_price_paise(1_000, 1_015, 990) == 1_007
    assert solve_price_paise(1_000, 1_000, 990) == 1_000
    assert solve_price_paise(1_010, 1_000, 990) == 990  # a crossed book is not a price
    assert solve_price_paise(0, 1_000, 990) == 990 and solve_price_paise(1_000, 0, 990) == 990
    assert solve_price_paise(0, 0, 0) == 0


@pytest.mark.parametrize("spot", [2_500_000, 2_600_000, 2_700_000])
def test_the_forward_is_the_future_else_the_spot_carried_at_the_rate(spot: int) -> None:
    fwd, source = forward_paise(0, spot, 0.01, 0.065)
    assert source == "spot" and fwd == round(spot * math.exp(0.065 * 0.01))
    assert forward_paise(2_611_000, spot, 0.01, 0.065) == (2_611_000, "future")
    assert forward_paise(0, 0, 0.01, 0.065) == (0, "")
