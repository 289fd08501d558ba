"""Golden Dhan feed frames and the exact messages they must decode to.

The bytes are built here with ``struct.pack`` from the layouts in DHAN_PROTOCOL.md (offsets from 0,
little-endian), independently of ``actors.feed.wire``; the expected messages are written out by
hand. Decode them with ``FrameDecoder(TICKS)`` and receive time ``TS_INIT_NS``.
"""

from __future__ import annotations

import struct
from typing import Literal, NamedTuple

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

TS_INIT_NS = 1_700_000_000_123_456_789
LTT_S = 1_700_000_000
TS_EVENT_NS = LTT_S * 1_000_000_000

NIFTY_OPT = (2, 55796)  # NSE_FNO option from issue #90
RELIANCE = (1, 1333)  # NSE_EQ
NIFTY = (0, 13)  # IDX_I
TICKS = {NIFTY_OPT: 5}  # 0.05 rupee tick; everything else rounds to the paisa

# The 5-level Full frame from issue #90 starts with these bytes (code 8, length 162, NSE_FNO,
# security 55796) and carries LTQ 75 (``4b 00``) at offset 12.
ISSUE_90_PREFIX = bytes.fromhex("08a20002f4d90000")
ISSUE_90_LTQ_BYTES = bytes.fromhex("4b00")


class GoldenFrame(NamedTuple):
    name: str
    feed: Literal["market", "depth20", "depth200"]
    frame: bytes
    expected: list[Message]


def _ticker(code: int, seg: int, sid: int, price: float, ltt: int) -> bytes:
    return struct.pack("<BHBIfI", code, 16, seg, sid, price, ltt)


TICKER = _ticker(2, *NIFTY_OPT, 152.30, LTT_S)
INDEX = _ticker(1, *NIFTY, 25000.05, LTT_S)  # f32 25000.05078125 -> 2500005 paise
QUOTE = struct.pack(
    "<BHBIfHIfIIIffff",
    4, 50, *RELIANCE,
    1650.5,  # LTP
    10,  # LTQ
    LTT_S,
    1650.1,  # ATP: f32 1650.0999755859375 -> 165010 paise
    10_000,  # volume
    200,  # total sell qty
    300,  # total buy qty
    1600.0, 0.0, 1700.0, 1590.0,  # open, close, high, low
)  # fmt: skip

_FULL_BID_PX = [152.25, 152.20, 152.15, 152.10, 152.05]
_FULL_ASK_PX = [152.35, 152.40, 152.45, 152.50, 152.55]
FULL = struct.pack(
    "<BHBIfHIfIIIIIIffff",
    8, 162, *NIFTY_OPT,
    152.30,  # LTP
    75,  # LTQ (the NIFTY lot size in #90's capture)
    LTT_S,
    152.10,  # ATP
    1_234_500,  # volume
    2_000, 3_000,  # total sell / buy qty
    7_000_000, 7_100_000, 6_900_000,  # OI, OI day high, OI day low
    150.0, 0.0, 153.0, 149.05,  # open, close, high, low
) + b"".join(
    struct.pack("<IIHHff", 75 * (i + 1), 150 * (i + 1), i + 1, i + 2, _FULL_BID_PX[i], _FULL_ASK_PX[i])
    for i in range(5)
)  # fmt: skip
OI = struct.pack("<BHBII", 5, 12, *NIFTY_OPT, 7_000_000)
PREV_CLOSE = struct.pack("<BHBIfI", 6, 16, *NIFTY_OPT, 148.75, 6_500_000)
MARKET_STATUS = struct.pack("<BHBI", 7, 8, *NIFTY)
DISCONNECT_807 = struct.pack("<BHBIH", 50, 10, 0, 0, 807)


def _depth20(code: int, seg: int, sid: int, paise: list[int], qty: list[int], orders: list[int]) -> bytes:
    rows = b"".join(struct.pack("<dII", p / 100, q, o) for p, q, o in zip(paise, qty, orders))
    return struct.pack("<HBBII", 12 + 16 * len(paise), code, seg, sid, 12345) + rows


_OPT_BID = [15225 - 5 * k for k in range(20)]
_OPT_ASK = [15235 + 5 * k for k in range(20)]
_REL_BID = [165000 - 5 * k for k in range(20)]
_REL_ASK = [165005 + 5 * k for k in range(20)]
_QTY = [75 * (k + 1) for k in range(20)]
_ORD = [k + 1 for k in range(20)]
DEPTH20_TWO_INSTRUMENTS = (
    _depth20(41, *NIFTY_OPT, _OPT_BID, _QTY, _ORD)
    + _depth20(51, *NIFTY_OPT, _OPT_ASK, _QTY, _ORD)
    + _depth20(41, *RELIANCE, _REL_BID, _QTY, _ORD)
    + _depth20(51, *RELIANCE, _REL_ASK, _QTY, _ORD)
)
DEPTH_DISCONNECT_DOC = struct.pack("<HBBIIH", 14, 50, 0, 0, 0, 807)  # reason at offset 12
DEPTH_DISCONNECT_SDK = struct.pack("<HBBII", 12, 50, 0, 0, 805)  # reason where dhanhq reads it
DEPTH200_ASK = struct.pack("<HBBII", 12 + 16 * 3, 51, *RELIANCE, 3) + b"".join(
    struct.pack("<dII", p / 100, q, o) for p, q, o in [(165005, 10, 1), (165010, 20, 2), (165015, 30, 3)]
)

_TS = TS_INIT_NS
_EV = TS_EVENT_NS

GOLDEN: list[GoldenFrame] = [
    GoldenFrame("ticker", "market", TICKER, [Tick(*NIFTY_OPT, 15230, _EV, _TS)]),
    GoldenFrame("index_ticker_shaped", "market", INDEX, [Tick(*NIFTY, 2500005, _EV, _TS)]),
    GoldenFrame(
        "quote",
        "market",
        QUOTE,
        [Quote(*RELIANCE, 165050, 10, 165010, 10_000, 200, 300, 160000, 0, 170000, 159000, _EV, _TS)],
    ),
    GoldenFrame(
        "full_issue_90",
        "market",
        FULL,
        [
            Quote(
                *NIFTY_OPT, 15230, 75, 15210, 1_234_500, 2_000, 3_000, 15000, 0, 15300, 14905,
                _EV, _TS, 7_000_000, 7_100_000, 6_900_000,
            ),
            Depth(
                *NIFTY_OPT,
                "both",
                [15225, 15220, 15215, 15210, 15205],
                [75, 150, 225, 300, 375],
                [1, 2, 3, 4, 5],
                [15235, 15240, 15245, 15250, 15255],
                [150, 300, 450, 600, 750],
                [2, 3, 4, 5, 6],
                _EV,
                _TS,
            ),
        ],
    ),  # fmt: skip
    GoldenFrame("oi", "market", OI, [OpenInterest(*NIFTY_OPT, 7_000_000, _TS, _TS)]),
    GoldenFrame("prev_close", "market", PREV_CLOSE, [PrevClose(*NIFTY_OPT, 14875, 6_500_000, _TS, _TS)]),
    GoldenFrame("market_status", "market", MARKET_STATUS, [MarketStatus(*NIFTY, _TS, _TS)]),
    GoldenFrame(
        "disconnect_807", "market", DISCONNECT_807, [FeedDisconnected(807, "TOKEN_EXPIRED", _TS, _TS)]
    ),
    GoldenFrame(
        "stacked_prev_close_ticker_oi",
        "market",
        PREV_CLOSE + TICKER + OI,
        [
            PrevClose(*NIFTY_OPT, 14875, 6_500_000, _TS, _TS),
            Tick(*NIFTY_OPT, 15230, _EV, _TS),
            OpenInterest(*NIFTY_OPT, 7_000_000, _TS, _TS),
        ],
    ),
    GoldenFrame(
        "ticker_without_ltt",
        "market",
        _ticker(2, *NIFTY_OPT, 152.30, 0),
        [Tick(*NIFTY_OPT, 15230, _TS, _TS)],
    ),
    GoldenFrame(
        "depth20_bid_ask_two_instruments",
        "depth20",
        DEPTH20_TWO_INSTRUMENTS,
        [
            Depth(*NIFTY_OPT, "bid", _OPT_BID, _QTY, _ORD, [], [], [], _TS, _TS),
            Depth(*NIFTY_OPT, "ask", [], [], [], _OPT_ASK, _QTY, _ORD, _TS, _TS),
            Depth(*RELIANCE, "bid", _REL_BID, _QTY, _ORD, [], [], [], _TS, _TS),
            Depth(*RELIANCE, "ask", [], [], [], _REL_ASK, _QTY, _ORD, _TS, _TS),
        ],
    ),
    GoldenFrame(
        "depth20_disconnect_doc_layout",
        "depth20",
        DEPTH_DISCONNECT_DOC,
        [FeedDisconnected(807, "TOKEN_EXPIRED", _TS, _TS)],
    ),
    GoldenFrame(
        "depth20_disconnect_sdk_layout",
        "depth20",
        DEPTH_DISCONNECT_SDK,
        [FeedDisconnected(805, "TOO_MANY_CONNECTIONS", _TS, _TS)],
    ),
    GoldenFrame(
        "depth200_ask_three_rows",
        "depth200",
        DEPTH200_ASK,
        [
            Depth(
                *RELIANCE, "ask", [], [], [], [165005, 165010, 165015], [10, 20, 30], [1, 2, 3], _TS, _TS
            )
        ],
    ),
]
