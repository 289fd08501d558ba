"""ZeroMQ sockets for the two kinds of traffic on the bus.

- **Streams** (market data, events): every actor binds one XPUB; subscribers connect a SUB to the
  publishers they need and filter by topic prefix. A slow subscriber loses its own messages (the
  publisher's high-water mark drops for it); the publisher never blocks. The XPUB tracks which
  prefixes are subscribed so an actor does not even encode a message nobody listens to.
- **Commands and orders** (never dropped): every actor binds one ROUTER inbox; senders connect a
  DEALER per target. A DEALER queues while the target is down or restarting and delivers when it is
  back; when the queue is full the send fails loudly (``PeerUnavailable``) instead of dropping.

Frames: streams ``[topic, payload]``; inbox ``[sender identity, topic, payload]``.
Receivers copy the frames out as bytes and decode those (cheaper than a zero-copy zmq.Frame for
messages of a few hundred bytes: ``actors.host.ActorHost._receive``).
Endpoints are ``ipc://`` files under the run directory by default, ``tcp://`` when configured.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Literal

import zmq

IPC_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin

TransportKind = Literal["ipc", "tcp"]


class PeerUnavailable(Exception):
    """A reliable send could not be queued (the target's queue is full)."""


class Endpoints:
    """Where each actor's sockets live: ``<run_dir>/<actor>.pub|.in`` or tcp ports from a base."""

    def __init__(self, run_dir: Path, kind: TransportKind = "ipc", tcp_host: str = "127.0.0.1",
                 tcp_base_port: int = 47100, names: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.tcp_host = tcp_host
        self.tcp_base_port = tcp_base_port
        self.names = names  # fixed order gives each name stable tcp ports
        self.socket_dir = ipc_socket_dir(run_dir) if kind == "ipc" else run_dir

    def _port(self, name: str, offset: int) -> int:
        return self.tcp_base_port + 2 * self.names.index(name) + offset

    def pub(self, name: str) -> str:
        if self.kind == "tcp":
            return f"tcp://{self.tcp_host}:{self._port(name, 0)}"
        return f"ipc://{self.socket_dir / name}.pub"

    def inbox(self, name: str) -> str:
        if self.kind == "tcp":
            return f"tcp://{self.tcp_host}:{self._port(name, 1)}"
        return f"ipc://{self.socket_dir / name}.in"


def ipc_socket_dir(run_dir: Path) -> Path:
    """The run dir itself, or a short stable directory under /tmp when the path would not fit
    in a unix socket address (deep home directories, pytest temp dirs)."""
    if len(str(run_dir)) + 16 <= IPC_PATH_MAX:
        return run_dir
    digest = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"shikra-{os.getuid()}-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short


def remove_stale_ipc(endpoint: str) -> None:
    """A crashed process leaves its socket file behind; zmq binds over it, but be explicit."""
    if endpoint.startswith("ipc://"):
        try:
            os.unlink(endpoint[len("ipc://"):])
        except FileNotFoundError:
            pass


class StreamPublisher:
    """XPUB bound at ``endpoint``; knows which topic prefixes have subscribers."""

    def __init__(self, zctx: zmq.Context, endpoint: str, hwm: int = 100_000) -> None:
        self.endpoint = endpoint
        self.sock = zctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.SNDHWM, hwm)
        self.sock.setsockopt(zmq.LINGER, 0)
        remove_stale_ipc(endpoint)
        self.sock.bind(endpoint)
        self._prefixes: set[bytes] = set()
        self._wanted: dict[bytes, bool] = {}

    def on_subscription_frames(self) -> None:
        """Drain subscription messages (``\\x01prefix`` / ``\\x00prefix``)."""
        while True:
            try:
                frame = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if not frame:
                continue
            if frame[0] == 1:
                self._prefixes.add(frame[1:])
            elif frame[0] == 0:
                self._prefixes.discard(frame[1:])
            self._wanted.clear()

    @property
    def has_subscribers(self) -> bool:
        """True while any subscriber holds any prefix."""
        return bool(self._prefixes)

    def wants(self, topic: bytes) -> bool:
        """True when at least one subscriber's prefix matches (hot path: cached per topic)."""
        hit = self._wanted.get(topic)
        if hit is None:
            hit = any(topic.startswith(p) for p in self._prefixes)
            if len(self._wanted) > 100_000:
                self._wanted.clear()
            self._wanted[topic] = hit
        return hit

    def send(self, topic: bytes, payload: bytes) -> None:
        # PUB semantics: never blocks; a subscriber past its HWM loses this message.
        self.sock.send_multipart((topic, payload), zmq.NOBLOCK)

    def close(self) -> None:
        self.sock.close(0)


class StreamSubscriber:
    """SUB connected to any number of publishers."""

    def __init__(self, zctx: zmq.Context, hwm: int = 100_000) -> None:
        self.sock = zctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, hwm)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.connected: set[str] = set()

    def connect(self, endpoint: str) -> None:
        if endpoint not in self.connected:
            self.sock.connect(endpoint)
            self.connected.add(endpoint)

    def subscribe(self, prefix: str | bytes) -> None:
        self.sock.setsockopt(zmq.SUBSCRIBE, prefix.encode() if isinstance(prefix, str) else prefix)

    def close(self) -> None:
        self.sock.close(0)


class Inbox:
    """ROUTER bound at ``endpoint``: receives ``[identity, topic, payload]`` from DEALERs and can
    reply to a sender by identity."""

    def __init__(self, zctx: zmq.Context, endpoint: str, hwm: int = 100_000) -> None:
        self.endpoint = endpoint
        self.sock = zctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.RCVHWM, hwm)
        self.sock.setsockopt(zmq.SNDHWM, hwm)
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # an unroutable reply raises, never vanishes
        self.sock.setsockopt(zmq.ROUTER_HANDOVER, 1)   # a restarted peer takes over its identity
        self.sock.setsockopt(zmq.LINGER, 1000)
        remove_stale_ipc(endpoint)
        self.sock.bind(endpoint)

    def reply(self, identity: bytes, topic: bytes, payload: bytes) -> None:
        try:
            self.sock.send_multipart((identity, topic, payload), zmq.NOBLOCK)
        except (zmq.Again, zmq.ZMQError) as exc:
            raise PeerUnavailable(f"reply to {identity!r} not deliverable: {exc}") from None

    def close(self) -> None:
        self.sock.close()


class Outbox:
    """DEALER connected to one target's inbox; queues while the target is away."""

    def __init__(self, zctx: zmq.Context, endpoint: str, identity: str, hwm: int = 100_000,
                 linger_ms: int = 2000) -> None:
        self.endpoint = endpoint
        self.sock = zctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.IDENTITY, identity.encode())
        self.sock.setsockopt(zmq.SNDHWM, hwm)
        self.sock.setsockopt(zmq.RCVHWM, hwm)
        self.sock.setsockopt(zmq.LINGER, linger_ms)
        self.sock.connect(endpoint)

    def send(self, topic: bytes, payload: bytes) -> None:
        try:
            self.sock.send_multipart((topic, payload), zmq.NOBLOCK)
        except zmq.Again:
            raise PeerUnavailable(f"queue to {self.endpoint} is full") from None

    def close(self) -> None:
        self.sock.close()
