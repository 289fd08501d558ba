"""The supervisor and actor hosts as real processes on real sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import msgspec
import pytest
import zmq

from ipc import codec
from ipc.messages import OrderIntent, Tick
from engine.config import Config, RestartConfig
from tests.support.config import daemon_config, engine_section
from tests.support.daemon import Daemon, Watcher, pid_alive
from tests.support.wait import eventually

FLOW_ACTORS = ("source", "relay", "sink")


def flow_config(topology: str = "isolated", **engine_fields: object) -> Config:
    """The counter source, a relay and a sink (tests/support/actors.py): a hung actor is found in a
    second, and three restarts in 30 s are a restart storm."""
    return daemon_config(engine=engine_section(
        list(FLOW_ACTORS), topology=topology, colocated=list(FLOW_ACTORS),
        heartbeat_interval_s=0.1, heartbeat_timeout_s=1.0, ready_timeout_s=30.0, stop_timeout_s=5.0,
        restart=RestartConfig(backoff_initial_s=0.1, backoff_max_s=0.5, max_restarts=3, window_s=30.0),
        actor_classes={name: f"tests.support.actors:{cls}" for name, cls in
                       zip(FLOW_ACTORS, ("CounterSource", "Relay", "Sink"), strict=True)},
        **engine_fields))


@pytest.fixture
def daemon_factory(root):
    started: list[Daemon] = []

    def make(config: Config, env: dict[str, str] | None = None, sub: str = "") -> Daemon:
        where = root / sub if sub else root
        where.mkdir(exist_ok=True)
        d = Daemon(where, config, env).start()
        started.append(d)
        return d

    yield make
    for d in started:
        d.reap()


def watch_sink(d: Daemon) -> Watcher:
    eps = d.endpoints(FLOW_ACTORS + ("supervisor",))
    return Watcher([eps.pub("sink")], [b"intent.seen"])


def consecutive_intents(n: int):
    def done(msgs: list) -> bool:
        ids = [int(m.intent_id.split("-")[1]) for m in msgs if isinstance(m, OrderIntent)]
        return len(ids) >= n and ids[-n:] == list(range(ids[-n], ids[-n] + n))
    return done


def test_daemon_starts_all_actors_and_status_lists_them(daemon_factory):
    d = daemon_factory(flow_config())
    status = d.wait_running()
    assert {a.name for a in status.actors} == set(FLOW_ACTORS)
    assert all(a.state == "ready" and a.pid > 0 for a in status.actors)
    out = subprocess.run([sys.executable, "-m", "engine.cli", "status", "--config", str(d.config_path),
                          "--data-dir", str(d.data_dir)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    for a in status.actors:
        assert a.name in out.stdout and str(a.pid) in out.stdout


def test_sigterm_stops_in_order_exits_zero_and_reaps_every_child(daemon_factory):
    d = daemon_factory(flow_config())
    status = d.wait_running()
    pids = [a.pid for a in status.actors]
    assert d.stop() == 0
    assert not any(pid_alive(p) for p in pids)
    stopped = [line for line in d.log().splitlines() if '"unit_stopping"' in line]
    order = [next(n for n in FLOW_ACTORS if f'"unit":"{n}"' in line) for line in stopped]
    assert order == sorted(order, key=lambda n: FLOW_ACTORS.index(n))  # unknown names keep config order


def test_sigterm_while_a_unit_is_still_starting_exits_zero_and_stops_every_unit_in_order(daemon_factory, root):
    # On a loaded machine start-up is long, and a stop that came before every unit was ready was
    # reported as a failed start ("not_ready", exit 1): systemd counted a clean stop as a failure.
    gate = root / "start-gate"
    cfg = flow_config()
    cfg = msgspec.structs.replace(cfg, engine=msgspec.structs.replace(
        cfg.engine, actor_classes={**cfg.engine.actor_classes, "sink": "tests.support.actors:GatedSink"}))
    d = daemon_factory(cfg, env={"SHIKRA_TEST_START_GATE": str(gate)})
    status = d.wait_for(lambda s: s.state == "starting" and all(
        (a.state == "ready") == (a.name != "sink") and a.pid > 0 for a in s.actors), 60.0,
        "source and relay ready, sink still starting")
    d.proc.send_signal(signal.SIGTERM)
    d.eventually(lambda: '"stop_requested"' in d.log(), "the stop requested")
    gate.touch()  # the slow start ends; the unit then takes its turn to stop
    assert d.proc.wait(timeout=60) == 0, d.describe()
    assert '"not_ready"' not in d.log()
    assert not any(pid_alive(a.pid) for a in status.actors)
    stopped = [line for line in d.log().splitlines() if '"unit_stopping"' in line]
    assert [next(n for n in FLOW_ACTORS if f'"unit":"{n}"' in line) for line in stopped] == list(FLOW_ACTORS)


@pytest.mark.parametrize("topology", ["isolated", "co-located"])
def test_message_flow_is_the_same_in_both_topologies(daemon_factory, topology):
    d = daemon_factory(flow_config(topology))
    status = d.wait_running()
    units = {a.unit for a in status.actors}
    assert len(units) == (3 if topology == "isolated" else 1)
    w = watch_sink(d)
    try:
        msgs = w.collect(consecutive_intents(20))
    finally:
        w.close()
    intent = msgs[-1]
    assert isinstance(intent, OrderIntent) and intent.strategy == "relay" and intent.spec.security_id == 99
    assert intent.ts_created_ns >= intent.ts_init_ns


@pytest.mark.parametrize("victim", FLOW_ACTORS)
def test_kill9_of_one_actor_restarts_it_and_leaves_the_others_alone(daemon_factory, victim):
    d = daemon_factory(flow_config())
    before = {a.name: a.pid for a in d.wait_running().actors}
    os.kill(before[victim], signal.SIGKILL)
    after = d.wait_for(lambda s: all(a.state == "ready" for a in s.actors)
                       and next(a for a in s.actors if a.name == victim).pid != before[victim],
                       what=f"{victim} restarted")
    by_name = {a.name: a for a in after.actors}
    assert by_name[victim].restarts == 1
    for other in FLOW_ACTORS:
        if other != victim:
            assert by_name[other].pid == before[other] and by_name[other].restarts == 0
    w = watch_sink(d)
    try:
        w.collect(consecutive_intents(5))  # the flow works again end to end
    finally:
        w.close()


def test_hung_actor_is_killed_and_restarted(daemon_factory):
    d = daemon_factory(flow_config())
    old = {a.name: a.pid for a in d.wait_running().actors}["relay"]
    os.kill(old, signal.SIGSTOP)  # alive but silent: no heartbeats
    d.wait_for(lambda s: next(a for a in s.actors if a.name == "relay").pid != old
               and next(a for a in s.actors if a.name == "relay").state == "ready", what="relay replaced")
    assert not pid_alive(old)  # it could not exit by itself: the supervisor found it hung and killed it


def test_restart_storm_engages_the_kill_switch_and_reports_it(daemon_factory):
    d = daemon_factory(flow_config())
    d.wait_running()
    for _ in range(3):
        pid = d.actor("source").pid
        os.kill(pid, signal.SIGKILL)
        d.wait_for(lambda s: next(a for a in s.actors if a.name == "source").pid not in (0, pid)
                   and next(a for a in s.actors if a.name == "source").state == "ready", what="source back")
    status = d.wait_for(lambda s: s.kill_switch.engaged, what="kill switch")
    assert "restart storm" in status.kill_switch.reason and "source" in status.kill_switch.reason
    # Every actor was told: each host's heartbeat says it obeys, and the supervisor's status shows it.
    d.wait_for(lambda s: {a.name for a in s.actors if a.kill_switch_engaged} == set(FLOW_ACTORS),
               what="every host obeying the kill switch")


def test_kill_switch_persists_across_restart_and_release_needs_a_command(daemon_factory):
    d = daemon_factory(flow_config(), sub="a")
    d.wait_running()
    cli = [sys.executable, "-m", "engine.cli", "kill", "--reason", "test halt", "--config", str(d.config_path),
           "--data-dir", str(d.data_dir)]
    assert subprocess.run(cli, capture_output=True, timeout=30).returncode == 0
    assert d.wait_for(lambda s: s.kill_switch.engaged).kill_switch.reason == "test halt"
    assert d.stop() == 0
    d2 = Daemon(d.root, flow_config()).start()
    try:
        assert d2.wait_running().kill_switch.engaged
        release = cli[:4] + ["--release"] + cli[6:]
        assert subprocess.run(release, capture_output=True, timeout=30).returncode == 0
        assert not d2.wait_for(lambda s: not s.kill_switch.engaged).kill_switch.engaged
    finally:
        d2.reap()


def test_second_daemon_on_the_same_data_dir_refuses_to_start(daemon_factory):
    d = daemon_factory(flow_config())
    d.wait_running()
    out = subprocess.run([sys.executable, "-m", "engine.cli", "run", "--config", str(d.config_path),
                          "--data-dir", str(d.data_dir)], capture_output=True, text=True, timeout=30,
                         start_new_session=True)
    assert out.returncode != 0
    assert "already running" in out.stderr and str(d.pid) in out.stderr
    assert d.status().state == "running"


def test_systemd_notify_socket_gets_ready_watchdog_and_stopping(daemon_factory, root):
    path = str(root / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    try:
        d = daemon_factory(flow_config(), env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        got: list[str] = []

        def received(pred) -> bool:  # what arrives within the socket's 0.2 s timeout, then pred
            try:
                got.extend(sock.recv(4096).decode().splitlines())
            except socket.timeout:
                pass
            return pred()

        eventually(lambda: received(lambda: "READY=1" in got and got.count("WATCHDOG=1") >= 3),
                   "READY=1 and three WATCHDOG=1", 30.0, lambda: str(got), poll_s=0)
        d.proc.send_signal(signal.SIGTERM)
        eventually(lambda: received(lambda: "STOPPING=1" in got), "STOPPING=1", 30.0, lambda: str(got), poll_s=0)
        assert d.proc.wait(timeout=30) == 0
    finally:
        sock.close()


def test_corrupt_and_unknown_version_frames_are_counted_and_the_actor_keeps_serving(daemon_factory):
    d = daemon_factory(flow_config())
    d.wait_running()
    eps = d.endpoints(FLOW_ACTORS + ("supervisor",))
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 5000)  # close() must still deliver what was queued
    dealer.connect(eps.inbox("sink"))
    good = codec.encode(Tick(1, 99, 1, 1, 1))
    try:
        dealer.send_multipart([b"x", b"\xc1garbage"])                      # not msgpack
        dealer.send_multipart([b"x", good.replace(b"tick@1", b"tick@9")])  # unknown version
        dealer.send_multipart([b"x", b"\x92\xa6nope@1\x01"])               # unknown type
        dealer.send_multipart([b"only-one-frame"])                       # wrong frame count
    finally:
        dealer.close()
    status = d.wait_for(lambda s: next(a for a in s.actors if a.name == "sink").bad_frames >= 4,
                        what="bad frames counted")
    assert next(a for a in status.actors if a.name == "sink").state == "ready"
    w = watch_sink(d)
    try:
        w.collect(consecutive_intents(5))
    finally:
        w.close()


def _free_port_block(n: int) -> int:
    """A base port with n free consecutive ports (checked by binding each)."""
    import random
    for _ in range(50):
        base = random.randint(20000, 60000)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port block")


@pytest.mark.parametrize("topology", ["isolated", "co-located"])
def test_message_flow_over_tcp_endpoints(daemon_factory, topology):
    base = _free_port_block(2 * (len(FLOW_ACTORS) + 1))
    cfg = flow_config(topology, transport="tcp", tcp_base_port=base)
    d = daemon_factory(cfg)
    d.wait_running()
    from ipc.transport import Endpoints
    eps = Endpoints(d.run_dir, "tcp", "127.0.0.1", base, FLOW_ACTORS + ("supervisor",))
    assert eps.pub("sink").startswith("tcp://127.0.0.1:")
    w = Watcher([eps.pub("sink")], [b"intent.seen"])
    try:
        w.collect(consecutive_intents(10))
    finally:
        w.close()
    assert d.stop() == 0


def test_supervisor_republishes_actor_health_for_dashboards(daemon_factory):
    d = daemon_factory(flow_config())
    d.wait_running()
    w = Watcher([d.endpoints(FLOW_ACTORS + ("supervisor",)).pub("supervisor")], [b"actor.health."])
    try:
        from ipc.messages import Heartbeat
        got = w.collect(lambda msgs: {m.actor for m in msgs if isinstance(m, Heartbeat)} >= set(FLOW_ACTORS))
    finally:
        w.close()
    assert all(m.state == "ready" for m in got if isinstance(m, Heartbeat))
