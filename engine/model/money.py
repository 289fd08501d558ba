"""Exact money: the one place where rupees, paise, ticks and rates are converted.

Every amount inside Shikra is an ``int`` of paise (1 rupee = 100 paise); every quantity an ``int`` of
units; every rate an ``int`` in units of 1e-8 (``rate_e8``: 0.1 % = 0.001 = 100_000 e-8). Nothing
here returns a float. A float is accepted in one place only, at the edge:

- ``price_f32_to_paise``: the feed's float32 price, rounded once to the instrument's tick.
- ``parse_rupees`` refuses floats outright (``repr`` of a float is not the venue's number); REST
  JSON is decoded with ``float_hook=decimal.Decimal`` and the Decimal parsed exactly.

Rounding modes (``Rounding``) follow ``decimal``'s meanings, so ``decimal`` is a test oracle:

    mode        rule                                                   2.5   -2.5   2.7
    ---------   ----------------------------------------------------   ----  -----  ---
    HALF_UP     nearest; a tie goes away from zero (commercial rule)   3     -3     3
    HALF_EVEN   nearest; a tie goes to the even neighbour (banker's)   2     -2     3
    DOWN        toward zero (truncate)                                 2     -2     2
    UP          away from zero                                         3     -3     3
    FLOOR       toward minus infinity                                  2     -3     2
    CEILING     toward plus infinity                                   3     -2     3
"""

from __future__ import annotations

import enum
import math
import re
from decimal import Decimal, InvalidOperation

import msgspec

PAISE_PER_RUPEE = 100
RATE_SCALE = 100_000_000  # rate_e8 units per 1.0 (so 1 % = 1_000_000 e-8)
_RATE_E8_PER_PERCENT = RATE_SCALE // 100


class Rounding(str, enum.Enum):
    """How an exact quotient becomes an integer (see the module docstring's table)."""

    HALF_UP = "HALF_UP"
    HALF_EVEN = "HALF_EVEN"
    DOWN = "DOWN"
    UP = "UP"
    FLOOR = "FLOOR"
    CEILING = "CEILING"


def div_round(numerator: int, denominator: int, rounding: Rounding) -> int:
    """``numerator / denominator`` as an exact rational, rounded to an integer by ``rounding``.

    ``denominator`` must be positive (raises ValueError otherwise). Pure integer arithmetic.
    """
    if denominator <= 0:
        raise ValueError(f"div_round: denominator must be positive, got {denominator}")
    q, r = divmod(numerator, denominator)  # floor quotient, 0 <= r < denominator
    if r == 0:
        return q
    # From here the exact value lies strictly between q and q + 1.
    if rounding is Rounding.FLOOR:
        return q
    if rounding is Rounding.CEILING:
        return q + 1
    if rounding is Rounding.DOWN:
        return q if numerator > 0 else q + 1
    if rounding is Rounding.UP:
        return q + 1 if numerator > 0 else q
    twice_r = 2 * r
    if twice_r < denominator:
        return q
    if twice_r > denominator:
        return q + 1
    # An exact tie between q and q + 1.
    if rounding is Rounding.HALF_UP:
        return q + 1 if numerator > 0 else q
    if rounding is Rounding.HALF_EVEN:
        return q if q % 2 == 0 else q + 1
    raise ValueError(f"div_round: unknown rounding {rounding!r}")


# --------------------------------------------------------------------------------------------
# Rupee text <-> paise
# --------------------------------------------------------------------------------------------

# Plain decimal notation only: optional sign, digits, optional point and digits. No exponent,
# no thousands separators, no currency sign: anything fancier is a bug upstream worth seeing.
_RUPEE_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def parse_rupees(value: str | Decimal | int) -> int:
    """Rupees as text (``"1650.5"``), ``Decimal`` or ``int`` -> exact integer paise (165050).

    Text is stripped of surrounding whitespace and must be plain decimal notation. Trailing
    zeros past the second decimal are accepted because the value is still exact (the instrument
    master writes strikes as ``"29150.00000"``); any non-zero digit past the paisa is refused.

    Raises ValueError naming the input for: empty or non-numeric text, exponents, NaN or
    infinity, a value finer than one paisa (``"1.005"``), a float or bool (a float's text is not
    the venue's number: decode JSON with ``float_hook=Decimal``, convert feed floats with
    ``price_f32_to_paise``).
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(
            f"parse_rupees: refusing {type(value).__name__} {value!r}; pass text or Decimal "
            "(feed floats go through price_f32_to_paise)"
        )
    if isinstance(value, int):
        return value * PAISE_PER_RUPEE
    if isinstance(value, str):
        text = value.strip()
        if not _RUPEE_TEXT.fullmatch(text):
            raise ValueError(f"parse_rupees: {value!r} is not a plain decimal rupee amount")
        try:
            amount = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid literals
            raise ValueError(f"parse_rupees: {value!r} is not a decimal number") from None
    elif isinstance(value, Decimal):
        amount = value
    else:
        raise ValueError(f"parse_rupees: unsupported type {type(value).__name__} for {value!r}")
    if not amount.is_finite():
        raise ValueError(f"parse_rupees: {value!r} is not a finite amount")
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite Decimals have an int exponent
    # value = (-1)**sign * int(digits) * 10**exponent; paise = value * 10**2.
    coefficient = int("".join(map(str, digits))) if digits else 0
    shift = exponent + 2
    if shift >= 0:
        paise = coefficient * 10**shift
    else:
        paise, remainder = divmod(coefficient, 10**-shift)
        if remainder:
            raise ValueError(
                f"parse_rupees: {value!r} has more than 2 decimal places (finer than one paisa)"
            )
    return -paise if sign else paise


def format_paise(paise: int) -> str:
    """Integer paise -> rupee text with exactly two decimals: 165050 -> "1650.50", -5 -> "-0.05".

    Raises ValueError for a non-int (bools included).
    """
    if isinstance(paise, bool) or not isinstance(paise, int):
        raise ValueError(f"format_paise: expected int paise, got {type(paise).__name__} {paise!r}")
    sign = "-" if paise < 0 else ""
    rupees, rest = divmod(abs(paise), PAISE_PER_RUPEE)
    return f"{sign}{rupees}.{rest:02d}"


# --------------------------------------------------------------------------------------------
# Ticks
# --------------------------------------------------------------------------------------------


def is_on_tick(price_paise: int, tick_paise: int) -> bool:
    """True when ``price_paise`` is a whole multiple of ``tick_paise`` (> 0, else ValueError)."""
    if tick_paise <= 0:
        raise ValueError(f"is_on_tick: tick must be positive, got {tick_paise} paise")
    return price_paise % tick_paise == 0


def round_to_tick(price_paise: int, tick_paise: int, mode: Rounding = Rounding.HALF_UP) -> int:
    """The multiple of ``tick_paise`` that ``price_paise`` rounds to under ``mode``.

    Typical modes: HALF_UP for "nearest", FLOOR for a buy limit that must not pay more, CEILING
    for a sell limit that must not receive less. Raises ValueError if ``tick_paise`` <= 0.
    """
    if tick_paise <= 0:
        raise ValueError(f"round_to_tick: tick must be positive, got {tick_paise} paise")
    return div_round(price_paise, tick_paise, mode) * tick_paise


def price_f32_to_paise(price: float, tick_paise: int) -> int:
    """A feed float (rupees, usually float32) -> paise on the nearest tick, ties away from zero.

    The rule is applied to the exact binary value of ``price``: paise = HALF_UP(price * 100 /
    tick) * tick. Rounding to the tick (not to the paisa) is what recovers the venue's price:
    above ~₹1.3 lakh a float32 cannot even hold whole paise, but it is always well within half
    a tick of the true price.

    Raises ValueError for NaN, infinity or ``tick_paise`` <= 0.
    """
    # Hot path (per tick at decode): float arithmetic first, exact rationals only near a tie.
    if tick_paise <= 0:
        raise ValueError(f"price_f32_to_paise: tick must be positive, got {tick_paise} paise")
    x = float(price)
    if not math.isfinite(x):
        raise ValueError(f"price_f32_to_paise: price {price!r} is not finite")
    ticks = x * 100.0 / tick_paise
    nearest = round(ticks)
    # Two correctly rounded float operations leave a relative error <= 2**-52, i.e. < 5e-7
    # absolute below 2**31 ticks; unless we are within 1e-6 of a tie the float answer is the
    # exact one. Near a tie (off-tick input) fall back to exact rationals.
    if abs(abs(ticks - nearest) - 0.5) > 1e-6 and abs(ticks) < 2.0**31:
        return nearest * tick_paise
    num, den = x.as_integer_ratio()
    return div_round(num * 100, den * tick_paise, Rounding.HALF_UP) * tick_paise


# --------------------------------------------------------------------------------------------
# Notional, average price, rates
# --------------------------------------------------------------------------------------------


def notional_paise(qty_units: int, price_paise: int) -> int:
    """Traded value of ``qty_units`` at ``price_paise``: their exact product, in paise."""
    return qty_units * price_paise


class AvgPrice(msgspec.Struct, frozen=True):
    """An exact average price kept as the pair (total value, total quantity).

    The average is ``value_paise / qty_units`` as a rational; it is never stored as a number of
    its own. ``qty_units == 0`` means "no fills yet" (then ``value_paise`` is 0).
    """

    value_paise: int = 0
    qty_units: int = 0

    def add(self, qty_units: int, price_paise: int) -> AvgPrice:
        """A new pair with ``qty_units`` more at ``price_paise``."""
        return AvgPrice(self.value_paise + qty_units * price_paise, self.qty_units + qty_units)

    def rounded_paise(self, rounding: Rounding = Rounding.HALF_EVEN) -> int:
        """The average rounded to whole paise; raises ValueError when there is no quantity."""
        if self.qty_units == 0:
            raise ValueError("AvgPrice.rounded_paise: no quantity, the average is undefined")
        return div_round(self.value_paise, self.qty_units, rounding)

    def display(self, places: int = 2, rounding: Rounding = Rounding.HALF_EVEN) -> str:
        """Rupee text of the average; see ``format_avg_rupees``."""
        return format_avg_rupees(self.value_paise, self.qty_units, places, rounding)


def format_avg_rupees(
    value_paise: int, qty_units: int, places: int = 2, rounding: Rounding = Rounding.HALF_EVEN
) -> str:
    """Rupee text of ``value_paise / qty_units`` with ``places`` decimals (2..8), for display only.

    (65 @ 120.50 + 65 @ 120.75) = ``1568125 / 130`` -> "120.62" at 2 places (HALF_EVEN), "120.6250"
    at 4.
    ``qty_units == 0`` gives "-" (no average yet). Raises ValueError for places outside 2..8 or a
    negative quantity.
    """
    if not 2 <= places <= 8:
        raise ValueError(f"format_avg_rupees: places must be 2..8, got {places}")
    if qty_units < 0:
        raise ValueError(f"format_avg_rupees: negative quantity {qty_units}")
    if qty_units == 0:
        return "-"
    extra = 10 ** (places - 2)
    scaled = div_round(value_paise * extra, qty_units, rounding)  # in 10**-places rupees
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 100 * extra)
    return f"{sign}{whole}.{frac:0{places}d}"


def apply_rate(amount_paise: int, rate_e8: int, rounding: Rounding = Rounding.HALF_UP) -> int:
    """``amount_paise * rate_e8 / 1e8`` rounded to whole paise by ``rounding``.

    ``rate_e8`` is the rate in units of 1e-8: 0.1 % = 100_000, 0.00297 % = 2_970, 18 % =
    18_000_000. Exact integer arithmetic; never raises for int inputs.
    """
    return div_round(amount_paise * rate_e8, RATE_SCALE, rounding)


def rate_e8_from_percent(text: str | Decimal) -> int:
    """A percentage written as text -> rate in 1e-8 units: "0.1" -> 100_000, "18" -> 18_000_000.

    Lets a config say what the exchange circular says. Raises ValueError for non-numeric text or
    a rate finer than 1e-8 (more than 6 decimals of a percent).
    """
    if isinstance(text, str):
        stripped = text.strip()
        if not _RUPEE_TEXT.fullmatch(stripped):
            raise ValueError(f"rate_e8_from_percent: {text!r} is not a plain decimal percentage")
        amount = Decimal(stripped)
    elif isinstance(text, Decimal) and text.is_finite():
        amount = text
    else:
        raise ValueError(f"rate_e8_from_percent: {text!r} is not a finite decimal percentage")
    scaled = amount * _RATE_E8_PER_PERCENT
    if scaled != scaled.to_integral_value():
        raise ValueError(f"rate_e8_from_percent: {text!r} % is finer than 1e-8")
    return int(scaled)
