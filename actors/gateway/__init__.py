"""The public ZeroMQ feed for dashboards and the Prometheus endpoint (see ``actor.GatewayActor``)."""

from actors.gateway.metrics import EngineMetrics
from actors.gateway.subscriptions import SubscriptionTable, upstream_for

__all__ = ["EngineMetrics", "SubscriptionTable", "upstream_for"]
