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
- live P&L per strategy (``shikra_strategy_realised_pnl_paise``, ``shikra_strategy_unrealised_pnl_paise``:
  sums over the strategy's positions, unrealised at execution's marks), from the ``Position``
  messages execution publishes (after every fill, and once a second while marks move), seeded from
  the ledger's positions at start (realised only, until execution's first marks);
- the trading state (``shikra_trading_state{state}``: 1 for risk's current state), from
  ``risk.usage``; the kill switch (``shikra_kill_switch_engaged``), from ``supervisor.status``;
- feed staleness (``shikra_feed_staleness_seconds{instrument}``: seconds since the instrument's last
  market data, at scrape time), for the instruments the feed streams or a position is held in,
  from what the feed publishes every few seconds on ``feed.freshness``.
The registry is private (no process-wide default), so tests can build as many as they like.
Thread safety: ``observe`` runs on the actor loop, ``collect`` on the HTTP server's thread; the
shared state is dicts of immutable messages, replaced per key and copied before reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from ipc.messages import (
    TERMINAL_ORDER_STATES,
    BrokerSessionStatus,
    CalendarStatus,
    FeedFreshness,
    Fill,
    Heartbeat,
    LedgerStats,
    Message,
    OrderDenied,
    OrderEvent,
    OrderState,
    Position,
    PositionKey,
    RiskUsage,
    SupervisorStatus,
    TradingState,
    position_key,
)
from ipc.segments import instrument_label

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


class _LiveCollector:
    """Live P&L per strategy, trading state, kill switch and feed staleness, from the latest
    messages (replaced whole per key on the actor loop, copied here before reading)."""

    def __init__(self, positions: dict[PositionKey, Position], latest: dict[str, object],
                 supervisor: dict[str, SupervisorStatus], now_ns: Callable[[], int]) -> None:
        self.positions = positions
        self.latest = latest
        self.supervisor = supervisor
        self.now_ns = now_ns

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        return (GaugeMetricFamily("shikra_strategy_realised_pnl_paise",
                                  "Realised P&L of a strategy's positions, gross of charges (paise)", labels=["strategy"]),
                GaugeMetricFamily("shikra_strategy_unrealised_pnl_paise",
                                  "Unrealised P&L of a strategy's open positions at execution's marks (paise)",
                                  labels=["strategy"]),
                GaugeMetricFamily("shikra_trading_state", "1 for risk's trading state now", labels=["state"]),
                GaugeMetricFamily("shikra_kill_switch_engaged", "1 while the kill switch is engaged"),
                GaugeMetricFamily("shikra_feed_staleness_seconds",
                                  "Seconds since the feed last had market data of an instrument it streams or "
                                  "one held (since the feed started, for one without data yet)",
                                  labels=["instrument"]))

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        realised, unrealised, state, kill, stale = self._families()
        by_strategy: dict[str, list[int]] = {}
        for pos in list(self.positions.values()):
            row = by_strategy.setdefault(pos.strategy, [0, 0])
            row[0] += pos.realised_pnl_paise
            row[1] += pos.unrealised_pnl_paise
        for strategy, (r, u) in sorted(by_strategy.items()):
            realised.add_metric([strategy], r)
            unrealised.add_metric([strategy], u)
        usage = self.latest.get("usage")
        if isinstance(usage, RiskUsage):
            for value in TradingState:
                state.add_metric([value.value], 1.0 if usage.state == value.value else 0.0)
        status = self.supervisor.get(SUPERVISOR)
        if status is not None:
            kill.add_metric([], 1.0 if status.status.kill_switch.engaged else 0.0)
        fresh = self.latest.get("freshness")
        if isinstance(fresh, FeedFreshness):
            now = self.now_ns()
            for segment, security_id, last in zip(fresh.segments, fresh.security_ids, fresh.last_data_ns):
                stale.add_metric([instrument_label(segment, security_id)], max(0, now - (last or fresh.since_ns)) / 1e9)
        yield from (realised, unrealised, state, kill, stale)


class EngineMetrics:
    """All shikra_ metrics in one private registry. ``observe`` takes decoded bus messages."""

    def __init__(self, now_ns: Callable[[], int]) -> None:
        """``now_ns``: the gateway's clock (read on the HTTP thread at scrape time: staleness)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.heartbeats: dict[str, Heartbeat] = {}
        self.supervisor: dict[str, SupervisorStatus] = {}
        self.registry.register(_EngineCollector(self.heartbeats, self.supervisor))
        self.ledger_stats: dict[str, LedgerStats] = {}
        self.registry.register(_LedgerCollector(self.ledger_stats))
        self.calendar: dict[str, CalendarStatus] = {}
        self.registry.register(_CalendarCollector(self.calendar))
        self.positions: dict[PositionKey, Position] = {}
        self.latest: dict[str, object] = {}
        self.registry.register(_LiveCollector(self.positions, self.latest, self.supervisor, now_ns))
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
        elif isinstance(msg, Position):
            self.positions[position_key(msg)] = msg
        elif isinstance(msg, RiskUsage):
            self.latest["usage"] = msg
        elif isinstance(msg, FeedFreshness):
            if len(msg.segments) == len(msg.security_ids) == len(msg.last_data_ns):
                self.latest["freshness"] = msg
        elif isinstance(msg, CalendarStatus):
            self.calendar["risk"] = msg
        elif isinstance(msg, BrokerSessionStatus):
            self.session_expiry.labels(msg.broker).set(msg.expires_ns / 1e9)
            self.session_ok.labels(msg.broker).set(1.0 if msg.ok else 0.0)
        elif isinstance(msg, LedgerStats):
            if len(msg.bucket_upper_ns) + 1 == len(msg.bucket_counts) and sum(msg.bucket_counts) == msg.commits:
                self.ledger_stats[msg.actor] = msg

    def seed_positions(self, positions: Iterable[Position]) -> None:
        """The ledger's positions at start (realised P&L; unrealised 0 until execution marks them);
        a position execution has already published is kept as published."""
        for pos in positions:
            self.positions.setdefault(position_key(pos), pos)

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
