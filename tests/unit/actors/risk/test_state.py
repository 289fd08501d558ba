"""Trading state machine, kill switch, and how each state admits orders."""

from __future__ import annotations

import datetime as dt

import pytest

from actors.risk import state as s
from actors.risk.checks import InstrumentLimits
from actors.risk.engine import RiskEngine
from ipc.reasons import DenyReason
from actors.risk.limits import RiskLimits
from engine.model.ist import NS_PER_S, ist_ns
from actors.risk.state import Command, RefusalCode, RiskStatus, TransitionRefused
from ipc.messages import Fill, OrderIntent, OrderSpec, TradingState
from ipc.segments import Segment

SID = 55796
T10 = ist_ns(dt.date(2026, 11, 23), dt.time(10, 0))
INST = InstrumentLimits(segment=Segment.NSE_FNO, security_id=SID, lot_size_units=65, tick_paise=5, freeze_qty_units=1755)


def intent(intent_id: str, side: str, qty: int, reduce_only: bool = False) -> OrderIntent:
    spec = OrderSpec(segment=Segment.NSE_FNO, security_id=SID, side=side, order_type="LIMIT", qty_units=qty,  # type: ignore[arg-type]
                     price_paise=10_000)
    return OrderIntent(intent_id, "ema", spec, T10, T10, T10, reduce_only)


def long_engine(status: RiskStatus, units: int = 130) -> RiskEngine:
    eng = RiskEngine(RiskLimits(), [INST], cash_paise=10**12, status=status)
    eng.on_mark(Segment.NSE_FNO, SID, 10_000)
    eng.on_fill(Fill("f", "c", "v", "ema", Segment.NSE_FNO, SID, "BUY", units, 10_000, 0, T10, T10))
    return eng


def halted() -> RiskStatus:
    out = s.engage_kill(RiskStatus(), reason_code="DAILY_MAX_LOSS", detail="day P&L -10001", by="risk",
                        role="system", now_ns=T10)
    assert isinstance(out, RiskStatus)
    return out


def test_engage_kill_switch_halts_with_reason_and_who():
    st = halted()
    assert st.state is TradingState.HALTED
    assert (st.reason_code, st.by, st.since_ns) == ("DAILY_MAX_LOSS", "risk", T10)
    msg = s.to_message(st, T10 + 1)
    assert msg.state == "HALTED" and msg.reason_code == "DAILY_MAX_LOSS" and msg.ts_event_ns == T10


def test_engaging_again_keeps_the_first_reason():
    st = halted()
    again = s.engage_kill(st, reason_code="MANUAL", detail="", by="alice", role="trader", now_ns=T10 + 5)
    assert again is st


def test_release_requires_admin():
    st = halted()
    refused = s.release_kill(st, by="bob", role="trader", now_ns=T10)
    assert isinstance(refused, TransitionRefused) and refused.code is RefusalCode.NOT_PERMITTED
    assert "admin" in refused.message and "trader" in refused.message
    released = s.release_kill(st, by="root", role="admin", now_ns=T10 + 1)
    assert isinstance(released, RiskStatus) and released.state is TradingState.ACTIVE and released.by == "root"


def test_viewer_cannot_engage_and_release_without_halt_is_invalid():
    refused = s.engage_kill(RiskStatus(), reason_code="X", detail="", by="v", role="viewer", now_ns=T10)
    assert isinstance(refused, TransitionRefused) and refused.code is RefusalCode.NOT_PERMITTED
    refused = s.release_kill(RiskStatus(), by="root", role="admin", now_ns=T10)
    assert isinstance(refused, TransitionRefused) and refused.code is RefusalCode.INVALID_TRANSITION


def test_reduce_and_resume():
    red = s.apply(RiskStatus(), Command.REDUCE, by="alice", role="trader", now_ns=T10)
    assert isinstance(red, RiskStatus) and red.state is TradingState.REDUCING
    refused = s.apply(red, Command.RESUME, by="risk", role="system", now_ns=T10)
    assert isinstance(refused, TransitionRefused)  # the engine may tighten, never loosen
    back = s.apply(red, Command.RESUME, by="alice", role="trader", now_ns=T10)
    assert isinstance(back, RiskStatus) and back.state is TradingState.ACTIVE


def test_transition_table_only_targets_known_states_and_every_state_has_an_admission():
    assert set(s.ADMISSION) == set(TradingState)
    for (src, _), rule in s.TRANSITIONS.items():
        assert src in TradingState and rule.target in TradingState and rule.roles


@pytest.mark.parametrize(
    "state,reduces,reduce_only,admitted",
    [
        (TradingState.ACTIVE, False, False, True),
        (TradingState.REDUCING, True, False, True),
        (TradingState.REDUCING, False, False, False),
        (TradingState.HALTED, True, True, True),
        (TradingState.HALTED, True, False, False),
        (TradingState.HALTED, False, True, False),
    ],
)
def test_admission_by_state(state, reduces, reduce_only, admitted):
    assert s.admits(state, reduces, reduce_only) is admitted


# --- through the engine -------------------------------------------------------------------


def test_reducing_admits_a_sell_that_reduces_a_long():
    red = s.apply(RiskStatus(), Command.REDUCE, by="alice", role="trader", now_ns=T10)
    eng = long_engine(red)
    assert eng.check(intent("a", "SELL", 130), T10) is None


def test_reducing_denies_a_sell_that_flips_past_zero():
    red = s.apply(RiskStatus(), Command.REDUCE, by="alice", role="trader", now_ns=T10)
    eng = long_engine(red)
    d = eng.check(intent("a", "SELL", 195), T10)
    assert d.reason is DenyReason.REDUCING


def test_reducing_counts_open_reducing_orders():
    red = s.apply(RiskStatus(), Command.REDUCE, by="alice", role="trader", now_ns=T10)
    eng = long_engine(red)
    eng.approve(intent("a", "SELL", 65), T10)
    eng.approve(intent("b", "SELL", 65), T10 + NS_PER_S)
    assert eng.check(intent("c", "SELL", 65), T10 + 2 * NS_PER_S).reason is DenyReason.REDUCING


def test_reducing_denies_a_buy_that_adds():
    red = s.apply(RiskStatus(), Command.REDUCE, by="alice", role="trader", now_ns=T10)
    assert long_engine(red).check(intent("a", "BUY", 65), T10).reason is DenyReason.REDUCING


def test_halted_denies_new_orders():
    eng = long_engine(halted())
    d = eng.check(intent("a", "BUY", 65), T10)
    assert d.reason is DenyReason.HALTED
    d = eng.check(intent("b", "SELL", 65), T10)  # reducing, but not a flatten order
    assert d.reason is DenyReason.HALTED


def test_halted_lets_the_flatten_order_out():
    eng = long_engine(halted())
    assert eng.check(intent("flat", "SELL", 130, reduce_only=True), T10) is None


def test_reduce_only_intent_that_would_flip_is_denied_when_active():
    eng = long_engine(RiskStatus())
    d = eng.check(intent("a", "SELL", 195, reduce_only=True), T10)
    assert d.reason is DenyReason.REDUCE_ONLY and "195" in d.message and "130" in d.message
    assert eng.check(intent("b", "SELL", 130, reduce_only=True), T10) is None
