"""rsi_reversal, vwap_breakout, mean_reversion: scripted prices -> the exact orders they send.

All three trade RELIANCE (NSE_EQ 2885, lot 1) from the bundled sample master, 10 units a signal.
Price paths are in rupees; the expected indicator values are noted next to each path.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.strategy.api import BadParams, parse_params
from actors.strategy.builtin.mean_reversion import MeanReversion, MeanReversionState
from actors.strategy.builtin.rsi_reversal import RsiReversal, RsiReversalState
from actors.strategy.builtin.vwap_breakout import VwapBreakout, VwapBreakoutState
from ipc.messages import OrderState
from tests.support.strategy_harness import SentOrder, StrategyHarness

SYMBOL = "RELIANCE"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instruments")


def orders(sent: list[SentOrder]) -> list[tuple[str, str, int, str, bool]]:
    return [(o.side, o.symbol, o.qty_units, o.order_type, o.reduce_only) for o in sent]


def run_bars(h: StrategyHarness, closes: list[int], *, tf: int = 60, volumes: list[int] | None = None,
             fill: bool = True) -> dict[int, list[tuple[str, str, int, str, bool]]]:
    """One ``tf`` bar per close (rupees; high = low = close); fills each order at the close."""
    ref = h.strategy.instrument
    assert ref is not None
    out: dict[int, list[tuple[str, str, int, str, bool]]] = {}
    for i, close in enumerate(closes):
        h.advance(tf)
        sent = h.bar(ref, tf, close * 100, volume_units=volumes[i] if volumes else 0)
        if sent:
            out[i] = orders(sent)
            if fill:
                for o in sent:
                    h.fill(o, close * 100)
    return out


def run_ticks(h: StrategyHarness, prices: list[int], *, fill: bool = True) -> dict[int, list[SentOrder]]:
    ref = h.strategy.instrument
    assert ref is not None
    out: dict[int, list[SentOrder]] = {}
    for i, price in enumerate(prices):
        h.advance(1)
        sent = h.tick(ref, price * 100)
        if sent:
            out[i] = sent
            if fill:
                for o in sent:
                    h.fill(o, price * 100)
    return out


def harness(cls: type, cache_dir: Path, **params: Any) -> StrategyHarness:
    h = StrategyHarness(cls, {"qty_lots": 10, **params}, instrument=SYMBOL, cache_dir=cache_dir)
    h.at(dt.time(9, 15))
    return h


BUY = ("BUY", SYMBOL, 10, "MARKET", False)
SELL = ("SELL", SYMBOL, 10, "MARKET", False)
BUY_TO_CLOSE = ("BUY", SYMBOL, 10, "MARKET", True)
SELL_TO_CLOSE = ("SELL", SYMBOL, 10, "MARKET", True)

# RSI(3): 0, 0, 20, 50 (crosses up through 30 at index 6), 72.9, 85.8, 91.8, 94.9, 82.9,
# 52.9 (crosses down through 70 at index 12), 30.7
RSI_PATH = [2500, 2490, 2480, 2470, 2460, 2465, 2475, 2490, 2510, 2530, 2550, 2545, 2530, 2510]


# rsi_reversal -------------------------------------------------------------------------------------------


def test_rsi_buys_on_the_cross_up_through_oversold_and_sells_on_the_cross_down_through_overbought(
        cache_dir: Path) -> None:
    h = harness(RsiReversal, cache_dir, period=3)
    assert run_bars(h, RSI_PATH) == {6: [BUY], 12: [SELL_TO_CLOSE]}
    assert h.ctx.bar_subscriptions == [(h.inst(SYMBOL), 60)]


def test_rsi_levels_are_configurable(cache_dir: Path) -> None:
    # oversold 60: the cross is 50 -> 72.9 at index 7; overbought 90: 94.9 -> 82.9 at index 11
    h = harness(RsiReversal, cache_dir, period=3, oversold=60.0, overbought=90.0)
    assert run_bars(h, RSI_PATH) == {7: [BUY], 11: [SELL_TO_CLOSE]}


def test_rsi_on_every_tick_with_timeframe_zero(cache_dir: Path) -> None:
    h = harness(RsiReversal, cache_dir, period=3, timeframe_s=0)
    assert {i: orders(o) for i, o in run_ticks(h, RSI_PATH).items()} == {6: [BUY], 12: [SELL_TO_CLOSE]}
    assert h.ctx.bar_subscriptions == []


def test_rsi_from_ticks_through_the_bar_builder(cache_dir: Path) -> None:
    """Ticks at 10 s intervals become 60 s bars (each closed by the next bar's first tick)."""
    h = harness(RsiReversal, cache_dir, period=3)
    h.at(dt.time(9, 15, 5))
    ref = h.inst(SYMBOL)
    sent_at: dict[int, list[tuple[str, str, int, str, bool]]] = {}
    for i, close in enumerate(RSI_PATH + [RSI_PATH[-1]]):
        for k in range(6):  # six ticks per minute, the last one at the bar's close price
            out = h.tick(ref, (close - 5 + k) * 100 if k < 5 else close * 100)
            if out:
                sent_at[i] = orders(out)
                for o in out:
                    h.fill(o, close * 100)
            h.advance(10)
    # the bar of minute i closes on the first tick of minute i + 1
    assert sent_at == {7: [BUY], 13: [SELL_TO_CLOSE]}


def test_rsi_does_not_sell_what_it_does_not_hold(cache_dir: Path) -> None:
    h = harness(RsiReversal, cache_dir, period=3)
    # a rise straight into overbought and back down: a cross down with no position
    assert run_bars(h, [2500, 2510, 2520, 2530, 2540, 2500, 2480]) == {}


# vwap_breakout ------------------------------------------------------------------------------------------

# Session VWAP: 1000, 1001, 1002.33 (close 1005 > 1002.33 x 1.001: buy at index 2), 1002.5,
# 1001.43 (close 1000 below: sell at index 4); next IST day it restarts: 990, 995 (close 1000 > 995.995:
# buy at index 6). Carried over from the first day the VWAP would be 999.67 and index 6 would not buy.
VWAP_CLOSES = [1000, 1002, 1005, 1003, 1000, 990, 1000]
VWAP_VOLUMES = [100, 100, 100, 100, 300, 100, 100]


def test_vwap_breakout_buys_above_the_band_sells_below_vwap_and_restarts_each_session(cache_dir: Path) -> None:
    h = harness(VwapBreakout, cache_dir, band_bps=10)
    first = run_bars(h, VWAP_CLOSES[:5], volumes=VWAP_VOLUMES[:5])
    assert first == {2: [BUY], 4: [SELL_TO_CLOSE]}
    h.day = h.day + dt.timedelta(days=3)
    h.at(dt.time(9, 15))
    second = run_bars(h, VWAP_CLOSES[5:], volumes=VWAP_VOLUMES[5:])
    assert second == {1: [BUY]}


def test_vwap_band_is_exclusive(cache_dir: Path) -> None:
    # band 33 bp: index 2 needs close > 1002.33 x 1.0033 = 1005.64: no buy at 1005
    h = harness(VwapBreakout, cache_dir, band_bps=33)
    assert run_bars(h, VWAP_CLOSES[:5], volumes=VWAP_VOLUMES[:5]) == {}


def test_vwap_without_traded_volume_never_trades(cache_dir: Path) -> None:
    h = harness(VwapBreakout, cache_dir)
    assert run_bars(h, [1000, 1100, 1200, 900]) == {}
    assert h.ctx.log.lines == []


# mean_reversion -----------------------------------------------------------------------------------------

# z over 5 prices: ... 1.03 (index 6), -1.12, 0.27, 2.00 (index 9), 0.31, -0.69, -1.66 (index 12), 1.21
MR_PATH = [1000, 1002, 998, 1001, 999, 1000, 1001, 999, 1000, 1030, 1012, 1000, 970, 1040]


def test_mean_reversion_shorts_high_z_covers_near_the_mean_buys_low_z_and_reverses(cache_dir: Path) -> None:
    h = harness(MeanReversion, cache_dir, lookback=5, entry_z=1.2, exit_z=0.5)
    assert run_bars(h, MR_PATH) == {
        9: [SELL],  # z 2.00 > 1.2: short
        10: [BUY_TO_CLOSE],  # |z| 0.31 < 0.5: flat
        12: [BUY],  # z -1.66: long
        13: [SELL_TO_CLOSE, SELL],  # z 1.21: from long to short, closing first
    }
    assert h.ctx.held(1, 2885) == -10


def test_mean_reversion_long_only_when_shorts_are_off(cache_dir: Path) -> None:
    h = harness(MeanReversion, cache_dir, lookback=5, entry_z=1.2, exit_z=0.5, allow_short=False)
    assert run_bars(h, MR_PATH) == {12: [BUY], 13: [SELL_TO_CLOSE]}


def test_mean_reversion_ignores_a_flat_window(cache_dir: Path) -> None:
    h = harness(MeanReversion, cache_dir, lookback=3, entry_z=0.1, exit_z=0.0)
    assert run_bars(h, [1000, 1000, 1000, 1000, 1000]) == {}


# The shared order handling (SignalStrategy) -------------------------------------------------------------

MR_TICKS = [1000, 1002, 998, 1001, 999, 1000, 1001, 999, 1000, 1030, 1040]  # z 2.00 at 9, 1.49 at 10


def test_a_denied_entry_is_sent_again_on_the_next_signal(cache_dir: Path) -> None:
    h = harness(MeanReversion, cache_dir, timeframe_s=0, lookback=5, entry_z=1.2, exit_z=0.5)
    ref = h.inst(SYMBOL)
    sent = run_ticks(h, MR_TICKS[:10], fill=False)
    [short] = sent[9]
    h.deny(short)
    assert h.ctx.position(ref) == 0 and h.ctx.working(ref) == (0, 0)
    h.advance(1)  # the pause after a failed order (retry_s)
    assert orders(h.tick(ref, 1040 * 100)) == [SELL]


def test_a_partly_filled_then_cancelled_entry_tops_up_on_the_next_signal(cache_dir: Path) -> None:
    h = harness(MeanReversion, cache_dir, timeframe_s=0, lookback=5, entry_z=1.2, exit_z=0.5)
    ref = h.inst(SYMBOL)
    [short] = run_ticks(h, MR_TICKS[:10], fill=False)[9]
    h.fill(short, 103_000, qty_units=4)
    h.reject(short, OrderState.CANCELED)
    assert h.ctx.position(ref) == -4 and h.ctx.working(ref) == (0, 0)
    h.advance(1)
    assert [(o.side, o.qty_units, o.reduce_only) for o in h.tick(ref, 1040 * 100)] == [("SELL", 6, False)]


def test_signal_state_round_trip_remembers_the_position(cache_dir: Path) -> None:
    h = harness(RsiReversal, cache_dir, period=3)
    assert run_bars(h, RSI_PATH[:7]) == {6: [BUY]}
    state = h.strategy.state
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=RsiReversalState) == state
    again = h.restarted(cache_dir)
    assert again.ctx.position(again.inst(SYMBOL)) == 10  # what filled, as the ledger says
    # the RSI warms up again after a restart; its next cross down through 70 sells what is held
    assert run_bars(again, [2460, 2470, 2490, 2510, 2530, 2550, 2545, 2530]) == {7: [SELL_TO_CLOSE]}


@pytest.mark.parametrize(("cls", "state_cls"), [(VwapBreakout, VwapBreakoutState),
                                                (MeanReversion, MeanReversionState)])
def test_the_retry_pause_survives_a_state_round_trip(cache_dir: Path, cls: type, state_cls: type) -> None:
    h = harness(cls, cache_dir)
    h.strategy.state.retry_after_ns = 10  # type: ignore[attr-defined]
    h.strategy.state.orders = 3  # type: ignore[attr-defined]
    blob = msgspec.msgpack.encode(h.strategy.state)
    again = h.restarted(cache_dir)
    assert msgspec.msgpack.encode(again.strategy.state) == blob
    assert isinstance(again.strategy.state, state_cls)


# Parameters ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "raw", "message"), [
    (RsiReversal, {"period": 1}, "period (1) must be at least 2"),
    (RsiReversal, {"oversold": 70.0, "overbought": 30.0}, "need 0 < oversold (70.0) < overbought (30.0) < 100"),
    (RsiReversal, {"overbought": 100.0}, "overbought (100.0) < 100"),
    (RsiReversal, {"qty_lots": 0}, "qty_lots (0) must be at least 1"),
    (RsiReversal, {"timeframe_s": -5}, "timeframe_s (-5) must be 0 (every tick) or more"),
    (VwapBreakout, {"timeframe_s": 0}, "timeframe_s (0) must be at least 1: the VWAP is built from bars"),
    (VwapBreakout, {"band_bps": -1}, "band_bps (-1) must be within 0..10000"),
    (MeanReversion, {"lookback": 1}, "lookback (1) must be at least 2"),
    (MeanReversion, {"entry_z": 0.5, "exit_z": 0.5}, "need 0 <= exit_z (0.5) < entry_z (0.5)"),
    (MeanReversion, {"product": "BTST"}, "params.product"),
    (MeanReversion, {"lookbak": 10}, "unknown parameter"),
])
def test_bad_parameters_are_refused_with_the_key_and_the_numbers(cls: type, raw: dict[str, Any],
                                                                 message: str) -> None:
    with pytest.raises(BadParams, match=f"strategy 's' \\({cls.kind}\\)") as err:
        parse_params(cls, "s", raw)
    assert message in str(err.value)


def test_bar_of_another_timeframe_is_ignored(cache_dir: Path) -> None:
    h = harness(RsiReversal, cache_dir, period=3)
    ref = h.inst(SYMBOL)
    for close in RSI_PATH:
        h.advance(60)
        assert h.bar(ref, 300, close * 100) == []


def test_a_signal_strategy_with_a_stop_loss_declares_it_beyond_each_entry_fill(cache_dir: Path) -> None:
    h = harness(RsiReversal, cache_dir, period=3, timeframe_s=0, stop_loss_paise=1_500)
    ref = h.inst(SYMBOL)
    sent = run_ticks(h, RSI_PATH)
    assert {i: orders(o) for i, o in sent.items()} == {6: [BUY], 12: [SELL_TO_CLOSE]}
    # The long filled at 2475 rupees: its stop 15 rupees below; the closing fill declares nothing.
    assert h.ctx.protects == [(ref.segment, ref.security_id, 2475_00 - 1_500, "INTRADAY")]
