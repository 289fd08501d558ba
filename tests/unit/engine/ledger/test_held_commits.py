"""Held commits (a backtest's ledger, ``Ledger.hold_commits``): the same appends give the same
answers and, once committed, the same bytes in every LMDB database as a commit per append,
refused events, rehearsals, open orders closing within a block and whole-table reads included."""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.ledger import (
    TRADING_ACCOUNT,
    AuditRecord,
    CashMovement,
    Ledger,
    LedgerConfig,
    StrategyStateSaved,
)
from ipc.messages import Fill, OrderEvent, OrderSpec, OrderState
from tests.support.ledger import lmdb_contents

CONFIG = LedgerConfig(initial_map_size_bytes=1 << 18, durability="os")  # the smallest: the block commit grows it


an_order = st.fixed_dictionaries({
    "fills": st.lists(st.tuples(st.integers(1, 5), st.integers(1, 10_000)), max_size=3),
    "cancel": st.sampled_from(["now", "at_end", "never"]),  # after its fills, if not filled in full
    "resend_intent": st.booleans(),         # the intent asked again: a duplicate, nothing written
    "resend_fill": st.booleans(),           # its first fill re-sent: refused
    "bad_with_good": st.booleans(),         # an all-or-nothing batch with a refused event: nothing of it
    "rehearse": st.booleans(),              # a rehearsal after it: nothing written
    "state": st.binary(max_size=8),         # the strategy saves its state
    "commit": st.booleans(),                # the block ends after this order (held ledger only)
})


def _flow(ledger: Ledger, orders: list[dict], whole_read_at: int, commit_block: bool) -> list:
    """Run the flow on ``ledger``; returns every answer the ledger gave, to compare. Before order
    ``whole_read_at``, a whole-table read (which commits a held block)."""
    answers: list = [ledger.append([CashMovement(kind="DEPOSIT", amount_paise=10**9, account=TRADING_ACCOUNT,
                                                 note="", ts_ns=1)])]
    open_at_end: list[OrderEvent] = []
    for n, order in enumerate(orders):
        if n == whole_read_at:
            answers.append(sorted(ledger.orders().items()))
        qty = sum(q for q, _ in order["fills"]) + (1 if order["cancel"] != "never" else 0) or 1
        spec = OrderSpec(segment=1, security_id=1333 + n % 2, side="BUY" if n % 3 else "SELL", order_type="MARKET",
                         product="INTRADAY", qty_units=qty)
        first = OrderEvent(client_order_id=ledger.next_client_order_id(), intent_id=f"s-{n}", strategy="s", spec=spec,
                           state=OrderState.SUBMITTED, filled_qty_units=0, filled_value_paise=0, venue_order_id="",
                           reason_code="", reason="", ts_event_ns=10 + n, ts_init_ns=10 + n)
        new = ledger.record_new_order(first)
        answers.append(new)
        if order["resend_intent"]:
            answers.append(ledger.client_order_id_for(first.intent_id))
            again = msgspec.structs.replace(first, client_order_id=ledger.next_client_order_id())
            answers.append(ledger.record_new_order(again))
        current = first
        fills: list[Fill] = []
        for k, (q, price) in enumerate(order["fills"]):
            fill = Fill(fill_id=f"{first.client_order_id}-{k}", client_order_id=first.client_order_id,
                        venue_order_id="V", strategy="s", segment=1, security_id=spec.security_id, side=spec.side,
                        qty_units=q, price_paise=price, charges_paise=k, ts_event_ns=20 + n, ts_init_ns=20 + n,
                        product="INTRADAY")
            filled = current.filled_qty_units + q
            current = msgspec.structs.replace(
                current, filled_qty_units=filled, filled_value_paise=current.filled_value_paise + q * price,
                state=OrderState.FILLED if filled == qty else OrderState.PARTIALLY_FILLED)
            answers.append(ledger.append_report([fill, current]))
            fills.append(fill)
        if order["resend_fill"] and fills:
            answers.append(ledger.append_report([fills[0]]))
            answers.append(ledger.fill(fills[0].fill_id))
        if order["bad_with_good"] and fills:
            audit = AuditRecord(who="t", action="x", args={}, result="", ts_ns=30 + n)
            answers.append(ledger.append_report([audit, fills[-1]], all_or_nothing=True))
        if order["cancel"] == "now" and current.state is not OrderState.FILLED:
            answers.append(ledger.append_report([msgspec.structs.replace(current, state=OrderState.CANCELED)]))
        elif order["cancel"] == "at_end":
            open_at_end.append(current)  # open across blocks: its index row goes in a later one
        if order["rehearse"]:
            ledger.rehearse_new_order(first)
        answers.append(ledger.append([StrategyStateSaved(strategy="s", state=order["state"], ts_ns=40 + n)]))
        answers += [ledger.order(first.client_order_id), ledger.position("s", 1, spec.security_id),
                    ledger.wallet(), ledger.next_order_no(), ledger.last_seq(), sorted(ledger.open_orders())]
        if commit_block and order["commit"]:
            ledger.commit_block()
    for current in open_at_end:
        answers.append(ledger.append_report([msgspec.structs.replace(current, state=OrderState.CANCELED)]))
    answers.append(sorted(ledger.open_orders()))
    return answers


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(orders=st.lists(an_order, min_size=1, max_size=25), whole_read_at=st.integers(0, 30))
def test_held_commits_store_what_a_commit_per_append_stores(orders: list[dict], whole_read_at: int) -> None:
    with tempfile.TemporaryDirectory() as per_append, tempfile.TemporaryDirectory() as held:
        with Ledger.open(per_append, CONFIG, id_seed=5) as ledger:
            expected = _flow(ledger, orders, whole_read_at, commit_block=False)
        with Ledger.open(held, CONFIG, id_seed=5) as ledger:
            ledger.hold_commits()
            answers = _flow(ledger, orders, whole_read_at, commit_block=True)
            assert ledger.verify() == []
        assert answers == expected
        assert lmdb_contents(held) == lmdb_contents(per_append)


def test_nothing_reaches_lmdb_before_the_block_is_committed(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, CONFIG, id_seed=5) as ledger:
        ledger.hold_commits()
        ledger.append([CashMovement(kind="DEPOSIT", amount_paise=100, account=TRADING_ACCOUNT, note="", ts_ns=1)])
        assert ledger.wallet().cash_paise == 100  # answered from memory at once

        def stored_events() -> int:  # LMDB allows one environment per file and process: the writer's
            with ledger._env.begin() as txn:
                return int(txn.stat(ledger._dbs["events"])["entries"])

        assert stored_events() == 0
        ledger.commit_block()
        assert stored_events() == 1
