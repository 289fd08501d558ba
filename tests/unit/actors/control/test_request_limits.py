"""Hostile requests against the control API: a real ControlApi behind a real gRPC server on a
loopback port, a real ledger with an admin token, and an engine side that answers at once. Every
refusal reaches the client with its status and a bounded text; nothing answers INTERNAL or
UNKNOWN; sizes over the limits are refused INVALID_ARGUMENT naming the field and the limit."""

from __future__ import annotations

import contextlib
import select
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import hypothesis.strategies as st
import msgspec
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from hypothesis import HealthCheck, given, settings

from actors.control.auth import new_token
from actors.control.chain import price_chain
from actors.control.market import MarketStore
from actors.control.oi import track_chain
from actors.control.views import MarketViews
from actors.control.bridge import Answer, Bridge
from actors.control.config import ControlConfig
from actors.control.server import ServerThread
from actors.control.service import ControlApi
from engine.control_api import control_pb2 as pb
from engine.control_api import control_pb2_grpc as rpc
from engine.control_api.limits import (
    MAX_DETAIL_BYTES,
    MAX_JSON_DEPTH,
    MAX_REPEATED_ITEMS,
    MAX_STRING_CHARS,
    channel_options,
)
from engine.control_api.quoting import QUOTE_CHARS
from engine.ledger import Ledger, LedgerConfig, TokenIssued, UserAdded, ledger_dir
from engine.logs import get_logger
from engine.model.calendar import AlwaysOpenCalendar
from engine.model.instruments import InstrumentTable, OptionChain
from engine.model.ist import NS_PER_S
from engine.model.open_interest import MarketHistory
from engine.model.option_time import OptionClock
from engine.model.scanner import ScannerConfig
from ipc.messages import (
    ActorStatus,
    DaemonStatus,
    KillSwitchStatus,
    ListStrategies,
    Message,
    OrderDenied,
    OrderIntent,
    Reply,
    RiskLimitsKept,
    SetStrategyParams,
    SetStrategyRunning,
    StrategyInfo,
    StrategyList,
)
from tests.support.strategy_harness import sample_table

SERVICES = list(pb.DESCRIPTOR.services_by_name.values())
METHODS = [m for s in SERVICES for m in s.methods]
CALL_TIMEOUT_S = 10.0
NEVER = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.RESOURCE_EXHAUSTED})


class InstantEngine:
    """The actor loop's side, answering on a drain thread as soon as asked: intents are denied,
    the strategy actor knows one strategy ("sma") and refuses the rest the way it does, every
    other command is refused. Nothing is ever written to the ledger."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="instant-engine", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.bridge.fileno()], [], [], 0.05)
            if ready:
                self.bridge.drain(lambda exc: None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def start_place(self, intent: OrderIntent, answer: Answer) -> None:
        answer(OrderDenied(intent.intent_id, intent.strategy, intent.spec.segment, intent.spec.security_id,
                           "MARKET_CLOSED", "the test engine trades nothing", intent.ts_event_ns, intent.ts_event_ns))

    def start_command(self, target: str, msg: Message, answer: Answer) -> None:
        cmd_id = msg.cmd_id  # type: ignore[attr-defined]
        if isinstance(msg, ListStrategies):
            answer(StrategyList(cmd_id, [StrategyInfo("sma", "sma_cross", True, ["RELIANCE"], '{"fast": 5}')]))
        elif isinstance(msg, (SetStrategyRunning, SetStrategyParams)) and msg.strategy != "sma":
            answer(Reply(cmd_id, target, False, "UNKNOWN_STRATEGY",
                         f"no strategy '{msg.strategy}' in [[strategy.instances]]"))
        else:
            answer(Reply(cmd_id, target, False, "REFUSED", "the test engine refuses every command"))

    def start_cancel(self, client_order_id: str, by: str, answer: Answer) -> None:
        pass  # the caller times out and reads the ledger

    def forget_intent(self, intent_id: str) -> None: ...
    def forget_cancel(self, client_order_id: str) -> None: ...
    def forget_command(self, cmd_id: str) -> None: ...
    def cancel_all(self, strategy: str, by: str) -> None: ...
    def send(self, target: str, msg: Message) -> None: ...

    def market_snapshots(self, keys: list[tuple[int, int]]) -> tuple[list[Any], int]:
        return [None] * len(keys), self.now_ns()  # the feed has sent nothing

    def priced_chain(self, table: InstrumentTable, chain: OptionChain, strikes_each_side: int) -> Any:
        time = OptionClock(AlwaysOpenCalendar(), chain.segment).to_expiry(chain.expiry_yyyymmdd, self.now_ns())
        return price_chain(table, chain, MarketStore(1), time, 0.065, strikes_each_side, self.now_ns())

    def oi_tracker(self, chain: OptionChain, windows_s: list[int] | None) -> Any:
        history = MarketHistory(3600 * NS_PER_S)
        return track_chain(chain, MarketStore(1), history, windows_s or [300], self.now_ns())

    def scan(self, table: InstrumentTable, screens: list[Any]) -> list[Any]:
        views = MarketViews(ControlConfig(), ScannerConfig(screens=screens))
        return views.scan(table, MarketStore(1), screens, self.now_ns())

    def now_ns(self) -> int:
        return 1_764_000_000_000_000_000


class Served:
    def __init__(self, address: str, token: str) -> None:
        self.channel = grpc.insecure_channel(address, options=channel_options())
        self.metadata = (("authorization", f"Bearer {token}"),)

    def unary(self, method: MethodDescriptor, request: Any) -> tuple[grpc.StatusCode, str]:
        """(status, details) of one call with the admin token."""
        stub = getattr(rpc, f"{method.containing_service.name}Stub")(self.channel)
        try:
            getattr(stub, method.name)(request, metadata=self.metadata, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as exc:
            return exc.code(), exc.details() or ""
        return grpc.StatusCode.OK, ""

    def stream(self, method: MethodDescriptor, request: Any) -> tuple[grpc.StatusCode, str]:
        """A server stream: OK once it is subscribed (then cancelled), else its status."""
        stub = getattr(rpc, f"{method.containing_service.name}Stub")(self.channel)
        call = getattr(stub, method.name)(request, metadata=self.metadata, timeout=CALL_TIMEOUT_S)
        try:
            headers = call.initial_metadata()
            if ("shikra-watch", "subscribed") in tuple(headers or ()):
                return grpc.StatusCode.OK, ""
            next(call)
        except grpc.RpcError as exc:
            return exc.code(), exc.details() or ""
        finally:
            call.cancel()
        return call.code(), call.details() or ""

    def call(self, method: MethodDescriptor, request: Any) -> tuple[grpc.StatusCode, str]:
        return self.stream(method, request) if method.server_streaming else self.unary(method, request)

    def raw(self, method: MethodDescriptor, data: bytes) -> tuple[grpc.StatusCode, str]:
        """Send ``data`` as the request of ``method`` (what a client that is not ours may send)."""
        path = f"/{method.containing_service.full_name}/{method.name}"
        if not method.server_streaming:
            try:
                self.channel.unary_unary(path)(data, metadata=self.metadata, timeout=CALL_TIMEOUT_S)
            except grpc.RpcError as exc:
                return exc.code(), exc.details() or ""
            return grpc.StatusCode.OK, ""
        call = self.channel.unary_stream(path)(data, metadata=self.metadata, timeout=CALL_TIMEOUT_S)
        try:
            if ("shikra-watch", "subscribed") in tuple(call.initial_metadata() or ()):
                return grpc.StatusCode.OK, ""
            next(call)
        except grpc.RpcError as exc:
            return exc.code(), exc.details() or ""
        finally:
            call.cancel()
        return call.code(), call.details() or ""


def _status() -> DaemonStatus:
    actors = [ActorStatus(name, name, 10 + i, "ready", 1, 0, 2)
              for i, name in enumerate(("risk", "execution", "strategy"))]
    return DaemonStatus(pid=1, state="running", started_ns=1, updated_ns=2, topology="isolated", data_dir="/d",
                        kill_switch=KillSwitchStatus(False, "", "", 0), actors=actors)


@contextlib.contextmanager
def serving(root: Path) -> Iterator[Served]:
    data_dir = root / "data"
    data_dir.mkdir()
    issued = new_token()
    with Ledger.open(ledger_dir(data_dir), LedgerConfig()) as ledger:
        ledger.append([UserAdded(name="root", role="admin", by="test", ts_ns=1),
                       TokenIssued(token_sha256=issued.token_sha256, token_id=issued.token_id, name="root", by="test",
                                   ts_ns=1)])
    settings_ = ControlConfig(listen="127.0.0.1:0", request_timeout_s=0.3)
    bridge = Bridge()
    engine = InstantEngine(bridge)
    log = get_logger("control")
    api = ControlApi(settings_, bridge, engine, data_dir, root / "run", sample_table(root / "cache"), log)
    api.peers.status = _status()
    api.peers.limits = RiskLimitsKept("{}", "", 0)
    server = ServerThread(api, settings_, log)
    served = Served(server.start(), issued.token)
    try:
        yield served
    finally:
        served.channel.close()
        server.stop()
        engine.close()
        bridge.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("edge")) as s:
        yield s


def method(name: str) -> MethodDescriptor:
    return next(m for m in METHODS if m.name == name)


def request(name: str, /, **fields: Any) -> Any:
    return getattr(pb, method(name).input_type.name)(**fields)


def nested(depth: int) -> str:
    return '{"max_orders_per_day": ' + "[" * depth + "]" * depth + "}"


# ---------------------------------------------------------------------------------------------
# The named cases
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, field", [
    ("GetOrder", "client_order_id"), ("CancelOrder", "client_order_id"), ("ModifyOrder", "client_order_id"),
    ("GetFunds", "account"), ("RevokeUser", "name"), ("GetStrategyParams", "name"), ("StartStrategy", "name"),
    ("StopStrategy", "name"), ("GetOptionChain", "underlying"),
])
@pytest.mark.parametrize("value", ["A" * 9_000, "\N{GRINNING FACE}" * 1_300], ids=["9000-ascii", "1300-emoji"])
def test_an_unknown_long_value_is_not_found_with_only_its_prefix_quoted(served: Served, name: str, field: str,
                                                                        value: str) -> None:
    extra = {"qty_units": 2} if name == "ModifyOrder" else {}
    code, details = served.call(method(name), request(name, **{field: value}, **extra))
    assert code == grpc.StatusCode.NOT_FOUND, details
    assert repr(value[:QUOTE_CHARS]) in details
    assert repr(value[:QUOTE_CHARS + 1]) not in details
    assert f"({len(value):,} characters)" in details


@pytest.mark.parametrize("name, fields", [
    ("AddUser", {"name": "B" * 9_000, "role": pb.ROLE_VIEWER}),
    ("SetStrategyParams", {"name": "C" * 9_000, "changes_json": '{"fast": 3}'}),
    ("PlaceOrder", {"instrument": pb.InstrumentRef(symbol="D" * 9_000), "side": pb.SIDE_BUY, "qty_units": 1,
                    "order_type": pb.ORDER_TYPE_MARKET}),
    ("PlaceOrder", {"instrument": pb.InstrumentRef(segment="E" * 9_000, security_id=1), "side": pb.SIDE_BUY,
                    "qty_units": 1, "order_type": pb.ORDER_TYPE_MARKET}),
    ("PlaceOrder", {"instrument": pb.InstrumentRef(symbol="RELIANCE"), "side": pb.SIDE_BUY, "qty_units": 1,
                    "order_type": pb.ORDER_TYPE_MARKET, "request_id": "F" * 9_000}),
])
def test_every_other_refusal_of_a_long_value_quotes_its_prefix(served: Served, name: str,
                                                               fields: dict[str, Any]) -> None:
    code, details = served.call(method(name), request(name, **fields))
    assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), details
    assert "(9,000 characters)" in details
    assert len(details) < 400


@pytest.mark.parametrize("name", ["SetRiskLimits", "SetStrategyParams"])
def test_json_nested_1000_deep_is_refused_naming_the_field_and_the_limit(served: Served, name: str) -> None:
    code, details = served.call(method(name), request(name, name="sma", changes_json=nested(1000))
                                if name == "SetStrategyParams" else request(name, changes_json=nested(1000)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert details == (f"changes_json nests 1,001 levels deep; the limit is {MAX_JSON_DEPTH} levels of objects "
                       "and arrays")


def test_json_within_the_depth_limit_reaches_the_handler(served: Served) -> None:
    within = request("SetRiskLimits", changes_json=nested(MAX_JSON_DEPTH - 1))
    code, details = served.call(method("SetRiskLimits"), within)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("BAD_LIMITS:"), details


@pytest.mark.parametrize("name, fields, text", [
    ("GetOrder", {"client_order_id": "x" * (MAX_STRING_CHARS + 1)},
     f"client_order_id is {MAX_STRING_CHARS + 1:,} characters; the limit is {MAX_STRING_CHARS:,}"),
    ("PlaceOrder", {"instrument": pb.InstrumentRef(symbol="\N{GRINNING FACE}" * (MAX_STRING_CHARS + 1))},
     f"instrument.symbol is {MAX_STRING_CHARS + 1:,} characters; the limit is {MAX_STRING_CHARS:,}"),
    ("SearchInstruments", {"text": "NIFTY " * 50}, "text is 300 characters; the limit is 256"),
    ("EngageKillSwitch", {"reason": "r" * 2_000}, "reason is 2,000 characters; the limit is 1,024"),
    ("SetRiskLimits", {"changes_json": "[" + ",".join(["1"] * 5_000) + "]"},
     "changes_json holds 5,001 JSON values; the limit is 4,096"),
    ("SetRiskLimits", {"changes_json": " " * 70_000}, "changes_json is 70,000 characters; the limit is 65,536"),
])
def test_a_string_over_its_limit_is_refused_before_any_handler(served: Served, name: str, fields: dict[str, Any],
                                                               text: str) -> None:
    code, details = served.call(method(name), request(name, **fields))
    assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT, text)


def test_an_oversized_repeated_field_is_refused_naming_it_and_the_limit() -> None:
    # No request has a repeated field today; the check is generic, so a message that has one shows it.
    from engine.control_api.limits import check_request

    msg = pb.CancelAllOrdersResponse(client_order_ids=["x"] * (MAX_REPEATED_ITEMS + 1))
    assert check_request(msg) == f"client_order_ids has {MAX_REPEATED_ITEMS + 1:,} items; the limit is 1,000"
    assert check_request(pb.CancelAllOrdersResponse(client_order_ids=["x"] * MAX_REPEATED_ITEMS)) is None


@pytest.mark.parametrize("path", ["/shikra.v1.OrderService/GetOrder", "/shikra.v1.OrderService/WatchOrders"])
def test_bytes_that_are_not_a_request_are_refused_invalid_argument(served: Served, path: str) -> None:
    kind = served.channel.unary_stream if path.endswith("WatchOrders") else served.channel.unary_unary
    call = kind(path, request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as err:
        # Field 1 with a length past the end of the bytes.
        answer = call(b"\x0a\xff\xff\xff\xff\x0f", metadata=served.metadata, timeout=CALL_TIMEOUT_S)
        list(answer) if path.endswith("WatchOrders") else None
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert "not a valid protobuf message" in (err.value.details() or "")


# ---------------------------------------------------------------------------------------------
# Random requests to every method
# ---------------------------------------------------------------------------------------------

_INT_BOUNDS = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1), FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}
_EMOJI = "\N{GRINNING FACE}\N{FACE WITH TEARS OF JOY}\N{DEVANAGARI LETTER KA}\N{INDIAN RUPEE SIGN}"


def _huge_text() -> st.SearchStrategy[str]:
    """Long runs of one character (ASCII, emoji, control), up to twice the string limit."""
    return st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "\x00", "'", "\\", *_EMOJI]),
                     st.integers(0, 2 * MAX_STRING_CHARS))


def _json_text() -> st.SearchStrategy[str]:
    deep = st.builds(lambda o, n, key: '{"%s": ' % key + o * n + ("]" if o == "[" else "}") * n + "}",
                     st.sampled_from(["[", '{"a":']), st.integers(0, 3_000),
                     st.sampled_from(["fast", "max_orders_per_day"]))
    unclosed = st.builds(lambda o, n: o * n, st.sampled_from(["[", "{", '{"a":[']), st.integers(1, 3_000))
    values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                          lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                                       max_size=5), max_leaves=30)
    return st.one_of(deep, unclosed, values.map(lambda v: msgspec.json.encode(v).decode()), st.text(max_size=50))


def _field_value(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _message(field.message_type)
    if field.type == FieldDescriptor.TYPE_STRING:
        if field.name.endswith("_json"):
            return _json_text()
        return st.one_of(st.text(max_size=40), st.sampled_from(["sma", "RELIANCE", "NIFTY", "root", "main",
                                                                "NSE_EQ", "FAKE-1"]), _huge_text())
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=200)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.integers(-3, 8)  # known values and unknown ones (proto3 enums are open)
    lo, hi = _INT_BOUNDS.get(field.cpp_type, (-(2**31), 2**31 - 1))
    return st.one_of(st.integers(-5, 100), st.integers(lo, hi))


def _message(descriptor: Descriptor) -> st.SearchStrategy[Any]:
    cls = getattr(pb, descriptor.name)
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        value = _field_value(field)
        optional[field.name] = st.lists(value, max_size=MAX_REPEATED_ITEMS + 5) \
            if field.is_repeated else value
    return st.fixed_dictionaries({}, optional=optional).map(lambda kw: cls(**kw))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _extra_bytes() -> st.SearchStrategy[bytes]:
    """Appended to a valid request: repeated unknown fields (a field number no request uses,
    as varints or strings, up to twice the repeated limit), a known string field again (proto3
    keeps the last), or bytes that do not decode."""
    unknown = st.builds(lambda number, n, text: (_varint(number << 3 | 2) + _varint(len(text)) + text) * n,
                        st.integers(50, 2_000), st.integers(1, 2 * MAX_REPEATED_ITEMS), st.binary(max_size=8))
    varints = st.builds(lambda number, n: (_varint(number << 3) + _varint(2**63)) * n,
                        st.integers(50, 2_000), st.integers(1, 2 * MAX_REPEATED_ITEMS))
    again = st.builds(lambda text: b"\x0a" + _varint(len(text)) + text, st.binary(max_size=300))
    return st.one_of(st.just(b""), unknown, varints, again, st.binary(max_size=40))


_CALLS = st.sampled_from(METHODS).flatmap(lambda m: st.tuples(st.just(m), _message(m.input_type), _extra_bytes()))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(call=_CALLS)
def test_random_requests_to_every_method_are_answered_never_internal(served: Served, call: Any) -> None:
    m, req, extra = call
    code, details = served.raw(m, req.SerializeToString() + extra)
    assert code not in NEVER, f"{m.name}: {code.name}: {details[:300]}"
    assert len(details.encode()) <= MAX_DETAIL_BYTES


def test_the_server_is_up_after_the_hostile_requests(served: Served) -> None:
    code, details = served.call(method("ListUsers"), request("ListUsers"))
    assert code == grpc.StatusCode.OK, details


def test_a_damaged_ledger_is_answered_data_loss_with_the_ledgers_message(tmp_path: Path) -> None:
    with serving(tmp_path) as s:
        assert s.call(method("ListOrders"), request("ListOrders"))[0] is grpc.StatusCode.OK
        data = ledger_dir(tmp_path / "data") / "data.mdb"
        size = data.stat().st_size
        with open(data, "r+b") as f:  # every page after the two meta pages turns to noise
            f.seek(2 * 4096)
            f.write(bytes((i * 151 + 7) % 256 for i in range(size - 2 * 4096)))
        code, details = s.call(method("ListOrders"), request("ListOrders"))
        assert code is grpc.StatusCode.DATA_LOSS, (code, details)
        assert "damaged" in details and "restore a backup" in details
