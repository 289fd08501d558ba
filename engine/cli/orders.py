"""Orders through the control API: ``shikra orders [ID] [--open]``, ``buy|sell SYMBOL QTY [--limit P]
[--sl TRIGGER]``, ``cancel ID | --all``, ``modify ID [--qty N] [--limit P] [--trigger P]`` and
``watch [--count N]`` (order events, fills and denials as they happen)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, get_args

import msgspec

from engine.cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    CliError,
    Client,
    clock,
    emit,
    enum_name,
    fail,
    instrument_ref,
    paise_arg,
    run,
    rupees,
    table,
    to_builtins,
)
from engine.control_api import control_pb2 as pb
from engine.model.money import format_avg_rupees
from ipc.messages import Product, Validity
from ipc.segments import instrument_label


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("orders", parents=[client], help="list orders (or show one by ID)")
    p.add_argument("id", nargs="?", help="a client order id: show just that order")
    p.add_argument("--open", action="store_true", help="only open orders")
    p.add_argument("--strategy", help="only this strategy's orders (manual ones are manual:<user>)")
    p.add_argument("--limit", type=int, default=0, help="only the newest N")
    p.set_defaults(fn=cmd_orders)

    for side, fn in (("buy", cmd_buy), ("sell", cmd_sell)):
        p = sub.add_parser(side, parents=[client], help=f"{side} SYMBOL QTY: a market order unless --limit/--sl")
        p.add_argument("symbol", help="trading symbol (RELIANCE) or SEGMENT:SECURITY_ID (NSE_EQ:2885)")
        p.add_argument("qty", type=int, help="quantity in units (not lots)")
        p.add_argument("--limit", metavar="PRICE", help="limit price in rupees (e.g. 2450.05)")
        p.add_argument("--sl", metavar="TRIGGER", help="stop-loss trigger in rupees (SL-M; with --limit: SL)")
        p.add_argument("--product", choices=get_args(Product), default="INTRADAY")
        p.add_argument("--validity", choices=get_args(Validity), default="DAY")
        p.add_argument("--reduce-only", action="store_true", help="only reduce a position (passes a halted engine)")
        p.add_argument("--request-id", help="idempotency key: placing again with it returns the same order")
        p.set_defaults(fn=fn)

    p = sub.add_parser("cancel", parents=[client], help="cancel an order by ID, or --all open orders")
    p.add_argument("id", nargs="?")
    p.add_argument("--all", action="store_true")
    p.add_argument("--strategy", help="with --all: only this strategy's orders")
    p.set_defaults(fn=cmd_cancel)

    p = sub.add_parser("modify", parents=[client], help="change an open order's qty, limit price or trigger")
    p.add_argument("id", help="client order id")
    p.add_argument("--qty", type=int, help="the new total quantity in units (filled part included)")
    p.add_argument("--limit", metavar="PRICE", help="new limit price in rupees")
    p.add_argument("--trigger", metavar="PRICE", help="new stop trigger in rupees")
    p.set_defaults(fn=cmd_modify)

    p = sub.add_parser("watch", parents=[client], help="stream order events, fills and denials")
    p.add_argument("--strategy")
    p.add_argument("--count", type=int, default=0, help="stop after N events")
    p.set_defaults(fn=cmd_watch)


def order_rows(orders: Sequence[Any]) -> str:
    rows = []
    for o in orders:
        price = rupees(o.price_paise) if o.price_paise else "-"
        if o.trigger_price_paise:
            price += f" trg {rupees(o.trigger_price_paise)}"
        rows.append([o.client_order_id, clock(o.ts_created_ns or o.ts_event_ns), o.strategy,
                     o.symbol or instrument_label(o.segment, o.security_id), enum_name("Side", o.side), o.qty_units,
                     enum_name("OrderType", o.order_type), price, o.filled_qty_units,
                     format_avg_rupees(o.filled_value_paise, o.filled_qty_units),
                     enum_name("OrderState", o.state), (o.reason_code + " " + o.reason).strip()])
    return table(["ID", "TIME", "STRATEGY", "SYMBOL", "SIDE", "QTY", "TYPE", "PRICE", "FILLED", "AVG", "STATE",
                  "REASON"], rows, right=frozenset({5, 7, 8, 9}))


def cmd_orders(args: argparse.Namespace) -> int:
    def body(c: Client) -> int:
        if args.id:
            resp = c(c.orders.GetOrder, pb.GetOrderRequest(client_order_id=args.id))
            emit(args, resp, lambda r: order_rows([r.order]))
            return EXIT_OK
        resp = c(c.orders.ListOrders, pb.ListOrdersRequest(open_only=args.open, strategy=args.strategy or "",
                                                           limit=args.limit))
        emit(args, resp, lambda r: order_rows(r.orders) if r.orders else "no orders")
        return EXIT_OK

    return run(args, body)


def place_request(args: argparse.Namespace, side: str) -> Any:
    """The PlaceOrderRequest for ``buy``/``sell``: --limit -> LIMIT, --sl -> SL-M, both -> SL."""
    price = paise_arg(args.limit, "--limit")
    trigger = paise_arg(args.sl, "--sl")
    if args.limit is not None and args.sl is not None:
        kind = pb.ORDER_TYPE_SL
    elif args.sl is not None:
        kind = pb.ORDER_TYPE_SL_M
    elif args.limit is not None:
        kind = pb.ORDER_TYPE_LIMIT
    else:
        kind = pb.ORDER_TYPE_MARKET
    return pb.PlaceOrderRequest(
        instrument=instrument_ref(args.symbol), side=pb.SIDE_BUY if side == "BUY" else pb.SIDE_SELL,
        qty_units=args.qty, order_type=kind, price_paise=price, trigger_price_paise=trigger,
        validity=pb.Validity.Value(f"VALIDITY_{args.validity}"), product=pb.Product.Value(f"PRODUCT_{args.product}"),
        reduce_only=args.reduce_only, request_id=args.request_id or "")


def _place(args: argparse.Namespace, side: str) -> int:
    try:
        request = place_request(args, side)
    except CliError as exc:
        return fail(args, exc)

    def body(c: Client) -> int:
        resp = c(c.orders.PlaceOrder, request)
        order = resp.order
        kind = enum_name("OrderType", order.order_type)
        emit(args, resp, lambda r: f"order {order.client_order_id} {enum_name('OrderState', order.state)}: "
                                   f"{side} {order.qty_units} {order.symbol} {kind}"
                                   + (f" ({order.reason_code}: {order.reason})" if order.reason_code else ""))
        if order.state == pb.ORDER_STATE_REJECTED:
            print(f"shikra: order rejected: {order.reason_code}: {order.reason}", file=sys.stderr)
            return EXIT_REFUSED
        return EXIT_OK

    return run(args, body)


def cmd_buy(args: argparse.Namespace) -> int:
    return _place(args, "BUY")


def cmd_sell(args: argparse.Namespace) -> int:
    return _place(args, "SELL")


def cmd_cancel(args: argparse.Namespace) -> int:
    if bool(args.id) == bool(args.all):
        return fail(args, CliError(EXIT_USAGE, "cancel: give an order ID or --all (not both)"))

    def body(c: Client) -> int:
        if args.all:
            resp = c(c.orders.CancelAllOrders, pb.CancelAllOrdersRequest(strategy=args.strategy or ""))
            emit(args, resp, lambda r: f"cancel sent for {len(r.client_order_ids)} open orders"
                                       + (": " + " ".join(r.client_order_ids) if r.client_order_ids else ""))
        else:
            resp = c(c.orders.CancelOrder, pb.CancelOrderRequest(client_order_id=args.id))
            emit(args, resp, lambda r: f"order {r.order.client_order_id} {enum_name('OrderState', r.order.state)}")
        return EXIT_OK

    return run(args, body)


def cmd_modify(args: argparse.Namespace) -> int:
    try:
        price = paise_arg(args.limit, "--limit")
        trigger = paise_arg(args.trigger, "--trigger")
    except CliError as exc:
        return fail(args, exc)
    if args.qty is None and not price and not trigger:
        return fail(args, CliError(EXIT_USAGE, "modify: give at least one of --qty, --limit, --trigger"))
    if args.qty is not None and args.qty <= 0:
        return fail(args, CliError(EXIT_USAGE, f"modify: --qty {args.qty} must be positive (units, the new total)"))

    def body(c: Client) -> int:
        resp = c(c.orders.ModifyOrder, pb.ModifyOrderRequest(client_order_id=args.id, qty_units=args.qty or 0,
                                                             price_paise=price, trigger_price_paise=trigger))
        o = resp.order
        emit(args, resp, lambda r: (f"order {o.client_order_id} {enum_name('OrderState', o.state)}: "
                                    + ("modified\n" if r.modified else f"NOT modified ({o.reason_code}: {o.reason})\n")
                                    + order_rows([o])))
        if not resp.modified:
            print(f"shikra: the venue refused the modification: {o.reason_code}: {o.reason}", file=sys.stderr)
            return EXIT_REFUSED
        return EXIT_OK

    return run(args, body)


def cmd_watch(args: argparse.Namespace) -> int:
    def line(event: Any) -> str:
        kind = event.WhichOneof("event")
        if kind == "order":
            o = event.order
            return (f"{clock(o.ts_event_ns)} order {o.client_order_id} {enum_name('OrderState', o.state)} "
                    f"{enum_name('Side', o.side)} {o.qty_units} {o.symbol} filled {o.filled_qty_units} [{o.strategy}]"
                    + (f" {o.reason_code}: {o.reason}" if o.reason_code else ""))
        if kind == "fill":
            f = event.fill
            return (f"{clock(f.ts_event_ns)} fill  {f.fill_id} {f.client_order_id} {enum_name('Side', f.side)} "
                    f"{f.qty_units} {f.symbol} @ {rupees(f.price_paise)} charges {rupees(f.charges_paise)}")
        d = event.denial
        return f"{clock(d.ts_event_ns)} denied {d.intent_id} {d.symbol} [{d.strategy}] {d.reason_code}: {d.message}"

    def body(c: Client) -> int:
        stream = c.orders.WatchOrders(pb.WatchOrdersRequest(strategy=args.strategy or ""), metadata=c.metadata)
        seen = 0
        try:
            for event in stream:
                if args.json:
                    print(msgspec.json.encode(to_builtins(event)).decode(), flush=True)
                else:
                    print(line(event), flush=True)
                seen += 1
                if args.count and seen >= args.count:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            stream.cancel()
        return EXIT_OK

    return run(args, body)
