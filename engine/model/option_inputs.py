"""What the option model is solved from, out of market prices: one rule for every reader.

The priced chain of the control actor (``actors.control.chain``) and the option structures of the
strategy actor (``actors.strategy.builtin._greeks``) both solve Black-76 (``engine.model.black76``)
from the prices they keep themselves; these are the rules they share, so that a strategy's delta
is the chain's delta for the same quotes.

* **option price** (:func:`solve_price_paise`): the mid of the best bid and ask, rounded down to a
  paisa, when both are quoted and not crossed; else the last trade; 0 when there is neither.
* **forward** (:func:`forward_paise`): the same expiry's future (its solve price as above);
  without one, the spot's last trade carried at the rate to expiry, F = S * e^(rT).

Pure: integers in, integers out (the carry's float stays inside :func:`forward_paise`);
:func:`scaled_ints` is the one way the model's dimensionless answers become integers.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from engine.model.money import price_to_paise

PAISE_PER_RUPEE = 100.0
ForwardSource = Literal["future", "spot", ""]


def solve_price_paise(bid_paise: int, ask_paise: int, ltp_paise: int) -> int:
    """The price a volatility is solved from (see the module docstring); 0: none."""
    if bid_paise > 0 and ask_paise >= bid_paise:
        return (bid_paise + ask_paise) // 2
    return max(0, ltp_paise)


def forward_paise(future_price_paise: int, spot_paise: int, years: float, rate: float) -> tuple[int, ForwardSource]:
    """(forward in paise, where it came from): the future's solve price when it has one, else the
    spot carried at ``rate`` (continuously compounded, annual) over ``years``; (0, "") without
    either."""
    if future_price_paise > 0:
        return future_price_paise, "future"
    if spot_paise > 0:
        return price_to_paise(spot_paise / PAISE_PER_RUPEE * math.exp(rate * years)), "spot"
    return 0, ""


def scaled_ints(values: np.ndarray) -> list[int]:
    """Dimensionless analytics (volatility, delta, gamma, the rate), already scaled (x 1e6 for
    millionths), as Python ints rounded half to even. Money goes through engine.model.money instead."""
    return np.rint(values).astype(np.int64).tolist()
