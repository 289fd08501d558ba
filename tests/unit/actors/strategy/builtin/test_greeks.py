"""The structures' greeks: a chain window solved from the strategy's own quotes (against Black-76
directly), strikes chosen by delta on hand-made rows (nearest, ties, unpriced neighbours, the
window's edge), the ATM volatility and its percentile over the session."""

from __future__ import annotations

import numpy as np

from actors.strategy.builtin._greeks import (
    DeltaMiss,
    IvSession,
    OptionQuotes,
    PricedWindow,
    StrikeGreeks,
    atm_iv_ppm,
    nearest_strike,
    pick_by_delta,
    price_window,
    window_range,
)
from engine.model import black76
from engine.model.instruments import ChainStrike, OptionChain
from engine.model.option_time import TradingTime
from ipc.messages import IvStatus

STEP = 5_000  # 50 rupees
STRIKES = [2_580_000 + i * STEP for i in range(9)]  # 25800 .. 26200


def chain(strikes: list[int] = STRIKES) -> OptionChain:
    return OptionChain("NIFTY", 2, 20261124, 65, STEP,
                       tuple(ChainStrike(k, 1000 + 2 * i, 1001 + 2 * i) for i, k in enumerate(strikes)))


def row(strike: int, delta_ppm: int, status: IvStatus = "OK") -> StrikeGreeks:
    return StrikeGreeks(strike, strike // 100, 100 if status == "OK" else 0, status, 150_000 if status == "OK" else 0,
                        delta_ppm if status == "OK" else 0)


def window(ce: list[tuple[int, IvStatus]] | list[int], *, first: int = 0, total: int | None = None,
           atm: int = 0) -> PricedWindow:
    """A window of CE rows with these deltas (ppm) from strike index ``first`` of a chain of
    ``total`` strikes; the PE rows mirror them (delta - 1)."""
    rows = [(d, "OK") if isinstance(d, int) else d for d in ce]
    strikes = [2_580_000 + (first + i) * STEP for i in range(len(rows))]
    n = total if total is not None else first + len(rows)
    full = chain([2_580_000 + i * STEP for i in range(n)])
    return PricedWindow(full, first, 2_600_000, atm or strikes[len(strikes) // 2],
                        tuple(row(k, d, s) for k, (d, s) in zip(strikes, rows)),  # type: ignore[arg-type]
                        tuple(row(k, d - 1_000_000, s) for k, (d, s) in zip(strikes, rows)))  # type: ignore[arg-type]


# Choosing by delta --------------------------------------------------------------------------------------


def test_the_option_nearest_the_target_delta_is_chosen_for_calls_and_puts() -> None:
    w = window([900_000, 800_000, 650_000, 520_000, 470_000, 330_000, 280_000, 200_000, 100_000])
    assert pick_by_delta(w, "CE", 500_000).option.strike_paise == 2_595_000  # 0.52
    assert pick_by_delta(w, "CE", 300_000).option.strike_paise == 2_610_000  # 0.28 (0.33 is 0.03 away)
    # the puts' deltas are the calls' - 1: |-0.35| nearest 0.35 is -0.35 at 25900 (0.65 - 1)
    assert pick_by_delta(w, "PE", 350_000).option.strike_paise == 2_590_000
    assert pick_by_delta(w, "PE", 350_000).option.delta_ppm == -350_000


def test_a_tie_goes_to_the_smaller_delta_the_strike_farther_out_of_the_money() -> None:
    w = window([900_000, 800_000, 700_000, 550_000, 450_000, 300_000, 200_000, 150_000, 100_000])
    assert pick_by_delta(w, "CE", 500_000).option.strike_paise == 2_600_000  # 0.55 and 0.45: the 0.45 call
    # puts: |delta| 0.45 (25950) and 0.55 (26000) tie at 0.50: the 0.45 put, the lower strike
    assert pick_by_delta(w, "PE", 500_000).option.strike_paise == 2_595_000


def test_an_unpriced_neighbour_of_the_nearest_strike_means_no_pick_naming_it() -> None:
    w = window([900_000, 800_000, 650_000, 520_000, (0, "NO_PRICE"), 330_000, 280_000, 200_000, 100_000])
    pick = pick_by_delta(w, "CE", 500_000)  # 0.52 is the nearest priced, but 26000 might be nearer
    assert pick.option is None and pick.miss is DeltaMiss.NEIGHBOUR_UNPRICED
    assert (pick.strike_paise, pick.status) == (2_600_000, "NO_PRICE")
    far = pick_by_delta(w, "CE", 100_000)  # an unpriced strike elsewhere does not matter
    assert far.option is not None and far.option.strike_paise == 2_620_000


def test_no_priced_option_at_all_is_no_pick() -> None:
    w = window([(0, "NO_PRICE"), (0, "NO_TIME_VALUE"), (0, "NO_PRICE")])
    assert pick_by_delta(w, "CE", 500_000).miss is DeltaMiss.NO_QUOTES


def test_the_windows_last_strike_is_no_pick_while_the_chain_goes_on_beyond_it() -> None:
    inside = window([600_000, 500_000, 400_000], first=3, total=9)
    assert pick_by_delta(inside, "CE", 500_000).option.strike_paise == 2_600_000
    edge = pick_by_delta(inside, "CE", 200_000)  # 0.40 at the top, 26050 is listed and not priced
    assert edge.miss is DeltaMiss.OUT_OF_WINDOW and edge.strike_paise == 2_605_000
    assert pick_by_delta(inside, "CE", 800_000).miss is DeltaMiss.OUT_OF_WINDOW
    chain_end = window([600_000, 500_000, 400_000], first=6, total=9)  # the chain's own last strikes
    assert pick_by_delta(chain_end, "CE", 200_000).option.strike_paise == 2_620_000


# Pricing the window ---------------------------------------------------------------------------------------


def bs76(forward_paise: int, strike_paise: int, years: float, rate: float, sigma: float,
         call: bool) -> tuple[float, float]:
    """(price in rupees, delta) from Black-76 itself."""
    one = np.ones(1)
    p, d, _g, _t, _v = black76.greeks(one * forward_paise / 100, one * strike_paise / 100, one * years, one * rate,
                                      one * sigma, np.array([call]))
    return float(p[0]), float(d[0])


def test_volatility_and_delta_are_black76s_from_the_quotes_mid_else_last_trade() -> None:
    c = chain()
    time = TradingTime(left_ns=44_700 * 10**9, year_ns=5_805_000 * 10**9, year_sessions=258)
    rate, fwd = 0.065, 2_602_300
    quotes = OptionQuotes()
    sigma = {k: 0.14 + 0.002 * i for i, k in enumerate(STRIKES)}  # a smile of sorts
    for s in c.strikes:
        for sid, call in ((s.ce_security_id, True), (s.pe_security_id, False)):
            price_paise = round(bs76(fwd, s.strike_paise, time.years, rate, sigma[s.strike_paise], call)[0] * 100)
            if s.strike_paise == 2_600_000 and call:
                quotes.on_trade(2, sid, 1)  # a stale last trade: the book's mid wins
                quotes.on_book(2, sid, price_paise - 50, price_paise + 50)
            elif s.strike_paise == 2_620_000 and not call:
                continue  # never quoted
            else:
                quotes.on_trade(2, sid, price_paise)
    w = price_window(c, window_range(c, 2_600_000, 2), quotes, fwd, 2_600_000, time, rate)
    assert [r.strike_paise for r in w.ce] == STRIKES[2:7] and w.first == 2 and w.more_below and w.more_above
    for r, call in [(r, True) for r in w.ce] + [(r, False) for r in w.pe]:
        assert r.status == "OK"
        iv = black76.implied_vol(np.array([r.price_paise / 100]), np.array([fwd / 100]),
                                 np.array([r.strike_paise / 100]), np.array([time.years]), np.array([rate]),
                                 np.array([call]))[0][0]
        assert abs(r.iv_ppm - iv * 1e6) <= 0.5  # the solver's answer, rounded to a millionth
        assert abs(r.iv_ppm - sigma[r.strike_paise] * 1e6) < 2_000  # the price was rounded to a paisa
        delta = bs76(fwd, r.strike_paise, time.years, rate, iv, call)[1]
        assert abs(r.delta_ppm - delta * 1e6) <= 0.5
    whole = price_window(c, range(0, 9), quotes, fwd, 2_600_000, time, rate)
    assert whole.pe[8].status == "NO_PRICE" and whole.pe[8].delta_ppm == 0 and not whole.more_above
    expired = price_window(c, range(0, 9), quotes, fwd, 2_600_000, TradingTime(0, time.year_ns, 258), rate)
    assert {r.status for r in expired.ce + expired.pe} == {"EXPIRED"}
    no_forward = price_window(c, range(0, 9), quotes, 0, 0, time, rate)
    assert {r.status for r in no_forward.ce} == {"NO_UNDERLYING"}


def test_atm_strike_is_the_nearest_to_the_forward_a_tie_going_up() -> None:
    c = chain()
    assert nearest_strike(c, 2_602_499) == 2_600_000
    assert nearest_strike(c, 2_602_500) == 2_605_000
    assert nearest_strike(c, 1) == STRIKES[0] and nearest_strike(c, 10**9) == STRIKES[-1]
    assert window_range(c, STRIKES[0], 3) == range(0, 4) and window_range(c, STRIKES[-1], 3) == range(5, 9)


def test_atm_volatility_is_the_mean_of_its_call_and_put_or_the_one_that_has_one() -> None:
    w = window([600_000, 500_000, 400_000], atm=2_585_000)
    both = PricedWindow(w.chain, 0, w.forward_paise, 2_585_000, w.ce,
                        tuple(StrikeGreeks(r.strike_paise, r.security_id, 100, "OK", 160_001, r.delta_ppm)
                              for r in w.pe))
    assert atm_iv_ppm(both) == 155_000  # (150000 + 160001) // 2
    no_put = PricedWindow(w.chain, 0, w.forward_paise, 2_585_000, w.ce,
                          tuple(row(r.strike_paise, 0, "NO_PRICE") for r in w.pe))
    assert atm_iv_ppm(no_put) == 150_000
    none = window([(0, "NO_PRICE")] * 3, atm=2_585_000)
    assert atm_iv_ppm(none) == 0


# The session's volatility -----------------------------------------------------------------------------------


def test_iv_percentile_counts_the_days_samples_at_or_below() -> None:
    s = IvSession(every_ns=60 * 10**9)
    assert s.percentile(150_000) == 0
    t = 10**12
    for i, iv in enumerate([150_000, 120_000, 180_000, 150_000]):
        assert s.due(1, t + i * 60 * 10**9)
        s.add(t + i * 60 * 10**9, iv)
    assert not s.due(1, t + 3 * 60 * 10**9 + 59 * 10**9)  # one a minute
    assert len(s) == 4
    assert s.percentile(150_000) == 75 and s.percentile(119_999) == 0 and s.percentile(180_000) == 100
    assert s.percentile(130_000) == 25
    assert s.due(2, t + 10**9) and len(s) == 0  # a new day starts a new sample
