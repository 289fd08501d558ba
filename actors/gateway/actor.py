"""The gateway actor: the engine's public ZeroMQ feed for dashboards, and /metrics.

It owns two sockets besides the host's: a SUB on the engine's publishers and the public XPUB.
Frames go through untouched (``[topic, payload]``, the payload the bus's own MessagePack bytes),
only for the configured topic prefixes. Subscriptions travel upstream: the gateway asks the
engine's publishers only for what some dashboard subscribed to (plus the few low-rate events the
metrics need), so with no dashboard connected the feed does not even encode a tick for it.

Each dashboard has its own send queue of ``sndhwm`` messages; past it that dashboard loses its
own messages (XPUB drops for it) and nothing waits, so a stalled or hostile dashboard cannot slow
the engine. Optional CURVE encryption, with a ZAP allow-list of client public keys.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import msgspec
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from actors.base import Actor, ActorConfigError, ActorContext
from actors.gateway.metrics import EngineMetrics
from actors.gateway.subscriptions import SubscriptionTable, is_public
from engine.files import replace_file
from engine.ledger import LedgerError, LedgerReader, ledger_dir
from ipc import codec, topics
from ipc.transport import Endpoints

SUPERVISOR = "supervisor"
GATEWAY_INFO = "gateway.json"
METRIC_PREFIXES = tuple(p.encode() for p in (topics.ORDER, topics.FILL, topics.RISK_DENIED, topics.HEALTH,
                                             topics.LEDGER_STATS, topics.CALENDAR_STATUS, topics.SUPERVISOR_STATUS,
                                             topics.BROKER_SESSION, topics.POSITION, topics.RISK_USAGE,
                                             topics.FEED_FRESHNESS))
UPSTREAM_HWM = 100_000
MAX_SUBSCRIPTION_FRAME_BYTES = 1024  # a subscription is a topic prefix; refuse anything bigger
BATCH = 1024  # frames per wake-up, so the loop's timers and heartbeats are never starved


class GatewayInfo(msgspec.Struct):
    """``<run_dir>/gateway.json``: where the gateway actually listens (ports may be OS-picked)."""

    pid: int
    listen: str
    metrics: str
    server_public_key: str  # Z85; empty without CURVE


class _AllowList:
    """ZAP credentials provider: a client gets in only with one of these public keys."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = frozenset(k.encode() for k in keys)

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self.keys


def _is_loopback(endpoint: str) -> bool:
    if endpoint.startswith("ipc://"):
        return True
    host = endpoint.removeprefix("tcp://").rpartition(":")[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class GatewayActor(Actor):
    subscriptions = ()  # nothing through the host: the gateway subscribes upstream on demand

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.cfg = ctx.config.gateway
        self.allowed = tuple(t.encode() for t in self.cfg.topics)
        self.table = SubscriptionTable(self.allowed)
        self.metrics: EngineMetrics | None = None
        self.sub: zmq.Socket | None = None
        self.xpub: zmq.Socket | None = None
        self.auth: ThreadAuthenticator | None = None
        self.http = None
        self.info_path: Path | None = None
        self._public_cache: dict[bytes, bool] = {}
        self.forwarded = 0
        self.bad_frames = 0

    # Lifecycle ------------------------------------------------------------------------------
    def on_start(self) -> None:
        zctx = zmq.Context.instance()
        cfg = self.cfg
        server_public = b""
        self.xpub = xpub = zctx.socket(zmq.XPUB)
        xpub.setsockopt(zmq.SNDHWM, cfg.sndhwm)  # per subscriber: a slow one loses its own
        xpub.setsockopt(zmq.LINGER, 0)
        xpub.setsockopt(zmq.MAXMSGSIZE, MAX_SUBSCRIPTION_FRAME_BYTES)
        if cfg.curve_secret_key_file:
            server_public = self._setup_curve(zctx, xpub)
        elif not _is_loopback(cfg.listen):
            self.log.warning("gateway_plaintext_off_loopback", listen=cfg.listen,
                             hint="set gateway.curve_secret_key_file and allowed_client_keys")
        try:
            xpub.bind(cfg.listen)
        except zmq.ZMQError as exc:
            raise ActorConfigError(f"gateway.listen: cannot bind {cfg.listen}: {exc}") from None
        listen = xpub.getsockopt_string(zmq.LAST_ENDPOINT)

        metrics_at = ""
        if cfg.metrics_listen:
            self.metrics = EngineMetrics(self.ctx.now_ns)
            self._seed_positions()
            metrics_at = self._start_metrics_server(cfg.metrics_listen)

        self.sub = sub = zctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, UPSTREAM_HWM)
        sub.setsockopt(zmq.LINGER, 0)
        eng = self.ctx.config.engine
        endpoints = Endpoints(Path(self.ctx.run_dir), eng.transport, eng.tcp_host, eng.tcp_base_port,
                              tuple(eng.actors) + (SUPERVISOR,))
        for name in tuple(eng.actors) + (SUPERVISOR,):
            if name != self.ctx.name:
                sub.connect(endpoints.pub(name))
        if self.metrics is not None:
            self._apply(self.table.add_fixed(METRIC_PREFIXES), [])

        self.ctx.watch_socket(xpub, self._on_public)
        self.ctx.watch_socket(sub, self._on_upstream)
        self._write_info(GatewayInfo(os.getpid(), listen, metrics_at,
                                     server_public.decode() if server_public else ""))
        self.log.info("gateway_ready", listen=listen, metrics=metrics_at, curve=bool(server_public),
                      allow_list=len(cfg.allowed_client_keys), topics=",".join(cfg.topics))

    def _seed_positions(self) -> None:
        """The P&L gauges start from the ledger's positions (a restarted gateway would otherwise
        know only those published after it); none on a first start."""
        assert self.metrics is not None
        try:
            with LedgerReader.open(ledger_dir(self.ctx.data_dir)) as reader, reader.snapshot() as snap:
                self.metrics.seed_positions(snap.positions().values())
        except LedgerError as exc:
            self.log.info("gateway_positions_not_seeded", reason=str(exc)[:200])

    def _setup_curve(self, zctx: zmq.Context, xpub: zmq.Socket) -> bytes:
        path = Path(self.cfg.curve_secret_key_file).expanduser()
        try:
            public, secret = zmq.auth.load_certificate(path)
        except (OSError, ValueError) as exc:
            raise ActorConfigError(f"gateway.curve_secret_key_file: cannot read {path}: {exc}") from None
        if not secret:
            raise ActorConfigError(f"gateway.curve_secret_key_file: {path} holds no secret key "
                                   "(give the server's .key_secret file, not its public .key)")
        # The ZAP handler must run in the same zmq context, before the socket binds.
        self.auth = ThreadAuthenticator(zctx)
        self.auth.start()
        if self.cfg.allowed_client_keys:
            self.auth.configure_curve_callback("*", credentials_provider=_AllowList(self.cfg.allowed_client_keys))
        else:
            self.auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
        xpub.setsockopt(zmq.CURVE_SECRETKEY, secret)
        xpub.setsockopt(zmq.CURVE_PUBLICKEY, public)
        xpub.setsockopt(zmq.CURVE_SERVER, 1)
        return public

    def _start_metrics_server(self, listen: str) -> str:
        from prometheus_client import start_http_server
        assert self.metrics is not None
        host, _, port = listen.rpartition(":")
        try:
            self.http, _thread = start_http_server(int(port), addr=host, registry=self.metrics.registry)
        except OSError as exc:
            raise ActorConfigError(f"gateway.metrics_listen: cannot serve on {listen}: {exc.strerror}") from None
        return f"{host}:{self.http.server_port}"

    def _write_info(self, info: GatewayInfo) -> None:
        self.info_path = Path(self.ctx.run_dir) / GATEWAY_INFO
        replace_file(self.info_path, msgspec.json.encode(info), durable=False)

    def on_stop(self) -> None:
        for sock in (self.sub, self.xpub):
            if sock is not None:
                self.ctx.unwatch_socket(sock)
                sock.close(0)
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        if self.auth is not None:
            self.auth.stop()
        if self.info_path is not None:
            try:
                if msgspec.json.decode(self.info_path.read_bytes(), type=GatewayInfo).pid == os.getpid():
                    self.info_path.unlink()
            except (OSError, msgspec.DecodeError, msgspec.ValidationError):
                pass
        self.log.info("gateway_stopped", forwarded=self.forwarded, bad_frames=self.bad_frames,
                      refused_subscriptions=self.table.refused)

    # Sockets --------------------------------------------------------------------------------
    def _apply(self, subscribe: list[bytes], unsubscribe: list[bytes]) -> None:
        assert self.sub is not None
        for prefix in subscribe:
            self.sub.setsockopt(zmq.SUBSCRIBE, prefix)
        for prefix in unsubscribe:
            self.sub.setsockopt(zmq.UNSUBSCRIBE, prefix)

    def _on_public(self) -> None:
        """Dashboards subscribing and leaving (XPUB reports first-in and last-out per prefix)."""
        assert self.xpub is not None
        for _ in range(BATCH):
            try:
                frame = self.xpub.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            subscribe, unsubscribe = self.table.on_frame(frame)
            self._apply(subscribe, unsubscribe)
            if subscribe or unsubscribe:
                self.log.info("gateway_upstream", subscribed=[p.decode(errors="replace") for p in subscribe],
                              unsubscribed=[p.decode(errors="replace") for p in unsubscribe])
        if self.metrics is not None:
            self.metrics.public_prefixes.set(len(self.table.public))

    def _on_upstream(self) -> None:
        # hot path: every forwarded message passes here; payload frames are re-sent, not copied
        assert self.sub is not None and self.xpub is not None
        sub, xpub, cache, allowed = self.sub, self.xpub, self._public_cache, self.allowed
        metrics = self.metrics
        sent = 0
        for _ in range(BATCH):
            try:
                frames = sub.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            if len(frames) != 2:
                self._bad_frame(f"{len(frames)} frames, expected 2")
                continue
            topic = frames[0].bytes
            public = cache.get(topic)
            if public is None:
                public = is_public(topic, allowed)
                if len(cache) > 100_000:
                    cache.clear()
                cache[topic] = public
            if public:
                xpub.send_multipart(frames, zmq.NOBLOCK, copy=False)  # XPUB drops past a dashboard's HWM
                sent += 1
            if metrics is not None and topic.startswith(METRIC_PREFIXES):
                try:
                    metrics.observe(codec.decode(frames[1].buffer))
                except codec.DecodeError as exc:
                    self._bad_frame(f"{exc.failure.value}: {exc.detail[:200]}")
        if sent:
            self.forwarded += sent
            if metrics is not None:
                metrics.forwarded.inc(sent)

    def _bad_frame(self, detail: str) -> None:
        self.bad_frames += 1
        if self.metrics is not None:
            self.metrics.gateway_bad_frames.inc()
        if self.bad_frames & (self.bad_frames - 1) == 0:  # 1st, 2nd, 4th, 8th...: no log flood
            self.log.warning("gateway_bad_frame", detail=detail, total=self.bad_frames)
