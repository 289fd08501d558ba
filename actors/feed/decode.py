"""Dhan binary feed -> ipc.messages Structs. Pure: bytes in, messages out, problems counted.

Two entry points share one walker (packet boundaries and problem accounting) and the dtypes of
``actors.feed.wire``:

* :meth:`FrameDecoder.decode_frame` for the live path: one websocket frame (usually one packet on
  the 5-level feed, up to 100 stacked side packets on the depth feed). Small frames are decoded
  record by record (``np.frombuffer(..., count=1).tolist()``), which costs a few microseconds;
  larger frames go through the columnar path.
* :meth:`FrameDecoder.decode_frames` / :meth:`FrameDecoder.decode_frames_columnar` /
  :meth:`FrameDecoder.decode_buffer_columnar` for replay and backtests: the frames sit back to
  back in one buffer, a vectorised check finds the frames that are exactly one well-formed packet
  (the rest go through the walker), packets of one code are gathered with a single fancy index
  and converted column-wise, and the messages are put back in packet order.

Both paths give identical messages (a property test holds them to it).

Prices: Dhan sends float32 (float64 on the depth feed) rupees. They become integer paise exactly
once, here, by the engine's one float -> paise rule (``engine.model.money.prices_to_paise`` and its numpy
form: ``rint(price_f64 * 100 / tick) * tick``, ties to even) with the instrument's tick in paise
(default 1).
A packet carrying a NaN, an infinity or a price beyond +/-2**50 paise is dropped and counted.

Times: ``ts_event_ns`` is LTT (epoch seconds) * 1e9 for ticker/index/quote/full packets; with
``ltt_epoch_is_ist=True`` 19 800 s are subtracted (third parties report the feed's epoch is IST
wall-clock; unverified). A packet without LTT, or with LTT 0 (no trade yet), takes
``ts_event_ns = ts_init_ns``.

Bad input never raises: each problem is counted by kind in :attr:`FrameDecoder.stats`, logged on
one line (``shikra.feed.decode``) with the frame offset, and the rest of the frame is decoded when
the length field can be trusted to skip the bad packet.
"""

from __future__ import annotations

import enum
import gc
import itertools
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from actors.feed import wire
from actors.feed.wire import DepthCode, FeedCode
from engine.model.money import prices_to_paise, prices_to_paise_array
from ipc.messages import (
    Depth,
    FeedDisconnected,
    MarketStatus,
    Message,
    OpenInterest,
    PrevClose,
    Quote,
    Tick,
)
from ipc.segments import KNOWN_SEGMENTS, instrument_key, instrument_label

log = logging.getLogger("shikra.feed.decode")

FeedKind = Literal["market", "depth20", "depth200"]
FEED_KINDS: frozenset[str] = frozenset(("market", "depth20", "depth200"))
Columns = dict[str, np.ndarray]

IST_OFFSET_S = 19_800
MAX_ABS_PRICE_PAISE = 2**50  # far beyond any real price; keeps float64 tick products exact
_NS_PER_S = 1_000_000_000
DEFAULT_TICK_PAISE = 1
# Frames with at least this many packets take the columnar path in decode_frame.
COLUMNAR_MIN_PACKETS = 8


class DecodeProblem(enum.Enum):
    """Why (part of) a frame was not decoded."""

    EMPTY_FRAME = "empty_frame"  # a frame of zero bytes
    TRUNCATED = "truncated"  # frame ends inside a header or a packet whose length is right
    BAD_LENGTH = "bad_length"  # length under a header or past the frame's end: rest dropped
    LENGTH_MISMATCH = "length_mismatch"  # length in bounds but not the code's size: packet skipped
    UNKNOWN_CODE = "unknown_code"  # response code not in the protocol: packet skipped
    UNKNOWN_SEGMENT = "unknown_segment"  # exchange segment not in the enum: packet skipped
    UNSUPPORTED_PACKET = "unsupported_packet"  # documented but not decoded (v1 depth, odd index)
    BAD_PRICE = "bad_price"  # NaN, infinity or absurd magnitude: packet dropped


@dataclass(slots=True)
class DecodeStats:
    """Running counters of one FrameDecoder (mutable; read them, do not write them)."""

    frames: int = 0
    packets: int = 0  # packets that became messages
    messages: int = 0
    problems: Counter[DecodeProblem] = field(default_factory=Counter)

    @property
    def problem_total(self) -> int:
        return sum(self.problems.values())


# --------------------------------------------------------------------------------------------
# Lookup tables for the walker and the single-packet fast check
# --------------------------------------------------------------------------------------------

# Size the 5-level decoder accepts per code (status: minimum; index: only ticker-shaped).
_MARKET_SIZE: dict[int, int] = {int(c): s for c, s in wire.PACKET_SIZE.items()}
# Sizes that are known but not decoded, used to tell "truncated" from "bad length".
_MARKET_KNOWN_SIZE: dict[int, int] = {
    **_MARKET_SIZE,
    int(FeedCode.MARKET_DEPTH_V1): wire.MARKET_DEPTH_V1_SIZE,
}
_SEGMENT_OK = np.zeros(256, dtype=bool)
_SEGMENT_OK[list(KNOWN_SEGMENTS)] = True
_SEGMENT_OK_PY: tuple[bool, ...] = tuple(_SEGMENT_OK.tolist())  # scalar lookups in the walker
# Plain-int codes for the per-packet paths (cheaper to compare than enum members).
_INDEX, _TICKER, _QUOTE = int(FeedCode.INDEX), int(FeedCode.TICKER), int(FeedCode.QUOTE)
_OI, _PREV_CLOSE = int(FeedCode.OI), int(FeedCode.PREV_CLOSE)
_STATUS, _FULL = int(FeedCode.MARKET_STATUS), int(FeedCode.FULL)
_DISCONNECT = int(FeedCode.DISCONNECT)  # 50 on both feeds (DepthCode.DISCONNECT too)
_BID, _ASK = int(DepthCode.BID), int(DepthCode.ASK)
_EXPECTED_SIZE_LUT = np.full(256, -1, dtype=np.int64)
for _code, _size in _MARKET_SIZE.items():
    _EXPECTED_SIZE_LUT[_code] = _size
_IS_DISCONNECT_LUT = np.zeros(256, dtype=bool)
_IS_DISCONNECT_LUT[int(FeedCode.DISCONNECT)] = True
_MSGS_PER_PACKET_LUT = np.ones(256, dtype=np.int64)
_MSGS_PER_PACKET_LUT[int(FeedCode.FULL)] = 2  # Quote + Depth

# Depth-feed packets get pseudo-codes so that one code space covers both feeds (the depth feed's
# disconnect is 50 like the 5-level one, with another layout; bid 41 and ask 51 share a layout).
_DEPTH_BASE = 100
_PC_DEPTH_SIDE = _DEPTH_BASE + 1  # 20/200-level bid or ask
_PC_DEPTH_DISCONNECT = _DEPTH_BASE + 2

_QUOTE_PRICES = ("ltp", "atp", "open", "close", "high", "low")
# Segment and security id sit at the same offsets in both header shapes.
_SEG_SID_DTYPE = np.dtype(
    {
        "names": ["segment", "security_id"],
        "formats": ["u1", "<u4"],
        "offsets": [3, 4],
        "itemsize": 8,
    }
)

# The full packet with its 5 depth levels flattened into 30 top-level fields (level by level, in
# wire order): one ``tolist()`` gives plain Python scalars (a nested sub-array would give numpy
# scalars), and strided tuple slices pick each depth column.
_LEVEL_FIELDS = wire.FULL_LEVEL_DTYPE.names
_SUMMARY_FIELDS = [n for n in wire.FULL_DTYPE.names if n != "depth"]
_LEVELS = range(wire.FULL_DEPTH_LEVELS)
_FULL_FLAT_DTYPE = np.dtype(
    {
        "names": _SUMMARY_FIELDS + [f"{f}_{i}" for i in _LEVELS for f in _LEVEL_FIELDS],
        "formats": [wire.FULL_DTYPE.fields[n][0] for n in _SUMMARY_FIELDS]
        + [wire.FULL_LEVEL_DTYPE.fields[f][0] for _ in _LEVELS for f in _LEVEL_FIELDS],
        "offsets": [wire.FULL_DTYPE.fields[n][1] for n in _SUMMARY_FIELDS]
        + [
            wire.FULL_DEPTH_OFFSET
            + i * wire.FULL_DEPTH_LEVEL_SIZE
            + wire.FULL_LEVEL_DTYPE.fields[f][1]
            for i in _LEVELS
            for f in _LEVEL_FIELDS
        ],
        "itemsize": wire.FULL_SIZE,
    }
)
_DEPTH0 = len(wire.FULL_DTYPE.names) - 1  # index of the first depth value in a flat record
_NL = len(_LEVEL_FIELDS)


class FrameDecoder:
    """Decodes Dhan feed frames into messages; holds the tick table and the problem counters.

    ``tick_paise`` maps ``(segment, security_id)`` to the instrument's tick in paise; prices of
    instruments not in it round to the nearest paisa. Raises ValueError for a tick below 1.
    Not thread-safe (the counters are per instance).
    """

    def __init__(
        self,
        tick_paise: Mapping[tuple[int, int], int] | None = None,
        *,
        ltt_epoch_is_ist: bool = False,
    ) -> None:
        self.stats = DecodeStats()
        self._ist_offset_ns = IST_OFFSET_S * _NS_PER_S if ltt_epoch_is_ist else 0
        self._tick_map: dict[tuple[int, int], int] = {}
        self._tick_hash = _TickHash({})
        self.set_tick_sizes(tick_paise or {})

    # ---------------------------------------------------------------------------------------
    # Configuration
    # ---------------------------------------------------------------------------------------

    def set_tick_sizes(self, tick_paise: Mapping[tuple[int, int], int]) -> None:
        """Replace the tick table. Raises ValueError for a tick that is not a positive integer."""
        table: dict[tuple[int, int], int] = {}
        for (segment, security_id), tick in tick_paise.items():
            if not (0 <= segment < 256 and 0 <= security_id < 2**32):
                raise ValueError(
                    f"tick table key ({segment}, {security_id}) is not a (u8 segment,"
                    " u32 security id) pair"
                )
            if not isinstance(tick, (int, np.integer)) or tick < 1:
                raise ValueError(
                    f"tick for {instrument_label(segment, security_id)} is {tick!r};"
                    " it must be a positive integer number of paise"
                )
            table[(int(segment), int(security_id))] = int(tick)
        self._tick_map = table
        self._tick_hash = _TickHash(table)

    def tick_for(self, segment: int, security_id: int) -> int:
        """Tick in paise used to round this instrument's prices."""
        return self._tick_map.get((segment, security_id), DEFAULT_TICK_PAISE)

    # ---------------------------------------------------------------------------------------
    # Live path: one frame
    # ---------------------------------------------------------------------------------------

    def decode_frame(
        self,
        data: bytes | bytearray | memoryview,
        ts_init_ns: int | None = None,
        feed: FeedKind = "market",
    ) -> list[Message]:
        """Messages of one websocket frame, in packet order. Never raises for bad bytes.

        ``ts_init_ns`` (receive time, ns since the epoch, UTC) defaults to ``time.time_ns()``.
        ``feed`` says which header shape the frame uses: "market" (5-level feed), "depth20" or
        "depth200" (full-depth feeds); any other value raises ValueError.
        """
        # Hot path: runs once per received frame.
        if feed not in FEED_KINDS:
            raise ValueError(f"feed must be one of {sorted(FEED_KINDS)}, got {feed!r}")
        if ts_init_ns is None:
            ts_init_ns = time.time_ns()
        if type(data) is not bytes:
            data = bytes(data)
        self.stats.frames += 1
        packets = self._walk(data, feed, -1)
        if not packets:
            return []
        if len(packets) >= COLUMNAR_MIN_PACKETS and feed != "depth200":
            arr = np.array(packets, dtype=np.int64)
            frame = np.zeros(len(arr), dtype=np.int64)
            batch = self._columnar_arrays(
                data, arr[:, 0], arr[:, 1], arr[:, 2], frame,
                np.array([ts_init_ns], dtype=np.int64), np.zeros(1, np.int64),
                np.array([len(data)]), np.array([-1]), feed,
            )
            return batch.to_messages()
        out: list[Message] = []
        for offset, pcode, length in packets:
            self._decode_one(data, offset, pcode, length, ts_init_ns, out)
        return out

    # ---------------------------------------------------------------------------------------
    # Batch path: many frames
    # ---------------------------------------------------------------------------------------

    def decode_frames(
        self,
        frames: Sequence[bytes],
        ts_init_ns: Sequence[int] | np.ndarray,
        feed: FeedKind = "market",
    ) -> list[Message]:
        """Messages of many frames, in frame then packet order (replay / backtest speed).

        ``ts_init_ns[i]`` is the receive time of ``frames[i]``. Raises ValueError only when the
        two sequences differ in length; bad bytes are counted, never raised.
        """
        return self.decode_frames_columnar(frames, ts_init_ns, feed).to_messages()

    def decode_frames_columnar(
        self,
        frames: Sequence[bytes],
        ts_init_ns: Sequence[int] | np.ndarray,
        feed: FeedKind = "market",
    ) -> DecodedBatch:
        """Like :meth:`decode_frames`, but returns numpy columns per message kind (see
        :class:`DecodedBatch`) without building a Struct per message."""
        n_frames = len(frames)
        lens = np.fromiter(map(len, frames), dtype=np.int64, count=n_frames)
        return self.decode_buffer_columnar(b"".join(frames), lens, ts_init_ns, feed)

    def decode_buffer_columnar(
        self,
        buf: bytes | memoryview,
        frame_lengths: Sequence[int] | np.ndarray,
        ts_init_ns: Sequence[int] | np.ndarray,
        feed: FeedKind = "market",
    ) -> DecodedBatch:
        """Columnar decode of frames stored back to back in ``buf`` (as a capture file holds
        them): frame ``i`` is the next ``frame_lengths[i]`` bytes, received at ``ts_init_ns[i]``.

        Raises ValueError when the lengths and timestamps differ in count, the lengths do not
        add up to ``len(buf)`` or ``feed`` is unknown; bad bytes inside frames are counted,
        never raised.
        """
        if feed not in FEED_KINDS:
            raise ValueError(f"feed must be one of {sorted(FEED_KINDS)}, got {feed!r}")
        lens = np.asarray(frame_lengths, dtype=np.int64)
        n_frames = lens.size
        ts = np.asarray(ts_init_ns, dtype=np.int64)
        if ts.shape != (n_frames,):
            raise ValueError(f"{n_frames} frames but {ts.size} receive timestamps")
        total = int(lens.sum())
        if total != len(buf) or (lens < 0).any():
            raise ValueError(f"frame lengths add up to {total} bytes, the buffer holds {len(buf)}")
        self.stats.frames += n_frames
        if n_frames == 0:
            return DecodedBatch.empty()
        starts = np.cumsum(lens) - lens
        packets: list[tuple[int, int, int]] = []
        frame_of: list[int] = []
        if feed == "market":
            fast_off, fast_code, fast_frame, slow = self._single_packet_frames(buf, starts, lens)
        else:
            fast_off = fast_code = fast_frame = np.empty(0, dtype=np.int64)
            slow = np.arange(n_frames)
        for i in slow.tolist():
            base = int(starts[i])
            found = self._walk(bytes(buf[base : base + int(lens[i])]), feed, i)
            packets.extend((base + off, pc, ln) for off, pc, ln in found)
            frame_of.extend(itertools.repeat(i, len(found)))
        if packets:
            slow_arr = np.array(packets, dtype=np.int64).reshape(-1, 3)
            off = np.concatenate([fast_off, slow_arr[:, 0]])
            code = np.concatenate([fast_code, slow_arr[:, 1]])
            length = np.concatenate([_sizes_of(fast_code), slow_arr[:, 2]])
            frame = np.concatenate([fast_frame, np.array(frame_of, dtype=np.int64)])
            order = np.argsort(off, kind="stable")
            off, code, length, frame = off[order], code[order], length[order], frame[order]
        else:
            off, code, frame = fast_off, fast_code, fast_frame
            length = _sizes_of(fast_code)
        return self._columnar_arrays(
            buf, off, code, length, frame, ts, starts, lens, np.arange(n_frames), feed
        )

    # ---------------------------------------------------------------------------------------
    # Walking a frame: packet boundaries and problem accounting (shared by both paths)
    # ---------------------------------------------------------------------------------------

    def _problem(
        self, kind: DecodeProblem, frame: int, offset: int, size: int, detail: str
    ) -> None:
        self.stats.problems[kind] += 1
        where = f"frame {frame} " if frame >= 0 else ""
        log.warning(
            "feed decode %s: %soffset %d of a %d-byte frame: %s",
            kind.value,
            where,
            offset,
            size,
            detail,
        )

    def _walk(self, data: bytes, feed: FeedKind, frame: int) -> list[tuple[int, int, int]]:
        """``(offset, pseudo_code, length)`` of each well-formed packet of one frame."""
        if feed == "market":
            return self._walk_market(data, frame)
        return self._walk_depth(data, feed, frame)

    def _walk_market(self, data: bytes, frame: int) -> list[tuple[int, int, int]]:
        # Hot path: one pass over the headers of a frame.
        n = len(data)
        if n == 0:
            self._problem(DecodeProblem.EMPTY_FRAME, frame, 0, 0, "no bytes")
            return []
        found: list[tuple[int, int, int]] = []
        off = 0
        while off < n:
            rem = n - off
            if rem < wire.HEADER_SIZE:
                self._problem(
                    DecodeProblem.TRUNCATED, frame, off, n,
                    f"{rem} bytes left, a header needs {wire.HEADER_SIZE}",
                )
                break
            code = data[off]
            length = data[off + 1] | (data[off + 2] << 8)
            known = _MARKET_KNOWN_SIZE.get(code)
            if length < wire.HEADER_SIZE or length > rem:
                if known is not None and length == known and length > rem:
                    kind = DecodeProblem.TRUNCATED
                else:
                    kind = DecodeProblem.BAD_LENGTH
                self._problem(
                    kind, frame, off, n,
                    f"code {code} length {length} with {rem} bytes left; rest of frame dropped",
                )
                break
            expected = _MARKET_SIZE.get(code)
            if expected is None:
                if known is None:
                    self._problem(
                        DecodeProblem.UNKNOWN_CODE, frame, off, n,
                        f"response code {code}, {length} bytes skipped",
                    )
                else:
                    self._problem(
                        DecodeProblem.UNSUPPORTED_PACKET, frame, off, n,
                        f"response code {code} is not decoded, {length} bytes skipped",
                    )
            elif length != expected and not (
                code == _STATUS and length > expected
            ):
                kind = (
                    DecodeProblem.UNSUPPORTED_PACKET
                    if code == _INDEX
                    else DecodeProblem.LENGTH_MISMATCH
                )
                self._problem(
                    kind, frame, off, n,
                    f"code {code} length {length}, expected {expected}; packet skipped",
                )
            elif code != _DISCONNECT and not _SEGMENT_OK_PY[data[off + 3]]:
                self._problem(
                    DecodeProblem.UNKNOWN_SEGMENT, frame, off, n,
                    f"code {code} segment {data[off + 3]}; packet skipped",
                )
            else:
                found.append((off, code, length))
            off += length
        return found

    def _walk_depth(self, data: bytes, feed: FeedKind, frame: int) -> list[tuple[int, int, int]]:
        # Hot path: one pass over the headers of a depth frame (up to 100 stacked packets).
        n = len(data)
        if n == 0:
            self._problem(DecodeProblem.EMPTY_FRAME, frame, 0, 0, "no bytes")
            return []
        found: list[tuple[int, int, int]] = []
        hdr = wire.DEPTH_HEADER_SIZE
        off = 0
        while off < n:
            rem = n - off
            if rem < hdr:
                self._problem(
                    DecodeProblem.TRUNCATED, frame, off, n,
                    f"{rem} bytes left, a depth header needs {hdr}",
                )
                break
            length = data[off] | (data[off + 1] << 8)
            code = data[off + 2]
            rows = int.from_bytes(data[off + 8 : off + 12], "little")
            if feed == "depth20":
                side_size = wire.DEPTH20_SIZE
            else:
                side_size = hdr + rows * wire.DEPTH_ROW_SIZE
            if length < hdr or length > rem:
                truncated = (
                    length > rem
                    and (code == _BID or code == _ASK)
                    and length == side_size
                    and (feed == "depth20" or rows <= wire.DEPTH200_MAX_ROWS)
                )
                self._problem(
                    DecodeProblem.TRUNCATED if truncated else DecodeProblem.BAD_LENGTH,
                    frame, off, n,
                    f"depth code {code} length {length} with {rem} bytes left;"
                    " rest of frame dropped",
                )
                break
            if code == _DISCONNECT:
                found.append((off, _PC_DEPTH_DISCONNECT, length))
            elif code != _BID and code != _ASK:
                self._problem(
                    DecodeProblem.UNKNOWN_CODE, frame, off, n,
                    f"depth response code {code}, {length} bytes skipped",
                )
            elif length != side_size or (feed == "depth200" and rows > wire.DEPTH200_MAX_ROWS):
                self._problem(
                    DecodeProblem.LENGTH_MISMATCH, frame, off, n,
                    f"depth code {code} length {length}, expected {side_size}"
                    f" ({feed}, {rows} rows in header); packet skipped",
                )
            elif not _SEGMENT_OK_PY[data[off + 3]]:
                self._problem(
                    DecodeProblem.UNKNOWN_SEGMENT, frame, off, n,
                    f"depth code {code} segment {data[off + 3]}; packet skipped",
                )
            else:
                found.append((off, _PC_DEPTH_SIDE, length))
            off += length
        return found

    def _single_packet_frames(
        self, buf: bytes, starts: np.ndarray, lens: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Vectorised check of the common case on the 5-level feed: a frame that is exactly one
        well-formed packet. Returns the offsets, codes and frame indexes of those, and the
        indexes of the other frames (left to the walker)."""
        u8 = np.frombuffer(buf, dtype=np.uint8)
        cand = np.flatnonzero(lens >= wire.HEADER_SIZE)
        s = starts[cand]
        code = u8[s].astype(np.int64)
        length = u8[s + 1].astype(np.int64) | (u8[s + 2].astype(np.int64) << 8)
        ok = (
            (length == lens[cand])
            & (_EXPECTED_SIZE_LUT[code] == length)
            & (_SEGMENT_OK[u8[s + 3]] | _IS_DISCONNECT_LUT[code])
        )
        slow_mask = np.ones(len(lens), dtype=bool)
        slow_mask[cand[ok]] = False
        return s[ok], code[ok], cand[ok], np.flatnonzero(slow_mask)

    # ---------------------------------------------------------------------------------------
    # Record-by-record decode (small frames on the live path)
    # ---------------------------------------------------------------------------------------

    def _paise(self, prices: list[float], segment: int, security_id: int) -> list[int] | None:
        """Prices (rupees) -> paise on the instrument's tick; None if any is not a sane number."""
        # Hot path: the same rule as the columnar path (engine.model.money).
        try:
            out = prices_to_paise(prices, self._tick_map.get((segment, security_id), DEFAULT_TICK_PAISE))
        except ValueError:  # NaN, infinity
            return None
        for v in out:
            if v > MAX_ABS_PRICE_PAISE or v < -MAX_ABS_PRICE_PAISE:
                return None
        return out

    def _event_ns(self, ltt_s: int, ts_init_ns: int) -> int:
        return ltt_s * _NS_PER_S - self._ist_offset_ns if ltt_s else ts_init_ns

    def _bad_price(self, frame: int, offset: int, size: int, code: int) -> None:
        self._problem(
            DecodeProblem.BAD_PRICE, frame, offset, size,
            f"code {code} carries a NaN, infinite or out-of-range price; packet dropped",
        )

    def _decode_one(
        self, data: bytes, off: int, code: int, length: int, ts_init_ns: int, out: list[Message]
    ) -> None:
        # Hot path: one packet -> message(s), appended to ``out``.
        if code == _FULL:
            (r,) = np.frombuffer(data, _FULL_FLAT_DTYPE, 1, off).tolist()
            head = r[:_DEPTH0]
            _c, _l, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, oi, oih, oil, o, c, h, lo = head
            # wire order within a level: bid_qty, ask_qty, bid_orders, ask_orders, bid_px, ask_px
            paise = self._paise(
                [ltp, atp, o, c, h, lo, *r[_DEPTH0 + 4 :: _NL], *r[_DEPTH0 + 5 :: _NL]], seg, sid
            )
            if paise is None:
                self._bad_price(-1, off, len(data), code)
                return
            ts_event = self._event_ns(ltt, ts_init_ns)
            out.append(
                Quote(
                    seg, sid, paise[0], ltq, paise[1], vol, tsq, tbq, paise[2], paise[3],
                    paise[4], paise[5], ts_event, ts_init_ns, oi, oih, oil,
                )
            )
            out.append(
                Depth(
                    seg, sid, "both",
                    paise[6:11], list(r[_DEPTH0::_NL]), list(r[_DEPTH0 + 2 :: _NL]),
                    paise[11:16], list(r[_DEPTH0 + 1 :: _NL]), list(r[_DEPTH0 + 3 :: _NL]),
                    ts_event, ts_init_ns,
                )
            )
        elif code == _QUOTE:
            (r,) = np.frombuffer(data, wire.QUOTE_DTYPE, 1, off).tolist()
            _c, _l, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, o, c, h, lo = r
            paise = self._paise([ltp, atp, o, c, h, lo], seg, sid)
            if paise is None:
                self._bad_price(-1, off, len(data), code)
                return
            out.append(
                Quote(
                    seg, sid, paise[0], ltq, paise[1], vol, tsq, tbq, paise[2], paise[3],
                    paise[4], paise[5], self._event_ns(ltt, ts_init_ns), ts_init_ns,
                )
            )
        elif code == _TICKER or code == _INDEX:
            (r,) = np.frombuffer(data, wire.TICKER_DTYPE, 1, off).tolist()
            _c, _l, seg, sid, ltp, ltt = r
            paise = self._paise([ltp], seg, sid)
            if paise is None:
                self._bad_price(-1, off, len(data), code)
                return
            out.append(Tick(seg, sid, paise[0], self._event_ns(ltt, ts_init_ns), ts_init_ns))
        elif code == _OI:
            (r,) = np.frombuffer(data, wire.OI_DTYPE, 1, off).tolist()
            out.append(OpenInterest(r[2], r[3], r[4], ts_init_ns, ts_init_ns))
        elif code == _PREV_CLOSE:
            (r,) = np.frombuffer(data, wire.PREV_CLOSE_DTYPE, 1, off).tolist()
            _c, _l, seg, sid, prev_close, prev_oi = r
            paise = self._paise([prev_close], seg, sid)
            if paise is None:
                self._bad_price(-1, off, len(data), code)
                return
            out.append(PrevClose(seg, sid, paise[0], prev_oi, ts_init_ns, ts_init_ns))
        elif code == _STATUS:
            (r,) = np.frombuffer(data, wire.HEADER_DTYPE, 1, off).tolist()
            out.append(MarketStatus(r[2], r[3], ts_init_ns, ts_init_ns))
        elif code == _DISCONNECT:
            (r,) = np.frombuffer(data, wire.DISCONNECT_DTYPE, 1, off).tolist()
            reason = r[4]
            out.append(
                FeedDisconnected(
                    reason, wire.disconnect_reason_name(reason), ts_init_ns, ts_init_ns
                )
            )
        elif code == _PC_DEPTH_SIDE:
            (h,) = np.frombuffer(data, wire.DEPTH_HEADER_DTYPE, 1, off).tolist()
            _l, dcode, seg, sid, _seq = h
            n_rows = (length - wire.DEPTH_HEADER_SIZE) // wire.DEPTH_ROW_SIZE  # walker-checked
            rows = np.frombuffer(
                data, wire.DEPTH_ROW_DTYPE, n_rows, off + wire.DEPTH_HEADER_SIZE
            ).tolist()
            paise = self._paise([r[0] for r in rows], seg, sid)
            if paise is None:
                self._bad_price(-1, off, len(data), dcode)
                return
            qty = [r[1] for r in rows]
            orders = [r[2] for r in rows]
            if dcode == _BID:
                out.append(
                    Depth(seg, sid, "bid", paise, qty, orders, [], [], [], ts_init_ns, ts_init_ns)
                )
            else:
                out.append(
                    Depth(seg, sid, "ask", [], [], [], paise, qty, orders, ts_init_ns, ts_init_ns)
                )
        elif code == _PC_DEPTH_DISCONNECT:
            reason = _depth_disconnect_reason(data, off, length)
            out.append(
                FeedDisconnected(
                    reason, wire.disconnect_reason_name(reason), ts_init_ns, ts_init_ns
                )
            )
        else:  # the walker only hands over codes handled above
            return
        self.stats.packets += 1
        self.stats.messages += 2 if code == _FULL else 1

    # ---------------------------------------------------------------------------------------
    # Columnar decode (batches)
    # ---------------------------------------------------------------------------------------

    def _columnar_arrays(
        self,
        buf: bytes,
        off: np.ndarray,
        code: np.ndarray,
        length: np.ndarray,
        frame: np.ndarray,
        ts: np.ndarray,
        starts: np.ndarray,
        lens: np.ndarray,
        labels: np.ndarray,
        feed: FeedKind,
    ) -> DecodedBatch:
        """Decode the packets at ``off`` (absolute offsets in ``buf``; ``frame`` indexes the
        per-frame arrays ``ts``, ``starts``, ``lens``, ``labels``) grouped by code."""
        n_pkt = len(off)
        if n_pkt == 0:
            return DecodedBatch.empty()
        ts_init = ts[frame]
        where = _Where(frame, starts, lens, labels)
        u8 = np.frombuffer(buf, dtype=np.uint8)
        tick_all = None
        if self._tick_map:  # both header shapes keep segment at 3, security id at 4
            ids = _gather(u8, off, _SEG_SID_DTYPE)
            tick_all = self._tick_hash.lookup(ids["segment"], ids["security_id"])
        keep = np.ones(n_pkt, dtype=bool)
        parts: dict[str, list[Columns]] = {k: [] for k in DecodedBatch.KINDS}
        for pc in np.unique(code).tolist():
            pkt = np.flatnonzero(code == pc)
            tick = tick_all[pkt] if tick_all is not None else None
            self._decode_group(u8, pc, pkt, off, length, ts_init, tick, where, keep, parts, feed)
        msgs_per = np.where(keep, _msgs_per_packet(code), 0)
        pos = np.cumsum(msgs_per) - msgs_per
        tables: dict[str, Columns] = {}
        for kind, plist in parts.items():
            plist = [p for p in plist if p["pkt"].size]
            if not plist:
                tables[kind] = {}
                continue
            cols = {
                k: np.concatenate([p[k] for p in plist]) if len(plist) > 1 else plist[0][k]
                for k in plist[0]
            }
            pk = cols.pop("pkt")
            cols["seq"] = pos[pk] + (1 if kind == "depths" else 0)
            cols["frame"] = frame[pk]
            tables[kind] = cols
        n_ok = int(keep.sum())
        n_msgs = int(msgs_per.sum())
        self.stats.packets += n_ok
        self.stats.messages += n_msgs
        return DecodedBatch(n_messages=n_msgs, **tables)

    def _prices_to_paise(
        self, px: np.ndarray, tick: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(m, k) rupee prices -> (m, k) int64 paise on tick, and the rows whose prices are sane."""
        # Hot path (per batch): the same rule as the record-by-record path (engine.model.money).
        p = prices_to_paise_array(px, None if tick is None else tick[:, None])
        with np.errstate(invalid="ignore"):
            ok = (np.abs(p) <= MAX_ABS_PRICE_PAISE).all(axis=1)  # False for NaN too
        if not ok.all():
            p[~ok] = 0.0
        return p.astype(np.int64), ok

    def _event_ns_vec(self, ltt: np.ndarray, ts_init: np.ndarray) -> np.ndarray:
        ltt64 = ltt.astype(np.int64)
        ev = ltt64 * _NS_PER_S
        if self._ist_offset_ns:
            ev -= self._ist_offset_ns
        return np.where(ltt64 == 0, ts_init, ev)

    def _decode_group(
        self,
        u8: np.ndarray,
        pc: int,
        pkt: np.ndarray,
        off: np.ndarray,
        length: np.ndarray,
        ts_init_all: np.ndarray,
        tick: np.ndarray | None,
        where: _Where,
        keep: np.ndarray,
        parts: dict[str, list[Columns]],
        feed: FeedKind,
    ) -> None:
        """Decode every packet of pseudo-code ``pc`` (rows ``pkt``) into ``parts``."""
        offs = off[pkt]
        ts_init = ts_init_all[pkt]
        if pc == _PC_DEPTH_DISCONNECT:
            reasons = [
                _depth_disconnect_reason(u8, o, ln)
                for o, ln in zip(offs.tolist(), length[pkt].tolist())
            ]
            parts["disconnects"].append(
                {
                    "pkt": pkt,
                    "reason_code": np.array(reasons, dtype=np.int64),
                    "ts_event_ns": ts_init,
                    "ts_init_ns": ts_init,
                }
            )
            return
        if pc == _PC_DEPTH_SIDE:
            self._decode_sides(
                u8, pkt, offs, length[pkt], ts_init, tick, where, keep, parts, feed
            )
            return
        dtype = wire.MARKET_DTYPES[pc]
        recs = _gather(u8, offs, dtype)
        seg = recs["segment"]
        sid = recs["security_id"]
        if pc == FeedCode.DISCONNECT:
            parts["disconnects"].append(
                {
                    "pkt": pkt,
                    "reason_code": recs["reason"],
                    "ts_event_ns": ts_init,
                    "ts_init_ns": ts_init,
                }
            )
            return
        if pc == FeedCode.OI:
            parts["open_interest"].append(
                {
                    "pkt": pkt,
                    "segment": seg,
                    "security_id": sid,
                    "oi_units": recs["oi"],
                    "ts_event_ns": ts_init,
                    "ts_init_ns": ts_init,
                }
            )
            return
        if pc == FeedCode.MARKET_STATUS:
            parts["market_statuses"].append(
                {
                    "pkt": pkt,
                    "segment": seg,
                    "security_id": sid,
                    "ts_event_ns": ts_init,
                    "ts_init_ns": ts_init,
                }
            )
            return
        if pc == FeedCode.TICKER or pc == FeedCode.INDEX:
            paise, ok = self._prices_to_paise(recs["ltp"][:, None], tick)
            cols = {
                "pkt": pkt,
                "segment": seg,
                "security_id": sid,
                "ltp_paise": paise[:, 0],
                "ts_event_ns": self._event_ns_vec(recs["ltt"], ts_init),
                "ts_init_ns": ts_init,
            }
            self._append(parts, "ticks", cols, ok, keep, pkt, offs, where, pc)
        elif pc == FeedCode.PREV_CLOSE:
            paise, ok = self._prices_to_paise(recs["prev_close"][:, None], tick)
            cols = {
                "pkt": pkt,
                "segment": seg,
                "security_id": sid,
                "prev_close_paise": paise[:, 0],
                "prev_oi_units": recs["prev_oi"],
                "ts_event_ns": ts_init,
                "ts_init_ns": ts_init,
            }
            self._append(parts, "prev_closes", cols, ok, keep, pkt, offs, where, pc)
        elif pc == FeedCode.QUOTE or pc == FeedCode.FULL:
            px = [recs[f][:, None] for f in _QUOTE_PRICES]
            if pc == FeedCode.FULL:
                depth = recs["depth"]
                px += [depth["bid_price"], depth["ask_price"]]
            paise, ok = self._prices_to_paise(np.concatenate(px, axis=1), tick)
            ts_event = self._event_ns_vec(recs["ltt"], ts_init)
            segment = seg
            security_id = sid
            quote = {
                "pkt": pkt,
                "segment": segment,
                "security_id": security_id,
                "ltp_paise": paise[:, 0],
                "ltq_units": recs["ltq"],
                "atp_paise": paise[:, 1],
                "volume_units": recs["volume"],
                "total_sell_qty_units": recs["total_sell_qty"],
                "total_buy_qty_units": recs["total_buy_qty"],
                "open_paise": paise[:, 2],
                "close_paise": paise[:, 3],
                "high_paise": paise[:, 4],
                "low_paise": paise[:, 5],
                "ts_event_ns": ts_event,
                "ts_init_ns": ts_init,
            }
            if pc == FeedCode.QUOTE:
                zeros = np.zeros(len(pkt), dtype=np.int64)
                quote.update(oi_units=zeros, oi_day_high_units=zeros, oi_day_low_units=zeros)
            else:
                quote.update(
                    oi_units=recs["oi"],
                    oi_day_high_units=recs["oi_day_high"],
                    oi_day_low_units=recs["oi_day_low"],
                )
            self._append(parts, "quotes", quote, ok, keep, pkt, offs, where, pc)
            if pc == FeedCode.FULL:
                depth_cols = {
                    "pkt": pkt,
                    "segment": segment,
                    "security_id": security_id,
                    "bid_price_paise": paise[:, 6:11],
                    "bid_qty_units": depth["bid_qty"],
                    "bid_orders": depth["bid_orders"],
                    "ask_price_paise": paise[:, 11:16],
                    "ask_qty_units": depth["ask_qty"],
                    "ask_orders": depth["ask_orders"],
                    "ts_event_ns": ts_event,
                    "ts_init_ns": ts_init,
                }
                parts["depths"].append(_rows(depth_cols, ok) if not ok.all() else depth_cols)

    def _append(
        self,
        parts: dict[str, list[Columns]],
        kind: str,
        cols: Columns,
        ok: np.ndarray,
        keep: np.ndarray,
        pkt: np.ndarray,
        offs: np.ndarray,
        where: _Where,
        code: int,
    ) -> None:
        """Store a group's columns, dropping (and reporting) rows with bad prices."""
        if not ok.all():
            bad = np.flatnonzero(~ok)
            keep[pkt[bad]] = False
            for b in bad.tolist():
                f = int(where.frame[pkt[b]])
                self._bad_price(
                    int(where.labels[f]), int(offs[b] - where.starts[f]), int(where.lens[f]), code
                )
            cols = _rows(cols, ok)
        parts[kind].append(cols)

    def _decode_sides(
        self,
        u8: np.ndarray,
        pkt: np.ndarray,
        offs: np.ndarray,
        lengths: np.ndarray,
        ts_init: np.ndarray,
        tick: np.ndarray | None,
        where: _Where,
        keep: np.ndarray,
        parts: dict[str, list[Columns]],
        feed: FeedKind,
    ) -> None:
        """20-level side packets in one gather; 200-level ones (variable rows) padded to 200."""
        if feed == "depth20":
            recs = _gather(u8, offs, wire.DEPTH20_DTYPE)
            rows = recs["rows"]
            price, qty, orders = rows["price"], rows["qty"], rows["orders"]
            n_levels = np.full(len(pkt), wire.DEPTH20_LEVELS, dtype=np.int64)
        else:
            recs = _gather(u8, offs, wire.DEPTH_HEADER_DTYPE)
            n_levels = ((lengths - wire.DEPTH_HEADER_SIZE) // wire.DEPTH_ROW_SIZE).astype(np.int64)
            padded = np.zeros((len(pkt), wire.DEPTH200_MAX_ROWS), dtype=wire.DEPTH_ROW_DTYPE)
            for i, (o, k) in enumerate(zip(offs.tolist(), n_levels.tolist())):
                padded[i, :k] = np.frombuffer(u8, wire.DEPTH_ROW_DTYPE, k, o + 12)
            price, qty, orders = padded["price"], padded["qty"], padded["orders"]
        seg = recs["segment"]
        sid = recs["security_id"]
        paise, ok = self._prices_to_paise(price, tick)
        cols = {
            "pkt": pkt,
            "segment": seg,
            "security_id": sid,
            "is_bid": recs["code"] == DepthCode.BID,
            "n_levels": n_levels,
            "price_paise": paise,
            "qty_units": qty,
            "orders": orders,
            "ts_event_ns": ts_init,
            "ts_init_ns": ts_init,
        }
        self._append(parts, "depth_sides", cols, ok, keep, pkt, offs, where, _PC_DEPTH_SIDE)


# --------------------------------------------------------------------------------------------
# Columnar result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """Decoded messages as numpy columns, one table per message kind.

    Each table maps the message's field names to integer numpy columns ((n, levels) for depth
    lists): int64 for paise and nanoseconds, the wire's unsigned width for ids and quantities.
    ``seq`` (int64) is the row's position in the packet-ordered message list, ``frame`` (int64)
    the index of the frame it came from (0 for the one frame of ``decode_frame``). Tables:
    ``ticks`` (Tick), ``quotes`` (Quote, from quote and full packets), ``depths`` (5-level Depth
    from full packets), ``depth_sides`` (20/200-level: ``is_bid``, ``n_levels``, ``price_paise``,
    ``qty_units``, ``orders``), ``open_interest``, ``prev_closes``, ``market_statuses``,
    ``disconnects`` (``reason_code``). An empty dict is an empty table.
    """

    KINDS = (
        "ticks",
        "quotes",
        "depths",
        "depth_sides",
        "open_interest",
        "prev_closes",
        "market_statuses",
        "disconnects",
    )

    n_messages: int
    ticks: Columns
    quotes: Columns
    depths: Columns
    depth_sides: Columns
    open_interest: Columns
    prev_closes: Columns
    market_statuses: Columns
    disconnects: Columns

    @classmethod
    def empty(cls) -> DecodedBatch:
        return cls(0, {}, {}, {}, {}, {}, {}, {}, {})

    def to_messages(self) -> list[Message]:
        """The messages as Structs in packet order."""
        if self.n_messages == 0:
            return []
        out = np.empty(self.n_messages, dtype=object)
        # Building many container-holding Structs triggers the cyclic GC again and again; none
        # of these objects can form a cycle, so collection is paused for the duration.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for msgs, seq in self._materialise():
                out[seq] = np.fromiter(msgs, dtype=object, count=len(seq))
        finally:
            if gc_was_enabled:
                gc.enable()
        return out.tolist()

    def frame_messages(self, frames: np.ndarray) -> dict[int, list[Message]]:
        """The messages of the given frames only, as Structs in packet order, by frame index
        (a frame whose packets were all dropped has no entry)."""
        tables: dict[str, Columns] = {}
        for kind in self.KINDS:
            t: Columns = getattr(self, kind)
            if t:
                keep = np.isin(t["frame"], frames)
                t = {k: v[keep] for k, v in t.items()} if keep.any() else {}
            tables[kind] = t
        seqs = [t["seq"] for t in tables.values() if t]
        if not seqs:
            return {}
        all_seq = np.sort(np.concatenate(seqs))
        rank = {int(q): i for i, q in enumerate(all_seq.tolist())}
        for t in tables.values():
            if t:
                t["seq"] = np.array([rank[int(q)] for q in t["seq"].tolist()], dtype=np.int64)
        subset = DecodedBatch(n_messages=len(rank), **tables)
        frame_of = np.empty(len(rank), dtype=np.int64)
        for t in tables.values():
            if t:
                frame_of[t["seq"]] = t["frame"]
        out: dict[int, list[Message]] = {}
        for f, msg in zip(frame_of.tolist(), subset.to_messages()):
            out.setdefault(f, []).append(msg)
        return out

    def _materialise(self):  # type: ignore[no-untyped-def]
        simple = (
            (self.ticks, Tick),
            (self.quotes, Quote),
            (self.open_interest, OpenInterest),
            (self.prev_closes, PrevClose),
            (self.market_statuses, MarketStatus),
        )
        for table, cls in simple:
            if table:
                fields = cls.__struct_fields__
                yield map(cls, *[table[f].tolist() for f in fields]), table["seq"]
        if self.depths:
            t = self.depths
            yield (
                map(
                    Depth,
                    t["segment"].tolist(),
                    t["security_id"].tolist(),
                    itertools.repeat("both"),
                    t["bid_price_paise"].tolist(),
                    t["bid_qty_units"].tolist(),
                    t["bid_orders"].tolist(),
                    t["ask_price_paise"].tolist(),
                    t["ask_qty_units"].tolist(),
                    t["ask_orders"].tolist(),
                    t["ts_event_ns"].tolist(),
                    t["ts_init_ns"].tolist(),
                ),
                t["seq"],
            )
        if self.depth_sides:
            yield _side_messages(self.depth_sides), self.depth_sides["seq"]
        if self.disconnects:
            t = self.disconnects
            codes = t["reason_code"].tolist()
            yield (
                map(
                    FeedDisconnected,
                    codes,
                    map(wire.disconnect_reason_name, codes),
                    t["ts_event_ns"].tolist(),
                    t["ts_init_ns"].tolist(),
                ),
                t["seq"],
            )


def _side_messages(t: Columns) -> list[Depth]:
    """20/200-level side rows -> Depth with one side filled and fresh empty lists on the other."""
    n_levels = t["n_levels"]
    price, qty, orders = t["price_paise"], t["qty_units"], t["orders"]
    if (n_levels == price.shape[1]).all():
        prices, qtys, ords = price.tolist(), qty.tolist(), orders.tolist()
    else:  # 200-level: trim the padding row by row
        ks = n_levels.tolist()
        prices = [r[:k] for r, k in zip(price.tolist(), ks)]
        qtys = [r[:k] for r, k in zip(qty.tolist(), ks)]
        ords = [r[:k] for r, k in zip(orders.tolist(), ks)]
    out: list[Depth] = []
    for seg, sid, is_bid, p, q, o, te, ti in zip(
        t["segment"].tolist(),
        t["security_id"].tolist(),
        t["is_bid"].tolist(),
        prices,
        qtys,
        ords,
        t["ts_event_ns"].tolist(),
        t["ts_init_ns"].tolist(),
    ):
        if is_bid:
            out.append(Depth(seg, sid, "bid", p, q, o, [], [], [], te, ti))
        else:
            out.append(Depth(seg, sid, "ask", [], [], [], p, q, o, te, ti))
    return out


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


class _TickHash:
    """Vectorised ``(segment, security_id) -> tick`` lookup: an open-addressing hash table in
    numpy arrays (Fibonacci hashing, linear probing), a few vector passes per batch."""

    _MULT = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, table: Mapping[tuple[int, int], int]) -> None:
        bits = max(6, (4 * len(table)).bit_length())
        size = 1 << bits
        self._shift = np.uint64(64 - bits)
        self._mask = size - 1
        self._keys = np.full(size, -1, dtype=np.int64)
        self._vals = np.full(size, DEFAULT_TICK_PAISE, dtype=np.int64)
        self._probes = 0
        for (segment, security_id), tick in table.items():
            key = instrument_key(segment, security_id)
            slot = int(self._hash(np.array([key], dtype=np.int64))[0])
            probe = 0
            while self._keys[(slot + probe) & self._mask] != -1:
                probe += 1
            self._keys[(slot + probe) & self._mask] = key
            self._vals[(slot + probe) & self._mask] = tick
            self._probes = max(self._probes, probe)

    def _hash(self, keys: np.ndarray) -> np.ndarray:
        return ((keys.astype(np.uint64) * self._MULT) >> self._shift).astype(np.int64)

    def lookup(self, segment: np.ndarray, security_id: np.ndarray) -> np.ndarray:
        """Tick of each instrument; DEFAULT_TICK_PAISE for instruments not in the table."""
        keys = instrument_key(segment.astype(np.int64), security_id.astype(np.int64))
        slot = self._hash(keys)
        out = np.full(len(keys), DEFAULT_TICK_PAISE, dtype=np.int64)
        for probe in range(self._probes + 1):
            idx = (slot + probe) & self._mask
            hit = self._keys[idx] == keys
            out[hit] = self._vals[idx[hit]]
        return out


@dataclass(frozen=True, slots=True)
class _Where:
    """Where the packets of a columnar batch came from (for problem reports only)."""

    frame: np.ndarray  # per packet: index into the per-frame arrays
    starts: np.ndarray  # per frame: offset in the joined buffer
    lens: np.ndarray  # per frame: length in bytes
    labels: np.ndarray  # per frame: index shown in logs (-1: the single frame of decode_frame)


def _gather(u8: np.ndarray, offs: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Records of ``dtype`` starting at each offset, copied out in one fancy index."""
    size = dtype.itemsize
    return sliding_window_view(u8, size)[offs].view(dtype).reshape(len(offs))


def _rows(cols: Columns, ok: np.ndarray) -> Columns:
    return {k: v[ok] for k, v in cols.items()}


def _sizes_of(codes: np.ndarray) -> np.ndarray:
    return _EXPECTED_SIZE_LUT[codes] if codes.size else np.empty(0, dtype=np.int64)


def _msgs_per_packet(codes: np.ndarray) -> np.ndarray:
    return _MSGS_PER_PACKET_LUT[codes]  # pseudo-codes of the depth feed are < 256 too


def _depth_disconnect_reason(data: bytes | np.ndarray, off: int, length: int) -> int:
    """Reason of a depth-feed disconnect: u16 at offset 12 (docs) when the packet has it, else the
    u32 at offset 8 (what dhanhq reads)."""
    if length >= wire.DEPTH_DISCONNECT_SIZE:
        return int(data[off + 12]) | (int(data[off + 13]) << 8)
    b = [int(x) for x in data[off + 8 : off + 12]]
    return b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)


_default_decoder = FrameDecoder()


def default_decoder() -> FrameDecoder:
    """The decoder behind the module-level :func:`decode_frame` (its stats accumulate)."""
    return _default_decoder


def decode_frame(
    data: bytes | bytearray | memoryview,
    ts_init_ns: int | None = None,
    feed: FeedKind = "market",
) -> list[Message]:
    """Decode one frame with the module's default decoder (ticks of 1 paisa, UTC LTT).

    See :meth:`FrameDecoder.decode_frame`; never raises for bad bytes.
    """
    return _default_decoder.decode_frame(data, ts_init_ns, feed)
