"""Pure pre-trade checks: each check at its limit and just past it, and intent slicing."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from actors.risk import checks as c
from actors.risk.checks import InstrumentLimits, slice_intent
from engine.model.ist import NS_PER_S, ist_ns
from ipc.messages import OrderIntent, OrderSpec
from ipc.reasons import Denial, DenyReason
from ipc.segments import Segment

NIFTY_OPT = 55796
MONDAY = dt.date(2026, 11, 23)  # an ordinary trading Monday in the XBOM calendar
T10 = ist_ns(MONDAY, dt.time(10, 0))

OPT = InstrumentLimits(
    segment=Segment.NSE_FNO, security_id=NIFTY_OPT, lot_size_units=65, tick_paise=5, freeze_qty_units=1755, kind="OPTIDX"
)


def intent(**kw: object) -> OrderIntent:
    """An intent; keywords name its own fields or its spec's."""
    spec = dict(segment=Segment.NSE_FNO, security_id=NIFTY_OPT, side="BUY", qty_units=65, order_type="LIMIT",
                price_paise=10_000, trigger_price_paise=0, validity="DAY", product="INTRADAY")
    base = dict(intent_id="i-1", strategy="ema", ts_event_ns=T10, ts_init_ns=T10, ts_created_ns=T10)
    for name, value in kw.items():
        (spec if name in OrderSpec.__struct_fields__ else base)[name] = value
    return OrderIntent(spec=OrderSpec(**spec), **base)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Table: every pure check at its limit (passes) and one unit past it (denied)
# --------------------------------------------------------------------------------------------

LIMIT_TABLE = [
    # id, call at the limit, call just past it, reason, numbers the message must carry
    ("order_value", lambda: c.check_order_value(10, 100, 1000), lambda: c.check_order_value(10, 100, 999),
     DenyReason.MAX_ORDER_VALUE, ["1000", "999"]),
    ("position_units", lambda: c.check_position(130, 1, 130, 10**9), lambda: c.check_position(131, 1, 130, 10**9),
     DenyReason.MAX_POSITION_UNITS, ["131", "130"]),
    ("position_units_short", lambda: c.check_position(-130, 1, 130, 10**9),
     lambda: c.check_position(-131, 1, 130, 10**9), DenyReason.MAX_POSITION_UNITS, ["-131", "130"]),
    ("position_value", lambda: c.check_position(130, 100, 10**6, 13_000),
     lambda: c.check_position(130, 100, 10**6, 12_999), DenyReason.MAX_POSITION_VALUE, ["13000", "12999"]),
    ("gross_exposure", lambda: c.check_gross_exposure(5_000, 5_000), lambda: c.check_gross_exposure(5_001, 5_000),
     DenyReason.MAX_GROSS_EXPOSURE, ["5001", "5000"]),
    ("net_exposure_long", lambda: c.check_net_exposure(7_000, 7_000), lambda: c.check_net_exposure(7_001, 7_000),
     DenyReason.MAX_NET_EXPOSURE, ["7001", "7000"]),
    ("net_exposure_short", lambda: c.check_net_exposure(-7_000, 7_000), lambda: c.check_net_exposure(-7_001, 7_000),
     DenyReason.MAX_NET_EXPOSURE, ["-7001", "7000"]),
    ("funds", lambda: c.check_funds(900, 1_000, 100), lambda: c.check_funds(901, 1_000, 100),
     DenyReason.INSUFFICIENT_FUNDS, ["901", "900", "100"]),
    ("rate_second", lambda: c.check_rate_second(9, 1, 10), lambda: c.check_rate_second(10, 1, 10),
     DenyReason.RATE_LIMIT_SECOND, ["10", "1"]),
    ("rate_second_slices", lambda: c.check_rate_second(7, 3, 10), lambda: c.check_rate_second(8, 3, 10),
     DenyReason.RATE_LIMIT_SECOND, ["8", "3", "10"]),
    ("rate_day", lambda: c.check_rate_day(999, 1, 1000), lambda: c.check_rate_day(1000, 1, 1000),
     DenyReason.RATE_LIMIT_DAY, ["1000"]),
    ("open_orders", lambda: c.check_open_orders(49, 1, 50), lambda: c.check_open_orders(50, 1, 50),
     DenyReason.MAX_OPEN_ORDERS, ["50"]),
    ("trades_per_day", lambda: c.check_trades_per_day(49, 50, False), lambda: c.check_trades_per_day(50, 50, False),
     DenyReason.MAX_TRADES_PER_DAY, ["50"]),
    ("cooldown", lambda: c.check_cooldown(5 * NS_PER_S, 3 * NS_PER_S, 2 * NS_PER_S, False),
     lambda: c.check_cooldown(5 * NS_PER_S - 1, 3 * NS_PER_S, 2 * NS_PER_S, False),
     DenyReason.COOLDOWN, ["1999999999", "2000000000"]),
    ("band_up", lambda: c.check_band(10_500, 0, 10_000, 500), lambda: c.check_band(10_501, 0, 10_000, 500),
     DenyReason.PRICE_OUTSIDE_BAND, ["10501", "10000", "500"]),
    ("band_down", lambda: c.check_band(9_500, 0, 10_000, 500), lambda: c.check_band(9_499, 0, 10_000, 500),
     DenyReason.PRICE_OUTSIDE_BAND, ["9499", "10000", "500"]),
    ("band_trigger", lambda: c.check_band(10_000, 10_500, 10_000, 500),
     lambda: c.check_band(10_000, 10_501, 10_000, 500), DenyReason.PRICE_OUTSIDE_BAND, ["trigger", "10501"]),
    ("freeze_no_slicing", lambda: c.check_freeze(1755, OPT, False), lambda: c.check_freeze(1756, OPT, False),
     DenyReason.QTY_ABOVE_FREEZE, ["1756", "1755"]),
    ("expiry", lambda: c.check_instrument(msgspec.structs.replace(OPT, expiry_ist_day=20_000), 2, 1, 20_000),
     lambda: c.check_instrument(msgspec.structs.replace(OPT, expiry_ist_day=20_000), 2, 1, 20_001),
     DenyReason.INSTRUMENT_EXPIRED, ["20000", "20001", "2024-10-04"]),
    ("entry_cutoff", lambda: c.check_entry_cutoff(999, 1_000, False, Segment.NSE_FNO),
     lambda: c.check_entry_cutoff(1_000, 1_000, False, Segment.NSE_FNO), DenyReason.ENTRY_CUTOFF, ["NSE_FNO"]),
]


@pytest.mark.parametrize("at_limit,past_limit,reason,numbers", [row[1:] for row in LIMIT_TABLE],
                         ids=[row[0] for row in LIMIT_TABLE])
def test_check_passes_at_limit_and_denies_just_past_it(at_limit, past_limit, reason, numbers):
    assert at_limit() is None
    denial = past_limit()
    assert isinstance(denial, Denial)
    assert denial.reason is reason
    for number in numbers:
        assert number in denial.message, (number, denial.message)


def test_reducing_orders_skip_cooldown_cutoff_and_trades_per_day():
    assert c.check_cooldown(2, 1, 10 * NS_PER_S, True) is None
    assert c.check_entry_cutoff(2_000, 1_000, True, Segment.NSE_FNO) is None
    assert c.check_trades_per_day(99, 50, True) is None


def test_flip_only_denies_adding_and_allows_reversing():
    assert c.check_flip_only(True, "BUY", 0, 0, 0) is None  # first entry
    assert c.check_flip_only(True, "SELL", 65, 0, 0) is None  # reverse a long
    d = c.check_flip_only(True, "BUY", 65, 0, 0)
    assert d is not None and d.reason is DenyReason.FLIP_ONLY and "65" in d.message
    d = c.check_flip_only(True, "BUY", 0, 65, 0)  # an open buy counts as filled
    assert d is not None and d.reason is DenyReason.FLIP_ONLY
    assert c.check_flip_only(False, "BUY", 65, 0, 0) is None


def test_slice_intent_keeps_lot_multiples_when_freeze_is_not_one():
    parts = slice_intent(intent(qty_units=3_900), 1_801, 75)
    assert [p.spec.qty_units for p in parts] == [1_800, 1_800, 300]
    assert slice_intent(intent(qty_units=65), 1_755, 65) == [intent(qty_units=65)]
