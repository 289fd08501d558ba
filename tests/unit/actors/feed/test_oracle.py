"""Our decoder against dhanhq 2.3.0's decoders on the same random bytes (DHAN_PROTOCOL.md, E).

Packets are packed here with ``struct`` from random field values. dhanhq's output is the oracle
after the normalisation the protocol doc prescribes:

* prices: dhanhq formats the float as ``"{:.2f}"``; ours is integer paise (tick 1 paisa), shown
  as ``"<rupees>.<paise>"``. A float32 times 100 is exact in float64, so rounding it to the
  nearest paisa (half to even) and the correctly rounded 2-decimal string always agree;
* LTT: dhanhq keeps only the UTC ``HH:MM:SS``; ours is ``ts_event_ns`` (LTT 0 is excluded: we
  stamp such packets with the receive time);
* LTQ, volume, OI: both read them unsigned, so the whole u16/u32 range is generated;
* dhanhq parses only the first packet of a frame, so stacked frames are compared packet by packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import struct
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from dhanhq.fulldepth import FullDepth
from dhanhq.marketfeed import MarketFeed
from hypothesis import given, settings

from actors.feed import wire
from actors.feed.decode import FrameDecoder
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

TS = 1_760_000_000_000_000_000
ORACLE = settings(max_examples=200, derandomize=True, deadline=None)

# --------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------


def market_feed() -> MarketFeed:
    """dhanhq's 5-level decoder without credentials, event loop or socket."""
    mf = MarketFeed.__new__(MarketFeed)
    mf.on_close = None  # read by server_disconnection(); normally set by __init__
    return mf


class _Context:
    """Stand-in for DhanContext: FullDepth.__init__ only asks for these two values."""

    def get_client_id(self) -> str:
        return "1000000001"

    def get_access_token(self) -> str:
        return "not-a-token"


@pytest.fixture(scope="module")
def full_depth() -> Iterator[dict[int, FullDepth]]:
    """dhanhq FullDepth parsers for 20 and 200 levels (their __init__ installs an event loop,
    which is closed and uninstalled afterwards)."""
    parsers = {20: FullDepth(_Context(), [], depth_level=20), 200: FullDepth(_Context(), [], 200)}
    yield parsers
    for p in parsers.values():
        p.loop.close()
    asyncio.set_event_loop(None)


def sdk_parse(packet: bytes) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return market_feed().process_data(packet)


def sdk_depth_sides(parser: FullDepth, frame: bytes) -> list[dict[str, Any]]:
    """Walk a stacked depth frame the way FullDepth.get_data does."""
    out = []
    remaining: bytes | None = frame
    while remaining:
        update = parser.process_data(remaining)
        if not update:
            break
        remaining = update.pop("remaining_data", None)
        out.append(update)
    return out


# --------------------------------------------------------------------------------------------
# Our messages in dhanhq's shape
# --------------------------------------------------------------------------------------------


def rupees(paise: int) -> str:
    sign = "-" if paise < 0 else ""
    return f"{sign}{abs(paise) // 100}.{abs(paise) % 100:02d}"


def hms(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, timezone.utc).strftime("%H:%M:%S")


def _trade_fields(q: Quote) -> dict[str, Any]:
    return {
        "exchange_segment": q.segment,
        "security_id": q.security_id,
        "LTP": rupees(q.ltp_paise),
        "LTQ": q.ltq_units,
        "LTT": hms(q.ts_event_ns),
        "avg_price": rupees(q.atp_paise),
        "volume": q.volume_units,
        "total_sell_quantity": q.total_sell_qty_units,
        "total_buy_quantity": q.total_buy_qty_units,
    }


def _ohlc(q: Quote) -> dict[str, str]:
    return {
        "open": rupees(q.open_paise),
        "close": rupees(q.close_paise),
        "high": rupees(q.high_paise),
        "low": rupees(q.low_paise),
    }


def as_sdk(msgs: list[Message]) -> Any:
    """The dict dhanhq would return for the packet our messages came from."""
    first = msgs[0]
    if isinstance(first, Tick):
        return {
            "type": "Ticker Data",
            "exchange_segment": first.segment,
            "security_id": first.security_id,
            "LTP": rupees(first.ltp_paise),
            "LTT": hms(first.ts_event_ns),
        }
    if isinstance(first, Quote) and len(msgs) == 1:
        return {"type": "Quote Data", **_trade_fields(first), **_ohlc(first)}
    if isinstance(first, Quote):
        depth = msgs[1]
        assert isinstance(depth, Depth) and depth.sides == "both"
        levels = [
            {
                "bid_quantity": depth.bid_qty_units[i],
                "ask_quantity": depth.ask_qty_units[i],
                "bid_orders": depth.bid_orders[i],
                "ask_orders": depth.ask_orders[i],
                "bid_price": rupees(depth.bid_price_paise[i]),
                "ask_price": rupees(depth.ask_price_paise[i]),
            }
            for i in range(5)
        ]
        return {
            "type": "Full Data",
            **_trade_fields(first),
            "OI": first.oi_units,
            "oi_day_high": first.oi_day_high_units,
            "oi_day_low": first.oi_day_low_units,
            **_ohlc(first),
            "depth": levels,
        }
    if isinstance(first, OpenInterest):
        return {
            "type": "OI Data",
            "exchange_segment": first.segment,
            "security_id": first.security_id,
            "OI": first.oi_units,
        }
    if isinstance(first, PrevClose):
        return {
            "type": "Previous Close",
            "exchange_segment": first.segment,
            "security_id": first.security_id,
            "prev_close": rupees(first.prev_close_paise),
            "prev_OI": first.prev_oi_units,
        }
    if isinstance(first, MarketStatus):
        return "Markets Open"
    raise AssertionError(f"no dhanhq shape for {first!r}")


def depth_side_as_sdk(d: Depth) -> dict[str, Any]:
    is_bid = d.sides == "bid"
    prices = d.bid_price_paise if is_bid else d.ask_price_paise
    qtys = d.bid_qty_units if is_bid else d.ask_qty_units
    orders = d.bid_orders if is_bid else d.ask_orders
    return {
        "exchange_segment": d.segment,
        "security_id": d.security_id,
        "type": "Bid" if is_bid else "Ask",
        "depth": [
            {"price": rupees(p), "quantity": q, "orders": o} for p, q, o in zip(prices, qtys, orders)
        ],
    }


def sdk_side_normalised(side: dict[str, Any]) -> dict[str, Any]:
    side = dict(side)
    side["depth"] = [{**row, "price": f"{row['price']:.2f}"} for row in side["depth"]]
    return side


# --------------------------------------------------------------------------------------------
# Random packets, packed with struct
# --------------------------------------------------------------------------------------------

segments = st.sampled_from([0, 1, 2, 3, 4, 5, 7, 8])
security_ids = st.integers(0, 2**32 - 1)
u16 = st.integers(0, 2**16 - 1)
u32 = st.integers(0, 2**32 - 1)
ltt = st.integers(1, 2**32 - 1)
# Any float32 from 0 to 1e9 rupees (beyond that the decoder refuses the price as absurd).
f32_prices = st.floats(min_value=0.0, max_value=1e9, width=32, allow_subnormal=True)


@st.composite
def ticker_like(draw: st.DrawFn, code: int) -> bytes:
    return struct.pack(
        "<BHBIfI", code, 16, draw(segments), draw(security_ids), draw(f32_prices), draw(ltt)
    )


@st.composite
def prev_close_packet(draw: st.DrawFn) -> bytes:
    return struct.pack(
        "<BHBIfI", 6, 16, draw(segments), draw(security_ids), draw(f32_prices), draw(u32)
    )


@st.composite
def oi_packet(draw: st.DrawFn) -> bytes:
    return struct.pack("<BHBII", 5, 12, draw(segments), draw(security_ids), draw(u32))


@st.composite
def quote_packet(draw: st.DrawFn) -> bytes:
    p = lambda: draw(f32_prices)  # noqa: E731
    return struct.pack(
        "<BHBIfHIfIIIffff",
        4, 50, draw(segments), draw(security_ids),
        p(), draw(u16), draw(ltt), p(), draw(u32), draw(u32), draw(u32), p(), p(), p(), p(),
    )  # fmt: skip


@st.composite
def full_packet(draw: st.DrawFn) -> bytes:
    p = lambda: draw(f32_prices)  # noqa: E731
    head = struct.pack(
        "<BHBIfHIfIIIIIIffff",
        8, 162, draw(segments), draw(security_ids),
        p(), draw(u16), draw(ltt), p(), draw(u32), draw(u32), draw(u32),
        draw(u32), draw(u32), draw(u32), p(), p(), p(), p(),
    )  # fmt: skip
    levels = b"".join(
        struct.pack("<IIHHff", draw(u32), draw(u32), draw(u16), draw(u16), p(), p())
        for _ in range(5)
    )
    return head + levels


@st.composite
def status_packet(draw: st.DrawFn) -> bytes:
    return struct.pack("<BHBI", 7, 8, draw(segments), draw(security_ids))


any_market_packet = st.one_of(
    ticker_like(2), quote_packet(), full_packet(), oi_packet(), prev_close_packet(), status_packet()
)


@st.composite
def depth_side(draw: st.DrawFn, n_rows: int | None = None) -> bytes:
    """A 20-level (n_rows None) or 200-level side packet; prices are whole paise as float64.

    Row values come from a numpy generator seeded by hypothesis (hundreds of rows per packet
    would make drawing each value slow)."""
    code = draw(st.sampled_from([41, 51]))
    seg = draw(st.sampled_from([1, 2]))
    sid = draw(st.integers(0, 2**31 - 1))  # dhanhq reads the depth security id signed
    rows = 20 if n_rows is None else n_rows
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    body = np.zeros(rows, dtype=[("price", "<f8"), ("qty", "<u4"), ("orders", "<u4")])
    body["price"] = rng.integers(0, 10**9, size=rows) / 100
    body["qty"] = rng.integers(0, 2**32, size=rows, dtype=np.uint64)
    body["orders"] = rng.integers(0, 2**32, size=rows, dtype=np.uint64)
    fourth = draw(u32) if n_rows is None else rows  # sequence (20) or row count (200)
    return struct.pack("<HBBII", 12 + 16 * rows, code, seg, sid, fourth) + body.tobytes()


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


def ours(packet: bytes, feed: str = "market") -> list[Message]:
    dec = FrameDecoder()
    msgs = dec.decode_frame(packet, TS, feed)  # type: ignore[arg-type]
    assert dec.stats.problem_total == 0
    return msgs


@ORACLE
@given(packet=ticker_like(2))
def test_ticker_matches_dhanhq(packet: bytes) -> None:
    assert as_sdk(ours(packet)) == sdk_parse(packet)


@ORACLE
@given(packet=quote_packet())
def test_quote_matches_dhanhq(packet: bytes) -> None:
    assert as_sdk(ours(packet)) == sdk_parse(packet)


@ORACLE
@given(packet=full_packet())
def test_full_matches_dhanhq(packet: bytes) -> None:
    assert as_sdk(ours(packet)) == sdk_parse(packet)


@ORACLE
@given(packet=oi_packet())
def test_oi_matches_dhanhq(packet: bytes) -> None:
    assert as_sdk(ours(packet)) == sdk_parse(packet)


@ORACLE
@given(packet=prev_close_packet())
def test_prev_close_matches_dhanhq(packet: bytes) -> None:
    assert as_sdk(ours(packet)) == sdk_parse(packet)


@ORACLE
@given(packet=status_packet())
def test_market_status_matches_dhanhq_header(packet: bytes) -> None:
    (msg,) = ours(packet)
    seg, sid = struct.unpack_from("<BI", packet, 3)
    assert msg == MarketStatus(seg, sid, TS, TS)
    assert sdk_parse(packet) == "Markets Open"


@ORACLE
@given(packet=ticker_like(1))
def test_index_packet_decodes_ticker_shaped_where_dhanhq_gives_none(packet: bytes) -> None:
    assert sdk_parse(packet) is None
    (tick,) = ours(packet)
    as_ticker = packet[:1].replace(b"\x01", b"\x02") + packet[1:]
    assert as_sdk([tick]) == sdk_parse(as_ticker)


@ORACLE
@given(segment=segments, security_id=security_ids, reason=u16)
def test_disconnect_gives_reason_code_where_dhanhq_gives_none(
    segment: int, security_id: int, reason: int
) -> None:
    packet = struct.pack("<BHBIH", 50, 10, segment, security_id, reason)
    assert sdk_parse(packet) is None
    (msg,) = ours(packet)
    assert msg == FeedDisconnected(reason, wire.disconnect_reason_name(reason), TS, TS)
    assert msg.reason.startswith("UNKNOWN_") == (reason not in set(wire.DisconnectReason))


@pytest.mark.parametrize(
    ("reason", "name", "sdk_text"),
    [
        (805, "TOO_MANY_CONNECTIONS", "No. of active websocket connections exceeded"),
        (806, "DATA_APIS_NOT_SUBSCRIBED", "Subscribe to Data APIs"),
        (807, "TOKEN_EXPIRED", "Access Token is expired"),
    ],
)
def test_disconnect_reason_matches_dhanhq_message(reason: int, name: str, sdk_text: str) -> None:
    packet = struct.pack("<BHBIH", 50, 10, 0, 0, reason)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert market_feed().process_data(packet) is None
    assert sdk_text in printed.getvalue()
    assert ours(packet) == [FeedDisconnected(reason, name, TS, TS)]


@ORACLE
@given(packets=st.lists(any_market_packet, min_size=2, max_size=6))
def test_stacked_frame_matches_dhanhq_packet_by_packet(packets: list[bytes]) -> None:
    msgs = ours(b"".join(packets))
    expected = [sdk_parse(p) for p in packets]
    got = []
    i = 0
    for p in packets:
        n = 2 if p[0] == 8 else 1
        got.append(as_sdk(msgs[i : i + n]))
        i += n
    assert i == len(msgs)
    assert got == expected


@ORACLE
@given(sides=st.lists(depth_side(), min_size=1, max_size=4))
def test_depth20_stacked_sides_match_dhanhq(
    sides: list[bytes], full_depth: dict[int, FullDepth]
) -> None:
    frame = b"".join(sides)
    sdk = [sdk_side_normalised(s) for s in sdk_depth_sides(full_depth[20], frame)]
    assert [depth_side_as_sdk(d) for d in ours(frame, "depth20")] == sdk


@ORACLE
@given(data=st.data())
def test_depth200_side_matches_dhanhq(data: st.DataObject, full_depth: dict[int, FullDepth]) -> None:
    packet = data.draw(depth_side(n_rows=data.draw(st.integers(0, 200))))
    msgs = ours(packet, "depth200")
    sdk = [sdk_side_normalised(s) for s in sdk_depth_sides(full_depth[200], packet)]
    if not sdk:  # dhanhq gives nothing for a side with zero rows; we give an empty side
        assert len(msgs) == 1 and not (msgs[0].bid_price_paise or msgs[0].ask_price_paise)
        return
    assert [depth_side_as_sdk(d) for d in msgs] == sdk
