"""Exact money: the one place where rupees, paise, ticks and rates are converted.

Every amount inside Shikra is an ``int`` of paise (1 rupee = 100 paise); every quantity an ``int`` of
units; every rate an ``int`` in units of 1e-8 (``rate_e8``: 0.1 % = 0.001 = 100_000 e-8). Nothing
here returns a float. A float is accepted in one place only, at the edge, under ONE rule (the feed
decoder's): ``rint(rupees * 100 / tick) * tick`` in float64, a tie to the even tick.

- ``price_to_paise`` / ``price_on_tick`` / ``prices_to_paise`` (Python floats) and ``paise_on_tick`` (numpy arrays
  through ``prices_to_paise_array`` / ``paise_to_tick_array``, and numba kernels) are that rule's
  only implementations; every float -> paise path
  calls them (the feed decoder, REST answers, history candles, the synthetic market).
  ``tests/unit/engine/model/test_price_rule.py`` holds the forms to agree bit for bit and fails if any other module rounds.
- ``parse_rupees`` refuses floats outright (``repr`` of a float is not the venue's number); REST
  JSON is decoded with ``float_hook=decimal.Decimal`` and the Decimal parsed exactly (with a
  ``rounding`` mode when sub-paisa text is to be rounded rather than refused).

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
import re
from collections.abc import Sequence
from typing import Any
from decimal import Decimal, InvalidOperation

import msgspec
import numpy as np

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


def parse_rupees(value: str | Decimal | int, rounding: Rounding | None = None) -> int:
    """Rupees as text (``"1650.5"``), ``Decimal`` or ``int`` -> exact integer paise (165050).

    Text is stripped of surrounding whitespace and must be plain decimal notation. Trailing
    zeros past the second decimal are accepted because the value is still exact (the instrument
    master writes strikes as ``"29150.00000"``); any non-zero digit past the paisa is refused,
    unless ``rounding`` says how to round the exact value to the paisa (a venue's average price).

    Raises ValueError naming the input for: empty or non-numeric text, exponents, NaN or
    infinity, a value finer than one paisa (``"1.005"``) without ``rounding``, a float or bool (a
    float's text is not the venue's number: decode JSON with ``float_hook=Decimal``, convert
    floats with ``price_to_paise``).
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(
            f"parse_rupees: refusing {type(value).__name__} {value!r}; pass text or Decimal "
            "(floats go through price_to_paise)"
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
    elif rounding is not None:
        return div_round(-coefficient if sign else coefficient, 10**-shift, rounding)
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


def price_to_paise(rupees: float, tick_paise: int = 1) -> int:
    """A float price in rupees -> paise on the nearest multiple of ``tick_paise``, a tie to the even
    multiple: THE float -> paise rule (see the module docstring), one price at a time.

    ``round(rupees * 100.0 / tick) * tick`` in float64: the exact binary value of a float32 feed
    price times 100 is exact in float64, so for those the result is the tick nearest the exact
    value (ties to even); above ~Rs 1.3 lakh a float32 cannot even hold whole paise, but it is always
    well within half a tick of the venue's price, which rounding to the tick recovers.

    Raises ValueError for NaN, infinity or ``tick_paise`` <= 0.
    """
    # Hot path (per packet at live decode): the same float64 arithmetic as prices_to_paise, without
    # its sequence (a call here is a fifth of a ticker's decode).
    if type(rupees) is not float:
        rupees = float(rupees)  # a numpy float32 would otherwise multiply in float32
    try:
        if tick_paise == 1:
            return round(rupees * 100.0)
        if tick_paise > 1:
            return round(rupees * 100.0 / tick_paise) * tick_paise
    except (ValueError, OverflowError):  # round() of NaN / infinity
        raise ValueError(f"price_to_paise: price {rupees!r} is not finite") from None
    raise ValueError(f"price_to_paise: tick must be positive, got {tick_paise} paise")


def price_on_tick(rupees: float, tick_paise: int) -> int:
    """:func:`price_to_paise` for callers that have checked their inputs: ``rupees`` a Python
    float (not a numpy float32, which would multiply in float32), ``tick_paise`` a positive int.

    Raises ValueError (NaN) or OverflowError (infinity) as ``round`` does, with no message of its
    own: the caller says what was refused."""
    # Hot path (per packet at live decode): the rule with nothing around it.
    return round(rupees * 100.0 / tick_paise) * tick_paise


def prices_to_paise(rupees: Sequence[float], tick_paise: int = 1) -> list[int]:
    """:func:`price_to_paise` of each of ``rupees`` (Python floats), in one call.

    Raises ValueError when one is NaN or infinite, or ``tick_paise`` <= 0."""
    # Hot path (per packet at decode): the rule's one scalar implementation.
    try:
        if tick_paise == 1:  # x / 1 == x exactly: the same arithmetic without the division
            return [round(p * 100.0) for p in rupees]
        if tick_paise > 1:
            return [round(p * 100.0 / tick_paise) * tick_paise for p in rupees]
    except (ValueError, OverflowError):  # round() of NaN / infinity
        raise ValueError(f"prices_to_paise: a price is not finite in {list(rupees)!r}") from None
    raise ValueError(f"prices_to_paise: tick must be positive, got {tick_paise} paise")


def paise_to_tick_array(paise: np.ndarray, tick_paise: np.ndarray | int | None = None) -> np.ndarray:
    """Float paise -> float64 whole paise on the nearest tick (ties to even), element-wise, in a new
    array. ``tick_paise`` broadcasts against ``paise`` (None: 1 paisa). Never raises: NaN and
    infinity stay NaN and infinity for the caller to screen before it casts to int64."""
    return _on_tick(np.array(paise, dtype=np.float64), tick_paise)


def prices_to_paise_array(rupees: np.ndarray, tick_paise: np.ndarray | int | None = None) -> np.ndarray:
    """:func:`price_to_paise` element-wise over float rupees (float32 or float64), as float64 whole
    paise in a new array; NaN / infinity are left for the caller (see :func:`paise_to_tick_array`)."""
    return _on_tick(np.multiply(rupees, 100.0, dtype=np.float64), tick_paise)


def paise_on_tick(paise: Any, tick_paise: Any) -> Any:
    """THE rule's arithmetic on float64 paise (``rupees * PAISE_PER_RUPEE`` in float64): the nearest
    multiple of ``tick_paise``, a tie to the even multiple, as float64 (NaN and infinity stay so).

    Plain numpy arithmetic on scalars or arrays that numba also compiles as it is: the vector
    functions here and the batch decoder's numba kernel (``actors.feed.decode_kernels``) both call
    this one function, so the rule is written once for both."""
    # Hot path (per replay batch and per packet in the batch kernel). numpy's rint rounds half to
    # even like round(); x / 1 == x exactly, so a tick of 1 needs no branch.
    return np.rint(paise / tick_paise) * tick_paise


def _on_tick(p: np.ndarray, tick_paise: np.ndarray | int | None) -> np.ndarray:
    # Hot path (per batch): the rule's vector form, the same float64 arithmetic as prices_to_paise.
    with np.errstate(invalid="ignore", over="ignore"):
        return paise_on_tick(p, 1.0 if tick_paise is None else np.asarray(tick_paise, dtype=np.float64))


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
