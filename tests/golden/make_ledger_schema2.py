"""Writes ``tests/golden/ledger_schema2/``: a ledger as the code of commit 6af32a5 wrote it (ledger
schema 2; ``order@1``, ``intent@1`` and ``group@1`` records with the order fields listed flat).

Kept so that every later version is tested against a ledger an operator may really have on disk
(tests/unit/engine/ledger/test_compat.py). It ran once, on that commit; it does not run on later code (the
message shapes it builds are gone), and must never be re-run to "refresh" the golden files:

    git checkout 6af32a5 -- engine ipc actors && python tests/golden/make_ledger_schema2.py

What it holds: a deposit; a LIMIT BUY filled in two fills; an SL SELL modified and still open
(ACCEPTED); a MARKET order rejected by the paper venue; a LIMIT order cancelled; an order group
with two legs still working and one group complete; an audit row, a user with a token, a saved
strategy state and a trading-state change. The environment is copied compacted (used pages only).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import msgspec

from engine.ledger import (
    TRADING_ACCOUNT,
    AuditRecord,
    CashMovement,
    Ledger,
    LedgerConfig,
    StrategyStateSaved,
    TokenIssued,
    TradingStateChanged,
    UserAdded,
)
from ipc.messages import Fill, GroupEvent, GroupLeg, GroupState, OrderEvent, OrderIntent, OrderState

OUT = Path(__file__).parent / "ledger_schema2"
T0 = 1_700_000_000_000_000_000
SEG, SID, SID2 = 2, 55796, 55797


def order(intent_id: str, side: str, order_type: str, qty: int, price: int, trigger: int,
          validity: str = "DAY", product: str = "INTRADAY") -> OrderEvent:
    return OrderEvent(client_order_id="", intent_id=intent_id, strategy="s1", segment=SEG, security_id=SID,
                      side=side, order_type=order_type, validity=validity, product=product,  # type: ignore[arg-type]
                      qty_units=qty, price_paise=price, trigger_price_paise=trigger, state=OrderState.SUBMITTED,
                      filled_qty_units=0, filled_value_paise=0, venue_order_id="", reason_code="", reason="",
                      ts_event_ns=T0, ts_init_ns=T0 - 5, ts_created_ns=T0 - 10, ts_approved_ns=T0 - 3, ts_sent_ns=0)


def then(event: OrderEvent, n: int, **changes: object) -> OrderEvent:
    return msgspec.structs.replace(event, ts_event_ns=T0 + n, ts_init_ns=T0 + n, **changes)


def fill(fill_id: str, event: OrderEvent, qty: int, price: int, n: int) -> Fill:
    return Fill(fill_id=fill_id, client_order_id=event.client_order_id, venue_order_id=event.venue_order_id,
                strategy=event.strategy, segment=event.segment, security_id=event.security_id, side=event.side,
                qty_units=qty, price_paise=price, charges_paise=20, ts_event_ns=T0 + n, ts_init_ns=T0 + n)


def leg(intent_id: str, group_id: str, side: str, sid: int) -> OrderIntent:
    return OrderIntent(intent_id, "s1", SEG, sid, side, 75, "MARKET", 0, 0, "DAY", "INTRADAY",  # type: ignore[arg-type]
                       T0, T0, T0, False, group_id)


def write(ledger: Ledger) -> None:
    ledger.append([CashMovement(kind="DEPOSIT", amount_paise=100_000_000, account=TRADING_ACCOUNT,
                                note="paper starting cash", ts_ns=T0)])
    # A LIMIT BUY filled in two fills.
    a = order("s1-r1-1", "BUY", "LIMIT", 75, 10_000, 0)
    a = then(a, 1, client_order_id=ledger.record_new_order(a).client_order_id, ts_sent_ns=T0 + 1)
    a = then(a, 2, state=OrderState.ACCEPTED, venue_order_id="paper-1")
    ledger.append([a])
    f1 = fill(f"{a.client_order_id}-1", a, 25, 10_000, 3)
    a = then(a, 3, state=OrderState.PARTIALLY_FILLED, filled_qty_units=25, filled_value_paise=250_000)
    ledger.append([f1, a])
    f2 = fill(f"{a.client_order_id}-2", a, 50, 9_995, 4)
    a = then(a, 4, state=OrderState.FILLED, filled_qty_units=75, filled_value_paise=749_750)
    ledger.append([f2, a])
    # An SL SELL modified to 150 units and a new price, still open.
    b = order("s1-r1-2", "SELL", "SL", 75, 9_900, 9_950)
    b = then(b, 5, client_order_id=ledger.record_new_order(b).client_order_id, ts_sent_ns=T0 + 5)
    b = then(b, 6, state=OrderState.ACCEPTED, venue_order_id="paper-2")
    ledger.append([b])
    ledger.append([then(b, 7, state=OrderState.PENDING_UPDATE)])
    b = then(b, 8, qty_units=150, price_paise=9_850, trigger_price_paise=9_900)
    ledger.append([b])
    # A MARKET IOC order the venue rejected.
    c = order("s1-r1-3", "BUY", "MARKET", 75, 0, 0, validity="IOC", product="MARGIN")
    c = then(c, 9, client_order_id=ledger.record_new_order(c).client_order_id)
    ledger.append([then(c, 10, state=OrderState.REJECTED, reason_code="NO_MARKET_DATA",
                        reason="no market data received yet for NSE_FNO:55796: cannot work a MARKET order")])
    # A LIMIT order cancelled.
    d = order("manual-alice-r7", "BUY", "LIMIT", 75, 9_000, 0)
    d = then(d, 11, client_order_id=ledger.record_new_order(d).client_order_id)
    d = then(d, 12, state=OrderState.ACCEPTED, venue_order_id="paper-3")
    ledger.append([d])
    ledger.append([then(d, 13, state=OrderState.PENDING_CANCEL)])
    ledger.append([then(d, 14, state=OrderState.CANCELED, reason_code="CANCEL_REQUESTED")])
    # Order groups: one working (open), one complete.
    working = GroupEvent(group_id="g-1", strategy="s1", structure="STRADDLE", state=GroupState.WORKING_BUYS,
                         step="STARTED", reason_code="", detail="",
                         legs=[GroupLeg(intent=leg("s1-r1-4", "g-1", "BUY", SID)),
                               GroupLeg(intent=leg("s1-r1-5", "g-1", "BUY", SID2), client_order_id="X-9",
                                        state=OrderState.SUBMITTED)],
                         timeout_ms=30_000, ts_deadline_ns=T0 + 30_000_000_015, ts_event_ns=T0 + 15,
                         ts_init_ns=T0 + 15)
    done = msgspec.structs.replace(working, group_id="g-2", state=GroupState.COMPLETE, step="COMPLETED",
                                   legs=[GroupLeg(intent=leg("s1-r1-6", "g-2", "SELL", SID), client_order_id="X-10",
                                                  state=OrderState.FILLED, filled_qty_units=75,
                                                  filled_value_paise=750_000)])
    ledger.append([working, done])
    ledger.append([AuditRecord(who="alice", action="place_order", args={"qty_units": "75"}, result="ok",
                               ts_ns=T0 + 16),
                   UserAdded(name="alice", role="trader", by="admin", ts_ns=T0 + 17),
                   TokenIssued(token_sha256="ab" * 32, token_id="tok-1", name="alice", by="admin", ts_ns=T0 + 17),
                   StrategyStateSaved(strategy="s1", state=b"\x81\xa1n\x01", ts_ns=T0 + 18),
                   TradingStateChanged(state="REDUCING", reason_code="POSITION_MISMATCH", detail="test", by="execution",
                                       ts_ns=T0 + 19)])


def main() -> int:
    if OUT.exists():
        print(f"{OUT} exists: the golden ledger is written once, never refreshed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        config = LedgerConfig(durability="sync", initial_map_size_bytes=1024 * 1024)
        with Ledger.open(Path(tmp) / "ledger", config) as ledger:
            write(ledger)
            assert ledger.verify() == [], ledger.verify()
            OUT.mkdir(parents=True)
            ledger._env.copy(str(OUT), compact=True)
    shutil.rmtree(OUT / "__pycache__", ignore_errors=True)
    print(f"wrote {OUT}: {sorted(p.name for p in OUT.iterdir())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
