"""What every ``shikra`` command group shares: exit codes, config and paths, the local admin
socket, the gRPC client, and output (tables, rupees, JSON).

Exit codes: 0 ok; 1 other error; 2 usage; 3 the daemon is not running, not reachable or did not
answer in time; 4 auth (UNAUTHENTICATED, PERMISSION_DENIED); 5 the engine refused
(INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, ALREADY_EXISTS; also an order REJECTED by
execution or a modification the venue refused); 65 the ledger is damaged (``shikra run``,
``shikra ledger``); 78 configuration error.

Server: ``--server HOST:PORT``, else ``$SHIKRA_SERVER``, else the address the local daemon wrote to
``<run_dir>/control.json``, else ``[control] listen`` from the config. TLS: ``--tls-ca`` (or
``$SHIKRA_TLS_CA``) is the CA that signed the server's certificate; ``--tls-cert``/``--tls-key``
(``$SHIKRA_TLS_CERT``/``$SHIKRA_TLS_KEY``) a client certificate for mutual TLS. Found through
``control.json``, a TLS server is trusted through its own certificate file (self-signed).

Token: ``$SHIKRA_TOKEN``, else the file ``--token-file`` or ``~/.config/shikra/token``, which must
not be readable by group or others (mode 0600).

Human tables by default, ``--json`` on every client command. Prices are typed and shown in rupees
("2450.05") and travel as integer paise (``engine.model.money``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import msgspec
import zmq
from google.protobuf.descriptor import FieldDescriptor

# 78 and 65 for every process; the commands take them from here.
from actors.base import EXIT_CONFIG, EXIT_LEDGER_DAMAGED
from actors.control.config import control_config
from engine.config import BUILT_IN_CONFIG, Config, default_config_path, load_config, resolve_paths
from engine.control_api import control_pb2 as pb
from engine.control_api import control_pb2_grpc as rpc
from engine.control_api.limits import MAX_JSON_DEPTH, channel_options, json_depth
from engine.control_api.quoting import quote_value
from engine.daemon.lock import is_locked
from engine.ledger import LedgerError, LedgerReader, ledger_dir
from engine.model.ist import IST, NS_PER_S
from engine.model.money import format_paise, parse_rupees
from ipc import codec, topics
from ipc.messages import Reply
from ipc.transport import Endpoints

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3   # not running, not reachable, or no answer in time
EXIT_AUTH = 4
EXIT_REFUSED = 5

ENV_TOKEN = "SHIKRA_TOKEN"
ENV_SERVER = "SHIKRA_SERVER"
ENV_TLS_CA = "SHIKRA_TLS_CA"
ENV_TLS_CERT = "SHIKRA_TLS_CERT"
ENV_TLS_KEY = "SHIKRA_TLS_KEY"
DEFAULT_TIMEOUT_S = 15.0
_STATUS_EXIT = {
    "UNAUTHENTICATED": EXIT_AUTH, "PERMISSION_DENIED": EXIT_AUTH,
    "INVALID_ARGUMENT": EXIT_REFUSED, "FAILED_PRECONDITION": EXIT_REFUSED, "NOT_FOUND": EXIT_REFUSED,
    "ALREADY_EXISTS": EXIT_REFUSED, "OUT_OF_RANGE": EXIT_REFUSED,
    "UNAVAILABLE": EXIT_NOT_RUNNING, "DEADLINE_EXCEEDED": EXIT_NOT_RUNNING,
}


class CliError(Exception):
    """Ends a command with ``code`` after printing ``message`` (and a JSON error with --json)."""

    def __init__(self, code: int, message: str, status: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.status = status


# ---------------------------------------------------------------------------------------------
# Options, config and paths
# ---------------------------------------------------------------------------------------------


def common_options() -> argparse.ArgumentParser:
    """--config and --data-dir, which every command that touches the local daemon takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="config TOML file (default: $SHIKRA_CONFIG, ~/.config/shikra/shikra.toml, "
                                         "else built-in paper defaults)")
    common.add_argument("--data-dir", help="data directory (default: from config, else ~/.local/share/shikra)")
    return common


def client_options(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of every command that talks to the control API.

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
    return client


def config_from_args(args: argparse.Namespace) -> tuple[Config, str]:
    """--config, else $SHIKRA_CONFIG, else ~/.config/shikra/shikra.toml if present, else defaults."""
    path = args.config or os.environ.get("SHIKRA_CONFIG")
    if path:
        return load_config(path), str(Path(path).expanduser())
    default = default_config_path()
    if default.exists():
        return load_config(default), str(default)
    return Config(), BUILT_IN_CONFIG


def local_paths(args: argparse.Namespace) -> tuple[Config, Path, Path]:
    """The config and its (data_dir, run_dir), --data-dir first."""
    cfg, _ = config_from_args(args)
    data_dir, run_dir = resolve_paths(cfg, args.data_dir)
    return cfg, data_dir, run_dir


def open_ledger_reader(args: argparse.Namespace) -> LedgerReader | None:
    """The data directory's ledger, read-only (safe while the daemon writes); None after saying
    why on stderr. The offline commands (``export``, ``journal --local``, ``audit``) read through it."""
    _cfg, data_dir, _run_dir = local_paths(args)
    try:
        return LedgerReader.open(ledger_dir(data_dir))
    except LedgerError as exc:
        print(f"shikra: {exc}", file=sys.stderr)
        return None


def running_config(run_dir: Path) -> Config:
    """The config the running daemon wrote to ``<run_dir>/config.json`` (its effective one)."""
    return msgspec.json.decode((run_dir / "config.json").read_bytes(), type=Config)


def local_socket(run_dir: Path, cfg: Config, target: str, linger_ms: int) -> zmq.Socket:
    """A DEALER connected to ``target``'s inbox in the run directory (``cfg``: the running
    daemon's config): whoever can reach the run directory may command the daemon."""
    eng = cfg.engine
    endpoints = Endpoints(run_dir, eng.transport, eng.tcp_host, eng.tcp_base_port,
                          tuple(eng.actors) + ("supervisor",))
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, f"cli-{os.getpid()}".encode())
    sock.setsockopt(zmq.LINGER, linger_ms)
    sock.connect(endpoints.inbox(target))
    return sock


def send_local(data_dir: Path, run_dir: Path, msg: msgspec.Struct, timeout_s: float = 5.0,
               target: str = "supervisor") -> int:
    """Local admin path: send ``msg`` to the supervisor (or one actor's inbox) and wait for its Reply."""
    if is_locked(data_dir) is None:
        print(f"shikra is not running on data dir {data_dir}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    sock = local_socket(run_dir, running_config(run_dir), target, linger_ms=0)
    try:
        sock.send_multipart((topics.command_topic(type(msg).__name__), codec.encode(msg)))  # type: ignore[arg-type]
        if not sock.poll(int(timeout_s * 1000)):
            print("shikra: the daemon did not answer", file=sys.stderr)
            return EXIT_NOT_RUNNING
        _topic, payload = sock.recv_multipart()
        reply = codec.decode(payload)
        if isinstance(reply, Reply) and reply.ok:
            if reply.detail and target != "supervisor":
                print(reply.detail)
            return EXIT_OK
        print(f"shikra: refused: {getattr(reply, 'detail', reply)}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        sock.close()


def parse_assignments(items: list[str], dotted: bool) -> dict[str, Any]:
    """``key=value`` words as a JSON-able object: values are JSON where they parse (numbers,
    true/false, null), text otherwise; with ``dotted``, ``a.b=1`` nests as ``{"a": {"b": 1}}``.
    Raises CliError (usage) for a word that is not key=value or a value nested deeper than the
    control API takes (the JSON decoder would recurse until Python's recursion limit)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(EXIT_USAGE, f"{quote_value(item)} is not key=value")
        depth = json_depth(value)
        if depth > MAX_JSON_DEPTH:
            raise CliError(EXIT_USAGE, f"the value of {quote_value(key)} nests {depth:,} levels of [ and {{; the "
                                       f"control API takes at most {MAX_JSON_DEPTH}")
        try:
            parsed: Any = msgspec.json.decode(value)
        except msgspec.DecodeError:
            parsed = value
        node = out
        parts = key.split(".") if dotted else [key]
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise CliError(EXIT_USAGE, f"'{item}': {part} is given a value and keys")
            node = child
        node[parts[-1]] = parsed
    return out


def paise_arg(text: str | None, what: str) -> int:
    """A rupee price typed on the command line, as paise (0 when not given)."""
    if text is None:
        return 0
    try:
        return parse_rupees(text)
    except ValueError as exc:
        raise CliError(EXIT_USAGE, f"{what}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# Output (pure)
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


def instrument_ref(text: str) -> Any:
    """``SYMBOL`` or ``SEGMENT:security_id`` (``NSE_EQ:2885``) as the API's InstrumentRef."""
    seg, sep, sid = text.partition(":")
    if sep and sid.isdigit():
        return pb.InstrumentRef(segment=seg.upper(), security_id=int(sid))
    return pb.InstrumentRef(symbol=text)


def expiry_arg(text: str | None) -> int:
    """``--expiry YYYY-MM-DD`` (or YYYYMMDD) as yyyymmdd; 0 when not given (the nearest)."""
    if not text:
        return 0
    digits = text.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        raise CliError(EXIT_USAGE, f"--expiry {quote_value(text)} is not YYYY-MM-DD")
    return int(digits)


def rupees(paise: int) -> str:
    return format_paise(paise)


def clock(ts_ns: int) -> str:
    if not ts_ns:
        return "-"
    return dt.datetime.fromtimestamp(ts_ns // NS_PER_S, IST).strftime("%H:%M:%S")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: frozenset[int] = frozenset()) -> str:
    """A plain text table; columns in ``right`` are right-aligned (numbers)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if i in right else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True))).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in cells)])


def enum_name(enum: str, value: int) -> str:
    """A proto enum value by its short name (``enum_name("Side", 1)`` -> ``BUY``)."""
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
    cfg, _data_dir, run_dir = local_paths(args)
    info_path = run_dir / "control.json"
    try:
        info = msgspec.json.decode(info_path.read_bytes())
    except (FileNotFoundError, msgspec.DecodeError):
        info = None
    if isinstance(info, dict) and info.get("address"):
        tls = bool(info.get("tls"))
        return Target(str(info["address"]), tls=tls or bool(ca or cert), root_ca=ca or (info.get("tls_cert", "")
                      if tls else ""), client_cert=cert, client_key=key, server_name=args.tls_server_name or "")
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
    """A channel to the control API with its message and metadata sizes (responses up to 64 MiB:
    gRPC's default of 4 MiB would refuse a long order list)."""
    sizes = channel_options()
    if not target.tls:
        return grpc.insecure_channel(target.address, options=sizes)
    creds = grpc.ssl_channel_credentials(
        root_certificates=_read_pem(target.root_ca, "TLS CA") if target.root_ca else None,
        private_key=_read_pem(target.client_key, "TLS key") if target.client_key else None,
        certificate_chain=_read_pem(target.client_cert, "TLS certificate") if target.client_cert else None)
    options = [("grpc.ssl_target_name_override", target.server_name)] if target.server_name else []
    return grpc.secure_channel(target.address, creds, options=[*options, *sizes])


class Client:
    """Stubs over one channel, with the token and deadline on every call."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.target = resolve_target(args)
        self.metadata = (("authorization", f"Bearer {read_token(args)}"),)
        self.timeout_s = args.timeout
        self.channel = open_channel(self.target)
        self.engine = rpc.EngineServiceStub(self.channel)
        self.orders = rpc.OrderServiceStub(self.channel)
        self.portfolio = rpc.PortfolioServiceStub(self.channel)
        self.risk = rpc.RiskServiceStub(self.channel)
        self.instruments = rpc.InstrumentServiceStub(self.channel)
        self.market = rpc.MarketServiceStub(self.channel)
        self.users = rpc.UserServiceStub(self.channel)
        self.strategies = rpc.StrategyServiceStub(self.channel)
        self.journal = rpc.JournalServiceStub(self.channel)

    def __call__(self, method: Callable[..., Any], request: Any) -> Any:
        return method(request, metadata=self.metadata, timeout=self.timeout_s)

    def close(self) -> None:
        self.channel.close()


def emit(args: argparse.Namespace, response: Any, human: Callable[[Any], str]) -> None:
    """Print ``response`` as JSON (--json) or as ``human`` renders it."""
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


def run(args: argparse.Namespace, body: Callable[[Client], int]) -> int:
    """Call ``body`` with a connected Client; a gRPC error or CliError becomes its exit code."""
    client = None
    try:
        client = Client(args)
        return body(client)
    except grpc.RpcError as exc:
        return fail(args, _grpc_error(exc, client.target.address if client else "?"))
    except CliError as exc:
        return fail(args, exc)
    finally:
        if client is not None:
            client.close()


def fail(args: argparse.Namespace, exc: CliError) -> int:
    """Print ``exc`` (and, with --json, a JSON error object); its exit code."""
    print(f"shikra: {exc}", file=sys.stderr)
    if getattr(args, "json", False):
        print(msgspec.json.encode({"error": {"status": exc.status, "message": str(exc),
                                             "exit_code": exc.code}}).decode())
    return exc.code
