"""The raw ZeroMQ floor: the engine's hot-path hops with the same socket patterns, message sizes and
wait style (blocking poll, never busy-polling), but no work at any stage.

Topology (one OS process per stage, like the isolated engine):
    source --PUB/SUB--> stage1 --DEALER/ROUTER--> stage2 --DEALER/ROUTER--> sink
which mirrors feed -> strategy -> risk -> execution. The source stamps time.time_ns() into the
payload; the sink records now - stamp. Run: ``python -m bench.floor --rate 2000 --seconds 5``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import struct
import sys
import time
from pathlib import Path

import numpy as np
import zmq

from ipc import codec
from ipc.messages import OrderIntent, OrderSpec, SubmitOrder, Tick

STAMP = struct.Struct("<q")


def _payload_sizes() -> tuple[int, int]:
    tick = Tick(2, 55796, 1523050, time.time_ns(), time.time_ns())
    spec = OrderSpec(segment=2, security_id=55796, side="BUY", order_type="MARKET", qty_units=65)
    intent = OrderIntent("probe-mabcdefgh-123456", "probe", spec, time.time_ns(), time.time_ns(), time.time_ns())
    return len(codec.encode(tick)), len(codec.encode(SubmitOrder(intent, time.time_ns())))


def _source(ep: str, rate: float, seconds: float, tick_size: int, ready: mp.Event) -> None:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 100_000)
    pub.bind(ep)
    ready.wait(10)
    time.sleep(0.5)  # subscribers joined
    pad = b"\0" * max(0, tick_size - STAMP.size)
    interval = 1.0 / rate
    deadline = time.perf_counter() + seconds
    nxt = time.perf_counter()
    while time.perf_counter() < deadline:
        now = time.perf_counter()
        if now < nxt:
            time.sleep(nxt - now)  # paced, like the synthetic feed's timer
        nxt += interval
        pub.send_multipart((b"tick.NSE_FNO.55796", STAMP.pack(time.time_ns()) + pad))
    time.sleep(0.3)
    pub.send_multipart((b"tick.NSE_FNO.55796", STAMP.pack(-1) + pad))
    time.sleep(0.3)
    pub.close(0)
    ctx.term()


def _relay(sub_ep: str | None, in_ep: str | None, out_ep: str, intent_size: int, every: int = 1) -> None:
    """Receive on SUB (first stage) or ROUTER (later stages); forward every ``every``-th message
    on DEALER (the probe strategy reacts to every Nth tick)."""
    ctx = zmq.Context()
    if sub_ep is not None:
        rx = ctx.socket(zmq.SUB)
        rx.connect(sub_ep)
        rx.setsockopt(zmq.SUBSCRIBE, b"tick.")
    else:
        rx = ctx.socket(zmq.ROUTER)
        rx.bind(in_ep)
    tx = ctx.socket(zmq.DEALER)
    tx.connect(out_ep)
    poller = zmq.Poller()
    poller.register(rx, zmq.POLLIN)
    pad = b"\0" * max(0, intent_size - STAMP.size)
    n = 0
    while True:
        poller.poll(1000)  # blocking wait, like the actor host
        try:
            frames = rx.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            continue
        stamp = frames[-1].bytes[:STAMP.size]
        n += 1
        last = STAMP.unpack(stamp)[0] == -1
        if last or n % every == 0:
            tx.send_multipart((b"intent", stamp + pad))
        if last:
            break
    time.sleep(0.2)
    rx.close(0)
    tx.close(0)
    ctx.term()


def _sink(in_ep: str, out: "mp.Queue[bytes]", ready: mp.Event) -> None:
    ctx = zmq.Context()
    rx = ctx.socket(zmq.ROUTER)
    rx.bind(in_ep)
    ready.set()
    lat: list[int] = []
    poller = zmq.Poller()
    poller.register(rx, zmq.POLLIN)
    while True:
        poller.poll(1000)
        try:
            frames = rx.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            continue
        stamp = STAMP.unpack(frames[-1].bytes[:STAMP.size])[0]
        if stamp == -1:
            break
        lat.append(time.time_ns() - stamp)
    out.put(np.asarray(lat, dtype=np.int64).tobytes())
    rx.close(0)
    ctx.term()


def measure_floor(rate: float = 2000, seconds: float = 5.0, run_dir: Path | None = None,
                  every: int = 1) -> np.ndarray:
    """End-to-end latencies (ns) of the 3-hop, 4-process pipeline with no work."""
    import tempfile

    base = run_dir or Path(tempfile.mkdtemp(prefix="skf-"))
    eps = {n: f"ipc://{base}/{n}" for n in ("pub", "s2", "sink")}
    tick_size, submit_size = _payload_sizes()
    spawn = mp.get_context("spawn")
    ready = spawn.Event()
    out: mp.Queue[bytes] = spawn.Queue()
    procs = [
        spawn.Process(target=_sink, args=(eps["sink"], out, ready)),
        spawn.Process(target=_relay, args=(None, eps["s2"], eps["sink"], submit_size)),
        spawn.Process(target=_relay, args=(eps["pub"], None, eps["s2"], submit_size, every)),
        spawn.Process(target=_source, args=(eps["pub"], rate, seconds, tick_size, ready)),
    ]
    for p in procs:
        p.start()
    try:
        data = out.get(timeout=seconds + 60)
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    return np.frombuffer(data, dtype=np.int64)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.floor")
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--every", type=int, default=1)
    args = parser.parse_args(argv)
    lat = measure_floor(args.rate, args.seconds, every=args.every)
    q = np.percentile(lat, [50, 90, 99, 99.9]) / 1000
    print(f"floor 3 hops: n={len(lat)} p50={q[0]:.1f}us p90={q[1]:.1f}us p99={q[2]:.1f}us "
          f"p99.9={q[3]:.1f}us max={lat.max() / 1000:.1f}us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
