"""Order groups: the pure state machine (actors/execution/groups.py), a property test over any
sequence of leg outcomes, and whole groups through the execution actor with a real ledger."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.execution import groups as grp
from actors.execution.groups import (
    Abort,
    CancelLeg,
    FlattenUpdate,
    Group,
    GroupPolicy,
    GroupReason,
    GroupStep,
    LegUpdate,
    Resume,
    SendFlatten,
    SendLeg,
    Start,
    Wake,
    step,
)
from engine.ledger import Ledger, LedgerConfig, ledger_dir
from ipc.messages import CancelGroup, GroupEvent, GroupState, OrderIntent, OrderSpec, OrderState, SubmitGroup
from tests.unit.actors.execution.test_actor import ExecHarness

S = OrderState
G = GroupState
T0 = 1_795_000_000_000_000_000
MS = 1_000_000
POLICY = GroupPolicy(max_flatten_attempts=3, flatten_retry_ns=100 * MS)


def leg(n: int, side: str, qty: int = 65, sid: int | None = None, gid: str = "g1") -> OrderIntent:
    spec = OrderSpec(segment=2, security_id=sid if sid is not None else 1000 + n, side=side,  # type: ignore[arg-type]
                     order_type="MARKET", qty_units=qty)
    return OrderIntent(f"g1-leg{n}", "s1", spec, T0, T0, T0, False, gid)


def submit_msg(legs: list[OrderIntent], timeout_ms: int = 1_000, structure: str = "CUSTOM",
               group_id: str = "g1") -> SubmitGroup:
    return SubmitGroup(group_id, "s1", structure, legs, timeout_ms, T0, T0)  # type: ignore[arg-type]


def started(legs: list[OrderIntent], timeout_ms: int = 1_000) -> grp.Stepped:
    return step(grp.new_group(submit_msg(legs, timeout_ms)), Start(now_ns=T0), POLICY)


def upd(g: Group, i: int, state: OrderState, filled: int, now: int = T0) -> grp.Stepped:
    return step(g, LegUpdate(now_ns=now, leg_index=i, client_order_id=f"C{i}", state=state, filled_qty_units=filled,
                             filled_value_paise=filled * 100), POLICY)


def flat(g: Group, i: int, state: OrderState, filled: int, now: int = T0, attempt: int = 1) -> grp.Stepped:
    return step(g, FlattenUpdate(now_ns=now, leg_index=i, client_order_id=f"F{i}.{attempt}", state=state,
                                 filled_qty_units=filled), POLICY)


def sent(result: grp.Stepped) -> list[int]:
    return [c.leg_index for c in result.commands if isinstance(c, SendLeg)]


IRON_CONDOR = [leg(0, "BUY"), leg(1, "SELL"), leg(2, "SELL"), leg(3, "BUY")]


# --------------------------------------------------------------------------------------------
# The pure state machine
# --------------------------------------------------------------------------------------------


def test_iron_condor_sends_the_hedges_first_and_the_shorts_only_when_both_are_filled():
    r = started(IRON_CONDOR)
    assert r.group.state is G.WORKING_BUYS and sent(r) == [0, 3]
    r = upd(r.group, 0, S.FILLED, 65)
    assert r.commands == () and r.group.state is G.WORKING_BUYS  # one hedge is not enough
    r = upd(r.group, 3, S.PARTIALLY_FILLED, 30)
    assert r.commands == ()
    r = upd(r.group, 3, S.FILLED, 65)
    assert r.group.state is G.WORKING_SELLS and sent(r) == [1, 2] and r.step is GroupStep.SELLS_RELEASED
    r = upd(r.group, 1, S.FILLED, 65)
    r = upd(r.group, 2, S.FILLED, 65)
    assert r.group.state is G.COMPLETE and r.step is GroupStep.COMPLETED and r.commands == ()
    assert grp.next_wake_ns(r.group) is None


def test_short_straddle_without_hedges_sends_both_legs_at_once():
    r = started([leg(0, "SELL"), leg(1, "SELL")])
    assert r.group.state is G.WORKING_SELLS and sent(r) == [0, 1]


def test_rejected_leg_rolls_back_and_flattens_what_filled():
    r = started([leg(0, "BUY", 130), leg(1, "BUY", 65)])
    r = upd(r.group, 0, S.FILLED, 130)
    r = upd(r.group, 1, S.REJECTED, 0)
    assert r.group.state is G.ROLLING_BACK and r.group.reason_code == GroupReason.LEG_REJECTED.value
    flatten = [c for c in r.commands if isinstance(c, SendFlatten)]
    assert len(flatten) == 1 and flatten[0].leg_index == 0
    intent = flatten[0].intent
    assert (intent.spec.side, intent.spec.qty_units, intent.spec.order_type, intent.reduce_only) == \
        ("SELL", 130, "MARKET", True)
    assert intent.intent_id == grp.flatten_intent_id("g1", 0, 1) and intent.group_id == "g1"
    r = flat(r.group, 0, S.FILLED, 130)
    assert r.group.state is G.ROLLED_BACK and r.step is GroupStep.ROLLED_BACK


def test_timeout_cancels_working_legs_and_flattens_partial_fills():
    r = started([leg(0, "BUY"), leg(1, "SELL")], timeout_ms=500)
    r = upd(r.group, 0, S.PARTIALLY_FILLED, 20)
    assert grp.next_wake_ns(r.group) == T0 + 500 * MS
    early = step(r.group, Wake(now_ns=T0 + 499 * MS), POLICY)
    assert early.ignored and early.group == r.group
    r = step(r.group, Wake(now_ns=T0 + 500 * MS), POLICY)
    assert r.group.state is G.ROLLING_BACK and r.group.reason_code == "TIMEOUT"
    assert r.commands == (CancelLeg(leg_index=0, client_order_id="C0"),)  # the SELL leg was never sent
    r = upd(r.group, 0, S.CANCELED, 25)  # five more traded before the cancel landed
    (cmd,) = r.commands
    assert isinstance(cmd, SendFlatten) and cmd.intent.spec.qty_units == 25
    r = flat(r.group, 0, S.FILLED, 25)
    assert r.group.state is G.ROLLED_BACK
    assert r.group.legs[1].state is None  # never sent


def test_rollback_buys_back_the_shorts_before_selling_the_hedges():
    r = started([leg(0, "BUY"), leg(1, "SELL"), leg(2, "SELL")])
    r = upd(r.group, 0, S.FILLED, 65)
    r = upd(r.group, 1, S.FILLED, 65)
    r = upd(r.group, 2, S.EXPIRED, 0)
    flattens = [c for c in r.commands if isinstance(c, SendFlatten)]
    assert [(c.leg_index, c.intent.spec.side) for c in flattens] == [(1, "BUY")]  # the hedge waits
    r = flat(r.group, 1, S.FILLED, 65)
    assert [(c.leg_index, c.intent.spec.side) for c in r.commands] == [(0, "SELL")]
    r = flat(r.group, 0, S.FILLED, 65)
    assert r.group.state is G.ROLLED_BACK


def test_failed_flatten_is_retried_after_the_pause_then_rollback_fails_with_the_numbers():
    r = started([leg(0, "BUY")])
    r = step(r.group, Abort(now_ns=T0, detail="operator"), POLICY)
    r = upd(r.group, 0, S.CANCELED, 40)
    now = T0
    for attempt in range(1, POLICY.max_flatten_attempts + 1):
        (cmd,) = r.commands
        assert isinstance(cmd, SendFlatten) and cmd.intent.spec.qty_units == 40 - 10 * max(0, attempt - 2)
        r = flat(r.group, 0, S.REJECTED if attempt == 1 else S.CANCELED, 0 if attempt == 1 else 10, now, attempt)
        if attempt < POLICY.max_flatten_attempts:
            assert r.group.state is G.ROLLING_BACK and r.commands == ()
            assert grp.next_wake_ns(r.group) == now + POLICY.flatten_retry_ns
            assert step(r.group, Wake(now_ns=now + 1), POLICY).commands == ()  # not yet
            now += POLICY.flatten_retry_ns
            r = step(r.group, Wake(now_ns=now), POLICY)
    assert r.group.state is G.ROLLBACK_FAILED and r.group.reason_code == "FLATTEN_FAILED"
    assert "leg 0 20 units" in r.group.detail and "after 3 flatten orders" in r.group.detail


def test_hedge_behind_a_short_that_cannot_be_flattened_ends_rollback_failed():
    r = started([leg(0, "BUY"), leg(1, "SELL")])
    r = upd(r.group, 0, S.FILLED, 65)
    r = upd(r.group, 1, S.FILLED, 65)
    assert r.group.state is G.COMPLETE
    r = started([leg(0, "BUY"), leg(1, "SELL"), leg(2, "SELL")])
    r = upd(r.group, 0, S.FILLED, 65)
    r = upd(r.group, 1, S.FILLED, 65)
    r = upd(r.group, 2, S.REJECTED, 0)
    now = T0
    for attempt in range(1, POLICY.max_flatten_attempts + 1):
        r = flat(r.group, 1, S.REJECTED, 0, now, attempt)
        now += POLICY.flatten_retry_ns
        if r.group.state is G.ROLLING_BACK:
            r = step(r.group, Wake(now_ns=now), POLICY)
    assert r.group.state is G.ROLLBACK_FAILED
    assert r.group.legs[0].flatten_attempts == 0  # the hedge was never sold under a naked short


@pytest.mark.parametrize("legs, timeout_ms, reason", [
    ([], 1_000, GroupReason.NO_LEGS),
    ([leg(0, "BUY")] * 9, 1_000, GroupReason.TOO_MANY_LEGS),
    ([leg(0, "BUY")], 0, GroupReason.BAD_TIMEOUT),
    ([leg(0, "BUY"), leg(0, "SELL")], 1_000, GroupReason.DUPLICATE_LEG_INTENT),
    ([leg(0, "BUY", gid="other")], 1_000, GroupReason.LEG_OF_OTHER_GROUP),
])
def test_invalid_group_is_rejected_before_anything_is_sent(legs, timeout_ms, reason):
    r = started(legs, timeout_ms)
    assert r.group.state is G.REJECTED and r.group.reason_code == reason.value and r.commands == ()
    assert r.group.detail


def test_leg_of_another_strategy_is_rejected():
    other = leg(0, "BUY")
    other = msgspec.structs.replace(other, strategy="s2")
    r = started([other])
    assert r.group.reason_code == GroupReason.LEG_OF_OTHER_STRATEGY.value


def test_empty_leg_group_id_is_taken_as_the_groups():
    r = started([leg(0, "BUY", gid="")])
    assert r.group.state is G.WORKING_BUYS and r.group.legs[0].intent.group_id == "g1"


def test_repeated_and_stale_updates_change_nothing():
    r = started([leg(0, "BUY"), leg(1, "BUY")])
    r = upd(r.group, 0, S.FILLED, 65)
    again = upd(r.group, 0, S.FILLED, 65)
    assert again.ignored and again.group == r.group
    other = step(r.group, LegUpdate(now_ns=T0, leg_index=1, client_order_id="C1", state=S.ACCEPTED,
                                    filled_qty_units=0), POLICY)
    wrong = step(other.group, LegUpdate(now_ns=T0, leg_index=1, client_order_id="X", state=S.FILLED,
                                        filled_qty_units=65), POLICY)
    assert wrong.ignored and wrong.group == other.group
    assert step(r.group, LegUpdate(now_ns=T0, leg_index=7, client_order_id="C7", state=S.FILLED,
                                   filled_qty_units=1), POLICY).ignored
    assert step(r.group, FlattenUpdate(now_ns=T0, leg_index=0, client_order_id="F", state=S.FILLED,
                                       filled_qty_units=1), POLICY).ignored


def test_group_event_round_trips_and_resume_resends_only_what_has_no_order_id():
    r = started([leg(0, "BUY", 130), leg(1, "BUY")])
    r = upd(r.group, 0, S.FILLED, 130)
    r = upd(r.group, 1, S.REJECTED, 0)  # rollback: flatten of leg 0 sent, its order id unknown yet
    event = grp.to_group_event(r.group, r.step, ts_event_ns=T0, ts_init_ns=T0)
    restored = grp.group_from_event(event)
    assert restored == r.group
    resumed = step(restored, Resume(now_ns=T0 + 5), POLICY)
    (cmd,) = resumed.commands
    assert isinstance(cmd, SendFlatten) and cmd.intent.intent_id == grp.flatten_intent_id("g1", 0, 1)
    assert cmd.intent.spec.qty_units == 130


# --------------------------------------------------------------------------------------------
# Property: any sequence of leg outcomes ends COMPLETE or ROLLED_BACK, flat on rollback
# --------------------------------------------------------------------------------------------


class World:
    """A venue for the property test: orders the group placed, worked by hypothesis' choices."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}  # coid -> kind, leg, side, qty, filled, state
        self.position: dict[int, int] = defaultdict(int)  # leg index -> signed units
        self.leg_sends: dict[int, int] = defaultdict(int)
        self.n = 0

    def working(self) -> list[str]:
        return [c for c, o in self.orders.items() if o["state"] not in grp._TERMINAL_ORDER]


def drive(draw: Any, sides: list[str], qtys: list[int], policy: GroupPolicy) -> tuple[Group, World]:
    legs = [leg(i, side, qty) for i, (side, qty) in enumerate(zip(sides, qtys))]
    group = grp.new_group(submit_msg(legs, timeout_ms=1_000))
    world = World()
    now = T0
    inbox: list[Any] = []
    flatten_failures: dict[int, int] = defaultdict(int)

    def apply(event: Any) -> None:
        nonlocal group
        before = group.state
        result = step(group, event, policy)
        if not result.ignored:
            assert result.group.state in grp.TRANSITIONS[(before, type(event))]
        group = result.group
        for cmd in result.commands:
            carry_out(cmd)

    def carry_out(cmd: Any) -> None:
        world.n += 1
        if isinstance(cmd, SendLeg):
            side = cmd.intent.spec.side
            if side == "SELL":  # never naked: every BUY leg is filled by now
                assert all(o["filled"] == o["qty"] for o in world.orders.values()
                           if o["kind"] == "leg" and o["side"] == "BUY")
                assert all(group.legs[i].state is S.FILLED for i, s in enumerate(sides) if s == "BUY")
            world.leg_sends[cmd.leg_index] += 1
            assert world.leg_sends[cmd.leg_index] == 1, "a leg was sent twice"
            coid = f"L{cmd.leg_index}"
            world.orders[coid] = dict(kind="leg", leg=cmd.leg_index, side=side, qty=cmd.intent.spec.qty_units,
                                      filled=0, state=S.ACCEPTED, cancel=False)
            rejected = draw(st.booleans()) and draw(st.booleans())
            if rejected:
                world.orders[coid]["state"] = S.REJECTED
            inbox.append(coid)
        elif isinstance(cmd, CancelLeg):
            world.orders[cmd.client_order_id]["cancel"] = True
        else:
            assert isinstance(cmd, SendFlatten)
            i = cmd.leg_index
            exposure = world.position[i] * (1 if sides[i] == "BUY" else -1)
            assert 0 < cmd.intent.spec.qty_units <= exposure, "flatten beyond the open quantity"
            assert cmd.intent.spec.side != sides[i] and cmd.intent.reduce_only
            if sides[i] == "BUY":  # hedges go only once the shorts are flat and done
                for j, s in enumerate(sides):
                    if s == "SELL":
                        assert world.position[j] == 0
                        assert f"L{j}" not in world.working()
            coid = f"F{i}.{cmd.intent.intent_id.rsplit('.', 1)[1]}"
            world.orders[coid] = dict(kind="flat", leg=i, side=cmd.intent.spec.side, qty=cmd.intent.spec.qty_units, filled=0,
                                      state=S.ACCEPTED, cancel=False)
            inbox.append(coid)

    def report(coid: str) -> None:
        o = world.orders[coid]
        cls = LegUpdate if o["kind"] == "leg" else FlattenUpdate
        kw = {"filled_value_paise": o["filled"] * 100} if cls is LegUpdate else {}
        apply(cls(now_ns=now, leg_index=o["leg"], client_order_id=coid, state=o["state"], filled_qty_units=o["filled"],
                  **kw))

    def trade(coid: str, qty: int) -> None:
        o = world.orders[coid]
        o["filled"] += qty
        world.position[o["leg"]] += qty if o["side"] == "BUY" else -qty
        o["state"] = S.FILLED if o["filled"] == o["qty"] else S.PARTIALLY_FILLED

    apply(Start(now_ns=now))
    for _round in range(40):
        while inbox:
            report(inbox.pop(0))
        if group.state in grp.FINISHED:
            break
        working = world.working()
        action = draw(st.sampled_from(["fill", "part", "end", "cancel_done", "time", "abort"]))
        now += draw(st.integers(0, 400)) * MS
        if action == "time":
            apply(Wake(now_ns=now))
        elif action == "abort":
            apply(Abort(now_ns=now))
        elif working:
            coid = draw(st.sampled_from(working))
            o = world.orders[coid]
            left = o["qty"] - o["filled"]
            if action == "fill":
                trade(coid, left)
            elif action == "part" and left > 1:
                trade(coid, draw(st.integers(1, left - 1)))
            elif action == "end":  # the venue ends the order: cancel / expire / reject
                if o["kind"] == "flat":
                    if flatten_failures[o["leg"]] >= policy.max_flatten_attempts - 1:
                        trade(coid, left)  # the last flatten attempt always fills
                    else:
                        flatten_failures[o["leg"]] += 1
                        o["state"] = S.CANCELED
                else:
                    o["state"] = draw(st.sampled_from([S.CANCELED, S.EXPIRED]))
            elif action == "cancel_done" and o["cancel"]:
                o["state"] = S.CANCELED
            inbox.append(coid)
    # Then the market behaves: time runs out, cancels are answered, flatten orders fill.
    for _round in range(60):
        while inbox:
            report(inbox.pop(0))
        if group.state in grp.FINISHED:
            break
        now += 1_000 * MS
        for coid in world.working():
            o = world.orders[coid]
            if o["kind"] == "flat":
                trade(coid, o["qty"] - o["filled"])
            elif o["cancel"]:
                o["state"] = S.CANCELED
            inbox.append(coid)
        if not inbox:
            apply(Wake(now_ns=now))
    return group, world


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(st.sampled_from(["BUY", "SELL"]), min_size=1, max_size=4),
       st.lists(st.integers(1, 4), min_size=4, max_size=4))
def test_any_sequence_of_leg_outcomes_ends_complete_or_rolled_back_flat(data, sides, lots):
    qtys = [n * 65 for n in lots[: len(sides)]]
    group, world = drive(data.draw, sides, qtys, POLICY)
    assert group.state in (G.COMPLETE, G.ROLLED_BACK), (group.state, group.detail)
    assert not world.working()
    if group.state is G.COMPLETE:
        assert all(leg.state is S.FILLED for leg in group.legs)
        for i, side in enumerate(sides):
            assert world.position[i] == (qtys[i] if side == "BUY" else -qtys[i])
        assert not any(o["kind"] == "flat" for o in world.orders.values())
    else:
        assert all(units == 0 for units in world.position.values()), dict(world.position)
        assert all(grp.is_flat(leg) for leg in group.legs)
        assert group.reason_code


# --------------------------------------------------------------------------------------------
# Through the execution actor, with a real ledger
# --------------------------------------------------------------------------------------------


@pytest.fixture
def h(tmp_path: Path):
    harness = ExecHarness(tmp_path / "data")
    yield harness
    harness.close()


def condor_legs(h: ExecHarness, gid: str = "ic1") -> tuple[list[OrderIntent], list[Any]]:
    """An iron condor on the nearest NIFTY expiry: buy the outer strikes, sell the inner ones."""
    opts = h.nifty_options()
    strikes = sorted({k for k, _ in opts})
    mid = len(strikes) // 2
    put_buy, put_sell = opts[(strikes[mid - 2], "PE")], opts[(strikes[mid - 1], "PE")]
    call_sell, call_buy = opts[(strikes[mid + 1], "CE")], opts[(strikes[mid + 2], "CE")]
    insts = [put_buy, put_sell, call_sell, call_buy]
    sides = ["BUY", "SELL", "SELL", "BUY"]
    legs = [h.intent(inst, side, inst.lot_size_units, group_id=gid) for inst, side in zip(insts, sides)]
    return legs, insts


def quote_all(h: ExecHarness, insts: list[Any], bid: int = 99_00, ask: int = 100_00) -> None:
    for inst in insts:
        h.depth(inst, bids=[(bid, 1_000)], asks=[(ask, 1_000)])


def send_group(h: ExecHarness, legs: list[OrderIntent], gid: str, timeout_ms: int = 5_000,
               structure: str = "IRON_CONDOR") -> None:
    now = time.time_ns()
    h.actor.on_submit_group(SubmitGroup(gid, "s1", structure, legs, timeout_ms, now, now))  # type: ignore[arg-type]
    h.ctx.run_soon()


def group_steps(ledger: Any, gid: str) -> list[GroupEvent]:
    with ledger.reader().snapshot() as snap:
        return [e for _s, e in snap.events() if isinstance(e, GroupEvent) and e.group_id == gid]


def order_seq(ledger: Any, intent_id: str) -> int:
    with ledger.reader().snapshot() as snap:
        return min(s for s, e in snap.events() if getattr(e, "intent_id", None) == intent_id
                   and type(e).__name__ == "OrderEvent")


def test_iron_condor_completes_with_hedges_recorded_before_the_shorts(h):
    legs, insts = condor_legs(h)
    quote_all(h, insts)
    send_group(h, legs, "ic1")
    row = h.ledger.group("ic1")
    assert row.state is G.COMPLETE
    assert [leg.state for leg in row.legs] == [S.FILLED] * 4
    buys = [order_seq(h.ledger, legs[i].intent_id) for i in (0, 3)]
    sells = [order_seq(h.ledger, legs[i].intent_id) for i in (1, 2)]
    assert max(buys) < min(sells)  # the shorts were written (and sent) after both hedges
    for inst, side in zip(insts, ["BUY", "SELL", "SELL", "BUY"]):
        pos = h.ledger.position("s1", inst.segment, inst.security_id)
        assert pos.net_qty_units == (inst.lot_size_units if side == "BUY" else -inst.lot_size_units)
    steps = [e.step for e in group_steps(h.ledger, "ic1")]
    assert steps[0] == "STARTED" and "SELLS_RELEASED" in steps and steps[-1] == "COMPLETED"
    assert [m.state for m in h.published(GroupEvent)][-1] is G.COMPLETE
    assert h.ledger.verify() == []
    assert "ic1" not in h.actor.groups


def test_leg_rejected_by_the_venue_rolls_back_to_a_flat_position_in_the_ledger(h):
    legs, insts = condor_legs(h, "rb1")
    quote_all(h, insts[:3])  # the last hedge has no market data: the venue rejects it
    send_group(h, legs, "rb1")
    row = h.ledger.group("rb1")
    assert row.state is G.ROLLED_BACK and row.reason_code == "LEG_REJECTED"
    assert row.legs[3].state is S.REJECTED
    assert row.legs[1].state is None and row.legs[2].state is None  # no short was ever sent
    first = insts[0]
    pos = h.ledger.position("s1", first.segment, first.security_id)
    assert pos.net_qty_units == 0 and pos.realised_pnl_paise == (99_00 - 100_00) * first.lot_size_units
    flatten = h.ledger.order(h.ledger.client_order_id_for(grp.flatten_intent_id("rb1", 0, 1)))
    assert flatten.state is S.FILLED and flatten.spec.side == "SELL" and flatten.spec.qty_units == first.lot_size_units
    steps = [e.step for e in group_steps(h.ledger, "rb1")]
    assert steps[0] == "STARTED" and steps[-1] == "ROLLED_BACK"
    assert h.ledger.verify() == []


# A group that times out, on its own timer: tests/test_time_rules_sim.py.


def test_cancel_group_rolls_a_working_group_back(h):
    opts = h.nifty_options()
    inst = next(iter(opts.values()))
    h.depth(inst, bids=[(50_00, 1_000)], asks=[(51_00, 1_000)])
    legs = [h.intent(inst, "BUY", 65, order_type="LIMIT", price_paise=40_00, group_id="cg1")]
    send_group(h, legs, "cg1", structure="CUSTOM")
    assert h.ledger.group("cg1").state is G.WORKING_BUYS
    h.actor.on_cancel_group(CancelGroup("c1", "cg1", "operator", time.time_ns()))
    h.ctx.run_soon()
    row = h.ledger.group("cg1")
    assert row.state is G.ROLLED_BACK and row.reason_code == "ABORTED" and "operator" in row.detail


def test_resent_group_is_recognised_and_never_runs_twice(h):
    legs, insts = condor_legs(h, "dup1")
    quote_all(h, insts)
    send_group(h, legs, "dup1")
    orders_before = len(h.ledger.orders())
    events_before = h.ledger.last_seq()
    send_group(h, legs, "dup1")
    assert len(h.ledger.orders()) == orders_before and h.ledger.last_seq() == events_before
    assert h.published(GroupEvent)[-1].state is G.COMPLETE


def test_group_with_a_leg_not_in_the_master_is_rejected_and_nothing_is_sent(h):
    legs, insts = condor_legs(h, "bad1")
    quote_all(h, insts)
    bad = msgspec.structs.replace(legs[2], spec=msgspec.structs.replace(legs[2].spec, security_id=999_999_999))
    send_group(h, [legs[0], legs[1], bad, legs[3]], "bad1")
    row = h.ledger.group("bad1")
    assert row.state is G.REJECTED and row.reason_code == "LEG_INVALID" and "leg 2" in row.detail
    assert all(h.ledger.client_order_id_for(leg.intent_id) is None for leg in legs)


def test_group_is_refused_while_the_kill_switch_is_engaged(h):
    legs, insts = condor_legs(h, "ks1")
    quote_all(h, insts)
    h.ctx.kill_switch_engaged = True
    send_group(h, legs, "ks1")
    row = h.ledger.group("ks1")
    assert row.state is G.REJECTED and row.reason_code == "KILL_SWITCH"
    assert all(h.ledger.client_order_id_for(leg.intent_id) is None for leg in legs)


def test_group_in_flight_survives_a_restart_and_completes_from_the_ledger(tmp_path):
    data = tmp_path / "data"
    h = ExecHarness(data)
    opts = h.nifty_options()
    strikes = sorted({k for k, _ in opts})
    buy_inst, sell_inst = opts[(strikes[1], "PE")], opts[(strikes[2], "PE")]
    h.depth(buy_inst, bids=[(50_00, 1_000)], asks=[(51_00, 1_000)])
    h.depth(sell_inst, bids=[(70_00, 1_000)], asks=[(71_00, 1_000)])
    legs = [h.intent(buy_inst, "BUY", 65, order_type="LIMIT", price_paise=49_00, group_id="rs1"),  # rests
            h.intent(sell_inst, "SELL", 65, group_id="rs1")]
    send_group(h, legs, "rs1", timeout_ms=600_000, structure="BEAR_PUT_SPREAD")
    assert h.ledger.group("rs1").state is G.WORKING_BUYS
    h.close()

    h2 = ExecHarness(data)
    assert "rs1" in h2.actor.groups
    h2.depth(sell_inst, bids=[(70_00, 1_000)], asks=[(71_00, 1_000)])
    h2.depth(buy_inst, bids=[(48_00, 1_000)], asks=[(48_50, 1_000)])  # the resting hedge fills
    h2.ctx.run_soon()
    row = h2.ledger.group("rs1")
    assert row.state is G.COMPLETE
    assert h2.ledger.position("s1", sell_inst.segment, sell_inst.security_id).net_qty_units == -65
    assert h2.ledger.verify() == []
    h2.close()


def test_leg_recorded_as_sent_but_never_ordered_is_sent_after_a_restart(tmp_path):
    # The crash came between the group's write-ahead ("leg 0 sent") and the leg's order.
    data = tmp_path / "data"
    h = ExecHarness(data)
    inst = next(iter(h.nifty_options().values()))
    intent = h.intent(inst, "BUY", 65, group_id="cr1")
    h.close()
    now = time.time_ns()
    group = grp.new_group(SubmitGroup("cr1", "s1", "CUSTOM", [intent], 600_000, now, now))
    stepped = step(group, Start(now_ns=now), POLICY)
    assert stepped.group.legs[0].state is S.SUBMITTED and not stepped.group.legs[0].client_order_id
    with Ledger.open(ledger_dir(data), LedgerConfig(durability="os")) as ledger:
        ledger.append([grp.to_group_event(stepped.group, stepped.step, ts_event_ns=now, ts_init_ns=now)])

    h2 = ExecHarness(data)
    assert h2.ledger.client_order_id_for(intent.intent_id) is None
    h2.depth(inst, bids=[(99_00, 1_000)], asks=[(100_00, 1_000)])
    h2.ctx.fire_one_shots()  # the resend waits for the venue to have seen the market
    row = h2.ledger.group("cr1")
    assert row.state is G.COMPLETE
    assert h2.ledger.order(row.legs[0].client_order_id).intent_id == intent.intent_id
    assert h2.ledger.verify() == []
    h2.close()


def test_groups_table_is_rebuilt_from_the_events(tmp_path):
    h = ExecHarness(tmp_path / "data")
    legs, insts = condor_legs(h, "rb2")
    quote_all(h, insts[:3])
    send_group(h, legs, "rb2")
    before = dict(h.ledger.groups())
    h.close()
    with Ledger.open(ledger_dir(tmp_path / "data"), LedgerConfig(durability="os")) as ledger:
        report = ledger.rebuild_derived()
        assert report.refused == []
        assert dict(ledger.groups()) == before
        assert ledger.verify() == []
