"""Record-by-record decode: one packet at a time into message Structs (the live path).

Each packet is read with the precompiled ``struct.Struct`` of its layout (``actors.feed.wire``
derives them from the dtypes) and its message built positionally; one decoder per pseudo-code,
looked up in a table indexed by the code. The columnar path (``actors.feed.decode_columnar``)
gives the same messages for many packets at once (a property test holds them to it).

A decoder ``fn(dec, data, off, ts_init_ns)`` checks the packet's own length field and segment
(cheap here, and it lets :meth:`~actors.feed.decode.FrameDecoder.decode_frame` hand it a whole
single-packet frame without walking it first) and returns None, having done nothing, when they
are not those of a well-formed packet: the caller then walks the frame, which names the problem.
Otherwise it returns the packet's message(s), or none when it counted a bad price.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable

from actors.feed import wire
from actors.feed.decode_common import (
    CODE_ASK,
    CODE_BID,
    CODE_DISCONNECT,
    CODE_FULL,
    CODE_INDEX,
    CODE_OI,
    CODE_PREV_CLOSE,
    CODE_QUOTE,
    CODE_STATUS,
    CODE_TICKER,
    DEFAULT_TICK_PAISE,
    MAX_ABS_PRICE_PAISE,
    PC_DEPTH_DISCONNECT,
    PC_DEPTH_SIDE,
    SEGMENT_OK,
    DecoderCore,
    depth_disconnect_reason,
)
from engine.model.ist import NS_PER_S
from engine.model.money import price_on_tick, prices_to_paise
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

PacketDecoder = Callable[[DecoderCore, bytes, int, int], list[Message] | None]

_TICKER = wire.MARKET_STRUCTS[CODE_TICKER]
_QUOTE = wire.MARKET_STRUCTS[CODE_QUOTE]
_FULL = wire.MARKET_STRUCTS[CODE_FULL]
_OI = wire.MARKET_STRUCTS[CODE_OI]
_PREV_CLOSE = wire.MARKET_STRUCTS[CODE_PREV_CLOSE]
_STATUS = wire.MARKET_STRUCTS[CODE_STATUS]
_DISCONNECT = wire.MARKET_STRUCTS[CODE_DISCONNECT]
_DEPTH_HEADER = wire.DEPTH_HEADER_STRUCT
# Index of the first depth value in an unpacked full packet, and the values per level (wire order
# within a level: bid_qty, ask_qty, bid_orders, ask_orders, bid_price, ask_price).
_D0 = len(wire.FULL_DTYPE.names) - 1  # every field but the depth comes first
_NL = len(wire.FULL_LEVEL_DTYPE.names)
_MAX = MAX_ABS_PRICE_PAISE
_DISCONNECT_NAMES: dict[int, str] = {int(r): r.name for r in wire.DisconnectReason}


def _reason_name(reason_code: int) -> str:
    # Hot enough to skip the enum's exception for undocumented codes.
    name = _DISCONNECT_NAMES.get(reason_code)
    return name if name is not None else wire.disconnect_reason_name(reason_code)


@functools.lru_cache(maxsize=None)
def _rows_struct(n_rows: int) -> struct.Struct:
    return struct.Struct("<" + wire.DEPTH_ROW_FORMAT * n_rows)


def _ticker(dec: DecoderCore, data: bytes, off: int, ts_init_ns: int) -> list[Message] | None:
    # Hot path: ticker and index packets (same layout).
    code, length, seg, sid, ltp, ltt = _TICKER.unpack_from(data, off)
    if length != 16 or not SEGMENT_OK[seg]:
        return None
    try:
        paise = price_on_tick(ltp, dec.tick_map.get((seg, sid), DEFAULT_TICK_PAISE))
    except (ValueError, OverflowError):  # NaN, infinity
        paise = _MAX + 1
    if paise > _MAX or paise < -_MAX:
        dec.bad_price(-1, off, len(data), code)
        return []
    dec.stats.packets += 1
    return [Tick(seg, sid, paise, ltt * NS_PER_S - dec.ist_offset_ns if ltt else ts_init_ns, ts_init_ns)]


def _prev_close(dec: DecoderCore, data: bytes, off: int, ts_init_ns: int) -> list[Message] | None:
    # Hot path.
    code, length, seg, sid, prev_close, prev_oi = _PREV_CLOSE.unpack_from(data, off)
    if length != 16 or not SEGMENT_OK[seg]:
        return None
    try:
        paise = price_on_tick(prev_close, dec.tick_map.get((seg, sid), DEFAULT_TICK_PAISE))
    except (ValueError, OverflowError):  # NaN, infinity
        paise = _MAX + 1
    if paise > _MAX or paise < -_MAX:
        dec.bad_price(-1, off, len(data), code)
        return []
    dec.stats.packets += 1
    return [PrevClose(seg, sid, paise, prev_oi, ts_init_ns, ts_init_ns)]


def _oi(dec: DecoderCore, data: bytes, off: int, ts_init_ns: int) -> list[Message] | None:
    # Hot path.
    _code, length, seg, sid, oi = _OI.unpack_from(data, off)
    if length != 12 or not SEGMENT_OK[seg]:
        return None
    dec.stats.packets += 1
    return [OpenInterest(seg, sid, oi, ts_init_ns, ts_init_ns)]


def _status(dec: DecoderCore, data: bytes, off: int, ts_init_ns: int) -> list[Message] | None:
    # Hot path. Longer status packets are accepted; only the header is read.
    _code, length, seg, sid = _STATUS.unpack_from(data, off)
    if length < 8 or length > len(data) - off or not SEGMENT_OK[seg]:
        return None
    dec.stats.packets += 1
    return [MarketStatus(seg, sid, ts_init_ns, ts_init_ns)]


def _disconnect(dec: DecoderCore, data: bytes, off: int, ts_init_ns: int) -> list[Message] | None:
    # The segment of a disconnect is not checked (Dhan sends 0, the walker does not check it).
    _code, length, _seg, _sid, reason = _DISCONNECT.unpack_from(data, off)
    if length != 10:
        return None
    dec.stats.packets += 1
    return [FeedDisconnected(reason, _reason_name(reason), ts_init_ns, ts_init_ns)]


def _quote(dec: DecoderCore, data: bytes, off: int, ts_init_ns: int) -> list[Message] | None:
    # Hot path.
    code, length, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, o, c, h, lo = _QUOTE.unpack_from(data, off)
    if length != 50 or not SEGMENT_OK[seg]:
        return None
    try:
        p = prices_to_paise((ltp, atp, o, c, h, lo), dec.tick_map.get((seg, sid), DEFAULT_TICK_PAISE))
    except ValueError:
        p = [_MAX + 1]
    if max(p) > _MAX or min(p) < -_MAX:
        dec.bad_price(-1, off, len(data), code)
        return []
    dec.stats.packets += 1
    return [
        Quote(
            seg, sid, p[0], ltq, p[1], vol, tsq, tbq, p[2], p[3], p[4], p[5],
            ltt * NS_PER_S - dec.ist_offset_ns if ltt else ts_init_ns, ts_init_ns,
        )
    ]  # fmt: skip


def _full(dec: DecoderCore, data: bytes, off: int, ts_init_ns: int) -> list[Message] | None:
    # Hot path: one Quote and one 5-level Depth.
    r = _FULL.unpack_from(data, off)
    code, length, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, oi, oih, oil, o, c, h, lo = r[:_D0]
    if length != 162 or not SEGMENT_OK[seg]:
        return None
    try:
        p = prices_to_paise(
            (ltp, atp, o, c, h, lo, *r[_D0 + 4 :: _NL], *r[_D0 + 5 :: _NL]),
            dec.tick_map.get((seg, sid), DEFAULT_TICK_PAISE),
        )
    except ValueError:
        p = [_MAX + 1]
    if max(p) > _MAX or min(p) < -_MAX:
        dec.bad_price(-1, off, len(data), code)
        return []
    stats = dec.stats
    stats.packets += 1
    stats.extra_messages += 1
    ts_event = ltt * NS_PER_S - dec.ist_offset_ns if ltt else ts_init_ns
    return [
        Quote(
            seg, sid, p[0], ltq, p[1], vol, tsq, tbq, p[2], p[3], p[4], p[5],
            ts_event, ts_init_ns, oi, oih, oil,
        ),
        Depth(
            seg, sid, "both",
            p[6:11], list(r[_D0::_NL]), list(r[_D0 + 2 :: _NL]),
            p[11:16], list(r[_D0 + 1 :: _NL]), list(r[_D0 + 3 :: _NL]),
            ts_event, ts_init_ns,
        ),
    ]  # fmt: skip


def _depth_side(dec: DecoderCore, data: bytes, off: int, ts_init_ns: int) -> list[Message] | None:
    # A 20/200-level side: the walker has checked its length against the feed and the row count.
    length, dcode, seg, sid, _seq = _DEPTH_HEADER.unpack_from(data, off)
    if (dcode != CODE_BID and dcode != CODE_ASK) or not SEGMENT_OK[seg]:
        return None
    n_rows = (length - wire.DEPTH_HEADER_SIZE) // wire.DEPTH_ROW_SIZE
    rows = _rows_struct(n_rows).unpack_from(data, off + wire.DEPTH_HEADER_SIZE)
    try:
        paise = prices_to_paise(rows[0::3], dec.tick_map.get((seg, sid), DEFAULT_TICK_PAISE))
    except ValueError:
        paise = [_MAX + 1]
    if paise and (max(paise) > _MAX or min(paise) < -_MAX):
        dec.bad_price(-1, off, len(data), dcode)
        return []
    dec.stats.packets += 1
    qty = list(rows[1::3])
    orders = list(rows[2::3])
    if dcode == CODE_BID:
        return [Depth(seg, sid, "bid", paise, qty, orders, [], [], [], ts_init_ns, ts_init_ns)]
    return [Depth(seg, sid, "ask", [], [], [], paise, qty, orders, ts_init_ns, ts_init_ns)]


def _depth_disconnect(dec: DecoderCore, data: bytes, off: int, ts_init_ns: int) -> list[Message] | None:
    length = data[off] | (data[off + 1] << 8)
    reason = depth_disconnect_reason(data, off, length)
    dec.stats.packets += 1
    return [FeedDisconnected(reason, _reason_name(reason), ts_init_ns, ts_init_ns)]


def _table() -> tuple[PacketDecoder | None, ...]:
    table: list[PacketDecoder | None] = [None] * 256
    for code, fn in (
        (CODE_TICKER, _ticker), (CODE_INDEX, _ticker), (CODE_QUOTE, _quote), (CODE_FULL, _full),
        (CODE_OI, _oi), (CODE_PREV_CLOSE, _prev_close), (CODE_STATUS, _status),
        (CODE_DISCONNECT, _disconnect), (PC_DEPTH_SIDE, _depth_side),
        (PC_DEPTH_DISCONNECT, _depth_disconnect),
    ):  # fmt: skip
        table[code] = fn
    return tuple(table)


# The decoder of each (pseudo-)code, indexed by it; None for codes that are not decoded.
PACKET_DECODERS: tuple[PacketDecoder | None, ...] = _table()
