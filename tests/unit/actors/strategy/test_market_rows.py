"""Replays in bulk, strategy side: a strategy that does not skip rows itself is handed every row
a handler of its class would see; one that does (``SkipsMarketRows``) names its own horizon."""

from __future__ import annotations

import numpy as np

from actors.replay.batch import ROW_FULL, ROW_QUOTE, ROW_TICK
from actors.strategy.api import Strategy
from actors.strategy.market_rows import MarketRows, SkipsMarketRows, market_horizon, skip_market
from ipc.messages import BookUpdate

PART = [(ROW_TICK, 1, 0), (ROW_QUOTE, 1, 0), (ROW_FULL, 1, 2), (ROW_TICK, 1, 0)]


def _market_rows(part: list[tuple[int, int, int]]) -> MarketRows:
    a = np.array(part, dtype=np.int64).reshape(-1, 3)
    return MarketRows(a[:, 0], a[:, 1], np.zeros(len(part), dtype=np.int64), np.zeros(len(part), dtype=np.int64), a[:, 2])


class OnBook(Strategy):
    kind = "on_book_only"

    def on_book(self, book: BookUpdate) -> None: ...


class Skipper(Strategy):
    """Would act on no row of these; takes them itself."""

    kind = "skipper"

    def on_tick(self, tick) -> None: ...  # type: ignore[no-untyped-def]

    def market_horizon(self, rows: MarketRows) -> int:
        return int(rows.kind.size)

    def skip_market(self, rows: MarketRows) -> None:
        self.skipped = int(rows.kind.size)


def test_the_default_horizon_is_the_first_row_a_handler_of_the_strategy_sees():
    s = OnBook(None, None, None)  # type: ignore[arg-type]
    assert not isinstance(s, SkipsMarketRows)
    assert market_horizon(s, _market_rows(PART)) == 2
    no_book = _market_rows(PART)._replace(mid_x2_paise=None)  # no book actor: no book updates
    assert market_horizon(s, no_book) == 4
    assert market_horizon(Strategy(None, None, None), _market_rows(PART)) == 4  # type: ignore[arg-type]


def test_a_strategy_that_skips_rows_names_its_horizon_and_takes_the_rows_before_it():
    s = Skipper(None, None, None)  # type: ignore[arg-type]
    assert isinstance(s, SkipsMarketRows)
    assert market_horizon(s, _market_rows(PART)) == 4  # its on_tick alone would stop at row 0
    skip_market(s, _market_rows(PART))
    assert s.skipped == 4
