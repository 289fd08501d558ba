"""The priced option chain: market data per strike with Black-76 implied volatility and greeks.

Pure: the instrument master's chain, the market the control actor keeps
(``actors.control.market``), the trading time to expiry (``engine.model.option_time``) and a rate
in; an :class:`ipc.messages.OptionChainSnapshot` out. The same snapshot answers the
GetPricedChain call and is published on ``chain.<UNDERLYING>.<YYYYMMDD>``.

The model's inputs (the rules live in ``engine.model.option_inputs``, shared with the strategies):

* **forward**: the same expiry's future (mid of bid and ask when both are quoted, else its last
  trade); without one, the spot (index or stock last trade) carried at the rate to expiry,
  F = S * e^(rT). The premium is discounted at the same rate.
* **option price**: the mid of the best bid and ask when both are quoted (rounded down to a
  paisa), else the last trade; none: no volatility (``NO_PRICE``).
* **time**: trading time to the expiry's close over the trading year (``option_time``).
* **ATM**: the listed strike nearest the forward (a tie goes to the higher strike).

Floats exist only between the paise in and the integers out (see ``ChainSide`` for the units).
"""

from __future__ import annotations

import numpy as np

from actors.control.market import MarketSnapshot, MarketStore
from engine.model import black76
from engine.model.instruments import Instrument, InstrumentTable, OptionChain
from engine.model.money import prices_to_paise_array
from engine.model.option_inputs import PAISE_PER_RUPEE, forward_paise, scaled_ints, solve_price_paise
from engine.model.option_time import TradingTime
from ipc.messages import ChainRow, ChainSide, IvStatus, OptionChainSnapshot


def option_price_paise(m: MarketSnapshot | None) -> int:
    """The price a volatility is solved from (``engine.model.option_inputs.solve_price_paise``);
    0 when there is no market data."""
    return 0 if m is None else solve_price_paise(m.best_bid_paise, m.best_ask_paise, m.ltp_paise)


def _rows_around(chain: OptionChain, atm_paise: int, strikes_each_side: int) -> range:
    n = len(chain.strikes)
    if strikes_each_side <= 0 or not atm_paise:
        return range(n)
    at = chain.strike_values().index(atm_paise)
    return range(max(0, at - strikes_each_side), min(n, at + strikes_each_side + 1))


def price_chain(table: InstrumentTable, chain: OptionChain, market: MarketStore, time: TradingTime, rate: float,
                strikes_each_side: int, now_ns: int) -> OptionChainSnapshot:
    """The chain priced now. ``strikes_each_side`` > 0 keeps that many strikes below and above the
    ATM strike (all strikes when 0 or when there is no forward to find the ATM by)."""
    years = time.years
    future_inst: Instrument | None = table.contract(chain.underlying, chain.expiry_yyyymmdd, 0, "XX",
                                                    segment=chain.segment)
    spot_inst = table.spot(chain.underlying)
    future = market.snapshot(future_inst.segment, future_inst.security_id) if future_inst else None
    spot = market.snapshot(spot_inst.segment, spot_inst.security_id) if spot_inst else None
    fwd, source = forward_paise(option_price_paise(future), spot.ltp_paise if spot else 0, years, rate)
    atm = (table.atm_strike(chain.underlying, chain.expiry_yyyymmdd, fwd, segment=chain.segment) or 0) if fwd else 0
    picked = [chain.strikes[i] for i in _rows_around(chain, atm, strikes_each_side)]

    # One row per listed option, in chain order: (strike index, is_call, snapshot, solve price).
    sides: list[tuple[int, bool, int, MarketSnapshot | None, int]] = []
    for i, s in enumerate(picked):
        for sid, is_call in ((s.ce_security_id, True), (s.pe_security_id, False)):
            if sid:
                snap = market.snapshot(chain.segment, sid)
                sides.append((i, is_call, sid, snap, option_price_paise(snap)))
    n = len(sides)
    status: list[IvStatus] = ["OK"] * n
    solve = np.zeros(n, dtype=np.bool_)
    for j, (_i, _c, _sid, _snap, price) in enumerate(sides):
        if time.left_ns <= 0:
            status[j] = "EXPIRED"
        elif fwd <= 0:
            status[j] = "NO_UNDERLYING"
        elif price <= 0:
            status[j] = "NO_PRICE"
        else:
            solve[j] = True
    idx = np.flatnonzero(solve)
    iv = np.zeros(n)
    delta = np.zeros(n)
    gamma = np.zeros(n)
    theta = np.zeros(n)
    vega = np.zeros(n)
    if idx.size:
        price = np.array([sides[j][4] for j in idx], dtype=np.float64) / PAISE_PER_RUPEE
        strike = np.array([picked[sides[j][0]].strike_paise for j in idx], dtype=np.float64) / PAISE_PER_RUPEE
        calls = np.array([sides[j][1] for j in idx], dtype=np.bool_)
        f = np.full(idx.size, fwd / PAISE_PER_RUPEE)
        t = np.full(idx.size, years)
        r = np.full(idx.size, rate)
        sigma, codes = black76.implied_vol(price, f, strike, t, r, calls)
        ok = codes == black76.IV_OK
        for j, code in zip(idx.tolist(), codes.tolist()):
            status[j] = black76.IV_STATUS_NAMES[code]  # type: ignore[assignment]
        if ok.any():
            _p, d, g, th, v = black76.greeks(f[ok], strike[ok], t[ok], r[ok], sigma[ok], calls[ok])
            solved = idx[ok]
            iv[solved] = sigma[ok]
            delta[solved], gamma[solved], theta[solved], vega[solved] = d, g, th, v
    # To integers in one pass each (round() on numpy scalars one by one costs more than the solve).
    per_day = time.days_per_year or 1
    iv_ppm = scaled_ints(iv * 1e6)
    delta_ppm = scaled_ints(delta * 1e6)
    gamma_ppb = scaled_ints(gamma * 1e9)
    theta_day = prices_to_paise_array(theta / per_day).astype(np.int64).tolist()  # the one money rule
    vega_point = prices_to_paise_array(vega * 0.01).astype(np.int64).tolist()

    out: list[list[ChainSide | None]] = [[None, None] for _ in picked]
    for j, (i, is_call, sid, snap, price) in enumerate(sides):
        oi = snap.oi_units if snap else 0
        prev_oi = snap.prev_oi_units if snap else 0
        out[i][0 if is_call else 1] = ChainSide(
            security_id=sid,
            ltp_paise=snap.ltp_paise if snap else 0,
            bid_paise=snap.best_bid_paise if snap else 0,
            ask_paise=snap.best_ask_paise if snap else 0,
            volume_units=snap.volume_units if snap else 0,
            oi_units=oi,
            oi_change_units=oi - prev_oi if prev_oi else 0,
            iv_price_paise=price,
            iv_status=status[j],
            iv_ppm=iv_ppm[j],  # every figure is 0 where no volatility was solved (arrays start at 0)
            delta_ppm=delta_ppm[j],
            gamma_ppb_per_rupee=gamma_ppb[j],
            theta_paise_per_day=theta_day[j],
            vega_paise_per_vol_point=vega_point[j],
            ts_event_ns=snap.ts_event_ns if snap else 0,
        )
    rows = [ChainRow(s.strike_paise, s.strike_paise == atm, ce, pe) for s, (ce, pe) in zip(picked, out)]
    return OptionChainSnapshot(
        underlying=chain.underlying, segment=chain.segment, expiry_yyyymmdd=chain.expiry_yyyymmdd,
        lot_size_units=chain.lot_size_units, step_paise=chain.step_paise, underlying_source=source,
        spot_paise=spot.ltp_paise if spot else 0, future_paise=option_price_paise(future), forward_paise=fwd,
        rate_ppm=scaled_ints(np.array([rate * 1e6]))[0], time_left_ns=time.left_ns, year_trading_ns=time.year_ns,
        atm_strike_paise=atm, rows=rows, ts_event_ns=now_ns, ts_init_ns=now_ns)
