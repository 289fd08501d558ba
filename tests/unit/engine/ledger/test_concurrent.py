"""A reader in another process sees only whole transactions while the writer writes and grows.

Run as a script, this module is the child reader: ``python test_concurrent.py DIR``.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from engine.ledger import (
    TRADING_ACCOUNT,
    AuditRecord,
    CashMovement,
    Ledger,
    LedgerConfig,
    LedgerReader,
    StrategyStateSaved,
    fill_cash_delta_paise,
)
from ipc.messages import Fill, OrderEvent, OrderSpec, OrderState

PHASES = 4
TXNS_PER_PHASE = 150


def child_reader(path: str) -> None:
    """Check every snapshot; print "saw <phase>" when a phase marker appears, then a summary."""
    violations: list[str] = []
    seqs: set[int] = set()
    snapshots = verified = 0
    last_audit_seq = 0
    with LedgerReader.open(path) as reader:
        print("ready", flush=True)
        while True:
            with reader.snapshot() as snap:
                snapshots += 1
                seq = snap.last_seq()
                seqs.add(seq)
                fills = snap.fills()
                wallet = snap.wallet()
                if wallet is not None:
                    from_fills = wallet.external_paise + sum(fill_cash_delta_paise(f) for f in fills.values())
                    if wallet.cash_paise != from_fills:
                        violations.append(f"seq {seq}: cash {wallet.cash_paise} != fold of fills {from_fills}")
                net: dict = defaultdict(int)
                for f in fills.values():
                    net[(f.strategy, f.segment, f.security_id, f.product)] += f.qty_units if f.side == "BUY" else -f.qty_units
                positions = {key: p.net_qty_units for key, p in snap.positions().items()}
                if positions != dict(net):
                    violations.append(f"seq {seq}: positions {positions} != fills {dict(net)}")
                orders = snap.orders()
                if sum(o.filled_qty_units for o in orders.values()) != sum(f.qty_units for f in fills.values()):
                    violations.append(f"seq {seq}: order fill totals disagree with the fills table")
                markers = snap.audit(from_seq=last_audit_seq + 1)
                if snapshots % 25 == 0 or markers:
                    verified += 1
                    violations.extend(snap.verify())
            for audit_seq, record in markers:
                last_audit_seq = audit_seq
                print("saw", record.action, flush=True)
            if markers and markers[-1][1].action == "end":
                break
        print(json.dumps({"snapshots": snapshots, "distinct_seqs": len(seqs), "verified": verified,
                          "resizes": reader.map_resizes, "violations": violations[:5]}), flush=True)


def test_reader_process_never_sees_a_half_applied_transaction(tmp_path: Path) -> None:
    rng = random.Random(7)
    config = LedgerConfig(initial_map_size_bytes=256 * 1024, durability="group")
    with Ledger.open(tmp_path, config) as ledger:
        ledger.append([CashMovement(kind="DEPOSIT", amount_paise=10**9, account=TRADING_ACCOUNT, note="", ts_ns=1)])
        proc = subprocess.Popen([sys.executable, __file__, str(tmp_path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline() == "ready\n", proc.stderr.read()  # type: ignore[union-attr]
            n = 0
            for phase in range(PHASES):
                for _ in range(TXNS_PER_PHASE):
                    n += 1
                    side = rng.choice(["BUY", "SELL"])
                    qty = rng.randint(1, 50)
                    spec = OrderSpec(segment=1, security_id=rng.randint(1, 4), side=side, order_type="MARKET",
                                     validity="IOC", qty_units=qty)
                    new = ledger.record_new_order(OrderEvent(
                        client_order_id=ledger.next_client_order_id(), intent_id=f"i{n}", strategy=f"s{n % 3}",
                        spec=spec, state=OrderState.SUBMITTED, filled_qty_units=0, filled_value_paise=0, venue_order_id="",
                        reason_code="", reason="", ts_event_ns=n, ts_init_ns=n))
                    order = ledger.order(new.client_order_id)
                    price = rng.randint(100, 10**6)
                    batch: list = [
                        Fill(fill_id=f"F{n}", client_order_id=new.client_order_id, venue_order_id="V",
                             strategy=order.strategy, segment=1, security_id=order.spec.security_id, side=side,
                             qty_units=qty, price_paise=price, charges_paise=rng.randint(0, 500), ts_event_ns=n,
                             ts_init_ns=n),
                        OrderEvent(**{**{f: getattr(order, f) for f in order.__struct_fields__},
                                      "state": OrderState.FILLED, "filled_qty_units": qty,
                                      "filled_value_paise": qty * price}),
                    ]
                    if n % 5 == 0:  # state blobs make the map grow under the reader
                        batch.append(StrategyStateSaved(strategy=f"s{n % 3}", state=rng.randbytes(16 * 1024), ts_ns=n))
                    if n % 20 == 0:
                        batch.append(CashMovement(kind="DEPOSIT", amount_paise=rng.randint(1, 10**6),
                                                  account=TRADING_ACCOUNT, note="", ts_ns=n))
                    ledger.append(batch)
                action = "end" if phase == PHASES - 1 else f"phase-{phase}"
                ledger.append([AuditRecord(who="test", action=action, args={}, result="", ts_ns=n)])
                # Wait until the reader has seen this phase: it read while we wrote, in every phase.
                assert proc.stdout.readline() == f"saw {action}\n", proc.stderr.read()  # type: ignore[union-attr]
            # Not communicate(): readline() may already hold the summary in its buffer.
            out = proc.stdout.read()  # type: ignore[union-attr]
            err = proc.stderr.read()  # type: ignore[union-attr]
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert out.strip(), f"reader printed no summary: {err}"
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["violations"] == [], summary
        assert summary["distinct_seqs"] >= PHASES
        assert summary["verified"] >= PHASES
        assert summary["resizes"] >= 1  # the writer's map grew and the reader followed it
        assert ledger.stats().map_grows >= 1
        assert ledger.verify() == []


if __name__ == "__main__":
    child_reader(sys.argv[1])
