"""The scanner (engine/model/scanner.py): each kind of screen over a hand-made market picks exactly
the instruments made to move, in order; broken screen definitions are config errors naming them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from engine.config import ConfigError, parse_config
from engine.model.ist import NS_PER_S, ist_ns
from engine.model.open_interest import BUILDUPS, MarketHistory, Sample
from engine.model.scanner import ScannerConfig, ScreenConfig, Universe, check_scanner_config, run_screen
from ipc.segments import Segment, instrument_key

DAY = dt.date(2026, 12, 7)
OPEN = ist_ns(DAY, dt.time(9, 15))
MINUTE_NS = 60 * NS_PER_S
EQ, FNO = int(Segment.NSE_EQ), int(Segment.NSE_FNO)

# name: (segment, id, type, prev close, open, high, low, ltp, volume, oi, prev oi)
BOOK = {
    "FLAT": (EQ, 1, "EQUITY", 10_000, 10_000, 10_200, 9_800, 10_000, 1_000, 0, 0),
    "UP3": (EQ, 2, "EQUITY", 10_000, 10_000, 10_400, 9_950, 10_300, 1_000, 0, 0),     # +3 %, 1 % off the high
    "UP1": (EQ, 3, "EQUITY", 20_000, 20_000, 20_200, 19_900, 20_200, 1_000, 0, 0),    # +1 %, at the high
    "DOWN2": (EQ, 4, "EQUITY", 10_000, 9_800, 10_000, 9_790, 9_800, 1_000, 0, 0),     # -2 %, gap down 2 %, near low
    "GAPUP": (EQ, 5, "EQUITY", 10_000, 10_150, 10_200, 9_950, 9_990, 1_000, 0, 0),    # gap up 1.5 %, now -0.1 %
    "OPT_LB": (FNO, 10, "OPTIDX", 5_000, 5_000, 5_600, 4_900, 5_500, 9_000, 13_000, 10_000),  # long buildup
    "OPT_SB": (FNO, 11, "OPTIDX", 5_000, 5_000, 5_100, 4_000, 4_500, 9_000, 12_000, 10_000),  # short buildup
    "OPT_LU": (FNO, 12, "OPTIDX", 5_000, 5_000, 5_100, 4_000, 4_500, 9_000, 9_000, 10_000),   # long unwinding
    "OPT_SC": (FNO, 13, "OPTIDX", 5_000, 5_000, 5_600, 4_900, 5_200, 9_000, 8_000, 10_000),   # short covering
}
NAMES = sorted(BOOK, key=lambda n: instrument_key(BOOK[n][0], BOOK[n][1]))


def universe(now_ns: int, volume: dict[str, int] | None = None) -> Universe:
    rows = [BOOK[n] for n in NAMES]

    def col(i: int) -> np.ndarray:
        return np.array([r[i] for r in rows], dtype=np.int64)

    vol = np.array([(volume or {}).get(n, BOOK[n][8]) for n in NAMES], dtype=np.int64)
    return Universe(now_ns, np.array([instrument_key(r[0], r[1]) for r in rows], dtype=np.int64), col(7), col(3),
                    col(4), col(5), col(6), vol, col(9), col(10), np.array([r[2] for r in rows], dtype=object),
                    np.array(["NIFTY" if r[0] == FNO else "" for r in rows], dtype=object))


def picked(screen: ScreenConfig, u: Universe, history: MarketHistory | None = None) -> list[str]:
    got = run_screen(screen, u, history or MarketHistory(3600 * NS_PER_S))
    return [NAMES[i] for i in got.rows.tolist()]


def test_gainers_and_losers_against_the_previous_close_biggest_first() -> None:
    u = universe(OPEN + 60 * MINUTE_NS)
    eq = ["NSE_EQ"]
    assert picked(ScreenConfig(name="g", kind="gainers", segments=eq), u) == ["UP3", "UP1"]
    assert picked(ScreenConfig(name="g", kind="gainers", segments=eq, min_change_bp=150), u) == ["UP3"]
    assert picked(ScreenConfig(name="g", kind="gainers", segments=eq, top=1), u) == ["UP3"]
    assert picked(ScreenConfig(name="l", kind="losers", segments=eq), u) == ["DOWN2", "GAPUP"]
    got = run_screen(ScreenConfig(name="l", kind="losers", segments=eq), u, MarketHistory(NS_PER_S))
    assert got.measure.tolist() == [-200, -10] and got.universe_size == 5


def test_gaps_at_the_open_and_nearness_to_the_day_s_high_or_low() -> None:
    u = universe(OPEN + 60 * MINUTE_NS)
    eq = ["EQUITY"]
    assert picked(ScreenConfig(name="u", kind="gap_up", instrument_types=eq, min_gap_bp=100), u) == ["GAPUP"]
    assert picked(ScreenConfig(name="d", kind="gap_down", instrument_types=eq, min_gap_bp=100), u) == ["DOWN2"]
    # UP1 is at its high (0 bp), UP3 is 97 bp below (10_300 of 10_400).
    assert picked(ScreenConfig(name="h", kind="near_high", instrument_types=eq, within_bp=100), u) == ["UP1", "UP3"]
    assert picked(ScreenConfig(name="h", kind="near_high", instrument_types=eq, within_bp=50), u) == ["UP1"]
    assert picked(ScreenConfig(name="n", kind="near_low", instrument_types=eq, within_bp=20), u) == ["DOWN2"]


def test_oi_buildup_since_the_open_names_each_class() -> None:
    u = universe(OPEN + 60 * MINUTE_NS)
    screen = ScreenConfig(name="b", kind="oi_buildup", underlyings=["NIFTY"])
    got = run_screen(screen, u, MarketHistory(NS_PER_S))
    names = [NAMES[i] for i in got.rows.tolist()]
    # Biggest OI change first: +30 %, +20 %, -20 %, -10 % (ties by key).
    assert names == ["OPT_LB", "OPT_SB", "OPT_SC", "OPT_LU"]
    assert [BUILDUPS[b] for b in got.buildup.tolist()] == ["LONG_BUILDUP", "SHORT_BUILDUP", "SHORT_COVERING",
                                                           "LONG_UNWINDING"]
    assert got.measure.tolist() == [3_000, 2_000, -2_000, -1_000]
    only = ScreenConfig(name="b", kind="oi_buildup", buildups=["SHORT_BUILDUP", "LONG_UNWINDING"])
    assert picked(only, u) == ["OPT_SB", "OPT_LU"]
    assert picked(ScreenConfig(name="b", kind="oi_buildup", min_oi_change_bp=2_000), u) == ["OPT_LB", "OPT_SB",
                                                                                             "OPT_SC"]


def test_volume_spike_against_the_day_s_average_rate_before_the_window() -> None:
    # Every instrument trades 100 units a minute for 45 minutes; then UP1 trades 400 a minute and
    # FLAT 150 a minute for 15 minutes.
    history = MarketHistory(3600 * NS_PER_S)
    rates = {n: 100 for n in NAMES}
    volume = {n: 0 for n in NAMES}
    for minute in range(61):
        if minute > 45:  # the minutes ending at 46..60
            rates["UP1"], rates["FLAT"] = 400, 150
        if minute:
            volume = {n: volume[n] + rates[n] for n in NAMES}
        u = universe(OPEN + minute * MINUTE_NS, volume)
        history.add(Sample(u.ts_ns, u.keys, u.ltp_paise, u.volume_units, u.oi_units))
    screen = ScreenConfig(name="v", kind="volume_spike", window_s=900, min_spike_pct=120)
    got = run_screen(screen, u, history)
    assert [NAMES[i] for i in got.rows.tolist()] == ["UP1", "FLAT"]
    assert got.measure.tolist() == [400, 150]  # 4x and 1.5x the rate of the 45 minutes before
    # Too early in the day for a window before the last one: nothing, not a division by zero.
    young = MarketHistory(3600 * NS_PER_S)
    u0 = universe(OPEN, volume)
    young.add(Sample(u0.ts_ns, u0.keys, u0.ltp_paise, u0.volume_units, u0.oi_units))
    assert picked(screen, universe(OPEN + 10 * MINUTE_NS, volume), young) == []


@pytest.mark.parametrize(("screen_toml", "message"), [
    ('name = "x"\nkind = "rockets"', "scanner.screens[0].kind"),
    ('name = "spikes"\nkind = "volume_spike"', "screens[0] ('spikes'): window_s must be > 0"),
    ('name = "hi"\nkind = "near_high"', "screens[0] ('hi'): within_bp must be > 0"),
    ('name = "g"\nkind = "gainers"\nwithin_bp = 5', "screens[0] ('g'): within_bp applies to near_high and near_low"),
    ('name = "Bad Name"\nkind = "gainers"', "screens[0] ('Bad Name'): name must be"),
    ('name = "g"\nkind = "gainers"\nsegments = ["NSE_XX"]', "segments: 'NSE_XX' is not a segment"),
    ('name = "b"\nkind = "oi_buildup"\nbuildups = ["NONE"]', "NONE is not a buildup"),
    ('name = "b"\nkind = "oi_buildup"\nwindow_s = 7200', "longer than the market history kept (3600 s"),
    ('name = "g"\nkind = "gainers"\ntop = 0', "top 0 must be >= 1"),
    ('name = "g"\nkind = "gainers"\ncolour = "red"', "colour"),
])
def test_a_broken_screen_is_a_config_error_naming_it(screen_toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(f"[[scanner.screens]]\n{screen_toml}\n", "shikra.toml")
    assert message in str(exc.value)
    assert "shikra.toml" in str(exc.value)


def test_screen_names_are_unique_and_the_defaults_are_valid() -> None:
    two = ScannerConfig(screens=[ScreenConfig(name="g", kind="gainers"), ScreenConfig(name="g", kind="losers")])
    assert check_scanner_config(two, 3600) == "screens[1] ('g'): the name is used by an earlier screen"
    assert check_scanner_config(ScannerConfig(), 3600) is None
    assert parse_config("[scanner]\ninterval_s = 1.0\n").scanner.screens == ScannerConfig().screens
