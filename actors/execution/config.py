"""The execution actor's configuration: the ``[execution]`` section, the live venues'
``[execution.dhan]`` and ``[execution.kite]``, and how the paper venue matches (``PaperVenueConfig``, built by the actor).
Kept apart from the venue modules so that reading the config does not import a broker's SDK."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Final, Literal

import msgspec

from actors.execution.charges import DEFAULT_SCHEDULE, ZERODHA_SCHEDULE, ChargeProfile, ChargeSchedule, SegmentClass
from actors.execution.orders import DHAN_MODIFY_CAP
from engine.model.ist import NS_PER_S
from engine.model.money import Rounding, apply_rate
from engine.files import replace_file
from engine.section import Section

REST_BASE_URL: Final = "https://api.dhan.co/v2"
ORDER_UPDATE_URL: Final = "wss://api-order-update.dhan.co"
AUTH_BASE_URL: Final = "https://auth.dhan.co"  # generateAccessToken (DHAN_PROTOCOL.md section G)
KITE_REST_URL: Final = "https://api.kite.trade"
KITE_TICKER_URL: Final = "wss://ws.kite.trade"
KITE_LOGIN_URL: Final = "https://kite.zerodha.com/connect/login"
_FULL_RATE_E8: Final = 100_000_000  # 100 %

QueueModel = Literal["none", "trade_through", "volume"]  # rules in actors.execution.paper_matching
StopCrossedOnArrival = Literal["trigger", "reject"]


class RateLimits(Section):
    """Order-API requests (place, modify, cancel) allowed per rolling window."""

    per_second: int = 10
    per_minute: int = 250
    per_hour: int = 1000
    per_day: int = 7000

    def __post_init__(self) -> None:
        for name in ("per_second", "per_minute", "per_hour", "per_day"):
            if getattr(self, name) <= 0:
                raise ValueError(f"RateLimits.{name} must be > 0, got {getattr(self, name)}")

    def windows(self) -> tuple[tuple[int, int], ...]:
        """``(span_ns, limit)`` per window."""
        return ((NS_PER_S, self.per_second), (60 * NS_PER_S, self.per_minute),
                (3600 * NS_PER_S, self.per_hour), (86400 * NS_PER_S, self.per_day))


class LiveVenueConfig(Section):
    """What every live broker venue (``dhan_venue.DhanVenue`` and the venues built on it) and the
    execution actor's live side (``live.py``) need; each broker's section adds its own."""

    rest_url: str = REST_BASE_URL
    rate_limits: RateLimits = RateLimits()
    max_queue_wait_s: float = 2.0
    modify_cap: int = DHAN_MODIFY_CAP
    rest_workers: int = 4
    rest_timeout_s: float = 5.0
    max_place_attempts: int = 2      # sends of one order, counting the first (only after "not found")
    max_lookup_attempts: int = 5
    max_request_retries: int = 3     # cancel / modify re-sends after a transport failure
    retry_backoff_s: float = 0.2     # doubled per attempt
    order_book_poll_s: float = 2.0   # GET /orders while the stream is down and orders are open
    # The actor polls the venue this often (rate-limited sends, retries, timeouts) as a backstop
    # to the venue waking it through its fd. A rehearsal on a simulated clock sets it longer: a
    # week of a 50 ms timer is 12 million calls.
    poll_interval_s: float = 0.05
    stream_reconnect_initial_s: float = 0.5
    stream_reconnect_max_s: float = 30.0
    stream_connect_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    charges: ChargeSchedule = DEFAULT_SCHEDULE
    # Reconciliation with the broker (orders, trades, positions vs the ledger): at start, then this often.
    reconcile_interval_s: float = 30.0
    reconcile_retry_initial_s: float = 1.0   # after a failed reconciliation, doubled up to the max
    reconcile_retry_max_s: float = 60.0
    # Positions that still disagree after this many reconciliations in a row put trading in
    # REDUCING (one snapshot can catch a trade between the trade book and positions calls).
    position_mismatch_confirmations: int = 2
    # Before the first reconciliation succeeds no order is placed; an intent waits at most this
    # long for it, then it is recorded REJECTED (NOT_RECONCILED) with the reason.
    startup_hold_s: float = 10.0
    funds_refresh_s: float = 60.0   # the broker's funds this often; the ledger's cash follows them
    margin_check: bool = True       # ask the broker's margin calculator before each new order
    slicing: bool = True            # above the freeze qty: child orders (else refused)
    session_cache_check_s: float = 5.0    # how often the session cache is looked at for a login by hand

    def __post_init__(self) -> None:
        name = type(self).__name__
        if not 0 < self.modify_cap <= DHAN_MODIFY_CAP:
            raise ValueError(f"{name}.modify_cap must be 1..{DHAN_MODIFY_CAP}, got {self.modify_cap}")
        for field in ("rest_workers", "max_place_attempts", "max_lookup_attempts", "position_mismatch_confirmations"):
            if getattr(self, field) < 1:
                raise ValueError(f"{name}.{field} must be >= 1, got {getattr(self, field)}")
        for field in ("max_queue_wait_s", "rest_timeout_s", "retry_backoff_s", "order_book_poll_s", "poll_interval_s",
                      "reconcile_interval_s", "reconcile_retry_initial_s", "reconcile_retry_max_s", "startup_hold_s",
                      "funds_refresh_s", "session_cache_check_s", *self._positive_fields()):
            if getattr(self, field) <= 0:
                raise ValueError(f"{name}.{field} must be > 0, got {getattr(self, field)}")

    def _positive_fields(self) -> tuple[str, ...]:
        return ()


class DhanVenueConfig(LiveVenueConfig):
    """How the live venue talks to Dhan. URLs are overridable for the loopback fake in tests."""

    order_update_url: str = ORDER_UPDATE_URL
    # The broker session (actors.execution.dhan_session): a fresh token at the schedule's pre-open
    # and whenever less than renew_before_s of the token's life remains; by TOTP on the auth host
    # when the credentials hold the PIN and TOTP secret, else by RenewToken.
    auth_url: str = AUTH_BASE_URL
    auth_timeout_s: float = 10.0
    renew_before_s: float = 7200.0
    login_retry_initial_s: float = 30.0   # after a refused login, doubled up to the max (next TOTP window)
    login_retry_max_s: float = 900.0

    def _positive_fields(self) -> tuple[str, ...]:
        return ("auth_timeout_s", "renew_before_s", "login_retry_initial_s", "login_retry_max_s")


class KiteVenueConfig(LiveVenueConfig):
    """How the live venue talks to Kite Connect (``actors.execution.kite_venue``; limits from
    docs/KITE_PROTOCOL.md section C). URLs are overridable for the loopback fake in tests."""

    rest_url: str = KITE_REST_URL
    # The order postbacks come as text frames on a ticker connection of the venue's own.
    ticker_url: str = KITE_TICKER_URL
    stream_stall_s: float = 10.0  # no frame (the ticker sends a heartbeat a second) this long: reconnect
    login_url: str = KITE_LOGIN_URL
    # The app's redirect URL as registered on developers.kite.trade. When it is a loopback HTTP URL
    # (http://127.0.0.1:<port>/<path>), `shikra kite login` catches the redirect itself; otherwise
    # the person pastes the URL the browser was sent to.
    redirect_url: str = ""
    login_timeout_s: float = 300.0  # how long `shikra kite login` waits for the redirect
    charges: ChargeSchedule = ZERODHA_SCHEDULE  # fills' charges as Zerodha's contract note shows them
    rate_limits: RateLimits = RateLimits(per_second=10, per_minute=400, per_hour=5000, per_day=5000)
    # A refused token (TokenException before its expiry: logged out, or a login elsewhere): orders
    # wait this long for `shikra kite login`, then trading stops (kill switch, SESSION_EXPIRED).
    # An order waiting without any token is refused after this long.
    token_wait_s: float = 300.0
    # Outside the segment's session an order goes as an after-market order (variety "amo"),
    # else it is refused by Kite; false: always "regular".
    amo_outside_session: bool = True

    def _positive_fields(self) -> tuple[str, ...]:
        return ("token_wait_s", "stream_stall_s", "login_timeout_s")


class MarginRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Margin per unit for a short position (deliberately simple and conservative).

    - futures: ``futures_rate_e8`` of the price (default 100 %: a short future uses as much cash
      as a long one; real SPAN + exposure is ~10-20 %).
    - options: ``option_premium_multiple`` x the premium (default 20x, about the SPAN margin of an
      at-the-money index option; it under-states far out-of-the-money strikes, whose premium is
      tiny: raise it if you sell those).
    - equity (intraday short sale): ``equity_short_rate_e8`` of the price (default 100 %).
    """

    futures_rate_e8: int = _FULL_RATE_E8
    option_premium_multiple: int = 20
    equity_short_rate_e8: int = _FULL_RATE_E8

    def __post_init__(self) -> None:
        for name in ("futures_rate_e8", "option_premium_multiple", "equity_short_rate_e8"):
            if getattr(self, name) < 0:
                raise ValueError(f"MarginRules.{name} must be >= 0, got {getattr(self, name)}")

    def per_unit_paise(self, segment_class: SegmentClass, price_paise: int) -> int:
        """Margin for one unit short at ``price_paise`` (rounded up to the paisa)."""
        if segment_class in (SegmentClass.INDEX_FUTURES, SegmentClass.STOCK_FUTURES):
            return apply_rate(price_paise, self.futures_rate_e8, Rounding.CEILING)
        if segment_class in (SegmentClass.INDEX_OPTIONS, SegmentClass.STOCK_OPTIONS):
            return price_paise * self.option_premium_multiple
        return apply_rate(price_paise, self.equity_short_rate_e8, Rounding.CEILING)


class PaperVenueConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How the paper venue matches (rules in ``actors.execution.paper_matching``) and prices funds
    (``actors.execution.paper_wallet``)."""

    queue_model: QueueModel = "trade_through"
    ack_latency_us: int = 0
    stop_crossed_on_arrival: StopCrossedOnArrival = "trigger"
    # Prices the part of a BUY that visible depth cannot (MARKET beyond the book, SL_M) for funds.
    market_buffer_rate_e8: int = 1_000_000  # 1 %
    margin: MarginRules = MarginRules()
    charges: ChargeSchedule = DEFAULT_SCHEDULE

    def __post_init__(self) -> None:
        if self.ack_latency_us < 0:
            raise ValueError(f"PaperVenueConfig.ack_latency_us must be >= 0, got {self.ack_latency_us}")
        if self.market_buffer_rate_e8 < 0:
            raise ValueError(
                f"PaperVenueConfig.market_buffer_rate_e8 must be >= 0, got {self.market_buffer_rate_e8}"
            )


SETTLEMENT_PRICES_FILE: Final = "settlement_prices.json"  # in the data dir: `shikra settlement set-price`


def settlement_price_key(underlying: str, expiry: dt.date) -> str:
    """``"NIFTY:2026-11-24"``: how a settlement price is named in the config and the data dir's file."""
    return f"{underlying.strip().upper()}:{expiry.isoformat()}"


class SettlementConfig(Section):
    """Expiry settlement (``actors.execution.settlement``): the underlying's settlement price is
    the last price the engine saw on the expiry day, unless ``prices_paise`` names the official
    one: ``"<UNDERLYING>:<expiry YYYY-MM-DD>" = paise`` (e.g. ``"NIFTY:2026-11-24" = 2601235``).
    A position still held after its expiry day (the engine was down at the close) waits for this.
    The same struct is the data dir's ``SETTLEMENT_PRICES_FILE`` (JSON), which ``shikra settlement
    set-price`` edits while the engine runs and which wins over the config."""

    prices_paise: dict[str, int] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, paise in self.prices_paise.items():
            underlying, sep, day = key.partition(":")
            try:
                dt.date.fromisoformat(day)
            except ValueError:
                sep = ""
            if not sep or not underlying.strip() or underlying != underlying.strip().upper():
                raise ValueError(f"execution.settlement.prices_paise: key {key[:40]!r} is not "
                                 "\"<UNDERLYING>:<YYYY-MM-DD>\" (the underlying in capitals, as the master names it)")
            if type(paise) is not int or paise <= 0:
                raise ValueError(f"execution.settlement.prices_paise[{key[:40]!r}]: {paise!r} is not a positive "
                                 "integer number of paise")

    def price_for(self, underlying: str, expiry: dt.date) -> int | None:
        """The configured settlement price of ``underlying``'s contracts expiring on ``expiry``."""
        return self.prices_paise.get(settlement_price_key(underlying, expiry))


def read_settlement_prices(data_dir: Path) -> SettlementConfig:
    """The data dir's settlement prices (none when the file does not exist). Raises ValueError
    naming the file when it does not parse or a price is invalid."""
    path = data_dir / SETTLEMENT_PRICES_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return SettlementConfig()
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        return msgspec.json.decode(raw, type=SettlementConfig)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def write_settlement_prices(data_dir: Path, prices: SettlementConfig) -> Path:
    """Replace the data dir's settlement prices atomically; returns the file's path."""
    path = data_dir / SETTLEMENT_PRICES_FILE
    replace_file(path, msgspec.json.format(msgspec.json.encode(prices)) + b"\n")
    return path


LIVE_VENUES: Final = ("dhan", "kite")


class PaperExecutionConfig(Section):
    """``[execution.paper]``: what paper trading charges (a broker's schedule by name:
    ``actors.execution.charges.CHARGE_PROFILES``), so paper P&L matches that broker's contract notes."""

    charges_profile: ChargeProfile = "default"


class ExecutionConfig(Section):
    venue: Literal["paper", "dhan", "kite"] = "paper"
    starting_cash_paise: int = 10_000_000_00  # ₹10 lakh (paper only)
    ack_latency_us: int = 0
    dhan: DhanVenueConfig = DhanVenueConfig()
    kite: KiteVenueConfig = KiteVenueConfig()
    paper: PaperExecutionConfig = PaperExecutionConfig()
    settlement: SettlementConfig = SettlementConfig()
