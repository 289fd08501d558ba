"""The whole engine on paper: feed -> book -> strategy -> risk -> execution -> ledger, as real
processes, and what must hold in the ledger afterwards, including across kill -9 of execution."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import time
from collections import defaultdict

import pytest

from engine.ledger import LedgerReader, ledger_dir
from ipc.messages import OrderDenied, OrderState
from tests.support.daemon import Daemon, Watcher, short_tmpdir

START_CASH = 1_000_000_000
NAMES = ("feed", "book", "strategy", "risk", "execution", "supervisor")


def paper_config(topology: str = "isolated", every: int = 5, rate: int = 400, qty_units: int = 0,
                 instrument: str = "RELIANCE") -> str:
    return f"""
[engine]
actors = ["feed", "book", "strategy", "risk", "execution"]
topology = "{topology}"
heartbeat_interval_s = 0.2
heartbeat_timeout_s = 3.0
[engine.restart]
backoff_initial_s = 0.2
backoff_max_s = 1.0
max_restarts = 20
window_s = 60.0
[log]
format = "json"
[feed.synthetic]
rate_per_s = {rate}
underlyings = ["NIFTY"]
option_strikes_each_side = 1
stocks = ["RELIANCE"]
[risk.limits]
max_orders_per_second = 1000
max_orders_per_day = 1000000
max_trades_per_day = 1000000
[execution]
starting_cash_paise = {START_CASH}
[[strategy.instances]]
name = "probe"
kind = "probe"
instrument = "{instrument}"
params = {{ every_n_ticks = {every}, qty_units = {qty_units} }}
"""


@pytest.fixture
def root():
    path = short_tmpdir()
    yield path
    if not os.environ.get("SHIKRA_KEEP_TMP"):  # keep the daemon log and ledger to debug a failure
        shutil.rmtree(path, ignore_errors=True)


def ledger_facts(data_dir):
    with LedgerReader.open(ledger_dir(data_dir)) as reader, reader.snapshot() as snap:
        return {"orders": snap.orders(), "fills": snap.fills(), "positions": snap.positions(),
                "wallet": snap.wallet(), "verify": snap.verify(), "audit": list(snap.audit(0, 100000))}


def probe_state(data_dir):
    """The probe strategy's state as the ledger holds it (saved when the strategy actor stops)."""
    import msgspec

    from actors.strategy.builtin.probe import ProbeState
    with LedgerReader.open(ledger_dir(data_dir)) as reader, reader.snapshot() as snap:
        saved = snap.strategy_state("probe")
    assert saved is not None, "no saved state for the probe strategy"
    return msgspec.msgpack.decode(saved.state, type=ProbeState)


def wait_for_fills(d: Daemon, n: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if len(ledger_facts(d.data_dir)["fills"]) >= n:
                return
        except Exception:
            pass
        assert d.proc.poll() is None, d.log()[-3000:]
        time.sleep(0.3)
    raise AssertionError(f"fewer than {n} fills after {timeout_s}s:\n{d.log()[-3000:]}")


def assert_books_balance(facts) -> None:
    """Positions are the sum of fills; cash is start - buys + sells - charges, to the paisa."""
    assert facts["verify"] == []
    net: dict[tuple, int] = defaultdict(int)
    cash = START_CASH
    charges = 0
    for f in facts["fills"].values():
        signed = f.qty_units if f.side == "BUY" else -f.qty_units
        net[(f.strategy, f.segment, f.security_id)] += signed
        cash += -f.qty_units * f.price_paise if f.side == "BUY" else f.qty_units * f.price_paise
        cash -= f.charges_paise
        charges += f.charges_paise
    for key, pos in facts["positions"].items():
        assert pos.net_qty_units == net[(pos.strategy, pos.segment, pos.security_id)]
    assert facts["wallet"].cash_paise == cash
    assert facts["wallet"].charges_paise == charges
    for order in facts["orders"].values():
        filled = [f for f in facts["fills"].values() if f.client_order_id == order.client_order_id]
        assert order.filled_qty_units == sum(f.qty_units for f in filled)
        assert order.filled_value_paise == sum(f.qty_units * f.price_paise for f in filled)


def assert_every_intent_is_exactly_one_order(facts) -> None:
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
        if row.action == "deny_intent" and row.args.get("reason_code") != "DUPLICATE_INTENT":
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
    d = Daemon(root, paper_config(every=2, rate=600)).start()
    rng = random.Random(7)
    try:
        d.wait_running()
        for round_no in range(3):
            wait_for_fills(d, 5 * (round_no + 1))
            time.sleep(rng.uniform(0.0, 0.5))
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
    ready = [line for line in d2.log().splitlines() if '"execution_ready"' in line][-1]
    assert f'"cash_paise":{first["wallet"].cash_paise}' in ready
    started = [line for line in d2.log().splitlines() if '"strategy_started"' in line][-1]
    assert '"restored":true' in started
    ticks_after_second = probe_state(d.data_dir).ticks
    assert ticks_after_second > first_state.ticks, "the counters continued from the saved state"
    facts = ledger_facts(d.data_dir)
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
        time.sleep(1.0)
        assert d.stop() == 0
    finally:
        d.reap()
    audit = ledger_facts(d.data_dir)["audit"]
    rows = [row for _seq, row in audit if row.action == "deny_intent"]
    assert rows and rows[0].args["strategy"] == "probe" and rows[0].result
