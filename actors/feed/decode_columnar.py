"""Columnar decode: the packets of many frames at once into numpy columns per message kind.

Packets of one code are gathered with a single fancy index and converted column-wise; the result
(:class:`DecodedBatch`) builds the message Structs only when asked (``to_messages``). Gives the
same messages as the record-by-record path (``actors.feed.decode_record``; a property test holds
them to it). The walker and the entry points are in ``actors.feed.decode``.
"""

from __future__ import annotations

import gc
import itertools
from dataclasses import dataclass

import numpy as np

from actors.feed import wire
from actors.feed.decode_common import (
    MAX_ABS_PRICE_PAISE,
    PC_DEPTH_DISCONNECT,
    PC_DEPTH_SIDE,
    DecoderCore,
    depth_disconnect_reason,
)
from actors.feed.wire import DepthCode, FeedCode, FeedKind
from engine.model.ist import NS_PER_S
from engine.model.money import prices_to_paise_array
from ipc.messages import Depth, FeedDisconnected, MarketStatus, Message, OpenInterest, PrevClose, Quote, Tick

Columns = dict[str, np.ndarray]

_QUOTE_PRICES = ("ltp", "atp", "open", "close", "high", "low")
# Segment and security id sit at the same offsets in both header shapes.
_SEG_SID_DTYPE = np.dtype(
    {
        "names": ["segment", "security_id"],
        "formats": ["u1", "<u4"],
        "offsets": [3, 4],
        "itemsize": 8,
    }
)
_MSGS_PER_PACKET_LUT = np.ones(256, dtype=np.int64)
_MSGS_PER_PACKET_LUT[int(FeedCode.FULL)] = 2  # Quote + Depth


def decode_packets(
    dec: DecoderCore,
    buf: bytes,
    off: np.ndarray,
    code: np.ndarray,
    length: np.ndarray,
    frame: np.ndarray,
    ts: np.ndarray,
    starts: np.ndarray,
    lens: np.ndarray,
    labels: np.ndarray,
    feed: FeedKind,
) -> DecodedBatch:
    """Decode the packets at ``off`` (absolute offsets in ``buf``; ``frame`` indexes the
    per-frame arrays ``ts``, ``starts``, ``lens``, ``labels``) grouped by code."""
    n_pkt = len(off)
    if n_pkt == 0:
        return DecodedBatch.empty()
    ts_init = ts[frame]
    where = _Where(frame, starts, lens, labels)
    u8 = np.frombuffer(buf, dtype=np.uint8)
    tick_all = None
    if dec.tick_map:  # both header shapes keep segment at 3, security id at 4
        ids = _gather(u8, off, _SEG_SID_DTYPE)
        tick_all = dec.tick_hash.lookup(ids["segment"], ids["security_id"])
    keep = np.ones(n_pkt, dtype=bool)
    parts: dict[str, list[Columns]] = {k: [] for k in DecodedBatch.KINDS}
    for pc in np.unique(code).tolist():
        pkt = np.flatnonzero(code == pc)
        tick = tick_all[pkt] if tick_all is not None else None
        _decode_group(dec, u8, pc, pkt, off, length, ts_init, tick, where, keep, parts, feed)
    msgs_per = np.where(keep, _msgs_per_packet(code), 0)
    pos = np.cumsum(msgs_per) - msgs_per
    tables: dict[str, Columns] = {}
    for kind, plist in parts.items():
        plist = [p for p in plist if p["pkt"].size]
        if not plist:
            tables[kind] = {}
            continue
        cols = {
            k: np.concatenate([p[k] for p in plist]) if len(plist) > 1 else plist[0][k]
            for k in plist[0]
        }
        pk = cols.pop("pkt")
        cols["seq"] = pos[pk] + (1 if kind == "depths" else 0)
        cols["frame"] = frame[pk]
        tables[kind] = cols
    n_ok = int(keep.sum())
    n_msgs = int(msgs_per.sum())
    dec.stats.packets += n_ok
    dec.stats.extra_messages += n_msgs - n_ok
    return DecodedBatch(n_messages=n_msgs, **tables)


def _prices_to_paise(
    px: np.ndarray, tick: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(m, k) rupee prices -> (m, k) int64 paise on tick, and the rows whose prices are sane."""
    # Hot path (per batch): the same rule as the record-by-record path (engine.model.money).
    p = prices_to_paise_array(px, None if tick is None else tick[:, None])
    with np.errstate(invalid="ignore"):
        ok = (np.abs(p) <= MAX_ABS_PRICE_PAISE).all(axis=1)  # False for NaN too
    if not ok.all():
        p[~ok] = 0.0
    return p.astype(np.int64), ok


def _event_ns_vec(dec: DecoderCore, ltt: np.ndarray, ts_init: np.ndarray) -> np.ndarray:
    ltt64 = ltt.astype(np.int64)
    ev = ltt64 * NS_PER_S
    if dec.ist_offset_ns:
        ev -= dec.ist_offset_ns
    return np.where(ltt64 == 0, ts_init, ev)


def _decode_group(
    dec: DecoderCore,
    u8: np.ndarray,
    pc: int,
    pkt: np.ndarray,
    off: np.ndarray,
    length: np.ndarray,
    ts_init_all: np.ndarray,
    tick: np.ndarray | None,
    where: _Where,
    keep: np.ndarray,
    parts: dict[str, list[Columns]],
    feed: FeedKind,
) -> None:
    """Decode every packet of pseudo-code ``pc`` (rows ``pkt``) into ``parts``."""
    offs = off[pkt]
    ts_init = ts_init_all[pkt]
    if pc == PC_DEPTH_DISCONNECT:
        reasons = [
            depth_disconnect_reason(u8, o, ln)
            for o, ln in zip(offs.tolist(), length[pkt].tolist())
        ]
        parts["disconnects"].append(
            {
                "pkt": pkt,
                "reason_code": np.array(reasons, dtype=np.int64),
                "ts_event_ns": ts_init,
                "ts_init_ns": ts_init,
            }
        )
        return
    if pc == PC_DEPTH_SIDE:
        _decode_sides(dec,
            u8, pkt, offs, length[pkt], ts_init, tick, where, keep, parts, feed
        )
        return
    dtype = wire.MARKET_DTYPES[pc]
    recs = _gather(u8, offs, dtype)
    seg = recs["segment"]
    sid = recs["security_id"]
    if pc == FeedCode.DISCONNECT:
        parts["disconnects"].append(
            {
                "pkt": pkt,
                "reason_code": recs["reason"],
                "ts_event_ns": ts_init,
                "ts_init_ns": ts_init,
            }
        )
        return
    if pc == FeedCode.OI:
        parts["open_interest"].append(
            {
                "pkt": pkt,
                "segment": seg,
                "security_id": sid,
                "oi_units": recs["oi"],
                "ts_event_ns": ts_init,
                "ts_init_ns": ts_init,
            }
        )
        return
    if pc == FeedCode.MARKET_STATUS:
        parts["market_statuses"].append(
            {
                "pkt": pkt,
                "segment": seg,
                "security_id": sid,
                "ts_event_ns": ts_init,
                "ts_init_ns": ts_init,
            }
        )
        return
    if pc == FeedCode.TICKER or pc == FeedCode.INDEX:
        paise, ok = _prices_to_paise(recs["ltp"][:, None], tick)
        cols = {
            "pkt": pkt,
            "segment": seg,
            "security_id": sid,
            "ltp_paise": paise[:, 0],
            "ts_event_ns": _event_ns_vec(dec, recs["ltt"], ts_init),
            "ts_init_ns": ts_init,
        }
        _append(dec, parts, "ticks", cols, ok, keep, pkt, offs, where, pc)
    elif pc == FeedCode.PREV_CLOSE:
        paise, ok = _prices_to_paise(recs["prev_close"][:, None], tick)
        cols = {
            "pkt": pkt,
            "segment": seg,
            "security_id": sid,
            "prev_close_paise": paise[:, 0],
            "prev_oi_units": recs["prev_oi"],
            "ts_event_ns": ts_init,
            "ts_init_ns": ts_init,
        }
        _append(dec, parts, "prev_closes", cols, ok, keep, pkt, offs, where, pc)
    elif pc == FeedCode.QUOTE or pc == FeedCode.FULL:
        px = [recs[f][:, None] for f in _QUOTE_PRICES]
        if pc == FeedCode.FULL:
            depth = recs["depth"]
            px += [depth["bid_price"], depth["ask_price"]]
        paise, ok = _prices_to_paise(np.concatenate(px, axis=1), tick)
        ts_event = _event_ns_vec(dec, recs["ltt"], ts_init)
        segment = seg
        security_id = sid
        quote = {
            "pkt": pkt,
            "segment": segment,
            "security_id": security_id,
            "ltp_paise": paise[:, 0],
            "ltq_units": recs["ltq"],
            "atp_paise": paise[:, 1],
            "volume_units": recs["volume"],
            "total_sell_qty_units": recs["total_sell_qty"],
            "total_buy_qty_units": recs["total_buy_qty"],
            "open_paise": paise[:, 2],
            "close_paise": paise[:, 3],
            "high_paise": paise[:, 4],
            "low_paise": paise[:, 5],
            "ts_event_ns": ts_event,
            "ts_init_ns": ts_init,
        }
        if pc == FeedCode.QUOTE:
            zeros = np.zeros(len(pkt), dtype=np.int64)
            quote.update(oi_units=zeros, oi_day_high_units=zeros, oi_day_low_units=zeros)
        else:
            quote.update(
                oi_units=recs["oi"],
                oi_day_high_units=recs["oi_day_high"],
                oi_day_low_units=recs["oi_day_low"],
            )
        _append(dec, parts, "quotes", quote, ok, keep, pkt, offs, where, pc)
        if pc == FeedCode.FULL:
            depth_cols = {
                "pkt": pkt,
                "segment": segment,
                "security_id": security_id,
                "bid_price_paise": paise[:, 6:11],
                "bid_qty_units": depth["bid_qty"],
                "bid_orders": depth["bid_orders"],
                "ask_price_paise": paise[:, 11:16],
                "ask_qty_units": depth["ask_qty"],
                "ask_orders": depth["ask_orders"],
                "ts_event_ns": ts_event,
                "ts_init_ns": ts_init,
            }
            parts["depths"].append(_rows(depth_cols, ok) if not ok.all() else depth_cols)


def _append(
    dec: DecoderCore,
    parts: dict[str, list[Columns]],
    kind: str,
    cols: Columns,
    ok: np.ndarray,
    keep: np.ndarray,
    pkt: np.ndarray,
    offs: np.ndarray,
    where: _Where,
    code: int,
) -> None:
    """Store a group's columns, dropping (and reporting) rows with bad prices."""
    if not ok.all():
        bad = np.flatnonzero(~ok)
        keep[pkt[bad]] = False
        for b in bad.tolist():
            f = int(where.frame[pkt[b]])
            dec.bad_price(
                int(where.labels[f]), int(offs[b] - where.starts[f]), int(where.lens[f]), code
            )
        cols = _rows(cols, ok)
    parts[kind].append(cols)


def _decode_sides(
    dec: DecoderCore,
    u8: np.ndarray,
    pkt: np.ndarray,
    offs: np.ndarray,
    lengths: np.ndarray,
    ts_init: np.ndarray,
    tick: np.ndarray | None,
    where: _Where,
    keep: np.ndarray,
    parts: dict[str, list[Columns]],
    feed: FeedKind,
) -> None:
    """20-level side packets in one gather; 200-level ones (variable rows) padded to 200."""
    if feed == "depth20":
        recs = _gather(u8, offs, wire.DEPTH20_DTYPE)
        rows = recs["rows"]
        price, qty, orders = rows["price"], rows["qty"], rows["orders"]
        n_levels = np.full(len(pkt), wire.DEPTH20_LEVELS, dtype=np.int64)
    else:
        recs = _gather(u8, offs, wire.DEPTH_HEADER_DTYPE)
        n_levels = ((lengths - wire.DEPTH_HEADER_SIZE) // wire.DEPTH_ROW_SIZE).astype(np.int64)
        padded = np.zeros((len(pkt), wire.DEPTH200_MAX_ROWS), dtype=wire.DEPTH_ROW_DTYPE)
        for i, (o, k) in enumerate(zip(offs.tolist(), n_levels.tolist())):
            padded[i, :k] = np.frombuffer(u8, wire.DEPTH_ROW_DTYPE, k, o + 12)
        price, qty, orders = padded["price"], padded["qty"], padded["orders"]
    seg = recs["segment"]
    sid = recs["security_id"]
    paise, ok = _prices_to_paise(price, tick)
    cols = {
        "pkt": pkt,
        "segment": seg,
        "security_id": sid,
        "is_bid": recs["code"] == DepthCode.BID,
        "n_levels": n_levels,
        "price_paise": paise,
        "qty_units": qty,
        "orders": orders,
        "ts_event_ns": ts_init,
        "ts_init_ns": ts_init,
    }
    _append(dec, parts, "depth_sides", cols, ok, keep, pkt, offs, where, PC_DEPTH_SIDE)


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """Decoded messages as numpy columns, one table per message kind.

    Each table maps the message's field names to integer numpy columns ((n, levels) for depth
    lists): int64 for paise and nanoseconds; ids and quantities in the wire's unsigned width from
    the numpy path (live frames, depth feeds), int64 from the 5-level batch kernel.
    ``seq`` (int64) is the row's position in the packet-ordered message list, ``frame`` (int64)
    the index of the frame it came from (0 for the one frame of ``decode_frame``). Tables:
    ``ticks`` (Tick), ``quotes`` (Quote, from quote and full packets), ``depths`` (5-level Depth
    from full packets), ``depth_sides`` (20/200-level: ``is_bid``, ``n_levels``, ``price_paise``,
    ``qty_units``, ``orders``), ``open_interest``, ``prev_closes``, ``market_statuses``,
    ``disconnects`` (``reason_code``). An empty dict is an empty table.
    """

    KINDS = (
        "ticks",
        "quotes",
        "depths",
        "depth_sides",
        "open_interest",
        "prev_closes",
        "market_statuses",
        "disconnects",
    )

    n_messages: int
    ticks: Columns
    quotes: Columns
    depths: Columns
    depth_sides: Columns
    open_interest: Columns
    prev_closes: Columns
    market_statuses: Columns
    disconnects: Columns

    @classmethod
    def empty(cls) -> DecodedBatch:
        return cls(0, {}, {}, {}, {}, {}, {}, {}, {})

    def to_messages(self) -> list[Message]:
        """The messages as Structs in packet order."""
        if self.n_messages == 0:
            return []
        out = np.empty(self.n_messages, dtype=object)
        # Building many container-holding Structs triggers the cyclic GC again and again; none
        # of these objects can form a cycle, so collection is paused for the duration.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for msgs, seq in self._materialise():
                out[seq] = np.fromiter(msgs, dtype=object, count=len(seq))
        finally:
            if gc_was_enabled:
                gc.enable()
        return out.tolist()

    def frame_messages(self, frames: np.ndarray) -> dict[int, list[Message]]:
        """The messages of the given frames only, as Structs in packet order, by frame index
        (a frame whose packets were all dropped has no entry)."""
        tables: dict[str, Columns] = {}
        for kind in self.KINDS:
            t: Columns = getattr(self, kind)
            if t:
                keep = np.isin(t["frame"], frames)
                t = {k: v[keep] for k, v in t.items()} if keep.any() else {}
            tables[kind] = t
        seqs = [t["seq"] for t in tables.values() if t]
        if not seqs:
            return {}
        all_seq = np.sort(np.concatenate(seqs))
        rank = {int(q): i for i, q in enumerate(all_seq.tolist())}
        for t in tables.values():
            if t:
                t["seq"] = np.array([rank[int(q)] for q in t["seq"].tolist()], dtype=np.int64)
        subset = DecodedBatch(n_messages=len(rank), **tables)
        frame_of = np.empty(len(rank), dtype=np.int64)
        for t in tables.values():
            if t:
                frame_of[t["seq"]] = t["frame"]
        out: dict[int, list[Message]] = {}
        for f, msg in zip(frame_of.tolist(), subset.to_messages()):
            out.setdefault(f, []).append(msg)
        return out

    def _materialise(self):  # type: ignore[no-untyped-def]
        simple = (
            (self.ticks, Tick),
            (self.quotes, Quote),
            (self.open_interest, OpenInterest),
            (self.prev_closes, PrevClose),
            (self.market_statuses, MarketStatus),
        )
        for table, cls in simple:
            if table:
                fields = cls.__struct_fields__
                yield map(cls, *[table[f].tolist() for f in fields]), table["seq"]
        if self.depths:
            t = self.depths
            yield (
                map(
                    Depth,
                    t["segment"].tolist(),
                    t["security_id"].tolist(),
                    itertools.repeat("both"),
                    t["bid_price_paise"].tolist(),
                    t["bid_qty_units"].tolist(),
                    t["bid_orders"].tolist(),
                    t["ask_price_paise"].tolist(),
                    t["ask_qty_units"].tolist(),
                    t["ask_orders"].tolist(),
                    t["ts_event_ns"].tolist(),
                    t["ts_init_ns"].tolist(),
                ),
                t["seq"],
            )
        if self.depth_sides:
            yield _side_messages(self.depth_sides), self.depth_sides["seq"]
        if self.disconnects:
            t = self.disconnects
            codes = t["reason_code"].tolist()
            yield (
                map(
                    FeedDisconnected,
                    codes,
                    map(wire.disconnect_reason_name, codes),
                    t["ts_event_ns"].tolist(),
                    t["ts_init_ns"].tolist(),
                ),
                t["seq"],
            )


def _side_messages(t: Columns) -> list[Depth]:
    """20/200-level side rows -> Depth with one side filled and fresh empty lists on the other."""
    n_levels = t["n_levels"]
    price, qty, orders = t["price_paise"], t["qty_units"], t["orders"]
    if (n_levels == price.shape[1]).all():
        prices, qtys, ords = price.tolist(), qty.tolist(), orders.tolist()
    else:  # 200-level: trim the padding row by row
        ks = n_levels.tolist()
        prices = [r[:k] for r, k in zip(price.tolist(), ks)]
        qtys = [r[:k] for r, k in zip(qty.tolist(), ks)]
        ords = [r[:k] for r, k in zip(orders.tolist(), ks)]
    out: list[Depth] = []
    for seg, sid, is_bid, p, q, o, te, ti in zip(
        t["segment"].tolist(),
        t["security_id"].tolist(),
        t["is_bid"].tolist(),
        prices,
        qtys,
        ords,
        t["ts_event_ns"].tolist(),
        t["ts_init_ns"].tolist(),
    ):
        if is_bid:
            out.append(Depth(seg, sid, "bid", p, q, o, [], [], [], te, ti))
        else:
            out.append(Depth(seg, sid, "ask", [], [], [], p, q, o, te, ti))
    return out


@dataclass(frozen=True, slots=True)
class _Where:
    """Where the packets of a columnar batch came from (for problem reports only)."""

    frame: np.ndarray  # per packet: index into the per-frame arrays
    starts: np.ndarray  # per frame: offset in the joined buffer
    lens: np.ndarray  # per frame: length in bytes
    labels: np.ndarray  # per frame: index shown in logs (-1: the single frame of decode_frame)


def _gather(u8: np.ndarray, offs: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Records of ``dtype`` starting at each offset, copied out in one fancy index."""
    # Hot path (per replay block): a view with one opaque record of the dtype's size starting at
    # every byte, so the fancy index copies whole records (a window of bytes copies byte by byte).
    size = dtype.itemsize
    every_byte = np.ndarray(
        shape=(max(len(u8) - size + 1, 0),), dtype=np.dtype((np.void, size)), buffer=u8, strides=(1,)
    )
    return every_byte[offs].view(dtype)


def _rows(cols: Columns, ok: np.ndarray) -> Columns:
    return {k: v[ok] for k, v in cols.items()}


def _msgs_per_packet(codes: np.ndarray) -> np.ndarray:
    return _MSGS_PER_PACKET_LUT[codes]  # pseudo-codes of the depth feed are < 256 too
