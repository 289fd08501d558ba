"""The daemon's configuration: a TOML file read into frozen msgspec Structs that forbid unknown keys.

Each component's section lives beside it (``actors/<actor>/config.py``, the ledger's and the
calendar's in their modules); this module assembles them into :class:`Config`, holds the engine-wide
sections (engine, log, instruments, credentials) and reads and checks the file.

Every section has defaults that make a working paper setup, so an empty file (or no file) runs.
Secrets are never in this file: they come from environment variables or a 0600 credentials file
(see ``engine.credentials``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import msgspec

from actors.control.config import ControlConfig, check_control_config
from actors.execution.config import ExecutionConfig
from actors.execution.reconcile import EXTERNAL_STRATEGY
from actors.feed.config import FeedConfig, check_feed_config
from actors.gateway.config import GatewayConfig, check_gateway_config
from actors.notify.config import NotifyConfig, check_notify_config
from actors.risk.config import RiskConfig
from actors.strategy.config import StrategyConfig
from engine.ledger.config import LedgerConfig
from engine.model.calendar import CalendarConfig, check_calendar_config
from engine.model.master_refresh import MasterDownloadConfig
from engine.model.scanner import ScannerConfig, check_scanner_config
from engine.model.schedule import ScheduleConfig
from engine.section import Section

ActorName = str
Topology = Literal["isolated", "co-located"]

DEFAULT_ACTORS: tuple[str, ...] = ("feed", "book", "strategy", "risk", "execution", "control")
HOT_PATH_ACTORS: tuple[str, ...] = ("feed", "book", "strategy", "risk", "execution")
# Not in DEFAULT_ACTORS: without an alert URL it would be one more process with nothing to send.
# A config that sets [notify] urls or urls_file runs it without listing it (parse_config).
NOTIFY_ACTOR = "notify"


class RestartConfig(Section):
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    max_restarts: int = 5          # this many restarts of one actor inside window_s ...
    window_s: float = 60.0         # ... engages the kill switch (a restart storm)


class EngineConfig(Section):
    data_dir: str = ""             # empty: $XDG_DATA_HOME/shikra or ~/.local/share/shikra
    run_dir: str = ""              # empty: <data_dir>/run (sockets, status file)
    actors: list[ActorName] = msgspec.field(default_factory=lambda: list(DEFAULT_ACTORS))
    actor_classes: dict[ActorName, str] = msgspec.field(default_factory=dict)  # name -> "module:Class"
    topology: Topology = "isolated"
    colocated: list[ActorName] = msgspec.field(default_factory=lambda: list(HOT_PATH_ACTORS))
    transport: Literal["ipc", "tcp"] = "ipc"
    tcp_host: str = "127.0.0.1"
    tcp_base_port: int = 47100
    heartbeat_interval_s: float = 0.5
    heartbeat_timeout_s: float = 5.0
    ready_timeout_s: float = 60.0
    stop_timeout_s: float = 10.0
    warm_interval_ms: int = 1
    restart: RestartConfig = RestartConfig()


class LogConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "text"] = "auto"


class InstrumentsConfig(Section):
    # "sample" (bundled, regenerated for today), "dhan" or "kite" (downloaded before each session)
    # or a path to a Dhan or Kite CSV
    master: str = "sample"
    download: MasterDownloadConfig = MasterDownloadConfig()


class CredentialsConfig(Section):
    file: str = ""   # a 0600 TOML file with client_id and access_token; env vars win


class Config(Section):
    engine: EngineConfig = EngineConfig()
    log: LogConfig = LogConfig()
    feed: FeedConfig = FeedConfig()
    strategy: StrategyConfig = StrategyConfig()
    execution: ExecutionConfig = ExecutionConfig()
    risk: RiskConfig = RiskConfig()
    calendar: CalendarConfig = CalendarConfig()
    ledger: LedgerConfig = LedgerConfig()
    control: ControlConfig = ControlConfig()
    instruments: InstrumentsConfig = InstrumentsConfig()
    credentials: CredentialsConfig = CredentialsConfig()
    gateway: GatewayConfig = GatewayConfig()
    notify: NotifyConfig = NotifyConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    scanner: ScannerConfig = ScannerConfig()


class ConfigError(Exception):
    """A config problem; the message names the file and the key path."""


_SECRET_KEY = re.compile(r"(token|secret|password|api_key)", re.IGNORECASE)


def _humanise(err: str, source: str) -> str:
    """Turn msgspec's "... - at `$.engine.x`" into "<source>: engine.x: ..."."""
    m = re.match(r"(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", err)
    what, path = (m.group("what"), m.group("path") or "") if m else (err, "")
    path = path.lstrip(".")
    unknown = re.match(r"Object contains unknown field `(?P<key>[^`]+)`", what)
    if unknown:
        key = f"{path}.{unknown.group('key')}" if path else unknown.group("key")
        hint = ""
        if _SECRET_KEY.search(key):
            hint = " (secrets never go in the config: use environment variables or the credentials file)"
        return f"{source}: unknown key '{key}'{hint}"
    what = what.replace("`", "")
    return f"{source}: {path or '(top level)'}: {what[0].lower() + what[1:]}"


def parse_config(text: str | bytes, source: str = "<config>") -> Config:
    """Decode TOML text into a Config; raises ConfigError naming ``source`` and the key path."""
    data = text.encode() if isinstance(text, str) else text
    try:
        cfg = msgspec.toml.decode(data, type=Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(_humanise(str(exc), source)) from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except ValueError as exc:  # a section's own cross-field rule (__post_init__)
        raise ConfigError(f"{source}: {exc}") from None
    check_config(cfg, source)
    return with_notify(cfg)


def with_notify(cfg: Config) -> Config:
    """``cfg`` with the notify actor in ``engine.actors`` when alert URLs are configured: setting
    a URL is what turns alerts on."""
    if (cfg.notify.urls or cfg.notify.urls_file) and NOTIFY_ACTOR not in cfg.engine.actors:
        engine = msgspec.structs.replace(cfg.engine, actors=[*cfg.engine.actors, NOTIFY_ACTOR])
        return msgspec.structs.replace(cfg, engine=engine)
    return cfg


def check_config(cfg: Config, source: str = "<config>") -> None:
    """Rules across keys that a schema cannot say."""
    eng = cfg.engine
    if len(set(eng.actors)) != len(eng.actors):
        raise ConfigError(f"{source}: engine.actors: names must be unique, got {eng.actors}")
    if not eng.actors:
        raise ConfigError(f"{source}: engine.actors: at least one actor is needed")
    for name in eng.actors:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
            raise ConfigError(f"{source}: engine.actors: '{name}' is not a valid actor name "
                              "(lower case letters, digits, underscore)")
    if eng.topology == "co-located":
        stray = [n for n in eng.colocated if n not in eng.actors]
        if stray:
            raise ConfigError(f"{source}: engine.colocated: {stray} are not in engine.actors")
    if eng.heartbeat_interval_s <= 0:
        raise ConfigError(f"{source}: engine.heartbeat_interval_s: must be > 0")
    if eng.heartbeat_timeout_s < 2 * eng.heartbeat_interval_s:
        raise ConfigError(f"{source}: engine.heartbeat_timeout_s: must be at least twice "
                          f"engine.heartbeat_interval_s ({eng.heartbeat_interval_s})")
    if eng.warm_interval_ms < 0:
        raise ConfigError(f"{source}: engine.warm_interval_ms: must be >= 0 (0 turns warming off)")
    if eng.restart.max_restarts < 1:
        raise ConfigError(f"{source}: engine.restart.max_restarts: must be >= 1")
    problem = check_control_config(cfg.control)
    if problem:
        raise ConfigError(f"{source}: control: {problem}")
    problem = check_scanner_config(cfg.scanner, cfg.control.history_s)
    if problem:
        raise ConfigError(f"{source}: scanner.{problem}")
    problem = check_feed_config(cfg.feed)
    if problem:
        raise ConfigError(f"{source}: feed.{problem}")
    problem = check_calendar_config(cfg.calendar)
    if problem:
        raise ConfigError(f"{source}: calendar.{problem}")
    problem = check_gateway_config(cfg.gateway)
    if problem:
        raise ConfigError(f"{source}: gateway.{problem}")
    problem = check_notify_config(cfg.notify)
    if problem:
        raise ConfigError(f"{source}: notify.{problem}")
    for i, inst in enumerate(cfg.strategy.instances):
        if inst.name == EXTERNAL_STRATEGY:
            raise ConfigError(f"{source}: strategy.instances[{i}].name: '{EXTERNAL_STRATEGY}' is reserved for "
                              "orders placed outside Shikra (found by reconciliation with the broker)")


BUILT_IN_CONFIG = "built-in defaults"  # the source named for a daemon that read no config file


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Read the config file, or the built-in defaults when ``path`` is None."""
    if path is None:
        return Config()
    p = Path(path).expanduser()
    try:
        text = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except OSError as exc:
        raise ConfigError(f"config file {p} cannot be read: {exc.strerror}") from None
    return parse_config(text, str(p))


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "shikra" / "shikra.toml"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "shikra"


def resolve_paths(cfg: Config, data_dir: str | None = None) -> tuple[Path, Path]:
    """(data_dir, run_dir) after command-line override, config, and defaults."""
    data = Path(data_dir or cfg.engine.data_dir or default_data_dir()).expanduser().resolve()
    run = Path(cfg.engine.run_dir).expanduser().resolve() if cfg.engine.run_dir else data / "run"
    return data, run


def to_json(cfg: Config) -> bytes:
    return msgspec.json.encode(cfg)


def from_json(data: bytes) -> Config:
    return msgspec.json.decode(data, type=Config)


DEFAULT_CONFIG_TOML = """\
# Shikra daemon configuration (written by `shikra init`).
# Every key shown here is at its default; delete what you do not change.
# Secrets (Dhan client id, access token) never go here: set SHIKRA_DHAN_CLIENT_ID and
# SHIKRA_DHAN_ACCESS_TOKEN, or point [credentials] file at a 0600 TOML file.

[engine]
# Where the ledger, instrument cache and run files live. Empty: ~/.local/share/shikra
data_dir = ""
# Unix sockets and the status file. Empty: <data_dir>/run
run_dir = ""
# Actors to run, one process each unless co-located. "control" serves the gRPC API.
actors = ["feed", "book", "strategy", "risk", "execution", "control"]
# "isolated": one process per actor. "co-located": the actors listed in `colocated` share one
# process and talk through an in-process bus (tens of microseconds instead of ~50 per hop).
topology = "isolated"
colocated = ["feed", "book", "strategy", "risk", "execution"]
# "ipc" (unix sockets in run_dir) or "tcp" (tcp_host, ports from tcp_base_port upward).
transport = "ipc"
tcp_host = "127.0.0.1"
tcp_base_port = 47100
heartbeat_interval_s = 0.5
# An actor silent for this long is considered hung: killed and restarted.
heartbeat_timeout_s = 5.0
ready_timeout_s = 60.0
stop_timeout_s = 10.0
# After handling what woke it, each process rehearses its order path (a risk check of the last
# intent, the last order's ledger write rolled back) at most this often, so the next real order
# does not run on caches and branch predictors the idle CPU lost: ~2x lower tick-to-trade
# latency for ~1% CPU. 0 turns it off.
warm_interval_ms = 1

[engine.restart]
backoff_initial_s = 0.5
backoff_max_s = 30.0
# This many restarts of one actor within window_s engage the kill switch.
max_restarts = 5
window_s = 60.0

[log]
level = "info"
# "json" when not on a terminal, text on a terminal ("auto"), or force one.
format = "auto"

[feed]
# "synthetic" (seeded random market, real Dhan packets, no network), "replay" (a capture
# file from `shikra record`), "dhan" (live websocket; needs credentials) or "kite" (the Kite
# ticker; needs a Kite login: the session cache in the data dir, and [instruments] master = "kite").
source = "synthetic"
# Also record every raw frame with its receive time to this capture file (replayable).
record_path = ""

[feed.synthetic]
seed = 7
rate_per_s = 200
underlyings = ["NIFTY"]
option_strikes_each_side = 3
stocks = ["RELIANCE", "HDFCBANK"]
index_vol_annual = 0.15

[feed.replay]
path = ""
# "recorded": at the pace it was recorded; "fast": as fast as possible.
pace = "recorded"
loop = false

[feed.dhan]
url = "wss://api-feed.dhan.co"
mode = "full"
instruments = []
# No frame for this long while the market is open: the feed has stalled; reconnect.
stall_timeout_s = 15.0
# The doc says LTT may be IST wall-clock seconds, not UTC; unverified: check one live tick.
ltt_epoch_is_ist = false
connect_timeout_s = 10.0
close_timeout_s = 2.0
reconnect_initial_s = 0.5
reconnect_max_s = 30.0
# Dhan code 805 (too many connections) and 804: wait this long before trying again.
too_many_connections_backoff_s = 60.0
ping_interval_s = 20.0
ping_timeout_s = 20.0
# Frames waiting for the actor beyond this are dropped (and counted): the reader never blocks.
max_pending_frames = 100000

[feed.kite]
url = "wss://ws.kite.trade"
# "ltp", "quote" or "full" (5-level depth). One connection carries at most 3000 instruments.
mode = "full"
instruments = []
# No frame (heartbeats count) for this long while the market is open: stalled; reconnect.
stall_timeout_s = 15.0
connect_timeout_s = 10.0
close_timeout_s = 2.0
reconnect_initial_s = 0.5
reconnect_max_s = 30.0
ping_interval_s = 20.0
ping_timeout_s = 20.0
max_pending_frames = 100000

[strategy]
# A directory of your own strategy modules (optional).
user_dir = ""
# A capture (shikra record) replayed through bars and indicators at start: warm indicators, no orders.
warmup_capture = ""
# Days (1-5) of Dhan minute candles for bar series of whole minutes at start (needs credentials; 0 = off).
warmup_history_days = 0

# One table per running strategy. kind: a built-in (ema_cross, probe) or one from user_dir.
[[strategy.instances]]
name = "ema_reliance"
kind = "ema_cross"
instrument = "RELIANCE"
params = { fast = 10, slow = 30, timeframe_s = 1, qty_lots = 1 }
# Keep positions in contracts expiring today past [risk.expiry] close_ist; the engine settles them.
hold_to_expiry = false

[execution]
# "paper" (simulated fills against the live book), "dhan" or "kite" (live orders).
venue = "paper"
starting_cash_paise = 1000000000
ack_latency_us = 0

[execution.settlement]
# Positions held past a contract's expiry (15:30 IST on its expiry day) are settled by the engine
# against the underlying's settlement price: the last price the engine saw that day, unless the
# official one is given here (paise; the underlying as the master names it).
# prices_paise = { "NIFTY:2026-11-24" = 2601235 }

[execution.dhan]
# The live venue (venue = "dhan"): orders through the dhanhq SDK in worker threads, fills from
# our own order-update websocket; credentials from the environment or [credentials] file.
rest_url = "https://api.dhan.co/v2"
order_update_url = "wss://api-order-update.dhan.co"
# A place or modify that would wait longer than this for the rate limit is refused.
max_queue_wait_s = 2.0
# Dhan allows 25 modifications per order.
modify_cap = 25
rest_workers = 4
rest_timeout_s = 5.0
max_place_attempts = 2
max_lookup_attempts = 5
max_request_retries = 3
retry_backoff_s = 0.2
# GET /orders this often while the order-update stream is down and orders are open.
order_book_poll_s = 2.0
# The actor polls the venue this often (rate-limited sends, retries) besides being woken by it.
poll_interval_s = 0.05
stream_reconnect_initial_s = 0.5
stream_reconnect_max_s = 30.0
stream_connect_timeout_s = 10.0
close_timeout_s = 2.0
# Reconciliation with Dhan (orders, trades, positions against the ledger): at start, then this often.
# No order is placed until the first one succeeds; a failed one is retried with backoff.
reconcile_interval_s = 30.0
reconcile_retry_initial_s = 1.0
reconcile_retry_max_s = 60.0
# Positions still different after this many reconciliations in a row: trading goes REDUCING.
position_mismatch_confirmations = 2
# An intent waits at most this long for the first reconciliation, then is refused NOT_RECONCILED.
startup_hold_s = 10.0
# The ledger's cash follows Dhan's available balance (fundlimit), read this often.
funds_refresh_s = 60.0
# Ask Dhan's margin calculator before each new order; refuse it when the margin is not there.
margin_check = true
# Above the instrument's freeze quantity: send child orders of whole lots (false: refuse).
slicing = true
# The broker session renews itself: at the schedule's pre-open and whenever less than renew_before_s
# of the token's life remains, by TOTP on the auth host (pin and totp_secret in the credentials
# file) or else by RenewToken; the token is cached 0600 in the data dir (`shikra dhan login` by hand).
auth_url = "https://auth.dhan.co"
auth_timeout_s = 10.0
renew_before_s = 7200.0
# A refused login is retried in a later TOTP window, waiting this long doubled per failure up to the max.
login_retry_initial_s = 30.0
login_retry_max_s = 900.0
session_cache_check_s = 5.0
# The charge schedule is actors/execution/charges.py's default; override in [execution.dhan.charges].

[execution.dhan.rate_limits]
# Dhan's documents say 25/s in one place and 10/s in another: the stricter by default.
per_second = 10
per_minute = 250
per_hour = 1000
per_day = 7000

[execution.paper]
# Paper fills pay a broker's schedule by name: "default" or "zerodha" (actors/execution/charges.py).
charges_profile = "default"

[execution.kite]
# The live venue (venue = "kite"): orders through kiteconnect in worker threads, postbacks on a ticker
# connection of its own; kite_api_key (and kite_api_secret, for `shikra kite login`) in the
# [credentials] file. Every [execution.dhan] setting above that is not Dhan's own applies here too
# (max_queue_wait_s, reconcile_interval_s, startup_hold_s, margin_check, slicing, ...).
rest_url = "https://api.kite.trade"
ticker_url = "wss://ws.kite.trade"
login_url = "https://kite.zerodha.com/connect/login"
# The app's redirect URL on developers.kite.trade; a loopback one (http://127.0.0.1:8765/kite)
# lets `shikra kite login` catch the redirect itself, else the redirect URL is pasted.
redirect_url = ""
login_timeout_s = 300.0
# The ticker sends a heartbeat a second: a connection silent this long is replaced (orders are
# polled meanwhile).
stream_stall_s = 10.0
# A refused token: orders wait this long for `shikra kite login`, then trading stops (kill switch).
token_wait_s = 300.0
# Outside the segment's session an order goes as an after-market order (variety "amo").
amo_outside_session = true
# Fills' charges follow Zerodha's schedule (actors/execution/charges.py ZERODHA_SCHEDULE).

[execution.kite.rate_limits]
# Kite: 10 orders a second, 400 a minute, 5000 a day (docs/KITE_PROTOCOL.md section C).
per_second = 10
per_minute = 400
per_hour = 5000
per_day = 5000

[risk]
# "exchange": sessions, holidays and cut-offs from the NSE/BSE calendar. "always": every day, all
# day (the synthetic market never closes). "auto": "always" for the synthetic feed, else "exchange".
market_hours = "auto"
# Limits: see actors/risk/limits.py for every key; per-strategy and per-instrument overrides go in
# [risk.limits.strategies.NAME] and [risk.limits.instruments."NSE_FNO.55796"].
[risk.limits]
max_orders_per_second = 10

[risk.expiry]
# On a contract's expiry day positions in it are closed at close_ist (IST), unless the strategy has
# hold_to_expiry = true; what is held is settled after the close. Stock derivatives are physically
# settled: "close" closes them even for a holding strategy, "deliver" lets it take delivery (CNC).
enabled = true
close_ist = 15:10:00
stock_derivatives = "close"

[calendar]
# Holidays and special sessions on top of the exchange calendar (exchange_calendars' XBOM), per
# exchange ("NSE", "BSE", "MCX"; omitted: all three). Past the library's data (2026-12-31 for
# exchange_calendars 4.13.2) the engine trades weekdays with the standard hours minus 26 Jan,
# 1 May, 15 Aug, 2 Oct, 25 Dec and these holidays, and warns every day: list the year's holidays
# here (or with `shikra calendar add-holiday`, kept in <data_dir>/calendar.json). A special session
# opens its exchange on that date with its hours (IST), even on a holiday or a Saturday.
# [[calendar.holidays]]
# date = 2027-03-22
# name = "Holi"
# [[calendar.sessions]]
# date = 2027-11-08
# open_ist = 18:00:00
# close_ist = 19:00:00
# name = "Diwali Muhurat trading"

[ledger]
# "sync": fsync every commit. "group": commit at once, fsync every group_fsync_ms (survives a
# process crash at once, a power cut after at most group_fsync_ms). "os": never fsync.
durability = "group"
group_fsync_ms = 50
# The map grows (doubles) before a write would take it past grow_at_percent; never a MapFullError.
initial_map_size_bytes = 67108864
max_map_size_bytes = 1099511627776
grow_at_percent = 50
max_readers = 126
# Empty: chosen by durability (see engine/ledger/config.py). Set true or false to force.
# writemap = true
# Pages and event checksums are checked before every start (~3 s per million events). This also
# re-folds every event and compares the stored tables (~9 s per million), at start and at open.
verify_on_open = false
# The same full check on a snapshot while the daemon runs, this often; damage engages the kill
# switch. 0 = never.
background_verify_interval_s = 86400
# Every this many bytes of events the writer remaps the file, so the pages it wrote leave its
# resident memory (they stay in the OS page cache). 0 = never.
map_release_bytes = 1048576

[control]
# The gRPC API (shikra orders/buy/sell/positions/users ...). Add "control" to engine.actors to run it.
# host:port; port 0 lets the OS pick (the bound address goes to <run_dir>/control.json).
listen = "127.0.0.1:7470"
# PEM server certificate chain and key; empty = plaintext (refused off loopback unless allowed).
tls_cert = ""
tls_key = ""
# A CA bundle: set = mutual TLS (clients must present a certificate it signed).
tls_client_ca = ""
request_timeout_s = 5.0
allow_insecure_remote = false
watch_queue_events = 10000
# Market data kept for `shikra quote` and priced chains: this many instruments, the least recently
# updated dropped past it.
market_instruments = 25000
# A quote whose latest update is older than this is shown as stale.
quote_stale_after_s = 10.0
# Priced option chains published on the bus (chain.<UNDERLYING>.<YYYYMMDD>, public through the
# gateway): these underlyings' nearest chain_expiries expiries, every chain_interval_s (0: never),
# chain_strikes_each_side strikes around the ATM (0: all).
chain_underlyings = ["NIFTY"]
chain_expiries = 1
chain_interval_s = 1.0
chain_strikes_each_side = 10
# Continuously compounded; discounts premiums and carries the spot when there is no future quote.
risk_free_rate_annual = 0.065
# The market kept is sampled every history_sample_s and history_s of samples are kept: the OI
# tracker's windows and the scanner's volume spikes and OI buildup are measured on them (memory:
# 32 bytes per instrument per sample).
history_sample_s = 15.0
history_s = 3600
# OI trackers published on the bus (oitrack.<UNDERLYING>.<YYYYMMDD>, public through the gateway):
# these underlyings' nearest oi_expiries expiries every oi_interval_s (0: never), with OI change
# since the open and over each of oi_windows_s (seconds, at most history_s).
oi_underlyings = ["NIFTY"]
oi_expiries = 1
oi_interval_s = 5.0
oi_windows_s = [300, 900, 3600]

[scanner]
# Screens over the instruments with live market data (`shikra scan`), published on scan.<name>
# every interval_s (0: only when asked). Kinds: gainers, losers, volume_spike, oi_buildup, gap_up,
# gap_down, near_high, near_low; filters: segments, instrument_types, underlyings, min_price_paise,
# min_volume_units (README "OI tracker and scanner").
interval_s = 5.0

[[scanner.screens]]
name = "gainers"
kind = "gainers"

[[scanner.screens]]
name = "losers"
kind = "losers"

[[scanner.screens]]
# The last 15 minutes' volume rate at least twice the day's average rate before them.
name = "volume-spikes"
kind = "volume_spike"
window_s = 900
min_spike_pct = 200

[[scanner.screens]]
name = "oi-buildup"
kind = "oi_buildup"
instrument_types = ["OPTIDX", "OPTSTK", "FUTIDX", "FUTSTK"]

[[scanner.screens]]
name = "gap-up"
kind = "gap_up"
min_gap_bp = 100

[[scanner.screens]]
name = "gap-down"
kind = "gap_down"
min_gap_bp = 100

[[scanner.screens]]
name = "near-high"
kind = "near_high"
within_bp = 25

[[scanner.screens]]
name = "near-low"
kind = "near_low"
within_bp = 25

[instruments]
# "sample": the bundled sample master, regenerated for today. "dhan": Dhan's master, "kite": Kite's
# instrument dump, downloaded by the daemon before each session (and by `shikra instruments refresh`).
# Or a path to a Dhan or Kite CSV.
master = "sample"

[instruments.download]
# With master = "dhan": where the master comes from (Dhan's detailed scrip master).
url = "https://images.dhan.co/api-data/api-scrip-master-detailed.csv"
# With master = "kite": Kite's instrument dump (whether it needs a session is unverified: KITE_PROTOCOL.md D).
kite_url = "https://api.kite.trade/instruments"
timeout_s = 120.0
max_bytes = 1000000000
# A download is refused (and the last good master kept) with fewer rows than min_rows, or rows
# more than row_band_pct apart from the last good master's.
min_rows = 1000
row_band_pct = 20.0

[credentials]
# A 0600 TOML file with client_id = "..." and access_token = "...", or pin = "..." and totp_secret = "..."
# (the base32 secret of Dhan's TOTP QR code) instead of a token to log in unattended (env vars win).
file = ""

[gateway]
# The public feed for dashboards. Add "gateway" to engine.actors to run it. Frames are
# [topic, payload] with the bus's own MessagePack payload (README: "Public feed").
# A zmq endpoint; "tcp://127.0.0.1:*" lets the OS pick (the bound address goes to <run_dir>/gateway.json).
listen = "tcp://127.0.0.1:7480"
# Internal topic prefixes a dashboard may subscribe to.
topics = ["tick.", "quote.", "book.", "bar.", "order.", "fill.", "position.", "risk.", "actor.health.", "chain.",
          "oitrack.", "scan."]
# Messages queued for one subscriber; past it that subscriber loses its own messages, nobody waits.
sndhwm = 10000
# CURVE: a zmq certificate file holding the server's secret key (zmq.auth.create_certificates).
curve_secret_key_file = ""
# With CURVE: Z85 public keys of the clients allowed in; empty lets any CURVE client in.
allowed_client_keys = []
# Prometheus text endpoint (host:port, /metrics); empty disables; port 0 lets the OS pick.
metrics_listen = "127.0.0.1:9470"

[notify]
# Operator alerts (kill switch, REDUCING, daily loss, venue rejects, feed stall, restart storm,
# token and master failures, calendar data ending, end-of-day summary) through apprise: one URL per
# target, e.g. "tgram://BOT_TOKEN/CHAT_ID", "mailtos://user:app_password@gmail.com",
# "slack://...", "discord://...", "ntfys://ntfy.sh/TOPIC", "json://host:port/path" (a webhook).
# Setting a URL runs the notify actor (no need to list it in engine.actors). URLs carry tokens:
# urls_file (a 0600 file, one URL per line) keeps them out of this file.
urls = []
urls_file = ""
# "info", "warning", "error" or "critical": alerts below it are not sent.
min_severity = "info"
# The same alert again within this many seconds is dropped.
dedupe_window_s = 3600.0
# At most rate_limit_count alerts of one kind and subject in any rate_limit_window_s.
rate_limit_count = 5
rate_limit_window_s = 3600.0
# Alerts waiting to be sent; past it the oldest is dropped (and logged).
queue_size = 100
# A failed send is retried with backoff, this many attempts per target in all.
send_attempts = 4
retry_initial_s = 2.0
retry_max_s = 60.0
stop_timeout_s = 5.0
# Alert while the calendar library's data ends within this many days, or has ended.
calendar_warn_days = 30
# Alert while the broker token expires within this many seconds.
token_warn_s = 7200.0
# The end-of-day summary (P&L per strategy, trades, charges), at this IST time.
summary = true
summary_at_ist = 15:45:00

[schedule]
# The daily plan (`shikra schedule`): pre-open (broker token, instrument master, reconciliation,
# strategy warm-up, live feeds connect), the session, post-close (leftover DAY orders cancelled,
# the day's summary, a ledger backup) and the night (live feeds disconnected). Days come from the
# calendar: weekends and holidays idle.
enabled = true
pre_open_ist = 08:30:00
# Post-close begins this many seconds after the session's close; the night this many.
post_close_after_s = 600
night_after_s = 5400
cancel_day_orders = true
# Post-close ledger backups (<data_dir>/backups) kept; 0: none taken.
backup_keep_days = 7
# The segments traded: the session runs from the earliest open to the latest close among them
# (add "MCX_COMM" when trading MCX: post-close and the night then follow its 23:30 close).
segments = ["NSE_EQ"]
"""
