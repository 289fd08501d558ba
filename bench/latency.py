"""Tick-to-trade latency of the real daemon: ``python -m bench.latency`` (or ``./dev bench latency``).

For each topology it starts ``shikra run`` with the synthetic feed at a fixed rate on one stock and
the probe strategy (a market order on every Nth tick), runs for a fixed time, and reads the
timestamps every order carries on its first OrderEvent:

    ts_init_ns      the feed received the packet (synthetic: generated it)
    ts_created_ns   the strategy emitted the intent
    ts_approved_ns  risk approved it
    ts_sent_ns      execution handed the order to the paper venue (after the ledger write)

The first two come on the order's SUBMITTED event (written ahead, ts_sent 0), the last on its
first venue event; the harness joins them by client order id.

Hops: feed->strategy, strategy->risk, risk->execution; end to end: ts_sent - ts_init. In the same
run it measures the raw ZeroMQ floor (``bench.floor``: same hops, patterns, sizes, wait style, no
work) and reports our latency as a ratio to it. Results: ``bench/results/latest.json`` and
``bench/results/latest.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq
from hdrh.histogram import HdrHistogram

from bench.floor import measure_floor
from ipc import codec
from ipc.messages import OrderEvent
from ipc.transport import Endpoints

RESULTS = Path(__file__).parent / "results"
HOPS = ("feed->strategy", "strategy->risk", "risk->execution", "end_to_end")
QUANTILES = (50, 90, 99, 99.9)


def daemon_config(topology: str, rate: int, every: int, durability: str = "group", warm_interval_ms: int = 1) -> str:
    return f"""
[engine]
actors = ["feed", "book", "strategy", "risk", "execution"]
topology = "{topology}"
warm_interval_ms = {warm_interval_ms}
colocated = ["feed", "book", "strategy", "risk", "execution"]
[log]
format = "json"
level = "warning"
[feed.synthetic]
rate_per_s = {rate}
underlyings = []
stocks = ["RELIANCE"]
[risk.limits]
max_orders_per_second = 100000
max_orders_per_day = 100000000
max_trades_per_day = 100000000
[ledger]
durability = "{durability}"
[[strategy.instances]]
name = "probe"
kind = "probe"
instrument = "RELIANCE"
params = {{ every_n_ticks = {every} }}
"""


def _hist(values_ns: np.ndarray) -> dict[str, float]:
    h = HdrHistogram(1, 60_000_000_000, 3)
    for v in values_ns:
        h.record_value(max(1, int(v)))
    out = {f"p{q:g}_us": h.get_value_at_percentile(q) / 1000 for q in QUANTILES}
    out["max_us"] = h.get_max_value() / 1000
    out["count"] = int(h.get_total_count())
    return out


def run_topology(topology: str, rate: int, every: int, seconds: float, warmup_s: float,
                 durability: str = "group", warm_interval_ms: int = 1) -> dict[str, dict[str, float]]:
    root = Path(tempfile.mkdtemp(prefix="skb-"))
    (root / "shikra.toml").write_text(daemon_config(topology, rate, every, durability, warm_interval_ms))
    log = open(root / "daemon.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", "--config", str(root / "shikra.toml"),
                             "--data-dir", str(root / "data")], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    sub = zmq.Context.instance().socket(zmq.SUB)
    try:
        status_path = root / "data" / "run" / "status.json"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if status_path.exists() and b'"state":"running"' in status_path.read_bytes():
                break
            if proc.poll() is not None:
                raise RuntimeError(f"daemon exited: {(root / 'daemon.log').read_text()[-2000:]}")
            time.sleep(0.1)
        else:
            raise RuntimeError("daemon not running after 120 s")
        names = ("feed", "book", "strategy", "risk", "execution", "supervisor")
        sub.connect(Endpoints(root / "data" / "run", names=names).pub("execution"))
        sub.setsockopt(zmq.SUBSCRIBE, b"order.probe")
        time.sleep(warmup_s)
        rows: list[tuple[int, int, int, int]] = []
        init: dict[str, int] = {}   # client order id -> ts_init of its SUBMITTED event (the tick)
        done: set[str] = set()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if not sub.poll(200):
                continue
            _t, payload = sub.recv_multipart()
            ev = codec.decode(payload)
            if not isinstance(ev, OrderEvent) or ev.client_order_id in done:
                continue
            if not ev.ts_sent_ns:
                init[ev.client_order_id] = ev.ts_init_ns  # written ahead, not yet at the venue
            elif ev.client_order_id in init:
                done.add(ev.client_order_id)
                rows.append((init.pop(ev.client_order_id), ev.ts_created_ns, ev.ts_approved_ns, ev.ts_sent_ns))
    finally:
        sub.close(0)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
    if not rows:
        raise RuntimeError(f"no orders observed in {topology} topology")
    a = np.asarray(rows, dtype=np.int64)
    hops = {
        "feed->strategy": a[:, 1] - a[:, 0],
        "strategy->risk": a[:, 2] - a[:, 1],
        "risk->execution": a[:, 3] - a[:, 2],
        "end_to_end": a[:, 3] - a[:, 0],
    }
    return {name: _hist(v) for name, v in hops.items()}


def machine() -> dict[str, str | int]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count() or 0, "cpu": model or platform.processor(), "python": platform.python_version(),
            "platform": platform.platform(), "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def render(result: dict) -> str:
    m = result["machine"]
    lines = [f"Tick-to-trade latency, {m['date']}, {m['cores']} cores, {m['cpu']}, Python {m['python']}",
             f"synthetic feed {result['rate_per_s']} packets/s, probe order every {result['every_n_ticks']} ticks, "
             f"{result['seconds']} s per topology", "",
             "| topology | hop | count | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs |",
             "|---|---|---|---|---|---|---|---|"]
    for topo, hops in result["topologies"].items():
        for hop, s in hops.items():
            lines.append(f"| {topo} | {hop} | {s['count']} | {s['p50_us']:.1f} | {s['p90_us']:.1f} | "
                         f"{s['p99_us']:.1f} | {s['p99.9_us']:.1f} | {s['max_us']:.1f} |")
    f = result["floor"]
    lines.append(f"| zmq floor (3 hops, no work) | end_to_end | {f['count']} | {f['p50_us']:.1f} | {f['p90_us']:.1f} | "
                 f"{f['p99_us']:.1f} | {f['p99.9_us']:.1f} | {f['max_us']:.1f} |")
    if "isolated" in result["topologies"]:
        lines.append("")
        lines.append(f"isolated end-to-end p50 / floor p50 = {result['ratio_p50_isolated_to_floor']:.2f}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--topology", choices=["isolated", "co-located", "both"], default="both")
    parser.add_argument("--rate", type=int, default=1000, help="synthetic packets per second")
    parser.add_argument("--every", type=int, default=10, help="probe order every N ticks")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--durability", choices=["sync", "group", "os"], default="group")
    parser.add_argument("--warm-interval-ms", type=int, default=1,
                        help="engine.warm_interval_ms (0: no order-path rehearsal between orders)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    topologies = ["isolated", "co-located"] if args.topology == "both" else [args.topology]
    result: dict = {"machine": machine(), "rate_per_s": args.rate, "every_n_ticks": args.every,
                    "seconds": args.seconds, "durability": args.durability,
                    "warm_interval_ms": args.warm_interval_ms, "topologies": {}}
    for topo in topologies:
        print(f"running {topo} ...", file=sys.stderr)
        result["topologies"][topo] = run_topology(topo, args.rate, args.every, args.seconds, args.warmup,
                                                  args.durability, args.warm_interval_ms)
    print("running zmq floor ...", file=sys.stderr)
    floor = measure_floor(args.rate, args.seconds, every=args.every)
    result["floor"] = _hist(floor)
    if "isolated" in result["topologies"]:
        result["ratio_p50_isolated_to_floor"] = (result["topologies"]["isolated"]["end_to_end"]["p50_us"]
                                                 / result["floor"]["p50_us"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    table = render(result)
    (args.out / "latest.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
