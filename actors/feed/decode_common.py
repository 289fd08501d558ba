"""What the Dhan feed decoder's walker and its two decode paths share.

The walker and the entry points are in ``actors.feed.decode`` (:class:`FrameDecoder`), the
record-by-record path in ``actors.feed.decode_record``, the columnar path in
``actors.feed.decode_columnar``; the wire layouts themselves in ``actors.feed.wire``. Here: the
feed kinds, the plain-int packet codes and the depth feed's pseudo-codes, the problem kinds and
counters, and :class:`DecoderCore`, the state every path reads (tick table, counters, LTT epoch).

Prices become paise by the engine's one float -> paise rule (``engine.model.money``) on the
instrument's tick; a price beyond +/-``MAX_ABS_PRICE_PAISE`` (or NaN, infinity) drops its packet.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from actors.feed import wire
from actors.feed.wire import DepthCode, FeedCode
from engine.model.ist import IST_OFFSET_NS
from ipc.segments import KNOWN_SEGMENTS, instrument_key, instrument_label

log = logging.getLogger("shikra.feed.decode")


MAX_ABS_PRICE_PAISE = 2**50  # far beyond any real price; keeps float64 tick products exact
DEFAULT_TICK_PAISE = 1

# Plain-int codes for the per-packet paths (cheaper to compare than enum members).
CODE_INDEX, CODE_TICKER, CODE_QUOTE = int(FeedCode.INDEX), int(FeedCode.TICKER), int(FeedCode.QUOTE)
CODE_OI, CODE_PREV_CLOSE = int(FeedCode.OI), int(FeedCode.PREV_CLOSE)
CODE_STATUS, CODE_FULL = int(FeedCode.MARKET_STATUS), int(FeedCode.FULL)
CODE_DISCONNECT = int(FeedCode.DISCONNECT)  # 50 on both feeds (DepthCode.DISCONNECT too)
CODE_BID, CODE_ASK = int(DepthCode.BID), int(DepthCode.ASK)
# Depth-feed packets get pseudo-codes so that one code space covers both feeds (the depth feed's
# disconnect is 50 like the 5-level one, with another layout; bid 41 and ask 51 share a layout).
_DEPTH_BASE = 100
PC_DEPTH_SIDE = _DEPTH_BASE + 1  # 20/200-level bid or ask
PC_DEPTH_DISCONNECT = _DEPTH_BASE + 2

# Exchange segments the decoders accept, indexed by the header's segment byte: as a numpy table
# for the vectorised checks and as a tuple for scalar lookups (a tuple index is the cheapest).
SEGMENT_OK_LUT = np.zeros(256, dtype=bool)
SEGMENT_OK_LUT[list(KNOWN_SEGMENTS)] = True
SEGMENT_OK: tuple[bool, ...] = tuple(SEGMENT_OK_LUT.tolist())


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
    UNKNOWN_INSTRUMENT = "unknown_instrument"  # Kite: an instrument token the table does not map
    TRAILING_BYTES = "trailing_bytes"  # Kite: bytes after the packets the frame's count announced


@dataclass(slots=True)
class DecodeStats:
    """Running counters of one FrameDecoder (mutable; read them, do not write them)."""

    frames: int = 0
    packets: int = 0  # packets that became messages
    # Messages beyond one per such packet (a full packet gives two): the live decoders count one
    # thing per packet, not two (a counter is a tenth of a ticker's decode).
    extra_messages: int = 0
    problems: Counter[DecodeProblem] = field(default_factory=Counter)

    @property
    def messages(self) -> int:
        return self.packets + self.extra_messages

    @property
    def problem_total(self) -> int:
        return sum(self.problems.values())


class DecoderCore:
    """The state both decode paths share: the tick table, the problem counters, the LTT epoch.

    ``tick_paise`` maps ``(segment, security_id)`` to the instrument's tick in paise; prices of
    instruments not in it round to the nearest paisa. Raises ValueError for a tick below 1.
    Not thread-safe (the counters are per instance). ``tick_map``, ``tick_hash`` and
    ``ist_offset_ns`` are read by the decode paths; change the ticks with ``set_tick_sizes``.
    """

    def __init__(
        self,
        tick_paise: Mapping[tuple[int, int], int] | None = None,
        *,
        ltt_epoch_is_ist: bool = False,
    ) -> None:
        self.stats = DecodeStats()
        self.ist_offset_ns = IST_OFFSET_NS if ltt_epoch_is_ist else 0
        self.tick_map: dict[tuple[int, int], int] = {}
        self.tick_hash = TickHash({})
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
        self.tick_map = table
        self.tick_hash = TickHash(table)

    def tick_for(self, segment: int, security_id: int) -> int:
        """Tick in paise used to round this instrument's prices."""
        return self.tick_map.get((segment, security_id), DEFAULT_TICK_PAISE)

    def problem(
        self, kind: DecodeProblem, frame: int, offset: int, size: int, detail: str
    ) -> None:
        """Count and log one problem (``frame`` -1: the single frame of ``decode_frame``)."""
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

    def bad_price(self, frame: int, offset: int, size: int, code: int) -> None:
        self.problem(
            DecodeProblem.BAD_PRICE, frame, offset, size,
            f"code {code} carries a NaN, infinite or out-of-range price; packet dropped",
        )


class TickHash:
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


def depth_disconnect_reason(data: bytes | np.ndarray, off: int, length: int) -> int:
    """Reason of a depth-feed disconnect: u16 at offset 12 (docs) when the packet has it, else the
    u32 at offset 8 (what dhanhq reads)."""
    if length >= wire.DEPTH_DISCONNECT_SIZE:
        return int(data[off + 12]) | (int(data[off + 13]) << 8)
    b = [int(x) for x in data[off + 8 : off + 12]]
    return b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)
