"""The public ZeroMQ feed for dashboards and the Prometheus endpoint (see ``actor.GatewayActor``).

Nothing is re-exported here: ``engine.config`` imports this package's config, and every process
would otherwise load the Prometheus client (with http, email and ssl) it does not use."""
