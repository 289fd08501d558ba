"""Warm-up from history: Dhan's minute candles become session-aligned bars of whole minutes, never a
bar from the future. (Fetched through dhanhq by the real daemon: tests/daemon/test_strategy_history.py.)"""

from __future__ import annotations

import datetime as dt

import pytest

from actors.strategy.bars import NSE_SESSION
from actors.strategy.history import Candle, HistoryError, candles_to_bars, parse_candles

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
DAY = dt.date(2026, 11, 20)


def ist_s(day: dt.date, hh: int, mm: int) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=IST).timestamp())


def candle(ts: int, close: int) -> Candle:
    return Candle(ts, close - 10, close + 5, close - 15, close, 100)


# Pure -------------------------------------------------------------------------------------------


def test_minute_candles_group_into_session_aligned_bars_and_only_finished_ones_count() -> None:
    candles = [candle(ist_s(DAY, 9, 15) + 60 * i, 10_000 + 5 * i) for i in range(12)]  # 09:15 .. 09:26
    candles.insert(0, candle(ist_s(DAY, 8, 0), 1))  # before the open: left out
    now = (ist_s(DAY, 9, 25) + 1) * 10**9           # 09:25:01: the 09:25 window is not over
    bars = candles_to_bars(candles, 300, 1, 2885, NSE_SESSION, now)
    assert [(b.ts_open_ns // 10**9, b.ts_event_ns // 10**9) for b in bars] == [
        (ist_s(DAY, 9, 15), ist_s(DAY, 9, 20)), (ist_s(DAY, 9, 20), ist_s(DAY, 9, 25))]
    first = bars[0]
    assert (first.open_paise, first.close_paise, first.high_paise, first.low_paise, first.volume_units) == (
        9_990, 10_020, 10_025, 9_985, 500)
    with pytest.raises(ValueError, match="whole number of minutes"):
        candles_to_bars(candles, 30, 1, 2885, NSE_SESSION, now)


def test_candles_parse_to_exact_paise_on_the_tick_and_bad_answers_name_the_instrument() -> None:
    answer = {"status": "success", "remarks": "", "data": {
        "timestamp": [200, 100], "open": [2450.05, 2450.1], "high": [2451.0, 2452.349999], "low": [2449.95, 2450.0],
        "close": [2450.55, 2450.7], "volume": [10, 20]}}
    got = parse_candles(answer, "NSE_EQ:2885", 5)
    assert [c.ts_s for c in got] == [100, 200]  # time order
    assert got[0].high_paise == 245_235 and got[1].open_paise == 245_005 and got[1].close_paise == 245_055
    for bad, words in [({"status": "failure", "remarks": "DH-905"}, "DH-905"),
                       ({"status": "success", "data": {"timestamp": [1], "open": []}}, "columns"),
                       ({"status": "success", "data": {**answer["data"], "close": ["x", 1]}}, "not numbers")]:
        with pytest.raises(HistoryError) as info:
            parse_candles(bad, "NSE_EQ:2885", 5)
        assert "NSE_EQ:2885" in str(info.value) and words in str(info.value)
