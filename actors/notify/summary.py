"""The end-of-day summary, built from what the bus carried since the last one. Pure.

Per strategy: trades (fills) and charges, exactly, from the ``Fill`` messages; P&L as the change of
realised + unrealised P&L over the period, from the ``Position`` messages execution publishes
(after each fill and as marks move). A position's starting value is the last one seen before the
period (carried from the previous summary), else the first one seen in it: after a restart of
the notify actor mid-day, what moved before its first sight of a position is not counted. Risk's
own day P&L for the whole account (``RiskUsage``) is added as the reference figure.
"""

from __future__ import annotations

import msgspec

from actors.notify.alerts import Alert, AlertKind
from actors.notify.rules import money
from engine.model.ist import ist_date
from ipc.messages import Fill, Position, PositionKey, RiskUsage, position_key


class _StrategyDay(msgspec.Struct):
    trades: int = 0
    charges_paise: int = 0


def _pnl_paise(pos: Position) -> int:
    return pos.realised_pnl_paise + pos.unrealised_pnl_paise


class DaySummary:
    def __init__(self) -> None:
        self._days: dict[str, _StrategyDay] = {}
        self._start_pnl: dict[PositionKey, int] = {}  # a position's P&L when the period began
        self._last_pnl: dict[PositionKey, int] = {}
        self._moved: set[PositionKey] = set()  # positions published in this period
        self._account_day_pnl_paise: int | None = None

    def on_fill(self, fill: Fill) -> None:
        day = self._days.setdefault(fill.strategy, _StrategyDay())
        day.trades += 1
        day.charges_paise += fill.charges_paise

    def on_position(self, pos: Position) -> None:
        key = position_key(pos)
        pnl = _pnl_paise(pos)
        self._start_pnl.setdefault(key, pnl)
        self._last_pnl[key] = pnl
        self._moved.add(key)

    def on_risk_usage(self, usage: RiskUsage) -> None:
        self._account_day_pnl_paise = usage.day_pnl_paise

    def take(self, now_ns: int) -> Alert | None:
        """The summary of the period (None when nothing traded and no position moved), and a new
        period begins: each position's latest P&L is the next period's start."""
        strategies = sorted(set(self._days) | {key[0] for key in self._moved})
        alert = None
        if strategies:
            pnl: dict[str, int] = {}
            for key in self._moved:
                pnl[key[0]] = pnl.get(key[0], 0) + self._last_pnl[key] - self._start_pnl[key]
            lines = []
            for name in strategies:
                day = self._days.get(name, _StrategyDay())
                gross = pnl.get(name, 0)
                lines.append(f"{name}: P&L {money(gross)} ({money(gross - day.charges_paise)} after charges), "
                             f"{day.trades} trades, charges {money(day.charges_paise)}")
            total_trades = sum(d.trades for d in self._days.values())
            total_charges = sum(d.charges_paise for d in self._days.values())
            gross = sum(pnl.values())
            lines.append(f"total: P&L {money(gross)} ({money(gross - total_charges)} after charges), "
                         f"{total_trades} trades, charges {money(total_charges)}")
            if self._account_day_pnl_paise is not None:
                lines.append(f"account day P&L (risk, charges included): {money(self._account_day_pnl_paise)}")
            alert = Alert(kind=AlertKind.DAY_SUMMARY, severity="info", subject=ist_date(now_ns).isoformat(),
                          title=f"Shikra: day summary {ist_date(now_ns).isoformat()}", body="\n".join(lines),
                          ts_ns=now_ns)
        self._days.clear()
        self._start_pnl = dict(self._last_pnl)
        self._moved.clear()
        return alert
