"""actors.execution.paper_venue: the paper venue's matching, queue models, stops, latency, funds, charges
(``paper_matching`` and ``paper_wallet`` are exercised through the venue).

Every venue event in these tests goes through the real order state machine (``orders.apply``)
and must be a legal transition; ``Oms`` fails the test otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import actors.execution.paper_venue as paper_module
from actors.execution.charges import SegmentClass, charges_for_fill
from actors.execution.orders import (
    OrderSnapshot,
    RequestCancel,
    RequestModify,
    Submit,
    apply,
    fill_message,
    invariant_violations,
    new_order,
)
from actors.execution.config import MarginRules, PaperVenueConfig
from actors.execution.paper_venue import PaperVenue
from actors.execution.paper_wallet import PaperWallet
from actors.execution.venue import (
    NO_EVENTS,
    Accepted,
    Canceled,
    CancelRefused,
    Expired,
    Filled,
    Modified,
    ModifyRefused,
    Rejected,
    Triggered,
    VenueEvent,
)
from engine.model.money import format_paise
from ipc.messages import Depth, OrderSpec, OrderState, Quote, Tick
from ipc.reasons import RejectReason
from ipc.segments import Segment

S = OrderState
SEG = Segment.NSE_FNO
OPT = 55796  # an index option (OPTIDX)
FUT = 35001  # an index future (FUTIDX)
T0 = 1_700_000_000_000_000_000
US = 1_000


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def depth(
    bids: Sequence[tuple[int, int]] = (),
    asks: Sequence[tuple[int, int]] = (),
    *,
    sides: str = "both",
    security_id: int = OPT,
) -> Depth:
    return Depth(
        segment=SEG,
        security_id=security_id,
        sides=sides,  # type: ignore[arg-type]
        bid_price_paise=[p for p, _ in bids],
        bid_qty_units=[q for _, q in bids],
        bid_orders=[1 for _ in bids],
        ask_price_paise=[p for p, _ in asks],
        ask_qty_units=[q for _, q in asks],
        ask_orders=[1 for _ in asks],
        ts_event_ns=0,
        ts_init_ns=0,
    )


def tick(ltp_paise: int, security_id: int = OPT) -> Tick:
    return Tick(segment=SEG, security_id=security_id, ltp_paise=ltp_paise, ts_event_ns=0, ts_init_ns=0)


def quote(ltp_paise: int, volume_units: int, security_id: int = OPT) -> Quote:
    return Quote(
        segment=SEG,
        security_id=security_id,
        ltp_paise=ltp_paise,
        ltq_units=1,
        atp_paise=ltp_paise,
        volume_units=volume_units,
        total_sell_qty_units=0,
        total_buy_qty_units=0,
        open_paise=0,
        close_paise=0,
        high_paise=0,
        low_paise=0,
        ts_event_ns=0,
        ts_init_ns=0,
    )


def spec(cid: str = "c-1", **overrides: Any) -> OrderSnapshot:
    """A new (INITIALIZED) order ``cid`` of strategy "orb": a LIMIT BUY 100 @ 100.00 unless changed."""
    fields: dict[str, Any] = dict(
        segment=SEG,
        security_id=OPT,
        side="BUY",
        order_type="LIMIT",
        validity="DAY",
        product="INTRADAY",
        qty_units=100,
        price_paise=10_000,
        trigger_price_paise=0,
    )
    fields.update(overrides)
    return new_order(OrderSpec(**fields), client_order_id=cid, intent_id=f"i-{cid}", strategy="orb")


def market(cid: str = "c-1", **overrides: Any) -> OrderSnapshot:
    return spec(cid, order_type="MARKET", price_paise=0, **overrides)


class Oms:
    """The OMS side of the conversation: every venue event must be legal in ``orders.apply``."""

    def __init__(self, venue: PaperVenue) -> None:
        self.venue = venue
        self.orders: dict[str, OrderSnapshot] = {}
        self.fills: dict[str, list[Filled]] = {}
        self.events: list[VenueEvent] = []

    def submit(self, order: OrderSnapshot, now_ns: int = T0, **kw: Any) -> list[VenueEvent]:
        snap = apply(order, Submit(ts_sent_ns=now_ns))
        assert isinstance(snap, OrderSnapshot)
        self.orders[order.client_order_id] = snap
        return self.feed(self.venue.submit(snap, now_ns, **kw))

    def cancel(self, cid: str, now_ns: int = T0) -> list[VenueEvent]:
        self.orders[cid] = self.legal(self.orders[cid], RequestCancel())
        return self.feed(self.venue.cancel(cid, now_ns))

    def modify(self, cid: str, qty: int, price: int, trigger: int = 0, now_ns: int = T0) -> list[VenueEvent]:
        request = RequestModify(qty_units=qty, price_paise=price, trigger_price_paise=trigger)
        self.orders[cid] = self.legal(self.orders[cid], request)
        return self.feed(self.venue.modify(cid, qty, price, trigger, now_ns))

    def feed(self, events: Sequence[VenueEvent]) -> list[VenueEvent]:
        for event in events:
            order = self.orders[event.client_order_id]
            if isinstance(event, Filled):
                self.fills.setdefault(event.client_order_id, []).append(event)
                if order.spec.order_type in ("LIMIT", "SL"):  # never worse than the working limit
                    limit = order.spec.price_paise
                    assert event.price_paise <= limit if order.spec.side == "BUY" else event.price_paise >= limit
            self.orders[event.client_order_id] = self.legal(order, event)
        self.events.extend(events)
        return list(events)

    @staticmethod
    def legal(order: OrderSnapshot, event: Any) -> OrderSnapshot:
        result = apply(order, event)
        assert isinstance(result, OrderSnapshot), result
        assert invariant_violations(result) == (), invariant_violations(result)
        return result

    def state(self, cid: str = "c-1") -> OrderState:
        return self.orders[cid].state


def make(config: PaperVenueConfig | None = None, wallet: PaperWallet | None = None) -> tuple[PaperVenue, Oms]:
    venue = PaperVenue(config, wallet)
    venue.set_instrument_type(SEG, OPT, "OPTIDX")
    venue.set_instrument_type(SEG, FUT, "FUTIDX")
    return venue, Oms(venue)


def fills_of(events: Sequence[VenueEvent]) -> list[tuple[int, int]]:
    return [(e.qty_units, e.price_paise) for e in events if isinstance(e, Filled)]


def kinds(events: Sequence[VenueEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


BOOK = depth(bids=[(9_990, 200), (9_985, 300)], asks=[(10_010, 100), (10_015, 300)])


# --------------------------------------------------------------------------------------------
# Market orders
# --------------------------------------------------------------------------------------------


def test_market_buy_walks_three_levels_with_a_fill_per_level() -> None:
    venue, oms = make()
    venue.on_depth(depth(bids=[(9_995, 10)], asks=[(10_000, 50), (10_005, 30), (10_010, 100)]), T0)
    events = oms.submit(market(qty_units=100))
    assert kinds(events) == ["Accepted", "Filled", "Filled", "Filled"]
    assert fills_of(events) == [(50, 10_000), (30, 10_005), (20, 10_010)]
    assert [e.fill_id for e in events if isinstance(e, Filled)] == ["c-1-1", "c-1-2", "c-1-3"]
    order = oms.orders["c-1"]
    assert order.state is S.FILLED
    assert order.filled_value_paise == 50 * 10_000 + 30 * 10_005 + 20 * 10_010
    # What we took stays taken until the next depth update.
    view = venue.book(SEG, OPT)
    assert view is not None and view.ask_qty_units == (0, 0, 80)


def test_market_sell_walks_the_bids() -> None:
    venue, oms = make()
    venue.on_depth(BOOK, T0)
    events = oms.submit(market(side="SELL", qty_units=250))
    assert fills_of(events) == [(200, 9_990), (50, 9_985)]
    assert oms.state() is S.FILLED


def test_two_market_orders_do_not_take_the_same_visible_quantity() -> None:
    venue, oms = make()
    venue.on_depth(depth(asks=[(10_000, 60), (10_005, 100)]), T0)
    oms.submit(market("a", qty_units=50))
    events = oms.submit(market("b", qty_units=50))
    assert fills_of(events) == [(10, 10_000), (40, 10_005)]


def test_day_market_remainder_rests_and_fills_on_later_depth() -> None:
    venue, oms = make()
    venue.on_depth(depth(asks=[(10_000, 50), (10_005, 30)]), T0)
    events = oms.submit(market(qty_units=100))
    assert fills_of(events) == [(50, 10_000), (30, 10_005)]
    assert oms.state() is S.PARTIALLY_FILLED
    assert venue.open_order_ids() == ("c-1",)
    # A tick tells a market remainder nothing about size: it waits for depth.
    assert oms.feed(venue.on_tick(tick(10_005), T0 + 1)) == []
    later = oms.feed(venue.on_depth(depth(asks=[(10_020, 15), (10_025, 40)]), T0 + 2))
    assert fills_of(later) == [(15, 10_020), (5, 10_025)]
    assert oms.state() is S.FILLED
    assert venue.open_order_ids() == ()


def test_ioc_market_remainder_is_canceled() -> None:
    venue, oms = make()
    venue.on_depth(depth(asks=[(10_000, 50), (10_005, 30)]), T0)
    events = oms.submit(market(qty_units=100, validity="IOC"))
    assert kinds(events) == ["Accepted", "Filled", "Filled", "Canceled"]
    cancel = events[-1]
    assert isinstance(cancel, Canceled) and cancel.reason_code is RejectReason.IOC_UNFILLED
    assert "20 of 100 unfilled" in cancel.reason
    assert oms.state() is S.CANCELED
    assert oms.orders["c-1"].filled_qty_units == 80
    assert oms.feed(venue.on_depth(depth(asks=[(10_000, 500)]), T0 + 1)) == []


def test_market_order_without_a_book_is_rejected_no_market_data() -> None:
    venue, oms = make()
    events = oms.submit(market())
    assert isinstance(events[0], Rejected)
    assert events[0].reason_code is RejectReason.NO_MARKET_DATA
    assert "NSE_FNO:55796" in events[0].reason
    assert oms.state() is S.REJECTED


def test_market_order_with_ticks_but_no_depth_is_rejected_no_market_data() -> None:
    venue, oms = make()
    venue.on_tick(tick(10_000), T0)
    events = oms.submit(market())
    assert isinstance(events[0], Rejected) and events[0].reason_code is RejectReason.NO_MARKET_DATA
    assert "no depth" in events[0].reason
    # A limit order can work from ticks alone.
    assert kinds(oms.submit(spec("c-2"))) == ["Accepted"]


# --------------------------------------------------------------------------------------------
# Limit orders and the queue models
# --------------------------------------------------------------------------------------------


def test_marketable_limit_takes_up_to_its_price_and_rests_the_rest() -> None:
    venue, oms = make()
    venue.on_depth(depth(bids=[(9_990, 10)], asks=[(10_000, 30), (10_005, 30), (10_010, 30)]), T0)
    events = oms.submit(spec(qty_units=100, price_paise=10_005))
    assert fills_of(events) == [(30, 10_000), (30, 10_005)]
    assert oms.state() is S.PARTIALLY_FILLED
    assert venue.open_order_ids() == ("c-1",)


def test_ioc_limit_cancels_what_does_not_cross() -> None:
    venue, oms = make()
    venue.on_depth(BOOK, T0)
    events = oms.submit(spec(qty_units=150, price_paise=10_010, validity="IOC"))
    assert kinds(events) == ["Accepted", "Filled", "Canceled"]
    assert fills_of(events) == [(100, 10_010)]


@pytest.mark.parametrize(
    ("model", "fills_on_touch"), [("none", True), ("trade_through", False), ("volume", False)]
)
def test_resting_limit_fills_on_an_ltp_touch_only_under_the_none_model(model: str, fills_on_touch: bool) -> None:
    venue, oms = make(PaperVenueConfig(queue_model=model))  # type: ignore[arg-type]
    venue.on_depth(BOOK, T0)
    assert kinds(oms.submit(spec(qty_units=50, price_paise=9_990))) == ["Accepted"]
    events = oms.feed(venue.on_tick(tick(9_990), T0 + 1))
    assert fills_of(events) == ([(50, 9_990)] if fills_on_touch else [])


@pytest.mark.parametrize("model", ["none", "trade_through", "volume"])
def test_resting_limit_fills_at_its_price_when_ltp_trades_through(model: str) -> None:
    venue, oms = make(PaperVenueConfig(queue_model=model))  # type: ignore[arg-type]
    venue.on_depth(BOOK, T0)
    oms.submit(spec(qty_units=50, price_paise=9_990))
    assert oms.feed(venue.on_tick(tick(9_995), T0 + 1)) == []  # above a buy limit: no fill
    events = oms.feed(venue.on_tick(tick(9_980), T0 + 2))
    assert fills_of(events) == [(50, 9_990)]  # the limit, not the better trade price
    assert oms.state() is S.FILLED


@pytest.mark.parametrize("model", ["none", "trade_through", "volume"])
def test_resting_sell_limit_fills_when_ltp_trades_through_above(model: str) -> None:
    venue, oms = make(PaperVenueConfig(queue_model=model))  # type: ignore[arg-type]
    venue.on_depth(BOOK, T0)
    oms.submit(spec(side="SELL", qty_units=50, price_paise=10_010))
    assert oms.feed(venue.on_tick(tick(10_005), T0 + 1)) == []
    assert fills_of(oms.feed(venue.on_tick(tick(10_015), T0 + 2))) == [(50, 10_010)]


@pytest.mark.parametrize(
    ("model", "fills_at_equal_ask"), [("none", True), ("trade_through", False), ("volume", True)]
)
def test_resting_limit_fills_when_the_opposite_best_crosses_it(model: str, fills_at_equal_ask: bool) -> None:
    venue, oms = make(PaperVenueConfig(queue_model=model))  # type: ignore[arg-type]
    venue.on_depth(BOOK, T0)
    oms.submit(spec(qty_units=100, price_paise=9_990))
    at_price = oms.feed(venue.on_depth(depth(bids=[(9_985, 10)], asks=[(9_990, 30)]), T0 + 1))
    assert fills_of(at_price) == ([(30, 9_990)] if fills_at_equal_ask else [])
    through = oms.feed(venue.on_depth(depth(bids=[(9_980, 10)], asks=[(9_985, 40), (9_990, 500)]), T0 + 2))
    expected = [(40, 9_990), (30, 9_990)] if fills_at_equal_ask else [(40, 9_990)]
    assert fills_of(through) == expected  # at our limit, never better; only the crossing size


def test_volume_model_fills_only_after_the_queue_ahead_has_traded() -> None:
    venue, oms = make(PaperVenueConfig(queue_model="volume"))
    venue.on_depth(BOOK, T0)  # 200 visible at our price: they are ahead of us
    venue.on_quote(quote(10_000, volume_units=1_000), T0)
    oms.submit(spec(qty_units=100, price_paise=9_990))
    assert oms.feed(venue.on_quote(quote(9_990, volume_units=1_150), T0 + 1)) == []  # 150 of 200
    assert oms.feed(venue.on_quote(quote(10_000, volume_units=1_400), T0 + 2)) == []  # not at our price
    events = oms.feed(venue.on_quote(quote(9_990, volume_units=1_530), T0 + 3))  # 130: 50 ahead, 80 us
    assert fills_of(events) == [(80, 9_990)]
    assert oms.state() is S.PARTIALLY_FILLED
    assert fills_of(oms.feed(venue.on_quote(quote(9_990, volume_units=1_560), T0 + 4))) == [(20, 9_990)]
    assert oms.state() is S.FILLED


def test_volume_model_queue_shortens_when_the_level_shrinks() -> None:
    venue, oms = make(PaperVenueConfig(queue_model="volume"))
    venue.on_depth(BOOK, T0)
    venue.on_quote(quote(10_000, volume_units=1_000), T0)
    oms.submit(spec(qty_units=100, price_paise=9_990))
    venue.on_depth(depth(bids=[(9_990, 40), (9_985, 300)], asks=[(10_010, 100)]), T0 + 1)  # cancels ahead
    events = oms.feed(venue.on_quote(quote(9_990, volume_units=1_060), T0 + 2))
    assert fills_of(events) == [(20, 9_990)]


def test_volume_model_queue_is_empty_when_our_level_vanishes_inside_the_book() -> None:
    venue, oms = make(PaperVenueConfig(queue_model="volume"))
    venue.on_depth(BOOK, T0)
    venue.on_quote(quote(10_000, volume_units=1_000), T0)
    oms.submit(spec(qty_units=100, price_paise=9_990))
    venue.on_depth(depth(bids=[(9_995, 50), (9_985, 300)], asks=[(10_010, 100)]), T0 + 1)
    events = oms.feed(venue.on_quote(quote(9_990, volume_units=1_010), T0 + 2))
    assert fills_of(events) == [(10, 9_990)]


def test_volume_model_tick_without_volume_fills_only_through() -> None:
    venue, oms = make(PaperVenueConfig(queue_model="volume"))
    venue.on_depth(depth(bids=[(9_985, 10)], asks=[(10_010, 10)]), T0)  # we improve the bid: 0 ahead
    oms.submit(spec(qty_units=100, price_paise=9_990))
    assert oms.feed(venue.on_tick(tick(9_990), T0 + 1)) == []
    assert fills_of(oms.feed(venue.on_tick(tick(9_985), T0 + 2))) == [(100, 9_990)]


# --------------------------------------------------------------------------------------------
# Stop orders
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "before", "at", "fill_price"), [("BUY", 10_045, 10_050, 10_055), ("SELL", 10_055, 10_050, 10_045)]
)
def test_sl_m_order_triggers_on_ltp_cross_then_fills_as_market(side: str, before: int, at: int, fill_price: int) -> None:
    venue, oms = make()
    venue.on_depth(depth(bids=[(10_045, 500)], asks=[(10_055, 500)]), T0)
    venue.on_tick(tick(before), T0)
    order = spec(side=side, order_type="SL_M", price_paise=0, trigger_price_paise=10_050, qty_units=100)
    assert kinds(oms.submit(order)) == ["Accepted"]
    assert oms.feed(venue.on_tick(tick(before), T0 + 1)) == []
    # Depth never triggers a stop, however far it moves.
    assert oms.feed(venue.on_depth(depth(bids=[(10_100, 500)], asks=[(10_000, 500)]), T0 + 2)) == []
    venue.on_depth(depth(bids=[(10_045, 500)], asks=[(10_055, 500)]), T0 + 3)
    events = oms.feed(venue.on_tick(tick(at), T0 + 4))
    assert kinds(events) == ["Triggered", "Filled"]
    assert fills_of(events) == [(100, fill_price)]
    assert oms.state() is S.FILLED


def test_sl_order_triggers_then_rests_as_a_limit() -> None:
    venue, oms = make()
    venue.on_depth(depth(bids=[(10_040, 500)], asks=[(10_070, 500)]), T0)
    oms.submit(spec(order_type="SL", price_paise=10_060, trigger_price_paise=10_050, qty_units=100))
    events = oms.feed(venue.on_tick(tick(10_052), T0 + 1))
    assert kinds(events) == ["Triggered"]  # the ask is above the limit: nothing to take
    assert oms.state() is S.TRIGGERED
    assert oms.feed(venue.on_tick(tick(10_060), T0 + 2)) == []  # trade_through: a touch is not enough
    assert fills_of(oms.feed(venue.on_tick(tick(10_055), T0 + 3))) == [(100, 10_060)]


def test_sl_order_triggered_takes_the_book_up_to_its_limit() -> None:
    venue, oms = make()
    venue.on_depth(depth(bids=[(10_040, 500)], asks=[(10_055, 40), (10_060, 40), (10_065, 500)]), T0)
    oms.submit(spec(order_type="SL", price_paise=10_060, trigger_price_paise=10_050, qty_units=100))
    events = oms.feed(venue.on_tick(tick(10_050), T0 + 1))
    assert kinds(events) == ["Triggered", "Filled", "Filled"]
    assert fills_of(events) == [(40, 10_055), (40, 10_060)]
    assert oms.state() is S.PARTIALLY_FILLED


def test_stop_already_crossed_on_arrival_triggers_at_once_by_default() -> None:
    venue, oms = make()
    venue.on_depth(depth(asks=[(10_105, 500)]), T0)
    venue.on_tick(tick(10_100), T0)
    events = oms.submit(spec(order_type="SL_M", price_paise=0, trigger_price_paise=10_050))
    assert kinds(events) == ["Accepted", "Triggered", "Filled"]


def test_stop_already_crossed_on_arrival_is_rejected_when_configured() -> None:
    venue, oms = make(PaperVenueConfig(stop_crossed_on_arrival="reject"))
    venue.on_depth(depth(asks=[(10_105, 500)]), T0)
    venue.on_tick(tick(10_100), T0)
    events = oms.submit(spec(order_type="SL_M", price_paise=0, trigger_price_paise=10_050))
    assert isinstance(events[0], Rejected) and events[0].reason_code is RejectReason.STOP_ALREADY_CROSSED
    assert "100.50" in events[0].reason and "101.00" in events[0].reason


def test_ioc_stop_cancels_its_remainder_after_the_trigger() -> None:
    venue, oms = make()
    venue.on_depth(depth(asks=[(10_055, 30)]), T0)
    oms.submit(spec(order_type="SL_M", price_paise=0, trigger_price_paise=10_050, validity="IOC"))
    events = oms.feed(venue.on_tick(tick(10_050), T0 + 1))
    assert kinds(events) == ["Triggered", "Filled", "Canceled"]


# --------------------------------------------------------------------------------------------
# Cancel and modify
# --------------------------------------------------------------------------------------------


def test_cancel_of_a_resting_order_cancels_it() -> None:
    venue, oms = make()
    venue.on_depth(BOOK, T0)
    oms.submit(spec(price_paise=9_980))
    events = oms.cancel("c-1")
    assert kinds(events) == ["Canceled"]
    assert isinstance(events[0], Canceled) and events[0].reason_code is RejectReason.CANCEL_REQUESTED
    assert oms.state() is S.CANCELED
    assert oms.feed(venue.on_tick(tick(9_900), T0 + 1)) == []


def test_cancel_of_an_unknown_order_is_refused_and_of_a_closed_one_is_not_answered() -> None:
    venue, oms = make()
    events = venue.cancel("nope", T0)
    assert isinstance(events[0], CancelRefused) and events[0].reason_code is RejectReason.ORDER_UNKNOWN
    venue.on_depth(BOOK, T0)
    oms.submit(market(qty_units=10))
    assert oms.state() is S.FILLED
    assert venue.cancel("c-1", T0) == NO_EVENTS  # its Filled already ended any pending cancel


def test_modify_to_a_marketable_price_takes_the_book() -> None:
    venue, oms = make()
    venue.on_depth(BOOK, T0)
    oms.submit(spec(qty_units=150, price_paise=9_980))
    events = oms.modify("c-1", 150, 10_015)
    assert kinds(events) == ["Modified", "Filled", "Filled"]
    assert fills_of(events) == [(100, 10_010), (50, 10_015)]
    assert oms.state() is S.FILLED


def test_modify_qty_and_price_become_the_working_values() -> None:
    venue, oms = make()
    venue.on_depth(BOOK, T0)
    oms.submit(spec(qty_units=100, price_paise=9_980))
    events = oms.modify("c-1", 60, 9_970)
    assert events == [Modified(client_order_id="c-1", ts_event_ns=T0, qty_units=60, price_paise=9_970, trigger_price_paise=0)]
    assert oms.feed(venue.on_tick(tick(9_975), T0 + 1)) == []  # above the new limit
    assert fills_of(oms.feed(venue.on_tick(tick(9_965), T0 + 2))) == [(60, 9_970)]
    order = oms.orders["c-1"]
    assert (order.state, order.spec.qty_units, order.spec.price_paise) == (S.FILLED, 60, 9_970)


def test_modify_smaller_qty_keeps_the_queue_place_and_a_price_change_loses_it() -> None:
    venue, oms = make(PaperVenueConfig(queue_model="volume"))
    venue.on_depth(BOOK, T0)
    venue.on_quote(quote(10_000, volume_units=0), T0)
    oms.submit(spec(qty_units=100, price_paise=9_990))  # 200 ahead
    oms.feed(venue.on_quote(quote(9_990, volume_units=190), T0 + 1))  # 10 ahead now
    oms.modify("c-1", 80, 9_990)
    assert fills_of(oms.feed(venue.on_quote(quote(9_990, volume_units=210), T0 + 2))) == [(10, 9_990)]
    oms.modify("c-1", 80, 9_985)  # new price: behind the 300 visible at 9_985
    assert oms.feed(venue.on_quote(quote(9_985, volume_units=500), T0 + 3)) == []
    assert fills_of(oms.feed(venue.on_quote(quote(9_985, volume_units=520), T0 + 4))) == [(10, 9_985)]


def test_modify_to_qty_not_above_filled_is_refused() -> None:
    venue, oms = make()
    venue.on_depth(depth(asks=[(10_000, 40)]), T0)
    oms.submit(spec(qty_units=100, price_paise=10_000))
    events = oms.modify("c-1", 50, 10_000)
    assert kinds(events) == ["Modified"]
    # The OMS would refuse qty <= filled itself; the venue refuses it too when it gets one.
    refused = venue.modify("c-1", 40, 10_000, 0, T0)
    assert isinstance(refused[0], ModifyRefused) and refused[0].reason_code is RejectReason.INVALID_MODIFY
    assert "qty 40 must exceed the filled qty 40" in refused[0].reason


def test_modify_of_a_stop_trigger_already_crossed_triggers_it() -> None:
    venue, oms = make()
    venue.on_depth(depth(asks=[(10_055, 500)]), T0)
    venue.on_tick(tick(10_040), T0)
    oms.submit(spec(order_type="SL_M", price_paise=0, trigger_price_paise=10_100))
    events = oms.modify("c-1", 100, 0, 10_030)
    assert kinds(events) == ["Modified", "Triggered", "Filled"]
    assert oms.state() is S.FILLED


# --------------------------------------------------------------------------------------------
# Session end and latency
# --------------------------------------------------------------------------------------------


def test_end_of_session_expires_open_day_orders() -> None:
    wallet = PaperWallet(10**12)
    venue, oms = make(wallet=wallet)
    venue.on_depth(depth(bids=[(9_990, 100)], asks=[(10_010, 40)]), T0)
    venue.on_tick(tick(10_000), T0)
    oms.submit(spec("lim", price_paise=9_980))
    oms.submit(spec("stop", order_type="SL_M", price_paise=0, trigger_price_paise=10_100))
    oms.submit(market("mkt", qty_units=100))  # 40 filled, 60 resting
    assert wallet.blocked_paise > 0
    events = oms.feed(venue.end_of_session(T0 + 10))
    assert kinds(events) == ["Expired", "Expired", "Expired"]
    assert {e.client_order_id for e in events} == {"lim", "stop", "mkt"}
    assert all(oms.state(c) is S.EXPIRED for c in ("lim", "stop", "mkt"))
    assert venue.open_order_ids() == ()
    assert wallet.blocked_paise == 0


def test_ack_latency_delivers_the_answer_through_poll_at_the_due_time() -> None:
    venue, oms = make(PaperVenueConfig(ack_latency_us=500))
    venue.on_depth(depth(asks=[(10_000, 50), (10_005, 100)]), T0)
    assert oms.submit(market(qty_units=80), T0) == []
    assert venue.poll(T0 + 499 * US) == NO_EVENTS
    # The book moved while the order was on its way: it matches the book it arrives at.
    venue.on_depth(depth(asks=[(10_020, 500)]), T0 + 100 * US)
    events = oms.feed(venue.poll(T0 + 700 * US))
    assert kinds(events) == ["Accepted", "Filled"]
    assert fills_of(events) == [(80, 10_020)]
    assert all(e.ts_event_ns == T0 + 500 * US for e in events)
    assert venue.poll(T0 + 800 * US) == NO_EVENTS


def test_ack_latency_request_is_handled_by_market_data_past_its_due_time() -> None:
    venue, oms = make(PaperVenueConfig(ack_latency_us=500))
    venue.on_depth(BOOK, T0)
    oms.submit(spec(qty_units=50, price_paise=9_990), T0)
    # The tick at the due time first lets the order arrive, then trades through it.
    events = oms.feed(venue.on_tick(tick(9_980), T0 + 500 * US))
    assert kinds(events) == ["Accepted", "Filled"]


def test_ack_latency_cancel_races_a_fill_and_the_fill_wins() -> None:
    venue, oms = make(PaperVenueConfig(ack_latency_us=500))
    venue.on_depth(BOOK, T0)
    oms.submit(spec(qty_units=50, price_paise=9_990), T0)
    oms.feed(venue.poll(T0 + 500 * US))
    assert oms.cancel("c-1", T0 + 600 * US) == []
    assert oms.state() is S.PENDING_CANCEL
    oms.feed(venue.on_tick(tick(9_980), T0 + 700 * US))
    assert oms.state() is S.FILLED
    assert venue.poll(T0 + 1_100 * US) == NO_EVENTS


def test_ack_latency_bigger_modify_after_a_full_fill_is_refused_order_closed() -> None:
    venue, oms = make(PaperVenueConfig(ack_latency_us=500))
    venue.on_depth(BOOK, T0)
    oms.submit(spec(qty_units=50, price_paise=9_990), T0)
    oms.feed(venue.poll(T0 + 500 * US))
    oms.modify("c-1", 80, 9_990, now_ns=T0 + 600 * US)
    oms.feed(venue.on_tick(tick(9_980), T0 + 700 * US))
    assert oms.state() is S.PENDING_UPDATE  # filled 50 of 50, but it may have become 80
    events = oms.feed(venue.poll(T0 + 1_100 * US))
    assert isinstance(events[0], ModifyRefused) and events[0].reason_code is RejectReason.ORDER_CLOSED
    assert oms.state() is S.FILLED


def test_end_of_session_rejects_orders_still_in_flight() -> None:
    venue, oms = make(PaperVenueConfig(ack_latency_us=500))
    venue.on_depth(BOOK, T0)
    oms.submit(spec(qty_units=50, price_paise=9_980), T0)
    events = oms.feed(venue.end_of_session(T0 + 100 * US))
    assert isinstance(events[0], Rejected) and events[0].reason_code is RejectReason.SESSION_CLOSED
    assert oms.state() is S.REJECTED


# --------------------------------------------------------------------------------------------
# Funds and margin
# --------------------------------------------------------------------------------------------


def test_buy_beyond_available_cash_is_rejected_with_the_numbers() -> None:
    wallet = PaperWallet(900_000)  # Rs 9,000.00
    venue, oms = make(wallet=wallet)
    venue.on_depth(BOOK, T0)
    events = oms.submit(spec(qty_units=100, price_paise=10_000))  # Rs 10,000 + charges
    charges = charges_for_fill(SegmentClass.INDEX_OPTIONS, "BUY", 100, 10_000, True).total_paise
    assert isinstance(events[0], Rejected) and events[0].reason_code is RejectReason.INSUFFICIENT_FUNDS
    reason = events[0].reason
    assert f"needs {format_paise(1_000_000 + charges)}" in reason
    assert "worst-case cost 10000.00" in reason and f"est. charges {format_paise(charges)}" in reason
    assert "9000.00 is available" in reason
    assert oms.state() is S.REJECTED


def test_resting_buys_block_cash_for_the_next_order() -> None:
    wallet = PaperWallet(1_500_000)
    venue, oms = make(wallet=wallet)
    venue.on_depth(BOOK, T0)
    assert kinds(oms.submit(spec("a", qty_units=100, price_paise=9_980))) == ["Accepted"]
    assert wallet.blocked_for("a") > 998_000
    events = oms.submit(spec("b", qty_units=100, price_paise=9_980))
    assert isinstance(events[0], Rejected) and events[0].reason_code is RejectReason.INSUFFICIENT_FUNDS
    assert f"blocked by open orders {format_paise(wallet.blocked_for('a'))}" in events[0].reason
    oms.cancel("a")
    assert wallet.blocked_paise == 0
    assert kinds(oms.submit(spec("c", qty_units=100, price_paise=9_980))) == ["Accepted"]


def test_market_buy_funds_are_checked_against_the_walk_of_the_book() -> None:
    cost = 50 * 10_000 + 50 * 12_000
    charges = charges_for_fill(SegmentClass.INDEX_OPTIONS, "BUY", 100, cost // 100, True).total_paise
    venue, oms = make(wallet=PaperWallet(cost + charges - 1))
    venue.on_depth(depth(asks=[(10_000, 50), (12_000, 500)]), T0)
    events = oms.submit(market(qty_units=100))
    assert isinstance(events[0], Rejected) and f"worst-case cost {format_paise(cost)}" in events[0].reason
    venue2, oms2 = make(wallet=PaperWallet(cost + charges))
    venue2.on_depth(depth(asks=[(10_000, 50), (12_000, 500)]), T0)
    assert kinds(oms2.submit(market(qty_units=100))) == ["Accepted", "Filled", "Filled"]


def test_wallet_mirror_moves_with_fills_and_releases_blocks() -> None:
    wallet = PaperWallet(10_000_000)
    venue, oms = make(wallet=wallet)
    venue.on_depth(BOOK, T0)
    events = oms.submit(spec(qty_units=100, price_paise=10_010))
    fill = next(e for e in events if isinstance(e, Filled))
    assert wallet.cash_paise == 10_000_000 - 100 * 10_010 - fill.charges_paise
    assert wallet.blocked_paise == 0
    assert wallet.net_qty_units(SEG, OPT) == 100
    wallet.set_cash(5_000_000)  # the ledger's word replaces the mirror
    assert wallet.available_paise == 5_000_000


def test_short_option_sale_needs_premium_times_multiple_margin() -> None:
    margin = 100 * 9_990 * 20
    charges = charges_for_fill(SegmentClass.INDEX_OPTIONS, "SELL", 100, 9_990, True).total_paise
    wallet = PaperWallet(margin + charges - 1)
    venue, oms = make(wallet=wallet)
    venue.on_depth(BOOK, T0)
    events = oms.submit(market(side="SELL", qty_units=100))
    assert isinstance(events[0], Rejected) and events[0].reason_code is RejectReason.INSUFFICIENT_FUNDS
    assert f"needs {format_paise(margin + charges)}" in events[0].reason
    assert f"margin {format_paise(margin)} for 100 units opening a short" in events[0].reason
    # Selling what we hold closes a long: no margin.
    venue.set_position(SEG, OPT, 100, 9_990)
    assert kinds(oms.submit(market("c-2", side="SELL", qty_units=100))) == ["Accepted", "Filled"]


def test_short_sale_blocks_its_proceeds_and_margin_until_bought_back() -> None:
    rules = MarginRules(futures_rate_e8=15_000_000)  # 15 %
    wallet = PaperWallet(10**10)
    venue, oms = make(PaperVenueConfig(margin=rules), wallet)
    venue.on_depth(depth(bids=[(2_000_000, 75)], asks=[(2_000_100, 75)], security_id=FUT), T0)
    sell = oms.submit(market("s", side="SELL", qty_units=75, security_id=FUT))
    sell_fill = next(e for e in sell if isinstance(e, Filled))
    unit = 2_000_000 + 300_000
    assert wallet.short_margin_paise == 75 * unit
    assert wallet.available_paise == 10**10 + 75 * 2_000_000 - sell_fill.charges_paise - 75 * unit
    oms.submit(market("b", qty_units=75, security_id=FUT))
    assert wallet.short_margin_paise == 0
    assert wallet.net_qty_units(SEG, FUT) == 0


# --------------------------------------------------------------------------------------------
# Charges, book handling, bad input, determinism
# --------------------------------------------------------------------------------------------


def test_fill_charges_equal_charges_for_fill_with_brokerage_once_per_order() -> None:
    venue, oms = make()
    levels = [(2_000_000, 10), (2_000_100, 20), (2_000_200, 500)]
    venue.on_depth(depth(asks=levels, security_id=FUT), T0)
    events = oms.submit(market(qty_units=75, security_id=FUT))
    fills = [e for e in events if isinstance(e, Filled)]
    value_before = 0
    for fill in fills:
        expected = charges_for_fill(
            SegmentClass.INDEX_FUTURES, "BUY", fill.qty_units, fill.price_paise, value_before == 0,
            order_value_before_paise=value_before,
        )
        assert fill.charges == expected
        value_before += fill.qty_units * fill.price_paise
    order_brokerage = charges_for_fill(SegmentClass.INDEX_FUTURES, "BUY", 1, value_before, True).brokerage_paise
    assert sum(f.charges.brokerage_paise for f in fills) == order_brokerage == 2_000


def test_equity_fills_use_the_product_to_pick_intraday_or_delivery_rates() -> None:
    venue, oms = make()
    venue.on_depth(Depth(segment=1, security_id=2885, sides="both", bid_price_paise=[], bid_qty_units=[],
                         bid_orders=[], ask_price_paise=[250_000], ask_qty_units=[100], ask_orders=[1],
                         ts_event_ns=0, ts_init_ns=0), T0)
    events = oms.submit(market(segment=1, security_id=2885, qty_units=10, product="CNC"))
    fill = next(e for e in events if isinstance(e, Filled))
    assert fill.charges == charges_for_fill(SegmentClass.EQUITY_DELIVERY, "BUY", 10, 250_000, True)


def test_instrument_without_a_charge_schedule_is_rejected() -> None:
    venue, oms = make()
    venue.on_depth(depth(asks=[(10_000, 10)], security_id=999), T0)
    events = oms.submit(market(security_id=999))
    assert isinstance(events[0], Rejected) and events[0].reason_code is RejectReason.NO_CHARGE_SCHEDULE
    assert kinds(oms.submit(market("c-2", security_id=999), instrument_type="OPTIDX")) == ["Accepted", "Filled"]


def test_one_sided_depth_update_replaces_only_that_side() -> None:
    venue, oms = make()
    bids = [(10_000 - 5 * i, 10 + i) for i in range(20)]
    asks = [(10_005 + 5 * i, 20 + i) for i in range(20)]
    venue.on_depth(depth(bids=bids, asks=asks), T0)
    new_bids = [(9_000 - 5 * i, 7) for i in range(20)]
    venue.on_depth(depth(bids=new_bids, sides="bid"), T0 + 1)
    view = venue.book(SEG, OPT)
    assert view is not None
    assert view.bid_price_paise == tuple(p for p, _ in new_bids)
    assert view.ask_price_paise == tuple(p for p, _ in asks)
    assert view.ask_qty_units == tuple(q for _, q in asks)
    assert fills_of(oms.submit(market(qty_units=30))) == [(20, 10_005), (10, 10_010)]
    venue.on_depth(depth(asks=[(11_000, 1)] * 20, sides="ask"), T0 + 2)
    view = venue.book(SEG, OPT)
    assert view is not None and view.bid_price_paise == tuple(p for p, _ in new_bids)


def test_depth_with_nothing_resting_returns_the_shared_empty_tuple() -> None:
    venue, _ = make()
    assert venue.on_depth(BOOK, T0) is NO_EVENTS
    assert venue.on_tick(tick(10_000), T0) is NO_EVENTS
    assert venue.on_quote(quote(10_000, 5), T0) is NO_EVENTS


def test_bad_market_data_is_counted_and_ignored() -> None:
    venue, oms = make()
    venue.on_depth(BOOK, T0)
    bad = Depth(segment=SEG, security_id=OPT, sides="both", bid_price_paise=[1, 2], bid_qty_units=[1],
                bid_orders=[], ask_price_paise=[10_010], ask_qty_units=[], ask_orders=[], ts_event_ns=0, ts_init_ns=0)
    venue.on_depth(bad, T0 + 1)
    venue.on_tick(tick(0), T0 + 1)
    venue.on_quote(quote(-5, 10), T0 + 1)
    stats = venue.stats()
    assert (stats.bad_depth_sides, stats.bad_prices) == (2, 2)
    view = venue.book(SEG, OPT)
    assert view is not None and view.ask_price_paise == (10_010, 10_015) and view.ltp_paise == 0


def test_a_reused_client_order_id_is_rejected_with_its_reason() -> None:
    venue, oms = make()
    venue.on_depth(BOOK, T0)
    oms.submit(spec("dup", price_paise=9_980))
    snap = apply(spec("dup", price_paise=9_980), Submit())
    assert isinstance(snap, OrderSnapshot)
    again = venue.submit(snap, T0)
    assert isinstance(again[0], Rejected) and again[0].reason_code is RejectReason.DUPLICATE_ORDER_ID
    assert venue.open_order_ids() == ("dup",)


def test_the_venue_forgets_the_oldest_closed_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paper_module, "CLOSED_ORDERS_KEPT", 2)
    venue, oms = make()
    venue.on_depth(BOOK, T0)
    for cid in ("c1", "c2", "c3"):
        oms.submit(spec(cid, price_paise=9_980))
        oms.cancel(cid)
    assert venue.open_order_ids() == ()
    assert list(venue.cancel("c3", T0)) == []  # remembered: a cancel that crossed the close needs no answer
    forgotten = venue.cancel("c1", T0)
    assert [(type(e).__name__, e.reason_code) for e in forgotten] == [("CancelRefused", RejectReason.ORDER_UNKNOWN)]


def test_same_calls_give_the_same_events() -> None:
    def run() -> list[VenueEvent]:
        venue, oms = make(PaperVenueConfig(queue_model="volume", ack_latency_us=100), PaperWallet(10**9))
        venue.on_depth(BOOK, T0)
        venue.on_quote(quote(10_000, 100), T0)
        oms.submit(market("m", qty_units=150), T0)
        oms.submit(spec("l", qty_units=100, price_paise=9_990), T0 + 1)
        oms.submit(spec("s", order_type="SL", price_paise=10_030, trigger_price_paise=10_020), T0 + 2)
        oms.feed(venue.poll(T0 + 200 * US))
        oms.feed(venue.on_quote(quote(10_020, 300), T0 + 300 * US))
        oms.feed(venue.on_quote(quote(9_990, 600), T0 + 400 * US))
        oms.feed(venue.end_of_session(T0 + 500 * US))
        return oms.events

    first = run()
    assert len(first) > 6
    assert msgspec.msgpack.encode(first) == msgspec.msgpack.encode(run())


def test_fill_message_carries_the_fill_for_the_ledger() -> None:
    venue, oms = make()
    venue.on_depth(BOOK, T0)
    events = oms.submit(market(qty_units=10))
    fill = next(e for e in events if isinstance(e, Filled))
    message = fill_message(fill, oms.orders["c-1"], ts_init_ns=T0 + 5)
    assert (message.fill_id, message.qty_units, message.price_paise) == ("c-1-1", 10, 10_010)
    assert message.charges_paise == fill.charges_paise and message.venue_order_id == "paper-1"
    assert message.strategy == "orb" and message.side == "BUY"


def test_config_forbids_unknown_fields_and_negative_values() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"queue_modle": "none"}, PaperVenueConfig)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"queue_model": "fifo"}, PaperVenueConfig)
    with pytest.raises(ValueError):
        PaperVenueConfig(ack_latency_us=-1)
    with pytest.raises(ValueError):
        MarginRules(option_premium_multiple=-2)
    config = msgspec.convert({"queue_model": "volume", "margin": {"futures_rate_e8": 1}}, PaperVenueConfig)
    assert config.margin.futures_rate_e8 == 1


# --------------------------------------------------------------------------------------------
# Property: any books, any orders, any requests -> only legal transitions
# --------------------------------------------------------------------------------------------

MID = 10_000
TICK = 5


@st.composite
def books(draw: st.DrawFn, sides: str | None = None) -> Depth:
    mid = MID + TICK * draw(st.integers(-6, 6))
    levels = draw(st.integers(0, 5))
    bids = [(mid - TICK * (1 + i), draw(st.integers(0, 120))) for i in range(levels)]
    asks = [(mid + TICK * (1 + i), draw(st.integers(0, 120))) for i in range(draw(st.integers(0, 5)))]
    if sides is None:
        sides = draw(st.sampled_from(["both", "both", "bid", "ask"]))
    return depth(bids, asks, sides=sides)


@st.composite
def order_specs(draw: st.DrawFn, cid: str) -> OrderSnapshot:
    order_type = draw(st.sampled_from(["MARKET", "LIMIT", "SL", "SL_M"]))
    side = draw(st.sampled_from(["BUY", "SELL"]))
    price = MID + TICK * draw(st.integers(-8, 8)) if order_type in ("LIMIT", "SL") else 0
    trigger = 0
    if order_type in ("SL", "SL_M"):
        trigger = MID + TICK * draw(st.integers(-8, 8))
        if order_type == "SL" and draw(st.integers(0, 9)):  # mostly valid, sometimes not
            trigger = min(trigger, price) if side == "BUY" else max(trigger, price)
    return spec(
        cid,
        side=side,
        order_type=order_type,
        validity=draw(st.sampled_from(["DAY", "DAY", "IOC"])),
        qty_units=25 * draw(st.integers(1, 8)),
        price_paise=price,
        trigger_price_paise=trigger,
    )


def actions() -> st.SearchStrategy[tuple[Any, ...]]:
    return st.one_of(
        st.tuples(st.just("depth"), books()),
        st.tuples(st.just("tick"), st.integers(-10, 10)),
        st.tuples(st.just("quote"), st.integers(-10, 10), st.integers(0, 150)),
        st.tuples(st.just("submit")),
        st.tuples(st.just("submit")),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("modify"), st.integers(0, 50), st.integers(1, 8), st.integers(-8, 8), st.integers(-8, 8)),
        st.tuples(st.just("modify"), st.integers(0, 50), st.integers(1, 8), st.integers(-8, 8), st.integers(-8, 8)),
        st.tuples(st.just("wait"), st.integers(0, 800)),
    )


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    model=st.sampled_from(["none", "trade_through", "volume"]),
    latency_us=st.sampled_from([0, 0, 300]),
    cash=st.sampled_from([None, 3_000_000, 10**9]),
    script=st.lists(actions(), min_size=5, max_size=60),
    data=st.data(),
)
def test_any_venue_event_sequence_is_legal_in_the_order_state_machine(
    model: str, latency_us: int, cash: int | None, script: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    wallet = None if cash is None else PaperWallet(cash)
    venue, oms = make(PaperVenueConfig(queue_model=model, ack_latency_us=latency_us), wallet)  # type: ignore[arg-type]
    now = T0
    volume = 0
    ids: list[str] = []
    oms.feed(venue.on_depth(data.draw(books(sides="both")), now))
    oms.feed(venue.on_tick(tick(MID), now))
    for action in script:
        now += 50 * US
        kind = action[0]
        if kind == "depth":
            oms.feed(venue.on_depth(action[1], now))
        elif kind == "tick":
            oms.feed(venue.on_tick(tick(MID + TICK * action[1]), now))
        elif kind == "quote":
            volume += action[2]
            oms.feed(venue.on_quote(quote(MID + TICK * action[1], volume), now))
        elif kind == "submit":
            cid = f"o{len(ids)}"
            ids.append(cid)
            oms.submit(data.draw(order_specs(cid)), now)
        elif kind == "cancel" and ids:
            cid = ids[action[1] % len(ids)]
            if isinstance(apply(oms.orders[cid], RequestCancel()), OrderSnapshot):
                oms.cancel(cid, now)
        elif kind == "modify" and ids:
            cid = ids[action[1] % len(ids)]
            order = oms.orders[cid]
            order_type = order.spec.order_type
            price = MID + TICK * action[3] if order_type in ("LIMIT", "SL") else 0
            trigger = MID + TICK * action[4] if order_type in ("SL", "SL_M") else 0
            request = RequestModify(qty_units=25 * action[2], price_paise=price, trigger_price_paise=trigger)
            if isinstance(apply(order, request), OrderSnapshot):
                oms.modify(cid, request.qty_units, price, trigger, now)
        elif kind == "wait":
            now += action[1] * US
            oms.feed(venue.poll(now))
        check_orders(oms)
    oms.feed(venue.end_of_session(now + 1))
    check_orders(oms)
    assert all(order.is_terminal for order in oms.orders.values()), {
        cid: order.state for cid, order in oms.orders.items() if not order.is_terminal
    }
    assert venue.open_order_ids() == ()
    if wallet is not None:
        assert wallet.blocked_paise == 0
        spent = sum(
            (-1 if oms.orders[f.client_order_id].spec.side == "BUY" else 1) * f.qty_units * f.price_paise - f.charges_paise
            for fills in oms.fills.values()
            for f in fills
        )
        assert wallet.cash_paise == cash + spent


def check_orders(oms: Oms) -> None:
    for cid, order in oms.orders.items():
        fills = oms.fills.get(cid, [])
        assert order.filled_qty_units <= order.spec.qty_units
        assert sum(f.qty_units for f in fills) == order.filled_qty_units
        assert sum(f.qty_units * f.price_paise for f in fills) == order.filled_value_paise
        if fills and order.spec.order_type in ("SL", "SL_M"):
            assert order.triggered
        brokerage = sum(f.charges.brokerage_paise for f in fills)
        assert brokerage in (0, 2_000)  # once per order (flat Rs 20 for options)
