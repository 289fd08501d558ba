"""Records as earlier versions stored them, and how each reads today.

Ledger schema 2 (up to the one order model) stored orders and order groups with the order's
fields listed flat: ``order@1`` (OrderEvent), ``group@1`` (GroupEvent) whose legs held
``intent@1`` (OrderIntent). Today those fields travel as one ``OrderSpec``. The ``events``
database is append-only and never rewritten, so those records stay on disk as they were written;
every read decodes them with the classes below and ``upgrade`` turns them into today's messages,
field for field (nothing is guessed: the flat fields are exactly the spec's). Schema 3 rewrote
the derived ``orders`` and ``groups`` rows once, at the writer's first open (``writer.py``).

Ledger schema 4 and older kept one position per strategy and instrument, keyed ``[strategy,
segment, security_id]``; its fills and positions had no ``product`` (the messages' default,
INTRADAY, reads them: the product the engine then assumed for every position).
``legacy_position_key`` reads such a key; schema 5 rewrote the positions table once.

Add a class here, never change one: these describe bytes on users' disks.
"""

from __future__ import annotations

from typing import Any, Union

import msgspec

from ipc.messages import (
    GroupEvent,
    GroupLeg,
    GroupState,
    GroupStructure,
    OrderEvent,
    OrderIntent,
    OrderSpec,
    OrderState,
    OrderType,
    Product,
    Side,
    Validity,
)


class _Stored(msgspec.Struct, frozen=True, array_like=True, tag_field="t"):
    """Base of the old records (the same wire conventions as ``ipc.messages.Message``)."""


class OrderIntentV1(_Stored, tag="intent@1"):
    intent_id: str
    strategy: str
    segment: int
    security_id: int
    side: Side
    qty_units: int
    order_type: OrderType
    price_paise: int
    trigger_price_paise: int
    validity: Validity
    product: Product
    ts_event_ns: int
    ts_init_ns: int
    ts_created_ns: int
    reduce_only: bool = False
    group_id: str = ""


class OrderEventV1(_Stored, tag="order@1"):
    client_order_id: str
    intent_id: str
    strategy: str
    segment: int
    security_id: int
    side: Side
    order_type: OrderType
    validity: Validity
    product: Product
    qty_units: int
    price_paise: int
    trigger_price_paise: int
    state: OrderState
    filled_qty_units: int
    filled_value_paise: int
    venue_order_id: str
    reason_code: str
    reason: str
    ts_event_ns: int
    ts_init_ns: int
    ts_created_ns: int = 0
    ts_approved_ns: int = 0
    ts_sent_ns: int = 0


class GroupLegV1(msgspec.Struct, frozen=True, array_like=True):
    intent: OrderIntentV1
    client_order_id: str = ""
    state: OrderState | None = None
    filled_qty_units: int = 0
    filled_value_paise: int = 0
    cancel_requested: bool = False
    flatten_attempts: int = 0
    flatten_working: bool = False
    flatten_client_order_id: str = ""
    flattened_qty_units: int = 0
    flatten_filled_qty_units: int = 0
    retry_at_ns: int = 0


class GroupEventV1(_Stored, tag="group@1"):
    group_id: str
    strategy: str
    structure: GroupStructure
    state: GroupState
    step: str
    reason_code: str
    detail: str
    legs: list[GroupLegV1]
    timeout_ms: int
    ts_deadline_ns: int
    ts_event_ns: int
    ts_init_ns: int


OldRecord = Union[OrderEventV1, GroupEventV1]
_POSITION_KEY_V4 = msgspec.msgpack.Decoder(tuple[str, int, int])
LEGACY_PRODUCT: Product = "INTRADAY"  # the product of every position stored before schema 5
OLD_RECORD_TYPES: tuple[type, ...] = OldRecord.__args__  # type: ignore[attr-defined]


def _spec(old: OrderIntentV1 | OrderEventV1) -> OrderSpec:
    return OrderSpec(segment=old.segment, security_id=old.security_id, side=old.side, order_type=old.order_type,
                     validity=old.validity, product=old.product, qty_units=old.qty_units,
                     price_paise=old.price_paise, trigger_price_paise=old.trigger_price_paise)


def _intent(old: OrderIntentV1) -> OrderIntent:
    return OrderIntent(intent_id=old.intent_id, strategy=old.strategy, spec=_spec(old), ts_event_ns=old.ts_event_ns,
                       ts_init_ns=old.ts_init_ns, ts_created_ns=old.ts_created_ns, reduce_only=old.reduce_only,
                       group_id=old.group_id)


def _leg(old: GroupLegV1) -> GroupLeg:
    fields = msgspec.structs.asdict(old)
    fields["intent"] = _intent(old.intent)
    return GroupLeg(**fields)


def legacy_position_key(raw: Any) -> tuple[str, int, int, Product]:
    """A positions key of schema 4 or older (``[strategy, segment, security_id]``) as today's.
    Raises msgspec.ValidationError / DecodeError when it is neither shape."""
    strategy, segment, security_id = _POSITION_KEY_V4.decode(raw)
    return strategy, segment, security_id, LEGACY_PRODUCT


def upgrade(record: Any) -> Any:
    """Today's message for an old record; any other record comes back as it is."""
    if isinstance(record, OrderEventV1):
        return OrderEvent(client_order_id=record.client_order_id, intent_id=record.intent_id,
                          strategy=record.strategy, spec=_spec(record), state=record.state,
                          filled_qty_units=record.filled_qty_units, filled_value_paise=record.filled_value_paise,
                          venue_order_id=record.venue_order_id, reason_code=record.reason_code, reason=record.reason,
                          ts_event_ns=record.ts_event_ns, ts_init_ns=record.ts_init_ns,
                          ts_created_ns=record.ts_created_ns, ts_approved_ns=record.ts_approved_ns,
                          ts_sent_ns=record.ts_sent_ns)
    if isinstance(record, GroupEventV1):
        return GroupEvent(group_id=record.group_id, strategy=record.strategy, structure=record.structure,
                          state=record.state, step=record.step, reason_code=record.reason_code, detail=record.detail,
                          legs=[_leg(leg) for leg in record.legs], timeout_ms=record.timeout_ms,
                          ts_deadline_ns=record.ts_deadline_ns, ts_event_ns=record.ts_event_ns,
                          ts_init_ns=record.ts_init_ns)
    return record
