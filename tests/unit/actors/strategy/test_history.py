"""Warm-up from history: Dhan's minute candles (through the real dhanhq package, against a
loopback server) become session-aligned bars of whole minutes, never a bar from the future."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from actors.strategy.bars import NSE_SESSION
from actors.strategy.history import Candle, HistoryError, candles_to_bars, parse_candles
from engine.credentials import CLIENT_ID_ENV_VAR, TOKEN_ENV_VAR
from tests.support.daemon import Daemon, short_tmpdir

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


# Daemon against a loopback charts endpoint -------------------------------------------------------


class _Charts(BaseHTTPRequestHandler):
    requests: list[tuple[dict[str, str], dict[str, Any]]] = []
    answer: dict[str, Any] = {}

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        type(self).requests.append((dict(self.headers), body))
        ok = self.path == "/v2/charts/intraday" and self.headers.get("access-token") == "tok-history"
        data = json.dumps(type(self).answer if ok else {"errorCode": "DH-901"}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


HISTORY_PROBE = '''
from actors.strategy.api import Strategy


class HistoryProbe(Strategy):
    kind = "history_probe"

    def on_start(self):
        self.ctx.subscribe_bars(self.instrument, 60)
        self.ctx.subscribe_bars(self.instrument, 5)   # not whole minutes: skipped, stays cold

    def on_bar(self, bar):
        self.ctx.log.info("probe_bar", tf=bar.timeframe_s, close=bar.close_paise, ts=bar.ts_event_ns)
        self.ctx.buy(self.instrument, 1)
'''


@pytest.mark.slow
def test_daemon_warms_minute_bars_from_dhan_history_through_dhanhq() -> None:
    root = short_tmpdir("sk-hist-")
    (root / "strategies").mkdir()
    (root / "strategies" / "probe.py").write_text(HISTORY_PROBE)
    yesterday = dt.datetime.now(IST).date() - dt.timedelta(days=1)
    stamps = [ist_s(yesterday, 10, 0) + 60 * i for i in range(30)] + [int(time.time()) + 3600]  # + a future one
    _Charts.requests = []
    _Charts.answer = {"open": [2450.0] * 31, "high": [2451.0] * 31, "low": [2449.0] * 31,
                      "close": [2450.0 + i * 0.05 for i in range(31)], "volume": [7] * 31, "timestamp": stamps}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Charts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = f"""
[engine]
actors = ["feed", "book", "strategy", "risk", "execution"]
heartbeat_interval_s = 0.2
[log]
format = "json"
[feed.synthetic]
rate_per_s = 100
underlyings = []
stocks = ["RELIANCE"]
[execution.dhan]
rest_url = "http://127.0.0.1:{server.server_address[1]}/v2"
[strategy]
user_dir = "{root / 'strategies'}"
warmup_history_days = 1
[[strategy.instances]]
name = "hist"
kind = "history_probe"
instrument = "RELIANCE"
"""
    d = Daemon(root, config, env={CLIENT_ID_ENV_VAR: "1000000001", TOKEN_ENV_VAR: "tok-history"}).start()
    try:
        d.wait_running()
        lines = [json.loads(x) for x in d.log().splitlines() if '"event":"' in x]
        done = next(x for x in lines if x["event"] == "warmup_history_done")
        assert done["bars"] == 30 and done["series_skipped"] == 1 and done["series_failed"] == 0
        assert done["orders_dropped"] == 30
        bars = [x for x in lines if x["event"] == "probe_bar" and x["tf"] == 60]
        assert [b["close"] for b in bars[:30]] == [245_000 + 5 * i for i in range(30)]
        assert all(b["ts"] < time.time_ns() for b in bars)
        _headers, body = _Charts.requests[0]
        assert (body["securityId"], body["exchangeSegment"], body["instrument"], body["interval"]) == (
            "2885", "NSE_EQ", "EQUITY", 1)
        assert "tok-history" not in d.log()
        assert d.stop() == 0
    finally:
        d.reap()
        server.shutdown()
        if not os.environ.get("SHIKRA_KEEP_TMP"):
            shutil.rmtree(root, ignore_errors=True)
