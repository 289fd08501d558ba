"""The end-of-day summary from fills and positions."""

from __future__ import annotations

import datetime as dt

from actors.notify.actor import next_at_ns
from actors.notify.summary import DaySummary
from engine.model.ist import ist_ns
from ipc.messages import Fill, Position, RiskUsage

DAY = dt.date(2026, 11, 20)
T0 = ist_ns(DAY, dt.time(10, 0))


def fill(strategy: str, side: str, qty: int, price: int, charges: int) -> Fill:
    return Fill("f", "c", "v", strategy, 1, 2885, side, qty, price, charges, T0, T0)


def position(strategy: str, realised: int, unrealised: int) -> Position:
    return Position(strategy, 1, 2885, 0, 0, realised, unrealised, 0, T0, T0)


def test_summary_has_pnl_trades_and_charges_per_strategy():
    s = DaySummary()
    s.on_position(position("ema", 5_000, 0))  # carried from an earlier day
    s.on_fill(fill("ema", "BUY", 10, 100_00, 20_00))
    s.on_fill(fill("ema", "SELL", 10, 110_00, 25_00))
    s.on_position(position("ema", 15_000, 0))
    s.on_risk_usage(RiskUsage("ACTIVE", 2, 0, 2, 0, 0, 0, 0, 5_500, 0, 0, 10, 100, 100, 10, 0, 0, 0, T0))
    alert = s.take(ist_ns(DAY, dt.time(15, 45)))
    assert alert is not None and "2026-11-20" in alert.title
    lines = alert.body.splitlines()
    assert lines[0] == "ema: P&L Rs 100.00 (Rs 55.00 after charges), 2 trades, charges Rs 45.00"
    assert "account day P&L (risk, charges included): Rs 55.00" in alert.body


def test_the_next_day_counts_from_where_the_last_summary_ended():
    s = DaySummary()
    s.on_position(position("ema", 0, 1_000))
    s.take(T0)
    s.on_position(position("ema", 0, 3_000))
    alert = s.take(T0 + 86_400 * 10**9)
    assert alert is not None and alert.body.startswith("ema: P&L Rs 20.00")


def test_a_day_without_trades_or_positions_sends_nothing():
    assert DaySummary().take(T0) is None


def test_summary_time_is_the_next_one_on_the_ist_clock():
    at = dt.time(15, 45)
    assert next_at_ns(T0, at) == ist_ns(DAY, at)
    assert next_at_ns(ist_ns(DAY, at), at) == ist_ns(DAY + dt.timedelta(days=1), at)
