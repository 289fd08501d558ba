"""The public feed of a running daemon (loopback only): dashboards receive ticks, order events and
positions through the gateway; CURVE lets only allowed keys in; a stalled dashboard neither grows
the gateway's memory without bound nor slows the order flow; /metrics answers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import msgspec
import pytest
import zmq
import zmq.auth

from actors.gateway.actor import GATEWAY_INFO, GatewayInfo
from actors.gateway.config import GatewayConfig
from actors.risk.config import RiskConfig
from actors.strategy.config import StrategyConfig
from engine.config import Config
from ipc import codec
from ipc.messages import Message, OrderEvent, Tick
from tests.support.config import daemon_config, engine_section, strategy_instance, synthetic_feed, unlimited_limits
from tests.support.daemon import Daemon, short_tmpdir
from tests.support.wait import eventually
from tests.support.ledger import ledger_facts, wait_for_fills

REPO = Path(__file__).resolve().parents[2]

CONFIG = daemon_config(
    engine=engine_section(["feed", "book", "strategy", "risk", "execution", "gateway"]),
    feed=synthetic_feed(["RELIANCE"], ["NIFTY"]),
    risk=RiskConfig(limits=unlimited_limits()),
    strategy=StrategyConfig(instances=[
        strategy_instance("probe", "probe", "RELIANCE", every_n_ticks=5),
        # NIFTY options trade in lots of 65: 7 units is denied.
        strategy_instance("odd_lot", "probe", "NIFTY", every_n_ticks=20, qty_units=7)]),
    gateway=GatewayConfig(listen="tcp://127.0.0.1:*", metrics_listen="127.0.0.1:0", sndhwm=1000))


def gateway_info(d: Daemon) -> GatewayInfo:
    return d.eventually(lambda: msgspec.json.decode((d.run_dir / GATEWAY_INFO).read_bytes(), type=GatewayInfo),
                        "gateway.json", 30.0)


def subscriber(endpoint: str, prefixes: list[bytes], **opts: object) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    for name, value in opts.items():
        sock.setsockopt(getattr(zmq, name), value)
    sock.connect(endpoint)
    for p in prefixes:
        sock.setsockopt(zmq.SUBSCRIBE, p)
    return sock


def receive_until(sock: zmq.Socket, done, timeout_s: float = 60.0) -> list[tuple[bytes, Message]]:
    """(topic, message) pairs as they arrive until ``done`` holds for the list so far."""
    got: list[tuple[bytes, Message]] = []

    def arrived() -> list[tuple[bytes, Message]] | None:
        for _ in range(1000):  # then back to eventually's clock, even on a feed that never pauses
            if not sock.poll(100):
                return None
            topic, payload = sock.recv_multipart()
            got.append((topic, codec.decode(payload)))
            if done(got):
                return got
        return None

    return eventually(arrived, "the messages looked for", timeout_s,
                      lambda: f"{len(got)} messages: {sorted({t for t, _ in got})[:20]}", poll_s=0)


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
    assert order.strategy == "probe" and order.spec.qty_units > 0


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
    reader = subscriber(info.listen, [b""])
    queue = CONFIG.gateway.sndhwm
    try:
        # Once a dashboard on the same topics has received twice what the stalled one's queue
        # holds, that queue is full: from here on the gateway must drop its messages, not keep them.
        receive_until(reader, lambda g: len(g) >= 2 * queue)
        rss_before = rss_bytes(pid)
        fills_before = len(ledger_facts(d.data_dir)["fills"])
        wait_for_fills(d, fills_before + 10)  # the order flow goes on
        receive_until(reader, lambda g: len(g) >= 2 * queue)  # so does the other dashboard, past the stalled one
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
              'shikra_ledger_commit_seconds_count{actor="execution"}',
              # Live figures: P&L per strategy from execution's positions, risk's state, the kill
              # switch, and the staleness of what the synthetic feed streams.
              'shikra_strategy_realised_pnl_paise{strategy="probe"}',
              'shikra_strategy_unrealised_pnl_paise{strategy="probe"}',
              'shikra_trading_state{state="ACTIVE"} 1.0', 'shikra_kill_switch_engaged 0.0',
              'shikra_feed_staleness_seconds{instrument="NSE_EQ:2885"}')
    def odd_lot_denials(text: str) -> list[str]:
        # Other reasons may come too (an intent that reaches risk before the instrument's first
        # price is denied NO_LAST_PRICE); the odd-lot probe's reason must be among them.
        return [line for line in text.splitlines() if line.startswith("shikra_denials_total{")
                and ("QTY_NOT_LOT_MULTIPLE" in line or "NOT_TRADABLE" in line)]

    last = [""]

    def scraped() -> str | None:
        with urllib.request.urlopen(url, timeout=5) as resp:
            last[0] = resp.read().decode()
        return last[0] if all(w in last[0] for w in wanted) and odd_lot_denials(last[0]) else None

    text = eventually(scraped, "every wanted figure and an odd-lot denial in /metrics", 30.0,
                      lambda: f"missing {[w for w in wanted if w not in last[0]]}\n{last[0][-3000:]}", poll_s=0.3)
    denials = odd_lot_denials(text)
    assert denials and float(denials[0].rsplit(" ", 1)[1]) >= 1, text[-3000:]
    commits = next(line for line in text.splitlines() if line.startswith("shikra_ledger_commit_seconds_count{"))
    assert float(commits.rsplit(" ", 1)[1]) >= 1
    stale = next(line for line in text.splitlines() if line.startswith("shikra_feed_staleness_seconds{"))
    assert 0 <= float(stale.rsplit(" ", 1)[1]) < 30, stale  # the synthetic market ticks many times a second


def curve_config(server_secret: str, allowed: str) -> Config:
    return daemon_config(
        engine=engine_section(["feed", "gateway"]), feed=synthetic_feed(["RELIANCE"], rate_per_s=200),
        gateway=GatewayConfig(listen="tcp://127.0.0.1:*", metrics_listen="", curve_secret_key_file=server_secret,
                              allowed_client_keys=[allowed]))


def test_curve_gateway_serves_an_allowed_client_key_and_nothing_to_an_unknown_one():
    root = short_tmpdir()
    keys = root / "keys"
    keys.mkdir()
    _server_public, server_secret = zmq.auth.create_certificates(keys, "server")
    allowed_pub, allowed_sec = zmq.auth.load_certificate(zmq.auth.create_certificates(keys, "allowed")[1])
    unknown_pub, unknown_sec = zmq.curve_keypair()
    d = Daemon(root, curve_config(str(server_secret), allowed_pub.decode())).start()
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
            # Fifty more to the allowed one: what the others would have been sent meanwhile has arrived.
            receive_until(allowed, lambda g: len(g) >= 50)
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
