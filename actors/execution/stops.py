"""Protective stops resting at the venue: what to do next for one position (pure).

A strategy declares the stop of its position (``ipc.messages.ProtectPosition``); execution owns
the stop order. The stop and the strategy's exits form one OCO pair, kept by one invariant::

    resting stop's open units + closing units working at the venue <= |position|

so however the two race at the venue, they never close more than is held (no double close), and
the stop goes to zero when the position does (no orphan). ``plan`` gives the one request that
moves the resting stop toward what the invariant and the declaration want; execution sends it,
waits for the venue's answer (one request at a time: never spam), and asks again.
``exit_may_go`` says whether an exit may reach the venue now or must wait for the stop to shrink.

Trailing: a declared trigger that moved less than ``step_paise`` from the resting one leaves the
order as it is; a move of a step or more modifies it. A venue allows a limited number of
modifications per order (Dhan: 25); at the cap the order is cancelled and placed afresh.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ipc.messages import OrderType, Product, Side


class Protection(msgspec.Struct, frozen=True, kw_only=True):
    """What the strategy declared for its position in one instrument (latest wins)."""

    trigger_price_paise: int
    limit_offset_paise: int = 0  # 0: SL_M; otherwise SL with the limit this far beyond the trigger
    step_paise: int = 0  # moves smaller than this leave the resting order alone (0: any move)
    product: Product = "INTRADAY"
    refused_trigger_paise: int = 0  # the venue refused a stop at this trigger: not placed again there


class Resting(msgspec.Struct, frozen=True, kw_only=True):
    """The protective stop order as the OMS holds it (open, not terminal)."""

    client_order_id: str
    side: Side
    open_units: int  # quantity less fills
    trigger_price_paise: int
    busy: bool  # a request is out (place, modify, cancel) or it has triggered: wait for the venue
    pending_units: int = 0  # open units a modify in flight asks for (it may be answered yes)
    modify_count: int
    modify_cap: int


class Keep(msgspec.Struct, frozen=True):
    """Nothing to send now."""


class Place(msgspec.Struct, frozen=True, kw_only=True):
    side: Side
    qty_units: int
    order_type: OrderType
    price_paise: int
    trigger_price_paise: int
    product: Product


class Modify(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: str
    qty_units: int  # the order's new total (fills included)
    price_paise: int
    trigger_price_paise: int


class Cancel(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: str
    why: Literal["flat", "exits", "withdrawn", "side", "cap"]


Action = Keep | Place | Modify | Cancel
KEEP = Keep()


def stop_side(position_units: int) -> Side:
    """The side that closes the position (a long is protected by a SELL stop)."""
    return "SELL" if position_units > 0 else "BUY"


def wanted_units(position_units: int, closing_units: int) -> int:
    """Units the stop should cover: the position less the exits working against it."""
    return max(0, abs(position_units) - closing_units)


def limit_price_paise(side: Side, trigger_paise: int, offset_paise: int) -> int:
    """An SL's limit ``offset_paise`` beyond the trigger, in the direction the stop trades (0: SL_M)."""
    if not offset_paise:
        return 0
    return trigger_paise - offset_paise if side == "SELL" else trigger_paise + offset_paise


def plan(protection: Protection | None, position_units: int, closing_units: int, resting: Resting | None,
         filled_units: int = 0) -> Action:
    """The next request for the stop of one position.

    ``closing_units``: the strategy's orders (at the venue or waiting for the stop to shrink) on
    the side that closes the position, open units; ``filled_units``: the resting order's fills so
    far (a modify sets the new total). Never more than one request at a time: a busy order waits.
    """
    if resting is not None and resting.busy:
        return KEEP
    want = wanted_units(position_units, closing_units) if protection is not None and position_units else 0
    if resting is not None:
        if protection is None:
            return Cancel(client_order_id=resting.client_order_id, why="withdrawn")
        if not position_units:
            return Cancel(client_order_id=resting.client_order_id, why="flat")
        if resting.side != stop_side(position_units):
            return Cancel(client_order_id=resting.client_order_id, why="side")
        if not want:
            return Cancel(client_order_id=resting.client_order_id, why="exits")
        trigger = resting.trigger_price_paise
        if abs(protection.trigger_price_paise - trigger) >= max(1, protection.step_paise):
            trigger = protection.trigger_price_paise
        if trigger == resting.trigger_price_paise and want == resting.open_units:
            return KEEP
        if resting.modify_count >= resting.modify_cap:
            return Cancel(client_order_id=resting.client_order_id, why="cap")
        side = resting.side
        return Modify(client_order_id=resting.client_order_id, qty_units=filled_units + want,
                      price_paise=limit_price_paise(side, trigger, protection.limit_offset_paise),
                      trigger_price_paise=trigger)
    if not want or protection is None or protection.trigger_price_paise <= 0:
        return KEEP
    if protection.trigger_price_paise == protection.refused_trigger_paise:
        return KEEP  # the venue said no at this trigger: wait for a new one rather than ask again
    side = stop_side(position_units)
    offset = protection.limit_offset_paise
    return Place(side=side, qty_units=want, order_type="SL" if offset else "SL_M",
                 price_paise=limit_price_paise(side, protection.trigger_price_paise, offset),
                 trigger_price_paise=protection.trigger_price_paise, product=protection.product)


def exit_may_go(position_units: int, closing_at_venue_units: int, exit_units: int, resting: Resting | None) -> bool:
    """Whether an exit of ``exit_units`` (on the closing side) may reach the venue now: the
    invariant holds with it, counting the resting stop at the most it may have (a modify in flight
    may grow it; a place in flight is the order at its size)."""
    held = abs(position_units)
    stop_units = max(resting.open_units, resting.pending_units) if resting is not None else 0
    # An exit larger than the position (a reversal) closes all of it: the stop must be gone.
    return stop_units + min(held, closing_at_venue_units + exit_units) <= held
