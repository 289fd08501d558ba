"""Execution actor paths added with order groups, marks and session end.

Run: ``.venv/bin/python -m pytest bench/test_matching_bench.py --benchmark-enable -q -s``

- ``ExecutionActor.on_depth`` for an instrument with nothing resting: the per-packet hot path of
  the actor (venue lookup, plus the restored-order and group checks this landing added).
- One iron condor's whole life in the pure group state machine (start, four fills, complete).
- The trade journal over 10,000 fills (FIFO matching and every grouping).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from actors.execution import groups as grp
from engine.model.journal import build_journal
from ipc.messages import Depth, Fill, OrderIntent, OrderState, SubmitGroup
from tests.unit.actors.execution.test_actor import ExecHarness

T0 = 1_795_000_000_000_000_000
BATCH = 1_000


@pytest.fixture
def harness(tmp_path: Path):
    h = ExecHarness(tmp_path / "data")
    yield h
    h.close()


def test_actor_on_depth_with_nothing_resting(benchmark, harness):
    inst = harness.instrument("RELIANCE")
    now = time.time_ns()
    depth = Depth(inst.segment, inst.security_id, "both", [99_95, 99_90], [10, 20], [1, 1], [100_05, 100_10],
                  [10, 20], [1, 1], now, now)
    on_depth = harness.actor.on_depth

    def run() -> None:
        for _ in range(BATCH):
            on_depth(depth)

    benchmark(run)
    benchmark.extra_info["per_call_ns"] = benchmark.stats.stats.mean * 1e9 / BATCH


def _leg(n: int, side: str) -> OrderIntent:
    return OrderIntent(f"g-{n}", "s", 2, 100 + n, side, 65, "MARKET", 0, 0, "DAY", "INTRADAY", T0, T0, T0,  # type: ignore[arg-type]
                       False, "g")


CONDOR = SubmitGroup("g", "s", "IRON_CONDOR", [_leg(0, "BUY"), _leg(1, "SELL"), _leg(2, "SELL"), _leg(3, "BUY")],
                     1_000, T0, T0)


def test_group_state_machine_iron_condor_life(benchmark):
    def run() -> None:
        for _ in range(BATCH):
            r = grp.step(grp.new_group(CONDOR), grp.Start(now_ns=T0))
            for i in (0, 3, 1, 2):
                r = grp.step(r.group, grp.LegUpdate(now_ns=T0, leg_index=i, client_order_id=f"c{i}",
                                                    state=OrderState.FILLED, filled_qty_units=65))
            assert r.group.state is grp.GroupState.COMPLETE

    benchmark(run)
    benchmark.extra_info["per_group_us"] = benchmark.stats.stats.mean * 1e6 / BATCH


def test_journal_over_ten_thousand_fills(benchmark):
    fills = [Fill(f"f{n}", f"o{n // 2}", "", f"s{n % 3}", 1, 2885 + n % 5, "BUY" if (n // 10) % 2 == 0 else "SELL",
                  1 + n % 7, 10_000 + n % 50, 20, T0 + n * 1_000_000_000, T0) for n in range(10_000)]
    journal = benchmark(build_journal, fills)
    assert journal.fills == 10_000 and journal.overall.trades > 0
