"""Option structures go out as one order group through the real daemon: risk checks every leg,
execution puts the hedges on first, and a group with a denied leg sends no leg at all."""

from __future__ import annotations

from actors.risk.limits import RiskLimits
from actors.risk.config import RiskConfig
from actors.strategy.config import StrategyConfig
from engine.config import Config
from ipc import topics
from ipc.messages import GroupState, OrderState, RiskUsage
from tests.support.config import daemon_config, strategy_instance, synthetic_feed
from tests.support.daemon import Daemon, Watcher
from tests.support.ledger import audit_rows, read_ledger


def condor_config(max_open_orders: int) -> Config:
    """An iron condor on NIFTY, entered at any hour (the synthetic market never closes)."""
    return daemon_config(
        feed=synthetic_feed([], ["NIFTY"], option_strikes_each_side=6),
        risk=RiskConfig(limits=RiskLimits(max_orders_per_second=1000, max_open_orders=max_open_orders)),
        strategy=StrategyConfig(instances=[strategy_instance(
            "condor", "iron_condor", underlying="NIFTY", entry_time_ist="00:00:00", entry_cutoff_ist="23:58:00",
            square_off_ist="23:59:00", max_entries_per_day=50)]))


def test_iron_condor_is_one_group_with_the_hedges_filled_before_the_short_legs_are_sent(root) -> None:
    d = Daemon(root, condor_config(max_open_orders=50)).start()
    try:
        d.wait_running()
        group = d.eventually(lambda: next((g for g in read_ledger(d.data_dir, lambda s: s.groups().values())
                                           if g.state is GroupState.COMPLETE), None), "a complete condor group")
        assert group.structure == "IRON_CONDOR" and group.strategy == "condor" and len(group.legs) == 4
        orders = read_ledger(d.data_dir, lambda s: {o.intent_id: o for o in s.orders().values()})
        legs = [orders[leg.intent.intent_id] for leg in group.legs]
        assert all(o.state is OrderState.FILLED for o in legs)
        buys = [o for o in legs if o.spec.side == "BUY"]
        sells = [o for o in legs if o.spec.side == "SELL"]
        assert len(buys) == 2 and len(sells) == 2
        fills = read_ledger(d.data_dir, lambda s: list(s.fills().values()))
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

        def group_denied() -> list:  # one leg over the limit, the other three denied with it
            rows = [r for r in audit_rows(d.data_dir, "deny_intent") if r.args.get("strategy") == "condor"]
            reasons = {r.args.get("reason_code") for r in rows}
            return rows if {"MAX_OPEN_ORDERS", "GROUP_LEG_DENIED"} <= reasons else []

        denied_ns = max(r.ts_ns for r in d.eventually(group_denied, "the group's legs denied in the ledger's audit"))
        assert not read_ledger(d.data_dir, lambda s: [o for o in s.orders().values() if o.strategy == "condor"])
        watcher = Watcher([d.endpoints(("risk",)).pub("risk")], [topics.RISK_USAGE.encode()])
        try:  # risk publishes its usage at least every few seconds
            got = watcher.collect(lambda ms: isinstance(ms[-1], RiskUsage) and ms[-1].ts_ns > denied_ns)
        finally:
            watcher.close()
        usage = got[-1]
        assert usage.open_orders == 0 and usage.reserved_paise == 0
        assert d.stop() == 0
    finally:
        d.reap()
