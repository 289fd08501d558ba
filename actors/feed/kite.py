"""The live Kite ticker (``wss://ws.kite.trade``) as a feed-actor source: our own websocket client
inside the shared shell (``actors.websocket_thread``: connect, reconnect with backoff, stall
detection, bounded stop), like the Dhan feed (``actors.feed.dhan``).

Lifecycle. Connect to ``{url}?api_key=..&access_token=..`` (KITE_PROTOCOL.md section A), subscribe
the instrument tokens and set their mode (``{"a": "subscribe", "v": [...]}`` then ``{"a": "mode",
"v": [mode, [...]]}``, ``SUBSCRIBE_BATCH`` tokens a message; one connection carries at most 3000),
read. Binary frames are stamped with ``now_ns()`` and handed to the actor through
``actors.feed.handoff.FrameHandoff`` (the reader never waits for the actor; past
``max_pending_frames`` frames are dropped and counted). A 1-byte heartbeat keeps the connection
alive (stall detection) without reaching the actor. Text frames are JSON: ``error`` messages are
logged, order postbacks counted (the Kite venue reads them from its own connection).

A refused token (HTTP 403 at the handshake) is not retried: the source waits for a new one
(``set_credentials``: the feed actor re-reads the session cache on ``BrokerSessionStatus`` from a
Kite login) and reconnects with it; a source started without a token waits the same way. Trading
is the venue's to stop (it refuses orders without a session), so the feed engages no kill switch.

The URL carries the token and the API key: log lines show the base URL only and the websocket
library's errors are redacted before they are logged.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from actors.feed import kite_wire as kw
from actors.feed.handoff import Emit, FrameHandoff
from actors.websocket_thread import Ended, WebSocketClient, WebSocketThread
from engine.kite_session import KiteCredentials
from engine.logs import redact
from engine.model.instruments import InstrumentTable, kite_tokens
from engine.model.lookup import resolve_instrument
from ipc.segments import InstrumentId

if TYPE_CHECKING:
    from actors.feed.config import KiteFeedConfig
    from engine.config import Config

OnStalled = Callable[[int], None]
MarketOpen = Callable[[], bool]
State = Literal["idle", "connecting", "subscribed", "backoff", "stopped", "waiting_token"]

MAX_INSTRUMENTS_PER_CONNECTION = 3000
SUBSCRIBE_BATCH = 500  # tokens per subscribe/mode message (the docs set no limit; keeps frames small)
AUTH_HTTP_STATUSES: frozenset[int] = frozenset({401, 403})
JOIN_MARGIN_S = 1.0

_WS_LOGGER = logging.getLogger("shikra.feed.kite_websocket")
_WS_LOGGER.setLevel(logging.INFO)  # the library logs the request line (with the token) at DEBUG


class KiteFeedStats(msgspec.Struct, frozen=True, kw_only=True):
    state: State
    frames: int
    heartbeats: int
    text_frames: int
    errors: int
    postbacks: int
    connects: int
    reconnects: int
    stalls: int
    dropped_frames: int
    pending_frames: int
    last_frame_ns: int


def feed_url(base_url: str, creds: KiteCredentials) -> str:
    """The connection URL. It carries the token: never log it."""
    query = urlencode({"api_key": creds.api_key, "access_token": creds.access_token})
    return f"{base_url}{'&' if '?' in base_url else '?'}{query}"


def resolve_tokens(texts: Sequence[str], table: InstrumentTable) -> list[int]:
    """Instrument tokens of ``feed.kite.instruments`` entries (``"NSE_EQ:2885"`` or a trading
    symbol), in config order without duplicates. Raises ValueError (naming the key) for an entry
    the Kite master does not list (Kite needs its token), an empty list or more than 3000."""
    by_id = {ids: tok for tok, ids in kite_tokens(table).items()}
    out: list[int] = []
    for text in texts:
        try:
            inst = resolve_instrument(table, text)
        except ValueError as exc:
            raise ValueError(f"feed.kite.instruments: {exc}") from None
        tok = by_id.get(InstrumentId(inst.segment, inst.security_id))
        if tok is None:
            raise ValueError(f"feed.kite.instruments: {text} has no Kite instrument token (the instrument "
                             'master must be Kite\'s: [instruments] master = "kite")')
        if tok not in out:
            out.append(tok)
    if not out:
        raise ValueError('feed.kite.instruments: empty; list the instruments to subscribe (e.g. ["RELIANCE"])')
    if len(out) > MAX_INSTRUMENTS_PER_CONNECTION:
        raise ValueError(f"feed.kite.instruments: {len(out)} instruments; one Kite connection carries at most "
                         f"{MAX_INSTRUMENTS_PER_CONNECTION}")
    return out


def subscription_messages(mode: kw.Mode, tokens: Sequence[int]) -> list[str]:
    """Subscribe, then set the mode, ``SUBSCRIBE_BATCH`` tokens at a time (tokens as numbers:
    the server ignores them as strings)."""
    out = []
    for i in range(0, len(tokens), SUBSCRIBE_BATCH):
        batch = list(tokens[i:i + SUBSCRIBE_BATCH])
        out.append(json.dumps({"a": "subscribe", "v": batch}, separators=(",", ":")))
        out.append(json.dumps({"a": "mode", "v": [mode, batch]}, separators=(",", ":")))
    return out


def unsubscription_messages(tokens: Sequence[int]) -> list[str]:
    return [json.dumps({"a": "unsubscribe", "v": list(tokens[i:i + SUBSCRIBE_BATCH])}, separators=(",", ":"))
            for i in range(0, len(tokens), SUBSCRIBE_BATCH)]


class KiteSource(WebSocketClient):
    """Live Kite ticker for the feed actor (``feed``, ``start(ctx, emit)``, ``stop()``).

    ``credentials`` None: wait for ``set_credentials``. ``market_open`` (called on the websocket
    thread) gates stall detection; ``on_stalled(idle_ns)`` is called on the actor's thread after a
    stall. Raises ValueError for a configuration it cannot run with."""

    feed: Literal["kite"] = "kite"

    def __init__(self, cfg: Config, table: InstrumentTable, *, credentials: KiteCredentials | None,
                 market_open: MarketOpen | None = None, on_stalled: OnStalled | None = None,
                 rng: random.Random | None = None, now_ns: Callable[[], int] = time.time_ns) -> None:
        k: KiteFeedConfig = cfg.feed.kite
        self.cfg = k
        self.tokens = resolve_tokens(k.instruments, table)
        self._by_id = {ids: tok for tok, ids in kite_tokens(table).items()}
        self.mode: kw.Mode = k.mode
        self.stall_timeout_s = k.stall_timeout_s
        self._creds = credentials
        self._secrets: tuple[str, ...] = (credentials.access_token, credentials.api_key) if credentials else ()
        self._market_open = market_open
        self._on_stalled = on_stalled
        self._rng = rng or random.Random()
        self._now_ns = now_ns
        self._handoff = FrameHandoff(k.max_pending_frames)  # from the websocket thread to the actor's
        self._ctx: Any = None
        self._shell: WebSocketThread | None = None
        self._running = False
        self._ws: ClientConnection | None = None
        self._state: State = "idle"
        self._n = collections.Counter[str]()
        self._session_frames = 0
        self._last_frame_ns = 0

    # Actor side ---------------------------------------------------------------------------
    @property
    def access_token(self) -> str:
        """The token the source connects with (a secret: compare it, never log it)."""
        return self._creds.access_token if self._creds else ""

    def start(self, ctx: Any, emit: Emit) -> None:
        if self._running:
            raise RuntimeError("KiteSource.start called twice")
        self._ctx, self._log = ctx, ctx.log
        self._handoff.open(ctx, emit)
        self._running = True
        if self._creds is None:
            self._state = "waiting_token"
            self._log.info("kite_feed_waiting_for_token", url=self.cfg.url)
            return
        self._start_shell()

    def _start_shell(self) -> None:
        k = self.cfg
        self._shell = WebSocketThread(
            self, name="kite-feed", reconnect_initial_s=k.reconnect_initial_s, reconnect_max_s=k.reconnect_max_s,
            close_timeout_s=k.close_timeout_s, rng=self._rng, stall_timeout_s=self.stall_timeout_s,
            expect_frames=self._expect_frames, uvloop=True)
        self._shell.start()

    def set_credentials(self, creds: KiteCredentials) -> None:
        """Connect with a new token from now on: the live connection is replaced at once; a source
        waiting for a token starts. Call on the actor's thread."""
        if not creds.access_token or (self._creds is not None and creds.access_token == self._creds.access_token):
            return
        self._creds = creds
        self._secrets = (*self._secrets, creds.access_token, creds.api_key)
        if not self._running:
            return  # stopped for the night: the next start() connects with it
        shell = self._shell
        if shell is not None and not shell.join(0):
            self._log.info("kite_feed_new_token", url=self.cfg.url, restarted=False)
            shell.submit(self._close_live)
            return
        self._log.info("kite_feed_new_token", url=self.cfg.url, restarted=True)
        self._state = "idle"
        self._start_shell()

    async def _close_live(self) -> None:
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "new token")

    def add_instruments(self, keys: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """Subscribe more instruments at run time (sent now and on every reconnect). Returns the
        new ones. Raises ValueError for an instrument without a Kite token or past the connection's
        limit (nothing is added then). Call on the actor's thread."""
        missing = [k for k in keys if tuple(k) not in self._by_id]
        if missing:
            raise ValueError(f"no Kite instrument token for {InstrumentId(*missing[0]).label}")
        new_keys = [k for k in dict.fromkeys(map(tuple, keys)) if self._by_id[k] not in self.tokens]
        if not new_keys:
            return []
        if len(self.tokens) + len(new_keys) > MAX_INSTRUMENTS_PER_CONNECTION:
            raise ValueError(f"cannot subscribe {len(new_keys)} more instruments: one Kite connection carries at "
                             f"most {MAX_INSTRUMENTS_PER_CONNECTION} and {len(self.tokens)} are subscribed")
        new_tokens = [self._by_id[k] for k in new_keys]
        self.tokens = [*self.tokens, *new_tokens]  # swapped whole: the websocket thread reads it unlocked
        if self._shell is not None:
            msgs = subscription_messages(self.mode, new_tokens)
            self._shell.submit(lambda: self._send_live(msgs))
        self._log.info("kite_feed_instruments_added", count=len(new_keys), total=len(self.tokens))
        return new_keys  # type: ignore[return-value]

    async def _send_live(self, msgs: list[str]) -> None:
        ws = self._ws
        if ws is None or self._state != "subscribed":
            return  # the next connection subscribes the whole list
        try:
            for msg in msgs:
                await ws.send(msg)
        except ConnectionClosed:
            pass

    def stop(self) -> None:
        """Unsubscribe, close and join the thread (bounded); frames received are emitted first."""
        self._running = False
        shell = self._shell
        stuck = False
        if shell is not None:
            stuck = not shell.stop(self.cfg.close_timeout_s + JOIN_MARGIN_S)
            if stuck:
                self._log.warning("kite_feed_thread_stuck")
            self._shell = None
        self._handoff.close(stuck=stuck)  # a stuck thread may still write to the pipe: it is left open
        s = self.stats()
        self._log.info("kite_feed_stopped", frames=s.frames, connects=s.connects, reconnects=s.reconnects,
                       stalls=s.stalls, dropped_frames=s.dropped_frames)

    def stats(self) -> KiteFeedStats:
        n = self._n
        return KiteFeedStats(state=self._state, frames=n["frames"], heartbeats=n["heartbeats"],
                             text_frames=n["text"], errors=n["errors"], postbacks=n["postbacks"],
                             connects=n["connects"], reconnects=n["reconnects"], stalls=n["stalls"],
                             dropped_frames=self._handoff.dropped_frames, pending_frames=self._handoff.pending_frames,
                             last_frame_ns=self._last_frame_ns)

    # Websocket thread -----------------------------------------------------------------------
    def _expect_frames(self) -> bool:
        if self._market_open is None:
            return True
        try:
            return self._market_open()
        except Exception as exc:
            self._log.warning("market_open_check_failed", error=type(exc).__name__)
            return True

    async def open(self) -> ClientConnection:
        assert self._creds is not None
        self._state = "connecting"
        self._session_frames = 0
        self._log.info("kite_feed_connecting", url=self.cfg.url, mode=self.mode, instruments=len(self.tokens))
        k = self.cfg
        return await connect(feed_url(k.url, self._creds), open_timeout=k.connect_timeout_s,
                             close_timeout=k.close_timeout_s, ping_interval=k.ping_interval_s,
                             ping_timeout=k.ping_timeout_s, compression=None, max_queue=1024, logger=_WS_LOGGER)

    def open_failed(self, exc: Exception) -> Ended:
        if isinstance(exc, InvalidStatus) and exc.response.status_code in AUTH_HTTP_STATUSES:
            self._state = "waiting_token"
            self._log.error("kite_feed_token_refused", url=self.cfg.url, http_status=exc.response.status_code,
                            waiting_for="a new Kite login (shikra kite login)")
            return Ended("token_refused", final=True, code=exc.response.status_code)
        self._log.warning("kite_feed_connect_failed", url=self.cfg.url, error=type(exc).__name__,
                          detail=redact(str(exc), self._secrets)[:300])
        return Ended("connect_failed")

    async def serve(self, ws: ClientConnection) -> Ended:
        self._n["connects"] += 1
        msgs = subscription_messages(self.mode, self.tokens)
        try:
            for msg in msgs:
                await ws.send(msg)
        except ConnectionClosed:
            pass
        else:
            self._state = "subscribed"
            self._ws = ws
            self._log.info("kite_feed_subscribed", url=self.cfg.url, instruments=len(self.tokens), mode=self.mode,
                           messages=len(msgs), connects=self._n["connects"])
        try:
            return await self._read(ws)
        finally:
            self._ws = None

    async def _read(self, ws: ClientConnection) -> Ended:
        push = self._handoff.push
        assert self._shell is not None
        heard = self._shell.heard
        n = self._n
        async for frame in ws:
            # hot path (websocket thread): stamp, queue, wake; nothing here waits on the actor
            recv_ns = self._now_ns()
            if type(frame) is not bytes:
                self._text(frame)
                continue
            heard()
            if len(frame) == kw.HEARTBEAT_SIZE:
                n["heartbeats"] += 1
                continue
            self._last_frame_ns = recv_ns
            n["frames"] += 1
            self._session_frames += 1
            if not push(frame, recv_ns):
                self._backlog_full()
        return self.closed(ws)

    def _text(self, text: str) -> None:
        self._n["text"] += 1
        try:
            msg = json.loads(text)
        except ValueError:
            self._log.warning("kite_feed_bad_text", length=len(text))
            return
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "order":
            self._n["postbacks"] += 1
        elif kind == "error":
            self._n["errors"] += 1
            self._log.warning("kite_feed_error_message", detail=redact(str(msg.get("data")), self._secrets)[:300])
        else:
            self._log.info("kite_feed_message", type=str(kind)[:40])

    def _backlog_full(self) -> None:
        handoff = self._handoff
        if handoff.drop_log_due():
            self._log.warning("kite_feed_backlog_full", pending_frames=handoff.pending_frames,
                              dropped_frames=handoff.dropped_frames)

    def closed(self, ws: ClientConnection, exc: ConnectionClosed | None = None) -> Ended:
        self._log.warning("kite_feed_connection_closed", url=self.cfg.url, code=int(ws.close_code or 1006),
                          reason=redact(ws.close_reason or "", self._secrets)[:200], frames=self._session_frames)
        return Ended("closed", worked=self._session_frames > 0)

    def stalled(self, idle_ns: int) -> Ended:
        self._n["stalls"] += 1
        self._log.warning("kite_feed_stalled", idle_s=round(idle_ns / 1e9, 3), stall_timeout_s=self.stall_timeout_s)
        on_stalled = self._on_stalled
        if on_stalled is not None:
            self._handoff.call_soon(lambda: on_stalled(idle_ns))
        return Ended("stalled", worked=self._session_frames > 0)

    async def goodbye(self, ws: ClientConnection) -> None:
        try:
            async with asyncio.timeout(self.cfg.close_timeout_s):
                for msg in unsubscription_messages(self.tokens):
                    await ws.send(msg)
                await ws.close()
        except (TimeoutError, ConnectionClosed, OSError) as exc:
            self._log.warning("kite_feed_goodbye_incomplete", error=type(exc).__name__)

    def session_failed(self, exc: Exception) -> Ended:
        self._log.error("kite_feed_session_failed", error=type(exc).__name__,
                        detail=redact(str(exc), self._secrets)[:300])
        return Ended("closed")

    def reconnecting(self, end: Ended, delay_s: float, attempt: int) -> None:
        self._n["reconnects"] += 1
        self._state = "backoff"
        self._log.info("kite_feed_reconnect_scheduled", after=end.why, delay_s=round(delay_s, 3), attempt=attempt)

    def thread_failed(self, exc: BaseException) -> None:
        self._log.exception("kite_feed_thread_failed")

    def thread_ended(self) -> None:
        if self._state != "waiting_token":
            self._state = "stopped"
