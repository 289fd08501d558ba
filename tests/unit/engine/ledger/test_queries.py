"""The one query layer: the writer, a snapshot and a reader give the same answer to every query."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine.ledger import (
    Ledger,
    LedgerConfig,
    StrategyStateSaved,
    TokenIssued,
    TradingStateChanged,
    UserAdded,
)
from engine.ledger.queries import LedgerQueries
from ipc.messages import GroupEvent, GroupState, OrderState, TradingState
from tests.support.ledger import record_new
from tests.unit.engine.ledger.test_store import deposit, fill, new_order

HASH_A = "a" * 64
Ids = dict[str, str]

# name -> (query, whether the ledger built below has nothing to answer it with)
QUERIES: dict[str, tuple[Callable[[LedgerQueries, Ids], Any], bool]] = {
    "order (open)": (lambda q, ids: q.order(ids["open"]), False),
    "order (closed)": (lambda q, ids: q.order(ids["closed"]), False),
    "order (unknown)": (lambda q, ids: q.order("nope"), True),
    "orders": (lambda q, ids: q.orders(), False),
    "open_orders": (lambda q, ids: q.open_orders(), False),
    "client_order_id_for": (lambda q, ids: q.client_order_id_for("s1-r-1"), False),
    "client_order_id_for (unknown)": (lambda q, ids: q.client_order_id_for("nope"), True),
    "next_order_no": (lambda q, ids: q.next_order_no(), False),
    "fill": (lambda q, ids: q.fill("F1"), False),
    "fills": (lambda q, ids: q.fills(), False),
    "fills_of": (lambda q, ids: q.fills_of({ids["closed"]}), False),
    "position": (lambda q, ids: q.position("s1", 2, 55796), False),
    "positions": (lambda q, ids: q.positions(), False),
    "wallet": (lambda q, ids: q.wallet(), False),
    "wallets": (lambda q, ids: q.wallets(), False),
    "strategy_state": (lambda q, ids: q.strategy_state("s1"), False),
    "strategy_states": (lambda q, ids: q.strategy_states(), False),
    "trading_state": (lambda q, ids: q.trading_state(), False),
    "user": (lambda q, ids: q.user("alice"), False),
    "users": (lambda q, ids: q.users(), False),
    "token": (lambda q, ids: q.token(HASH_A), False),
    "token (not a digest)": (lambda q, ids: q.token("x" * 600), True),
    "tokens": (lambda q, ids: q.tokens(), False),
    "group": (lambda q, ids: q.group("g-1"), False),
    "groups": (lambda q, ids: q.groups(), False),
    "open_groups": (lambda q, ids: q.open_groups(), False),
    "last_seq": (lambda q, ids: q.last_seq(), False),
}


@pytest.fixture
def written(tmp_path: Path) -> Iterator[tuple[Ledger, Ids]]:
    """A ledger with a row in every table: an open and a filled order, state, a user, a group."""
    with Ledger.open(tmp_path / "ledger", LedgerConfig(initial_map_size_bytes=1024 * 1024)) as ledger:
        ledger.append([deposit(1_000_000)])
        closed = record_new(ledger, new_order("s1-r-1")).client_order_id
        still_open = record_new(ledger, new_order("s1-r-2", side="SELL")).client_order_id
        submitted = ledger.order(closed)
        assert submitted is not None
        group = GroupEvent(group_id="g-1", strategy="s1", structure="CUSTOM", state=GroupState.NEW, step="created",
                           reason_code="", detail="", legs=[], timeout_ms=1_000, ts_deadline_ns=0, ts_event_ns=9,
                           ts_init_ns=9)
        seqs = ledger.append([
            fill("F1", closed, "BUY", 10, 10_000),
            msgspec.structs.replace(submitted, state=OrderState.FILLED, filled_qty_units=10,
                                    filled_value_paise=100_000),
            StrategyStateSaved(strategy="s1", state=b"\x01", ts_ns=5),
            TradingStateChanged(state=TradingState.HALTED, reason_code="TEST", detail="", by="root", ts_ns=6),
            UserAdded(name="alice", role="trader", by="root", ts_ns=7),
            TokenIssued(token_sha256=HASH_A, token_id="t1", name="alice", by="root", ts_ns=8),
            group,
        ])
        assert 0 not in seqs
        yield ledger, {"open": still_open, "closed": closed}


@pytest.mark.parametrize("name", list(QUERIES))
def test_writer_snapshot_and_reader_answer_every_query_alike(written: tuple[Ledger, Ids], name: str) -> None:
    ledger, ids = written
    query, empty = QUERIES[name]

    def ask(view: LedgerQueries) -> Any:
        answer = query(view, ids)
        return dict(answer) if isinstance(answer, Mapping) else answer  # the writer's are live views

    from_writer = ask(ledger)
    with ledger.reader().snapshot() as snap:
        from_snapshot = ask(snap)
    from_reader = ask(ledger.reader())
    assert from_writer == from_snapshot == from_reader
    assert (from_writer in (None, {})) == empty  # the ledger built above gives something to compare
