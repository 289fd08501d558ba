"""The control actor's gRPC server: the grpc.aio server on its own uvloop event loop in a
background thread, its TLS credentials, and the servicers that route each generated method to
:meth:`actors.control.service.ControlApi.call` by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import msgspec
from google.protobuf.message import Message as ProtoMessage
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from actors.control.config import ControlConfig, split_listen
from engine.control_api import PACKAGE
from engine.control_api import control_pb2 as pb
from engine.control_api import control_pb2_grpc as rpc
from engine.control_api.limits import lenient, server_options
from engine.logs import Log

if TYPE_CHECKING:
    from actors.control.service import ControlApi


class ServerError(Exception):
    """The server could not start. ``config_problem`` is True when restarting will not help
    (unreadable TLS files); False for a transient failure (the port is in use)."""

    def __init__(self, message: str, config_problem: bool) -> None:
        super().__init__(message)
        self.config_problem = config_problem


# ---------------------------------------------------------------------------------------------
# Servicers: route each generated method to ControlApi.call by name
# ---------------------------------------------------------------------------------------------


def _unary(method: str) -> Callable[..., Awaitable[Any]]:
    async def handler(self: Any, request: ProtoMessage, context: grpc.aio.ServicerContext) -> Any:
        return await self.api.call(method, request, context)

    handler.__name__ = method
    return handler


class _Servicer:
    def __init__(self, api: ControlApi) -> None:
        self.api = api


class EngineServicer(_Servicer, rpc.EngineServiceServicer):
    GetStatus = _unary("GetStatus")
    ListActors = _unary("ListActors")
    GetSchedule = _unary("GetSchedule")


class OrderServicer(_Servicer, rpc.OrderServiceServicer):
    PlaceOrder = _unary("PlaceOrder")
    CancelOrder = _unary("CancelOrder")
    ModifyOrder = _unary("ModifyOrder")
    CancelAllOrders = _unary("CancelAllOrders")
    ListOrders = _unary("ListOrders")
    GetOrder = _unary("GetOrder")

    async def WatchOrders(self, request: pb.WatchOrdersRequest,  # noqa: N802 (generated name)
                          context: grpc.aio.ServicerContext) -> AsyncIterator[pb.WatchOrdersResponse]:
        async for event in self.api.watch_orders(request, context):
            yield event


class PortfolioServicer(_Servicer, rpc.PortfolioServiceServicer):
    ListTrades = _unary("ListTrades")
    ListPositions = _unary("ListPositions")
    GetFunds = _unary("GetFunds")
    GetDayPnl = _unary("GetDayPnl")
    ConvertPosition = _unary("ConvertPosition")


class RiskServicer(_Servicer, rpc.RiskServiceServicer):
    GetRiskState = _unary("GetRiskState")
    EngageKillSwitch = _unary("EngageKillSwitch")
    ReleaseKillSwitch = _unary("ReleaseKillSwitch")
    GetRiskLimits = _unary("GetRiskLimits")
    SetRiskLimits = _unary("SetRiskLimits")
    SquareOffAll = _unary("SquareOffAll")


class InstrumentServicer(_Servicer, rpc.InstrumentServiceServicer):
    SearchInstruments = _unary("SearchInstruments")
    GetOptionChain = _unary("GetOptionChain")


class MarketServicer(_Servicer, rpc.MarketServiceServicer):
    GetQuote = _unary("GetQuote")
    GetPricedChain = _unary("GetPricedChain")
    GetOiTracker = _unary("GetOiTracker")
    Scan = _unary("Scan")


class UserServicer(_Servicer, rpc.UserServiceServicer):
    AddUser = _unary("AddUser")
    ListUsers = _unary("ListUsers")
    RevokeUser = _unary("RevokeUser")


class StrategyServicer(_Servicer, rpc.StrategyServiceServicer):
    ListStrategies = _unary("ListStrategies")
    StartStrategy = _unary("StartStrategy")
    StopStrategy = _unary("StopStrategy")
    GetStrategyParams = _unary("GetStrategyParams")
    SetStrategyParams = _unary("SetStrategyParams")


class JournalServicer(_Servicer, rpc.JournalServiceServicer):
    GetJournal = _unary("GetJournal")


class _LenientRequests(grpc.aio.ServerInterceptor):
    """The request deserializer of every method of our services made lenient: bytes that are
    not a valid request reach ``ControlApi`` as an ``Undecodable`` value, which it refuses
    INVALID_ARGUMENT (gRPC itself would answer UNKNOWN). Health and reflection are left alone."""

    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None or not str(details.method).startswith(
                f"/{PACKAGE}."):
            return handler
        return handler._replace(request_deserializer=lenient(handler.request_deserializer))


SERVICE_NAMES: tuple[str, ...] = tuple(s.full_name for s in pb.DESCRIPTOR.services_by_name.values())
_ADDERS = (
    (rpc.add_EngineServiceServicer_to_server, EngineServicer),
    (rpc.add_OrderServiceServicer_to_server, OrderServicer),
    (rpc.add_PortfolioServiceServicer_to_server, PortfolioServicer),
    (rpc.add_RiskServiceServicer_to_server, RiskServicer),
    (rpc.add_InstrumentServiceServicer_to_server, InstrumentServicer),
    (rpc.add_MarketServiceServicer_to_server, MarketServicer),
    (rpc.add_UserServiceServicer_to_server, UserServicer),
    (rpc.add_StrategyServiceServicer_to_server, StrategyServicer),
    (rpc.add_JournalServiceServicer_to_server, JournalServicer),
)


def server_credentials(settings: ControlConfig) -> grpc.ServerCredentials | None:
    """TLS credentials from the configured PEM files; None for plaintext. Raises ServerError
    (a config problem) naming the file that cannot be read."""
    if not settings.tls_cert:
        return None

    def read(key: str, path: str) -> bytes:
        try:
            return Path(path).expanduser().read_bytes()
        except OSError as exc:
            raise ServerError(f"control.{key} {path}: {exc.strerror}", config_problem=True) from None

    cert = read("tls_cert", settings.tls_cert)
    key = read("tls_key", settings.tls_key)
    ca = read("tls_client_ca", settings.tls_client_ca) if settings.tls_client_ca else None
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


class ServerThread:
    """The grpc.aio server on its own uvloop event loop in a background thread."""

    def __init__(self, api: ControlApi, settings: ControlConfig, log: Log,
                 on_failure: Callable[[str], None] | None = None) -> None:
        """``on_failure(why)`` is called (on the gRPC thread) if the server dies after it started."""
        self.api = api
        self.settings = settings
        self.log = log
        self.on_failure = on_failure
        self.address = ""
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout_s: float = 15.0) -> str:
        """Start serving; returns the bound ``host:port``. Raises ServerError."""
        creds = server_credentials(self.settings)  # config problems surface here, before the thread
        self._thread = threading.Thread(target=self._run, args=(creds,), name="control-grpc", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise ServerError(f"the gRPC server did not start within {timeout_s}s", config_problem=False)
        if self._error is not None:
            raise ServerError(f"cannot serve on {self.settings.listen}: {self._error}", config_problem=False)
        return self.address

    def stop(self, grace_s: float = 1.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own meanwhile
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(grace_s + 5.0)

    def _run(self, creds: grpc.ServerCredentials | None) -> None:
        import uvloop

        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(self._serve(creds))
        except BaseException as exc:  # reported to start(), or logged if it happens later
            self._error = exc
            if self._started.is_set():
                self.log.exception("control_server_failed")
                if self.on_failure is not None:
                    self.on_failure(f"gRPC server failed: {type(exc).__name__}: {exc}")
            self._started.set()

    async def _serve(self, creds: grpc.ServerCredentials | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.api.loop = self._loop
        # so_reuseport off: a second daemon on the same port must fail, not share it silently.
        # Message and metadata sizes are set, not left to gRPC's defaults (engine.control_api.limits).
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0), *server_options()],
                                 interceptors=[_LenientRequests()])
        for add, servicer in _ADDERS:
            add(servicer(self.api), server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            server)
        listen = self.settings.listen
        port = server.add_secure_port(listen, creds) if creds is not None else server.add_insecure_port(listen)
        host, _ = split_listen(listen)
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        await server.start()
        for name in ("", *SERVICE_NAMES):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await health_servicer.enter_graceful_shutdown()
            await server.stop(1.0)
            self.api.close()


def bound_info(address: str, settings: ControlConfig, pid: int) -> bytes:
    """What ``<run_dir>/control.json`` says, for local clients (the CLI) to find the server."""
    return msgspec.json.encode({"address": address, "tls": bool(settings.tls_cert),
                                "tls_cert": str(Path(settings.tls_cert).expanduser()) if settings.tls_cert else "",
                                "mtls": bool(settings.tls_client_ca), "pid": pid})
