"""Ledger commit cost per durability policy vs SQLite, per event and batched, same run.

Run: ``./dev bench suite -k ledger`` (or ``.venv/bin/python -m pytest bench/test_ledger_bench.py
--benchmark-enable -q -s``).

Every case writes the same pre-built stream of records (order submitted, two fills, order filled),
built before any clock starts, after a warm-up of ``WARMUP`` records.

One commit per event (a commit per record, as the order path needs):

* ``ledger <policy>``: ``Ledger.append([event])`` -- encode, fold, the event and its derived rows
  (order / fill + position + wallet) in one LMDB transaction, commit. ``group`` runs the
  background fsync thread, as the execution actor does.
* ``lmdb raw os``: only the encoded event put into ``events`` (sync off): the storage floor.
* ``sqlite <FULL|NORMAL>``: stdlib sqlite3, WAL, ``INSERT`` of the same msgpack bytes in
  autocommit mode (one transaction per row).

Batched (``BATCH`` events per transaction, on both sides): ``ledger <policy> batched``
(``Ledger.append(batch)``), ``lmdb raw batched``, ``sqlite <FULL|NORMAL> batched`` (``BEGIN``,
``executemany``, ``COMMIT``). Latencies are per batch; events/s counts events.

The figures are printed as a table with the ratios and attached to the pytest-benchmark JSON
(``extra_info``). Nothing here asserts a speed.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import statistics
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import lmdb
import msgspec

from engine.ledger import Ledger, LedgerConfig
from ipc.messages import Fill, OrderEvent, OrderSpec, OrderState

COMMITS = 4000
SYNC_COMMITS = 300
WARMUP = 400
BATCH = 64
BATCHES = 200
SYNC_BATCHES = 40


def ledger_events() -> Iterator[object]:
    """An endless, realistic stream: order submitted, partial fill, fill, order filled."""
    for n in itertools.count(1):
        coid = f"SKBNCH-{n}"
        spec = OrderSpec(segment=2, security_id=55796 + n % 8, side="BUY" if n % 3 else "SELL", order_type="LIMIT",
                         qty_units=75, price_paise=2_450_000 + n % 100)
        order = OrderEvent(
            client_order_id=coid, intent_id=f"ema-{n}", strategy="ema", spec=spec, state=OrderState.SUBMITTED,
            filled_qty_units=0, filled_value_paise=0, venue_order_id="", reason_code="", reason="",
            ts_event_ns=time.time_ns(), ts_init_ns=time.time_ns())
        yield order
        for part, qty in enumerate((25, 50)):
            yield Fill(fill_id=f"{coid}-{part}", client_order_id=coid, venue_order_id=f"V{n}", strategy="ema",
                       segment=2, security_id=spec.security_id, side=spec.side, qty_units=qty,
                       price_paise=spec.price_paise, charges_paise=1_234, ts_event_ns=time.time_ns(),
                       ts_init_ns=time.time_ns())
        yield msgspec.structs.replace(order, state=OrderState.FILLED, filled_qty_units=75,
                                      filled_value_paise=75 * spec.price_paise)


STREAM: list[object] = list(itertools.islice(ledger_events(), WARMUP + max(COMMITS, BATCH * BATCHES) + BATCH))


def timed(commit: Callable[[], None], commits: int, events_per_commit: int = 1) -> dict[str, float]:
    """Run ``commit`` ``commits`` times after the warm-up (which consumed ``WARMUP`` events)."""
    latencies = []
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(commits):
        t0 = clock()
        commit()
        latencies.append(clock() - t0)
    elapsed_ns = clock() - start
    latencies.sort()
    return {
        "commits": commits,
        "events_per_commit": events_per_commit,
        "events_per_s": commits * events_per_commit / (elapsed_ns / 1e9),
        "p50_us": statistics.median(latencies) / 1000,
        "p99_us": latencies[max(int(len(latencies) * 0.99) - 1, 0)] / 1000,
    }


def _stream() -> Iterator[object]:
    return iter(STREAM)


def _open_ledger(path: Path, durability: str) -> Ledger:
    ledger = Ledger.open(path, LedgerConfig(durability=durability))
    ledger.start_background_sync()  # group: fsync off the writing thread, as in the actor
    return ledger


def bench_ledger(path: Path, durability: str, commits: int) -> dict[str, float]:
    events = _stream()
    with _open_ledger(path, durability) as ledger:
        for _ in range(WARMUP):
            ledger.append([next(events)])
        result = timed(lambda: ledger.append([next(events)]), commits)
        assert ledger.verify() == []  # correctness of what was timed, not a speed assertion
        return result


def bench_ledger_batched(path: Path, durability: str, batches: int) -> dict[str, float]:
    events = _stream()
    with _open_ledger(path, durability) as ledger:
        ledger.append([next(events) for _ in range(WARMUP)])
        result = timed(lambda: ledger.append([next(events) for _ in range(BATCH)]), batches, BATCH)
        assert ledger.verify() == []
        return result


def bench_lmdb_raw(path: Path, commits: int, per_commit: int = 1) -> dict[str, float]:
    events = _stream()
    encode = msgspec.msgpack.Encoder().encode
    key = struct.Struct(">Q").pack
    env = lmdb.open(str(path), map_size=256 << 20, max_dbs=2, sync=False, metasync=False, writemap=True)
    db = env.open_db(b"events")
    seq = itertools.count(1)

    def commit() -> None:
        with env.begin(write=True) as txn:
            for _ in range(per_commit):
                txn.put(key(next(seq)), encode(next(events)), append=True, db=db)

    try:
        for _ in range(WARMUP):
            with env.begin(write=True) as txn:
                txn.put(key(next(seq)), encode(next(events)), append=True, db=db)
        return timed(commit, commits, per_commit)
    finally:
        env.close()


def bench_sqlite(path: Path, synchronous: str, commits: int, per_commit: int = 1) -> dict[str, float]:
    events = _stream()
    encode = msgspec.msgpack.Encoder().encode
    conn = sqlite3.connect(path, isolation_level=None)  # autocommit: each INSERT is a transaction
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    seq = itertools.count(1)
    insert = "INSERT INTO events (seq, body) VALUES (?, ?)"

    def commit_one() -> None:
        conn.execute(insert, (next(seq), encode(next(events))))

    def commit_batch() -> None:
        conn.execute("BEGIN")
        conn.executemany(insert, [(next(seq), encode(next(events))) for _ in range(per_commit)])
        conn.execute("COMMIT")

    try:
        for _ in range(WARMUP):
            commit_one()
        return timed(commit_one if per_commit == 1 else commit_batch, commits, per_commit)
    finally:
        conn.close()


def _ratio(results: dict[str, dict[str, float]], ours: str, theirs: str) -> float:
    return results[ours]["events_per_s"] / results[theirs]["events_per_s"]


def test_ledger_commit_cost_per_policy_vs_sqlite(tmp_path: Path, benchmark) -> None:  # type: ignore[no-untyped-def]
    results = {
        "ledger sync": bench_ledger(tmp_path / "sync", "sync", SYNC_COMMITS),
        "ledger group": bench_ledger(tmp_path / "group", "group", COMMITS),
        "ledger os": bench_ledger(tmp_path / "os", "os", COMMITS),
        "lmdb raw os": bench_lmdb_raw(tmp_path / "raw", COMMITS),
        "sqlite FULL": bench_sqlite(tmp_path / "full.db", "FULL", SYNC_COMMITS),
        "sqlite NORMAL": bench_sqlite(tmp_path / "normal.db", "NORMAL", COMMITS),
        "ledger sync batched": bench_ledger_batched(tmp_path / "sync-b", "sync", SYNC_BATCHES),
        "ledger group batched": bench_ledger_batched(tmp_path / "group-b", "group", BATCHES),
        "lmdb raw batched": bench_lmdb_raw(tmp_path / "raw-b", BATCHES, BATCH),
        "sqlite FULL batched": bench_sqlite(tmp_path / "full-b.db", "FULL", SYNC_BATCHES, BATCH),
        "sqlite NORMAL batched": bench_sqlite(tmp_path / "normal-b.db", "NORMAL", BATCHES, BATCH),
    }
    ratios = {
        "ledger group / sqlite NORMAL (per event)": _ratio(results, "ledger group", "sqlite NORMAL"),
        "lmdb raw os / sqlite NORMAL (per event)": _ratio(results, "lmdb raw os", "sqlite NORMAL"),
        "ledger sync / sqlite FULL (per event)": _ratio(results, "ledger sync", "sqlite FULL"),
        f"ledger group / sqlite NORMAL (batches of {BATCH})": _ratio(results, "ledger group batched",
                                                                     "sqlite NORMAL batched"),
        f"lmdb raw / sqlite NORMAL (batches of {BATCH})": _ratio(results, "lmdb raw batched", "sqlite NORMAL batched"),
        f"ledger sync / sqlite FULL (batches of {BATCH})": _ratio(results, "ledger sync batched",
                                                                  "sqlite FULL batched"),
    }
    print()
    print(f"{'case':<26}{'commits':>8}{'ev/commit':>10}{'events/s':>12}{'p50 us':>9}{'p99 us':>9}")
    for name, r in results.items():
        print(f"{name:<26}{r['commits']:>8}{r['events_per_commit']:>10}{r['events_per_s']:>12,.0f}"
              f"{r['p50_us']:>9.1f}{r['p99_us']:>9.1f}")
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.2f}x")
    print("goal: ledger group >= 5x sqlite NORMAL")
    benchmark.extra_info.update({name: r for name, r in results.items()})
    benchmark.extra_info["ratios"] = ratios
    benchmark.extra_info["ratio_group_vs_sqlite_normal"] = ratios["ledger group / sqlite NORMAL (per event)"]

    # pytest-benchmark's own statistics for the default policy's single-event append.
    events = _stream()
    with _open_ledger(tmp_path / "pb", "group") as ledger:
        benchmark.pedantic(lambda: ledger.append([next(events)]), rounds=COMMITS, iterations=1,
                           warmup_rounds=WARMUP)


def test_order_path_rehearsal_cost(tmp_path: Path, benchmark) -> None:  # type: ignore[no-untyped-def]
    """What ``Ledger.rehearse_new_order`` costs (execution's ``warm_hot_path`` runs it at most
    every ``engine.warm_interval_ms``, 1 ms by default): a whole order write, aborted."""
    orders = (e for e in _stream() if isinstance(e, OrderEvent) and e.state is OrderState.SUBMITTED)
    with _open_ledger(tmp_path / "rehearse", "group") as ledger:
        # A new order takes the ledger's next client order id (record_new_order refuses another).
        for _ in range(WARMUP):
            ledger.record_new_order(msgspec.structs.replace(next(orders), client_order_id=ledger.next_client_order_id()))
        last = next(orders)
        seq = ledger.last_seq()
        benchmark.pedantic(ledger.rehearse_new_order, args=(last,), rounds=COMMITS, iterations=1,
                           warmup_rounds=WARMUP)
        assert ledger.last_seq() == seq  # nothing was stored
        stats = getattr(benchmark, "stats", None)
        if stats:
            print(f"\nrehearse_new_order: median {stats.stats.median * 1e6:.1f} us "
                  f"(at most 1000/s: {stats.stats.median * 1e3 * 100:.1f}% of a core)")


def test_event_checksum_cost(benchmark) -> None:  # type: ignore[no-untyped-def]
    """What the CRC-32 of schema 4 costs per event: framing on write (``frame_event``, on the
    order path) and the check on read (``event_body``), over the stream's encoded events."""
    from engine.ledger.schema import event_body, frame_event

    bodies = [msgspec.msgpack.encode(event) for event in STREAM[:COMMITS]]
    framed = [frame_event(body) for body in bodies]
    clock = time.perf_counter_ns
    rounds = 20

    def per_event_ns(fn: Callable[[], None]) -> float:
        best = min(_timed_ns(fn, clock) for _ in range(rounds))
        return best / len(bodies)

    def write() -> None:
        for body in bodies:
            frame_event(body)

    def read() -> None:
        for seq, raw in enumerate(framed, 1):
            event_body(seq, raw)

    write_ns, read_ns = per_event_ns(write), per_event_ns(read)
    mean_bytes = sum(map(len, bodies)) / len(bodies)
    print(f"\nevent CRC-32 ({mean_bytes:.0f}-byte events): frame on write {write_ns:.0f} ns/event, "
          f"check on read {read_ns:.0f} ns/event")
    benchmark.extra_info.update({"frame_ns_per_event": write_ns, "check_ns_per_event": read_ns})
    benchmark.pedantic(write, rounds=rounds, iterations=1)


def _timed_ns(fn: Callable[[], None], clock: Callable[[], int]) -> int:
    start = clock()
    fn()
    return clock() - start


VERIFY_EVENTS = int(os.environ.get("SHIKRA_BENCH_VERIFY_EVENTS", "1000000"))


def test_time_to_check_a_ledger_of_a_million_events(tmp_path: Path, benchmark) -> None:  # type: ignore[no-untyped-def]
    """The start budget of ``shikra run``'s ledger check (engine.ledger.check) on a ledger of
    ``VERIFY_EVENTS`` events: the quick check (pages, CRCs, rows decode: always at start) and the
    full one (replay through the fold and compare: ``verify_on_open``)."""
    from engine.ledger.check import check_ledger

    path = tmp_path / "million"
    events = ledger_events()
    with Ledger.open(path, LedgerConfig(durability="os")) as ledger:
        for _ in range(VERIFY_EVENTS // 1000):
            ledger.append([next(events) for _ in range(1000)])
    quick = check_ledger(path, full=False)
    full = check_ledger(path, full=True)
    assert not quick.damaged and not full.damaged
    print(f"\ncheck of {quick.events:,} events: quick {quick.elapsed_ms / 1000:.2f} s, full {full.elapsed_ms / 1000:.2f} s "
          f"({(path / 'data.mdb').stat().st_size / 2**20:.0f} MiB map)")
    benchmark.extra_info.update({"events": quick.events, "quick_ms": quick.elapsed_ms, "full_ms": full.elapsed_ms})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
