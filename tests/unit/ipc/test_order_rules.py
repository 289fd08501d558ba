"""The one check of an order's fields (ipc.order_rules.check_order), and the edges that run it:
the strategy context's submit / submit_group (an invalid order never leaves the process and
reaches ``on_denied``) and the control API (INVALID_ARGUMENT naming the rule)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.strategy.actor import StrategyActor, _Handle
from actors.strategy.api import GroupLegOrder, InstrumentRef, Strategy, parse_params
from engine.model.clock import SimClock
from ipc import codec
from ipc.messages import (
    ORDER_TYPES,
    PRICED_ORDER_TYPES,
    PRODUCTS,
    SIDES,
    TRIGGERED_ORDER_TYPES,
    VALIDITIES,
    OrderDenied,
    OrderIntent,
    OrderSpec,
    SubmitGroup,
)
from ipc.order_rules import check_order
from ipc.reasons import Denial, DenyReason
from ipc.segments import EQUITY_SEGMENTS, Segment
from tests.support.strategy_harness import RecordingLog, sample_table

NSE_EQ, NSE_FNO = Segment.NSE_EQ, Segment.NSE_FNO
LOT, TICK = 65, 5


def spec(**kw: Any) -> OrderSpec:
    fields: dict[str, Any] = dict(segment=NSE_FNO, security_id=55796, side="BUY", order_type="LIMIT", qty_units=65,
                                  price_paise=10_000)
    fields.update(kw)
    return OrderSpec(**fields)


# --------------------------------------------------------------------------------------------
# Each rule: at its edge it passes, one step past it is denied with the reason and the numbers
# --------------------------------------------------------------------------------------------

RULES: list[tuple[str, dict[str, Any], dict[str, Any], DenyReason, list[str]]] = [
    ("lot", dict(qty_units=130), dict(qty_units=131), DenyReason.QTY_NOT_LOT_MULTIPLE, ["131", "65", "NSE_FNO:55796"]),
    ("qty", dict(qty_units=65), dict(qty_units=0), DenyReason.QTY_NOT_POSITIVE, ["qty 0"]),
    ("tick", dict(price_paise=10_005), dict(price_paise=10_006), DenyReason.PRICE_NOT_ON_TICK,
     ["10006", "tick 5", "NSE_FNO:55796"]),
    ("tick_trigger", dict(order_type="SL", price_paise=10_010, trigger_price_paise=10_005),
     dict(order_type="SL", price_paise=10_010, trigger_price_paise=10_006), DenyReason.PRICE_NOT_ON_TICK,
     ["trigger 10006"]),
    ("cnc", dict(segment=NSE_EQ, product="CNC"), dict(product="CNC"), DenyReason.PRODUCT_NOT_FOR_SEGMENT,
     ["CNC", "NSE_FNO:55796"]),
]


@pytest.mark.parametrize("at_edge, past_edge, reason, numbers", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_passes_at_its_edge_and_denies_just_past_it(at_edge, past_edge, reason, numbers) -> None:
    assert check_order(spec(**at_edge), LOT, TICK) is None
    denial = check_order(spec(**past_edge), LOT, TICK)
    assert isinstance(denial, Denial) and denial.reason is reason
    for number in numbers:
        assert number in denial.message, (number, denial.message)


@pytest.mark.parametrize(
    "order_type, side, price, trigger, expect",
    [
        ("LIMIT", "BUY", 100, 0, None),
        ("LIMIT", "BUY", 0, 0, "price 0"),
        ("LIMIT", "BUY", 100, 95, "trigger 95"),
        ("MARKET", "BUY", 0, 0, None),
        ("MARKET", "BUY", 100, 0, "price 100"),
        ("SL", "BUY", 105, 100, None),
        ("SL", "BUY", 99, 100, "99 paise is on the wrong side of trigger 100"),
        ("SL", "SELL", 95, 100, None),
        ("SL", "SELL", 101, 100, "101 paise is on the wrong side of trigger 100"),
        ("SL_M", "SELL", 0, 100, None),
        ("SL_M", "SELL", 0, 0, "trigger 0"),
        ("LIMIT", "BUY", -5, 0, "-5"),
    ],
)
def test_prices_fit_the_order_type(order_type, side, price, trigger, expect) -> None:
    denial = check_order(spec(order_type=order_type, side=side, price_paise=price, trigger_price_paise=trigger))
    if expect is None:
        assert denial is None
    else:
        assert denial is not None and denial.reason is DenyReason.BAD_PRICE and expect in denial.message, denial


@pytest.mark.parametrize(
    "kw, reason",
    [
        (dict(price_paise=math.nan), DenyReason.BAD_PRICE),
        (dict(price_paise=100.0), DenyReason.BAD_PRICE),
        (dict(trigger_price_paise=math.inf), DenyReason.BAD_PRICE),
        (dict(qty_units=-65), DenyReason.QTY_NOT_POSITIVE),
        (dict(qty_units=65.0), DenyReason.BAD_QTY),
        (dict(qty_units=True), DenyReason.BAD_QTY),
        (dict(security_id="55796"), DenyReason.UNKNOWN_INSTRUMENT),
        (dict(segment=[2]), DenyReason.UNKNOWN_INSTRUMENT),
        (dict(side="HOLD"), DenyReason.BAD_SIDE),
        (dict(side=None), DenyReason.BAD_SIDE),
        (dict(order_type="STOP"), DenyReason.BAD_ORDER_TYPE),
        (dict(validity="GTC"), DenyReason.BAD_VALIDITY),
        (dict(product="MIS"), DenyReason.BAD_PRODUCT),
    ],
)
def test_a_spec_built_in_python_with_wrong_types_is_denied_not_raised(kw, reason) -> None:
    denial = check_order(spec(**kw), LOT, TICK)
    assert denial is not None and denial.reason is reason, denial


def test_anything_but_a_spec_is_denied() -> None:
    denial = check_order(None)
    assert denial is not None and denial.reason is DenyReason.BAD_INTENT and "NoneType" in denial.message


def test_off_the_wire_a_spec_of_the_wrong_type_never_reaches_the_check() -> None:
    # What crosses a process boundary is decoded against its schema: the closed sets and integer
    # types are enforced there, so the edge's check is the only one left for cross-field rules.
    good = OrderIntent("i-1", "s", spec(), 1, 1, 1)
    raw = msgspec.msgpack.encode(good)
    assert codec.decode(raw) == good
    bad = raw.replace(b"LIMIT", b"LIMIX")
    with pytest.raises(msgspec.ValidationError):
        msgspec.msgpack.decode(bad, type=OrderIntent)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

_ANY = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8),
    st.sampled_from(sorted(SIDES | ORDER_TYPES | VALIDITIES | PRODUCTS)),
    st.lists(st.integers(), max_size=2), st.binary(max_size=4),
)


def _holds_every_rule(s: OrderSpec, lot: int, tick: int) -> bool:
    priced, stop = s.order_type in PRICED_ORDER_TYPES, s.order_type in TRIGGERED_ORDER_TYPES
    return (type(s.qty_units) is int and s.qty_units > 0 and (lot <= 1 or s.qty_units % lot == 0)
            and s.side in SIDES and s.order_type in ORDER_TYPES and s.validity in VALIDITIES and s.product in PRODUCTS
            and type(s.price_paise) is int and type(s.trigger_price_paise) is int
            and (s.price_paise > 0) == priced and (s.trigger_price_paise > 0) == stop
            and (tick <= 1 or (s.price_paise % tick == 0 and s.trigger_price_paise % tick == 0))
            and (s.order_type != "SL" or (s.price_paise >= s.trigger_price_paise if s.side == "BUY"
                                          else s.price_paise <= s.trigger_price_paise))
            and (s.product != "CNC" or s.segment in EQUITY_SEGMENTS))


@settings(max_examples=500, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(list(OrderSpec.__struct_fields__)), _ANY, max_size=6),
       st.integers(-2, 100), st.integers(-2, 20))
def test_whatever_the_fields_hold_the_check_never_raises_and_passes_only_what_keeps_every_rule(overrides, lot, tick):
    s = spec(**overrides)
    denial = check_order(s, lot, tick)
    if denial is None:
        assert _holds_every_rule(s, lot, tick), s
    else:
        assert isinstance(denial.reason, DenyReason) and denial.message


@st.composite
def valid_specs(draw: st.DrawFn) -> tuple[OrderSpec, int, int]:
    lot = draw(st.sampled_from([1, 15, 25, 65, 75]))
    tick = draw(st.sampled_from([1, 5, 10]))
    order_type = draw(st.sampled_from(sorted(ORDER_TYPES)))
    side = draw(st.sampled_from(sorted(SIDES)))
    price = tick * draw(st.integers(1, 10**6)) if order_type in PRICED_ORDER_TYPES else 0
    trigger = tick * draw(st.integers(1, 10**6)) if order_type in TRIGGERED_ORDER_TYPES else 0
    if order_type == "SL":  # the limit no worse than the trigger
        price, trigger = (max(price, trigger), min(price, trigger)) if side == "BUY" else \
            (min(price, trigger), max(price, trigger))
    product = draw(st.sampled_from(sorted(PRODUCTS)))
    segment = NSE_EQ if product == "CNC" else draw(st.sampled_from([NSE_EQ, NSE_FNO, Segment.BSE_FNO]))
    s = OrderSpec(segment=segment, security_id=draw(st.integers(1, 2**31)), side=side, order_type=order_type,
                  validity=draw(st.sampled_from(sorted(VALIDITIES))), product=product,
                  qty_units=lot * draw(st.integers(1, 1_000)), price_paise=price, trigger_price_paise=trigger)
    return s, lot, tick


BREAKS: list[tuple[str, Callable[[OrderSpec, int, int], dict[str, Any]], DenyReason]] = [
    ("qty not a lot multiple", lambda s, lot, tick: dict(qty_units=s.qty_units + 1) if lot > 1 else {},
     DenyReason.QTY_NOT_LOT_MULTIPLE),
    ("qty not positive", lambda s, lot, tick: dict(qty_units=-s.qty_units), DenyReason.QTY_NOT_POSITIVE),
    ("price off tick", lambda s, lot, tick: dict(price_paise=s.price_paise + 1)
     if tick > 1 and s.order_type in PRICED_ORDER_TYPES and s.side == "BUY" else {}, DenyReason.PRICE_NOT_ON_TICK),
    ("a price where none is taken", lambda s, lot, tick: dict(price_paise=tick)
     if s.order_type not in PRICED_ORDER_TYPES else {}, DenyReason.BAD_PRICE),
    ("no trigger on a stop", lambda s, lot, tick: dict(trigger_price_paise=0) if s.order_type in TRIGGERED_ORDER_TYPES else {},
     DenyReason.BAD_PRICE),
]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(valid_specs(), st.sampled_from(BREAKS))
def test_a_valid_order_passes_and_breaking_one_rule_is_denied_with_that_rule(case, broken) -> None:
    s, lot, tick = case
    assert check_order(s, lot, tick) is None
    _name, change, reason = broken
    changes = change(s, lot, tick)
    if changes:
        denial = check_order(msgspec.structs.replace(s, **changes), lot, tick)
        assert denial is not None and denial.reason is reason, (s, changes, denial)


# --------------------------------------------------------------------------------------------
# The strategy context's edge
# --------------------------------------------------------------------------------------------


class _Recorder(Strategy):
    kind = "recorder"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.denied: list[OrderDenied] = []

    def on_denied(self, denied: OrderDenied) -> None:
        self.denied.append(denied)


class _Ctx(SimpleNamespace):
    def __init__(self) -> None:
        clock = SimClock(1_795_148_100_000_000_000)
        super().__init__(log=RecordingLog(), sent=[], later=[], now_ns=clock.now_ns, monotonic_ns=clock.monotonic_ns)
        self.send = lambda target, msg, *topic: self.sent.append((target, msg))
        self.publish = lambda *a: None
        self.call_later = lambda delay_s, fn: self.later.append(fn)

    def run_soon(self) -> None:
        while self.later:
            self.later.pop(0)()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instruments")


def _context(cache_dir: Path) -> tuple[_Ctx, _Handle, _Recorder]:
    ctx = _Ctx()
    actor = StrategyActor(ctx)  # type: ignore[arg-type]
    actor.table = sample_table(cache_dir)
    handle = _Handle(actor, "s1")
    strategy = _Recorder(handle, parse_params(_Recorder, "s1", {}), None)
    actor.strategies["s1"] = strategy
    return ctx, handle, strategy


def test_an_invalid_order_never_leaves_and_reaches_on_denied_after_submit_returns(cache_dir: Path) -> None:
    ctx, handle, strategy = _context(cache_dir)
    reliance = handle.resolve("RELIANCE")
    intent_id = handle.buy(reliance, 1, order_type="LIMIT", price_paise=150_003)
    assert ctx.sent == [] and strategy.denied == []  # not from inside submit
    ctx.run_soon()
    (denied,) = strategy.denied
    assert (denied.intent_id, denied.reason_code, denied.strategy) == (intent_id, "PRICE_NOT_ON_TICK", "s1")
    assert "150003" in denied.message and "NSE_EQ:2885" in denied.message
    handle.buy(reliance, 1, order_type="LIMIT", price_paise=150_005)
    assert [type(msg) for _target, msg in ctx.sent] == [OrderIntent]


def test_the_edge_checks_against_the_masters_lot_not_a_ref_built_by_hand(cache_dir: Path) -> None:
    ctx, handle, strategy = _context(cache_dir)
    option = handle.resolve("NIFTY-Nov2026-26000-CE")
    by_hand = InstrumentRef(option.segment, option.security_id)  # lot 1, tick 5: not what the master says
    handle.buy(by_hand, 1)
    ctx.run_soon()
    assert [d.reason_code for d in strategy.denied] == ["QTY_NOT_LOT_MULTIPLE"] and ctx.sent == []


def test_a_group_with_one_invalid_leg_is_denied_whole(cache_dir: Path) -> None:
    ctx, handle, strategy = _context(cache_dir)
    option = handle.resolve("NIFTY-Nov2026-26000-CE")
    legs = [GroupLegOrder(instrument=option, side="BUY", qty_units=option.lot_size_units),
            GroupLegOrder(instrument=option, side="SELL", qty_units=option.lot_size_units + 1)]
    ids = handle.submit_group("g1", "CUSTOM", legs)
    ctx.run_soon()
    assert ctx.sent == []
    assert [(d.intent_id, d.reason_code) for d in strategy.denied] == [
        (ids[0], "GROUP_LEG_DENIED"), (ids[1], "QTY_NOT_LOT_MULTIPLE")]
    assert ids[1] in strategy.denied[0].message
    handle.submit_group("g2", "CUSTOM", legs[:1])
    assert [type(msg) for _target, msg in ctx.sent] == [SubmitGroup]
