"""``python -m bench backtest --split``: where a backtest order's CPU goes, and the floor under it.

The split. The backtest runs twice in this process: once plain (its CPU time, process_time around
``run_backtest``) and once under cProfile. Each function's own time (cProfile ``tottime``) goes to
the part of the engine its file belongs to (``PARTS``); time in code outside this repository (C
builtins, msgspec, lmdb, numpy, the standard library) goes to its callers, in proportion to what
each caller spent in it, up to the first function of ours. Each part's share of the profiled total,
times the plain run's CPU time, over the orders, is its CPU per order. cProfile slows small Python
calls more than large C ones, so the shares are the profiler's: good for ranking, not to 5 %.

The floor. The same in-process bus (``actors.host.ActorHost`` on a SimClock, the backtest's) carries
the same number of orders through three actors that do no work of their own, in the order path's
shape: strategy --OrderIntent--> risk --SubmitOrder--> execution, which makes only the ledger
writes an order must make (its client order id, the SUBMITTED order written ahead, then the fill and
the FILLED order in one append, the ledger folding them into the position and cash) and publishes
the SUBMITTED order, the fill, the FILLED order and the position to the two others; the ledger
commits once per block of orders, as the backtest's does. What is left is the irreducible part of
an order in Python: an engine that keeps this bus and this ledger cannot go below it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Final

import msgspec

from actors.base import Actor
from actors.host import ActorHost
from engine.config import Config
from engine.ledger import Ledger
from engine.ledger.records import CashMovement
from engine.ledger.schema import ledger_dir
from engine.model.clock import SimClock
from ipc import topics
from ipc.messages import Fill, OrderEvent, OrderIntent, OrderSpec, OrderState, SubmitOrder

REPO: Final = str(Path(__file__).resolve().parent.parent) + os.sep
# (part, path prefixes inside the repository); the first that matches wins.
PARTS: Final = (
    ("paper matcher", ("actors/execution/paper_matching.py", "actors/execution/paper_venue.py",
                       "actors/execution/paper_wallet.py")),
    ("charges", ("actors/execution/charges.py",)),
    ("execution state machine", ("actors/execution/",)),
    ("strategy", ("actors/strategy/",)),
    ("risk", ("actors/risk/",)),
    ("ledger", ("engine/ledger/",)),
    ("bus/host delivery", ("actors/host.py", "actors/base.py", "ipc/", "engine/model/clock.py")),
    ("market data (feed, book, replay)", ("actors/feed/", "actors/book/", "actors/replay/")),
    ("backtest runner and probe", ("engine/backtest/",)),
)
OTHER: Final = "other (start-up, journal, logs)"
ORDER_PATH: Final = ("strategy", "risk", "execution state machine", "paper matcher", "charges", "ledger",
                     "bus/host delivery")
NUMBA_CANDIDATES: Final = ("execution state machine", "paper matcher")
FLOOR_ORDERS_PER_COMMIT: Final = 256  # the backtest commits per block of frames: a few hundred orders


def _part_of_file(filename: str) -> str | None:
    """The part of a file of this repository, None for code outside it (its callers pay)."""
    if not filename.startswith(REPO):
        return None
    rel = filename[len(REPO):]
    if rel.startswith(".venv"):
        return None
    for part, prefixes in PARTS:
        if rel.startswith(prefixes):
            return part
    return OTHER


def attribute(stats: dict[Any, Any]) -> dict[str, float]:
    """Own time (s) per part from ``pstats.Stats(...).stats``, foreign code charged to its callers."""
    shares: dict[Any, dict[str, float]] = {}

    def share(func: Any, seen: frozenset[Any]) -> dict[str, float]:
        # The fractions of ``func``'s time that belong to each part.
        if func in shares:
            return shares[func]
        part = _part_of_file(func[0])
        if part is not None:
            out = {part: 1.0}
        else:
            callers = stats[func][4] if func in stats else {}
            weights = {c: edge[2] + edge[3] for c, edge in callers.items() if c not in seen}
            total = sum(weights.values())
            if not total:
                out = {OTHER: 1.0}
            else:
                acc: dict[str, float] = defaultdict(float)
                for caller, w in weights.items():
                    for p, f in share(caller, seen | {func}).items():
                        acc[p] += f * w / total
                out = dict(acc)
        if not seen:
            shares[func] = out
        return out

    own: dict[str, float] = defaultdict(float)
    for func, (_cc, _nc, tt, _ct, _callers) in stats.items():
        for part, f in share(func, frozenset()).items():
            own[part] += tt * f
    return dict(own)


# ------------------------------------------------------------------------------------------------
# The floor
# ------------------------------------------------------------------------------------------------

class _FloorShared:
    orders = 0
    target = 0


class _FloorStrategy(Actor):
    """Sends an intent; the next once the last one's FILLED order came back."""

    subscriptions = (topics.ORDER, topics.FILL, topics.POSITION)
    shared: _FloorShared
    spec = OrderSpec(segment=1, security_id=2885, side="BUY", order_type="MARKET", qty_units=1)

    def on_start(self) -> None:
        self.ctx.call_later(0.0, self._send)

    def _send(self) -> None:
        now = self.ctx.now_ns()
        n = self.shared.orders
        spec = self.spec if n % 2 == 0 else msgspec.structs.replace(self.spec, side="SELL")
        intent = OrderIntent(f"floor-{n}", "floor", spec, now, now, now)
        self.ctx.send("risk", intent, topics.strategy_topic(topics.INTENT, "floor"))

    def on_order_event(self, msg: OrderEvent) -> None:
        if msg.state is OrderState.FILLED:
            self.shared.orders += 1
            if self.shared.orders < self.shared.target:
                self._send()
            else:
                self.ctx.request_stop("floor: orders sent")

    def on_fill(self, msg: Fill) -> None:
        pass

    def on_position(self, msg: Any) -> None:
        pass


class _FloorRisk(Actor):
    """Approves every intent as it is."""

    subscriptions = (topics.ORDER, topics.FILL, topics.POSITION)

    def on_order_intent(self, msg: OrderIntent) -> None:
        self.ctx.send("execution", SubmitOrder(msg, self.ctx.now_ns()))

    def on_order_event(self, msg: OrderEvent) -> None:
        pass

    def on_fill(self, msg: Fill) -> None:
        pass

    def on_position(self, msg: Any) -> None:
        pass


class _FloorExecution(Actor):
    """The ledger writes of an order and the messages it publishes; no venue, no state machine."""

    def on_start(self) -> None:
        now = self.ctx.now_ns()
        self.ledger = Ledger.open(ledger_dir(self.ctx.data_dir), msgspec.structs.replace(
            self.ctx.config.ledger, durability="os"), id_seed=now)
        self.ledger.append([CashMovement(kind="DEPOSIT", amount_paise=10**12, account="main", note="floor", ts_ns=now)])
        self.ledger.hold_commits()
        self.done = 0

    def on_stop(self) -> None:
        self.ledger.commit_block()
        self.ledger.close()

    def on_submit_order(self, msg: SubmitOrder) -> None:
        intent = msg.intent
        now = self.ctx.now_ns()
        coid = self.ledger.next_client_order_id()
        first = OrderEvent(client_order_id=coid, intent_id=intent.intent_id, strategy=intent.strategy,
                           spec=intent.spec, state=OrderState.SUBMITTED, filled_qty_units=0, filled_value_paise=0,
                           venue_order_id="", reason_code="", reason="", ts_event_ns=now, ts_init_ns=now)
        self.ledger.record_new_order(first)
        topic = topics.strategy_topic(topics.ORDER, intent.strategy)
        self.ctx.publish(topic, first)
        spec = intent.spec
        fill = Fill(f"F{coid}", coid, f"V{coid}", intent.strategy, spec.segment, spec.security_id, spec.side,
                    spec.qty_units, 130_000, 20, now, now)
        filled = msgspec.structs.replace(first, state=OrderState.FILLED, filled_qty_units=spec.qty_units,
                                         filled_value_paise=130_000 * spec.qty_units, venue_order_id=fill.venue_order_id)
        self.ledger.append([fill, filled])
        self.ctx.publish(topics.strategy_topic(topics.FILL, intent.strategy), fill)
        self.ctx.publish(topic, filled)
        pos = self.ledger.position(intent.strategy, spec.segment, spec.security_id)
        if pos is not None:
            self.ctx.publish(topics.strategy_topic(topics.POSITION, intent.strategy), pos)
        self.done += 1
        if self.done % FLOOR_ORDERS_PER_COMMIT == 0:
            self.ledger.commit_block()


def run_floor(orders: int, base: Config) -> dict[str, Any]:
    """The floor (module docstring) for ``orders`` orders: CPU seconds and µs per order."""
    names = ["strategy", "risk", "execution"]
    rep = msgspec.structs.replace
    cfg = rep(base, engine=rep(base.engine, actors=names, topology="co-located", colocated=names, warm_interval_ms=0))
    shared = _FloorShared()
    shared.target = orders
    strategy = type("_BoundFloorStrategy", (_FloorStrategy,), {"shared": shared})
    data = Path(tempfile.mkdtemp(prefix="shikra-floor-data-"))
    run_dir = Path(tempfile.mkdtemp(prefix="shikra-fl-"))
    try:
        host = ActorHost("floor", [("strategy", strategy), ("risk", _FloorRisk), ("execution", _FloorExecution)],
                         names, cfg, data, run_dir, clock=SimClock(1_795_148_100_000_000_000))
        cpu0 = time.process_time()
        code = host.run()
        cpu_s = time.process_time() - cpu0
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    if code != 0 or shared.orders != orders:
        raise RuntimeError(f"floor: exit code {code}, {shared.orders} of {orders} orders")
    return {"orders": orders, "cpu_s": round(cpu_s, 3), "cpu_us_per_order": round(cpu_s / orders * 1e6, 1)}


# ------------------------------------------------------------------------------------------------
# The bench
# ------------------------------------------------------------------------------------------------

def measure_split(run: Any, orders_of: Any, base: Config) -> dict[str, Any]:
    """``run()`` (the backtest, returning its result) plain, then under cProfile, then the floor with
    as many orders; ``orders_of(result)`` counts its orders. The figures, per order."""
    import cProfile
    import pstats

    cpu0 = time.process_time()
    plain = run()
    cpu_s = time.process_time() - cpu0
    orders = orders_of(plain)
    del plain
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    own = attribute(pstats.Stats(profiler).stats)  # type: ignore[attr-defined]
    del profiler
    floor = run_floor(orders, base)
    total = sum(own.values())
    us = {part: s / total * cpu_s / orders * 1e6 for part, s in own.items()}
    order_path_us = sum(us.get(p, 0.0) for p in ORDER_PATH)
    numba_us = sum(us.get(p, 0.0) for p in NUMBA_CANDIDATES)
    all_us = cpu_s / orders * 1e6
    return {
        "method": "cProfile own time per file's part, foreign code charged to its callers; shares times the "
                  "unprofiled run's CPU (start-up and journal included) over its orders",
        "orders": orders, "cpu_s": round(cpu_s, 3), "cpu_us_per_order": round(all_us, 1),
        "us_per_order": {p: round(v, 1) for p, v in sorted(us.items(), key=lambda kv: -kv[1])},
        "order_path_us_per_order": round(order_path_us, 1),
        "floor": floor,
        # Amdahl: the matcher and the state machine at zero cost, everything else as it is.
        "numba_candidates_us_per_order": round(numba_us, 1),
        "numba_bound_speedup": round(all_us / (all_us - numba_us), 3) if all_us > numba_us else None,
        "floor_bound_speedup": round(all_us / floor["cpu_us_per_order"], 2),
    }


def print_split(split: dict[str, Any]) -> None:
    print(f"split of {split['orders']:,} orders' CPU ({split['cpu_us_per_order']:.1f} µs per order all included; "
          f"cProfile shares, see bench/backtest_split.py):")
    for part, v in split["us_per_order"].items():
        mark = " *" if part in ORDER_PATH else ""
        print(f"  {part:34} {v:7.1f} µs  {v / split['cpu_us_per_order'] * 100:5.1f} %{mark}")
    fl = split["floor"]
    print(f"  (* the order path: {split['order_path_us_per_order']:.1f} µs)")
    print(f"floor: bus + no-work actors + the order's ledger writes: {fl['cpu_us_per_order']:.1f} µs per order "
          f"({fl['orders']:,} orders, {fl['cpu_s']:.2f} s CPU): at most {split['floor_bound_speedup']:.2f}x "
          f"for everything else at zero cost")
    bound = split["numba_bound_speedup"]
    print(f"Amdahl: matcher + state machine {split['numba_candidates_us_per_order']:.1f} µs per order; "
          f"numba making them free gives at most {bound}x")
