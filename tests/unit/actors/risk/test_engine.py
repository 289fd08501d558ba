"""The RiskEngine: the full check list with its usage state (rate window, open orders, positions,
exposure, funds, duplicates, slicing)."""

from __future__ import annotations

import datetime as dt

import msgspec

from actors.risk.checks import InstrumentLimits, to_order_denied
from actors.risk.engine import RecentIds, RiskEngine
from actors.risk.limits import RiskLimits, StrategyLimits
from engine.model.calendar import default_calendar
from engine.model.ist import NS_PER_S, ist_day_number, ist_ns
from ipc.messages import Fill, OrderEvent, OrderSpec, OrderState, Position
from ipc.reasons import Denial, DenyReason
from ipc.segments import Segment
from tests.unit.actors.risk.test_checks import MONDAY, NIFTY_OPT, OPT, T10, intent


def engine(limits: RiskLimits | None = None, cash_paise: int = 10**12, mark_paise: int = 10_000) -> RiskEngine:
    eng = RiskEngine(limits or RiskLimits(), [OPT], cash_paise=cash_paise, calendar=default_calendar())
    if mark_paise:
        eng.on_mark(Segment.NSE_FNO, NIFTY_OPT, mark_paise)
    return eng



# --------------------------------------------------------------------------------------------
# The engine: the full list with its usage state
# --------------------------------------------------------------------------------------------


def test_valid_limit_intent_is_approved():
    assert engine().check(intent(), T10) is None


def test_unknown_instrument_message_names_it():
    d = engine().check(intent(security_id=999), T10)
    assert d.reason is DenyReason.UNKNOWN_INSTRUMENT and "NSE_FNO:999" in d.message
    denied = to_order_denied(intent(security_id=999), d, T10 + 1, T10)
    assert (denied.intent_id, denied.strategy, denied.segment, denied.security_id, denied.reason_code) == \
        ("i-1", "ema", Segment.NSE_FNO, 999, "UNKNOWN_INSTRUMENT")


def test_index_and_untradable_instruments_are_denied():
    idx = InstrumentLimits(segment=Segment.NSE_FNO, security_id=13, lot_size_units=1, tick_paise=5, kind="INDEX")
    off = InstrumentLimits(segment=Segment.NSE_FNO, security_id=14, lot_size_units=1, tick_paise=5, tradable=False)
    eng = RiskEngine(RiskLimits(), [idx, off], cash_paise=10**12)
    for sid in (13, 14):
        eng.on_mark(Segment.NSE_FNO, sid, 10_000)
        assert eng.check(intent(security_id=sid, qty_units=1), T10).reason is DenyReason.NOT_TRADABLE


def test_expired_instrument_is_denied_day_after_expiry():
    exp = msgspec.structs.replace(OPT, security_id=77, expiry_ist_day=ist_day_number(MONDAY))
    eng = RiskEngine(RiskLimits(), [exp], cash_paise=10**12)
    eng.on_mark(Segment.NSE_FNO, 77, 10_000)
    assert eng.check(intent(security_id=77), T10) is None
    tuesday10 = ist_ns(dt.date(2026, 11, 25), dt.time(10, 0))  # 24th is a holiday
    d = eng.check(intent(security_id=77), tuesday10)
    assert d.reason is DenyReason.INSTRUMENT_EXPIRED and "2026-11-23" in d.message


def test_market_closed_after_close_and_on_weekend():
    eng = engine()
    d = eng.check(intent(), ist_ns(MONDAY, dt.time(15, 31)))
    assert d.reason is DenyReason.MARKET_CLOSED and "15:31:00 IST" in d.message and "15:30:00" in d.message
    d = eng.check(intent(), ist_ns(dt.date(2026, 11, 21), dt.time(10, 0)))
    assert d.reason is DenyReason.MARKET_CLOSED and "a weekend" in d.message


def test_a_weekday_past_the_calendar_data_trades_on_the_fallback():
    # exchange_calendars 4.13.2's XBOM data ends on 2026-12-31; 2027-01-04 is a Monday.
    assert default_calendar().last_date < dt.date(2027, 1, 4)
    assert engine().check(intent(), ist_ns(dt.date(2027, 1, 4), dt.time(10, 0))) is None


def test_a_fixed_date_holiday_past_the_calendar_data_is_closed_with_its_name():
    d = engine().check(intent(), ist_ns(dt.date(2027, 1, 26), dt.time(10, 0)))
    assert d.reason is DenyReason.MARKET_CLOSED and "Republic Day" in d.message and "fallback" in d.message


def test_entry_cutoff_blocks_entries_but_not_exits():
    eng = engine()
    eng.on_fill(_fill("BUY", 65))
    cutoff = ist_ns(MONDAY, dt.time(15, 15))
    assert eng.check(intent(intent_id="a"), cutoff - 1) is None
    d = eng.check(intent(intent_id="b"), cutoff)
    assert d.reason is DenyReason.ENTRY_CUTOFF and "15:15:00 IST" in d.message
    assert eng.check(intent(intent_id="c", side="SELL"), cutoff) is None


def test_market_order_without_last_price_is_denied():
    eng = engine(mark_paise=0)
    d = eng.check(intent(order_type="MARKET", price_paise=0), T10)
    assert d.reason is DenyReason.NO_LAST_PRICE and "NSE_FNO:55796" in d.message


def test_price_band_applies_around_last_price():
    eng = engine()
    assert eng.check(intent(price_paise=10_500), T10) is None
    d = eng.check(intent(price_paise=10_505), T10)
    assert d.reason is DenyReason.PRICE_OUTSIDE_BAND and "10505" in d.message


def test_rate_limit_burst_of_100_approves_exactly_the_configured_number():
    eng = engine()
    approved, denied = 0, []
    for k in range(100):
        now = T10 + k * 5_000_000  # 100 intents within 0.5 s
        it = intent(intent_id=f"b{k}", qty_units=65)
        d = eng.check(it, now)
        if d is None:
            eng.record_approved(it, now)
            approved += 1
        else:
            denied.append(d.reason)
    assert approved == 10
    assert denied == [DenyReason.RATE_LIMIT_SECOND] * 90


def test_rate_limit_window_slides():
    eng = engine(RiskLimits(max_orders_per_second=3))
    for k in range(3):
        eng.approve(intent(intent_id=f"w{k}"), T10 + k * 100_000_000)  # at 0, 0.1, 0.2 s
    assert eng.check(intent(intent_id="x"), T10 + 999_999_999).reason is DenyReason.RATE_LIMIT_SECOND
    assert eng.check(intent(intent_id="x"), T10 + NS_PER_S) is None  # the first order left the window
    eng.approve(intent(intent_id="x"), T10 + NS_PER_S)
    assert eng.check(intent(intent_id="y"), T10 + NS_PER_S + 1).reason is DenyReason.RATE_LIMIT_SECOND
    assert eng.check(intent(intent_id="y"), T10 + NS_PER_S + 100_000_000) is None


def test_orders_per_day_and_open_orders_count_each_approval():
    eng = engine(RiskLimits(max_orders_per_day=2, max_open_orders=5))
    eng.approve(intent(intent_id="a"), T10)
    eng.approve(intent(intent_id="b"), T10 + NS_PER_S)
    d = eng.check(intent(intent_id="c"), T10 + 2 * NS_PER_S)
    assert d.reason is DenyReason.RATE_LIMIT_DAY and "2 orders today" in d.message
    next_day = ist_ns(dt.date(2026, 11, 25), dt.time(10, 0))
    assert eng.check(intent(intent_id="c"), next_day) is None  # counters roll at the IST day

    eng = engine(RiskLimits(max_open_orders=1))
    eng.approve(intent(intent_id="a"), T10)
    assert eng.check(intent(intent_id="b"), T10 + NS_PER_S).reason is DenyReason.MAX_OPEN_ORDERS
    eng.on_order_state(_event("a", OrderState.CANCELED))
    assert eng.check(intent(intent_id="b"), T10 + NS_PER_S) is None


def test_duplicate_intent_id_is_denied():
    eng = engine()
    eng.approve(intent(intent_id="dup"), T10)
    assert eng.check(intent(intent_id="dup"), T10 + NS_PER_S).reason is DenyReason.DUPLICATE_INTENT


def test_duplicate_check_remembers_the_latest_intents_within_a_bounded_memory():
    eng = engine()
    eng._seen = RecentIds(size=3)  # the engine's memory for the check, made small to see its edge
    for n in range(4):
        eng.approve(intent(intent_id=f"i{n}"), T10 + n * NS_PER_S)
    later = T10 + 10 * NS_PER_S
    assert [eng.check(intent(intent_id=f"i{n}"), later) for n in (1, 2, 3)] == [
        Denial(DenyReason.DUPLICATE_INTENT, f"intent 'i{n}' was already approved today") for n in (1, 2, 3)]
    assert eng.check(intent(intent_id="i0"), later) is None  # the oldest was forgotten


def test_recent_ids_keep_the_last_ones_added():
    ids = RecentIds(size=2)
    for item in ("a", "b", "a", "c"):
        ids.add(item)
    assert ("a" in ids, "b" in ids, "c" in ids, len(ids)) == (False, True, True, 2)
    ids.clear()
    assert len(ids) == 0 and "c" not in ids


def test_intent_above_freeze_is_sliced_into_whole_lots():
    eng = engine(mark_paise=1_000)
    big = intent(intent_id="big", qty_units=4_030, price_paise=1_000)  # 62 lots; freeze 1755 = 27 lots
    assert eng.check(big, T10) is None
    orders = eng.record_approved(big, T10)
    assert [o.spec.qty_units for o in orders] == [1755, 1755, 520]
    assert [o.intent_id for o in orders] == ["big.1", "big.2", "big.3"]
    assert eng.orders_in_last_second(T10) == 3 and eng.open_orders == 3
    assert eng.check(intent(intent_id="big"), T10 + NS_PER_S).reason is DenyReason.DUPLICATE_INTENT


def test_intent_above_freeze_goes_whole_when_the_venue_slices_but_counts_every_slice():
    eng = engine(mark_paise=1_000)
    eng.venue_slices = True  # the live Dhan venue sends the slices as child orders of one order
    big = intent(intent_id="big", qty_units=4_030, price_paise=1_000)
    (order,) = eng.record_approved(big, T10)
    assert order is big and order.spec.qty_units == 4_030
    assert eng.orders_in_last_second(T10) == 3 and eng.orders_today == 3 and eng.open_orders == 1


def test_slices_count_against_the_rate_limit():
    eng = engine(mark_paise=1_000)
    for k in range(8):
        eng.approve(intent(intent_id=f"r{k}", price_paise=1_000), T10)
    d = eng.check(intent(intent_id="big", qty_units=4_030, price_paise=1_000), T10)
    assert d.reason is DenyReason.RATE_LIMIT_SECOND and "3 new" in d.message


def test_above_freeze_is_denied_when_slicing_disabled():
    no_slicing = RiskLimits(default=msgspec.structs.replace(RiskLimits().default, slicing_enabled=False))
    eng = engine(no_slicing, mark_paise=1_000)
    d = eng.check(intent(qty_units=1_820, price_paise=1_000), T10)
    assert d.reason is DenyReason.QTY_ABOVE_FREEZE and "1820" in d.message and "1755" in d.message




def test_cooldown_and_flip_only_through_engine():
    lim = RiskLimits(strategies={"ema": StrategyLimits(order_cooldown_s=2.0, flip_only=True)})
    eng = engine(lim)
    eng.approve(intent(intent_id="a"), T10)
    d = eng.check(intent(intent_id="b", side="SELL"), T10 + NS_PER_S)
    assert d.reason is DenyReason.COOLDOWN
    d = eng.check(intent(intent_id="b"), T10 + 2 * NS_PER_S)
    assert d.reason is DenyReason.FLIP_ONLY  # another BUY on top of the open BUY
    assert eng.check(intent(intent_id="b", side="SELL", qty_units=130), T10 + 2 * NS_PER_S) is None


def test_position_limit_counts_open_orders_as_filled():
    lim = RiskLimits(default=msgspec.structs.replace(RiskLimits().default, max_position_units=130))
    eng = engine(lim)
    eng.on_fill(_fill("BUY", 65))
    eng.approve(intent(intent_id="a"), T10)  # 65 filled + 65 open = 130
    d = eng.check(intent(intent_id="b"), T10 + NS_PER_S)
    assert d.reason is DenyReason.MAX_POSITION_UNITS and "195" in d.message
    assert eng.check(intent(intent_id="b", side="SELL"), T10 + NS_PER_S) is None  # reduces


def test_gross_and_net_exposure_use_marks_and_open_orders():
    # one lot at 100.00 = 6,500.00 = 650,000 paise
    eng = engine(RiskLimits(max_gross_exposure_paise=1_300_000, max_net_exposure_paise=10**12))
    eng.on_fill(_fill("BUY", 65))
    assert eng.gross_paise == 650_000
    assert eng.check(intent(intent_id="a"), T10) is None  # 1,300,000 at the limit
    eng.on_mark(Segment.NSE_FNO, NIFTY_OPT, 10_005)
    d = eng.check(intent(intent_id="a", price_paise=10_005), T10)
    assert d.reason is DenyReason.MAX_GROSS_EXPOSURE and "1300650" in d.message

    eng = engine(RiskLimits(max_net_exposure_paise=650_000))
    assert eng.check(intent(intent_id="a"), T10) is None
    eng.approve(intent(intent_id="a"), T10)
    d = eng.check(intent(intent_id="b", security_id=NIFTY_OPT), T10 + NS_PER_S)
    assert d.reason is DenyReason.MAX_NET_EXPOSURE and "1300000" in d.message


def test_funds_reserved_by_open_orders():
    eng = engine(cash_paise=1_300_000)
    eng.approve(intent(intent_id="a"), T10)  # reserves 650,000
    assert eng.reserved_paise == 650_000
    assert eng.check(intent(intent_id="b"), T10 + NS_PER_S) is None
    eng.approve(intent(intent_id="b"), T10 + NS_PER_S)
    d = eng.check(intent(intent_id="c"), T10 + 2 * NS_PER_S)
    assert d.reason is DenyReason.INSUFFICIENT_FUNDS and "650000" in d.message and "1300000" in d.message
    eng.on_order_state(_event("a", OrderState.CANCELED))
    assert eng.reserved_paise == 650_000


def test_exit_larger_than_max_order_value_passes_but_entry_does_not():
    lim = RiskLimits(default=msgspec.structs.replace(RiskLimits().default, max_order_value_paise=650_000))
    eng = engine(lim)
    eng.on_fill(_fill("BUY", 130))
    assert eng.check(intent(intent_id="exit", side="SELL", qty_units=130), T10) is None
    d = eng.check(intent(intent_id="add", qty_units=130), T10)
    assert d.reason is DenyReason.MAX_ORDER_VALUE and "1300000" in d.message and "650000" in d.message


def test_trades_per_day_counts_entries_not_exits():
    eng = engine(RiskLimits(max_trades_per_day=1))
    eng.on_fill(_fill("BUY", 65))
    assert eng.trades_today == 1
    assert eng.check(intent(intent_id="a", side="SELL"), T10) is None  # exit allowed
    d = eng.check(intent(intent_id="b", side="BUY"), T10)
    assert d.reason is DenyReason.MAX_TRADES_PER_DAY and "1 trades today" in d.message


def test_partial_fills_shrink_open_quantity():
    eng = engine()
    eng.approve(intent(intent_id="a", qty_units=130), T10)
    eng.on_order_state(_event("a", OrderState.PARTIALLY_FILLED, filled=65, qty=130))
    eng.on_fill(_fill("BUY", 65))
    assert eng.position_units("ema", Segment.NSE_FNO, NIFTY_OPT, "INTRADAY") == 65
    eng.on_order_state(_event("a", OrderState.FILLED, filled=130, qty=130))
    assert eng.open_orders == 0 and eng.reserved_paise == 0


def test_position_snapshot_is_idempotent():
    eng = engine()
    eng.on_fill(_fill("BUY", 65))
    snap = Position("ema", Segment.NSE_FNO, NIFTY_OPT, 65, 650_000, 0, 0, 0, T10, T10)
    eng.on_position(snap)
    eng.on_position(snap)
    assert eng.position_units("ema", Segment.NSE_FNO, NIFTY_OPT, "INTRADAY") == 65 and eng.gross_paise == 650_000




def _fill(side: str, qty: int, price: int = 10_000, strategy: str = "ema") -> Fill:
    return Fill("f", "c", "v", strategy, Segment.NSE_FNO, NIFTY_OPT, side, qty, price, 0, T10, T10)  # type: ignore[arg-type]


def _event(intent_id: str, state: OrderState, filled: int = 0, qty: int = 65) -> OrderEvent:
    spec = OrderSpec(segment=Segment.NSE_FNO, security_id=NIFTY_OPT, side="BUY", order_type="LIMIT", qty_units=qty,
                     price_paise=10_000)
    return OrderEvent(
        client_order_id="c-" + intent_id, intent_id=intent_id, strategy="ema", spec=spec, state=state,
        filled_qty_units=filled,
        filled_value_paise=filled * 10_000, venue_order_id="v", reason_code="", reason="", ts_event_ns=T10,
        ts_init_ns=T10,
    )
