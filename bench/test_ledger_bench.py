"""Ledger commit cost per durability policy vs SQLite, one commit per record, same run.

Run: ``.venv/bin/python -m pytest bench/test_ledger_bench.py --benchmark-enable -q -s``

Cases (each commits one record per transaction, after a short warm-up):
* ``ledger <policy>``: ``Ledger.append([event])`` -- the full path: encode, fold, the event plus
  its derived rows (order / fill + position + wallet) in one LMDB transaction, commit.
* ``lmdb raw os``: only the encoded event put into ``events`` (sync off): the storage floor.
* ``sqlite <FULL|NORMAL>``: stdlib sqlite3, WAL, ``INSERT`` of the same msgpack bytes in
  autocommit mode (one transaction per row).
The figures are printed as a table with the ratio ``ledger group`` / ``sqlite NORMAL`` events/s
and attached to the pytest-benchmark JSON (``extra_info``). Nothing here asserts a speed.
"""

from __future__ import annotations

import itertools
import sqlite3
import statistics
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import lmdb
import msgspec

from engine.ledger import Ledger, LedgerConfig
from ipc.messages import Fill, OrderEvent, OrderState

COMMITS = 3000
SYNC_COMMITS = 300
WARMUP = 200


def ledger_events() -> Iterator[object]:
    """An endless, realistic stream: order submitted, partial fill, fill, order filled."""
    for n in itertools.count(1):
        coid = f"SKBNCH-{n}"
        order = OrderEvent(
            client_order_id=coid, intent_id=f"ema-{n}", strategy="ema", segment=2, security_id=55796 + n % 8,
            side="BUY" if n % 3 else "SELL", order_type="LIMIT", validity="DAY", product="INTRADAY",
            qty_units=75, price_paise=2_450_000 + n % 100, trigger_price_paise=0, state=OrderState.SUBMITTED,
            filled_qty_units=0, filled_value_paise=0, venue_order_id="", reason_code="", reason="",
            ts_event_ns=time.time_ns(), ts_init_ns=time.time_ns())
        yield order
        for part, qty in enumerate((25, 50)):
            yield Fill(fill_id=f"{coid}-{part}", client_order_id=coid, venue_order_id=f"V{n}", strategy="ema",
                       segment=2, security_id=order.security_id, side=order.side, qty_units=qty,
                       price_paise=order.price_paise, charges_paise=1_234, ts_event_ns=time.time_ns(),
                       ts_init_ns=time.time_ns())
        yield msgspec.structs.replace(order, state=OrderState.FILLED, filled_qty_units=75,
                                      filled_value_paise=75 * order.price_paise)


def timed(commit: Callable[[], None], commits: int) -> dict[str, float]:
    for _ in range(WARMUP):
        commit()
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
        "events_per_s": commits / (elapsed_ns / 1e9),
        "p50_us": statistics.median(latencies) / 1000,
        "p99_us": latencies[int(len(latencies) * 0.99) - 1] / 1000,
    }


def bench_ledger(path: Path, durability: str, commits: int) -> dict[str, float]:
    events = ledger_events()
    with Ledger.open(path, LedgerConfig(durability=durability)) as ledger:
        result = timed(lambda: ledger.append([next(events)]), commits)
        assert ledger.verify() == []  # correctness of what was timed, not a speed assertion
        return result


def bench_lmdb_raw(path: Path, commits: int) -> dict[str, float]:
    events = ledger_events()
    encode = msgspec.msgpack.Encoder().encode
    key = struct.Struct(">Q").pack
    env = lmdb.open(str(path), map_size=256 << 20, max_dbs=2, sync=False, metasync=False, writemap=True)
    db = env.open_db(b"events")
    seq = itertools.count(1)

    def commit() -> None:
        with env.begin(write=True) as txn:
            txn.put(key(next(seq)), encode(next(events)), append=True, db=db)

    try:
        return timed(commit, commits)
    finally:
        env.close()


def bench_sqlite(path: Path, synchronous: str, commits: int) -> dict[str, float]:
    events = ledger_events()
    encode = msgspec.msgpack.Encoder().encode
    conn = sqlite3.connect(path, isolation_level=None)  # autocommit: each INSERT is a transaction
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    seq = itertools.count(1)

    def commit() -> None:
        conn.execute("INSERT INTO events (seq, body) VALUES (?, ?)", (next(seq), encode(next(events))))

    try:
        return timed(commit, commits)
    finally:
        conn.close()


def test_ledger_commit_cost_per_policy_vs_sqlite(tmp_path: Path, benchmark) -> None:  # type: ignore[no-untyped-def]
    results = {
        "ledger sync": bench_ledger(tmp_path / "sync", "sync", SYNC_COMMITS),
        "ledger group": bench_ledger(tmp_path / "group", "group", COMMITS),
        "ledger os": bench_ledger(tmp_path / "os", "os", COMMITS),
        "lmdb raw os": bench_lmdb_raw(tmp_path / "raw", COMMITS),
        "sqlite FULL": bench_sqlite(tmp_path / "full.db", "FULL", SYNC_COMMITS),
        "sqlite NORMAL": bench_sqlite(tmp_path / "normal.db", "NORMAL", COMMITS),
    }
    ratio = results["ledger group"]["events_per_s"] / results["sqlite NORMAL"]["events_per_s"]
    raw_ratio = results["lmdb raw os"]["events_per_s"] / results["sqlite NORMAL"]["events_per_s"]
    sync_ratio = results["ledger sync"]["events_per_s"] / results["sqlite FULL"]["events_per_s"]
    print()
    print(f"{'case':<15}{'commits':>8}{'events/s':>12}{'p50 us':>9}{'p99 us':>9}")
    for name, r in results.items():
        print(f"{name:<15}{r['commits']:>8}{r['events_per_s']:>12,.0f}{r['p50_us']:>9.1f}{r['p99_us']:>9.1f}")
    print(f"ledger group / sqlite NORMAL = {ratio:.2f}x (goal >= 5x); lmdb raw os / sqlite NORMAL = "
          f"{raw_ratio:.2f}x; ledger sync / sqlite FULL = {sync_ratio:.2f}x")
    benchmark.extra_info.update({name: r for name, r in results.items()})
    benchmark.extra_info["ratio_group_vs_sqlite_normal"] = ratio

    # pytest-benchmark's own statistics for the default policy's single-event append.
    events = ledger_events()
    with Ledger.open(tmp_path / "pb", LedgerConfig(durability="group")) as ledger:
        benchmark.pedantic(lambda: ledger.append([next(events)]), rounds=COMMITS, iterations=1,
                           warmup_rounds=WARMUP)
