"""The backtest's charts: write_report hands the chart function the equity and drawdown series
over the fills' period, the chart function writes a PNG of the set size, the same bytes each
time, and no module of the project imports matplotlib when it is imported (the daemon's
processes never load it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.backtest import runner
from engine.backtest.charts import (
    HEIGHT_PX,
    WIDTH_PX,
    Chart,
    group_digits,
    period_label,
    rupees_text,
    write_chart,
)
from engine.backtest.runner import BacktestCounts, BacktestResult, BacktestRun, BacktestSpec, write_report
from engine.model.ist import NS_PER_S
from engine.model.journal import build_journal
from ipc.messages import Fill

T0 = 1_795_148_100 * NS_PER_S  # 2026-11-20 09:45 IST
MIN = 60 * NS_PER_S


def _fill(n: int, side: str, price_paise: int, ts_ns: int) -> Fill:
    """10 units of NSE_EQ:2885 with 5 paise of charges."""
    return Fill(f"F{n:06d}", f"BT{n:06d}", f"PV{n:06d}", "bt_ema_cross", 1, 2885, side, 10, price_paise, 5,
                ts_ns, ts_ns)


def _result(tmp_path: Path, fills: list[Fill]) -> BacktestResult:
    capture = tmp_path / "session.cap"
    capture.write_bytes(b"")  # report.json names it and hashes it
    return BacktestResult(spec=BacktestSpec(kind="ema_cross", capture=str(capture)), strategy_name="bt_ema_cross",
                          params={}, market_hours="always",
                          counts=BacktestCounts(frames=0, ticks=0, orders=len(fills), denied=0, rejected=0,
                                                fills=len(fills), ledger_fills=len(fills)),
                          fills=fills, journal=build_journal(fills), run=BacktestRun(0.0, 0.0, 0.0, 0))


def _png_shape(path: Path) -> tuple[int, ...]:
    from matplotlib.image import imread

    return imread(path).shape


def test_write_report_charts_the_equity_and_drawdown_over_the_fills_period(tmp_path, monkeypatch):
    fills = [_fill(1, "BUY", 100_00, T0), _fill(2, "SELL", 101_00, T0 + MIN),       # +10.00 - 0.10
             _fill(3, "BUY", 101_00, T0 + 2 * MIN), _fill(4, "SELL", 99_00, T0 + 3 * MIN),  # -20.00 - 0.10
             _fill(5, "BUY", 99_00, T0 + 4 * MIN)]                                   # still open
    drawn: dict[str, Chart] = {}
    monkeypatch.setattr(runner, "write_chart", lambda path, chart: drawn.__setitem__(Path(path).name, chart))
    write_report(_result(tmp_path, fills), tmp_path / "out")
    equity, drawdown = drawn["equity.png"], drawn["drawdown.png"]
    # 0 from the first fill, each trade's equity from its exit, held until the last fill
    assert list(equity.times_ns) == list(drawdown.times_ns) == [T0, T0 + MIN, T0 + 3 * MIN, T0 + 4 * MIN]
    assert list(equity.values_paise) == [0, 990, -1020, -1020]
    assert list(drawdown.values_paise) == [0, 0, -2010, -2010]  # the fall below the running peak, drawn below 0
    assert equity.title == "ema_cross on RELIANCE: realised equity (net -₹10.20, 2 trades)"
    assert drawdown.title == "ema_cross on RELIANCE: drawdown from the running peak (max ₹20.10)"
    assert "(₹)" in equity.y_label and "(₹)" in drawdown.y_label
    assert drawdown.shade and not equity.shade


def test_a_run_without_fills_draws_empty_charts(tmp_path):
    paths = write_report(_result(tmp_path, []), tmp_path / "out")
    for path in paths[3:]:
        assert _png_shape(path) == (HEIGHT_PX, WIDTH_PX, 4), path.name


def test_write_chart_writes_a_png_of_the_set_size_the_same_bytes_each_time(tmp_path):
    chart = Chart(title="t", y_label="net P&L (₹)", times_ns=[T0, T0 + 90 * MIN, T0 + 6 * 60 * MIN],
                  values_paise=[0, 1_234_567_89, -5_00], colour="tab:blue")
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    write_chart(a, chart)
    write_chart(b, chart)
    assert _png_shape(a) == (HEIGHT_PX, WIDTH_PX, 4)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("times, values", [([T0], [0]), ([T0, T0], [0, -150]), ([], [])])
def test_write_chart_draws_one_instant_and_empty_series(tmp_path, times, values):
    path = tmp_path / "c.png"
    write_chart(path, Chart(title="t", y_label="drawdown (₹)", times_ns=times, values_paise=values,
                            colour="tab:red", shade=True))
    assert _png_shape(path) == (HEIGHT_PX, WIDTH_PX, 4)


def test_a_chart_needs_a_time_for_each_value():
    with pytest.raises(ValueError, match="2 times for 1 values"):
        Chart(title="t", y_label="y", times_ns=[T0, T0], values_paise=[0], colour="k")


def test_money_and_period_text():
    assert [group_digits(t) for t in ("0", "-5", "999", "1234", "-123456.50", "12345678")] == \
        ["0", "-5", "999", "1,234", "-1,23,456.50", "1,23,45,678"]
    assert (rupees_text(-199050), rupees_text(12345678901), rupees_text(0)) == \
        ("-₹1,990.50", "₹12,34,56,789.01", "₹0.00")
    assert period_label(T0, T0 + 4 * NS_PER_S) == "2026-11-20 09:45:00 – 09:45:04 IST"
    assert period_label(T0, T0 + 24 * 60 * MIN) == "2026-11-20 09:45:00 – 2026-11-21 09:45:00 IST"


def test_no_module_of_the_project_imports_matplotlib_when_imported():
    """matplotlib is imported inside write_chart only: every module of actors, engine and ipc
    (the daemon's processes included) imports without it."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import actors, engine, ipc\n"
        "for pkg in (actors, engine, ipc):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if not m.name.endswith('.__main__'):\n"
        "            importlib.import_module(m.name)\n"
        "assert 'engine.backtest.charts' in sys.modules and 'engine.daemon.unit' in sys.modules\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('matplotlib', 'PIL')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(runner.__file__).resolve().parents[2])  # the repository
    assert done.stdout.strip() == "[]"
