"""Risk's expiry-day close (actors/risk/expiry_close.py): which positions close, when, and how often."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from actors.risk.config import ExpiryCloseConfig
from actors.risk.expiry_close import Contract, ExpiryClose, Holding
from actors.risk.monitors import ActionKind, MonitorReason
from engine.model.ist import NS_PER_S
from tests.support.sim import at_ist

DAY = dt.date(2026, 11, 23)
CONTRACTS = {1: Contract("OPTIDX", 20261123), 2: Contract("OPTIDX", 20261229), 3: Contract("FUTSTK", 20261123),
             4: Contract("EQUITY", 0)}


def contract_of(segment: int, security_id: int) -> Contract | None:
    return CONTRACTS.get(security_id)


def nothing_pending(strategy: str, segment: int, security_id: int, product: str) -> int:
    return 0


def held(strategy: str, security_id: int, net: int = 65, product: str = "MARGIN") -> Holding:
    return Holding(strategy, 2, security_id, product, net)


def test_only_contracts_expiring_today_close_from_1510_until_the_settlement() -> None:
    rule = ExpiryClose(ExpiryCloseConfig())
    book = [held("s", 1), held("s", 2), held("s", 4, 10, "CNC"), held("s", 1, 0)]
    assert rule.due(at_ist(DAY, 15, 9, 59), book, contract_of, nothing_pending) == []
    (action,) = rule.due(at_ist(DAY, 15, 10), book, contract_of, nothing_pending)
    assert (action.action, action.reason, action.security_id, action.side, action.qty_units, action.product) == (
        ActionKind.SQUARE_OFF, MonitorReason.EXPIRY_CLOSE, 1, "SELL", 65, "MARGIN")
    assert "expires today" in action.message
    late = ExpiryClose(ExpiryCloseConfig())
    assert late.due(at_ist(DAY, 15, 30), book, contract_of, nothing_pending) == []  # settled instead


def test_a_holding_strategy_keeps_index_contracts_but_stock_ones_close_unless_delivery_is_allowed() -> None:
    book = [held("h", 1), held("h", 3, -250)]
    rule = ExpiryClose(ExpiryCloseConfig(), holders=["h"])
    (action,) = rule.due(at_ist(DAY, 15, 10), book, contract_of, nothing_pending)
    assert (action.security_id, action.side) == (3, "BUY")
    deliver = ExpiryClose(ExpiryCloseConfig(stock_derivatives="deliver"), holders=["h"])
    assert deliver.due(at_ist(DAY, 15, 10), book, contract_of, nothing_pending) == []


def test_a_close_fires_once_and_again_only_if_the_position_is_still_open_and_idle() -> None:
    rule = ExpiryClose(ExpiryCloseConfig(close_ist=dt.time(15, 0)))
    book = [held("s", 1, -130)]
    start = at_ist(DAY, 15, 0)
    assert len(rule.due(start, book, contract_of, nothing_pending)) == 1
    assert rule.due(start + 29 * NS_PER_S, book, contract_of, nothing_pending) == []
    assert rule.due(start + 30 * NS_PER_S, book, contract_of, lambda *key: 130) == []  # an order works on it
    (again,) = rule.due(start + 31 * NS_PER_S, book, contract_of, nothing_pending)
    assert (again.side, again.qty_units) == ("BUY", 130) and "closing again" in again.message
    assert rule.due(start + 32 * NS_PER_S, [], contract_of, nothing_pending) == []  # closed: forgotten


def test_disabled_closes_nothing_and_the_time_must_be_a_wall_time() -> None:
    rule = ExpiryClose(ExpiryCloseConfig(enabled=False))
    assert rule.due(at_ist(DAY, 15, 20), [held("s", 1)], contract_of, nothing_pending) == []
    with pytest.raises(msgspec.ValidationError, match="close_ist"):
        msgspec.convert({"close_ist": "15:10:00+05:30"}, ExpiryCloseConfig)
