"""Black-76: option prices, greeks and implied volatility on a forward, over whole chains at once.

Floats live here and nowhere else on the option path: callers convert paise to rupees (or any one
unit) on the way in and round back to integers on the way out (``actors.control.chain``).

Conventions (every argument is a numpy array of one length, or broadcastable to it):

* ``forward`` F and ``strike`` K in one price unit, > 0;
* ``years`` T: time to expiry in years of the caller's clock (the chain uses trading time,
  ``engine.model.option_time``), > 0;
* ``rate`` r: continuously compounded annual rate that discounts the premium, ``e^{-rT}``;
* ``is_call``: True for a call (CE), False for a put (PE);
* ``sigma``: annualised volatility (0.15 = 15 %).

Outputs per option: ``price`` (discounted), ``delta`` = dV/dF, ``gamma`` = d2V/dF2,
``vega`` = dV/dsigma per 1.00 of volatility (per vol point: divide by 100), ``theta`` =
dV/dt per year of the same clock as ``years`` as time passes (-dV/dT; per day: divide by the days
in that year).

Implied volatility: :func:`implied_vol` returns the volatility and a status code per option
(:data:`IV_OK` or why none exists: no time value, a price at or above the no-arbitrage bound, bad
inputs, no convergence); an unsolvable option's volatility is 0.0, never NaN. The solver works on
the out-of-the-money side (a call and a put of one strike have the same time value in Black's
model), in total volatility s = sigma*sqrt(T), by Newton steps on the log of the price inside a
bracket that bisection keeps when a step would leave it.

The kernels are numba ``njit(cache=True)`` loops; :func:`warmup` compiles (or loads) them and
is called before an actor that prices options reports ready.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numba import njit

IV_OK: Final = 0
IV_NO_TIME_VALUE: Final = 1     # price at or below intrinsic value: any volatility (or none) fits
IV_ABOVE_MAXIMUM: Final = 2     # price at or above the discounted forward (call) or strike (put)
IV_BAD_INPUT: Final = 3         # a forward, strike, time or price that is not a positive finite number
IV_NO_CONVERGENCE: Final = 4    # the iteration budget ran out (not seen on the tested domain)
IV_STATUS_NAMES: Final = ("OK", "NO_TIME_VALUE", "ABOVE_MAXIMUM", "BAD_INPUT", "NO_CONVERGENCE")

_MAX_ITER: Final = 100
_S_MAX: Final = 40.0            # total volatility past which every option is worth its bound
_INV_SQRT2: Final = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI: Final = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True, inline="always")
def _cdf(x: float) -> float:
    # erfc keeps full relative precision in the far tail, where 1 + erf(x) would cancel to 0.
    return 0.5 * math.erfc(-x * _INV_SQRT2)


@njit(cache=True, inline="always")
def _pdf(x: float) -> float:
    return _INV_SQRT2PI * math.exp(-0.5 * x * x)


@njit(cache=True, inline="always")
def _otm_price(f: float, k: float, x: float, s: float, call: bool) -> float:
    """Undiscounted Black price at total volatility ``s`` > 0, x = ln(F/K)."""
    d1 = x / s + 0.5 * s
    d2 = d1 - s
    if abs(d1) < 1.0 and abs(d2) < 1.0:
        # Near the money at a small total volatility (minutes to expiry) N(d1) and N(d2) are both
        # ~0.5 and their difference cancels to noise, so the solver never converged. With
        # N(d) = (1 + erf(d/sqrt2)) / 2 the halves cancel exactly instead, and erf keeps its full
        # relative precision near 0: call = (F-K)/2 + (F erf(d1/sqrt2) - K erf(d2/sqrt2)) / 2 and the
        # put is the same with (K-F)/2.
        half_time_value = 0.5 * (f * math.erf(d1 * _INV_SQRT2) - k * math.erf(d2 * _INV_SQRT2))
        return (0.5 * (f - k) if call else 0.5 * (k - f)) + half_time_value
    if call:
        return f * _cdf(d1) - k * _cdf(d2)
    return k * _cdf(-d2) - f * _cdf(-d1)


@njit(cache=True)
def greeks(forward: np.ndarray, strike: np.ndarray, years: np.ndarray, rate: np.ndarray,
           sigma: np.ndarray, is_call: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                            np.ndarray]:
    """(price, delta, gamma, theta, vega) per option; see the module's conventions. Inputs must
    be valid (F, K, T, sigma > 0): callers pass the volatilities :func:`implied_vol` solved."""
    n = forward.shape[0]
    price = np.empty(n)
    delta = np.empty(n)
    gamma = np.empty(n)
    theta = np.empty(n)
    vega = np.empty(n)
    for i in range(n):
        f, k, t, r, v = forward[i], strike[i], years[i], rate[i], sigma[i]
        sqrt_t = math.sqrt(t)
        s = v * sqrt_t
        disc = math.exp(-r * t)
        d1 = math.log(f / k) / s + 0.5 * s
        d2 = d1 - s
        nd1 = _pdf(d1)
        if is_call[i]:
            p = disc * (f * _cdf(d1) - k * _cdf(d2))
            delta[i] = disc * _cdf(d1)
        else:
            p = disc * (k * _cdf(-d2) - f * _cdf(-d1))
            delta[i] = -disc * _cdf(-d1)
        price[i] = p
        gamma[i] = disc * nd1 / (f * s)
        vega[i] = disc * f * nd1 * sqrt_t
        theta[i] = r * p - disc * f * nd1 * v / (2.0 * sqrt_t)
    return price, delta, gamma, theta, vega


@njit(cache=True)
def _solve_one(price: float, f: float, k: float, t: float, r: float, call: bool) -> tuple[float, int]:
    if not (f > 0.0 and k > 0.0 and t > 0.0 and math.isfinite(f) and math.isfinite(k) and math.isfinite(t)
            and math.isfinite(price) and math.isfinite(r)):
        return 0.0, IV_BAD_INPUT
    q = price * math.exp(r * t)  # undiscounted
    x = math.log(f / k)
    otm_call = x <= 0.0  # K >= F: the call is the out-of-the-money side
    if call != otm_call:  # put-call parity: the other side has the same time value
        q = q - (f - k) if call else q - (k - f)
    bound = f if otm_call else k
    if q <= 0.0:
        return 0.0, IV_NO_TIME_VALUE
    if q >= bound:
        return 0.0, IV_ABOVE_MAXIMUM
    lo, hi = 0.0, _S_MAX
    if _otm_price(f, k, x, hi, otm_call) <= q:
        return 0.0, IV_ABOVE_MAXIMUM  # within a rounding of the bound
    # Start near the money's answer (Brenner-Subrahmanyam), pulled toward the known floor
    # |x|-driven total volatility for far strikes.
    s = max(math.sqrt(2.0 * math.pi) * q / math.sqrt(f * k), math.sqrt(2.0 * abs(x)), 1e-3)
    s = min(s, 0.5 * _S_MAX)
    log_q = math.log(q)
    for _ in range(_MAX_ITER):
        b = _otm_price(f, k, x, s, otm_call)
        if b > q:
            hi = s
        else:
            lo = s
        if b <= 0.0:  # underflow far below the answer: the bracket moves up
            s = 0.5 * (lo + hi) if hi < _S_MAX else 2.0 * s
            continue
        d1 = x / s + 0.5 * s
        dbds = f * _pdf(d1)
        g = math.log(b) - log_q
        if abs(g) < 1e-14:
            return s / math.sqrt(t), IV_OK
        step = g * b / dbds if dbds > 0.0 else math.inf
        nxt = s - step
        if not (lo < nxt < hi):
            nxt = 0.5 * (lo + hi)
        if abs(nxt - s) <= 1e-15 * s:
            return nxt / math.sqrt(t), IV_OK
        s = nxt
    # A bracket this narrow is the answer to the last bits even if the log test never hit 1e-14.
    if hi - lo <= 1e-12 * hi:
        return 0.5 * (lo + hi) / math.sqrt(t), IV_OK
    return 0.0, IV_NO_CONVERGENCE


@njit(cache=True)
def implied_vol(price: np.ndarray, forward: np.ndarray, strike: np.ndarray, years: np.ndarray,
                rate: np.ndarray, is_call: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sigma, status) per option from its discounted ``price``. ``status`` is :data:`IV_OK` or
    the reason none exists (``sigma`` is then 0.0)."""
    n = price.shape[0]
    sigma = np.empty(n)
    status = np.empty(n, dtype=np.int8)
    for i in range(n):
        sigma[i], status[i] = _solve_one(price[i], forward[i], strike[i], years[i], rate[i], is_call[i])
    return sigma, status


def warmup() -> None:
    """Compile (or load from numba's on-disk cache) every kernel: call before reporting ready."""
    one = np.ones(2)
    calls = np.array([True, False])
    sigma, _status = implied_vol(np.array([0.05, 0.05]), one, one, one, one * 0.05, calls)
    greeks(one, one, one, one * 0.05, np.maximum(sigma, 0.1), calls)
