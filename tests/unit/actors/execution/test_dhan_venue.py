"""The live Dhan venue against a loopback fake Dhan, through the real dhanhq package."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import msgspec
import pytest

from actors.execution import orders as fsm
from actors.execution.config import DhanVenueConfig, RateLimits
from actors.execution.dhan_rest import DhanFatal, classify, place_params
from actors.execution.dhan_session import BrokerSession
from actors.execution.dhan_venue import DhanVenue
from actors.execution.dhan_wire import OrderUpdate, fill_price_paise, parse_update, to_paise
from actors.execution.venue import (
    Accepted,
    Canceled,
    Filled,
    Modified,
    ModifyRefused,
    Rejected,
    VenueEvent,
)
from engine.credentials import TOKEN_ENV_VAR, Credentials, read_session_cache
from engine.logs import get_logger
from engine.model.ist import NS_PER_S
from engine.rate_window import RateWindow
from ipc.messages import OrderSpec, OrderState
from ipc.reasons import RejectReason
from tests.support.fake_dhan import CLIENT_ID, PIN, TOKEN, TOTP_SECRET, FakeDhan, make_token
from tests.support.wait import eventually, stepping

NIFTY_FUT = (2, 55796)
SAFETY_TIMEOUT_S = 10.0  # a hung test fails here; nothing is asserted about speed


def make_order(cid: str, *, qty: int = 75, price_paise: int = 15230, order_type: str = "LIMIT",
               trigger_paise: int = 0, product: str = "INTRADAY", side: str = "BUY") -> fsm.OrderSnapshot:
    spec = OrderSpec(segment=NIFTY_FUT[0], security_id=NIFTY_FUT[1], side=side, order_type=order_type,  # type: ignore[arg-type]
                     validity="DAY", product=product, qty_units=qty, price_paise=price_paise,  # type: ignore[arg-type]
                     trigger_price_paise=trigger_paise)
    order = fsm.apply(fsm.new_order(spec, client_order_id=cid, intent_id=f"i-{cid}", strategy="s"), fsm.Submit())
    assert not isinstance(order, fsm.IllegalTransition)
    return order


class Harness:
    def __init__(self, fake: FakeDhan, venue: DhanVenue) -> None:
        self.fake = fake
        self.venue = venue
        self.events: list[VenueEvent] = []
        self.fatals: list[DhanFatal] = []

    def take(self, events: Sequence[VenueEvent]) -> None:
        self.events.extend(events)

    def until(self, done: Callable[[], bool], now_ns: Callable[[], int] = time.time_ns) -> list[VenueEvent]:
        """Poll the venue, keeping what it reports, until ``done`` holds; returns every event so far."""
        eventually(stepping(lambda: self.events.extend(self.venue.poll(now_ns())), done), "condition",
                   SAFETY_TIMEOUT_S, lambda: f"events so far: {self.events}", poll_s=0.002)
        return self.events

    def of(self, kind: type, cid: str | None = None) -> list[VenueEvent]:
        return [e for e in self.events if isinstance(e, kind) and (cid is None or e.client_order_id == cid)]

    def wait_stream(self) -> None:
        self.until(lambda: self.venue.stats().stream_up and self.fake.stream_clients > 0)

    def accepted(self, cid: str) -> Accepted:
        self.until(lambda: bool(self.of(Accepted, cid)) or bool(self.of(Rejected, cid)))
        (event,) = self.of(Accepted, cid)
        assert isinstance(event, Accepted)
        return event


@pytest.fixture
def fake() -> Iterator[FakeDhan]:
    with FakeDhan() as server:
        yield server


def start_venue(fake: FakeDhan, **overrides: object) -> Harness:
    cfg = DhanVenueConfig(rest_url=fake.rest_url, order_update_url=fake.ws_url, retry_backoff_s=0.01,
                          order_book_poll_s=0.05, stream_reconnect_initial_s=0.05, **overrides)  # type: ignore[arg-type]
    harness: Harness
    venue = DhanVenue(cfg, Credentials(CLIENT_ID, TOKEN), on_fatal=lambda f: harness.fatals.append(f))
    harness = Harness(fake, venue)
    venue.start()
    return harness


@pytest.fixture
def h(fake: FakeDhan) -> Iterator[Harness]:
    harness = start_venue(fake)
    harness.wait_stream()
    yield harness
    harness.venue.stop()


# Functional core ---------------------------------------------------------------------------------


def test_place_params_map_types_products_segment_and_exact_rupees() -> None:
    params = place_params(make_order("c1", order_type="SL", price_paise=165050, trigger_paise=165005,
                                     product="MARGIN", side="SELL"))
    assert params == dict(security_id="55796", exchange_segment="NSE_FNO", transaction_type="SELL", quantity=75,
                          order_type="STOP_LOSS", product_type="MARGIN", price=1650.5, trigger_price=1650.05,
                          validity="DAY", tag="c1")
    assert place_params(make_order("c2", order_type="SL_M", price_paise=0, trigger_paise=10))["order_type"] == \
        "STOP_LOSS_MARKET"


def test_classify_tells_transport_failures_from_api_errors() -> None:
    transport = classify({"status": "failure", "remarks": "Connection aborted", "data": ""}, 0)
    api = classify({"status": "failure", "remarks": {"error_code": "DH-905", "error_type": "Input_Exception",
                                                     "error_message": "bad price"}, "data": ""}, 400)
    html = classify({"status": "failure", "remarks": "Expecting value: line 1", "data": ""}, 502)
    assert (transport.kind, api.kind, html.kind) == ("transport", "api_error", "http_error")
    assert api.reason() is RejectReason.BAD_INPUT and "bad price" in api.describe()
    assert classify({"status": "failure", "remarks": {"error_code": "DH-901"}}, 401).fatal_code == "DH-901"
    assert classify({"status": "failure", "remarks": "Expecting value"}, 401).fatal_code == "HTTP-401"


def test_order_update_statuses_compare_case_insensitively_and_prices_become_paise() -> None:
    u = parse_update({"Status": "Part_Traded", "OrderNo": "9", "CorrelationId": "c1", "Quantity": 75,
                      "TradedQty": "25", "TradedPrice": 152.3, "AvgTradedPrice": "152.30"})
    assert (u.status, u.traded_qty_units, u.traded_price_paise, u.avg_price_paise) == ("PART_TRADED", 25, 15230, 15230)
    assert to_paise(0.1 + 0.2) == 30
    with pytest.raises(ValueError):
        parse_update({"OrderNo": "9"})


def test_fill_price_uses_traded_price_unless_an_update_was_missed() -> None:
    after_second = OrderUpdate("c1", "9", "PART_TRADED", 100, 75, 15235, 15233, "")  # 25@152.30 + 50@152.35
    assert fill_price_paise(25, 25 * 15230, after_second) == 15235
    # The first update was missed: 75 units arrive at once and are priced from the average.
    assert fill_price_paise(0, 0, after_second) == 15233


def test_eleventh_request_in_a_second_waits_for_the_next_second() -> None:
    limiter = RateWindow(RateLimits().windows())
    t0 = 1_000_000_000_000
    for _ in range(10):
        assert limiter.earliest_ns(t0) == t0
        limiter.record(t0)
    assert limiter.earliest_ns(t0) == t0 + 1_000_000_000
    assert limiter.projected_ns(t0, ahead=10) == t0 + 2_000_000_000


def test_per_minute_window_holds_after_the_per_second_one_frees() -> None:
    limiter = RateWindow(RateLimits(per_second=10, per_minute=12).windows())
    t0 = 5_000_000_000_000
    for i in range(12):
        limiter.record(t0 + i * 200_000_000)
    assert limiter.earliest_ns(t0 + 3_000_000_000) == t0 + 60_000_000_000


# Against the loopback fake ----------------------------------------------------------------------------


def test_place_is_accepted_then_filled_from_the_order_update_stream(h: Harness) -> None:
    h.venue.set_instrument_type(*NIFTY_FUT, "FUTIDX")  # picks the charge schedule
    h.take(h.venue.submit(make_order("c1"), time.time_ns()))
    accepted = h.accepted("c1")
    (body,) = h.fake.place_requests()
    assert (body["correlationId"], body["price"], body["quantity"], body["orderType"], body["productType"],
            body["exchangeSegment"], body["securityId"]) == ("c1", 152.3, 75, "LIMIT", "INTRADAY", "NSE_FNO", "55796")
    h.fake.trade(accepted.venue_order_id, 75, 15230)
    h.until(lambda: bool(h.of(Filled, "c1")))
    (fill,) = h.of(Filled, "c1")
    assert isinstance(fill, Filled)
    assert (fill.qty_units, fill.price_paise, fill.fill_id) == (75, 15230, f"{accepted.venue_order_id}-75")
    assert fill.charges.total_paise > 0
    assert h.venue.open_order_ids() == ()


def test_partial_fills_come_from_traded_quantity_deltas(h: Harness) -> None:
    h.take(h.venue.submit(make_order("c1", qty=100), time.time_ns()))
    vid = h.accepted("c1").venue_order_id
    h.fake.trade(vid, 25, 15230)
    h.until(lambda: len(h.of(Filled)) == 1)
    h.fake.trade(vid, 50, 15235)
    h.until(lambda: len(h.of(Filled)) == 2)
    h.fake.push(vid)  # the same update again: no new fill
    h.fake.trade(vid, 25, 15240)
    h.until(lambda: len(h.of(Filled)) == 3)
    fills = [(f.qty_units, f.price_paise, f.fill_id) for f in h.of(Filled)]  # type: ignore[attr-defined]
    assert fills == [(25, 15230, f"{vid}-25"), (50, 15235, f"{vid}-75"), (25, 15240, f"{vid}-100")]


def test_dhan_rejection_becomes_rejected_with_its_code(h: Harness) -> None:
    h.fake.reject_next("DH-905", "Invalid price: outside the circuit range")
    h.take(h.venue.submit(make_order("c1"), time.time_ns()))
    h.until(lambda: bool(h.of(Rejected, "c1")))
    (rej,) = h.of(Rejected, "c1")
    assert isinstance(rej, Rejected)
    assert rej.reason_code is RejectReason.BAD_INPUT
    assert "DH-905" in rej.reason and "circuit range" in rej.reason
    assert h.fatals == []


def test_network_drop_after_the_order_arrived_is_found_by_correlation_id_not_resent(fake: FakeDhan) -> None:
    fake.set_stream(False)  # only the lookup can tell the venue what happened
    h = start_venue(fake)
    try:
        fake.drop_next(record=True)
        h.take(h.venue.submit(make_order("c1"), time.time_ns()))
        h.accepted("c1")
        h.until(lambda: h.venue.stats().lookups == 1)
        h.until(lambda: h.venue.stats().in_flight == 0 and h.venue.stats().queued == 0)  # the lookup answered
        assert ("GET", "/v2/orders/external/c1", {}) in fake.requests
        assert len(fake.place_requests()) == 1
        assert len(fake.order_by_correlation("c1")) == 1
    finally:
        h.venue.stop()


def test_network_drop_before_the_order_arrived_is_sent_again_once(h: Harness) -> None:
    h.fake.drop_next(record=False)
    h.take(h.venue.submit(make_order("c1"), time.time_ns()))
    h.accepted("c1")
    h.until(lambda: h.venue.stats().in_flight == 0 and h.venue.stats().queued == 0)
    assert ("GET", "/v2/orders/external/c1", {}) in h.fake.requests
    assert len(h.fake.place_requests()) == 2
    assert len(h.fake.order_by_correlation("c1")) == 1


def test_cancel_is_answered_once(h: Harness) -> None:
    h.take(h.venue.submit(make_order("c1"), time.time_ns()))
    h.take(h.venue.cancel("c1", time.time_ns()))  # queued behind the place: never overtakes it
    h.until(lambda: bool(h.of(Canceled, "c1")))
    h.fake.push(h.of(Accepted, "c1")[0].venue_order_id)  # type: ignore[attr-defined]
    h.until(lambda: h.venue.stats().stream_updates >= 3)
    (canceled,) = h.of(Canceled, "c1")
    assert canceled.reason_code is RejectReason.CANCEL_REQUESTED  # type: ignore[attr-defined]
    assert [m for m, p, _ in h.fake.requests if m == "DELETE"] == ["DELETE"]


def test_modifications_past_the_cap_are_refused_without_calling_dhan(fake: FakeDhan) -> None:
    h = start_venue(fake, rate_limits=RateLimits(per_second=1000, per_minute=1000))
    try:
        h.take(h.venue.submit(make_order("c1"), time.time_ns()))
        h.accepted("c1")
        for i in range(25):
            h.take(h.venue.modify("c1", 75, 15230 + 5 * (i + 1), 0, time.time_ns()))
        h.take(h.venue.modify("c1", 75, 15000, 0, time.time_ns()))
        h.until(lambda: len(h.of(Modified, "c1")) == 25)
        (refused,) = h.of(ModifyRefused, "c1")
        assert refused.reason_code is RejectReason.MODIFY_CAP  # type: ignore[attr-defined]
        assert len([m for m, _, _ in fake.requests if m == "PUT"]) == 25
        last = h.of(Modified, "c1")[-1]
        assert last.price_paise == 15230 + 125  # type: ignore[attr-defined]
    finally:
        h.venue.stop()


def test_eleventh_order_in_a_burst_waits_for_the_next_second_and_is_not_refused(fake: FakeDhan) -> None:
    h = start_venue(fake)
    try:
        t0 = time.time_ns()
        for i in range(11):
            h.take(h.venue.submit(make_order(f"c{i}"), t0))
        assert h.of(Rejected) == []
        h.until(lambda: len(h.of(Accepted)) == 10, now_ns=lambda: t0)  # the venue's clock stands still
        assert h.venue.stats().sent == 10 and len(fake.place_requests()) == 10
        h.until(lambda: len(h.of(Accepted)) == 11, now_ns=lambda: t0 + 1_000_000_000)
        assert len(fake.place_requests()) == 11
    finally:
        h.venue.stop()


def test_order_that_would_wait_past_max_queue_wait_is_refused_rate_limited(fake: FakeDhan) -> None:
    h = start_venue(fake, rate_limits=RateLimits(per_second=10, per_minute=12), max_queue_wait_s=2.0)
    try:
        t0 = time.time_ns()
        for i in range(13):
            h.take(h.venue.submit(make_order(f"c{i}"), t0))
        (refused,) = h.of(Rejected)
        assert refused.client_order_id == "c12"
        assert refused.reason_code is RejectReason.RATE_LIMITED  # type: ignore[attr-defined]
        assert "12/min" in refused.reason  # type: ignore[attr-defined]
    finally:
        h.venue.stop()


def test_expired_token_is_a_fatal_event_and_stops_sending(h: Harness) -> None:
    h.fake.expire_token()
    h.take(h.venue.submit(make_order("c1"), time.time_ns()))
    h.until(lambda: bool(h.of(Rejected, "c1")))
    (fatal,) = h.fatals
    assert fatal.code == "DH-901" and TOKEN_ENV_VAR in fatal.message
    assert h.of(Rejected, "c1")[0].reason_code is RejectReason.AUTH_FAILED  # type: ignore[attr-defined]
    later = h.venue.submit(make_order("c2"), time.time_ns())
    assert [e.reason_code for e in later] == [RejectReason.VENUE_HALTED]  # type: ignore[attr-defined]
    # The margin calculator was the first call refused: no order reached POST /orders.
    assert h.fake.place_requests() == [] and len(h.fake.requests_of("POST", "/v2/margincalculator")) == 1


def test_fills_reach_the_venue_by_order_book_polling_when_the_stream_is_down(fake: FakeDhan) -> None:
    fake.set_stream(False)
    h = start_venue(fake)
    try:
        h.take(h.venue.submit(make_order("c1"), time.time_ns()))
        vid = h.accepted("c1").venue_order_id
        fake.trade(vid, 75, 15230)
        h.until(lambda: bool(h.of(Filled, "c1")))
        assert h.venue.stats().book_polls >= 1 and h.venue.stats().stream_updates == 0
    finally:
        h.venue.stop()


def test_restored_order_is_adopted_with_its_missed_fills_never_placed_again(h: Harness) -> None:
    vid = h.fake.add_order("c7", 100, 15230)
    h.fake.trade(vid, 25, 15230)
    h.fake.trade(vid, 50, 15240)  # while we were down
    known = msgspec.structs.replace(make_order("c7", qty=100), state=OrderState.PARTIALLY_FILLED, venue_order_id=vid,
                                    filled_qty_units=25, filled_value_paise=25 * 15230)
    h.take(h.venue.submit(known, time.time_ns()))  # what the OMS does on restart today
    h.until(lambda: bool(h.of(Filled, "c7")))
    (fill,) = h.of(Filled, "c7")
    assert (fill.qty_units, fill.price_paise, fill.fill_id) == (50, 15240, f"{vid}-75")  # type: ignore[attr-defined]
    assert h.of(Accepted, "c7") == [] and h.fake.place_requests() == []


def test_restored_submitted_order_dhan_never_saw_is_placed_once(h: Harness) -> None:
    h.take(h.venue.restore(make_order("c8"), time.time_ns()))
    h.accepted("c8")
    assert len(h.fake.place_requests()) == 1 and len(h.fake.order_by_correlation("c8")) == 1


def test_token_never_appears_in_logs_or_output(fake: FakeDhan, caplog: pytest.LogCaptureFixture,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    h = start_venue(fake)
    try:
        h.wait_stream()
        fake.drop_next(record=True)
        h.take(h.venue.submit(make_order("c1"), time.time_ns()))
        h.accepted("c1")
        fake.reject_next("DH-905", "bad")
        h.take(h.venue.submit(make_order("c2"), time.time_ns()))
        fake.expire_token()
        h.take(h.venue.submit(make_order("c3"), time.time_ns()))
        h.until(lambda: bool(h.fatals))
        fake.set_stream(False)
        h.until(lambda: not h.venue.stats().stream_up)
    finally:
        h.venue.stop()
    out, err = capfd.readouterr()
    text = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert caplog.records  # the flow did log
    assert TOKEN not in text and TOKEN not in out and TOKEN not in err


# The broker session ----------------------------------------------------------------------------------


def start_session_venue(fake: FakeDhan, tmp_path: Path, creds: Credentials, **overrides: object) -> Harness:
    cfg = DhanVenueConfig(rest_url=fake.rest_url, order_update_url=fake.ws_url, auth_url=fake.auth_url,
                          retry_backoff_s=0.01, order_book_poll_s=0.05, stream_reconnect_initial_s=0.05,
                          **overrides)  # type: ignore[arg-type]
    harness: Harness
    session = BrokerSession(cfg, creds, tmp_path, time.time_ns(), log=get_logger("test.venue"))
    venue = DhanVenue(cfg, creds, on_fatal=lambda f: harness.fatals.append(f), session=session)
    harness = Harness(fake, venue)
    venue.start()
    return harness


def test_a_new_token_reaches_rest_and_a_new_stream_and_a_fill_during_the_swap_is_not_missed(
        fake: FakeDhan, tmp_path: Path) -> None:
    h = start_session_venue(fake, tmp_path, Credentials(CLIENT_ID, TOKEN, PIN, TOTP_SECRET))
    try:
        h.wait_stream()
        h.take(h.venue.submit(make_order("c1", qty=75), time.time_ns()))
        vid = h.accepted("c1").venue_order_id
        fake.trade(vid, 25, 15230)
        h.until(lambda: bool(h.of(Filled, "c1")))
        # The fake drops the old token's stream when it issues the new one; this trade is pushed
        # while no stream of ours listens: only the trade book has it.
        fake.on_issue.append(lambda: fake.trade(vid, 50, 15240))
        assert h.venue.request_session("pre_open")
        h.until(lambda: sum(e.qty_units for e in h.of(Filled, "c1")) >= 75)  # type: ignore[attr-defined]
        (new_token,) = fake.issued
        assert [(e.qty_units, e.fill_id) for e in h.of(Filled, "c1")] == [  # type: ignore[attr-defined]
            (25, f"{vid}-25"), (50, f"{vid}-75")]
        h.until(lambda: fake.stream_tokens == [new_token] and h.venue.stats().stream_up)  # the old one closed
        h.until(lambda: h.venue.stats().snapshots >= 1)  # the trade book was read after the swap
        (status,) = [s for s in h.venue.take_session_updates() if s.expires_ns]
        assert status.ok and status.expires_ns // NS_PER_S == int(fake.tokens[new_token])
        h.take(h.venue.submit(make_order("c2"), time.time_ns()))
        h.accepted("c2")  # the REST workers use the new token (the old one gets 401)
        assert h.fatals == [] and read_session_cache(tmp_path).access_token == new_token  # type: ignore[union-attr]
        fake.trade(h.of(Accepted, "c2")[0].venue_order_id, 75, 15250)  # type: ignore[attr-defined]
        h.until(lambda: bool(h.of(Filled, "c2")))
    finally:
        h.venue.stop()


def test_a_refused_token_triggers_a_login_and_the_order_goes_with_the_new_one(fake: FakeDhan, tmp_path: Path) -> None:
    h = start_session_venue(fake, tmp_path, Credentials(CLIENT_ID, TOKEN, PIN, TOTP_SECRET))
    try:
        h.wait_stream()
        fake.issue_token()  # the token was replaced elsewhere (a login on web.dhan.co): ours is refused
        h.take(h.venue.submit(make_order("c1"), time.time_ns()))
        h.accepted("c1")
        assert [c for c in fake.auth_calls if c[0] == "generateAccessToken"] == [("generateAccessToken", 200)]
        assert h.fatals == [] and h.of(Rejected) == [] and len(fake.place_requests()) == 1
    finally:
        h.venue.stop()


def test_a_refused_login_keeps_trading_until_the_token_expires_then_halts(fake: FakeDhan, tmp_path: Path) -> None:
    expiring = make_token(CLIENT_ID, int(time.time()) + 3, 99)  # a JWT that expires in 3 s
    fake.tokens[expiring] = time.time() + 3
    h = start_session_venue(fake, tmp_path, Credentials(CLIENT_ID, expiring, "000000", TOTP_SECRET),
                            login_retry_initial_s=60)
    try:
        h.until(lambda: bool(fake.auth_calls))  # 3 s left < renew_before_s: a login at once, refused (PIN)
        h.until(lambda: any(not s.ok for s in h.venue.take_session_updates()))
        assert h.fatals == []  # the token still works: trading goes on
        h.take(h.venue.submit(make_order("c1"), time.time_ns()))
        h.accepted("c1")
        h.until(lambda: bool(h.fatals))  # the token expired with no new one
        (fatal,) = h.fatals
        assert fatal.code == "SESSION_EXPIRED" and "WRONG_PIN" in fatal.message and "shikra dhan login" in fatal.message
    finally:
        h.venue.stop()


def test_a_start_with_only_pin_and_totp_logs_in_first_then_streams_and_trades(fake: FakeDhan, tmp_path: Path) -> None:
    h = start_session_venue(fake, tmp_path, Credentials(CLIENT_ID, "", PIN, TOTP_SECRET))
    try:
        assert h.venue.stats().stream_generation == 0  # no stream without a token
        h.take(h.venue.submit(make_order("c1"), time.time_ns()))
        h.accepted("c1")
        h.until(lambda: fake.stream_tokens == fake.issued[:1] and h.venue.stats().stream_up)
        assert fake.auth_calls == [("generateAccessToken", 200)] and h.fatals == []
    finally:
        h.venue.stop()
