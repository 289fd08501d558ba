"""The ledger as a test's witness: read it while a daemon writes, and the facts that must hold in it
after any run (books balance to the paisa, every intent is exactly one order or one denial)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import lmdb
import msgspec

from engine.ledger import Ledger, LedgerReader, NewOrder, ledger_dir
from engine.ledger.schema import MAX_DBS
from ipc.messages import OrderEvent, slice_intent_id

T = TypeVar("T")

START_CASH = 1_000_000_000  # the paper account of the daemon tests (engine config starting_cash_paise)


def read_ledger(data_dir: Path, read: Callable[[Any], T]) -> T:
    """``read(snapshot)`` on one consistent snapshot of the ledger under ``data_dir``. Raises while
    the ledger does not exist yet (an ``eventually`` probe treats that as "not yet")."""
    with LedgerReader.open(ledger_dir(data_dir)) as reader, reader.snapshot() as snap:
        return read(snap)


def lmdb_contents(directory: str | Path) -> dict[bytes, list[tuple[bytes, bytes]]]:
    """Every named database of the ledger in ``directory``, every key and value, in key order."""
    env = lmdb.open(str(directory), readonly=True, lock=False, max_dbs=MAX_DBS, subdir=True)
    try:
        with env.begin(buffers=False) as txn:
            names = [key for key, _ in txn.cursor()]
            out = {}
            for name in names:
                db = env.open_db(name, txn=txn, create=False)
                out[name] = [(bytes(k), bytes(v)) for k, v in txn.cursor(db=db)]
        return out
    finally:
        env.close()


def record_new(ledger: Ledger, order: OrderEvent) -> NewOrder:
    """``ledger.record_new_order`` for ``order`` built with the id the ledger hands out next."""
    return ledger.record_new_order(msgspec.structs.replace(order, client_order_id=ledger.next_client_order_id()))


def ledger_facts(data_dir: Path) -> dict[str, Any]:
    return read_ledger(data_dir, lambda snap: {
        "orders": snap.orders(), "fills": snap.fills(), "positions": snap.positions(), "wallet": snap.wallet(),
        "verify": snap.verify(), "audit": list(snap.audit(0, 100000))})


def audit_rows(data_dir: Path, action: str) -> list[Any]:
    """The audit rows of one action (e.g. "deny_intent"), oldest first."""
    return read_ledger(data_dir, lambda snap: [row for _seq, row in snap.audit(0, 100000) if row.action == action])


def wait_for_fills(d: Any, n: int, timeout_s: float = 60.0) -> None:
    """Until the ledger of the running daemon ``d`` holds at least ``n`` fills."""
    d.eventually(lambda: len(read_ledger(d.data_dir, lambda snap: snap.fills())) >= n, f"{n} fills", timeout_s)


def assert_books_balance(facts: dict[str, Any], start_cash_paise: int = START_CASH) -> None:
    """Positions are the sum of fills; cash is start - buys + sells - charges, to the paisa."""
    assert facts["verify"] == []
    net: dict[tuple, int] = defaultdict(int)
    cash = start_cash_paise
    charges = 0
    for f in facts["fills"].values():
        signed = f.qty_units if f.side == "BUY" else -f.qty_units
        net[(f.strategy, f.segment, f.security_id, f.product)] += signed
        cash += -f.qty_units * f.price_paise if f.side == "BUY" else f.qty_units * f.price_paise
        cash -= f.charges_paise
        charges += f.charges_paise
    for pos in facts["positions"].values():
        assert pos.net_qty_units == net[(pos.strategy, pos.segment, pos.security_id, pos.product)]
    assert facts["wallet"].cash_paise == cash
    assert facts["wallet"].charges_paise == charges
    for order in facts["orders"].values():
        filled = [f for f in facts["fills"].values() if f.client_order_id == order.client_order_id]
        assert order.filled_qty_units == sum(f.qty_units for f in filled)
        assert order.filled_value_paise == sum(f.qty_units * f.price_paise for f in filled)


def assert_resends_are_not_denials(facts: dict[str, Any]) -> None:
    """An intent that became an order is never audited as denied (a re-send of it used to be
    recorded as a DUPLICATE_INTENT denial); its ``resend_intent`` rows name the orders the ledger
    holds for it (one, or its slices)."""
    orders = facts["orders"]
    ordered = {o.intent_id for o in orders.values()}
    for _seq, row in facts["audit"]:
        intent_id = row.args.get("intent_id", "")
        if row.action == "deny_intent":
            assert intent_id not in ordered, f"intent {intent_id} has an order but is audited as denied: {row}"
        elif row.action == "resend_intent" and row.args["client_order_id"]:
            coids = row.args["client_order_id"].split(",")
            ids = {intent_id} if len(coids) == 1 else {slice_intent_id(intent_id, n) for n in range(1, len(coids) + 1)}
            for coid in coids:
                assert coid in orders, f"re-send of {intent_id} names {coid}, which is not an order: {row}"
                assert orders[coid].intent_id in ids, f"re-send of {intent_id} names another intent's order: {row}"


def assert_every_intent_is_exactly_one_order(facts: dict[str, Any]) -> None:
    """The probe numbers its intents 1, 2, 3... per run. Each must be exactly one order in the
    ledger or one audited denial (risk may deny, e.g. too many open orders while execution is
    restarting), never both, never neither: a gap would be an intent lost on the way."""
    by_run: dict[str, list[int]] = defaultdict(list)
    for order in facts["orders"].values():
        m = re.fullmatch(r"probe-(\w+)-(\d+)", order.intent_id)
        assert m, order.intent_id
        by_run[m.group(1)].append(int(m.group(2)))
    denied: dict[str, set[int]] = defaultdict(set)
    for _seq, row in facts["audit"]:
        if row.action == "deny_intent":
            run, _, n = row.args["intent_id"].removeprefix("probe-").rpartition("-")
            denied[run].add(int(n))
    for run, seqs in by_run.items():
        assert len(seqs) == len(set(seqs)), f"an intent became two orders in run {run}"
        assert not set(seqs) & denied[run], f"an intent was both ordered and denied in run {run}"
        top = max(max(seqs), max(denied[run], default=0))
        missing = set(range(1, top + 1)) - set(seqs) - denied[run]
        assert not missing, f"intents lost in run {run}: {sorted(missing)[:10]}"
    coids = [o.client_order_id for o in facts["orders"].values()]
    assert len(coids) == len(set(coids))
