"""actors.execution.orders: the pure order state machine, fed the venue's events as they come."""

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
    AnyLifecycleEvent,
    IllegalTransition,
    LifecycleEvent,
    OrderSnapshot,
    RequestCancel,
    RequestModify,
    Submit,
    TransitionError,
    apply,
    invariant_violations,
    new_order,
    to_order_event,
)
from actors.execution.charges import ChargeBreakdown
from actors.execution.venue import (
    Accepted,
    Canceled,
    CancelRefused,
    Expired,
    Filled,
    Modified,
    ModifyRefused,
    Rejected,
    Triggered,
)
from ipc.messages import OrderEvent, OrderSpec, OrderState
from ipc.reasons import RejectReason as Code

S = OrderState
COID = "c-1"
NO_CHARGES = ChargeBreakdown(0, 0, 0, 0, 0, 0, 0, 0, 0)


def make_spec(**overrides: Any) -> OrderSpec:
    fields: dict[str, Any] = dict(
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


def make_order(spec: OrderSpec, modify_cap: int = DHAN_MODIFY_CAP) -> OrderSnapshot:
    return new_order(spec, client_order_id=COID, intent_id="i-1", strategy="orb", modify_cap=modify_cap)


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


# The venue's reports, as a venue would send them for order COID.


def accept(venue_order_id: str = "V1") -> Accepted:
    return Accepted(client_order_id=COID, ts_event_ns=0, venue_order_id=venue_order_id)


def reject(code: Code = Code.VENUE_REJECTED, reason: str = "") -> Rejected:
    return Rejected(client_order_id=COID, ts_event_ns=0, reason_code=code, reason=reason)


def trigger() -> Triggered:
    return Triggered(client_order_id=COID, ts_event_ns=0)


def fill(fill_id: str, qty_units: int, price_paise: int) -> Filled:
    return Filled(client_order_id=COID, ts_event_ns=0, fill_id=fill_id, qty_units=qty_units, price_paise=price_paise,
                  charges=NO_CHARGES)


def cancel(code: Code = Code.CANCEL_REQUESTED, reason: str = "") -> Canceled:
    return Canceled(client_order_id=COID, ts_event_ns=0, reason_code=code, reason=reason)


def cancel_refused(code: Code = Code.ORDER_CLOSED, reason: str = "") -> CancelRefused:
    return CancelRefused(client_order_id=COID, ts_event_ns=0, reason_code=code, reason=reason)


def expire() -> Expired:
    return Expired(client_order_id=COID, ts_event_ns=0)


def modified() -> Modified:  # the values are the pending request's (the state machine applies those)
    return Modified(client_order_id=COID, ts_event_ns=0, qty_units=0, price_paise=0, trigger_price_paise=0)


def modify_refused(code: Code = Code.INVALID_MODIFY, reason: str = "") -> ModifyRefused:
    return ModifyRefused(client_order_id=COID, ts_event_ns=0, reason_code=code, reason=reason)


# ---------------------------------------------------------------------------- the table, pair by pair

# How to reach each state from scratch (LIMIT order of 130 unless the state needs a stop order).
REACH: dict[OrderState, tuple[OrderSpec, tuple[LifecycleEvent, ...]]] = {
    S.INITIALIZED: (make_spec(), ()),
    S.SUBMITTED: (make_spec(), (Submit(10),)),
    S.ACCEPTED: (make_spec(), (Submit(10), accept("V1"))),
    S.REJECTED: (make_spec(), (Submit(10), reject(Code.INSUFFICIENT_FUNDS, "margin shortfall"))),
    S.TRIGGERED: (stop_spec(), (Submit(10), accept("V1"), trigger())),
    S.PARTIALLY_FILLED: (make_spec(), (Submit(10), accept("V1"), fill("f1", 65, 12050))),
    S.FILLED: (make_spec(), (Submit(10), accept("V1"), fill("f1", 130, 12050))),
    S.CANCELED: (make_spec(), (Submit(10), accept("V1"), cancel())),
    S.EXPIRED: (make_spec(), (Submit(10), accept("V1"), expire())),
    S.PENDING_CANCEL: (make_spec(), (Submit(10), accept("V1"), RequestCancel())),
    S.PENDING_UPDATE: (make_spec(), (Submit(10), accept("V1"), RequestModify(195, 12055))),
}


def reach(state: OrderState) -> OrderSnapshot:
    spec, events = REACH[state]
    order = run(make_order(spec), *events)
    assert order.state is state
    return order


# One representative event of each type, valid in content, so only the state decides.
PROBES: dict[type[LifecycleEvent], LifecycleEvent] = {
    Submit: Submit(20),
    Accepted: accept("V1"),
    Rejected: reject(),
    Triggered: trigger(),
    Filled: fill("probe", 65, 12050),
    RequestCancel: RequestCancel(),
    CancelRefused: cancel_refused(),
    Canceled: cancel(),
    RequestModify: RequestModify(260, 12045),
    Modified: modified(),
    ModifyRefused: modify_refused(),
    Expired: expire(),
}

# The expected outcome of every probe in every state, written out by hand: a resulting state,
# or the refusal code. Absent pairs are refused as NOT_ALLOWED_IN_STATE (or ORDER_TERMINAL).
EXPECTED: dict[tuple[OrderState, type[LifecycleEvent]], OrderState | TransitionError] = {
    (S.INITIALIZED, Submit): S.SUBMITTED,
    (S.INITIALIZED, Canceled): S.CANCELED,
    (S.SUBMITTED, Accepted): S.ACCEPTED,
    (S.SUBMITTED, Rejected): S.REJECTED,
    (S.SUBMITTED, Triggered): TransitionError.NOT_A_STOP_ORDER,
    (S.SUBMITTED, Filled): S.PARTIALLY_FILLED,
    (S.SUBMITTED, RequestCancel): S.PENDING_CANCEL,
    (S.SUBMITTED, Canceled): S.CANCELED,
    (S.SUBMITTED, Expired): S.EXPIRED,
    (S.ACCEPTED, Triggered): TransitionError.NOT_A_STOP_ORDER,
    (S.ACCEPTED, Filled): S.PARTIALLY_FILLED,
    (S.ACCEPTED, RequestCancel): S.PENDING_CANCEL,
    (S.ACCEPTED, RequestModify): S.PENDING_UPDATE,
    (S.ACCEPTED, Canceled): S.CANCELED,
    (S.ACCEPTED, Expired): S.EXPIRED,
    (S.TRIGGERED, Triggered): TransitionError.NOT_ALLOWED_IN_STATE,
    (S.TRIGGERED, Filled): S.PARTIALLY_FILLED,
    (S.TRIGGERED, RequestCancel): S.PENDING_CANCEL,
    (S.TRIGGERED, RequestModify): S.PENDING_UPDATE,
    (S.TRIGGERED, Canceled): S.CANCELED,
    (S.TRIGGERED, Expired): S.EXPIRED,
    (S.PARTIALLY_FILLED, Filled): S.FILLED,  # 65 + 65 of 130
    (S.PARTIALLY_FILLED, RequestCancel): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, RequestModify): S.PENDING_UPDATE,
    (S.PARTIALLY_FILLED, Canceled): S.CANCELED,
    (S.PARTIALLY_FILLED, Expired): S.EXPIRED,
    (S.PENDING_CANCEL, Accepted): TransitionError.NOT_ALLOWED_IN_STATE,  # it was accepted already
    (S.PENDING_CANCEL, Rejected): TransitionError.NOT_ALLOWED_IN_STATE,  # ditto
    (S.PENDING_CANCEL, Triggered): TransitionError.NOT_A_STOP_ORDER,
    (S.PENDING_CANCEL, Filled): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, Canceled): S.CANCELED,
    (S.PENDING_CANCEL, CancelRefused): S.ACCEPTED,
    (S.PENDING_CANCEL, Modified): TransitionError.NO_PENDING_MODIFY,
    (S.PENDING_CANCEL, ModifyRefused): TransitionError.NO_PENDING_MODIFY,
    (S.PENDING_CANCEL, Expired): S.EXPIRED,
    (S.PENDING_UPDATE, Triggered): TransitionError.NOT_A_STOP_ORDER,
    (S.PENDING_UPDATE, Filled): S.PENDING_UPDATE,
    (S.PENDING_UPDATE, RequestCancel): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, Modified): S.ACCEPTED,
    (S.PENDING_UPDATE, ModifyRefused): S.ACCEPTED,
    (S.PENDING_UPDATE, Canceled): S.CANCELED,
    (S.PENDING_UPDATE, Expired): S.EXPIRED,
}


@pytest.mark.parametrize("state", list(REACH), ids=lambda s: s.value)
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
    after = ok(apply(before, fill("f1", 65, 12050)))
    assert before.state is S.ACCEPTED and before.filled_qty_units == 0
    assert after is not before and after.filled_qty_units == 65


# ---------------------------------------------------------------------------- scenarios


def test_sl_order_passes_through_triggered_before_filling() -> None:
    order = run(make_order(stop_spec()), Submit(1), accept("V1"))
    assert order.state is S.ACCEPTED and not order.triggered
    order = run(order, trigger())
    assert order.state is S.TRIGGERED and order.triggered
    order = run(order, fill("f1", 65, 12100), fill("f2", 65, 12095))
    assert order.state is S.FILLED
    assert refused(apply(reach(S.TRIGGERED), trigger()), TransitionError.NOT_ALLOWED_IN_STATE)


def test_sl_m_order_triggers_once_then_refuses_a_second_trigger_while_pending() -> None:
    spec = make_spec(order_type="SL_M", price_paise=0, trigger_price_paise=12050)
    order = run(make_order(spec), Submit(1), accept("V1"), RequestCancel(), trigger())
    assert order.state is S.PENDING_CANCEL and order.triggered
    refused(apply(order, trigger()), TransitionError.ALREADY_TRIGGERED)
    assert run(order, cancel_refused()).state is S.TRIGGERED


def test_trigger_is_refused_for_orders_without_a_trigger() -> None:
    error = refused(apply(reach(S.ACCEPTED), trigger()), TransitionError.NOT_A_STOP_ORDER)
    assert "LIMIT" in error.reason


def test_stop_order_fill_without_a_trigger_update_is_kept_and_marks_it_triggered() -> None:
    order = run(make_order(stop_spec()), Submit(1), accept("V1"), fill("f1", 65, 12100))
    assert order.state is S.PARTIALLY_FILLED and order.triggered


@pytest.mark.parametrize("state", [S.SUBMITTED, S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED])
def test_cancel_rejected_returns_to_the_state_before_the_request(state: OrderState) -> None:
    order = reach(state)
    pending = run(order, RequestCancel())
    assert pending.state is S.PENDING_CANCEL and pending.resume_state is state
    back = run(pending, cancel_refused(Code.ORDER_CLOSED, "exchange refused cancel"))
    assert back.state is state and back.resume_state is None
    assert back.reason_code == "ORDER_CLOSED"


@pytest.mark.parametrize("state", [S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED])
def test_modify_rejected_returns_to_the_state_before_with_the_old_values(state: OrderState) -> None:
    order = reach(state)
    back = run(
        order, RequestModify(260, 12100, order.spec.trigger_price_paise), modify_refused(Code.BAD_INPUT, "price band")
    )
    assert back.state is state
    assert (back.spec.qty_units, back.spec.price_paise) == (order.spec.qty_units, order.spec.price_paise)
    assert back.pending_modify is None and back.modify_count == 1


def test_cancel_rejected_after_fills_meanwhile_returns_to_partially_filled() -> None:
    order = run(reach(S.ACCEPTED), RequestCancel(), fill("f1", 65, 12050))
    assert order.state is S.PENDING_CANCEL
    assert run(order, cancel_refused()).state is S.PARTIALLY_FILLED


def test_modify_accepted_applies_the_new_values() -> None:
    order = run(reach(S.PARTIALLY_FILLED), RequestModify(195, 12055), modified())
    assert order.state is S.PARTIALLY_FILLED
    assert (order.spec.qty_units, order.spec.price_paise, order.leaves_qty_units) == (195, 12055, 130)


def test_modify_cannot_shrink_the_order_to_or_below_its_filled_qty() -> None:
    error = refused(
        apply(reach(S.PARTIALLY_FILLED), RequestModify(65, 12050)), TransitionError.BAD_MODIFY
    )
    assert "new qty 65 must exceed filled qty 65" in error.reason


def test_modify_cap_defaults_to_dhans_25_and_is_enforced() -> None:
    order = reach(S.ACCEPTED)
    assert order.modify_cap == DHAN_MODIFY_CAP == 25
    for i in range(25):
        order = run(order, RequestModify(130, 12000 + 5 * i), modified())
    error = refused(apply(order, RequestModify(130, 11000)), TransitionError.MODIFY_CAP_REACHED)
    assert "25 times (cap 25)" in error.reason


def test_a_rejected_modify_still_counts_against_the_cap() -> None:
    order = run(make_order(make_spec(), modify_cap=1), Submit(1), accept("V1"))
    order = run(order, RequestModify(195, 12050), modify_refused())
    refused(apply(order, RequestModify(195, 12050)), TransitionError.MODIFY_CAP_REACHED)


def test_overfill_is_refused_with_the_numbers() -> None:
    order = reach(S.PARTIALLY_FILLED)
    error = refused(apply(order, fill("f2", 130, 12050)), TransitionError.OVERFILL)
    assert "filled 195 exceed order qty 130" in error.reason


@pytest.mark.parametrize(
    "fill", [fill("", 65, 12050), fill("f9", 0, 12050), fill("f9", 65, 0), fill("f9", -65, 12050)]
)
def test_malformed_fill_is_refused(fill: Filled) -> None:
    refused(apply(reach(S.ACCEPTED), fill), TransitionError.BAD_FILL)


def test_duplicate_fill_is_refused_in_any_state_even_terminal() -> None:
    partial = reach(S.PARTIALLY_FILLED)
    refused(apply(partial, fill("f1", 65, 12050)), TransitionError.DUPLICATE_FILL)
    done = run(partial, fill("f2", 65, 12060))
    assert done.state is S.FILLED
    refused(apply(done, fill("f2", 65, 12060)), TransitionError.DUPLICATE_FILL)
    assert done.filled_value_paise == 65 * 12050 + 65 * 12060


def test_fill_while_cancel_pending_can_complete_the_order() -> None:
    order = run(reach(S.PENDING_CANCEL), fill("f1", 65, 12050))
    assert order.state is S.PENDING_CANCEL
    order = run(order, fill("f2", 65, 12045))
    assert order.state is S.FILLED and order.resume_state is None
    refused(apply(order, cancel()), TransitionError.ORDER_TERMINAL)


def test_accept_arriving_after_a_cancel_request_is_kept() -> None:
    order = run(reach(S.SUBMITTED), RequestCancel(), accept("V77"))
    assert order.state is S.PENDING_CANCEL and order.venue_order_id == "V77"
    assert run(order, cancel_refused()).state is S.ACCEPTED


def test_reject_arriving_after_a_cancel_request_ends_the_order() -> None:
    order = run(reach(S.SUBMITTED), RequestCancel(), reject(Code.INSUFFICIENT_FUNDS, "margin"))
    assert order.state is S.REJECTED and order.reason == "margin"


def test_cancel_may_be_requested_while_a_modify_is_pending() -> None:
    order = run(reach(S.PENDING_UPDATE), RequestCancel())
    assert order.state is S.PENDING_CANCEL and order.pending_modify is not None
    assert run(order, cancel_refused()).state is S.PENDING_UPDATE  # the modify is still out
    accepted_first = run(order, modified())
    assert accepted_first.state is S.PENDING_CANCEL and accepted_first.spec.qty_units == 195
    assert run(accepted_first, cancel_refused()).state is S.ACCEPTED
    assert run(order, modify_refused(), cancel()).state is S.CANCELED


def test_fill_beyond_old_qty_while_modify_pending_proves_the_modify() -> None:
    order = run(reach(S.PENDING_UPDATE), fill("f1", 160, 12055))  # old qty 130, requested 195
    assert order.state is S.PARTIALLY_FILLED
    assert (order.spec.qty_units, order.spec.price_paise, order.pending_modify) == (195, 12055, None)
    refused(apply(order, modified()), TransitionError.NOT_ALLOWED_IN_STATE)


def test_full_fill_at_old_qty_while_bigger_modify_pending_waits_for_the_answer() -> None:
    order = run(reach(S.PENDING_UPDATE), fill("f1", 130, 12050))
    assert order.state is S.PENDING_UPDATE  # the venue may have made it 195 first
    assert run(order, modify_refused()).state is S.FILLED
    grown = run(order, modified())
    assert grown.state is S.PARTIALLY_FILLED and grown.leaves_qty_units == 65


def test_terminal_states_accept_nothing() -> None:
    for state in TERMINAL_STATES - {S.DENIED}:  # a denied intent never becomes an order
        order = reach(state)
        for event in PROBES.values():
            refused(apply(order, event), TransitionError.ORDER_TERMINAL)


def test_reject_keeps_its_reason() -> None:
    rejected = reach(S.REJECTED)
    assert (rejected.reason_code, rejected.reason) == ("INSUFFICIENT_FUNDS", "margin shortfall")


# ---------------------------------------------------------------------------- bus mapping


def test_order_event_carries_the_snapshot_and_survives_the_wire() -> None:
    order = run(reach(S.PENDING_UPDATE), fill("f1", 65, 12050), modified())
    message = to_order_event(order, ts_event_ns=111, ts_init_ns=222)
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(message), type=OrderEvent)
    assert decoded == message
    assert (decoded.state, decoded.spec.qty_units, decoded.spec.price_paise) == (S.PARTIALLY_FILLED, 195, 12055)
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
    fill,
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
ending = st.sampled_from([reject(), cancel(), expire()])
# Weighted so that orders live long enough to reach the pending states; endings stay rare.
event_strategy = st.sampled_from(
    [
        st.builds(Submit, st.integers(0, 10)),
        st.builds(accept, st.sampled_from(["V1", ""])),
        st.just(trigger()),
        fills,
        fills,
        fills,
        fills,
        st.just(RequestCancel()),
        st.just(cancel_refused()),
        modifies,
        modifies,
        st.just(modified()),
        st.just(modify_refused()),
        ending,
    ]
).flatmap(lambda strategy: strategy)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(
    st.sampled_from(["MARKET", "LIMIT", "SL", "SL_M"]),
    st.integers(min_value=0, max_value=3),
    st.sampled_from([(), (Submit(1),), (Submit(1), accept("V1"))]),
    st.lists(event_strategy, max_size=40),
)
def test_any_event_sequence_keeps_the_order_consistent(
    order_type: str, modify_cap: int, opening: tuple[LifecycleEvent, ...], events: list[LifecycleEvent]
) -> None:
    order = make_order(make_spec(order_type=order_type), modify_cap=modify_cap)
    events = [*opening, *events]
    accepted_fills: dict[str, tuple[int, int]] = {}
    for event in events:
        before = order
        result = apply(order, event)
        if isinstance(event, Filled) and event.fill_id in accepted_fills:
            refused(result, TransitionError.DUPLICATE_FILL)
        if before.state in TERMINAL_STATES:
            refused(
                result,
                (
                    TransitionError.DUPLICATE_FILL
                    if isinstance(event, Filled) and event.fill_id in accepted_fills
                    else TransitionError.ORDER_TERMINAL
                ),
            )
        if isinstance(result, IllegalTransition):
            assert result.from_state is before.state
            continue
        order = result
        if isinstance(event, Filled):
            accepted_fills[event.fill_id] = (event.qty_units, event.price_paise)
            assert order.triggered or order_type not in ("SL", "SL_M")
        else:
            assert (order.filled_qty_units, order.fill_ids) == (before.filled_qty_units, before.fill_ids)
        assert invariant_violations(order) == ()
        assert 0 <= order.filled_qty_units <= order.spec.qty_units
        assert order.leaves_qty_units == order.spec.qty_units - order.filled_qty_units >= 0
        assert order.filled_qty_units == sum(q for q, _ in accepted_fills.values())
        assert order.filled_value_paise == sum(q * p for q, p in accepted_fills.values())
        assert set(order.fill_ids) == set(accepted_fills)
        assert order.modify_count <= modify_cap
        if order.state is S.TRIGGERED:
            assert order_type in ("SL", "SL_M")
        if before.state is S.FILLED or order.state is S.FILLED:
            assert order.filled_qty_units == order.spec.qty_units
