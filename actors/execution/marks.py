"""Marking open positions to the book the paper venue holds: unrealised P&L in exact paise.

The mark is the last traded price when one was seen, else the mid of the best bid and the best
ask (both with a positive price and quantity). It is carried as *twice* the price
(``mark_x2_paise``) so that a mid of an odd bid + ask stays exact.

    unrealised_pnl_paise = mark x net_qty_units - open_cost_paise
                         = round_half_even(mark_x2_paise x net_qty_units / 2) - open_cost_paise

``open_cost_paise`` is the ledger position's signed cost of the open quantity (long > 0, short
< 0), so the formula holds for both sides: a long gains when the mark rises above its average
cost, a short when it falls below. With an LTP mark the division by 2 is exact; only a mid of an
odd total over an odd quantity rounds (half-even, to the nearest paisa). A flat position, or one
without any mark, has unrealised P&L 0. The ledger never stores marks: this is for what execution
publishes (``ipc.messages.Position``).
"""

from __future__ import annotations

from actors.execution.paper import BookView
from engine.model.money import Rounding, div_round


def _best(prices: tuple[int, ...], qtys: tuple[int, ...]) -> int:
    for price, qty in zip(prices, qtys):
        if price > 0 and qty > 0:
            return price
    return 0


def mark_x2_paise(view: BookView | None) -> int:
    """Twice the mark price in paise: 2 x LTP, else best bid + best ask; 0 when neither exists."""
    if view is None:
        return 0
    if view.ltp_paise > 0:
        return 2 * view.ltp_paise
    bid = _best(view.bid_price_paise, view.bid_qty_units)
    ask = _best(view.ask_price_paise, view.ask_qty_units)
    return bid + ask if bid and ask else 0


def unrealised_pnl_paise(net_qty_units: int, open_cost_paise: int, mark_x2: int) -> int:
    """``mark x net - open cost`` in paise (module docstring); 0 when flat or unmarked."""
    if net_qty_units == 0 or mark_x2 <= 0:
        return 0
    return div_round(mark_x2 * net_qty_units, 2, Rounding.HALF_EVEN) - open_cost_paise
