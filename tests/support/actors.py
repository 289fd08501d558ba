"""Small actors for runtime tests: a ticker that publishes a counter, and a relay chain."""

from __future__ import annotations

import os
import time
from pathlib import Path

from actors.base import Actor
from ipc.messages import OrderIntent, OrderSpec, Tick

COUNTER_SECURITY = 99


class CounterSource(Actor):
    """Publishes Tick(security_id=99, ltp_paise=n) every 20 ms."""

    def on_start(self) -> None:
        self.n = 0
        self.ctx.every(0.02, self._emit)

    def _emit(self) -> None:
        self.n += 1
        now = time.time_ns()
        self.ctx.publish(b"tick.NSE_EQ.99", Tick(1, COUNTER_SECURITY, self.n, now, now))


class Relay(Actor):
    """Turns each tick into an OrderIntent sent (reliably) to `sink`."""

    subscriptions = ("tick.",)

    def on_tick(self, msg: Tick) -> None:
        now = time.time_ns()
        spec = OrderSpec(segment=msg.segment, security_id=msg.security_id, side="BUY", order_type="MARKET", qty_units=1)
        self.ctx.send("sink", OrderIntent(f"relay-{msg.ltp_paise}", "relay", spec, msg.ts_event_ns, msg.ts_init_ns, now))


class Sink(Actor):
    """Publishes every intent it receives on `intent.seen` so a test can watch the flow."""

    def on_order_intent(self, msg: OrderIntent) -> None:
        self.ctx.publish(b"intent.seen", msg)


class GatedSink(Sink):
    """A Sink whose start lasts until the file ``$SHIKRA_TEST_START_GATE`` exists: a start as slow
    as a loaded machine makes it, ended when the test says."""

    def on_start(self) -> None:
        gate = Path(os.environ["SHIKRA_TEST_START_GATE"])
        while not gate.exists():
            time.sleep(0.01)  # the simulated slow start itself, not a test waiting
