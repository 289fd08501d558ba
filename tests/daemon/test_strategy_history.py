"""Warm-up from history in the real daemon: Dhan's minute candles, fetched through the real dhanhq
package from a loopback charts endpoint, reach the strategy as bars before the first live tick."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from actors.execution.config import DhanVenueConfig
from actors.execution.config import ExecutionConfig
from actors.strategy.config import StrategyConfig
from engine.credentials import CLIENT_ID_ENV_VAR, TOKEN_ENV_VAR
from engine.model.ist import IST
from tests.support.config import daemon_config, strategy_instance, synthetic_feed
from tests.support.daemon import Daemon, short_tmpdir


def ist_s(day: dt.date, hh: int, mm: int) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=IST).timestamp())


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
    config = daemon_config(
        feed=synthetic_feed(["RELIANCE"], rate_per_s=100),
        execution=ExecutionConfig(dhan=DhanVenueConfig(rest_url=f"http://127.0.0.1:{server.server_address[1]}/v2")),
        strategy=StrategyConfig(user_dir=str(root / "strategies"), warmup_history_days=1,
                                instances=[strategy_instance("hist", "history_probe", "RELIANCE")]))
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
