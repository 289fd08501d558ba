"""Replay in bulk: market data of a capture handed to co-located actors as batches of rows.

Only a backtest (a capture replayed as fast as possible, actors on one host) uses this package.
``batch`` holds the rows (:class:`~actors.replay.batch.MarketBatch`), ``kernels`` the numba
kernels over them, ``delivery`` the rule by which the host hands them out and the optional
protocol (:class:`~actors.replay.delivery.BatchConsumer`) an actor implements to take rows in bulk.
An actor that does not implement it gets every message one at a time, as from a live feed.
"""
