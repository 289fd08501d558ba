from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    SIDE_BUY: _ClassVar[Side]
    SIDE_SELL: _ClassVar[Side]

class OrderType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_TYPE_UNSPECIFIED: _ClassVar[OrderType]
    ORDER_TYPE_MARKET: _ClassVar[OrderType]
    ORDER_TYPE_LIMIT: _ClassVar[OrderType]
    ORDER_TYPE_SL: _ClassVar[OrderType]
    ORDER_TYPE_SL_M: _ClassVar[OrderType]

class Validity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALIDITY_UNSPECIFIED: _ClassVar[Validity]
    VALIDITY_DAY: _ClassVar[Validity]
    VALIDITY_IOC: _ClassVar[Validity]

class Product(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRODUCT_UNSPECIFIED: _ClassVar[Product]
    PRODUCT_INTRADAY: _ClassVar[Product]
    PRODUCT_CNC: _ClassVar[Product]
    PRODUCT_MARGIN: _ClassVar[Product]

class OrderState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATE_UNSPECIFIED: _ClassVar[OrderState]
    ORDER_STATE_INITIALIZED: _ClassVar[OrderState]
    ORDER_STATE_DENIED: _ClassVar[OrderState]
    ORDER_STATE_SUBMITTED: _ClassVar[OrderState]
    ORDER_STATE_ACCEPTED: _ClassVar[OrderState]
    ORDER_STATE_REJECTED: _ClassVar[OrderState]
    ORDER_STATE_TRIGGERED: _ClassVar[OrderState]
    ORDER_STATE_PENDING_UPDATE: _ClassVar[OrderState]
    ORDER_STATE_PENDING_CANCEL: _ClassVar[OrderState]
    ORDER_STATE_PARTIALLY_FILLED: _ClassVar[OrderState]
    ORDER_STATE_FILLED: _ClassVar[OrderState]
    ORDER_STATE_CANCELED: _ClassVar[OrderState]
    ORDER_STATE_EXPIRED: _ClassVar[OrderState]

class TradingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRADING_STATE_UNSPECIFIED: _ClassVar[TradingState]
    TRADING_STATE_ACTIVE: _ClassVar[TradingState]
    TRADING_STATE_REDUCING: _ClassVar[TradingState]
    TRADING_STATE_HALTED: _ClassVar[TradingState]

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_VIEWER: _ClassVar[Role]
    ROLE_TRADER: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]
SIDE_UNSPECIFIED: Side
SIDE_BUY: Side
SIDE_SELL: Side
ORDER_TYPE_UNSPECIFIED: OrderType
ORDER_TYPE_MARKET: OrderType
ORDER_TYPE_LIMIT: OrderType
ORDER_TYPE_SL: OrderType
ORDER_TYPE_SL_M: OrderType
VALIDITY_UNSPECIFIED: Validity
VALIDITY_DAY: Validity
VALIDITY_IOC: Validity
PRODUCT_UNSPECIFIED: Product
PRODUCT_INTRADAY: Product
PRODUCT_CNC: Product
PRODUCT_MARGIN: Product
ORDER_STATE_UNSPECIFIED: OrderState
ORDER_STATE_INITIALIZED: OrderState
ORDER_STATE_DENIED: OrderState
ORDER_STATE_SUBMITTED: OrderState
ORDER_STATE_ACCEPTED: OrderState
ORDER_STATE_REJECTED: OrderState
ORDER_STATE_TRIGGERED: OrderState
ORDER_STATE_PENDING_UPDATE: OrderState
ORDER_STATE_PENDING_CANCEL: OrderState
ORDER_STATE_PARTIALLY_FILLED: OrderState
ORDER_STATE_FILLED: OrderState
ORDER_STATE_CANCELED: OrderState
ORDER_STATE_EXPIRED: OrderState
TRADING_STATE_UNSPECIFIED: TradingState
TRADING_STATE_ACTIVE: TradingState
TRADING_STATE_REDUCING: TradingState
TRADING_STATE_HALTED: TradingState
ROLE_UNSPECIFIED: Role
ROLE_VIEWER: Role
ROLE_TRADER: Role
ROLE_ADMIN: Role

class InstrumentRef(_message.Message):
    __slots__ = ("symbol", "segment", "security_id")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    segment: str
    security_id: int
    def __init__(self, symbol: _Optional[str] = ..., segment: _Optional[str] = ..., security_id: _Optional[int] = ...) -> None: ...

class GetScheduleRequest(_message.Message):
    __slots__ = ("day",)
    DAY_FIELD_NUMBER: _ClassVar[int]
    day: str
    def __init__(self, day: _Optional[str] = ...) -> None: ...

class SchedulePhase(_message.Message):
    __slots__ = ("phase", "planned_ns", "began_ns")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PLANNED_NS_FIELD_NUMBER: _ClassVar[int]
    BEGAN_NS_FIELD_NUMBER: _ClassVar[int]
    phase: str
    planned_ns: int
    began_ns: int
    def __init__(self, phase: _Optional[str] = ..., planned_ns: _Optional[int] = ..., began_ns: _Optional[int] = ...) -> None: ...

class ScheduleTask(_message.Message):
    __slots__ = ("task", "actor", "ok", "reason_code", "detail", "started_ns", "finished_ns")
    TASK_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    STARTED_NS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_NS_FIELD_NUMBER: _ClassVar[int]
    task: str
    actor: str
    ok: bool
    reason_code: str
    detail: str
    started_ns: int
    finished_ns: int
    def __init__(self, task: _Optional[str] = ..., actor: _Optional[str] = ..., ok: _Optional[bool] = ..., reason_code: _Optional[str] = ..., detail: _Optional[str] = ..., started_ns: _Optional[int] = ..., finished_ns: _Optional[int] = ...) -> None: ...

class GetScheduleResponse(_message.Message):
    __slots__ = ("day", "trading_day", "enabled", "phases", "tasks")
    DAY_FIELD_NUMBER: _ClassVar[int]
    TRADING_DAY_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    day: str
    trading_day: bool
    enabled: bool
    phases: _containers.RepeatedCompositeFieldContainer[SchedulePhase]
    tasks: _containers.RepeatedCompositeFieldContainer[ScheduleTask]
    def __init__(self, day: _Optional[str] = ..., trading_day: _Optional[bool] = ..., enabled: _Optional[bool] = ..., phases: _Optional[_Iterable[_Union[SchedulePhase, _Mapping]]] = ..., tasks: _Optional[_Iterable[_Union[ScheduleTask, _Mapping]]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class KillSwitch(_message.Message):
    __slots__ = ("engaged", "reason", "by", "ts_ns")
    ENGAGED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    engaged: bool
    reason: str
    by: str
    ts_ns: int
    def __init__(self, engaged: _Optional[bool] = ..., reason: _Optional[str] = ..., by: _Optional[str] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class ActorStatus(_message.Message):
    __slots__ = ("name", "unit", "pid", "state", "started_ns", "uptime_ns", "restarts", "last_heartbeat_ns", "msgs_in", "msgs_out", "bad_frames")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_NS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_NS_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_NS_FIELD_NUMBER: _ClassVar[int]
    MSGS_IN_FIELD_NUMBER: _ClassVar[int]
    MSGS_OUT_FIELD_NUMBER: _ClassVar[int]
    BAD_FRAMES_FIELD_NUMBER: _ClassVar[int]
    name: str
    unit: str
    pid: int
    state: str
    started_ns: int
    uptime_ns: int
    restarts: int
    last_heartbeat_ns: int
    msgs_in: int
    msgs_out: int
    bad_frames: int
    def __init__(self, name: _Optional[str] = ..., unit: _Optional[str] = ..., pid: _Optional[int] = ..., state: _Optional[str] = ..., started_ns: _Optional[int] = ..., uptime_ns: _Optional[int] = ..., restarts: _Optional[int] = ..., last_heartbeat_ns: _Optional[int] = ..., msgs_in: _Optional[int] = ..., msgs_out: _Optional[int] = ..., bad_frames: _Optional[int] = ...) -> None: ...

class ListActorsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListActorsResponse(_message.Message):
    __slots__ = ("actors", "updated_ns")
    ACTORS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_NS_FIELD_NUMBER: _ClassVar[int]
    actors: _containers.RepeatedCompositeFieldContainer[ActorStatus]
    updated_ns: int
    def __init__(self, actors: _Optional[_Iterable[_Union[ActorStatus, _Mapping]]] = ..., updated_ns: _Optional[int] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("pid", "state", "started_ns", "updated_ns", "topology", "kill_switch", "actors")
    PID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_NS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_NS_FIELD_NUMBER: _ClassVar[int]
    TOPOLOGY_FIELD_NUMBER: _ClassVar[int]
    KILL_SWITCH_FIELD_NUMBER: _ClassVar[int]
    ACTORS_FIELD_NUMBER: _ClassVar[int]
    pid: int
    state: str
    started_ns: int
    updated_ns: int
    topology: str
    kill_switch: KillSwitch
    actors: _containers.RepeatedCompositeFieldContainer[ActorStatus]
    def __init__(self, pid: _Optional[int] = ..., state: _Optional[str] = ..., started_ns: _Optional[int] = ..., updated_ns: _Optional[int] = ..., topology: _Optional[str] = ..., kill_switch: _Optional[_Union[KillSwitch, _Mapping]] = ..., actors: _Optional[_Iterable[_Union[ActorStatus, _Mapping]]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("client_order_id", "intent_id", "strategy", "segment", "security_id", "symbol", "side", "order_type", "validity", "product", "qty_units", "price_paise", "trigger_price_paise", "state", "filled_qty_units", "filled_value_paise", "venue_order_id", "reason_code", "reason", "ts_event_ns", "ts_created_ns")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    PRICE_PAISE_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_PRICE_PAISE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FILLED_QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    FILLED_VALUE_PAISE_FIELD_NUMBER: _ClassVar[int]
    VENUE_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TS_EVENT_NS_FIELD_NUMBER: _ClassVar[int]
    TS_CREATED_NS_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    intent_id: str
    strategy: str
    segment: str
    security_id: int
    symbol: str
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
    ts_created_ns: int
    def __init__(self, client_order_id: _Optional[str] = ..., intent_id: _Optional[str] = ..., strategy: _Optional[str] = ..., segment: _Optional[str] = ..., security_id: _Optional[int] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., order_type: _Optional[_Union[OrderType, str]] = ..., validity: _Optional[_Union[Validity, str]] = ..., product: _Optional[_Union[Product, str]] = ..., qty_units: _Optional[int] = ..., price_paise: _Optional[int] = ..., trigger_price_paise: _Optional[int] = ..., state: _Optional[_Union[OrderState, str]] = ..., filled_qty_units: _Optional[int] = ..., filled_value_paise: _Optional[int] = ..., venue_order_id: _Optional[str] = ..., reason_code: _Optional[str] = ..., reason: _Optional[str] = ..., ts_event_ns: _Optional[int] = ..., ts_created_ns: _Optional[int] = ...) -> None: ...

class PlaceOrderRequest(_message.Message):
    __slots__ = ("instrument", "side", "qty_units", "order_type", "price_paise", "trigger_price_paise", "validity", "product", "reduce_only", "request_id")
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRICE_PAISE_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_PRICE_PAISE_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    REDUCE_ONLY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    instrument: InstrumentRef
    side: Side
    qty_units: int
    order_type: OrderType
    price_paise: int
    trigger_price_paise: int
    validity: Validity
    product: Product
    reduce_only: bool
    request_id: str
    def __init__(self, instrument: _Optional[_Union[InstrumentRef, _Mapping]] = ..., side: _Optional[_Union[Side, str]] = ..., qty_units: _Optional[int] = ..., order_type: _Optional[_Union[OrderType, str]] = ..., price_paise: _Optional[int] = ..., trigger_price_paise: _Optional[int] = ..., validity: _Optional[_Union[Validity, str]] = ..., product: _Optional[_Union[Product, str]] = ..., reduce_only: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class PlaceOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class ModifyOrderRequest(_message.Message):
    __slots__ = ("client_order_id", "qty_units", "price_paise", "trigger_price_paise")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    PRICE_PAISE_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_PRICE_PAISE_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    qty_units: int
    price_paise: int
    trigger_price_paise: int
    def __init__(self, client_order_id: _Optional[str] = ..., qty_units: _Optional[int] = ..., price_paise: _Optional[int] = ..., trigger_price_paise: _Optional[int] = ...) -> None: ...

class ModifyOrderResponse(_message.Message):
    __slots__ = ("order", "modified")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_FIELD_NUMBER: _ClassVar[int]
    order: Order
    modified: bool
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., modified: _Optional[bool] = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("client_order_id",)
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    def __init__(self, client_order_id: _Optional[str] = ...) -> None: ...

class CancelOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class CancelAllOrdersRequest(_message.Message):
    __slots__ = ("strategy",)
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    def __init__(self, strategy: _Optional[str] = ...) -> None: ...

class CancelAllOrdersResponse(_message.Message):
    __slots__ = ("client_order_ids",)
    CLIENT_ORDER_IDS_FIELD_NUMBER: _ClassVar[int]
    client_order_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, client_order_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("open_only", "strategy", "limit")
    OPEN_ONLY_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    open_only: bool
    strategy: str
    limit: int
    def __init__(self, open_only: _Optional[bool] = ..., strategy: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("client_order_id",)
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    def __init__(self, client_order_id: _Optional[str] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class OrderDenial(_message.Message):
    __slots__ = ("intent_id", "strategy", "segment", "security_id", "symbol", "reason_code", "message", "ts_event_ns")
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TS_EVENT_NS_FIELD_NUMBER: _ClassVar[int]
    intent_id: str
    strategy: str
    segment: str
    security_id: int
    symbol: str
    reason_code: str
    message: str
    ts_event_ns: int
    def __init__(self, intent_id: _Optional[str] = ..., strategy: _Optional[str] = ..., segment: _Optional[str] = ..., security_id: _Optional[int] = ..., symbol: _Optional[str] = ..., reason_code: _Optional[str] = ..., message: _Optional[str] = ..., ts_event_ns: _Optional[int] = ...) -> None: ...

class WatchOrdersRequest(_message.Message):
    __slots__ = ("strategy",)
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    def __init__(self, strategy: _Optional[str] = ...) -> None: ...

class WatchOrdersResponse(_message.Message):
    __slots__ = ("order", "fill", "denial")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    DENIAL_FIELD_NUMBER: _ClassVar[int]
    order: Order
    fill: Trade
    denial: OrderDenial
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., fill: _Optional[_Union[Trade, _Mapping]] = ..., denial: _Optional[_Union[OrderDenial, _Mapping]] = ...) -> None: ...

class Trade(_message.Message):
    __slots__ = ("fill_id", "client_order_id", "venue_order_id", "strategy", "segment", "security_id", "symbol", "side", "qty_units", "price_paise", "charges_paise", "ts_event_ns")
    FILL_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    PRICE_PAISE_FIELD_NUMBER: _ClassVar[int]
    CHARGES_PAISE_FIELD_NUMBER: _ClassVar[int]
    TS_EVENT_NS_FIELD_NUMBER: _ClassVar[int]
    fill_id: str
    client_order_id: str
    venue_order_id: str
    strategy: str
    segment: str
    security_id: int
    symbol: str
    side: Side
    qty_units: int
    price_paise: int
    charges_paise: int
    ts_event_ns: int
    def __init__(self, fill_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., venue_order_id: _Optional[str] = ..., strategy: _Optional[str] = ..., segment: _Optional[str] = ..., security_id: _Optional[int] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., qty_units: _Optional[int] = ..., price_paise: _Optional[int] = ..., charges_paise: _Optional[int] = ..., ts_event_ns: _Optional[int] = ...) -> None: ...

class ListTradesRequest(_message.Message):
    __slots__ = ("strategy", "limit")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    limit: int
    def __init__(self, strategy: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListTradesResponse(_message.Message):
    __slots__ = ("trades",)
    TRADES_FIELD_NUMBER: _ClassVar[int]
    trades: _containers.RepeatedCompositeFieldContainer[Trade]
    def __init__(self, trades: _Optional[_Iterable[_Union[Trade, _Mapping]]] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("strategy", "segment", "security_id", "symbol", "net_qty_units", "open_cost_paise", "realised_pnl_paise", "charges_paise", "ts_event_ns", "product")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    NET_QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    OPEN_COST_PAISE_FIELD_NUMBER: _ClassVar[int]
    REALISED_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    CHARGES_PAISE_FIELD_NUMBER: _ClassVar[int]
    TS_EVENT_NS_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    segment: str
    security_id: int
    symbol: str
    net_qty_units: int
    open_cost_paise: int
    realised_pnl_paise: int
    charges_paise: int
    ts_event_ns: int
    product: str
    def __init__(self, strategy: _Optional[str] = ..., segment: _Optional[str] = ..., security_id: _Optional[int] = ..., symbol: _Optional[str] = ..., net_qty_units: _Optional[int] = ..., open_cost_paise: _Optional[int] = ..., realised_pnl_paise: _Optional[int] = ..., charges_paise: _Optional[int] = ..., ts_event_ns: _Optional[int] = ..., product: _Optional[str] = ...) -> None: ...

class ListPositionsRequest(_message.Message):
    __slots__ = ("strategy", "open_only")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    OPEN_ONLY_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    open_only: bool
    def __init__(self, strategy: _Optional[str] = ..., open_only: _Optional[bool] = ...) -> None: ...

class ListPositionsResponse(_message.Message):
    __slots__ = ("positions", "realised_pnl_paise", "charges_paise", "net_pnl_paise")
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    REALISED_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    CHARGES_PAISE_FIELD_NUMBER: _ClassVar[int]
    NET_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[Position]
    realised_pnl_paise: int
    charges_paise: int
    net_pnl_paise: int
    def __init__(self, positions: _Optional[_Iterable[_Union[Position, _Mapping]]] = ..., realised_pnl_paise: _Optional[int] = ..., charges_paise: _Optional[int] = ..., net_pnl_paise: _Optional[int] = ...) -> None: ...

class DayPnl(_message.Message):
    __slots__ = ("strategy", "segment", "security_id", "symbol", "product", "carried_qty_units", "carried_cost_paise", "carry_open_qty_units", "carry_realised_pnl_paise", "carry_unrealised_pnl_paise", "day_open_qty_units", "day_realised_pnl_paise", "day_unrealised_pnl_paise", "day_charges_paise", "marked")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    CARRIED_QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    CARRIED_COST_PAISE_FIELD_NUMBER: _ClassVar[int]
    CARRY_OPEN_QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    CARRY_REALISED_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    CARRY_UNREALISED_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    DAY_OPEN_QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    DAY_REALISED_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    DAY_UNREALISED_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    DAY_CHARGES_PAISE_FIELD_NUMBER: _ClassVar[int]
    MARKED_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    segment: str
    security_id: int
    symbol: str
    product: str
    carried_qty_units: int
    carried_cost_paise: int
    carry_open_qty_units: int
    carry_realised_pnl_paise: int
    carry_unrealised_pnl_paise: int
    day_open_qty_units: int
    day_realised_pnl_paise: int
    day_unrealised_pnl_paise: int
    day_charges_paise: int
    marked: bool
    def __init__(self, strategy: _Optional[str] = ..., segment: _Optional[str] = ..., security_id: _Optional[int] = ..., symbol: _Optional[str] = ..., product: _Optional[str] = ..., carried_qty_units: _Optional[int] = ..., carried_cost_paise: _Optional[int] = ..., carry_open_qty_units: _Optional[int] = ..., carry_realised_pnl_paise: _Optional[int] = ..., carry_unrealised_pnl_paise: _Optional[int] = ..., day_open_qty_units: _Optional[int] = ..., day_realised_pnl_paise: _Optional[int] = ..., day_unrealised_pnl_paise: _Optional[int] = ..., day_charges_paise: _Optional[int] = ..., marked: _Optional[bool] = ...) -> None: ...

class GetDayPnlRequest(_message.Message):
    __slots__ = ("strategy",)
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    def __init__(self, strategy: _Optional[str] = ...) -> None: ...

class GetDayPnlResponse(_message.Message):
    __slots__ = ("positions", "day_start_ns", "carry_pnl_paise", "day_pnl_paise", "day_charges_paise")
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    DAY_START_NS_FIELD_NUMBER: _ClassVar[int]
    CARRY_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    DAY_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    DAY_CHARGES_PAISE_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[DayPnl]
    day_start_ns: int
    carry_pnl_paise: int
    day_pnl_paise: int
    day_charges_paise: int
    def __init__(self, positions: _Optional[_Iterable[_Union[DayPnl, _Mapping]]] = ..., day_start_ns: _Optional[int] = ..., carry_pnl_paise: _Optional[int] = ..., day_pnl_paise: _Optional[int] = ..., day_charges_paise: _Optional[int] = ...) -> None: ...

class ConvertPositionRequest(_message.Message):
    __slots__ = ("strategy", "instrument", "from_product", "to_product", "qty_units")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    FROM_PRODUCT_FIELD_NUMBER: _ClassVar[int]
    TO_PRODUCT_FIELD_NUMBER: _ClassVar[int]
    QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    instrument: InstrumentRef
    from_product: str
    to_product: str
    qty_units: int
    def __init__(self, strategy: _Optional[str] = ..., instrument: _Optional[_Union[InstrumentRef, _Mapping]] = ..., from_product: _Optional[str] = ..., to_product: _Optional[str] = ..., qty_units: _Optional[int] = ...) -> None: ...

class ConvertPositionResponse(_message.Message):
    __slots__ = ("from_position", "to_position")
    FROM_POSITION_FIELD_NUMBER: _ClassVar[int]
    TO_POSITION_FIELD_NUMBER: _ClassVar[int]
    from_position: Position
    to_position: Position
    def __init__(self, from_position: _Optional[_Union[Position, _Mapping]] = ..., to_position: _Optional[_Union[Position, _Mapping]] = ...) -> None: ...

class GetFundsRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: str
    def __init__(self, account: _Optional[str] = ...) -> None: ...

class GetFundsResponse(_message.Message):
    __slots__ = ("account", "cash_paise", "external_paise", "charges_paise", "ts_ns")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CASH_PAISE_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_PAISE_FIELD_NUMBER: _ClassVar[int]
    CHARGES_PAISE_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    account: str
    cash_paise: int
    external_paise: int
    charges_paise: int
    ts_ns: int
    def __init__(self, account: _Optional[str] = ..., cash_paise: _Optional[int] = ..., external_paise: _Optional[int] = ..., charges_paise: _Optional[int] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class GetRiskLimitsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRiskLimitsResponse(_message.Message):
    __slots__ = ("limits_json", "changes_json", "changed_by", "changed_ns")
    LIMITS_JSON_FIELD_NUMBER: _ClassVar[int]
    CHANGES_JSON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    CHANGED_NS_FIELD_NUMBER: _ClassVar[int]
    limits_json: str
    changes_json: str
    changed_by: str
    changed_ns: int
    def __init__(self, limits_json: _Optional[str] = ..., changes_json: _Optional[str] = ..., changed_by: _Optional[str] = ..., changed_ns: _Optional[int] = ...) -> None: ...

class SetRiskLimitsRequest(_message.Message):
    __slots__ = ("changes_json",)
    CHANGES_JSON_FIELD_NUMBER: _ClassVar[int]
    changes_json: str
    def __init__(self, changes_json: _Optional[str] = ...) -> None: ...

class SetRiskLimitsResponse(_message.Message):
    __slots__ = ("limits_json", "changes_json")
    LIMITS_JSON_FIELD_NUMBER: _ClassVar[int]
    CHANGES_JSON_FIELD_NUMBER: _ClassVar[int]
    limits_json: str
    changes_json: str
    def __init__(self, limits_json: _Optional[str] = ..., changes_json: _Optional[str] = ...) -> None: ...

class SquareOffAllRequest(_message.Message):
    __slots__ = ("strategy", "confirm")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    confirm: bool
    def __init__(self, strategy: _Optional[str] = ..., confirm: _Optional[bool] = ...) -> None: ...

class SquareOffAllResponse(_message.Message):
    __slots__ = ("positions", "cancelled_client_order_ids")
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_CLIENT_ORDER_IDS_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[Position]
    cancelled_client_order_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, positions: _Optional[_Iterable[_Union[Position, _Mapping]]] = ..., cancelled_client_order_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetRiskStateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRiskStateResponse(_message.Message):
    __slots__ = ("state", "reason_code", "detail", "by", "ts_ns", "kill_switch", "usage")
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    KILL_SWITCH_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    state: TradingState
    reason_code: str
    detail: str
    by: str
    ts_ns: int
    kill_switch: KillSwitch
    usage: RiskUsage
    def __init__(self, state: _Optional[_Union[TradingState, str]] = ..., reason_code: _Optional[str] = ..., detail: _Optional[str] = ..., by: _Optional[str] = ..., ts_ns: _Optional[int] = ..., kill_switch: _Optional[_Union[KillSwitch, _Mapping]] = ..., usage: _Optional[_Union[RiskUsage, _Mapping]] = ...) -> None: ...

class RiskUsage(_message.Message):
    __slots__ = ("orders_today", "orders_last_second", "trades_today", "open_orders", "gross_exposure_paise", "net_long_paise", "net_short_paise", "day_pnl_paise", "cash_paise", "reserved_paise", "max_orders_per_second", "max_orders_per_day", "max_trades_per_day", "max_open_orders", "max_gross_exposure_paise", "max_net_exposure_paise", "daily_max_loss_paise", "ts_ns")
    ORDERS_TODAY_FIELD_NUMBER: _ClassVar[int]
    ORDERS_LAST_SECOND_FIELD_NUMBER: _ClassVar[int]
    TRADES_TODAY_FIELD_NUMBER: _ClassVar[int]
    OPEN_ORDERS_FIELD_NUMBER: _ClassVar[int]
    GROSS_EXPOSURE_PAISE_FIELD_NUMBER: _ClassVar[int]
    NET_LONG_PAISE_FIELD_NUMBER: _ClassVar[int]
    NET_SHORT_PAISE_FIELD_NUMBER: _ClassVar[int]
    DAY_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    CASH_PAISE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_PAISE_FIELD_NUMBER: _ClassVar[int]
    MAX_ORDERS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MAX_ORDERS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    MAX_TRADES_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    MAX_OPEN_ORDERS_FIELD_NUMBER: _ClassVar[int]
    MAX_GROSS_EXPOSURE_PAISE_FIELD_NUMBER: _ClassVar[int]
    MAX_NET_EXPOSURE_PAISE_FIELD_NUMBER: _ClassVar[int]
    DAILY_MAX_LOSS_PAISE_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    orders_today: int
    orders_last_second: int
    trades_today: int
    open_orders: int
    gross_exposure_paise: int
    net_long_paise: int
    net_short_paise: int
    day_pnl_paise: int
    cash_paise: int
    reserved_paise: int
    max_orders_per_second: int
    max_orders_per_day: int
    max_trades_per_day: int
    max_open_orders: int
    max_gross_exposure_paise: int
    max_net_exposure_paise: int
    daily_max_loss_paise: int
    ts_ns: int
    def __init__(self, orders_today: _Optional[int] = ..., orders_last_second: _Optional[int] = ..., trades_today: _Optional[int] = ..., open_orders: _Optional[int] = ..., gross_exposure_paise: _Optional[int] = ..., net_long_paise: _Optional[int] = ..., net_short_paise: _Optional[int] = ..., day_pnl_paise: _Optional[int] = ..., cash_paise: _Optional[int] = ..., reserved_paise: _Optional[int] = ..., max_orders_per_second: _Optional[int] = ..., max_orders_per_day: _Optional[int] = ..., max_trades_per_day: _Optional[int] = ..., max_open_orders: _Optional[int] = ..., max_gross_exposure_paise: _Optional[int] = ..., max_net_exposure_paise: _Optional[int] = ..., daily_max_loss_paise: _Optional[int] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class EngageKillSwitchRequest(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class EngageKillSwitchResponse(_message.Message):
    __slots__ = ("kill_switch",)
    KILL_SWITCH_FIELD_NUMBER: _ClassVar[int]
    kill_switch: KillSwitch
    def __init__(self, kill_switch: _Optional[_Union[KillSwitch, _Mapping]] = ...) -> None: ...

class ReleaseKillSwitchRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReleaseKillSwitchResponse(_message.Message):
    __slots__ = ("kill_switch",)
    KILL_SWITCH_FIELD_NUMBER: _ClassVar[int]
    kill_switch: KillSwitch
    def __init__(self, kill_switch: _Optional[_Union[KillSwitch, _Mapping]] = ...) -> None: ...

class Instrument(_message.Message):
    __slots__ = ("segment", "security_id", "exchange", "symbol", "display_name", "underlying", "instrument_type", "expiry_yyyymmdd", "strike_paise", "option_type", "lot_size_units", "tick_paise", "freeze_qty_units")
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    UNDERLYING_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_YYYYMMDD_FIELD_NUMBER: _ClassVar[int]
    STRIKE_PAISE_FIELD_NUMBER: _ClassVar[int]
    OPTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    LOT_SIZE_UNITS_FIELD_NUMBER: _ClassVar[int]
    TICK_PAISE_FIELD_NUMBER: _ClassVar[int]
    FREEZE_QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    segment: str
    security_id: int
    exchange: str
    symbol: str
    display_name: str
    underlying: str
    instrument_type: str
    expiry_yyyymmdd: int
    strike_paise: int
    option_type: str
    lot_size_units: int
    tick_paise: int
    freeze_qty_units: int
    def __init__(self, segment: _Optional[str] = ..., security_id: _Optional[int] = ..., exchange: _Optional[str] = ..., symbol: _Optional[str] = ..., display_name: _Optional[str] = ..., underlying: _Optional[str] = ..., instrument_type: _Optional[str] = ..., expiry_yyyymmdd: _Optional[int] = ..., strike_paise: _Optional[int] = ..., option_type: _Optional[str] = ..., lot_size_units: _Optional[int] = ..., tick_paise: _Optional[int] = ..., freeze_qty_units: _Optional[int] = ...) -> None: ...

class SearchInstrumentsRequest(_message.Message):
    __slots__ = ("text", "limit")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    text: str
    limit: int
    def __init__(self, text: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class SearchInstrumentsResponse(_message.Message):
    __slots__ = ("instruments",)
    INSTRUMENTS_FIELD_NUMBER: _ClassVar[int]
    instruments: _containers.RepeatedCompositeFieldContainer[Instrument]
    def __init__(self, instruments: _Optional[_Iterable[_Union[Instrument, _Mapping]]] = ...) -> None: ...

class GetOptionChainRequest(_message.Message):
    __slots__ = ("underlying", "expiry_yyyymmdd", "segment")
    UNDERLYING_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_YYYYMMDD_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    underlying: str
    expiry_yyyymmdd: int
    segment: str
    def __init__(self, underlying: _Optional[str] = ..., expiry_yyyymmdd: _Optional[int] = ..., segment: _Optional[str] = ...) -> None: ...

class ChainStrike(_message.Message):
    __slots__ = ("strike_paise", "ce_security_id", "pe_security_id", "ce_symbol", "pe_symbol")
    STRIKE_PAISE_FIELD_NUMBER: _ClassVar[int]
    CE_SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    PE_SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    CE_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    PE_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    strike_paise: int
    ce_security_id: int
    pe_security_id: int
    ce_symbol: str
    pe_symbol: str
    def __init__(self, strike_paise: _Optional[int] = ..., ce_security_id: _Optional[int] = ..., pe_security_id: _Optional[int] = ..., ce_symbol: _Optional[str] = ..., pe_symbol: _Optional[str] = ...) -> None: ...

class GetOptionChainResponse(_message.Message):
    __slots__ = ("underlying", "segment", "expiry_yyyymmdd", "lot_size_units", "step_paise", "strikes", "expiries")
    UNDERLYING_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_YYYYMMDD_FIELD_NUMBER: _ClassVar[int]
    LOT_SIZE_UNITS_FIELD_NUMBER: _ClassVar[int]
    STEP_PAISE_FIELD_NUMBER: _ClassVar[int]
    STRIKES_FIELD_NUMBER: _ClassVar[int]
    EXPIRIES_FIELD_NUMBER: _ClassVar[int]
    underlying: str
    segment: str
    expiry_yyyymmdd: int
    lot_size_units: int
    step_paise: int
    strikes: _containers.RepeatedCompositeFieldContainer[ChainStrike]
    expiries: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, underlying: _Optional[str] = ..., segment: _Optional[str] = ..., expiry_yyyymmdd: _Optional[int] = ..., lot_size_units: _Optional[int] = ..., step_paise: _Optional[int] = ..., strikes: _Optional[_Iterable[_Union[ChainStrike, _Mapping]]] = ..., expiries: _Optional[_Iterable[int]] = ...) -> None: ...

class GetQuoteRequest(_message.Message):
    __slots__ = ("instruments", "depth")
    INSTRUMENTS_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    instruments: _containers.RepeatedCompositeFieldContainer[InstrumentRef]
    depth: bool
    def __init__(self, instruments: _Optional[_Iterable[_Union[InstrumentRef, _Mapping]]] = ..., depth: _Optional[bool] = ...) -> None: ...

class DepthLevel(_message.Message):
    __slots__ = ("price_paise", "qty_units", "orders")
    PRICE_PAISE_FIELD_NUMBER: _ClassVar[int]
    QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    price_paise: int
    qty_units: int
    orders: int
    def __init__(self, price_paise: _Optional[int] = ..., qty_units: _Optional[int] = ..., orders: _Optional[int] = ...) -> None: ...

class InstrumentQuote(_message.Message):
    __slots__ = ("segment", "security_id", "symbol", "has_data", "ltp_paise", "ltq_units", "atp_paise", "volume_units", "open_paise", "high_paise", "low_paise", "close_paise", "prev_close_paise", "change_paise", "change_bp", "oi_units", "prev_oi_units", "oi_change_units", "total_buy_qty_units", "total_sell_qty_units", "bids", "asks", "ts_event_ns", "ts_received_ns", "age_ns", "stale")
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    HAS_DATA_FIELD_NUMBER: _ClassVar[int]
    LTP_PAISE_FIELD_NUMBER: _ClassVar[int]
    LTQ_UNITS_FIELD_NUMBER: _ClassVar[int]
    ATP_PAISE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_UNITS_FIELD_NUMBER: _ClassVar[int]
    OPEN_PAISE_FIELD_NUMBER: _ClassVar[int]
    HIGH_PAISE_FIELD_NUMBER: _ClassVar[int]
    LOW_PAISE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_PAISE_FIELD_NUMBER: _ClassVar[int]
    PREV_CLOSE_PAISE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_PAISE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_BP_FIELD_NUMBER: _ClassVar[int]
    OI_UNITS_FIELD_NUMBER: _ClassVar[int]
    PREV_OI_UNITS_FIELD_NUMBER: _ClassVar[int]
    OI_CHANGE_UNITS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BUY_QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SELL_QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    TS_EVENT_NS_FIELD_NUMBER: _ClassVar[int]
    TS_RECEIVED_NS_FIELD_NUMBER: _ClassVar[int]
    AGE_NS_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    segment: str
    security_id: int
    symbol: str
    has_data: bool
    ltp_paise: int
    ltq_units: int
    atp_paise: int
    volume_units: int
    open_paise: int
    high_paise: int
    low_paise: int
    close_paise: int
    prev_close_paise: int
    change_paise: int
    change_bp: int
    oi_units: int
    prev_oi_units: int
    oi_change_units: int
    total_buy_qty_units: int
    total_sell_qty_units: int
    bids: _containers.RepeatedCompositeFieldContainer[DepthLevel]
    asks: _containers.RepeatedCompositeFieldContainer[DepthLevel]
    ts_event_ns: int
    ts_received_ns: int
    age_ns: int
    stale: bool
    def __init__(self, segment: _Optional[str] = ..., security_id: _Optional[int] = ..., symbol: _Optional[str] = ..., has_data: _Optional[bool] = ..., ltp_paise: _Optional[int] = ..., ltq_units: _Optional[int] = ..., atp_paise: _Optional[int] = ..., volume_units: _Optional[int] = ..., open_paise: _Optional[int] = ..., high_paise: _Optional[int] = ..., low_paise: _Optional[int] = ..., close_paise: _Optional[int] = ..., prev_close_paise: _Optional[int] = ..., change_paise: _Optional[int] = ..., change_bp: _Optional[int] = ..., oi_units: _Optional[int] = ..., prev_oi_units: _Optional[int] = ..., oi_change_units: _Optional[int] = ..., total_buy_qty_units: _Optional[int] = ..., total_sell_qty_units: _Optional[int] = ..., bids: _Optional[_Iterable[_Union[DepthLevel, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[DepthLevel, _Mapping]]] = ..., ts_event_ns: _Optional[int] = ..., ts_received_ns: _Optional[int] = ..., age_ns: _Optional[int] = ..., stale: _Optional[bool] = ...) -> None: ...

class GetQuoteResponse(_message.Message):
    __slots__ = ("quotes", "stale_after_ns", "ts_ns")
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    STALE_AFTER_NS_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    quotes: _containers.RepeatedCompositeFieldContainer[InstrumentQuote]
    stale_after_ns: int
    ts_ns: int
    def __init__(self, quotes: _Optional[_Iterable[_Union[InstrumentQuote, _Mapping]]] = ..., stale_after_ns: _Optional[int] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class GetPricedChainRequest(_message.Message):
    __slots__ = ("underlying", "expiry_yyyymmdd", "segment", "strikes_each_side")
    UNDERLYING_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_YYYYMMDD_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    STRIKES_EACH_SIDE_FIELD_NUMBER: _ClassVar[int]
    underlying: str
    expiry_yyyymmdd: int
    segment: str
    strikes_each_side: int
    def __init__(self, underlying: _Optional[str] = ..., expiry_yyyymmdd: _Optional[int] = ..., segment: _Optional[str] = ..., strikes_each_side: _Optional[int] = ...) -> None: ...

class PricedOption(_message.Message):
    __slots__ = ("security_id", "symbol", "ltp_paise", "bid_paise", "ask_paise", "volume_units", "oi_units", "oi_change_units", "iv_price_paise", "iv_status", "iv_ppm", "delta_ppm", "gamma_ppb_per_rupee", "theta_paise_per_day", "vega_paise_per_vol_point", "ts_event_ns")
    SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    LTP_PAISE_FIELD_NUMBER: _ClassVar[int]
    BID_PAISE_FIELD_NUMBER: _ClassVar[int]
    ASK_PAISE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_UNITS_FIELD_NUMBER: _ClassVar[int]
    OI_UNITS_FIELD_NUMBER: _ClassVar[int]
    OI_CHANGE_UNITS_FIELD_NUMBER: _ClassVar[int]
    IV_PRICE_PAISE_FIELD_NUMBER: _ClassVar[int]
    IV_STATUS_FIELD_NUMBER: _ClassVar[int]
    IV_PPM_FIELD_NUMBER: _ClassVar[int]
    DELTA_PPM_FIELD_NUMBER: _ClassVar[int]
    GAMMA_PPB_PER_RUPEE_FIELD_NUMBER: _ClassVar[int]
    THETA_PAISE_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    VEGA_PAISE_PER_VOL_POINT_FIELD_NUMBER: _ClassVar[int]
    TS_EVENT_NS_FIELD_NUMBER: _ClassVar[int]
    security_id: int
    symbol: str
    ltp_paise: int
    bid_paise: int
    ask_paise: int
    volume_units: int
    oi_units: int
    oi_change_units: int
    iv_price_paise: int
    iv_status: str
    iv_ppm: int
    delta_ppm: int
    gamma_ppb_per_rupee: int
    theta_paise_per_day: int
    vega_paise_per_vol_point: int
    ts_event_ns: int
    def __init__(self, security_id: _Optional[int] = ..., symbol: _Optional[str] = ..., ltp_paise: _Optional[int] = ..., bid_paise: _Optional[int] = ..., ask_paise: _Optional[int] = ..., volume_units: _Optional[int] = ..., oi_units: _Optional[int] = ..., oi_change_units: _Optional[int] = ..., iv_price_paise: _Optional[int] = ..., iv_status: _Optional[str] = ..., iv_ppm: _Optional[int] = ..., delta_ppm: _Optional[int] = ..., gamma_ppb_per_rupee: _Optional[int] = ..., theta_paise_per_day: _Optional[int] = ..., vega_paise_per_vol_point: _Optional[int] = ..., ts_event_ns: _Optional[int] = ...) -> None: ...

class PricedStrike(_message.Message):
    __slots__ = ("strike_paise", "atm", "ce", "pe")
    STRIKE_PAISE_FIELD_NUMBER: _ClassVar[int]
    ATM_FIELD_NUMBER: _ClassVar[int]
    CE_FIELD_NUMBER: _ClassVar[int]
    PE_FIELD_NUMBER: _ClassVar[int]
    strike_paise: int
    atm: bool
    ce: PricedOption
    pe: PricedOption
    def __init__(self, strike_paise: _Optional[int] = ..., atm: _Optional[bool] = ..., ce: _Optional[_Union[PricedOption, _Mapping]] = ..., pe: _Optional[_Union[PricedOption, _Mapping]] = ...) -> None: ...

class GetPricedChainResponse(_message.Message):
    __slots__ = ("underlying", "segment", "expiry_yyyymmdd", "lot_size_units", "step_paise", "underlying_source", "spot_paise", "future_paise", "forward_paise", "rate_ppm", "time_left_ns", "year_trading_ns", "atm_strike_paise", "strikes", "expiries", "ts_ns")
    UNDERLYING_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_YYYYMMDD_FIELD_NUMBER: _ClassVar[int]
    LOT_SIZE_UNITS_FIELD_NUMBER: _ClassVar[int]
    STEP_PAISE_FIELD_NUMBER: _ClassVar[int]
    UNDERLYING_SOURCE_FIELD_NUMBER: _ClassVar[int]
    SPOT_PAISE_FIELD_NUMBER: _ClassVar[int]
    FUTURE_PAISE_FIELD_NUMBER: _ClassVar[int]
    FORWARD_PAISE_FIELD_NUMBER: _ClassVar[int]
    RATE_PPM_FIELD_NUMBER: _ClassVar[int]
    TIME_LEFT_NS_FIELD_NUMBER: _ClassVar[int]
    YEAR_TRADING_NS_FIELD_NUMBER: _ClassVar[int]
    ATM_STRIKE_PAISE_FIELD_NUMBER: _ClassVar[int]
    STRIKES_FIELD_NUMBER: _ClassVar[int]
    EXPIRIES_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    underlying: str
    segment: str
    expiry_yyyymmdd: int
    lot_size_units: int
    step_paise: int
    underlying_source: str
    spot_paise: int
    future_paise: int
    forward_paise: int
    rate_ppm: int
    time_left_ns: int
    year_trading_ns: int
    atm_strike_paise: int
    strikes: _containers.RepeatedCompositeFieldContainer[PricedStrike]
    expiries: _containers.RepeatedScalarFieldContainer[int]
    ts_ns: int
    def __init__(self, underlying: _Optional[str] = ..., segment: _Optional[str] = ..., expiry_yyyymmdd: _Optional[int] = ..., lot_size_units: _Optional[int] = ..., step_paise: _Optional[int] = ..., underlying_source: _Optional[str] = ..., spot_paise: _Optional[int] = ..., future_paise: _Optional[int] = ..., forward_paise: _Optional[int] = ..., rate_ppm: _Optional[int] = ..., time_left_ns: _Optional[int] = ..., year_trading_ns: _Optional[int] = ..., atm_strike_paise: _Optional[int] = ..., strikes: _Optional[_Iterable[_Union[PricedStrike, _Mapping]]] = ..., expiries: _Optional[_Iterable[int]] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class GetOiTrackerRequest(_message.Message):
    __slots__ = ("underlying", "expiry_yyyymmdd", "segment", "windows_s")
    UNDERLYING_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_YYYYMMDD_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_S_FIELD_NUMBER: _ClassVar[int]
    underlying: str
    expiry_yyyymmdd: int
    segment: str
    windows_s: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, underlying: _Optional[str] = ..., expiry_yyyymmdd: _Optional[int] = ..., segment: _Optional[str] = ..., windows_s: _Optional[_Iterable[int]] = ...) -> None: ...

class OiChange(_message.Message):
    __slots__ = ("window_s", "span_ns", "oi_change_units", "price_change_paise", "buildup")
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    SPAN_NS_FIELD_NUMBER: _ClassVar[int]
    OI_CHANGE_UNITS_FIELD_NUMBER: _ClassVar[int]
    PRICE_CHANGE_PAISE_FIELD_NUMBER: _ClassVar[int]
    BUILDUP_FIELD_NUMBER: _ClassVar[int]
    window_s: int
    span_ns: int
    oi_change_units: int
    price_change_paise: int
    buildup: str
    def __init__(self, window_s: _Optional[int] = ..., span_ns: _Optional[int] = ..., oi_change_units: _Optional[int] = ..., price_change_paise: _Optional[int] = ..., buildup: _Optional[str] = ...) -> None: ...

class OiOption(_message.Message):
    __slots__ = ("security_id", "symbol", "ltp_paise", "volume_units", "oi_units", "changes")
    SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    LTP_PAISE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_UNITS_FIELD_NUMBER: _ClassVar[int]
    OI_UNITS_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    security_id: int
    symbol: str
    ltp_paise: int
    volume_units: int
    oi_units: int
    changes: _containers.RepeatedCompositeFieldContainer[OiChange]
    def __init__(self, security_id: _Optional[int] = ..., symbol: _Optional[str] = ..., ltp_paise: _Optional[int] = ..., volume_units: _Optional[int] = ..., oi_units: _Optional[int] = ..., changes: _Optional[_Iterable[_Union[OiChange, _Mapping]]] = ...) -> None: ...

class OiStrike(_message.Message):
    __slots__ = ("strike_paise", "ce", "pe")
    STRIKE_PAISE_FIELD_NUMBER: _ClassVar[int]
    CE_FIELD_NUMBER: _ClassVar[int]
    PE_FIELD_NUMBER: _ClassVar[int]
    strike_paise: int
    ce: OiOption
    pe: OiOption
    def __init__(self, strike_paise: _Optional[int] = ..., ce: _Optional[_Union[OiOption, _Mapping]] = ..., pe: _Optional[_Union[OiOption, _Mapping]] = ...) -> None: ...

class OiWindowTotal(_message.Message):
    __slots__ = ("window_s", "ce_oi_change_units", "pe_oi_change_units")
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    CE_OI_CHANGE_UNITS_FIELD_NUMBER: _ClassVar[int]
    PE_OI_CHANGE_UNITS_FIELD_NUMBER: _ClassVar[int]
    window_s: int
    ce_oi_change_units: int
    pe_oi_change_units: int
    def __init__(self, window_s: _Optional[int] = ..., ce_oi_change_units: _Optional[int] = ..., pe_oi_change_units: _Optional[int] = ...) -> None: ...

class GetOiTrackerResponse(_message.Message):
    __slots__ = ("underlying", "segment", "expiry_yyyymmdd", "windows_s", "ce_oi_units", "pe_oi_units", "ce_volume_units", "pe_volume_units", "pcr_oi_ppm", "pcr_volume_ppm", "max_pain_strike_paise", "max_pain_payout_paise", "totals", "strikes", "expiries", "ts_ns")
    UNDERLYING_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_YYYYMMDD_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_S_FIELD_NUMBER: _ClassVar[int]
    CE_OI_UNITS_FIELD_NUMBER: _ClassVar[int]
    PE_OI_UNITS_FIELD_NUMBER: _ClassVar[int]
    CE_VOLUME_UNITS_FIELD_NUMBER: _ClassVar[int]
    PE_VOLUME_UNITS_FIELD_NUMBER: _ClassVar[int]
    PCR_OI_PPM_FIELD_NUMBER: _ClassVar[int]
    PCR_VOLUME_PPM_FIELD_NUMBER: _ClassVar[int]
    MAX_PAIN_STRIKE_PAISE_FIELD_NUMBER: _ClassVar[int]
    MAX_PAIN_PAYOUT_PAISE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    STRIKES_FIELD_NUMBER: _ClassVar[int]
    EXPIRIES_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    underlying: str
    segment: str
    expiry_yyyymmdd: int
    windows_s: _containers.RepeatedScalarFieldContainer[int]
    ce_oi_units: int
    pe_oi_units: int
    ce_volume_units: int
    pe_volume_units: int
    pcr_oi_ppm: int
    pcr_volume_ppm: int
    max_pain_strike_paise: int
    max_pain_payout_paise: int
    totals: _containers.RepeatedCompositeFieldContainer[OiWindowTotal]
    strikes: _containers.RepeatedCompositeFieldContainer[OiStrike]
    expiries: _containers.RepeatedScalarFieldContainer[int]
    ts_ns: int
    def __init__(self, underlying: _Optional[str] = ..., segment: _Optional[str] = ..., expiry_yyyymmdd: _Optional[int] = ..., windows_s: _Optional[_Iterable[int]] = ..., ce_oi_units: _Optional[int] = ..., pe_oi_units: _Optional[int] = ..., ce_volume_units: _Optional[int] = ..., pe_volume_units: _Optional[int] = ..., pcr_oi_ppm: _Optional[int] = ..., pcr_volume_ppm: _Optional[int] = ..., max_pain_strike_paise: _Optional[int] = ..., max_pain_payout_paise: _Optional[int] = ..., totals: _Optional[_Iterable[_Union[OiWindowTotal, _Mapping]]] = ..., strikes: _Optional[_Iterable[_Union[OiStrike, _Mapping]]] = ..., expiries: _Optional[_Iterable[int]] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class ScanRequest(_message.Message):
    __slots__ = ("screen",)
    SCREEN_FIELD_NUMBER: _ClassVar[int]
    screen: str
    def __init__(self, screen: _Optional[str] = ...) -> None: ...

class ScanHit(_message.Message):
    __slots__ = ("segment", "security_id", "symbol", "ltp_paise", "change_bp", "volume_units", "oi_units", "measure", "buildup")
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    LTP_PAISE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_BP_FIELD_NUMBER: _ClassVar[int]
    VOLUME_UNITS_FIELD_NUMBER: _ClassVar[int]
    OI_UNITS_FIELD_NUMBER: _ClassVar[int]
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    BUILDUP_FIELD_NUMBER: _ClassVar[int]
    segment: str
    security_id: int
    symbol: str
    ltp_paise: int
    change_bp: int
    volume_units: int
    oi_units: int
    measure: int
    buildup: str
    def __init__(self, segment: _Optional[str] = ..., security_id: _Optional[int] = ..., symbol: _Optional[str] = ..., ltp_paise: _Optional[int] = ..., change_bp: _Optional[int] = ..., volume_units: _Optional[int] = ..., oi_units: _Optional[int] = ..., measure: _Optional[int] = ..., buildup: _Optional[str] = ...) -> None: ...

class ScreenResult(_message.Message):
    __slots__ = ("screen", "kind", "measure_name", "hits", "universe_size")
    SCREEN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MEASURE_NAME_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    UNIVERSE_SIZE_FIELD_NUMBER: _ClassVar[int]
    screen: str
    kind: str
    measure_name: str
    hits: _containers.RepeatedCompositeFieldContainer[ScanHit]
    universe_size: int
    def __init__(self, screen: _Optional[str] = ..., kind: _Optional[str] = ..., measure_name: _Optional[str] = ..., hits: _Optional[_Iterable[_Union[ScanHit, _Mapping]]] = ..., universe_size: _Optional[int] = ...) -> None: ...

class ScanResponse(_message.Message):
    __slots__ = ("results", "ts_ns")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ScreenResult]
    ts_ns: int
    def __init__(self, results: _Optional[_Iterable[_Union[ScreenResult, _Mapping]]] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("name", "role", "active", "created_ns", "updated_ns", "updated_by", "active_tokens")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CREATED_NS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_NS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: Role
    active: bool
    created_ns: int
    updated_ns: int
    updated_by: str
    active_tokens: int
    def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., active: _Optional[bool] = ..., created_ns: _Optional[int] = ..., updated_ns: _Optional[int] = ..., updated_by: _Optional[str] = ..., active_tokens: _Optional[int] = ...) -> None: ...

class AddUserRequest(_message.Message):
    __slots__ = ("name", "role")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: Role
    def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ...) -> None: ...

class AddUserResponse(_message.Message):
    __slots__ = ("user", "token", "token_id")
    USER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    user: User
    token: str
    token_id: str
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ..., token: _Optional[str] = ..., token_id: _Optional[str] = ...) -> None: ...

class ListUsersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListUsersResponse(_message.Message):
    __slots__ = ("users",)
    USERS_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[User]
    def __init__(self, users: _Optional[_Iterable[_Union[User, _Mapping]]] = ...) -> None: ...

class RevokeUserRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RevokeUserResponse(_message.Message):
    __slots__ = ("user", "tokens_revoked")
    USER_FIELD_NUMBER: _ClassVar[int]
    TOKENS_REVOKED_FIELD_NUMBER: _ClassVar[int]
    user: User
    tokens_revoked: int
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ..., tokens_revoked: _Optional[int] = ...) -> None: ...

class Strategy(_message.Message):
    __slots__ = ("name", "kind", "running", "instruments", "params_json", "changed_by", "changed_ns", "net_qty_units", "realised_pnl_paise", "charges_paise", "open_orders")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENTS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    CHANGED_NS_FIELD_NUMBER: _ClassVar[int]
    NET_QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    REALISED_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    CHARGES_PAISE_FIELD_NUMBER: _ClassVar[int]
    OPEN_ORDERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    running: bool
    instruments: _containers.RepeatedScalarFieldContainer[str]
    params_json: str
    changed_by: str
    changed_ns: int
    net_qty_units: int
    realised_pnl_paise: int
    charges_paise: int
    open_orders: int
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., running: _Optional[bool] = ..., instruments: _Optional[_Iterable[str]] = ..., params_json: _Optional[str] = ..., changed_by: _Optional[str] = ..., changed_ns: _Optional[int] = ..., net_qty_units: _Optional[int] = ..., realised_pnl_paise: _Optional[int] = ..., charges_paise: _Optional[int] = ..., open_orders: _Optional[int] = ...) -> None: ...

class ListStrategiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListStrategiesResponse(_message.Message):
    __slots__ = ("strategies",)
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    strategies: _containers.RepeatedCompositeFieldContainer[Strategy]
    def __init__(self, strategies: _Optional[_Iterable[_Union[Strategy, _Mapping]]] = ...) -> None: ...

class StartStrategyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StartStrategyResponse(_message.Message):
    __slots__ = ("strategy",)
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    strategy: Strategy
    def __init__(self, strategy: _Optional[_Union[Strategy, _Mapping]] = ...) -> None: ...

class StopStrategyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StopStrategyResponse(_message.Message):
    __slots__ = ("strategy", "cancelled_client_order_ids")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_CLIENT_ORDER_IDS_FIELD_NUMBER: _ClassVar[int]
    strategy: Strategy
    cancelled_client_order_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, strategy: _Optional[_Union[Strategy, _Mapping]] = ..., cancelled_client_order_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetStrategyParamsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetStrategyParamsResponse(_message.Message):
    __slots__ = ("name", "params_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    params_json: str
    def __init__(self, name: _Optional[str] = ..., params_json: _Optional[str] = ...) -> None: ...

class SetStrategyParamsRequest(_message.Message):
    __slots__ = ("name", "changes_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHANGES_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    changes_json: str
    def __init__(self, name: _Optional[str] = ..., changes_json: _Optional[str] = ...) -> None: ...

class SetStrategyParamsResponse(_message.Message):
    __slots__ = ("name", "params_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    params_json: str
    def __init__(self, name: _Optional[str] = ..., params_json: _Optional[str] = ...) -> None: ...

class JournalStats(_message.Message):
    __slots__ = ("trades", "wins", "losses", "breakeven", "win_rate_ppm", "gross_pnl_paise", "charges_paise", "net_pnl_paise", "profit_paise", "loss_paise", "avg_win_paise", "avg_loss_paise", "has_profit_factor", "profit_factor_ppm", "expectancy_paise", "max_drawdown_paise", "largest_win_paise", "largest_loss_paise")
    TRADES_FIELD_NUMBER: _ClassVar[int]
    WINS_FIELD_NUMBER: _ClassVar[int]
    LOSSES_FIELD_NUMBER: _ClassVar[int]
    BREAKEVEN_FIELD_NUMBER: _ClassVar[int]
    WIN_RATE_PPM_FIELD_NUMBER: _ClassVar[int]
    GROSS_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    CHARGES_PAISE_FIELD_NUMBER: _ClassVar[int]
    NET_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    PROFIT_PAISE_FIELD_NUMBER: _ClassVar[int]
    LOSS_PAISE_FIELD_NUMBER: _ClassVar[int]
    AVG_WIN_PAISE_FIELD_NUMBER: _ClassVar[int]
    AVG_LOSS_PAISE_FIELD_NUMBER: _ClassVar[int]
    HAS_PROFIT_FACTOR_FIELD_NUMBER: _ClassVar[int]
    PROFIT_FACTOR_PPM_FIELD_NUMBER: _ClassVar[int]
    EXPECTANCY_PAISE_FIELD_NUMBER: _ClassVar[int]
    MAX_DRAWDOWN_PAISE_FIELD_NUMBER: _ClassVar[int]
    LARGEST_WIN_PAISE_FIELD_NUMBER: _ClassVar[int]
    LARGEST_LOSS_PAISE_FIELD_NUMBER: _ClassVar[int]
    trades: int
    wins: int
    losses: int
    breakeven: int
    win_rate_ppm: int
    gross_pnl_paise: int
    charges_paise: int
    net_pnl_paise: int
    profit_paise: int
    loss_paise: int
    avg_win_paise: int
    avg_loss_paise: int
    has_profit_factor: bool
    profit_factor_ppm: int
    expectancy_paise: int
    max_drawdown_paise: int
    largest_win_paise: int
    largest_loss_paise: int
    def __init__(self, trades: _Optional[int] = ..., wins: _Optional[int] = ..., losses: _Optional[int] = ..., breakeven: _Optional[int] = ..., win_rate_ppm: _Optional[int] = ..., gross_pnl_paise: _Optional[int] = ..., charges_paise: _Optional[int] = ..., net_pnl_paise: _Optional[int] = ..., profit_paise: _Optional[int] = ..., loss_paise: _Optional[int] = ..., avg_win_paise: _Optional[int] = ..., avg_loss_paise: _Optional[int] = ..., has_profit_factor: _Optional[bool] = ..., profit_factor_ppm: _Optional[int] = ..., expectancy_paise: _Optional[int] = ..., max_drawdown_paise: _Optional[int] = ..., largest_win_paise: _Optional[int] = ..., largest_loss_paise: _Optional[int] = ...) -> None: ...

class JournalTrade(_message.Message):
    __slots__ = ("strategy", "instrument", "direction", "qty_units", "entry_value_paise", "exit_value_paise", "charges_paise", "gross_pnl_paise", "net_pnl_paise", "ts_entry_ns", "ts_exit_ns")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    QTY_UNITS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_VALUE_PAISE_FIELD_NUMBER: _ClassVar[int]
    EXIT_VALUE_PAISE_FIELD_NUMBER: _ClassVar[int]
    CHARGES_PAISE_FIELD_NUMBER: _ClassVar[int]
    GROSS_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    NET_PNL_PAISE_FIELD_NUMBER: _ClassVar[int]
    TS_ENTRY_NS_FIELD_NUMBER: _ClassVar[int]
    TS_EXIT_NS_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    instrument: str
    direction: str
    qty_units: int
    entry_value_paise: int
    exit_value_paise: int
    charges_paise: int
    gross_pnl_paise: int
    net_pnl_paise: int
    ts_entry_ns: int
    ts_exit_ns: int
    def __init__(self, strategy: _Optional[str] = ..., instrument: _Optional[str] = ..., direction: _Optional[str] = ..., qty_units: _Optional[int] = ..., entry_value_paise: _Optional[int] = ..., exit_value_paise: _Optional[int] = ..., charges_paise: _Optional[int] = ..., gross_pnl_paise: _Optional[int] = ..., net_pnl_paise: _Optional[int] = ..., ts_entry_ns: _Optional[int] = ..., ts_exit_ns: _Optional[int] = ...) -> None: ...

class GetJournalRequest(_message.Message):
    __slots__ = ("strategy", "include_trades")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TRADES_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    include_trades: bool
    def __init__(self, strategy: _Optional[str] = ..., include_trades: _Optional[bool] = ...) -> None: ...

class GetJournalResponse(_message.Message):
    __slots__ = ("overall", "by_strategy", "by_instrument", "by_day", "trades", "open_lots", "fills", "bad_fills")
    class ByStrategyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: JournalStats
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[JournalStats, _Mapping]] = ...) -> None: ...
    class ByInstrumentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: JournalStats
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[JournalStats, _Mapping]] = ...) -> None: ...
    class ByDayEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: JournalStats
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[JournalStats, _Mapping]] = ...) -> None: ...
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    BY_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    BY_INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    BY_DAY_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    OPEN_LOTS_FIELD_NUMBER: _ClassVar[int]
    FILLS_FIELD_NUMBER: _ClassVar[int]
    BAD_FILLS_FIELD_NUMBER: _ClassVar[int]
    overall: JournalStats
    by_strategy: _containers.MessageMap[str, JournalStats]
    by_instrument: _containers.MessageMap[str, JournalStats]
    by_day: _containers.MessageMap[str, JournalStats]
    trades: _containers.RepeatedCompositeFieldContainer[JournalTrade]
    open_lots: int
    fills: int
    bad_fills: int
    def __init__(self, overall: _Optional[_Union[JournalStats, _Mapping]] = ..., by_strategy: _Optional[_Mapping[str, JournalStats]] = ..., by_instrument: _Optional[_Mapping[str, JournalStats]] = ..., by_day: _Optional[_Mapping[str, JournalStats]] = ..., trades: _Optional[_Iterable[_Union[JournalTrade, _Mapping]]] = ..., open_lots: _Optional[int] = ..., fills: _Optional[int] = ..., bad_fills: _Optional[int] = ...) -> None: ...
