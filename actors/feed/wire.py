"""Dhan feed wire formats: the one place for codes, sizes, numpy dtypes and packet encoders.

Sources: /work/shared/docs/DHAN_PROTOCOL.md sections A and E (offsets from 0, little-endian) and
the dhanhq 2.3.0 decoder. Every integer field is read *unsigned*, as dhanhq reads it: the docs call
LTQ, volume, OI, LTT and security id signed, but none of them can be negative and the unsigned read
doubles the range before a large volume or quantity would wrap.

Two header shapes exist:

* 5-level market feed (``api-feed.dhan.co``): 8 bytes ``u8 code, u16 length, u8 segment,
  u32 security_id``; ``length`` is the whole packet, header included.
* 20/200-level depth feed: 12 bytes ``u16 length, u8 code, u8 segment, u32 security_id,
  u32 sequence`` (the sequence is the row count at 200 levels).

Encoders build real Dhan bytes from integer paise/units values (for the synthetic market and the
tests). A price is sent as float32 rupees, so ``paise -> float32(paise / 100)``; the decoder
turns it back into paise by rounding to the instrument's tick.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np

# Every feed a capture can hold, in capture-header order (the header stores the index): the three
# Dhan feeds (the 5-level market feed and the 20- and 200-level depth feeds), then Kite's ticker
# (decoded by actors.feed.kite_decode).
DhanFeedKind = Literal["market", "depth20", "depth200"]
FeedKind = Literal[DhanFeedKind, "kite"]
FEED_KINDS: tuple[FeedKind, ...] = (*get_args(DhanFeedKind), "kite")
DHAN_FEED_KINDS: tuple[DhanFeedKind, ...] = get_args(DhanFeedKind)

# --------------------------------------------------------------------------------------------
# Codes
# --------------------------------------------------------------------------------------------


class FeedCode(enum.IntEnum):
    """Response code, byte 0 of every 5-level feed packet."""

    INDEX = 1
    TICKER = 2
    MARKET_DEPTH_V1 = 3  # legacy v1 packet (112 B in dhanhq); not decoded, counted as unsupported
    QUOTE = 4
    OI = 5
    PREV_CLOSE = 6
    MARKET_STATUS = 7
    FULL = 8
    DISCONNECT = 50


class DepthCode(enum.IntEnum):
    """Response code, byte 2 of every 20/200-level depth packet."""

    BID = 41
    ASK = 51
    DISCONNECT = 50


class DisconnectReason(enum.IntEnum):
    """Reason code in a disconnect packet (Dhan annexure). 801-803 are not documented."""

    INTERNAL_SERVER_ERROR = 800
    TOO_MANY_INSTRUMENTS = 804
    TOO_MANY_CONNECTIONS = 805
    DATA_APIS_NOT_SUBSCRIBED = 806
    TOKEN_EXPIRED = 807
    AUTHENTICATION_FAILED = 808
    TOKEN_INVALID = 809
    CLIENT_ID_INVALID = 810
    INVALID_EXPIRY_DATE = 811
    INVALID_DATE_FORMAT = 812
    INVALID_SECURITY_ID = 813
    INVALID_REQUEST = 814


def disconnect_reason_name(reason_code: int) -> str:
    """``DisconnectReason`` name of a code, or ``UNKNOWN_<code>`` for an undocumented one."""
    try:
        return DisconnectReason(reason_code).name
    except ValueError:
        return f"UNKNOWN_{reason_code}"


# --------------------------------------------------------------------------------------------
# Sizes (bytes)
# --------------------------------------------------------------------------------------------

HEADER_SIZE = 8
TICKER_SIZE = 16
INDEX_SIZE = 16  # only the ticker-shaped index packet is decoded; see INDEX_DTYPE
QUOTE_SIZE = 50
OI_SIZE = 12
PREV_CLOSE_SIZE = 16
MARKET_STATUS_SIZE = 8  # header only; longer status packets are accepted and the rest ignored
FULL_SIZE = 162
DISCONNECT_SIZE = 10
MARKET_DEPTH_V1_SIZE = 112

FULL_DEPTH_LEVELS = 5
FULL_DEPTH_OFFSET = 62
FULL_DEPTH_LEVEL_SIZE = 20

DEPTH_HEADER_SIZE = 12
DEPTH_ROW_SIZE = 16
DEPTH20_LEVELS = 20
DEPTH20_SIZE = DEPTH_HEADER_SIZE + DEPTH20_LEVELS * DEPTH_ROW_SIZE  # 332
DEPTH200_MAX_ROWS = 200
DEPTH_DISCONNECT_SIZE = 14  # docs: i16 reason at offset 12
DEPTH_DISCONNECT_SDK_SIZE = 12  # dhanhq reads the reason from the u32 at offset 8

# Fixed size of each 5-level packet the decoder understands. MARKET_STATUS is a minimum (no
# payload layout is documented), INDEX is the only length that is decoded.
PACKET_SIZE: dict[int, int] = {
    FeedCode.INDEX: INDEX_SIZE,
    FeedCode.TICKER: TICKER_SIZE,
    FeedCode.QUOTE: QUOTE_SIZE,
    FeedCode.OI: OI_SIZE,
    FeedCode.PREV_CLOSE: PREV_CLOSE_SIZE,
    FeedCode.MARKET_STATUS: MARKET_STATUS_SIZE,
    FeedCode.FULL: FULL_SIZE,
    FeedCode.DISCONNECT: DISCONNECT_SIZE,
}

# --------------------------------------------------------------------------------------------
# numpy dtypes (explicit offsets: packets are packed, fields are unaligned)
# --------------------------------------------------------------------------------------------

_HEADER_FIELDS: list[tuple[str, object, int]] = [
    ("code", "u1", 0),
    ("length", "<u2", 1),
    ("segment", "u1", 3),
    ("security_id", "<u4", 4),
]


def _packed(fields: list[tuple[str, object, int]], itemsize: int) -> np.dtype:
    return np.dtype(
        {
            "names": [f[0] for f in fields],
            "formats": [f[1] for f in fields],
            "offsets": [f[2] for f in fields],
            "itemsize": itemsize,
        }
    )


HEADER_DTYPE = _packed(_HEADER_FIELDS, HEADER_SIZE)

TICKER_DTYPE = _packed(_HEADER_FIELDS + [("ltp", "<f4", 8), ("ltt", "<u4", 12)], TICKER_SIZE)

# Index (code 1): neither the docs nor dhanhq give a layout (dhanhq returns None for it).
# D-2026 lists it next to ticker as "index packet"; we treat a 16-byte index packet as
# ticker-shaped (f32 value at 8, u32 LTT at 12) and count any other length as unsupported.
INDEX_DTYPE = TICKER_DTYPE

PREV_CLOSE_DTYPE = _packed(
    _HEADER_FIELDS + [("prev_close", "<f4", 8), ("prev_oi", "<u4", 12)], PREV_CLOSE_SIZE
)

OI_DTYPE = _packed(_HEADER_FIELDS + [("oi", "<u4", 8)], OI_SIZE)

MARKET_STATUS_DTYPE = HEADER_DTYPE

DISCONNECT_DTYPE = _packed(_HEADER_FIELDS + [("reason", "<u2", 8)], DISCONNECT_SIZE)

QUOTE_DTYPE = _packed(
    _HEADER_FIELDS
    + [
        ("ltp", "<f4", 8),
        ("ltq", "<u2", 12),
        ("ltt", "<u4", 14),
        ("atp", "<f4", 18),
        ("volume", "<u4", 22),
        ("total_sell_qty", "<u4", 26),
        ("total_buy_qty", "<u4", 30),
        ("open", "<f4", 34),
        ("close", "<f4", 38),
        ("high", "<f4", 42),
        ("low", "<f4", 46),
    ],
    QUOTE_SIZE,
)

# One level of the 5-level depth: bid and ask interleaved within the level.
FULL_LEVEL_DTYPE = _packed(
    [
        ("bid_qty", "<u4", 0),
        ("ask_qty", "<u4", 4),
        ("bid_orders", "<u2", 8),
        ("ask_orders", "<u2", 10),
        ("bid_price", "<f4", 12),
        ("ask_price", "<f4", 16),
    ],
    FULL_DEPTH_LEVEL_SIZE,
)

FULL_DTYPE = _packed(
    _HEADER_FIELDS
    + [
        ("ltp", "<f4", 8),
        ("ltq", "<u2", 12),
        ("ltt", "<u4", 14),
        ("atp", "<f4", 18),
        ("volume", "<u4", 22),
        ("total_sell_qty", "<u4", 26),
        ("total_buy_qty", "<u4", 30),
        ("oi", "<u4", 34),
        ("oi_day_high", "<u4", 38),
        ("oi_day_low", "<u4", 42),
        ("open", "<f4", 46),
        ("close", "<f4", 50),
        ("high", "<f4", 54),
        ("low", "<f4", 58),
        ("depth", (FULL_LEVEL_DTYPE, (FULL_DEPTH_LEVELS,)), FULL_DEPTH_OFFSET),
    ],
    FULL_SIZE,
)

_DEPTH_HEADER_FIELDS: list[tuple[str, object, int]] = [
    ("length", "<u2", 0),
    ("code", "u1", 2),
    ("segment", "u1", 3),
    ("security_id", "<u4", 4),
    ("sequence", "<u4", 8),  # 20-level: sequence (ignored); 200-level: row count
]

DEPTH_HEADER_DTYPE = _packed(_DEPTH_HEADER_FIELDS, DEPTH_HEADER_SIZE)

DEPTH_ROW_DTYPE = _packed(
    [("price", "<f8", 0), ("qty", "<u4", 8), ("orders", "<u4", 12)], DEPTH_ROW_SIZE
)

DEPTH20_DTYPE = _packed(
    _DEPTH_HEADER_FIELDS + [("rows", (DEPTH_ROW_DTYPE, (DEPTH20_LEVELS,)), DEPTH_HEADER_SIZE)],
    DEPTH20_SIZE,
)

DEPTH_DISCONNECT_DTYPE = _packed(
    _DEPTH_HEADER_FIELDS + [("reason", "<u2", DEPTH_HEADER_SIZE)], DEPTH_DISCONNECT_SIZE
)

# dtype of each fixed-size 5-level packet, by response code.
MARKET_DTYPES: dict[int, np.dtype] = {
    FeedCode.INDEX: INDEX_DTYPE,
    FeedCode.TICKER: TICKER_DTYPE,
    FeedCode.QUOTE: QUOTE_DTYPE,
    FeedCode.OI: OI_DTYPE,
    FeedCode.PREV_CLOSE: PREV_CLOSE_DTYPE,
    FeedCode.MARKET_STATUS: MARKET_STATUS_DTYPE,
    FeedCode.FULL: FULL_DTYPE,
    FeedCode.DISCONNECT: DISCONNECT_DTYPE,
}

# --------------------------------------------------------------------------------------------
# struct layouts (the per-packet live path): derived from the dtypes above, never written twice
# --------------------------------------------------------------------------------------------

_STRUCT_CODE: dict[tuple[str, int], str] = {
    ("u", 1): "B", ("u", 2): "H", ("u", 4): "I", ("f", 4): "f", ("f", 8): "d",
}  # fmt: skip


def _leaves(dtype: np.dtype, base: int) -> list[tuple[int, np.dtype]]:
    """(offset, scalar dtype) of every scalar in a packed dtype, sub-arrays element by element."""
    if dtype.subdtype is not None:
        sub, shape = dtype.subdtype
        count = int(np.prod(shape))
        return [leaf for i in range(count) for leaf in _leaves(sub, base + i * sub.itemsize)]
    if dtype.names is None:
        return [(base, dtype)]
    fields = sorted((dtype.fields[n][1], dtype.fields[n][0]) for n in dtype.names)
    return [leaf for off, sub in fields for leaf in _leaves(sub, base + off)]


def struct_format(dtype: np.dtype) -> str:
    """The little-endian ``struct`` format of a packed dtype: its scalars in offset order (a
    sub-array element by element, each element's fields in offset order), gaps as pad bytes,
    the record's whole itemsize covered."""
    parts = ["<"]
    pos = 0
    for off, leaf in _leaves(dtype, 0):
        if off > pos:
            parts.append(f"{off - pos}x")
        parts.append(_STRUCT_CODE[(leaf.kind, leaf.itemsize)])
        pos = off + leaf.itemsize
    if dtype.itemsize > pos:
        parts.append(f"{dtype.itemsize - pos}x")
    return "".join(parts)


# One precompiled struct per 5-level packet layout, by response code (a full packet's 5 depth
# levels come flattened level by level: bid_qty, ask_qty, bid_orders, ask_orders, bid_price,
# ask_price), and the depth feed's header and row.
MARKET_STRUCTS: dict[int, struct.Struct] = {
    code: struct.Struct(struct_format(dtype)) for code, dtype in MARKET_DTYPES.items()
}
DEPTH_HEADER_STRUCT = struct.Struct(struct_format(DEPTH_HEADER_DTYPE))
DEPTH_ROW_FORMAT = struct_format(DEPTH_ROW_DTYPE)[1:]  # without "<": repeated per row


# --------------------------------------------------------------------------------------------
# Encoders (paise/units in, Dhan bytes out)
# --------------------------------------------------------------------------------------------

DepthSide = Literal["bid", "ask"]


def paise_to_f32(price_paise: int | np.ndarray | Sequence[int]) -> np.ndarray:
    """Integer paise -> float32 rupees as Dhan sends them (nearest float32 to paise / 100)."""
    return (np.asarray(price_paise, dtype=np.float64) / 100.0).astype(np.float32)


def blank_packets(code: FeedCode, n: int) -> np.ndarray:
    """``n`` zeroed 5-level packets of ``code`` with the code and length fields filled in."""
    recs = np.zeros(n, dtype=MARKET_DTYPES[code])
    recs["code"] = int(code)
    recs["length"] = PACKET_SIZE[code]
    return recs


def blank_depth_packets(code: DepthCode, n: int) -> np.ndarray:
    """``n`` zeroed 20-level depth packets (bid or ask) with code and length filled in."""
    if code == DepthCode.DISCONNECT:
        raise ValueError("use encode_depth_disconnect for depth disconnect packets")
    recs = np.zeros(n, dtype=DEPTH20_DTYPE)
    recs["code"] = int(code)
    recs["length"] = DEPTH20_SIZE
    return recs


def split_packets(recs: np.ndarray) -> list[bytes]:
    """One ``bytes`` per record of a packet array (one packet per websocket frame)."""
    raw = recs.tobytes()
    size = recs.dtype.itemsize
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def _one(code: FeedCode, segment: int, security_id: int) -> np.ndarray:
    recs = blank_packets(code, 1)
    recs["segment"] = segment
    recs["security_id"] = security_id
    return recs


def encode_ticker(segment: int, security_id: int, ltp_paise: int, ltt_s: int) -> bytes:
    """Ticker packet (code 2, 16 B). ``ltt_s`` is the LTT epoch in seconds."""
    recs = _one(FeedCode.TICKER, segment, security_id)
    recs["ltp"] = paise_to_f32(ltp_paise)
    recs["ltt"] = ltt_s
    return recs.tobytes()


def encode_index(segment: int, security_id: int, value_paise: int, ltt_s: int) -> bytes:
    """Index packet (code 1) in the ticker shape this module assumes for it (see INDEX_DTYPE)."""
    recs = _one(FeedCode.INDEX, segment, security_id)
    recs["ltp"] = paise_to_f32(value_paise)
    recs["ltt"] = ltt_s
    return recs.tobytes()


def encode_prev_close(
    segment: int, security_id: int, prev_close_paise: int, prev_oi_units: int
) -> bytes:
    """Previous-close packet (code 6, 16 B)."""
    recs = _one(FeedCode.PREV_CLOSE, segment, security_id)
    recs["prev_close"] = paise_to_f32(prev_close_paise)
    recs["prev_oi"] = prev_oi_units
    return recs.tobytes()


def encode_oi(segment: int, security_id: int, oi_units: int) -> bytes:
    """Open-interest packet (code 5, 12 B)."""
    recs = _one(FeedCode.OI, segment, security_id)
    recs["oi"] = oi_units
    return recs.tobytes()


def encode_market_status(segment: int, security_id: int) -> bytes:
    """Market-status packet (code 7, header only)."""
    return _one(FeedCode.MARKET_STATUS, segment, security_id).tobytes()


def encode_disconnect(reason_code: int, segment: int = 0, security_id: int = 0) -> bytes:
    """Disconnect packet (code 50, 10 B) carrying ``reason_code`` (e.g. 807 token expired)."""
    recs = _one(FeedCode.DISCONNECT, segment, security_id)
    recs["reason"] = reason_code
    return recs.tobytes()


def encode_quote(
    segment: int,
    security_id: int,
    *,
    ltp_paise: int,
    ltq_units: int,
    ltt_s: int,
    atp_paise: int,
    volume_units: int,
    total_sell_qty_units: int,
    total_buy_qty_units: int,
    open_paise: int,
    close_paise: int,
    high_paise: int,
    low_paise: int,
) -> bytes:
    """Quote packet (code 4, 50 B)."""
    recs = _one(FeedCode.QUOTE, segment, security_id)
    _fill_trade_fields(
        recs,
        ltp_paise,
        ltq_units,
        ltt_s,
        atp_paise,
        volume_units,
        total_sell_qty_units,
        total_buy_qty_units,
        open_paise,
        close_paise,
        high_paise,
        low_paise,
    )
    return recs.tobytes()


def encode_full(
    segment: int,
    security_id: int,
    *,
    ltp_paise: int,
    ltq_units: int,
    ltt_s: int,
    atp_paise: int,
    volume_units: int,
    total_sell_qty_units: int,
    total_buy_qty_units: int,
    oi_units: int,
    oi_day_high_units: int,
    oi_day_low_units: int,
    open_paise: int,
    close_paise: int,
    high_paise: int,
    low_paise: int,
    bid_price_paise: Sequence[int],
    bid_qty_units: Sequence[int],
    bid_orders: Sequence[int],
    ask_price_paise: Sequence[int],
    ask_qty_units: Sequence[int],
    ask_orders: Sequence[int],
) -> bytes:
    """Full packet (code 8, 162 B). Depth sequences hold 5 levels, best first.

    Raises ValueError when a depth sequence does not have exactly 5 entries.
    """
    recs = _one(FeedCode.FULL, segment, security_id)
    _fill_trade_fields(
        recs,
        ltp_paise,
        ltq_units,
        ltt_s,
        atp_paise,
        volume_units,
        total_sell_qty_units,
        total_buy_qty_units,
        open_paise,
        close_paise,
        high_paise,
        low_paise,
    )
    recs["oi"] = oi_units
    recs["oi_day_high"] = oi_day_high_units
    recs["oi_day_low"] = oi_day_low_units
    depth = recs["depth"]
    for name, values, to_wire in (
        ("bid_price", bid_price_paise, paise_to_f32),
        ("bid_qty", bid_qty_units, np.asarray),
        ("bid_orders", bid_orders, np.asarray),
        ("ask_price", ask_price_paise, paise_to_f32),
        ("ask_qty", ask_qty_units, np.asarray),
        ("ask_orders", ask_orders, np.asarray),
    ):
        if len(values) != FULL_DEPTH_LEVELS:
            raise ValueError(
                f"full packet {name}: {len(values)} levels given, {FULL_DEPTH_LEVELS} required"
            )
        depth[name][0] = to_wire(values)
    return recs.tobytes()


def _fill_trade_fields(
    recs: np.ndarray,
    ltp_paise: int,
    ltq_units: int,
    ltt_s: int,
    atp_paise: int,
    volume_units: int,
    total_sell_qty_units: int,
    total_buy_qty_units: int,
    open_paise: int,
    close_paise: int,
    high_paise: int,
    low_paise: int,
) -> None:
    recs["ltp"] = paise_to_f32(ltp_paise)
    recs["ltq"] = ltq_units
    recs["ltt"] = ltt_s
    recs["atp"] = paise_to_f32(atp_paise)
    recs["volume"] = volume_units
    recs["total_sell_qty"] = total_sell_qty_units
    recs["total_buy_qty"] = total_buy_qty_units
    recs["open"] = paise_to_f32(open_paise)
    recs["close"] = paise_to_f32(close_paise)
    recs["high"] = paise_to_f32(high_paise)
    recs["low"] = paise_to_f32(low_paise)


def _depth_code(side: DepthSide) -> DepthCode:
    if side == "bid":
        return DepthCode.BID
    if side == "ask":
        return DepthCode.ASK
    raise ValueError(f"depth side must be 'bid' or 'ask', got {side!r}")


def encode_depth20_side(
    segment: int,
    security_id: int,
    side: DepthSide,
    price_paise: Sequence[int],
    qty_units: Sequence[int],
    orders: Sequence[int],
    sequence: int = 0,
) -> bytes:
    """One side of the 20-level depth (code 41 bid / 51 ask, 332 B). Prices go out as float64
    rupees. Raises ValueError unless each sequence has exactly 20 rows."""
    for name, values in (("price", price_paise), ("qty", qty_units), ("orders", orders)):
        if len(values) != DEPTH20_LEVELS:
            raise ValueError(
                f"20-level depth {name}: {len(values)} rows given, {DEPTH20_LEVELS} required"
            )
    recs = blank_depth_packets(_depth_code(side), 1)
    recs["segment"] = segment
    recs["security_id"] = security_id
    recs["sequence"] = sequence
    rows = recs["rows"]
    rows["price"][0] = np.asarray(price_paise, dtype=np.float64) / 100.0
    rows["qty"][0] = qty_units
    rows["orders"][0] = orders
    return recs.tobytes()


def encode_depth200_side(
    segment: int,
    security_id: int,
    side: DepthSide,
    price_paise: Sequence[int],
    qty_units: Sequence[int],
    orders: Sequence[int],
) -> bytes:
    """One side of the 200-level depth: 12-byte header (row count at offset 8) then the rows.
    Raises ValueError for more than 200 rows or sequences of different lengths."""
    n_rows = len(price_paise)
    if n_rows > DEPTH200_MAX_ROWS or len(qty_units) != n_rows or len(orders) != n_rows:
        raise ValueError(
            f"200-level depth: {n_rows} prices, {len(qty_units)} qtys, {len(orders)} orders;"
            f" need equal lengths of at most {DEPTH200_MAX_ROWS}"
        )
    header = np.zeros(1, dtype=DEPTH_HEADER_DTYPE)
    header["length"] = DEPTH_HEADER_SIZE + n_rows * DEPTH_ROW_SIZE
    header["code"] = int(_depth_code(side))
    header["segment"] = segment
    header["security_id"] = security_id
    header["sequence"] = n_rows
    rows = np.zeros(n_rows, dtype=DEPTH_ROW_DTYPE)
    rows["price"] = np.asarray(price_paise, dtype=np.float64) / 100.0
    rows["qty"] = qty_units
    rows["orders"] = orders
    return header.tobytes() + rows.tobytes()


def encode_depth_disconnect(reason_code: int, segment: int = 0, security_id: int = 0) -> bytes:
    """Depth-feed disconnect (code 50, 14 B) with the reason as u16 at offset 12 (docs layout)."""
    recs = np.zeros(1, dtype=DEPTH_DISCONNECT_DTYPE)
    recs["length"] = DEPTH_DISCONNECT_SIZE
    recs["code"] = int(DepthCode.DISCONNECT)
    recs["segment"] = segment
    recs["security_id"] = security_id
    recs["reason"] = reason_code
    return recs.tobytes()
