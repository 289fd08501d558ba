"""Backtests of the greeks-driven option structures on the bundled synthetic market: NIFTY and its
nearest expiry's options (Black-Scholes prices at 15 % with depth, 8 strikes either side of 26000),
30 s of it from 2026-11-20 09:45 IST. Each structure enters with its new parameters (strikes by
delta, an IV condition, the condor's zone rules), exits on its P&L target or stop, and trades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.backtest.runner import BacktestResult, BacktestSpec, run_backtest, write_synthetic_capture
from engine.config import Config
from engine.model.master import load_instruments
from engine.model.sample_master import BUNDLED_PATH

EXITS = {"target_pnl_paise": 65 * 10, "stop_loss_pnl_paise": 65 * 10}  # Rs 0.10 a unit either way


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bt_structures")
    cap = root / "nifty.cap"
    write_synthetic_capture(cap, 6_000, root / "instruments", stocks=(), underlyings=("NIFTY",), seed=3,
                            rate_per_s=200, option_strikes_each_side=8)
    return cap


def backtest(capture: Path, tmp_path: Path, kind: str, params: dict[str, Any]) -> BacktestResult:
    spec = BacktestSpec(kind=kind, capture=str(capture), instrument="NIFTY", params={**EXITS, **params})
    return run_backtest(spec, Config(), tmp_path / kind)


def strikes_traded(result: BacktestResult, tmp_path: Path) -> set[tuple[str, int]]:
    table = load_instruments(BUNDLED_PATH, cache_dir=tmp_path / "master")
    out = set()
    for f in result.fills:
        inst = table.get(f.segment, f.security_id)
        assert inst is not None
        out.add((inst.option_type, inst.strike_paise))
    return out


@pytest.mark.parametrize(("kind", "params", "types"), [
    ("bull_call_spread", {"long_delta_ppm": 500_000, "short_delta_ppm": 300_000, "atm_iv_max_ppm": 400_000},
     {"CE"}),
    ("bear_put_spread", {"long_delta_ppm": 500_000, "short_delta_ppm": 300_000, "atm_iv_min_ppm": 50_000},
     {"PE"}),
    ("iron_condor", {"short_delta_ppm": 250_000, "wing_steps": 2, "zone_rules": True, "zone_margin_steps": 1},
     {"CE", "PE"}),
])
def test_greeks_driven_structure_trades_in_a_backtest(capture: Path, tmp_path: Path, kind: str,
                                                      params: dict[str, Any], types: set[str]) -> None:
    result = backtest(capture, tmp_path, kind, params)
    assert result.params["long_delta_ppm" if "spread" in kind else "short_delta_ppm"] == \
        params["long_delta_ppm" if "spread" in kind else "short_delta_ppm"]
    legs = 4 if kind == "iron_condor" else 2
    assert result.journal.overall.trades == legs  # a round trip per leg
    traded = strikes_traded(result, tmp_path)
    assert {t for t, _ in traded} == types
    assert len(traded) == legs  # one structure, every leg opened and closed
    assert result.counts.fills == 2 * legs and len(result.journal.open_lots) == 0
    strikes = sorted(k for _, k in traded)
    if kind == "iron_condor":  # wings two steps beyond the short strikes, the spot between the shorts
        assert strikes[1] - strikes[0] == strikes[3] - strikes[2] == 2 * 5_000
    else:  # a 0.50 and a 0.30 delta are 3-5 strikes apart at 15 % a day and a half (of trading) out
        assert 3 * 5_000 <= strikes[1] - strikes[0] <= 5 * 5_000, strikes
