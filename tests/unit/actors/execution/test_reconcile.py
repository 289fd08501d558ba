"""The execution actor on the live Dhan venue, in-process (a fake context, a real ledger in a temp
dir) against the loopback fake Dhan through the real dhanhq package: reconciliation finds a
missed fill and an external order, positions that keep disagreeing put trading in REDUCING (a real
risk actor takes the command), and nothing is sent before the first reconciliation succeeds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.execution.config import SettlementConfig
from actors.execution.reconcile import EXTERNAL_STRATEGY
from actors.execution.venue_status import read_venue_status, render_venue_status
from actors.risk.actor import RiskActor
from engine.config import Config
from engine.credentials import CLIENT_ID_ENV_VAR, PIN_ENV_VAR, TOKEN_ENV_VAR, TOTP_SECRET_ENV_VAR
from engine.model.instruments import date_from_yyyymmdd
from ipc.messages import (
    BrokerSessionStatus,
    DailyTaskFinished,
    DayPhaseBegan,
    OrderDenied,
    OrderEvent,
    OrderIntent,
    OrderSpec,
    OrderState,
    ReduceRisk,
    RiskStateChanged,
    SubmitOrder,
    Tick,
)
from tests.support.fake_dhan import CLIENT_ID, PIN, TOKEN, TOTP_SECRET, FakeDhan
from tests.support.sim import at_ist
from tests.support.live_execution import SAFETY_TIMEOUT_S, LiveExecution
from tests.support.wait import eventually, stepping
from tests.unit.actors.execution.test_actor import FakeCtx

RELIANCE = (1, 2885)
SBIN = (1, 3045)


def live_config(fake: FakeDhan, **dhan: Any) -> Config:
    return msgspec.convert({
        "ledger": {"durability": "os"},
        "risk": {"market_hours": "always"},
        "feed": {"source": "synthetic"},
        "execution": {"venue": "dhan", "dhan": {
            "rest_url": fake.rest_url, "order_update_url": fake.ws_url, "order_book_poll_s": 0.1,
            "retry_backoff_s": 0.01, "reconcile_retry_initial_s": 0.05, "stream_reconnect_initial_s": 0.05,
            **dhan}},
    }, Config)


class Live(LiveExecution):
    """An ExecutionActor on the dhan venue; ``until`` polls the venue as the host's loop would."""

    def __init__(self, data_dir: Path, fake: FakeDhan, **dhan: Any) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "run").mkdir(exist_ok=True)
        super().__init__(FakeCtx(live_config(fake, **dhan), data_dir), fake)

    def retry_timers(self) -> None:
        """Run the one-shot timers (reconciliation retries), as time passing would."""
        self.ctx.fire_one_shots()

    def reconcile(self) -> None:
        """One full reconciliation, start to end."""
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

    def audit(self, action: str) -> list[Any]:
        with self.ledger.reader().snapshot() as snap:
            return [row for _seq, row in snap.audit(1, 10_000) if row.action == action]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDhan]:
    monkeypatch.setenv(CLIENT_ID_ENV_VAR, CLIENT_ID)
    monkeypatch.setenv(TOKEN_ENV_VAR, TOKEN)
    with FakeDhan() as server:
        yield server


@pytest.fixture
def live(tmp_path: Path, fake: FakeDhan) -> Iterator[Live]:
    harness = Live(tmp_path / "data", fake)
    harness.until(lambda: harness.actor.trading_enabled, "first reconciliation")
    yield harness
    harness.close()


# The start-up gate --------------------------------------------------------------------------------


def test_no_order_goes_out_before_the_first_reconciliation_and_held_ones_go_after_it(tmp_path: Path,
                                                                                       fake: FakeDhan) -> None:
    fake.set_down(True)
    h = Live(tmp_path / "data", fake)
    try:
        intent = h.intent(RELIANCE, "BUY", 10, 150000)
        h.submit(intent)
        h.until(lambda: h.actor._reconcile_failures >= 1, "a failed reconciliation")
        h.submit(intent)  # risk's re-send while held: still one
        assert not h.actor.trading_enabled and h.order_of(intent) is None and fake.place_requests() == []
        status = read_venue_status(h.ctx.run_dir)
        assert status is not None and not status.trading_enabled and status.held_intents == 1
        assert "orders: transport" in status.last_error
        assert "NOT TRADING until reconciled" in render_venue_status(status, time.time_ns())
        fake.set_down(False)
        h.retry_timers()  # the backoff retry comes due
        h.until(lambda: h.actor.trading_enabled, "trading enabled")
        h.until(lambda: len(fake.place_requests()) == 1, "the held intent placed")
        order = h.order_of(intent)
        assert order is not None and fake.place_requests()[0]["correlationId"] == order.client_order_id
        status = read_venue_status(h.ctx.run_dir)
        assert status is not None and status.trading_enabled and status.failed_attempts == 0
    finally:
        h.close()


def test_intent_held_past_the_limit_is_recorded_rejected_with_the_reason(tmp_path: Path, fake: FakeDhan) -> None:
    fake.set_down(True)
    h = Live(tmp_path / "data", fake, startup_hold_s=0.05)
    try:
        intent = h.intent(RELIANCE, "BUY", 10, 150000)
        h.submit(intent)
        h.until(lambda: h.actor._reconcile_failures >= 1, "a failed reconciliation")
        order = eventually(stepping(h.actor._live_expire_held, lambda: (o := h.order_of(intent)) is not None
                                    and o.state is OrderState.REJECTED and o),
                           "the intent rejected once its 0.05 s hold is over", SAFETY_TIMEOUT_S, poll_s=0.005)
        assert order.reason_code == "NOT_RECONCILED"
        assert "first reconciliation with Dhan" in order.reason and "transport" in order.reason
        assert fake.place_requests() == []
    finally:
        h.close()


# Missed fills and external orders -------------------------------------------------------------------


def test_reconciliation_records_a_missed_fill_once_and_an_external_order(live: Live) -> None:
    fake = live.fake
    intent = live.intent(RELIANCE, "BUY", 10, 150000)
    live.submit(intent)
    live.until(lambda: (o := live.order_of(intent)) is not None and o.state is OrderState.ACCEPTED, "accepted")
    order = live.order_of(intent)
    assert order is not None
    vid = order.venue_order_id
    fake.trade(vid, 4, 150000, push=False)  # the stream never says
    fake.trade(vid, 6, 149950, push=False)
    ext = fake.add_order("web-7781", 5, 60000, security_id=SBIN[1], segment="NSE_EQ", side="SELL")
    fake.trade(ext, 5, 60010, push=False)
    live.reconcile()
    done = live.order_of(intent)
    assert done is not None and done.state is OrderState.FILLED
    assert done.filled_value_paise == 4 * 150000 + 6 * 149950
    fills = live.ledger.fills()
    assert {f.fill_id for f in fills.values() if f.client_order_id == done.client_order_id} == {f"{vid}-4",
                                                                                                f"{vid}-10"}
    external = live.ledger.order(f"EXT-{ext}")
    assert external is not None and external.strategy == EXTERNAL_STRATEGY and external.state is OrderState.FILLED
    assert external.reason_code == "EXTERNAL" and "web-7781" in external.reason
    assert live.ledger.position(EXTERNAL_STRATEGY, *SBIN).net_qty_units == -5
    assert live.ledger.position("s1", *RELIANCE).net_qty_units == 10
    assert len(live.audit("reconcile_external_order")) == 1
    published = [m for _t, m in live.ctx.published if isinstance(m, OrderEvent) and m.strategy == EXTERNAL_STRATEGY]
    assert published and published[-1].client_order_id == f"EXT-{ext}"
    # The stream's late copy and another reconciliation change nothing.
    before = dict(live.ledger.fills())
    fake.push(vid)
    fake.push(ext)
    live.reconcile()
    assert dict(live.ledger.fills()) == before and len(live.audit("reconcile_external_order")) == 1
    assert live.ledger.verify() == []


def test_trade_of_an_order_the_ledger_closed_is_still_recorded(live: Live) -> None:
    fake = live.fake
    intent = live.intent(RELIANCE, "BUY", 10, 150000)
    live.submit(intent)
    live.until(lambda: (o := live.order_of(intent)) is not None and o.state is OrderState.ACCEPTED, "accepted")
    vid = live.order_of(intent).venue_order_id  # type: ignore[union-attr]
    fake.set_status(vid, "CANCELLED")  # the stream says cancelled, with nothing traded ...
    live.until(lambda: live.order_of(intent).state is OrderState.CANCELED, "cancelled")  # type: ignore[union-attr]
    fake.trade(vid, 3, 150000, push=False)  # ... but the exchange had traded 3 before the cancel
    fake.set_status(vid, "CANCELLED", push=False)
    live.reconcile()
    order = live.order_of(intent)
    assert order is not None and order.filled_qty_units == 3 and order.state is OrderState.CANCELED
    assert live.ledger.position("s1", *RELIANCE).net_qty_units == 3
    assert len(live.audit("reconcile_missed_fills")) == 1


# Positions ------------------------------------------------------------------------------------------


def test_positions_that_keep_disagreeing_put_trading_in_reducing(live: Live, tmp_path: Path) -> None:
    live.fake.carry_position("NSE_EQ", RELIANCE[1], 25)  # a position from before today, unknown to us
    live.reconcile()
    assert not [m for _t, m in live.ctx.sent if isinstance(m, ReduceRisk)]  # once could be a race
    live.reconcile()
    (reduce,) = [m for t, m in live.ctx.sent if isinstance(m, ReduceRisk) and t == "risk"]
    assert reduce.reason_code == "POSITION_MISMATCH" and "NSE_EQ:2885 MARGIN: ledger +0, Dhan +25" in reduce.detail
    assert len(live.audit("reconcile_positions_disagree")) == 1
    status = read_venue_status(live.ctx.run_dir)
    assert status is not None and status.positions_disagree == ["NSE_EQ:2885 MARGIN: ledger +0, Dhan +25"]
    live.reconcile()  # the same difference again: not reported twice
    assert len([m for _t, m in live.ctx.sent if isinstance(m, ReduceRisk)]) == 1

    # A real risk actor takes the command: REDUCING, announced, and an opening order is denied.
    risk_ctx = FakeCtx(live.ctx.config, tmp_path / "risk")
    (tmp_path / "risk" / "run").mkdir(parents=True)
    risk_ctx.name = "risk"
    risk = RiskActor(risk_ctx)
    risk.on_start()
    risk.on_reduce_risk(reduce)
    (changed,) = [m for _t, m in risk_ctx.published if isinstance(m, RiskStateChanged)]
    assert changed.state == "REDUCING" and changed.reason_code == "POSITION_MISMATCH"
    assert any(isinstance(m, RiskStateChanged) for t, m in risk_ctx.sent if t == "execution")
    now = time.time_ns()
    risk.on_tick(Tick(RELIANCE[0], RELIANCE[1], 150000, now, now))
    risk.on_order_intent(live.intent(RELIANCE, "BUY", 1, 150000))
    (denied,) = [m for _t, m in risk_ctx.published if isinstance(m, OrderDenied)]
    assert denied.reason_code == "REDUCING"


# Slicing through the OMS, and a restart in the middle of a sliced order ------------------------------


def nifty_future(live: Live) -> Any:
    (fut,) = [i for i in live.actor.table if i.instrument == "FUTIDX" and i.underlying == "NIFTY"]
    assert (fut.lot_size_units, fut.freeze_qty_units) == (65, 1800)
    return fut


def test_order_above_the_freeze_qty_is_one_order_in_the_ledger_and_children_at_dhan_across_a_restart(
        tmp_path: Path, fake: FakeDhan) -> None:
    fake.funds_rupees = 20_000_000.0  # the margin for 1950 units at 26000 rupees
    h = Live(tmp_path / "data", fake)
    h.until(lambda: h.actor.trading_enabled, "first reconciliation")
    fut = nifty_future(h)
    intent = h.intent((fut.segment, fut.security_id), "BUY", 65 * 30, 2_600_000)  # 1950 units
    h.submit(intent)
    h.until(lambda: len(fake.place_requests()) == 2, "children placed")
    h.until(lambda: h.order_of(intent).state is OrderState.ACCEPTED, "accepted")  # type: ignore[union-attr]
    coid = h.order_of(intent).client_order_id  # type: ignore[union-attr]
    assert sorted((b["correlationId"], b["quantity"]) for b in fake.place_requests()) == [
        (f"{coid}_1", 1755), (f"{coid}_2", 195)]
    (first,) = fake.order_by_correlation(f"{coid}_1")
    (second,) = fake.order_by_correlation(f"{coid}_2")
    fake.trade(first["orderId"], 1000, 2_600_000)
    h.until(lambda: h.order_of(intent).filled_qty_units == 1000, "first fill")  # type: ignore[union-attr]
    h.close()  # execution goes away with the order half done ...

    fake.trade(first["orderId"], 755, 2_600_500)  # ... and Dhan trades the rest meanwhile
    fake.trade(second["orderId"], 195, 2_599_500)
    h2 = Live(tmp_path / "data", fake)
    try:
        h2.until(lambda: h2.order_of(intent).state is OrderState.FILLED, "filled after restart")  # type: ignore[union-attr]
        h2.reconcile()
        order = h2.order_of(intent)
        assert order is not None and order.spec.qty_units == 1950 and order.filled_qty_units == 1950
        assert order.filled_value_paise == 1000 * 2_600_000 + 755 * 2_600_500 + 195 * 2_599_500
        fills = sorted(f.fill_id for f in h2.ledger.fills().values() if f.client_order_id == coid)
        assert fills == sorted([f"{first['orderId']}-1000", f"{first['orderId']}-1755", f"{second['orderId']}-195"])
        assert len(fake.place_requests()) == 2  # nothing placed again
        assert not [c for c in h2.ledger.orders() if c.startswith("EXT-")]
        assert h2.ledger.position("s1", fut.segment, fut.security_id).net_qty_units == 1950
        assert h2.ledger.verify() == []
    finally:
        h2.close()


# The broker session -------------------------------------------------------------------------------


def _published(h: Live, kind: type) -> list[Any]:
    return [m for _t, m in h.ctx.published if isinstance(m, kind)]


def _session_tasks(h: Live) -> list[DailyTaskFinished]:
    return [m for m in _published(h, DailyTaskFinished) if m.task == "broker_session"]


@pytest.mark.parametrize(("pin", "ok", "reason"), [(PIN, True, ""), ("000000", False, "WRONG_PIN")])
def test_pre_open_gets_a_fresh_token_and_answers_the_schedule(tmp_path: Path, fake: FakeDhan,
                                                              monkeypatch: pytest.MonkeyPatch, pin, ok, reason) -> None:
    monkeypatch.setenv(PIN_ENV_VAR, pin)
    monkeypatch.setenv(TOTP_SECRET_ENV_VAR, TOTP_SECRET)
    h = Live(tmp_path / "data", fake, auth_url=fake.auth_url)
    try:
        h.until(lambda: h.actor.trading_enabled, "first reconciliation")
        h.actor.on_day_phase_began(DayPhaseBegan("2026-12-07", "pre_open", True, time.time_ns()))
        h.until(lambda: bool(_session_tasks(h)), "the broker_session task answered")
        (done,) = _session_tasks(h)
        assert (done.task, done.actor, done.ok, done.reason_code) == ("broker_session", "execution", ok, reason)
        statuses = _published(h, BrokerSessionStatus)
        assert [s.ok for s in statuses] == [True, ok]  # at start, then after the login
        assert all(t == b"broker.session" for t, m in h.ctx.published if isinstance(m, BrokerSessionStatus))
        venue = read_venue_status(h.ctx.run_dir)
        assert venue is not None
        shown = render_venue_status(venue, time.time_ns())
        if ok:
            assert venue.session_expires_ns == statuses[-1].expires_ns > time.time_ns()
            assert "broker session: token expires" in shown
            assert fake.token_ok(h.actor.venue.session.credentials.access_token)
        else:
            assert "last login refused: WRONG_PIN" in shown and h.ctx.sent == []  # no kill switch: the token works
        h.actor.on_day_phase_began(DayPhaseBegan("2026-12-07", "night", False, time.time_ns()))
        assert len(_session_tasks(h)) == 1  # only pre-open of a trading day asks for one
    finally:
        h.close()
# Expiry settlement: the broker's report of it is matched once, never added ------------------------------


def test_dhans_settlement_trade_is_matched_to_the_engines_settlement_once(live: Live) -> None:
    fake = live.fake
    call = min((i for i in live.actor.table if i.instrument == "OPTIDX" and i.underlying == "NIFTY"
                and i.option_type == "CE"), key=lambda i: (i.expiry_yyyymmdd, i.strike_paise))
    expiry = date_from_yyyymmdd(call.expiry_yyyymmdd)
    settle_price = call.strike_paise + 100_00  # the call ends ₹100 in the money
    live.ctx.config = msgspec.structs.replace(live.ctx.config, execution=msgspec.structs.replace(
        live.ctx.config.execution, settlement=SettlementConfig(
            prices_paise={f"NIFTY:{expiry.isoformat()}": settle_price})))
    intent = live.intent((call.segment, call.security_id), "BUY", 65, 150_00)
    # Held to expiry: a carry-forward (MARGIN) position, the product Dhan books the settlement in.
    intent = msgspec.structs.replace(intent, spec=msgspec.structs.replace(intent.spec, product="MARGIN"))
    live.submit(intent)
    live.until(lambda: (o := live.order_of(intent)) is not None and o.state is OrderState.ACCEPTED, "accepted")
    fake.trade(live.order_of(intent).venue_order_id, 65, 150_00)  # type: ignore[union-attr]
    live.until(lambda: live.order_of(intent).state is OrderState.FILLED, "bought")  # type: ignore[union-attr]
    assert live.ledger.position("s1", call.segment, call.security_id, "MARGIN").net_qty_units == 65
    # The engine settles at the close of the expiry day ...
    assert live.actor._settle_due(at_ist(expiry, 15, 30)) == 1
    assert live.ledger.position("s1", call.segment, call.security_id, "MARGIN").net_qty_units == 0
    # ... while Dhan still shows the position until it settles: awaited, not a mismatch.
    live.reconcile()
    live.reconcile()
    assert not [m for _t, m in live.ctx.sent if isinstance(m, ReduceRisk)]
    # Dhan reports the exchange's settlement as an order of its own with a trade at intrinsic value.
    settlement = fake.add_order("", 65, 100_00, security_id=call.security_id, segment="NSE_FNO", side="SELL",
                                product="MARGIN", push=False)
    fake.trade(settlement, 65, 100_00, push=False)
    fills_before = dict(live.ledger.fills())
    live.reconcile()
    matched = live.ledger.order(f"EXT-{settlement}")
    assert matched is not None and matched.reason_code == "SETTLEMENT" and matched.state is OrderState.FILLED
    assert dict(live.ledger.fills()) == fills_before  # matched, not added
    assert live.ledger.position("s1", call.segment, call.security_id, "MARGIN").net_qty_units == 0
    assert live.ledger.position(EXTERNAL_STRATEGY, call.segment, call.security_id) is None
    assert len(live.audit("reconcile_settlement_matched")) == 1
    live.reconcile()  # and again: recorded once
    assert len(live.audit("reconcile_settlement_matched")) == 1
    assert not [m for _t, m in live.ctx.sent if isinstance(m, ReduceRisk)]
    assert live.ledger.verify() == []
