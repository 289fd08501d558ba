"""A whole trading day, 09:00 to 16:00 IST, in a few seconds: the engine's feed (replaying a
day of the synthetic market at its recorded pace), book, strategy, risk and execution actors in
one process on a simulated clock that only their timers move. A scripted strategy trades through
the day; the exchange session, the entry cut-off, risk's 15:25 square-off and the expiry of DAY
orders at the 15:30 close all happen on their own, when the clock reaches them. The unattended-day
rehearsal builds on this.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from actors.feed.capture import CaptureWriter
from actors.feed.sources import synthetic_instruments
from actors.feed.synthetic import SyntheticMarket, SyntheticMarketConfig
from actors.feed.config import SyntheticFeedConfig
from engine.config import Config
from engine.model.lookup import open_instruments
from ipc.messages import Fill, OrderDenied, OrderEvent, OrderState, RiskAction
from tests.support.sim import NS_PER_S, SimEngine, at_ist, sim_config

FRIDAY = dt.date(2026, 11, 20)  # an NSE trading day (the bundled sample master's)
ACTORS = ("feed", "book", "strategy", "risk", "execution")
PACKET_EVERY_S = 5


def write_day_capture(path: Path, cache_dir: Path) -> int:
    """RELIANCE from the seeded synthetic market, a packet every PACKET_EVERY_S seconds from 09:00
    to 16:00 IST, each recorded (and stamped with its exchange time) at the moment it is for."""
    table = open_instruments(Config().instruments.master, cache_dir, FRIDAY)
    instruments = synthetic_instruments(table, SyntheticFeedConfig(stocks=["RELIANCE"], underlyings=[]), FRIDAY)
    market = SyntheticMarket(instruments, SyntheticMarketConfig(seed=5, packet_interval_ns=PACKET_EVERY_S * NS_PER_S))
    frames = 0
    with CaptureWriter(path) as writer:
        for t in range(at_ist(FRIDAY, 9, 0), at_ist(FRIDAY, 16, 0) + 1, PACKET_EVERY_S * NS_PER_S):
            for frame in market.next_frames(1, t):
                writer.write(t, frame)
                frames += 1
    return frames


DAY_TRADER = '''
from __future__ import annotations

from actors.strategy.api import Strategy, StrategyParams, StrategyState
from ipc.messages import Quote, Tick

NS_PER_MIN = 60_000_000_000
IST_OFFSET_MIN = 330


class DayParams(StrategyParams):
    every_min: int = 20   # a round trip starts this often from 09:30 until 15:00
    hold_min: int = 5


class DayState(StrategyState):
    done: list[str] = []


class DayTrader(Strategy):
    """A scripted day on one instrument, by the exchange time of the prices it sees: a buy before
    the open (09:05), round trips from 09:30, a far DAY limit buy that rests (14:00), a buy held
    into the square-off (15:05), a buy after the entry cut-off (15:20)."""

    kind = "day_trader"
    Params = DayParams
    State = DayState

    def on_start(self) -> None:
        p = self.params
        steps = [(9 * 60 + 5, "pre-open", "BUY")]
        for t in range(9 * 60 + 30, 15 * 60, p.every_min):
            steps += [(t, f"in {t}", "BUY"), (t + p.hold_min, f"out {t}", "SELL")]
        steps += [(14 * 60, "far limit", "LIMIT"), (15 * 60 + 5, "hold", "BUY"), (15 * 60 + 20, "late", "BUY")]
        self.steps = sorted(steps)

    def on_tick(self, tick: Tick) -> None:
        self._at(tick.ts_event_ns, tick.ltp_paise, tick)

    def on_quote(self, quote: Quote) -> None:
        self._at(quote.ts_event_ns, quote.ltp_paise, quote)

    def _at(self, ts_ns: int, ltp_paise: int, cause) -> None:
        minute = (ts_ns // NS_PER_MIN + IST_OFFSET_MIN) % 1440
        inst = self.instrument
        while self.steps and self.steps[0][0] <= minute and ltp_paise > 0:
            _t, label, what = self.steps.pop(0)
            self.state.done.append(label)
            if what == "SELL":
                if self.ctx.position(inst) > 0:
                    self.ctx.sell(inst, 1, cause=cause)
            elif what == "LIMIT":
                price = ltp_paise * 96 // 100 // inst.tick_paise * inst.tick_paise  # inside the 5 % band
                self.ctx.buy(inst, 1, order_type="LIMIT", price_paise=price, cause=cause)
            else:
                self.ctx.buy(inst, 1, cause=cause)
'''


def test_a_whole_trading_day_runs_in_seconds_on_the_simulated_clock(tmp_path: Path) -> None:
    user_dir = tmp_path / "strategies"
    user_dir.mkdir()
    (user_dir / "day_trader.py").write_text(DAY_TRADER)
    capture = tmp_path / "day.cap"
    assert write_day_capture(capture, tmp_path / "instruments") > 7 * 3600 // PACKET_EVERY_S
    cfg = sim_config(ACTORS,
                     feed={"source": "replay", "replay": {"path": str(capture), "pace": "recorded"}},
                     strategy={"user_dir": str(user_dir),
                               "instances": [{"name": "day", "kind": "day_trader", "instrument": "RELIANCE"}]})
    started, cpu = time.perf_counter(), time.process_time()
    engine = SimEngine(tmp_path / "data", at_ist(FRIDAY, 9, 0), ACTORS, cfg)
    try:
        rel = engine.instrument("RELIANCE")

        def held() -> int:
            pos = engine.ledger_facts()["positions"].get(("day", rel.segment, rel.security_id, "INTRADAY"))
            return pos.net_qty_units if pos is not None else 0

        def denied(reason: str) -> list[OrderDenied]:
            return [d for d in engine.seen(OrderDenied) if d.reason_code == reason]

        engine.advance_to(at_ist(FRIDAY, 9, 15))
        assert [d.strategy for d in denied("MARKET_CLOSED")] == ["day"]  # the 09:05 buy: the market opens at 09:15
        assert not engine.seen(Fill)

        engine.advance_to(at_ist(FRIDAY, 15, 24, 59))
        buys = [f for f in engine.seen(Fill) if f.side == "BUY"]
        sells = [f for f in engine.seen(Fill) if f.side == "SELL"]
        assert len(buys) == len(range(9 * 60 + 30, 15 * 60, 20)) + 1  # the round trips and the 15:05 buy
        assert len(sells) == len(buys) - 1 and held() == 1
        assert all(at_ist(FRIDAY, 9, 30) <= f.ts_event_ns < at_ist(FRIDAY, 15, 6) for f in engine.seen(Fill))
        assert [d.strategy for d in denied("ENTRY_CUTOFF")] == ["day"]  # the 15:20 buy
        far = [e for e in engine.seen(OrderEvent) if e.spec.order_type == "LIMIT"]
        assert far and far[-1].state is OrderState.ACCEPTED  # resting since 14:00

        engine.advance_to(at_ist(FRIDAY, 16, 0))
        (t, square_off), = [(t, a) for t, a in engine.seen_at(RiskAction) if a.action == "SQUARE_OFF"]
        assert t == at_ist(FRIDAY, 15, 25) and square_off.strategy == "day"
        last = engine.seen(Fill)[-1]
        assert last.side == "SELL" and at_ist(FRIDAY, 15, 25) <= last.ts_event_ns < at_ist(FRIDAY, 15, 25, 1)
        assert held() == 0
        expired = [e for e in engine.seen(OrderEvent) if e.spec.order_type == "LIMIT"][-1]
        assert expired.state is OrderState.EXPIRED and expired.ts_event_ns == at_ist(FRIDAY, 15, 30)
        assert engine.actor("execution").orders == {}  # nothing left working overnight
        assert engine.actor("execution").ledger.verify() == []
    finally:
        engine.close()
    print(f"09:00-16:00 IST simulated in {time.perf_counter() - started:.2f} s "
          f"({time.process_time() - cpu:.2f} s of CPU)")
