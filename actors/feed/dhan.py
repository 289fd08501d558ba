"""The live Dhan 5-level market feed: our own websocket client (the SDK's has known bugs, see
DHAN_PROTOCOL.md section F) as a feed-actor source.

Threads. The feed actor's loop is synchronous (``zmq.Poller``); the websocket needs asyncio. The
shared websocket shell (``actors.websocket_thread``) runs it in a thread of its own, on an asyncio
loop (uvloop when installed), with connect, reconnect, stall detection and stop; this module is
the Dhan protocol inside it. Each binary frame is stamped with ``now_ns()`` (the actor's clock) the
moment it is received and handed to the actor's loop, which calls ``emit(frame, recv_ns)``, through
``actors.feed.handoff.FrameHandoff``: the websocket reader never waits for the actor, so the library
keeps answering the server's pings however slow the consumer is (#72); when the actor falls
``max_pending_frames`` behind, new frames are dropped and counted (market data drops, it never
blocks).

Lifecycle. Connect to ``{url}?version=2&token=..&clientId=..&authType=2``, subscribe (batches of
at most 100 instruments, at most 5000 per connection), read. On a socket error, a close, a stall
(no frame for ``stall_timeout_s`` while the market is open) or a server disconnect packet:
reconnect with capped exponential backoff and jitter, and subscribe again. Disconnect reasons that
a retry cannot fix (token expired or invalid, client id invalid, Data APIs not subscribed) end the
source: it logs what the operator must do and calls ``on_fatal(reason_code, text)`` on the actor's
thread. Too many connections (805) and too many instruments (804) are retried after a long
backoff. ``stop()`` unsubscribes, sends ``{"RequestCode":12}`` and closes, all within
``close_timeout_s`` (the SDK's close can hang forever: #139).

A new token (``set_credentials``, when the broker session renewed it: the feed actor re-reads the
session cache on ``BrokerSessionStatus``) closes the connection and reconnects with it at once.
When the credentials can log in by themselves (PIN and TOTP secret: ``Credentials.can_generate``),
a refused token (807, 808, 809, HTTP 401) is not fatal: the source waits, without reconnecting,
for the next token (the execution actor's broker session gets it; trading halts there if it cannot).
A source started without a token waits for its first one the same way.

The URL carries the access token, so it is never logged: log lines show the base URL only, and
errors from the websocket library are redacted before they are logged (the log masker is a safety
net, not a licence).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from actors.feed import wire
from actors.feed.handoff import Emit, FrameHandoff
from actors.websocket_thread import Ended, WebSocketClient, WebSocketThread
from engine.credentials import TOKEN_ENV_VAR, CLIENT_ID_ENV_VAR, Credentials, load_credentials
from engine.logs import redact
from engine.model.instruments import InstrumentTable
from engine.model.lookup import resolve_instrument
from ipc.segments import InstrumentId, segment_label

if TYPE_CHECKING:
    from actors.feed.config import DhanFeedConfig
    from engine.config import Config

OnFatal = Callable[[int, str], None]
OnStalled = Callable[[int], None]  # idle_ns
MarketOpen = Callable[[], bool]
Mode = Literal["ticker", "quote", "full"]
State = Literal["idle", "connecting", "subscribed", "backoff", "stopped", "fatal", "waiting_token"]

# -------------------------------------------------------------------------------------------
# Protocol facts (DHAN_PROTOCOL.md section A)
# -------------------------------------------------------------------------------------------

FEED_VERSION = 2
AUTH_TYPE = 2
MAX_INSTRUMENTS_PER_MESSAGE = 100
MAX_INSTRUMENTS_PER_CONNECTION = 5000


class RequestCode(enum.IntEnum):
    """JSON request codes; unsubscribe is the subscribe code + 1."""

    DISCONNECT = 12
    TICKER = 15
    TICKER_UNSUBSCRIBE = 16
    QUOTE = 17
    QUOTE_UNSUBSCRIBE = 18
    FULL = 21
    FULL_UNSUBSCRIBE = 22


MODE_REQUEST_CODE: dict[str, RequestCode] = {
    "ticker": RequestCode.TICKER,
    "quote": RequestCode.QUOTE,
    "full": RequestCode.FULL,
}
DISCONNECT_REQUEST = '{"RequestCode":12}'

_R = wire.DisconnectReason
# A retry cannot fix these: the operator has to act. Text built from the code, for the log and
# for on_fatal.
FATAL_REASONS: dict[int, str] = {
    _R.TOKEN_EXPIRED: (f"Dhan access token expired: generate a new token on web.dhan.co and set "
                       f"{TOKEN_ENV_VAR}, then restart"),
    _R.AUTHENTICATION_FAILED: (f"Dhan authentication failed (808): generate a new token on web.dhan.co, "
                               f"set {TOKEN_ENV_VAR} and check {CLIENT_ID_ENV_VAR}, then restart"),
    _R.TOKEN_INVALID: (f"Dhan access token invalid (809): generate a new token on web.dhan.co and set "
                       f"{TOKEN_ENV_VAR}, then restart"),
    _R.CLIENT_ID_INVALID: (f"Dhan client id invalid (810): set {CLIENT_ID_ENV_VAR} to the client id shown "
                           "on web.dhan.co, then restart"),
    _R.DATA_APIS_NOT_SUBSCRIBED: ("Dhan Data APIs are not subscribed for this account (806): subscribe "
                                  "to Data APIs on web.dhan.co, then restart"),
}
# Retried, but only after the long backoff: reconnecting at once would make things worse.
LONG_BACKOFF_REASONS: frozenset[int] = frozenset({_R.TOO_MANY_INSTRUMENTS, _R.TOO_MANY_CONNECTIONS})
# The token was refused: a new token (a login) fixes it.
TOKEN_REASONS: frozenset[int] = frozenset({_R.TOKEN_EXPIRED, _R.AUTHENTICATION_FAILED, _R.TOKEN_INVALID})
# An HTTP status at the handshake that means the credentials were refused.
AUTH_HTTP_STATUSES: frozenset[int] = frozenset({401, 403})

_DISCONNECT = int(wire.FeedCode.DISCONNECT)
_REASON_AT = wire.HEADER_SIZE  # u16 LE reason code right after the 8-byte header

JOIN_MARGIN_S = 1.0

_WS_LOGGER = logging.getLogger("shikra.feed.websocket")
# websockets logs the HTTP request line, token included, at DEBUG: never let it, whatever the
# daemon's log level.
_WS_LOGGER.setLevel(logging.INFO)


class DhanTiming(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Timeouts and backoff of the client (seconds).

    Requested as ``feed.dhan`` config keys; until they exist there, :meth:`from_config` takes the
    ones the config has and these defaults for the rest.
    """

    connect_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    too_many_connections_backoff_s: float = 60.0
    ping_interval_s: float = 20.0   # our keepalive pings (Dhan also pings us every 10 s)
    ping_timeout_s: float = 20.0
    max_pending_frames: int = 100_000  # frames received but not yet taken by the actor

    @classmethod
    def from_config(cls, dhan: DhanFeedConfig) -> "DhanTiming":
        return cls(**{f: getattr(dhan, f) for f in cls.__struct_fields__ if hasattr(dhan, f)})


class DhanFeedStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of the source's counters. ``last_frame_ns`` is the receive time (UTC epoch ns)
    of the newest frame, 0 before the first."""

    state: State
    frames: int
    bytes_received: int
    connects: int
    reconnects: int
    stalls: int
    dropped_frames: int
    text_frames: int
    pending_frames: int
    last_frame_ns: int
    fatal_reason_code: int


# -------------------------------------------------------------------------------------------
# Functional core
# -------------------------------------------------------------------------------------------


def request_code_for_mode(mode: str) -> RequestCode:
    """Subscribe request code of a feed mode; raises ValueError for an unknown mode."""
    try:
        return MODE_REQUEST_CODE[mode]
    except KeyError:
        raise ValueError(f"feed.dhan.mode: '{mode}' is not one of {sorted(MODE_REQUEST_CODE)}") from None


def feed_url(base_url: str, credentials: Credentials) -> str:
    """The connection URL. It carries the token: never log it."""
    query = urlencode({"version": FEED_VERSION, "token": credentials.access_token,
                       "clientId": credentials.client_id, "authType": AUTH_TYPE})
    return f"{base_url}{'&' if '?' in base_url else '?'}{query}"


def resolve_instruments(texts: Sequence[str], table: InstrumentTable | None
                        ) -> tuple[list[InstrumentId], list[str]]:
    """``(segment, security_id)`` pairs in config order without duplicates, and the
    ``SEGMENT:ID`` entries that the instrument master does not list (they are still subscribed:
    the master may be a day older than a new contract).

    Entries are ``"NSE_FNO:55796"`` or a trading symbol looked up in ``table``. Raises ValueError
    (naming ``feed.dhan.instruments``) for a bad entry, an unknown symbol, an empty list or more
    than 5000 instruments.
    """
    out: list[InstrumentId] = []
    seen: set[InstrumentId] = set()
    not_in_master: list[str] = []
    for text in texts:
        try:
            parsed = InstrumentId.parse(text)
        except ValueError as exc:
            raise ValueError(f"feed.dhan.instruments: {exc}") from None
        if parsed is not None:
            key = parsed
            if table is not None and table.get(*key) is None:
                not_in_master.append(text)
        else:
            if table is None:
                raise ValueError(f"feed.dhan.instruments: '{text}' is a symbol but no instrument master "
                                 "is loaded; use SEGMENT:SECURITY_ID")
            try:
                inst = resolve_instrument(table, text)
            except ValueError as exc:
                raise ValueError(f"feed.dhan.instruments: {exc}") from None
            key = InstrumentId(inst.segment, inst.security_id)
        if key not in seen:
            seen.add(key)
            out.append(key)
    if not out:
        raise ValueError("feed.dhan.instruments: empty; list the instruments to subscribe "
                         '(e.g. ["NSE_FNO:55796", "RELIANCE"])')
    if len(out) > MAX_INSTRUMENTS_PER_CONNECTION:
        raise ValueError(f"feed.dhan.instruments: {len(out)} distinct instruments; one Dhan connection "
                         f"carries at most {MAX_INSTRUMENTS_PER_CONNECTION}")
    return out, not_in_master


def subscription_messages(request_code: int, instruments: Sequence[tuple[int, int]]) -> list[str]:
    """JSON text frames for (un)subscribing: at most 100 instruments each, segment as its NAME,
    security id as a string."""
    out = []
    for i in range(0, len(instruments), MAX_INSTRUMENTS_PER_MESSAGE):
        batch = instruments[i:i + MAX_INSTRUMENTS_PER_MESSAGE]
        out.append(msgspec.json.encode({
            "RequestCode": int(request_code),
            "InstrumentCount": len(batch),
            "InstrumentList": [{"ExchangeSegment": segment_label(seg), "SecurityId": str(sid)}
                               for seg, sid in batch],
        }).decode())
    return out


def disconnect_reason(frame: bytes) -> int | None:
    """Reason code when the frame starts with a disconnect packet (byte 0 == 50), else None;
    0 when the packet is too short to carry one. Cheap: two byte reads."""
    if not frame or frame[0] != _DISCONNECT:
        return None
    if len(frame) < _REASON_AT + 2:
        return 0
    return frame[_REASON_AT] | frame[_REASON_AT + 1] << 8


def long_backoff_delay_s(wait_s: float, rng: random.Random) -> float:
    """At least ``wait_s``, up to 25 % more."""
    return wait_s * rng.uniform(1.0, 1.25)


# -------------------------------------------------------------------------------------------
# The source
# -------------------------------------------------------------------------------------------


class DhanSource(WebSocketClient):
    """Live Dhan market feed for the feed actor (``feed``, ``start(ctx, emit)``, ``stop()``); the
    Dhan protocol inside the shared websocket shell (``actors.websocket_thread``).

    ``market_open`` is called on the websocket thread (it must be thread-safe, e.g. a pure
    calendar check); stall detection only runs while it returns True. ``now_ns`` stamps each
    frame's receive time (the actor's clock; called on the websocket thread). ``on_fatal(reason_code,
    text)`` is called on the actor's thread when the server refuses the credentials or the
    account; ``on_stalled(idle_ns)`` on the actor's thread after a stall (the source reconnects). ``credentials`` default to :func:`engine.credentials.load_credentials` with the
    configured file; ``timing`` to :meth:`DhanTiming.from_config`.

    Raises ValueError (CredentialsError is one) for a configuration it cannot run with.
    """

    feed: Literal["market"] = "market"

    def __init__(self, cfg: Config, table: InstrumentTable | None, *,
                 credentials: Credentials | None = None, market_open: MarketOpen | None = None,
                 on_fatal: OnFatal | None = None, on_stalled: OnStalled | None = None,
                 timing: DhanTiming | None = None,
                 rng: random.Random | None = None, now_ns: Callable[[], int] = time.time_ns) -> None:
        d = cfg.feed.dhan
        self.instruments, self.not_in_master = resolve_instruments(d.instruments, table)
        self.mode = d.mode
        self.request_code = request_code_for_mode(d.mode)
        if d.stall_timeout_s <= 0:
            raise ValueError(f"feed.dhan.stall_timeout_s: must be > 0, got {d.stall_timeout_s}")
        self.stall_timeout_s = d.stall_timeout_s
        self.timing = timing or DhanTiming.from_config(d)
        creds = credentials or load_credentials(cfg.credentials.file or None)
        self._base_url = d.url
        self._creds = creds
        self._url = feed_url(d.url, creds)
        self._secrets: tuple[str, ...] = (creds.access_token, creds.client_id)
        self._subscribe_msgs = subscription_messages(self.request_code, self.instruments)
        self._unsubscribe_msgs = subscription_messages(self.request_code + 1, self.instruments)
        self._market_open = market_open
        self._on_fatal = on_fatal
        self._on_stalled = on_stalled
        self._rng = rng or random.Random()
        self._now_ns = now_ns  # receive stamps (the stall watch and the log throttle keep real time: I/O)

        # Frames and calls from the websocket thread to the actor's thread.
        self._handoff = FrameHandoff(self.timing.max_pending_frames)

        self._ctx: Any = None
        self._running = False  # between start() and stop(): a new token may (re)connect
        self._shell: WebSocketThread | None = None

        self._state: State = "idle"
        self._n_frames = 0
        self._n_bytes = 0
        self._connects = 0
        self._reconnects = 0
        self._stalls = 0
        self._text_frames = 0
        self._last_frame_ns = 0
        self._session_frames = 0
        self._fatal_reason = 0
        self._ws: ClientConnection | None = None  # the live connection (websocket thread only)

    # Actor side ---------------------------------------------------------------------------
    def start(self, ctx: Any, emit: Emit) -> None:
        """Start the websocket thread; frames reach ``emit`` on the actor's loop."""
        if self._shell is not None:
            raise RuntimeError("DhanSource.start called twice")
        self._ctx = ctx
        self._log = ctx.log
        if self.not_in_master:
            self._log.warning("instruments_not_in_master", count=len(self.not_in_master),
                              first=",".join(self.not_in_master[:5]))
        self._handoff.open(ctx, emit)
        self._running = True
        if not self._creds.access_token:
            self._state = "waiting_token"
            self._log.info("feed_waiting_for_token", url=self._base_url)
            return
        self._start_shell()

    def _start_shell(self) -> None:
        t = self.timing
        self._shell = WebSocketThread(
            self, name="dhan-feed", reconnect_initial_s=t.reconnect_initial_s, reconnect_max_s=t.reconnect_max_s,
            close_timeout_s=t.close_timeout_s, rng=self._rng, stall_timeout_s=self.stall_timeout_s,
            expect_frames=self._expect_frames, uvloop=True)
        self._shell.start()

    @property
    def access_token(self) -> str:
        """The token the source connects with (a secret: compare it, never log it)."""
        return self._creds.access_token

    def set_credentials(self, credentials: Credentials) -> None:
        """Connect with a new token from now on: the live connection is closed and replaced at
        once (a source waiting for a token, or stopped by a refused one, starts again). Call on
        the actor's thread."""
        if credentials.access_token == self._creds.access_token or not credentials.access_token:
            return
        self._creds = credentials
        self._url = feed_url(self._base_url, credentials)  # read by the websocket thread on its next connect
        self._secrets = (*self._secrets, credentials.access_token)
        self._fatal_reason = 0
        if not self._running:
            return  # not started, or stopped (the night): the next start() connects with it
        shell = self._shell
        if shell is not None and not shell.join(0):  # running: replace the live connection
            self._log.info("feed_new_token", url=self._base_url, restarted=False)
            shell.submit(self._close_live)
            return
        # Waiting for a first token, or the thread ended on a refused one.
        self._log.info("feed_new_token", url=self._base_url, restarted=True)
        self._state = "idle"
        self._start_shell()

    async def _close_live(self) -> None:
        # websocket thread: end the live connection; the shell reconnects (with the new URL)
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "new token")

    def add_instruments(self, keys: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """Subscribe more instruments at run time (e.g. an option a strategy picked at entry): sent
        on the live connection at once and part of every later (re)subscription. Returns the ones
        that were new. Raises ValueError past the connection's limit (nothing is added then).
        Call on the actor's thread."""
        known = set(self.instruments)
        new = [k for k in dict.fromkeys(keys) if k not in known]
        if not new:
            return []
        if len(self.instruments) + len(new) > MAX_INSTRUMENTS_PER_CONNECTION:
            raise ValueError(f"cannot subscribe {len(new)} more instruments: one Dhan connection carries at most "
                             f"{MAX_INSTRUMENTS_PER_CONNECTION} and {len(self.instruments)} are subscribed")
        # New lists, swapped whole: the websocket thread reads them without a lock.
        self.instruments = [*self.instruments, *new]
        self._subscribe_msgs = subscription_messages(self.request_code, self.instruments)
        self._unsubscribe_msgs = subscription_messages(self.request_code + 1, self.instruments)
        if self._shell is not None:
            msgs = subscription_messages(self.request_code, new)
            # Not running (stopping): a next connection would subscribe everything anyway.
            self._shell.submit(lambda: self._send_live(msgs))
            self._log.info("feed_instruments_added", count=len(new), total=len(self.instruments))
        # Not started (disconnected until the schedule's pre-open): the connection subscribes them
        # all, and its feed_connecting line counts them.
        return new

    def stop(self) -> None:
        """Unsubscribe, disconnect and join the thread (bounded by ``close_timeout_s``); frames
        already received are handed to ``emit`` before this returns."""
        shell = self._shell
        self._running = False
        if shell is None:
            self._handoff.close()  # started, still waiting for a first token (or not started: nothing)
            return
        join_timeout_s = self.timing.close_timeout_s + JOIN_MARGIN_S
        stuck = not shell.stop(join_timeout_s)
        if stuck:
            self._log.warning("dhan_feed_thread_stuck", join_timeout_s=join_timeout_s)
        self._handoff.close(stuck=stuck)  # a stuck thread may still write to the pipe: it is left open
        self._shell = None
        s = self.stats()
        self._log.info("dhan_feed_stopped", frames=s.frames, bytes=s.bytes_received, connects=s.connects,
                       reconnects=s.reconnects, stalls=s.stalls, dropped_frames=s.dropped_frames)

    def stats(self) -> DhanFeedStats:
        return DhanFeedStats(
            state=self._state, frames=self._n_frames, bytes_received=self._n_bytes,
            connects=self._connects, reconnects=self._reconnects, stalls=self._stalls,
            dropped_frames=self._handoff.dropped_frames, text_frames=self._text_frames,
            pending_frames=self._handoff.pending_frames, last_frame_ns=self._last_frame_ns,
            fatal_reason_code=self._fatal_reason)

    def join(self, timeout_s: float) -> bool:
        """Wait for the websocket thread to end by itself (after a fatal disconnect); True if it did."""
        return self._shell is None or self._shell.join(timeout_s)

    # Websocket thread -----------------------------------------------------------------------
    def _expect_frames(self) -> bool:
        """Stall detection runs while the market is open (a failing check counts as open)."""
        if self._market_open is None:
            return True
        try:
            return self._market_open()
        except Exception as exc:
            self._log.warning("market_open_check_failed", error=type(exc).__name__)
            return True

    def _end(self, why: str, code: int = 0) -> Ended:
        """How a connection that ran ended: a reconnect, the backoff from the bottom if it carried
        frames, the long backoff for a reason that asks for it."""
        long = code in LONG_BACKOFF_REASONS
        return Ended(why, worked=self._session_frames > 0, code=code,
                     retry_after_s=long_backoff_delay_s(self.timing.too_many_connections_backoff_s, self._rng)
                     if long else None)

    # The websocket shell's hooks (websocket thread) -----------------------------------------------
    async def open(self) -> ClientConnection:
        self._state = "connecting"
        self._session_frames = 0
        self._log.info("feed_connecting", url=self._base_url, mode=self.mode, instruments=len(self.instruments))
        t = self.timing
        return await connect(self._url, open_timeout=t.connect_timeout_s, close_timeout=t.close_timeout_s,
                             ping_interval=t.ping_interval_s, ping_timeout=t.ping_timeout_s,
                             compression=None, max_queue=1024, logger=_WS_LOGGER)

    def open_failed(self, exc: Exception) -> Ended:
        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            if status in AUTH_HTTP_STATUSES:
                return self._fatal(int(_R.AUTHENTICATION_FAILED), f"handshake refused with HTTP {status}")
            self._log.warning("feed_connect_failed", url=self._base_url, error="InvalidStatus", http_status=status)
        else:
            self._log.warning("feed_connect_failed", url=self._base_url, error=type(exc).__name__,
                              detail=redact(str(exc), self._secrets)[:300])
        return Ended("connect_failed")

    async def serve(self, ws: ClientConnection) -> Ended:
        self._connects += 1
        try:
            sent = len(self.instruments)  # the list only grows (add_instruments appends)
            for msg in self._subscribe_msgs:
                await ws.send(msg)
            while len(self.instruments) > sent:  # added while we were sending: they go out too
                tail, sent = self.instruments[sent:], len(self.instruments)
                for msg in subscription_messages(self.request_code, tail):
                    await ws.send(msg)
        except ConnectionClosed:
            pass  # still read what arrived first: it may say why (a disconnect packet right after connect)
        else:
            self._state = "subscribed"
            self._ws = ws
            self._log.info("feed_subscribed", url=self._base_url, instruments=len(self.instruments),
                           messages=len(self._subscribe_msgs), request_code=int(self.request_code),
                           connects=self._connects)
        try:
            return await self._read(ws)
        finally:
            self._ws = None

    def closed(self, ws: ClientConnection, exc: ConnectionClosed | None = None) -> Ended:
        self._log.warning("feed_connection_closed", url=self._base_url, code=int(ws.close_code or 1006),
                          reason=redact(ws.close_reason or "", self._secrets)[:200], frames=self._session_frames)
        return self._end("closed")

    def stalled(self, idle_ns: int) -> Ended:
        self._stalls += 1
        self._log.warning("feed_stalled", idle_s=round(idle_ns / 1e9, 3), stall_timeout_s=self.stall_timeout_s,
                          url=self._base_url)
        on_stalled = self._on_stalled
        if on_stalled is not None:
            self._handoff.call_soon(lambda: on_stalled(idle_ns))
        return self._end("stalled")

    async def goodbye(self, ws: ClientConnection) -> None:
        """Unsubscribe, ask the server to disconnect, close; never longer than close_timeout_s."""
        try:
            async with asyncio.timeout(self.timing.close_timeout_s):
                for msg in self._unsubscribe_msgs:
                    await ws.send(msg)
                await ws.send(DISCONNECT_REQUEST)
                await ws.close()
            self._log.info("feed_unsubscribed", instruments=len(self.instruments),
                           messages=len(self._unsubscribe_msgs))
        except (TimeoutError, ConnectionClosed, OSError) as exc:
            self._log.warning("feed_goodbye_incomplete", error=type(exc).__name__)

    def session_failed(self, exc: Exception) -> Ended:
        # A bug in one connection must not end the feed: reconnect.
        self._log.error("dhan_feed_session_failed", error=type(exc).__name__,
                        detail=redact(str(exc), self._secrets)[:300])
        return self._end("closed")

    def reconnecting(self, end: Ended, delay_s: float, attempt: int) -> None:
        self._reconnects += 1
        self._state = "backoff"
        self._log.info("feed_reconnect_scheduled", after=end.why, reason_code=end.code, delay_s=round(delay_s, 3),
                       attempt=attempt)

    def thread_failed(self, exc: BaseException) -> None:
        self._log.exception("dhan_feed_thread_failed")

    def thread_ended(self) -> None:
        if self._state not in ("fatal", "waiting_token"):
            self._state = "stopped"

    async def _send_live(self, msgs: list[str]) -> None:
        ws = self._ws
        if ws is None or self._state != "subscribed":
            return  # not connected: the next connection subscribes the whole list
        try:
            for msg in msgs:
                await ws.send(msg)
        except ConnectionClosed:
            pass  # the reconnect subscribes the whole list, new ones included

    async def _read(self, ws: ClientConnection) -> Ended:
        push = self._handoff.push
        assert self._shell is not None
        heard = self._shell.heard
        async for frame in ws:
            # hot path (websocket thread): stamp, queue, wake; nothing here may wait on the actor
            recv_ns = self._now_ns()
            if type(frame) is not bytes:
                self._text_frames += 1
                continue
            heard()
            self._last_frame_ns = recv_ns
            self._n_frames += 1
            self._session_frames += 1
            self._n_bytes += len(frame)
            if not push(frame, recv_ns):
                self._backlog_full()
            if frame and frame[0] == _DISCONNECT:
                return self._server_disconnect(frame)
        return self.closed(ws)

    def _backlog_full(self) -> None:
        handoff = self._handoff
        if handoff.drop_log_due():
            self._log.warning("feed_backlog_full", pending_frames=handoff.pending_frames,
                              dropped_frames=handoff.dropped_frames)

    def _server_disconnect(self, frame: bytes) -> Ended:
        reason = disconnect_reason(frame) or 0
        if reason in FATAL_REASONS:
            return self._fatal(reason, "")
        self._log.warning("feed_server_disconnect", reason_code=reason,
                          reason=wire.disconnect_reason_name(reason),
                          long_backoff=reason in LONG_BACKOFF_REASONS)
        return self._end("server_disconnect", reason)

    def _fatal(self, reason: int, detail: str) -> Ended:
        if reason in TOKEN_REASONS and self._creds.can_generate:
            # The broker session logs in again by itself; its new token restarts this source.
            self._fatal_reason = reason
            self._state = "waiting_token"
            self._log.warning("feed_token_refused", reason_code=reason, reason=wire.disconnect_reason_name(reason),
                              detail=detail, waiting_for="a new token from the broker session")
            return Ended("token_refused", final=True, code=reason)
        text = FATAL_REASONS[reason]
        self._fatal_reason = reason
        self._state = "fatal"
        self._log.error("dhan_feed_fatal", reason_code=reason, reason=wire.disconnect_reason_name(reason),
                        message=text, detail=detail, reconnecting=False)
        on_fatal = self._on_fatal
        if on_fatal is not None:  # a wake even if one is pending: the call must be seen
            self._handoff.call_soon(lambda: on_fatal(reason, text), force_wake=True)
        return Ended("fatal", final=True, code=reason)
