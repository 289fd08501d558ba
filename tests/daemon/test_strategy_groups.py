"""Option structures go out as one order group through the real daemon: risk checks every leg,
execution puts the hedges on first, and a group with a denied leg sends no leg at all."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from actors.risk.usage import read_usage
from engine.ledger import LedgerError, LedgerReader, ledger_dir
from ipc.messages import GroupState, OrderState
from tests.support.daemon import Daemon, short_tmpdir

pytestmark = pytest.mark.slow


def condor_config(max_open_orders: int) -> str:
    return f"""
[engine]
actors = ["feed", "book", "strategy", "risk", "execution"]
heartbeat_interval_s = 0.2
heartbeat_timeout_s = 3.0
[log]
format = "json"
[feed.synthetic]
rate_per_s = 400
underlyings = ["NIFTY"]
option_strikes_each_side = 6
stocks = []
[risk.limits]
max_orders_per_second = 1000
max_open_orders = {max_open_orders}
[[strategy.instances]]
name = "condor"
kind = "iron_condor"
params = {{ underlying = "NIFTY", entry_time_ist = "00:00:00", entry_cutoff_ist = "23:58:00", square_off_ist = "23:59:00", max_entries_per_day = 50 }}
"""


def ledger_read(d: Daemon, read):  # type: ignore[no-untyped-def]
    try:
        with LedgerReader.open(ledger_dir(d.data_dir)) as reader, reader.snapshot() as snap:
            return read(snap)
    except LedgerError:
        return None


def wait(what: str, fn, timeout_s: float = 40.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = fn()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def root():
    path = short_tmpdir("sk-grp-")
    yield path
    if not os.environ.get("SHIKRA_KEEP_TMP"):
        shutil.rmtree(path, ignore_errors=True)


def test_iron_condor_is_one_group_with_the_hedges_filled_before_the_short_legs_are_sent(root) -> None:
    d = Daemon(root, condor_config(max_open_orders=50)).start()
    try:
        d.wait_running()
        group = wait("a complete condor group", lambda: next(
            (g for g in (ledger_read(d, lambda s: list(s.groups().values())) or [])
             if g.state is GroupState.COMPLETE), None), timeout_s=60)
        assert group.structure == "IRON_CONDOR" and group.strategy == "condor" and len(group.legs) == 4
        orders = ledger_read(d, lambda s: {o.intent_id: o for o in s.orders().values()})
        legs = [orders[leg.intent.intent_id] for leg in group.legs]
        assert all(o.state is OrderState.FILLED for o in legs)
        buys = [o for o in legs if o.side == "BUY"]
        sells = [o for o in legs if o.side == "SELL"]
        assert len(buys) == 2 and len(sells) == 2
        fills = ledger_read(d, lambda s: list(s.fills().values()))
        last_hedge_fill = max(f.ts_event_ns for f in fills if f.client_order_id in {o.client_order_id for o in buys})
        assert all(o.ts_sent_ns >= last_hedge_fill for o in sells), "a short leg went out before its hedges filled"
        assert '"group_resent"' not in d.log() and '"order_resent"' not in d.log()
        assert d.stop() == 0
    finally:
        d.reap()


def test_a_group_with_a_denied_leg_sends_no_leg_and_frees_what_risk_had_counted(root) -> None:
    d = Daemon(root, condor_config(max_open_orders=3)).start()  # the 4th leg is one too many
    try:
        d.wait_running()
        wait("the group denial", lambda: '"reason":"MAX_OPEN_ORDERS"' in d.log() or None)
        time.sleep(1.5)  # risk writes its usage once a second
        assert "GROUP_LEG_DENIED" in d.log()
        assert not ledger_read(d, lambda s: [o for o in s.orders().values() if o.strategy == "condor"])
        usage = read_usage(d.run_dir)
        assert usage is not None and usage.open_orders == 0 and usage.reserved_paise == 0
        assert d.stop() == 0
    finally:
        d.reap()
