"""supertrend_options: scripted index candles and option prices -> the exact orders it sends.

The candle paths use SuperTrend(3, 1.0) on 5 s candles with high/low = close +/- 15 points, so the
direction changes at known candles: UP_DOWN turns up at candle 5 (close 26040, ATM 26050) and down
at candle 11 (close 26080, ATM 26100), then keeps falling. Candle i closes at start + 5 * (i + 1) s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.strategy.api import BadParams, parse_params
from actors.strategy.builtin._common import ExitReason
from actors.strategy.builtin.supertrend_options import SupertrendOptions, SupertrendOptionsState
from ipc.messages import OrderState
from tests.support.strategy_harness import NS_PER_S, TRADING_DAY, SentOrder, StrategyHarness

UP_DOWN = [26000, 26010, 26000, 25990, 26000, 26040, 26080, 26120, 26160, 26200, 26150, 26080, 26000, 25920,
           25850, 25800, 25750, 25700, 25650, 25600]
UP_AT, DOWN_AT = 5, 11
FAST = {"st_period": 3, "st_multiplier": 1.0}
ENTRY_PAISE = 10_000  # every option fills at 100.00 unless a test says otherwise
LOT = 65  # NIFTY
CE_26050 = "NIFTY-Nov2026-26050-CE"
PE_26100 = "NIFTY-Nov2026-26100-PE"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instruments")


def bot(cache_dir: Path, start: dt.time = dt.time(9, 30), **params: Any) -> StrategyHarness:
    h = StrategyHarness(SupertrendOptions, {**FAST, **params}, cache_dir=cache_dir)
    h.at(start)
    return h


def candles(h: StrategyHarness, closes: list[int], *, fill_paise: int | None = ENTRY_PAISE,
            low: dict[int, int] | None = None, tf: int = 5,
            after: dict[int, Callable[[StrategyHarness, list[SentOrder]], None]] | None = None,
            ) -> dict[int, list[SentOrder]]:
    """Send one candle per close (rupees), candle i closing ``tf * (i + 1)`` seconds after the
    clock at the call; fill every order at ``fill_paise`` as it is sent (a prompt venue) unless
    None; run ``after[i]`` after candle i. Returns {candle index: orders it caused}."""
    index = h.strategy.index  # type: ignore[attr-defined]
    start_ns = h.now_ns
    sent: dict[int, list[SentOrder]] = {}
    for i, close in enumerate(closes):
        h.ctx.clock_ns = start_ns + tf * (i + 1) * NS_PER_S
        lo = (low or {}).get(i, close - 15)
        out = h.bar(index, tf, close * 100, high_paise=(close + 15) * 100, low_paise=lo * 100)
        if out:
            sent[i] = out
            if fill_paise is not None:
                for o in out:
                    h.fill(o, fill_paise)
        if after and i in after:
            after[i](h, out)
    return sent


def briefs(orders: list[SentOrder]) -> list[tuple[str, str, int, bool]]:
    return [(o.side, o.symbol, o.qty_units, o.reduce_only) for o in orders]


def st(h: StrategyHarness) -> SupertrendOptionsState:
    return h.strategy.state  # type: ignore[return-value]


# Entries and reversals -------------------------------------------------------------------------------


def test_buys_atm_ce_on_up_flip_then_sells_it_and_buys_atm_pe_on_down_flip(cache_dir: Path) -> None:
    h = bot(cache_dir)
    sent = candles(h, UP_DOWN)
    assert sorted(sent) == [UP_AT, DOWN_AT]
    [entry] = sent[UP_AT]
    assert entry.brief() == ("BUY", CE_26050, LOT, "MARKET", 0, "")
    assert (entry.product, entry.reduce_only, entry.segment) == ("INTRADAY", False, 2)
    assert briefs(sent[DOWN_AT]) == [("SELL", CE_26050, LOT, True), ("BUY", PE_26100, LOT, False)]
    assert st(h).last_exit_reason is ExitReason.REVERSAL
    assert st(h).trades_today == 2


def test_the_index_bars_are_subscribed_at_the_configured_timeframe(cache_dir: Path) -> None:
    h = StrategyHarness(SupertrendOptions, {"underlying": "BANKNIFTY", "timeframe_s": 15, "use_htf": True},
                        cache_dir=cache_dir)
    assert [(ref.symbol, ref.segment, ref.security_id, tf) for ref, tf in h.ctx.bar_subscriptions] == \
        [("BANKNIFTY", 0, 25, 15), ("BANKNIFTY", 0, 25, 60)]


@pytest.mark.parametrize(("underlying", "spot", "ce", "lot"), [
    ("NIFTY", 26000, "NIFTY-Nov2026-26050-CE", 65),
    ("BANKNIFTY", 59000, "BANKNIFTY-Nov2026-59000-CE", 30),
    ("FINNIFTY", 27500, "FINNIFTY-Nov2026-27550-CE", 60),
    ("SENSEX", 85000, "SENSEX-Nov2026-85000-CE", 20),
])
def test_each_index_buys_its_own_atm_call_of_the_nearest_expiry(cache_dir: Path, underlying: str, spot: int,
                                                                ce: str, lot: int) -> None:
    h = bot(cache_dir, underlying=underlying, qty_lots=2)
    sent = candles(h, [c - 26000 + spot for c in UP_DOWN[:UP_AT + 1]])  # same shape, shifted to the index
    assert {i: briefs(o) for i, o in sent.items()} == {UP_AT: [("BUY", ce, 2 * lot, False)]}


def test_strike_offset_moves_both_calls_and_puts_out_of_the_money(cache_dir: Path) -> None:
    h = bot(cache_dir, strike_offset=2)
    sent = candles(h, UP_DOWN)
    assert briefs(sent[UP_AT]) == [("BUY", "NIFTY-Nov2026-26150-CE", LOT, False)]
    assert briefs(sent[DOWN_AT]) == [("SELL", "NIFTY-Nov2026-26150-CE", LOT, True),
                                     ("BUY", "NIFTY-Nov2026-26000-PE", LOT, False)]


def test_flip_only_waits_for_a_flip_while_level_mode_enters_on_the_first_ready_candle(cache_dir: Path) -> None:
    flips = candles(bot(cache_dir, flip_only=True), UP_DOWN[:UP_AT + 1])
    level = candles(bot(cache_dir, flip_only=False), UP_DOWN[:UP_AT + 1])
    assert {i: briefs(o) for i, o in flips.items()} == {UP_AT: [("BUY", CE_26050, LOT, False)]}
    # candle 3 is the first with a SuperTrend (down, close 25990 -> ATM 26000)
    assert {i: briefs(o) for i, o in level.items()} == {
        3: [("BUY", "NIFTY-Nov2026-26000-PE", LOT, False)],
        UP_AT: [("SELL", "NIFTY-Nov2026-26000-PE", LOT, True), ("BUY", CE_26050, LOT, False)],
    }


# An accelerating fall (MACD histogram negative), then a candle with a deep low that turns the
# SuperTrend up while the histogram is still negative (candles 9, 10); it turns positive at 11.
MACD_PATH = [26100, 26095, 26085, 26070, 26050, 26025, 25995, 25960, 25920, 25875, 25880, 25940, 26000]


def test_macd_confirmation_gates_entries_but_not_reversal_exits(cache_dir: Path) -> None:
    h = bot(cache_dir, flip_only=False, use_macd=True, macd_fast=3, macd_slow=6, macd_signal=3)
    sent = candles(h, MACD_PATH, low={9: 25500})
    assert {i: briefs(o) for i, o in sent.items()} == {
        7: [("BUY", "NIFTY-Nov2026-25950-PE", LOT, False)],  # first candle with a (negative) histogram
        9: [("SELL", "NIFTY-Nov2026-25950-PE", LOT, True)],  # SuperTrend up: exit; histogram < 0: no CE
        11: [("BUY", "NIFTY-Nov2026-25950-CE", LOT, False)],  # histogram > 0 confirms
    }


def test_without_macd_the_same_path_enters_on_the_supertrend_alone(cache_dir: Path) -> None:
    sent = candles(bot(cache_dir, flip_only=False), MACD_PATH, low={9: 25500})
    assert briefs(sent[3]) == [("BUY", "NIFTY-Nov2026-26050-PE", LOT, False)]
    assert briefs(sent[9]) == [("SELL", "NIFTY-Nov2026-26050-PE", LOT, True),
                               ("BUY", "NIFTY-Nov2026-25900-CE", LOT, False)]


@pytest.mark.parametrize(("htf_closes", "expected"), [
    (UP_DOWN[:UP_AT + 1], {UP_AT: [("BUY", CE_26050, LOT, False)]}),  # 60 s trend up: only the CE
    (UP_DOWN[:UP_AT], {DOWN_AT: [("BUY", PE_26100, LOT, False)]}),  # 60 s trend down: only the PE
])
def test_higher_timeframe_supertrend_must_agree(cache_dir: Path, htf_closes: list[int],
                                               expected: dict[int, list[tuple[str, str, int, bool]]]) -> None:
    h = bot(cache_dir, dt.time(9, 20), use_htf=True, htf_st_period=3, htf_st_multiplier=1.0)
    assert candles(h, htf_closes, tf=60) == {}
    sent = candles(h, UP_DOWN[:DOWN_AT + 1], fill_paise=None)
    assert {i: briefs(o) for i, o in sent.items()} == expected


# Time rules --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "enters"), [
    (dt.time(14, 59, 25), True),  # the flip candle closes 14:59:55
    (dt.time(14, 59, 30), False),  # ... at 15:00:00, the default entry cut-off
    (dt.time(9, 14, 30), True),  # ... at 09:15:00, the market open
    (dt.time(9, 14, 25), False),  # ... at 09:14:55
])
def test_entries_only_from_market_open_until_the_cutoff(cache_dir: Path, start: dt.time, enters: bool) -> None:
    sent = candles(bot(cache_dir, start), UP_DOWN[:UP_AT + 1])
    expected = {UP_AT: [("BUY", CE_26050, LOT, False)]} if enters else {}
    assert {i: briefs(o) for i, o in sent.items()} == expected


def test_configured_cutoff_replaces_the_default(cache_dir: Path) -> None:
    assert candles(bot(cache_dir, dt.time(14, 29, 30), entry_cutoff_ist="14:30:00"), UP_DOWN[:UP_AT + 1]) == {}
    sent = candles(bot(cache_dir, dt.time(14, 29, 25), entry_cutoff_ist="14:30:00"), UP_DOWN[:UP_AT + 1])
    assert briefs(sent[UP_AT]) == [("BUY", CE_26050, LOT, False)]


@pytest.mark.parametrize("via", ["bar", "tick"])
def test_forced_square_off_at_1525(cache_dir: Path, via: str) -> None:
    h = bot(cache_dir, dt.time(14, 59, 25))
    candles(h, UP_DOWN[:UP_AT + 1])
    ce = h.inst(CE_26050)
    h.at(dt.time(15, 24, 59))
    assert h.tick(ce, ENTRY_PAISE) == []
    h.at(dt.time(15, 25))
    index = h.strategy.index  # type: ignore[attr-defined]
    out = h.bar(index, 5, 2_620_000) if via == "bar" else h.tick(ce, ENTRY_PAISE)
    assert briefs(out) == [("SELL", CE_26050, LOT, True)]
    assert st(h).last_exit_reason is ExitReason.SQUARE_OFF


def test_max_trades_per_day_blocks_further_entries_until_the_next_day(cache_dir: Path) -> None:
    h = bot(cache_dir, max_trades_per_day=1)
    sent = candles(h, UP_DOWN)
    assert briefs(sent[UP_AT]) == [("BUY", CE_26050, LOT, False)]
    assert briefs(sent[DOWN_AT]) == [("SELL", CE_26050, LOT, True)]  # the exit, but no PE
    h.day = TRADING_DAY + dt.timedelta(days=3)  # Monday
    h.at(dt.time(9, 30))
    sent = candles(h, [25700, 25800, 25900])  # the fall ends: the SuperTrend turns up again
    assert {i: briefs(o) for i, o in sent.items()} == {0: [("BUY", "NIFTY-Nov2026-25700-CE", LOT, False)]}
    assert st(h).trades_today == 1


@pytest.mark.parametrize(("cooldown_s", "enters"), [(28, True), (29, False)])
def test_cooldown_counts_from_the_last_order_of_any_kind(cache_dir: Path, cooldown_s: int, enters: bool) -> None:
    h = bot(cache_dir, cooldown_s=cooldown_s, target_points_paise=2_000)

    def take_profit(h: StrategyHarness, out: list[SentOrder]) -> None:
        h.advance(2)  # the target exit goes 28 s before the down flip at candle 11
        [exit_order] = h.tick(h.inst(CE_26050), 12_000)
        h.fill(exit_order, 12_000)

    sent = candles(h, UP_DOWN[:DOWN_AT + 1], after={UP_AT: take_profit})
    expected = {UP_AT: [("BUY", CE_26050, LOT, False)]}
    if enters:
        expected[DOWN_AT] = [("BUY", PE_26100, LOT, False)]
    assert {i: briefs(o) for i, o in sent.items()} == expected


def test_min_hold_delays_the_reversal_exit_to_a_later_candle(cache_dir: Path) -> None:
    h = bot(cache_dir, min_hold_s=60)
    sent = candles(h, UP_DOWN)
    # bought at candle 5 (+30 s); reversal at candle 11 (+60 s) is held back; candle 17 is +90 s.
    # Candle 17 is no flip, so (flip-only) no PE follows the exit.
    assert {i: briefs(o) for i, o in sent.items()} == {
        UP_AT: [("BUY", CE_26050, LOT, False)],
        17: [("SELL", CE_26050, LOT, True)],
    }
    assert st(h).last_exit_reason is ExitReason.REVERSAL


# Exits on option ticks ---------------------------------------------------------------------------------


def entered(cache_dir: Path, start: dt.time = dt.time(9, 30), **params: Any) -> tuple[StrategyHarness, Any]:
    """A bot holding 65 of the 26050 CE bought at 100.00."""
    h = bot(cache_dir, start, **params)
    candles(h, UP_DOWN[:UP_AT + 1])
    assert st(h).active is not None and st(h).active.bought_units == LOT  # type: ignore[union-attr]
    return h, h.inst(CE_26050)


@pytest.mark.parametrize(("params", "prices", "reason"), [
    ({"target_points_paise": 2_000}, [11_999, 12_000], ExitReason.TARGET),
    ({"trailing_sl_points_paise": 1_500}, [13_000, 11_501, 11_500], ExitReason.TRAILING_SL),
    ({"trailing_sl_points_paise": 1_500}, [10_500, 9_000], ExitReason.TRAILING_SL),  # trails from the fill
    ({"max_loss_per_trade_paise": 130_000}, [8_001, 8_000], ExitReason.MAX_TRADE_LOSS),  # 65 x -20.00
    ({"daily_max_loss_paise": 100_000}, [8_462, 8_461], ExitReason.DAILY_MAX_LOSS),  # 65 x -15.39
    # several rules hold on one tick: the first in priority order wins
    ({"daily_max_loss_paise": 100_000, "max_loss_per_trade_paise": 130_000, "trailing_sl_points_paise": 500},
     [8_000], ExitReason.DAILY_MAX_LOSS),
    ({"max_loss_per_trade_paise": 130_000, "trailing_sl_points_paise": 500}, [8_000], ExitReason.MAX_TRADE_LOSS),
])
@pytest.mark.parametrize("via", ["tick", "quote"])
def test_exit_rules_on_option_prices_in_priority_order(cache_dir: Path, params: dict[str, int], prices: list[int],
                                                       reason: ExitReason, via: str) -> None:
    h, ce = entered(cache_dir, **params)
    send = h.tick if via == "tick" else h.quote
    for price in prices[:-1]:
        assert send(ce, price) == []
    assert briefs(send(ce, prices[-1])) == [("SELL", CE_26050, LOT, True)]
    assert st(h).last_exit_reason is reason
    assert st(h).active is None
    assert send(ce, prices[-1]) == []  # one exit, not one per tick


def test_square_off_outranks_every_other_exit_rule(cache_dir: Path) -> None:
    h, ce = entered(cache_dir, start=dt.time(14, 59, 25), target_points_paise=2_000)
    h.at(dt.time(15, 25))
    assert briefs(h.tick(ce, 12_000)) == [("SELL", CE_26050, LOT, True)]
    assert st(h).last_exit_reason is ExitReason.SQUARE_OFF


def test_daily_loss_counts_earlier_realised_losses_and_halts_entries(cache_dir: Path) -> None:
    h = bot(cache_dir, daily_max_loss_paise=100_000, max_loss_per_trade_paise=65_000)

    def lose_on_ce(h: StrategyHarness, out: list[SentOrder]) -> None:
        [exit_order] = h.tick(h.inst(CE_26050), 9_000)  # 65 x -10.00: the per-trade limit
        h.fill(exit_order, 9_000)

    sent = candles(h, UP_DOWN[:DOWN_AT + 1], after={UP_AT: lose_on_ce})
    assert st(h).last_exit_reason is ExitReason.MAX_TRADE_LOSS
    assert st(h).realised_today_paise == -65_000
    assert briefs(sent[DOWN_AT]) == [("BUY", PE_26100, LOT, False)]
    pe = h.inst(PE_26100)
    assert h.tick(pe, 9_462) == []  # day: -65 000 - 34 970
    assert briefs(h.tick(pe, 9_461)) == [("SELL", PE_26100, LOT, True)]  # day: -100 035
    assert st(h).last_exit_reason is ExitReason.DAILY_MAX_LOSS
    assert st(h).halted_today
    # no more entries today, even on a fresh flip
    assert candles(h, [26200, 26300, 26400], fill_paise=None) == {}
    assert h.strategy.direction == 1  # type: ignore[attr-defined]


# Order flow ---------------------------------------------------------------------------------------------


def test_partial_entry_fill_exit_sells_what_filled_cancels_the_rest_and_sells_late_fills(cache_dir: Path) -> None:
    h = bot(cache_dir, qty_lots=2, target_points_paise=2_000)
    sent = candles(h, UP_DOWN[:UP_AT + 1], fill_paise=None)
    [entry] = sent[UP_AT]
    assert entry.qty_units == 2 * LOT
    h.fill(entry, ENTRY_PAISE, qty_units=LOT)
    ce = h.inst(CE_26050)
    [exit1] = h.tick(ce, 12_000)
    assert briefs([exit1]) == [("SELL", CE_26050, LOT, True)]
    assert h.ctx.cancels == [f"c-{entry.intent_id}"]
    [exit2] = h.fill(entry, ENTRY_PAISE)  # the rest filled before the cancel landed
    assert briefs([exit2]) == [("SELL", CE_26050, LOT, True)]
    h.fill(exit1, 12_000)
    h.fill(exit2, 12_000)
    assert st(h).closing == []
    assert st(h).realised_today_paise == 2 * LOT * (12_000 - ENTRY_PAISE)
    assert h.ctx.held(ce.segment, ce.security_id) == 0


def test_a_denied_entry_frees_the_slot_for_the_next_signal(cache_dir: Path) -> None:
    h = bot(cache_dir, flip_only=False)
    sent = candles(h, UP_DOWN[:4], fill_paise=None)
    [entry] = sent[3]
    h.deny(entry)
    assert st(h).active is None and st(h).trades_today == 0
    sent = candles(h, [26000], fill_paise=None)
    assert briefs(sent[0]) == [("BUY", "NIFTY-Nov2026-26000-PE", LOT, False)]


def test_a_rejected_exit_is_sent_again_on_the_next_option_tick(cache_dir: Path) -> None:
    h, ce = entered(cache_dir, target_points_paise=2_000)
    [exit1] = h.tick(ce, 12_000)
    assert h.reject(exit1) == []
    [exit2] = h.tick(ce, 12_100)
    assert briefs([exit2]) == [("SELL", CE_26050, LOT, True)]
    h.fill(exit2, 12_100)
    assert st(h).closing == [] and st(h).realised_today_paise == LOT * 2_100


def test_an_entry_cancelled_unfilled_is_forgotten(cache_dir: Path) -> None:
    h = bot(cache_dir)
    [entry] = candles(h, UP_DOWN[:UP_AT + 1], fill_paise=None)[UP_AT]
    h.accept(entry)
    h.reject(entry, OrderState.CANCELED)
    assert st(h).active is None and st(h).trades_today == 0


# Persistence --------------------------------------------------------------------------------------------


def test_state_round_trip_keeps_the_open_position_and_its_exit_rules(cache_dir: Path) -> None:
    h, ce = entered(cache_dir, target_points_paise=2_000)
    h.tick(ce, 11_000)
    again = h.restarted(cache_dir)
    assert again.strategy.state == h.strategy.state
    assert (ce.segment, ce.security_id) in {(r.segment, r.security_id) for r in again.ctx.subscribed}
    assert again.tick(ce, 11_999) == []
    assert briefs(again.tick(ce, 12_000)) == [("SELL", CE_26050, LOT, True)]
    assert st(again).trades_today == 1


def test_state_encodes_to_msgpack_and_json_and_back(cache_dir: Path) -> None:
    h, ce = entered(cache_dir, trailing_sl_points_paise=500)
    h.tick(ce, 11_000)
    h.tick(ce, 10_500)
    state = st(h)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=SupertrendOptionsState) == state
    assert msgspec.json.decode(msgspec.json.encode(state), type=SupertrendOptionsState) == state


# Parameters ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "message"), [
    ({"timeframe_s": 0}, "timeframe_s (0) must be at least 1"),
    ({"underlying": "MIDCPNIFTY"}, "params.underlying"),
    ({"qty_lots": 0}, "qty_lots (0) must be at least 1"),
    ({"entry_cutoff_ist": "15:30:00"}, "entry_cutoff_ist (15:30:00) must be before square_off_ist (15:25:00)"),
    ({"market_open_ist": "15:10:00"}, "market_open_ist (15:10:00) must be before entry_cutoff_ist (15:00:00)"),
    ({"entry_cutoff_ist": "3pm"}, "params.entry_cutoff_ist"),
    ({"use_htf": True, "htf_timeframe_s": 5}, "htf_timeframe_s (5) must be above timeframe_s (5)"),
    ({"daily_max_loss_paise": -1}, "daily_max_loss_paise (-1) must be 0 (off) or more"),
    ({"st_multiplier": 0}, "st_multiplier (0.0) must be a positive number"),
    ({"macd_fast": 26, "macd_slow": 12}, "macd_fast (26) must be below macd_slow (12)"),
    ({"stop_loss": 5}, "unknown parameter"),
])
def test_bad_parameters_are_refused_with_the_key_and_the_numbers(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(BadParams, match="strategy 'st' \\(supertrend_options\\)") as err:
        parse_params(SupertrendOptions, "st", raw)
    assert message in str(err.value)


def test_no_instrument_table_disables_the_bot_with_an_error(cache_dir: Path) -> None:
    h = StrategyHarness(SupertrendOptions, {}, cache_dir=cache_dir, autostart=False)
    h.ctx._table = None
    h.start()
    assert h.ctx.log.events("error") == ["strategy_disabled"]
    assert h.ctx.bar_subscriptions == []


def test_the_trailing_stop_is_declared_as_it_rises_for_a_venue_stop(cache_dir: Path) -> None:
    h, ce = entered(cache_dir, trailing_sl_points_paise=1_500)
    h.tick(ce, 13_000)
    h.tick(ce, 12_000)  # below the peak: the stop stays where it is
    h.tick(ce, 14_000)
    key = (ce.segment, ce.security_id)
    assert [(p[0], p[1]) for p in h.ctx.protects] == [key, key]
    assert [p[2] for p in h.ctx.protects] == [11_500, 12_500]
