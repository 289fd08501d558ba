"""Kite ticker binary frames -> ipc.messages Structs. Pure: bytes in, messages out, problems counted.

The layouts are in ``actors.feed.kite_wire``. One packet becomes:

* ltp (8 B): a :class:`Tick` stamped with the receive time (the packet has no time);
* index quote / full (28 / 32 B): a :class:`Quote` with the index's last value and OHLC, trade
  fields (quantity, average, volume, totals) 0;
* quote (44 B): a :class:`Quote`;
* full (184 B): a :class:`Quote` with OI and a :class:`Depth` of both sides, 5 levels.

``ts_event_ns`` is the packet's exchange timestamp (full and index full), else its last-trade time
(full), else the receive time; the wire carries epoch seconds.

Instruments: the instrument token maps to our ``(segment, security_id)`` through the token table
the instrument master gives (``engine.model.instruments.kite_tokens``); a token not in it is
counted as ``UNKNOWN_INSTRUMENT`` and its packet skipped. Prices: the wire integer over the
segment's divisor is rupees, which become paise by the engine's one rule on the instrument's tick
(``engine.model.money.prices_to_paise``); with the usual divisor 100 and a 1-paisa tick the wire
integer already is the paise.

Bad input never raises: each problem is counted by kind in ``stats`` (the Dhan decoder's
:class:`~actors.feed.decode_common.DecodeStats`) and logged on one line with the frame offset; a
packet with a trustworthy length is skipped and the rest of the frame decoded.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from actors.feed import kite_wire as kw
from actors.feed.decode_common import DEFAULT_TICK_PAISE, DecodeProblem, DecoderCore
from engine.model.ist import NS_PER_S
from engine.model.money import prices_to_paise
from ipc.messages import Depth, Message, Quote, Tick

_U16 = kw.PACKET_HEADER.unpack_from
_TOKEN = kw.LTP.unpack_from


class KiteFrameDecoder(DecoderCore):
    """Decodes Kite ticker frames. ``tokens`` maps instrument token -> ``(segment, security_id)``;
    ``tick_paise`` maps ``(segment, security_id)`` -> tick (see ``DecoderCore``). Not thread-safe."""

    def __init__(self, tokens: Mapping[int, tuple[int, int]] | None = None,
                 tick_paise: Mapping[tuple[int, int], int] | None = None) -> None:
        super().__init__(tick_paise)
        self.tokens: dict[int, tuple[int, int]] = dict(tokens or {})
        self.heartbeats = 0

    def set_tokens(self, tokens: Mapping[int, tuple[int, int]]) -> None:
        """Replace the token table (a new instrument master)."""
        self.tokens = dict(tokens)

    def decode_frames(self, frames: Sequence[bytes], ts_init_ns: Sequence[int]) -> list[Message]:
        """Messages of many frames, in order; ``ts_init_ns[i]`` is the receive time of
        ``frames[i]``. Raises ValueError only when the two differ in length."""
        if len(frames) != len(ts_init_ns):
            raise ValueError(f"{len(frames)} frames but {len(ts_init_ns)} receive timestamps")
        out: list[Message] = []
        for data, ts in zip(frames, ts_init_ns):
            out += self.decode_frame(data, int(ts))
        return out

    def decode_frame(self, data: bytes | bytearray | memoryview, ts_init_ns: int | None = None,
                     feed: str = "kite") -> list[Message]:
        """Messages of one websocket binary frame, in packet order. Never raises for bad bytes.
        ``ts_init_ns`` (receive time, UTC epoch ns) defaults to ``time.time_ns()``. ``feed`` is
        there so that both decoders take the same call (``actors.feed.decoders``): anything but
        "kite" raises ValueError."""
        # Hot path: once per received frame.
        if feed != "kite":
            raise ValueError(f"the Kite decoder reads the 'kite' feed, not {feed!r}")
        if ts_init_ns is None:
            ts_init_ns = time.time_ns()
        if type(data) is not bytes:
            data = bytes(data)
        self.stats.frames += 1
        n = len(data)
        if n < 2:
            if n == kw.HEARTBEAT_SIZE:
                self.heartbeats += 1
            else:
                self.problem(DecodeProblem.EMPTY_FRAME, -1, 0, 0, "no bytes")
            return []
        (count,) = _U16(data, 0)
        out: list[Message] = []
        off = 2
        for i in range(count):
            if off + 2 > n:
                self.problem(DecodeProblem.TRUNCATED, -1, off, n,
                             f"packet {i + 1} of {count}: {n - off} bytes left, a length needs 2")
                return out
            (length,) = _U16(data, off)
            off += 2
            if off + length > n:
                self.problem(DecodeProblem.TRUNCATED, -1, off, n,
                             f"packet {i + 1} of {count}: length {length} with {n - off} bytes left")
                return out
            self._packet(data, off, length, ts_init_ns, out)
            off += length
        if off != n:
            self.problem(DecodeProblem.TRAILING_BYTES, -1, off, n,
                         f"{n - off} bytes after the {count} packets the frame announced")
        return out

    def _packet(self, data: bytes, off: int, length: int, ts_init_ns: int, out: list[Message]) -> None:
        # Hot path: one packet -> message(s), appended to ``out``.
        if length not in kw.PACKET_SIZES:
            self.problem(DecodeProblem.LENGTH_MISMATCH, -1, off, len(data),
                         f"packet length {length} is no Kite mode's (8, 28, 32, 44, 184); skipped")
            return
        token = _TOKEN(data, off)[0]
        ids = self.tokens.get(token)
        if ids is None:
            self.problem(DecodeProblem.UNKNOWN_INSTRUMENT, -1, off, len(data),
                         f"instrument token {token} is not in the instrument table; skipped")
            return
        seg, sid = ids
        divisor = kw.price_divisor(token)
        tick = self.tick_map.get(ids, DEFAULT_TICK_PAISE)
        if length == kw.LTP_SIZE:
            out.append(Tick(seg, sid, _paise(_TOKEN(data, off)[1:], divisor, tick)[0], ts_init_ns, ts_init_ns))
            n_msgs = 1
        elif length == kw.QUOTE_SIZE or length == kw.FULL_SIZE:
            if length == kw.QUOTE_SIZE:
                r = kw.QUOTE.unpack_from(data, off)
                ts_event = ts_init_ns
                oi = (0, 0, 0)
            else:
                r = kw.FULL_HEAD.unpack_from(data, off)
                ltt_s, exch_s = r[11], r[15]
                ts_event = exch_s * NS_PER_S if exch_s else ltt_s * NS_PER_S if ltt_s else ts_init_ns
                oi = r[12:15]
            _t, ltp, ltq, atp, vol, buy_qty, sell_qty, o, h, lo, c = r[:11]
            p = _paise((ltp, atp, o, c, h, lo), divisor, tick)
            out.append(Quote(seg, sid, p[0], ltq, p[1], vol, sell_qty, buy_qty, p[2], p[3], p[4], p[5],
                             ts_event, ts_init_ns, oi[0], oi[1], oi[2]))
            n_msgs = 1
            if length == kw.FULL_SIZE:
                d = kw.DEPTH.unpack_from(data, off + kw.DEPTH_OFFSET)
                # 10 entries of (qty, price, orders): bids d[0:15], asks d[15:30]
                prices = _paise(d[1::3], divisor, tick)
                out.append(Depth(seg, sid, "both", prices[:5], list(d[0:15:3]), list(d[2:15:3]),
                                 prices[5:], list(d[15::3]), list(d[17::3]), ts_event, ts_init_ns))
                n_msgs = 2
        else:  # index quote (28) or index full (32)
            if length == kw.INDEX_FULL_SIZE:
                r = kw.INDEX_FULL.unpack_from(data, off)
                ts_event = r[7] * NS_PER_S if r[7] else ts_init_ns
            else:
                r = kw.INDEX_QUOTE.unpack_from(data, off)
                ts_event = ts_init_ns
            _t, ltp, h, lo, o, c = r[:6]
            p = _paise((ltp, o, c, h, lo), divisor, tick)
            out.append(Quote(seg, sid, p[0], 0, 0, 0, 0, 0, p[1], p[2], p[3], p[4], ts_event, ts_init_ns))
            n_msgs = 1
        self.stats.packets += 1
        self.stats.extra_messages += n_msgs - 1


def _paise(values: Sequence[int], divisor: int, tick_paise: int) -> list[int]:
    """Wire integers -> paise on the tick. Hot path (per packet)."""
    if divisor == kw.PAISE_DIVISOR and tick_paise == 1:
        return list(values)  # the wire integer is paise already
    return prices_to_paise([v / divisor for v in values], tick_paise)
