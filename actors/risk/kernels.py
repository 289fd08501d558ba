"""The risk actor's numba kernel for replayed batches (``PostTradeMonitor.first_firing_mark``): a
module of its own so that a risk actor no batch reaches (a live feed in another process) never
imports numba."""

from __future__ import annotations

import numpy as np
from numba import njit

from actors.risk.checks import BPS


@njit(cache=True)
def first_firing(prices, units, best, trade_flow, exiting, day_rest, killed, max_loss,  # type: ignore[no-untyped-def]
                 loss_per_trade, target, trail_paise, trail_bps):
    """``on_mark`` then ``_evaluate`` for one open position over ``prices``, without acting: the
    index of the first price at which a rule fires (``prices.size``: none). The day's P&L at
    price p is ``day_rest + units * p``."""
    for i in range(prices.size):
        p = prices[i]
        if units > 0:
            if p > best:
                best = p
        elif p < best:
            best = p
        if not killed and day_rest + units * p < -max_loss:
            return i
        if exiting:
            continue
        trade = trade_flow + units * p
        if loss_per_trade and trade < -loss_per_trade:
            return i
        if target and trade >= target:
            return i
        if trail_paise or trail_bps:
            retreat = best - p if units > 0 else p - best
            if retreat > 0 and ((trail_paise > 0 and retreat >= trail_paise)
                                or (trail_bps > 0 and retreat * BPS >= trail_bps * best)):
                return i
    return prices.size


def warmup() -> None:
    """Compile (or load from numba's cache) the batch kernel."""
    first_firing(np.array([100], dtype=np.int64), 1, 100, -100, False, 0, False, 1000, 0, 0, 0, 0)
