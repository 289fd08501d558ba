"""Option chain pricing: implied volatility and greeks of a 200-strike chain, both sides.

Run: ``.venv/bin/python -m pytest bench/test_options_bench.py --benchmark-enable -q -s``

The chain: NIFTY at 26,000, strikes 21,000 to 30,950 every 50 (200 strikes, 400 options), five
trading days to expiry, a volatility smile from 11 % at the money to 40 % in the wings, and each
price rounded to the 5-paise tick as the market quotes it. Timed: ``engine.model.black76`` solving
every volatility and then every greek (the numba kernels), as the best of ``REPEATS`` calls (the
machine is shared, so the minimum is the stable figure); beside it the same Newton-with-bisection
algorithm vectorised in plain numpy (scipy's ``ndtr``), the library oracle one option at a time
(vollib, where installed), and the whole GetPricedChain path (``actors.control.chain.price_chain``:
market lookups, the kernels, the integer message). Goal: the kernels under 1 ms.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable

import numpy as np
import pytest

from engine.model import black76

REPEATS = 200
N_STRIKES = 200
F = 26_000.0
YEARS = 5 / 248
RATE = 0.065
STRIKES = np.repeat(21_000.0 + 50.0 * np.arange(N_STRIKES), 2)
CALLS = np.tile(np.array([True, False]), N_STRIKES)
SIGMA_TRUE = 0.11 + 0.29 * np.minimum(1.0, (np.log(STRIKES / F) / 0.15) ** 2)
FWD = np.full(STRIKES.size, F)
T = np.full(STRIKES.size, YEARS)
R = np.full(STRIKES.size, RATE)
PRICE = np.maximum(np.round(black76.greeks(FWD, STRIKES, T, R, SIGMA_TRUE, CALLS)[0] * 20.0) / 20.0, 0.05)


def best_us(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def ours() -> object:
    sigma, status = black76.implied_vol(PRICE, FWD, STRIKES, T, R, CALLS)
    ok = status == black76.IV_OK
    return black76.greeks(FWD[ok], STRIKES[ok], T[ok], R[ok], sigma[ok], CALLS[ok])


def numpy_chain() -> object:
    """The same solver without numba: every option iterates until all have converged."""
    from scipy.special import ndtr

    disc = np.exp(-RATE * YEARS)
    q = PRICE / disc
    x = np.log(FWD / STRIKES)
    otm_call = x <= 0.0
    q = np.where(CALLS == otm_call, q, np.where(CALLS, q - (FWD - STRIKES), q - (STRIKES - FWD)))
    s = np.maximum(np.sqrt(2 * np.pi) * q / np.sqrt(FWD * STRIKES), np.sqrt(2 * np.abs(x)))
    lo, hi = np.zeros_like(s), np.full_like(s, 40.0)
    for _ in range(100):
        d1 = x / s + 0.5 * s
        d2 = d1 - s
        b = np.where(otm_call, FWD * ndtr(d1) - STRIKES * ndtr(d2), STRIKES * ndtr(-d2) - FWD * ndtr(-d1))
        hi = np.where(b > q, s, hi)
        lo = np.where(b > q, lo, s)
        g = np.log(np.maximum(b, 1e-300)) - np.log(q)
        if np.all(np.abs(g) < 1e-14):
            break
        with np.errstate(divide="ignore", invalid="ignore"):  # a vega that underflows: bisect instead
            nxt = s - g * b / (FWD * np.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi))
        s = np.where((nxt > lo) & (nxt < hi), nxt, 0.5 * (lo + hi))
    sigma = s / math.sqrt(YEARS)
    d1 = x / s + 0.5 * s
    nd1 = np.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    delta = np.where(CALLS, disc * ndtr(d1), -disc * ndtr(-d1))
    gamma = disc * nd1 / (FWD * s)
    vega = disc * FWD * nd1 * math.sqrt(YEARS)
    theta = RATE * PRICE - disc * FWD * nd1 * sigma / (2 * math.sqrt(YEARS))
    return sigma, delta, gamma, theta, vega


def test_chain_of_200_strikes_iv_and_greeks(benchmark, capsys) -> None:  # type: ignore[no-untyped-def]
    sigma, status = black76.implied_vol(PRICE, FWD, STRIKES, T, R, CALLS)
    solved = int((status == black76.IV_OK).sum())
    near = np.abs(np.log(STRIKES / F)) < 0.05  # where a 5-paise tick barely moves the volatility
    assert np.allclose(sigma[near], SIGMA_TRUE[near], atol=2e-3)
    row: dict[str, float] = {"options": float(STRIKES.size), "solved": float(solved),
                             "numba_us": best_us(ours), "numpy_us": best_us(numpy_chain, 50)}
    try:
        from vollib.black.greeks import analytical as oracle
        from vollib.black.implied_volatility import implied_volatility as oracle_iv

        def library() -> None:
            for p, k, c in zip(PRICE.tolist(), STRIKES.tolist(), CALLS.tolist()):
                flag = "c" if c else "p"
                try:
                    v = oracle_iv(p, F, k, RATE, YEARS, flag)
                except Exception:  # noqa: BLE001 - the library raises for prices without time value
                    continue
                for greek in (oracle.delta, oracle.gamma, oracle.theta, oracle.vega):
                    greek(flag, F, k, YEARS, RATE, v)

        row["vollib_us"] = best_us(library, 3)
    except ImportError:
        pass
    row["price_chain_us"] = _price_chain_us()
    benchmark.extra_info.update(row)
    benchmark.group = "option chain 200 strikes"
    benchmark.pedantic(ours, rounds=REPEATS, iterations=1, warmup_rounds=1)
    with capsys.disabled():
        print(f"\noption chain, {N_STRIKES} strikes x CE/PE = {STRIKES.size} options ({solved} solved), best of "
              f"{REPEATS}:")
        print(f"  IV + greeks, numba kernels        {row['numba_us']:9.1f} us")
        print(f"  IV + greeks, numpy (same solver)  {row['numpy_us']:9.1f} us   {row['numpy_us'] / row['numba_us']:.1f}x")
        if "vollib_us" in row:
            print(f"  vollib, one option at a time      {row['vollib_us']:9.1f} us   "
                  f"{row['vollib_us'] / row['numba_us']:.0f}x")
        print(f"  GetPricedChain (price_chain)      {row['price_chain_us']:9.1f} us")


def _price_chain_us() -> float:
    """The whole chain as the RPC prices it: a made-up master of 200 strikes, a full market."""
    from actors.control.chain import price_chain
    from actors.control.market import MarketStore
    from engine.model.calendar import AlwaysOpenCalendar
    from engine.model.instruments import ChainStrike, OptionChain
    from engine.model.ist import ist_ns
    from engine.model.option_time import OptionClock
    from ipc.messages import Depth, Tick

    class Table:
        """The two lookups price_chain makes of the master (no future; the spot is NIFTY's index)."""

        def contract(self, *_args: object, **_kw: object) -> None:
            return None

        def spot(self, _name: str) -> object:
            return type("Spot", (), {"segment": 0, "security_id": 13})()

        def atm_strike(self, _u: str, _e: int, spot_paise: int, **_kw: object) -> int:
            return int(round(spot_paise / 5_000) * 5_000)

    strikes = tuple(ChainStrike(int(k * 100), 50_000 + 2 * i, 50_001 + 2 * i)
                    for i, k in enumerate(STRIKES[::2].tolist()))
    chain = OptionChain(underlying="NIFTY", segment=2, expiry_yyyymmdd=20261229, lot_size_units=65, step_paise=5_000,
                        strikes=strikes)
    now = ist_ns(dt.date(2026, 12, 22), dt.time(10, 0))
    store = MarketStore(1_000)
    store.on_tick(Tick(0, 13, int(F * 100 * math.exp(-RATE * YEARS)), now, now))
    for i, p in enumerate(PRICE.tolist()):
        paise = int(round(p * 100))
        store.on_depth(Depth(2, 50_000 + i, "both", [paise - 5], [65], [1], [paise + 5], [65], [1], now, now))
    clock = OptionClock(AlwaysOpenCalendar(), 2)
    t = clock.to_expiry(20261229, now)
    return best_us(lambda: price_chain(Table(), chain, store, t, RATE, 0, now), 50)  # type: ignore[arg-type]


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "--benchmark-enable", "-q", "-s"])
