"""Feed actor package: Dhan binary packets -> market-data messages.

Nothing is re-exported here: ``engine.config`` imports this package's config in every process, and
the decoder (``actors.feed.decode``) and the actor (``actors.feed.actor``) are imported explicitly
by what uses them, so that importing this package stays light.
"""
