"""Paper venue speed: orders through the state machine and the matcher, and the market-data path.

Run: ``.venv/bin/python -m pytest bench/test_paper_bench.py --benchmark-enable -q -s``

- Orders/s: one MARKET order's whole life in one process: ``new_order``, ``apply(Submit)``,
  ``PaperVenue.submit`` against a 5-level book (it walks two levels: two fills with charges),
  and every venue event applied back through ``orders.apply`` as the venue sent it. With and without the wallet's
  funds check. The book is refreshed by one ``on_depth`` per order (part of the measured cost).
- ``on_depth`` / ``on_tick`` for an instrument with nothing resting: the per-packet hot path,
  which must be a dict lookup and a few stores. Also ``on_depth`` with 10 resting limits that do
  not cross, the cost once orders rest.
"""

from __future__ import annotations

import itertools

import pytest

from actors.execution.orders import OrderSnapshot, Submit, apply, new_order
from actors.execution.config import PaperVenueConfig
from actors.execution.paper_venue import PaperVenue
from actors.execution.paper_wallet import PaperWallet
from ipc.messages import Depth, OrderSpec, OrderState, Tick
from ipc.segments import Segment

SEG = Segment.NSE_FNO
SID = 55796
T0 = 1_700_000_000_000_000_000
BATCH = 1_000

BOOK = Depth(
    segment=SEG,
    security_id=SID,
    sides="both",
    bid_price_paise=[9_995, 9_990, 9_985, 9_980, 9_975],
    bid_qty_units=[50, 100, 150, 200, 250],
    bid_orders=[1, 2, 3, 4, 5],
    ask_price_paise=[10_000, 10_005, 10_010, 10_015, 10_020],
    ask_qty_units=[50, 100, 150, 200, 250],
    ask_orders=[1, 2, 3, 4, 5],
    ts_event_ns=T0,
    ts_init_ns=T0,
)


def _venue(wallet: PaperWallet | None) -> PaperVenue:
    venue = PaperVenue(PaperVenueConfig(), wallet)
    venue.set_instrument_type(SEG, SID, "OPTIDX")
    venue.on_depth(BOOK, T0)
    venue.on_tick(Tick(SEG, SID, 10_000, T0, T0), T0)
    return venue


def _run_orders(venue: PaperVenue, ids: itertools.count[int]) -> None:
    for _ in range(BATCH):
        n = next(ids)
        spec = OrderSpec(segment=SEG, security_id=SID, side="BUY", order_type="MARKET", validity="DAY",
                         product="INTRADAY", qty_units=75)
        order = apply(new_order(spec, client_order_id=f"c{n}", intent_id=f"i{n}", strategy="bench"),
                      Submit(ts_sent_ns=T0))
        venue.on_depth(BOOK, T0)  # restore the visible size the previous order took
        for event in venue.submit(order, T0):  # type: ignore[arg-type]
            order = apply(order, event)  # type: ignore[arg-type]
        assert isinstance(order, OrderSnapshot) and order.state is OrderState.FILLED


def _report_rate(benchmark: pytest.FixtureRequest, what: str) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats:  # None when run with --benchmark-disable (the default addopts)
        per_order_us = stats.stats.mean / BATCH * 1e6
        print(f"\n{what}: {BATCH / stats.stats.mean:,.0f} orders/s ({per_order_us:.1f} us per order)")


def _report_call(benchmark: pytest.FixtureRequest, what: str) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats:
        print(f"\n{what}: mean {stats.stats.mean * 1e9:.0f} ns, median {stats.stats.median * 1e9:.0f} ns per call")


def test_market_orders_per_second_without_funds_check(benchmark):
    venue = _venue(None)
    ids = itertools.count()
    benchmark.pedantic(_run_orders, args=(venue, ids), rounds=10, iterations=1, warmup_rounds=1)
    _report_rate(benchmark, "MARKET order life (state machine + matcher, 2 fills)")


def test_market_orders_per_second_with_funds_check(benchmark):
    venue = _venue(PaperWallet(10**15))
    ids = itertools.count()
    benchmark.pedantic(_run_orders, args=(venue, ids), rounds=10, iterations=1, warmup_rounds=1)
    _report_rate(benchmark, "MARKET order life with the wallet's funds check")


def test_on_depth_with_nothing_resting(benchmark):
    venue = _venue(None)
    assert venue.on_depth(BOOK, T0) == ()
    benchmark(venue.on_depth, BOOK, T0)
    _report_call(benchmark, "on_depth, nothing resting")


def test_on_tick_with_nothing_resting(benchmark):
    venue = _venue(None)
    tick = Tick(SEG, SID, 10_000, T0, T0)
    assert venue.on_tick(tick, T0) == ()
    benchmark(venue.on_tick, tick, T0)
    _report_call(benchmark, "on_tick, nothing resting")


def test_on_depth_with_ten_resting_limits(benchmark):
    venue = _venue(None)
    for k in range(10):
        spec = OrderSpec(segment=SEG, security_id=SID, side="BUY", order_type="LIMIT", qty_units=75,
                         price_paise=9_900 - 5 * k)
        order = apply(new_order(spec, client_order_id=f"r{k}", intent_id=f"r{k}", strategy="bench"), Submit())
        assert isinstance(order, OrderSnapshot)
        venue.submit(order, T0)
    assert len(venue.open_order_ids()) == 10
    benchmark(venue.on_depth, BOOK, T0)
    _report_call(benchmark, "on_depth, 10 resting limits (none crossing)")
