"""Option structures: strikes picked around ATM at entry, legs sent as one group (hedges first),
exits on the whole structure's P&L, square-off, and what happens when a leg fails.

NIFTY (index 13) ticks at 26010 -> ATM 26000, strikes 50 apart, lot 65, nearest expiry 23 Nov 2026;
SENSEX: strikes 100 apart, lot 20, BSE_FNO, expiry 26 Nov 2026. Group ids are
``<name>-<yyyymmdd>-<n>`` for an entry and ``<entry group>-x`` for its exit.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.strategy.api import BadParams, parse_params
from actors.strategy.builtin._common import ExitReason
from actors.strategy.builtin._structure import OptionStructure, Phase, StructureState
from actors.strategy.builtin.bear_put_spread import BearPutSpread
from actors.strategy.builtin.bull_call_spread import BullCallSpread
from actors.strategy.builtin.iron_condor import IronCondor
from actors.strategy.builtin.short_straddle import ShortStraddle
from actors.strategy.builtin.short_strangle import ShortStrangle
from tests.support.strategy_harness import SentOrder, StrategyHarness

GROUP = "t-20261120-1"
EXIT_GROUP = GROUP + "-x"
N = "NIFTY-Nov2026-"
SPOT_PAISE = 2_601_000


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instruments")


def legs(sent: list[SentOrder]) -> list[tuple[str, str, int, str, int, str]]:
    return [o.brief() for o in sent]


def structure(cls: type[OptionStructure], cache_dir: Path, **params: Any) -> StrategyHarness:
    return StrategyHarness(cls, params, cache_dir=cache_dir)


def enter(h: StrategyHarness, spot_paise: int = SPOT_PAISE, at: dt.time = dt.time(9, 20)) -> list[SentOrder]:
    h.at(at)
    return h.tick(h.strategy.index, spot_paise)  # type: ignore[attr-defined]


def state(h: StrategyHarness) -> StructureState:
    return h.strategy.state  # type: ignore[return-value]


# Entry --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "params", "expected"), [
    (ShortStraddle, {}, [("SELL", N + "26000-CE"), ("SELL", N + "26000-PE")]),
    (ShortStraddle, {"strike_offset": -1}, [("SELL", N + "25950-CE"), ("SELL", N + "25950-PE")]),
    (ShortStrangle, {}, [("SELL", N + "26100-CE"), ("SELL", N + "25900-PE")]),
    (ShortStrangle, {"call_otm_steps": 1, "put_otm_steps": 3}, [("SELL", N + "26050-CE"), ("SELL", N + "25850-PE")]),
    (IronCondor, {}, [("BUY", N + "26200-CE"), ("BUY", N + "25800-PE"),
                      ("SELL", N + "26100-CE"), ("SELL", N + "25900-PE")]),
    (IronCondor, {"short_otm_steps": 0, "wing_steps": 4}, [("BUY", N + "26200-CE"), ("BUY", N + "25800-PE"),
                                                           ("SELL", N + "26000-CE"), ("SELL", N + "26000-PE")]),
    (BullCallSpread, {}, [("BUY", N + "26000-CE"), ("SELL", N + "26100-CE")]),
    (BullCallSpread, {"long_otm_steps": 1, "width_steps": 3}, [("BUY", N + "26050-CE"), ("SELL", N + "26200-CE")]),
    (BearPutSpread, {}, [("BUY", N + "26000-PE"), ("SELL", N + "25900-PE")]),
    (BearPutSpread, {"long_otm_steps": 1, "width_steps": 1}, [("BUY", N + "25950-PE"), ("SELL", N + "25900-PE")]),
])
def test_legs_are_picked_around_atm_and_sent_as_one_group_hedges_first(
        cache_dir: Path, cls: type[OptionStructure], params: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    h = structure(cls, cache_dir, **params)
    sent = enter(h)
    assert legs(sent) == [(side, symbol, 65, "MARKET", 0, GROUP) for side, symbol in expected]
    assert all(o.product == "INTRADAY" and not o.reduce_only for o in sent)
    assert state(h).phase is Phase.ENTERING
    subscribed = {(r.segment, r.security_id) for r in h.ctx.subscribed}
    assert {(o.segment, o.security_id) for o in sent} <= subscribed


def test_sensex_iron_condor_uses_its_own_chain_segment_and_lot(cache_dir: Path) -> None:
    h = structure(IronCondor, cache_dir, underlying="SENSEX", qty_lots=3, short_otm_steps=1, wing_steps=1)
    sent = enter(h, 8_504_000)  # ATM 85000
    s = "SENSEX-Nov2026-"
    assert legs(sent) == [(side, s + strike, 60, "MARKET", 0, GROUP) for side, strike in
                          [("BUY", "85200-CE"), ("BUY", "84800-PE"), ("SELL", "85100-CE"), ("SELL", "84900-PE")]]
    assert {o.segment for o in sent} == {8}  # BSE_FNO


def test_entry_waits_for_the_entry_time_and_stops_at_the_cutoff(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir)
    assert enter(h, at=dt.time(9, 19, 59)) == []
    assert len(enter(h, at=dt.time(9, 20))) == 2
    late = structure(ShortStraddle, cache_dir, entry_time_ist="10:00:00", entry_cutoff_ist="11:00:00")
    assert enter(late, at=dt.time(11, 0)) == []
    assert enter(late, at=dt.time(10, 59, 59)) != []


def test_option_ticks_do_not_trigger_an_entry(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir)
    h.at(dt.time(9, 30))
    ce = h.option("NIFTY", 26000, "CE")
    h.ctx.subscribe(ce)
    assert h.tick(ce, 12_000) == []


def test_a_strike_that_is_not_listed_skips_the_entry_and_retries_a_minute_later(cache_dir: Path) -> None:
    h = structure(ShortStrangle, cache_dir)
    assert enter(h, 2_675_000, at=dt.time(9, 20)) == []  # ATM 26750 is the top strike: 26850 CE is not listed
    [line] = [ln for ln in h.ctx.log.lines if ln.event == "entry_skipped"]
    assert (line.fields["code"], line.fields["option_type"], line.fields["steps_from_atm"]) == \
        ("strike_not_listed", "CE", 2)
    assert enter(h, at=dt.time(9, 20, 59)) == []  # within the minute: not retried
    assert legs(enter(h, at=dt.time(9, 21))) == [("SELL", N + "26100-CE", 65, "MARKET", 0, GROUP),
                                                 ("SELL", N + "25900-PE", 65, "MARKET", 0, GROUP)]


def test_a_missing_expiry_is_reported_with_its_code(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir, underlying="BANKNIFTY", expiry_index=1)  # one listed expiry
    assert enter(h, 5_900_000) == []
    assert [ln.fields["code"] for ln in h.ctx.log.lines if ln.event == "entry_skipped"] == ["no_expiry"]


def test_next_expiry_is_used_with_expiry_index_one(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir, expiry_index=1)
    assert [o.symbol for o in enter(h)] == ["NIFTY-01Dec2026-26000-CE", "NIFTY-01Dec2026-26000-PE"]


# Exits --------------------------------------------------------------------------------------------------


def open_condor(cache_dir: Path, **params: Any) -> tuple[StrategyHarness, dict[str, Any]]:
    """An iron condor filled at: wings 20.00, shorts 40.00 (net credit 40.00 x 65 = 2600.00)."""
    h = structure(IronCondor, cache_dir, **params)
    sent = enter(h)
    prices = {N + "26200-CE": 2_000, N + "25800-PE": 2_000, N + "26100-CE": 4_000, N + "25900-PE": 4_000}
    for o in sent:
        h.fill(o, prices[o.symbol])
    assert state(h).phase is Phase.OPEN
    return h, {sym: h.inst(sym) for sym in prices}


def test_iron_condor_exits_on_target_with_shorts_bought_back_first(cache_dir: Path) -> None:
    h, ref = open_condor(cache_dir, target_pnl_paise=100_000)
    # P&L = 65 x (sum over shorts of (40 - LTP) + sum over wings of (LTP - 20)), marks start at the fills
    assert h.tick(ref[N + "26200-CE"], 1_300) == []  # 65 x -7.00
    assert h.tick(ref[N + "25800-PE"], 1_300) == []  # 65 x -14.00
    assert h.tick(ref[N + "26100-CE"], 2_500) == []  # 65 x 1.00
    assert h.tick(ref[N + "25900-PE"], 2_600) == []  # 65 x 15.00 = 975.00
    out = h.tick(ref[N + "25900-PE"], 2_500)  # 65 x 16.00 = 1040.00 >= 1000.00
    assert [(o.side, o.symbol, o.qty_units, o.reduce_only, o.group_id) for o in out] == [
        ("BUY", N + "26100-CE", 65, True, EXIT_GROUP), ("BUY", N + "25900-PE", 65, True, EXIT_GROUP)]
    assert state(h).last_exit_reason is ExitReason.TARGET and state(h).phase is Phase.EXITING
    assert h.tick(ref[N + "25900-PE"], 1_000) == []  # exiting: nothing more is sent
    assert h.tick(ref[N + "26200-CE"], 1_300) == []  # the wings wait while a short is held
    assert h.fill(out[0], 2_500) == []  # one short closed: the other still needs its wings
    wings = h.fill(out[1], 2_500)
    assert [(o.side, o.symbol, o.qty_units, o.reduce_only, o.group_id) for o in wings] == [
        ("SELL", N + "26200-CE", 65, True, EXIT_GROUP), ("SELL", N + "25800-PE", 65, True, EXIT_GROUP)]
    h.fill_all(wings, 1_300)
    assert state(h).phase is Phase.FLAT
    assert state(h).realised_today_paise == 104_000


def test_short_straddle_exits_on_stop_loss_of_the_whole_structure(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir, stop_loss_pnl_paise=130_000)
    sent = enter(h)
    h.fill_all(sent, 10_000)
    ce, pe = h.inst(N + "26000-CE"), h.inst(N + "26000-PE")
    assert h.tick(ce, 11_999) == []  # 65 x -19.99 (the PE is marked at its fill)
    assert h.quote(pe, 10_000) == []
    out = h.quote(ce, 12_000)  # 65 x -20.00
    assert legs(out) == [("BUY", N + "26000-CE", 65, "MARKET", 0, EXIT_GROUP),
                         ("BUY", N + "26000-PE", 65, "MARKET", 0, EXIT_GROUP)]
    assert all(o.reduce_only for o in out)
    assert state(h).last_exit_reason is ExitReason.STOP_LOSS


def test_a_profitable_structure_does_not_exit_on_its_stop(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir, stop_loss_pnl_paise=130_000)
    h.fill_all(enter(h), 10_000)
    assert h.tick(h.inst(N + "26000-CE"), 5_000) == []


def test_square_off_closes_every_leg_on_any_tick_of_the_index(cache_dir: Path) -> None:
    h = structure(BullCallSpread, cache_dir, square_off_ist="15:10:00")
    h.fill_all(enter(h), 10_000)
    index = h.strategy.index  # type: ignore[attr-defined]
    h.at(dt.time(15, 9, 59))
    assert h.tick(index, SPOT_PAISE) == []
    h.at(dt.time(15, 10))
    out = h.tick(index, SPOT_PAISE)
    assert legs(out) == [("BUY", N + "26100-CE", 65, "MARKET", 0, EXIT_GROUP)]  # the short first
    assert state(h).last_exit_reason is ExitReason.SQUARE_OFF
    assert legs(h.fill(out[0], 10_000)) == [("SELL", N + "26000-CE", 65, "MARKET", 0, EXIT_GROUP)]  # then its hedge


def test_a_second_structure_is_entered_only_when_allowed_and_after_the_first_is_flat(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir, max_entries_per_day=2, target_pnl_paise=65_000)
    h.fill_all(enter(h), 10_000)
    ce = h.inst(N + "26000-CE")
    assert enter(h, at=dt.time(9, 21)) == []  # one structure at a time
    out = h.tick(ce, 9_000)  # 65 x 10.00: the target
    assert enter(h, at=dt.time(9, 22)) == []  # still exiting
    h.fill_all(out, {ce.security_id: 9_000, h.inst(N + "26000-PE").security_id: 10_000})
    assert state(h).phase is Phase.FLAT
    second = enter(h, 2_610_000, at=dt.time(9, 23))  # the index moved: ATM 26100
    assert legs(second) == [("SELL", N + "26100-CE", 65, "MARKET", 0, "t-20261120-2"),
                            ("SELL", N + "26100-PE", 65, "MARKET", 0, "t-20261120-2")]
    h.fill_all(second, 10_000)
    h.fill_all(h.tick(h.inst(N + "26100-CE"), 9_000), 9_000)
    assert state(h).phase is Phase.FLAT
    assert enter(h, at=dt.time(9, 40)) == []  # two a day
    assert state(h).entries_today == 2


# When a leg fails ---------------------------------------------------------------------------------------


def test_a_rejected_leg_breaks_the_structure_and_leaves_the_rollback_to_execution(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir, stop_loss_pnl_paise=1_000)
    ce_order, pe_order = enter(h)
    h.fill(ce_order, 10_000)
    h.reject(pe_order)
    assert state(h).phase is Phase.BROKEN
    [line] = [ln for ln in h.ctx.log.lines if ln.event == "structure_leg_failed"]
    assert line.level == "error" and line.fields["symbol"] == N + "26000-PE"
    ce = h.inst(N + "26000-CE")
    assert h.tick(ce, 20_000) == []  # no P&L exits on half a structure
    assert h.foreign_fill(ce, "BUY", 65, 10_100) == []  # the engine's group rollback buys the CE back
    assert state(h).phase is Phase.FLAT
    assert state(h).realised_today_paise == -6_500


def test_a_broken_structure_is_still_squared_off(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir)
    ce_order, pe_order = enter(h)
    h.fill(ce_order, 10_000)
    h.deny(pe_order)
    assert state(h).phase is Phase.BROKEN
    h.at(dt.time(15, 15))
    out = h.tick(h.strategy.index, SPOT_PAISE)  # type: ignore[attr-defined]
    assert legs(out) == [("BUY", N + "26000-CE", 65, "MARKET", 0, EXIT_GROUP)]


def test_a_rejected_closing_order_is_sent_again_alone_on_the_legs_next_tick(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir, target_pnl_paise=65_000)
    h.fill_all(enter(h), 10_000)
    ce, pe = h.inst(N + "26000-CE"), h.inst(N + "26000-PE")
    close_ce, close_pe = h.tick(ce, 9_000)
    h.fill(close_pe, 10_000)
    h.reject(close_ce)
    assert h.tick(pe, 10_000) == []
    assert h.tick(ce, 9_100) == []  # not at once: the order rate
    assert [ln.fields["reason"] for ln in h.ctx.log.lines if ln.event == "closing_order_not_filled"] == ["TEST"]
    h.advance(1)
    assert legs(h.tick(ce, 9_100)) == [("BUY", N + "26000-CE", 65, "MARKET", 0, "")]


def test_an_entry_leg_filling_after_the_square_off_is_closed_too(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir)
    ce_order, pe_order = enter(h)
    h.fill(ce_order, 10_000)
    h.at(dt.time(15, 15))
    out = h.tick(h.strategy.index, SPOT_PAISE)  # type: ignore[attr-defined]
    assert legs(out) == [("BUY", N + "26000-CE", 65, "MARKET", 0, EXIT_GROUP)]
    late = h.fill(pe_order, 10_000)
    assert legs(late) == [("BUY", N + "26000-PE", 65, "MARKET", 0, EXIT_GROUP)]
    h.fill_all(out + late, 10_000)
    assert state(h).phase is Phase.FLAT


# Persistence --------------------------------------------------------------------------------------------


def test_state_round_trip_keeps_the_open_structure_and_exits_it(cache_dir: Path) -> None:
    h, ref = open_condor(cache_dir, target_pnl_paise=100_000)
    h.tick(ref[N + "26200-CE"], 1_300)
    h.tick(ref[N + "25800-PE"], 1_300)
    blob = msgspec.msgpack.encode(h.strategy.state)
    assert msgspec.msgpack.decode(blob, type=StructureState) == h.strategy.state
    again = h.restarted(cache_dir)
    assert state(again).phase is Phase.OPEN and state(again).group_id == GROUP
    assert {(r.segment, r.security_id) for r in again.ctx.subscribed} >= \
        {(r.segment, r.security_id) for r in ref.values()}
    assert again.tick(ref[N + "26100-CE"], 2_500) == []
    out = again.tick(ref[N + "25900-PE"], 2_500)
    assert [(o.side, o.symbol, o.group_id) for o in out] == [
        ("BUY", N + "26100-CE", EXIT_GROUP), ("BUY", N + "25900-PE", EXIT_GROUP)]
    wings = again.fill_all(out, 2_500)
    assert [(o.side, o.symbol, o.group_id) for o in wings] == [
        ("SELL", N + "26200-CE", EXIT_GROUP), ("SELL", N + "25800-PE", EXIT_GROUP)]
    assert enter(again, at=dt.time(9, 40)) == []  # today's entry was counted before the restart


# Parameters ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "raw", "message"), [
    (ShortStraddle, {"qty_lots": 0}, "qty_lots (0) must be at least 1"),
    (ShortStraddle, {"underlying": "NIFTYNXT50"}, "params.underlying"),
    (ShortStraddle, {"entry_time_ist": "14:45:00"},
     "entry_time_ist (14:45:00) must be before entry_cutoff_ist (14:30:00)"),
    (ShortStraddle, {"square_off_ist": "14:00:00"},
     "entry_cutoff_ist (14:30:00) must be before square_off_ist (14:00:00)"),
    (ShortStraddle, {"target_pnl_paise": -5}, "target_pnl_paise (-5) must be 0 or more"),
    (ShortStrangle, {"call_otm_steps": 0}, "call_otm_steps (0) must be at least 1 (0 is a straddle)"),
    (IronCondor, {"wing_steps": 0}, "wing_steps (0) must be at least 1"),
    (IronCondor, {"short_otm_steps": -1}, "short_otm_steps (-1) must be 0 or more"),
    (BullCallSpread, {"width_steps": 0}, "width_steps (0) must be at least 1"),
    (BearPutSpread, {"width": 2}, "unknown parameter"),
])
def test_bad_parameters_are_refused_with_the_key_and_the_numbers(cls: type[OptionStructure], raw: dict[str, Any],
                                                                 message: str) -> None:
    with pytest.raises(BadParams, match=f"strategy 's' \\({cls.kind}\\)") as err:
        parse_params(cls, "s", raw)
    assert message in str(err.value)


@pytest.mark.parametrize(("cls", "structure"), [
    (ShortStraddle, "STRADDLE"), (ShortStrangle, "STRANGLE"), (IronCondor, "IRON_CONDOR"),
    (BullCallSpread, "BULL_CALL_SPREAD"), (BearPutSpread, "BEAR_PUT_SPREAD"),
])
def test_each_structure_names_its_order_group_structure(cls: type[OptionStructure], structure: str) -> None:
    assert cls.group_structure == structure  # a GroupStructure value of ipc.messages.SubmitGroup
