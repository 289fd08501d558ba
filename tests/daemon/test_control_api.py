"""The control API against a real daemon: real gRPC server and clients over loopback, the ledger
as the witness (orders, users, audit rows), and the ``shikra`` CLI end to end."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from collections.abc import Iterator
from typing import Any, Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from actors.control.config import ControlConfig
from actors.risk.limits import RiskLimits
from engine import cli
from actors.risk.config import RiskConfig
from actors.strategy.config import StrategyConfig
from engine.config import Config
from engine.control_api import control_pb2 as pb
from engine.control_api import control_pb2_grpc as rpc
from engine.ledger import LedgerReader, ledger_dir
from tests.support.config import daemon_config, engine_section, synthetic_feed
from tests.support.daemon import Daemon, short_tmpdir
from tests.support.wait import eventually


ACTORS = ["feed", "book", "strategy", "risk", "execution", "control"]
CALL_TIMEOUT_S = 20.0
SERVICES = {s.name: s for s in pb.DESCRIPTOR.services_by_name.values()}


def engine_config(actors: list[str], control: ControlConfig) -> Config:
    return daemon_config(engine=engine_section(actors), feed=synthetic_feed(["RELIANCE"], ["NIFTY"], rate_per_s=200),
                         risk=RiskConfig(limits=RiskLimits(max_orders_per_second=1000)),
                         strategy=StrategyConfig(instances=[]), control=control)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def bootstrap_admin(d: Daemon, name: str) -> tuple[str, str]:
    """(token, how) from ``shikra users bootstrap-admin NAME --json``."""
    code, out, err = run_cli(["users", "bootstrap-admin", name, "--json", "--config", str(d.config_path),
                              "--data-dir", str(d.data_dir)])
    assert code == 0, err
    answer = json.loads(out)
    return answer["token"], answer["how"]


def wait_control_info(d: Daemon) -> dict[str, Any]:
    return d.eventually(lambda: json.loads((d.run_dir / "control.json").read_text()), "control.json", 30.0)


class Engine:
    """A running daemon with the control actor, a channel to it, and a token per role."""

    def __init__(self, d: Daemon, address: str, admin: str) -> None:
        self.d = d
        self.address = address
        self.channel = grpc.insecure_channel(address)
        self.admin = admin
        self.trader = ""
        self.viewer = ""

    def stub(self, service: str) -> Any:
        return getattr(rpc, f"{service}Stub")(self.channel)

    def call(self, service: str, method: str, request: Any, token: str | None) -> Any:
        metadata = (("authorization", f"Bearer {token}"),) if token is not None else ()
        return getattr(self.stub(service), method)(request, metadata=metadata, timeout=CALL_TIMEOUT_S)

    def code(self, service: str, method: str, request: Any, token: str | None) -> grpc.StatusCode:
        try:
            self.call(service, method, request, token)
        except grpc.RpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    def add_user(self, name: str, role: int) -> str:
        resp = self.call("UserService", "AddUser", pb.AddUserRequest(name=name, role=role), self.admin)
        return resp.token

    def place(self, token: str, symbol: str = "RELIANCE", qty: int = 1, side: int = pb.SIDE_BUY,
              **fields: Any) -> pb.Order:
        fields.setdefault("order_type", pb.ORDER_TYPE_MARKET)
        req = pb.PlaceOrderRequest(instrument=pb.InstrumentRef(symbol=symbol), side=side, qty_units=qty, **fields)
        return self.call("OrderService", "PlaceOrder", req, token).order

    def order(self, coid: str) -> pb.Order:
        return self.call("OrderService", "GetOrder", pb.GetOrderRequest(client_order_id=coid), self.admin).order

    def wait_order(self, coid: str, state: int) -> pb.Order:
        return eventually(lambda: (o := self.order(coid)).state == state and o, f"order {coid} in state {state}")

    def ledger(self, read: Callable[[Any], Any]) -> Any:
        with LedgerReader.open(ledger_dir(self.d.data_dir)) as reader, reader.snapshot() as snap:
            return read(snap)

    def audit_rows(self) -> list[Any]:
        return [row for _seq, row in self.ledger(lambda s: s.audit())]

    def cli_args(self) -> list[str]:
        return ["--config", str(self.d.config_path), "--data-dir", str(self.d.data_dir)]


@contextlib.contextmanager
def running_engine(config: Callable[[ControlConfig], Config], prefix: str) -> Iterator[Engine]:
    """A daemon with the control API on a free loopback port, an admin bootstrapped before the
    first start, a trader (tina) and a viewer (vic); stopped (exit 0) and reaped afterwards."""
    root = short_tmpdir(prefix)
    d = Daemon(root, config(ControlConfig(listen="127.0.0.1:0", request_timeout_s=5.0)))
    admin, how = bootstrap_admin(d, "root")  # before the first start: straight into the ledger
    assert "not running" in how
    d.start()
    try:
        d.wait_running()
        engine = Engine(d, wait_control_info(d)["address"], admin)
        engine.trader = engine.add_user("tina", pb.ROLE_TRADER)
        engine.viewer = engine.add_user("vic", pb.ROLE_VIEWER)
        yield engine
        engine.channel.close()
        assert d.stop() == 0
    finally:
        d.reap()
        if not os.environ.get("SHIKRA_KEEP_TMP"):
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def eng():
    with running_engine(lambda control: engine_config(ACTORS, control), "sk-ctl-") as running:
        yield running


# Orders -----------------------------------------------------------------------------------------


def test_market_order_is_submitted_fills_and_shows_in_orders_trades_positions_and_funds(eng) -> None:
    placed = eng.place(eng.trader)
    assert placed.state == pb.ORDER_STATE_SUBMITTED and placed.strategy == "manual:tina"
    assert (placed.symbol, placed.segment, placed.qty_units) == ("RELIANCE", "NSE_EQ", 1)
    filled = eng.wait_order(placed.client_order_id, pb.ORDER_STATE_FILLED)
    assert filled.filled_qty_units == 1 and filled.filled_value_paise > 0

    listed = eng.call("OrderService", "ListOrders", pb.ListOrdersRequest(strategy="manual:tina"), eng.viewer)
    assert placed.client_order_id in [o.client_order_id for o in listed.orders]
    trades = eng.call("PortfolioService", "ListTrades", pb.ListTradesRequest(strategy="manual:tina"), eng.viewer)
    fill = next(t for t in trades.trades if t.client_order_id == placed.client_order_id)
    assert fill.qty_units == 1 and fill.price_paise == filled.filled_value_paise and fill.symbol == "RELIANCE"
    positions = eng.call("PortfolioService", "ListPositions", pb.ListPositionsRequest(strategy="manual:tina"),
                         eng.viewer)
    assert positions.positions[0].net_qty_units >= 1
    assert positions.net_pnl_paise == positions.realised_pnl_paise - positions.charges_paise
    funds = eng.call("PortfolioService", "GetFunds", pb.GetFundsRequest(), eng.viewer)
    wallet = eng.ledger(lambda s: s.wallet())
    assert (funds.cash_paise, funds.charges_paise, funds.external_paise) == \
           (wallet.cash_paise, wallet.charges_paise, wallet.external_paise)


def test_risk_denial_is_invalid_argument_with_the_reason_code(eng) -> None:
    chain = eng.call("InstrumentService", "GetOptionChain", pb.GetOptionChainRequest(underlying="NIFTY"), eng.viewer)
    option = chain.strikes[0].ce_symbol
    with pytest.raises(grpc.RpcError) as caught:
        eng.place(eng.trader, symbol=option, qty=7)  # NIFTY options trade in lots of 65
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("QTY_NOT_LOT_MULTIPLE: ")


@pytest.mark.parametrize("fields, words", [
    ({"qty": 0}, "QTY_NOT_POSITIVE"),
    ({"order_type": pb.ORDER_TYPE_LIMIT}, "BAD_PRICE: LIMIT order needs a price > 0"),
    ({"symbol": "NOSUCHSTOCK"}, "UNKNOWN_INSTRUMENT"),
    ({"side": pb.SIDE_UNSPECIFIED}, "side is required"),
])
def test_bad_order_request_is_refused_before_it_reaches_the_engine(eng, fields, words) -> None:
    before = eng.ledger(lambda s: len(s.orders()))
    with pytest.raises(grpc.RpcError) as caught:
        eng.place(eng.trader, **fields)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in caught.value.details()
    assert eng.ledger(lambda s: len(s.orders())) == before


def test_request_id_makes_placing_idempotent(eng) -> None:
    first = eng.place(eng.trader, request_id="same-request-1")
    again = eng.place(eng.trader, request_id="same-request-1")
    assert again.client_order_id == first.client_order_id
    orders = eng.ledger(lambda s: s.orders())
    assert [o.intent_id for o in orders.values()].count("manual-tina-same-request-1") == 1


def resting_limit_price(eng) -> int:
    """3% under the last RELIANCE trade, on the 5-paise tick: inside risk's 5% band, far from a fill."""
    fills = eng.ledger(lambda s: [f for f in s.fills().values() if f.security_id == 2885])
    last = max(fills, key=lambda f: f.ts_event_ns).price_paise
    return last * 97 // 100 // 5 * 5


def test_cancel_an_open_order_then_cancel_again_and_an_unknown_id(eng) -> None:
    eng.place(eng.trader)  # a trade to price the limit from
    order = eng.place(eng.trader, order_type=pb.ORDER_TYPE_LIMIT, price_paise=resting_limit_price(eng))
    canceled = eng.call("OrderService", "CancelOrder", pb.CancelOrderRequest(client_order_id=order.client_order_id),
                        eng.trader).order
    assert canceled.state == pb.ORDER_STATE_CANCELED
    assert eng.code("OrderService", "CancelOrder", pb.CancelOrderRequest(client_order_id=order.client_order_id),
                    eng.trader) == grpc.StatusCode.FAILED_PRECONDITION
    assert eng.code("OrderService", "CancelOrder", pb.CancelOrderRequest(client_order_id="SKNOPE-999"),
                    eng.trader) == grpc.StatusCode.NOT_FOUND


def test_cancel_all_cancels_every_open_order(eng) -> None:
    eng.place(eng.trader)
    price = resting_limit_price(eng)
    ids = {eng.place(eng.trader, order_type=pb.ORDER_TYPE_LIMIT, price_paise=price).client_order_id for _ in range(2)}
    for coid in ids:
        eng.wait_order(coid, pb.ORDER_STATE_ACCEPTED)
    open_now = eng.call("OrderService", "ListOrders", pb.ListOrdersRequest(open_only=True), eng.viewer).orders
    assert ids <= {o.client_order_id for o in open_now}
    sent = eng.call("OrderService", "CancelAllOrders", pb.CancelAllOrdersRequest(), eng.trader)
    assert ids <= set(sent.client_order_ids)
    for coid in ids:
        eng.wait_order(coid, pb.ORDER_STATE_CANCELED)


def test_watch_orders_streams_the_events_and_fill_of_a_placed_order(eng) -> None:
    stream = eng.stub("OrderService").WatchOrders(pb.WatchOrdersRequest(strategy="manual:tina"),
                                                  metadata=(("authorization", f"Bearer {eng.viewer}"),),
                                                  timeout=CALL_TIMEOUT_S)
    try:
        assert ("shikra-watch", "subscribed") in stream.initial_metadata()  # registered: nothing is missed
        coid = eng.place(eng.trader).client_order_id
        states, fills = [], []
        for event in stream:
            kind = event.WhichOneof("event")
            if kind == "order" and event.order.client_order_id == coid:
                states.append(event.order.state)
            elif kind == "fill" and event.fill.client_order_id == coid:
                fills.append(event.fill)
            if pb.ORDER_STATE_FILLED in states and fills:
                break
    finally:
        stream.cancel()
    assert states[0] == pb.ORDER_STATE_SUBMITTED and states[-1] == pb.ORDER_STATE_FILLED
    assert sum(f.qty_units for f in fills) == 1


def test_watch_without_a_token_is_unauthenticated(eng) -> None:
    stream = eng.stub("OrderService").WatchOrders(pb.WatchOrdersRequest(), timeout=CALL_TIMEOUT_S)
    with pytest.raises(grpc.RpcError) as caught:
        next(stream)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


# Risk and kill switch ---------------------------------------------------------------------------


def test_kill_switch_halts_orders_and_only_an_admin_releases_it(eng) -> None:
    assert eng.code("RiskService", "EngageKillSwitch", pb.EngageKillSwitchRequest(), eng.trader) == \
        grpc.StatusCode.INVALID_ARGUMENT  # a reason is required
    engaged = eng.call("RiskService", "EngageKillSwitch", pb.EngageKillSwitchRequest(reason="fire drill"), eng.trader)
    try:
        assert engaged.kill_switch.engaged and engaged.kill_switch.by == "control:tina"
        state = eng.call("RiskService", "GetRiskState", pb.GetRiskStateRequest(), eng.viewer)
        assert state.state == pb.TRADING_STATE_HALTED and state.kill_switch.engaged
        assert state.kill_switch.reason == "fire drill"
        with pytest.raises(grpc.RpcError) as caught:
            eng.place(eng.trader)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert caught.value.details().startswith("HALTED")
        assert eng.code("RiskService", "ReleaseKillSwitch", pb.ReleaseKillSwitchRequest(), eng.trader) == \
            grpc.StatusCode.PERMISSION_DENIED
    finally:
        released = eng.call("RiskService", "ReleaseKillSwitch", pb.ReleaseKillSwitchRequest(), eng.admin)
    assert not released.kill_switch.engaged
    state = eng.call("RiskService", "GetRiskState", pb.GetRiskStateRequest(), eng.viewer)
    assert state.state == pb.TRADING_STATE_ACTIVE and not state.kill_switch.engaged
    assert eng.place(eng.trader).state == pb.ORDER_STATE_SUBMITTED


# Auth, roles, users, audit ----------------------------------------------------------------------

VIEWER_CALLS = {"GetStatus", "ListActors", "GetSchedule", "ListOrders", "GetOrder", "ListTrades", "ListPositions", "GetFunds",
                "GetRiskState", "GetRiskLimits", "SearchInstruments", "GetOptionChain", "GetQuote", "GetPricedChain", "GetOiTracker", "Scan",
                "ListStrategies",
                "GetStrategyParams", "GetJournal", "GetDayPnl"}
TRADER_CALLS = VIEWER_CALLS | {"PlaceOrder", "ModifyOrder", "CancelOrder", "CancelAllOrders", "EngageKillSwitch",
                               "SquareOffAll", "StartStrategy", "StopStrategy", "SetStrategyParams", "ConvertPosition"}
ADMIN_CALLS = TRADER_CALLS | {"ReleaseKillSwitch", "AddUser", "ListUsers", "RevokeUser", "SetRiskLimits"}


def unary_methods() -> list[tuple[str, str, Any]]:
    return [(service.name, m.name, getattr(pb, m.input_type.name)())
            for service in SERVICES.values() for m in service.methods if not m.server_streaming]


@pytest.mark.parametrize("role, allowed", [("viewer", VIEWER_CALLS), ("trader", TRADER_CALLS),
                                           ("admin", ADMIN_CALLS)])
def test_each_role_reaches_exactly_its_methods(eng, role, allowed) -> None:
    token = {"viewer": eng.viewer, "trader": eng.trader, "admin": eng.admin}[role]
    methods = unary_methods()
    assert {m for _s, m, _r in methods} == ADMIN_CALLS  # every unary RPC is in the matrix
    for service, method, empty_request in methods:
        code = eng.code(service, method, empty_request, token)
        if method in allowed:
            # Empty requests may be refused for what they lack, never for who sent them.
            assert code not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED), (role, method)
        else:
            assert code == grpc.StatusCode.PERMISSION_DENIED, (role, method, code)


def test_missing_malformed_and_unknown_tokens_are_unauthenticated(eng) -> None:
    request = pb.ListOrdersRequest()
    assert eng.code("OrderService", "ListOrders", request, None) == grpc.StatusCode.UNAUTHENTICATED
    assert eng.code("OrderService", "ListOrders", request, "not-a-token") == grpc.StatusCode.UNAUTHENTICATED
    assert eng.code("OrderService", "ListOrders", request, "shk_" + "A" * 43) == grpc.StatusCode.UNAUTHENTICATED


def test_revoked_token_fails_on_its_very_next_call(eng) -> None:
    token = eng.add_user("rita", pb.ROLE_TRADER)
    assert eng.code("OrderService", "ListOrders", pb.ListOrdersRequest(), token) == grpc.StatusCode.OK
    revoked = eng.call("UserService", "RevokeUser", pb.RevokeUserRequest(name="rita"), eng.admin)
    assert revoked.tokens_revoked == 1 and not revoked.user.active
    with pytest.raises(grpc.RpcError) as caught:
        eng.call("OrderService", "ListOrders", pb.ListOrdersRequest(), token)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in caught.value.details()


def test_users_are_listed_and_the_last_admin_cannot_be_revoked(eng) -> None:
    users = {u.name: u for u in eng.call("UserService", "ListUsers", pb.ListUsersRequest(), eng.admin).users}
    assert (users["tina"].role, users["vic"].role, users["root"].role) == (pb.ROLE_TRADER, pb.ROLE_VIEWER,
                                                                           pb.ROLE_ADMIN)
    assert users["tina"].active and users["tina"].active_tokens == 1 and users["tina"].updated_by == "root"
    assert eng.code("UserService", "RevokeUser", pb.RevokeUserRequest(name="root"), eng.admin) == \
        grpc.StatusCode.FAILED_PRECONDITION
    assert eng.code("UserService", "AddUser", pb.AddUserRequest(name="root", role=pb.ROLE_VIEWER), eng.admin) == \
        grpc.StatusCode.FAILED_PRECONDITION  # nor demoted: nobody could manage users any more
    assert eng.code("UserService", "AddUser", pb.AddUserRequest(name="Bad Name", role=pb.ROLE_VIEWER), eng.admin) == \
        grpc.StatusCode.INVALID_ARGUMENT
    assert eng.code("UserService", "RevokeUser", pb.RevokeUserRequest(name="nobody"), eng.admin) == \
        grpc.StatusCode.NOT_FOUND


def test_state_changing_calls_and_rejections_are_audited(eng) -> None:
    placed = eng.place(eng.trader, request_id="audit-probe-1")
    assert eng.code("OrderService", "PlaceOrder", pb.PlaceOrderRequest(request_id="audit-probe-2"), eng.viewer) == \
        grpc.StatusCode.PERMISSION_DENIED
    unknown = "shk_" + "Z" * 43
    assert eng.code("PortfolioService", "GetFunds", pb.GetFundsRequest(account="audit-probe-3"), unknown) == \
        grpc.StatusCode.UNAUTHENTICATED

    def find() -> tuple[Any, Any, Any] | None:
        rows = eng.audit_rows()
        ok = [r for r in rows if r.action == "PlaceOrder" and r.args.get("request_id") == "audit-probe-1"]
        denied = [r for r in rows if r.action == "PlaceOrder" and r.args.get("request_id") == "audit-probe-2"]
        anon = [r for r in rows if r.action == "GetFunds" and r.args.get("failure") == "UNKNOWN_TOKEN"]
        return (ok[0], denied[0], anon[-1]) if ok and denied and anon else None

    ok, denied, anon = eventually(find, "audit rows")
    assert ok.who == "tina" and ok.args["instrument.symbol"] == "RELIANCE" and ok.args["qty_units"] == "1"
    assert ok.result == f"OK order {placed.client_order_id} SUBMITTED" and ok.ts_ns > 0
    assert denied.who == "vic" and denied.args["failure"] == "ROLE_TOO_LOW"
    assert denied.result.startswith("PERMISSION_DENIED: user vic has role viewer; PlaceOrder needs trader")
    assert anon.who == "unknown" and anon.result.startswith("UNAUTHENTICATED") and anon.args["peer"]

    # Every other state-changing call, each with an argument to find its row by.
    eng.add_user("audrey", pb.ROLE_VIEWER)
    eng.call("UserService", "RevokeUser", pb.RevokeUserRequest(name="audrey"), eng.admin)
    eng.code("OrderService", "CancelOrder", pb.CancelOrderRequest(client_order_id="SKNOPE-audit"), eng.trader)
    eng.call("OrderService", "CancelAllOrders", pb.CancelAllOrdersRequest(strategy="audit-probe"), eng.trader)
    eng.call("RiskService", "EngageKillSwitch", pb.EngageKillSwitchRequest(reason="audit drill"), eng.trader)
    eng.call("RiskService", "ReleaseKillSwitch", pb.ReleaseKillSwitchRequest(), eng.admin)
    expected = {
        ("AddUser", "name", "audrey"): ("root", "OK user audrey role ROLE_VIEWER token "),
        ("RevokeUser", "name", "audrey"): ("root", "OK user audrey revoked, 1 tokens"),
        ("CancelOrder", "client_order_id", "SKNOPE-audit"): ("tina", "NOT_FOUND: no order 'SKNOPE-audit'"),
        ("CancelAllOrders", "strategy", "audit-probe"): ("tina", "OK cancel sent for 0 open orders"),
        ("EngageKillSwitch", "reason", "audit drill"): ("tina", "OK kill switch engaged"),
        ("BootstrapAdmin", "name", "root"): ("local:", "OK user root role admin token "),
    }

    def rows_for_each() -> dict | None:
        rows = eng.audit_rows()
        found = {key: [r for r in rows if r.action == key[0] and r.args.get(key[1]) == key[2]] for key in expected}
        released = [r for r in rows if r.action == "ReleaseKillSwitch" and r.who == "root"]
        return found if all(found.values()) and released else None

    for (action, _field, _value), rows in eventually(rows_for_each, "audit rows of every call").items():
        who, result = expected[(action, _field, _value)]
        assert rows[-1].who.startswith(who) and rows[-1].result.startswith(result), (action, rows[-1])
    rows = eng.audit_rows()
    texts = [value for r in rows for value in (r.who, r.result, *r.args.values())]
    assert not any(token in text for token in (eng.admin, eng.trader, eng.viewer, unknown) for text in texts)


def test_bootstrap_admin_while_running_is_recorded_by_the_daemon_and_saved_0600(eng, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("SHIKRA_TOKEN", raising=False)
    code, out, err = run_cli(["users", "bootstrap-admin", "second", "--save", *eng.cli_args()])
    assert code == 0 and "recorded by the running daemon" in err
    token = out.strip()
    saved = tmp_path / "shikra" / "token"
    assert saved.read_text().strip() == token and saved.stat().st_mode & 0o777 == 0o600
    users = eng.call("UserService", "ListUsers", pb.ListUsersRequest(), token).users  # an admin-only call
    assert any(u.name == "second" and u.role == pb.ROLE_ADMIN for u in users)
    code, out, _ = run_cli(["users", "list", "--json", *eng.cli_args()])  # the saved token is the default
    assert code == 0 and "second" in {u["name"] for u in json.loads(out)["users"]}
    code, _, err = run_cli(["users", "bootstrap-admin", "third", "--save", *eng.cli_args()])
    assert code == 2 and "--force" in err  # an existing token file is never overwritten silently


# Status, instruments, health, reflection --------------------------------------------------------


def test_status_lists_every_actor_ready(eng) -> None:
    status = eng.call("EngineService", "GetStatus", pb.GetStatusRequest(), eng.viewer)
    assert status.state == "running" and status.pid == eng.d.pid
    actors = {a.name: a for a in status.actors}
    assert set(actors) == set(ACTORS)
    assert all(a.state == "ready" and a.pid > 0 and a.last_heartbeat_ns > 0 for a in actors.values())
    assert all(a.restarts == 0 and a.uptime_ns > 0 for a in actors.values())


def test_instrument_search_and_option_chain(eng) -> None:
    found = eng.call("InstrumentService", "SearchInstruments", pb.SearchInstrumentsRequest(text="reliance"),
                     eng.viewer).instruments
    assert found[0].symbol == "RELIANCE" and found[0].segment == "NSE_EQ" and found[0].tick_paise == 5
    chain = eng.call("InstrumentService", "GetOptionChain", pb.GetOptionChainRequest(underlying="NIFTY"), eng.viewer)
    assert chain.lot_size_units == 65 and chain.expiry_yyyymmdd == chain.expiries[0]
    assert len(chain.strikes) >= 3 and chain.step_paise > 0
    strikes = [s.strike_paise for s in chain.strikes]
    assert strikes == sorted(strikes)
    assert all(s.ce_symbol.endswith("-CE") and s.pe_symbol.endswith("-PE") for s in chain.strikes)
    assert eng.code("InstrumentService", "GetOptionChain", pb.GetOptionChainRequest(underlying="NOPE"),
                    eng.viewer) == grpc.StatusCode.NOT_FOUND


def test_quotes_and_the_priced_chain_come_from_the_running_feed(eng, monkeypatch) -> None:
    """The control actor keeps the synthetic feed's market data from the bus: a fresh quote, and a
    NIFTY chain whose options (priced by the synthetic market at 15 %) solve to about 15 %."""
    def priced() -> Any:
        r = eng.call("MarketService", "GetPricedChain", pb.GetPricedChainRequest(underlying="NIFTY",
                                                                                strikes_each_side=1), eng.viewer)
        atm = [s for s in r.strikes if s.atm]
        return atm and atm[0].ce.iv_status == "OK" and atm[0].pe.iv_status == "OK" and r

    chain = eventually(priced, "the ATM options of NIFTY priced from the feed", 30.0)
    assert chain.underlying_source == "spot" and len(chain.strikes) == 3
    atm = next(s for s in chain.strikes if s.atm)
    assert abs(atm.ce.iv_ppm - 150_000) < 5_000 and abs(atm.pe.iv_ppm - 150_000) < 5_000
    quote = eng.call("MarketService", "GetQuote", pb.GetQuoteRequest(instruments=[pb.InstrumentRef(symbol="RELIANCE")]),
                     eng.viewer).quotes[0]
    assert quote.has_data and quote.ltp_paise > 0 and quote.ts_received_ns > 0
    monkeypatch.setenv("SHIKRA_TOKEN", eng.viewer)
    code, out, err = run_cli(["quote", "RELIANCE", "--json", *eng.cli_args()])
    assert code == 0, err
    assert json.loads(out)["quotes"][0]["symbol"] == "RELIANCE"


def test_the_oi_tracker_and_the_scanner_answer_from_the_running_feed(eng, monkeypatch) -> None:
    """The synthetic feed's NIFTY options carry OI: the tracker totals it per side with a put-call
    ratio and a max-pain strike of the chain; the default screens run over the live market."""
    def tracked() -> Any:
        r = eng.call("MarketService", "GetOiTracker", pb.GetOiTrackerRequest(underlying="NIFTY"), eng.viewer)
        return r.ce_oi_units > 0 and r.pe_oi_units > 0 and r

    r = eventually(tracked, "NIFTY's OI tracked from the feed", 30.0)
    assert r.pcr_oi_ppm == (2 * r.pe_oi_units * 1_000_000 + r.ce_oi_units) // (2 * r.ce_oi_units)
    assert r.max_pain_strike_paise in {s.strike_paise for s in r.strikes}
    assert list(r.windows_s) == [0, 300, 900, 3600]
    scan = eng.call("MarketService", "Scan", pb.ScanRequest(), eng.viewer)
    assert [res.screen for res in scan.results] == ["gainers", "losers", "volume-spikes", "oi-buildup", "gap-up",
                                                    "gap-down", "near-high", "near-low"]
    assert all(res.universe_size > 0 for res in scan.results)
    monkeypatch.setenv("SHIKRA_TOKEN", eng.viewer)
    code, out, err = run_cli(["oi", "NIFTY", "--json", *eng.cli_args()])
    assert code == 0, err
    assert json.loads(out)["underlying"] == "NIFTY"


def test_health_and_reflection_answer_without_a_token(eng) -> None:
    health = health_pb2_grpc.HealthStub(eng.channel)
    for service in ("", "shikra.v1.OrderService"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT_S)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(eng.channel)
    requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol="shikra.v1.OrderService")]
    listed, described = list(reflect.ServerReflectionInfo(iter(requests), timeout=CALL_TIMEOUT_S))
    names = {s.name for s in listed.list_services_response.service}
    assert {f"shikra.v1.{name}" for name in SERVICES} <= names and "grpc.health.v1.Health" in names
    from google.protobuf import descriptor_pb2

    proto = descriptor_pb2.FileDescriptorProto.FromString(described.file_descriptor_response.file_descriptor_proto[0])
    assert proto.name == "shikra/v1/control.proto" and proto.package == "shikra.v1"


# CLI --------------------------------------------------------------------------------------------


def test_cli_buy_shows_in_orders_json_and_a_bad_qty_exits_5_with_the_reason(eng) -> None:
    env = {**os.environ, "SHIKRA_TOKEN": eng.trader}
    base = [sys.executable, "-m", "engine.cli"]
    bought = subprocess.run([*base, "buy", "RELIANCE", "1", *eng.cli_args()], env=env, capture_output=True,
                            text=True, timeout=60)
    assert bought.returncode == 0, bought.stderr
    coid = re.match(r"order (\S+) SUBMITTED: BUY 1 RELIANCE MARKET", bought.stdout).group(1)
    listed = subprocess.run([*base, "orders", "--json", *eng.cli_args()], env=env, capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0, listed.stderr
    mine = [o for o in json.loads(listed.stdout)["orders"] if o["client_order_id"] == coid]
    assert mine and mine[0]["side"] == "BUY" and mine[0]["qty_units"] == 1 and mine[0]["symbol"] == "RELIANCE"
    bad = subprocess.run([*base, "buy", "RELIANCE", "0", *eng.cli_args()], env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 5
    assert "INVALID_ARGUMENT: QTY_NOT_POSITIVE: qty 0 must be positive" in bad.stderr


def test_cli_exit_codes_for_auth_unreachable_and_usage(eng, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SHIKRA_TOKEN", eng.viewer)
    code, _out, err = run_cli(["buy", "RELIANCE", "1", *eng.cli_args()])
    assert code == 4 and "PERMISSION_DENIED" in err
    code, out, _err = run_cli(["funds", "--json", *eng.cli_args()])
    assert code == 0 and json.loads(out)["cash_paise"] > 0
    code, _out, err = run_cli(["orders", "--server", "127.0.0.1:1", "--timeout", "2", *eng.cli_args()])
    assert code == 3 and "UNAVAILABLE" in err
    code, _out, err = run_cli(["buy", "RELIANCE", "1", "--limit", "12.345", *eng.cli_args()])
    assert code == 2 and "more than 2 decimal places" in err
    monkeypatch.delenv("SHIKRA_TOKEN")
    token_file = tmp_path / "token"
    token_file.write_text(eng.viewer)
    token_file.chmod(0o644)
    code, _out, err = run_cli(["orders", "--token-file", str(token_file), *eng.cli_args()])
    assert code == 4 and "chmod 600" in err
    token_file.chmod(0o600)
    code, out, _err = run_cli(["risk", "show", "--token-file", str(token_file), *eng.cli_args()])
    assert code == 0 and out.startswith("trading ACTIVE")


def test_cli_watch_prints_events_as_json_lines(eng) -> None:
    env = {**os.environ, "SHIKRA_TOKEN": eng.viewer}
    watch = subprocess.Popen([sys.executable, "-m", "engine.cli", "watch", "--count", "2", "--json", "--strategy",
                              "manual:tina", *eng.cli_args()], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        def placed_and_seen() -> bool:  # orders until the watch has subscribed and seen two events
            eng.place(eng.trader)
            return watch.poll() is not None

        eventually(placed_and_seen, "shikra watch to print two events and exit", 30.0, poll_s=0.2)
        out, err = watch.communicate(timeout=10)
    finally:
        watch.kill()
    assert watch.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 2 and all(e.get("order", e.get("fill", {})).get("strategy") == "manual:tina"
                                    for e in events)


def test_cli_tables_for_positions_users_and_instruments(eng, monkeypatch) -> None:
    eng.wait_order(eng.place(eng.trader).client_order_id, pb.ORDER_STATE_FILLED)
    monkeypatch.setenv("SHIKRA_TOKEN", eng.admin)
    code, out, _ = run_cli(["positions", *eng.cli_args()])
    assert code == 0 and "manual:tina" in out and "RELIANCE" in out
    code, out, _ = run_cli(["pnl", "--json", *eng.cli_args()])
    assert code == 0 and any(s["strategy"] == "manual:tina" for s in json.loads(out)["strategies"])
    code, out, _ = run_cli(["users", "list", *eng.cli_args()])
    assert code == 0 and re.search(r"tina\s+trader\s+active", out)
    code, out, _ = run_cli(["instruments", "chain", "NIFTY", *eng.cli_args()])
    assert code == 0 and "NIFTY" in out and "*ATM*" in out


# TLS --------------------------------------------------------------------------------------------


def make_pki(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def cert(subject: str, key: Any, issuer: x509.Name | None, issuer_key: Any, *, ca: bool,
             usage: Any = None, san: list[Any] | None = None) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def write(name: str, data: bytes) -> Path:
        path = directory / name
        path.write_bytes(data)
        return path

    def key_pem(key: Any) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = cert("shikra test CA", ca_key, None, ca_key, ca=True)
    server = cert("localhost", server_key, ca.subject, ca_key, ca=False, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                  san=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client = cert("operator", client_key, ca.subject, ca_key, ca=False, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    pem = serialization.Encoding.PEM
    return {"ca": write("ca.pem", ca.public_bytes(pem)), "server": write("server.pem", server.public_bytes(pem)),
            "server_key": write("server.key", key_pem(server_key)),
            "client": write("client.pem", client.public_bytes(pem)),
            "client_key": write("client.key", key_pem(client_key))}


def test_mutual_tls_needs_the_ca_and_a_client_certificate(monkeypatch) -> None:
    root = short_tmpdir("sk-tls-")
    pki = make_pki(root)
    control = ControlConfig(listen="127.0.0.1:0", tls_cert=str(pki["server"]), tls_key=str(pki["server_key"]),
                            tls_client_ca=str(pki["ca"]))
    d = Daemon(root, engine_config(["execution", "control"], control))
    admin, _ = bootstrap_admin(d, "root")
    d.start()
    try:
        d.wait_running()
        info = wait_control_info(d)
        assert info["tls"] and info["mtls"]
        metadata = (("authorization", f"Bearer {admin}"),)
        ca, client_cert, client_key = (pki[k].read_bytes() for k in ("ca", "client", "client_key"))
        good = grpc.secure_channel(info["address"], grpc.ssl_channel_credentials(ca, client_key, client_cert))
        users = rpc.UserServiceStub(good).ListUsers(pb.ListUsersRequest(), metadata=metadata, timeout=CALL_TIMEOUT_S)
        assert [u.name for u in users.users] == ["root"]
        # This engine has no risk actor: an order is refused, not queued to reach the market later.
        with pytest.raises(grpc.RpcError) as caught:
            rpc.OrderServiceStub(good).PlaceOrder(pb.PlaceOrderRequest(
                instrument=pb.InstrumentRef(symbol="RELIANCE"), side=pb.SIDE_BUY, qty_units=1,
                order_type=pb.ORDER_TYPE_MARKET), metadata=metadata, timeout=CALL_TIMEOUT_S)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert caught.value.details() == "risk is not running; the order was not sent"
        good.close()
        for channel in (grpc.secure_channel(info["address"], grpc.ssl_channel_credentials(ca)),  # no client cert
                        grpc.insecure_channel(info["address"])):  # no TLS at all
            with pytest.raises(grpc.RpcError) as caught:
                rpc.UserServiceStub(channel).ListUsers(pb.ListUsersRequest(), metadata=metadata, timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            channel.close()
        monkeypatch.setenv("SHIKRA_TOKEN", admin)
        code, out, err = run_cli(["users", "list", "--json", "--server", info["address"], "--tls-ca", str(pki["ca"]),
                                  "--tls-cert", str(pki["client"]), "--tls-key", str(pki["client_key"]),
                                  "--config", str(d.config_path), "--data-dir", str(d.data_dir)])
        assert code == 0, err
        assert json.loads(out)["users"][0]["name"] == "root"
        assert d.stop() == 0
    finally:
        d.reap()
        if not os.environ.get("SHIKRA_KEEP_TMP"):
            shutil.rmtree(root, ignore_errors=True)


def test_risk_state_reports_live_usage_against_the_limits(eng) -> None:
    state = eventually(lambda: (found := eng.call("RiskService", "GetRiskState", pb.GetRiskStateRequest(), eng.viewer))
                 .HasField("usage") and found, "the risk usage (risk writes it every second)")
    u = state.usage
    assert u.max_orders_per_second == 1000 and u.max_open_orders == 50  # this module's daemon config
    assert u.orders_today >= 0 and u.cash_paise > 0 and u.ts_ns > 0
