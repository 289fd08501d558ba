"""A seeded random market that speaks real Dhan binary packets.

The synthetic feed source runs the same decoder as the live one: every frame this module makes
is a genuine 5-level feed packet built by ``actors.feed.wire`` encoders.

Model (float math, analytics only; every price leaves here as integer paise on its tick):

* indices and stocks follow a geometric Brownian motion (``index_vol`` / ``stock_vol``, annual);
* futures are their underlying carried at ``rate`` to expiry;
* options are Black-Scholes prices of their underlying at a fixed ``option_vol`` (intrinsic value
  at or after expiry), rounded to the tick and floored at one tick;
* indices send ticker packets; stocks, futures and options send mostly full packets (5-level depth
  around the last price, cumulative volume, VWAP, open interest that wanders in lots), sometimes a
  quote, a ticker or (derivatives) an OI packet.

The first call to :meth:`SyntheticMarket.next_frames` is preceded by one prev-close packet per
instrument, as the real server sends on subscription. Options and futures open at their model
price (their ``start_price_paise`` is only checked against the tick). Packets are generated
ahead in blocks (see :meth:`SyntheticMarket.next_frames`). Same instruments, config and call
sequence -> identical bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import msgspec
import numpy as np

from actors.feed import wire
from actors.feed.wire import FeedCode
from engine.model.ist import NS_PER_S
from engine.model.money import paise_to_tick_array
from ipc.segments import KNOWN_SEGMENTS, instrument_label

InstrumentKind = Literal["index", "stock", "option", "future"]
OptionType = Literal["CE", "PE", ""]

YEAR_NS = 365.25 * 86_400 * 1_000_000_000  # calendar year, for vol and time to expiry
_PATH_CHUNK_VALUES = 1 << 17  # GBM path values (steps x driven instruments) made at once: 1 MiB each array
_U16_MAX = 2**16 - 1
_U32_MAX = 2**32 - 1


class SyntheticInstrument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One instrument of the synthetic market.

    ``underlying_security_id`` (options and futures) names an index or stock of the same market.
    ``strike_paise`` and ``option_type`` are for options; ``expiry_ns`` for options and futures.
    """

    segment: int
    security_id: int
    kind: InstrumentKind
    tick_paise: int
    lot_size_units: int
    start_price_paise: int
    underlying_security_id: int = 0
    strike_paise: int = 0
    option_type: OptionType = ""
    expiry_ns: int = 0


class SyntheticMarketConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Knobs of the synthetic market. Shares are fractions of the packets."""

    seed: int = 0
    index_vol: float = 0.15  # annualised GBM volatility of indices
    stock_vol: float = 0.25  # annualised GBM volatility of stocks
    option_vol: float = 0.15  # Black-Scholes volatility of every option
    rate: float = 0.065  # continuously compounded, for option pricing and futures carry
    index_share: float = 0.10  # packets that are index ticks (when the market has an index)
    quote_share: float = 0.10  # of the non-index packets
    ticker_share: float = 0.05  # of the non-index packets
    oi_share: float = 0.03  # of the derivative packets
    packet_interval_ns: int = 20_000  # spacing of the first call's packets (no previous time)
    block_steps: int = 4_096  # packets generated ahead at once
    depth_max_lots: int = 50  # per depth level
    trade_max_lots: int = 10  # per trade (stocks: x10)


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7; synthetic use only)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def black_scholes_paise(
    spot_paise: np.ndarray,
    strike_paise: np.ndarray,
    years: np.ndarray,
    vol: float,
    rate: float,
    is_call: np.ndarray,
) -> np.ndarray:
    """Black-Scholes value in (float) paise; intrinsic value where ``years <= 0``."""
    s = np.asarray(spot_paise, dtype=np.float64)
    k = np.asarray(strike_paise, dtype=np.float64)
    t = np.maximum(np.asarray(years, dtype=np.float64), 1e-12)
    sd = vol * np.sqrt(t)
    d1 = (np.log(s / k) + (rate + 0.5 * vol * vol) * t) / sd
    d2 = d1 - sd
    disc_k = k * np.exp(-rate * t)
    call = s * _norm_cdf(d1) - disc_k * _norm_cdf(d2)
    value = np.where(is_call, call, call - s + disc_k)  # put from put-call parity
    intrinsic = np.where(is_call, np.maximum(s - k, 0.0), np.maximum(k - s, 0.0))
    return np.where(np.asarray(years) > 0, value, intrinsic)


def _on_tick(price_paise: np.ndarray, tick: np.ndarray) -> np.ndarray:
    """Float paise -> int64 paise on the tick, at least one tick."""
    return np.maximum(paise_to_tick_array(price_paise, tick), tick).astype(np.int64)


class SyntheticMarket:
    """Seeded random market producing Dhan 5-level feed packets (one packet per frame).

    Raises ValueError at construction for an inconsistent instrument list (duplicate
    instrument, tick or lot below 1, start price below one tick, option or future whose
    underlying is not an index or stock of the list, option without strike or CE/PE).
    """

    def __init__(
        self,
        instruments: Sequence[SyntheticInstrument],
        config: SyntheticMarketConfig | None = None,
    ) -> None:
        cfg = config or SyntheticMarketConfig()
        self.config = cfg
        self.instruments = tuple(instruments)
        _validate(self.instruments)
        self._rng = np.random.default_rng(cfg.seed)
        insts = self.instruments
        n = len(insts)
        kinds = np.array([i.kind for i in insts])
        self._n = n
        self._seg = np.array([i.segment for i in insts], dtype=np.int64)
        self._sid = np.array([i.security_id for i in insts], dtype=np.int64)
        self._tick = np.array([i.tick_paise for i in insts], dtype=np.int64)
        self._lot = np.array([i.lot_size_units for i in insts], dtype=np.int64)
        self._is_index = kinds == "index"
        self._is_stock = kinds == "stock"
        self._is_option = kinds == "option"
        self._is_future = kinds == "future"
        self._is_deriv = self._is_option | self._is_future
        self._strike = np.array([i.strike_paise for i in insts], dtype=np.float64)
        self._is_call = np.array([i.option_type == "CE" for i in insts])
        self._expiry = np.array([i.expiry_ns for i in insts], dtype=np.int64)

        # Driven (GBM) instruments are the indices and stocks; each gets a column of the path.
        driven = np.flatnonzero(self._is_index | self._is_stock)
        self._driven = driven
        col_of = {int(j): c for c, j in enumerate(driven)}
        self._col = np.array([col_of.get(j, -1) for j in range(n)], dtype=np.int64)
        by_sid: dict[int, int] = {}
        for j in driven[::-1]:  # an index wins over a stock with the same security id
            by_sid[int(self._sid[j])] = int(j)
        self._und_col = np.array(
            [
                col_of[by_sid[i.underlying_security_id]] if i.kind in ("option", "future") else -1
                for i in insts
            ],
            dtype=np.int64,
        )
        self._vol = np.where(self._is_index[driven], cfg.index_vol, cfg.stock_vol)
        self._log_px = np.log(np.array([insts[j].start_price_paise for j in driven], np.float64))

        # Session state per instrument (integers: paise, units).
        start = np.array([i.start_price_paise for i in insts], dtype=np.int64)
        self._open = start.copy()
        self._high = start.copy()
        self._low = start.copy()
        self._last = start.copy()
        self._volume = np.zeros(n, dtype=np.int64)
        self._turnover = np.zeros(n, dtype=np.float64)  # sum of price_paise * qty_units (VWAP)
        lots = self._rng.integers(1_000, 100_000, size=n)
        self._oi = np.where(self._is_deriv, lots * self._lot, 0).astype(np.int64)
        self._oi_high = self._oi.copy()
        self._oi_low = self._oi.copy()

        weights = np.where(self._is_index, 0.0, 1.0)
        if self._is_index.any() and (~self._is_index).any():
            weights = np.where(
                self._is_index,
                cfg.index_share / self._is_index.sum(),
                (1.0 - cfg.index_share) / (~self._is_index).sum(),
            )
        elif self._is_index.any():
            weights = np.ones(n) / n
        else:
            weights = weights / weights.sum() if n else weights
        self._weights = weights
        self._last_ts_ns: int | None = None  # ts_ns of the previous call
        self._clock_ns = 0  # the market's own clock: time of the last generated step
        self._block: _Block | None = None

    # ---------------------------------------------------------------------------------------

    def tick_sizes(self) -> dict[tuple[int, int], int]:
        """``(segment, security_id) -> tick_paise`` for a FrameDecoder."""
        return {(i.segment, i.security_id): i.tick_paise for i in self.instruments}

    def opening_frames(self) -> list[bytes]:
        """One prev-close packet per instrument: previous close = the session's opening price
        (``start_price_paise``; for options and futures the model price at the first call)."""
        recs = wire.blank_packets(FeedCode.PREV_CLOSE, self._n)
        recs["segment"] = self._seg
        recs["security_id"] = self._sid
        recs["prev_close"] = wire.paise_to_f32(self._open)
        recs["prev_oi"] = self._oi
        return wire.split_packets(recs)

    def next_frames(self, n: int, ts_ns: int) -> list[bytes]:
        """``n`` packets (one per frame) whose LTTs are spread evenly up to ``ts_ns`` (ns since
        the epoch, UTC) from the previous call's ``ts_ns``.

        The market is generated ahead in blocks of ``config.block_steps`` packets (vectorised),
        stepped at the packet spacing of the call that needed the block, so a small call costs
        little more than slicing the block. The first call returns the opening prev-close
        frames first, then the ``n`` packets. Raises ValueError for a negative ``n``.
        """
        # Hot path: called by the synthetic source every few milliseconds.
        if n < 0:
            raise ValueError(f"packet count must be >= 0, got {n}")
        opening: list[bytes] = []
        if self._last_ts_ns is None:
            self._last_ts_ns = ts_ns - n * self.config.packet_interval_ns
            self._clock_ns = self._last_ts_ns
            opening = self._open_session(self._clock_ns)
        last_ts = self._last_ts_ns
        self._last_ts_ns = ts_ns
        if n == 0 or self._n == 0:
            return opening
        ltt_s = (last_ts + ((ts_ns - last_ts) * np.arange(1, n + 1)) // n) // NS_PER_S
        spacing_ns = max((ts_ns - last_ts) // n, 1)
        frames = opening
        done = 0
        while done < n:
            block = self._block
            if block is None or block.remaining == 0:
                block = self._block = self._new_block(
                    max(self.config.block_steps, n - done), spacing_ns
                )
            take = min(n - done, block.remaining)
            frames += block.serve(take, ltt_s[done : done + take])
            done += take
        return frames

    def _new_block(self, steps: int, spacing_ns: int) -> _Block:
        """Generate ``steps`` packets, ``spacing_ns`` apart on the market's own clock."""
        t_ns = self._clock_ns + spacing_ns * np.arange(1, steps + 1, dtype=np.int64)
        self._clock_ns = int(t_ns[-1])
        dt_years = np.full(steps, spacing_ns / YEAR_NS)
        inst = self._rng.choice(self._n, size=steps, p=self._weights)
        price = self._prices(inst, t_ns, dt_years)
        return self._build_block(inst, price)

    # ---------------------------------------------------------------------------------------

    def _prices(self, inst: np.ndarray, t_ns: np.ndarray, dt_years: np.ndarray) -> np.ndarray:
        """Price (int64 paise on tick) of each packet's instrument at its step."""
        col = self._col[inst]
        own = col >= 0
        log_px = self._path_at(np.where(own, col, self._und_col[inst]), dt_years)
        px = np.empty(len(inst), dtype=np.float64)
        px[own] = np.exp(log_px[own])
        deriv = ~own
        if deriv.any():
            j = inst[deriv]
            spot = np.exp(log_px[deriv])
            years = (self._expiry[j] - t_ns[deriv]).astype(np.float64) / YEAR_NS
            px[deriv] = self._derivative_prices(j, spot, years)
        return _on_tick(px, self._tick[inst])

    def _path_at(self, read_col: np.ndarray, dt_years: np.ndarray) -> np.ndarray:
        """Step every driven instrument's log price once per packet (GBM) and return, per
        packet, the log price of driven column ``read_col[i]`` after its step.

        The (steps x driven instruments) path is made ``_PATH_CHUNK_VALUES`` values at a time,
        so a block of a market of hundreds of stocks never holds it whole (4,096 steps over 438
        stocks: ~60 MB of work arrays at once). The numbers are the same as from one array:
        the normals come from the generator in the same order, and the running sum carries on
        from the previous chunk's last row exactly as one ``cumsum`` would."""
        n = len(read_col)
        n_driven = len(self._driven)
        out = np.empty(n, dtype=np.float64)
        if not n_driven:
            return out  # no driven instrument: no packet reads one (derivatives need one)
        rows_per_chunk = max(1, _PATH_CHUNK_VALUES // n_driven)
        carry = np.zeros((1, n_driven))  # running sum of the steps before the chunk
        for a in range(0, n, rows_per_chunk):
            b = min(n, a + rows_per_chunk)
            z = self._rng.standard_normal((b - a, n_driven))
            drift = -0.5 * self._vol**2 * dt_years[a:b, None]
            steps = drift + self._vol * np.sqrt(dt_years[a:b])[:, None] * z
            running = np.cumsum(np.concatenate((carry, steps)), axis=0)[1:]
            carry = running[-1:]
            out[a:b] = self._log_px[read_col[a:b]] + running[np.arange(b - a), read_col[a:b]]
        self._log_px = self._log_px + carry[0]
        return out

    def _derivative_prices(self, j: np.ndarray, spot: np.ndarray, years: np.ndarray) -> np.ndarray:
        """Float paise of options (Black-Scholes) and futures (carry) ``j`` at ``spot``."""
        out = spot * np.exp(self.config.rate * np.maximum(years, 0.0))  # futures
        opt = self._is_option[j]
        if opt.any():
            out[opt] = black_scholes_paise(
                spot[opt], self._strike[j[opt]], years[opt], self.config.option_vol,
                self.config.rate, self._is_call[j[opt]],
            )  # fmt: skip
        return out

    def _open_session(self, ts_ns: int) -> list[bytes]:
        """Price the derivatives at ``ts_ns`` from their underlyings' start prices (that model
        price replaces their ``start_price_paise``) and return the prev-close frames."""
        j = np.flatnonzero(self._is_deriv)
        if j.size:
            spot = np.exp(self._log_px[self._und_col[j]])
            years = (self._expiry[j] - ts_ns).astype(np.float64) / YEAR_NS
            px = _on_tick(self._derivative_prices(j, spot, years), self._tick[j])
            for arr in (self._open, self._high, self._low, self._last):
                arr[j] = px
        return self.opening_frames()

    def _build_block(self, inst: np.ndarray, price: np.ndarray) -> _Block:
        """Packet kinds, trades, running state and the records of a block (LTT left for
        :meth:`_Block.serve`)."""
        rng = self._rng
        cfg = self.config
        n = len(inst)
        lot = self._lot[inst]
        tick = self._tick[inst]

        # Packet kind per step.
        u = rng.random(n)
        is_index = self._is_index[inst]
        is_deriv = self._is_deriv[inst]
        kind = np.full(n, int(FeedCode.FULL), dtype=np.int64)
        oi_cut = np.where(is_deriv, cfg.oi_share, 0.0)
        kind[u < oi_cut + cfg.ticker_share + cfg.quote_share] = FeedCode.QUOTE
        kind[u < oi_cut + cfg.ticker_share] = FeedCode.TICKER
        kind[u < oi_cut] = FeedCode.OI
        kind[is_index] = FeedCode.TICKER
        moves = kind != FeedCode.OI  # packets that show a fresh price (index ticks too)
        trades = moves & ~is_index  # packets that carry a trade (LTQ, volume)

        # Trade sizes and OI moves, then per-instrument running state in packet order.
        max_lots = np.where(self._is_stock[inst], cfg.trade_max_lots * 10, cfg.trade_max_lots)
        ltq = np.where(trades, lot * rng.integers(1, max_lots + 1), 0)
        ltq = np.minimum(ltq, _U16_MAX - _U16_MAX % lot)  # u16 on the wire, whole lots
        oi_step = np.where(is_deriv, rng.integers(-5, 6, size=n) * lot, 0)
        st = self._running_state(inst, price, moves, ltq, oi_step)
        volume, turnover, last, high, low, oi, oi_high, oi_low = st
        vol_safe = np.maximum(volume, 1)
        atp = np.where(volume > 0, paise_to_tick_array(turnover / vol_safe, tick).astype(np.int64), 0)

        parts: list[tuple[np.ndarray, np.ndarray]] = []  # (steps, records) per packet kind
        seg, sid = self._seg[inst], self._sid[inst]

        sel = np.flatnonzero(kind == FeedCode.TICKER)
        if sel.size:
            recs = wire.blank_packets(FeedCode.TICKER, sel.size)
            recs["segment"], recs["security_id"] = seg[sel], sid[sel]
            recs["ltp"] = wire.paise_to_f32(last[sel])
            parts.append((sel, recs))

        sel = np.flatnonzero(kind == FeedCode.OI)
        if sel.size:
            recs = wire.blank_packets(FeedCode.OI, sel.size)
            recs["segment"], recs["security_id"] = seg[sel], sid[sel]
            recs["oi"] = oi[sel]
            parts.append((sel, recs))

        for code in (FeedCode.QUOTE, FeedCode.FULL):
            sel = np.flatnonzero(kind == code)
            if not sel.size:
                continue
            m = sel.size
            recs = wire.blank_packets(code, m)
            recs["segment"], recs["security_id"] = seg[sel], sid[sel]
            recs["ltp"] = wire.paise_to_f32(last[sel])
            recs["ltq"] = ltq[sel]
            recs["atp"] = wire.paise_to_f32(atp[sel])
            recs["volume"] = np.minimum(volume[sel], _U32_MAX)
            recs["open"] = wire.paise_to_f32(self._open[inst[sel]])
            recs["high"] = wire.paise_to_f32(high[sel])
            recs["low"] = wire.paise_to_f32(low[sel])
            lots_sel = lot[sel]
            if code == FeedCode.QUOTE:
                recs["total_buy_qty"] = lots_sel * rng.integers(100, 5_000, size=m)
                recs["total_sell_qty"] = lots_sel * rng.integers(100, 5_000, size=m)
            else:
                self._fill_depth(recs, last[sel], tick[sel], lots_sel)
                recs["oi"] = np.where(is_deriv[sel], oi[sel], 0)
                recs["oi_day_high"] = np.where(is_deriv[sel], oi_high[sel], 0)
                recs["oi_day_low"] = np.where(is_deriv[sel], oi_low[sel], 0)
            parts.append((sel, recs))
        return _Block(n, parts)

    def _running_state(
        self,
        inst: np.ndarray,
        price: np.ndarray,
        moves: np.ndarray,
        ltq: np.ndarray,
        oi_step: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        """Per-instrument running figures at each packet, carried over from the last call.

        Vectorised over instruments: packets are sorted by instrument (stable, so time order
        holds within one), running sums subtract the sum before each group, and running max/min
        add a per-group offset far larger than any value so one accumulate never crosses groups.
        Returns volume, turnover, last, high, low, oi, oi_high, oi_low in packet order.
        """
        n = len(inst)
        order = np.argsort(inst, kind="stable")
        g = inst[order]
        first = np.ones(n, dtype=bool)
        first[1:] = g[1:] != g[:-1]
        starts = np.flatnonzero(first)
        grp = np.cumsum(first) - 1
        gstart = starts[grp]
        ends = np.append(starts[1:], n) - 1
        offset = grp.astype(np.int64) << 40  # values stay below 2**40 (paise, units)

        def running_sum(v: np.ndarray, init: np.ndarray) -> np.ndarray:
            c = np.cumsum(v)
            return c - (c - v)[starts][grp] + init[g]

        def running_max(v: np.ndarray, init: np.ndarray) -> np.ndarray:
            return np.maximum(np.maximum.accumulate(v + offset) - offset, init[g])

        def running_min(v: np.ndarray, init: np.ndarray) -> np.ndarray:
            return np.minimum(np.minimum.accumulate(v - offset) + offset, init[g])

        q, p = ltq[order], price[order]
        volume = running_sum(q, self._volume)
        turnover = running_sum(q * p.astype(np.float64), self._turnover)
        # last price at each packet: forward-fill from the packets that move it
        pos = np.where(moves[order], np.arange(n), -1)
        np.maximum.accumulate(pos, out=pos)
        last = np.where(pos >= gstart, p[np.maximum(pos, 0)], self._last[g])
        high = running_max(last, self._high)
        low = running_min(last, self._low)
        oi = np.maximum(running_sum(oi_step[order], self._oi), 0)
        oi_high = running_max(oi, self._oi_high)
        oi_low = running_min(oi, self._oi_low)

        j = g[ends]
        sorted_state = (volume, turnover, last, high, low, oi, oi_high, oi_low)
        stores = (
            self._volume, self._turnover, self._last, self._high, self._low,
            self._oi, self._oi_high, self._oi_low,
        )  # fmt: skip
        out = []
        for values, store in zip(sorted_state, stores):
            store[j] = values[ends]
            unsorted = np.empty_like(values)
            unsorted[order] = values
            out.append(unsorted)
        return tuple(out)

    def _fill_depth(
        self, recs: np.ndarray, last: np.ndarray, tick: np.ndarray, lot: np.ndarray
    ) -> None:
        """5 levels each side around the last price, a 1-3 tick spread, zeros below one tick."""
        rng = self._rng
        m = len(last)
        levels = np.arange(wire.FULL_DEPTH_LEVELS)
        best_bid = last - tick * rng.integers(0, 2, size=m)
        best_ask = best_bid + tick * rng.integers(1, 4, size=m)
        bid_px = best_bid[:, None] - tick[:, None] * levels
        ask_px = best_ask[:, None] + tick[:, None] * levels
        shape = (m, wire.FULL_DEPTH_LEVELS)
        bid_lots = rng.integers(1, self.config.depth_max_lots + 1, size=shape)
        ask_lots = rng.integers(1, self.config.depth_max_lots + 1, size=shape)
        live_bid = bid_px >= tick[:, None]
        bid_lots = np.where(live_bid, bid_lots, 0)
        bid_qty = bid_lots * lot[:, None]
        ask_qty = ask_lots * lot[:, None]
        # 1..min(lots, 30) orders per level; none on an empty level
        bid_orders = np.where(live_bid, rng.integers(1, np.clip(bid_lots, 1, 30) + 1), 0)
        ask_orders = rng.integers(1, np.minimum(ask_lots, 30) + 1)
        depth = recs["depth"]
        depth["bid_price"] = wire.paise_to_f32(np.where(live_bid, bid_px, 0))
        depth["ask_price"] = wire.paise_to_f32(ask_px)
        depth["bid_qty"] = bid_qty
        depth["ask_qty"] = ask_qty
        depth["bid_orders"] = bid_orders
        depth["ask_orders"] = ask_orders
        recs["total_buy_qty"] = bid_qty.sum(axis=1) * rng.integers(3, 20, size=m)
        recs["total_sell_qty"] = ask_qty.sum(axis=1) * rng.integers(3, 20, size=m)


class _Block:
    """Packets generated ahead, served in step order. Each part holds the steps (ascending) and
    records of one packet kind; LTT is written into a record when it is served."""

    def __init__(self, steps: int, parts: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.steps = steps
        self.pos = 0
        self.parts = parts

    @property
    def remaining(self) -> int:
        return self.steps - self.pos

    def serve(self, take: int, ltt_s: np.ndarray) -> list[bytes]:
        """The next ``take`` packets; packet ``i`` gets LTT ``ltt_s[i]`` (epoch seconds)."""
        # Hot path: one slice per packet kind, bytes split per packet.
        a, b = self.pos, self.pos + take
        self.pos = b
        out = np.empty(take, dtype=object)
        for steps, recs in self.parts:
            lo, hi = np.searchsorted(steps, (a, b)).tolist()
            if hi == lo:
                continue
            at = steps[lo:hi] - a
            chunk = recs[lo:hi]
            if "ltt" in chunk.dtype.names:
                chunk["ltt"] = ltt_s[at]
            out[at] = np.fromiter(wire.split_packets(chunk), dtype=object, count=hi - lo)
        return out.tolist()


def _validate(instruments: Sequence[SyntheticInstrument]) -> None:
    seen: set[tuple[int, int]] = set()
    driven = {i.security_id for i in instruments if i.kind in ("index", "stock")}
    for i in instruments:
        where = f"instrument {instrument_label(i.segment, i.security_id)}"
        key = (i.segment, i.security_id)
        if key in seen:
            raise ValueError(f"{where} is listed twice")
        seen.add(key)
        if i.segment not in KNOWN_SEGMENTS:
            raise ValueError(f"{where}: segment {i.segment} is not a Dhan segment")
        if i.tick_paise < 1 or i.lot_size_units < 1:
            raise ValueError(
                f"{where}: tick {i.tick_paise} and lot {i.lot_size_units} must be >= 1"
            )
        if i.start_price_paise < i.tick_paise:
            raise ValueError(
                f"{where}: start price {i.start_price_paise} paise is below one tick"
                f" ({i.tick_paise})"
            )
        if i.kind in ("option", "future") and i.underlying_security_id not in driven:
            raise ValueError(
                f"{where}: underlying {i.underlying_security_id} is not an index or stock"
                " of this market"
            )
        if i.kind == "option" and (i.strike_paise <= 0 or i.option_type not in ("CE", "PE")):
            raise ValueError(
                f"{where}: option needs a positive strike and CE/PE,"
                f" got {i.strike_paise} {i.option_type!r}"
            )
