"""The feed actor: one source per run, frames decoded with numpy dtypes, messages published with
topics from ``ipc.topics``, each stamped with exchange time and local receive time."""

from __future__ import annotations

from typing import Any
from pathlib import Path

from actors.base import Actor, ActorConfigError, ActorContext
from actors.daily import MasterReload, held_in_ledger, reopen_instruments, task_finished
from actors.feed.capture import CaptureError, CaptureWriter, FrameBlock
from actors.feed.decoders import make_decoder, retable
from actors.feed.batches import market_batch
from engine.model.calendar import CALENDAR_REFRESH_S, CalendarError, CalendarSource
from engine.model.ist import ist_date
from engine.model.lookup import open_instruments
from ipc import topics
from ipc.messages import (
    BrokerSessionStatus,
    DayPhaseBegan,
    Depth,
    EngageKillSwitch,
    FeedDisconnected,
    FeedStalled,
    MarketStatus,
    Message,
    OpenInterest,
    PrevClose,
    Quote,
    SubscribeInstruments,
    Tick,
)

_PREFIX: dict[type[Message], str] = {
    Tick: topics.TICK,
    Quote: topics.QUOTE,
    Depth: topics.DEPTH,
    OpenInterest: topics.OI,
    PrevClose: topics.PREV_CLOSE,
    MarketStatus: topics.MARKET_STATUS,
}


class FeedActor(MasterReload, Actor):
    # The day's phases (the live feed connects at pre-open, disconnects at night), new masters, and the
    # broker session's statuses (a renewed Dhan token or a new Kite login is re-read from its session cache).
    subscriptions = (topics.SCHEDULE, topics.INSTRUMENTS_STATUS, topics.BROKER_SESSION)
    # A replay at pace "fast" hands over blocks of frames, decoded column-wise and published as
    # one batch (False: frame by frame, the reference the batches must match).
    replay_in_blocks = True

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.source: Any = None
        self.recorder: CaptureWriter | None = None
        self.frames = 0
        self.messages = 0
        self.connected = False

    def on_start(self) -> None:
        cfg = self.ctx.config
        table = self.table = open_instruments(cfg.instruments.master, self.ctx.data_dir, ist_date(self.ctx.now_ns()))
        try:
            self.source = self._make_source(cfg, table)
        except CalendarError as exc:
            raise ActorConfigError(f"the market calendar's overrides do not apply: {exc}") from None
        except (ValueError, CaptureError, OSError) as exc:
            raise ActorConfigError(f"feed.{cfg.feed.source}: {exc}") from None
        if cfg.feed.record_path:
            self.recorder = CaptureWriter(cfg.feed.record_path, self.source.feed)
            self.ctx.every(1.0, self.recorder.flush)
        self.feed_kind = self.source.feed
        self.decoder = make_decoder(self.feed_kind, table, ltt_epoch_is_ist=cfg.feed.dhan.ltt_epoch_is_ist)
        # The live feed under the daily schedule connects when the supervisor says the day has
        # begun (it sends the phase in force to a unit that starts): never at night.
        self.scheduled = cfg.feed.source in ("dhan", "kite") and cfg.schedule.enabled
        if self.scheduled:
            self.log.info("feed_started", source=cfg.feed.source, feed=self.feed_kind, connected=False,
                          note="connects at the day's pre-open")
            return
        self._connect()
        self.log.info("feed_started", source=cfg.feed.source, feed=self.feed_kind)

    def _connect(self) -> None:
        self.connected = True
        # The columnar block path decodes Dhan packets only; a Kite capture replays frame by frame.
        if self.replay_in_blocks and getattr(self.source, "takes_blocks", False) and self.feed_kind != "kite":
            from actors.replay.kernels import warmup

            warmup()
            self.source.start(self.ctx, self.on_frame, emit_block=self.on_frames)
        else:
            self.source.start(self.ctx, self.on_frame)

    # The daily schedule (actors.daily) ---------------------------------------------------------------
    def on_day_phase_began(self, msg: DayPhaseBegan) -> None:
        self._master_on_phase(msg)
        if not self.scheduled:
            return  # a synthetic market or a replay: nothing to connect
        now = self.ctx.now_ns()
        if msg.trading_day and msg.phase != "night":
            if not self.connected:
                self._connect()
                self.log.info("feed_connected", day=msg.day, phase=msg.phase)
                task_finished(self.ctx, msg.day, "feed_connect", True, f"connecting for {msg.phase}", now)
            elif msg.phase == "pre_open":
                task_finished(self.ctx, msg.day, "feed_connect", True, "already connected", now)
        elif self.connected:
            self.source.stop()
            self.connected = False
            self.log.info("feed_disconnected_for_the_night", day=msg.day, phase=msg.phase)
            task_finished(self.ctx, msg.day, "feed_disconnect", True, "disconnected until the next pre-open", now)
        elif msg.phase == "night" and msg.trading_day:
            task_finished(self.ctx, msg.day, "feed_disconnect", True, "already disconnected", now)

    def _take_master(self, why: str) -> int:
        self.table = reopen_instruments(self.ctx, self.table, held_in_ledger(Path(self.ctx.data_dir)))
        retable(self.decoder, self.table)
        return len(self.table)

    def _make_source(self, cfg: Any, table: Any) -> Any:
        if cfg.feed.source == "synthetic":
            from actors.feed.sources import SyntheticSource
            return SyntheticSource(cfg, table, ist_date(self.ctx.now_ns()))
        if cfg.feed.source == "replay":
            from actors.feed.sources import ReplaySource
            return ReplaySource(cfg)
        self.calendar_source = CalendarSource(cfg.calendar, self.ctx.data_dir)
        self.ctx.every(CALENDAR_REFRESH_S, self._refresh_calendar)
        calendar = self.calendar_source.calendar  # pure lookups: safe from the websocket thread
        now_ns = self.ctx.now_ns  # read from the websocket thread too: a live clock's is thread-safe
        if cfg.feed.source == "kite":
            from actors.feed.kite import KiteSource
            from engine.kite_session import feed_credentials

            return KiteSource(cfg, table, credentials=feed_credentials(self.ctx.data_dir, now_ns()),
                              market_open=lambda: calendar.is_market_open(1, now_ns()),
                              on_stalled=self._on_stalled, now_ns=now_ns)
        from actors.feed.dhan import DhanSource
        from engine.credentials import load_credentials, session_credentials

        # The newest token: the session cache's when the broker session renewed it (a restart
        # reuses it); "" when there is none yet (the source waits for the session's first).
        self._credentials = load_credentials(cfg.credentials.file or None)
        creds, _expires_ns = session_credentials(self._credentials, self.ctx.data_dir, self.ctx.now_ns())
        return DhanSource(cfg, table, credentials=creds, market_open=lambda: calendar.is_market_open(1, now_ns()),
                          on_fatal=self._on_fatal, on_stalled=self._on_stalled, now_ns=now_ns)

    def _refresh_calendar(self) -> None:
        """An edited overrides file (``shikra calendar``) without a restart; risk reports a damaged one."""
        try:
            self.calendar_source.refresh()
        except CalendarError as exc:
            self.log.warning("calendar_overrides_refused", error=str(exc))

    def _on_fatal(self, reason_code: int, text: str) -> None:
        """The venue refused us for good (token expired, auth failed): stop trading safely."""
        self.log.error("feed_fatal", code=reason_code, reason=text)
        now = self.ctx.now_ns()
        self.ctx.send("supervisor", EngageKillSwitch(f"feed-fatal-{now}", f"feed: Dhan {reason_code}: {text}",
                                                     "feed", now))

    def _on_stalled(self, idle_ns: int) -> None:
        """The live feed went quiet while the market was open and reconnects: tell the operator
        (``feed.status``; the notify actor alerts)."""
        stats = self.source.stats()
        self.ctx.publish(topics.FEED_STATUS.encode(), FeedStalled(
            source=self.ctx.config.feed.source, idle_ns=idle_ns,
            stall_timeout_ns=int(self.source.stall_timeout_s * 1e9), stalls=stats.stalls, ts_ns=self.ctx.now_ns()))

    def on_frame(self, frame: bytes, recv_ns: int) -> None:
        # hot path: decode one raw frame and publish its messages
        self.frames += 1
        if self.recorder is not None:
            self.recorder.write(recv_ns, frame)
        messages = self.decoder.decode_frame(frame, recv_ns, self.feed_kind)
        self.messages += len(messages)
        self._publish(messages)

    def on_frames(self, block: FrameBlock) -> None:
        """A block of replayed frames: decoded column-wise, handed to the bus as one batch (its
        rows delivered as if each frame went through ``on_frame`` in turn, see
        ``actors.replay.delivery``). Hot path (fast replay)."""
        n = len(block.lengths)
        self.frames += n
        if self.recorder is not None:
            start = 0
            for i in range(n):
                self.recorder.write(int(block.recv_ns[i]), block.frame(i, start))
                start += int(block.lengths[i])
        decoded = self.decoder.decode_buffer_columnar(block.frames, block.lengths, block.recv_ns, self.feed_kind)
        self.messages += decoded.n_messages
        batch = market_batch(decoded, n)
        self.ctx.publish_market_batch(batch, lambda i: self._publish(batch.messages(i)))

    def _publish(self, messages: list[Message]) -> None:
        # hot path
        publish = self.ctx.publish
        for msg in messages:
            prefix = _PREFIX.get(type(msg))
            if prefix is not None:
                publish(topics.instrument_topic(prefix, msg.segment, msg.security_id), msg)  # type: ignore[attr-defined]
            elif isinstance(msg, FeedDisconnected):
                publish(topics.FEED_STATUS.encode(), msg)
                self.log.error("feed_disconnected", code=msg.reason_code, reason=msg.reason)

    def on_broker_session_status(self, msg: BrokerSessionStatus) -> None:
        """The broker session changed: the new token in that broker's session cache reconnects the
        live feed with it (the token itself never travels on the bus)."""
        if not msg.ok or self.source is None:
            return
        if self.ctx.config.feed.source == "kite":
            self._kite_session_renewed(msg)
            return
        set_credentials = getattr(self.source, "set_credentials", None)
        from engine.credentials import BROKER, session_credentials

        if set_credentials is None or msg.broker != BROKER:
            return

        creds, expires_ns = session_credentials(self._credentials, self.ctx.data_dir, self.ctx.now_ns())
        if creds.access_token and creds.access_token != self.source.access_token:
            self.log.info("feed_token_renewed", broker=BROKER, expires_ns=expires_ns)
            set_credentials(creds)

    def _kite_session_renewed(self, msg: BrokerSessionStatus) -> None:
        from engine.kite_session import BROKER, feed_credentials

        if msg.broker != BROKER:
            return
        creds = feed_credentials(self.ctx.data_dir, self.ctx.now_ns())
        if creds is not None and creds.access_token != self.source.access_token:
            self.log.info("feed_token_renewed", broker=BROKER)
            self.source.set_credentials(creds)

    def on_subscribe_instruments(self, msg: SubscribeInstruments) -> None:
        """Instruments picked at run time. The live feed subscribes them; the synthetic market and
        a replay carry what they carry (nothing to subscribe)."""
        if len(msg.segments) != len(msg.security_ids):
            self.log.warning("bad_subscribe_request", by=msg.by, segments=len(msg.segments),
                             security_ids=len(msg.security_ids))
            return
        add = getattr(self.source, "add_instruments", None)
        if add is None:
            return
        try:
            add(list(zip(msg.segments, msg.security_ids)))
        except ValueError as exc:
            self.log.error("subscribe_refused", by=msg.by, error=str(exc))

    def on_stop(self) -> None:
        if self.source is not None and self.connected:
            self.source.stop()
        if self.recorder is not None:
            self.recorder.close()
        self.log.info("feed_stopped", frames=self.frames, messages=self.messages,
                      decode_problems=self.decoder.stats.problem_total if hasattr(self, "decoder") else 0)
