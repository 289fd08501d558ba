"""``shikra backtest``'s engine: ``runner`` (the actors over a capture, the report), ``charts`` (the
PNG curves) and ``ids`` (ids and times made deterministic for the report)."""
