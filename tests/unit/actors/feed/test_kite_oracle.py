"""Our Kite decoder against kiteconnect 5.2.2's own parser (``KiteTicker._parse_binary``) on the
same generated frames (docs/KITE_PROTOCOL.md, section E).

Normalisation before comparing:

* prices: the SDK gives ``wire / divisor`` rupees as a float; ours is integer paise (tick 1), the
  same float rounded to the nearest paisa, so ``round(sdk * 100) == ours``;
* times: the SDK gives naive local datetimes from the epoch seconds; ``.timestamp()`` takes them
  back to the seconds our ``ts_event_ns`` carries;
* the SDK computes ``change`` and a ``tradable`` flag, which we do not carry.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
from hypothesis import given, settings
from kiteconnect import KiteTicker

from actors.feed import kite_wire as kw
from actors.feed.kite_decode import KiteFrameDecoder
from engine.model.ist import NS_PER_S
from ipc.messages import Depth, Quote, Tick

TS = 1_760_000_000_000_000_000
ORACLE = settings(max_examples=200, derandomize=True, deadline=None)
U32 = st.integers(0, 2**32 - 1)
U16 = st.integers(0, 2**16 - 1)
EPOCH_S = st.integers(1, 2**32 - 1)


def oracle(frame: bytes) -> list[dict[str, Any]]:
    """kiteconnect's parser without a connection (it only reads class constants)."""
    return KiteTicker.__new__(KiteTicker)._parse_binary(frame)


@st.composite
def tokens(draw: st.DrawFn, index: bool = False) -> int:
    seg = int(kw.KiteSegment.INDICES) if index else draw(st.sampled_from(
        [int(s) for s in kw.OUR_SEGMENT if s != kw.KiteSegment.INDICES]))
    return draw(st.integers(1, 2**24 - 1)) << 8 | seg


def table_for(packets: list[tuple[int, bytes]]) -> KiteFrameDecoder:
    return KiteFrameDecoder({tok: (int(kw.OUR_SEGMENT[tok & 0xFF]), tok >> 8) for tok, _ in packets})


def paise(rupees: float) -> int:
    return round(rupees * 100)


@st.composite
def ltp_packets(draw: st.DrawFn) -> tuple[int, bytes]:
    tok = draw(tokens())
    return tok, kw.encode_ltp(tok, draw(U32))


@st.composite
def index_packets(draw: st.DrawFn) -> tuple[int, bytes]:
    tok = draw(tokens(index=True))
    vals = [draw(U32) for _ in range(5)]
    ts = draw(st.none() | EPOCH_S)
    return tok, kw.encode_index(tok, *vals, change=draw(st.integers(-2**31, 2**31 - 1)), exchange_ts_s=ts)


def _trade(draw: st.DrawFn) -> dict[str, int]:
    return {k: draw(U32) for k in ("ltp", "ltq", "atp", "volume", "buy_qty", "sell_qty", "open_", "high", "low",
                                    "close")}


@st.composite
def quote_packets(draw: st.DrawFn) -> tuple[int, bytes]:
    tok = draw(tokens())
    return tok, kw.encode_quote(tok, **_trade(draw))


@st.composite
def full_packets(draw: st.DrawFn) -> tuple[int, bytes]:
    tok = draw(tokens())
    levels = st.lists(st.tuples(U32, U32, U16), min_size=5, max_size=5)
    return tok, kw.encode_full(tok, **_trade(draw), ltt_s=draw(EPOCH_S), oi=draw(U32), oi_high=draw(U32),
                               oi_low=draw(U32), exchange_ts_s=draw(EPOCH_S), bids=draw(levels), asks=draw(levels))


ANY_PACKET = st.one_of(ltp_packets(), index_packets(), quote_packets(), full_packets())


def assert_matches(ours: list[Any], theirs: list[dict[str, Any]]) -> None:
    """Our messages (a full packet gives two) against the SDK's dicts, packet by packet."""
    it = iter(ours)
    for d in theirs:
        msg = next(it)
        assert (msg.segment, msg.security_id) == (int(kw.OUR_SEGMENT[d["instrument_token"] & 0xFF]),
                                                  d["instrument_token"] >> 8)
        assert msg.ltp_paise == paise(d["last_price"])
        if d["mode"] == "ltp":
            assert isinstance(msg, Tick) and msg.ts_event_ns == TS
            continue
        assert isinstance(msg, Quote)
        ohlc = d["ohlc"]
        assert [msg.open_paise, msg.high_paise, msg.low_paise, msg.close_paise] == \
            [paise(ohlc[k]) for k in ("open", "high", "low", "close")]
        if "last_traded_quantity" in d:
            assert (msg.ltq_units, msg.atp_paise, msg.volume_units, msg.total_buy_qty_units,
                    msg.total_sell_qty_units) == (d["last_traded_quantity"], paise(d["average_traded_price"]),
                                                  d["volume_traded"], d["total_buy_quantity"],
                                                  d["total_sell_quantity"])
        else:  # an index: no trade fields
            assert (msg.ltq_units, msg.volume_units, msg.atp_paise) == (0, 0, 0)
        if d["mode"] == "full":
            assert msg.ts_event_ns == int(d["exchange_timestamp"].timestamp()) * NS_PER_S
        else:
            assert msg.ts_event_ns == TS
        if "depth" in d:
            assert (msg.oi_units, msg.oi_day_high_units, msg.oi_day_low_units) == \
                (d["oi"], d["oi_day_high"], d["oi_day_low"])
            depth = next(it)
            assert isinstance(depth, Depth) and depth.sides == "both"
            for side, prices, qtys, orders in (
                    ("buy", depth.bid_price_paise, depth.bid_qty_units, depth.bid_orders),
                    ("sell", depth.ask_price_paise, depth.ask_qty_units, depth.ask_orders)):
                assert prices == [paise(e["price"]) for e in d["depth"][side]]
                assert qtys == [e["quantity"] for e in d["depth"][side]]
                assert orders == [e["orders"] for e in d["depth"][side]]
    assert next(it, None) is None


@ORACLE
@given(st.lists(ANY_PACKET, min_size=1, max_size=6))
def test_every_mode_decodes_as_kiteconnect_parses_it(packets: list[tuple[int, bytes]]) -> None:
    frame = kw.frame([p for _, p in packets])
    dec = table_for(packets)
    ours = dec.decode_frame(frame, TS)
    assert dec.stats.problem_total == 0
    theirs = oracle(frame)
    assert len(theirs) == len(packets)
    assert_matches(ours, theirs)


@ORACLE
@given(st.sampled_from([kw.KiteSegment.CDS, kw.KiteSegment.BCD]), st.integers(1, 2**24 - 1), U32)
def test_currency_divisors_match_the_sdk(seg: int, exch: int, ltp: int) -> None:
    tok = exch << 8 | int(seg)
    frame = kw.frame([kw.encode_ltp(tok, ltp)])
    (tick,) = table_for([(tok, b"")]).decode_frame(frame, TS)
    (d,) = oracle(frame)
    assert tick.ltp_paise == paise(d["last_price"])


def test_a_heartbeat_is_nothing_to_both() -> None:
    dec = KiteFrameDecoder()
    assert dec.decode_frame(b"\x00", TS) == [] and oracle(b"\x00") == []
    assert dec.heartbeats == 1 and dec.stats.problem_total == 0
