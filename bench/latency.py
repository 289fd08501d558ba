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

Hops: feed->strategy, strategy->risk, risk->execution; end to end: ts_sent - ts_init. Each
topology is compared with its own floor, measured in the same run right before it: isolated with the
raw ZeroMQ floor (``bench.floor``: same hops, patterns, sizes, wait style, no work), co-located with
the in-process floor (``bench.host_floor``: the same host loop carrying one message through the same
actor chain doing no work). With ``--rounds N`` the sequence (floor, topology, floor, topology)
runs N times and the samples are pooled, so that a change of load on a shared machine hits both
sides of a ratio alike. Results: ``bench/results/latest.json`` and ``bench/results/latest.md``
(``--json FILE`` writes the JSON there as well).
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
from bench.host_floor import measure_host_floor
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
ready_timeout_s = 300.0
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


def _hops(rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per-hop latencies (ns) from rows of (ts_init, ts_created, ts_approved, ts_sent)."""
    return {
        "feed->strategy": rows[:, 1] - rows[:, 0],
        "strategy->risk": rows[:, 2] - rows[:, 1],
        "risk->execution": rows[:, 3] - rows[:, 2],
        "end_to_end": rows[:, 3] - rows[:, 0],
    }


def _hist(values_ns: np.ndarray) -> dict[str, float]:
    h = HdrHistogram(1, 60_000_000_000, 3)
    for v in values_ns:
        h.record_value(max(1, int(v)))
    out = {f"p{q:g}_us": h.get_value_at_percentile(q) / 1000 for q in QUANTILES}
    out["max_us"] = h.get_max_value() / 1000
    out["count"] = int(h.get_total_count())
    return out


def run_topology(topology: str, rate: int, every: int, seconds: float, warmup_s: float,
                 durability: str = "group", warm_interval_ms: int = 1, tree: Path | None = None) -> np.ndarray:
    """Rows of (ts_init, ts_created, ts_approved, ts_sent) in ns, one per probe order. ``tree``:
    run the daemon of another checkout (the code before a change, in the same run)."""
    root = Path(tempfile.mkdtemp(prefix="skb-"))
    (root / "shikra.toml").write_text(daemon_config(topology, rate, every, durability, warm_interval_ms))
    log = open(root / "daemon.log", "wb")
    env = None if tree is None else {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", "--config", str(root / "shikra.toml"),
                             "--data-dir", str(root / "data")], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env=env, cwd=tree)
    sub = zmq.Context.instance().socket(zmq.SUB)
    try:
        status_path = root / "data" / "run" / "status.json"
        deadline = time.monotonic() + 300  # a loaded 2-core machine starts five units slowly
        while time.monotonic() < deadline:
            if status_path.exists() and b'"state":"running"' in status_path.read_bytes():
                break
            if proc.poll() is not None:
                raise RuntimeError(f"daemon exited: {(root / 'daemon.log').read_text()[-2000:]}")
            time.sleep(0.1)
        else:
            raise RuntimeError("daemon not running after 300 s")
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
    return np.asarray(rows, dtype=np.int64)


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


FLOOR_OF = {"isolated": "zmq_floor", "co-located": "in_process_floor"}
BASE = " (base tree)"  # suffix of a topology run from --base-tree
FLOOR_LABEL = {"zmq_floor": "zmq floor (3 hops, no work)", "in_process_floor": "in-process floor (host loop, no work)"}


def _row(name: str, hop: str, s: dict[str, float]) -> str:
    return (f"| {name} | {hop} | {s['count']} | {s['p50_us']:.1f} | {s['p90_us']:.1f} | {s['p99_us']:.1f} | "
            f"{s['p99.9_us']:.1f} | {s['max_us']:.1f} |")


def render(result: dict) -> str:
    m = result["machine"]
    lines = [f"Tick-to-trade latency, {m['date']}, {m['cores']} cores, {m['cpu']}, Python {m['python']}, "
             f"load average at start {m['load_avg']}",
             f"synthetic feed {result['rate_per_s']} packets/s, probe order every {result['every_n_ticks']} ticks, "
             f"{result['rounds']} rounds of {result['seconds']} s per topology and per floor, alternated", "",
             "| topology | hop | count | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs |",
             "|---|---|---|---|---|---|---|---|"]
    for topo in FLOOR_OF:
        for name in (topo, topo + BASE):
            for hop, s in result["topologies"].get(name, {}).items():
                lines.append(_row(name, hop, s))
        floor = FLOOR_OF[topo]
        for hop, s in result["floors"].get(floor, {}).items():
            lines.append(_row(FLOOR_LABEL[floor], hop, s))
    lines.append("")
    for topo, r in result["ratios"].items():
        lines.append(f"{topo} end-to-end / {FLOOR_LABEL[FLOOR_OF[topo.removesuffix(BASE)]]}: p50 {r['p50']:.2f}x, p99 {r['p99']:.2f}x "
                     f"(per round p50: {', '.join(f'{x:.2f}' for x in r['p50_by_round'])})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--topology", choices=["isolated", "co-located", "both"], default="both")
    parser.add_argument("--rate", type=int, default=1000, help="synthetic packets per second")
    parser.add_argument("--every", type=int, default=10, help="probe order every N ticks")
    parser.add_argument("--seconds", type=float, default=10.0, help="per round, per topology and per floor")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of each topology with its floor")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--durability", choices=["sync", "group", "os"], default="group")
    parser.add_argument("--warm-interval-ms", type=int, default=1,
                        help="engine.warm_interval_ms (0: no order-path rehearsal between orders)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--base-tree", type=Path, metavar="DIR",
                        help="also run each topology's daemon from this checkout, alternated in each round")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the result as JSON to FILE")
    args = parser.parse_args(argv)
    topologies = ["isolated", "co-located"] if args.topology == "both" else [args.topology]
    result: dict = {"machine": {**machine(), "load_avg": " ".join(f"{x:.2f}" for x in os.getloadavg())},
                    "rate_per_s": args.rate, "every_n_ticks": args.every,
                    "seconds": args.seconds, "rounds": args.rounds,
                    "base_tree": str(args.base_tree) if args.base_tree else None, "durability": args.durability,
                    "warm_interval_ms": args.warm_interval_ms, "topologies": {}, "floors": {}, "ratios": {}}
    # name -> one {hop: latencies ns} per round
    samples: dict[str, list[dict[str, np.ndarray]]] = {}
    for rnd in range(args.rounds):
        for topo in topologies:
            floor = FLOOR_OF[topo]
            print(f"round {rnd + 1}: {floor} ...", file=sys.stderr)
            if floor == "zmq_floor":  # one process per stage: only the end-to-end stamp
                got = {"end_to_end": measure_floor(args.rate, args.seconds, every=args.every)}
            else:
                got = _hops(measure_host_floor(args.rate, args.seconds, args.warmup, args.every))
            samples.setdefault(floor, []).append(got)
            print(f"round {rnd + 1}: {topo} ...", file=sys.stderr)
            samples.setdefault(topo, []).append(_hops(run_topology(
                topo, args.rate, args.every, args.seconds, args.warmup, args.durability, args.warm_interval_ms)))
            if args.base_tree is not None:
                print(f"round {rnd + 1}: {topo}{BASE} ...", file=sys.stderr)
                samples.setdefault(topo + BASE, []).append(_hops(run_topology(
                    topo, args.rate, args.every, args.seconds, args.warmup, args.durability, args.warm_interval_ms,
                    tree=args.base_tree)))

    def pooled(name: str) -> dict[str, dict[str, float]]:
        return {h: _hist(np.concatenate([r[h] for r in samples[name]])) for h in samples[name][0]}

    runs = [t + suffix for t in topologies for suffix in ("", BASE) if t + suffix in samples]
    for topo in runs:
        floor = FLOOR_OF[topo.removesuffix(BASE)]
        result["topologies"][topo] = pooled(topo)
        result["floors"][floor] = pooled(floor)
        ours, base = result["topologies"][topo]["end_to_end"], result["floors"][floor]["end_to_end"]
        result["ratios"][topo] = {
            "p50": ours["p50_us"] / base["p50_us"], "p99": ours["p99_us"] / base["p99_us"],
            "p50_by_round": [float(np.median(a["end_to_end"]) / np.median(b["end_to_end"]))
                             for a, b in zip(samples[topo], samples[floor])]}
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2) + "\n"
    (args.out / "latest.json").write_text(text)
    if args.json:
        args.json.write_text(text)
    table = render(result)
    (args.out / "latest.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
