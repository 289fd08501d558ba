"""The domain model: money, IST time, the clocks (live and simulated) and the market calendar,
instruments and their lookup, the sample master, the trade journal.

A lower layer: actors, the ledger and the applications import it; it imports only ``ipc``,
``engine.files`` and itself (never ``actors``, ``engine.cli``, ``engine.daemon``,
``engine.backtest`` or ``engine.config``; ``.importlinter`` checks it).
"""
