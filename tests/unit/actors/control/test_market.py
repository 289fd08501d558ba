"""The market data control keeps from the bus (actors/control/market.py): each message folds into
its instrument, one-sided depth keeps the other side, and memory stays within the capacity."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.control.market import DEPTH_LEVELS, MarketStore
from ipc.messages import Depth, OpenInterest, PrevClose, Quote, Tick
from ipc.segments import Segment

FNO = int(Segment.NSE_FNO)


def quote(sid: int, ltp: int, oi: int = 0, ts: int = 10) -> Quote:
    return Quote(FNO, sid, ltp, 65, ltp - 5, 6500, 100, 200, ltp - 100, ltp - 50, ltp + 100, ltp - 200, ts, ts + 1,
                 oi_units=oi)


def depth(sid: int, sides: str, bids: list[int], asks: list[int], ts: int = 20) -> Depth:
    return Depth(FNO, sid, sides, bids, [65] * len(bids), [1] * len(bids), asks, [130] * len(asks),
                 [2] * len(asks), ts, ts + 1)  # type: ignore[arg-type]


def test_every_market_message_folds_into_its_instrument() -> None:
    store = MarketStore(10)
    store.on_prev_close(PrevClose(FNO, 1, 9_000, 1_300, 1, 2))
    store.on_quote(quote(1, 10_000, oi=6_500))
    store.on_depth(depth(1, "both", [9_995, 9_990, 0, 0, 0], [10_005, 10_010, 10_015, 10_020, 10_025]))
    store.on_tick(Tick(FNO, 1, 10_010, 30, 31))
    store.on_quote(quote(1, 10_010, oi=0, ts=40))  # a quote packet carries no OI: the last one stays
    snap = store.snapshot(FNO, 1)
    assert snap is not None
    assert (snap.ltp_paise, snap.prev_close_paise, snap.prev_oi_units, snap.oi_units) == (10_010, 9_000, 1_300, 6_500)
    assert [lv.price_paise for lv in snap.bids] == [9_995, 9_990]  # empty slots are not levels
    assert len(snap.asks) == DEPTH_LEVELS and snap.best_ask_paise == 10_005
    assert (snap.ts_event_ns, snap.ts_init_ns) == (40, 41)


def test_a_one_sided_depth_packet_keeps_the_other_side() -> None:
    store = MarketStore(10)
    store.on_depth(depth(1, "both", [100], [110]))
    store.on_depth(depth(1, "ask", [], [105]))
    snap = store.snapshot(FNO, 1)
    assert snap is not None and (snap.best_bid_paise, snap.best_ask_paise) == (100, 105)


def test_previous_close_is_reference_data_and_does_not_freshen_a_quote() -> None:
    store = MarketStore(10)
    store.on_quote(quote(1, 100, ts=50))
    store.on_prev_close(PrevClose(FNO, 1, 90, 0, 900, 901))
    snap = store.snapshot(FNO, 1)
    assert snap is not None and snap.ts_init_ns == 51
    store.on_open_interest(OpenInterest(FNO, 1, 650, 60, 61))
    assert store.snapshot(FNO, 1).ts_init_ns == 61  # type: ignore[union-attr]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 20), st.lists(st.integers(1, 60), min_size=1, max_size=300))
def test_memory_stays_within_capacity_and_the_least_recently_updated_goes_first(capacity: int,
                                                                                updates: list[int]) -> None:
    store = MarketStore(capacity)
    order: list[int] = []
    for sid in updates:
        store.on_tick(Tick(FNO, sid, sid, 1, 1))
        if sid in order:
            order.remove(sid)
        order.append(sid)
    kept = order[-capacity:]
    assert len(store) == len(kept) <= capacity
    assert all(store.get(FNO, sid) is not None for sid in kept)
    assert all(store.get(FNO, sid) is None for sid in order[:-capacity])
    assert store.evicted >= len(order) - len(kept)  # every instrument no longer held was dropped once or more


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity 0"):
        MarketStore(0)
