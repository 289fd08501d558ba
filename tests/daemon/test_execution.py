"""Hundreds of random orders (MARKET and LIMIT, both sides, cancels) through the real daemon while
execution is killed with SIGKILL three times: afterwards the ledger still balances to the paisa and
every intent is exactly one order or one audited denial."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

from actors.execution.config import ExecutionConfig
from actors.risk.config import RiskConfig
from actors.strategy.config import StrategyConfig
from engine.config import Config
from ipc.messages import OrderState
from tests.support.config import daemon_config, strategy_instance, synthetic_feed, unlimited_limits
from tests.support.daemon import Daemon
from tests.support.ledger import (
    START_CASH,
    assert_books_balance,
    assert_every_intent_is_exactly_one_order,
    ledger_facts,
)

RANDOM_ORDERS = 300

RANDOM_STRATEGY = '''
from __future__ import annotations

import random

from actors.strategy.api import Strategy, StrategyParams, StrategyState
from ipc.messages import OrderEvent, Quote, Tick

_OPEN = {"SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED", "TRIGGERED"}


class RandomParams(StrategyParams):
    every_n_ticks: int = 2
    max_orders: int = 300
    seed: int = 11
    cancel_percent: int = 25


class RandomState(StrategyState):
    ticks: int = 0
    orders: int = 0


class RandomOrders(Strategy):
    """MARKET and LIMIT orders, both sides, random lots; cancels some of its resting orders."""

    kind = "random_orders"
    Params = RandomParams
    State = RandomState

    def on_start(self) -> None:
        self.rng = random.Random(self.params.seed)
        self.open: list[str] = []

    def on_tick(self, tick: Tick) -> None:
        self._act(tick.ltp_paise, tick)

    def on_quote(self, quote: Quote) -> None:
        self._act(quote.ltp_paise, quote)

    def on_order(self, order: OrderEvent) -> None:
        if order.state.value in _OPEN:
            if order.client_order_id not in self.open:
                self.open.append(order.client_order_id)
        elif order.client_order_id in self.open:
            self.open.remove(order.client_order_id)

    def _act(self, ltp: int, cause) -> None:
        st = self.state
        st.ticks += 1
        if st.ticks % self.params.every_n_ticks or st.orders >= self.params.max_orders or ltp <= 0:
            return
        inst = self.instrument
        rng = self.rng
        st.orders += 1
        side = rng.choice(("BUY", "SELL"))
        qty = inst.lot_size_units * rng.randint(1, 5)
        if rng.random() < 0.5:
            self.ctx.submit(inst, side, qty, cause=cause)
        else:
            tick = inst.tick_paise
            price = (ltp // tick + rng.randint(-4, 4)) * tick
            validity = "IOC" if rng.random() < 0.2 else "DAY"
            self.ctx.submit(inst, side, qty, order_type="LIMIT", price_paise=price, validity=validity, cause=cause)
        if self.open and rng.randint(1, 100) <= self.params.cancel_percent:
            self.ctx.cancel(self.open.pop(rng.randrange(len(self.open))))
'''


def random_config(user_dir: Path) -> Config:
    return daemon_config(
        feed=synthetic_feed(["RELIANCE"], ["NIFTY"], rate_per_s=600),
        risk=RiskConfig(limits=unlimited_limits(max_open_orders=1000)),
        execution=ExecutionConfig(starting_cash_paise=START_CASH),
        strategy=StrategyConfig(user_dir=str(user_dir), instances=[strategy_instance(
            "probe", "random_orders", "RELIANCE", every_n_ticks=2, max_orders=RANDOM_ORDERS, seed=11,
            cancel_percent=25)]))


def _accounted(data_dir: Path) -> int:
    """Intents of the probe that became an order or an audited denial so far."""
    facts = ledger_facts(data_dir)
    denied = {row.args["intent_id"] for _seq, row in facts["audit"]
              if row.action == "deny_intent"}
    ordered = {o.intent_id for o in facts["orders"].values() if o.intent_id.startswith("probe-")}
    return len(ordered | denied)


def test_random_orders_with_execution_killed_keep_the_ledger_exact(root):
    user_dir = root / "strategies"
    user_dir.mkdir()
    (user_dir / "random_orders.py").write_text(RANDOM_STRATEGY)
    d = Daemon(root, random_config(user_dir)).start()
    rng = random.Random(3)
    try:
        d.wait_running()
        for target in (40, 110, 190):
            goal = target + rng.randint(0, 30)  # the kill lands anywhere in the flow
            d.eventually(lambda: _accounted(d.data_dir) >= goal, f"{goal} intents accounted")
            victim = d.actor("execution").pid
            os.kill(victim, signal.SIGKILL)
            d.wait_for(lambda s: next(a for a in s.actors if a.name == "execution").pid not in (0, victim)
                       and next(a for a in s.actors if a.name == "execution").state == "ready",
                       what="execution back")
        d.eventually(lambda: _accounted(d.data_dir) >= RANDOM_ORDERS, f"all {RANDOM_ORDERS} intents accounted")
        assert d.stop() == 0
    finally:
        d.reap()
    facts = ledger_facts(d.data_dir)
    assert_every_intent_is_exactly_one_order(facts)
    assert_books_balance(facts)  # positions = sum of fills, cash to the paisa, verify() empty
    # Orders open across a kill went back to the fresh venue: no venue answer was refused by the
    # state machine, and every cancel got its answer.
    assert '"illegal_transition"' not in d.log()
    assert not [o for o in facts["orders"].values() if o.state is OrderState.PENDING_CANCEL]
    states = {o.state for o in facts["orders"].values()}
    assert {OrderState.FILLED, OrderState.CANCELED} <= states  # the random mix really ran
    assert any(o.spec.order_type == "LIMIT" for o in facts["orders"].values())
    assert facts["wallet"].cash_paise != START_CASH
