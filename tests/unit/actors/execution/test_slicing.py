"""Reconciliation's functional core (fill identity, slicing, positions, sliced parents) and the
live venue's margin check, slicing and reconciliation snapshots against the loopback fake Dhan,
through the real dhanhq package."""

from __future__ import annotations

import time
from collections.abc import Iterator

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipc.reasons import RejectReason
from actors.execution.dhan_wire import BrokerPosition, BrokerTrade, fill_id_order, parse_order_row, parse_trade_row
from actors.execution.venue import Accepted, Canceled, CancelRefused, Expired, Filled, ModifyRefused, Rejected
from actors.execution.reconcile import (
    BrokerSnapshot,
    FundsUpdate,
    SnapshotFailed,
    child_correlation_id,
    missing_fills,
    owner_of,
    parent_of,
    position_differences,
    slice_quantities,
)
from actors.execution.slicing import SlicedOrder
from actors.execution.charges import ChargeBreakdown
from ipc.messages import OrderState, Position
from tests.support.fake_dhan import FakeDhan
from tests.unit.actors.execution.test_dhan_venue import NIFTY_FUT, Harness, make_order, start_venue

NO_CHARGES = ChargeBreakdown(0, 0, 0, 0, 0, 0, 0, 0, 0)


def trade(vid: str, tid: int, qty: int, price: int, ts: int = 0) -> BrokerTrade:
    return BrokerTrade(venue_order_id=vid, trade_id=str(tid), segment=2, security_id=55796, side="BUY",
                       product="INTRADAY", qty_units=qty, price_paise=price, ts_ns=ts)


# Fill identity: the trade book and the stream agree, nothing is counted twice ------------------------


def test_trade_book_fills_above_what_the_stream_reported_carry_the_stream_scale_ids() -> None:
    trades = [trade("9", 1, 25, 15230), trade("9", 2, 50, 15235), trade("9", 3, 25, 15240)]
    assert [(f.fill_id, f.qty_units, f.price_paise) for f in missing_fills("9", trades, 25, 25 * 15230)] == \
        [("9-75", 50, 15235), ("9-100", 25, 15240)]
    assert missing_fills("9", trades, 100, 25 * 15230 + 50 * 15235 + 25 * 15240) == []
    assert missing_fills("9", trades[:1], 75, 0) == []  # the trade book lags the stream: nothing


def test_a_trade_straddling_the_recorded_quantity_gives_only_its_rest_at_the_value_that_balances() -> None:
    # The stream merged trades 1 and 2 (cum 75 at the average); the book orders them differently.
    trades = [trade("9", 1, 50, 10000, ts=1), trade("9", 2, 25, 10400, ts=2), trade("9", 3, 25, 10200, ts=3)]
    recorded_qty, recorded_value = 60, 60 * 10050
    fills = missing_fills("9", trades, recorded_qty, recorded_value)
    assert [f.fill_id for f in fills] == ["9-75", "9-100"]
    total_value = recorded_value + sum(f.qty_units * f.price_paise for f in fills)
    assert sum(f.qty_units for f in fills) == 40
    assert abs(total_value - (50 * 10000 + 25 * 10400 + 25 * 10200)) <= 15  # within half a paisa a unit


@settings(max_examples=200, deadline=None)
@given(qtys=st.lists(st.integers(1, 500), min_size=1, max_size=12), prices=st.data(), seen=st.data())
def test_stream_then_trade_book_records_every_unit_exactly_once(qtys: list[int], prices: st.DataObject,
                                                                seen: st.DataObject) -> None:
    trades = [trade("77", i + 1, q, prices.draw(st.integers(100, 100_000)), ts=i) for i, q in enumerate(qtys)]
    cums = [sum(qtys[: i + 1]) for i in range(len(qtys))]
    # The stream delivered some cumulative quantities (missing updates merge trades).
    delivered = sorted(seen.draw(st.sets(st.sampled_from(cums))))
    recorded_ids = [f"77-{c}" for c in delivered]
    recorded_qty = delivered[-1] if delivered else 0
    recorded_value = sum(t.qty_units * t.price_paise for t, c in zip(trades, cums) if c <= recorded_qty)
    fills = missing_fills("77", trades, recorded_qty, recorded_value)
    assert recorded_qty + sum(f.qty_units for f in fills) == cums[-1]
    assert not set(recorded_ids) & {f.fill_id for f in fills}
    assert all(f.qty_units > 0 and f.price_paise > 0 for f in fills)
    after = recorded_value + sum(f.qty_units * f.price_paise for f in fills)
    assert after == sum(t.qty_units * t.price_paise for t in trades)  # trade boundaries: exact
    # A second reconciliation finds nothing more.
    assert missing_fills("77", trades, cums[-1], after) == []


def test_rows_parse_to_paise_and_units_and_bad_rows_name_the_field() -> None:
    row = parse_trade_row({"orderId": "52", "exchangeTradeId": "7", "transactionType": "SELL",
                           "exchangeSegment": "NSE_FNO", "productType": "MARGIN", "securityId": "55796",
                           "tradedQuantity": 75, "tradedPrice": 152.3, "exchangeTime": "2026-11-20 10:00:01"})
    assert (row.qty_units, row.price_paise, row.side, row.segment, row.product) == (75, 15230, "SELL", 2, "MARGIN")
    with pytest.raises(ValueError, match="order 52: exchangeSegment 'XYZ'"):
        parse_order_row({"orderId": "52", "orderStatus": "PENDING", "exchangeSegment": "XYZ"})
    assert fill_id_order("5200000001-75") == "5200000001" and fill_id_order("P-3-f1") == ""


# Slicing and child ids -------------------------------------------------------------------------------


def test_slices_are_whole_lots_under_the_freeze_quantity_remainder_last() -> None:
    assert slice_quantities(4000, 65, 1800) == [1755, 1755, 490]
    assert slice_quantities(1800, 65, 1800) == [1800]
    assert slice_quantities(130, 65, 0) == [130]
    with pytest.raises(ValueError, match="below one lot"):
        slice_quantities(200, 100, 50)


def test_child_correlation_ids_are_derived_and_map_back_to_the_parent() -> None:
    cid = child_correlation_id("SK7QX2-42", 3)
    assert cid == "SK7QX2-42_3" and parent_of(cid) == ("SK7QX2-42", 3)
    assert owner_of(cid, {"SK7QX2-42"}) == "SK7QX2-42" and owner_of("SK7QX2-42", {"SK7QX2-42"}) == "SK7QX2-42"
    assert owner_of("web-123", {"SK7QX2-42"}) is None and parent_of("SK7QX2-42") is None
    with pytest.raises(ValueError, match="30 characters"):
        child_correlation_id("X" * 29, 1)


def test_sliced_parent_aggregates_fills_and_ends_once_every_child_is_done() -> None:
    p = SlicedOrder("P", [("P_1", 100), ("P_2", 50)])
    out, _ = p.on_child_event(Accepted(client_order_id="P_1", ts_event_ns=1, venue_order_id="v1"))
    assert [type(e) for e in out] == [Accepted]
    out, _ = p.on_child_event(Accepted(client_order_id="P_2", ts_event_ns=2, venue_order_id="v2"))
    assert out == []  # accepted once
    out, _ = p.on_child_event(Filled(client_order_id="P_1", ts_event_ns=3, fill_id="v1-100", qty_units=100,
                                     price_paise=5, charges=NO_CHARGES))
    assert [(e.client_order_id, e.fill_id) for e in out] == [("P", "v1-100")]  # type: ignore[attr-defined]
    assert p.request_cancel() == ["P_2"]
    out, _ = p.on_child_event(Canceled(client_order_id="P_2", ts_event_ns=4, reason_code=RejectReason.CANCEL_REQUESTED))
    assert len(out) == 1 and isinstance(out[0], Canceled) and out[0].reason_code is RejectReason.CANCEL_REQUESTED
    assert "100 of 150 filled" in out[0].reason and p.done


def test_a_child_the_broker_refuses_cancels_its_siblings_and_rejects_an_unaccepted_parent() -> None:
    p = SlicedOrder("P", [("P_1", 100), ("P_2", 100), ("P_3", 50)])
    out, cancel = p.on_child_event(Rejected(client_order_id="P_2", ts_event_ns=1,
                                            reason_code=RejectReason.BAD_INPUT, reason="bad"))
    assert out == [] and cancel == ["P_1", "P_3"]
    p.on_child_event(Canceled(client_order_id="P_1", ts_event_ns=2, reason_code=RejectReason.CANCEL_REQUESTED))
    out, _ = p.on_child_event(Canceled(client_order_id="P_3", ts_event_ns=3, reason_code=RejectReason.CANCEL_REQUESTED))
    assert len(out) == 1 and isinstance(out[0], Rejected) and out[0].reason_code is RejectReason.BAD_INPUT


def test_a_parent_whose_children_all_expire_expires() -> None:
    p = SlicedOrder("P", [("P_1", 10), ("P_2", 10)], accepted=True)
    p.on_child_event(Expired(client_order_id="P_1", ts_event_ns=1))
    out, _ = p.on_child_event(Expired(client_order_id="P_2", ts_event_ns=2))
    assert [type(e) for e in out] == [Expired]
    p2 = SlicedOrder("Q", [("Q_1", 10), ("Q_2", 10)], accepted=True)
    p2.request_cancel()
    out, _ = p2.on_child_event(CancelRefused(client_order_id="Q_1", ts_event_ns=1,
                                             reason_code=RejectReason.ORDER_ERROR, reason="traded"))
    assert [(type(e), e.client_order_id) for e in out] == [(CancelRefused, "Q")]


def test_position_differences_sum_strategies_per_product() -> None:
    def pos(strategy: str, units: int, product: str = "INTRADAY") -> Position:
        return Position(strategy, 2, 55796, units, 0, 0, 0, 0, 0, 0, product)  # type: ignore[arg-type]

    def broker(product: str, units: int, sid: int = 55796) -> BrokerPosition:
        return BrokerPosition(segment=2, security_id=sid, product=product, net_qty_units=units, buy_qty_units=0,
                              sell_qty_units=0, symbol="")

    assert position_differences([pos("a", 75), pos("EXTERNAL", -25)], [broker("INTRADAY", 50)]) == []
    (diff,) = position_differences([pos("a", 75)], [broker("INTRADAY", 75), broker("MARGIN", 65, sid=1)])
    assert (diff.security_id, diff.product, diff.ledger_units, diff.broker_units) == (1, "MARGIN", 0, 65)
    # The same net split differently between products is a difference per product; Dhan's MTF is CNC.
    assert position_differences([pos("a", 50, "CNC"), pos("b", 25)], [broker("MTF", 50), broker("INTRADAY", 25)]) == []
    diffs = position_differences([pos("a", 75, "CNC")], [broker("INTRADAY", 75)])
    assert [(d.product, d.ledger_units, d.broker_units) for d in diffs] == [("CNC", 75, 0), ("INTRADAY", 0, 75)]


# The venue against the fake --------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeDhan]:
    with FakeDhan() as server:
        yield server


@pytest.fixture
def h(fake: FakeDhan) -> Iterator[Harness]:
    harness = start_venue(fake)
    harness.wait_stream()
    harness.venue.set_instrument_limits(*NIFTY_FUT, 25, 100)  # lot 25, freeze 100
    yield harness
    harness.venue.stop()


def snapshot(h: Harness, with_funds: bool = False) -> BrokerSnapshot | SnapshotFailed:
    assert h.venue.request_snapshot(time.time_ns(), with_funds=with_funds)
    got: list[object] = []
    h.until(lambda: bool(got.extend(h.venue.take_account_updates()) or got))
    (update,) = got
    assert isinstance(update, (BrokerSnapshot, SnapshotFailed))
    return update


def test_order_above_the_available_margin_is_rejected_without_reaching_the_order_api(h: Harness) -> None:
    h.fake.funds_rupees = 1000.0  # 20 % of 75 x 152.30 = 2284.50 needed
    h.take(h.venue.submit(make_order("c1"), time.time_ns()))
    h.until(lambda: bool(h.of(Rejected, "c1")))
    (rej,) = h.of(Rejected, "c1")
    assert rej.reason_code is RejectReason.INSUFFICIENT_FUNDS  # type: ignore[attr-defined]
    assert "needs margin 2284.50; available 1000.00" in rej.reason  # type: ignore[attr-defined]
    assert h.fake.place_requests() == []
    (margin,) = h.fake.requests_of("POST", "/v2/margincalculator")
    assert (margin["quantity"], margin["price"], margin["securityId"]) == (75, 152.3, "55796")


def test_order_above_the_freeze_quantity_goes_as_child_orders_and_fills_aggregate(h: Harness) -> None:
    h.take(h.venue.submit(make_order("c1", qty=250), time.time_ns()))
    h.until(lambda: len(h.fake.place_requests()) == 3)
    bodies = h.fake.place_requests()
    assert sorted((b["correlationId"], b["quantity"]) for b in bodies) == [("c1_1", 100), ("c1_2", 100), ("c1_3", 50)]
    (margin,) = h.fake.requests_of("POST", "/v2/margincalculator")
    assert margin["quantity"] == 250  # one check for the whole order
    h.until(lambda: bool(h.of(Accepted)))
    for body in bodies:
        (row,) = h.fake.order_by_correlation(body["correlationId"])
        h.fake.trade(row["orderId"], body["quantity"], 15230)
    h.until(lambda: sum(f.qty_units for f in h.of(Filled)) == 250)  # type: ignore[attr-defined]
    assert {e.client_order_id for e in h.events} == {"c1"}  # the OMS sees the parent only
    assert len(h.of(Accepted)) == 1 and len({f.fill_id for f in h.of(Filled)}) == 3  # type: ignore[attr-defined]
    assert h.venue.open_order_ids() == ()


def test_cancel_of_a_sliced_order_cancels_every_child(h: Harness) -> None:
    h.take(h.venue.submit(make_order("c1", qty=250), time.time_ns()))
    h.until(lambda: len(h.of(Accepted)) == 1 and len(h.fake.place_requests()) == 3)
    (first,) = h.fake.order_by_correlation("c1_1")
    h.fake.trade(first["orderId"], 25, 15230)
    h.until(lambda: bool(h.of(Filled)))
    h.until(lambda: all(h.fake.order_by_correlation(f"c1_{n}") for n in (1, 2, 3)))
    h.take(h.venue.cancel("c1", time.time_ns()))
    h.until(lambda: bool(h.of(Canceled, "c1")))
    (canceled,) = h.of(Canceled, "c1")
    assert canceled.reason_code is RejectReason.CANCEL_REQUESTED  # type: ignore[attr-defined]
    assert "25 of 250 filled across 3 child orders" in canceled.reason  # type: ignore[attr-defined]
    assert len([m for m, _p, _b in h.fake.requests if m == "DELETE"]) == 3
    refused = h.venue.modify("c1", 250, 15000, 0, time.time_ns())
    assert refused == ()  # finished: nothing to modify


def test_a_sliced_order_cannot_be_modified(h: Harness) -> None:
    h.take(h.venue.submit(make_order("c1", qty=250), time.time_ns()))
    (refused,) = h.venue.modify("c1", 250, 15000, 0, time.time_ns())
    assert isinstance(refused, ModifyRefused) and refused.reason_code is RejectReason.SLICED_ORDER


def test_a_child_dhan_rejects_cancels_the_rest_of_the_order(h: Harness) -> None:
    h.fake.reject_next("DH-906", "Order quantity exceeds the limit")  # the first child
    h.take(h.venue.submit(make_order("c1", qty=250), time.time_ns()))
    h.until(lambda: bool(h.of(Rejected, "c1")) or bool(h.of(Canceled, "c1")))
    h.until(lambda: h.venue.stats().in_flight == 0 and h.venue.stats().queued == 0)
    ended = h.of(Rejected, "c1") + h.of(Canceled, "c1")
    assert len(ended) == 1 and "DH-906" in ended[0].reason  # type: ignore[attr-defined]
    for n in (2, 3):  # placed or not, nothing of the order is left working at Dhan
        assert all(r["orderStatus"] == "CANCELLED" for r in h.fake.order_by_correlation(f"c1_{n}"))


def test_restored_sliced_order_finds_its_children_and_reports_only_what_it_missed(h: Harness) -> None:
    vids = [h.fake.add_order(f"c9_{n}", q, 15230) for n, q in ((1, 100), (2, 100), (3, 50))]
    h.fake.trade(vids[0], 100, 15230)  # reported before the crash
    h.fake.trade(vids[1], 25, 15235)  # reported before the crash
    h.fake.trade(vids[1], 50, 15240)  # missed
    known = msgspec.structs.replace(make_order("c9", qty=250), state=OrderState.PARTIALLY_FILLED,
                                    venue_order_id=vids[0], filled_qty_units=125,
                                    filled_value_paise=100 * 15230 + 25 * 15235)
    fills = [(f"{vids[0]}-100", 100, 15230), (f"{vids[1]}-25", 25, 15235)]
    h.take(h.venue.restore(known, time.time_ns(), fills=fills))
    h.until(lambda: bool(h.of(Filled)))
    h.until(lambda: h.venue.stats().in_flight == 0 and h.venue.stats().queued == 0)
    assert [(f.fill_id, f.qty_units, f.price_paise) for f in h.of(Filled)] == [  # type: ignore[attr-defined]
        (f"{vids[1]}-75", 50, 15240)]
    assert h.fake.place_requests() == [] and h.of(Accepted) == []
    assert set(h.venue.open_order_ids()) == {"c9"}


def test_snapshot_brings_a_fill_the_stream_missed_from_the_trade_book_once(h: Harness) -> None:
    h.take(h.venue.submit(make_order("c1", qty=100), time.time_ns()))
    vid = h.accepted("c1").venue_order_id
    h.fake.trade(vid, 25, 15230, push=False)  # the stream never says
    h.fake.trade(vid, 75, 15250, push=False)
    snap = snapshot(h)
    assert isinstance(snap, BrokerSnapshot) and len(snap.trades) == 2
    assert [(f.fill_id, f.qty_units, f.price_paise) for f in h.of(Filled)] == [  # type: ignore[attr-defined]
        (f"{vid}-25", 25, 15230), (f"{vid}-100", 75, 15250)]
    seen = h.venue.stats().stream_updates
    h.fake.push(vid)  # the stream's late copy: TRADED at 100
    h.until(lambda: h.venue.stats().stream_updates > seen)
    assert isinstance(snapshot(h), BrokerSnapshot)
    assert len(h.of(Filled)) == 2 and h.venue.open_order_ids() == ()


def test_snapshot_that_cannot_reach_dhan_fails_with_the_calls_named(h: Harness) -> None:
    h.fake.set_down(True)
    failed = snapshot(h)
    assert isinstance(failed, SnapshotFailed)
    assert "orders: transport" in failed.detail and "positions: transport" in failed.detail
    h.fake.set_down(False)
    ok = snapshot(h, with_funds=True)
    assert isinstance(ok, BrokerSnapshot) and ok.funds is not None and ok.funds.available_paise == 25_000_055


def test_periodic_funds_come_back_as_an_account_update(h: Harness) -> None:
    h.fake.funds_rupees = 1234.5
    assert h.venue.request_funds(time.time_ns())
    got: list[object] = []
    h.until(lambda: bool(got.extend(h.venue.take_account_updates()) or got))
    (update,) = got
    assert isinstance(update, FundsUpdate) and update.funds.available_paise == 123450


def test_burst_of_child_orders_respects_the_per_second_limit(fake: FakeDhan) -> None:
    h = start_venue(fake, max_queue_wait_s=5.0)
    try:
        h.venue.set_instrument_limits(*NIFTY_FUT, 25, 100)
        t0 = time.time_ns()
        h.take(h.venue.submit(make_order("c1", qty=1200), t0))  # 12 children, 10 a second
        h.until(lambda: len(fake.place_requests()) == 10 and h.venue.stats().in_flight == 0, now_ns=lambda: t0)
        assert len(fake.place_requests()) == 10  # the clock stands still: the 11th waits
        h.until(lambda: len(fake.place_requests()) == 12, now_ns=lambda: t0 + 1_000_000_000)
        assert h.of(Rejected) == []
    finally:
        h.venue.stop()


def test_order_over_the_max_children_is_refused(h: Harness) -> None:
    (rej,) = h.venue.submit(make_order("c1", qty=100 * 100), time.time_ns())
    assert isinstance(rej, Rejected) and rej.reason_code is RejectReason.INVALID_ORDER and "100 orders" in rej.reason

