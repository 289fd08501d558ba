"""Post-trade monitors: daily loss, per-trade loss/target, trailing stop, square-off, cut-off."""

from __future__ import annotations

import copy
import datetime as dt

import msgspec
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.risk import state as s
from actors.risk.checks import InstrumentLimits
from actors.risk.engine import RiskEngine
from actors.risk.limits import RiskLimits, StrategyLimits
from actors.risk.monitors import ActionKind, MonitorReason, PostTradeMonitor, exit_intent, to_risk_action
from engine.model.ist import ist_ns
from ipc.messages import Fill
from ipc.segments import Segment

SID = 55796
MONDAY = dt.date(2026, 11, 23)
T10 = ist_ns(MONDAY, dt.time(10, 0))


def fill(side: str, qty: int, price: int, charges: int = 0, strategy: str = "ema", segment: int = Segment.NSE_FNO) -> Fill:
    return Fill("f", "c", "v", strategy, segment, SID, side, qty, price, charges, T10, T10)  # type: ignore[arg-type]


def monitor(**strategy_limits: object) -> PostTradeMonitor:
    lim = RiskLimits(daily_max_loss_paise=10_000, strategies={"ema": StrategyLimits(**strategy_limits)})
    return PostTradeMonitor(lim)


# --- daily max loss ------------------------------------------------------------------------


def test_daily_loss_exactly_at_limit_does_nothing():
    m = monitor()
    assert m.on_fill(fill("BUY", 100, 1_000), "INTRADAY", T10) == ()
    assert m.on_mark(Segment.NSE_FNO, SID, 900, T10 + 1) == ()
    assert m.daily_pnl_paise() == -10_000


def test_daily_loss_one_paisa_past_limit_kills_and_flattens():
    m = monitor()
    m.on_fill(fill("BUY", 100, 1_000, charges=1), "INTRADAY", T10)
    actions = m.on_mark(Segment.NSE_FNO, SID, 900, T10 + 1)
    assert m.daily_pnl_paise() == -10_001
    assert [a.action for a in actions] == [ActionKind.KILL_AND_FLATTEN, ActionKind.EXIT]
    kill, flatten = actions
    assert kill.reason is MonitorReason.DAILY_MAX_LOSS and "-10001" in kill.message and "10000" in kill.message
    assert (flatten.side, flatten.qty_units, flatten.product) == ("SELL", 100, "INTRADAY")
    assert m.on_mark(Segment.NSE_FNO, SID, 800, T10 + 2) == ()  # once per day


def test_daily_loss_sums_realised_and_unrealised_across_positions():
    m = monitor()
    m.on_fill(fill("BUY", 10, 1_000), "INTRADAY", T10)
    m.on_fill(fill("SELL", 10, 500), "INTRADAY", T10)  # realised -5,000
    m.on_fill(fill("BUY", 10, 1_000, strategy="other"), "INTRADAY", T10)
    assert m.daily_pnl_paise() == -5_000
    actions = m.on_mark(Segment.NSE_FNO, SID, 499, T10)  # other: -5,010 unrealised
    assert actions and actions[0].action is ActionKind.KILL_AND_FLATTEN


def test_daily_pnl_restarts_at_the_ist_day_boundary():
    m = monitor()
    m.on_fill(fill("BUY", 100, 1_000), "CNC", T10)
    m.on_mark(Segment.NSE_FNO, SID, 950, T10)
    assert m.daily_pnl_paise() == -5_000
    tuesday = ist_ns(dt.date(2026, 11, 25), dt.time(9, 20))
    m.on_mark(Segment.NSE_FNO, SID, 940, tuesday)
    assert m.daily_pnl_paise() == -1_000


# --- per trade -----------------------------------------------------------------------------


def test_max_loss_per_trade_exits_one_paisa_past_limit():
    m = monitor(max_loss_per_trade_paise=1_000)
    m.on_fill(fill("BUY", 10, 1_000), "INTRADAY", T10)
    assert m.on_mark(Segment.NSE_FNO, SID, 900, T10) == ()  # -1,000: at the limit
    actions = m.on_fill(fill("BUY", 1, 900, charges=1), "INTRADAY", T10)  # adds; charges make it -1,001
    assert len(actions) == 1
    a = actions[0]
    assert (a.action, a.reason, a.side, a.qty_units) == (ActionKind.EXIT, MonitorReason.MAX_LOSS_PER_TRADE, "SELL", 11)
    assert "-1001" in a.message and "1000" in a.message


def test_target_per_trade_exits_when_reached_on_a_short():
    m = monitor(target_per_trade_paise=2_000)
    m.on_fill(fill("SELL", 20, 1_000), "INTRADAY", T10)
    assert m.on_mark(Segment.NSE_FNO, SID, 901, T10) == ()  # +1,980
    (a,) = m.on_mark(Segment.NSE_FNO, SID, 900, T10)  # +2,000
    assert (a.reason, a.side, a.qty_units) == (MonitorReason.TARGET_PER_TRADE, "BUY", 20)


def test_exit_fires_once_until_rearmed():
    m = monitor(target_per_trade_paise=100)
    m.on_fill(fill("BUY", 1, 1_000), "INTRADAY", T10)
    assert len(m.on_mark(Segment.NSE_FNO, SID, 1_100, T10)) == 1
    assert m.on_mark(Segment.NSE_FNO, SID, 1_200, T10) == ()
    m.rearm("ema", Segment.NSE_FNO, SID, "INTRADAY")
    assert len(m.on_mark(Segment.NSE_FNO, SID, 1_200, T10)) == 1


# --- trailing stop -------------------------------------------------------------------------


def test_trailing_stop_tracks_best_price_of_a_long():
    m = monitor(trailing_stop_paise=100)
    m.on_fill(fill("BUY", 10, 10_000), "INTRADAY", T10)
    for price in (10_100, 10_200, 10_150, 10_101):
        assert m.on_mark(Segment.NSE_FNO, SID, price, T10) == (), price
    (a,) = m.on_mark(Segment.NSE_FNO, SID, 10_100, T10)  # 100 below the best of 10,200
    assert (a.reason, a.side, a.qty_units) == (MonitorReason.TRAILING_STOP, "SELL", 10)
    assert "10200" in a.message and "10100" in a.message


def test_trailing_stop_in_bps_on_a_short():
    m = monitor(trailing_stop_bps=100)  # 1 %
    m.on_fill(fill("SELL", 10, 10_000), "INTRADAY", T10)
    assert m.on_mark(Segment.NSE_FNO, SID, 9_000, T10) == ()
    assert m.on_mark(Segment.NSE_FNO, SID, 9_089, T10) == ()  # 89 above best 9,000 < 90
    (a,) = m.on_mark(Segment.NSE_FNO, SID, 9_090, T10)
    assert (a.reason, a.side) == (MonitorReason.TRAILING_STOP, "BUY")


# --- square-off and cut-off ----------------------------------------------------------------


def test_intraday_square_off_at_1525_ist():
    m = monitor()
    m.on_fill(fill("BUY", 65, 10_000), "INTRADAY", T10)
    m.on_fill(fill("BUY", 65, 10_000, strategy="swing"), "CNC", T10)
    assert [a for a in m.on_clock(ist_ns(MONDAY, dt.time(15, 24, 59))) if a.action is ActionKind.SQUARE_OFF] == []
    squares = [a for a in m.on_clock(ist_ns(MONDAY, dt.time(15, 25))) if a.action is ActionKind.SQUARE_OFF]
    assert len(squares) == 1
    a = squares[0]
    assert (a.strategy, a.reason, a.side, a.qty_units) == ("ema", MonitorReason.SQUARE_OFF_TIME, "SELL", 65)
    assert "15:25:00" in a.message
    assert [a for a in m.on_clock(ist_ns(MONDAY, dt.time(15, 26))) if a.action is ActionKind.SQUARE_OFF] == []


def test_mcx_intraday_squares_off_at_its_own_time():
    m = monitor()
    m.on_fill(fill("BUY", 100, 7_000_00, segment=Segment.MCX_COMM), "INTRADAY", T10)
    assert not [a for a in m.on_clock(ist_ns(MONDAY, dt.time(15, 25))) if a.action is ActionKind.SQUARE_OFF]
    squares = [a for a in m.on_clock(ist_ns(MONDAY, dt.time(23, 15))) if a.action is ActionKind.SQUARE_OFF]
    assert len(squares) == 1 and squares[0].segment == Segment.MCX_COMM


def test_no_square_off_on_a_holiday():
    m = monitor()
    m.on_fill(fill("BUY", 65, 10_000), "INTRADAY", T10)
    assert m.on_clock(ist_ns(dt.date(2026, 11, 24), dt.time(15, 30))) == []


def test_entry_cutoff_notice_once_per_segment_and_day():
    m = monitor()
    assert m.on_clock(ist_ns(MONDAY, dt.time(15, 14, 59))) == []
    notices = m.on_clock(ist_ns(MONDAY, dt.time(15, 15)))
    fno = [a for a in notices if a.segment == Segment.NSE_FNO]
    assert len(fno) == 1 and fno[0].action is ActionKind.BLOCK_ENTRIES and "15:15:00" in fno[0].message
    assert Segment.MCX_COMM not in {a.segment for a in notices}
    assert not [a for a in m.on_clock(ist_ns(MONDAY, dt.time(15, 16))) if a.segment == Segment.NSE_FNO]


# --- actions into messages and orders ------------------------------------------------------


def test_exit_action_becomes_a_reduce_only_market_intent_the_halted_engine_lets_out():
    m = monitor()
    m.on_fill(fill("BUY", 100, 1_000, charges=1), "INTRADAY", T10)
    kill, flatten = m.on_mark(Segment.NSE_FNO, SID, 900, T10 + 1)
    msg = to_risk_action(kill, T10 + 2)
    assert msg.action == "KILL_AND_FLATTEN" and msg.reason_code == "DAILY_MAX_LOSS"

    halted = s.engage_kill(s.RiskStatus(), reason_code=kill.reason.value, detail=kill.message, by="risk",
                           role="system", now_ns=T10)
    inst = InstrumentLimits(segment=Segment.NSE_FNO, security_id=SID, lot_size_units=1, tick_paise=5)
    eng = RiskEngine(RiskLimits(), [inst], cash_paise=0, status=halted)
    eng.on_mark(Segment.NSE_FNO, SID, 900)
    eng.on_fill(fill("BUY", 100, 1_000))
    order = exit_intent(flatten, "risk-exit-1", T10 + 2)
    spec = order.spec
    assert (spec.side, spec.qty_units, spec.order_type, order.reduce_only) == ("SELL", 100, "MARKET", True)
    assert eng.check(order, T10 + 2) is None
    more = msgspec.structs.replace(order, intent_id="x", spec=msgspec.structs.replace(spec, qty_units=101))
    assert eng.check(more, T10 + 2) is not None


# --- replay batches: where the first rule would fire --------------------------------------------


def _monitor_and_marks(data: st.DataObject) -> tuple[PostTradeMonitor, list[int]]:
    """A monitor with some fills and marks behind it (any rule set), and marks to come."""
    lim = RiskLimits(daily_max_loss_paise=data.draw(st.integers(0, 5_000), "daily"),
                     strategies={"ema": StrategyLimits(
                         max_loss_per_trade_paise=data.draw(st.sampled_from([0, 50, 400, 2_000]), "loss"),
                         target_per_trade_paise=data.draw(st.sampled_from([0, 80, 700]), "target"),
                         trailing_stop_paise=data.draw(st.sampled_from([0, 5, 30]), "trail"),
                         trailing_stop_bps=data.draw(st.sampled_from([0, 10, 300]), "trail_bps"))})
    m = PostTradeMonitor(lim)
    for _ in range(data.draw(st.integers(0, 3), "fills")):
        m.on_fill(fill(data.draw(st.sampled_from(["BUY", "SELL"])), data.draw(st.integers(1, 20)),
                       data.draw(st.integers(900, 1_100)), data.draw(st.integers(0, 30))), "INTRADAY", T10)
        m.on_mark(Segment.NSE_FNO, SID, data.draw(st.integers(900, 1_100)), T10)
    return m, data.draw(st.lists(st.integers(850, 1_150), max_size=40), "marks")


def _state(m: PostTradeMonitor) -> list[tuple[int, int, int, int, bool]]:
    return [(p.net_units, p.mark_paise, p.best_paise, p.day_pnl_paise, p.exiting) for p in m._positions.values()]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_first_firing_mark_is_where_on_mark_first_acts_and_quiet_marks_leave_the_same_state(data):
    m, marks = _monitor_and_marks(data)
    one_by_one = copy.deepcopy(m)
    k = m.first_firing_mark(Segment.NSE_FNO, SID, np.array(marks, dtype=np.int64), T10)
    quiet = marks[:k]
    assert all(one_by_one.on_mark(Segment.NSE_FNO, SID, p, T10) == () for p in quiet)
    if k < len(marks):
        assert one_by_one.on_mark(Segment.NSE_FNO, SID, marks[k], T10) != ()
        one_by_one = copy.deepcopy(m)
        for p in quiet:
            one_by_one.on_mark(Segment.NSE_FNO, SID, p, T10)
    if quiet:
        m.take_quiet_marks(Segment.NSE_FNO, SID, quiet[-1], max(quiet), min(quiet), T10)
    assert m.daily_pnl_paise() == one_by_one.daily_pnl_paise()
    assert _state(m) == _state(one_by_one)


def test_first_firing_mark_is_conservative_with_two_open_positions_in_one_instrument():
    m = monitor()
    m.on_fill(fill("BUY", 10, 1_000), "INTRADAY", T10)
    m.on_fill(fill("BUY", 10, 1_000, strategy="other"), "INTRADAY", T10)
    assert m.first_firing_mark(Segment.NSE_FNO, SID, np.array([1_000, 1_001], dtype=np.int64), T10) == 0
    assert m.first_firing_mark(Segment.NSE_FNO, SID + 1, np.array([1_000], dtype=np.int64), T10) == 1  # nothing held there
