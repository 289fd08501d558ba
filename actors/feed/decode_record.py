"""Record-by-record decode: one packet at a time into message Structs (small frames, live path).

A packet is read with ``np.frombuffer(..., count=1).tolist()`` (plain Python scalars), a few
microseconds each; the columnar path (``actors.feed.decode_columnar``) gives the same messages for
many packets at once. The walker (``actors.feed.decode``) hands over only well-formed packets.
"""

from __future__ import annotations

import numpy as np

from actors.feed import wire
from actors.feed.decode_common import (
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
    DecoderCore,
    depth_disconnect_reason,
)
from engine.model.ist import NS_PER_S
from engine.model.money import prices_to_paise
from ipc.messages import Depth, FeedDisconnected, MarketStatus, Message, OpenInterest, PrevClose, Quote, Tick

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


def _paise(dec: DecoderCore, prices: list[float], segment: int, security_id: int) -> list[int] | None:
    """Prices (rupees) -> paise on the instrument's tick; None if any is not a sane number."""
    # Hot path: the same rule as the columnar path (engine.model.money).
    try:
        out = prices_to_paise(prices, dec.tick_map.get((segment, security_id), DEFAULT_TICK_PAISE))
    except ValueError:  # NaN, infinity
        return None
    for v in out:
        if v > MAX_ABS_PRICE_PAISE or v < -MAX_ABS_PRICE_PAISE:
            return None
    return out


def _event_ns(dec: DecoderCore, ltt_s: int, ts_init_ns: int) -> int:
    return ltt_s * NS_PER_S - dec.ist_offset_ns if ltt_s else ts_init_ns


def decode_packet(
    dec: DecoderCore, data: bytes, off: int, code: int, length: int, ts_init_ns: int, out: list[Message]
) -> None:
    # Hot path: one packet -> message(s), appended to ``out``.
    if code == CODE_FULL:
        (r,) = np.frombuffer(data, _FULL_FLAT_DTYPE, 1, off).tolist()
        head = r[:_DEPTH0]
        _c, _l, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, oi, oih, oil, o, c, h, lo = head
        # wire order within a level: bid_qty, ask_qty, bid_orders, ask_orders, bid_px, ask_px
        paise = _paise(dec,
            [ltp, atp, o, c, h, lo, *r[_DEPTH0 + 4 :: _NL], *r[_DEPTH0 + 5 :: _NL]], seg, sid
        )
        if paise is None:
            dec.bad_price(-1, off, len(data), code)
            return
        ts_event = _event_ns(dec, ltt, ts_init_ns)
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
    elif code == CODE_QUOTE:
        (r,) = np.frombuffer(data, wire.QUOTE_DTYPE, 1, off).tolist()
        _c, _l, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, o, c, h, lo = r
        paise = _paise(dec, [ltp, atp, o, c, h, lo], seg, sid)
        if paise is None:
            dec.bad_price(-1, off, len(data), code)
            return
        out.append(
            Quote(
                seg, sid, paise[0], ltq, paise[1], vol, tsq, tbq, paise[2], paise[3],
                paise[4], paise[5], _event_ns(dec, ltt, ts_init_ns), ts_init_ns,
            )
        )
    elif code == CODE_TICKER or code == CODE_INDEX:
        (r,) = np.frombuffer(data, wire.TICKER_DTYPE, 1, off).tolist()
        _c, _l, seg, sid, ltp, ltt = r
        paise = _paise(dec, [ltp], seg, sid)
        if paise is None:
            dec.bad_price(-1, off, len(data), code)
            return
        out.append(Tick(seg, sid, paise[0], _event_ns(dec, ltt, ts_init_ns), ts_init_ns))
    elif code == CODE_OI:
        (r,) = np.frombuffer(data, wire.OI_DTYPE, 1, off).tolist()
        out.append(OpenInterest(r[2], r[3], r[4], ts_init_ns, ts_init_ns))
    elif code == CODE_PREV_CLOSE:
        (r,) = np.frombuffer(data, wire.PREV_CLOSE_DTYPE, 1, off).tolist()
        _c, _l, seg, sid, prev_close, prev_oi = r
        paise = _paise(dec, [prev_close], seg, sid)
        if paise is None:
            dec.bad_price(-1, off, len(data), code)
            return
        out.append(PrevClose(seg, sid, paise[0], prev_oi, ts_init_ns, ts_init_ns))
    elif code == CODE_STATUS:
        (r,) = np.frombuffer(data, wire.HEADER_DTYPE, 1, off).tolist()
        out.append(MarketStatus(r[2], r[3], ts_init_ns, ts_init_ns))
    elif code == CODE_DISCONNECT:
        (r,) = np.frombuffer(data, wire.DISCONNECT_DTYPE, 1, off).tolist()
        reason = r[4]
        out.append(
            FeedDisconnected(
                reason, wire.disconnect_reason_name(reason), ts_init_ns, ts_init_ns
            )
        )
    elif code == PC_DEPTH_SIDE:
        (h,) = np.frombuffer(data, wire.DEPTH_HEADER_DTYPE, 1, off).tolist()
        _l, dcode, seg, sid, _seq = h
        n_rows = (length - wire.DEPTH_HEADER_SIZE) // wire.DEPTH_ROW_SIZE  # walker-checked
        rows = np.frombuffer(
            data, wire.DEPTH_ROW_DTYPE, n_rows, off + wire.DEPTH_HEADER_SIZE
        ).tolist()
        paise = _paise(dec, [r[0] for r in rows], seg, sid)
        if paise is None:
            dec.bad_price(-1, off, len(data), dcode)
            return
        qty = [r[1] for r in rows]
        orders = [r[2] for r in rows]
        if dcode == CODE_BID:
            out.append(
                Depth(seg, sid, "bid", paise, qty, orders, [], [], [], ts_init_ns, ts_init_ns)
            )
        else:
            out.append(
                Depth(seg, sid, "ask", [], [], [], paise, qty, orders, ts_init_ns, ts_init_ns)
            )
    elif code == PC_DEPTH_DISCONNECT:
        reason = depth_disconnect_reason(data, off, length)
        out.append(
            FeedDisconnected(
                reason, wire.disconnect_reason_name(reason), ts_init_ns, ts_init_ns
            )
        )
    else:  # the walker only hands over codes handled above
        return
    dec.stats.packets += 1
    dec.stats.messages += 2 if code == CODE_FULL else 1
