"""Funds for paper orders: the wallet (a mirror of the ledger's cash, what open orders and shorts
block) and what an order needs to be accepted.

The ledger owns cash; the wallet mirrors it (``set_cash``) and the paper venue moves the mirror
with each fill at once (BUY: -(value + charges), SELL: +value - charges, as the ledger does), so no
check between a fill and the next ``set_cash`` can spend the same rupee twice. At submit and
modify, the order's requirement (``funds_need``) must fit in ``available = cash - blocked by open
orders - short margin``, else ``INSUFFICIENT_FUNDS`` with the numbers (``shortfall_text``).
Requirement:

- BUY: worst-case cost + estimated charges (brokerage included), less what the part that covers an
  open short releases. Worst case: the limit price; MARKET: the current walk of the asks for the
  whole remainder, the part beyond visible depth priced at the deepest ask (or LTP) plus
  ``market_buffer_rate_e8``; SL_M: the trigger plus the same buffer.
- SELL: nothing for the part that closes a long (net long less open sells); for the part that
  opens a short, the margin per unit (``MarginRules``) at a reference price (the highest of the
  order's limit / trigger, the best bid and LTP) + estimated charges. When the short opens, the
  sale proceeds are credited to cash but are not spendable: the wallet blocks proceeds + margin
  for the short, released in proportion as it is bought back.
- A blocked amount is released in proportion to the filled quantity, and in full when the order
  closes.
"""

from __future__ import annotations

import msgspec

from actors.execution.charges import ChargeMemo
from actors.execution.config import PaperVenueConfig
from actors.execution.paper_matching import Book, WorkingOrder
from engine.model.money import Rounding, apply_rate, div_round, format_paise
from ipc.messages import PRICED_ORDER_TYPES
from ipc.segments import InstrumentId


class PaperWallet:
    """Cash that paper orders may use: a mirror of the ledger's cash, minus what is blocked.

    ``set_cash`` sets the mirror from the ledger (the ledger owns cash); the venue moves the
    mirror on each fill, blocks each open order's requirement and blocks open shorts' proceeds
    plus margin (rules in the module docstring). All amounts in paise.
    """

    def __init__(self, starting_cash_paise: int) -> None:
        self._cash = starting_cash_paise
        self._blocks: dict[str, tuple[int, int, int]] = {}  # cid -> (total, base units, blocked)
        self._blocked = 0
        self._positions: dict[InstrumentId, list[int]] = {}  # -> [net units, short block]
        self._short = 0

    @property
    def cash_paise(self) -> int:
        return self._cash

    @property
    def blocked_paise(self) -> int:
        """Blocked by open orders."""
        return self._blocked

    @property
    def short_margin_paise(self) -> int:
        """Blocked by open short positions (their sale proceeds plus margin)."""
        return self._short

    @property
    def available_paise(self) -> int:
        return self._cash - self._blocked - self._short

    def set_cash(self, cash_paise: int) -> None:
        """Replace the cash mirror with the ledger's figure."""
        self._cash = cash_paise

    def blocked_for(self, client_order_id: str) -> int:
        """What ``client_order_id`` blocks now (0 when it is not open)."""
        entry = self._blocks.get(client_order_id)
        return 0 if entry is None else entry[2]

    def net_qty_units(self, segment: int, security_id: int) -> int:
        """The mirrored net position (units; negative is short)."""
        pos = self._positions.get((segment, security_id))
        return 0 if pos is None else pos[0]

    # The venue's side of the wallet (the paper venue calls these) ------------------------------

    def position(self, key: InstrumentId) -> tuple[int, int]:
        pos = self._positions.get(key)
        return (0, 0) if pos is None else (pos[0], pos[1])

    def set_position(self, key: InstrumentId, net_qty_units: int, short_block_paise: int) -> None:
        pos = self._positions.setdefault(key, [0, 0])
        self._short += short_block_paise - pos[1]
        pos[0] = net_qty_units
        pos[1] = short_block_paise

    def reserve(self, cid: str, total_paise: int, base_units: int) -> None:
        self.release(cid)
        self._blocks[cid] = (total_paise, base_units, total_paise)
        self._blocked += total_paise

    def release(self, cid: str) -> None:
        entry = self._blocks.pop(cid, None)
        if entry is not None:
            self._blocked -= entry[2]

    def apply_fill(
        self,
        cid: str,
        key: InstrumentId,
        is_buy: bool,
        qty_units: int,
        price_paise: int,
        charges_paise: int,
        leaves_units: int,
        short_unit_block_paise: int,
    ) -> None:
        value = qty_units * price_paise
        self._cash += -(value + charges_paise) if is_buy else value - charges_paise
        net, block = self.position(key)
        if is_buy:
            cover = min(qty_units, max(0, -net))
            if cover:
                # Round the release down: what stays blocked is never less than the rest needs.
                block -= block if cover == -net else block * cover // -net
            net += qty_units
        else:
            opening = qty_units - min(qty_units, max(0, net))
            block += opening * short_unit_block_paise
            net -= qty_units
        self.set_position(key, net, block)
        entry = self._blocks.get(cid)
        if entry is not None:
            total, base, blocked = entry
            now_blocked = -(-total * leaves_units // base) if base > 0 else 0  # ceiling
            now_blocked = min(now_blocked, blocked)
            self._blocks[cid] = (total, base, now_blocked)
            self._blocked += now_blocked - blocked


class FundsNeed(msgspec.Struct, frozen=True):
    """What an order must have available: ``total`` = cost + charges - release (>= 0); for a
    SELL ``cost`` is the margin of the ``opening`` units that open a short."""

    total: int
    cost: int
    charges: int
    release: int = 0
    opening: int = 0


def funds_need(
    wallet: PaperWallet,
    o: WorkingOrder,
    book: Book,
    leaves: int,
    limit: int,
    trigger: int,
    same_side_units: int,
    config: PaperVenueConfig,
    charges_for: ChargeMemo,
) -> FundsNeed | None:
    """The requirement for ``leaves`` more units of ``o`` at these prices (``same_side_units``: what
    the instrument's other open orders on ``o``'s side still have to fill); None when no price is
    known to value it. ``charges_for``: the venue's charges under ``config.charges``."""
    net, short_block = wallet.position(o.key)
    if o.is_buy:
        cost = _buy_cost(o, book, leaves, limit, trigger, config.market_buffer_rate_e8)
        if cost is None:
            return None
        unit = div_round(cost, leaves, Rounding.CEILING)
        charges = charges_for(o.seg_class, "BUY", leaves, unit, True).total_paise
        short = max(0, -net)
        cover = min(leaves, max(0, short - same_side_units))
        release = 0 if cover == 0 else short_block * cover // short
        total = max(0, cost + charges - release)
        return FundsNeed(total=total, cost=cost, charges=charges, release=release)
    opening = max(0, leaves - max(0, net - same_side_units))
    if opening == 0:
        return FundsNeed(total=0, cost=0, charges=0)
    best_bid = next((p for p, q in zip(book.bid_px, book.bid_qty) if p > 0 and q > 0), 0)
    ref = max(limit, trigger, best_bid, book.ltp_paise)
    if ref <= 0:
        return None
    margin = opening * config.margin.per_unit_paise(o.seg_class, ref)
    charges = charges_for(o.seg_class, "SELL", opening, ref, True).total_paise
    return FundsNeed(total=margin + charges, cost=margin, charges=charges, opening=opening)


def _buy_cost(o: WorkingOrder, book: Book, leaves: int, limit: int, trigger: int, buffer_rate_e8: int) -> int | None:
    if o.spec.order_type in PRICED_ORDER_TYPES:
        return leaves * limit
    if o.armed:  # SL_M before its trigger: the trigger plus the buffer
        return leaves * (trigger + apply_rate(trigger, buffer_rate_e8, Rounding.CEILING))
    cost, left, last = 0, leaves, 0
    for p, q in zip(book.ask_px, book.ask_qty):
        if p <= 0 or q <= 0:
            continue
        take = q if q < left else left
        cost += take * p
        left -= take
        last = p
        if not left:
            return cost
    ref = last or book.ltp_paise
    if ref <= 0:
        return None
    return cost + left * (ref + apply_rate(ref, buffer_rate_e8, Rounding.CEILING))


def shortfall_text(wallet: PaperWallet, o: WorkingOrder, need: FundsNeed, leaves: int) -> str:
    """Why ``o`` does not fit: its requirement, its parts and the wallet's figures."""
    own = wallet.blocked_for(o.cid)
    available = wallet.available_paise + own
    if o.is_buy:
        parts = (
            f"worst-case cost {format_paise(need.cost)} + est. charges "
            f"{format_paise(need.charges)} - short cover {format_paise(need.release)}"
        )
    else:
        parts = (
            f"margin {format_paise(need.cost)} for {need.opening} units opening a short + "
            f"est. charges {format_paise(need.charges)}"
        )
    return (
        f"{o.spec.side} {leaves} x {o.label} needs {format_paise(need.total)} ({parts}) but "
        f"{format_paise(available)} is available (cash "
        f"{format_paise(wallet.cash_paise)} - blocked by open orders "
        f"{format_paise(wallet.blocked_paise - own)} - short margin "
        f"{format_paise(wallet.short_margin_paise)})"
    )
