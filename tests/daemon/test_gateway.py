"""The public feed of a running daemon (loopback only): dashboards receive ticks, order events and
positions through the gateway; CURVE lets only allowed keys in; a stalled dashboard neither grows
the gateway's memory without bound nor slows the order flow; /metrics answers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import msgspec
import pytest
import zmq
import zmq.auth

from actors.gateway.actor import GATEWAY_INFO, GatewayInfo
from ipc import codec
from ipc.messages import Message, OrderEvent, Tick
from tests.support.daemon import Daemon, short_tmpdir
from tests.daemon.test_pipeline import ledger_facts, wait_for_fills

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
[engine]
actors = ["feed", "book", "strategy", "risk", "execution", "gateway"]
heartbeat_interval_s = 0.2
[log]
format = "json"
[feed.synthetic]
rate_per_s = 400
underlyings = ["NIFTY"]
option_strikes_each_side = 1
stocks = ["RELIANCE"]
[risk.limits]
max_orders_per_second = 1000
max_orders_per_day = 1000000
max_trades_per_day = 1000000
[[strategy.instances]]
name = "probe"
kind = "probe"
instrument = "RELIANCE"
params = { every_n_ticks = 5 }
# NIFTY options trade in lots of 65: 7 units is denied.
[[strategy.instances]]
name = "odd_lot"
kind = "probe"
instrument = "NIFTY"
params = { every_n_ticks = 20, qty_units = 7 }
[gateway]
listen = "tcp://127.0.0.1:*"
metrics_listen = "127.0.0.1:0"
sndhwm = 1000
"""


def gateway_info(d: Daemon, timeout_s: float = 30.0) -> GatewayInfo:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return msgspec.json.decode((d.run_dir / GATEWAY_INFO).read_bytes(), type=GatewayInfo)
        except (FileNotFoundError, msgspec.DecodeError):
            time.sleep(0.1)
    raise AssertionError("gateway.json never appeared:\n" + d.log()[-3000:])


def subscriber(endpoint: str, prefixes: list[bytes], **opts: object) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    for name, value in opts.items():
        sock.setsockopt(getattr(zmq, name), value)
    sock.connect(endpoint)
    for p in prefixes:
        sock.setsockopt(zmq.SUBSCRIBE, p)
    return sock


def receive_until(sock: zmq.Socket, done, timeout_s: float = 20.0) -> list[tuple[bytes, Message]]:
    got: list[tuple[bytes, Message]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sock.poll(100):
            topic, payload = sock.recv_multipart()
            got.append((topic, codec.decode(payload)))
            if done(got):
                return got
    raise AssertionError(f"timed out with {len(got)} messages: {sorted({t for t, _ in got})[:20]}")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@pytest.fixture(scope="module")
def daemon():
    root = short_tmpdir()
    d = Daemon(root, CONFIG).start()
    try:
        d.wait_running()
        yield d, gateway_info(d)
    finally:
        d.reap()
        if not os.environ.get("SHIKRA_KEEP_TMP"):
            shutil.rmtree(root, ignore_errors=True)


def test_dashboard_receives_ticks_and_order_events_from_a_running_daemon(daemon):
    d, info = daemon
    sock = subscriber(info.listen, [b"tick.", b"order."])
    try:
        got = receive_until(sock, lambda g: any(isinstance(m, Tick) for _, m in g)
                            and any(isinstance(m, OrderEvent) for _, m in g))
    finally:
        sock.close()
    for topic, msg in got:
        assert topic.startswith((b"tick.", b"order.")), topic
    order = next(m for _, m in got if isinstance(m, OrderEvent))
    assert order.strategy == "probe" and order.qty_units > 0


def test_only_configured_topics_reach_a_dashboard_subscribed_to_everything(daemon):
    _d, info = daemon
    sock = subscriber(info.listen, [b""])
    try:
        got = receive_until(sock, lambda g: len(g) >= 300)
    finally:
        sock.close()
    public = (b"tick.", b"quote.", b"book.", b"bar.", b"order.", b"fill.", b"position.", b"risk.", b"actor.health.")
    assert all(t.startswith(public) for t, _ in got), sorted({t for t, _ in got if not t.startswith(public)})
    assert any(t.startswith(b"actor.health.") for t, _ in got) or any(t.startswith(b"tick.") for t, _ in got)


def test_example_client_prints_ticks_and_live_pnl_per_strategy(daemon):
    _d, info = daemon
    out = subprocess.run([sys.executable, str(REPO / "examples" / "dashboard_pnl.py"), "--endpoint", info.listen,
                          "--ticks", "--seconds", "6"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("tick tick.NSE_EQ.") and "ltp ₹" in line for line in lines), lines[:5]
    assert any(line.startswith("pnl probe net ") for line in lines), [ln for ln in lines if not ln.startswith("tick")]


def test_stalled_dashboard_stays_bounded_and_neither_slows_orders_nor_other_dashboards(daemon):
    d, info = daemon
    pid = d.actor("gateway").pid
    stalled = subscriber(info.listen, [b""], RCVHWM=10, RCVBUF=4096)
    reader = subscriber(info.listen, [b"tick."])
    try:
        time.sleep(0.5)  # the stalled queue fills up
        rss_before = rss_bytes(pid)
        fills_before = len(ledger_facts(d.data_dir)["fills"])
        receive_until(reader, lambda g: len(g) >= 200)  # another dashboard keeps receiving
        wait_for_fills(d, fills_before + 10)
        time.sleep(2.0)
        rss_after = rss_bytes(pid)
    finally:
        stalled.close()
        reader.close()
    assert d.actor("gateway").restarts == 0
    # Generous: the stalled dashboard's queue is capped at sndhwm=1000 messages (~0.3 MB).
    assert rss_after - rss_before < 32 * 1024 * 1024, (rss_before, rss_after)


def test_metrics_endpoint_serves_actor_order_and_denial_figures(daemon):
    _d, info = daemon
    url = f"http://{info.metrics}/metrics"
    wanted = ('shikra_denials_total{reason="', 'shikra_fills_total{side="BUY",strategy="probe"}',
              'shikra_actor_messages_in_total{actor="risk"}', 'shikra_actor_restarts_total{actor="feed"} 0.0',
              'shikra_hop_latency_seconds_count{hop="risk"}', 'shikra_order_events_total{state="FILLED"}',
              'shikra_ledger_commit_seconds_count{actor="execution"}')
    def odd_lot_denials(text: str) -> list[str]:
        # Other reasons may come too (an intent that reaches risk before the instrument's first
        # price is denied NO_LAST_PRICE); the odd-lot probe's reason must be among them.
        return [line for line in text.splitlines() if line.startswith("shikra_denials_total{")
                and ("QTY_NOT_LOT_MULTIPLE" in line or "NOT_TRADABLE" in line)]

    deadline = time.monotonic() + 20
    text = ""
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        if all(w in text for w in wanted) and odd_lot_denials(text):
            break
        time.sleep(0.3)
    missing = [w for w in wanted if w not in text]
    assert not missing, (missing, text[-3000:])
    denials = odd_lot_denials(text)
    assert denials and float(denials[0].rsplit(" ", 1)[1]) >= 1, text[-3000:]
    commits = next(line for line in text.splitlines() if line.startswith("shikra_ledger_commit_seconds_count{"))
    assert float(commits.rsplit(" ", 1)[1]) >= 1


CURVE_CONFIG = """
[engine]
actors = ["feed", "gateway"]
heartbeat_interval_s = 0.2
[log]
format = "json"
[feed.synthetic]
rate_per_s = 200
underlyings = []
stocks = ["RELIANCE"]
[gateway]
listen = "tcp://127.0.0.1:*"
metrics_listen = ""
curve_secret_key_file = "{server_secret}"
allowed_client_keys = ["{allowed}"]
"""


def test_curve_gateway_serves_an_allowed_client_key_and_nothing_to_an_unknown_one():
    root = short_tmpdir()
    keys = root / "keys"
    keys.mkdir()
    _server_public, server_secret = zmq.auth.create_certificates(keys, "server")
    allowed_pub, allowed_sec = zmq.auth.load_certificate(zmq.auth.create_certificates(keys, "allowed")[1])
    unknown_pub, unknown_sec = zmq.curve_keypair()
    d = Daemon(root, CURVE_CONFIG.format(server_secret=server_secret, allowed=allowed_pub.decode())).start()
    try:
        d.wait_running()
        info = gateway_info(d)
        assert info.server_public_key

        def curve_client(public: bytes, secret: bytes) -> zmq.Socket:
            return subscriber(info.listen, [b"tick."], CURVE_SERVERKEY=info.server_public_key.encode(),
                              CURVE_PUBLICKEY=public, CURVE_SECRETKEY=secret)
        unknown = curve_client(unknown_pub, unknown_sec)
        plain = subscriber(info.listen, [b"tick."])
        allowed = curve_client(allowed_pub, allowed_sec)
        try:
            got = receive_until(allowed, lambda g: len(g) >= 50)
            assert all(isinstance(m, Tick) for _, m in got)
            time.sleep(0.5)  # anything the others were going to get has arrived by now
            assert unknown.poll(0) == 0 and plain.poll(0) == 0
        finally:
            for sock in (unknown, plain, allowed):
                sock.close()
    finally:
        d.reap()
        if not os.environ.get("SHIKRA_KEEP_TMP"):
            shutil.rmtree(root, ignore_errors=True)


def test_shikra_tail_prints_the_public_feed_as_json_lines(daemon):
    import json
    import subprocess
    import sys

    d, _info = daemon
    out = subprocess.run([sys.executable, "-m", "engine.cli", "tail", "tick.", "--count", "5", "--seconds", "20",
                          "--config", str(d.config_path), "--data-dir", str(d.data_dir)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == 5
    assert all(line["topic"].startswith("tick.") and line["type"] == "Tick" for line in lines)
