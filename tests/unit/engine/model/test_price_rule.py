"""One float -> paise rule (the feed decoder's: float64 ``rupees * 100 / tick``, a tie to the even
tick), used by every path that turns a float into paise; no other rounding of prices in the tree."""

from __future__ import annotations

import ast
import collections
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import ipc
from actors.execution.dhan_wire import to_paise
from actors.feed import synthetic, wire
from actors.feed.decode import FrameDecoder
from actors.feed.decode_common import MAX_ABS_PRICE_PAISE
from actors.strategy.history import parse_candles
from engine.model.money import paise_to_tick_array, price_on_tick, price_to_paise, prices_to_paise, prices_to_paise_array

SEG, SID = 2, 55796
ROOT = Path(ipc.__file__).resolve().parents[1]  # the repository, found from a package
FAST = settings(max_examples=200, deadline=None, derandomize=True)

# (2n + 1) / 8 rupees is exact in float32 and lies exactly half way between two ticks of 1, 5 and
# 25 paise: (2n + 1) * 12.5 paise.
ties = st.tuples(st.integers(min_value=0, max_value=2**21), st.sampled_from([1, 5, 25])).map(
    lambda nt: ((2 * nt[0] + 1) / 8, nt[1]))
prices = st.tuples(st.floats(min_value=0.0625, max_value=1e6, width=32), st.sampled_from([1, 5, 10, 25, 500]))


def _exact_half_even(rupees: float, tick: int) -> int:
    return round(Fraction(rupees) * 100 / tick) * tick  # round() of a Fraction: ties to even


def _every_path(rupees: float, tick: int) -> dict[str, int]:
    """The paise each float -> paise path in the engine makes of ``rupees`` at ``tick``."""
    packet = wire.blank_packets(wire.FeedCode.TICKER, 1)
    packet["segment"], packet["security_id"], packet["ltp"], packet["ltt"] = SEG, SID, rupees, 1_700_000_000
    frame = packet.tobytes()
    decoder = FrameDecoder({(SEG, SID): tick})
    record = decoder.decode_frame(frame, ts_init_ns=1)
    batch = decoder.decode_frames_columnar([frame], [1])  # the numba kernel (actors.feed.decode_kernels)
    columnar = decoder.decode_frame_by(frame, 1, "market", columnar=True)  # numpy columns
    candle = {"status": "success", "data": {"timestamp": [1], "open": [rupees], "high": [rupees],
                                            "low": [rupees], "close": [rupees], "volume": [1]}}
    out = {
        "money.price_to_paise": price_to_paise(rupees, tick),
        "money.price_on_tick": price_on_tick(rupees, tick),
        "money.prices_to_paise": prices_to_paise([rupees], tick)[0],
        "money.prices_to_paise_array float32": int(prices_to_paise_array(np.float32([rupees]), tick)[0]),
        "money.prices_to_paise_array float64": int(prices_to_paise_array(np.array([rupees]), np.array([tick]))[0]),
        "money.paise_to_tick_array": int(paise_to_tick_array(np.array([rupees * 100.0]), tick)[0]),
        "feed decoder, record path": record[0].ltp_paise,  # type: ignore[attr-defined]
        "feed decoder, batch kernel": int(batch.ticks["ltp_paise"][0]),
        "feed decoder, columnar path": columnar[0].ltp_paise,  # type: ignore[attr-defined]
        "history candles": parse_candles(candle, "NSE_FNO:55796", tick)[0].close_paise,
        "synthetic market": int(synthetic._on_tick(np.array([rupees * 100.0]), np.array([tick]))[0]),
    }
    if tick == 1:
        out["dhan REST answers"] = to_paise(rupees)
    return out


@FAST
@given(ties)
@example((0.125, 5))  # 2.5 ticks -> 2 ticks (half-up would say 15)
@example((0.375, 1))  # 37.5 paise -> 38
def test_every_float_to_paise_path_rounds_a_tie_to_the_even_tick(tie: tuple[float, int]) -> None:
    rupees, tick = tie
    want = _exact_half_even(rupees, tick)
    assert (want // tick) % 2 == 0
    paths = _every_path(rupees, tick)
    if want < tick:
        paths.pop("synthetic market")  # at least one tick by design
    assert paths == dict.fromkeys(paths, want)


@FAST
@given(prices)
def test_every_float_to_paise_path_agrees_on_any_float32_price(price: tuple[float, int]) -> None:
    rupees, tick = price
    paths = _every_path(rupees, tick)
    want = _exact_half_even(rupees, tick)
    if want < tick:
        paths.pop("synthetic market")  # at least one tick by design
    assert set(paths.values()) == {want}, paths


# Rounding calls outside engine/model/money.py, by enclosing function (names survive file moves): none of
# them turns a float price into paise. A new one fails the test below: call engine.model.money for a
# price, or add the function here with what it rounds.
OTHER_ROUNDINGS = {
    "_check_stale": (1, "book staleness age in seconds, for a log line"),
    "journal_stats_to_pb": (2, "win rate and profit factor as parts per million"),
    "reconnecting": (4, "reconnect delay in seconds, for a log line (Dhan feed, order stream, Kite feed and postbacks)"),
    "stalled": (3, "idle seconds, for a log line (Dhan and Kite feeds, Kite postbacks)"),
    "_live_on_failure": (1, "retry delay in seconds, for a log line"),
    "resolve": (1, "order cooldown seconds -> nanoseconds"),
    "run_backtest": (4, "wall and CPU seconds, ticks per second of a backtest report"),
    "write_chart.set_locs": (1, "how many decimals a chart's axis labels need"),
    "to_units": (1, "is a Decimal quantity whole (to_integral_value), no rounding"),
    "_parse_fields": (1, "is a parsed security id whole (np.floor), no rounding"),
    "_scaled_decimal": (1, "is a scaled Decimal whole (to_integral_value), no rounding"),
    "_spike_pct": (1, "a volume spike, a ratio of two volume rates, as an integer percent (not a price)"),
    "scaled_ints": (1, "option volatility, delta, gamma and rate as integer millionths (not prices; the priced "
                       "chain and the option structures)"),
}
_ROUNDING_ATTRS = {"rint", "round", "around", "floor", "ceil", "trunc", "fix", "quantize", "to_integral_value",
                   "to_integral", "to_integral_exact"}
_DECIMAL_MODES = {"ROUND_HALF_UP", "ROUND_HALF_EVEN", "ROUND_HALF_DOWN", "ROUND_UP", "ROUND_DOWN", "ROUND_CEILING",
                  "ROUND_FLOOR", "ROUND_05UP"}


def _roundings(tree: ast.AST) -> collections.Counter[str]:
    found: collections.Counter[str] = collections.Counter()

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = child.name if where == "<module>" else f"{where}.{child.name}"
            if isinstance(child, ast.Call) and (
                    (isinstance(child.func, ast.Name) and child.func.id == "round")
                    or (isinstance(child.func, ast.Attribute) and child.func.attr in _ROUNDING_ATTRS)):
                found[inner] += 1
            if ((isinstance(child, ast.Name) and child.id in _DECIMAL_MODES)
                    or (isinstance(child, ast.Attribute) and child.attr in _DECIMAL_MODES)):
                found[inner] += 1
            visit(child, inner)

    visit(tree, "<module>")
    return found


@FAST
@given(st.floats(), st.sampled_from([1, 5, 10, 25, 500]))
def test_price_on_tick_is_price_to_paise_for_any_float(rupees: float, tick: int) -> None:
    try:
        want = price_to_paise(rupees, tick)
    except ValueError:  # NaN, infinity: refused by both
        with pytest.raises((ValueError, OverflowError)):
            price_on_tick(rupees, tick)
        return
    assert price_on_tick(rupees, tick) == want


@FAST
@given(st.floats(width=32), st.sampled_from([1, 5, 10, 25, 500]))
def test_the_batch_kernel_rounds_as_price_to_paise_and_flags_what_it_refuses(rupees: float, tick: int) -> None:
    # The kernel compiles money.paise_on_tick itself; a stale numba cache of it would fail here.
    from actors.feed import decode_kernels

    u8 = np.frombuffer(np.float32([rupees]).tobytes(), dtype=np.uint8)
    got = decode_kernels._paise(u8, 0, tick)
    try:
        want = price_to_paise(rupees, tick)
    except ValueError:  # NaN, infinity: the kernel's sanity check drops the packet
        assert not decode_kernels._sane(got)
        return
    if abs(want) > MAX_ABS_PRICE_PAISE:  # absurd magnitudes are dropped as the record path drops them
        assert not decode_kernels._sane(got)
        return
    assert decode_kernels._sane(got) and int(got) == want


def test_no_module_but_money_rounds_a_float_into_paise() -> None:
    found: collections.Counter[str] = collections.Counter()
    where: dict[str, set[str]] = collections.defaultdict(set)
    for path in sorted(p for d in ("actors", "engine", "ipc") for p in (ROOT / d).rglob("*.py")):
        if path.name == "money.py" or path.name.startswith("control_pb2"):
            continue
        for function, n in _roundings(ast.parse(path.read_text(), str(path))).items():
            found[function] += n
            where[function].add(path.relative_to(ROOT).as_posix())
    extra = [f"{function} in {sorted(where[function])} rounds {n}x"
             for function, n in found.items() if n > OTHER_ROUNDINGS.get(function, (0, ""))[0]]
    assert not extra, "rounding outside engine/model/money.py (a price must use its float -> paise rule):\n" + "\n".join(extra)


def test_the_scan_sees_a_second_rule() -> None:
    second_rule = "def to_paise(x, tick):\n    return round(x * 100 / tick) * tick\n"
    decimal_rule = "def to_paise(x):\n    return int(Decimal(x).quantize(Decimal('0.01'), ROUND_HALF_UP) * 100)\n"
    numpy_rule = "def to_paise(x):\n    return np.rint(x * 100).astype(np.int64)\n"
    for source in (second_rule, decimal_rule, numpy_rule):
        assert _roundings(ast.parse(source))["to_paise"] >= 1
