"""The whole engine on paper: feed -> book -> strategy -> risk -> execution -> ledger, as real
processes, and what must hold in the ledger afterwards, including across kill -9 of execution."""

from __future__ import annotations

import os
import random
import signal

import pytest

from engine.ledger import LedgerReader, ledger_dir
from ipc.messages import OrderDenied, OrderState
from tests.support.config import paper_config
from tests.support.daemon import Daemon, Watcher
from tests.support.ledger import (
    assert_books_balance,
    assert_every_intent_is_exactly_one_order,
    assert_resends_are_not_denials,
    audit_rows,
    ledger_facts,
    wait_for_fills,
)

NAMES = ("feed", "book", "strategy", "risk", "execution", "supervisor")


def probe_state(data_dir):
    """The probe strategy's state as the ledger holds it (saved when the strategy actor stops)."""
    import msgspec

    from actors.strategy.builtin.probe import ProbeState
    with LedgerReader.open(ledger_dir(data_dir)) as reader, reader.snapshot() as snap:
        saved = snap.strategy_state("probe")
    assert saved is not None, "no saved state for the probe strategy"
    return msgspec.msgpack.decode(saved.state, type=ProbeState)


@pytest.mark.parametrize("topology", ["isolated", "co-located"])
def test_paper_daemon_trades_and_the_ledger_balances_to_the_paisa(root, topology):
    d = Daemon(root, paper_config(topology)).start()
    try:
        d.wait_running()
        wait_for_fills(d, 10)
        assert d.stop() == 0
    finally:
        d.reap()
    facts = ledger_facts(d.data_dir)
    assert len(facts["orders"]) >= 10
    assert all(o.state is OrderState.FILLED for o in facts["orders"].values())
    assert_books_balance(facts)
    assert_every_intent_is_exactly_one_order(facts)


def test_kill9_of_execution_during_order_flow_loses_no_order_and_doubles_none(root):
    d = Daemon(root, paper_config(every=2, rate_per_s=600)).start()
    rng = random.Random(7)
    try:
        d.wait_running()
        for round_no in range(3):
            wait_for_fills(d, 5 * (round_no + 1) + rng.randint(0, 3))  # the kill lands anywhere in the flow
            victim = d.actor("execution").pid
            os.kill(victim, signal.SIGKILL)
            d.wait_for(lambda s: next(a for a in s.actors if a.name == "execution").pid not in (0, victim)
                       and next(a for a in s.actors if a.name == "execution").state == "ready",
                       what="execution back")
        before = len(ledger_facts(d.data_dir)["fills"])
        wait_for_fills(d, before + 10)
        assert d.stop() == 0
    finally:
        d.reap()
    facts = ledger_facts(d.data_dir)
    # Intents re-sent while execution was down are audited as re-sends of their orders, not denials.
    assert_resends_are_not_denials(facts)
    assert not [row for _seq, row in facts["audit"] if row.args.get("reason_code") == "DUPLICATE_INTENT"]
    assert_every_intent_is_exactly_one_order(facts)
    assert_books_balance(facts)
    # Market orders on a liquid book: every one ends filled, none stuck after the restarts.
    unfilled = [(o.client_order_id, o.state.value, o.reason_code, o.reason) for o in facts["orders"].values()
                if o.state is not OrderState.FILLED]
    assert not unfilled, unfilled[:5]


def test_restart_rebuilds_positions_cash_and_strategy_state_from_the_ledger(root):
    d = Daemon(root, paper_config(every=3)).start()
    try:
        d.wait_running()
        wait_for_fills(d, 6)
        assert d.stop() == 0
    finally:
        d.reap()
    first = ledger_facts(d.data_dir)
    first_state = probe_state(d.data_dir)
    assert first_state.ticks > 0 and first_state.orders >= 6
    d2 = Daemon(root, paper_config(every=3)).start()
    try:
        d2.wait_running()
        wait_for_fills(d2, len(first["fills"]) + 4)
        assert d2.stop() == 0
    finally:
        d2.reap()
    facts = ledger_facts(d.data_dir)
    # The strategy's counters continued from the saved state: at least the first run's orders
    # plus every intent the second run numbered.
    first_runs = {o.intent_id.rpartition("-")[0] for o in first["orders"].values()}
    second_run = [int(o.intent_id.rpartition("-")[2]) for o in facts["orders"].values()
                  if o.intent_id.rpartition("-")[0] not in first_runs]
    second_state = probe_state(d.data_dir)
    assert second_run and second_state.orders >= first_state.orders + max(second_run)
    assert second_state.ticks > first_state.ticks
    # Positions and cash went on from the first run's: the books balance across both runs from the
    # one starting cash, to the paisa.
    assert_books_balance(facts)
    assert_every_intent_is_exactly_one_order(facts)


def test_risk_denial_is_published_and_audited_in_the_ledger(root):
    # NIFTY options trade in lots of 65: 7 units must be denied.
    d = Daemon(root, paper_config(every=3, qty_units=7, instrument="NIFTY")).start()
    try:
        d.wait_running()
    except AssertionError:
        d.reap()
        raise
    try:
        w = Watcher([d.endpoints(NAMES).pub("risk")], [b"risk.denied"])
        try:
            got = w.collect(lambda msgs: any(isinstance(m, OrderDenied) for m in msgs))
        finally:
            w.close()
        denied = next(m for m in got if isinstance(m, OrderDenied))
        assert denied.strategy == "probe" and denied.reason_code in ("NOT_TRADABLE", "QTY_NOT_LOT_MULTIPLE")
        rows = d.eventually(lambda: audit_rows(d.data_dir, "deny_intent"), "the denial in the ledger's audit")
        assert rows[0].args["strategy"] == "probe" and rows[0].result
        assert d.stop() == 0
    finally:
        d.reap()
