"""Time bars from ticks: exact OHLCV, session alignment, no look-ahead, timer close, bad ticks."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import msgspec
import numpy as np
import pytest

from actors.strategy.bars import (
    BAR_DTYPE,
    NSE_SESSION,
    BarBuilder,
    SessionHours,
    TickDrop,
    bars_to_messages,
    build_bars,
    session_bounds_ns,
    session_day_ids,
)
from engine.model.ist import IST, IST_OFFSET_NS
from ipc.messages import Bar

S = 1_000_000_000
MIN = 60 * S
DAY = date(2025, 3, 3)  # a Monday
NEXT_DAY = date(2025, 3, 4)
NIFTY_FUT = (2, 55796)  # segment NSE_FNO, security id


def ist(hh: int, mm: int, ss: float = 0.0, day: date = DAY) -> int:
    """ns since the epoch of an IST wall-clock time, through zoneinfo."""
    wall = datetime(day.year, day.month, day.day, hh, mm, tzinfo=IST) + timedelta(seconds=ss)
    return int(wall.timestamp()) * S + round((ss % 1) * S)


def builder(timeframe_s: int = 60) -> BarBuilder:
    return BarBuilder(timeframe_s, *NIFTY_FUT)


def bar(tf: int, o: int, h: int, lo: int, c: int, v: int, ts_open: int, ts_close: int, ts_init: int) -> Bar:
    return Bar(
        segment=NIFTY_FUT[0],
        security_id=NIFTY_FUT[1],
        timeframe_s=tf,
        open_paise=o,
        high_paise=h,
        low_paise=lo,
        close_paise=c,
        volume_units=v,
        ts_open_ns=ts_open,
        ts_event_ns=ts_close,
        ts_init_ns=ts_init,
    )


def test_ticks_make_exact_ohlcv_one_minute_bars() -> None:
    b = builder(60)
    ticks = [
        (ist(9, 15, 0.2), 2_450_000, 75),
        (ist(9, 15, 20), 2_451_500, 150),
        (ist(9, 15, 41), 2_449_000, 75),
        (ist(9, 15, 59.9), 2_450_500, 300),
        (ist(9, 16, 3), 2_452_000, 75),  # closes 09:15
        (ist(9, 16, 30), 2_453_000, 0),  # LTP-only packet: price counts, volume does not
        (ist(9, 17, 0), 2_452_500, 75),  # closes 09:16
    ]
    out = [b.on_tick(ts, px, q, ts + 1000) for ts, px, q in ticks]
    assert out[:4] == [()] * 4 and out[5] == ()
    assert out[4] == (
        bar(60, 2_450_000, 2_451_500, 2_449_000, 2_450_500, 600, ist(9, 15), ist(9, 16), ist(9, 16, 3) + 1000),
    )
    assert out[6] == (
        bar(60, 2_452_000, 2_453_000, 2_452_000, 2_453_000, 75, ist(9, 16), ist(9, 17), ist(9, 17) + 1000),
    )
    assert b.has_open_bar and b.ticks_accepted == 7 and b.bars_emitted == 2


def test_bar_is_not_emitted_before_its_end_time() -> None:
    b = builder(300)
    assert b.on_tick(ist(9, 20, 1), 100_00, 1, 0) == ()
    assert b.on_tick(ist(9, 25) - 1, 101_00, 1, 0) == ()  # 1 ns before the end: same bar
    (closed,) = b.on_tick(ist(9, 25), 102_00, 1, 7)  # exactly at the end: the bar is complete
    assert (closed.ts_open_ns, closed.ts_event_ns, closed.close_paise, closed.ts_init_ns) == (
        ist(9, 20),
        ist(9, 25),
        101_00,
        7,
    )


def test_bars_align_to_the_session_open_not_to_the_first_tick() -> None:
    b = builder(300)
    b.on_tick(ist(9, 17, 31), 100_00, 1, 0)
    (closed,) = b.on_tick(ist(9, 20, 0), 100_00, 1, 0)
    assert (closed.ts_open_ns, closed.ts_event_ns) == (ist(9, 15), ist(9, 20))


def test_last_bar_of_the_session_closes_at_1530_even_if_shorter() -> None:
    b = builder(7 * 60)  # 375 min = 53 bars of 7 min + one of 4 min
    b.on_tick(ist(15, 27), 100_00, 1, 0)
    (closed,) = b.flush(ist(15, 30))
    assert (closed.ts_open_ns, closed.ts_event_ns) == (ist(15, 26), ist(15, 30))


def test_a_bar_never_spans_the_session_boundary() -> None:
    b = builder(3600)  # 09:15, 10:15, ... 15:15-15:30
    b.on_tick(ist(15, 20), 100_00, 1, 0)
    (closed,) = b.on_tick(ist(9, 15, 10, day=NEXT_DAY), 105_00, 2, 0)
    assert (closed.ts_open_ns, closed.ts_event_ns) == (ist(15, 15), ist(15, 30))
    (nxt,) = b.on_tick(ist(10, 15, day=NEXT_DAY), 106_00, 1, 0)
    assert (nxt.ts_open_ns, nxt.ts_event_ns, nxt.open_paise, nxt.volume_units) == (
        ist(9, 15, day=NEXT_DAY),
        ist(10, 15, day=NEXT_DAY),
        105_00,
        2,
    )


def test_out_of_session_ticks_are_ignored_and_counted() -> None:
    b = builder(60)
    for ts in (ist(9, 0), ist(9, 14, 59.999), ist(15, 30), ist(15, 45), ist(2, 0)):
        assert b.on_tick(ts, 100_00, 1, 0) == ()
        assert b.last_drop is TickDrop.OUT_OF_SESSION
    assert b.ticks_out_of_session == 5 and b.ticks_accepted == 0 and not b.has_open_bar


def test_an_out_of_session_tick_past_the_bar_end_still_closes_the_bar() -> None:
    b = builder(60)
    b.on_tick(ist(15, 29, 10), 100_00, 4, 0)
    (closed,) = b.on_tick(ist(15, 40), 100_50, 1, 99)  # closing-session quote
    assert closed.ts_event_ns == ist(15, 30) and closed.volume_units == 4
    assert b.last_drop is TickDrop.OUT_OF_SESSION


def test_timer_flush_closes_a_quiet_bar_only_after_its_end() -> None:
    b = builder(60)
    b.on_tick(ist(10, 0, 5), 100_00, 1, 0)
    assert b.flush(ist(10, 0, 59)) == ()
    (closed,) = b.flush(ist(10, 1, 0.5))
    assert (closed.ts_event_ns, closed.ts_init_ns) == (ist(10, 1), ist(10, 1, 0.5))
    assert b.flush(ist(10, 5)) == ()  # nothing open
    # a straggler for the flushed minute is late: the bar was already published
    assert b.on_tick(ist(10, 0, 58), 100_00, 1, 0) == ()
    assert b.last_drop is TickDrop.LATE and b.ticks_late == 1


def test_flush_uses_the_given_ts_init() -> None:
    b = builder(60)
    b.on_tick(ist(10, 0, 5), 100_00, 1, 0)
    (closed,) = b.flush(ist(10, 2), ts_init_ns=123)
    assert closed.ts_init_ns == 123


def test_tick_older_than_the_open_bar_is_dropped_and_counted() -> None:
    b = builder(60)
    b.on_tick(ist(10, 0, 5), 100_00, 1, 0)
    (closed,) = b.on_tick(ist(10, 1, 5), 101_00, 1, 0)
    assert b.on_tick(ist(10, 0, 50), 999_00, 1, 0) == ()  # belongs to the emitted minute
    assert b.on_tick(ist(9, 59, 50), 999_00, 1, 0) == ()
    assert b.last_drop is TickDrop.LATE and b.ticks_late == 2
    (nxt,) = b.flush(ist(10, 2))
    assert (nxt.high_paise, nxt.volume_units) == (101_00, 1)


def test_disordered_ticks_inside_the_bar_keep_open_and_close_by_timestamp() -> None:
    b = builder(60)
    b.on_tick(ist(10, 0, 30), 100_00, 1, 0)
    b.on_tick(ist(10, 0, 10), 98_00, 2, 0)  # earlier timestamp arriving later: the true open
    b.on_tick(ist(10, 0, 50), 103_00, 3, 0)
    b.on_tick(ist(10, 0, 40), 97_00, 4, 0)  # not the latest: must not become the close
    (closed,) = b.flush(ist(10, 1))
    ohlcv = (closed.open_paise, closed.high_paise, closed.low_paise, closed.close_paise, closed.volume_units)
    assert ohlcv == (98_00, 103_00, 97_00, 103_00, 10)


def test_gaps_produce_no_empty_bars() -> None:
    b = builder(60)
    b.on_tick(ist(9, 15, 10), 100_00, 1, 0)
    (closed,) = b.on_tick(ist(9, 20, 10), 101_00, 1, 0)
    assert (closed.ts_open_ns, closed.ts_event_ns) == (ist(9, 15), ist(9, 16))
    (nxt,) = b.flush(ist(9, 30))
    assert nxt.ts_open_ns == ist(9, 20) and b.bars_emitted == 2


def test_daily_bar_is_the_whole_session() -> None:
    b = builder(86_400)
    prices = [(ist(9, 15), 500_00), (ist(11, 0), 530_00), (ist(13, 0), 480_00), (ist(15, 29, 59), 510_00)]
    for ts, px in prices:
        assert b.on_tick(ts, px, 10, 0) == ()
    (closed,) = b.on_tick(ist(9, 16, day=NEXT_DAY), 515_00, 10, 5)
    assert closed == bar(86_400, 500_00, 530_00, 480_00, 510_00, 40, ist(9, 15), ist(15, 30), 5)


def test_one_second_bars() -> None:
    b = builder(1)
    b.on_tick(ist(9, 15, 0.1), 100_00, 1, 0)
    b.on_tick(ist(9, 15, 0.9), 100_05, 1, 0)
    (closed,) = b.on_tick(ist(9, 15, 1.0), 100_10, 1, 0)
    assert (closed.ts_open_ns, closed.ts_event_ns, closed.close_paise) == (
        ist(9, 15),
        ist(9, 15, 1),
        100_05,
    )


@pytest.mark.parametrize(
    ("price", "qty", "reason"),
    [(0, 1, TickDrop.BAD_PRICE), (-5, 1, TickDrop.BAD_PRICE), (100, -1, TickDrop.BAD_QTY)],
)
def test_bad_ticks_are_counted_and_change_nothing(price: int, qty: int, reason: TickDrop) -> None:
    b = builder(60)
    b.on_tick(ist(10, 0, 5), 100_00, 1, 0)
    # a bad tick far in the future must not close the open bar either
    assert b.on_tick(ist(14, 0), price, qty, 0) == ()
    assert b.last_drop is reason and b.ticks_bad == 1 and b.has_open_bar
    (closed,) = b.flush(ist(10, 1))
    assert (closed.low_paise, closed.volume_units) == (100_00, 1)


def test_custom_session_hours() -> None:
    mcx = SessionHours(open_ist_s=9 * 3600, close_ist_s=23 * 3600 + 30 * 60)
    b = BarBuilder(3600, 5, 1234, session=mcx)
    assert b.on_tick(ist(8, 59), 100_00, 1, 0) == () and b.last_drop is TickDrop.OUT_OF_SESSION
    b.on_tick(ist(23, 10), 100_00, 1, 0)
    (closed,) = b.flush(ist(23, 30))
    assert (closed.ts_open_ns, closed.ts_event_ns) == (ist(23, 0), ist(23, 30))


@pytest.mark.parametrize("timeframe_s", [0, -60, 86_401, 1.5, True])
def test_invalid_timeframe_is_refused(timeframe_s: object) -> None:
    with pytest.raises(ValueError, match="timeframe_s must be an integer in 1..86400"):
        BarBuilder(timeframe_s, 2, 1)  # type: ignore[arg-type]


def test_invalid_session_is_refused() -> None:
    with pytest.raises(ValueError, match="open_ist_s=55800 close_ist_s=33300"):
        BarBuilder(60, 2, 1, SessionHours(open_ist_s=55_800, close_ist_s=33_300))


def test_emitted_bar_has_plain_ints_and_encodes_on_the_wire() -> None:
    b = builder(60)
    b.on_tick(ist(10, 0, 5), 100_00, 1, 0)
    (closed,) = b.flush(ist(10, 1))
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(closed), type=Bar) == closed


# --------------------------------------------------------------------------------------------
# IST
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [date(1995, 11, 3), date(2025, 3, 3), date(2025, 7, 1), date(2040, 12, 31)])
def test_session_bounds_come_from_zoneinfo_and_match_the_fixed_offset(day: date) -> None:
    open_ns, close_ns = session_bounds_ns(day)
    open_utc = datetime.fromtimestamp(open_ns / S, tz=timezone.utc)
    assert (open_utc.hour, open_utc.minute) == (3, 45)  # 09:15 IST
    assert close_ns - open_ns == 375 * MIN
    # the kernel's fixed-offset alignment agrees with zoneinfo on that date
    b = builder(60)
    b.on_tick(open_ns + 30 * S, 100_00, 1, 0)
    (closed,) = b.flush(close_ns)
    assert closed.ts_open_ns == open_ns
    assert IST_OFFSET_NS == 19_800 * S


def test_session_day_ids_change_at_ist_midnight() -> None:
    ids = session_day_ids([ist(23, 59, 59), ist(0, 0, day=NEXT_DAY), ist(15, 0, day=NEXT_DAY)])
    assert ids[1] == ids[0] + 1 and ids[2] == ids[1]


# --------------------------------------------------------------------------------------------
# Bulk
# --------------------------------------------------------------------------------------------


def random_ticks(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two trading days plus out-of-session noise, with some disorder and bad ticks."""
    rng = np.random.default_rng(seed)
    start = ist(8, 30)
    span = ist(16, 30, day=NEXT_DAY) - start
    ts = np.sort(start + rng.integers(0, span, n))
    swap = rng.random(n) < 0.05
    ts[swap] -= rng.integers(0, 90 * S, swap.sum())  # late arrivals
    price = 2_000_000 + np.cumsum(rng.integers(-3, 4, n)) * 5
    price[rng.random(n) < 0.002] = 0
    qty = rng.integers(0, 10, n) * 75
    return ts, price, qty


@pytest.mark.parametrize("timeframe_s", [1, 60, 300, 7 * 60, 3600, 86_400])
def test_bulk_build_equals_tick_by_tick_updates(timeframe_s: int) -> None:
    ts, price, qty = random_ticks(timeframe_s, 20_000)
    init = ts + 777
    live = builder(timeframe_s)
    streamed = []
    for t, p, q, i in zip(ts.tolist(), price.tolist(), qty.tolist(), init.tolist(), strict=True):
        for closed in live.on_tick(t, p, q, i):
            assert t >= closed.ts_event_ns  # no look-ahead: only a tick at/after the end closes
            assert closed.ts_open_ns < closed.ts_event_ns <= closed.ts_open_ns + timeframe_s * S
            streamed.append(closed)
    batch = build_bars(ts, price, qty, timeframe_s, ts_init_ns=init)
    assert bars_to_messages(batch.bars, *NIFTY_FUT, timeframe_s) == streamed
    assert (batch.ticks_accepted, batch.ticks_out_of_session, batch.ticks_late, batch.ticks_bad) == (
        live.ticks_accepted,
        live.ticks_out_of_session,
        live.ticks_late,
        live.ticks_bad,
    )
    assert batch.ticks_late > 0 and batch.ticks_out_of_session > 0 and batch.ticks_bad > 0
    assert live.ticks_accepted + live.ticks_out_of_session + live.ticks_late + live.ticks_bad == ts.size


def test_bulk_then_live_continues_the_open_bar() -> None:
    ts, price, qty = random_ticks(3, 5_000)
    whole = build_bars(ts, price, qty, 60).bars
    b = builder(60)
    head = b.update_arrays(ts[:2_500], price[:2_500], qty[:2_500])
    tail = b.update_arrays(ts[2_500:], price[2_500:], qty[2_500:])
    np.testing.assert_array_equal(np.concatenate([head, tail]), whole)


def test_build_bars_includes_the_last_bar_only_when_now_is_past_its_end() -> None:
    ts = np.array([ist(9, 15, 10), ist(9, 16, 10), ist(9, 16, 50)])
    price = np.array([100_00, 101_00, 102_00])
    qty = np.array([1, 2, 3])
    assert len(build_bars(ts, price, qty, 60).bars) == 1
    assert len(build_bars(ts, price, qty, 60, now_ns=ist(9, 16, 59)).bars) == 1
    done = build_bars(ts, price, qty, 60, now_ns=ist(9, 17))
    assert done.bars.dtype == BAR_DTYPE and len(done.bars) == 2
    last = done.bars[-1]
    assert (last["open_paise"], last["close_paise"], last["volume_units"], last["ts_init_ns"]) == (
        101_00,
        102_00,
        5,
        ist(9, 17),
    )


def test_bulk_refuses_float_prices_and_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="price_paise must be integers"):
        build_bars([ist(10, 0)], [245.5], [1], 60)
    with pytest.raises(ValueError, match="qty_units=2"):
        build_bars([ist(10, 0)], [100], [1, 2], 60)


def test_bulk_of_no_ticks_is_no_bars() -> None:
    none = np.array([], dtype=np.int64)
    empty = build_bars(none, none, none, 60)
    assert len(empty.bars) == 0 and empty.ticks_accepted == 0


def test_warmup_compiles_the_kernels_for_the_types_the_actor_uses() -> None:
    script = """
from actors.strategy import bars
from actors.strategy.bars import _bar_flush, _bar_run, _bar_step
kernels = (_bar_step, _bar_flush, _bar_run)
bars.warmup()
before = [len(k.signatures) for k in kernels]
assert all(before), before
b = bars.BarBuilder(60, 2, 1)
o, _ = bars.session_bounds_ns(__import__("datetime").date(2025, 3, 3))
b.on_tick(o, 100, 1, o); b.on_tick(o + 61 * 10**9, 100, 1, o); b.flush(o + 10**12)
bars.build_bars([o], [100], [1], 60, now_ns=o + 10**12)
assert [len(k.signatures) for k in kernels] == before
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_nse_session_is_0915_to_1530() -> None:
    assert (NSE_SESSION.open_ist_s, NSE_SESSION.close_ist_s) == (33_300, 55_800)


def test_first_close_finds_the_tick_on_tick_closes_a_bar_with_and_take_quiet_keeps_the_open_bar():
    rng = np.random.default_rng(5)
    ts = ist(9, 15) + np.cumsum(rng.integers(0, 3 * S, size=400)).astype(np.int64)
    price = rng.integers(-5, 2_000, size=400).astype(np.int64)  # a few bad prices too
    qty = rng.integers(0, 50, size=400).astype(np.int64)
    one_by_one = BarBuilder(20, *NIFTY_FUT)
    bulk = BarBuilder(20, *NIFTY_FUT)
    closes = [i for i in range(400) if one_by_one.on_tick(int(ts[i]), int(price[i]), int(qty[i]), 0)]
    assert len(closes) > 10
    i = 0
    found = []
    while i < 400:
        k = bulk.first_close(ts[i:], price[i:], qty[i:])
        bulk.take_quiet(ts[i:i + k], price[i:i + k], qty[i:i + k])
        if i + k < 400:
            assert bulk.on_tick(int(ts[i + k]), int(price[i + k]), int(qty[i + k]), 0)
            found.append(i + k)
        i += k + 1
    assert found == closes
    assert bulk._st.tolist() == one_by_one._st.tolist()
    with pytest.raises(AssertionError, match="closed 1 bar"):
        bulk.take_quiet(np.array([ts[-1] + 3600 * S]), np.array([100]), np.array([1]))
