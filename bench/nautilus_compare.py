"""The same backtest in NautilusTrader, for ``python -m bench backtest`` (optional: the ``bench``
extra, ``.venv/bin/pip install -e '.[compare]'``).

Same data: the capture's full packets become NautilusTrader quote ticks (best bid and ask with their
quantities, in rupees, stamped with the capture's receive times). Same strategy: EMA(fast) and
EMA(slow) of the mid price on every quote tick (NautilusTrader's own indicators), long one unit
when fast - slow crosses above zero, flat when it crosses below, market orders, on a netting cash
account at a simulated venue; logging bypassed (its fastest configuration). The EMAs are seeded
as NautilusTrader seeds them (from the first value), so the crossings, and the order count, are
close to Shikra's but not identical. Timed: ``engine.run()`` only, as Shikra's figure is the replay.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

import msgspec

NS_PER_S = 1_000_000_000


class NautilusResult(msgspec.Struct, frozen=True):
    version: str
    ticks: int
    orders: int
    run_s: float
    ticks_per_s: float


def quote_columns(capture: str | Path) -> dict[str, Any]:
    """Best bid/ask (rupees), their quantities and the receive time of every full packet of a
    capture, decoded by Shikra's own columnar decoder."""
    import numpy as np

    from actors.feed.capture import CaptureReader
    from actors.feed.decode import FrameDecoder
    from actors.feed.batches import market_batch
    from actors.replay.batch import D_ASK_PX, D_ASK_QTY, D_BID_PX, D_BID_QTY

    decoder = FrameDecoder()
    parts: dict[str, list[Any]] = {"bid": [], "ask": [], "bid_qty": [], "ask_qty": [], "ts": []}
    for block in CaptureReader(capture).blocks(65_536):
        batch = market_batch(decoder.decode_buffer_columnar(block.frames, block.lengths, block.recv_ns),
                             len(block.lengths))
        full = batch.is_full
        top = batch.depth[full, :, 0]
        parts["bid"].append(top[:, D_BID_PX] / 100)
        parts["ask"].append(top[:, D_ASK_PX] / 100)
        parts["bid_qty"].append(top[:, D_BID_QTY])
        parts["ask_qty"].append(top[:, D_ASK_QTY])
        parts["ts"].append(block.recv_ns[full])
    return {k: np.concatenate(v) for k, v in parts.items()}


def _ema_class() -> Any:
    for module in ("nautilus_trader.indicators", "nautilus_trader.indicators.averages",
                   "nautilus_trader.indicators.average.ema"):
        try:
            return importlib.import_module(module).ExponentialMovingAverage
        except (ImportError, AttributeError):
            continue
    raise ImportError("NautilusTrader's ExponentialMovingAverage was not found")


def run_nautilus(capture: str | Path, fast: int, slow: int) -> NautilusResult:
    """Run the mid-price EMA cross over ``capture`` in NautilusTrader; raises ImportError when it
    is not installed (and whatever NautilusTrader raises when its API differs)."""
    import pandas as pd

    import nautilus_trader
    from nautilus_trader.backtest.engine import BacktestEngine
    from nautilus_trader.config import BacktestEngineConfig, LoggingConfig, StrategyConfig
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.data import QuoteTick
    from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, PriceType
    from nautilus_trader.model.identifiers import InstrumentId, TraderId, Venue
    from nautilus_trader.model.objects import Money
    from nautilus_trader.persistence.wranglers import QuoteTickDataWrangler
    from nautilus_trader.test_kit.providers import TestInstrumentProvider
    from nautilus_trader.trading.strategy import Strategy

    ema = _ema_class()
    cols = quote_columns(capture)
    instrument = TestInstrumentProvider.equity(symbol="RELIANCE", venue="NSE")
    frame = pd.DataFrame(
        {"bid_price": cols["bid"], "ask_price": cols["ask"], "bid_size": cols["bid_qty"], "ask_size": cols["ask_qty"]},
        index=pd.to_datetime(cols["ts"], unit="ns", utc=True),
    )
    ticks: list[QuoteTick] = QuoteTickDataWrangler(instrument).process(frame)

    class MidCrossConfig(StrategyConfig, frozen=True):
        instrument_id: InstrumentId
        fast: int
        slow: int

    class MidCross(Strategy):  # type: ignore[misc]
        def __init__(self, config: MidCrossConfig) -> None:
            super().__init__(config)
            self.fast_ema = ema(config.fast, PriceType.MID)
            self.slow_ema = ema(config.slow, PriceType.MID)
            self.prev_diff = 0.0
            self.long = False
            self.sent = 0

        def on_start(self) -> None:
            self.instrument = self.cache.instrument(self.config.instrument_id)
            self.register_indicator_for_quote_ticks(self.config.instrument_id, self.fast_ema)
            self.register_indicator_for_quote_ticks(self.config.instrument_id, self.slow_ema)
            self.subscribe_quote_ticks(self.config.instrument_id)

        def on_quote_tick(self, tick: QuoteTick) -> None:
            if not self.slow_ema.initialized:
                return
            diff = self.fast_ema.value - self.slow_ema.value
            prev, self.prev_diff = self.prev_diff, diff
            if prev == 0.0:
                return
            if prev <= 0.0 < diff and not self.long:
                self.long = True
                self._market(OrderSide.BUY)
            elif prev >= 0.0 > diff and self.long:
                self.long = False
                self._market(OrderSide.SELL)

        def _market(self, side: OrderSide) -> None:
            self.sent += 1
            self.submit_order(self.order_factory.market(self.config.instrument_id, side, self.instrument.make_qty(1)))

    engine = BacktestEngine(BacktestEngineConfig(trader_id=TraderId("BENCH-001"),
                                                 logging=LoggingConfig(bypass_logging=True)))
    engine.add_venue(venue=Venue("NSE"), oms_type=OmsType.NETTING, account_type=AccountType.CASH,
                     base_currency=USD, starting_balances=[Money(10_000_000_000, USD)])
    engine.add_instrument(instrument)
    engine.add_data(ticks)
    strategy = MidCross(MidCrossConfig(instrument_id=instrument.id, fast=fast, slow=slow))
    engine.add_strategy(strategy)
    started = time.perf_counter()
    engine.run()
    run_s = time.perf_counter() - started
    engine.dispose()
    return NautilusResult(version=nautilus_trader.__version__, ticks=len(ticks), orders=strategy.sent,
                          run_s=round(run_s, 3), ticks_per_s=round(len(ticks) / run_s, 1))
