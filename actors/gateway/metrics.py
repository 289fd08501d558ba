"""Prometheus metrics of the running engine, built from the events the gateway sees.

- per-actor message counts (``rate()`` of them is the message rate), from the heartbeats the
  supervisor republishes on ``actor.health.<name>``, else from its status;
- restarts, bad frames and state per actor, from the status the supervisor publishes once a
  second on ``supervisor.status`` (absent until the first one arrives);
- order events by state, open orders by state, fills, denials by reason code;
- hop latency histograms from each order's timestamps (tick seen -> intent created -> approved by
  risk -> sent to the venue), in seconds.

- ledger commit latency (``shikra_ledger_commit_seconds``), from the histogram the ledger's
  writer (execution) publishes every few seconds on ``ledger.stats``.
- the market calendar (``shikra_calendar_days_until_data_end``, ``shikra_calendar_fallback_in_use``),
  from what risk publishes every minute on ``calendar.status``; absent until risk has said.
- the broker session (``shikra_broker_session_expiry_timestamp_seconds``: when the token in use
  expires, Unix time; ``shikra_broker_session_ok``: 0 after a refused login until one succeeds),
  from ``broker.session``; absent until the live venue has said.
The registry is private (no process-wide default), so tests can build as many as they like.
Thread safety: ``observe`` runs on the actor loop, ``collect`` on the HTTP server's thread; the
shared state is dicts of immutable messages, replaced per key and copied before reading.
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from ipc.messages import (
    TERMINAL_ORDER_STATES,
    BrokerSessionStatus,
    CalendarStatus,
    Fill,
    Heartbeat,
    LedgerStats,
    Message,
    OrderDenied,
    OrderEvent,
    OrderState,
    SupervisorStatus,
)

TERMINAL = TERMINAL_ORDER_STATES
# Seconds: from tens of microseconds (a co-located hop) to a second (a stalled one).
HOP_BUCKETS_S = (10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
                 100e-3, 250e-3, 500e-3, 1.0, 2.5)
HOPS = (("decide", "ts_init_ns", "ts_created_ns"),     # tick seen -> strategy's intent
        ("risk", "ts_created_ns", "ts_approved_ns"),   # intent -> approved
        ("execution", "ts_approved_ns", "ts_sent_ns"))  # approved -> handed to the venue
SUPERVISOR = "supervisor"
MAX_OPEN_ORDERS = 100_000  # bound on the open-order table (a venue that never finishes orders)


class _EngineCollector:
    """Per-actor figures read at scrape time: the latest heartbeats and supervisor status."""

    def __init__(self, heartbeats: dict[str, Heartbeat], supervisor: dict[str, SupervisorStatus]) -> None:
        self.heartbeats = heartbeats
        self.supervisor = supervisor

    def _families(self) -> tuple[CounterMetricFamily, ...]:
        return (CounterMetricFamily("shikra_actor_messages_in", "Messages an actor received (heartbeat)",
                                    labels=["actor"]),
                CounterMetricFamily("shikra_actor_messages_out", "Messages an actor sent (heartbeat)",
                                    labels=["actor"]),
                CounterMetricFamily("shikra_actor_restarts", "Restarts of an actor (supervisor status)",
                                    labels=["actor"]),
                CounterMetricFamily("shikra_actor_bad_frames", "Frames an actor could not decode (supervisor status)",
                                    labels=["actor"]))

    def describe(self) -> Iterator[Metric]:
        yield from self._families()
        yield GaugeMetricFamily("shikra_actor_up", "1 when the actor is ready (supervisor status)", labels=["actor"])

    def collect(self) -> Iterator[Metric]:
        msgs_in, msgs_out, restarts, bad = self._families()
        up = GaugeMetricFamily("shikra_actor_up", "1 when the actor is ready (supervisor status)", labels=["actor"])
        heartbeats = dict(self.heartbeats)
        for name, hb in sorted(heartbeats.items()):
            msgs_in.add_metric([name], hb.msgs_in)
            msgs_out.add_metric([name], hb.msgs_out)
        latest = self.supervisor.get(SUPERVISOR)
        if latest is not None:
            for a in latest.status.actors:
                if a.name not in heartbeats:  # the status's copy is up to a second older
                    msgs_in.add_metric([a.name], a.msgs_in)
                    msgs_out.add_metric([a.name], a.msgs_out)
                restarts.add_metric([a.name], a.restarts)
                bad.add_metric([a.name], a.bad_frames)
                up.add_metric([a.name], 1.0 if a.state == "ready" else 0.0)
        yield from (msgs_in, msgs_out, restarts, bad, up)


class _LedgerCollector:
    """The writer's own commit histogram, as it last published it (cumulative since it started)."""

    def __init__(self, latest: dict[str, LedgerStats]) -> None:
        self.latest = latest

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily("shikra_ledger_commit_seconds", "Ledger write transaction latency",
                                    labels=["actor"])

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily("shikra_ledger_commit_seconds", "Ledger write transaction latency",
                                       labels=["actor"])
        for actor, stats in sorted(dict(self.latest).items()):
            buckets, running = [], 0
            for upper_ns, count in zip(stats.bucket_upper_ns, stats.bucket_counts):
                running += count
                buckets.append((repr(upper_ns / 1e9), running))
            buckets.append(("+Inf", stats.commits))
            family.add_metric([actor], buckets, stats.sum_ns / 1e9)
        yield family


class _CalendarCollector:
    """The calendar risk enforces, as risk last published it."""

    def __init__(self, latest: dict[str, CalendarStatus]) -> None:
        self.latest = latest

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (GaugeMetricFamily("shikra_calendar_days_until_data_end",
                                  "Days until the calendar library's data ends (negative: past it)",
                                  labels=["calendar", "data_end"]),
                GaugeMetricFamily("shikra_calendar_fallback_in_use",
                                  "1 while today's sessions come from the fallback calendar", labels=["calendar"]))

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        days, fallback = self._families()
        status = self.latest.get("risk")
        if status is not None:
            days.add_metric([status.calendar, status.data_end], status.days_left)
            fallback.add_metric([status.calendar], 1.0 if status.fallback_in_use else 0.0)
        yield from (days, fallback)


class EngineMetrics:
    """All shikra_ metrics in one private registry. ``observe`` takes decoded bus messages."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.heartbeats: dict[str, Heartbeat] = {}
        self.supervisor: dict[str, SupervisorStatus] = {}
        self.registry.register(_EngineCollector(self.heartbeats, self.supervisor))
        self.ledger_stats: dict[str, LedgerStats] = {}
        self.registry.register(_LedgerCollector(self.ledger_stats))
        self.calendar: dict[str, CalendarStatus] = {}
        self.registry.register(_CalendarCollector(self.calendar))
        r = self.registry
        self.order_events = Counter("shikra_order_events", "Order transitions by the state reached",
                                    ["state"], registry=r)
        self.open_orders = Gauge("shikra_orders_open", "Orders not yet finished, by state", ["state"], registry=r)
        self.fills = Counter("shikra_fills", "Fills by strategy and side", ["strategy", "side"], registry=r)
        self.filled_units = Counter("shikra_filled_units", "Units filled by strategy", ["strategy"], registry=r)
        self.denials = Counter("shikra_denials", "Intents denied by risk, by reason code", ["reason"], registry=r)
        self.hop_latency = Histogram("shikra_hop_latency_seconds", "Order path latency per hop",
                                     ["hop"], buckets=HOP_BUCKETS_S, registry=r)
        self.forwarded = Counter("shikra_gateway_forwarded", "Messages sent on the public feed", registry=r)
        self.gateway_bad_frames = Counter("shikra_gateway_bad_frames",
                                          "Frames the gateway dropped (wrong frame count, undecodable)",
                                          registry=r)
        self.session_expiry = Gauge("shikra_broker_session_expiry_timestamp_seconds",
                                    "When the broker access token in use expires (Unix time; 0 unknown)",
                                    ["broker"], registry=r)
        self.session_ok = Gauge("shikra_broker_session_ok", "0 after a refused broker login until one succeeds",
                                ["broker"], registry=r)
        self.public_prefixes = Gauge("shikra_gateway_subscriptions", "Distinct prefixes dashboards subscribed to",
                                     registry=r)
        for state in OrderState:
            self.order_events.labels(state.value)
            if state not in TERMINAL:
                self.open_orders.labels(state.value)
        # client order id -> (state, latency observed); finished orders leave the table.
        self._open: dict[str, tuple[OrderState, bool]] = {}

    def observe(self, msg: Message) -> None:
        if isinstance(msg, OrderEvent):
            self._on_order(msg)
        elif isinstance(msg, Fill):
            self.fills.labels(msg.strategy, msg.side).inc()
            self.filled_units.labels(msg.strategy).inc(msg.qty_units)
        elif isinstance(msg, OrderDenied):
            self.denials.labels(msg.reason_code).inc()
        elif isinstance(msg, Heartbeat):
            self.heartbeats[msg.actor] = msg
        elif isinstance(msg, SupervisorStatus):
            self.supervisor[SUPERVISOR] = msg
        elif isinstance(msg, CalendarStatus):
            self.calendar["risk"] = msg
        elif isinstance(msg, BrokerSessionStatus):
            self.session_expiry.labels(msg.broker).set(msg.expires_ns / 1e9)
            self.session_ok.labels(msg.broker).set(1.0 if msg.ok else 0.0)
        elif isinstance(msg, LedgerStats):
            if len(msg.bucket_upper_ns) + 1 == len(msg.bucket_counts) and sum(msg.bucket_counts) == msg.commits:
                self.ledger_stats[msg.actor] = msg

    def _on_order(self, ev: OrderEvent) -> None:
        self.order_events.labels(ev.state.value).inc()
        previous = self._open.get(ev.client_order_id)
        observed = previous[1] if previous else False
        if previous is not None:
            self.open_orders.labels(previous[0].value).dec()
        if not observed and ev.ts_sent_ns:
            observed = True
            for hop, start, end in HOPS:
                t0, t1 = getattr(ev, start), getattr(ev, end)
                if t0 and t1 and t1 >= t0:  # a zero is a stamp not taken; never a negative latency
                    self.hop_latency.labels(hop).observe((t1 - t0) / 1e9)
        if ev.state in TERMINAL:
            self._open.pop(ev.client_order_id, None)
        elif previous is not None or len(self._open) < MAX_OPEN_ORDERS:
            self._open[ev.client_order_id] = (ev.state, observed)
            self.open_orders.labels(ev.state.value).inc()
