"""The execution actor driven in-process (a fake context, a real ledger in a temp dir): positions
marked to the paper book, DAY expiry at the exchange's session close, MARKET orders after a restart.
(Random orders while execution is killed, as real processes: tests/daemon/test_execution.py.)

``ExecHarness`` (also used by the order-group, risk and warming tests) runs ``ExecutionActor`` with
a context that records what it publishes and holds its timers until the test runs them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import msgspec
import pytest

from actors.execution.actor import ExecutionActor
from actors.execution.marks import mark_x2_paise, unrealised_pnl_paise
from actors.execution.venue import BookView
from engine.model.calendar import SegmentHours, SessionCalendar
from engine.model.ist import ist_ns
from engine.config import Config
from engine.logs import get_logger
from ipc.messages import (Depth, Message, OrderEvent, OrderIntent, OrderSpec, OrderState, Position, Quote, SubmitOrder,
                          Tick)
from ipc.segments import Segment
from tests.support.ledger import START_CASH

FRIDAY = dt.date(2026, 11, 20)  # an NSE trading day


# --------------------------------------------------------------------------------------------
# The in-process harness
# --------------------------------------------------------------------------------------------


class FakeTimer:
    def __init__(self, delay_s: float, interval_s: float, fn: Callable[[], None]) -> None:
        self.delay_s = delay_s
        self.interval_s = interval_s
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeCtx:
    """What the host gives an actor, minus sockets: publishes are recorded, timers wait for the
    test (``run_soon`` runs the zero-delay one-shots, as the host's next loop turn would)."""

    name = "execution"

    def __init__(self, config: Config, data_dir: Path) -> None:
        self.config = config
        self.data_dir = data_dir
        self.run_dir = data_dir / "run"
        self.log = get_logger("execution")
        self.kill_switch_engaged = False
        self.published: list[tuple[bytes, Message]] = []
        self.sent: list[tuple[str, Message]] = []
        self.timers: list[FakeTimer] = []

    def publish(self, topic: bytes, msg: Message) -> None:
        self.published.append((topic, msg))

    def send(self, target: str, msg: Message, topic: bytes = b"") -> None:
        self.sent.append((target, msg))

    def reply(self, sender: str, msg: Message) -> None:
        self.sent.append((sender, msg))

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(delay_s, 0.0, fn)
        self.timers.append(timer)
        return timer

    def every(self, interval_s: float, fn: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(interval_s, interval_s, fn)
        self.timers.append(timer)
        return timer

    def watch_fd(self, fd: int, fn: Callable[[], None]) -> None: ...
    def unwatch_fd(self, fd: int) -> None: ...

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def request_stop(self, reason: str) -> None: ...

    def fire_one_shots(self) -> None:
        """Run every pending one-shot timer now, whatever its delay (time has passed)."""
        due = [t for t in self.timers if not t.cancelled and t.interval_s == 0]
        for timer in due:
            self.timers.remove(timer)
            timer.fn()
        self.run_soon()

    def run_soon(self) -> None:
        while True:
            due = [t for t in self.timers if not t.cancelled and t.interval_s == 0 and t.delay_s == 0]
            if not due:
                return
            for timer in due:
                self.timers.remove(timer)
                timer.fn()


def actor_config(market_hours: str = "always", cash_paise: int = START_CASH) -> Config:
    source = "synthetic" if market_hours == "always" else "replay"
    return msgspec.convert({
        "execution": {"starting_cash_paise": cash_paise},
        "ledger": {"durability": "os"},
        "risk": {"market_hours": market_hours},
        "feed": {"source": source, "replay": {"path": "unused.cap"}},
    }, Config)


class ExecHarness:
    def __init__(self, data_dir: Path, market_hours: str = "always") -> None:
        self.data_dir = data_dir
        self.ctx = FakeCtx(actor_config(market_hours), data_dir)
        self.actor = ExecutionActor(self.ctx)
        self.actor.on_start()
        self.seq = 0

    @property
    def ledger(self) -> Any:
        return self.actor.ledger

    def close(self) -> None:
        self.actor.on_stop()

    def instrument(self, symbol: str) -> Any:
        inst = self.actor.table.by_symbol(symbol)
        assert inst is not None, symbol
        return inst

    def nifty_options(self) -> dict[tuple[int, str], Any]:
        """The nearest NIFTY expiry's options on NSE_FNO by (strike paise, CE/PE)."""
        rows = [i for i in self.actor.table if i.instrument == "OPTIDX" and i.underlying == "NIFTY"
                and i.segment == Segment.NSE_FNO]
        first = min(r.expiry_yyyymmdd for r in rows)
        return {(r.strike_paise, r.option_type): r for r in rows if r.expiry_yyyymmdd == first}

    def depth(self, inst: Any, bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]]) -> None:
        now = time.time_ns()
        self.actor.on_depth(Depth(inst.segment, inst.security_id, "both", [p for p, _ in bids], [q for _, q in bids],
                                  [1] * len(bids), [p for p, _ in asks], [q for _, q in asks], [1] * len(asks),
                                  now, now))

    def tick(self, inst: Any, ltp_paise: int) -> None:
        now = time.time_ns()
        self.actor.on_tick(Tick(inst.segment, inst.security_id, ltp_paise, now, now))

    def intent(self, inst: Any, side: str, qty_units: int, *, order_type: str = "MARKET", price_paise: int = 0,
               validity: str = "DAY", strategy: str = "s1", group_id: str = "", created_ns: int = 0) -> OrderIntent:
        self.seq += 1
        now = time.time_ns()
        spec = OrderSpec(segment=inst.segment, security_id=inst.security_id, side=side,  # type: ignore[arg-type]
                         order_type=order_type, validity=validity, qty_units=qty_units,  # type: ignore[arg-type]
                         price_paise=price_paise)
        return OrderIntent(f"{strategy}-t-{self.seq}", strategy, spec, now, now, created_ns or now, False, group_id)

    def submit(self, intent: OrderIntent) -> OrderEvent:
        self.actor.on_submit_order(SubmitOrder(intent, time.time_ns()))
        coid = self.ledger.client_order_id_for(intent.intent_id)
        assert coid is not None
        return self.ledger.order(coid)

    def published(self, kind: type) -> list[Any]:
        return [m for _t, m in self.ctx.published if isinstance(m, kind)]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


# --------------------------------------------------------------------------------------------
# Unrealised P&L marked to the paper book
# --------------------------------------------------------------------------------------------


def view(bids: Sequence[tuple[int, int]] = (), asks: Sequence[tuple[int, int]] = (), ltp: int = 0) -> BookView:
    return BookView(tuple(p for p, _ in bids), tuple(q for _, q in bids), tuple(p for p, _ in asks),
                    tuple(q for _, q in asks), ltp)


def test_mark_is_the_last_trade_then_the_mid_of_the_best_levels():
    assert mark_x2_paise(view([(9990, 5)], [(10010, 5)], ltp=10100)) == 20200
    assert mark_x2_paise(view([(9990, 5)], [(10015, 5)])) == 20005  # mid 100.025: exact as x2
    # A level emptied by our own take does not set the mid.
    assert mark_x2_paise(view([(9990, 0), (9985, 3)], [(10010, 5)])) == 9985 + 10010
    assert mark_x2_paise(view([(9990, 5)], [])) == 0
    assert mark_x2_paise(None) == 0


def test_unrealised_pnl_is_mark_times_net_minus_open_cost_for_both_sides():
    # Long 10 bought for 1000.00: mark 101.50 -> +15.00.
    assert unrealised_pnl_paise(10, 100_000, 2 * 10_150) == 1_500
    # Short 10 sold for 1000.00 (cost -100000): mark 101.50 -> -15.00.
    assert unrealised_pnl_paise(-10, -100_000, 2 * 10_150) == -1_500
    # Odd mid x odd qty: 3 x 100.025 = 300.075 rounds half-even to 300.08 -> +0.08 over 300.00.
    assert unrealised_pnl_paise(3, 30_000, 20_005) == 8
    assert unrealised_pnl_paise(0, 0, 20_000) == 0
    assert unrealised_pnl_paise(5, 50_000, 0) == 0  # no mark: nothing claimed


def test_positions_published_after_fills_and_on_the_mark_timer_carry_unrealised_pnl(data_dir):
    h = ExecHarness(data_dir)
    rel = h.instrument("RELIANCE")
    h.depth(rel, bids=[(99_95, 100)], asks=[(100_05, 100)])
    h.submit(h.intent(rel, "BUY", 10))  # 10 @ 100.05, no trade seen yet: mid 100.00
    after_fill = h.published(Position)[-1]
    assert (after_fill.net_qty_units, after_fill.open_cost_paise) == (10, 100_050)
    assert after_fill.unrealised_pnl_paise == 10 * 100_00 - 100_050
    h.tick(rel, 101_50)
    h.actor._publish_marks(time.time_ns())
    marked = h.published(Position)[-1]
    assert marked.unrealised_pnl_paise == 10 * 101_50 - 100_050
    count = len(h.published(Position))
    h.actor._publish_marks(time.time_ns())  # nothing moved: nothing re-published
    assert len(h.published(Position)) == count
    # The ledger keeps no marks.
    assert h.ledger.position("s1", rel.segment, rel.security_id).unrealised_pnl_paise == 0
    h.close()


# --------------------------------------------------------------------------------------------
# DAY expiry at the session close
# --------------------------------------------------------------------------------------------


def resting_buy(h: ExecHarness, inst: Any, placed_ns: int) -> OrderEvent:
    h.depth(inst, bids=[(99_00, 100)], asks=[(101_00, 100)])
    order = h.submit(h.intent(inst, "BUY", inst.lot_size_units, order_type="LIMIT", price_paise=98_00,
                              created_ns=placed_ns))
    assert order.state is OrderState.ACCEPTED
    return order


# The expiry at the close on execution's own timer, on a weekday and over a weekend:
# tests/test_time_rules_sim.py.


def test_only_the_segment_that_closed_expires_when_another_still_trades(data_dir):
    h = ExecHarness(data_dir, market_hours="exchange")
    # A calendar where NSE_FNO closes at 16:00 instead of 15:30.
    h.actor._calendar = SessionCalendar(hours={Segment.NSE_EQ: SegmentHours(), Segment.NSE_FNO: SegmentHours(None, dt.time(16, 0))})
    rel = h.instrument("RELIANCE")
    option = next(iter(h.nifty_options().values()))
    placed = ist_ns(FRIDAY, dt.time(10, 0))
    equity = resting_buy(h, rel, placed)
    fno = resting_buy(h, option, placed)
    assert h.actor._check_session_end(ist_ns(FRIDAY, dt.time(15, 30))) == 1
    assert h.ledger.order(equity.client_order_id).state is OrderState.EXPIRED
    assert h.ledger.order(fno.client_order_id).state is OrderState.ACCEPTED
    assert h.actor._check_session_end(ist_ns(FRIDAY, dt.time(16, 0))) == 1
    assert h.ledger.order(fno.client_order_id).state is OrderState.EXPIRED
    assert h.actor.venue.open_order_ids() == ()
    assert h.ledger.verify() == []
    h.close()


def test_synthetic_market_never_expires_day_orders(data_dir):
    h = ExecHarness(data_dir, market_hours="always")
    rel = h.instrument("RELIANCE")
    order = resting_buy(h, rel, ist_ns(FRIDAY, dt.time(10, 0)))
    assert h.actor._check_session_end(ist_ns(FRIDAY + dt.timedelta(days=30), dt.time(15, 30))) == 0
    assert h.ledger.order(order.client_order_id).state is OrderState.ACCEPTED
    h.close()


# --------------------------------------------------------------------------------------------
# After a restart, a MARKET order waits for its instrument's first depth
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("last_price", ["tick", "quote"])
def test_market_order_after_a_restart_waits_for_first_depth_when_only_a_last_price_arrived(data_dir, last_price):
    first = ExecHarness(data_dir)
    rel = first.instrument("RELIANCE")
    first.depth(rel, bids=[(99_00, 100)], asks=[(101_00, 100)])
    first.submit(first.intent(rel, "BUY", rel.lot_size_units))  # the ledger now holds orders
    first.close()

    h = ExecHarness(data_dir)  # a restarted execution: its paper venue knows no market yet
    # A trade arrives before any depth (a tick, or a quote packet): the venue has a last price, no depth.
    if last_price == "tick":
        h.tick(rel, 100_00)
    else:
        now = time.time_ns()
        h.actor.on_quote(Quote(rel.segment, rel.security_id, 100_00, 1, 100_00, 10, 0, 0, 100_00, 100_00, 100_00,
                               100_00, now, now))
    order = h.submit(h.intent(rel, "BUY", rel.lot_size_units, strategy="s2"))
    assert order.state is OrderState.SUBMITTED, "a MARKET order is not rejected for want of depth"
    assert not [e for e in h.published(OrderEvent) if e.state is OrderState.REJECTED]
    h.depth(rel, bids=[(99_00, 100)], asks=[(101_00, 100)])
    assert h.ledger.order(order.client_order_id).state is OrderState.FILLED
    h.close()
