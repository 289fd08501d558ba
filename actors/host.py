"""The process that runs one or more actors: one loop of receive, handle, send.

The loop blocks in ``zmq.Poller.poll`` until a socket or watched fd is readable or the next timer
is due: no busy polling (on 2 cores it ruins the tail). Messages between actors of the same host
travel on an in-process bus: no encoding, no socket, a FIFO drained after every handler so that
handlers never nest. Messages to other hosts go over ZeroMQ (see ``ipc.transport``).
"""

from __future__ import annotations

import collections
import gc
import os
import signal
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import zmq

from actors.base import EXIT_CONFIG, EXIT_LEDGER_DAMAGED, Actor, ActorConfigError
from actors.registry import STOP_ORDER
from actors.replay.batch import MarketBatch
from actors.replay.delivery import BatchDelivery, subscribes_to_market_data
from engine.ledger import LedgerError
from engine.logs import Log, get_logger
from engine.model.clock import Clock, LiveClock, SimClock, Timer
from engine.model.lookup import MasterUnavailable
from ipc import codec, topics
from ipc.messages import (
    Depth,
    EngageKillSwitch,
    Heartbeat,
    Message,
    Ping,
    Quote,
    ReleaseKillSwitch,
    Reply,
    StopActor,
    Tick,
)
from ipc.transport import Endpoints, Inbox, Outbox, PeerUnavailable, StreamPublisher, StreamSubscriber

if TYPE_CHECKING:
    from engine.config import Config

SUPERVISOR = "supervisor"
BAD_FRAME_LOG_INTERVAL_S = 1.0
_TIMER_PRUNE_MIN = 256  # an actor's timer list is pruned of fired one-shots when it reaches this


def poll_timeout_ms(deadline_ns: int, now_ns: int) -> int:
    """How long the loop may block for a timer due at ``deadline_ns`` (monotonic): whole
    milliseconds, zmq_poll's unit, rounded UP. Rounded down, every wait under 1 ms became a
    poll(0) and a 1 ms timer (the synthetic feed) spun a core; rounded up, a timer fires up to
    1 ms late and its sources catch up on the time that passed."""
    return max(0, -((now_ns - deadline_ns) // 1_000_000))


class _Context:
    """An actor's view of its host (implements actors.base.ActorContext)."""

    def __init__(self, host: "ActorHost", name: str) -> None:
        self._host = host
        self.name = name
        self.config = host.config
        self.data_dir = host.data_dir
        self.run_dir = host.run_dir
        self.log = get_logger(name)
        self.kill_switch_engaged = False
        self.sender = ""  # the sender of the message being handled, for replies
        # The host's clock, read directly (a live clock's are the time module's own functions).
        self.now_ns: Callable[[], int] = host.clock.now_ns
        self.monotonic_ns: Callable[[], int] = host.clock.monotonic_ns
        # What this actor asked the host for, so that ``ActorHost.abandon`` can take it all back.
        self.timers: list[Timer] = []
        self.fds: set[int] = set()
        self.sockets: set[zmq.Socket] = set()
        self._prune_at = _TIMER_PRUNE_MIN

    def publish(self, topic: bytes, msg: Message) -> None:
        self._host.publish(self.name, topic, msg)

    def send(self, target: str, msg: Message, topic: bytes = b"") -> None:
        self._host.send(self.name, target, msg, topic)

    def reply(self, sender: str, msg: Message) -> None:
        self._host.reply(self.name, sender, msg)

    def publish_market_batch(self, batch: MarketBatch, publish_row: Callable[[int], None]) -> None:
        self._host.publish_market_batch(self.name, batch, publish_row)

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        return self._own(self._host.add_timer(delay_s, 0.0, fn))

    def every(self, interval_s: float, fn: Callable[[], None]) -> Timer:
        return self._own(self._host.add_timer(interval_s, interval_s, fn))

    def _own(self, timer: Timer) -> Timer:
        timers = self.timers
        timers.append(timer)
        if len(timers) >= self._prune_at:
            # Keep what can still fire: periodic timers and one-shots not yet due.
            now = self._host.clock.monotonic_ns()
            timers[:] = [t for t in timers if not t.cancelled and (t.interval_ns or t.deadline_ns >= now)]
            self._prune_at = max(_TIMER_PRUNE_MIN, 2 * len(timers))
        return timer

    def watch_fd(self, fd: int, fn: Callable[[], None]) -> None:
        self._host.watch_fd(fd, fn)
        self.fds.add(fd)

    def unwatch_fd(self, fd: int) -> None:
        self._host.unwatch_fd(fd)
        self.fds.discard(fd)

    def watch_socket(self, sock: zmq.Socket, fn: Callable[[], None]) -> None:
        self._host.watch_socket(sock, fn)
        self.sockets.add(sock)

    def unwatch_socket(self, sock: zmq.Socket) -> None:
        self._host.unwatch_socket(sock)
        self.sockets.discard(sock)

    def request_stop(self, reason: str) -> None:
        self._host.request_stop(reason)


class ActorHost:
    """Runs the given actors in this process until stopped.

    ``peers`` are all actor names in the engine (to connect to their publishers); ``local`` are the
    ones hosted here, in the order they start.

    ``clock``: what the actors read time from and their timers run on; the machine's by default.
    On a :class:`SimClock` nothing waits: the loop moves the clock from one timer to the next
    (``advance_clock`` moves it from outside, firing what comes due on the way). With
    ``market_time=True`` as well, market data moves it: the clock is advanced to a Tick's, Quote's
    or Depth's exchange time (``ts_event_ns``) before the message is delivered (a backtest).

    ``freeze_gc``: once the actors have started, collect and move every surviving object out of
    the garbage collector's reach (``gc.freeze``), for a process that does nothing but host (the
    daemon's units, see ``_freeze_startup_objects``); never in a process that runs hosts one after
    another (tests), where frozen cycles would never be freed.
    """

    def __init__(self, unit: str, local: list[tuple[str, type[Actor]]], peers: Iterable[str],
                 config: Config, data_dir: Path, run_dir: Path, lifeline_fd: int = -1,
                 clock: Clock | None = None, market_time: bool = False, freeze_gc: bool = False) -> None:
        self._freeze_gc = freeze_gc
        self.clock: Clock = clock if clock is not None else LiveClock()
        self._sim: SimClock | None = self.clock if isinstance(self.clock, SimClock) else None
        if market_time and self._sim is None:
            raise ValueError("ActorHost: market_time needs a SimClock (exchange times cannot move the live clock)")
        self._market_time = market_time
        if market_time:
            self.publish = self._publish_at_market_time  # type: ignore[method-assign]
        self.unit = unit
        self.lifeline_fd = lifeline_fd
        self.config = config
        self.data_dir = data_dir
        self.run_dir = run_dir
        self.log: Log = get_logger(f"host.{unit}")
        eng = config.engine
        names = tuple(eng.actors) + (SUPERVISOR,)
        self.endpoints = Endpoints(run_dir, eng.transport, eng.tcp_host, eng.tcp_base_port, names)
        self.zctx = zmq.Context.instance()
        self.local_names = [name for name, _ in local]
        self.remote_names = [p for p in peers if p not in self.local_names]
        self._classes = local
        self.actors: dict[str, Actor] = {}
        self.contexts: dict[str, _Context] = {}

        self.publishers: dict[str, StreamPublisher] = {}
        self.inboxes: dict[str, Inbox] = {}
        self.outboxes: dict[str, Outbox] = {}
        self.subscriber = StreamSubscriber(self.zctx)
        self.poller = zmq.Poller()
        self._socket_handlers: dict[object, Callable[[], None]] = {}
        self._fd_handlers: dict[int, Callable[[], None]] = {}

        # (topic, message, target actors, sender for reliable sends / "" for stream messages).
        # Two lanes: orders and commands (send/reply) always drain before market data (publish),
        # so an order never waits behind the depth packets that arrived with the tick it reacts to.
        self._urgent: collections.deque[tuple[bytes, Message, list[str], str]] = collections.deque()
        self._queue: collections.deque[tuple[bytes, Message, list[str], str]] = collections.deque()
        # Local subscribers by topic: of what each local actor publishes (itself left out), and of
        # what arrives from other processes (everyone). One table per origin: a route drawn for
        # one publisher (leaving it out) must not be reused for another.
        self._routes: dict[str, dict[bytes, list[str]]] = {}
        self._stream_routes: dict[bytes, list[str]] = {}
        self._deliveries: dict[str, BatchDelivery] = {}  # by origin (the actor publishing batches)
        self._running = False
        self._stop_reason = ""
        self._state = "starting"
        self._hb_seq = 0
        self._started_ns = self.clock.now_ns()
        self.msgs_in = 0
        self.msgs_out = 0
        self.rows_in_bulk = 0  # market batch rows taken without a message each
        self.bad_frames = 0
        self.bad_by_kind: collections.Counter[str] = collections.Counter()
        self._last_bad_log_ns = 0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    # Setup ----------------------------------------------------------------------------------
    def _open_sockets(self) -> None:
        for name in self.local_names:
            pub = StreamPublisher(self.zctx, self.endpoints.pub(name))
            self.publishers[name] = pub
            self._register(pub.sock, pub.on_subscription_frames)
            inbox = Inbox(self.zctx, self.endpoints.inbox(name))
            self.inboxes[name] = inbox
            self._register(inbox.sock, lambda n=name, s=inbox.sock: self._on_inbox(n, s))
        for peer in self.remote_names:
            self.subscriber.connect(self.endpoints.pub(peer))
        self.subscriber.connect(self.endpoints.pub(SUPERVISOR))
        prefixes = {p for name, cls in self._classes for p in cls.subscriptions}
        for prefix in sorted(prefixes):
            self.subscriber.subscribe(prefix)
        self._register(self.subscriber.sock, self._on_stream)
        self.poller.register(self._wake_r.fileno(), zmq.POLLIN)
        self._fd_handlers[self._wake_r.fileno()] = self._drain_wakeup
        if self.lifeline_fd >= 0:
            # The supervisor holds the write end; EOF here means it died (even by kill -9).
            self.watch_fd(self.lifeline_fd, self._on_lifeline)

    def _on_lifeline(self) -> None:
        if not os.read(self.lifeline_fd, 64):
            self.unwatch_fd(self.lifeline_fd)
            self.log.error("supervisor_gone", unit=self.unit)
            self.request_stop("supervisor gone")

    def _register(self, sock: zmq.Socket, fn: Callable[[], None]) -> None:
        self.poller.register(sock, zmq.POLLIN)
        self._socket_handlers[sock] = fn

    def _outbox(self, target: str) -> Outbox:
        box = self.outboxes.get(target)
        if box is None:
            box = Outbox(self.zctx, self.endpoints.inbox(target), identity=self.unit)
            self.outboxes[target] = box
            self._register(box.sock, lambda t=target, s=box.sock: self._on_replies(t, s))
        return box

    def _install_signals(self) -> None:
        # Ctrl-C on a terminal reaches the whole process group: the supervisor orchestrates the
        # stop order, so an actor ignores SIGINT and stops on SIGTERM or a StopActor command.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop("SIGTERM"))
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)

    def _drain_wakeup(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    # Services for actors ----------------------------------------------------------------------
    def publish(self, origin: str, topic: bytes, msg: Message) -> None:
        """Deliver to local subscribers through the queue and to remote ones through XPUB
        (encoded only if some remote subscriber wants the topic). Hot path."""
        routes = self._routes.get(origin)
        if routes is None:
            routes = self._routes[origin] = {}
        local = routes.get(topic)
        if local is None:
            local = [n for n, cls in self._classes if n != origin
                     and any(topic.startswith(p.encode()) for p in cls.subscriptions)]
            routes[topic] = local
        if local:
            self._queue.append((topic, msg, local, ""))
        pub = self.publishers[origin]
        if pub.wants(topic):
            pub.send(topic, codec.encode(msg))
            self.msgs_out += 1

    def send(self, origin: str, target: str, msg: Message, topic: bytes = b"") -> None:
        """Reliable delivery to one actor (in-process when co-located)."""
        if target in self.actors:
            self._urgent.append((topic, msg, [target], origin))
            return
        self._outbox(target).send(topic, codec.encode(msg))
        self.msgs_out += 1

    def reply(self, origin: str, sender: str, msg: Message) -> None:
        if sender in self.actors:
            self._urgent.append((b"", msg, [sender], origin))
            return
        try:
            self.inboxes[origin].reply(sender.encode(), topics.REPLY.encode(), codec.encode(msg))
        except PeerUnavailable as exc:
            self.log.warning("reply_undeliverable", actor=origin, to=sender, error=str(exc))

    def publish_market_batch(self, origin: str, batch: MarketBatch, publish_row: Callable[[int], None]) -> None:
        """Deliver the rows of ``batch`` (frames of a replay) to the local actors as if
        ``publish_row(i)`` were called for each row in turn with the bus drained after each; in
        bulk where that changes nothing (``actors.replay.delivery``). With remote subscribers
        (encoded copies to send), every row goes one at a time. Hot path (replay)."""
        delivery = self._deliveries.get(origin)
        if delivery is None:
            targets = [(name, self.actors[name]) for name, cls in self._classes
                       if name != origin and name in self.actors and subscribes_to_market_data(cls)]
            delivery = self._deliveries[origin] = BatchDelivery(
                targets, self._drain_queue, self.log, self.clock.now_ns,
                self.advance_clock if self._market_time else None)
        if any(pub.has_subscribers for pub in self.publishers.values()):
            delivery.one_by_one(batch, publish_row)
        else:
            self.rows_in_bulk += delivery.deliver(batch, publish_row)

    def add_timer(self, delay_s: float, interval_s: float, fn: Callable[[], None]) -> Timer:
        if interval_s:
            return self.clock.every(interval_s, fn)
        return self.clock.call_later(delay_s, fn)

    def watch_fd(self, fd: int, fn: Callable[[], None]) -> None:
        self.poller.register(fd, zmq.POLLIN)
        self._fd_handlers[fd] = fn

    def unwatch_fd(self, fd: int) -> None:
        self.poller.unregister(fd)
        self._fd_handlers.pop(fd, None)

    def watch_socket(self, sock: zmq.Socket, fn: Callable[[], None]) -> None:
        """Call ``fn`` in the loop whenever the actor's own zmq socket is readable. A zmq
        socket's FD is edge-triggered and unusable with ``watch_fd``; zmq_poll gets it right.
        ``fn`` should drain the socket (recv with NOBLOCK until zmq.Again)."""
        self._register(sock, fn)

    def unwatch_socket(self, sock: zmq.Socket) -> None:
        self.poller.unregister(sock)
        self._socket_handlers.pop(sock, None)

    def request_stop(self, reason: str) -> None:
        if self._running:
            self._stop_reason = reason
            self._running = False

    # Receiving --------------------------------------------------------------------------------
    def _bad_frame(self, where: str, kind: str, detail: str) -> None:
        self.bad_frames += 1
        self.bad_by_kind[kind] += 1
        now = self.clock.monotonic_ns()
        # One line per bad frame would let a hostile peer flood the journal: at most one a second,
        # with the running counts.
        if not self._last_bad_log_ns or now - self._last_bad_log_ns >= BAD_FRAME_LOG_INTERVAL_S * 1e9:
            self._last_bad_log_ns = now
            self.log.warning("bad_frame", where=where, kind=kind, detail=detail[:200],
                             total=self.bad_frames, by_kind=dict(self.bad_by_kind))

    def _decode(self, where: str, buf: bytes) -> Message | None:
        try:
            return codec.decode(buf)
        except codec.DecodeError as exc:
            self._bad_frame(where, exc.failure.value, exc.detail)
            return None

    def _receive(self, sock: zmq.Socket, where: str, nframes: int,
                 handle: Callable[[list[bytes], Message], None]) -> None:
        """Drain ``sock``: check the frame count, decode the last frame (copied out as bytes), hand it on.
        A bounded batch, so that timers and the other sockets are not starved.

        Frames are copied out as bytes: a bus message is a few hundred bytes, and a copy of that
        costs less than the zmq.Frame objects of a zero-copy receive (measured 14-26 against
        24-34 us a message, recv and decode of a SubmitOrder, on the loaded bench machine)."""
        for _ in range(1024):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != nframes:
                self._bad_frame(where, "CORRUPT", f"{len(frames)} frames, expected {nframes}")
                continue
            msg = self._decode(where, frames[-1])
            if msg is None:
                continue
            self.msgs_in += 1
            handle(frames, msg)
            self._drain_queue()

    def _on_stream(self) -> None:
        # hot path: market data and events from other hosts
        self._receive(self.subscriber.sock, "stream", 2, self._on_stream_message)

    def _on_stream_message(self, frames: list[bytes], msg: Message) -> None:
        topic = frames[0]
        targets = self._stream_routes.get(topic)
        if targets is None:
            targets = [n for n, cls in self._classes if any(topic.startswith(p.encode()) for p in cls.subscriptions)]
            self._stream_routes[topic] = targets
        for name in targets:
            self._dispatch(name, topic, msg, "")

    def _on_inbox(self, name: str, sock: zmq.Socket) -> None:
        def handle(frames: list[bytes], msg: Message) -> None:
            self._dispatch(name, frames[1], msg, frames[0].decode(errors="replace"))
        self._receive(sock, f"inbox.{name}", 3, handle)

    def _on_replies(self, target: str, sock: zmq.Socket) -> None:
        """Replies arriving on our DEALER to ``target``: every local actor may be the asker."""
        def handle(frames: list[bytes], msg: Message) -> None:
            for name in self.local_names:
                self._dispatch(name, frames[0], msg, target)
        self._receive(sock, f"replies.{target}", 2, handle)

    def _dispatch(self, name: str, topic: bytes, msg: Message, sender: str) -> None:
        actor = self.actors.get(name)
        if actor is None:
            return  # abandoned (``abandon``): lost, as it would be to a killed process
        msg_type = type(msg)
        handler = actor.handlers.get(msg_type)
        try:
            if handler is not None:
                self.contexts[name].sender = sender  # who to reply to ("" for a stream message)
                handler(msg)
            elif msg_type in _COMMANDS:
                self._on_command(name, msg, sender)
        except Exception:  # an actor bug must not take the loop down with it
            self.log.exception("handler_failed", actor=name, message=msg_type.__name__,
                               topic=topic.decode(errors="replace"))

    def _on_command(self, name: str, msg: Message, sender: str) -> None:
        ctx = self.contexts[name]
        if isinstance(msg, Ping):
            result = Reply(msg.cmd_id, name, True)
        elif isinstance(msg, StopActor):
            self.request_stop(f"StopActor from {sender or 'local'}: {msg.reason}")
            result = Reply(msg.cmd_id, name, True)
        elif isinstance(msg, EngageKillSwitch):
            if not ctx.kill_switch_engaged:
                self.log.warning("kill_switch_engaged", actor=name, reason=msg.reason, by=msg.by)
            ctx.kill_switch_engaged = True
            # Always forwarded: the actor decides (it may have halted on its own, e.g. risk on a loss).
            self.actors[name].on_kill_switch(True, msg.reason)
            result = Reply(msg.cmd_id, name, True)
        elif isinstance(msg, ReleaseKillSwitch):
            if ctx.kill_switch_engaged:
                self.log.warning("kill_switch_released", actor=name, by=msg.by)
            ctx.kill_switch_engaged = False
            self.actors[name].on_kill_switch(False, "")
            result = Reply(msg.cmd_id, name, True)
        else:
            return
        if sender:
            self.reply(name, sender, result)

    def drain(self) -> None:
        """Deliver everything queued on the in-process bus now (a caller that must see the
        consequences of one message before producing the next, e.g. a backtest's replay)."""
        self._drain_queue()

    def _drain_queue(self) -> None:
        # hot path: every in-process message. ``_dispatch`` inlined for the messages an actor
        # handles (a call per message and target was the bus's largest own cost in a backtest).
        urgent = self._urgent
        queue = self._queue
        actors = self.actors
        contexts = self.contexts
        while urgent or queue:
            topic, msg, targets, sender = urgent.popleft() if urgent else queue.popleft()
            msg_type = type(msg)
            for name in targets:
                actor = actors.get(name)
                handler = actor.handlers.get(msg_type) if actor is not None else None
                if handler is None:
                    self._dispatch(name, topic, msg, sender)  # abandoned, a command, or nothing
                    continue
                contexts[name].sender = sender
                try:
                    handler(msg)
                except Exception:  # an actor bug must not take the loop down with it
                    self.log.exception("handler_failed", actor=name, message=msg_type.__name__,
                                       topic=topic.decode(errors="replace"))

    def _fire(self, fn: Callable[[], None]) -> None:
        """Run one timer's function; what it sent is delivered before the next timer fires."""
        try:
            fn()
        except Exception:  # an actor bug must not take the loop down with it
            self.log.exception("timer_failed", fn=getattr(fn, "__qualname__", "?"))
        self._drain_queue()

    # Simulated time ---------------------------------------------------------------------------
    def advance_clock(self, t_ns: int, after_each: Callable[[], None] | None = None) -> None:
        """Move the simulated clock to ``t_ns`` (never back), firing the timers due on the way,
        each at its deadline with its consequences delivered; then deliver what is queued.
        ``after_each`` is called after each timer, the clock still at its deadline."""
        assert self._sim is not None, "advance_clock needs a SimClock"
        if after_each is None:
            self._sim.advance_to(t_ns, self._fire)
        else:
            def fire(fn: Callable[[], None]) -> None:
                self._fire(fn)
                after_each()
            self._sim.advance_to(t_ns, fire)
        self._drain_queue()

    def _publish_at_market_time(self, origin: str, topic: bytes, msg: Message) -> None:
        """``publish`` for ``market_time``: market data first moves the clock to its exchange
        time, so the timers due before it fire first and its consequences are stamped with it."""
        # hot path (backtest)
        if type(msg) in _MARKET_TYPES:
            sim = self._sim
            assert sim is not None
            ts = msg.ts_event_ns  # type: ignore[attr-defined]
            if ts > sim.now_ns():
                sim.advance_to(ts, self._fire)
        ActorHost.publish(self, origin, topic, msg)

    # Heartbeats -------------------------------------------------------------------------------
    def _heartbeat(self) -> None:
        now = self.clock.now_ns()
        box = self._outbox(SUPERVISOR)
        for name in self.local_names:
            if name not in self.contexts:
                continue  # abandoned: silent, as a killed process is
            self._hb_seq += 1
            hb = Heartbeat(name, os.getpid(), self._hb_seq, self._state, self._started_ns, now,  # type: ignore[arg-type]
                           self.msgs_in, self.msgs_out, self.bad_frames, self.contexts[name].kill_switch_engaged)
            try:
                box.send(topics.heartbeat_topic(name), codec.encode(hb))
            except PeerUnavailable:
                pass  # heartbeats are only worth anything fresh; the next one will do

    # Main -------------------------------------------------------------------------------------
    def run(self) -> int:
        """Start the actors, serve until stopped, stop them in order. Returns the exit code."""
        self._install_signals()
        code = self.start()
        if code:
            return code
        if self._sim is not None:
            self._loop_simulated()
        else:
            self._loop()
        return self.shutdown()

    def start(self) -> int:
        """Open the sockets and start the actors in order (``run`` does it; a test that drives a
        host on a SimClock calls it, then ``advance_clock``, then ``shutdown``). Returns 0, or
        the exit code when an actor could not start."""
        self._open_sockets()
        for name, cls in self._classes:
            self._instantiate(name, cls)
        self._running = True
        for name in self.local_names:
            code = self._start_actor(name)
            if code:
                return code
        if self._freeze_gc:
            self._freeze_startup_objects()
        self._state = "ready"
        if self._sim is None:  # nothing watches a simulated engine's health
            self._heartbeat()
            self.add_timer(self.config.engine.heartbeat_interval_s, self.config.engine.heartbeat_interval_s,
                           self._heartbeat)
        self.log.info("host_ready", unit=self.unit, actors=",".join(self.local_names))
        return 0

    def _freeze_startup_objects(self) -> None:
        """Collect once, then freeze what survived start-up (modules, numba and numpy, the
        instrument master, the calendar, the actors' state: ~160k objects in the strategy and
        risk processes), so that no collection ever scans them again. Measured on the bench
        machine (2 cores, loaded): a full collection over them took 91 ms, and with GC callbacks
        timestamped beside the orders' stamps, the start-up collections of these processes took
        3-30 ms (young generations) and 340-750 ms (full); frozen, a full collection takes
        0.01 ms. In steady state at the bench's 1,000 ticks/s these processes hardly allocate
        (no collection fell in a 20 s window), so a full one would come rarely, but when it came
        it stopped the order path for tens of ms; now it costs what was allocated since start.
        Python's thresholds stay: the hot path's short-lived objects die young either way."""
        gc.collect()
        gc.freeze()
        self.log.info("gc_frozen", unit=self.unit, objects=gc.get_freeze_count())

    def _instantiate(self, name: str, cls: type[Actor]) -> Actor:
        ctx = _Context(self, name)
        self.contexts[name] = ctx
        actor = self.actors[name] = cls(ctx)
        return actor

    def _start_actor(self, name: str) -> int:
        """``on_start`` of one actor, what it sent delivered. Returns 0, or the exit code."""
        self.log.info("actor_starting", actor=name)
        try:
            self.actors[name].on_start()
        except (ActorConfigError, MasterUnavailable) as exc:
            self.log.error("actor_config_error", actor=name, error=str(exc))
            return EXIT_CONFIG
        except LedgerError as exc:
            if not exc.permanent:
                self.log.exception("actor_start_failed", actor=name)
                return 1
            # A restart reads the same bytes: one line, no traceback, a code the supervisor
            # stops on (the operator restores a backup or runs `shikra ledger verify|rebuild`).
            self.log.error("ledger_damaged", actor=name, error=str(exc),
                           hint="restore a backup of the ledger, or see `shikra ledger verify` and "
                                "`shikra ledger rebuild`")
            return EXIT_LEDGER_DAMAGED
        except Exception:
            self.log.exception("actor_start_failed", actor=name)
            return 1
        self._drain_queue()
        return 0

    def abandon(self, name: str) -> Actor:
        """Drop actor ``name`` the way ``kill -9`` drops a process: its ``on_stop`` does not run,
        its timers are cancelled, its fds and sockets are no longer watched, and messages for it
        are lost until :meth:`restart_actor`. What it owns beyond the host (threads, connections,
        files) is left as it is; the caller decides what a killed process would have lost.
        Returns the abandoned instance."""
        ctx = self.contexts.pop(name)
        actor = self.actors.pop(name)
        for timer in ctx.timers:
            timer.cancel()
        for fd in list(ctx.fds):
            self.unwatch_fd(fd)
        for sock in list(ctx.sockets):
            self.unwatch_socket(sock)
        self._deliveries.clear()  # they hold the instances they deliver to
        self.log.warning("actor_abandoned", actor=name)
        return actor

    def restart_actor(self, name: str) -> int:
        """A fresh instance of a hosted actor (after :meth:`abandon`), started as at start-up.
        Returns 0, or the exit code when it could not start."""
        if name in self.actors:
            raise ValueError(f"restart_actor: {name} is running (abandon it first)")
        self._instantiate(name, dict(self._classes)[name])
        self._deliveries.clear()
        return self._start_actor(name)

    def poll_io(self, timeout_ms: int) -> int:
        """Wait up to ``timeout_ms`` for a watched socket or fd to become readable; run the
        handler of each that is, delivering what it sent. Returns how many ran. (``_loop``'s
        I/O step; a test on a SimClock calls it to let real I/O complete while time stands.)"""
        ran = 0
        sockets = self._socket_handlers
        fds = self._fd_handlers
        for sock, _ in self.poller.poll(timeout_ms):
            fn = sockets.get(sock) if not isinstance(sock, int) else fds.get(sock)
            if fn is not None:
                fn()
                self._drain_queue()  # what an fd callback published is delivered now
                ran += 1
        return ran

    def _loop(self) -> None:
        poll_io = self.poll_io
        clock = self.clock
        warmers = self._warmers()
        warm_every_ns = self.config.engine.warm_interval_ms * 1_000_000
        warmed_ns = 0
        while self._running:
            due = clock.next_due_ns()
            poll_io(poll_timeout_ms(due, clock.monotonic_ns()) if due is not None else 1000)
            clock.run_due(self._fire)
            if warmers and clock.monotonic_ns() - warmed_ns >= warm_every_ns:
                # Off the hot path: everything that woke us is handled; we are about to wait.
                for name, warm in warmers:
                    try:
                        warm()
                    except Exception:
                        self.log.exception("warm_failed", actor=name)
                warmed_ns = clock.monotonic_ns()

    def _loop_simulated(self) -> None:
        """On a SimClock nothing is waited for: the clock jumps to the next timer and fires it,
        until stopped. With no timer left nothing can happen any more, and the host stops."""
        sim = self._sim
        assert sim is not None
        while self._running:
            due = sim.next_due_ns()
            if due is None:
                self.request_stop("simulated clock: no timer left")
                break
            self.advance_clock(due)

    def _warmers(self) -> list[tuple[str, Callable[[], None]]]:
        """Actors that override ``warm_hot_path`` (none when ``engine.warm_interval_ms`` is 0)."""
        if self.config.engine.warm_interval_ms <= 0:
            return []
        return [(name, actor.warm_hot_path) for name, actor in self.actors.items()
                if type(actor).warm_hot_path is not Actor.warm_hot_path]

    def shutdown(self) -> int:
        """Stop the actors in order and close the sockets. Returns 0."""
        self._state = "stopping"
        self.log.info("host_stopping", unit=self.unit, reason=self._stop_reason)
        if self._sim is None:
            self._heartbeat()
        ordered = sorted(self.local_names, key=lambda n: STOP_ORDER.index(n) if n in STOP_ORDER else -1)
        for name in ordered:
            if name not in self.actors:
                continue  # abandoned
            try:
                self.actors[name].on_stop()
                self._drain_queue()
            except Exception:
                self.log.exception("on_stop_failed", actor=name)
        for pub in self.publishers.values():
            pub.close()
        for inbox in self.inboxes.values():
            inbox.close()
        self.subscriber.close()
        for box in self.outboxes.values():
            box.close()
        self.log.info("host_stopped", unit=self.unit)
        return 0


_COMMANDS = (Ping, StopActor, EngageKillSwitch, ReleaseKillSwitch)
_MARKET_TYPES = frozenset({Tick, Quote, Depth})  # the messages whose exchange time moves a market-time clock
