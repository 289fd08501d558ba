"""The priced option chain (actors/control/chain.py): a hand-made NIFTY chain whose prices come
from the reference library at known volatilities, and the synthetic market (options priced by
Black-Scholes at 15 % from its index, which is Black-76 on the carried spot)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from actors.control.chain import option_price_paise, price_chain
from actors.control.market import MarketStore
from actors.feed.config import SyntheticFeedConfig
from actors.feed.decode import FrameDecoder
from actors.feed.sources import synthetic_instruments
from actors.feed.synthetic import SyntheticMarket, SyntheticMarketConfig
from engine.model.calendar import AlwaysOpenCalendar, SessionCalendar
from engine.model.instruments import InstrumentTable, OptionChain
from engine.model.ist import ist_ns
from engine.model.option_time import OptionClock
from ipc.messages import Depth, OpenInterest, PrevClose, Quote, Tick
from tests.support.strategy_harness import TRADING_DAY, sample_table

vollib = pytest.importorskip("vollib.black")
from vollib.black import black as oracle_price  # noqa: E402
from vollib.black.greeks import analytical as oracle  # noqa: E402
from vollib.black.implied_volatility import implied_volatility as oracle_iv  # noqa: E402

NOW = ist_ns(TRADING_DAY, dt.time(10, 0))
RATE = 0.065
SPOT_PAISE = 2_601_000


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> InstrumentTable:
    return sample_table(tmp_path_factory.mktemp("master"))


@pytest.fixture(scope="module")
def chain(table: InstrumentTable) -> OptionChain:
    expiry = table.nearest_expiry("NIFTY", TRADING_DAY)
    assert expiry is not None
    found = table.option_chain("NIFTY", expiry)
    assert found is not None and len(found.strikes) >= 9
    return found


def smile(strike_paise: int) -> float:
    return 0.14 + 0.5 * math.log(strike_paise / SPOT_PAISE) ** 2 * 100  # a smile: dearer wings


def quote(sid: int, ltp: int, oi: int, seg: int) -> Quote:
    return Quote(seg, sid, ltp, 65, ltp, 6_500, 0, 0, ltp, ltp, ltp, ltp, NOW - 1_000, NOW - 900, oi_units=oi)


def hand_made_market(table: InstrumentTable, chain: OptionChain, years: float, skip: int) -> MarketStore:
    """Spot at 26010; every option quoted 5 paise either side of its model price at ``smile``,
    previous OI 1,300 below today's; strike number ``skip`` has no market data at all."""
    store = MarketStore(1_000)
    spot = table.spot("NIFTY")
    assert spot is not None
    store.on_tick(Tick(spot.segment, spot.security_id, SPOT_PAISE, NOW - 500, NOW - 400))
    forward = SPOT_PAISE / 100 * math.exp(RATE * years)
    for n, s in enumerate(chain.strikes):
        if n == skip:
            continue
        for sid, flag in ((s.ce_security_id, "c"), (s.pe_security_id, "p")):
            model = oracle_price(flag, forward, s.strike_paise / 100, years, RATE, smile(s.strike_paise))
            mid = max(round(model * 100), 10)
            store.on_prev_close(PrevClose(chain.segment, sid, mid, 5_200, NOW, NOW))
            store.on_quote(quote(sid, mid, 6_500, chain.segment))
            store.on_depth(Depth(chain.segment, sid, "both", [mid - 5], [65], [1], [mid + 5], [65], [1],
                                 NOW - 1_000, NOW - 900))
    return store


def test_hand_made_chain_solves_each_mid_and_its_greeks_as_the_library_does(table, chain) -> None:
    time = OptionClock(SessionCalendar(), chain.segment).to_expiry(chain.expiry_yyyymmdd, NOW)
    years = time.years
    assert years > 0
    store = hand_made_market(table, chain, years, skip=0)
    snap = price_chain(table, chain, store, time, RATE, 0, NOW)

    forward = SPOT_PAISE / 100 * math.exp(RATE * years)
    assert (snap.underlying_source, snap.spot_paise) == ("spot", SPOT_PAISE)
    assert snap.forward_paise == round(forward * 100)
    atm = min(chain.strike_values(), key=lambda k: (abs(k - snap.forward_paise), -k))
    assert snap.atm_strike_paise == atm and [r.strike_paise for r in snap.rows if r.atm] == [atm]
    assert [r.strike_paise for r in snap.rows] == chain.strike_values()  # 0 strikes each side: all

    first = snap.rows[0]
    assert first.ce is not None and first.ce.iv_status == "NO_PRICE" and first.ce.iv_ppm == 0
    checked = 0
    for row in snap.rows[1:]:
        for side, flag in ((row.ce, "c"), (row.pe, "p")):
            assert side is not None
            assert side.oi_units == 6_500 and side.oi_change_units == 1_300
            assert (side.bid_paise, side.ask_paise) == (side.iv_price_paise - 5, side.iv_price_paise + 5)
            f, k, p = snap.forward_paise / 100, row.strike_paise / 100, side.iv_price_paise / 100
            intrinsic = max(0.0, (f - k) if flag == "c" else (k - f)) * math.exp(-RATE * years)
            if p <= intrinsic:
                assert side.iv_status == "NO_TIME_VALUE"
                continue
            assert side.iv_status == "OK", (row.strike_paise, flag, side)
            figures = (side.iv_ppm, side.delta_ppm, side.gamma_ppb_per_rupee, side.theta_paise_per_day,
                       side.vega_paise_per_vol_point)
            assert all(type(v) is int for v in figures), figures  # integers on the wire, never floats
            iv = oracle_iv(p, f, k, RATE, years, flag)
            assert side.iv_ppm == pytest.approx(iv * 1e6, abs=1)
            assert side.delta_ppm == pytest.approx(oracle.delta(flag, f, k, years, RATE, iv) * 1e6, abs=1)
            assert side.gamma_ppb_per_rupee == pytest.approx(oracle.gamma(flag, f, k, years, RATE, iv) * 1e9,
                                                             abs=1)
            theta_day = oracle.theta(flag, f, k, years, RATE, iv) * 365 / time.days_per_year
            assert side.theta_paise_per_day == pytest.approx(theta_day * 100, abs=1)
            assert side.vega_paise_per_vol_point == pytest.approx(oracle.vega(flag, f, k, years, RATE, iv) * 100,
                                                                  abs=1)
            checked += 1
    assert checked >= len(chain.strikes)  # most of both sides were solved


def test_the_expiry_s_future_is_the_forward_when_it_is_quoted(table, chain) -> None:
    time = OptionClock(SessionCalendar(), chain.segment).to_expiry(chain.expiry_yyyymmdd, NOW)
    store = hand_made_market(table, chain, time.years, skip=-1)
    future = table.contract("NIFTY", chain.expiry_yyyymmdd, 0, "XX", segment=chain.segment)
    assert future is not None
    store.on_depth(Depth(future.segment, future.security_id, "both", [2_610_000], [65], [1], [2_610_020], [65], [1],
                         NOW, NOW))
    snap = price_chain(table, chain, store, time, RATE, 2, NOW)
    assert (snap.underlying_source, snap.future_paise, snap.forward_paise) == ("future", 2_610_010, 2_610_010)
    assert len(snap.rows) == 5 and snap.rows[2].atm and snap.rows[2].strike_paise == 2_610_000


def test_without_any_underlying_price_nothing_is_solved_and_nothing_is_nan(table, chain) -> None:
    time = OptionClock(SessionCalendar(), chain.segment).to_expiry(chain.expiry_yyyymmdd, NOW)
    store = MarketStore(100)
    s = chain.strikes[3]
    store.on_quote(quote(s.ce_security_id, 12_000, 650, chain.segment))
    snap = price_chain(table, chain, store, time, RATE, 3, NOW)
    assert snap.underlying_source == "" and snap.atm_strike_paise == 0
    assert len(snap.rows) == len(chain.strikes)  # no ATM to count strikes from: every strike
    assert {side.iv_status for r in snap.rows for side in (r.ce, r.pe) if side} == {"NO_UNDERLYING"}


def test_an_expired_chain_says_so(table, chain) -> None:
    after = ist_ns(TRADING_DAY + dt.timedelta(days=30), dt.time(10, 0))
    time = OptionClock(SessionCalendar(), chain.segment).to_expiry(chain.expiry_yyyymmdd, after)
    store = hand_made_market(table, chain, 0.01, skip=-1)
    snap = price_chain(table, chain, store, time, RATE, 0, after)
    assert {side.iv_status for r in snap.rows for side in (r.ce, r.pe) if side} == {"EXPIRED"}


def test_solve_price_is_the_mid_when_both_sides_quote_else_the_last_trade(table, chain) -> None:
    store = MarketStore(10)
    assert option_price_paise(None) == 0
    store.on_quote(quote(1, 1_000, 0, 2))
    assert option_price_paise(store.snapshot(2, 1)) == 1_000
    store.on_depth(Depth(2, 1, "both", [1_005], [65], [1], [1_010], [65], [1], NOW, NOW))
    assert option_price_paise(store.snapshot(2, 1)) == 1_007  # rounded down to a paisa
    store.on_depth(Depth(2, 1, "both", [1_020], [65], [1], [1_010], [65], [1], NOW, NOW))  # crossed
    assert option_price_paise(store.snapshot(2, 1)) == 1_000


def test_the_synthetic_market_s_options_solve_to_its_15_percent_volatility(table) -> None:
    insts = synthetic_instruments(table, SyntheticFeedConfig(option_strikes_each_side=4), TRADING_DAY)
    market = SyntheticMarket(insts, SyntheticMarketConfig(seed=11, option_vol=0.15, rate=RATE))
    frames = market.opening_frames() + market.next_frames(4_000, NOW)
    store = MarketStore(1_000)
    folds = {Tick: store.on_tick, Quote: store.on_quote, Depth: store.on_depth, OpenInterest: store.on_open_interest,
             PrevClose: store.on_prev_close}
    for msg in FrameDecoder(market.tick_sizes()).decode_frames(frames, np.full(len(frames), NOW, dtype=np.int64)):
        folds[type(msg)](msg)  # type: ignore[operator]
    expiry = table.nearest_expiry("NIFTY", TRADING_DAY)
    assert expiry is not None
    found = table.option_chain("NIFTY", expiry)
    assert found is not None
    # The synthetic market never closes: its time is calendar time, as the always-open calendar's.
    time = OptionClock(AlwaysOpenCalendar(), found.segment).to_expiry(expiry, NOW)
    snap = price_chain(table, found, store, time, RATE, 4, NOW)
    assert snap.underlying_source == "spot" and len(snap.rows) == 9 and sum(r.atm for r in snap.rows) == 1
    ivs = [side.iv_ppm for r in snap.rows for side in (r.ce, r.pe) if side and side.iv_status == "OK"]
    assert len(ivs) == 18
    # Quotes are on a 5-paise tick around the model price and its year is 365.25 days: within 0.3 %.
    assert all(abs(iv - 150_000) < 300 for iv in ivs), ivs
    deltas = [(r.ce.delta_ppm, r.pe.delta_ppm) for r in snap.rows if r.ce and r.pe]
    assert all(c > 0 > p for c, p in deltas) and [c for c, _ in deltas] == sorted((c for c, _ in deltas), reverse=True)
