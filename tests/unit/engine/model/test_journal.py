"""engine/model/journal.py: FIFO round-trip trades and their figures on scripted fills with
hand-computed answers; exactness against the ledger's own accounting; the local CLI commands."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model.ist import ist_ns
from engine import cli
from engine.model.journal import build_journal, match_trades, stats
from engine.ledger import CashMovement, Ledger, LedgerConfig, apply_fill, ledger_dir
from ipc.messages import Fill

DAY1 = dt.date(2026, 11, 19)
DAY2 = dt.date(2026, 11, 20)
EQ, FNO = 1, 2


def fill(n: int, strategy: str, side: str, qty: int, price: int, charges: int, coid: str, day: dt.date,
         segment: int = EQ, security_id: int = 2885) -> Fill:
    ts = ist_ns(day, dt.time(10, 0)) + n * 1_000_000_000
    return Fill(f"F{n}", coid, f"V{coid}", strategy, segment, security_id, side, qty, price, charges, ts, ts)  # type: ignore[arg-type]


SCRIPT = [
    fill(1, "a", "BUY", 10, 100_00, 20, "O1", DAY1),
    fill(2, "a", "BUY", 5, 101_00, 10, "O1", DAY1),   # the same order's next level: one lot of 15
    fill(3, "a", "SELL", 20, 102_00, 40, "O2", DAY1),  # closes 15 (trade 1), opens a short of 5
    fill(4, "a", "BUY", 5, 103_00, 7, "O3", DAY1),    # closes the short (trade 2)
    fill(5, "a", "BUY", 10, 100_00, 5, "O4", DAY2),
    fill(6, "a", "SELL", 4, 99_00, 3, "O5", DAY2),
    fill(7, "a", "SELL", 6, 104_00, 4, "O6", DAY2),    # trade 3 closes over two exits
    fill(8, "b", "SELL", 3, 50_00, 1, "P1", DAY2, FNO, 55796),
    fill(9, "b", "BUY", 3, 50_00, 1, "P2", DAY2, FNO, 55796),  # trade 4: flat price, charges only
    fill(10, "b", "BUY", 2, 10_00, 0, "P3", DAY2, FNO, 55796),  # stays open
]


def test_fifo_trades_on_a_scripted_day_match_the_hand_computation():
    trades, open_lots, bad = match_trades(SCRIPT)
    got = [(t.strategy, t.direction, t.qty_units, t.entry_value_paise, t.exit_value_paise, t.charges_paise,
            t.gross_pnl_paise, t.net_pnl_paise, t.entry_client_order_id) for t in trades]
    assert got == [
        # 10 x 100 + 5 x 101 = 1505.00 in; 15 x 102 = 1530.00 out; charges 30 + 40 x 15/20 = 30
        ("a", "LONG", 15, 150_500, 153_000, 60, 2_500, 2_440, "O1"),
        # short 5 at 102 (its entry charges: 40 - 30 = 10), bought back at 103 (+7)
        ("a", "SHORT", 5, 51_000, 51_500, 17, -500, -517, "O2"),
        ("a", "LONG", 10, 100_000, 102_000, 12, 2_000, 1_988, "O4"),
        ("b", "SHORT", 3, 15_000, 15_000, 2, 0, -2, "P1"),
    ]
    assert bad == 0
    (lot,) = open_lots
    assert (lot.strategy, lot.direction, lot.open_qty_units, lot.entry_value_paise) == ("b", "LONG", 2, 2_000)


def test_figures_overall_per_strategy_and_per_day():
    journal = build_journal(SCRIPT)
    s = journal.overall
    assert (s.trades, s.wins, s.losses, s.breakeven) == (4, 2, 2, 0)
    assert s.win_rate == 0.5
    assert (s.gross_pnl_paise, s.charges_paise, s.net_pnl_paise) == (4_000, 91, 3_909)
    assert (s.profit_paise, s.loss_paise) == (4_428, -519)
    assert s.avg_win_paise == 2_214
    assert s.avg_loss_paise == -260  # -259.5 rounds half-even
    assert s.profit_factor == pytest.approx(4_428 / 519)
    assert s.expectancy_paise == 977  # 3909 / 4 = 977.25
    # equity 2440, 1923, 3911, 3909: the worst fall from a peak is 517
    assert s.max_drawdown_paise == 517
    assert (s.largest_win_paise, s.largest_loss_paise) == (2_440, -517)

    a = journal.by_strategy["a"]
    assert (a.trades, a.wins, a.losses, a.net_pnl_paise, a.max_drawdown_paise) == (3, 2, 1, 3_911, 517)
    assert journal.by_strategy["b"].profit_factor == 0.0  # no win, one loss of 2 paise: 0 / 2
    assert set(journal.by_instrument) == {"a NSE_EQ:2885", "b NSE_FNO:55796"}
    assert set(journal.by_day) == {"2026-11-19", "2026-11-20"}
    assert journal.by_day["2026-11-19"].net_pnl_paise == 2_440 - 517
    assert journal.by_day["2026-11-20"].trades == 2
    assert journal.by_strategy_day["a"]["2026-11-20"].net_pnl_paise == 1_988
    assert journal.fills == 10


def test_profit_factor_is_profit_over_losses_and_undefined_without_losses():
    trades, _, _ = match_trades(SCRIPT)
    wins = [t for t in trades if t.net_pnl_paise > 0]
    assert stats(wins).profit_factor is None and stats(wins).losses == 0
    assert stats(trades[:2]).profit_factor == pytest.approx(2_440 / 517)
    assert stats([]).win_rate == 0.0 and stats([]).expectancy_paise == 0


def test_bad_fills_are_counted_and_skipped():
    bad = fill(11, "a", "BUY", 0, 100_00, 0, "X", DAY1)
    journal = build_journal([bad, *SCRIPT])
    assert journal.bad_fills == 1 and journal.overall.trades == 4


def test_trades_add_up_to_the_ledgers_realised_pnl_when_flat():
    positions: dict[tuple, object] = {}
    for f in SCRIPT:
        key = (f.strategy, f.segment, f.security_id)
        positions[key] = apply_fill(positions.get(key), f)  # type: ignore[arg-type]
    flat_a = positions[("a", EQ, 2885)]
    assert flat_a.net_qty_units == 0  # type: ignore[attr-defined]
    assert build_journal(SCRIPT).by_strategy["a"].gross_pnl_paise == flat_a.realised_pnl_paise  # type: ignore[attr-defined]


@settings(max_examples=200, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), st.integers(1, 30), st.integers(1, 500),
                          st.integers(0, 90), st.integers(0, 2)), min_size=1, max_size=40))
def test_fifo_is_exact_charges_and_open_quantity_and_realised_pnl_when_flat(rows):
    fills = [fill(n, "s", side, qty, price * 5, charges, f"O{n // (order_len + 1)}", DAY1)
             for n, (side, qty, price, charges, order_len) in enumerate(rows)]
    trades, open_lots, _ = match_trades(fills)
    assert sum(t.charges_paise for t in trades) + sum(lot.charges_paise for lot in open_lots) == \
        sum(f.charges_paise for f in fills)
    position = None
    for f in fills:
        position = apply_fill(position, f)
    assert position is not None
    signed_open = sum(lot.open_qty_units * (1 if lot.direction == "LONG" else -1) for lot in open_lots)
    assert signed_open == position.net_qty_units
    if position.net_qty_units == 0:
        assert sum(t.gross_pnl_paise for t in trades) == position.realised_pnl_paise


# --------------------------------------------------------------------------------------------
# shikra journal / shikra export
# --------------------------------------------------------------------------------------------


def run(argv: list[str]) -> int:
    """The real ``shikra`` parser (journal and export live in engine.cli.journal)."""
    args = cli.build_parser().parse_args(argv)
    return args.fn(args)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))  # no user config
    monkeypatch.delenv("SHIKRA_CONFIG", raising=False)
    data = tmp_path / "data"
    with Ledger.open(ledger_dir(data), LedgerConfig(durability="os")) as ledger:
        ledger.append([CashMovement(kind="DEPOSIT", amount_paise=10**9, account="main", note="", ts_ns=1)])
        assert 0 not in ledger.append(SCRIPT)
    return data


def test_journal_command_prints_the_figures_as_json(data_dir, capsys):
    assert run(["journal", "--local", "--json", "--data-dir", str(data_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["overall"]["trades"] == 4 and out["overall"]["net_pnl_paise"] == 3_909
    assert out["by_strategy"]["a"]["max_drawdown_paise"] == 517
    assert len(out["trades"]) == 4 and len(out["open_lots"]) == 1


def test_journal_command_text_shows_rupees(data_dir, capsys):
    assert run(["journal", "--local", "--trades", "--data-dir", str(data_dir)]) == 0
    text = capsys.readouterr().out
    assert "All trades" in text and "39.09" in text and "By day (IST)" in text and "2026-11-19" in text
    assert "1 lots still open" in text


def test_journal_without_a_ledger_says_so(tmp_path, capsys):
    assert run(["journal", "--local", "--data-dir", str(tmp_path / "none")]) == 1
    assert "no ledger" in capsys.readouterr().err


def test_export_writes_trades_and_entries_csv(data_dir, tmp_path, capsys):
    out = tmp_path / "trades.csv"
    assert run(["export", "trades", "--out", str(out), "--data-dir", str(data_dir)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 10 and rows[0]["fill_id"] == "F1" and rows[0]["price_rupees"] == "100.00"
    entries = tmp_path / "entries.csv"
    assert run(["export", "entries", "--out", str(entries), "--data-dir", str(data_dir)]) == 0
    assert len(list(csv.DictReader(entries.open()))) == 11  # the deposit and ten fills
    assert "wrote 11 entries rows" in capsys.readouterr().out
