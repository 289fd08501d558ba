"""Test helpers for the one order model."""

from __future__ import annotations

import msgspec

from engine.ledger import Ledger, NewOrder
from ipc.messages import OrderEvent


def record_new(ledger: Ledger, order: OrderEvent) -> NewOrder:
    """``ledger.record_new_order`` for ``order`` built with the id the ledger hands out next."""
    return ledger.record_new_order(msgspec.structs.replace(order, client_order_id=ledger.next_client_order_id()))
