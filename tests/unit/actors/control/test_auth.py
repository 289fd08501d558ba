"""Control API, pure parts: tokens, roles, the rejection-audit limiter, config rules, request
validation and conversion, and the thread bridge."""

from __future__ import annotations

import asyncio
import hashlib
import select
import threading

import grpc
import pytest

from actors.control import auth, convert
from actors.control.auth import AuditLimiter, AuthFailure, Principal, Rejection
from actors.control.bridge import Bridge
from actors.control.config import ControlConfig, check_control_config, control_config, split_listen
from engine.control_api import control_pb2 as pb
from engine.ledger.records import Token, User
from engine.model.instruments import Instrument
from ipc.messages import OrderDenied, OrderEvent, OrderSpec, OrderState

RELIANCE = Instrument(segment=1, security_id=2885, exchange="NSE", symbol="RELIANCE", display_name="Reliance",
                      underlying="RELIANCE", instrument="EQUITY", expiry_yyyymmdd=0, strike_paise=0, option_type="XX",
                      lot_size_units=1, tick_paise=5, freeze_qty_units=0, expiry_flag="")


def token_row(name: str = "alice", revoked: bool = False) -> Token:
    return Token(token_sha256="ab" * 32, token_id="t1", name=name, issued_ns=1, issued_by="root", revoked=revoked)


def user_row(name: str = "alice", role: str = "trader", active: bool = True) -> User:
    return User(name=name, role=role, active=active,  # type: ignore[arg-type]
                created_ns=1, updated_ns=1, updated_by="root")


# Tokens -----------------------------------------------------------------------------------------


def test_new_token_has_256_random_bits_and_only_its_sha256_is_the_key() -> None:
    issued = auth.new_token()
    assert issued.token.startswith("shk_") and len(issued.token) == 4 + 43
    assert issued.token_sha256 == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token_sha256 not in issued.token and len(issued.token_id) == 8
    assert auth.new_token().token != issued.token


def test_bearer_token_is_read_from_authorization_metadata() -> None:
    token = auth.new_token().token
    assert auth.bearer_token([("x-other", "1"), ("authorization", f"Bearer {token}")]) == token
    assert auth.bearer_token([("Authorization", f"bearer  {token} ")]) == token


@pytest.mark.parametrize("metadata, failure", [
    ([], AuthFailure.NO_TOKEN),
    ([("authorization", "Basic dXNlcjpwYXNz")], AuthFailure.MALFORMED),
    ([("authorization", "Bearer shk_short")], AuthFailure.MALFORMED),
    ([("authorization", "Bearer " + "x" * 47)], AuthFailure.MALFORMED),
])
def test_missing_or_malformed_bearer_token_is_a_rejection(metadata, failure) -> None:
    found = auth.bearer_token(metadata)
    assert isinstance(found, Rejection) and found.failure is failure and found.unauthenticated


def test_authenticate_refuses_unknown_revoked_token_and_revoked_user() -> None:
    assert auth.authenticate(None, None).failure is AuthFailure.UNKNOWN_TOKEN  # type: ignore[union-attr]
    revoked = auth.authenticate(token_row(revoked=True), user_row())
    assert isinstance(revoked, Rejection) and revoked.failure is AuthFailure.REVOKED_TOKEN and revoked.who == "alice"
    inactive = auth.authenticate(token_row(), user_row(active=False))
    assert isinstance(inactive, Rejection) and inactive.failure is AuthFailure.USER_INACTIVE
    ok = auth.authenticate(token_row(), user_row(role="viewer"))
    assert ok == Principal(name="alice", role="viewer", token_id="t1")


def test_every_rpc_in_the_proto_has_a_role_and_nothing_else_does() -> None:
    methods = {m.name for s in pb.DESCRIPTOR.services_by_name.values() for m in s.methods}
    assert set(auth.METHOD_ROLES) == methods
    assert auth.STATE_CHANGING <= methods


# The specification, written out: who may call what.
VIEWER_CALLS = {"GetStatus", "ListActors", "GetSchedule", "ListOrders", "GetOrder", "WatchOrders", "ListTrades", "ListPositions",
                "GetFunds", "GetRiskState", "GetRiskLimits", "SearchInstruments", "GetOptionChain", "GetQuote", "GetPricedChain", "GetOiTracker",
                "Scan", "ListStrategies",
                "GetStrategyParams", "GetJournal", "GetDayPnl"}
TRADER_CALLS = VIEWER_CALLS | {"PlaceOrder", "ModifyOrder", "CancelOrder", "CancelAllOrders", "EngageKillSwitch",
                               "SquareOffAll", "StartStrategy", "StopStrategy", "SetStrategyParams", "ConvertPosition"}
ADMIN_CALLS = TRADER_CALLS | {"ReleaseKillSwitch", "AddUser", "ListUsers", "RevokeUser", "SetRiskLimits"}


@pytest.mark.parametrize("role, allowed", [("viewer", VIEWER_CALLS), ("trader", TRADER_CALLS),
                                           ("admin", ADMIN_CALLS)])
def test_authorize_follows_the_role_table(role, allowed) -> None:
    who = Principal(name="u", role=role, token_id="t")
    for method in auth.METHOD_ROLES:
        result = auth.authorize(who, method)
        if method in allowed:
            assert result == who, method
        else:
            assert isinstance(result, Rejection) and result.failure is AuthFailure.ROLE_TOO_LOW, method
            assert not result.unauthenticated and f"needs {auth.METHOD_ROLES[method]}" in result.message


def test_a_method_without_a_role_is_closed_to_everyone() -> None:
    result = auth.authorize(Principal(name="root", role="admin", token_id="t"), "DropLedger")
    assert isinstance(result, Rejection) and result.failure is AuthFailure.UNKNOWN_METHOD


@pytest.mark.parametrize("name, ok", [("alice", True), ("a.b-c_9", True), ("", False), ("Alice", False),
                                      ("9lives", False), ("a" * 33, False), ("a b", False), ("a:b", False)])
def test_user_names_are_short_lower_case_words(name, ok) -> None:
    assert (auth.check_user_name(name) is None) is ok


def test_audit_limiter_passes_a_burst_then_counts_what_it_suppresses() -> None:
    limiter = AuditLimiter(rate_per_s=2.0, burst=3)
    assert [limiter.admit(100.0) for _ in range(5)] == [0, 0, 0, None, None]
    assert limiter.admit(100.4) is None  # 0.8 of a row refilled: still suppressed
    assert limiter.admit(100.6) == 3  # the next row written says 3 were left out
    assert limiter.suppressed_total == 3


# Config -----------------------------------------------------------------------------------------


def test_control_config_defaults_to_loopback_plaintext() -> None:
    cc = ControlConfig()
    assert cc.listen == "127.0.0.1:7470" and check_control_config(cc) is None
    assert split_listen("[::1]:0") == ("::1", 0)


@pytest.mark.parametrize("fields, words", [
    ({"listen": "0.0.0.0:7470"}, "loopback"),
    ({"listen": "localhost"}, "host:port"),
    ({"listen": "127.0.0.1:70000"}, "host:port"),
    ({"tls_cert": "c.pem"}, "together"),
    ({"tls_client_ca": "ca.pem"}, "mutual TLS"),
    ({"request_timeout_s": 0.0}, "request_timeout_s"),
])
def test_control_config_rules_name_the_key(fields, words) -> None:
    problem = check_control_config(ControlConfig(**fields))
    assert problem is not None and words in problem


def test_remote_listen_is_allowed_with_tls_or_an_explicit_opt_out() -> None:
    assert check_control_config(ControlConfig(listen="0.0.0.0:7470", tls_cert="c", tls_key="k")) is None
    assert check_control_config(ControlConfig(listen="0.0.0.0:7470", allow_insecure_remote=True)) is None


def test_control_config_comes_from_the_environment_until_the_config_has_the_section() -> None:
    class NoSection:
        pass

    assert control_config(NoSection(), {"SHIKRA_CONTROL_CONFIG": '{"listen": "127.0.0.1:0"}'}).listen == "127.0.0.1:0"
    with pytest.raises(ValueError, match="unknown_key"):
        control_config(NoSection(), {"SHIKRA_CONTROL_CONFIG": '{"unknown_key": 1}'})

    class WithSection:
        control = ControlConfig(listen="127.0.0.1:9999")

    assert control_config(WithSection(), {"SHIKRA_CONTROL_CONFIG": '{"listen": "127.0.0.1:0"}'}).listen.endswith("9999")


# Requests ---------------------------------------------------------------------------------------


def place(**fields: object) -> pb.PlaceOrderRequest:
    base: dict = dict(instrument=pb.InstrumentRef(symbol="RELIANCE"), side=pb.SIDE_BUY, qty_units=1,
                      order_type=pb.ORDER_TYPE_MARKET)
    base.update(fields)
    return pb.PlaceOrderRequest(**base)


def refusal_of(req: pb.PlaceOrderRequest) -> convert.Refusal | None:
    """The API's edge checks of a place request for RELIANCE (lot 1, tick 5 paise), in order."""
    return convert.check_order_request(req) or convert.order_refusal(convert.spec_from_request(req, RELIANCE),
                                                                     RELIANCE)


@pytest.mark.parametrize("fields, words", [
    ({"side": pb.SIDE_UNSPECIFIED}, "side is required"),
    ({"order_type": pb.ORDER_TYPE_UNSPECIFIED}, "order_type is required"),
    ({"qty_units": 0}, "QTY_NOT_POSITIVE: qty 0"),
    ({"qty_units": -5}, "QTY_NOT_POSITIVE: qty -5"),
    ({"order_type": pb.ORDER_TYPE_LIMIT}, "BAD_PRICE: LIMIT order needs a price > 0"),
    ({"price_paise": 100}, "BAD_PRICE: MARKET order must have price 0; got price 100 paise"),
    ({"order_type": pb.ORDER_TYPE_SL_M}, "SL_M order needs a trigger price > 0"),
    ({"order_type": pb.ORDER_TYPE_SL, "price_paise": 100}, "SL order needs a trigger price > 0"),
    ({"order_type": pb.ORDER_TYPE_LIMIT, "price_paise": 100, "trigger_price_paise": 90}, "must have trigger price 0"),
    ({"order_type": pb.ORDER_TYPE_LIMIT, "price_paise": -100}, "must not be negative"),
    ({"order_type": pb.ORDER_TYPE_LIMIT, "price_paise": 102}, "PRICE_NOT_ON_TICK: price 102 paise"),
    ({"request_id": "has space"}, "request_id"),
])
def test_bad_place_request_is_invalid_argument_naming_the_field(fields, words) -> None:
    refusal = refusal_of(place(**fields))
    assert refusal is not None and refusal.code is grpc.StatusCode.INVALID_ARGUMENT and words in refusal.message


def test_place_request_becomes_an_intent_of_the_users_manual_strategy() -> None:
    req = place(order_type=pb.ORDER_TYPE_SL, price_paise=244995, trigger_price_paise=245000, side=pb.SIDE_SELL,
                qty_units=7, reduce_only=True)
    assert refusal_of(req) is None
    intent = convert.intent_from_request(req, convert.spec_from_request(req, RELIANCE), "alice", "manual-alice-x",
                                         123)
    assert (intent.strategy, intent.reduce_only) == ("manual:alice", True)
    assert intent.spec == OrderSpec(segment=1, security_id=2885, side="SELL", order_type="SL", validity="DAY",
                                    product="INTRADAY", qty_units=7, price_paise=244995, trigger_price_paise=245000)
    assert convert.intent_id_for("alice", "abc", "fresh") == "manual-alice-abc"
    assert convert.intent_id_for("alice", "", "fresh") == "manual-alice-fresh"


def test_instrument_ref_takes_an_id_or_a_symbol() -> None:
    assert convert.instrument_key(pb.InstrumentRef(segment="nse_eq", security_id=2885)) == (1, 2885)
    assert convert.instrument_key(pb.InstrumentRef(symbol=" RELIANCE ")) == "RELIANCE"
    assert isinstance(convert.instrument_key(pb.InstrumentRef(segment="NOPE", security_id=1)), convert.Refusal)
    assert isinstance(convert.instrument_key(pb.InstrumentRef()), convert.Refusal)


def test_risk_denials_map_to_invalid_argument_or_failed_precondition() -> None:
    def denied(code: str) -> OrderDenied:
        return OrderDenied("i", "manual:a", 2, 5, code, "qty 7 is not a multiple of lot size 65", 1, 1)

    bad = convert.denial_refusal(denied("QTY_NOT_LOT_MULTIPLE"))
    assert bad.code is grpc.StatusCode.INVALID_ARGUMENT
    assert bad.message == "QTY_NOT_LOT_MULTIPLE: qty 7 is not a multiple of lot size 65"
    for state_dependent in ("HALTED", "MAX_OPEN_ORDERS", "INSUFFICIENT_FUNDS", "MARKET_CLOSED"):
        assert convert.denial_refusal(denied(state_dependent)).code is grpc.StatusCode.FAILED_PRECONDITION


def test_order_event_converts_exactly_with_integer_money() -> None:
    spec = OrderSpec(segment=1, security_id=2885, side="BUY", order_type="LIMIT", validity="IOC", product="CNC",
                     qty_units=10, price_paise=245005)
    event = OrderEvent("SK-1", "i-1", "manual:a", spec, OrderState.PARTIALLY_FILLED, 4, 980020, "V1", "", "", 5, 6,
                       ts_created_ns=3)
    msg = convert.order_to_pb(event, "RELIANCE")
    assert (msg.segment, msg.side, msg.order_type, msg.validity, msg.product, msg.state) == \
           ("NSE_EQ", pb.SIDE_BUY, pb.ORDER_TYPE_LIMIT, pb.VALIDITY_IOC, pb.PRODUCT_CNC,
            pb.ORDER_STATE_PARTIALLY_FILLED)
    assert (msg.price_paise, msg.filled_qty_units, msg.filled_value_paise, msg.ts_created_ns) == (245005, 4, 980020, 3)
    assert set(convert.ORDER_STATE_TO_PB) == set(OrderState)  # every engine state has an API value


def test_request_args_flatten_set_fields_with_enum_names_for_the_audit() -> None:
    args = convert.request_args(place(price_paise=0, request_id="r1"))
    assert args == {"instrument.symbol": "RELIANCE", "side": "SIDE_BUY", "qty_units": "1",
                    "order_type": "ORDER_TYPE_MARKET", "request_id": "r1"}


# Bridge -----------------------------------------------------------------------------------------


class _ActorLoop:
    """A stand-in for the actor loop: select() on the bridge fd, drain, until stopped."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.errors: list[Exception] = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop:
            ready, _, _ = select.select([self.bridge.fileno()], [], [], 0.05)
            if ready:
                self.bridge.drain(self.errors.append)


def test_bridge_runs_work_on_the_other_loop_in_order_and_answers_back() -> None:
    bridge = Bridge()
    loop_thread = _ActorLoop(bridge)
    seen: list[tuple[str, int]] = []

    async def main() -> list:
        for n in range(3):
            bridge.post(lambda n=n: seen.append((threading.current_thread().name, n)))
        answer = await bridge.ask(lambda done: done(41 + 1), timeout_s=5)
        with pytest.raises(TimeoutError):
            await bridge.ask(lambda done: None, timeout_s=0.05)  # nobody ever answers
        with pytest.raises(ZeroDivisionError):
            await bridge.ask(lambda done: done(1 // 0), timeout_s=5)  # the error, not a timeout
        return [answer]

    try:
        assert asyncio.run(main()) == [42]
    finally:
        loop_thread.stop = True
        loop_thread.thread.join()
        bridge.close()
    assert [n for _, n in seen] == [0, 1, 2]
    assert {name for name, _ in seen} == {loop_thread.thread.name}
    assert len(loop_thread.errors) == 1 and isinstance(loop_thread.errors[0], ZeroDivisionError)
