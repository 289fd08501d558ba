"""The control API answers status questions from what the supervisor and risk last published on
the bus (``supervisor.status``, ``risk.usage``, ``risk.limits``), and UNAVAILABLE until the first has arrived.
No sockets: the actor's handlers are called as the host would call them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import msgspec

from actors.control.actor import ControlActor
from actors.control.auth import Principal
from actors.control.bridge import Bridge
from actors.control.config import ControlConfig
from actors.control.convert import Refusal
from actors.control.service import ControlApi
from actors.risk.limits import RiskLimits
from engine.control_api import control_pb2 as pb
from engine.ledger import Ledger, LedgerConfig, ledger_dir
from engine.logs import get_logger
from ipc import topics
from ipc.messages import (
    ActorStatus,
    DaemonStatus,
    KillSwitchStatus,
    ListStrategies,
    RiskLimitsKept,
    RiskUsage,
    SupervisorStatus,
)

ADMIN = Principal("root", "admin", "t1")


def daemon_status(risk: str = "ready", execution: str = "ready", engaged: bool = False) -> DaemonStatus:
    return DaemonStatus(pid=1, state="running", started_ns=10, updated_ns=20, topology="isolated", data_dir="/d",
                        kill_switch=KillSwitchStatus(engaged, "drill" if engaged else "", "ops", 15),
                        actors=[ActorStatus("risk", "risk", 11, risk, 10, 0, 19),
                                ActorStatus("execution", "execution", 12, execution, 10, 1, 19, msgs_in=5),
                                ActorStatus("strategy", "strategy", 13, "ready", 10, 0, 19)])


def usage(ts_ns: int = 30) -> RiskUsage:
    return RiskUsage("ACTIVE", 3, 0, 1, 2, 500, 500, 0, -20, 10_000, 100, 10, 1000, 100, 20, 10**6, 10**6, 5000, ts_ns)


def control(tmp_path: Path) -> tuple[ControlActor, ControlApi]:
    """A control actor whose API exists (as after on_start), with no server and no ledger."""
    ctx = SimpleNamespace(log=get_logger("control"), now_ns=lambda: 40)
    actor = ControlActor(ctx)  # type: ignore[arg-type]
    engine = SimpleNamespace(now_ns=lambda: 40)
    actor.api = ControlApi(ControlConfig(), Bridge(), engine, tmp_path, tmp_path / "run",  # type: ignore[arg-type]
                           None, get_logger("control"))  # type: ignore[arg-type]
    return actor, actor.api


def call(fn: Any, req: Any) -> Any:
    return asyncio.run(fn(ADMIN, req))


def test_control_subscribes_to_the_supervisor_status_and_risks_usage_and_limits() -> None:
    assert {topics.SUPERVISOR_STATUS, topics.RISK_USAGE, topics.RISK_LIMITS} <= set(ControlActor.subscriptions)


def test_status_is_unavailable_until_the_first_supervisor_status_arrives(tmp_path) -> None:
    actor, api = control(tmp_path)
    for refused in (call(api.get_status, pb.GetStatusRequest()), call(api.list_actors, pb.ListActorsRequest())):
        assert isinstance(refused, Refusal) and refused.code == grpc.StatusCode.UNAVAILABLE
        assert "no supervisor status received yet" in refused.message
    refused = api._order_path_ready()
    assert isinstance(refused, Refusal) and refused.code == grpc.StatusCode.UNAVAILABLE
    assert "the engine is starting" in refused.message and "the order was not sent" in refused.message


def test_status_and_actor_list_answer_from_the_latest_supervisor_status(tmp_path) -> None:
    actor, api = control(tmp_path)
    actor.handlers[SupervisorStatus](SupervisorStatus(daemon_status()))  # as the host dispatches it
    actor.handlers[SupervisorStatus](SupervisorStatus(daemon_status(engaged=True)))
    status = call(api.get_status, pb.GetStatusRequest())
    assert isinstance(status, pb.GetStatusResponse)
    assert (status.state, status.kill_switch.engaged, status.kill_switch.reason) == ("running", True, "drill")
    listed = call(api.list_actors, pb.ListActorsRequest())
    assert [a.name for a in listed.actors] == ["risk", "execution", "strategy"]
    assert listed.actors[1].restarts == 1 and listed.actors[1].msgs_in == 5 and listed.updated_ns == 20


def test_orders_and_commands_are_not_sent_while_the_supervisor_reports_their_actor_not_ready(tmp_path) -> None:
    actor, api = control(tmp_path)
    actor.on_supervisor_status(SupervisorStatus(daemon_status(execution="restarting")))
    refused = api._order_path_ready()
    assert isinstance(refused, Refusal) and refused.message == "execution is restarting; the order was not sent"
    actor.on_supervisor_status(SupervisorStatus(daemon_status(risk="starting")))
    refused = call(lambda who, req: api._command("risk", req, "the limit change"), ListStrategies("c1"))
    assert isinstance(refused, Refusal) and refused.message == "risk is starting; the limit change was not sent"
    refused = call(lambda who, req: api._command("notify", req, "the ping"), ListStrategies("c2"))
    assert isinstance(refused, Refusal) and refused.message == "notify is not running; the ping was not sent"
    actor.on_supervisor_status(SupervisorStatus(daemon_status()))
    assert api._order_path_ready() is None


def test_risk_state_takes_the_kill_switch_and_usage_from_the_latest_messages(tmp_path) -> None:
    with Ledger.open(ledger_dir(tmp_path), LedgerConfig(durability="os")):
        pass  # an empty ledger (execution creates it): trading ACTIVE
    actor, api = control(tmp_path)
    try:
        refused = call(api.get_risk_state, pb.GetRiskStateRequest())
        assert isinstance(refused, Refusal) and refused.code == grpc.StatusCode.UNAVAILABLE
        actor.on_supervisor_status(SupervisorStatus(daemon_status(engaged=True)))
        answer = call(api.get_risk_state, pb.GetRiskStateRequest())
        assert answer.kill_switch.engaged and not answer.HasField("usage")  # risk has not said yet
        actor.on_risk_usage(usage())
        answer = call(api.get_risk_state, pb.GetRiskStateRequest())
        assert answer.usage.open_orders == 2 and answer.usage.day_pnl_paise == -20 and answer.usage.ts_ns == 30
    finally:
        api.close()


def test_the_actor_keeps_the_latest_risk_usage_for_the_api(tmp_path) -> None:
    actor, api = control(tmp_path)
    assert api.peers.usage is None
    actor.handlers[RiskUsage](usage(30))
    actor.handlers[RiskUsage](usage(31))
    assert api.peers.usage == usage(31)
    kill_switch = api.peers.kill_switch()
    assert isinstance(kill_switch, Refusal) and kill_switch.code == grpc.StatusCode.UNAVAILABLE


def test_risk_limits_answer_from_what_risk_last_published_over_the_config(tmp_path) -> None:
    actor, api = control(tmp_path)
    for refused in (call(api.get_risk_limits, pb.GetRiskLimitsRequest()),
                    call(api.set_risk_limits, pb.SetRiskLimitsRequest(changes_json='{"max_open_orders": 3}'))):
        assert isinstance(refused, Refusal) and refused.code == grpc.StatusCode.UNAVAILABLE
        assert "risk has not published its limit changes yet" in refused.message
    actor.handlers[RiskLimitsKept](RiskLimitsKept('{"max_open_orders": 3}', "control:root", 25))
    answer = call(api.get_risk_limits, pb.GetRiskLimitsRequest())
    assert msgspec.json.decode(answer.limits_json)["max_open_orders"] == 3
    assert (answer.changes_json, answer.changed_by, answer.changed_ns) == ('{"max_open_orders": 3}', "control:root", 25)
    actor.on_risk_limits_kept(RiskLimitsKept("{}", "", 0))  # none kept: the config's limits
    answer = call(api.get_risk_limits, pb.GetRiskLimitsRequest())
    assert msgspec.json.decode(answer.limits_json)["max_open_orders"] == RiskLimits().max_open_orders
