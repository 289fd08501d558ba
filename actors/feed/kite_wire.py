"""Kite Connect ticker wire format: the one place for its sizes, segments, price divisors, the map
to our segments, and packet encoders (for the fake ticker and the tests).

Source: docs/KITE_PROTOCOL.md section A (the WebSocket docs, checked against the ``kiteconnect``
5.2.2 parser). Everything is **big-endian**. A binary frame is ``u16 packet count`` then, per
packet, ``u16 length`` and that many bytes; a 1-byte frame is a heartbeat. Every packet starts
with the ``u32 instrument_token``, whose low byte is Kite's segment (``token & 0xff``) and whose
upper 24 bits are the exchange token. The packet's length says its mode:

=====  ====================================================================================
bytes  layout (offsets from the packet's start; prices u32 in 1/divisor rupees)
=====  ====================================================================================
8      ltp: token, last price
28     index quote: token, last, high, low, open, close, change (i32, not read)
32     index full: index quote + exchange timestamp (u32 epoch s)
44     quote: token, last, last qty, avg price, volume, total buy qty, total sell qty,
       open, high, low, close
184    full: quote + last trade time, OI, OI day high, OI day low, exchange timestamp, then
       10 depth entries of 12 bytes (u32 qty, u32 price, u16 orders, 2 pad): 5 bids, 5 asks
=====  ====================================================================================

Every field is read unsigned, as the SDK reads it (the docs say int32; no price, quantity or time
of an instrument we trade is negative, and the unsigned read is what the oracle test holds us to).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from typing import Final, Literal

from ipc.segments import Segment

Mode = Literal["ltp", "quote", "full"]
MODES: Final[tuple[Mode, ...]] = ("ltp", "quote", "full")

FRAME_HEADER = struct.Struct(">H")  # packet count
PACKET_HEADER = struct.Struct(">H")  # packet length
HEARTBEAT_SIZE: Final = 1

LTP_SIZE: Final = 8
INDEX_QUOTE_SIZE: Final = 28
INDEX_FULL_SIZE: Final = 32
QUOTE_SIZE: Final = 44
FULL_SIZE: Final = 184
DEPTH_LEVELS: Final = 5
DEPTH_OFFSET: Final = 64
DEPTH_ENTRY_SIZE: Final = 12

LTP = struct.Struct(">II")
INDEX_QUOTE = struct.Struct(">IIIIIIi")  # token ltp high low open close change
INDEX_FULL = struct.Struct(">IIIIIIiI")  # ... exchange timestamp
QUOTE = struct.Struct(">IIIIIIIIIII")  # token ltp ltq atp vol buy_qty sell_qty open high low close
FULL_HEAD = struct.Struct(">IIIIIIIIIIIIIIII")  # quote + ltt oi oi_high oi_low exchange_ts
DEPTH_ENTRY = struct.Struct(">IIHxx")  # qty price orders pad
DEPTH = struct.Struct(">" + "IIHxx" * (2 * DEPTH_LEVELS))
assert FULL_HEAD.size == DEPTH_OFFSET and DEPTH_OFFSET + DEPTH.size == FULL_SIZE

PACKET_SIZES: Final = frozenset({LTP_SIZE, INDEX_QUOTE_SIZE, INDEX_FULL_SIZE, QUOTE_SIZE, FULL_SIZE})


class KiteSegment(enum.IntEnum):
    """Kite's segment codes: the instrument token's low byte."""

    NSE = 1
    NFO = 2
    CDS = 3
    BSE = 4
    BFO = 5
    BCD = 6
    MCX = 7
    MCXSX = 8
    INDICES = 9
    NCO = 12


# Divisor that turns the wire integer into rupees; the rest are in paise (divisor 100).
PRICE_DIVISOR: Final[dict[int, int]] = {KiteSegment.CDS: 10_000_000, KiteSegment.BCD: 10_000,
                                        KiteSegment.NCO: 10_000}
PAISE_DIVISOR: Final = 100

# Kite segment -> ours (ipc.segments). MCXSX and NCO have no segment of ours: their instruments are
# not loaded (engine.model.master_csv) and their packets are unknown instruments.
OUR_SEGMENT: Final[dict[int, Segment]] = {
    KiteSegment.NSE: Segment.NSE_EQ, KiteSegment.NFO: Segment.NSE_FNO, KiteSegment.CDS: Segment.NSE_CURRENCY,
    KiteSegment.BSE: Segment.BSE_EQ, KiteSegment.BFO: Segment.BSE_FNO, KiteSegment.BCD: Segment.BSE_CURRENCY,
    KiteSegment.MCX: Segment.MCX_COMM, KiteSegment.INDICES: Segment.IDX_I,
}
KITE_SEGMENT: Final[dict[int, KiteSegment]] = {int(ours): kite for kite, ours in OUR_SEGMENT.items()}


def price_divisor(instrument_token: int) -> int:
    """Wire integer per rupee for this instrument's segment."""
    return PRICE_DIVISOR.get(instrument_token & 0xFF, PAISE_DIVISOR)


def kite_token(segment: int, security_id: int) -> int:
    """The instrument token Kite gives an instrument of ours: exchange token << 8 | Kite segment.
    Raises ValueError for a segment Kite does not carry or an id wider than 24 bits."""
    kite = KITE_SEGMENT.get(segment)
    if kite is None or not 0 < security_id < 1 << 24:
        raise ValueError(f"segment {segment} id {security_id} has no Kite instrument token")
    return security_id << 8 | int(kite)


# --------------------------------------------------------------------------------------------
# Encoders (integer values in, Kite bytes out): the fake ticker and the tests build frames here.
# --------------------------------------------------------------------------------------------


def frame(packets: Sequence[bytes]) -> bytes:
    """One binary message carrying ``packets`` (count, then length-prefixed packets)."""
    return FRAME_HEADER.pack(len(packets)) + b"".join(PACKET_HEADER.pack(len(p)) + p for p in packets)


def encode_ltp(token: int, ltp: int) -> bytes:
    """LTP packet; ``ltp`` in wire units (paise for most segments)."""
    return LTP.pack(token, ltp)


def encode_index(token: int, ltp: int, high: int, low: int, open_: int, close: int, change: int = 0,
                 exchange_ts_s: int | None = None) -> bytes:
    """Index quote packet, or index full packet when ``exchange_ts_s`` is given."""
    if exchange_ts_s is None:
        return INDEX_QUOTE.pack(token, ltp, high, low, open_, close, change)
    return INDEX_FULL.pack(token, ltp, high, low, open_, close, change, exchange_ts_s)


def encode_quote(token: int, *, ltp: int, ltq: int, atp: int, volume: int, buy_qty: int, sell_qty: int,
                 open_: int, high: int, low: int, close: int) -> bytes:
    return QUOTE.pack(token, ltp, ltq, atp, volume, buy_qty, sell_qty, open_, high, low, close)


def encode_full(token: int, *, ltp: int, ltq: int, atp: int, volume: int, buy_qty: int, sell_qty: int,
                open_: int, high: int, low: int, close: int, ltt_s: int, oi: int, oi_high: int, oi_low: int,
                exchange_ts_s: int, bids: Sequence[tuple[int, int, int]],
                asks: Sequence[tuple[int, int, int]]) -> bytes:
    """Full packet; ``bids`` / ``asks`` are 5 ``(qty, price, orders)`` each, best first. Raises
    ValueError for another number of levels."""
    if len(bids) != DEPTH_LEVELS or len(asks) != DEPTH_LEVELS:
        raise ValueError(f"full packet: {len(bids)} bids and {len(asks)} asks, {DEPTH_LEVELS} each required")
    head = FULL_HEAD.pack(token, ltp, ltq, atp, volume, buy_qty, sell_qty, open_, high, low, close, ltt_s, oi,
                          oi_high, oi_low, exchange_ts_s)
    return head + DEPTH.pack(*(v for level in (*bids, *asks) for v in level))
