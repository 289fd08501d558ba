"""actors.execution.paper_matching: the fill rules as pure functions over a book and a working order
(the venue around them is tested in test_paper_venue.py)."""

from __future__ import annotations

from actors.execution.charges import SegmentClass
from actors.execution.orders import Submit, apply, new_order
from actors.execution.paper_matching import NO_FILLS, Book, WorkingOrder, shorten_queue, take, trade_fill_units
from ipc.messages import OrderSpec
from ipc.segments import Segment

KEY = (Segment.NSE_FNO, 55796)


def working(side: str, qty: int, order_type: str = "LIMIT", price_paise: int = 0) -> WorkingOrder:
    spec = OrderSpec(segment=KEY[0], security_id=KEY[1], side=side, order_type=order_type,  # type: ignore[arg-type]
                     validity="DAY", product="INTRADAY", qty_units=qty, price_paise=price_paise)
    order = apply(new_order(spec, client_order_id="c1", intent_id="i1", strategy="s"), Submit())
    return WorkingOrder(order, KEY, SegmentClass.INDEX_FUTURES)  # type: ignore[arg-type]


def book(bids: list[tuple[int, int]], asks: list[tuple[int, int]], ltp_paise: int = 0) -> Book:
    b = Book()
    b.bid_px, b.bid_qty = [p for p, _ in bids], [q for _, q in bids]
    b.ask_px, b.ask_qty = [p for p, _ in asks], [q for _, q in asks]
    b.has_depth = True
    b.ltp_paise = ltp_paise
    return b


def test_take_walks_levels_up_to_the_limit_and_consumes_a_copy_of_the_side() -> None:
    asks_qty = [50, 100, 150]
    b = book([], [(10_000, 50), (10_005, 100), (10_010, 150)])
    b.ask_qty = asks_qty  # the Depth message's own list: never written
    fills = take(working("BUY", 120, price_paise=10_005), b, passive=False, model="trade_through")
    assert list(fills) == [(50, 10_000), (70, 10_005)]
    assert b.ask_qty == [0, 30, 150] and asks_qty == [50, 100, 150] and b.ask_owned


def test_take_of_a_resting_limit_fills_at_its_own_price_and_strictly_through_under_trade_through() -> None:
    o = working("BUY", 10, price_paise=10_005)
    assert take(o, book([], [(10_005, 50)]), passive=True, model="trade_through") is NO_FILLS
    assert list(take(o, book([], [(10_000, 50)]), passive=True, model="trade_through")) == [(10, 10_005)]
    assert list(take(o, book([], [(10_005, 50)]), passive=True, model="none")) == [(10, 10_005)]


def test_trade_at_our_price_serves_the_queue_ahead_first_under_volume() -> None:
    o = working("BUY", 30, price_paise=10_000)
    o.ahead = 50
    assert trade_fill_units(o, 10_000, 40, "volume") == 0 and o.ahead == 10
    assert trade_fill_units(o, 10_000, 25, "volume") == 15 and o.ahead == 0
    assert trade_fill_units(o, 9_995, 0, "volume") == 30  # strictly through: the remainder
    assert trade_fill_units(o, 10_000, 0, "trade_through") == 0


def test_queue_empties_when_our_level_vanishes_inside_the_visible_book() -> None:
    o = working("BUY", 10, price_paise=9_990)
    o.ahead = 100
    shorten_queue(o, book([(10_000, 5), (9_995, 5), (9_985, 5)], []))
    assert o.ahead == 0
