"""CSV export: trades and ledger entries, rupees formatted exactly from paise."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from engine.ledger import (
    TRADING_ACCOUNT,
    AuditRecord,
    CashMovement,
    Ledger,
    LedgerConfig,
    LedgerReader,
    PositionConverted,
    export_entries,
    export_trades,
    format_rupees,
    iso_time,
    write_entries_csv,
)
from ipc.messages import Fill, OrderEvent, OrderSpec, OrderState

T0 = 1_714_621_500_000_000_000  # 2024-05-02 03:45:00 UTC = 09:15:00 IST


@pytest.mark.parametrize(("paise", "text"), [(165050, "1650.50"), (5, "0.05"), (-5, "-0.05"), (0, "0.00"),
                                             (-123456789, "-1234567.89"), (10**20 + 1, "1000000000000000000.01")])
def test_rupees_are_formatted_exactly_from_paise(paise: int, text: str) -> None:
    assert format_rupees(paise) == text


def test_times_are_iso_with_nanoseconds_and_the_ist_offset() -> None:
    assert iso_time(T0 + 123_456_789) == "2024-05-02T09:15:00.123456789+05:30"


def small_flow(path: Path) -> str:
    with Ledger.open(path, LedgerConfig(initial_map_size_bytes=1 << 20)) as ledger:
        ledger.append([CashMovement(kind="DEPOSIT", amount_paise=5_000_000, account=TRADING_ACCOUNT,
                                    note="opening, balance", ts_ns=T0)])
        spec = OrderSpec(segment=1, security_id=1333, side="BUY", order_type="LIMIT", product="CNC", qty_units=3,
                         price_paise=165050)
        new = ledger.record_new_order(OrderEvent(
            client_order_id=ledger.next_client_order_id(), intent_id="ema-1", strategy="ema", spec=spec,
            state=OrderState.SUBMITTED, filled_qty_units=0, filled_value_paise=0,
            venue_order_id="", reason_code="", reason="", ts_event_ns=T0 + 1, ts_init_ns=T0 + 1))
        coid = new.client_order_id
        ledger.append([
            Fill(fill_id="T1", client_order_id=coid, venue_order_id="112", strategy="ema", segment=1,
                 security_id=1333, side="BUY", qty_units=2, price_paise=165050, charges_paise=37,
                 ts_event_ns=T0 + 2_000_000_000, ts_init_ns=T0),
            Fill(fill_id="T2", client_order_id=coid, venue_order_id="112", strategy="ema", segment=1,
                 security_id=1333, side="SELL", qty_units=1, price_paise=165105, charges_paise=19,
                 ts_event_ns=T0 + 3_000_000_000, ts_init_ns=T0),
            AuditRecord(who="alice", action="cancel", args={"client_order_id": coid}, result="ok", ts_ns=T0 + 4),
        ])
    return coid


def test_trades_csv_has_one_exact_row_per_fill(tmp_path: Path) -> None:
    coid = small_flow(tmp_path / "ledger")
    with LedgerReader.open(tmp_path / "ledger") as reader:
        assert export_trades(reader, tmp_path / "trades.csv") == 2
    rows = list(csv.reader((tmp_path / "trades.csv").open(newline="")))
    assert rows == [
        ["seq", "time", "fill_id", "client_order_id", "venue_order_id", "strategy", "segment", "security_id",
         "side", "qty_units", "price_rupees", "value_rupees", "charges_rupees", "cash_rupees"],
        ["4", "2024-05-02T09:15:02.000000000+05:30", "T1", coid, "112", "ema", "NSE_EQ", "1333", "BUY", "2",
         "1650.50", "3301.00", "0.37", "-3301.37"],
        ["5", "2024-05-02T09:15:03.000000000+05:30", "T2", coid, "112", "ema", "NSE_EQ", "1333", "SELL", "1",
         "1651.05", "1651.05", "0.19", "1650.86"],
    ]


def test_entries_csv_lists_every_event_with_its_key_fields(tmp_path: Path) -> None:
    coid = small_flow(tmp_path / "ledger")
    with LedgerReader.open(tmp_path / "ledger") as reader:
        out = io.StringIO()
        assert write_entries_csv(reader.events(), out) == 6
        assert export_entries(reader, tmp_path / "entries.csv") == 6
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["seq"], r["type"], r["ref"]) for r in rows] == [
        ("1", "ledger.cash@1", TRADING_ACCOUNT), ("2", "ledger.intent@1", "ema-1"), ("3", "order@2", coid),
        ("4", "fill@1", "T1"), ("5", "fill@1", "T2"), ("6", "ledger.audit@1", "alice"),
    ]
    assert rows[0]["amount_rupees"] == "50000.00" and rows[0]["detail"] == "opening, balance"
    assert rows[0]["time"] == "2024-05-02T09:15:00.000000000+05:30"
    assert (rows[2]["state"], rows[2]["price_rupees"], rows[2]["instrument"]) == ("SUBMITTED", "1650.50", "NSE_EQ:1333")
    assert rows[3]["amount_rupees"] == "-3301.37"
    assert rows[5]["detail"] == f'{{"client_order_id":"{coid}"}} -> ok'
    assert (tmp_path / "entries.csv").read_text() == out.getvalue()


def test_entries_csv_shows_a_conversion_with_who_asked(tmp_path: Path) -> None:
    small_flow(tmp_path / "ledger")
    with Ledger.open(tmp_path / "ledger", LedgerConfig(initial_map_size_bytes=1 << 20)) as ledger:
        assert ledger.append([PositionConverted(strategy="ema", segment=1, security_id=1333, from_product="INTRADAY",
                                                to_product="CNC", qty_units=1, by="control:alice", venue_ref="dhan",
                                                ts_ns=T0 + 5)]) != [0]
    with LedgerReader.open(tmp_path / "ledger") as reader:
        out = io.StringIO()
        write_entries_csv(reader.events(), out)
    row = list(csv.DictReader(io.StringIO(out.getvalue())))[-1]
    assert (row["type"], row["ref"], row["instrument"], row["state"]) == (
        "ledger.position_converted@1", "control:alice", "NSE_EQ:1333", "INTRADAY->CNC")
    assert row["detail"] == "converted by control:alice at dhan"
