"""Books in numpy rows: depth updates, one-sided 20-level updates, derived figures, staleness."""

from __future__ import annotations

from actors.book.book import BookStore
from ipc.messages import Depth


def five(sid=1, bid=10000, ask=10005, qty=100):
    return Depth(2, sid, "both", [bid - 5 * i for i in range(5)], [qty] * 5, [3] * 5,
                 [ask + 5 * i for i in range(5)], [qty * 2] * 5, [4] * 5, 11, 12)


def test_full_depth_gives_top_of_book_mid_spread_and_imbalance():
    books = BookStore()
    r = books.apply_depth(five(), 0)
    books.set_last(2, 1, 10002)
    u = books.update_message(r, 2, 1)
    assert (u.best_bid_paise, u.best_ask_paise, u.best_bid_qty_units, u.best_ask_qty_units) == (10000, 10005, 100, 200)
    assert u.mid_x2_paise == 20005 and u.spread_paise == 5 and u.last_price_paise == 10002
    assert u.imbalance == (500 - 1000) / 1500 and u.levels == 5
    assert (u.ts_event_ns, u.ts_init_ns) == (11, 12)


def test_one_sided_20_level_update_keeps_the_other_side():
    books = BookStore()
    books.apply_depth(five(), 0)
    bids = Depth(2, 1, "bid", [9990 - i for i in range(20)], [7] * 20, [1] * 20, [], [], [], 1, 2)
    r = books.apply_depth(bids, 0)
    u = books.update_message(r, 2, 1)
    assert u.best_bid_paise == 9990 and u.best_ask_paise == 10005 and u.levels == 20
    assert int(books.bid_px[r, 19]) == 9971 and int(books.ask_qty[r, 0]) == 200


def test_five_level_update_clears_deeper_levels_left_by_a_20_level_update():
    books = BookStore()
    r = books.apply_depth(Depth(2, 1, "bid", list(range(9990, 9970, -1)), [7] * 20, [1] * 20, [], [], [], 1, 2), 0)
    books.apply_depth(five(), 0)
    assert int(books.bid_qty[r, 5:].sum()) == 0 and int(books.levels[r]) == 5


def test_empty_side_gives_no_mid_or_spread():
    books = BookStore()
    r = books.apply_depth(Depth(2, 1, "both", [10000], [5], [1], [0], [0], [0], 1, 2), 0)
    u = books.update_message(r, 2, 1)
    assert u.best_ask_paise == 0 and u.mid_x2_paise == 0 and u.spread_paise == 0


def test_store_grows_past_its_initial_capacity_without_losing_books():
    books = BookStore(capacity=2)
    rows = [books.apply_depth(five(sid=i, bid=1000 + i * 10, ask=1005 + i * 10), 0) for i in range(10)]
    assert books.capacity >= 10
    assert [int(books.bid_px[r, 0]) for r in rows] == [1000 + i * 10 for i in range(10)]


def test_a_last_price_that_grows_the_store_is_kept():
    # The 257th instrument of a default store arrived by a tick: the store grew while the price
    # was being written, into the array the growth replaced (the book actor failed on it).
    books = BookStore(capacity=2)
    for sid in range(3):
        books.set_last(1, sid, 1000 + sid)
    assert books.capacity >= 3
    assert [int(books.last_px[books.row(1, sid)]) for sid in range(3)] == [1000, 1001, 1002]


def test_stale_lists_only_books_older_than_the_limit():
    books = BookStore()
    books.apply_depth(five(sid=1), now_mono_ns=1_000)
    books.apply_depth(five(sid=2), now_mono_ns=9_000)
    assert books.stale(now_mono_ns=10_000, limit_ns=5_000) == [(2, 1, 9_000)]


def test_an_instrument_with_ticks_but_no_depth_is_never_stale():
    books = BookStore()
    books.set_last(0, 13, 2600000)
    assert books.stale(now_mono_ns=10**12, limit_ns=5_000) == []
