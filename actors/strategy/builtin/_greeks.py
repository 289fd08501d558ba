"""Greeks for the option structures, from the strategy's own market data.

The strategy actor never asks the control actor for its priced chain: a structure that chooses
strikes by delta or enters on implied volatility subscribes to the options around the money
itself, keeps their last trade and top of book (:class:`OptionQuotes`), and solves Black-76 over a
window of its chain (:func:`price_window`) by the rules of the priced chain
(``engine.model.option_inputs``: the mid else the last trade; the future else the carried spot;
trading time to expiry from ``ctx.option_time``; ``ctx.risk_free_rate_annual``). Floats exist only
inside :func:`price_window`; what comes out is integers: volatility and delta in millionths
(``iv_ppm``, ``delta_ppm``: 150000 = 15 %, -250000 = a put of delta -0.25), strikes in paise.

Choosing by delta (:func:`pick_by_delta`) and the ATM volatility and its session percentile
(:func:`atm_iv_ppm`, :class:`IvSession`) are integer logic on those rows.
"""

from __future__ import annotations

import bisect
import enum

import msgspec
import numpy as np

from engine.model import black76
from engine.model.instruments import OptionChain
from engine.model.option_inputs import PAISE_PER_RUPEE, scaled_ints, solve_price_paise
from engine.model.option_time import TradingTime
from ipc.messages import IvStatus

PPM = 1_000_000


class OptionQuotes:
    """Last trade and best bid / ask per instrument, as the strategy heard them (0 = not seen)."""

    __slots__ = ("_q",)

    def __init__(self) -> None:
        self._q: dict[tuple[int, int], list[int]] = {}  # [ltp, bid, ask]

    def on_trade(self, segment: int, security_id: int, ltp_paise: int) -> None:
        # hot path: every tick or quote of a watched option
        q = self._q.get((segment, security_id))
        if q is None:
            self._q[(segment, security_id)] = [ltp_paise, 0, 0]
        else:
            q[0] = ltp_paise

    def on_book(self, segment: int, security_id: int, bid_paise: int, ask_paise: int) -> None:
        # hot path: every book update of a watched option
        q = self._q.get((segment, security_id))
        if q is None:
            self._q[(segment, security_id)] = [0, bid_paise, ask_paise]
        else:
            q[1] = bid_paise
            q[2] = ask_paise

    def get(self, segment: int, security_id: int) -> tuple[int, int, int]:
        """(ltp, bid, ask) in paise; zeros when never heard."""
        q = self._q.get((segment, security_id))
        return (q[0], q[1], q[2]) if q is not None else (0, 0, 0)


class StrikeGreeks(msgspec.Struct, frozen=True, gc=False):
    """One option of a priced window. ``status`` "OK" or why it has no volatility (then
    ``iv_ppm`` and ``delta_ppm`` are 0): the priced chain's codes (``ipc.messages.IvStatus``)."""

    strike_paise: int
    security_id: int  # 0: that side is not listed at this strike
    price_paise: int  # the price solved from (0: none)
    status: IvStatus
    iv_ppm: int
    delta_ppm: int  # signed: a call's is positive, a put's negative


class PricedWindow(msgspec.Struct, frozen=True):
    """Strikes ``first`` .. ``first + len(ce) - 1`` of ``chain`` (ascending), priced: the CE and PE
    of each. ``atm_strike_paise``: the listed strike nearest the forward (a tie goes up)."""

    chain: OptionChain
    first: int
    forward_paise: int
    atm_strike_paise: int
    ce: tuple[StrikeGreeks, ...]
    pe: tuple[StrikeGreeks, ...]

    def side(self, option_type: str) -> tuple[StrikeGreeks, ...]:
        return self.ce if option_type == "CE" else self.pe

    @property
    def more_below(self) -> bool:
        """The chain lists strikes below the window."""
        return self.first > 0

    @property
    def more_above(self) -> bool:
        return self.first + len(self.ce) < len(self.chain.strikes)


def nearest_strike(chain: OptionChain, price_paise: int) -> int:
    """The listed strike nearest ``price_paise``, a tie going to the higher (the chain's ATM rule,
    ``InstrumentTable.atm_strike``)."""
    values = chain.strike_values()
    at = bisect.bisect_left(values, price_paise)
    if at >= len(values):
        return values[-1]
    if at > 0 and price_paise - values[at - 1] < values[at] - price_paise:
        return values[at - 1]
    return values[at]


def window_range(chain: OptionChain, atm_strike_paise: int, strikes_each_side: int) -> range:
    """Chain indices of the ``strikes_each_side`` strikes either side of the ATM and the ATM."""
    at = bisect.bisect_left(chain.strike_values(), atm_strike_paise)
    return range(max(0, at - strikes_each_side), min(len(chain.strikes), at + strikes_each_side + 1))


def price_window(chain: OptionChain, window: range, quotes: OptionQuotes, forward_paise: int,
                 atm_strike_paise: int, time: TradingTime, rate: float) -> PricedWindow:
    """Implied volatility and delta of every listed option of ``chain`` in ``window`` (chain
    indices), from ``quotes``. Cold path: at an entry attempt and once per IV sample."""
    picked = [chain.strikes[i] for i in window]
    sides: list[tuple[int, bool, int, int]] = []  # (row, is_call, security id, solve price)
    for row, s in enumerate(picked):
        for sid, is_call in ((s.ce_security_id, True), (s.pe_security_id, False)):
            price = 0
            if sid:
                ltp, bid, ask = quotes.get(chain.segment, sid)
                price = solve_price_paise(bid, ask, ltp)
            sides.append((row, is_call, sid, price))
    n = len(sides)
    status: list[IvStatus] = ["OK"] * n
    iv_ppm = [0] * n
    delta_ppm = [0] * n
    solve: list[int] = []
    for j, (_row, _call, sid, price) in enumerate(sides):
        if time.left_ns <= 0:
            status[j] = "EXPIRED"
        elif forward_paise <= 0:
            status[j] = "NO_UNDERLYING"
        elif not sid or price <= 0:
            status[j] = "NO_PRICE"
        else:
            solve.append(j)
    if solve:
        price = np.array([sides[j][3] for j in solve], dtype=np.float64) / PAISE_PER_RUPEE
        strike = np.array([picked[sides[j][0]].strike_paise for j in solve], dtype=np.float64) / PAISE_PER_RUPEE
        calls = np.array([sides[j][1] for j in solve], dtype=np.bool_)
        f = np.full(len(solve), forward_paise / PAISE_PER_RUPEE)
        t = np.full(len(solve), time.years)
        r = np.full(len(solve), rate)
        sigma, codes = black76.implied_vol(price, f, strike, t, r, calls)
        ok = codes == black76.IV_OK
        delta = np.zeros(len(solve))
        if ok.any():
            delta[ok] = black76.greeks(f[ok], strike[ok], t[ok], r[ok], sigma[ok], calls[ok])[1]
        sigma_ppm = scaled_ints(sigma * PPM)
        d_ppm = scaled_ints(delta * PPM)
        for k, (j, code) in enumerate(zip(solve, codes.tolist(), strict=True)):
            status[j] = black76.IV_STATUS_NAMES[code]  # type: ignore[assignment]
            if code == black76.IV_OK:
                iv_ppm[j], delta_ppm[j] = sigma_ppm[k], d_ppm[k]
    ce: list[StrikeGreeks] = []
    pe: list[StrikeGreeks] = []
    for j, (row, is_call, sid, price) in enumerate(sides):
        (ce if is_call else pe).append(StrikeGreeks(picked[row].strike_paise, sid, price, status[j], iv_ppm[j],
                                                    delta_ppm[j]))
    return PricedWindow(chain, window.start, forward_paise, atm_strike_paise, tuple(ce), tuple(pe))


class DeltaMiss(str, enum.Enum):
    """Why no strike was chosen by delta."""

    NO_QUOTES = "no_priced_option"  # no option of that type in the window has a volatility
    NEIGHBOUR_UNPRICED = "neighbour_unpriced"  # a strike next to the nearest has none: it may be nearer
    OUT_OF_WINDOW = "delta_outside_window"  # the nearest is the window's last strike and the chain goes on


class DeltaPick(msgspec.Struct, frozen=True):
    """The chosen option, or why none (``miss``; ``strike_paise`` then names the strike at fault)."""

    option: StrikeGreeks | None
    miss: DeltaMiss | None = None
    strike_paise: int = 0
    status: str = ""


def pick_by_delta(window: PricedWindow, option_type: str, target_abs_delta_ppm: int) -> DeltaPick:
    """The listed option of ``option_type`` in the window whose |delta| is nearest the target.

    A tie goes to the smaller |delta| (the strike farther out of the money: the cheaper premium).
    Delta is monotone in the strike, so the nearest solved option is the nearest of all only when
    the strikes next to it are solved too: an unsolved neighbour (no quote, no time value ...) is
    ``NEIGHBOUR_UNPRICED``; the window's last strike with more listed beyond is ``OUT_OF_WINDOW``.
    """
    rows = window.side(option_type)
    solved = [i for i, r in enumerate(rows) if r.status == "OK"]
    if not solved:
        return DeltaPick(None, DeltaMiss.NO_QUOTES)
    best = min(solved, key=lambda i: (abs(abs(rows[i].delta_ppm) - target_abs_delta_ppm), abs(rows[i].delta_ppm)))
    for j, beyond in ((best - 1, window.more_below), (best + 1, window.more_above)):
        if 0 <= j < len(rows):
            if rows[j].status != "OK":
                return DeltaPick(None, DeltaMiss.NEIGHBOUR_UNPRICED, rows[j].strike_paise, rows[j].status)
        elif beyond:
            return DeltaPick(None, DeltaMiss.OUT_OF_WINDOW, rows[best].strike_paise, rows[best].status)
    return DeltaPick(rows[best])


def atm_iv_ppm(window: PricedWindow) -> int:
    """The ATM strike's implied volatility: the mean of its CE's and PE's (rounded down), the one
    that has one when the other has not; 0 when neither has."""
    at = next((i for i, r in enumerate(window.ce) if r.strike_paise == window.atm_strike_paise), None)
    if at is None:
        return 0
    ivs = [r.iv_ppm for r in (window.ce[at], window.pe[at]) if r.status == "OK"]
    return sum(ivs) // len(ivs) if ivs else 0


class IvSession:
    """The ATM volatility's samples of one IST day (in memory: a restart starts the day's sample
    again), one at most every ``every_ns`` of event time, sorted for the percentile."""

    __slots__ = ("every_ns", "day", "last_ns", "_sorted")

    def __init__(self, every_ns: int) -> None:
        self.every_ns = every_ns
        self.day = -1
        self.last_ns = 0
        self._sorted: list[int] = []

    def due(self, day: int, ts_ns: int) -> bool:
        """A sample is due at ``ts_ns`` (a new day clears the old day's)."""
        if day != self.day:
            self.day, self.last_ns, self._sorted = day, 0, []
        return not self._sorted or ts_ns - self.last_ns >= self.every_ns

    def add(self, ts_ns: int, iv_ppm: int) -> None:
        self.last_ns = ts_ns
        bisect.insort(self._sorted, iv_ppm)

    def __len__(self) -> int:
        return len(self._sorted)

    def percentile(self, iv_ppm: int) -> int:
        """The percent (0-100, rounded down) of the day's samples at or below ``iv_ppm``."""
        if not self._sorted:
            return 0
        return bisect.bisect_right(self._sorted, iv_ppm) * 100 // len(self._sorted)
