"""The batch (replay) decoder's numba kernels for the 5-level feed: a module of their own, imported
only when a batch is decoded (``FrameDecoder.decode_buffer_columnar``), so that the live feed never
loads numba.

``walk`` finds the packets of the frames made only of well-formed fixed-size packets (one, or
stacked: Dhan stacks them at busy times) in one pass; ``decode`` turns packets into columns in
another, one row per message, ``seq`` its place in the packet-ordered message list. They give what
the walker and the record-by-record path give (``tests/unit/actors/feed/test_decode.py`` holds
every path equal); problems are left to the walker (a frame ``walk`` does not vouch for) and bad
prices reported by the caller (``decode`` returns those packets' indexes).

Prices go through ``engine.model.money.paise_on_tick``, the one float -> paise rule, compiled here
as it is. numba's cache does not see an edit of that function (only of this file): the test that
holds this kernel to ``price_to_paise`` fails on a stale cache; clear ``__pycache__`` then.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from actors.feed import wire
from actors.feed.decode_common import MAX_ABS_PRICE_PAISE
from engine.model.ist import NS_PER_S
from engine.model.money import PAISE_PER_RUPEE, paise_on_tick

_on_tick = njit(cache=True, inline="always")(paise_on_tick)
_PAISE_PER_RUPEE = float(PAISE_PER_RUPEE)
_MAX = float(MAX_ABS_PRICE_PAISE)
_HEADER = wire.HEADER_SIZE
_TICKER, _INDEX, _QUOTE = int(wire.FeedCode.TICKER), int(wire.FeedCode.INDEX), int(wire.FeedCode.QUOTE)
_OI, _PREV_CLOSE = int(wire.FeedCode.OI), int(wire.FeedCode.PREV_CLOSE)
_STATUS, _FULL, _DISCONNECT = int(wire.FeedCode.MARKET_STATUS), int(wire.FeedCode.FULL), int(wire.FeedCode.DISCONNECT)
_LEVELS = wire.FULL_DTYPE["depth"].shape[0]


def _at(code: int, name: str) -> int:
    """Byte offset of field ``name`` in a packet of ``code`` (the layouts are ``actors.feed.wire``'s)."""
    return int(wire.MARKET_DTYPES[code].fields[name][1])


def _level_at(name: str) -> int:
    return int(wire.FULL_LEVEL_DTYPE.fields[name][1])


# Field offsets the kernel reads (quote and full share theirs up to total_buy_qty).
_SEG, _SID, _LTP, _LTT = _at(_TICKER, "segment"), _at(_TICKER, "security_id"), _at(_TICKER, "ltp"), _at(_TICKER, "ltt")
_Q_LTP, _Q_LTQ, _Q_LTT, _Q_ATP = (_at(_QUOTE, n) for n in ("ltp", "ltq", "ltt", "atp"))
_Q_VOL, _Q_TSQ, _Q_TBQ = (_at(_QUOTE, n) for n in ("volume", "total_sell_qty", "total_buy_qty"))
_Q_OPEN, _F_OPEN = _at(_QUOTE, "open"), _at(_FULL, "open")  # open, close, high, low follow, 4 bytes each
_F_OI, _F_OIH, _F_OIL, _F_DEPTH = (_at(_FULL, n) for n in ("oi", "oi_day_high", "oi_day_low", "depth"))
_LEVEL = wire.FULL_LEVEL_DTYPE.itemsize
_L_BQ, _L_AQ, _L_BO, _L_AO, _L_BP, _L_AP = (
    _level_at(n) for n in ("bid_qty", "ask_qty", "bid_orders", "ask_orders", "bid_price", "ask_price"))
_PC_PRICE, _PC_OI = _at(_PREV_CLOSE, "prev_close"), _at(_PREV_CLOSE, "prev_oi")
_OI_OI, _REASON = _at(_OI, "oi"), _at(_DISCONNECT, "reason")
assert _at(_FULL, "total_buy_qty") == _Q_TBQ and _at(_FULL, "ltp") == _Q_LTP
assert [_at(_QUOTE, n) - _Q_OPEN for n in ("close", "high", "low")] == [4, 8, 12]
assert [_at(_FULL, n) - _F_OPEN for n in ("close", "high", "low")] == [4, 8, 12]

# Rows of the integer tables ``decode`` returns, by table: each name is the DecodedBatch column.
TICK_ROWS = ("segment", "security_id", "ltp_paise", "ts_event_ns", "ts_init_ns", "seq", "frame")
QUOTE_ROWS = (
    "segment", "security_id", "ltp_paise", "ltq_units", "atp_paise", "volume_units", "total_sell_qty_units",
    "total_buy_qty_units", "open_paise", "close_paise", "high_paise", "low_paise", "ts_event_ns", "ts_init_ns",
    "oi_units", "oi_day_high_units", "oi_day_low_units", "seq", "frame",
)  # fmt: skip
DEPTH_ROWS = ("segment", "security_id", "ts_event_ns", "ts_init_ns", "seq", "frame")
DEPTH_LEVEL_ROWS = ("bid_price_paise", "bid_qty_units", "bid_orders", "ask_price_paise", "ask_qty_units", "ask_orders")
OI_ROWS = ("segment", "security_id", "oi_units", "ts_event_ns", "ts_init_ns", "seq", "frame")
PREV_CLOSE_ROWS = ("segment", "security_id", "prev_close_paise", "prev_oi_units", "ts_event_ns", "ts_init_ns", "seq",
                   "frame")  # fmt: skip
STATUS_ROWS = ("segment", "security_id", "ts_event_ns", "ts_init_ns", "seq", "frame")
DISCONNECT_ROWS = ("reason_code", "ts_event_ns", "ts_init_ns", "seq", "frame")


@njit(cache=True)
def walk(u8, starts, lens, size_lut, segment_ok, is_disconnect):  # type: ignore[no-untyped-def]
    """Offsets, codes and frames (in packet order) of the packets of every frame made only of
    well-formed packets of fixed-size codes, and the indexes of the other frames (empty, cut,
    a bad length or segment, an unknown code, a longer status packet: the walker's to report)."""
    # Hot path (per replay block): one pass over the packet headers.
    cap = u8.size // _HEADER + 1
    off = np.empty(cap, dtype=np.int64)
    code = np.empty(cap, dtype=np.int64)
    frame = np.empty(cap, dtype=np.int64)
    slow = np.empty(starts.size, dtype=np.int64)
    k = 0
    n_slow = 0
    for f in range(starts.size):
        cur = starts[f]
        end = cur + lens[f]
        first = k
        ok = lens[f] > 0
        while ok and cur < end:
            if end - cur < _HEADER:
                ok = False
                break
            c = np.int64(u8[cur])
            length = np.int64(u8[cur + 1]) | (np.int64(u8[cur + 2]) << 8)
            if size_lut[c] != length or cur + length > end or not (segment_ok[u8[cur + 3]] or is_disconnect[c]):
                ok = False
                break
            off[k] = cur
            code[k] = c
            frame[k] = f
            k += 1
            cur += length
        if not ok:
            k = first  # a frame's packets before its problem go to the walker with the frame
            slow[n_slow] = f
            n_slow += 1
    return off[:k], code[:k], frame[:k], slow[:n_slow]


@njit(cache=True, inline="always")
def _u16(u8, o):  # type: ignore[no-untyped-def]
    return np.int64(u8[o]) | (np.int64(u8[o + 1]) << 8)


@njit(cache=True, inline="always")
def _u32(u8, o):  # type: ignore[no-untyped-def]
    return np.int64(u8[o]) | (np.int64(u8[o + 1]) << 8) | (np.int64(u8[o + 2]) << 16) | (np.int64(u8[o + 3]) << 24)


@njit(cache=True, inline="always")
def _paise(u8, o, tick):  # type: ignore[no-untyped-def]
    # The float32 rupees at ``o`` -> float64 paise on the tick (the one rule).
    # The bits as a u32, reinterpreted (a view of a byte slice would cost an array per price).
    rupees = np.uint32(_u32(u8, o)).view(np.float32)
    return _on_tick(np.float64(rupees) * _PAISE_PER_RUPEE, tick)


@njit(cache=True, inline="always")
def _sane(p):  # type: ignore[no-untyped-def]
    return abs(p) <= _MAX  # False for NaN too


@njit(cache=True, inline="always")
def _event_ns(ltt, ts_init, ist_offset_ns):  # type: ignore[no-untyped-def]
    return ltt * NS_PER_S - ist_offset_ns if ltt != 0 else ts_init


@njit(cache=True)
def decode(u8, off, code, frame, tick, ts, ist_offset_ns):  # type: ignore[no-untyped-def]
    """The messages of the packets at ``off`` (codes ``code``, frames ``frame``, ticks ``tick``
    in paise, all per packet in packet order; ``ts`` the receive time per frame) as int64 tables
    (one row per column of ``*_ROWS``, one column per message), and the indexes of the packets
    dropped for a NaN, infinite or out-of-range price. The message count is the tables' total."""
    # Hot path (per replay block): one pass over the packets, no Python object per packet.
    n = off.size
    counts = np.zeros(256, dtype=np.int64)
    for i in range(n):
        counts[code[i]] += 1
    ticks = np.empty((len(TICK_ROWS), counts[_TICKER] + counts[_INDEX]), dtype=np.int64)
    quotes = np.empty((len(QUOTE_ROWS), counts[_QUOTE] + counts[_FULL]), dtype=np.int64)
    depths = np.empty((len(DEPTH_ROWS), counts[_FULL]), dtype=np.int64)
    levels = np.empty((len(DEPTH_LEVEL_ROWS), counts[_FULL], _LEVELS), dtype=np.int64)
    ois = np.empty((len(OI_ROWS), counts[_OI]), dtype=np.int64)
    prevs = np.empty((len(PREV_CLOSE_ROWS), counts[_PREV_CLOSE]), dtype=np.int64)
    statuses = np.empty((len(STATUS_ROWS), counts[_STATUS]), dtype=np.int64)
    discs = np.empty((len(DISCONNECT_ROWS), counts[_DISCONNECT]), dtype=np.int64)
    bad = np.empty(n, dtype=np.int64)
    px = np.empty(6 + 2 * _LEVELS, dtype=np.float64)
    nt = nq = nd = no = npc = ns = nx = nb = 0
    seq = 0
    for i in range(n):
        o = off[i]
        c = code[i]
        f = frame[i]
        t_init = ts[f]
        seg = np.int64(u8[o + _SEG])
        sid = _u32(u8, o + _SID)
        if c == _TICKER or c == _INDEX:
            p = _paise(u8, o + _LTP, tick[i])
            if not _sane(p):
                bad[nb] = i
                nb += 1
                continue
            ticks[0, nt] = seg
            ticks[1, nt] = sid
            ticks[2, nt] = np.int64(p)
            ticks[3, nt] = _event_ns(_u32(u8, o + _LTT), t_init, ist_offset_ns)
            ticks[4, nt] = t_init
            ticks[5, nt] = seq
            ticks[6, nt] = f
            nt += 1
            seq += 1
        elif c == _QUOTE or c == _FULL:
            ohlc = _Q_OPEN if c == _QUOTE else _F_OPEN
            px[0] = _paise(u8, o + _Q_LTP, tick[i])
            px[1] = _paise(u8, o + _Q_ATP, tick[i])
            for j in range(4):
                px[2 + j] = _paise(u8, o + ohlc + 4 * j, tick[i])
            m = 6
            if c == _FULL:
                for lv in range(_LEVELS):
                    base = o + _F_DEPTH + _LEVEL * lv
                    px[6 + lv] = _paise(u8, base + _L_BP, tick[i])
                    px[6 + _LEVELS + lv] = _paise(u8, base + _L_AP, tick[i])
                m = 6 + 2 * _LEVELS
            ok = True
            for j in range(m):
                if not _sane(px[j]):
                    ok = False
            if not ok:
                bad[nb] = i
                nb += 1
                continue
            ts_event = _event_ns(_u32(u8, o + _Q_LTT), t_init, ist_offset_ns)
            quotes[0, nq] = seg
            quotes[1, nq] = sid
            quotes[2, nq] = np.int64(px[0])
            quotes[3, nq] = _u16(u8, o + _Q_LTQ)
            quotes[4, nq] = np.int64(px[1])
            quotes[5, nq] = _u32(u8, o + _Q_VOL)
            quotes[6, nq] = _u32(u8, o + _Q_TSQ)
            quotes[7, nq] = _u32(u8, o + _Q_TBQ)
            for j in range(4):
                quotes[8 + j, nq] = np.int64(px[2 + j])
            quotes[12, nq] = ts_event
            quotes[13, nq] = t_init
            if c == _FULL:
                quotes[14, nq] = _u32(u8, o + _F_OI)
                quotes[15, nq] = _u32(u8, o + _F_OIH)
                quotes[16, nq] = _u32(u8, o + _F_OIL)
            else:
                quotes[14, nq] = 0
                quotes[15, nq] = 0
                quotes[16, nq] = 0
            quotes[17, nq] = seq
            quotes[18, nq] = f
            nq += 1
            seq += 1
            if c == _FULL:
                depths[0, nd] = seg
                depths[1, nd] = sid
                depths[2, nd] = ts_event
                depths[3, nd] = t_init
                depths[4, nd] = seq
                depths[5, nd] = f
                for lv in range(_LEVELS):
                    base = o + _F_DEPTH + _LEVEL * lv
                    levels[0, nd, lv] = np.int64(px[6 + lv])
                    levels[1, nd, lv] = _u32(u8, base + _L_BQ)
                    levels[2, nd, lv] = _u16(u8, base + _L_BO)
                    levels[3, nd, lv] = np.int64(px[6 + _LEVELS + lv])
                    levels[4, nd, lv] = _u32(u8, base + _L_AQ)
                    levels[5, nd, lv] = _u16(u8, base + _L_AO)
                nd += 1
                seq += 1
        elif c == _PREV_CLOSE:
            p = _paise(u8, o + _PC_PRICE, tick[i])
            if not _sane(p):
                bad[nb] = i
                nb += 1
                continue
            prevs[0, npc] = seg
            prevs[1, npc] = sid
            prevs[2, npc] = np.int64(p)
            prevs[3, npc] = _u32(u8, o + _PC_OI)
            prevs[4, npc] = t_init
            prevs[5, npc] = t_init
            prevs[6, npc] = seq
            prevs[7, npc] = f
            npc += 1
            seq += 1
        elif c == _OI:
            ois[0, no] = seg
            ois[1, no] = sid
            ois[2, no] = _u32(u8, o + _OI_OI)
            ois[3, no] = t_init
            ois[4, no] = t_init
            ois[5, no] = seq
            ois[6, no] = f
            no += 1
            seq += 1
        elif c == _STATUS:
            statuses[0, ns] = seg
            statuses[1, ns] = sid
            statuses[2, ns] = t_init
            statuses[3, ns] = t_init
            statuses[4, ns] = seq
            statuses[5, ns] = f
            ns += 1
            seq += 1
        else:  # disconnect: walk() and the walker let no other code through
            discs[0, nx] = _u16(u8, o + _REASON)
            discs[1, nx] = t_init
            discs[2, nx] = t_init
            discs[3, nx] = seq
            discs[4, nx] = f
            nx += 1
            seq += 1
    return (
        ticks[:, :nt], quotes[:, :nq], depths[:, :nd], levels[:, :nd], ois[:, :no], prevs[:, :npc],
        statuses[:, :ns], discs[:, :nx], bad[:nb],
    )  # fmt: skip


def warmup() -> None:
    """Compile (or load from numba's cache) the kernels; the replay feed calls it before ready."""
    packets = b"".join(
        wire.blank_packets(code, 1).tobytes()
        for code in (wire.FeedCode.TICKER, wire.FeedCode.FULL)
    )
    u8 = np.frombuffer(packets, dtype=np.uint8)
    lens = np.array([len(packets)], dtype=np.int64)
    size_lut = np.full(256, -1, dtype=np.int64)
    ok = np.zeros(256, dtype=np.bool_)
    off, code, frame, _slow = walk(u8, np.zeros(1, dtype=np.int64), lens, size_lut, ok, ok)
    decode(u8, off, code, frame, np.ones(off.size, dtype=np.int64), np.zeros(1, dtype=np.int64), 0)
