"""The live Kite venue: Kite's wire rules, and the venue against a loopback fake Kite through the
real kiteconnect package (REST in worker threads, postbacks on the ticker websocket)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.execution import orders as fsm
from actors.execution.config import KiteVenueConfig
from actors.execution.dhan_rest import DhanFatal
from actors.execution.kite_broker_session import NO_TOKEN, TOKEN_REFUSED, KiteBrokerSession, token_expiry_ns
from actors.execution.kite_rest import KiteOutcome
from actors.execution.kite_venue import KiteVenue
from actors.execution.kite_wire import (
    client_order_id_of_tag,
    kite_tag,
    parse_order_row,
    parse_update,
    place_params,
)
from actors.execution.reconcile import BrokerSnapshot, SnapshotFailed
from actors.execution.venue import (
    Accepted,
    Canceled,
    Filled,
    Modified,
    ModifyRefused,
    Rejected,
    VenueEvent,
)
from engine.kite_session import KiteSession, write_session
from engine.logs import get_logger
from engine.model.ist import NS_PER_S
from ipc.messages import BrokerSessionStatus, ConvertPosition, OrderSpec, OrderState
from ipc.reasons import RejectReason
from tests.support.fake_kite import API_KEY, TOKEN, FakeKite
from tests.support.wait import eventually, stepping

NIFTY_FUT = (2, 55796)
SYMBOL = "NIFTY26DECFUT"
SAFETY_TIMEOUT_S = 10.0  # a hung test fails here; nothing is asserted about speed
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # the ledger's id prefix alphabet (no I, no O)


class Symbols:
    """A two-way symbol table standing in for the instrument master."""

    def __init__(self, rows: dict[tuple[int, int], str]) -> None:
        self.rows = rows

    def symbol(self, segment: int, security_id: int) -> str | None:
        return self.rows.get((segment, security_id))

    def instrument(self, segment: int, symbol: str) -> int | None:
        for (seg, sid), sym in self.rows.items():
            if seg == segment and sym == symbol:
                return sid
        return None


SYMBOLS = Symbols({NIFTY_FUT: SYMBOL, (2, 55797): "NIFTY26DEC24000CE"})


def make_order(cid: str, *, qty: int = 75, price_paise: int = 15230, order_type: str = "LIMIT",
               trigger_paise: int = 0, product: str = "INTRADAY", side: str = "BUY",
               security_id: int = NIFTY_FUT[1]) -> fsm.OrderSnapshot:
    spec = OrderSpec(segment=NIFTY_FUT[0], security_id=security_id, side=side, order_type=order_type,  # type: ignore[arg-type]
                     validity="DAY", product=product, qty_units=qty, price_paise=price_paise,  # type: ignore[arg-type]
                     trigger_price_paise=trigger_paise)
    order = fsm.apply(fsm.new_order(spec, client_order_id=cid, intent_id=f"i-{cid}", strategy="s"), fsm.Submit())
    assert not isinstance(order, fsm.IllegalTransition)
    return order


# Functional core ---------------------------------------------------------------------------------


def test_kite_tag_of_our_ids_is_alphanumeric_and_maps_back() -> None:
    assert kite_tag("SK7QX2-42") == "SK7QX2O42"
    assert kite_tag("SK7QX2-42_3") == "SK7QX2O42I3"
    assert client_order_id_of_tag("SK7QX2O42I3") == "SK7QX2-42_3"
    assert client_order_id_of_tag("") == client_order_id_of_tag("MYORDER1") == ""  # set by hand: none of ours
    with pytest.raises(ValueError, match="20"):
        kite_tag("SK7QX2-123456789012_3")


@given(prefix=st.text(_ALPHABET, min_size=6, max_size=6), n=st.integers(1, 10**10 - 1), child=st.integers(0, 99))
def test_every_id_the_ledger_and_slicing_make_has_a_tag_that_maps_back(prefix: str, n: int, child: int) -> None:
    cid = f"{prefix}-{n}" + (f"_{child}" if child else "")
    tag = kite_tag(cid)
    assert tag.isalnum() and len(tag) <= 20
    assert client_order_id_of_tag(tag) == cid


def test_place_params_map_products_types_and_exact_rupees() -> None:
    params = place_params(make_order("SKAB12-7", order_type="SL", price_paise=165050, trigger_paise=165005,
                                     product="MARGIN", side="SELL"), SYMBOL, "regular")
    assert params == dict(variety="regular", exchange="NFO", tradingsymbol=SYMBOL, transaction_type="SELL",
                          quantity=75, product="NRML", order_type="SL", validity="DAY", tag="SKAB12O7",
                          price="1650.50", trigger_price="1650.05")
    market = place_params(make_order("SKAB12-8", order_type="SL_M", price_paise=0, trigger_paise=10,
                                     product="INTRADAY"), SYMBOL, "amo")
    assert (market["order_type"], market["product"], market["variety"], "price" in market) == ("SL-M", "MIS", "amo",
                                                                                                 False)
    with pytest.raises(ValueError, match="variety"):
        place_params(make_order("SKAB12-9"), SYMBOL, "iceberg")


@pytest.mark.parametrize(("status", "filled", "mapped"), [
    ("PUT ORDER REQ RECEIVED", 0, "TRANSIT"), ("VALIDATION PENDING", 0, "TRANSIT"), ("OPEN", 0, "PENDING"),
    ("TRIGGER PENDING", 0, "PENDING"), ("OPEN", 25, "PART_TRADED"), ("AMO REQ RECEIVED", 0, "PENDING"),
    ("COMPLETE", 75, "TRADED"), ("CANCELLED", 25, "CANCELLED"), ("REJECTED", 0, "REJECTED"),
])
def test_kite_statuses_map_onto_the_venue_vocabulary(status: str, filled: int, mapped: str) -> None:
    update = parse_update({"order_id": "9", "status": status, "filled_quantity": filled, "quantity": 75,
                           "average_price": 152.3, "tag": "SKAB12O7"})
    assert (update.status, update.correlation_id, update.traded_qty_units) == (mapped, "SKAB12-7", filled)
    assert update.avg_price_paise == 15230


def test_order_row_names_the_row_and_field_when_the_symbol_is_unknown() -> None:
    row = {"order_id": "77", "status": "OPEN", "exchange": "NFO", "tradingsymbol": "BANKNIFTY26DECFUT",
           "transaction_type": "BUY", "quantity": 30, "order_type": "LIMIT", "price": 100.0, "product": "NRML"}
    with pytest.raises(ValueError, match="order 77: NFO:BANKNIFTY26DECFUT is not in the instrument master"):
        parse_order_row(row, SYMBOLS)
    parsed = parse_order_row({**row, "tradingsymbol": SYMBOL}, SYMBOLS)
    assert (parsed.spec.security_id, parsed.spec.product, parsed.spec.price_paise, parsed.correlation_id) == (
        55796, "MARGIN", 10000, "")


def test_kite_errors_become_reason_codes_and_which_places_may_have_arrived() -> None:
    token = KiteOutcome("api_error", http_status=403, error_code="TokenException", message="expired")
    order = KiteOutcome("api_error", http_status=400, error_code="OrderException", message="margin")
    network = KiteOutcome("api_error", http_status=503, error_code="NetworkException", message="oms down")
    busy = KiteOutcome("api_error", http_status=429, error_code="NetworkException", message="Too many requests")
    assert (token.fatal_code, token.reason()) == ("TokenException", RejectReason.AUTH_FAILED)
    assert (order.fatal_code, order.reason(), order.maybe_sent) == ("", RejectReason.ORDER_ERROR, False)
    assert network.maybe_sent and KiteOutcome("transport", message="reset").maybe_sent
    assert (busy.maybe_sent, busy.reason()) == (False, RejectReason.BROKER_RATE_LIMIT)


def test_tokens_expire_at_the_next_six_in_the_morning_ist() -> None:
    nine_am_ist = 1796010300 * NS_PER_S  # 2026-11-30 09:15 IST
    assert token_expiry_ns(nine_am_ist) == (1796010300 - 3 * 3600 - 15 * 60 + 86400) * NS_PER_S
    five_am_ist = nine_am_ist - 4 * 3600 * NS_PER_S - 15 * 60 * NS_PER_S
    assert token_expiry_ns(five_am_ist) == five_am_ist + 3600 * NS_PER_S


# Against the fake ----------------------------------------------------------------------------------


class Harness:
    def __init__(self, fake: FakeKite, venue: KiteVenue, session: KiteBrokerSession, data_dir: Path) -> None:
        self.fake = fake
        self.venue = venue
        self.session = session
        self.data_dir = data_dir
        self.events: list[VenueEvent] = []
        self.fatals: list[DhanFatal] = []

    def take(self, events: Sequence[VenueEvent]) -> None:
        self.events.extend(events)

    def until(self, done: Callable[[], bool]) -> list[VenueEvent]:
        eventually(stepping(lambda: self.events.extend(self.venue.poll(time.time_ns())), done), "condition",
                   SAFETY_TIMEOUT_S, lambda: f"events so far: {self.events}", poll_s=0.002)
        return self.events

    def of(self, kind: type, cid: str | None = None) -> list[VenueEvent]:
        return [e for e in self.events if isinstance(e, kind) and (cid is None or e.client_order_id == cid)]

    def wait_stream(self) -> None:
        self.until(lambda: self.venue.stats().stream_up and self.fake.ticker_clients > 0)

    def accepted(self, cid: str) -> Accepted:
        self.until(lambda: bool(self.of(Accepted, cid)) or bool(self.of(Rejected, cid)))
        (event,) = self.of(Accepted, cid)
        assert isinstance(event, Accepted)
        return event

    def idle(self) -> None:
        self.until(lambda: self.venue.stats().in_flight == 0 and self.venue.stats().queued == 0)


def login_cache(data_dir: Path, token: str, *, expires_ns: int | None = None) -> None:
    now = time.time_ns()
    write_session(data_dir, KiteSession(api_key=API_KEY, access_token=token, user_id="ZX1234", obtained_ns=now,
                                        expires_ns=token_expiry_ns(now) if expires_ns is None else expires_ns))


def start_venue(fake: FakeKite, data_dir: Path, *, token: str | None = TOKEN, **overrides: object) -> Harness:
    if token:
        login_cache(data_dir, token)
    cfg = KiteVenueConfig(rest_url=fake.rest_url, ticker_url=fake.ticker_url, retry_backoff_s=0.01,
                          order_book_poll_s=0.05, stream_reconnect_initial_s=0.05, session_cache_check_s=0.01,
                          **overrides)  # type: ignore[arg-type]
    session = KiteBrokerSession(cfg, API_KEY, data_dir, time.time_ns(), log=get_logger("test.kite"))
    harness: Harness
    venue = KiteVenue(cfg, session, SYMBOLS, on_fatal=lambda f: harness.fatals.append(f))
    harness = Harness(fake, venue, session, data_dir)
    venue.start()
    return harness


@pytest.fixture
def fake() -> Iterator[FakeKite]:
    with FakeKite() as server:
        yield server


@pytest.fixture
def h(fake: FakeKite, tmp_path: Path) -> Iterator[Harness]:
    harness = start_venue(fake, tmp_path)
    harness.wait_stream()
    yield harness
    harness.venue.stop()


def test_place_is_accepted_then_filled_from_a_postback(h: Harness) -> None:
    h.venue.set_instrument_type(*NIFTY_FUT, "FUTIDX")  # picks the charge schedule
    h.take(h.venue.submit(make_order("SKAB12-1"), time.time_ns()))
    vid = h.accepted("SKAB12-1").venue_order_id
    (body,) = h.fake.place_requests()
    assert (body["tag"], body["price"], body["quantity"], body["order_type"], body["product"], body["exchange"],
            body["tradingsymbol"]) == ("SKAB12O1", "152.30", "75", "LIMIT", "MIS", "NFO", SYMBOL)
    assert ("POST", "/orders/regular", body) in h.fake.requests
    h.fake.trade(vid, 75, 15230)
    h.until(lambda: bool(h.of(Filled, "SKAB12-1")))
    (fill,) = h.of(Filled, "SKAB12-1")
    assert isinstance(fill, Filled)
    assert (fill.qty_units, fill.price_paise, fill.fill_id) == (75, 15230, f"{vid}-75")
    assert fill.charges.total_paise > 0
    assert h.venue.open_order_ids() == ()


def test_partial_fills_are_priced_from_kites_averages(h: Harness) -> None:
    h.take(h.venue.submit(make_order("SKAB12-2", qty=100), time.time_ns()))
    vid = h.accepted("SKAB12-2").venue_order_id
    h.fake.trade(vid, 25, 15230)
    h.until(lambda: len(h.of(Filled)) == 1)
    h.fake.trade(vid, 75, 15240)
    h.until(lambda: len(h.of(Filled)) == 2)
    h.fake.push(vid)  # the same postback again: no new fill
    fills = [(f.qty_units, f.price_paise, f.fill_id) for f in h.of(Filled)]  # type: ignore[attr-defined]
    assert fills == [(25, 15230, f"{vid}-25"), (75, 15240, f"{vid}-100")]


@pytest.mark.parametrize(("error_type", "code"), [("InputException", RejectReason.BAD_INPUT),
                                                  ("OrderException", RejectReason.ORDER_ERROR)])
def test_kite_refusal_becomes_rejected_with_its_code(h: Harness, error_type: str, code: RejectReason) -> None:
    h.fake.reject_next(error_type, "Insufficient funds. Required margin is 95000.00 but available is 1000.00.")
    h.take(h.venue.submit(make_order("SKAB12-3"), time.time_ns()))
    h.until(lambda: bool(h.of(Rejected, "SKAB12-3")))
    (rej,) = h.of(Rejected, "SKAB12-3")
    assert rej.reason_code is code and error_type in rej.reason and "95000.00" in rej.reason  # type: ignore[attr-defined]
    assert rej.reason.startswith("Kite refused order SKAB12-3")  # type: ignore[attr-defined]
    assert h.fatals == [] and len(h.fake.place_requests()) == 1


def test_an_exchange_rejection_after_acceptance_arrives_as_a_postback(h: Harness) -> None:
    h.take(h.venue.submit(make_order("SKAB12-4"), time.time_ns()))
    vid = h.accepted("SKAB12-4").venue_order_id
    h.fake.set_status(vid, "REJECTED", "RMS:Margin Exceeds")
    h.until(lambda: bool(h.of(Canceled, "SKAB12-4")))
    (ended,) = h.of(Canceled, "SKAB12-4")
    assert ended.reason_code is RejectReason.VENUE_REJECTED and "Margin Exceeds" in ended.reason  # type: ignore[attr-defined]


def test_network_drop_after_the_order_arrived_is_found_by_its_tag_not_resent(fake: FakeKite, tmp_path: Path) -> None:
    fake.set_ticker(False)  # only the lookup can tell the venue what happened
    h = start_venue(fake, tmp_path)
    try:
        fake.drop_next(record=True)
        h.take(h.venue.submit(make_order("SKAB12-5"), time.time_ns()))
        h.accepted("SKAB12-5")
        h.until(lambda: h.venue.stats().lookups == 1)
        h.idle()
        assert len(fake.place_requests()) == 1 and len(fake.orders_tagged("SKAB12O5")) == 1
    finally:
        h.venue.stop()


def test_network_drop_before_the_order_arrived_is_sent_again_once(h: Harness) -> None:
    h.fake.drop_next(record=False)
    h.take(h.venue.submit(make_order("SKAB12-6"), time.time_ns()))
    h.accepted("SKAB12-6")
    h.idle()
    assert h.venue.stats().lookups == 1
    assert len(h.fake.place_requests()) == 2 and len(h.fake.orders_tagged("SKAB12O6")) == 1


def test_restored_order_is_found_by_tag_with_its_missed_fills_never_placed_again(h: Harness) -> None:
    vid = h.fake._new_order("amo", dict(exchange="NFO", tradingsymbol=SYMBOL, transaction_type="BUY", quantity="100",
                                        product="MIS", order_type="LIMIT", price="152.30", tag="SKAB12O7"))
    h.fake.trade(vid, 25, 15230)
    h.fake.trade(vid, 50, 15240)  # while we were down
    known = msgspec.structs.replace(make_order("SKAB12-7", qty=100), state=OrderState.PARTIALLY_FILLED,
                                    filled_qty_units=25, filled_value_paise=25 * 15230)
    h.take(h.venue.restore(known, time.time_ns()))
    h.until(lambda: bool(h.of(Filled, "SKAB12-7")))
    (fill,) = h.of(Filled, "SKAB12-7")
    assert (fill.qty_units, fill.price_paise, fill.fill_id) == (50, 15240, f"{vid}-75")  # type: ignore[attr-defined]
    assert h.fake.place_requests() == []
    h.take(h.venue.cancel("SKAB12-7", time.time_ns()))  # with the variety the order book gave
    h.until(lambda: bool(h.of(Canceled, "SKAB12-7")))
    assert [p for m, p, _ in h.fake.requests if m == "DELETE"] == [f"/orders/amo/{vid}"]


def test_restored_submitted_order_kite_never_saw_is_placed_once(h: Harness) -> None:
    h.take(h.venue.restore(make_order("SKAB12-8"), time.time_ns()))
    h.accepted("SKAB12-8")
    assert len(h.fake.place_requests()) == 1 and len(h.fake.orders_tagged("SKAB12O8")) == 1


def test_modify_is_applied_and_the_twenty_sixth_is_refused_without_calling_kite(h: Harness) -> None:
    h.take(h.venue.submit(make_order("SKAB12-9"), time.time_ns()))
    h.accepted("SKAB12-9")
    for n in range(25):
        h.take(h.venue.modify("SKAB12-9", 75, 15200 - n, 0, time.time_ns()))
        h.until(lambda: len(h.of(Modified, "SKAB12-9")) == n + 1)
    refused = h.venue.modify("SKAB12-9", 75, 15100, 0, time.time_ns())
    assert [type(e) for e in refused] == [ModifyRefused]
    assert refused[0].reason_code is RejectReason.MODIFY_CAP  # type: ignore[attr-defined]
    assert len(h.fake.requests_of("PUT", "/orders/regular/")) == 25


def test_margin_short_of_the_available_funds_is_refused_with_both_figures(h: Harness) -> None:
    h.venue.request_funds(time.time_ns())
    h.until(lambda: bool(h.venue.take_account_updates()))
    h.fake.funds_rupees = 1000.0
    h.venue.request_funds(time.time_ns())
    h.until(lambda: bool(h.venue.take_account_updates()))
    h.take(h.venue.submit(make_order("SKAB12-10", qty=7500, price_paise=2_400_000), time.time_ns()))
    h.until(lambda: bool(h.of(Rejected, "SKAB12-10")))
    (rej,) = h.of(Rejected, "SKAB12-10")
    assert rej.reason_code is RejectReason.INSUFFICIENT_FUNDS  # type: ignore[attr-defined]
    assert "₹36,00,000.00" in rej.reason or "3600000" in rej.reason.replace(",", "")  # type: ignore[attr-defined]
    assert "1000" in rej.reason.replace(",", "") and h.fake.place_requests() == []  # type: ignore[attr-defined]


def test_an_order_outside_the_session_goes_as_amo(fake: FakeKite, tmp_path: Path) -> None:
    login_cache(tmp_path, TOKEN)
    cfg = KiteVenueConfig(rest_url=fake.rest_url, ticker_url=fake.ticker_url, session_cache_check_s=0.01)
    session = KiteBrokerSession(cfg, API_KEY, tmp_path, time.time_ns(), log=get_logger("test.kite"))
    venue = KiteVenue(cfg, session, SYMBOLS, in_session=lambda segment, now_ns: False)
    h = Harness(fake, venue, session, tmp_path)
    venue.start()
    try:
        h.take(venue.submit(make_order("SKAB12-11"), time.time_ns()))
        h.accepted("SKAB12-11")
        assert [p for m, p, _ in fake.requests if m == "POST"][-1] == "/orders/amo"
    finally:
        venue.stop()


def test_snapshot_parses_orders_trades_positions_and_orders_placed_elsewhere(h: Harness) -> None:
    h.take(h.venue.submit(make_order("SKAB12-12"), time.time_ns()))
    vid = h.accepted("SKAB12-12").venue_order_id
    h.fake.trade(vid, 75, 15230)
    outside = h.fake.external_order(SYMBOL, 50, 15000, side="SELL")
    h.fake.trade(outside, 50, 15000)
    h.fake.carry_position("NFO", "NIFTY26DEC24000CE", "NRML", 150)
    h.venue.request_snapshot(time.time_ns(), with_funds=True)
    snaps: list[object] = []
    h.until(lambda: bool(snaps.extend(h.venue.take_account_updates()) or snaps))
    (snap,) = snaps
    assert isinstance(snap, BrokerSnapshot) and snap.row_errors == []
    assert {(o.venue_order_id, o.correlation_id, o.status) for o in snap.orders} == {
        (vid, "SKAB12-12", "TRADED"), (outside, "", "TRADED")}
    assert sorted((p.security_id, p.product, p.net_qty_units) for p in snap.positions) == [
        (55796, "INTRADAY", 75), (55796, "MARGIN", -50), (55797, "MARGIN", 150)]
    assert [t.price_paise for t in snap.trades] == [15230, 15000]
    assert snap.funds is not None and snap.funds.available_paise == 25000055 == h.venue.fetch_funds_paise()
    assert h.venue.take_external_activity()  # the outside order's postback


def test_a_conversion_of_todays_position_goes_to_kite_with_its_products(h: Harness) -> None:
    h.take(h.venue.submit(make_order("SKAB12-19"), time.time_ns()))
    h.fake.trade(h.accepted("SKAB12-19").venue_order_id, 75, 15230)
    command = ConvertPosition("c1", "s", *NIFTY_FUT, "INTRADAY", "MARGIN", 75, "test", time.time_ns())
    assert h.venue.request_conversion(command, True, time.time_ns())
    done: list[object] = []
    h.until(lambda: bool(done.extend(h.venue.take_account_updates()) or done))
    assert [(d.ok, d.command) for d in done] == [(True, command)]  # type: ignore[attr-defined]
    (body,) = h.fake.requests_of("PUT", "/portfolio/positions")
    assert (body["old_product"], body["new_product"], body["quantity"], body["position_type"], body["tradingsymbol"]) \
        == ("MIS", "NRML", "75", "day", SYMBOL)
    too_many = msgspec.structs.replace(command, cmd_id="c2", qty_units=150)
    h.venue.request_conversion(too_many, True, time.time_ns())
    h.until(lambda: bool(done.extend(h.venue.take_account_updates()) or len(done) > 1))
    assert (done[1].ok, done[1].reason_code) == (False, "BAD_INPUT")  # type: ignore[attr-defined]


def test_an_order_above_the_freeze_quantity_goes_as_tagged_child_orders_and_fills_on_the_parent(h: Harness) -> None:
    h.venue.set_instrument_limits(*NIFTY_FUT, 75, 1800)  # lot 75, freeze 1800 units
    h.take(h.venue.submit(make_order("SKAB12-20", qty=3000), time.time_ns()))
    h.until(lambda: bool(h.of(Accepted, "SKAB12-20")) and len(h.fake.place_requests()) == 2)
    assert sorted((b["tag"], b["quantity"]) for b in h.fake.place_requests()) == [  # sent side by side
        ("SKAB12O20I1", "1800"), ("SKAB12O20I2", "1200")]
    for body in h.fake.place_requests():
        (row,) = h.fake.orders_tagged(body["tag"])
        h.fake.trade(row["order_id"], row["quantity"], 15230)
    h.until(lambda: sum(f.qty_units for f in h.of(Filled, "SKAB12-20")) == 3000)  # type: ignore[attr-defined]
    assert h.venue.open_order_ids() == () and h.of(Filled, "SKAB12-20_1") == []


def test_fills_reach_the_venue_by_order_book_polling_when_the_ticker_is_down(fake: FakeKite, tmp_path: Path) -> None:
    fake.set_ticker(False)
    h = start_venue(fake, tmp_path)
    try:
        h.take(h.venue.submit(make_order("SKAB12-13"), time.time_ns()))
        vid = h.accepted("SKAB12-13").venue_order_id
        fake.trade(vid, 75, 15230)
        h.until(lambda: bool(h.of(Filled, "SKAB12-13")))
        assert h.venue.stats().book_polls >= 1 and h.venue.stats().stream_updates == 0
    finally:
        h.venue.stop()


def test_a_silent_ticker_is_replaced_and_polling_covers_the_gap(fake: FakeKite, tmp_path: Path) -> None:
    h = start_venue(fake, tmp_path, stream_stall_s=0.2)
    try:
        h.wait_stream()
        fake.mute_ticker(True)  # the connection stays open; not even heartbeats
        h.until(lambda: not h.venue.stats().stream_up)
        h.take(h.venue.submit(make_order("SKAB12-14"), time.time_ns()))
        vid = h.accepted("SKAB12-14").venue_order_id
        fake.trade(vid, 75, 15230)  # no postback: the ticker is silent
        h.until(lambda: bool(h.of(Filled, "SKAB12-14")))
        assert h.venue.stats().book_polls >= 1
        fake.mute_ticker(False)
        h.until(lambda: h.venue.stats().stream_up and h.venue.stats().stream_connects >= 2)
    finally:
        h.venue.stop()


def test_a_refused_token_holds_orders_until_a_new_login_then_sends_them(h: Harness) -> None:
    h.venue.request_snapshot(time.time_ns())
    h.until(lambda: h.venue.stats().snapshots == 1)
    h.fake.invalidate_token()
    h.take(h.venue.submit(make_order("SKAB12-15"), time.time_ns()))
    h.until(lambda: any(s.reason_code == TOKEN_REFUSED for s in h.venue.take_session_updates()))
    assert h.fake.place_requests() == [] and h.of(Rejected) == [] and h.fatals == []
    assert not h.venue.request_snapshot(time.time_ns())  # reconciled before: nothing to ask until a login
    h.fake.token = "kiteaccessnew0001"
    login_cache(h.data_dir, "kiteaccessnew0001")  # `shikra kite login` did this
    h.accepted("SKAB12-15")
    assert len(h.fake.place_requests()) == 1
    h.until(lambda: h.venue.stats().stream_up and h.fake.ticker_clients == 1)


def test_no_login_within_the_wait_after_a_refusal_halts_with_session_expired(fake: FakeKite, tmp_path: Path) -> None:
    h = start_venue(fake, tmp_path, token_wait_s=0.3)
    try:
        fake.invalidate_token()
        h.take(h.venue.submit(make_order("SKAB12-16"), time.time_ns()))
        h.until(lambda: bool(h.fatals))
        (fatal,) = h.fatals
        assert fatal.code == "SESSION_EXPIRED" and "shikra kite login" in fatal.message
        (rej,) = h.of(Rejected, "SKAB12-16")
        assert rej.reason_code is RejectReason.VENUE_HALTED and fake.place_requests() == []  # type: ignore[attr-defined]
    finally:
        h.venue.stop()


def test_without_a_token_nothing_is_sent_reconciliation_says_why_and_orders_are_refused_in_time(
        fake: FakeKite, tmp_path: Path) -> None:
    h = start_venue(fake, tmp_path, token=None, token_wait_s=0.3)
    try:
        assert h.venue.session.status(time.time_ns()).reason_code == NO_TOKEN  # type: ignore[union-attr]
        h.venue.request_snapshot(time.time_ns())
        (failed,) = h.venue.take_account_updates()
        assert isinstance(failed, SnapshotFailed) and "shikra kite login" in failed.detail
        h.take(h.venue.submit(make_order("SKAB12-17"), time.time_ns()))
        h.until(lambda: bool(h.of(Rejected, "SKAB12-17")))
        (rej,) = h.of(Rejected, "SKAB12-17")
        assert rej.reason_code is RejectReason.AUTH_FAILED and "shikra kite login" in rej.reason  # type: ignore[attr-defined]
        assert fake.requests == [] and h.fatals == []
    finally:
        h.venue.stop()


def test_pre_open_says_no_token_then_ok_once_a_login_is_cached(fake: FakeKite, tmp_path: Path) -> None:
    h = start_venue(fake, tmp_path, token=None)
    statuses: list[BrokerSessionStatus] = []
    try:
        assert h.venue.request_session("pre_open")
        h.until(lambda: bool(statuses.extend(h.venue.take_session_updates()) or statuses))
        assert [(s.broker, s.ok, s.reason_code) for s in statuses] == [("kite", False, NO_TOKEN)]
        login_cache(tmp_path, TOKEN)  # `shikra kite login`
        h.until(lambda: bool(statuses.extend(h.venue.take_session_updates()) or len(statuses) > 1))
        assert (statuses[1].ok, statuses[1].expires_ns > time.time_ns()) == (True, True)
        h.wait_stream()  # the new token starts the postback stream
    finally:
        h.venue.stop()


def test_token_and_api_key_never_appear_in_logs(fake: FakeKite, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    h = start_venue(fake, tmp_path)
    try:
        h.wait_stream()
        fake.reject_next("InputException", f"bad field {TOKEN}")
        h.take(h.venue.submit(make_order("SKAB12-18"), time.time_ns()))
        h.until(lambda: bool(h.of(Rejected, "SKAB12-18")))
        fake.invalidate_token()
        h.until(lambda: not h.venue.stats().stream_up)
    finally:
        h.venue.stop()
    text = caplog.text + " ".join(e.reason for e in h.of(Rejected))  # type: ignore[attr-defined]
    assert TOKEN not in text and API_KEY not in text
    assert "kite_order_rejected" in caplog.text and "dhan_" not in caplog.text  # events name the broker


_ROW_KEYS = ("order_id", "status", "filled_quantity", "quantity", "average_price", "tag", "tags", "status_message",
             "exchange", "tradingsymbol", "transaction_type", "order_type", "price", "trigger_price", "product")
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=12), st.lists(st.text(max_size=4), max_size=2))


@given(st.dictionaries(st.sampled_from(_ROW_KEYS), _VALUES))
def test_any_postback_or_order_row_parses_or_says_what_is_wrong(data: dict) -> None:
    for parse in (parse_update, lambda d: parse_order_row(d, SYMBOLS)):
        try:
            parse(data)
        except ValueError as exc:
            assert str(exc).startswith("order")  # names the row, then the field
