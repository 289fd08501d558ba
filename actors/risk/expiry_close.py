"""Positions in contracts that expire today are closed before they expire (pure; no I/O).

On a contract's expiry day, from ``[risk.expiry] close_ist`` (15:10 IST by default) until its
settlement moment (``engine.model.expiry_day``, 15:30 IST), every open position in it is closed by
a reduce-only MARKET order at the position's product (an ``Action`` SQUARE_OFF with reason
EXPIRY_CLOSE, which the risk actor turns into an exit intent like the 15:25 square-off), unless its
strategy holds to expiry (``[[strategy.instances]] hold_to_expiry = true``). What is held is
settled by execution after the close (``actors.execution.settlement``).

Stock derivatives are physically settled (a delivery of the shares at full value). With
``stock_derivatives = "close"`` (the default, as brokers do) they are closed even for a strategy
that holds to expiry; ``"deliver"`` lets such a strategy take (or make) delivery.

A close fires once per position; if the position is still open and nothing works on it
``RETRY_S`` later (the order was denied, rejected or only part filled), it fires again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

import msgspec

from actors.risk.config import ExpiryCloseConfig
from actors.risk.monitors import Action, ActionKind, MonitorReason
from engine.model.expiry_day import settles_at_ns
from engine.model.instruments import date_from_yyyymmdd
from engine.model.ist import NS_PER_S, ist_ns
from ipc.segments import instrument_label

RETRY_S: Final = 30
DERIVATIVES: Final = frozenset({"OPTIDX", "FUTIDX", "OPTSTK", "FUTSTK", "FUTCOM", "OPTFUT", "FUTCUR", "OPTCUR"})
STOCK_DERIVATIVES: Final = frozenset({"OPTSTK", "FUTSTK"})


class Holding(msgspec.Struct, frozen=True):
    """One open position as risk tracks it: ``product`` is the position's (the closing order's)."""

    strategy: str
    segment: int
    security_id: int
    product: str
    net_units: int


class Contract(msgspec.Struct, frozen=True):
    """What the rule needs of an instrument: its master type (OPTIDX, FUTSTK, ...) and expiry."""

    instrument_type: str
    expiry_yyyymmdd: int


class ExpiryClose:
    """Decides the expiry-day closes (module docstring). ``holders``: strategies that hold to expiry."""

    def __init__(self, config: ExpiryCloseConfig, holders: Iterable[str] = ()) -> None:
        self.config = config
        self.holders = frozenset(holders)
        self._sent_ns: dict[tuple[str, int, int, str], int] = {}  # position -> when its close last fired

    def holds(self, strategy: str, instrument_type: str) -> bool:
        """Whether ``strategy``'s position in a contract of ``instrument_type`` is kept to expiry."""
        if strategy not in self.holders:
            return False
        return instrument_type not in STOCK_DERIVATIVES or self.config.stock_derivatives == "deliver"

    def due(self, now_ns: int, holdings: Iterable[Holding], contract_of: Callable[[int, int], Contract | None],
            pending_units: Callable[[str, int, int, str], int]) -> list[Action]:
        """The closes to send now. ``contract_of(segment, security_id)``: the instrument's type and
        expiry (None: unknown); ``pending_units(strategy, segment, security_id, product)``: units of open
        orders that work on the position (a close is not repeated while one does)."""
        if not self.config.enabled:
            return []
        out: list[Action] = []
        live: set[tuple[str, int, int, str]] = set()
        for held in holdings:
            if not held.net_units:
                continue
            contract = contract_of(held.segment, held.security_id)
            if contract is None or contract.instrument_type not in DERIVATIVES or not contract.expiry_yyyymmdd:
                continue
            expiry = date_from_yyyymmdd(contract.expiry_yyyymmdd)
            if not ist_ns(expiry, self.config.close_ist) <= now_ns < settles_at_ns(contract.expiry_yyyymmdd):
                continue
            if self.holds(held.strategy, contract.instrument_type):
                continue
            key = (held.strategy, held.segment, held.security_id, held.product)
            live.add(key)
            sent = self._sent_ns.get(key)
            if sent is not None and (now_ns - sent < RETRY_S * NS_PER_S
                                     or pending_units(*key)):
                continue
            self._sent_ns[key] = now_ns
            out.append(self._close(held, contract, now_ns, again=sent is not None))
        for key in [k for k in self._sent_ns if k not in live]:
            del self._sent_ns[key]  # closed, or past the settlement: forget it
        return out

    def _close(self, held: Holding, contract: Contract, now_ns: int, again: bool) -> Action:
        side = "SELL" if held.net_units > 0 else "BUY"
        qty = abs(held.net_units)
        label = instrument_label(held.segment, held.security_id)
        why = "still open, closing again" if again else "closing before expiry"
        return Action(
            action=ActionKind.SQUARE_OFF, reason=MonitorReason.EXPIRY_CLOSE, ts_event_ns=now_ns,
            strategy=held.strategy, segment=held.segment, security_id=held.security_id, product=held.product,
            side=side, qty_units=qty,
            message=f"{held.strategy} {label} {held.product}: {contract.instrument_type} expires today "
                    f"({contract.expiry_yyyymmdd}); expiry close {self.config.close_ist:%H:%M:%S} IST, {why}: "
                    f"{side} {qty} to close position {held.net_units}",
        )
