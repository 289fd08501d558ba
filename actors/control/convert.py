"""Engine values <-> control API messages, and the validation of requests at the edge.

Pure: values in, values out. Integers stay integers (paise, units, ns) on both sides. A request
that cannot become an engine command comes back as a :class:`Refusal` naming the field and the
numbers involved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, get_args

import grpc
import msgspec
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message as ProtoMessage

from actors.control.market import Level, MarketSnapshot
from engine.control_api import control_pb2 as pb
from engine.control_api.quoting import quote_value
from engine.ledger.records import TradingStateChanged, User
from engine.model.instruments import Instrument, OptionChain
from engine.model.journal import Journal, Stats
from ipc.messages import (
    OiSide,
    OiTrackerSnapshot,
    ScanResult,
    USER_ROLES,
    ChainSide,
    OptionChainSnapshot,
    DaemonStatus,
    Fill,
    KillSwitchStatus,
    OrderDenied,
    OrderEvent,
    OrderIntent,
    OrderSpec,
    OrderState,
    OrderType,
    Position,
    Product,
    Side,
    StrategyInfo,
    TradingState,
    Validity,
)
from ipc.order_rules import check_order
from ipc.reasons import INVALID_ORDER_DENIALS
from ipc.segments import SEGMENT_LABELS, InstrumentId, Segment, segment_label

_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_LIST_LIMIT: Final = 100_000
MAX_SEARCH_LIMIT: Final = 500
DEFAULT_SEARCH_LIMIT: Final = 20


class Refusal(msgspec.Struct, frozen=True):
    """A call the API refuses: the gRPC status and a message that says what and why."""

    code: grpc.StatusCode
    message: str


# The proto's enum members are named after our values (SIDE_BUY for "BUY"): the tables are derived,
# and a value the proto lacks fails at import.
SIDE_TO_PB: Final = {side: pb.Side.Value(f"SIDE_{side}") for side in get_args(Side)}
SIDE_FROM_PB: Final = {v: k for k, v in SIDE_TO_PB.items()}
ORDER_TYPE_TO_PB: Final = {kind: pb.OrderType.Value(f"ORDER_TYPE_{kind}") for kind in get_args(OrderType)}
ORDER_TYPE_FROM_PB: Final = {v: k for k, v in ORDER_TYPE_TO_PB.items()}
VALIDITY_TO_PB: Final = {validity: pb.Validity.Value(f"VALIDITY_{validity}") for validity in get_args(Validity)}
VALIDITY_FROM_PB: Final = {**{v: k for k, v in VALIDITY_TO_PB.items()}, pb.VALIDITY_UNSPECIFIED: "DAY"}
PRODUCT_TO_PB: Final = {product: pb.Product.Value(f"PRODUCT_{product}") for product in get_args(Product)}
PRODUCT_FROM_PB: Final = {**{v: k for k, v in PRODUCT_TO_PB.items()}, pb.PRODUCT_UNSPECIFIED: "INTRADAY"}
ORDER_STATE_TO_PB: Final = {state: pb.OrderState.Value(f"ORDER_STATE_{state.value}") for state in OrderState}
ORDER_STATE_FROM_PB: Final = {v: k for k, v in ORDER_STATE_TO_PB.items()}
TRADING_STATE_TO_PB: Final = {state: pb.TradingState.Value(f"TRADING_STATE_{state.value}") for state in TradingState}
ROLE_TO_PB: Final = {role: pb.Role.Value(f"ROLE_{role.upper()}") for role in USER_ROLES}
ROLE_FROM_PB: Final = {v: k for k, v in ROLE_TO_PB.items()}

# Denials that are wrong whatever the engine's state (gRPC: INVALID_ARGUMENT); every other reason
# depends on the state (limits, halted, market hours, funds): FAILED_PRECONDITION.
INVALID_ARGUMENT_DENIALS: Final = frozenset(reason.value for reason in INVALID_ORDER_DENIALS)


# ---------------------------------------------------------------------------------------------
# Engine -> API
# ---------------------------------------------------------------------------------------------


def order_to_pb(event: OrderEvent, symbol: str = "") -> pb.Order:
    spec = event.spec
    return pb.Order(
        client_order_id=event.client_order_id, intent_id=event.intent_id, strategy=event.strategy,
        segment=segment_label(spec.segment), security_id=spec.security_id, symbol=symbol,
        side=SIDE_TO_PB.get(spec.side, pb.SIDE_UNSPECIFIED),
        order_type=ORDER_TYPE_TO_PB.get(spec.order_type, pb.ORDER_TYPE_UNSPECIFIED),
        validity=VALIDITY_TO_PB.get(spec.validity, pb.VALIDITY_UNSPECIFIED),
        product=PRODUCT_TO_PB.get(spec.product, pb.PRODUCT_UNSPECIFIED),
        qty_units=spec.qty_units, price_paise=spec.price_paise, trigger_price_paise=spec.trigger_price_paise,
        state=ORDER_STATE_TO_PB.get(event.state, pb.ORDER_STATE_UNSPECIFIED),
        filled_qty_units=event.filled_qty_units, filled_value_paise=event.filled_value_paise,
        venue_order_id=event.venue_order_id, reason_code=event.reason_code, reason=event.reason,
        ts_event_ns=event.ts_event_ns, ts_created_ns=event.ts_created_ns,
    )


def fill_to_pb(fill: Fill, symbol: str = "") -> pb.Trade:
    return pb.Trade(
        fill_id=fill.fill_id, client_order_id=fill.client_order_id, venue_order_id=fill.venue_order_id,
        strategy=fill.strategy, segment=segment_label(fill.segment), security_id=fill.security_id, symbol=symbol,
        side=SIDE_TO_PB.get(fill.side, pb.SIDE_UNSPECIFIED), qty_units=fill.qty_units,
        price_paise=fill.price_paise, charges_paise=fill.charges_paise, ts_event_ns=fill.ts_event_ns,
    )


def position_to_pb(pos: Position, symbol: str = "") -> pb.Position:
    return pb.Position(
        strategy=pos.strategy, segment=segment_label(pos.segment), security_id=pos.security_id, symbol=symbol,
        net_qty_units=pos.net_qty_units, open_cost_paise=pos.open_cost_paise,
        realised_pnl_paise=pos.realised_pnl_paise, charges_paise=pos.charges_paise, ts_event_ns=pos.ts_event_ns,
        product=pos.product,
    )


def denial_to_pb(denied: OrderDenied, symbol: str = "") -> pb.OrderDenial:
    return pb.OrderDenial(
        intent_id=denied.intent_id, strategy=denied.strategy, segment=segment_label(denied.segment),
        security_id=denied.security_id, symbol=symbol, reason_code=denied.reason_code, message=denied.message,
        ts_event_ns=denied.ts_event_ns,
    )


def instrument_to_pb(inst: Instrument) -> pb.Instrument:
    return pb.Instrument(
        segment=segment_label(inst.segment), security_id=inst.security_id, exchange=inst.exchange,
        symbol=inst.symbol, display_name=inst.display_name, underlying=inst.underlying,
        instrument_type=inst.instrument, expiry_yyyymmdd=inst.expiry_yyyymmdd, strike_paise=inst.strike_paise,
        option_type=inst.option_type, lot_size_units=inst.lot_size_units, tick_paise=inst.tick_paise,
        freeze_qty_units=inst.freeze_qty_units,
    )


def chain_to_pb(chain: OptionChain, symbols: Mapping[int, str], expiries: list[int]) -> pb.GetOptionChainResponse:
    """``symbols``: security id -> trading symbol for the chain's contracts."""
    return pb.GetOptionChainResponse(
        underlying=chain.underlying, segment=segment_label(chain.segment), expiry_yyyymmdd=chain.expiry_yyyymmdd,
        lot_size_units=chain.lot_size_units, step_paise=chain.step_paise,
        strikes=[pb.ChainStrike(strike_paise=s.strike_paise, ce_security_id=s.ce_security_id,
                                pe_security_id=s.pe_security_id, ce_symbol=symbols.get(s.ce_security_id, ""),
                                pe_symbol=symbols.get(s.pe_security_id, ""))
                 for s in chain.strikes],
        expiries=expiries,
    )


def _levels_to_pb(levels: Iterable[Level]) -> list[pb.DepthLevel]:
    return [pb.DepthLevel(price_paise=lv.price_paise, qty_units=lv.qty_units, orders=lv.orders) for lv in levels]


def quote_to_pb(inst: Instrument, snap: MarketSnapshot | None, now_ns: int, stale_after_ns: int,
                depth: bool) -> pb.InstrumentQuote:
    """One instrument's quote; ``snap`` None: nothing heard from the feed (stale, has_data false).
    Change is against the previous session's close, in paise and basis points (half up)."""
    out = pb.InstrumentQuote(segment=segment_label(inst.segment), security_id=inst.security_id, symbol=inst.symbol)
    if snap is None:
        out.stale = True
        return out
    levels = None if depth else 1
    change = snap.ltp_paise - snap.prev_close_paise if snap.prev_close_paise and snap.ltp_paise else 0
    change_bp = (abs(change) * 20_000 + snap.prev_close_paise) // (2 * snap.prev_close_paise) if change else 0
    age_ns = max(0, now_ns - snap.ts_init_ns)
    out.MergeFrom(pb.InstrumentQuote(
        has_data=True, ltp_paise=snap.ltp_paise, ltq_units=snap.ltq_units, atp_paise=snap.atp_paise,
        volume_units=snap.volume_units, open_paise=snap.open_paise, high_paise=snap.high_paise,
        low_paise=snap.low_paise, close_paise=snap.close_paise, prev_close_paise=snap.prev_close_paise,
        change_paise=change, change_bp=change_bp if change >= 0 else -change_bp, oi_units=snap.oi_units,
        prev_oi_units=snap.prev_oi_units,
        oi_change_units=snap.oi_units - snap.prev_oi_units if snap.prev_oi_units else 0,
        total_buy_qty_units=snap.total_buy_qty_units, total_sell_qty_units=snap.total_sell_qty_units,
        bids=_levels_to_pb(snap.bids[:levels]), asks=_levels_to_pb(snap.asks[:levels]),
        ts_event_ns=snap.ts_event_ns, ts_received_ns=snap.ts_init_ns, age_ns=age_ns,
        stale=snap.ts_init_ns == 0 or age_ns > stale_after_ns))
    return out


def _priced_option_to_pb(side: ChainSide | None, symbols: Mapping[int, str]) -> pb.PricedOption | None:
    if side is None:
        return None
    return pb.PricedOption(
        security_id=side.security_id, symbol=symbols.get(side.security_id, ""), ltp_paise=side.ltp_paise,
        bid_paise=side.bid_paise, ask_paise=side.ask_paise, volume_units=side.volume_units, oi_units=side.oi_units,
        oi_change_units=side.oi_change_units, iv_price_paise=side.iv_price_paise, iv_status=side.iv_status,
        iv_ppm=side.iv_ppm, delta_ppm=side.delta_ppm, gamma_ppb_per_rupee=side.gamma_ppb_per_rupee,
        theta_paise_per_day=side.theta_paise_per_day, vega_paise_per_vol_point=side.vega_paise_per_vol_point,
        ts_event_ns=side.ts_event_ns)


def priced_chain_to_pb(snap: OptionChainSnapshot, symbols: Mapping[int, str],
                       expiries: list[int]) -> pb.GetPricedChainResponse:
    """``symbols``: security id -> trading symbol for the chain's contracts."""
    return pb.GetPricedChainResponse(
        underlying=snap.underlying, segment=segment_label(snap.segment), expiry_yyyymmdd=snap.expiry_yyyymmdd,
        lot_size_units=snap.lot_size_units, step_paise=snap.step_paise, underlying_source=snap.underlying_source,
        spot_paise=snap.spot_paise, future_paise=snap.future_paise, forward_paise=snap.forward_paise,
        rate_ppm=snap.rate_ppm, time_left_ns=snap.time_left_ns, year_trading_ns=snap.year_trading_ns,
        atm_strike_paise=snap.atm_strike_paise,
        strikes=[pb.PricedStrike(strike_paise=r.strike_paise, atm=r.atm, ce=_priced_option_to_pb(r.ce, symbols),
                                 pe=_priced_option_to_pb(r.pe, symbols)) for r in snap.rows],
        expiries=expiries, ts_ns=snap.ts_event_ns)


def _oi_option_to_pb(side: OiSide | None, symbols: Mapping[int, str]) -> pb.OiOption | None:
    if side is None:
        return None
    return pb.OiOption(security_id=side.security_id, symbol=symbols.get(side.security_id, ""),
                       ltp_paise=side.ltp_paise, volume_units=side.volume_units, oi_units=side.oi_units,
                       changes=[pb.OiChange(window_s=c.window_s, span_ns=c.span_ns, oi_change_units=c.oi_change_units,
                                            price_change_paise=c.price_change_paise, buildup=c.buildup)
                                for c in side.changes])


def oi_tracker_to_pb(snap: OiTrackerSnapshot, symbols: Mapping[int, str],
                     expiries: list[int]) -> pb.GetOiTrackerResponse:
    """``symbols``: security id -> trading symbol for the chain's contracts."""
    return pb.GetOiTrackerResponse(
        underlying=snap.underlying, segment=segment_label(snap.segment), expiry_yyyymmdd=snap.expiry_yyyymmdd,
        windows_s=snap.windows_s, ce_oi_units=snap.ce_oi_units, pe_oi_units=snap.pe_oi_units,
        ce_volume_units=snap.ce_volume_units, pe_volume_units=snap.pe_volume_units, pcr_oi_ppm=snap.pcr_oi_ppm,
        pcr_volume_ppm=snap.pcr_volume_ppm, max_pain_strike_paise=snap.max_pain_strike_paise,
        max_pain_payout_paise=snap.max_pain_payout_paise,
        totals=[pb.OiWindowTotal(window_s=t.window_s, ce_oi_change_units=t.ce_oi_change_units,
                                 pe_oi_change_units=t.pe_oi_change_units) for t in snap.totals],
        strikes=[pb.OiStrike(strike_paise=r.strike_paise, ce=_oi_option_to_pb(r.ce, symbols),
                             pe=_oi_option_to_pb(r.pe, symbols)) for r in snap.rows],
        expiries=expiries, ts_ns=snap.ts_event_ns)


def scan_result_to_pb(r: ScanResult) -> pb.ScreenResult:
    return pb.ScreenResult(
        screen=r.screen, kind=r.kind, measure_name=r.measure_name, universe_size=r.universe_size,
        hits=[pb.ScanHit(segment=segment_label(h.segment), security_id=h.security_id, symbol=h.symbol,
                         ltp_paise=h.ltp_paise, change_bp=h.change_bp, volume_units=h.volume_units,
                         oi_units=h.oi_units, measure=h.measure, buildup=h.buildup) for h in r.hits])


def kill_switch_to_pb(ks: KillSwitchStatus) -> pb.KillSwitch:
    return pb.KillSwitch(engaged=ks.engaged, reason=ks.reason, by=ks.by, ts_ns=ks.ts_ns)


def status_to_pb(status: DaemonStatus) -> pb.GetStatusResponse:
    return pb.GetStatusResponse(
        pid=status.pid, state=status.state, started_ns=status.started_ns, updated_ns=status.updated_ns,
        topology=status.topology, kill_switch=kill_switch_to_pb(status.kill_switch),
        actors=[pb.ActorStatus(name=a.name, unit=a.unit, pid=a.pid, state=a.state, started_ns=a.started_ns,
                               uptime_ns=max(0, status.updated_ns - a.started_ns) if a.started_ns else 0,
                               restarts=a.restarts, last_heartbeat_ns=a.last_heartbeat_ns, msgs_in=a.msgs_in,
                               msgs_out=a.msgs_out, bad_frames=a.bad_frames)
                for a in status.actors],
    )


def risk_state_to_pb(ts: TradingStateChanged, ks: KillSwitchStatus | None,
                     usage: Any = None) -> pb.GetRiskStateResponse:
    fields = {} if usage is None else msgspec.structs.asdict(usage)
    fields.pop("state", None)
    return pb.GetRiskStateResponse(
        state=TRADING_STATE_TO_PB.get(ts.state, pb.TRADING_STATE_UNSPECIFIED), reason_code=ts.reason_code,
        detail=ts.detail, by=ts.by, ts_ns=ts.ts_ns, kill_switch=kill_switch_to_pb(ks) if ks is not None else None,
        usage=pb.RiskUsage(**fields) if usage is not None else None,
    )


def user_to_pb(user: User, active_tokens: int) -> pb.User:
    return pb.User(name=user.name, role=ROLE_TO_PB.get(user.role, pb.ROLE_UNSPECIFIED), active=user.active,
                   created_ns=user.created_ns, updated_ns=user.updated_ns, updated_by=user.updated_by,
                   active_tokens=active_tokens)


def denial_refusal(denied: OrderDenied) -> Refusal:
    code = (grpc.StatusCode.INVALID_ARGUMENT if denied.reason_code in INVALID_ARGUMENT_DENIALS
            else grpc.StatusCode.FAILED_PRECONDITION)
    return Refusal(code, f"{denied.reason_code}: {denied.message}")


# ---------------------------------------------------------------------------------------------
# API -> engine
# ---------------------------------------------------------------------------------------------


def manual_strategy(user: str) -> str:
    """The strategy name orders of an operator carry: positions and limits are per strategy, so
    each operator's manual trading is kept apart from the automated strategies."""
    return f"manual:{user}"


def check_request_id(request_id: str) -> Refusal | None:
    if request_id and not _REQUEST_ID.fullmatch(request_id):
        return Refusal(grpc.StatusCode.INVALID_ARGUMENT,
                       f"request_id {quote_value(request_id)} must be 1..64 characters of A-Z, a-z, 0-9, '-', '_'")
    return None


def intent_id_for(user: str, request_id: str, fresh: str) -> str:
    """Intent ids are unique forever per origin: the client's idempotency key when it gave one
    (so a retry finds the first order), else a fresh random id."""
    return f"manual-{user}-{request_id or fresh}"


def check_order_request(req: pb.PlaceOrderRequest) -> Refusal | None:
    """What is wrong with the request's enums and id (the order itself is checked once its
    instrument is known: ``order_refusal``); None if nothing."""
    bad = grpc.StatusCode.INVALID_ARGUMENT
    if req.side not in SIDE_FROM_PB:
        return Refusal(bad, "side is required: SIDE_BUY or SIDE_SELL")
    if req.order_type not in ORDER_TYPE_FROM_PB:
        return Refusal(bad, "order_type is required: MARKET, LIMIT, SL or SL_M")
    if req.validity not in VALIDITY_FROM_PB:
        return Refusal(bad, f"validity {req.validity} is not DAY or IOC")
    if req.product not in PRODUCT_FROM_PB:
        return Refusal(bad, f"product {req.product} is not INTRADAY, CNC or MARGIN")
    return check_request_id(req.request_id)


def order_refusal(spec: OrderSpec, inst: Instrument) -> Refusal | None:
    """The control API's edge check of an order (placed, or as a modify would leave it): the one
    ``ipc.order_rules.check_order``, against the instrument's lot size and tick."""
    denial = check_order(spec, inst.lot_size_units, inst.tick_paise)
    if denial is None:
        return None
    return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"{denial.reason.value}: {denial.message}")


def instrument_key(ref: pb.InstrumentRef) -> InstrumentId | str | Refusal:
    """The instrument id when the reference gives the security id, the symbol text otherwise."""
    if ref.security_id:
        seg = Segment.from_label(ref.segment)
        if seg is None:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT,
                           f"instrument.segment {quote_value(ref.segment)} is not one of {SEGMENT_LABELS}")
        return InstrumentId(int(seg), ref.security_id)
    if not ref.symbol.strip():
        return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "instrument: give a symbol, or a segment and security_id")
    return ref.symbol.strip()


def spec_from_request(req: pb.PlaceOrderRequest, inst: Instrument) -> OrderSpec:
    """The OrderSpec of a request that passed ``check_order_request`` (check it: ``order_refusal``)."""
    return OrderSpec(
        segment=inst.segment, security_id=inst.security_id, side=SIDE_FROM_PB[req.side],  # type: ignore[arg-type]
        order_type=ORDER_TYPE_FROM_PB[req.order_type],  # type: ignore[arg-type]
        validity=VALIDITY_FROM_PB[req.validity], product=PRODUCT_FROM_PB[req.product],  # type: ignore[arg-type]
        qty_units=req.qty_units, price_paise=req.price_paise, trigger_price_paise=req.trigger_price_paise,
    )


def intent_from_request(req: pb.PlaceOrderRequest, spec: OrderSpec, user: str, intent_id: str,
                        now_ns: int) -> OrderIntent:
    """The OrderIntent of the user's manual strategy for a checked request and its spec."""
    return OrderIntent(intent_id=intent_id, strategy=manual_strategy(user), spec=spec, ts_event_ns=now_ns,
                       ts_init_ns=now_ns, ts_created_ns=now_ns, reduce_only=req.reduce_only)


def request_args(msg: ProtoMessage, prefix: str = "") -> dict[str, str]:
    """The fields a request sets, as text for an audit row: enums by name, nested messages with
    dotted names (``instrument.symbol``). Unset (default) fields are left out."""
    out: dict[str, str] = {}
    for field, value in msg.ListFields():
        name = prefix + field.name
        if field.type == FieldDescriptor.TYPE_MESSAGE and not _is_repeated(field):
            out.update(request_args(value, name + "."))
        elif field.type == FieldDescriptor.TYPE_ENUM and not _is_repeated(field):
            out[name] = field.enum_type.values_by_number[value].name if value in field.enum_type.values_by_number \
                else str(value)
        else:
            out[name] = str(list(value)) if _is_repeated(field) else str(value)
    return out


def _is_repeated(field: Any) -> bool:
    is_repeated = getattr(field, "is_repeated", None)
    if is_repeated is not None:
        return bool(is_repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED


def code_refusal(code: str, detail: str) -> Refusal:
    """A refused command's Reply (risk's modify check, strategy commands) as a gRPC refusal."""
    if code in ("UNKNOWN_ORDER", "UNKNOWN_STRATEGY"):
        status = grpc.StatusCode.NOT_FOUND
    elif code in INVALID_ARGUMENT_DENIALS or code in ("BAD_PARAMS", "BAD_LIMITS", "UNKNOWN_KIND",
                                                       "UNKNOWN_INSTRUMENT"):
        status = grpc.StatusCode.INVALID_ARGUMENT
    else:
        status = grpc.StatusCode.FAILED_PRECONDITION
    return Refusal(status, f"{code}: {detail}")


PPM: Final = 1_000_000


def journal_stats_to_pb(s: Stats) -> pb.JournalStats:
    """Ratios travel as integer parts per million: the API carries no floats."""
    return pb.JournalStats(
        trades=s.trades, wins=s.wins, losses=s.losses, breakeven=s.breakeven,
        win_rate_ppm=round(s.win_rate * PPM), gross_pnl_paise=s.gross_pnl_paise, charges_paise=s.charges_paise,
        net_pnl_paise=s.net_pnl_paise, profit_paise=s.profit_paise, loss_paise=s.loss_paise,
        avg_win_paise=s.avg_win_paise, avg_loss_paise=s.avg_loss_paise,
        has_profit_factor=s.profit_factor is not None,
        profit_factor_ppm=round(s.profit_factor * PPM) if s.profit_factor is not None else 0,
        expectancy_paise=s.expectancy_paise, max_drawdown_paise=s.max_drawdown_paise,
        largest_win_paise=s.largest_win_paise, largest_loss_paise=s.largest_loss_paise)


def journal_to_pb(j: Journal, include_trades: bool) -> pb.GetJournalResponse:
    trades = [pb.JournalTrade(strategy=t.strategy, instrument=t.instrument, direction=t.direction,
                              qty_units=t.qty_units, entry_value_paise=t.entry_value_paise,
                              exit_value_paise=t.exit_value_paise, charges_paise=t.charges_paise,
                              gross_pnl_paise=t.gross_pnl_paise, net_pnl_paise=t.net_pnl_paise,
                              ts_entry_ns=t.ts_entry_ns, ts_exit_ns=t.ts_exit_ns)
              for t in j.trades] if include_trades else []
    return pb.GetJournalResponse(
        overall=journal_stats_to_pb(j.overall),
        by_strategy={k: journal_stats_to_pb(v) for k, v in j.by_strategy.items()},
        by_instrument={k: journal_stats_to_pb(v) for k, v in j.by_instrument.items()},
        by_day={k: journal_stats_to_pb(v) for k, v in j.by_day.items()},
        trades=trades, open_lots=len(j.open_lots), fills=j.fills, bad_fills=j.bad_fills)


def strategy_to_pb(info: StrategyInfo, positions: Iterable[Position], open_orders: int) -> pb.Strategy:
    net = realised = charges = 0
    for p in positions:
        net += p.net_qty_units
        realised += p.realised_pnl_paise
        charges += p.charges_paise
    return pb.Strategy(name=info.name, kind=info.kind, running=info.running, instruments=list(info.instruments),
                       params_json=info.params_json, changed_by=info.changed_by, changed_ns=info.changed_ns,
                       net_qty_units=net, realised_pnl_paise=realised, charges_paise=charges,
                       open_orders=open_orders)
