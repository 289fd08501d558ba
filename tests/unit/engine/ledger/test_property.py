"""Random order flows through a real ledger: replay agrees, money and quantities add up exactly;
positions are kept per product, and per instrument they add up to the product-blind net."""

from __future__ import annotations

import tempfile
from collections import defaultdict

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.ledger import (
    TRADING_ACCOUNT,
    CashMovement,
    FoldIssueCode,
    Ledger,
    LedgerConfig,
    LedgerReader,
    PositionConverted,
)
from ipc.messages import PRODUCTS, Fill, OrderEvent, OrderSpec, OrderState
from tests.support.ledger import record_new

INSTRUMENTS = [(1, 1333), (2, 55796), (5, 4242)]
STRATEGIES = ["ema", "orb", "mr"]
PRODUCT_NAMES = sorted(PRODUCTS)

a_fill = st.tuples(
    st.integers(1, 40),  # qty units
    st.integers(1, 5_000_000),  # price paise
    st.integers(0, 5_000),  # charges paise
)
an_order = st.fixed_dictionaries({
    "strategy": st.sampled_from(STRATEGIES),
    "instrument": st.sampled_from(INSTRUMENTS),
    "side": st.sampled_from(["BUY", "SELL"]),
    "product": st.sampled_from(PRODUCT_NAMES),
    "fills": st.lists(a_fill, min_size=0, max_size=4),
    "batch": st.booleans(),  # all its fills in one append, or one append per fill
})
a_flow = st.fixed_dictionaries({
    "deposits": st.lists(st.integers(1, 10**10), min_size=1, max_size=3),
    "orders": st.lists(an_order, min_size=1, max_size=12),
    "resend": st.lists(st.integers(0, 10**6), max_size=6),  # fills re-sent by the venue
    "withdrawal": st.integers(0, 10**6),
    # conversions after the fills: (order index, from, to, qty); the fold refuses those the
    # positions cannot take, the model below says which
    "conversions": st.lists(st.tuples(st.integers(0, 11), st.sampled_from(PRODUCT_NAMES),
                                      st.sampled_from(PRODUCT_NAMES), st.integers(1, 60)), max_size=6),
})


def submitted(intent_id: str, order: dict) -> OrderEvent:
    segment, security_id = order["instrument"]
    spec = OrderSpec(segment=segment, security_id=security_id, side=order["side"], order_type="MARKET",
                     product=order["product"], qty_units=sum(qty for qty, _p, _c in order["fills"]) or 1)
    return OrderEvent(
        client_order_id="", intent_id=intent_id, strategy=order["strategy"], spec=spec, state=OrderState.SUBMITTED, filled_qty_units=0, filled_value_paise=0, venue_order_id="",
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
                new = record_new(ledger, submitted(f"{order['strategy']}-{n}", order))
                current = ledger.order(new.client_order_id)
                events: list = []
                for k, (qty, price, charges) in enumerate(order["fills"]):
                    fill = Fill(fill_id=f"{new.client_order_id}-{k}", client_order_id=new.client_order_id,
                                venue_order_id="V", strategy=order["strategy"], segment=current.spec.segment,
                                security_id=current.spec.security_id, side=order["side"], qty_units=qty,
                                price_paise=price, charges_paise=charges, ts_event_ns=2, ts_init_ns=2,
                                product=current.spec.product)
                    filled = current.filled_qty_units + qty
                    current = msgspec.structs.replace(
                        current, filled_qty_units=filled, filled_value_paise=current.filled_value_paise + qty * price,
                        state=OrderState.FILLED if filled == current.spec.qty_units else OrderState.PARTIALLY_FILLED)
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
            by_product: dict = defaultdict(int)  # the model: net units per position key
            for fill in sent:
                by_product[(fill.strategy, fill.segment, fill.security_id, fill.product)] += (
                    fill.qty_units if fill.side == "BUY" else -fill.qty_units)
            refused_conversions = 0
            for index, source, destination, qty in flow["conversions"]:
                order = flow["orders"][index % len(flow["orders"])]
                base = (order["strategy"], *order["instrument"])
                held, other = by_product[(*base, source)], by_product[(*base, destination)]
                takes = source != destination and held != 0 and qty <= abs(held) and (
                    other == 0 or (other > 0) == (held > 0))
                seqs = ledger.append([PositionConverted(strategy=base[0], segment=base[1], security_id=base[2],
                                                        from_product=source, to_product=destination, qty_units=qty,
                                                        by="alice", venue_ref="", ts_ns=4)])
                assert (seqs != [0]) == takes
                if takes:
                    moved = qty if held > 0 else -qty
                    by_product[(*base, source)] -= moved
                    by_product[(*base, destination)] += moved
                else:
                    refused_conversions += 1
            assert ledger.verify() == []
            assert ledger.stats().refused.get(FoldIssueCode.BAD_CONVERSION.value, 0) == refused_conversions
            assert ledger.stats().refused.get(FoldIssueCode.DUPLICATE_FILL.value, 0) == len(resent)

        with LedgerReader.open(directory) as reader, reader.snapshot() as snap:
            assert snap.verify() == []
            assert len(snap.fills()) == len(sent)  # duplicates counted once
            net: dict = defaultdict(int)
            trade_value: dict = defaultdict(int)  # sell value - buy value
            charges: dict = defaultdict(int)
            for fill in sent:
                key = (fill.strategy, fill.segment, fill.security_id)  # per instrument, product-blind
                sign = 1 if fill.side == "BUY" else -1
                net[key] += sign * fill.qty_units
                trade_value[key] -= sign * fill.qty_units * fill.price_paise
                charges[key] += fill.charges_paise
            positions = snap.positions()
            assert all(key[3] == p.product for key, p in positions.items())
            assert {key: p.net_qty_units for key, p in positions.items()} == {
                key: units for key, units in by_product.items() if key in positions or units}

            def per_instrument(figure) -> dict:  # type: ignore[no-untyped-def]
                out: dict = defaultdict(int)
                for (strategy, segment, security_id, _product), p in positions.items():
                    out[(strategy, segment, security_id)] += figure(p)
                return dict(out)

            assert per_instrument(lambda p: p.net_qty_units) == dict(net)
            assert per_instrument(lambda p: p.charges_paise) == dict(charges)
            # Average cost moves cost between "open" and "realised", and a conversion between
            # products: never creates or loses any.
            assert per_instrument(lambda p: p.realised_pnl_paise - p.open_cost_paise) == dict(trade_value)
            assert all(p.open_cost_paise == 0 for p in positions.values() if p.net_qty_units == 0)
            expected_cash = (sum(flow["deposits"]) - flow["withdrawal"] + sum(trade_value.values())
                             - sum(charges.values()))
            assert snap.wallet().cash_paise == expected_cash
            assert len({o.client_order_id for o in snap.orders().values()}) == len(flow["orders"])
