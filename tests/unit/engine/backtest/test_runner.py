"""Backtest: a recorded synthetic session runs through the engine's own actors in one process and
gives a report whose figures agree with its trade list, the same for the same inputs."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import msgspec
import pytest

from actors.base import EXIT_CONFIG
from engine import cli
from engine.backtest.charts import HEIGHT_PX, WIDTH_PX
from engine.backtest.runner import (
    UNLIMITED,
    BacktestSpec,
    backtest_config,
    drawdown_curve,
    report_dict,
    run_backtest,
    write_synthetic_capture,
)
from engine.config import Config
from engine.ledger import LedgerReader, ledger_dir
from engine.model.ist import ist_ns
from engine.model.journal import build_journal
from ipc.messages import Fill
from tests.support.ledger import lmdb_contents

PARAMS = '{"fast": 10, "slow": 30, "timeframe_s": 0, "qty_lots": 1}'


def _paise(rupees: str) -> int:
    sign = -1 if rupees.startswith("-") else 1
    whole, _, frac = rupees.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int(frac))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One capture of the synthetic market (RELIANCE, 4,000 packets), backtested twice."""
    root = tmp_path_factory.mktemp("bt")
    cap = root / "session.cap"
    frames = write_synthetic_capture(cap, 4_000, root / "instruments", seed=11)
    assert frames > 4_000  # the packets plus the opening prev-close frames
    outs = []
    for i in (1, 2):
        out = root / f"out{i}"
        code = cli.main(["backtest", "--strategy", "ema_cross", "--data", str(cap), "--instrument", "RELIANCE",
                         "--params", PARAMS, "--out", str(out)])
        assert code == 0
        outs.append(out)
    return cap, outs


def test_backtest_writes_the_report_files_with_trades(runs):
    _, (out, _) = runs
    for name in ("report.json", "trades.csv", "round_trips.csv", "equity.png", "drawdown.png"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    assert report["backtest"]["strategy"] == "ema_cross" and report["backtest"]["market_hours"] == "exchange"
    assert report["counts"]["ticks"] == 4_000
    assert report["journal"]["trades"] > 0
    assert report["counts"]["orders"] >= 2 * report["journal"]["trades"]
    # what the probe saw on the bus is what execution wrote to the ledger
    assert report["counts"]["fills"] == report["counts"]["ledger_fills"] == len(_rows(out / "trades.csv"))
    assert report["run"]["ticks_per_s"] > 0 and report["run"]["peak_rss_bytes"] > 0


def test_journal_figures_agree_with_the_trade_lists(runs):
    _, (out, _) = runs
    report = json.loads((out / "report.json").read_text())
    j = report["journal"]
    trips = _rows(out / "round_trips.csv")
    assert j["trades"] == len(trips)
    net = [_paise(t["net_pnl_rupees"]) for t in trips]
    assert j["net_pnl_paise"] == sum(net) == report["final_equity_paise"]
    assert j["gross_pnl_paise"] == sum(_paise(t["gross_pnl_rupees"]) for t in trips)
    assert j["charges_paise"] == sum(_paise(t["charges_rupees"]) for t in trips)
    assert j["net_pnl_paise"] == j["gross_pnl_paise"] - j["charges_paise"]
    assert j["wins"] == sum(1 for n in net if n > 0) and j["losses"] == sum(1 for n in net if n < 0)
    equity = [0]
    for n in net:
        equity.append(equity[-1] + n)
    assert j["max_drawdown_paise"] == max(drawdown_curve(equity))
    # The fills of trades.csv rebuild the same journal.
    fills = [Fill(r["fill_id"], r["client_order_id"], r["venue_order_id"], r["strategy"], 1, int(r["security_id"]),
                  r["side"], int(r["qty_units"]), _paise(r["price_rupees"]), _paise(r["charges_rupees"]), 0, 0)
             for r in _rows(out / "trades.csv")]
    rebuilt = msgspec.to_builtins(build_journal(fills).overall)
    assert rebuilt == j


def test_two_runs_of_the_same_inputs_give_identical_reports(runs):
    _, (a, b) = runs
    ra, rb = (json.loads((d / "report.json").read_text()) for d in (a, b))
    ra.pop("run"), rb.pop("run")
    assert ra == rb
    for name in ("trades.csv", "round_trips.csv", "equity.png", "drawdown.png"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_fills_carry_the_simulated_clock_and_the_engines_own_ids(runs):
    _, (out, _) = runs
    rows = _rows(out / "trades.csv")
    # The ledger's ids, not rewritten: its prefix, drawn from the simulated start, is the same in
    # both runs (test_two_runs_of_the_same_inputs_give_identical_reports).
    assert re.fullmatch(r"SK[0-9A-Z]{4}-1", rows[0]["client_order_id"])
    assert rows[0]["fill_id"].startswith(rows[0]["client_order_id"] + "-") and rows[0]["venue_order_id"] == "paper-1"
    assert len({r["client_order_id"] for r in rows}) == len(rows)  # one fill per market order here
    # write_synthetic_capture starts at 2026-11-20 09:45 IST and records 4 s of packets
    assert all(r["time"].startswith("2026-11-20T09:45:0") for r in rows)


def test_charts_are_valid_pngs(runs):
    from matplotlib.image import imread

    _, (out, _) = runs
    for name in ("equity.png", "drawdown.png"):
        assert imread(out / name).shape == (HEIGHT_PX, WIDTH_PX, 4), name  # decodes as an RGBA PNG


def test_bad_params_exit_78_naming_the_key(runs, capsys):
    cap, _ = runs
    code = cli.main(["backtest", "--strategy", "ema_cross", "--data", str(cap), "--params", '{"fastt": 5}'])
    assert code == EXIT_CONFIG
    assert "fastt" in capsys.readouterr().err


@pytest.mark.parametrize("params, said", [('{"fast": 40}', "below slow (30)"), ("[1]", "JSON object"),
                                          ("{fast", "not valid JSON")])
def test_unusable_params_exit_78_with_the_reason(runs, capsys, params, said):
    cap, _ = runs
    code = cli.main(["backtest", "--strategy", "ema_cross", "--data", str(cap), "--params", params])
    assert code == EXIT_CONFIG
    assert said in capsys.readouterr().err


def test_unknown_strategy_and_missing_capture_exit_78(tmp_path, capsys):
    assert cli.main(["backtest", "--strategy", "nope", "--data", str(tmp_path / "x.cap")]) == EXIT_CONFIG
    assert "unknown strategy kind 'nope'" in capsys.readouterr().err
    assert cli.main(["backtest", "--strategy", "ema_cross", "--data", str(tmp_path / "x.cap")]) == EXIT_CONFIG
    assert "x.cap" in capsys.readouterr().err


def test_backtest_config_keeps_the_time_rules_unless_told_not_to():
    spec = BacktestSpec(kind="ema_cross", capture="/x.cap", params={"timeframe_s": 0})
    cfg = backtest_config(Config(), spec)
    assert cfg.risk.market_hours == "exchange" and cfg.execution.venue == "paper"
    assert cfg.risk.limits == Config().risk.limits
    assert (cfg.feed.source, cfg.feed.replay.pace, cfg.feed.replay.loop) == ("replay", "fast", False)
    assert [i.kind for i in cfg.strategy.instances] == ["ema_cross"]
    off = backtest_config(Config(), msgspec.structs.replace(spec, time_rules=False))
    assert off.risk.market_hours == "always" and off.risk.limits.max_orders_per_second == UNLIMITED


def test_the_time_rules_apply_on_the_captures_clock_square_off_at_1525(tmp_path):
    """15:00-15:26 IST of the synthetic market: ema_cross on minute bars buys at 15:11 and holds.
    With the time rules risk squares the position off at 15:25 of the capture's time; without
    them it is still open at the end."""
    cap = tmp_path / "late.cap"
    write_synthetic_capture(cap, 16_000, tmp_path / "instruments", seed=7, rate_per_s=10,
                            start_ns=ist_ns(dt.date(2026, 11, 20), dt.time(15, 0)))
    spec = BacktestSpec(kind="ema_cross", capture=str(cap), params={"fast": 3, "slow": 6, "timeframe_s": 60})
    on = run_backtest(spec, Config(), tmp_path / "on")
    (entry, exit_) = list(on.fills)
    assert (entry.side, exit_.side) == ("BUY", "SELL") and len(on.journal.open_lots) == 0
    square_off = ist_ns(dt.date(2026, 11, 20), dt.time(15, 25))
    assert square_off <= exit_.ts_event_ns < square_off + 1_000_000_000  # risk's clock, in capture time
    with LedgerReader.open(ledger_dir(tmp_path / "on")) as reader, reader.snapshot() as snap:
        assert ("risk_square_off", "SQUARE_OFF_TIME") in {(row.action, row.args.get("reason_code"))
                                                         for _, row in snap.audit()}
    off = run_backtest(msgspec.structs.replace(spec, time_rules=False), Config(), tmp_path / "off")
    assert [f.side for f in off.fills] == ["BUY"] and len(off.journal.open_lots) == 1


def test_drawdown_is_the_fall_from_the_running_peak():
    assert drawdown_curve([0, 50, 20, 80, 10, 30]) == [0, 0, 30, 0, 70, 50]
    assert drawdown_curve([0, -10, -5]) == [0, 10, 5]


# --- the bulk replay changes nothing ---------------------------------------------------------------

def _limits(cfg: Config, **order_limits: object) -> Config:
    rep = msgspec.structs.replace
    limits = rep(cfg.risk.limits, daily_max_loss_paise=10**12, default=rep(cfg.risk.limits.default, **order_limits))
    return rep(cfg, risk=rep(cfg.risk, limits=limits))


def _daily_loss(cfg: Config, paise: int) -> Config:
    rep = msgspec.structs.replace
    # The order-rate and trades-per-day caps would stop the strategy first: lifted, so that the
    # losses reach the limit.
    return rep(cfg, risk=rep(cfg.risk, limits=rep(cfg.risk.limits, daily_max_loss_paise=paise,
                                                   max_orders_per_second=UNLIMITED, max_trades_per_day=UNLIMITED)))


BULK_CASES = {
    # kind, instrument, params, config, capture, audit action the run must contain
    "last_prices_several_instruments": ("ema_cross", "RELIANCE", {"fast": 10, "slow": 30, "timeframe_s": 0},
                                        Config(), "mixed", ""),
    "bars": ("ema_cross", "TCS", {"fast": 2, "slow": 4, "timeframe_s": 1}, Config(), "mixed", ""),
    "risk_exits": ("ema_cross", "RELIANCE", {"fast": 10, "slow": 30, "timeframe_s": 0},
                   _limits(Config(), trailing_stop_paise=10, max_loss_per_trade_paise=500, target_per_trade_paise=300),
                   "mixed", "risk_exit"),
    "plain_strategy": ("rsi_reversal", "RELIANCE", {"timeframe_s": 0}, Config(), "mixed", ""),
    "signal_strategy_on_bars": ("rsi_reversal", "RELIANCE", {"timeframe_s": 1, "period": 3}, Config(), "mixed", ""),
    "mid_prices_until_the_daily_loss_halts": ("ema_cross", "RELIANCE", {"timeframe_s": 0, "price": "mid"},
                                              _daily_loss(Config(), 500_00), "full", "risk_kill_and_flatten"),
}


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    root = tmp_path_factory.mktemp("bulk")
    write_synthetic_capture(root / "mixed.cap", 6_000, root / "instruments", stocks=("RELIANCE", "TCS"),
                            underlyings=("NIFTY",), seed=11, rate_per_s=100)
    write_synthetic_capture(root / "full.cap", 6_000, root / "instruments", seed=7, full_packets_only=True)
    return root


def _normalised(result) -> dict:  # type: ignore[no-untyped-def]
    report = report_dict(result)
    report.pop("run")
    report["fills"] = [msgspec.to_builtins(f) for f in result.fills]
    return report


@pytest.mark.parametrize("case", sorted(BULK_CASES))
def test_the_bulk_replay_gives_the_report_of_one_message_at_a_time(captures, tmp_path, case):
    kind, instrument, params, cfg, capture, audited = BULK_CASES[case]
    spec = BacktestSpec(kind=kind, capture=str(captures / f"{capture}.cap"), instrument=instrument, params=params)
    reference = run_backtest(spec, cfg, tmp_path / "reference", bulk=False)
    bulk = run_backtest(spec, cfg, tmp_path / "bulk", bulk=True)
    assert reference.run.rows_in_bulk == 0 and bulk.run.rows_in_bulk > 0
    assert reference.counts.orders > 0
    assert _normalised(bulk) == _normalised(reference)
    with LedgerReader.open(ledger_dir(tmp_path / "bulk")) as reader, reader.snapshot() as snap:
        assert len(snap.fills()) == bulk.counts.ledger_fills == bulk.counts.fills  # what the bus saw is written
        if audited:  # the case reaches what it is meant to exercise
            assert audited in {row.action for _, row in snap.audit()}


@pytest.mark.parametrize("case", ["risk_exits", "mid_prices_until_the_daily_loss_halts", "bars"])
def test_block_commits_store_the_ledger_of_a_commit_per_append(captures, tmp_path, case):
    """A backtest commits its ledger once per block of frames; the events and every table (orders,
    fills, positions, cash, ids, indexes) are byte for byte those of a commit per append, and so
    is the report."""
    kind, instrument, params, cfg, capture, _audited = BULK_CASES[case]
    spec = BacktestSpec(kind=kind, capture=str(captures / f"{capture}.cap"), instrument=instrument, params=params)
    per_append = run_backtest(spec, cfg, tmp_path / "per_append", block_commits=False)
    blocks = run_backtest(spec, cfg, tmp_path / "blocks", block_commits=True)
    assert per_append.counts.fills > 0
    assert _normalised(blocks) == _normalised(per_append)
    assert lmdb_contents(ledger_dir(tmp_path / "blocks")) == lmdb_contents(ledger_dir(tmp_path / "per_append"))
