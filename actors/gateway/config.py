"""The gateway actor's configuration: the ``[gateway]`` section."""

from __future__ import annotations

import re

import msgspec

from engine.section import Section

DEFAULT_GATEWAY_TOPICS: tuple[str, ...] = ("tick.", "quote.", "book.", "bar.", "order.", "fill.", "position.",
                                          "risk.", "actor.health.", "chain.", "oitrack.", "scan.")


class GatewayConfig(Section):
    """The public feed for dashboards (actors/gateway) and the Prometheus endpoint."""

    listen: str = "tcp://127.0.0.1:7480"   # zmq endpoint of the public XPUB; port "*" lets the OS pick
    topics: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_GATEWAY_TOPICS))
    sndhwm: int = 10_000                   # messages queued per subscriber before it loses its own
    curve_secret_key_file: str = ""        # zmq certificate file with the server's secret key
    allowed_client_keys: list[str] = msgspec.field(default_factory=list)  # Z85 client public keys
    metrics_listen: str = "127.0.0.1:9470"  # host:port of /metrics; empty disables; port 0 picks


_Z85_KEY = re.compile(r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")


def check_gateway_config(gw: GatewayConfig) -> str:
    """The first problem with the gateway section as "key: what is wrong", or "" when none."""
    if not gw.listen.startswith(("tcp://", "ipc://")):
        return f"listen: '{gw.listen}' is not a zmq endpoint (tcp://host:port or ipc://path)"
    if gw.sndhwm <= 0:
        return f"sndhwm: must be > 0, got {gw.sndhwm}"
    if not gw.topics or any(not t for t in gw.topics):
        return "topics: at least one non-empty topic prefix is needed"
    bad = [k for k in gw.allowed_client_keys if not _Z85_KEY.fullmatch(k)]
    if bad:
        return f"allowed_client_keys: {bad[0]!r} is not a 40-character Z85 public key"
    if gw.allowed_client_keys and not gw.curve_secret_key_file:
        return "allowed_client_keys: needs curve_secret_key_file (the allow-list is enforced by CURVE)"
    if gw.metrics_listen:
        host, sep, port = gw.metrics_listen.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            return f"metrics_listen: '{gw.metrics_listen}' is not host:port"
    return ""
