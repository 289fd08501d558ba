"""Expiry day through the actors on a simulated clock: risk closes positions in contracts expiring
today at 15:10 IST (except a strategy's that holds to expiry), execution settles what is held after
the 15:30 close, and the settled contract leaves the option chain.

The bundled sample master for 2026-11-23 lists NIFTY weeklies expiring that Monday (the Tuesday,
24 November, is a holiday) and the November NIFTY future expiring the same day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from actors.execution.config import SettlementConfig, write_settlement_prices
from actors.execution.charges import DEFAULT_SCHEDULE, SegmentClass, charges_for_fill, exercise_stt_paise
from engine.ledger import LedgerReader, PositionSettled, ledger_dir
from engine.model.expiry_day import listing_day
from engine.model.sample_master import sample_master_text
from ipc.messages import Fill, OrderIntent, OrderSpec, RiskAction
from tests.support.sim import SimEngine, at_ist, sim_config

EXPIRY_DAY = dt.date(2026, 11, 23)  # NIFTY's weekly and monthly expiry in the sample master
HOLDER = "holder"  # hold_to_expiry = true
TRADER = "s1"


def intent(engine: SimEngine, inst: Any, side: str, qty_units: int, *, n: int, strategy: str,
           product: str = "MARGIN") -> OrderIntent:
    now = engine.now_ns()
    spec = OrderSpec(segment=inst.segment, security_id=inst.security_id, side=side,  # type: ignore[arg-type]
                     order_type="MARKET", product=product, qty_units=qty_units)  # type: ignore[arg-type]
    return OrderIntent(f"{strategy}-x-{n}", strategy, spec, now, now, now)


def net(engine: SimEngine, inst: Any, strategy: str) -> int:
    """Net units of ``strategy`` in ``inst``, every product together."""
    return sum(p.net_qty_units for key, p in engine.ledger_facts()["positions"].items()
               if key[:3] == (strategy, inst.segment, inst.security_id))


def market(engine: SimEngine, inst: Any, price_paise: int) -> None:
    engine.quote(inst, price_paise)
    engine.depth(inst, bids=[(price_paise - 5, 10_000)], asks=[(price_paise, 10_000)])


def settlements(engine: SimEngine) -> list[PositionSettled]:
    with LedgerReader.open(ledger_dir(engine.data_dir)) as reader, reader.snapshot() as snap:
        return [event for _seq, event in snap.events() if isinstance(event, PositionSettled)]


def nifty(engine: SimEngine, option_type: str, strike_rupees: int, expiry: int) -> Any:
    table = engine.actor("execution").table
    inst = table.contract("NIFTY", expiry, strike_rupees * 100, option_type)
    assert inst is not None
    return inst


@pytest.fixture
def engine(tmp_path: Path):
    strategies = [{"name": HOLDER, "kind": "ema_cross", "instrument": "RELIANCE", "hold_to_expiry": True},
                  {"name": TRADER, "kind": "ema_cross", "instrument": "RELIANCE"}]
    cfg = sim_config(("risk", "execution"), strategy={"instances": strategies},
                     risk={"limits": {"default": {"max_position_units": 100_000, "max_order_value_paise": 10**12,
                                                  "max_position_value_paise": 10**12},
                                      "max_gross_exposure_paise": 10**13, "max_net_exposure_paise": 10**13}})
    sim = SimEngine(tmp_path / "data", at_ist(EXPIRY_DAY, 14, 0), ("risk", "execution"), cfg)
    yield sim
    sim.close()


def test_expiring_positions_close_at_1510_except_a_holding_strategys(engine: SimEngine) -> None:
    today = int(EXPIRY_DAY.strftime("%Y%m%d"))
    expiring = nifty(engine, "CE", 26000, today)
    monthly = nifty(engine, "CE", 26000, 20261229)
    for inst in (expiring, monthly):
        market(engine, inst, 150_00)
    engine.send("risk", intent(engine, expiring, "BUY", 65, n=1, strategy=TRADER))
    engine.send("risk", intent(engine, monthly, "BUY", 65, n=2, strategy=TRADER))
    engine.send("risk", intent(engine, expiring, "BUY", 130, n=3, strategy=HOLDER))
    assert (net(engine, expiring, TRADER), net(engine, monthly, TRADER), net(engine, expiring, HOLDER)) == (65, 65, 130)
    engine.advance_to(at_ist(EXPIRY_DAY, 15, 9, 59))
    assert net(engine, expiring, TRADER) == 65
    engine.advance_to(at_ist(EXPIRY_DAY, 15, 10))
    closes = [(t, a) for t, a in engine.seen_at(RiskAction) if a.reason_code == "EXPIRY_CLOSE"]
    assert [(t, a.strategy, a.security_id) for t, a in closes] == [(at_ist(EXPIRY_DAY, 15, 10), TRADER,
                                                                  expiring.security_id)]
    assert net(engine, expiring, TRADER) == 0  # closed at the market
    assert net(engine, monthly, TRADER) == 65  # expires next month: untouched
    assert net(engine, expiring, HOLDER) == 130  # holds to expiry
    engine.advance_to(at_ist(EXPIRY_DAY, 15, 29, 59))
    assert len([a for a in engine.seen(RiskAction) if a.reason_code == "EXPIRY_CLOSE"]) == 1  # once
    assert settlements(engine) == []


def test_held_index_options_and_future_settle_to_the_paisa_after_the_close(engine: SimEngine) -> None:
    today = int(EXPIRY_DAY.strftime("%Y%m%d"))
    execution = engine.actor("execution")
    index = execution.table.spot("NIFTY")
    itm_call, itm_put, otm_call = (nifty(engine, "CE", 26000, today), nifty(engine, "PE", 26200, today),
                                   nifty(engine, "CE", 26500, today))
    (future,) = [i for i in execution.table if i.underlying == "NIFTY" and i.instrument == "FUTIDX"
                 and i.expiry_yyyymmdd == today]
    prices = {itm_call: 130_05, itm_put: 90_10, otm_call: 3_15, future: 26_090_00}
    for inst, price in prices.items():
        market(engine, inst, price)
    engine.send("risk", intent(engine, itm_call, "BUY", 65, n=1, strategy=HOLDER))
    engine.send("risk", intent(engine, itm_put, "SELL", 130, n=2, strategy=HOLDER))  # short: assigned, no STT
    engine.send("risk", intent(engine, otm_call, "BUY", 65, n=3, strategy=HOLDER))
    engine.send("risk", intent(engine, future, "BUY", 65, n=4, strategy=HOLDER))
    before = {inst: execution.ledger.position(HOLDER, inst.segment, inst.security_id, "MARGIN") for inst in prices}
    cash_before = execution.ledger.wallet().cash_paise
    engine.advance_to(at_ist(EXPIRY_DAY, 15, 29))
    engine.tick(index, 26_123_45)  # the index's last price before the close: the settlement price
    engine.advance_to(at_ist(EXPIRY_DAY, 15, 29, 59))
    assert settlements(engine) == []
    engine.advance_to(at_ist(EXPIRY_DAY, 15, 30))

    value = {itm_call: 123_45, itm_put: 76_55, otm_call: 0, future: 26_123_45}  # intrinsic; the future at S
    stt_call = exercise_stt_paise(SegmentClass.INDEX_OPTIONS, 123_45 * 65)
    assert stt_call == 1204  # 0.15 % of ₹8,024.25
    charges = {itm_call: stt_call, itm_put: 0, otm_call: 0, future: 0}
    kinds = {itm_call: "CASH", itm_put: "CASH", otm_call: "WORTHLESS", future: "CASH"}
    records = {r.security_id: r for r in settlements(engine)}
    assert set(records) == {inst.security_id for inst in prices}
    cash_delta = 0
    for inst, pos in before.items():
        after = execution.ledger.position(HOLDER, inst.segment, inst.security_id, "MARGIN")
        assert (after.net_qty_units, after.open_cost_paise) == (0, 0)
        # settlement P&L = net x value - cost of the open quantity, to the paisa
        assert after.realised_pnl_paise - pos.realised_pnl_paise == pos.net_qty_units * value[inst] - pos.open_cost_paise
        assert after.charges_paise - pos.charges_paise == charges[inst]
        record = records[inst.security_id]
        assert (record.kind, record.settlement_price_paise, record.price_source, record.value_per_unit_paise,
                record.stt_paise) == (kinds[inst], 26_123_45, "mark", value[inst], charges[inst])
        cash_delta += pos.net_qty_units * value[inst] - charges[inst]
    assert execution.ledger.wallet().cash_paise - cash_before == cash_delta
    published = [f for f in engine.seen(Fill) if f.fill_id.startswith("SETTLE-")]
    assert {f.security_id for f in published} == set(records)
    assert execution.ledger.verify() == []
    # The settled contracts are no longer offered; the positions stay visible (flat) in the ledger.
    first = listing_day(engine.now_ns())
    assert today not in execution.table.expiries("NIFTY", first)
    assert execution.table.get(itm_call.segment, itm_call.security_id) is not None
    engine.advance_by(5)  # the timer again: nothing is settled twice
    assert len(settlements(engine)) == 4


def test_without_a_price_the_settlement_waits_for_the_configured_one(tmp_path: Path) -> None:
    """Down over the close (restarted at 16:00 with the position still open): the engine saw no
    price of the index at the close, so it waits; given the official price it settles at it."""
    today = int(EXPIRY_DAY.strftime("%Y%m%d"))
    data = tmp_path / "data"
    strategies = [{"name": HOLDER, "kind": "ema_cross", "instrument": "RELIANCE", "hold_to_expiry": True}]
    cfg = sim_config(("risk", "execution"), strategy={"instances": strategies})
    with SimEngine(data, at_ist(EXPIRY_DAY, 14, 0), ("risk", "execution"), cfg) as sim:
        call = nifty(sim, "CE", 26000, today)
        market(sim, call, 100_00)
        sim.send("risk", intent(sim, call, "BUY", 65, n=1, strategy=HOLDER))
        assert net(sim, call, HOLDER) == 65
    with SimEngine(data, at_ist(EXPIRY_DAY, 16, 0), ("execution",), sim_config(("execution",), strategy={
            "instances": strategies})) as sim:
        sim.advance_by(3)
        assert net(sim, call, HOLDER) == 65 and settlements(sim) == []
        # `shikra settlement set-price NIFTY 2026-11-23 25950` while it runs:
        write_settlement_prices(data, SettlementConfig(prices_paise={"NIFTY:2026-11-23": 25_950_00}))
        sim.advance_by(1)
        assert net(sim, call, HOLDER) == 0
        (record,) = settlements(sim)
        assert (record.kind, record.settlement_price_paise, record.price_source) == ("WORTHLESS", 25_950_00, "cli")


def test_a_stock_option_held_to_expiry_is_delivered_as_a_cnc_equity_position(tmp_path: Path) -> None:
    master = tmp_path / "master.csv"
    rows = sample_master_text(EXPIRY_DAY).splitlines()
    tail = "N,N,N,NA,A,0,0,0,0,0,0,0,0.0000,0.0000,5000,"
    rows.append(f"NSE,D,700001,NA,OPTSTK,2885,RELIANCE,RELIANCE-Nov2026-1400-CE,RELIANCE 23 NOV 1400 CALL,OP,NA,"
                f"500.0,2026-11-23,1400.00000,CE,5.0000,M,{tail}")
    master.write_text("\n".join(rows) + "\n")
    strategies = [{"name": HOLDER, "kind": "ema_cross", "instrument": "RELIANCE", "hold_to_expiry": True}]
    cfg = sim_config(("risk", "execution"), strategy={"instances": strategies}, instruments={"master": str(master)},
                     risk={"expiry": {"stock_derivatives": "deliver"},
                           "limits": {"default": {"max_position_units": 100_000, "max_order_value_paise": 10**12,
                                                  "max_position_value_paise": 10**12}}})
    with SimEngine(tmp_path / "data", at_ist(EXPIRY_DAY, 14, 0), ("risk", "execution"), cfg) as sim:
        execution = sim.actor("execution")
        option = execution.table.get(2, 700001)
        stock = execution.table.spot("RELIANCE")
        market(sim, option, 40_00)
        sim.send("risk", intent(sim, option, "BUY", 500, n=1, strategy=HOLDER))
        assert net(sim, option, HOLDER) == 500
        cost = execution.ledger.position(HOLDER, option.segment, option.security_id, "MARGIN").open_cost_paise
        sim.advance_to(at_ist(EXPIRY_DAY, 15, 20))
        assert net(sim, option, HOLDER) == 500  # "deliver": the holding strategy keeps it
        sim.tick(stock, 1_432_10)
        sim.advance_to(at_ist(EXPIRY_DAY, 15, 30))
        assert net(sim, option, HOLDER) == 0
        equity = execution.ledger.position(HOLDER, stock.segment, stock.security_id, "CNC")
        delivery = charges_for_fill(SegmentClass.EQUITY_DELIVERY, "BUY", 500, 1_432_10, True, DEFAULT_SCHEDULE)
        assert (equity.net_qty_units, equity.open_cost_paise, equity.charges_paise) == (500, 500 * 1_432_10,
                                                                                      delivery.total_paise)
        (record,) = settlements(sim)
        assert (record.kind, record.delivery_security_id, record.delivery_product, record.value_per_unit_paise) == (
            "PHYSICAL", stock.security_id, "CNC", 32_10)
        closed = execution.ledger.position(HOLDER, option.segment, option.security_id, "MARGIN")
        assert closed.realised_pnl_paise == 500 * 32_10 - cost
        # Risk tracks the delivered stock as a delivery holding: the 15:25 square-off of the next
        # day leaves it alone (only INTRADAY is squared off).
        held = {(s, seg, sid): product for s, seg, sid, product, _n in sim.actor("risk").monitor.holdings()}
        assert held[(HOLDER, stock.segment, stock.security_id)] == "CNC"
