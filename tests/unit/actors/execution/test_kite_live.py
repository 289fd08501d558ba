"""The execution actor on the live Kite venue, in-process (a fake context, a real ledger in a temp
dir) against the loopback fake Kite through the real kiteconnect package: place -> fill ->
reconcile with an order placed outside Shikra (EXTERNAL), a restart in the middle of an order (found
by its tag, never sent again), positions that keep disagreeing (REDUCING), and the session: no
token means nothing is sent and the operator is told (NO_TOKEN), a login reaches the running actor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.execution.kite_broker_session import NO_TOKEN, token_expiry_ns
from actors.execution.kite_wire import kite_tag
from actors.execution.reconcile import EXTERNAL_STRATEGY
from engine.config import Config
from engine.kite_session import API_KEY_ENV_VAR, KiteSession, write_session
from ipc.messages import (
    BrokerSessionStatus,
    DailyTaskFinished,
    DayPhaseBegan,
    OrderEvent,
    OrderIntent,
    OrderSpec,
    OrderState,
    ReduceRisk,
    SubmitOrder,
)
from tests.support.fake_kite import API_KEY, TOKEN, FakeKite
from tests.support.live_execution import LiveExecution
from tests.unit.actors.execution.test_actor import FakeCtx

RELIANCE = (1, 2885)  # the sample master's NSE equities carry Kite's trading symbols
SBIN = (1, 3045)


def live_config(fake: FakeKite, **kite: Any) -> Config:
    return msgspec.convert({
        "ledger": {"durability": "os"},
        "risk": {"market_hours": "always"},
        "feed": {"source": "synthetic"},
        "execution": {"venue": "kite", "kite": {
            "rest_url": fake.rest_url, "ticker_url": fake.ticker_url, "order_book_poll_s": 0.1,
            "retry_backoff_s": 0.01, "reconcile_retry_initial_s": 0.05, "stream_reconnect_initial_s": 0.05,
            "session_cache_check_s": 0.01, **kite}},
    }, Config)


def login(data_dir: Path, token: str = TOKEN) -> None:
    now = time.time_ns()
    write_session(data_dir, KiteSession(api_key=API_KEY, access_token=token, user_id="ZX1234", obtained_ns=now,
                                        expires_ns=token_expiry_ns(now)))


class Live(LiveExecution):
    """An ExecutionActor on the kite venue; ``until`` polls the venue as the host's loop would."""

    def __init__(self, data_dir: Path, fake: FakeKite, *, logged_in: bool = True, **kite: Any) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "run").mkdir(exist_ok=True)
        if logged_in:
            login(data_dir)
        super().__init__(FakeCtx(live_config(fake, **kite), data_dir), fake)

    def reconcile(self) -> None:
        before = self.actor.venue.stats().snapshots
        self.until(lambda: self.actor.venue.request_snapshot(time.time_ns()), "snapshot requested")
        self.until(lambda: self.actor.venue.stats().snapshots > before, "reconciliation")
        self.actor._poll_venue()

    def intent(self, inst: tuple[int, int], side: str, qty: int, price_paise: int) -> OrderIntent:
        self.seq += 1
        now = time.time_ns()
        spec = OrderSpec(segment=inst[0], security_id=inst[1], side=side, order_type="LIMIT",  # type: ignore[arg-type]
                         qty_units=qty, price_paise=price_paise)
        return OrderIntent(f"s1-t-{self.seq}", "s1", spec, now, now, now)

    def submit(self, intent: OrderIntent) -> None:
        self.actor.on_submit_order(SubmitOrder(intent, time.time_ns()))

    def order_of(self, intent: OrderIntent) -> OrderEvent | None:
        coid = self.ledger.client_order_id_for(intent.intent_id)
        return self.ledger.order(coid) if coid else None

    def published(self, kind: type) -> list[Any]:
        return [m for _t, m in self.ctx.published if isinstance(m, kind)]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKite]:
    monkeypatch.setenv(API_KEY_ENV_VAR, API_KEY)
    with FakeKite() as server:
        yield server


@pytest.fixture
def live(tmp_path: Path, fake: FakeKite) -> Iterator[Live]:
    harness = Live(tmp_path / "data", fake)
    harness.until(lambda: harness.actor.trading_enabled, "first reconciliation")
    yield harness
    harness.close()


def test_place_fill_reconcile_records_the_missed_fill_once_and_an_order_placed_outside(live: Live) -> None:
    fake = live.fake
    intent = live.intent(RELIANCE, "BUY", 10, 150000)
    live.submit(intent)
    live.until(lambda: (o := live.order_of(intent)) is not None and o.state is OrderState.ACCEPTED, "accepted")
    order = live.order_of(intent)
    assert order is not None
    (body,) = fake.place_requests()
    assert (body["tag"], body["tradingsymbol"], body["exchange"]) == (kite_tag(order.client_order_id), "RELIANCE",
                                                                      "NSE")
    vid = order.venue_order_id
    fake.trade(vid, 4, 150000)  # pushed
    live.until(lambda: live.order_of(intent).filled_qty_units == 4, "the postback's fill")  # type: ignore[union-attr]
    fake.trade(vid, 6, 149950, push=False)  # the postback is lost
    outside = fake.external_order("SBIN", 5, 60000, side="SELL", exchange="NSE", product="MIS")
    fake.trade(outside, 5, 60010, push=False)
    live.reconcile()
    done = live.order_of(intent)
    assert done is not None and done.state is OrderState.FILLED
    assert done.filled_value_paise == 4 * 150000 + 6 * 149950  # the trade book's own prices
    external = live.ledger.order(f"EXT-{outside}")
    assert external is not None and external.strategy == EXTERNAL_STRATEGY and external.state is OrderState.FILLED
    assert external.reason_code == "EXTERNAL"
    assert live.ledger.position(EXTERNAL_STRATEGY, *SBIN).net_qty_units == -5
    assert live.ledger.position("s1", *RELIANCE).net_qty_units == 10
    before = dict(live.ledger.fills())
    live.reconcile()  # again: nothing new
    assert dict(live.ledger.fills()) == before and live.ledger.verify() == []


def test_a_restart_mid_order_finds_the_order_by_its_tag_and_never_sends_it_again(tmp_path: Path,
                                                                                   fake: FakeKite) -> None:
    first = Live(tmp_path / "data", fake)
    first.until(lambda: first.actor.trading_enabled, "first reconciliation")
    intent = first.intent(RELIANCE, "BUY", 10, 150000)
    first.submit(intent)
    first.until(lambda: (o := first.order_of(intent)) is not None and o.state is OrderState.ACCEPTED, "accepted")
    vid = first.order_of(intent).venue_order_id  # type: ignore[union-attr]
    first.close()
    fake.trade(vid, 10, 150100, push=False)  # while the engine was down
    second = Live(tmp_path / "data", fake, logged_in=False)  # the cached login is still there
    try:
        second.until(lambda: (o := second.order_of(intent)) is not None and o.state is OrderState.FILLED, "filled")
        assert len(fake.place_requests()) == 1
        assert second.ledger.position("s1", *RELIANCE).net_qty_units == 10
    finally:
        second.close()


def test_positions_that_keep_disagreeing_put_trading_in_reducing(live: Live) -> None:
    live.fake.carry_position("NSE", "RELIANCE", "CNC", 25)  # held from before, unknown to us
    live.reconcile()
    live.reconcile()
    (reduce,) = [m for t, m in live.ctx.sent if isinstance(m, ReduceRisk) and t == "risk"]
    assert reduce.reason_code == "POSITION_MISMATCH" and "NSE_EQ:2885 CNC: ledger +0, Kite +25" in reduce.detail


def test_without_a_login_nothing_is_sent_the_operator_is_told_and_a_login_is_taken_up(tmp_path: Path,
                                                                                       fake: FakeKite) -> None:
    h = Live(tmp_path / "data", fake, logged_in=False, startup_hold_s=60.0)
    try:
        (status,) = h.published(BrokerSessionStatus)
        assert (status.broker, status.ok, status.reason_code) == ("kite", False, NO_TOKEN)  # notify alerts on it
        intent = h.intent(RELIANCE, "BUY", 10, 150000)
        h.submit(intent)
        h.until(lambda: h.actor._reconcile_failures >= 1, "a failed reconciliation")
        assert "shikra kite login" in h.actor._last_error and h.order_of(intent) is None and fake.requests == []
        h.actor.on_day_phase_began(DayPhaseBegan("2026-12-07", "pre_open", True, time.time_ns()))
        h.until(lambda: any(m.task == "broker_session" for m in h.published(DailyTaskFinished)), "pre-open answered")
        (task,) = [m for m in h.published(DailyTaskFinished) if m.task == "broker_session"]
        assert (task.ok, task.reason_code) == (False, NO_TOKEN)
        login(tmp_path / "data")  # `shikra kite login`
        h.until(lambda: h.published(BrokerSessionStatus)[-1].ok, "the login taken up")
        h.ctx.fire_one_shots()  # the reconciliation retry comes due
        h.until(lambda: h.actor.trading_enabled, "trading enabled")
        h.until(lambda: len(fake.place_requests()) == 1, "the held intent placed")
    finally:
        h.close()
