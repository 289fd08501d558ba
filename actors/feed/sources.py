"""Where the feed actor's frames come from: the synthetic market, a capture file, or Dhan.

A source calls ``emit(frame, recv_ns)`` for every raw frame; the feed actor decodes and publishes.
A replay at pace "fast" hands over whole blocks of frames instead (``emit_block``), which the feed
decodes column-wise. Sources run on the actor's own loop (timers), never a thread of their own,
except the live Dhan websocket which needs an asyncio loop (see ``actors.feed.dhan``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

import numpy as np

from actors.feed.capture import CaptureReader, FrameBlock
from actors.feed.handoff import Emit
from actors.feed.synthetic import SyntheticInstrument, SyntheticMarket, SyntheticMarketConfig
from engine.model.instruments import InstrumentTable, date_from_yyyymmdd
from engine.model.ist import IST

if TYPE_CHECKING:
    from actors.feed.config import SyntheticFeedConfig
    from engine.config import Config

EmitBlock = Callable[[FrameBlock], None]

DEFAULT_STOCK_PRICE_PAISE = 150_000  # ₹1,500 when nothing better is known
# The synthetic source owes at most this much time's packets: behind by more (its process was
# starved of CPU) it forgets the rest. A synthetic market has nothing to catch up on, and a burst
# of seconds of packets held the loop past the heartbeat timeout (the supervisor killed the feed as
# hung: seen by the soak bench on a loaded machine).
MAX_OWED_S = 0.1
EXPIRY_CLOSE_IST = dt.time(15, 30)


class Source(Protocol):
    feed: str

    def start(self, ctx: Any, emit: Emit) -> None: ...
    def stop(self) -> None: ...


def synthetic_instruments(table: InstrumentTable, cfg: SyntheticFeedConfig, today: dt.date) -> list[SyntheticInstrument]:
    """Index + its nearest-expiry options around the money + stocks, from the instrument master."""
    out: list[SyntheticInstrument] = []
    for name in cfg.underlyings:
        spot_row = table.spot(name)
        if spot_row is None:
            raise ValueError(f"feed.synthetic.underlyings: '{name}' is not in the instrument master")
        expiry = table.nearest_expiry(name, today)
        chain = table.option_chain(name, expiry) if expiry else None
        strikes = chain.strike_values() if chain else []
        spot = strikes[len(strikes) // 2] if strikes else DEFAULT_STOCK_PRICE_PAISE * 10
        kind = "index" if spot_row.instrument == "INDEX" else "stock"
        out.append(SyntheticInstrument(spot_row.segment, spot_row.security_id, kind, spot_row.tick_paise or 5,
                                       spot_row.lot_size_units or 1, spot))
        if chain is None:
            continue
        mid = len(chain.strikes) // 2
        lo, hi = max(0, mid - cfg.option_strikes_each_side), mid + cfg.option_strikes_each_side + 1
        expiry_ns = int(dt.datetime.combine(date_from_yyyymmdd(chain.expiry_yyyymmdd), EXPIRY_CLOSE_IST,
                                            IST).timestamp() * 1e9)
        for s in chain.strikes[lo:hi]:
            for sid, opt in ((s.ce_security_id, "CE"), (s.pe_security_id, "PE")):
                if not sid:
                    continue
                inst = table.get(chain.segment, sid)
                assert inst is not None
                out.append(SyntheticInstrument(chain.segment, sid, "option", inst.tick_paise or 5,
                                               inst.lot_size_units, max(inst.tick_paise or 5, 1000),
                                               spot_row.security_id, s.strike_paise, opt, expiry_ns))  # type: ignore[arg-type]
    for name in cfg.stocks:
        row = table.by_symbol(name, 1)
        if row is None:
            raise ValueError(f"feed.synthetic.stocks: '{name}' is not an NSE_EQ instrument in the master")
        out.append(SyntheticInstrument(row.segment, row.security_id, "stock", row.tick_paise or 5, 1,
                                       DEFAULT_STOCK_PRICE_PAISE))
    return out


class SyntheticSource:
    """Paced by a timer: ``rate_per_s`` packets a second in small batches (never a busy loop)."""

    feed = "market"

    def __init__(self, cfg: Config, table: InstrumentTable, today: dt.date) -> None:
        s = cfg.feed.synthetic
        self.rate = s.rate_per_s
        self.market = SyntheticMarket(synthetic_instruments(table, s, today),
                                      SyntheticMarketConfig(seed=s.seed, index_vol=s.index_vol_annual,
                                                            packet_interval_ns=1_000_000_000 // self.rate))
        # A timer per packet at 50k/s would cost more than the packets; batch at >= 1 ms.
        self.interval_s = max(0.001, 1.0 / self.rate)
        self.max_owed = max(self.rate * MAX_OWED_S, 2 * self.rate * self.interval_s)  # >= 2 timer ticks' worth
        self.forgotten = 0.0  # packets owed past max_owed and never sent
        self._owed = 0.0
        self._last_ns = 0
        self._timer: Any = None

    def start(self, ctx: Any, emit: Emit) -> None:
        self._emit = emit
        self._now_ns = ctx.now_ns
        self._monotonic_ns = ctx.monotonic_ns
        self._last_ns = self._monotonic_ns()
        self._timer = ctx.every(self.interval_s, self._tick)

    def _tick(self) -> None:
        now = self._monotonic_ns()
        self._owed += (now - self._last_ns) / 1e9 * self.rate
        self._last_ns = now
        if self._owed > self.max_owed:
            self.forgotten += self._owed - self.max_owed
            self._owed = self.max_owed
        n = int(self._owed)
        if n <= 0:
            return
        self._owed -= n
        frames = self.market.next_frames(n, self._now_ns())
        # Received now, when the frames are in hand, as a socket would hand them over: making
        # them (50 us a call, a few ms when a block of the market is built) is no part of
        # tick-to-trade, and stamped before it, it was (bench/latency.py's feed->strategy hop).
        recv_ns = self._now_ns()
        for frame in frames:
            self._emit(frame, recv_ns)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class ReplaySource:
    """A capture file at its recorded pace, or as fast as possible in batches (in blocks of
    ``BLOCK`` frames when started with ``emit_block``)."""

    BATCH = 256
    # A block's frames, their decoded columns and (in a backtest) the ledger writes they cause are
    # held at once: 2048 frames instead of 8192 took ~16 MiB off a 1 M-tick backtest's peak RSS
    # (327 -> 311 MiB) at the same CPU per order (243 vs 245 us, same run).
    BLOCK = 2048
    takes_blocks = True

    def __init__(self, cfg: Config) -> None:
        r = cfg.feed.replay
        self.reader = CaptureReader(r.path)
        self.feed = self.reader.feed
        self.pace = r.pace
        self.loop = r.loop
        self._it = iter(self.reader)
        self._emit_block: EmitBlock | None = None
        self._blocks: Iterator[FrameBlock] = iter(())
        self._pending: tuple[int, bytes] | None = None
        self._t0_wall = 0
        self._t0_rec = 0
        self.done = False
        self.frames = 0
        self.on_done: Callable[[], None] | None = None  # called once the capture is replayed

    def start(self, ctx: Any, emit: Emit, emit_block: EmitBlock | None = None) -> None:
        """Replay into ``emit`` frame by frame; at pace "fast" into ``emit_block`` a block at a
        time when one is given (a block's frames are stamped with one receive time)."""
        self._ctx = ctx
        self._emit = emit
        self._emit_block = emit_block if self.pace == "fast" else None
        if self._emit_block is not None:
            from actors.feed import capture_kernels, decode_kernels

            capture_kernels.warmup()
            decode_kernels.warmup()  # the block decoder's kernels, before the first block
            self._blocks = self.reader.blocks(self.BLOCK)
        self._ctx.call_later(0.0, self._step)

    def _next_block(self) -> FrameBlock | None:
        block = next(self._blocks, None)
        if block is None and self.loop:
            self._blocks = self.reader.blocks(self.BLOCK)
            block = next(self._blocks, None)
        return block

    def _next(self) -> tuple[int, bytes] | None:
        try:
            return next(self._it)
        except StopIteration:
            if not self.loop:
                return None
            self._it = iter(self.reader)
            self._t0_wall = 0
            return next(self._it, None)

    def _step(self) -> None:
        if self._emit_block is not None:
            block = self._next_block()
            if block is None:
                self._finish()
                return
            n = len(block.lengths)
            self.frames += n
            # Received now, as frame by frame: the recorded receive times are another session's.
            self._emit_block(block._replace(recv_ns=np.full(n, self._ctx.now_ns(), dtype=np.int64)))
            self._ctx.call_later(0.0, self._step)
            return
        if self.pace == "fast":
            for _ in range(self.BATCH):
                item = self._next()
                if item is None:
                    self._finish()
                    return
                self.frames += 1
                self._emit(item[1], self._ctx.now_ns())
            self._ctx.call_later(0.0, self._step)
            return
        now = self._ctx.now_ns()
        while True:
            item = self._pending or self._next()
            self._pending = None
            if item is None:
                self._finish()
                return
            recv_ns, frame = item
            if not self._t0_wall:
                self._t0_wall, self._t0_rec = now, recv_ns
            due = self._t0_wall + (recv_ns - self._t0_rec)
            if due > now:
                self._pending = item
                self._ctx.call_later((due - now) / 1e9, self._step)
                return
            self.frames += 1
            self._emit(frame, self._ctx.now_ns())

    def _finish(self) -> None:
        self.done = True
        if self.reader.truncated_tail:
            self._ctx.log.warning("capture_truncated_tail", path=str(self.reader.path))
        self._ctx.log.info("replay_finished", path=str(self.reader.path), frames=self.frames)
        if self.on_done is not None:
            self.on_done()

    def stop(self) -> None:
        self._it = iter(())
        self._blocks = iter(())
