"""Pre-trade check latency: the full check list for one intent, in one process.

Run: ``.venv/bin/python -m pytest bench/test_risk_bench.py --benchmark-enable -q -s``

Goal: under 5 us per intent for the approve path (every check runs; a denial stops earlier and is
cheaper except for building its message). The engine holds 200 instruments, open positions and a
partly used rate window, so dict sizes and exposure sums are not trivially small.
"""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from actors.risk.checks import InstrumentLimits
from actors.risk.engine import RiskEngine
from actors.risk.limits import RiskLimits
from actors.risk.monitors import PostTradeMonitor
from engine.model.calendar import default_calendar
from engine.model.ist import ist_ns
from ipc.messages import Fill, OrderIntent, OrderSpec
from ipc.reasons import DenyReason
from ipc.segments import Segment

T10 = ist_ns(dt.date(2026, 11, 23), dt.time(10, 0))


def _engine() -> RiskEngine:
    instruments = [
        InstrumentLimits(segment=Segment.NSE_FNO, security_id=50_000 + k, lot_size_units=65, tick_paise=5,
                         freeze_qty_units=1755, kind="OPTIDX")
        for k in range(200)
    ]
    eng = RiskEngine(RiskLimits(), instruments, cash_paise=10**12, calendar=default_calendar())
    for k in range(200):
        eng.on_mark(Segment.NSE_FNO, 50_000 + k, 10_000 + 5 * k)
    for k in range(0, 200, 10):  # some open positions across strategies
        eng.on_fill(Fill("f", "c", "v", f"s{k % 3}", Segment.NSE_FNO, 50_000 + k, "BUY", 65, 10_000, 0, T10, T10))
    for k in range(5):  # half the per-second budget in use
        eng.approve(_intent(f"warm{k}", 50_100 + k), T10 - 300_000_000)
    return eng


def _intent(intent_id: str, security_id: int) -> OrderIntent:
    spec = OrderSpec(segment=Segment.NSE_FNO, security_id=security_id, side="BUY", order_type="LIMIT", qty_units=65,
                     price_paise=10_000)
    return OrderIntent(intent_id, "s1", spec, T10, T10, T10)


def _report(benchmark: pytest.FixtureRequest, what: str) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats:  # None when run with --benchmark-disable (the default addopts)
        print(f"\n{what}: mean {stats.stats.mean * 1e6:.2f} us, median {stats.stats.median * 1e6:.2f} us per call")


def test_full_check_list_for_one_intent(benchmark):
    eng = _engine()
    intent = _intent("bench-1", 50_000)
    assert eng.check(intent, T10) is None  # the approve path: every check runs
    benchmark(eng.check, intent, T10)
    _report(benchmark, "RiskEngine.check (approve, full list)")


def test_denial_with_message(benchmark):
    eng = _engine()
    # Lot and tick are the edge's checks (ipc.order_rules) now: risk's own denial with numbers in
    # its message, after the cheap checks, is the price band (20 % above the last price of 10_000).
    base = _intent("bench-2", 50_000)
    bad = msgspec.structs.replace(base, spec=msgspec.structs.replace(base.spec, price_paise=12_000))
    denial = eng.check(bad, T10)
    assert denial is not None and denial.reason is DenyReason.PRICE_OUTSIDE_BAND
    benchmark(eng.check, bad, T10)
    _report(benchmark, "RiskEngine.check (price-band denial with message)")


def test_mark_update_for_risk_and_monitors(benchmark):
    eng = _engine()
    mon = PostTradeMonitor(RiskLimits())
    mon.on_fill(Fill("f", "c", "v", "s1", Segment.NSE_FNO, 50_000, "BUY", 65, 10_000, 0, T10, T10), "INTRADAY", T10)
    prices = [10_000, 10_005]
    state = {"k": 0}

    def tick() -> None:
        state["k"] ^= 1
        p = prices[state["k"]]
        eng.on_mark(Segment.NSE_FNO, 50_000, p)
        mon.on_mark(Segment.NSE_FNO, 50_000, p, T10)

    benchmark(tick)
    _report(benchmark, "on_mark (engine + monitor, price changed)")
