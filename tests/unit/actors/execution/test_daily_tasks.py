"""Execution's post-close cancel of leftover DAY orders (actors.execution.daily_tasks): which
orders are leftover. A protective stop is its manager's (it re-rests an expired stop at the next
open, so cancelling it here would leave a carried position bare), and an order of a segment whose
session is still open (MCX in the evening after NSE's post-close) is not leftover yet."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from actors.execution.daily_tasks import DailyTasks
from actors.execution.orders import new_order
from engine.model.calendar import SessionCalendar
from engine.model.ist import ist_ns
from engine.model.schedule import ScheduleConfig
from ipc.messages import DailyTaskFinished, DayPhaseBegan, OrderSpec, protective_stop_intent_id
from ipc.segments import Segment

MONDAY = dt.date(2026, 12, 21)
POST_CLOSE_NS = ist_ns(MONDAY, dt.time(15, 40))


class _Ctx:
    name = "execution"

    def __init__(self) -> None:
        self.config = SimpleNamespace(schedule=ScheduleConfig())
        self.published: list[Any] = []

    def now_ns(self) -> int:
        return POST_CLOSE_NS

    def publish(self, topic: bytes, msg: Any) -> None:
        self.published.append(msg)


class _Log:
    def info(self, *_a: Any, **_k: Any) -> None: ...


class _Execution(DailyTasks):
    """The mixin over what it uses of the actor: its open orders and a cancel that ends them."""

    def __init__(self, calendar: SessionCalendar | None) -> None:
        self.ctx = _Ctx()
        self.log = _Log()
        self.live = False
        self.orders = {}
        self._calendar = calendar
        self.cancelled: list[str] = []

    def _master_on_phase(self, msg: DayPhaseBegan) -> None:
        pass  # the master reload is tested with the schedule

    def _cancel(self, coid: str, by: str) -> None:
        self.cancelled.append(coid)
        del self.orders[coid]

    def add(self, coid: str, segment: int, *, validity: str = "DAY", intent_id: str = "") -> None:
        spec = OrderSpec(segment=segment, security_id=11, side="BUY", order_type="LIMIT", validity=validity,  # type: ignore[arg-type]
                         qty_units=1, price_paise=100_00)
        self.orders[coid] = new_order(spec, client_order_id=coid, intent_id=intent_id or f"s-{coid}", strategy="s")


def _post_close(ex: _Execution) -> DailyTaskFinished:
    ex.on_day_phase_began(DayPhaseBegan(MONDAY.isoformat(), "post_close", True, POST_CLOSE_NS))
    (finished,) = [m for m in ex.ctx.published if isinstance(m, DailyTaskFinished)]
    return finished


def test_post_close_cancels_closed_segments_day_orders_only_and_leaves_stops_to_their_manager() -> None:
    ex = _Execution(SessionCalendar())
    ex.add("nse-day", Segment.NSE_FNO)
    ex.add("nse-ioc", Segment.NSE_FNO, validity="IOC")
    ex.add("mcx-day", Segment.MCX_COMM)  # MCX trades until 23:30: not leftover at 15:40
    ex.add("stop", Segment.NSE_FNO, intent_id=protective_stop_intent_id("s", Segment.NSE_FNO, 11, 7))
    finished = _post_close(ex)
    assert ex.cancelled == ["nse-day"]
    assert set(ex.orders) == {"nse-ioc", "mcx-day", "stop"}
    assert finished.task == "cancel_day_orders" and finished.ok and finished.detail.startswith("1 DAY orders")


def test_on_the_always_open_synthetic_market_the_post_close_decides() -> None:
    ex = _Execution(None)
    ex.add("a", Segment.MCX_COMM)
    ex.add("b", Segment.NSE_EQ)
    _post_close(ex)
    assert sorted(ex.cancelled) == ["a", "b"]
