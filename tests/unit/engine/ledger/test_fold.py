"""The pure fold: positions (average cost, flips, rounding), wallets, idempotency, refusals."""

from __future__ import annotations

import copy

import pytest

from engine.ledger import (
    TRADING_ACCOUNT,
    AuditRecord,
    CashMovement,
    FoldIssueCode,
    IntentRecorded,
    PositionConverted,
    PositionSettled,
    StrategyStateSaved,
    Tables,
    TradingStateChanged,
    apply_fill,
    fold,
    fold_events,
)
from ipc.messages import Fill, OrderEvent, OrderSpec, OrderState

SEG, SID = 1, 1333


def fill(fill_id: str, side: str, qty: int, price_paise: int, charges_paise: int = 0, *,
         strategy: str = "s1", security_id: int = SID, coid: str = "SK-1", product: str = "INTRADAY") -> Fill:
    return Fill(fill_id=fill_id, client_order_id=coid, venue_order_id="V1", strategy=strategy,
                segment=SEG, security_id=security_id, side=side, qty_units=qty, price_paise=price_paise,
                charges_paise=charges_paise, ts_event_ns=1_700_000_000_000_000_000, ts_init_ns=1,
                product=product)  # type: ignore[arg-type]


def order(coid: str, state: OrderState = OrderState.SUBMITTED, **changes: object) -> OrderEvent:
    spec = OrderSpec(segment=SEG, security_id=SID, side="BUY", order_type="LIMIT", qty_units=10, price_paise=10000)
    base = dict(client_order_id=coid, intent_id=f"i-{coid}", strategy="s1", spec=spec, state=state, filled_qty_units=0,
                filled_value_paise=0, venue_order_id="", reason_code="", reason="", ts_event_ns=1,
                ts_init_ns=1)
    base.update(changes)
    return OrderEvent(**base)  # type: ignore[arg-type]


def deposit(amount_paise: int, account: str = TRADING_ACCOUNT) -> CashMovement:
    return CashMovement(kind="DEPOSIT", amount_paise=amount_paise, account=account, note="", ts_ns=1)


def run(events: list) -> tuple[Tables, list]:
    return fold_events(list(enumerate(events, start=1)))


def test_scripted_flow_buy_partials_sell_flip_cover_gives_exact_figures() -> None:
    tables, issues = run([
        deposit(10_000_000),
        fill("F1", "BUY", 4, 10_000, 15),   # partial fills of one BUY 10
        fill("F2", "BUY", 6, 10_150, 20),
        fill("F3", "SELL", 3, 10_300, 12),  # close 3 of 10: cost 100900 * 3 // 10 = 30270
        fill("F4", "SELL", 15, 10_200, 30),  # close 7 (cost 70630), open short 8 @ 10200
        fill("F5", "BUY", 5, 10_000, 10),   # cover 5 of 8: cost 81600 * 5 // 8 = 51000
    ])
    assert issues == []
    position = tables.positions[("s1", SEG, SID, "INTRADAY")]
    assert position.net_qty_units == -3
    assert position.open_cost_paise == -30_600
    assert position.realised_pnl_paise == 630 + 770 + 1000
    assert position.charges_paise == 87
    wallet = tables.wallets[TRADING_ACCOUNT]
    assert wallet.cash_paise == 10_000_000 - 40_015 - 60_920 + 30_888 + 152_970 - 50_010
    assert wallet.cash_paise == 10_032_913
    assert wallet.external_paise == 10_000_000
    assert wallet.charges_paise == 87


def test_partial_closes_round_down_and_closing_everything_leaves_zero_cost() -> None:
    # Cost 302 for 3 units does not divide evenly: each close removes cost * closed // open and
    # the remainder stays with the open units, so the round trip realises exactly 330 - 302.
    tables, _ = run([
        fill("A", "BUY", 1, 100), fill("B", "BUY", 2, 101),
        fill("C", "SELL", 1, 110), fill("D", "SELL", 1, 110),
    ])
    after_two = tables.positions[("s1", SEG, SID, "INTRADAY")]
    assert (after_two.net_qty_units, after_two.open_cost_paise, after_two.realised_pnl_paise) == (1, 101, 10 + 9)
    tables, _ = run([
        fill("A", "BUY", 1, 100), fill("B", "BUY", 2, 101),
        fill("C", "SELL", 1, 110), fill("D", "SELL", 1, 110), fill("E", "SELL", 1, 110),
    ])
    flat = tables.positions[("s1", SEG, SID, "INTRADAY")]
    assert (flat.net_qty_units, flat.open_cost_paise, flat.realised_pnl_paise) == (0, 0, 28)


def test_short_position_flips_to_long_at_the_fill_price() -> None:
    short = apply_fill(None, fill("S", "SELL", 5, 20_000))
    assert (short.net_qty_units, short.open_cost_paise) == (-5, -100_000)
    long = apply_fill(short, fill("B", "BUY", 8, 19_000))
    assert long.net_qty_units == 3
    assert long.open_cost_paise == 57_000
    assert long.realised_pnl_paise == 5 * (20_000 - 19_000)


def test_positions_are_kept_per_strategy_instrument_and_product() -> None:
    tables, _ = run([
        fill("1", "BUY", 1, 100, strategy="a"), fill("2", "BUY", 2, 100, strategy="b"),
        fill("3", "SELL", 4, 100, strategy="a", security_id=7),
        fill("4", "BUY", 5, 100, strategy="a", product="CNC"), fill("5", "SELL", 1, 110, strategy="a", product="CNC"),
    ])
    assert {key: p.net_qty_units for key, p in tables.positions.items()} == {
        ("a", SEG, SID, "INTRADAY"): 1, ("b", SEG, SID, "INTRADAY"): 2, ("a", SEG, 7, "INTRADAY"): -4,
        ("a", SEG, SID, "CNC"): 4,
    }
    cnc = tables.positions[("a", SEG, SID, "CNC")]
    assert (cnc.product, cnc.open_cost_paise, cnc.realised_pnl_paise) == ("CNC", 400, 10)


def test_a_fill_of_an_unknown_product_is_refused() -> None:
    _tables, issues = run([fill("1", "BUY", 1, 100, product="MTF")])
    assert [i.code for _s, i in issues] == [FoldIssueCode.BAD_FIELD] and "product 'MTF'" in issues[0][1].detail


def converted(qty: int, from_product: str = "INTRADAY", to_product: str = "CNC", strategy: str = "s1"
              ) -> PositionConverted:
    return PositionConverted(strategy=strategy, segment=SEG, security_id=SID, from_product=from_product,  # type: ignore[arg-type]
                             to_product=to_product, qty_units=qty, by="alice", venue_ref="", ts_ns=5)  # type: ignore[arg-type]


def test_a_conversion_moves_units_with_their_share_of_the_cost_and_leaves_pnl_behind() -> None:
    tables, issues = run([fill("1", "BUY", 3, 1001, 7), fill("2", "SELL", 1, 1100), converted(1)])
    assert issues == []
    intraday = tables.positions[("s1", SEG, SID, "INTRADAY")]
    cnc = tables.positions[("s1", SEG, SID, "CNC")]
    # open: 2 units costing 2002 (3003 - floor(3003 / 3)); one unit moves with floor(2002 / 2) = 1001
    assert (intraday.net_qty_units, intraday.open_cost_paise) == (1, 1001)
    assert (cnc.net_qty_units, cnc.open_cost_paise, cnc.realised_pnl_paise, cnc.charges_paise) == (1, 1001, 0, 0)
    assert (intraday.realised_pnl_paise, intraday.charges_paise) == (99, 7)
    tables, issues = run([fill("1", "SELL", 3, 1000), converted(3), converted(2, "CNC", "INTRADAY")])
    assert issues == []
    assert tables.positions[("s1", SEG, SID, "INTRADAY")].open_cost_paise == -2000
    assert tables.positions[("s1", SEG, SID, "CNC")].open_cost_paise == -1000


@pytest.mark.parametrize(("events", "why"), [
    ([converted(1)], "no open INTRADAY position"),
    ([fill("1", "BUY", 2, 100), converted(3)], "the INTRADAY position holds 2 units"),
    ([fill("1", "BUY", 2, 100), converted(1, "INTRADAY", "INTRADAY")], "the position is INTRADAY already"),
    ([fill("1", "BUY", 2, 100), fill("2", "SELL", 1, 100, product="CNC"), converted(1)],
     "the CNC position is -1 units, the other side"),
])
def test_a_conversion_the_position_cannot_take_is_refused_and_changes_nothing(events: list, why: str) -> None:
    tables, issues = run(events)
    assert [i.code for _s, i in issues] == [FoldIssueCode.BAD_CONVERSION] and why in issues[0][1].detail
    before, _ = run(events[:-1])
    assert dict(tables.positions) == dict(before.positions)


def test_duplicate_fill_id_is_refused_and_changes_nothing() -> None:
    tables, _ = run([deposit(1_000_000), fill("F1", "BUY", 4, 10_000, 15)])
    before = copy.deepcopy(tables.by_name)
    result = fold(tables, 3, fill("F1", "BUY", 4, 10_000, 15))
    assert result.issue is not None and result.issue.code is FoldIssueCode.DUPLICATE_FILL
    assert "F1" in result.issue.detail
    assert result.changes == ()
    assert tables.by_name == before


def test_fold_reads_tables_without_mutating_them() -> None:
    tables, _ = run([deposit(1_000_000)])
    before = copy.deepcopy(tables.by_name)
    result = fold(tables, 2, fill("F1", "SELL", 1, 500, 2))
    assert tables.by_name == before
    changed = {table for table, _key, _row in result.changes}
    assert changed == {"fills", "positions", "wallets"}


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        (fill("F", "BUY", 1, 100.5), "price_paise 100.5 is not an integer"),  # type: ignore[arg-type]
        (fill("F", "BUY", 0, 100), "qty_units 0 is not positive"),
        (fill("F", "HOLD", 1, 100), "side 'HOLD'"),
        (fill("", "BUY", 1, 100), "fill_id is empty"),
        (fill("F" * 300, "BUY", 1, 100), "300 bytes, over the 200-byte limit"),
        (fill("F", "BUY", 1, 100, True), "charges_paise True is not an integer"),  # type: ignore[arg-type]
    ],
)
def test_malformed_fill_is_refused_with_a_reason(bad: Fill, needle: str) -> None:
    result = fold(Tables(), 1, bad)
    assert result.issue is not None
    assert result.issue.code in (FoldIssueCode.BAD_FIELD, FoldIssueCode.BAD_ID)
    assert needle in result.issue.detail
    assert result.changes == ()


def test_cash_movements_credit_debit_and_adjust_their_account() -> None:
    tables, issues = run([
        deposit(50_000),
        CashMovement(kind="WITHDRAWAL", amount_paise=20_000, account=TRADING_ACCOUNT, note="", ts_ns=2),
        CashMovement(kind="ADJUSTMENT", amount_paise=-5, account=TRADING_ACCOUNT, note="", ts_ns=3),
        deposit(7, account="pledge"),
    ])
    assert issues == []
    assert tables.wallets[TRADING_ACCOUNT].cash_paise == 29_995
    assert tables.wallets["pledge"].cash_paise == 7


def test_withdrawal_of_a_negative_amount_is_refused() -> None:
    result = fold(Tables(), 1, CashMovement(kind="WITHDRAWAL", amount_paise=-100, account="main", note="", ts_ns=1))
    assert result.issue is not None and result.issue.code is FoldIssueCode.BAD_FIELD
    assert "-100" in result.issue.detail


def intent(intent_id: str, order_no: int) -> IntentRecorded:
    return IntentRecorded(intent_id=intent_id, client_order_id=f"SKX-{order_no}", order_no=order_no, strategy="s1",
                          ts_ns=1)


def test_intent_binds_client_order_id_and_advances_the_counter() -> None:
    tables, issues = run([intent("s1-1", 5)])
    assert issues == []
    assert tables.intents["s1-1"].client_order_id == "SKX-5"
    assert tables.next_order_no() == 6


def test_re_recorded_intent_and_reused_order_number_are_refused() -> None:
    tables, _ = run([intent("s1-1", 5)])
    again = fold(tables, 2, intent("s1-1", 6))
    assert again.issue is not None and again.issue.code is FoldIssueCode.DUPLICATE_INTENT
    reused = fold(tables, 2, intent("s1-2", 4))
    assert reused.issue is not None and reused.issue.code is FoldIssueCode.ORDER_NO_REUSED
    assert "order_no 4 is below the counter 6" in reused.issue.detail


def test_latest_order_event_strategy_state_and_trading_state_win() -> None:
    tables, _ = run([
        order("SK-1"), order("SK-1", OrderState.FILLED, filled_qty_units=10, filled_value_paise=100_000),
        StrategyStateSaved(strategy="ema", state=b"v1", ts_ns=1),
        StrategyStateSaved(strategy="ema", state=b"v2", ts_ns=2),
        TradingStateChanged(state="HALTED", reason_code="MAX_DAILY_LOSS", detail="", by="risk", ts_ns=1),
        TradingStateChanged(state="ACTIVE", reason_code="", detail="", by="admin", ts_ns=2),
    ])
    assert tables.orders["SK-1"].state is OrderState.FILLED
    assert tables.strategy_state["ema"].state == b"v2"
    assert tables.meta["trading"].by == "admin"


def test_audit_rows_are_keyed_by_their_sequence() -> None:
    record = AuditRecord(who="alice", action="kill.engage", args={"reason": "drill"}, result="ok", ts_ns=1)
    tables, _ = run([deposit(1), record])
    assert tables.audit == {2: record}


def test_rollback_takes_back_applied_changes() -> None:
    tables, _ = run([deposit(1_000)])
    before = copy.deepcopy(tables.by_name)
    undo: list = []
    tables.apply(fold(tables, 2, fill("F1", "BUY", 1, 10, 1)).changes, undo)
    tables.apply(fold(tables, 3, deposit(5)).changes, undo)
    assert tables.by_name != before
    Tables.rollback(undo)
    assert tables.by_name == before


def settled(fill_id: str, **changes: object) -> PositionSettled:
    base = dict(fill_id=fill_id, strategy="s1", segment=SEG, security_id=SID, expiry_yyyymmdd=20261123, kind="CASH",
                net_qty_units=10, settlement_price_paise=26_123_45, price_source="mark", value_per_unit_paise=123_45,
                stt_paise=185, delivery_segment=0, delivery_security_id=0, delivery_product="", ts_ns=1)
    base.update(changes)
    return PositionSettled(**base)  # type: ignore[arg-type]


def test_a_settlement_record_needs_its_stored_fill_and_changes_no_table() -> None:
    tables, issues = run([fill("f1", "BUY", 10, 100_00), fill("SETTLE-x-s1", "SELL", 10, 123_45, 185),
                          settled("SETTLE-x-s1")])
    assert issues == [] and tables.positions[("s1", SEG, SID, "INTRADAY")].net_qty_units == 0
    alone = fold(Tables(), 1, settled("SETTLE-y-s1"))
    assert alone.issue is not None and "no stored fill" in alone.issue.detail
    other = run([fill("SETTLE-z-s2", "SELL", 10, 0, strategy="s2"), settled("SETTLE-z-s2")])[1]
    assert [issue.code for _seq, issue in other] == [FoldIssueCode.BAD_FIELD]  # the fill is s2's, not s1's
    wrong = run([fill("SETTLE-k-s1", "SELL", 10, 0), settled("SETTLE-k-s1", kind="EXERCISED")])[1]
    # The fill settles s1's INTRADAY position; a record naming its MARGIN one is not about that fill.
    product = run([fill("SETTLE-m-s1", "SELL", 10, 0), settled("SETTLE-m-s1", product="MARGIN")])[1]
    assert [issue.code for _seq, issue in product] == [FoldIssueCode.BAD_FIELD]
    assert "kind" in wrong[0][1].detail
