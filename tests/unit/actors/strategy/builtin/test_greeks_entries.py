"""Greeks-driven entries of the option structures: spreads whose strikes are chosen by delta, IV
conditions on the ATM volatility (a threshold or its percentile over the session), the iron condor
on the spot's zone between its short strikes, and the parameters' validation.

The market: NIFTY's nearest expiry (24 Nov 2026) on the bundled sample master, 20 Nov 2026; every
option the strategy watches is quoted at its Black-76 price (forward = spot carried at the chain's
rate, trading time from the exchange calendar) for a volatility the test chooses. At 26010 and
15 % the calls' deltas run 0.587 (25950), 0.529 (26000), 0.471 (26050), 0.414 (26100), 0.358
(26150), 0.305 (26200), 0.257 (26250); the puts' are the calls' - 1 (about).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from actors.strategy.api import BadParams, parse_params
from actors.strategy.builtin._common import ExitReason
from actors.strategy.builtin._structure import OptionStructure, Phase, StructureState
from actors.strategy.builtin.bear_put_spread import BearPutSpread
from actors.strategy.builtin.bull_call_spread import BullCallSpread
from actors.strategy.builtin.iron_condor import IronCondor
from actors.strategy.builtin.short_straddle import ShortStraddle
from engine.model import black76
from tests.support.strategy_harness import SentOrder, StrategyHarness

N = "NIFTY-Nov2026-"
SPOT_PAISE = 2_601_000
Sigma = float | Callable[[int], float]  # one volatility, or one per strike (paise)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instruments")


def structure(cls: type[OptionStructure], cache_dir: Path, **params: Any) -> StrategyHarness:
    return StrategyHarness(cls, params, cache_dir=cache_dir)


def state(h: StrategyHarness) -> StructureState:
    return h.strategy.state  # type: ignore[return-value]


def index_tick(h: StrategyHarness, spot_paise: int = SPOT_PAISE) -> list[SentOrder]:
    return h.tick(h.strategy.index, spot_paise)  # type: ignore[attr-defined]


def model_price_paise(h: StrategyHarness, spot_paise: int, strike_paise: int, call: bool, sigma: float) -> int:
    """Black-76 on the spot carried to the expiry, as the strategy is told time and rate."""
    expiry = h.table.expiries("NIFTY", h.day)[0]
    time = h.ctx.option_time(2, expiry, h.now_ns)
    rate = h.ctx.risk_free_rate_annual
    f = spot_paise / 100 * math.exp(rate * time.years)
    one = np.ones(1)
    price = black76.greeks(one * f, one * strike_paise / 100, one * time.years, one * rate, one * sigma,
                           np.array([call]))[0][0]
    return max(5, round(price * 100))


def quote_chain(h: StrategyHarness, spot_paise: int = SPOT_PAISE, sigma: Sigma = 0.15,
                leave_out: tuple[str, ...] = ()) -> None:
    """Every option the strategy subscribed to, quoted at its model price (except ``leave_out``)."""
    for ref in list(h.ctx.subscribed):
        inst = h.table.get(ref.segment, ref.security_id)
        if inst is None or inst.option_type not in ("CE", "PE") or inst.symbol in leave_out:
            continue
        vol = sigma(inst.strike_paise) if callable(sigma) else sigma
        h.quote(ref, model_price_paise(h, spot_paise, inst.strike_paise, inst.option_type == "CE", vol))


def enter_priced(h: StrategyHarness, spot_paise: int = SPOT_PAISE, sigma: Sigma = 0.15,
                 leave_out: tuple[str, ...] = ()) -> list[SentOrder]:
    """09:15 the index ticks (the strategy subscribes to its window), the chain is quoted, 09:20
    the index ticks again: the orders of that tick."""
    h.at(dt.time(9, 15))
    index_tick(h, spot_paise)
    quote_chain(h, spot_paise, sigma, leave_out)
    h.at(dt.time(9, 20))
    quote_chain(h, spot_paise, sigma, leave_out)
    return index_tick(h, spot_paise)


def skips(h: StrategyHarness) -> list[dict[str, Any]]:
    return [ln.fields for ln in h.ctx.log.lines if ln.event == "entry_skipped"]


def call_deltas(h: StrategyHarness, spot_paise: int, sigma: float) -> dict[int, float]:
    """The calls' deltas by strike from Black-76 itself, as the test's own reference."""
    expiry = h.table.expiries("NIFTY", h.day)[0]
    time = h.ctx.option_time(2, expiry, h.now_ns)
    chain = h.table.option_chain("NIFTY", expiry)
    assert chain is not None
    k = np.array(chain.strike_values(), dtype=np.float64) / 100
    f = np.full(k.size, spot_paise / 100 * math.exp(h.ctx.risk_free_rate_annual * time.years))
    d = black76.greeks(f, k, np.full(k.size, time.years), np.full(k.size, h.ctx.risk_free_rate_annual),
                       np.full(k.size, sigma), np.ones(k.size, dtype=np.bool_))[1]
    return dict(zip(chain.strike_values(), d.tolist()))


# Strikes by delta -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "params", "expected"), [
    (BullCallSpread, {"long_delta_ppm": 550_000, "short_delta_ppm": 300_000},
     [("BUY", N + "26000-CE"), ("SELL", N + "26200-CE")]),
    (BullCallSpread, {"long_delta_ppm": 450_000, "short_delta_ppm": 250_000},
     [("BUY", N + "26050-CE"), ("SELL", N + "26250-CE")]),
    (BearPutSpread, {"long_delta_ppm": 450_000, "short_delta_ppm": 250_000},
     [("BUY", N + "26000-PE"), ("SELL", N + "25800-PE")]),
    (BearPutSpread, {"long_delta_ppm": 600_000, "short_delta_ppm": 300_000},
     [("BUY", N + "26100-PE"), ("SELL", N + "25850-PE")]),
])
def test_spreads_choose_the_strikes_whose_delta_is_nearest_the_targets(
        cache_dir: Path, cls: type[OptionStructure], params: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    h = structure(cls, cache_dir, **params)
    sent = enter_priced(h)
    assert [(o.side, o.symbol) for o in sent] == expected
    assert all(o.group_id == "t-20261120-1" and o.qty_units == 65 for o in sent)
    # the test's own deltas agree that no listed strike is nearer either target
    deltas = call_deltas(h, SPOT_PAISE, 0.15)
    for o, target in zip(sent, (params["long_delta_ppm"], params["short_delta_ppm"])):
        inst = h.table.by_symbol(o.symbol)
        assert inst is not None
        mine = abs((deltas[inst.strike_paise] - (inst.option_type == "PE")) * 1e6)
        assert all(abs(mine - target) <= abs(abs((d - (inst.option_type == "PE")) * 1e6) - target) + 1e3
                   for d in deltas.values())
    [entered] = [ln.fields for ln in h.ctx.log.lines if ln.event == "structure_entered"]
    assert 145_000 < entered["atm_iv_ppm"] < 155_000 and len(entered["deltas_ppm"]) == 2


def test_the_delta_pick_follows_the_volatility(cache_dir: Path) -> None:
    """At 30 % the 0.30-delta call is further out than at 15 %."""
    h = structure(BullCallSpread, cache_dir, long_delta_ppm=550_000, short_delta_ppm=300_000)
    sent = enter_priced(h, sigma=0.30)
    deltas = call_deltas(h, SPOT_PAISE, 0.30)
    short = h.table.by_symbol(sent[1].symbol)
    assert short is not None and short.strike_paise > 2_620_000
    assert min(deltas, key=lambda k: abs(deltas[k] - 0.30)) == short.strike_paise


def test_a_missing_quote_next_to_the_pick_skips_the_entry_with_the_reason_then_enters(cache_dir: Path) -> None:
    h = structure(BullCallSpread, cache_dir, long_delta_ppm=550_000, short_delta_ppm=300_000)
    assert enter_priced(h, leave_out=(N + "26250-CE",)) == []  # 26200 is nearest 0.30; 26250 could be nearer
    [skip] = skips(h)
    assert (skip["code"], skip["strike_paise"], skip["iv_status"], skip["option_type"]) == \
        ("neighbour_unpriced", 2_625_000, "NO_PRICE", "CE")
    assert skip["retry_in_s"] == 5
    h.advance(4)
    quote_chain(h)
    assert index_tick(h) == []  # not before the retry
    h.advance(1)
    assert [o.symbol for o in index_tick(h)] == [N + "26000-CE", N + "26200-CE"]


def test_no_quotes_at_all_is_no_entry(cache_dir: Path) -> None:
    h = structure(BearPutSpread, cache_dir, long_delta_ppm=500_000, short_delta_ppm=250_000)
    h.at(dt.time(9, 20))
    assert index_tick(h) == []  # the window was just subscribed: nothing quoted yet
    assert [s["code"] for s in skips(h)] == ["no_priced_option"]
    assert state(h).phase is Phase.FLAT and h.ctx.groups == []


def test_a_pick_at_the_edge_of_the_priced_window_waits(cache_dir: Path) -> None:
    h = structure(BullCallSpread, cache_dir, long_delta_ppm=550_000, short_delta_ppm=100_000,
                  chain_strikes_each_side=3)  # priced 25850..26150: 0.10 lies beyond
    assert enter_priced(h) == []
    [skip] = skips(h)
    assert (skip["code"], skip["strike_paise"]) == ("delta_outside_window", 2_615_000)


def test_the_window_follows_the_spot(cache_dir: Path) -> None:
    h = structure(BullCallSpread, cache_dir, long_delta_ppm=550_000, short_delta_ppm=300_000,
                  chain_strikes_each_side=2)
    h.at(dt.time(9, 15))
    index_tick(h)
    watched = {h.table.get(r.segment, r.security_id).strike_paise for r in h.ctx.subscribed  # type: ignore[union-attr]
               if r.security_id != 13 and r.symbol.endswith("CE")}
    assert watched == {2_585_000 + i * 5_000 for i in range(7)}  # ATM 26000 +- 3
    index_tick(h, 2_603_000)  # less than half a step: nothing new
    assert len(h.ctx.subscribed) == 1 + 1 + 14  # the index, the future, 7 strikes x CE/PE
    index_tick(h, 2_615_000)  # ATM 26150
    assert h.inst(N + "26300-CE") in h.ctx.subscribed and h.inst(N + "26300-PE") in h.ctx.subscribed
    assert h.inst("NIFTY-Nov2026-FUT") in h.ctx.subscribed


def test_the_future_is_the_forward_once_quoted(cache_dir: Path) -> None:
    """The future quoted 150 points over the spot is the forward: the options (priced off it) are
    solved on it, and the picks are those of a market at 26160 (0.58 at 26100 is nearer 0.55 than
    0.51 at 26150), not of the index's 26010."""
    h = structure(BullCallSpread, cache_dir, long_delta_ppm=550_000, short_delta_ppm=300_000)
    h.at(dt.time(9, 15))
    index_tick(h)
    h.book(h.inst("NIFTY-Nov2026-FUT"), 2_615_900, 2_616_100)
    quote_chain(h, 2_615_000)  # the options priced off 26150
    h.at(dt.time(9, 20))
    quote_chain(h, 2_615_000)
    sent = index_tick(h)
    assert [o.symbol for o in sent] == [N + "26100-CE", N + "26350-CE"]
    [entered] = [ln.fields for ln in h.ctx.log.lines if ln.event == "structure_entered"]
    assert entered["forward_paise"] == 2_616_000


# IV conditions ----------------------------------------------------------------------------------------------


def test_iv_conditions_are_off_by_default_and_nothing_extra_is_watched(cache_dir: Path) -> None:
    h = structure(BullCallSpread, cache_dir)
    h.at(dt.time(9, 20))
    assert [o.symbol for o in index_tick(h)] == [N + "26000-CE", N + "26100-CE"]  # no quotes needed
    assert len(h.ctx.subscribed) == 3  # the index and the two legs


@pytest.mark.parametrize(("params", "code"), [
    ({"atm_iv_max_ppm": 140_000}, "atm_iv_above_max"),
    ({"atm_iv_min_ppm": 160_000}, "atm_iv_below_min"),
    ({"atm_iv_min_ppm": 100_000, "atm_iv_max_ppm": 140_000}, "atm_iv_above_max"),
])
def test_an_iv_threshold_keeps_the_spread_out(cache_dir: Path, params: dict[str, Any], code: str) -> None:
    h = structure(BullCallSpread, cache_dir, **params)
    assert enter_priced(h) == []
    [skip] = skips(h)
    assert skip["code"] == code and 149_000 < skip["atm_iv_ppm"] < 151_000 and skip["retry_in_s"] == 60


@pytest.mark.parametrize("params", [{"atm_iv_max_ppm": 160_000}, {"atm_iv_min_ppm": 140_000},
                                    {"atm_iv_min_ppm": 140_000, "atm_iv_max_ppm": 160_000}])
def test_an_iv_threshold_that_holds_lets_the_spread_in_by_steps(cache_dir: Path, params: dict[str, Any]) -> None:
    h = structure(BearPutSpread, cache_dir, **params)
    assert [o.symbol for o in enter_priced(h)] == [N + "26000-PE", N + "25900-PE"]


def test_an_iv_condition_is_judged_again_a_minute_later(cache_dir: Path) -> None:
    h = structure(BullCallSpread, cache_dir, atm_iv_max_ppm=180_000, long_delta_ppm=550_000,
                  short_delta_ppm=300_000)
    assert enter_priced(h, sigma=0.20) == []
    h.advance(30)
    quote_chain(h, sigma=0.17)
    assert index_tick(h) == []  # within the minute
    h.advance(30)
    assert len(index_tick(h)) == 2


def percentile_run(cache_dir: Path, vols: list[float], **params: Any) -> tuple[StrategyHarness, list[SentOrder]]:
    """The index ticks once a minute from 09:16 with the chain at ``vols`` in turn (one sample a
    minute); the last is at 09:20, the entry time."""
    h = structure(BullCallSpread, cache_dir, iv_sample_s=60, **params)
    h.at(dt.time(9, 15))
    index_tick(h)  # subscribes; no quotes yet: no sample
    sent: list[SentOrder] = []
    start = 20 - len(vols) + 1
    for i, vol in enumerate(vols):
        h.at(dt.time(9, start + i))
        quote_chain(h, sigma=vol)
        sent = index_tick(h)
    return h, sent


def test_the_iv_percentile_rule_enters_when_iv_is_low_for_the_session(cache_dir: Path) -> None:
    h, sent = percentile_run(cache_dir, [0.20, 0.18, 0.16, 0.15], iv_percentile_max=30, iv_percentile_min_samples=4)
    assert len(sent) == 2  # 0.15 is the lowest of 4 samples: 25th percentile


def test_the_iv_percentile_rule_waits_while_iv_is_high_for_the_session(cache_dir: Path) -> None:
    h, sent = percentile_run(cache_dir, [0.10, 0.12, 0.14, 0.15], iv_percentile_max=30, iv_percentile_min_samples=4)
    assert sent == []
    [skip] = skips(h)
    assert (skip["code"], skip["iv_percentile"]) == ("iv_percentile_outside", 100)


def test_the_iv_percentile_rule_needs_its_samples_first(cache_dir: Path) -> None:
    h, sent = percentile_run(cache_dir, [0.20, 0.15], iv_percentile_max=50, iv_percentile_min_samples=3)
    assert sent == []
    [skip] = skips(h)
    assert (skip["code"], skip["samples"]) == ("iv_history_short", 2)


def test_the_iv_percentile_rule_for_selling_when_iv_is_high(cache_dir: Path) -> None:
    h, sent = percentile_run(cache_dir, [0.10, 0.12, 0.14, 0.15], iv_percentile_min=70, iv_percentile_min_samples=4)
    assert len(sent) == 2


# The iron condor's zone ------------------------------------------------------------------------------------


def open_condor(cache_dir: Path, **params: Any) -> tuple[StrategyHarness, list[SentOrder]]:
    h = structure(IronCondor, cache_dir, zone_rules=True, **params)
    sent = enter_priced(h)
    assert len(sent) == 4, skips(h)
    h.fill_all(sent, 5_000)
    assert state(h).phase is Phase.OPEN
    return h, sent


def test_condor_by_delta_sits_its_wings_beyond_the_short_strikes_and_keeps_its_zone(cache_dir: Path) -> None:
    h, sent = open_condor(cache_dir, short_delta_ppm=250_000, wing_steps=2)
    assert [(o.side, o.symbol) for o in sent] == [("BUY", N + "26350-CE"), ("BUY", N + "25700-PE"),
                                                 ("SELL", N + "26250-CE"), ("SELL", N + "25800-PE")]
    assert (state(h).zone_low_paise, state(h).zone_high_paise) == (2_580_000, 2_625_000)


def test_condor_exits_when_the_spot_reaches_a_short_strike(cache_dir: Path) -> None:
    h, _ = open_condor(cache_dir)  # by steps: shorts 26100 CE / 25900 PE
    assert (state(h).zone_low_paise, state(h).zone_high_paise) == (2_590_000, 2_610_000)
    assert index_tick(h, 2_609_995) == [] and index_tick(h, 2_590_005) == []
    out = index_tick(h, 2_589_990)
    assert [(o.side, o.symbol, o.reduce_only) for o in out] == [("BUY", N + "26100-CE", True),
                                                                ("BUY", N + "25900-PE", True)]
    assert state(h).last_exit_reason is ExitReason.ZONE_EXIT


def test_condor_exits_at_the_upper_short_strike_too_and_after_a_restart(cache_dir: Path) -> None:
    h, _ = open_condor(cache_dir)
    again = h.restarted(cache_dir)
    assert [o.symbol for o in index_tick(again, 2_610_000)] == [N + "26100-CE", N + "25900-PE"]
    assert again.strategy.state.last_exit_reason is ExitReason.ZONE_EXIT  # type: ignore[attr-defined]


def test_condor_without_zone_rules_stays_when_the_spot_leaves(cache_dir: Path) -> None:
    h = structure(IronCondor, cache_dir)
    sent = enter_priced(h)
    h.fill_all(sent, 5_000)
    assert index_tick(h, 2_650_000) == [] and state(h).phase is Phase.OPEN
    assert (state(h).zone_low_paise, state(h).zone_high_paise) == (0, 0)


def test_condor_enters_only_with_the_spot_inside_the_zone_by_its_margin(cache_dir: Path) -> None:
    # by delta 0.25 the zone is 25800-26250; a margin of 4 steps (200) leaves 26000-26050
    inside = structure(IronCondor, cache_dir, zone_rules=True, short_delta_ppm=250_000, zone_margin_steps=4)
    assert len(enter_priced(inside)) == 4
    outside = structure(IronCondor, cache_dir, zone_rules=True, short_delta_ppm=250_000, zone_margin_steps=5)
    assert enter_priced(outside) == []
    [skip] = skips(outside)
    assert (skip["code"], skip["zone_low_paise"], skip["zone_high_paise"], skip["margin_paise"]) == \
        ("spot_outside_zone", 2_580_000, 2_625_000, 25_000)


def test_condor_still_exits_on_its_pnl_stop_inside_the_zone(cache_dir: Path) -> None:
    h, _ = open_condor(cache_dir, stop_loss_pnl_paise=65 * 1_000)
    out = h.tick(h.inst(N + "26100-CE"), 6_000)  # the short call up 10.00 x 65
    assert len(out) == 2 and state(h).last_exit_reason is ExitReason.STOP_LOSS


# Parameters --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "params", "field"), [
    (BullCallSpread, {"long_delta_ppm": 500_000}, "short_delta_ppm"),
    (BullCallSpread, {"short_delta_ppm": 300_000}, "long_delta_ppm"),
    (BullCallSpread, {"long_delta_ppm": 300_000, "short_delta_ppm": 300_000}, "short_delta_ppm"),
    (BearPutSpread, {"long_delta_ppm": 1_000_000, "short_delta_ppm": 300_000}, "long_delta_ppm"),
    (BearPutSpread, {"long_delta_ppm": 500_000, "short_delta_ppm": -1}, "short_delta_ppm"),
    (IronCondor, {"short_delta_ppm": 500_000}, "short_delta_ppm"),
    (IronCondor, {"zone_rules": True, "short_otm_steps": 0}, "zone_rules"),
    (IronCondor, {"zone_margin_steps": -1}, "zone_margin_steps"),
    (BullCallSpread, {"atm_iv_max_ppm": -5}, "atm_iv_max_ppm"),
    (BullCallSpread, {"atm_iv_min_ppm": 200_000, "atm_iv_max_ppm": 100_000}, "atm_iv_min_ppm"),
    (BearPutSpread, {"iv_percentile_max": 101}, "iv_percentile_max"),
    (BearPutSpread, {"iv_percentile_min": 60, "iv_percentile_max": 40}, "iv_percentile_min"),
    (IronCondor, {"iv_sample_s": 0}, "iv_sample_s"),
    (IronCondor, {"chain_strikes_each_side": 0}, "chain_strikes_each_side"),
    (BullCallSpread, {"long_delta": 0.5}, "long_delta"),
])
def test_bad_greeks_params_are_refused_naming_the_field(cls: type[OptionStructure], params: dict[str, Any],
                                                        field: str) -> None:
    with pytest.raises(BadParams) as err:
        parse_params(cls, "spread", params)
    assert field in str(err.value) and "spread" in str(err.value)


def test_a_straddle_takes_the_iv_conditions_too(cache_dir: Path) -> None:
    h = structure(ShortStraddle, cache_dir, atm_iv_min_ppm=200_000)
    assert enter_priced(h) == []
    assert [s["code"] for s in skips(h)] == ["atm_iv_below_min"]


def test_params_changed_at_run_time_take_effect(cache_dir: Path) -> None:
    h = structure(BullCallSpread, cache_dir, atm_iv_max_ppm=100_000)
    assert enter_priced(h) == []
    old = h.strategy.params
    h.strategy.params = parse_params(BullCallSpread, "t", {"long_delta_ppm": 550_000, "short_delta_ppm": 300_000})
    h.strategy.on_params_changed(old)
    h.advance(60)  # the same quotes, judged by the new parameters: no IV condition, strikes by delta
    assert [o.symbol for o in index_tick(h)] == [N + "26000-CE", N + "26200-CE"]
