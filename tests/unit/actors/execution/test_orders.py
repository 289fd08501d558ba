"""actors.execution.orders: spec validation and the pure order state machine."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.execution.orders import (
    DHAN_MODIFY_CAP,
    LIFECYCLE_EVENT_TYPES,
    TERMINAL_STATES,
    Accept,
    AnyLifecycleEvent,
    Cancel,
    CancelRejected,
    Deny,
    Expire,
    Fill,
    IllegalTransition,
    LifecycleEvent,
    ModifyAccepted,
    ModifyRejected,
    OrderSnapshot,
    OrderSpec,
    Reject,
    RejectReason,
    RequestCancel,
    RequestModify,
    Submit,
    TransitionError,
    Trigger,
    apply,
    describe_reject,
    invariant_violations,
    modified_spec,
    new_order,
    spec_from_intent,
    to_order_event,
    validate_spec,
)
from ipc.messages import OrderEvent, OrderIntent, OrderState

S = OrderState
LOT = 65
TICK = 5


def make_spec(**overrides: Any) -> OrderSpec:
    fields: dict[str, Any] = dict(
        client_order_id="c-1",
        intent_id="i-1",
        strategy="orb",
        segment=2,
        security_id=55796,
        side="BUY",
        order_type="LIMIT",
        validity="DAY",
        product="INTRADAY",
        qty_units=130,
        price_paise=12050,
        trigger_price_paise=0,
    )
    fields.update(overrides)
    return OrderSpec(**fields)


def stop_spec(**overrides: Any) -> OrderSpec:
    return make_spec(order_type="SL", price_paise=12100, trigger_price_paise=12050, **overrides)


def ok(result: OrderSnapshot | IllegalTransition) -> OrderSnapshot:
    assert isinstance(result, OrderSnapshot), result
    assert invariant_violations(result) == ()
    return result


def run(order: OrderSnapshot, *events: LifecycleEvent) -> OrderSnapshot:
    for event in events:
        order = ok(apply(order, event))
    return order


def refused(result: OrderSnapshot | IllegalTransition, code: TransitionError) -> IllegalTransition:
    assert isinstance(result, IllegalTransition), result
    assert result.code is code, result
    return result


# ---------------------------------------------------------------------------- validate_spec


@pytest.mark.parametrize(
    ("overrides", "reason", "text"),
    [
        ({"client_order_id": ""}, RejectReason.MISSING_CLIENT_ORDER_ID, "no client order id"),
        ({"segment": 0}, RejectReason.SEGMENT_NOT_TRADABLE, "IDX_I:55796"),
        ({"side": "HOLD"}, RejectReason.BAD_SIDE, "'HOLD'"),
        ({"order_type": "STOP"}, RejectReason.BAD_ORDER_TYPE, "'STOP'"),
        ({"validity": "GTC"}, RejectReason.BAD_VALIDITY, "'GTC'"),
        ({"product": "BO"}, RejectReason.BAD_PRODUCT, "'BO'"),
        ({"product": "CNC"}, RejectReason.PRODUCT_NOT_FOR_SEGMENT, "CNC"),
        ({"qty_units": 0}, RejectReason.QTY_NOT_POSITIVE, "qty 0"),
        ({"qty_units": -65}, RejectReason.QTY_NOT_POSITIVE, "qty -65"),
        (
            {"qty_units": 75},
            RejectReason.QTY_NOT_LOT_MULTIPLE,
            "qty 75 is not a multiple of lot size 65 for NSE_FNO:55796",
        ),
        (
            {"qty_units": 1820},
            RejectReason.QTY_ABOVE_FREEZE,
            "qty 1820 is above the freeze quantity 1800",
        ),
        (
            {"price_paise": 0},
            RejectReason.PRICE_REQUIRED,
            "LIMIT order needs a positive price, got 0.00",
        ),
        ({"price_paise": 12052}, RejectReason.PRICE_NOT_ON_TICK, "price 120.52 is not on tick 0.05"),
        (
            {"order_type": "MARKET"},
            RejectReason.PRICE_NOT_ALLOWED,
            "MARKET order takes no price, got 120.50",
        ),
        (
            {"trigger_price_paise": 12000},
            RejectReason.TRIGGER_NOT_ALLOWED,
            "takes no trigger price, got 120.00",
        ),
        ({"order_type": "SL"}, RejectReason.TRIGGER_REQUIRED, "SL order needs a positive trigger price"),
        (
            {"order_type": "SL_M", "price_paise": 0, "trigger_price_paise": 12051},
            RejectReason.TRIGGER_NOT_ON_TICK,
            "trigger price 120.51 is not on tick 0.05",
        ),
        (
            {"order_type": "SL", "trigger_price_paise": 12100},
            RejectReason.TRIGGER_BEYOND_PRICE,
            "BUY SL trigger 121.00 is above its limit price 120.50",
        ),
        (
            {"order_type": "SL", "side": "SELL", "trigger_price_paise": 12000},
            RejectReason.TRIGGER_BEYOND_PRICE,
            "SELL SL trigger 120.00 is below its limit price 120.50",
        ),
    ],
)
def test_validate_spec_names_the_reason_with_its_numbers(
    overrides: dict[str, Any], reason: RejectReason, text: str
) -> None:
    spec = make_spec(**overrides)
    assert validate_spec(spec, LOT, TICK, freeze_qty_units=1800) is reason
    assert text in describe_reject(reason, spec, LOT, TICK, freeze_qty_units=1800)


@pytest.mark.parametrize(
    ("lot", "tick", "reason"),
    [(0, TICK, RejectReason.LOT_SIZE_INVALID), (LOT, 0, RejectReason.TICK_SIZE_INVALID)],
)
def test_validate_spec_refuses_broken_instrument_parameters(
    lot: int, tick: int, reason: RejectReason
) -> None:
    assert validate_spec(make_spec(), lot, tick) is reason
    assert describe_reject(reason, make_spec(), lot, tick)  # builds text without crashing


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"order_type": "MARKET", "price_paise": 0, "validity": "IOC"},
        {"order_type": "SL", "price_paise": 12100, "trigger_price_paise": 12050},
        {"order_type": "SL", "side": "SELL", "price_paise": 12000, "trigger_price_paise": 12050},
        {"order_type": "SL_M", "price_paise": 0, "trigger_price_paise": 12050},
        {"segment": 1, "product": "CNC", "qty_units": 7, "price_paise": 290000},
        {"qty_units": 1800 - 1800 % LOT},
    ],
)
def test_validate_spec_accepts_well_formed_orders(overrides: dict[str, Any]) -> None:
    lot = 1 if overrides.get("segment") == 1 else LOT
    assert validate_spec(make_spec(**overrides), lot, TICK, freeze_qty_units=1800) is None


def test_freeze_limit_zero_means_unknown_and_is_not_enforced() -> None:
    assert validate_spec(make_spec(qty_units=LOT * 100), LOT, TICK) is None


def test_modified_spec_is_validated_like_a_new_order() -> None:
    order = new_order(make_spec())
    request = RequestModify(qty_units=100, price_paise=12055)
    assert validate_spec(modified_spec(order, request), LOT, TICK) is RejectReason.QTY_NOT_LOT_MULTIPLE


def test_spec_from_intent_copies_what_was_asked() -> None:
    intent = OrderIntent(
        intent_id="orb-7",
        strategy="orb",
        segment=2,
        security_id=55796,
        side="SELL",
        qty_units=65,
        order_type="SL_M",
        price_paise=0,
        trigger_price_paise=11800,
        validity="DAY",
        product="MARGIN",
        ts_event_ns=1,
        ts_init_ns=2,
        ts_created_ns=3,
    )
    spec = spec_from_intent(intent, "c-9", ts_approved_ns=4)
    assert (spec.client_order_id, spec.intent_id, spec.side, spec.order_type, spec.qty_units) == (
        "c-9",
        "orb-7",
        "SELL",
        "SL_M",
        65,
    )
    assert (spec.trigger_price_paise, spec.product, spec.ts_created_ns, spec.ts_approved_ns) == (
        11800,
        "MARGIN",
        3,
        4,
    )


# ---------------------------------------------------------------------------- the table, pair by pair

# How to reach each state from scratch (LIMIT order of 130 unless the state needs a stop order).
REACH: dict[OrderState, tuple[OrderSpec, tuple[LifecycleEvent, ...]]] = {
    S.INITIALIZED: (make_spec(), ()),
    S.DENIED: (make_spec(), (Deny("MAX_DAILY_LOSS", "daily loss 5000.00 reached"),)),
    S.SUBMITTED: (make_spec(), (Submit(10),)),
    S.ACCEPTED: (make_spec(), (Submit(10), Accept("V1"))),
    S.REJECTED: (make_spec(), (Submit(10), Reject("RMS", "margin shortfall"))),
    S.TRIGGERED: (stop_spec(), (Submit(10), Accept("V1"), Trigger())),
    S.PARTIALLY_FILLED: (make_spec(), (Submit(10), Accept("V1"), Fill("f1", 65, 12050))),
    S.FILLED: (make_spec(), (Submit(10), Accept("V1"), Fill("f1", 130, 12050))),
    S.CANCELED: (make_spec(), (Submit(10), Accept("V1"), Cancel())),
    S.EXPIRED: (make_spec(), (Submit(10), Accept("V1"), Expire())),
    S.PENDING_CANCEL: (make_spec(), (Submit(10), Accept("V1"), RequestCancel())),
    S.PENDING_UPDATE: (make_spec(), (Submit(10), Accept("V1"), RequestModify(195, 12055))),
}


def reach(state: OrderState) -> OrderSnapshot:
    spec, events = REACH[state]
    order = run(new_order(spec), *events)
    assert order.state is state
    return order


# One representative event of each type, valid in content, so only the state decides.
PROBES: dict[type[LifecycleEvent], LifecycleEvent] = {
    Deny: Deny("X"),
    Submit: Submit(20),
    Accept: Accept("V1"),
    Reject: Reject("X"),
    Trigger: Trigger(),
    Fill: Fill("probe", 65, 12050),
    RequestCancel: RequestCancel(),
    CancelRejected: CancelRejected(),
    Cancel: Cancel(),
    RequestModify: RequestModify(260, 12045),
    ModifyAccepted: ModifyAccepted(),
    ModifyRejected: ModifyRejected(),
    Expire: Expire(),
}

# The expected outcome of every probe in every state, written out by hand: a resulting state,
# or the refusal code. Absent pairs are refused as NOT_ALLOWED_IN_STATE (or ORDER_TERMINAL).
EXPECTED: dict[tuple[OrderState, type[LifecycleEvent]], OrderState | TransitionError] = {
    (S.INITIALIZED, Deny): S.DENIED,
    (S.INITIALIZED, Submit): S.SUBMITTED,
    (S.INITIALIZED, Cancel): S.CANCELED,
    (S.SUBMITTED, Accept): S.ACCEPTED,
    (S.SUBMITTED, Reject): S.REJECTED,
    (S.SUBMITTED, Trigger): TransitionError.NOT_A_STOP_ORDER,
    (S.SUBMITTED, Fill): S.PARTIALLY_FILLED,
    (S.SUBMITTED, RequestCancel): S.PENDING_CANCEL,
    (S.SUBMITTED, Cancel): S.CANCELED,
    (S.SUBMITTED, Expire): S.EXPIRED,
    (S.ACCEPTED, Trigger): TransitionError.NOT_A_STOP_ORDER,
    (S.ACCEPTED, Fill): S.PARTIALLY_FILLED,
    (S.ACCEPTED, RequestCancel): S.PENDING_CANCEL,
    (S.ACCEPTED, RequestModify): S.PENDING_UPDATE,
    (S.ACCEPTED, Cancel): S.CANCELED,
    (S.ACCEPTED, Expire): S.EXPIRED,
    (S.TRIGGERED, Trigger): TransitionError.NOT_ALLOWED_IN_STATE,
    (S.TRIGGERED, Fill): S.PARTIALLY_FILLED,
    (S.TRIGGERED, RequestCancel): S.PENDING_CANCEL,
    (S.TRIGGERED, RequestModify): S.PENDING_UPDATE,
    (S.TRIGGERED, Cancel): S.CANCELED,
    (S.TRIGGERED, Expire): S.EXPIRED,
    (S.PARTIALLY_FILLED, Fill): S.FILLED,  # 65 + 65 of 130
    (S.PARTIALLY_FILLED, RequestCancel): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, RequestModify): S.PENDING_UPDATE,
    (S.PARTIALLY_FILLED, Cancel): S.CANCELED,
    (S.PARTIALLY_FILLED, Expire): S.EXPIRED,
    (S.PENDING_CANCEL, Accept): TransitionError.NOT_ALLOWED_IN_STATE,  # it was accepted already
    (S.PENDING_CANCEL, Reject): TransitionError.NOT_ALLOWED_IN_STATE,  # ditto
    (S.PENDING_CANCEL, Trigger): TransitionError.NOT_A_STOP_ORDER,
    (S.PENDING_CANCEL, Fill): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, Cancel): S.CANCELED,
    (S.PENDING_CANCEL, CancelRejected): S.ACCEPTED,
    (S.PENDING_CANCEL, ModifyAccepted): TransitionError.NO_PENDING_MODIFY,
    (S.PENDING_CANCEL, ModifyRejected): TransitionError.NO_PENDING_MODIFY,
    (S.PENDING_CANCEL, Expire): S.EXPIRED,
    (S.PENDING_UPDATE, Trigger): TransitionError.NOT_A_STOP_ORDER,
    (S.PENDING_UPDATE, Fill): S.PENDING_UPDATE,
    (S.PENDING_UPDATE, RequestCancel): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, ModifyAccepted): S.ACCEPTED,
    (S.PENDING_UPDATE, ModifyRejected): S.ACCEPTED,
    (S.PENDING_UPDATE, Cancel): S.CANCELED,
    (S.PENDING_UPDATE, Expire): S.EXPIRED,
}


@pytest.mark.parametrize("state", list(OrderState), ids=lambda s: s.value)
@pytest.mark.parametrize("event_type", LIFECYCLE_EVENT_TYPES, ids=lambda t: t.__name__)
def test_every_state_and_event_pair_does_what_the_table_says(
    state: OrderState, event_type: type[LifecycleEvent]
) -> None:
    order = reach(state)
    result = apply(order, PROBES[event_type])
    expected = EXPECTED.get((state, event_type))
    if expected is None:
        expected = (
            TransitionError.ORDER_TERMINAL
            if state in TERMINAL_STATES
            else TransitionError.NOT_ALLOWED_IN_STATE
        )
    if isinstance(expected, TransitionError):
        error = refused(result, expected)
        assert (error.from_state, error.event, error.client_order_id) == (
            state,
            event_type.__name__,
            "c-1",
        )
    else:
        assert ok(result).state is expected


def test_apply_returns_a_new_snapshot_and_leaves_the_old_one_alone() -> None:
    before = reach(S.ACCEPTED)
    after = ok(apply(before, Fill("f1", 65, 12050)))
    assert before.state is S.ACCEPTED and before.filled_qty_units == 0
    assert after is not before and after.filled_qty_units == 65


# ---------------------------------------------------------------------------- scenarios


def test_sl_order_passes_through_triggered_before_filling() -> None:
    order = run(new_order(stop_spec()), Submit(1), Accept("V1"))
    assert order.state is S.ACCEPTED and not order.triggered
    order = run(order, Trigger())
    assert order.state is S.TRIGGERED and order.triggered
    order = run(order, Fill("f1", 65, 12100), Fill("f2", 65, 12095))
    assert order.state is S.FILLED
    assert refused(apply(reach(S.TRIGGERED), Trigger()), TransitionError.NOT_ALLOWED_IN_STATE)


def test_sl_m_order_triggers_once_then_refuses_a_second_trigger_while_pending() -> None:
    spec = make_spec(order_type="SL_M", price_paise=0, trigger_price_paise=12050)
    order = run(new_order(spec), Submit(1), Accept("V1"), RequestCancel(), Trigger())
    assert order.state is S.PENDING_CANCEL and order.triggered
    refused(apply(order, Trigger()), TransitionError.ALREADY_TRIGGERED)
    assert run(order, CancelRejected()).state is S.TRIGGERED


def test_trigger_is_refused_for_orders_without_a_trigger() -> None:
    error = refused(apply(reach(S.ACCEPTED), Trigger()), TransitionError.NOT_A_STOP_ORDER)
    assert "LIMIT" in error.reason


def test_stop_order_fill_without_a_trigger_update_is_kept_and_marks_it_triggered() -> None:
    order = run(new_order(stop_spec()), Submit(1), Accept("V1"), Fill("f1", 65, 12100))
    assert order.state is S.PARTIALLY_FILLED and order.triggered


@pytest.mark.parametrize("state", [S.SUBMITTED, S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED])
def test_cancel_rejected_returns_to_the_state_before_the_request(state: OrderState) -> None:
    order = reach(state)
    pending = run(order, RequestCancel())
    assert pending.state is S.PENDING_CANCEL and pending.resume_state is state
    back = run(pending, CancelRejected("ORDER_FILLED_OR_GONE", "exchange refused cancel"))
    assert back.state is state and back.resume_state is None
    assert back.reason_code == "ORDER_FILLED_OR_GONE"


@pytest.mark.parametrize("state", [S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED])
def test_modify_rejected_returns_to_the_state_before_with_the_old_values(state: OrderState) -> None:
    order = reach(state)
    back = run(
        order, RequestModify(260, 12100, order.trigger_price_paise), ModifyRejected("X", "price band")
    )
    assert back.state is state
    assert (back.qty_units, back.price_paise) == (order.qty_units, order.price_paise)
    assert back.pending_modify is None and back.modify_count == 1


def test_cancel_rejected_after_fills_meanwhile_returns_to_partially_filled() -> None:
    order = run(reach(S.ACCEPTED), RequestCancel(), Fill("f1", 65, 12050))
    assert order.state is S.PENDING_CANCEL
    assert run(order, CancelRejected()).state is S.PARTIALLY_FILLED


def test_modify_accepted_applies_the_new_values() -> None:
    order = run(reach(S.PARTIALLY_FILLED), RequestModify(195, 12055), ModifyAccepted())
    assert order.state is S.PARTIALLY_FILLED
    assert (order.qty_units, order.price_paise, order.leaves_qty_units) == (195, 12055, 130)
    assert order.spec.qty_units == 130  # what was asked stays on record


def test_modify_cannot_shrink_the_order_to_or_below_its_filled_qty() -> None:
    error = refused(
        apply(reach(S.PARTIALLY_FILLED), RequestModify(65, 12050)), TransitionError.BAD_MODIFY
    )
    assert "new qty 65 must exceed filled qty 65" in error.reason


def test_modify_cap_defaults_to_dhans_25_and_is_enforced() -> None:
    order = reach(S.ACCEPTED)
    assert order.modify_cap == DHAN_MODIFY_CAP == 25
    for i in range(25):
        order = run(order, RequestModify(130, 12000 + 5 * i), ModifyAccepted())
    error = refused(apply(order, RequestModify(130, 11000)), TransitionError.MODIFY_CAP_REACHED)
    assert "25 times (cap 25)" in error.reason


def test_a_rejected_modify_still_counts_against_the_cap() -> None:
    order = run(new_order(make_spec(), modify_cap=1), Submit(1), Accept("V1"))
    order = run(order, RequestModify(195, 12050), ModifyRejected())
    refused(apply(order, RequestModify(195, 12050)), TransitionError.MODIFY_CAP_REACHED)


def test_overfill_is_refused_with_the_numbers() -> None:
    order = reach(S.PARTIALLY_FILLED)
    error = refused(apply(order, Fill("f2", 130, 12050)), TransitionError.OVERFILL)
    assert "filled 195 exceed order qty 130" in error.reason


@pytest.mark.parametrize(
    "fill", [Fill("", 65, 12050), Fill("f9", 0, 12050), Fill("f9", 65, 0), Fill("f9", -65, 12050)]
)
def test_malformed_fill_is_refused(fill: Fill) -> None:
    refused(apply(reach(S.ACCEPTED), fill), TransitionError.BAD_FILL)


def test_duplicate_fill_is_refused_in_any_state_even_terminal() -> None:
    partial = reach(S.PARTIALLY_FILLED)
    refused(apply(partial, Fill("f1", 65, 12050)), TransitionError.DUPLICATE_FILL)
    done = run(partial, Fill("f2", 65, 12060))
    assert done.state is S.FILLED
    refused(apply(done, Fill("f2", 65, 12060)), TransitionError.DUPLICATE_FILL)
    assert done.filled_value_paise == 65 * 12050 + 65 * 12060


def test_fill_while_cancel_pending_can_complete_the_order() -> None:
    order = run(reach(S.PENDING_CANCEL), Fill("f1", 65, 12050))
    assert order.state is S.PENDING_CANCEL
    order = run(order, Fill("f2", 65, 12045))
    assert order.state is S.FILLED and order.resume_state is None
    refused(apply(order, Cancel()), TransitionError.ORDER_TERMINAL)


def test_accept_arriving_after_a_cancel_request_is_kept() -> None:
    order = run(reach(S.SUBMITTED), RequestCancel(), Accept("V77"))
    assert order.state is S.PENDING_CANCEL and order.venue_order_id == "V77"
    assert run(order, CancelRejected()).state is S.ACCEPTED


def test_reject_arriving_after_a_cancel_request_ends_the_order() -> None:
    order = run(reach(S.SUBMITTED), RequestCancel(), Reject("RMS", "margin"))
    assert order.state is S.REJECTED and order.reason == "margin"


def test_cancel_may_be_requested_while_a_modify_is_pending() -> None:
    order = run(reach(S.PENDING_UPDATE), RequestCancel())
    assert order.state is S.PENDING_CANCEL and order.pending_modify is not None
    assert run(order, CancelRejected()).state is S.PENDING_UPDATE  # the modify is still out
    accepted_first = run(order, ModifyAccepted())
    assert accepted_first.state is S.PENDING_CANCEL and accepted_first.qty_units == 195
    assert run(accepted_first, CancelRejected()).state is S.ACCEPTED
    assert run(order, ModifyRejected(), Cancel()).state is S.CANCELED


def test_fill_beyond_old_qty_while_modify_pending_proves_the_modify() -> None:
    order = run(reach(S.PENDING_UPDATE), Fill("f1", 160, 12055))  # old qty 130, requested 195
    assert order.state is S.PARTIALLY_FILLED
    assert (order.qty_units, order.price_paise, order.pending_modify) == (195, 12055, None)
    refused(apply(order, ModifyAccepted()), TransitionError.NOT_ALLOWED_IN_STATE)


def test_full_fill_at_old_qty_while_bigger_modify_pending_waits_for_the_answer() -> None:
    order = run(reach(S.PENDING_UPDATE), Fill("f1", 130, 12050))
    assert order.state is S.PENDING_UPDATE  # the venue may have made it 195 first
    assert run(order, ModifyRejected()).state is S.FILLED
    grown = run(order, ModifyAccepted())
    assert grown.state is S.PARTIALLY_FILLED and grown.leaves_qty_units == 65


def test_terminal_states_accept_nothing() -> None:
    for state in TERMINAL_STATES:
        order = reach(state)
        for event in PROBES.values():
            refused(apply(order, event), TransitionError.ORDER_TERMINAL)


def test_deny_and_reject_keep_their_reason() -> None:
    denied = reach(S.DENIED)
    assert (denied.reason_code, denied.reason) == ("MAX_DAILY_LOSS", "daily loss 5000.00 reached")


# ---------------------------------------------------------------------------- bus mapping


def test_order_event_carries_the_snapshot_and_survives_the_wire() -> None:
    order = run(reach(S.PENDING_UPDATE), Fill("f1", 65, 12050), ModifyAccepted())
    message = to_order_event(order, ts_event_ns=111, ts_init_ns=222)
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(message), type=OrderEvent)
    assert decoded == message
    assert (decoded.state, decoded.qty_units, decoded.price_paise) == (S.PARTIALLY_FILLED, 195, 12055)
    assert (decoded.filled_qty_units, decoded.filled_value_paise) == (65, 65 * 12050)
    assert (decoded.venue_order_id, decoded.ts_sent_ns, decoded.ts_event_ns) == ("V1", 10, 111)


def test_lifecycle_events_and_snapshots_encode_for_the_ledger() -> None:
    events = [PROBES[t] for t in LIFECYCLE_EVENT_TYPES]
    blob = msgspec.msgpack.encode(events)
    assert msgspec.msgpack.decode(blob, type=list[AnyLifecycleEvent]) == events
    order = reach(S.PENDING_UPDATE)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(order), type=OrderSnapshot) == order


# ---------------------------------------------------------------------------- random sequences

fill_ids = st.sampled_from([f"f{i}" for i in range(8)])
fills = st.builds(
    Fill,
    fill_ids,
    st.sampled_from([-65, 0, 65, 65, 65, 130, 195]),
    st.sampled_from([0, 12000, 12050, 12105]),
)
modifies = st.builds(
    RequestModify,
    st.sampled_from([0, 65, 130, 195, 260]),
    st.sampled_from([-5, 12000, 12100]),
    st.sampled_from([0, 11950]),
)
ending = st.sampled_from([Deny("X"), Reject("X"), Cancel(), Expire()])
# Weighted so that orders live long enough to reach the pending states; endings stay rare.
event_strategy = st.sampled_from(
    [
        st.builds(Submit, st.integers(0, 10)),
        st.builds(Accept, st.sampled_from(["V1", ""])),
        st.just(Trigger()),
        fills,
        fills,
        fills,
        fills,
        st.just(RequestCancel()),
        st.just(CancelRejected()),
        modifies,
        modifies,
        st.just(ModifyAccepted()),
        st.just(ModifyRejected()),
        ending,
    ]
).flatmap(lambda strategy: strategy)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(
    st.sampled_from(["MARKET", "LIMIT", "SL", "SL_M"]),
    st.integers(min_value=0, max_value=3),
    st.sampled_from([(), (Submit(1),), (Submit(1), Accept("V1"))]),
    st.lists(event_strategy, max_size=40),
)
def test_any_event_sequence_keeps_the_order_consistent(
    order_type: str, modify_cap: int, opening: tuple[LifecycleEvent, ...], events: list[LifecycleEvent]
) -> None:
    order = new_order(make_spec(order_type=order_type), modify_cap=modify_cap)
    events = [*opening, *events]
    accepted_fills: dict[str, tuple[int, int]] = {}
    for event in events:
        before = order
        result = apply(order, event)
        if isinstance(event, Fill) and event.fill_id in accepted_fills:
            refused(result, TransitionError.DUPLICATE_FILL)
        if before.state in TERMINAL_STATES:
            refused(
                result,
                (
                    TransitionError.DUPLICATE_FILL
                    if isinstance(event, Fill) and event.fill_id in accepted_fills
                    else TransitionError.ORDER_TERMINAL
                ),
            )
        if isinstance(result, IllegalTransition):
            assert result.from_state is before.state
            continue
        order = result
        if isinstance(event, Fill):
            accepted_fills[event.fill_id] = (event.qty_units, event.price_paise)
            assert order.triggered or order_type not in ("SL", "SL_M")
        else:
            assert (order.filled_qty_units, order.fill_ids) == (before.filled_qty_units, before.fill_ids)
        assert invariant_violations(order) == ()
        assert 0 <= order.filled_qty_units <= order.qty_units
        assert order.leaves_qty_units == order.qty_units - order.filled_qty_units >= 0
        assert order.filled_qty_units == sum(q for q, _ in accepted_fills.values())
        assert order.filled_value_paise == sum(q * p for q, p in accepted_fills.values())
        assert set(order.fill_ids) == set(accepted_fills)
        assert order.modify_count <= modify_cap
        if order.state is S.TRIGGERED:
            assert order_type in ("SL", "SL_M")
        if before.state is S.FILLED or order.state is S.FILLED:
            assert order.filled_qty_units == order.qty_units
