"""``shikra backtest``'s engine: ``runner`` (the actors over a capture, the report), ``charts`` (the
equity and drawdown PNGs, drawn with matplotlib) and ``ids`` (ids and times made deterministic for
the report)."""
