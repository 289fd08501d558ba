"""The one shape every actor has.

An actor is a plain class: it declares the topic prefixes it listens to, implements ``on_<event>``
handlers for the message types it cares about (``on_tick`` for ``Tick``, ``on_order_intent`` for
``OrderIntent``, ...), and talks to the world only through its :class:`ActorContext`:
``publish`` (a stream anyone may subscribe to), ``send`` (a reliable message to one actor),
``call_later`` / ``every`` (timers), ``watch_fd`` (an extra file descriptor in the loop).

The same actor code runs alone in a process or co-located with others on an in-process bus; the
host decides how a message travels.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol

from ipc.messages import ALL_MESSAGE_TYPES, Message

if TYPE_CHECKING:
    from engine.config import Config
    from engine.logs import Log


class Timer(Protocol):
    def cancel(self) -> None: ...


class ActorContext(Protocol):
    """What the host provides to an actor."""

    name: str
    config: "Config"
    data_dir: Any
    run_dir: Any
    log: "Log"
    kill_switch_engaged: bool
    sender: str  # who sent the message being handled ("" for a stream message): reply() to it

    def publish(self, topic: bytes, msg: Message) -> None: ...
    def send(self, target: str, msg: Message, topic: bytes = b"") -> None: ...
    def reply(self, sender: str, msg: Message) -> None: ...
    def publish_market_batch(self, batch: Any, publish_row: Callable[[int], None]) -> None:
        """Replay only: hand the rows of an ``actors.replay.batch.MarketBatch`` to the host's
        actors (``publish_row(i)`` publishes row ``i``'s messages; see ``actors.replay.delivery``)."""
        ...
    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer: ...
    def every(self, interval_s: float, fn: Callable[[], None]) -> Timer: ...
    def watch_fd(self, fd: int, fn: Callable[[], None]) -> None: ...
    def unwatch_fd(self, fd: int) -> None: ...
    def watch_socket(self, sock: Any, fn: Callable[[], None]) -> None: ...
    def unwatch_socket(self, sock: Any) -> None: ...
    def now_ns(self) -> int: ...
    def request_stop(self, reason: str) -> None: ...


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


HANDLER_NAMES: dict[type[Message], str] = {t: f"on_{_snake(t.__name__)}" for t in ALL_MESSAGE_TYPES}


class Actor:
    """Base class. Subclasses set ``subscriptions`` and write ``on_<event>`` handlers."""

    subscriptions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        self.log = ctx.log
        self.handlers: dict[type[Message], Callable[..., None]] = {}
        for msg_type, method in HANDLER_NAMES.items():
            fn = getattr(self, method, None)
            if fn is not None:
                self.handlers[msg_type] = fn

    # Lifecycle ------------------------------------------------------------------------------
    def on_start(self) -> None:
        """Open resources, rebuild state from the ledger, compile kernels. Runs before ready."""

    def on_stop(self) -> None:
        """Flush and close. Runs once on a graceful stop."""

    def on_kill_switch(self, engaged: bool, reason: str) -> None:
        """The supervisor (or an operator) engaged or released the kill switch."""

    def warm_hot_path(self) -> None:
        """Rehearse the order path without effects (nothing sent, published, stored or changed).

        The host calls it when the process is about to wait, at most every
        ``engine.warm_interval_ms``. A path that runs only now and then (an order every few
        hundred ticks) otherwise starts cold each time: after the CPU idles, Python runs the
        same code several times slower until caches and branch predictors refill."""


# sysexits EX_CONFIG: the exit code of a process whose configuration cannot work (an actor's
# ActorConfigError, a bad config file, a missing instrument master); restarting will not help, so
# the supervisor, and systemd (RestartPreventExitStatus in deploy/shikra.service), stop instead of
# restarting it.
EXIT_CONFIG = 78
# sysexits EX_DATAERR: the ledger is damaged (truncated, corrupt, fails its checksums or its
# derived tables disagree with its events). A restart reads the same bytes: the supervisor and
# systemd stop too, and the operator restores a backup or runs `shikra ledger verify|rebuild`.
EXIT_LEDGER_DAMAGED = 65
# The exit codes that mean "a restart cannot fix this": the supervisor stops the daemon with the
# code instead of restarting the unit, and systemd's unit lists them in RestartPreventExitStatus.
PERMANENT_EXIT_CODES = frozenset({EXIT_CONFIG, EXIT_LEDGER_DAMAGED})


class ActorConfigError(Exception):
    """Raised from ``on_start`` when the actor cannot run with its configuration (an unknown
    instrument, a bad strategy parameter). The process exits with EX_CONFIG and the supervisor
    stops the daemon instead of restarting it forever."""
