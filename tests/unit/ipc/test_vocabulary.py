"""One vocabulary: closed sets are listed once (``ipc/messages.py``, ``ipc/segments.py``) and derived
everywhere else; translation tables cover them exactly; TradingState is one type, wire-compatible."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import msgspec
import pytest

import ipc
from actors.control import convert
from actors.execution import dhan_wire, kite_wire
from actors.risk import state as trading
from engine.ledger.records import TradingStateChanged
from ipc import codec
from ipc.messages import (
    ORDER_TYPES,
    PRICED_ORDER_TYPES,
    PRODUCTS,
    SIDES,
    TRIGGERED_ORDER_TYPES,
    USER_ROLES,
    VALIDITIES,
    OrderType,
    Product,
    RiskStateChanged,
    Side,
    TradingState,
    UserRole,
    Validity,
)
from ipc.segments import Segment

ROOT = Path(ipc.__file__).resolve().parents[1]  # the repository, found from a package
SOURCES = [p for d in ("actors", "engine", "ipc") for p in sorted((ROOT / d).rglob("*.py"))
           if not p.name.startswith("control_pb2")]
HOMES = {ROOT / "ipc" / "messages.py", ROOT / "ipc" / "segments.py"}

VOCABULARIES = {
    "Side": set(get_args(Side)),
    "OrderType": set(get_args(OrderType)),
    "Validity": set(get_args(Validity)),
    "Product": set(get_args(Product)),
    "UserRole": set(get_args(UserRole)),
    "TradingState": {s.value for s in TradingState},
    "PRICED_ORDER_TYPES": set(PRICED_ORDER_TYPES),
    "TRIGGERED_ORDER_TYPES": set(TRIGGERED_ORDER_TYPES),
    "Segment": {s.label for s in Segment},
}
# Translation tables keyed by our values whose other side is somebody else's vocabulary; each is
# held to covering ours exactly by a test below.
TRANSLATIONS = {("actors/execution/dhan_wire.py", "OrderType"), ("actors/execution/kite_wire.py", "OrderType"),
                ("actors/execution/kite_wire.py", "Product")}


def test_closed_sets_are_derived_from_the_literals() -> None:
    assert SIDES == {"BUY", "SELL"} == set(get_args(Side))
    assert ORDER_TYPES == set(get_args(OrderType)) and VALIDITIES == set(get_args(Validity))
    assert PRODUCTS == set(get_args(Product)) and USER_ROLES == get_args(UserRole)
    assert PRICED_ORDER_TYPES | TRIGGERED_ORDER_TYPES <= ORDER_TYPES
    assert set(get_args(trading.Role)) == set(USER_ROLES) | {"system"}


def _string_collections(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            values = node.elts
        elif isinstance(node, ast.Dict):
            values = [k for k in node.keys if k is not None]
        elif isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "Literal":
            values = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        else:
            continue
        if len(values) >= 2 and all(isinstance(v, ast.Constant) and isinstance(v.value, str) for v in values):
            yield node.lineno, {v.value for v in values}  # type: ignore[attr-defined]


def test_no_module_lists_a_closed_vocabulary_again() -> None:
    found = []
    for path in SOURCES:
        if path in HOMES:
            continue
        rel = path.relative_to(ROOT).as_posix()
        for line, values in _string_collections(ast.parse(path.read_text(), str(path))):
            for name, vocabulary in VOCABULARIES.items():
                if values == vocabulary and (rel, name) not in TRANSLATIONS:
                    found.append(f"{rel}:{line} lists {name} {sorted(values)}: import it from ipc")
    assert not found, "\n".join(found)


def test_translation_tables_cover_each_vocabulary_exactly() -> None:
    assert set(dhan_wire.ORDER_TYPES) == ORDER_TYPES
    assert set(dhan_wire.ORDER_TYPES_FROM_DHAN.values()) == ORDER_TYPES
    assert set(dhan_wire.PRODUCTS) == PRODUCTS and set(dhan_wire.PRODUCTS_FROM_DHAN.values()) == PRODUCTS
    assert set(kite_wire.ORDER_TYPES) == ORDER_TYPES == set(kite_wire.ORDER_TYPES_FROM_KITE.values())
    assert set(kite_wire.PRODUCTS) == PRODUCTS == set(kite_wire.PRODUCTS_FROM_KITE.values())
    for to_pb, from_pb, values in ((convert.SIDE_TO_PB, convert.SIDE_FROM_PB, SIDES),
                                   (convert.ORDER_TYPE_TO_PB, convert.ORDER_TYPE_FROM_PB, ORDER_TYPES),
                                   (convert.VALIDITY_TO_PB, convert.VALIDITY_FROM_PB, VALIDITIES),
                                   (convert.PRODUCT_TO_PB, convert.PRODUCT_FROM_PB, PRODUCTS),
                                   (convert.ROLE_TO_PB, convert.ROLE_FROM_PB, set(USER_ROLES))):
        assert set(to_pb) == values and set(from_pb.values()) == values
        assert all(from_pb[number] == value for value, number in to_pb.items())
    assert set(convert.TRADING_STATE_TO_PB) == set(TradingState)


def test_trading_state_is_one_type_shared_by_risk_the_bus_and_the_ledger() -> None:
    assert trading.TradingState is TradingState
    assert RiskStateChanged.__annotations__["state"] in ("TradingState", TradingState)
    assert f"{TradingState.HALTED}" == "HALTED" == TradingState.HALTED  # text as when it was a Literal


@pytest.mark.parametrize("state", list(TradingState))
def test_trading_state_wire_and_ledger_forms_are_the_bare_names(state: TradingState) -> None:
    msg = RiskStateChanged(state=state, reason_code="", detail="", by="", ts_event_ns=1, ts_init_ns=2)
    assert codec.decode(codec.encode(msg)) == msg
    # A record written before TradingState became an Enum carried the bare text: it still reads.
    old = msgspec.msgpack.encode(TradingStateChanged(state=state.value, reason_code="r", detail="d", by="b", ts_ns=3))
    assert msgspec.msgpack.decode(old, type=TradingStateChanged).state is state
    assert old == msgspec.msgpack.encode(TradingStateChanged(state=state, reason_code="r", detail="d", by="b", ts_ns=3))
