"""The protective stop's planner (actors.execution.stops): the OCO invariant as a state machine
driven by a simulated venue, and the trailing/cap rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.execution import stops
from actors.execution.stops import Cancel, Keep, Modify, Place, Protection, Resting

CAP = 25


def resting(units: int, trigger: int = 100_00, *, side: str = "SELL", busy: bool = False, modifies: int = 0,
            cap: int = CAP) -> Resting:
    return Resting(client_order_id="c1", side=side, open_units=units, trigger_price_paise=trigger,  # type: ignore[arg-type]
                   busy=busy, modify_count=modifies, modify_cap=cap)


def test_a_long_gets_a_sell_sl_m_for_its_whole_position() -> None:
    action = stops.plan(Protection(trigger_price_paise=95_00), 10, 0, None)
    assert action == Place(side="SELL", qty_units=10, order_type="SL_M", price_paise=0, trigger_price_paise=95_00,
                           product="INTRADAY")


def test_a_short_gets_a_buy_sl_with_its_limit_beyond_the_trigger() -> None:
    action = stops.plan(Protection(trigger_price_paise=105_00, limit_offset_paise=50, product="MARGIN"), -4, 0, None)
    assert action == Place(side="BUY", qty_units=4, order_type="SL", price_paise=105_50, trigger_price_paise=105_00,
                           product="MARGIN")


def test_moves_smaller_than_the_step_leave_the_order_and_a_step_modifies_it() -> None:
    p = Protection(trigger_price_paise=100_40, step_paise=50)
    assert stops.plan(p, 10, 0, resting(10, 100_00)) == Keep()
    p = Protection(trigger_price_paise=100_50, step_paise=50)
    assert stops.plan(p, 10, 0, resting(10, 100_00)) == Modify(client_order_id="c1", qty_units=10, price_paise=0,
                                                               trigger_price_paise=100_50)


def test_at_the_modification_cap_the_stop_is_cancelled_to_be_placed_afresh() -> None:
    p = Protection(trigger_price_paise=101_00)
    assert stops.plan(p, 10, 0, resting(10, 100_00, modifies=CAP)) == Cancel(client_order_id="c1", why="cap")


def test_an_exit_shrinks_the_stop_and_a_full_exit_cancels_it() -> None:
    p = Protection(trigger_price_paise=100_00)
    assert stops.plan(p, 10, 4, resting(10), filled_units=0) == Modify(client_order_id="c1", qty_units=6,
                                                                       price_paise=0, trigger_price_paise=100_00)
    assert stops.plan(p, 10, 10, resting(10)) == Cancel(client_order_id="c1", why="exits")
    assert stops.plan(p, 0, 0, resting(10)) == Cancel(client_order_id="c1", why="flat")
    assert stops.plan(None, 10, 0, resting(10)) == Cancel(client_order_id="c1", why="withdrawn")


def test_a_busy_stop_gets_no_second_request() -> None:
    assert stops.plan(None, 0, 0, resting(10, busy=True)) == Keep()


def test_a_refused_trigger_is_not_asked_again_until_it_moves() -> None:
    p = Protection(trigger_price_paise=100_00, refused_trigger_paise=100_00)
    assert stops.plan(p, 10, 0, None) == Keep()
    assert isinstance(stops.plan(Protection(trigger_price_paise=99_00, refused_trigger_paise=100_00), 10, 0, None),
                      Place)


def test_an_exit_waits_while_the_stop_with_it_would_close_more_than_is_held() -> None:
    assert not stops.exit_may_go(10, 0, 10, resting(10))
    assert stops.exit_may_go(10, 0, 4, resting(6))
    assert stops.exit_may_go(10, 0, 25, None)  # a reversal with no stop left goes
    assert not stops.exit_may_go(10, 0, 25, resting(1))


# The OCO as a state machine: a venue that answers requests late, fills stops and exits at random ----

step = st.one_of(
    st.tuples(st.just("declare"), st.integers(90_00, 110_00)),
    st.tuples(st.just("withdraw"), st.just(0)),
    st.tuples(st.just("entry"), st.integers(1, 20)),
    st.tuples(st.just("exit"), st.integers(1, 30)),
    st.tuples(st.just("answer"), st.just(0)),
    st.tuples(st.just("stop_fills"), st.integers(1, 30)),
    st.tuples(st.just("exit_fills"), st.integers(1, 30)),
)


class _Venue:
    """The stop and the exits as a venue holds them; requests are answered on "answer"."""

    def __init__(self) -> None:
        self.position = 0
        self.stop: Resting | None = None
        self.stop_filled = 0
        self.pending: Place | Modify | Cancel | None = None
        self.exits_at_venue = 0
        self.exits_waiting: list[int] = []
        self.modifies_sent = 0

    def invariant(self) -> None:
        stop_units = self.stop.open_units if self.stop is not None else 0
        assert stop_units + min(abs(self.position), self.exits_at_venue) <= abs(self.position) or not self.position \
            and not stop_units, (stop_units, self.exits_at_venue, self.position)
        if self.stop is not None:
            assert self.stop.modify_count <= CAP


@settings(max_examples=500, deadline=None)
@given(st.lists(step, max_size=60))
def test_stop_and_exits_together_never_close_more_than_is_held(steps: list[tuple[str, int]]) -> None:
    v = _Venue()
    protection: Protection | None = None
    for kind, n in steps:
        if kind == "declare":
            protection = Protection(trigger_price_paise=n, step_paise=25)
        elif kind == "withdraw":
            protection = None
        elif kind == "entry" and not v.exits_at_venue and not v.exits_waiting:
            v.position += n  # longs only: the exits below are SELLs
        elif kind == "exit" and v.position - v.exits_at_venue - sum(v.exits_waiting) > 0:
            # Risk's reduce-only rule: exits together never exceed the position (the stop is not counted).
            v.exits_waiting.append(min(n, v.position - v.exits_at_venue - sum(v.exits_waiting)))
        elif kind == "answer" and v.pending is not None:
            if isinstance(v.pending, Place):
                v.stop = resting(v.pending.qty_units, v.pending.trigger_price_paise)
                v.stop_filled = 0
            elif isinstance(v.pending, Modify) and v.stop is not None:
                v.stop = resting(v.pending.qty_units - v.stop_filled, v.pending.trigger_price_paise,
                                 modifies=v.stop.modify_count + 1)
            elif isinstance(v.pending, Cancel):
                v.stop = None
            v.pending = None
        elif kind == "stop_fills" and v.stop is not None:
            q = min(n, v.stop.open_units)
            v.position -= q
            v.stop_filled += q
            left = v.stop.open_units - q
            v.stop = resting(left, v.stop.trigger_price_paise, modifies=v.stop.modify_count) if left else None
            if v.stop is None:
                v.pending = None
        elif kind == "exit_fills" and v.exits_at_venue:
            q = min(n, v.exits_at_venue)
            v.exits_at_venue -= q
            v.position -= q
        assert v.position >= 0, "closed more than was held"
        # The OMS: a request when the stop is not busy; waiting exits go when the invariant allows.
        current = v.stop if v.stop is None else resting(v.stop.open_units, v.stop.trigger_price_paise,
                                                         busy=v.pending is not None, modifies=v.stop.modify_count)
        if v.pending is None:
            closing = v.exits_at_venue + sum(v.exits_waiting)
            action = stops.plan(protection, v.position, closing, current, v.stop_filled)
            if isinstance(action, Place):
                assert v.stop is None and action.side == "SELL"
                v.pending = action
            elif isinstance(action, (Modify, Cancel)):
                assert v.stop is not None
                v.pending = action
        # As the OMS holds it: a place in flight is the order at its size, a modify in flight may grow it.
        if isinstance(v.pending, Place):
            seen = resting(v.pending.qty_units, busy=True)
        elif isinstance(v.pending, Modify) and v.stop is not None:
            seen = Resting(client_order_id="c1", side="SELL", open_units=v.stop.open_units,
                           trigger_price_paise=v.stop.trigger_price_paise, busy=True,
                           modify_count=v.stop.modify_count, modify_cap=CAP,
                           pending_units=v.pending.qty_units - v.stop_filled)
        else:
            seen = v.stop
        for exit_units in list(v.exits_waiting):
            if v.exits_at_venue + exit_units > v.position:
                v.exits_waiting.remove(exit_units)  # reduce-only: rejected, the stop closed (some of) it
            elif stops.exit_may_go(v.position, v.exits_at_venue, exit_units, seen):
                v.exits_waiting.remove(exit_units)
                v.exits_at_venue += exit_units
        v.invariant()
