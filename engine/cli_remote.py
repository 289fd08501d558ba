"""The ``shikra`` commands that talk to a running daemon over the gRPC control API.

    shikra orders [ID] [--open]             shikra buy|sell SYMBOL QTY [--limit P] [--sl TRIGGER]
    shikra cancel ID | --all                shikra positions | trades | pnl | funds
    shikra risk show | halt REASON | release
    shikra instruments search TEXT | chain UNDERLYING [--expiry DATE]
    shikra users add NAME --role ROLE | list | revoke NAME | bootstrap-admin NAME [--save]
    shikra watch [--count N]
    (actors, modify, squareoff, strategies, risk limits|set, journal: engine.cli_operate)

Human tables by default, ``--json`` on every command. Prices are typed and shown in rupees
("2450.05") and travel as integer paise (``engine.money``).

Server: ``--server HOST:PORT``, else ``$SHIKRA_SERVER``, else the address the local daemon wrote to
``<run_dir>/control.json``, else ``[control] listen`` from the config. TLS: ``--tls-ca`` (or
``$SHIKRA_TLS_CA``) is the CA that signed the server's certificate; ``--tls-cert``/``--tls-key``
(``$SHIKRA_TLS_CERT``/``$SHIKRA_TLS_KEY``) a client certificate for mutual TLS. Found through
``control.json``, a TLS server is trusted through its own certificate file (self-signed).

Token: ``$SHIKRA_TOKEN``, else the file ``--token-file`` or ``~/.config/shikra/token``, which must
not be readable by group or others (mode 0600).

The first admin: ``shikra users bootstrap-admin NAME`` needs file access to the data directory.
With the daemon stopped it writes the user and its token straight into the ledger (holding the
ledger's writer lock). With the daemon running it sends the user to the execution actor through
the run directory's socket (the same local trust as ``shikra kill``) and waits until the ledger
shows it. The token is printed once (``--save`` also writes it to the token file).

Exit codes: 0 ok; 1 other error; 2 usage; 3 daemon not reachable (or did not answer in time);
4 auth (UNAUTHENTICATED, PERMISSION_DENIED); 5 the engine refused (INVALID_ARGUMENT,
FAILED_PRECONDITION, NOT_FOUND, ALREADY_EXISTS; also an order REJECTED by execution).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import stat
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

import msgspec

from ipc.messages import USER_ROLES, Product, Validity
from ipc.segments import instrument_label

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_REACHABLE = 3
EXIT_AUTH = 4
EXIT_REFUSED = 5

ENV_TOKEN = "SHIKRA_TOKEN"
ENV_SERVER = "SHIKRA_SERVER"
ENV_TLS_CA = "SHIKRA_TLS_CA"
ENV_TLS_CERT = "SHIKRA_TLS_CERT"
ENV_TLS_KEY = "SHIKRA_TLS_KEY"
DEFAULT_TIMEOUT_S = 15.0
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
_STATUS_EXIT = {
    "UNAUTHENTICATED": EXIT_AUTH, "PERMISSION_DENIED": EXIT_AUTH,
    "INVALID_ARGUMENT": EXIT_REFUSED, "FAILED_PRECONDITION": EXIT_REFUSED, "NOT_FOUND": EXIT_REFUSED,
    "ALREADY_EXISTS": EXIT_REFUSED, "OUT_OF_RANGE": EXIT_REFUSED,
    "UNAVAILABLE": EXIT_NOT_REACHABLE, "DEADLINE_EXCEEDED": EXIT_NOT_REACHABLE,
}


class CliError(Exception):
    """Ends a command with ``code`` after printing ``message`` (and a JSON error with --json)."""

    def __init__(self, code: int, message: str, status: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.status = status


# ---------------------------------------------------------------------------------------------
# Formatting (pure)
# ---------------------------------------------------------------------------------------------


def default_token_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "shikra" / "token"


def short_enum(name: str) -> str:
    """``SIDE_BUY`` -> ``BUY``, ``ORDER_STATE_PARTIALLY_FILLED`` -> ``PARTIALLY_FILLED``."""
    for prefix in ("ORDER_STATE_", "ORDER_TYPE_", "TRADING_STATE_", "SIDE_", "VALIDITY_", "PRODUCT_", "ROLE_"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def to_builtins(msg: Any) -> dict[str, Any]:
    """A protobuf message as plain JSON-able values: every field (defaults included), integers
    as integers (never strings), enums by their short name."""
    from google.protobuf.descriptor import FieldDescriptor

    out: dict[str, Any] = {}
    for field in msg.DESCRIPTOR.fields:
        value = getattr(msg, field.name)
        repeated = getattr(field, "is_repeated", None)
        if repeated is None:
            repeated = field.label == FieldDescriptor.LABEL_REPEATED

        def one(v: Any) -> Any:
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                return to_builtins(v)
            if field.type == FieldDescriptor.TYPE_ENUM:
                known = field.enum_type.values_by_number.get(v)
                return short_enum(known.name) if known is not None else v
            return v

        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = {k: (to_builtins(v) if value_field.type == FieldDescriptor.TYPE_MESSAGE else v)
                               for k, v in sorted(value.items())}
        elif field.type == FieldDescriptor.TYPE_MESSAGE and not repeated:
            if field.containing_oneof is not None and not msg.HasField(field.name):
                continue
            out[field.name] = to_builtins(value)
        elif repeated:
            out[field.name] = [one(v) for v in value]
        else:
            out[field.name] = one(value)
    return out


def rupees(paise: int) -> str:
    from engine.money import format_paise

    return format_paise(paise)


def clock(ts_ns: int) -> str:
    if not ts_ns:
        return "-"
    return dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, IST).strftime("%H:%M:%S")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: frozenset[int] = frozenset()) -> str:
    """A plain text table; columns in ``right`` are right-aligned (numbers)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if i in right else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True))).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in cells)])


def order_rows(orders: Sequence[Any]) -> str:
    from engine.money import format_avg_rupees

    rows = []
    for o in orders:
        price = rupees(o.price_paise) if o.price_paise else "-"
        if o.trigger_price_paise:
            price += f" trg {rupees(o.trigger_price_paise)}"
        rows.append([o.client_order_id, clock(o.ts_created_ns or o.ts_event_ns), o.strategy,
                     o.symbol or instrument_label(o.segment, o.security_id), _enum_name("Side", o.side), o.qty_units,
                     _enum_name("OrderType", o.order_type), price, o.filled_qty_units,
                     format_avg_rupees(o.filled_value_paise, o.filled_qty_units),
                     _enum_name("OrderState", o.state), (o.reason_code + " " + o.reason).strip()])
    return table(["ID", "TIME", "STRATEGY", "SYMBOL", "SIDE", "QTY", "TYPE", "PRICE", "FILLED", "AVG", "STATE",
                  "REASON"], rows, right=frozenset({5, 7, 8, 9}))


def _enum_name(enum: str, value: int) -> str:
    from engine.control_api import control_pb2 as pb

    try:
        return short_enum(getattr(pb, enum).Name(value))
    except ValueError:
        return str(value)


# ---------------------------------------------------------------------------------------------
# Connection
# ---------------------------------------------------------------------------------------------


class Target(msgspec.Struct, frozen=True):
    address: str
    tls: bool = False
    root_ca: str = ""
    client_cert: str = ""
    client_key: str = ""
    server_name: str = ""


def _local_paths(args: argparse.Namespace) -> tuple[Any, Path, Path]:
    from engine.cli import _config_from_args
    from engine.config import resolve_paths

    cfg, _ = _config_from_args(args)
    data_dir, run_dir = resolve_paths(cfg, args.data_dir)
    return cfg, data_dir, run_dir


def resolve_target(args: argparse.Namespace) -> Target:
    """Where to connect and how (see the module docstring for the order of precedence)."""
    ca = args.tls_ca or os.environ.get(ENV_TLS_CA, "")
    cert = args.tls_cert or os.environ.get(ENV_TLS_CERT, "")
    key = args.tls_key or os.environ.get(ENV_TLS_KEY, "")
    if bool(cert) != bool(key):
        raise CliError(EXIT_USAGE, "--tls-cert and --tls-key go together")
    explicit = args.server or os.environ.get(ENV_SERVER, "")
    if explicit:
        return Target(explicit, tls=bool(ca or args.tls or cert), root_ca=ca, client_cert=cert, client_key=key,
                      server_name=args.tls_server_name or "")
    cfg, _data_dir, run_dir = _local_paths(args)
    info_path = run_dir / "control.json"
    try:
        info = msgspec.json.decode(info_path.read_bytes())
    except (FileNotFoundError, msgspec.DecodeError):
        info = None
    if isinstance(info, dict) and info.get("address"):
        tls = bool(info.get("tls"))
        return Target(str(info["address"]), tls=tls or bool(ca or cert), root_ca=ca or (info.get("tls_cert", "")
                      if tls else ""), client_cert=cert, client_key=key, server_name=args.tls_server_name or "")
    from actors.control.config import control_config

    try:
        cc = control_config(cfg)
    except ValueError as exc:
        raise CliError(EXIT_USAGE, f"config: {exc}") from None
    return Target(cc.listen, tls=bool(cc.tls_cert or ca or cert), root_ca=ca, client_cert=cert, client_key=key,
                  server_name=args.tls_server_name or "")


def read_token(args: argparse.Namespace) -> str:
    token = os.environ.get(ENV_TOKEN, "").strip()
    if token:
        return token
    path = Path(args.token_file).expanduser() if args.token_file else default_token_path()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CliError(EXIT_AUTH, f"no token: set ${ENV_TOKEN} or write it to {path} (mode 0600); an admin issues "
                                  "tokens with `shikra users add`") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CliError(EXIT_AUTH, f"token file {path} is accessible by group or others (mode "
                                  f"{stat.S_IMODE(mode):04o}); run: chmod 600 {path}")
    return path.read_text().strip()


def _read_pem(path: str, what: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise CliError(EXIT_USAGE, f"{what} {path}: {exc.strerror}") from None


def open_channel(target: Target) -> Any:
    import grpc

    if not target.tls:
        return grpc.insecure_channel(target.address)
    creds = grpc.ssl_channel_credentials(
        root_certificates=_read_pem(target.root_ca, "TLS CA") if target.root_ca else None,
        private_key=_read_pem(target.client_key, "TLS key") if target.client_key else None,
        certificate_chain=_read_pem(target.client_cert, "TLS certificate") if target.client_cert else None)
    options = [("grpc.ssl_target_name_override", target.server_name)] if target.server_name else []
    return grpc.secure_channel(target.address, creds, options=options)


class Client:
    """Stubs over one channel, with the token and deadline on every call."""

    def __init__(self, args: argparse.Namespace) -> None:
        from engine.control_api import control_pb2_grpc as rpc

        self.target = resolve_target(args)
        self.metadata = (("authorization", f"Bearer {read_token(args)}"),)
        self.timeout_s = args.timeout
        self.channel = open_channel(self.target)
        self.engine = rpc.EngineServiceStub(self.channel)
        self.orders = rpc.OrderServiceStub(self.channel)
        self.portfolio = rpc.PortfolioServiceStub(self.channel)
        self.risk = rpc.RiskServiceStub(self.channel)
        self.instruments = rpc.InstrumentServiceStub(self.channel)
        self.users = rpc.UserServiceStub(self.channel)
        self.strategies = rpc.StrategyServiceStub(self.channel)
        self.journal = rpc.JournalServiceStub(self.channel)

    def __call__(self, method: Callable[..., Any], request: Any) -> Any:
        return method(request, metadata=self.metadata, timeout=self.timeout_s)

    def close(self) -> None:
        self.channel.close()


def _emit(args: argparse.Namespace, response: Any, human: Callable[[Any], str]) -> None:
    if args.json:
        print(msgspec.json.encode(to_builtins(response)).decode())
    else:
        print(human(response))


def _grpc_error(exc: Any, target: str) -> CliError:
    code = exc.code()
    name = code.name if code is not None else "UNKNOWN"
    details = exc.details() or ""
    if name == "UNAVAILABLE":
        details = f"cannot reach the control API at {target}: {details}"
    return CliError(_STATUS_EXIT.get(name, EXIT_ERROR), f"{name}: {details}", status=name)


def _run(args: argparse.Namespace, body: Callable[[Client], int]) -> int:
    import grpc

    client = None
    try:
        client = Client(args)
        return body(client)
    except grpc.RpcError as exc:
        return _fail(args, _grpc_error(exc, client.target.address if client else "?"))
    except CliError as exc:
        return _fail(args, exc)
    finally:
        if client is not None:
            client.close()


def _fail(args: argparse.Namespace, exc: CliError) -> int:
    print(f"shikra: {exc}", file=sys.stderr)
    if getattr(args, "json", False):
        print(msgspec.json.encode({"error": {"status": exc.status, "message": str(exc),
                                             "exit_code": exc.code}}).decode())
    return exc.code


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def cmd_orders(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    def body(c: Client) -> int:
        if args.id:
            resp = c(c.orders.GetOrder, pb.GetOrderRequest(client_order_id=args.id))
            _emit(args, resp, lambda r: order_rows([r.order]))
            return EXIT_OK
        resp = c(c.orders.ListOrders, pb.ListOrdersRequest(open_only=args.open, strategy=args.strategy or "",
                                                           limit=args.limit))
        _emit(args, resp, lambda r: order_rows(r.orders) if r.orders else "no orders")
        return EXIT_OK

    return _run(args, body)


def _instrument_ref(text: str) -> Any:
    from engine.control_api import control_pb2 as pb

    seg, sep, sid = text.partition(":")
    if sep and sid.isdigit():
        return pb.InstrumentRef(segment=seg.upper(), security_id=int(sid))
    return pb.InstrumentRef(symbol=text)


def _paise_arg(text: str | None, what: str) -> int:
    from engine.money import parse_rupees

    if text is None:
        return 0
    try:
        return parse_rupees(text)
    except ValueError as exc:
        raise CliError(EXIT_USAGE, f"{what}: {exc}") from None


def place_request(args: argparse.Namespace, side: str) -> Any:
    """The PlaceOrderRequest for ``buy``/``sell``: --limit -> LIMIT, --sl -> SL-M, both -> SL."""
    from engine.control_api import control_pb2 as pb

    price = _paise_arg(args.limit, "--limit")
    trigger = _paise_arg(args.sl, "--sl")
    if args.limit is not None and args.sl is not None:
        kind = pb.ORDER_TYPE_SL
    elif args.sl is not None:
        kind = pb.ORDER_TYPE_SL_M
    elif args.limit is not None:
        kind = pb.ORDER_TYPE_LIMIT
    else:
        kind = pb.ORDER_TYPE_MARKET
    return pb.PlaceOrderRequest(
        instrument=_instrument_ref(args.symbol), side=pb.SIDE_BUY if side == "BUY" else pb.SIDE_SELL,
        qty_units=args.qty, order_type=kind, price_paise=price, trigger_price_paise=trigger,
        validity=pb.Validity.Value(f"VALIDITY_{args.validity}"), product=pb.Product.Value(f"PRODUCT_{args.product}"),
        reduce_only=args.reduce_only, request_id=args.request_id or "")


def _place(args: argparse.Namespace, side: str) -> int:
    from engine.control_api import control_pb2 as pb

    try:
        request = place_request(args, side)
    except CliError as exc:
        return _fail(args, exc)

    def body(c: Client) -> int:
        resp = c(c.orders.PlaceOrder, request)
        order = resp.order
        kind = _enum_name("OrderType", order.order_type)
        _emit(args, resp, lambda r: f"order {order.client_order_id} {_enum_name('OrderState', order.state)}: "
                                    f"{side} {order.qty_units} {order.symbol} {kind}"
                                    + (f" ({order.reason_code}: {order.reason})" if order.reason_code else ""))
        if order.state == pb.ORDER_STATE_REJECTED:
            print(f"shikra: order rejected: {order.reason_code}: {order.reason}", file=sys.stderr)
            return EXIT_REFUSED
        return EXIT_OK

    return _run(args, body)


def cmd_buy(args: argparse.Namespace) -> int:
    return _place(args, "BUY")


def cmd_sell(args: argparse.Namespace) -> int:
    return _place(args, "SELL")


def cmd_cancel(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    if bool(args.id) == bool(args.all):
        return _fail(args, CliError(EXIT_USAGE, "cancel: give an order ID or --all (not both)"))

    def body(c: Client) -> int:
        if args.all:
            resp = c(c.orders.CancelAllOrders, pb.CancelAllOrdersRequest(strategy=args.strategy or ""))
            _emit(args, resp, lambda r: f"cancel sent for {len(r.client_order_ids)} open orders"
                                        + (": " + " ".join(r.client_order_ids) if r.client_order_ids else ""))
        else:
            resp = c(c.orders.CancelOrder, pb.CancelOrderRequest(client_order_id=args.id))
            _emit(args, resp, lambda r: f"order {r.order.client_order_id} {_enum_name('OrderState', r.order.state)}")
        return EXIT_OK

    return _run(args, body)


def _positions_text(r: Any) -> str:
    from engine.money import format_avg_rupees

    if not r.positions:
        return "no positions"
    rows = [[p.strategy, p.symbol or instrument_label(p.segment, p.security_id), p.net_qty_units,
             format_avg_rupees(abs(p.open_cost_paise), abs(p.net_qty_units)) if p.net_qty_units else "-",
             rupees(p.realised_pnl_paise), rupees(p.charges_paise)] for p in r.positions]
    return (table(["STRATEGY", "SYMBOL", "NET QTY", "AVG", "REALISED", "CHARGES"], rows, frozenset({2, 3, 4, 5}))
            + f"\nrealised {rupees(r.realised_pnl_paise)}  charges {rupees(r.charges_paise)}  "
              f"net {rupees(r.net_pnl_paise)}")


def cmd_positions(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    def body(c: Client) -> int:
        resp = c(c.portfolio.ListPositions, pb.ListPositionsRequest(strategy=args.strategy or "",
                                                                    open_only=args.open))
        _emit(args, resp, _positions_text)
        return EXIT_OK

    return _run(args, body)


def cmd_pnl(args: argparse.Namespace) -> int:
    """Realised P&L per strategy (gross, charges, net) from the ledger's positions."""
    from engine.control_api import control_pb2 as pb

    def body(c: Client) -> int:
        resp = c(c.portfolio.ListPositions, pb.ListPositionsRequest(strategy=args.strategy or ""))
        by_strategy: dict[str, list[int]] = {}
        for p in resp.positions:
            row = by_strategy.setdefault(p.strategy, [0, 0])
            row[0] += p.realised_pnl_paise
            row[1] += p.charges_paise
        if args.json:
            print(msgspec.json.encode({
                "strategies": [{"strategy": s, "realised_pnl_paise": r, "charges_paise": ch, "net_pnl_paise": r - ch}
                               for s, (r, ch) in sorted(by_strategy.items())],
                "realised_pnl_paise": resp.realised_pnl_paise, "charges_paise": resp.charges_paise,
                "net_pnl_paise": resp.net_pnl_paise}).decode())
            return EXIT_OK
        rows = [[s, rupees(r), rupees(ch), rupees(r - ch)] for s, (r, ch) in sorted(by_strategy.items())]
        rows.append(["TOTAL", rupees(resp.realised_pnl_paise), rupees(resp.charges_paise), rupees(resp.net_pnl_paise)])
        print(table(["STRATEGY", "REALISED", "CHARGES", "NET"], rows, frozenset({1, 2, 3})))
        return EXIT_OK

    return _run(args, body)


def cmd_trades(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    def human(r: Any) -> str:
        if not r.trades:
            return "no trades"
        rows = [[t.fill_id, clock(t.ts_event_ns), t.client_order_id, t.strategy, t.symbol or t.security_id,
                 _enum_name("Side", t.side), t.qty_units, rupees(t.price_paise), rupees(t.charges_paise)]
                for t in r.trades]
        return table(["FILL", "TIME", "ORDER", "STRATEGY", "SYMBOL", "SIDE", "QTY", "PRICE", "CHARGES"], rows,
                     frozenset({6, 7, 8}))

    def body(c: Client) -> int:
        _emit(args, c(c.portfolio.ListTrades, pb.ListTradesRequest(strategy=args.strategy or "", limit=args.limit)),
              human)
        return EXIT_OK

    return _run(args, body)


def cmd_funds(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    def body(c: Client) -> int:
        _emit(args, c(c.portfolio.GetFunds, pb.GetFundsRequest()),
              lambda r: f"account {r.account}: cash {rupees(r.cash_paise)}  deposits net {rupees(r.external_paise)}  "
                        f"charges paid {rupees(r.charges_paise)}")
        return EXIT_OK

    return _run(args, body)


def cmd_risk(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    def human_state(r: Any) -> str:
        ks = r.kill_switch
        line = f"trading {_enum_name('TradingState', r.state)}"
        if r.reason_code or r.ts_ns:
            line += f" ({r.reason_code}: {r.detail}; by {r.by or '-'} at {clock(r.ts_ns)})"
        line += f"\nkill switch: {'ENGAGED (' + ks.reason + ', by ' + ks.by + ')' if ks.engaged else 'released'}"
        if r.HasField("usage"):
            u = r.usage
            line += (f"\norders today {u.orders_today}/{u.max_orders_per_day}, last second "
                     f"{u.orders_last_second}/{u.max_orders_per_second}, trades today {u.trades_today}/"
                     f"{u.max_trades_per_day}, open orders {u.open_orders}/{u.max_open_orders}"
                     f"\ngross exposure {rupees(u.gross_exposure_paise)}/{rupees(u.max_gross_exposure_paise)}"
                     f", day P&L {rupees(u.day_pnl_paise)} (limit -{rupees(u.daily_max_loss_paise)})"
                     f", cash {rupees(u.cash_paise)}, reserved {rupees(u.reserved_paise)}")
        return line

    def body(c: Client) -> int:
        if args.action in ("limits", "set"):
            from engine.cli_operate import risk_limits_action

            return risk_limits_action(args, c)
        if args.action == "show":
            _emit(args, c(c.risk.GetRiskState, pb.GetRiskStateRequest()), human_state)
        elif args.action == "halt":
            _emit(args, c(c.risk.EngageKillSwitch, pb.EngageKillSwitchRequest(reason=args.reason)),
                  lambda r: f"kill switch engaged: {r.kill_switch.reason}")
        else:
            _emit(args, c(c.risk.ReleaseKillSwitch, pb.ReleaseKillSwitchRequest()), lambda r: "kill switch released")
        return EXIT_OK

    return _run(args, body)


def _expiry_arg(text: str | None) -> int:
    if not text:
        return 0
    digits = text.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        raise CliError(EXIT_USAGE, f"--expiry {text!r} is not YYYY-MM-DD")
    return int(digits)


def cmd_instruments(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    def human_search(r: Any) -> str:
        if not r.instruments:
            return "no instruments"
        rows = [[i.segment, i.security_id, i.symbol, i.instrument_type, i.expiry_yyyymmdd or "-",
                 rupees(i.strike_paise) if i.strike_paise else "-", i.option_type, i.lot_size_units,
                 rupees(i.tick_paise)] for i in r.instruments]
        return table(["SEGMENT", "ID", "SYMBOL", "TYPE", "EXPIRY", "STRIKE", "OPT", "LOT", "TICK"], rows,
                     frozenset({1, 5, 7, 8}))

    def human_chain(r: Any) -> str:
        head = (f"{r.underlying} {r.segment} expiry {r.expiry_yyyymmdd}  lot {r.lot_size_units}  "
                f"step {rupees(r.step_paise)}")
        rows = [[s.ce_symbol or "-", s.ce_security_id or "-", rupees(s.strike_paise), s.pe_security_id or "-",
                 s.pe_symbol or "-"] for s in r.strikes]
        return head + "\n" + table(["CE", "CE ID", "STRIKE", "PE ID", "PE"], rows, frozenset({1, 2, 3}))

    try:
        expiry = _expiry_arg(getattr(args, "expiry", None))
    except CliError as exc:
        return _fail(args, exc)

    def body(c: Client) -> int:
        if args.action == "search":
            _emit(args, c(c.instruments.SearchInstruments, pb.SearchInstrumentsRequest(text=args.text,
                                                                                       limit=args.limit)),
                  human_search)
        else:
            _emit(args, c(c.instruments.GetOptionChain,
                          pb.GetOptionChainRequest(underlying=args.underlying, expiry_yyyymmdd=expiry)), human_chain)
        return EXIT_OK

    return _run(args, body)


def _user_rows(users: Sequence[Any]) -> str:
    rows = [[u.name, _enum_name("Role", u.role).lower(), "active" if u.active else "revoked", u.active_tokens,
             u.updated_by or "-"] for u in users]
    return table(["USER", "ROLE", "STATE", "TOKENS", "CHANGED BY"], rows, frozenset({3}))


def _print_token(name: str, token: str, token_id: str) -> None:
    print(f"token for {name} (id {token_id}); it is shown only now, store it safely:", file=sys.stderr)
    print(token)


def cmd_users(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    if args.action == "bootstrap-admin":
        return _bootstrap_admin(args)

    def body(c: Client) -> int:
        if args.action == "list":
            _emit(args, c(c.users.ListUsers, pb.ListUsersRequest()),
                  lambda r: _user_rows(r.users) if r.users else "no users")
        elif args.action == "add":
            role = pb.Role.Value(f"ROLE_{args.role.upper()}")
            resp = c(c.users.AddUser, pb.AddUserRequest(name=args.name, role=role))
            if args.json:
                print(msgspec.json.encode(to_builtins(resp)).decode())
            else:
                _print_token(resp.user.name, resp.token, resp.token_id)
        else:
            resp = c(c.users.RevokeUser, pb.RevokeUserRequest(name=args.name))
            _emit(args, resp, lambda r: f"user {r.user.name} revoked ({r.tokens_revoked} tokens)")
        return EXIT_OK

    return _run(args, body)


def _save_token(token: str, force: bool) -> Path:
    path = default_token_path()
    if path.exists() and not force:
        raise CliError(EXIT_USAGE, f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    return path


def _bootstrap_admin(args: argparse.Namespace) -> int:
    """Create an admin by writing to the ledger (daemon stopped) or to execution's inbox (running)."""
    from actors.control.auth import check_user_name, new_token
    from engine.ledger import AuditRecord, Ledger, LedgerError, TokenIssued, UserAdded, ledger_dir
    from engine.lock import is_locked

    problem = check_user_name(args.name)
    if problem is not None:
        return _fail(args, CliError(EXIT_USAGE, problem))
    cfg, data_dir, run_dir = _local_paths(args)
    issued = new_token()
    who = f"local:{getpass.getuser()}"
    now = time.time_ns()
    audit = AuditRecord(who=who, action="BootstrapAdmin", args={"name": args.name, "token_id": issued.token_id},
                        result=f"OK user {args.name} role admin token {issued.token_id}", ts_ns=now)
    try:
        if is_locked(data_dir) is None:
            with Ledger.open(ledger_dir(data_dir), cfg.ledger) as ledger:
                report = ledger.append_report(
                    [UserAdded(name=args.name, role="admin", by=who, ts_ns=now),
                     TokenIssued(token_sha256=issued.token_sha256, token_id=issued.token_id, name=args.name, by=who,
                                 ts_ns=now), audit], all_or_nothing=True)
            if report.issues:
                raise CliError(EXIT_ERROR, f"the ledger refused the user: {report.issues[0][1].detail}")
            how = "written to the ledger (daemon not running)"
        else:
            _bootstrap_through_daemon(args.name, issued, who, now, audit, data_dir, run_dir)
            how = "recorded by the running daemon"
        if args.save:
            path = _save_token(issued.token, args.force)
            print(f"saved the token to {path}", file=sys.stderr)
    except LedgerError as exc:
        return _fail(args, CliError(EXIT_ERROR, f"ledger: {exc}"))
    except CliError as exc:
        return _fail(args, exc)
    if args.json:
        print(msgspec.json.encode({"name": args.name, "role": "admin", "token": issued.token,
                                   "token_id": issued.token_id, "how": how}).decode())
    else:
        print(f"admin {args.name} {how}", file=sys.stderr)
        _print_token(args.name, issued.token, issued.token_id)
    return EXIT_OK


def _bootstrap_through_daemon(name: str, issued: Any, who: str, now: int, audit: Any, data_dir: Path,
                              run_dir: Path, timeout_s: float = 10.0) -> None:
    import zmq

    from engine.config import Config
    from engine.ledger import LedgerError, LedgerReader, ledger_dir
    from ipc import codec
    from ipc.messages import AddUser, RecordAudit
    from ipc.transport import Endpoints

    cfg = msgspec.json.decode((run_dir / "config.json").read_bytes(), type=Config)
    eng = cfg.engine
    if "execution" not in eng.actors:
        raise CliError(EXIT_NOT_REACHABLE, "the running daemon has no execution actor to record the user")
    endpoints = Endpoints(run_dir, eng.transport, eng.tcp_host, eng.tcp_base_port, tuple(eng.actors) + ("supervisor",))
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, f"cli-{os.getpid()}".encode())
    sock.setsockopt(zmq.LINGER, 2000)
    sock.connect(endpoints.inbox("execution"))
    try:
        add = AddUser(cmd_id=f"bootstrap-{issued.token_id}", name=name, role="admin", token_sha256=issued.token_sha256,
                      token_id=issued.token_id, by=who, ts_ns=now)
        sock.send_multipart((b"cmd.AddUser", codec.encode(add)))
        sock.send_multipart((b"cmd.RecordAudit", codec.encode(RecordAudit(
            who=audit.who, action=audit.action, args=audit.args, result=audit.result, ts_ns=audit.ts_ns))))
    finally:
        sock.close()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with LedgerReader.open(ledger_dir(data_dir)) as reader, reader.snapshot() as snap:
                if snap.token(issued.token_sha256) is not None:
                    return
        except LedgerError:
            pass  # not created yet: execution is still starting
        time.sleep(0.05)
    raise CliError(EXIT_NOT_REACHABLE, f"the daemon did not record admin {name} within {timeout_s:.0f}s (is the "
                                       "execution actor running? see `shikra status`)")


def cmd_watch(args: argparse.Namespace) -> int:
    from engine.control_api import control_pb2 as pb

    def line(event: Any) -> str:
        kind = event.WhichOneof("event")
        if kind == "order":
            o = event.order
            return (f"{clock(o.ts_event_ns)} order {o.client_order_id} {_enum_name('OrderState', o.state)} "
                    f"{_enum_name('Side', o.side)} {o.qty_units} {o.symbol} filled {o.filled_qty_units} [{o.strategy}]"
                    + (f" {o.reason_code}: {o.reason}" if o.reason_code else ""))
        if kind == "fill":
            f = event.fill
            return (f"{clock(f.ts_event_ns)} fill  {f.fill_id} {f.client_order_id} {_enum_name('Side', f.side)} "
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

    return _run(args, body)


# ---------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------


def cmd_journal(args: argparse.Namespace) -> int:
    if args.local:
        from engine.cli_journal import cmd_journal as local_journal

        return local_journal(args)
    from engine.cli_operate import journal_remote

    return journal_remote(args)


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the remote commands to ``shikra``'s subparsers (called by ``engine.cli``).

    Options go after the last word of the command (``shikra users list --json``): a parser with
    sub-actions takes none itself, so a sub-action's defaults can never overwrite them."""
    client = argparse.ArgumentParser(add_help=False, parents=[common])
    client.add_argument("--json", action="store_true", help="print JSON instead of a table")
    client.add_argument("--server", help=f"control API address HOST:PORT (default ${ENV_SERVER}, the local daemon's "
                                         "control.json, then [control] listen)")
    client.add_argument("--token-file", help="file holding the token (default ~/.config/shikra/token; "
                                             f"${ENV_TOKEN} wins)")
    client.add_argument("--tls", action="store_true", help="use TLS with the system's CA roots")
    client.add_argument("--tls-ca", help=f"PEM CA that signed the server certificate (${ENV_TLS_CA}); implies TLS")
    client.add_argument("--tls-cert", help=f"PEM client certificate for mutual TLS (${ENV_TLS_CERT})")
    client.add_argument("--tls-key", help=f"PEM key of --tls-cert (${ENV_TLS_KEY})")
    client.add_argument("--tls-server-name", help="expected name in the server certificate (default: the host)")
    client.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per call")

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

    p = sub.add_parser("positions", parents=[client], help="net positions with realised P&L")
    p.add_argument("--open", action="store_true", help="only non-zero positions")
    p.add_argument("--strategy")
    p.set_defaults(fn=cmd_positions)

    p = sub.add_parser("trades", parents=[client], help="fills, oldest first")
    p.add_argument("--strategy")
    p.add_argument("--limit", type=int, default=0, help="only the newest N")
    p.set_defaults(fn=cmd_trades)

    p = sub.add_parser("pnl", parents=[client], help="realised P&L per strategy, charges, net")
    p.add_argument("--strategy")
    p.set_defaults(fn=cmd_pnl)

    p = sub.add_parser("funds", parents=[client], help="cash, deposits and charges of the trading account")
    p.set_defaults(fn=cmd_funds)

    p = sub.add_parser("risk", help="risk state and limits; halt (engage the kill switch) or release it")
    risk = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    risk.add_parser("show", parents=[client], help="trading state and kill switch").set_defaults(fn=cmd_risk)
    q = risk.add_parser("halt", parents=[client], help="engage the kill switch (trader)")
    q.add_argument("reason")
    q.set_defaults(fn=cmd_risk)
    risk.add_parser("release", parents=[client], help="release the kill switch (admin)").set_defaults(fn=cmd_risk)
    risk.add_parser("limits", parents=[client], help="the limits in force (config + run-time changes)") \
        .set_defaults(fn=cmd_risk)
    q = risk.add_parser("set", parents=[client], help="change limits: key=value ..., dotted keys nest "
                                                      "(default.max_order_value_paise=5000000); null undoes (admin)")
    q.add_argument("assignments", nargs="+", metavar="key=value")
    q.set_defaults(fn=cmd_risk)

    p = sub.add_parser("instruments", help="search the instrument master, option chains")
    inst = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = inst.add_parser("search", parents=[client], help="instruments matching every word of TEXT")
    q.add_argument("text")
    q.add_argument("--limit", type=int, default=20)
    q.set_defaults(fn=cmd_instruments)
    q = inst.add_parser("chain", parents=[client], help="option chain of UNDERLYING")
    q.add_argument("underlying")
    q.add_argument("--expiry", help="YYYY-MM-DD (default: the nearest)")
    q.set_defaults(fn=cmd_instruments)

    p = sub.add_parser("users", help="users and tokens of the control API (admin)")
    users = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = users.add_parser("add", parents=[client], help="create a user (or change its role) and print a new token")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=USER_ROLES)
    q.set_defaults(fn=cmd_users)
    users.add_parser("list", parents=[client], help="every user with role and state").set_defaults(fn=cmd_users)
    q = users.add_parser("revoke", parents=[client], help="revoke a user and all its tokens")
    q.add_argument("name")
    q.set_defaults(fn=cmd_users)
    q = users.add_parser("bootstrap-admin", parents=[client],
                         help="create an admin locally (needs the data directory; no token needed)")
    q.add_argument("name")
    q.add_argument("--save", action="store_true", help="also write the token to ~/.config/shikra/token (0600)")
    q.add_argument("--force", action="store_true", help="with --save: overwrite an existing token file")
    q.set_defaults(fn=cmd_users)

    from engine import cli_operate

    cli_operate.add_commands(sub, client)
    p = sub.add_parser("journal", parents=[client],
                       help="round-trip trades and their figures (win rate, P&L, drawdown, per strategy and day)")
    p.add_argument("--strategy", help="only this strategy")
    p.add_argument("--trades", action="store_true", help="also list every round trip")
    p.add_argument("--local", action="store_true", help="read the data directory's ledger instead of the API "
                                                        "(works with the daemon stopped; no token)")
    p.set_defaults(fn=cmd_journal)

    p = sub.add_parser("watch", parents=[client], help="stream order events, fills and denials")
    p.add_argument("--strategy")
    p.add_argument("--count", type=int, default=0, help="stop after N events")
    p.set_defaults(fn=cmd_watch)
