"""The in-process floor: the co-located engine's host loop carrying one message through the same
actor chain (feed -> strategy -> risk -> execution) with no work in any actor.

One :class:`actors.host.ActorHost` in a fresh process, like the co-located daemon's hot-path unit,
hosting four null actors under the real names: the feed's timer publishes a Tick stamped with the
clock (as the synthetic source stamps its packets), the strategy sends an OrderIntent to risk on
every Nth tick, risk sends a SubmitOrder to execution, execution notes the time. The stamps are
the ones the daemon's orders carry (ts_init, ts_created, ts_approved, sent), so the hops compare
one to one with ``bench.latency``'s co-located rows. Run: ``python -m bench.host_floor``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
from pathlib import Path

import numpy as np

SEGMENT = 1        # NSE_EQ, as the probe's RELIANCE
SECURITY_ID = 2885
PRICE_PAISE = 1_523_050


def _run_host(rate: int, seconds: float, warmup_s: float, every: int, run_dir: str, data_dir: str,
              out: "mp.Queue[bytes]") -> None:
    # Imported in the child only: the parent process of the bench never loads the engine.
    import msgspec

    from actors.base import Actor
    from actors.host import ActorHost
    from engine.config import Config
    from ipc import topics
    from ipc.messages import OrderIntent, OrderSpec, SubmitOrder, Tick

    rows: list[tuple[int, int, int, int]] = []
    topic = topics.instrument_topic(topics.TICK, SEGMENT, SECURITY_ID)
    spec = OrderSpec(segment=SEGMENT, security_id=SECURITY_ID, side="BUY", order_type="MARKET", qty_units=1)

    class NullFeed(Actor):
        def on_start(self) -> None:
            self.ctx.every(1.0 / rate, self._tick)

        def _tick(self) -> None:
            now = self.ctx.now_ns()
            self.ctx.publish(topic, Tick(SEGMENT, SECURITY_ID, PRICE_PAISE, now, now))

    class NullStrategy(Actor):
        subscriptions = (topics.TICK,)
        seq = 0

        def on_tick(self, tick: Tick) -> None:
            self.seq += 1
            if self.seq % every == 0:
                self.ctx.send("risk", OrderIntent(f"probe-{self.seq}", "probe", spec, tick.ts_event_ns,
                                                  tick.ts_init_ns, self.ctx.now_ns()))

    class NullRisk(Actor):
        def on_order_intent(self, intent: OrderIntent) -> None:
            self.ctx.send("execution", SubmitOrder(intent, self.ctx.now_ns()))

    class NullExecution(Actor):
        recording = False

        def on_submit_order(self, msg: SubmitOrder) -> None:
            if self.recording:
                i = msg.intent
                rows.append((i.ts_init_ns, i.ts_created_ns, msg.ts_approved_ns, self.ctx.now_ns()))

    names = ["feed", "strategy", "risk", "execution"]
    cfg = Config()
    cfg = msgspec.structs.replace(cfg, engine=msgspec.structs.replace(
        cfg.engine, actors=names, topology="co-located", colocated=names))
    local = [("feed", NullFeed), ("strategy", NullStrategy), ("risk", NullRisk), ("execution", NullExecution)]
    host = ActorHost("hotpath", local, names, cfg, Path(data_dir), Path(run_dir))

    def start_recording() -> None:
        host.actors["execution"].recording = True  # type: ignore[attr-defined]

    host.add_timer(warmup_s, 0.0, start_recording)
    host.add_timer(warmup_s + seconds, 0.0, lambda: host.request_stop("bench done"))
    host.run()
    out.put(np.asarray(rows, dtype=np.int64).reshape(-1, 4).tobytes())


def measure_host_floor(rate: int = 1000, seconds: float = 5.0, warmup_s: float = 1.0, every: int = 1) -> np.ndarray:
    """Rows of (ts_init, ts_created, ts_approved, sent) in ns, one per order, as ``bench.latency``
    reads them from the daemon's order events."""
    run_dir = tempfile.mkdtemp(prefix="skhf-")
    data_dir = tempfile.mkdtemp(prefix="skhf-data-")
    spawn = mp.get_context("spawn")
    out: mp.Queue[bytes] = spawn.Queue()
    proc = spawn.Process(target=_run_host, args=(rate, seconds, warmup_s, every, run_dir, data_dir, out))
    proc.start()
    try:
        data = out.get(timeout=warmup_s + seconds + 60)
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    return np.frombuffer(data, dtype=np.int64).reshape(-1, 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.host_floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--every", type=int, default=1)
    args = parser.parse_args(argv)
    rows = measure_host_floor(args.rate, args.seconds, every=args.every)
    lat = rows[:, 3] - rows[:, 0]
    q = np.percentile(lat, [50, 90, 99, 99.9]) / 1000
    print(f"in-process floor: n={len(lat)} p50={q[0]:.1f}us p90={q[1]:.1f}us p99={q[2]:.1f}us "
          f"p99.9={q[3]:.1f}us max={lat.max() / 1000:.1f}us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
