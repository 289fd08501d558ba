"""Feed actor throughput: ``python -m bench feed [--rate 50000] [--seconds 10] [--json FILE]``.

Runs the real feed actor (synthetic source -> decoder -> publish) in an actor host at the
requested rate with one SUB reading everything it publishes, and reports the packets/s achieved,
the messages/s published, and the process's peak RSS at the start and the end of the run (memory
must stay bounded: it must not grow with the number of packets)."""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def _run_feed(rate: int, seconds: float, run_dir: str, data_dir: str, out: "mp.Queue[dict]") -> None:
    import msgspec

    from actors.feed.actor import FeedActor
    from actors.host import ActorHost
    from engine.config import Config

    cfg = Config()
    cfg = msgspec.structs.replace(
        cfg, engine=msgspec.structs.replace(cfg.engine, actors=["feed"]),
        feed=msgspec.structs.replace(cfg.feed, synthetic=msgspec.structs.replace(cfg.feed.synthetic, rate_per_s=rate)))
    host = ActorHost("feed", [("feed", FeedActor)], ["feed"], cfg, Path(data_dir), Path(run_dir))
    marks: dict[str, float] = {}

    def mark_start() -> None:
        actor = host.actors["feed"]
        marks.update(t0=time.perf_counter(), f0=actor.frames, m0=actor.messages,
                     rss0=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

    def finish() -> None:
        actor = host.actors["feed"]
        dt = time.perf_counter() - marks["t0"]
        out.put({"packets_per_s": (actor.frames - marks["f0"]) / dt,
                 "messages_per_s": (actor.messages - marks["m0"]) / dt,
                 "rss_start_mb": marks["rss0"] / 1024,
                 "rss_end_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        host.request_stop("bench done")

    host.add_timer(1.0, 0.0, mark_start)  # after start-up and the first block of packets
    host.add_timer(1.0 + seconds, 0.0, finish)
    host.run()


def measure(rate: int, seconds: float) -> dict:
    import zmq

    from ipc.transport import Endpoints

    run_dir = tempfile.mkdtemp(prefix="skfeed-")
    data_dir = tempfile.mkdtemp(prefix="skfeed-data-")
    out: mp.Queue[dict] = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_run_feed, args=(rate, seconds, run_dir, data_dir, out))
    proc.start()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.connect(Endpoints(Path(run_dir), names=("feed", "supervisor")).pub("feed"))
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    received = 0
    deadline = time.monotonic() + seconds + 60
    result = None
    while time.monotonic() < deadline and result is None:
        if sub.poll(100):
            while True:
                try:
                    sub.recv_multipart(zmq.NOBLOCK)
                    received += 1
                except zmq.Again:
                    break
        try:
            result = out.get_nowait()
        except Exception:
            result = None
    proc.join(10)
    sub.close(0)
    assert result is not None, "feed process gave no result"
    result["rate_requested"] = rate
    result["subscriber_received"] = received
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.feed_throughput")
    parser.add_argument("--rate", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    r = measure(args.rate, args.seconds)
    if args.json is not None:
        r["load_avg_1_5_15"] = list(os.getloadavg())
        args.json.write_text(json.dumps(r, indent=2) + "\n")
    print(f"feed actor at {r['rate_requested']}/s requested: {r['packets_per_s']:.0f} packets/s, "
          f"{r['messages_per_s']:.0f} messages/s published; RSS {r['rss_start_mb']:.0f} MB -> {r['rss_end_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
