"""The operator's calls against a real daemon over loopback: strategies (list, start, stop, get/set
parameters, kept across a kill -9 of the strategy actor), ModifyOrder, risk limits (get, set,
enforced, kept), square-off, the journal and the actor list, through gRPC and the CLI."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import grpc
import pytest

from actors.control.config import ControlConfig
from actors.risk.limits import RiskLimits
from actors.risk.config import RiskConfig
from actors.strategy.config import StrategyConfig, StrategyInstanceConfig
from engine.config import Config
from engine.control_api import control_pb2 as pb
from engine.ledger import LedgerReader, ledger_dir
from engine.model.journal import build_journal, read_fills
from tests.daemon.test_control_api import Engine, run_cli, running_engine
from tests.support.config import daemon_config, engine_section, strategy_instance, synthetic_feed
from tests.support.wait import eventually

ACTORS = ["feed", "book", "strategy", "risk", "execution", "control"]


def config(control: ControlConfig) -> Config:
    return daemon_config(
        engine=engine_section(ACTORS), feed=synthetic_feed(["RELIANCE", "TCS"], ["NIFTY"], rate_per_s=200),
        risk=RiskConfig(limits=RiskLimits(max_orders_per_second=1000)), control=control,
        strategy=StrategyConfig(instances=[
            strategy_instance("ema", "ema_cross", "TCS", fast=5, slow=20, timeframe_s=1, qty_lots=1),
            StrategyInstanceConfig(name="idle", kind="probe", instrument="TCS",
                                   params={"every_n_ticks": 1_000_000_000}, enabled=False)]))


@pytest.fixture(scope="module")
def eng():
    with running_engine(config, "sk-ops-") as running:
        yield running


def strategies(eng: Engine) -> dict[str, Any]:
    listed = eng.call("StrategyService", "ListStrategies", pb.ListStrategiesRequest(), eng.viewer)
    return {s.name: s for s in listed.strategies}


def refused(eng: Engine, service: str, method: str, request: Any, token: str) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        eng.call(service, method, request, token)
    return info.value


def cli(eng: Engine, token: str, *argv: str) -> tuple[int, str, str]:
    os.environ["SHIKRA_TOKEN"] = token
    try:
        return run_cli([*argv, *eng.cli_args()])
    finally:
        del os.environ["SHIKRA_TOKEN"]


# Strategies -------------------------------------------------------------------------------------


def test_strategies_stop_start_and_parameters_are_kept_across_a_kill9_of_the_strategy_actor(eng) -> None:
    listed = strategies(eng)
    assert set(listed) == {"ema", "idle"}
    assert listed["ema"].running and listed["ema"].kind == "ema_cross" and listed["ema"].instruments == ["TCS"]
    assert not listed["idle"].running  # enabled = false in the config
    assert json.loads(listed["ema"].params_json)["fast"] == 5

    stopped = eng.call("StrategyService", "StopStrategy", pb.StopStrategyRequest(name="ema"), eng.trader)
    assert not stopped.strategy.running and stopped.strategy.changed_by == "control:tina"
    started = eng.call("StrategyService", "StartStrategy", pb.StartStrategyRequest(name="idle"), eng.trader)
    assert started.strategy.running
    changed = eng.call("StrategyService", "SetStrategyParams",
                       pb.SetStrategyParamsRequest(name="ema", changes_json='{"fast": 7}'), eng.trader)
    assert json.loads(changed.params_json)["fast"] == 7  # a stopped strategy's parameters change too

    bad = refused(eng, "StrategyService", "SetStrategyParams",
                  pb.SetStrategyParamsRequest(name="ema", changes_json='{"fast": "quick"}'), eng.trader)
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT and "fast" in bad.details()
    missing = refused(eng, "StrategyService", "StartStrategy", pb.StartStrategyRequest(name="nobody"), eng.trader)
    assert missing.code() == grpc.StatusCode.NOT_FOUND and "ema" in missing.details()
    viewer = refused(eng, "StrategyService", "StopStrategy", pb.StopStrategyRequest(name="idle"), eng.viewer)
    assert viewer.code() == grpc.StatusCode.PERMISSION_DENIED

    old = {a.name: a.pid for a in eng.d.status().actors}["strategy"]
    os.kill(old, signal.SIGKILL)
    eng.d.wait_for(lambda s: next(a for a in s.actors if a.name == "strategy").pid != old
                   and all(a.state == "ready" for a in s.actors), what="strategy restarted")
    after = eventually(lambda: strategies(eng), "the strategy list after the restart")
    assert not after["ema"].running and after["idle"].running
    assert json.loads(after["ema"].params_json)["fast"] == 7
    params = eng.call("StrategyService", "GetStrategyParams", pb.GetStrategyParamsRequest(name="ema"), eng.viewer)
    assert json.loads(params.params_json)["fast"] == 7

    code, out, err = cli(eng, eng.trader, "strategies", "start", "ema", "--json")
    assert code == 0, err
    assert json.loads(out)["strategy"]["running"] is True
    code, out, _ = cli(eng, eng.viewer, "strategies", "list")
    assert code == 0 and "ema_cross" in out and "running" in out
    code, out, err = cli(eng, eng.trader, "strategies", "set", "idle", "every_n_ticks=0")
    assert code == 5 and "every_n_ticks" in err
    audit = [row.action for row in eng.audit_rows()]
    assert {"StopStrategy", "StartStrategy", "SetStrategyParams"} <= set(audit)


# Orders: modify and square-off --------------------------------------------------------------------


def _resting_buy(eng: Engine) -> pb.Order:
    """A LIMIT buy 4 % under the market (inside the 5 % band): it rests."""
    ltp = eventually(lambda: eng.d.status() and _ltp(eng), "a RELIANCE price")
    price = (ltp * 96 // 100) // 5 * 5
    order = eng.place(eng.trader, qty=1, order_type=pb.ORDER_TYPE_LIMIT, price_paise=price)
    return eng.wait_order(order.client_order_id, pb.ORDER_STATE_ACCEPTED)


def _ltp(eng: Engine) -> int:
    placed = eng.place(eng.trader, qty=1)
    filled = eng.wait_order(placed.client_order_id, pb.ORDER_STATE_FILLED)
    return filled.filled_value_paise


def test_modify_changes_a_resting_order_and_refuses_bad_values_with_the_reason(eng) -> None:
    order = _resting_buy(eng)
    coid = order.client_order_id
    resp = eng.call("OrderService", "ModifyOrder",
                    pb.ModifyOrderRequest(client_order_id=coid, qty_units=3, price_paise=order.price_paise - 5),
                    eng.trader)
    assert resp.modified and resp.order.qty_units == 3 and resp.order.price_paise == order.price_paise - 5
    assert eng.order(coid).qty_units == 3  # the ledger has it

    off_tick = refused(eng, "OrderService", "ModifyOrder",
                       pb.ModifyOrderRequest(client_order_id=coid, price_paise=order.price_paise + 2), eng.trader)
    assert off_tick.code() == grpc.StatusCode.INVALID_ARGUMENT and "PRICE_NOT_ON_TICK" in off_tick.details()
    far = refused(eng, "OrderService", "ModifyOrder",
                  pb.ModifyOrderRequest(client_order_id=coid, price_paise=order.price_paise // 2 // 5 * 5), eng.trader)
    assert "PRICE_OUTSIDE_BAND" in far.details()
    same = refused(eng, "OrderService", "ModifyOrder", pb.ModifyOrderRequest(client_order_id=coid, qty_units=3),
                   eng.trader)
    assert same.code() == grpc.StatusCode.INVALID_ARGUMENT and "nothing to change" in same.details()
    unknown = refused(eng, "OrderService", "ModifyOrder", pb.ModifyOrderRequest(client_order_id="nope", qty_units=2),
                      eng.trader)
    assert unknown.code() == grpc.StatusCode.NOT_FOUND

    code, out, err = cli(eng, eng.trader, "modify", coid, "--qty", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["order"]["qty_units"] == 2
    eng.call("OrderService", "CancelOrder", pb.CancelOrderRequest(client_order_id=coid), eng.trader)
    closed = refused(eng, "OrderService", "ModifyOrder", pb.ModifyOrderRequest(client_order_id=coid, qty_units=5),
                     eng.trader)
    assert closed.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_square_off_closes_the_positions_of_a_strategy_and_needs_confirmation(eng) -> None:
    for _ in range(2):
        placed = eng.place(eng.trader, qty=2)
        eng.wait_order(placed.client_order_id, pb.ORDER_STATE_FILLED)
    no = refused(eng, "RiskService", "SquareOffAll", pb.SquareOffAllRequest(strategy="manual:tina"), eng.trader)
    assert no.code() == grpc.StatusCode.INVALID_ARGUMENT and "confirm" in no.details()
    resp = eng.call("RiskService", "SquareOffAll", pb.SquareOffAllRequest(strategy="manual:tina", confirm=True),
                    eng.trader)
    assert [p.strategy for p in resp.positions] == ["manual:tina"] and resp.positions[0].net_qty_units > 0

    def flat() -> bool:
        pos = eng.call("PortfolioService", "ListPositions", pb.ListPositionsRequest(strategy="manual:tina"),
                       eng.viewer)
        return all(p.net_qty_units == 0 for p in pos.positions)

    eventually(flat, "manual:tina flat")
    code, out, _ = cli(eng, eng.trader, "squareoff", "--strategy", "manual:tina", "--yes")
    assert code == 0 and "nothing to square off" in out


def test_convert_moves_a_position_to_cnc_is_audited_and_pnl_shows_today_per_product(eng) -> None:
    placed = eng.place(eng.trader, symbol="RELIANCE", qty=4)
    eng.wait_order(placed.client_order_id, pb.ORDER_STATE_FILLED)

    def positions() -> dict[str, int]:
        listed = eng.call("PortfolioService", "ListPositions", pb.ListPositionsRequest(strategy="manual:tina"),
                          eng.viewer)
        return {p.product: p.net_qty_units for p in listed.positions if p.symbol == "RELIANCE" and p.net_qty_units}

    before = positions()
    code, out, err = cli(eng, eng.trader, "convert", "manual:tina", "RELIANCE", "3", "--from", "INTRADAY", "--to",
                         "CNC", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["to_position"]["product"] == "CNC" and answer["to_position"]["net_qty_units"] == before.get("CNC", 0) + 3
    after = positions()
    assert (after.get("INTRADAY", 0), after["CNC"]) == (before["INTRADAY"] - 3, before.get("CNC", 0) + 3)
    too_many = refused(eng, "PortfolioService", "ConvertPosition", pb.ConvertPositionRequest(
        strategy="manual:tina", instrument=pb.InstrumentRef(symbol="RELIANCE"), from_product="CNC",
        to_product="INTRADAY", qty_units=10_000), eng.trader)
    assert too_many.code() == grpc.StatusCode.FAILED_PRECONDITION and "BAD_CONVERSION" in too_many.details()
    assert "holds" in too_many.details()
    viewer = refused(eng, "PortfolioService", "ConvertPosition", pb.ConvertPositionRequest(
        strategy="manual:tina", instrument=pb.InstrumentRef(symbol="RELIANCE"), from_product="CNC",
        to_product="INTRADAY", qty_units=1), eng.viewer)
    assert viewer.code() == grpc.StatusCode.PERMISSION_DENIED
    audited = [r for r in eng.audit_rows() if r.action == "ConvertPosition"]
    assert audited and audited[0].who == "tina" and audited[0].result.startswith("OK converted")

    code, out, err = cli(eng, eng.viewer, "pnl", "--json", "--strategy", "manual:tina")
    assert code == 0, err
    today = {p["product"]: p for p in json.loads(out)["today"]["positions"] if p["symbol"] == "RELIANCE"}
    assert today["CNC"]["day_open_qty_units"] + today["CNC"]["carry_open_qty_units"] >= 3


def test_journal_over_the_api_matches_the_ledger_and_the_actor_list(eng) -> None:
    resp = eng.call("JournalService", "GetJournal", pb.GetJournalRequest(include_trades=True), eng.viewer)
    with LedgerReader.open(ledger_dir(eng.d.data_dir)) as reader:
        local = build_journal(read_fills(reader))
    assert resp.fills == local.fills and resp.overall.trades == local.overall.trades
    assert resp.overall.net_pnl_paise == local.overall.net_pnl_paise
    assert len(resp.trades) == len(local.trades)
    code, out, err = cli(eng, eng.viewer, "journal", "--json", "--strategy", "manual:tina")
    assert code == 0, err
    assert json.loads(out)["overall"]["trades"] == local.by_strategy["manual:tina"].trades

    actors = eng.call("EngineService", "ListActors", pb.ListActorsRequest(), eng.viewer)
    assert sorted(a.name for a in actors.actors) == sorted(ACTORS)
    code, out, _ = cli(eng, eng.viewer, "actors")
    assert code == 0 and all(name in out for name in ACTORS) and "RESTARTS" in out


# Risk limits --------------------------------------------------------------------------------------


def test_risk_limits_change_at_run_time_are_enforced_kept_and_only_for_admins(eng) -> None:
    got = eng.call("RiskService", "GetRiskLimits", pb.GetRiskLimitsRequest(), eng.viewer)
    assert json.loads(got.limits_json)["max_orders_per_second"] == 1000 and got.changes_json == "{}"

    trader = refused(eng, "RiskService", "SetRiskLimits",
                     pb.SetRiskLimitsRequest(changes_json='{"max_orders_per_day": 5}'), eng.trader)
    assert trader.code() == grpc.StatusCode.PERMISSION_DENIED
    bad = refused(eng, "RiskService", "SetRiskLimits",
                  pb.SetRiskLimitsRequest(changes_json='{"default": {"max_order_valu_paise": 5}}'), eng.admin)
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT and "max_order_valu_paise" in bad.details()

    tight = eng.call("RiskService", "SetRiskLimits",
                     pb.SetRiskLimitsRequest(changes_json='{"default": {"max_order_value_paise": 100}}'), eng.admin)
    assert json.loads(tight.limits_json)["default"]["max_order_value_paise"] == 100
    denied = refused(eng, "OrderService", "PlaceOrder",
                     pb.PlaceOrderRequest(instrument=pb.InstrumentRef(symbol="RELIANCE"), side=pb.SIDE_BUY,
                                          qty_units=1, order_type=pb.ORDER_TYPE_MARKET), eng.trader)
    assert "MAX_ORDER_VALUE" in denied.details()
    assert (eng.d.data_dir / "risk_limits.json").exists()

    code, out, err = cli(eng, eng.admin, "risk", "set", "default.max_order_value_paise=null", "--json")
    assert code == 0, err
    assert json.loads(out)["changes_json"] == "{}"
    placed = eng.place(eng.trader, qty=1)
    assert placed.state == pb.ORDER_STATE_SUBMITTED
    code, out, _ = cli(eng, eng.viewer, "risk", "limits")
    assert code == 0 and "no run-time changes" in out
