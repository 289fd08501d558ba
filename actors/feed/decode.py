"""Dhan binary feed -> ipc.messages Structs. Pure: bytes in, messages out, problems counted.

This module holds :class:`FrameDecoder`: its entry points and the walker they share (packet
boundaries and problem accounting). The packets it finds are decoded by one of two paths over the
layouts of ``actors.feed.wire``: packet by packet with precompiled ``struct`` layouts
(``actors.feed.decode_record``) or column-wise with numpy dtypes (``actors.feed.decode_columnar``);
what all three share is in ``actors.feed.decode_common``.

* :meth:`FrameDecoder.decode_frame` for the live path: one websocket frame (usually one packet on
  the 5-level feed, up to 100 stacked side packets on the depth feed). A frame that is one
  fixed-size packet goes straight to its code's decoder (no walk); other frames are walked, then
  decoded packet by packet below the measured crossover ``COLUMNAR_MIN_PACKETS`` and column-wise
  from it.
* :meth:`FrameDecoder.decode_frames` / :meth:`FrameDecoder.decode_frames_columnar` /
  :meth:`FrameDecoder.decode_buffer_columnar` for replay and backtests: the frames sit back to
  back in one buffer; on the 5-level feed two numba kernels (``actors.feed.decode_kernels``,
  imported only then, so the live feed never loads numba) find the packets of the frames made only
  of well-formed fixed-size packets, one or stacked (the walker takes the rest), and decode them
  into columns in one pass; the depth feeds are walked and decoded column-wise with numpy.

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

import itertools
import time
from collections.abc import Sequence

import numpy as np

from actors.feed import wire
from actors.feed.decode_columnar import DecodedBatch, decode_packets
from actors.feed.decode_common import (
    CODE_ASK,
    CODE_BID,
    CODE_DISCONNECT,
    CODE_INDEX,
    CODE_STATUS,
    PC_DEPTH_DISCONNECT,
    PC_DEPTH_SIDE,
    SEGMENT_OK,
    SEGMENT_OK_LUT,
    DecodeProblem,
    DecoderCore,
)
from actors.feed.decode_record import PACKET_DECODERS
from actors.feed.wire import DHAN_FEED_KINDS, FeedCode, FeedKind
from ipc.messages import Message

# Frames with at least this many packets take the columnar path in decode_frame (fewer go packet
# by packet): the crossover per feed measured by `python -m bench decode --skip live --skip
# stacked` (its "crossover" tables: both paths timed on the same stacked frames, alternating, in
# one run; 2026-12-07, 2 cores, load 5-6: market 160 (at 128: 556 vs 582 µs a frame), 20-level
# depth 32 (at 16: 87 vs 133 µs); the columnar path's fixed cost is ~0.1 ms a frame). 200-level
# frames never go columnar: their variable row counts make that path pad every side to 200 rows.
COLUMNAR_MIN_PACKETS: dict[FeedKind, int] = {"market": 160, "depth20": 32}
# A 5-level frame shorter than this cannot hold that many packets (a header is 8 bytes).
_MARKET_COLUMNAR_MIN_BYTES = COLUMNAR_MIN_PACKETS["market"] * wire.HEADER_SIZE
_NEVER = 1 << 62

# Lookup tables for the walker and the single-packet fast check.
# Size the 5-level decoder accepts per code (status: minimum; index: only ticker-shaped).
_MARKET_SIZE: dict[int, int] = {int(c): s for c, s in wire.PACKET_SIZE.items()}
# Sizes that are known but not decoded, used to tell "truncated" from "bad length".
_MARKET_KNOWN_SIZE: dict[int, int] = {
    **_MARKET_SIZE,
    int(FeedCode.MARKET_DEPTH_V1): wire.MARKET_DEPTH_V1_SIZE,
}
# Size of a frame that is one packet of each code, by code (-1: no fixed size).
_SINGLE_SIZE: tuple[int, ...] = tuple(_MARKET_SIZE.get(c, -1) for c in range(256))
_EXPECTED_SIZE_LUT = np.full(256, -1, dtype=np.int64)
for _code, _size in _MARKET_SIZE.items():
    _EXPECTED_SIZE_LUT[_code] = _size
_IS_DISCONNECT_LUT = np.zeros(256, dtype=bool)
_IS_DISCONNECT_LUT[int(FeedCode.DISCONNECT)] = True
_SEGMENT_AT = int(wire.MARKET_DTYPES[int(FeedCode.TICKER)].fields["segment"][1])
_SECURITY_ID_AT = int(wire.MARKET_DTYPES[int(FeedCode.TICKER)].fields["security_id"][1])


class FrameDecoder(DecoderCore):
    """Decodes Dhan feed frames into messages; holds the tick table and the problem counters
    (:class:`~actors.feed.decode_common.DecoderCore`: constructor, ``set_tick_sizes``,
    ``tick_for``, ``stats``).
    """

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
        if ts_init_ns is None:
            ts_init_ns = time.time_ns()
        if type(data) is not bytes:
            data = bytes(data)
        if feed == "market":
            self.stats.frames += 1
            if data:
                code = data[0]
                if len(data) == _SINGLE_SIZE[code]:
                    # The common case, one packet of a fixed-size code per frame: no walk; the
                    # decoder checks the length field and segment, and declines (None) if wrong.
                    out = PACKET_DECODERS[code](self, data, 0, ts_init_ns)  # type: ignore[misc]
                    if out is not None:
                        return out
                elif len(data) < _MARKET_COLUMNAR_MIN_BYTES:
                    return self._decode_stacked(data, ts_init_ns)
        elif feed in DHAN_FEED_KINDS:
            self.stats.frames += 1
        else:
            raise ValueError(f"feed must be one of {sorted(DHAN_FEED_KINDS)}, got {feed!r}")
        packets = self._walk(data, feed, -1)
        if len(packets) >= COLUMNAR_MIN_PACKETS.get(feed, _NEVER):
            return self._decode_columnar(data, packets, ts_init_ns, feed)
        return self._decode_walked(data, packets, ts_init_ns)

    def _decode_stacked(self, data: bytes, ts_init_ns: int) -> list[Message]:
        """A 5-level frame of stacked packets, too short to hold the columnar path's count: each
        packet straight to its decoder, which checks it (so no walk first, and a stacked frame
        costs no more than its packets one per frame); from the first one declined, the walker
        takes the rest of the frame and names the problem."""
        # Hot path (busy times): Dhan stacks packets into one frame.
        out: list[Message] = []
        n = len(data)
        off = 0
        while off < n:
            code = data[off]
            size = _SINGLE_SIZE[code]
            if size < 0 or size > n - off:
                break
            msgs = PACKET_DECODERS[code](self, data, off, ts_init_ns)  # type: ignore[misc]
            if msgs is None:
                break
            out += msgs
            off += data[off + 1] | (data[off + 2] << 8)  # the decoder checked it (status: >= 8)
        else:
            return out
        return out + self._decode_walked(data, self._walk_market(data, -1, off), ts_init_ns)

    def decode_frame_by(
        self, data: bytes | bytearray | memoryview, ts_init_ns: int, feed: FeedKind, *, columnar: bool
    ) -> list[Message]:
        """:meth:`decode_frame` through the path chosen here whatever the frame's size: the
        columnar one or packet by packet (walked first either way). For the tests that hold the
        two paths equal and the bench that measures their crossover."""
        if feed not in DHAN_FEED_KINDS:
            raise ValueError(f"feed must be one of {sorted(DHAN_FEED_KINDS)}, got {feed!r}")
        if type(data) is not bytes:
            data = bytes(data)
        self.stats.frames += 1
        packets = self._walk(data, feed, -1)
        if columnar:
            return self._decode_columnar(data, packets, ts_init_ns, feed)
        return self._decode_walked(data, packets, ts_init_ns)

    def _decode_walked(
        self, data: bytes, packets: list[tuple[int, int, int]], ts_init_ns: int
    ) -> list[Message]:
        """The messages of a walked frame's packets, one packet at a time."""
        out: list[Message] = []
        for off, pcode, _length in packets:
            out += PACKET_DECODERS[pcode](self, data, off, ts_init_ns)  # type: ignore[misc,operator]
        return out

    def _decode_columnar(
        self, data: bytes, packets: list[tuple[int, int, int]], ts_init_ns: int, feed: FeedKind
    ) -> list[Message]:
        """The messages of a walked frame's packets by the columnar path."""
        if not packets:
            return []
        arr = np.array(packets, dtype=np.int64)
        batch = decode_packets(
            self, data, arr[:, 0], arr[:, 1], arr[:, 2], np.zeros(len(arr), dtype=np.int64),
            np.array([ts_init_ns], dtype=np.int64), np.zeros(1, np.int64),
            np.array([len(data)]), np.array([-1]), feed,
        )
        return batch.to_messages()

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
        if feed not in DHAN_FEED_KINDS:
            raise ValueError(f"feed must be one of {sorted(DHAN_FEED_KINDS)}, got {feed!r}")
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
        if feed == "market":
            return self._decode_market_batch(buf, starts, lens, ts)
        # The depth feeds: each frame walked (up to 100 stacked sides of 20 or 200 levels).
        walked: list[tuple[int, int, int]] = []
        frame_of: list[int] = []
        for i in range(n_frames):
            base = int(starts[i])
            found = self._walk(bytes(buf[base : base + int(lens[i])]), feed, i)
            walked.extend((base + o, pc, ln) for o, pc, ln in found)
            frame_of.extend(itertools.repeat(i, len(found)))
        arr = np.array(walked, dtype=np.int64).reshape(-1, 3)
        return decode_packets(
            self, buf, arr[:, 0], arr[:, 1], arr[:, 2], np.array(frame_of, dtype=np.int64), ts, starts, lens,
            np.arange(n_frames), feed,
        )

    def _decode_market_batch(
        self, buf: bytes | memoryview, starts: np.ndarray, lens: np.ndarray, ts: np.ndarray
    ) -> DecodedBatch:
        """The 5-level frames of a batch by the numba kernels: one pass finds the packets of the
        frames made only of well-formed fixed-size packets, the walker takes the others (and
        names their problems), one pass decodes every packet into the columns."""
        # Hot path (per replay block). Imported here: only a batch decode loads numba.
        from actors.feed import decode_kernels as k

        u8 = np.frombuffer(buf, dtype=np.uint8)
        off, code, frame, slow = k.walk(u8, starts, lens, _EXPECTED_SIZE_LUT, SEGMENT_OK_LUT, _IS_DISCONNECT_LUT)
        if slow.size:
            walked: list[tuple[int, int, int]] = []
            for i in slow.tolist():
                base = int(starts[i])
                found = self._walk(bytes(buf[base : base + int(lens[i])]), "market", i)
                walked.extend((base + o, pc, i) for o, pc, _ln in found)
            arr = np.array(walked, dtype=np.int64).reshape(-1, 3)
            frame = np.concatenate([frame, arr[:, 2]])
            order = np.argsort(frame, kind="stable")  # packet order: frames in turn, each in its order
            off, code, frame = np.concatenate([off, arr[:, 0]])[order], np.concatenate([code, arr[:, 1]])[order], frame[order]
        if self.tick_map:
            tick = self.tick_hash.lookup(u8[off + _SEGMENT_AT], _security_ids(u8, off))
        else:
            tick = np.ones(off.size, dtype=np.int64)
        ticks, quotes, depths, levels, ois, prevs, statuses, discs, bad = k.decode(
            u8, off, code, frame, tick, ts, self.ist_offset_ns
        )
        for i in bad.tolist():
            f = int(frame[i])
            self.bad_price(f, int(off[i] - starts[f]), int(lens[f]), int(code[i]))
        depth_cols = dict(zip(k.DEPTH_ROWS, depths))
        depth_cols.update(zip(k.DEPTH_LEVEL_ROWS, levels))
        tables = {
            "ticks": dict(zip(k.TICK_ROWS, ticks)),
            "quotes": dict(zip(k.QUOTE_ROWS, quotes)),
            "depths": depth_cols,
            "depth_sides": {},
            "open_interest": dict(zip(k.OI_ROWS, ois)),
            "prev_closes": dict(zip(k.PREV_CLOSE_ROWS, prevs)),
            "market_statuses": dict(zip(k.STATUS_ROWS, statuses)),
            "disconnects": dict(zip(k.DISCONNECT_ROWS, discs)),
        }
        n_messages = 0
        for name, cols in tables.items():
            rows = cols["seq"].size if cols else 0
            if rows == 0:
                tables[name] = {}
            n_messages += rows
        self.stats.packets += off.size - bad.size
        self.stats.extra_messages += n_messages - (off.size - bad.size)
        return DecodedBatch(n_messages, **tables)

    # ---------------------------------------------------------------------------------------
    # Walking a frame: packet boundaries and problem accounting (for both paths)
    # ---------------------------------------------------------------------------------------

    def _walk(self, data: bytes, feed: FeedKind, frame: int) -> list[tuple[int, int, int]]:
        """``(offset, pseudo_code, length)`` of each well-formed packet of one frame."""
        if feed == "market":
            return self._walk_market(data, frame)
        return self._walk_depth(data, feed, frame)

    def _walk_market(self, data: bytes, frame: int, start: int = 0) -> list[tuple[int, int, int]]:
        # Hot path: one pass over the headers of a frame (from ``start``, a packet boundary).
        n = len(data)
        if n == 0:
            self.problem(DecodeProblem.EMPTY_FRAME, frame, 0, 0, "no bytes")
            return []
        found: list[tuple[int, int, int]] = []
        off = start
        while off < n:
            rem = n - off
            if rem < wire.HEADER_SIZE:
                self.problem(
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
                self.problem(
                    kind, frame, off, n,
                    f"code {code} length {length} with {rem} bytes left; rest of frame dropped",
                )
                break
            expected = _MARKET_SIZE.get(code)
            if expected is None:
                if known is None:
                    self.problem(
                        DecodeProblem.UNKNOWN_CODE, frame, off, n,
                        f"response code {code}, {length} bytes skipped",
                    )
                else:
                    self.problem(
                        DecodeProblem.UNSUPPORTED_PACKET, frame, off, n,
                        f"response code {code} is not decoded, {length} bytes skipped",
                    )
            elif length != expected and not (
                code == CODE_STATUS and length > expected
            ):
                kind = (
                    DecodeProblem.UNSUPPORTED_PACKET
                    if code == CODE_INDEX
                    else DecodeProblem.LENGTH_MISMATCH
                )
                self.problem(
                    kind, frame, off, n,
                    f"code {code} length {length}, expected {expected}; packet skipped",
                )
            elif code != CODE_DISCONNECT and not SEGMENT_OK[data[off + 3]]:
                self.problem(
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
            self.problem(DecodeProblem.EMPTY_FRAME, frame, 0, 0, "no bytes")
            return []
        found: list[tuple[int, int, int]] = []
        hdr = wire.DEPTH_HEADER_SIZE
        off = 0
        while off < n:
            rem = n - off
            if rem < hdr:
                self.problem(
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
                    and (code == CODE_BID or code == CODE_ASK)
                    and length == side_size
                    and (feed == "depth20" or rows <= wire.DEPTH200_MAX_ROWS)
                )
                self.problem(
                    DecodeProblem.TRUNCATED if truncated else DecodeProblem.BAD_LENGTH,
                    frame, off, n,
                    f"depth code {code} length {length} with {rem} bytes left;"
                    " rest of frame dropped",
                )
                break
            if code == CODE_DISCONNECT:
                found.append((off, PC_DEPTH_DISCONNECT, length))
            elif code != CODE_BID and code != CODE_ASK:
                self.problem(
                    DecodeProblem.UNKNOWN_CODE, frame, off, n,
                    f"depth response code {code}, {length} bytes skipped",
                )
            elif length != side_size or (feed == "depth200" and rows > wire.DEPTH200_MAX_ROWS):
                self.problem(
                    DecodeProblem.LENGTH_MISMATCH, frame, off, n,
                    f"depth code {code} length {length}, expected {side_size}"
                    f" ({feed}, {rows} rows in header); packet skipped",
                )
            elif not SEGMENT_OK[data[off + 3]]:
                self.problem(
                    DecodeProblem.UNKNOWN_SEGMENT, frame, off, n,
                    f"depth code {code} segment {data[off + 3]}; packet skipped",
                )
            else:
                found.append((off, PC_DEPTH_SIDE, length))
            off += length
        return found


def _security_ids(u8: np.ndarray, off: np.ndarray) -> np.ndarray:
    """The u32 security id of the packet at each offset (both header shapes keep it at 4)."""
    at = off + _SECURITY_ID_AT
    return (u8[at].astype(np.int64) | (u8[at + 1].astype(np.int64) << 8) | (u8[at + 2].astype(np.int64) << 16)
            | (u8[at + 3].astype(np.int64) << 24))


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
