"""The day's P&L per position split into carried-in and traded today: the numbers of a worked
example, conversions, and (property) the split adds up to the ledger's own P&L of the day."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ledger import PositionConverted, fold_events
from engine.ledger.daysplit import day_split
from ipc.messages import Fill

DAY = 1_700_000_000_000_000_000
YESTERDAY = DAY - 3_600_000_000_000
SEG, SID = 1, 2885


def fill(n: int, side: str, qty: int, price: int, ts: int, product: str = "CNC", charges: int = 0) -> Fill:
    return Fill(fill_id=f"F{n}", client_order_id=f"C{n}", venue_order_id="V", strategy="s1", segment=SEG,
                security_id=SID, side=side, qty_units=qty, price_paise=price, charges_paise=charges,  # type: ignore[arg-type]
                ts_event_ns=ts, ts_init_ns=ts, product=product)  # type: ignore[arg-type]


def test_carried_units_close_first_and_the_rest_is_the_days() -> None:
    events = list(enumerate([fill(1, "BUY", 10, 100, YESTERDAY), fill(2, "BUY", 5, 120, DAY, charges=7),
                             fill(3, "SELL", 12, 130, DAY + 1)], start=1))
    [(key, d)] = day_split(events, DAY, {(SEG, SID): 125}).items()
    assert key == ("s1", SEG, SID, "CNC")
    assert (d.carried_qty_units, d.carried_cost_paise, d.carry_open_qty_units) == (10, 1000, 0)
    assert (d.carry_realised_pnl_paise, d.carry_unrealised_pnl_paise) == (10 * 130 - 1000, 0)
    assert (d.day_open_qty_units, d.day_realised_pnl_paise, d.day_unrealised_pnl_paise) == (3, 2 * 130 - 240, 3 * 125 - 360)
    assert d.day_charges_paise == 7


def test_a_position_only_carried_shows_its_carry_pnl_at_the_mark_and_nothing_traded_today() -> None:
    events = list(enumerate([fill(1, "BUY", 10, 100, YESTERDAY), fill(2, "BUY", 4, 50, YESTERDAY, "INTRADAY"),
                             fill(3, "SELL", 4, 55, YESTERDAY, "INTRADAY")], start=1))
    split = day_split(events, DAY, {(SEG, SID): 110})
    assert list(split) == [("s1", SEG, SID, "CNC")]  # the INTRADAY one was flat all day
    d = split[("s1", SEG, SID, "CNC")]
    assert (d.carry_open_qty_units, d.carry_unrealised_pnl_paise, d.day_open_qty_units) == (10, 100, 0)
    assert day_split(events, DAY)[("s1", SEG, SID, "CNC")].carry_unrealised_pnl_paise == 0  # no mark


def test_a_conversion_moves_todays_units_first() -> None:
    convert = PositionConverted(strategy="s1", segment=SEG, security_id=SID, from_product="INTRADAY",
                                to_product="CNC", qty_units=6, by="alice", venue_ref="", ts_ns=DAY + 2)
    events = list(enumerate([fill(1, "BUY", 2, 100, YESTERDAY, "INTRADAY"), fill(2, "BUY", 5, 110, DAY, "INTRADAY"),
                             convert], start=1))
    split = day_split(events, DAY, {(SEG, SID): 120})
    cnc, intraday = split[("s1", SEG, SID, "CNC")], split[("s1", SEG, SID, "INTRADAY")]
    assert (cnc.day_open_qty_units, cnc.carry_open_qty_units, cnc.carried_qty_units) == (5, 1, 0)
    assert (intraday.carry_open_qty_units, intraday.day_open_qty_units) == (1, 0)
    assert cnc.day_unrealised_pnl_paise == 5 * 120 - 550 and cnc.carry_unrealised_pnl_paise == 120 - 100


a_fill = st.tuples(st.booleans(), st.sampled_from(["BUY", "SELL"]), st.integers(1, 30), st.integers(1, 10_000),
                   st.sampled_from(["CNC", "INTRADAY"]))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(fills=st.lists(a_fill, min_size=1, max_size=14), mark=st.integers(1, 10_000))
def test_the_split_adds_up_to_the_ledgers_pnl_of_the_day(fills: list, mark: int) -> None:
    ordered = sorted(fills, key=lambda f: not f[0])  # yesterday's first
    events = list(enumerate([fill(n, side, qty, price, YESTERDAY if old else DAY + n, product)
                             for n, (old, side, qty, price, product) in enumerate(ordered)], start=1))
    start, _ = fold_events([e for e in events if e[1].ts_event_ns < DAY])
    end, _ = fold_events(events)
    split = day_split(events, DAY, {(SEG, SID): mark})
    for key, pos in end.positions.items():
        before = start.positions.get(key)
        realised_today = pos.realised_pnl_paise - (before.realised_pnl_paise if before is not None else 0)
        # The lots count from the carried units' cost, as the ledger's average cost does: the
        # realised P&L of the day plus what is open at the mark, less its cost.
        d = split.get(key)
        lots = 0 if d is None else (d.carry_realised_pnl_paise + d.carry_unrealised_pnl_paise
                                    + d.day_realised_pnl_paise + d.day_unrealised_pnl_paise)
        assert lots == realised_today + pos.net_qty_units * mark - pos.open_cost_paise
        if d is not None:
            assert d.carry_open_qty_units + d.day_open_qty_units == pos.net_qty_units
