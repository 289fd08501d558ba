"""Crash safety with real processes: a writer SIGKILLed at a random moment leaves a ledger whose
derived tables agree with its events and whose last reported commit is intact.

Run as a script, this module is the child writer: ``python test_crash.py DIR POLICY ROUND``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
import pytest

from engine.ledger import (
    TRADING_ACCOUNT,
    AuditRecord,
    CashMovement,
    IntentRecorded,
    Ledger,
    LedgerConfig,
    StrategyStateSaved,
)
from ipc.messages import Fill, OrderEvent, OrderSpec, OrderState

ROUNDS = 3


def child_config(durability: str) -> LedgerConfig:
    # A tiny map so that the writer also grows it (and may be killed while doing so).
    return LedgerConfig(durability=durability, group_fsync_ms=2, initial_map_size_bytes=256 * 1024)


def report(seq: int, event: object) -> None:
    print(seq, msgspec.msgpack.encode(event).hex(), flush=True)


def child_writer(path: str, durability: str, round_no: int) -> None:
    """Append orders, fills, cash, audit and state blobs forever, reporting each commit."""
    rng = random.Random(round_no)
    with Ledger.open(path, child_config(durability)) as ledger:
        n = 0
        while True:
            n += 1
            side = rng.choice(["BUY", "SELL"])
            spec = OrderSpec(segment=2, security_id=1000 + n % 5, side=side, order_type="MARKET", qty_units=10)
            new = ledger.record_new_order(OrderEvent(
                client_order_id=ledger.next_client_order_id(), intent_id=f"r{round_no}-{n}", strategy=f"s{n % 3}",
                spec=spec, state=OrderState.SUBMITTED,
                filled_qty_units=0, filled_value_paise=0, venue_order_id="", reason_code="", reason="",
                ts_event_ns=time.time_ns(), ts_init_ns=1))
            order = ledger.order(new.client_order_id)
            report(new.seq, order)
            batch: list = []
            if n % 7 == 0:
                batch.append(StrategyStateSaved(strategy=f"s{n % 3}", state=rng.randbytes(24 * 1024), ts_ns=n))
            if n % 11 == 0:
                batch.append(CashMovement(kind="DEPOSIT", amount_paise=rng.randint(1, 10**9),
                                          account=TRADING_ACCOUNT, note=f"round {round_no}", ts_ns=n))
            if n % 13 == 0:
                batch.append(AuditRecord(who="ops", action="noop", args={"n": str(n)}, result="ok", ts_ns=n))
            for part, qty in enumerate((4, 6)):
                batch.append(Fill(fill_id=f"{new.client_order_id}-{part}", client_order_id=new.client_order_id,
                                  venue_order_id="V", strategy=order.strategy, segment=2,
                                  security_id=order.spec.security_id, side=side, qty_units=qty,
                                  price_paise=rng.randint(100, 10**7), charges_paise=rng.randint(0, 999),
                                  ts_event_ns=n, ts_init_ns=n))
            batch.append(msgspec.structs.replace(order, state=OrderState.FILLED, filled_qty_units=10))
            seqs = ledger.append(batch)
            report(seqs[-1], batch[-1])


def kill_at_a_random_moment(path: Path, durability: str, round_no: int, rng: random.Random) -> list[str]:
    """Run the child writer, SIGKILL it after a random number of commits plus a random delay;
    return the commit lines it reported before dying."""
    from tests.support.wait import eventually  # here: this module also runs as the child, outside the tests package

    proc = subprocess.Popen([sys.executable, __file__, str(path), durability, str(round_no)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    done = threading.Event()

    def drain() -> None:  # keep the pipe empty so the child never blocks on a print
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.endswith("\n"):
                lines.append(line)
        done.set()

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    target = rng.randint(10, 400)
    eventually(lambda: len(lines) >= target or done.is_set(), f"{target} commits reported", poll_s=0.001)
    time.sleep(rng.random() * 0.004)  # not an assertion: lands the kill anywhere in the loop
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    thread.join(timeout=30)
    stderr = proc.stderr.read()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL, f"child ended by itself ({proc.returncode}): {stderr}"
    assert lines, f"child reported no commit before the kill: {stderr}"
    return lines


@pytest.mark.parametrize("durability", ["os", "group"])
def test_sigkilled_writer_leaves_a_consistent_ledger_with_its_last_commit(tmp_path: Path, durability: str) -> None:
    rng = random.Random(f"crash-{durability}")
    last_seq = 0
    for round_no in range(ROUNDS):
        lines = kill_at_a_random_moment(tmp_path, durability, round_no, rng)
        reported_seq, reported_hex = lines[-1].split()
        with Ledger.open(tmp_path, child_config(durability)) as ledger:
            assert ledger.verify() == []
            assert ledger.last_seq() >= int(reported_seq) > last_seq
            last_seq = ledger.last_seq()
            with ledger.reader().snapshot() as snap:
                [(seq, event)] = snap.events(int(reported_seq), limit=1)
                assert msgspec.msgpack.encode(event).hex() == reported_hex
                intents = [e for _s, e in snap.events() if isinstance(e, IntentRecorded)]
                assert snap.next_order_no() == len(intents) + 1
                assert len({intent.client_order_id for intent in intents}) == len(intents)
                assert ledger.stats().map_size_bytes > 256 * 1024


if __name__ == "__main__":
    child_writer(sys.argv[1], sys.argv[2], int(sys.argv[3]))
