"""Random order flows through a real ledger: replay agrees, money and quantities add up exactly."""

from __future__ import annotations

import tempfile
from collections import defaultdict

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.ledger import TRADING_ACCOUNT, CashMovement, FoldIssueCode, Ledger, LedgerConfig, LedgerReader
from ipc.messages import Fill, OrderEvent, OrderState

INSTRUMENTS = [(1, 1333), (2, 55796), (5, 4242)]
STRATEGIES = ["ema", "orb", "mr"]

a_fill = st.tuples(
    st.integers(1, 40),  # qty units
    st.integers(1, 5_000_000),  # price paise
    st.integers(0, 5_000),  # charges paise
)
an_order = st.fixed_dictionaries({
    "strategy": st.sampled_from(STRATEGIES),
    "instrument": st.sampled_from(INSTRUMENTS),
    "side": st.sampled_from(["BUY", "SELL"]),
    "fills": st.lists(a_fill, min_size=0, max_size=4),
    "batch": st.booleans(),  # all its fills in one append, or one append per fill
})
a_flow = st.fixed_dictionaries({
    "deposits": st.lists(st.integers(1, 10**10), min_size=1, max_size=3),
    "orders": st.lists(an_order, min_size=1, max_size=12),
    "resend": st.lists(st.integers(0, 10**6), max_size=6),  # fills re-sent by the venue
    "withdrawal": st.integers(0, 10**6),
})


def submitted(intent_id: str, order: dict) -> OrderEvent:
    segment, security_id = order["instrument"]
    return OrderEvent(
        client_order_id="", intent_id=intent_id, strategy=order["strategy"], segment=segment,
        security_id=security_id, side=order["side"], order_type="MARKET", validity="DAY", product="INTRADAY",
        qty_units=sum(qty for qty, _p, _c in order["fills"]) or 1, price_paise=0, trigger_price_paise=0,
        state=OrderState.SUBMITTED, filled_qty_units=0, filled_value_paise=0, venue_order_id="",
        reason_code="", reason="", ts_event_ns=1_700_000_000_000_000_000, ts_init_ns=1,
    )


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(flow=a_flow)
def test_random_flows_replay_identically_and_add_up_exactly(flow: dict) -> None:
    with tempfile.TemporaryDirectory() as directory:
        sent: list[Fill] = []
        with Ledger.open(directory, LedgerConfig(initial_map_size_bytes=1 << 20, durability="os")) as ledger:
            ledger.append([CashMovement(kind="DEPOSIT", amount_paise=amount, account=TRADING_ACCOUNT, note="",
                                        ts_ns=1) for amount in flow["deposits"]])
            for n, order in enumerate(flow["orders"]):
                new = ledger.record_new_order(submitted(f"{order['strategy']}-{n}", order))
                current = ledger.order(new.client_order_id)
                events: list = []
                for k, (qty, price, charges) in enumerate(order["fills"]):
                    fill = Fill(fill_id=f"{new.client_order_id}-{k}", client_order_id=new.client_order_id,
                                venue_order_id="V", strategy=order["strategy"], segment=current.segment,
                                security_id=current.security_id, side=order["side"], qty_units=qty,
                                price_paise=price, charges_paise=charges, ts_event_ns=2, ts_init_ns=2)
                    filled = current.filled_qty_units + qty
                    current = msgspec.structs.replace(
                        current, filled_qty_units=filled, filled_value_paise=current.filled_value_paise + qty * price,
                        state=OrderState.FILLED if filled == current.qty_units else OrderState.PARTIALLY_FILLED)
                    sent.append(fill)
                    events += [fill, current]
                    if not order["batch"]:
                        ledger.append(events)
                        events = []
                if events:
                    ledger.append(events)
            resent = [sent[i % len(sent)] for i in flow["resend"]] if sent else []
            for fill in resent:
                assert ledger.append([fill]) == [0]
            ledger.append([CashMovement(kind="ADJUSTMENT", amount_paise=-flow["withdrawal"], account=TRADING_ACCOUNT,
                                        note="", ts_ns=3)] if flow["withdrawal"] else [])
            assert ledger.verify() == []
            assert ledger.stats().refused.get(FoldIssueCode.DUPLICATE_FILL.value, 0) == len(resent)

        with LedgerReader.open(directory) as reader, reader.snapshot() as snap:
            assert snap.verify() == []
            assert len(snap.fills()) == len(sent)  # duplicates counted once
            net: dict = defaultdict(int)
            trade_value: dict = defaultdict(int)  # sell value - buy value
            charges: dict = defaultdict(int)
            for fill in sent:
                key = (fill.strategy, fill.segment, fill.security_id)
                sign = 1 if fill.side == "BUY" else -1
                net[key] += sign * fill.qty_units
                trade_value[key] -= sign * fill.qty_units * fill.price_paise
                charges[key] += fill.charges_paise
            positions = snap.positions()
            assert {key: p.net_qty_units for key, p in positions.items()} == dict(net)
            assert {key: p.charges_paise for key, p in positions.items()} == dict(charges)
            # Average cost moves cost between "open" and "realised", never creates or loses any.
            assert {key: p.realised_pnl_paise - p.open_cost_paise for key, p in positions.items()} == dict(trade_value)
            assert all(p.open_cost_paise == 0 for p in positions.values() if p.net_qty_units == 0)
            expected_cash = (sum(flow["deposits"]) - flow["withdrawal"] + sum(trade_value.values())
                             - sum(charges.values()))
            assert snap.wallet().cash_paise == expected_cash
            assert len({o.client_order_id for o in snap.orders().values()}) == len(flow["orders"])
