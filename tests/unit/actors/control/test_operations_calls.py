"""Run-time operations through the real API: ``shikra subscribe | unsubscribe`` answered by a real
feed actor (a live Dhan source, not connected), ``shikra strategies add | remove`` answered the way
the strategy actor answers; a real ControlApi behind a real gRPC server with a viewer's and a
trader's token. Roles are enforced, every call (refused ones too) is audited, edge checks name
the field and never echo a huge input."""

from __future__ import annotations

import contextlib
import io
import json
import select
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from actors.control.auth import new_token
from actors.control.bridge import Answer, Bridge
from actors.control.config import ControlConfig
from actors.control.server import ServerThread
from actors.control.service import ControlApi
from actors.feed.operator import load_subscriptions
from engine import cli
from engine.control_api import control_pb2 as pb
from engine.control_api import control_pb2_grpc as rpc
from engine.ledger import Ledger, LedgerConfig, TokenIssued, UserAdded, ledger_dir
from engine.logs import get_logger
from ipc.messages import (
    ActorStatus,
    AddStrategy,
    ChangeFeedSubscriptions,
    DaemonStatus,
    KillSwitchStatus,
    ListStrategies,
    Message,
    RecordAudit,
    RemoveStrategy,
    Reply,
    StrategyInfo,
    StrategyList,
)
from tests.support.strategy_harness import sample_table
from tests.support.wait import eventually
from tests.unit.actors.feed.test_operator_subscriptions import feed

NOW = 1_764_000_000_000_000_000


class Engine:
    """The actor loop's side on a drain thread: feed commands go to a real FeedActor; strategy
    commands are answered as the strategy actor does; audit rows sent to execution are kept."""

    def __init__(self, bridge: Bridge, data_dir: Path) -> None:
        self.bridge = bridge
        self.feed = feed(data_dir)
        self.audit: list[RecordAudit] = []
        self.added: dict[str, StrategyInfo] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if select.select([self.bridge.fileno()], [], [], 0.05)[0]:
                self.bridge.drain(lambda exc: None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def start_command(self, target: str, msg: Message, answer: Answer) -> None:
        if isinstance(msg, ChangeFeedSubscriptions):
            self.feed.on_change_feed_subscriptions(msg)
            answer(self.feed.ctx.replies.pop())  # type: ignore[attr-defined]
        elif isinstance(msg, ListStrategies):
            answer(StrategyList(msg.cmd_id, list(self.added.values())))
        elif isinstance(msg, AddStrategy) and msg.kind != "probe":
            answer(Reply(msg.cmd_id, target, False, "UNKNOWN_KIND", f"unknown strategy kind '{msg.kind}'; known: probe"))
        elif isinstance(msg, AddStrategy):
            self.added[msg.strategy] = StrategyInfo(msg.strategy, msg.kind, True, [msg.instrument], msg.params_json,
                                                    msg.by, msg.ts_ns)
            answer(Reply(msg.cmd_id, target, True, "", msg.params_json))
        elif isinstance(msg, RemoveStrategy) and msg.strategy in self.added:
            answer(Reply(msg.cmd_id, target, True, "", self.added.pop(msg.strategy).kind))
        else:
            answer(Reply(msg.cmd_id, target, False, "UNKNOWN_STRATEGY", "no such strategy"))  # type: ignore[attr-defined]

    def send(self, target: str, msg: Message) -> None:
        if isinstance(msg, RecordAudit):
            self.audit.append(msg)

    def now_ns(self) -> int:
        return NOW


class Served:
    def __init__(self, address: str, tokens: dict[str, str], engine: Engine) -> None:
        self.address, self.tokens, self.engine = address, tokens, engine
        self.channel = grpc.insecure_channel(address)
        self.market = rpc.MarketServiceStub(self.channel)
        self.strategies = rpc.StrategyServiceStub(self.channel)

    def call(self, who: str, stub: Any, method: str, request: Any) -> Any:
        return getattr(stub, method)(request, metadata=(("authorization", f"Bearer {self.tokens[who]}"),), timeout=10.0)

    def refused(self, who: str, stub: Any, method: str, request: Any) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as caught:
            self.call(who, stub, method, request)
        return caught.value

    def cli(self, who: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
        monkeypatch.setenv("SHIKRA_TOKEN", self.tokens[who])
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main([*argv, "--server", self.address])
        return code, out.getvalue(), err.getvalue()

    def audited(self, action: str, rows: int = 1) -> list[RecordAudit]:
        """The audit rows of ``action`` once ``rows`` of them were sent (the API posts each to the
        actor loop as it answers)."""
        return eventually(lambda: [r for r in list(self.engine.audit) if r.action == action][rows - 1:] and
                          [r for r in list(self.engine.audit) if r.action == action], f"{rows} {action} audit rows",
                          10.0)


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    tokens = {}
    with Ledger.open(ledger_dir(data_dir), LedgerConfig()) as ledger:
        for name, role in (("vic", "viewer"), ("tina", "trader")):
            issued = new_token()
            tokens[name] = issued.token
            ledger.append([UserAdded(name=name, role=role, by="test", ts_ns=1),
                           TokenIssued(token_sha256=issued.token_sha256, token_id=issued.token_id, name=name,
                                       by="test", ts_ns=1)])
    settings = ControlConfig(listen="127.0.0.1:0", request_timeout_s=5.0)
    bridge = Bridge()
    (tmp_path / "feed").mkdir()
    engine = Engine(bridge, tmp_path / "feed")  # its own data dir: one LMDB handle per process (control's)
    log = get_logger("control")
    api = ControlApi(settings, bridge, engine, data_dir, tmp_path / "run", sample_table(tmp_path / "cache"), log)  # type: ignore[arg-type]
    api.peers.status = DaemonStatus(1, "running", 1, 1, "isolated", str(data_dir), KillSwitchStatus(),
                                    [ActorStatus(n, n, 1, "ready", 1, 0, 1) for n in ("feed", "strategy")])
    server = ServerThread(api, settings, log)
    served = Served(server.start(), tokens, engine)
    try:
        yield served
    finally:
        served.channel.close()
        server.stop()
        engine.close()
        bridge.close()


def test_a_trader_subscribes_and_unsubscribes_kept_by_the_feed_and_audited(served: Served, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = served.cli("tina", ["subscribe", "HDFCBANK", "RELIANCE"], monkeypatch)
    assert code == 0, err
    assert "subscribed: NSE_EQ:1333\n" in out  # RELIANCE (NSE_EQ:2885) is the feed's configured one
    assert [(s.segment, s.security_id, s.by) for s in load_subscriptions(tmp_path / "feed")] == [
        (1, 1333, "control:tina")]
    assert served.engine.feed.source.subscribed_keys() == [(1, 2885), (1, 1333)]
    (row,) = served.audited("SubscribeFeed")
    assert row.who == "tina" and row.result.startswith("OK subscribed NSE_EQ:1333")
    code, out, _ = served.cli("tina", ["unsubscribe", "NSE_EQ:1333", "--json"], monkeypatch)
    assert code == 0 and json.loads(out) == {"changed": ["NSE_EQ:1333"], "subscribed": []}
    assert load_subscriptions(tmp_path / "feed") == [] and served.engine.feed.source.subscribed_keys() == [(1, 2885)]
    assert served.audited("UnsubscribeFeed")[0].result.startswith("OK unsubscribed NSE_EQ:1333")


def test_unsubscribing_a_configured_instrument_is_refused_and_audited(served: Served) -> None:
    error = served.refused("tina", served.market, "UnsubscribeFeed",
                           pb.UnsubscribeFeedRequest(instruments=[pb.InstrumentRef(symbol="RELIANCE")]))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details().startswith("NOT_SUBSCRIBED: NSE_EQ:2885") and "config" in error.details()
    (row,) = served.audited("UnsubscribeFeed")
    assert row.result.startswith("FAILED_PRECONDITION: NOT_SUBSCRIBED")


def test_a_viewer_may_neither_subscribe_nor_add_or_remove_strategies(served: Served) -> None:
    ref = [pb.InstrumentRef(symbol="RELIANCE")]
    calls = ((served.market, "SubscribeFeed", pb.SubscribeFeedRequest(instruments=ref)),
             (served.market, "UnsubscribeFeed", pb.UnsubscribeFeedRequest(instruments=ref)),
             (served.strategies, "AddStrategy", pb.AddStrategyRequest(name="p1", kind="probe")),
             (served.strategies, "RemoveStrategy", pb.RemoveStrategyRequest(name="p1")))
    for stub, method, request in calls:
        assert served.refused("vic", stub, method, request).code() == grpc.StatusCode.PERMISSION_DENIED
        (row,) = served.audited(method)
        assert row.who == "vic" and row.result.startswith("PERMISSION_DENIED")
    assert load_subscriptions(served.engine.feed.ctx.data_dir) == []  # type: ignore[attr-defined]


def test_a_trader_adds_and_removes_a_strategy_audited(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = served.cli("tina", ["strategies", "add", "p1", "--kind", "probe", "--instruments", "RELIANCE",
                                         "--params", '{"every_n_ticks": 5}'], monkeypatch)
    assert code == 0, err
    assert "p1" in out and "probe" in out and "running" in out
    (row,) = served.audited("AddStrategy")
    assert row.who == "tina" and row.args["name"] == "p1" and row.result.startswith("OK strategy p1 added")
    code, out, _ = served.cli("tina", ["strategies", "remove", "p1"], monkeypatch)
    assert (code, out.strip()) == (0, "removed p1 (probe)")
    assert served.audited("RemoveStrategy")[0].result == "OK strategy p1 (kind probe) removed"


@pytest.mark.parametrize("request_, field", [
    (pb.AddStrategyRequest(name="1abc", kind="probe"), "name '1abc'"),
    (pb.AddStrategyRequest(name="p 1", kind="probe"), "name 'p 1'"),
    (pb.AddStrategyRequest(name="p1", kind=""), "kind is required"),
    (pb.AddStrategyRequest(name="p1", kind="probe", params_json="[1]"), "params_json must be a JSON object"),
    (pb.AddStrategyRequest(name="p1", kind="probe", params_json="{"), "params_json is not JSON"),
    (pb.AddStrategyRequest(name="p1", kind="probe", instrument="NOSUCH"), "instrument: UNKNOWN_INSTRUMENT"),
    (pb.AddStrategyRequest(name="p1", kind="probe", instrument="X" * 200), "instrument: UNKNOWN_INSTRUMENT"),
    (pb.AddStrategyRequest(name="p1", kind="no_such_kind"), "UNKNOWN_KIND: unknown strategy kind 'no_such_kind'"),
])
def test_a_bad_strategy_definition_is_refused_naming_the_field(served: Served, request_: Any, field: str) -> None:
    error = served.refused("tina", served.strategies, "AddStrategy", request_)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field in error.details()
    assert "X" * 81 not in error.details()  # a long value is quoted, never echoed whole
    assert served.engine.added == {}
