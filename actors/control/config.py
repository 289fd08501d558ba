"""The control API's configuration: the ``[control]`` section.

Until ``engine.config.Config`` carries a ``control`` field, the section can be given as JSON in
the environment variable ``SHIKRA_CONTROL_CONFIG`` (the supervisor passes its environment to the
actors). Once the field exists the config file wins and the variable is ignored.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any

import msgspec

ENV_CONTROL_CONFIG = "SHIKRA_CONTROL_CONFIG"
DEFAULT_PORT = 7470


class ControlConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where and how the gRPC server listens.

    ``listen`` is ``host:port`` (``[::1]:7470`` for IPv6); port 0 lets the OS pick one, and the
    address actually bound is written to ``<run_dir>/control.json`` for local clients.
    ``tls_cert`` / ``tls_key``: PEM server certificate chain and key; both empty means plaintext,
    which is refused on a non-loopback address unless ``allow_insecure_remote`` (bearer tokens
    would cross the network in clear). ``tls_client_ca``: PEM CA bundle; when set, clients must
    present a certificate it signed (mutual TLS) in addition to their token.
    ``request_timeout_s``: how long a call waits for the engine (risk, execution, supervisor).
    ``watch_queue_events``: events buffered per WatchOrders client before it is dropped.
    ``market_instruments``: instruments whose market data control keeps for quotes and chains (the
    least recently updated is dropped past it; ``actors.control.market``).
    ``quote_stale_after_s``: a quote whose latest update is older than this is marked stale.
    ``chain_underlyings``: underlyings whose nearest ``chain_expiries`` priced chains are published
    on ``chain.<UNDERLYING>.<YYYYMMDD>`` every ``chain_interval_s`` (0: never), with
    ``chain_strikes_each_side`` strikes around the ATM (0: all).
    ``history_sample_s``: how often the market kept is sampled for changes over time (the OI
    tracker's windows, the scanner's volume spikes and OI buildup), ``history_s``: how far back
    samples are kept (the longest window; memory: 32 bytes per instrument per sample).
    ``oi_underlyings``: underlyings whose nearest ``oi_expiries`` OI trackers are published on
    ``oitrack.<UNDERLYING>.<YYYYMMDD>`` every ``oi_interval_s`` (0: never), with the OI change
    since the open and over each of ``oi_windows_s`` (seconds).
    ``risk_free_rate_annual``: continuously compounded; discounts option premiums and carries the
    spot to a forward when the expiry has no quoted future.
    """

    listen: str = f"127.0.0.1:{DEFAULT_PORT}"
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    request_timeout_s: float = 5.0
    allow_insecure_remote: bool = False
    watch_queue_events: int = 10_000
    market_instruments: int = 25_000
    quote_stale_after_s: float = 10.0
    chain_underlyings: list[str] = msgspec.field(default_factory=lambda: ["NIFTY"])
    chain_expiries: int = 1
    chain_interval_s: float = 1.0
    chain_strikes_each_side: int = 10
    risk_free_rate_annual: float = 0.065
    history_sample_s: float = 15.0
    history_s: int = 3600
    oi_underlyings: list[str] = msgspec.field(default_factory=lambda: ["NIFTY"])
    oi_expiries: int = 1
    oi_interval_s: float = 5.0
    oi_windows_s: list[int] = msgspec.field(default_factory=lambda: [300, 900, 3600])


def split_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:7470"`` -> ``("127.0.0.1", 7470)``; ``"[::1]:0"`` -> ``("::1", 0)``.
    Raises ValueError naming the value when it is not host:port with a port in 0..65535."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"control.listen {listen!r} is not host:port (port 0..65535)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_control_config(cc: ControlConfig) -> str | None:
    """Rules across fields; returns what is wrong (naming the keys), or None."""
    try:
        host, _port = split_listen(cc.listen)
    except ValueError as exc:
        return str(exc)
    if bool(cc.tls_cert) != bool(cc.tls_key):
        return "control.tls_cert and control.tls_key must be given together"
    if cc.tls_client_ca and not cc.tls_cert:
        return "control.tls_client_ca needs control.tls_cert and control.tls_key (mutual TLS is TLS first)"
    if not cc.tls_cert and not is_loopback(host) and not cc.allow_insecure_remote:
        return (f"control.listen {cc.listen!r} is not a loopback address and TLS is off: bearer tokens would "
                "cross the network in clear. Set control.tls_cert/tls_key, or allow_insecure_remote = true")
    if cc.request_timeout_s <= 0:
        return f"control.request_timeout_s {cc.request_timeout_s} must be > 0"
    if cc.watch_queue_events < 1:
        return f"control.watch_queue_events {cc.watch_queue_events} must be >= 1"
    if cc.market_instruments < 1:
        return f"control.market_instruments {cc.market_instruments} must be >= 1"
    if not cc.quote_stale_after_s > 0:
        return f"control.quote_stale_after_s {cc.quote_stale_after_s} must be > 0"
    if cc.chain_interval_s < 0 or cc.chain_expiries < 1 or cc.chain_strikes_each_side < 0:
        return (f"control.chain_interval_s ({cc.chain_interval_s}) must be >= 0, chain_expiries "
                f"({cc.chain_expiries}) >= 1 and chain_strikes_each_side ({cc.chain_strikes_each_side}) >= 0")
    if not -0.5 < cc.risk_free_rate_annual < 1.0:
        return f"control.risk_free_rate_annual {cc.risk_free_rate_annual} is not a rate (e.g. 0.065 for 6.5 %)"
    if not cc.history_sample_s > 0 or cc.history_s <= 0:
        return (f"control.history_sample_s ({cc.history_sample_s}) and control.history_s ({cc.history_s}) "
                "must be > 0")
    if cc.oi_interval_s < 0 or cc.oi_expiries < 1:
        return f"control.oi_interval_s ({cc.oi_interval_s}) must be >= 0 and oi_expiries ({cc.oi_expiries}) >= 1"
    for w in cc.oi_windows_s:
        if not 0 < w <= cc.history_s:
            return f"control.oi_windows_s: {w} must be > 0 and at most control.history_s ({cc.history_s})"
    if len(set(cc.oi_windows_s)) != len(cc.oi_windows_s):
        return f"control.oi_windows_s {cc.oi_windows_s} has a window twice"
    return None


def control_config(cfg: Any, environ: Mapping[str, str] | None = None) -> ControlConfig:
    """The effective ``[control]`` section of ``cfg`` (an ``engine.config.Config``).

    Raises ValueError with a message naming the source when the section is invalid.
    """
    section = getattr(cfg, "control", None)
    if isinstance(section, ControlConfig):
        found = section
    else:
        env = os.environ if environ is None else environ
        raw = env.get(ENV_CONTROL_CONFIG, "")
        try:
            found = msgspec.json.decode(raw, type=ControlConfig) if raw else ControlConfig()
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(f"${ENV_CONTROL_CONFIG}: {exc}") from None
    problem = check_control_config(found)
    if problem is not None:
        raise ValueError(problem)
    return found
