"""Dhan decode speed against dhanhq 2.3.0, same packets, same run: ``python -m bench decode``.

Three tables, every variant timed in alternation with the others (one pass each per round, the
best of ``--rounds`` rounds kept, so a busy neighbour slows both sides of a ratio alike):

* **live**, per packet type, one packet per frame as the websocket delivers it: dhanhq's
  ``MarketFeed.process_data`` (dict of strings), ours ``FrameDecoder.decode_frame`` (the message
  Structs the feed publishes), and the floor, a bare precompiled ``struct.unpack_from`` and the
  same Struct(s) built positionally, prices rounded with no tick, no check at all;
* **stacked**, the 5-type mix of the synthetic market 1, 2, 5 and 10 packets to a frame (as Dhan
  sends them at busy times and captures hold them): live ``decode_frame`` per frame and the
  replay paths (``decode_frames_columnar``, ``decode_buffer_columnar``, ``decode_frames``) in
  packets/s, each against dhanhq on the same packets (it parses one packet per call);
* **crossover**: per frame of k stacked packets, the packet-by-packet path against the
  columnar one (``FrameDecoder.decode_frame_by``), 5-level mix and 20-level depth sides; the
  first k from which the columnar path stays faster is what ``COLUMNAR_MIN_PACKETS`` holds.

dhanhq's disconnect packet uses reason 800, for which it prints nothing (805-809 print a line).
Results: ``bench/results/decode.json`` and ``decode.md`` (the README's table), ``--json FILE``
also writes the JSON elsewhere.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
T0_NS = 1_760_000_000_000_000_000
STACKINGS = (1, 2, 5, 10)
CROSSOVER_KS = (1, 4, 16, 32, 64, 96, 128, 160, 192, 256, 384)
TYPE_NAMES = {
    1: "index", 2: "ticker", 4: "quote", 5: "oi", 6: "prev close", 7: "market status", 8: "full",
    50: "disconnect",
}  # fmt: skip
LIVE_GOAL = 5.0
BATCH_GOAL = 30.0


def _market():  # type: ignore[no-untyped-def]
    from bench.test_decode_bench import market

    return market()


def mixed_packets(n: int) -> tuple[list[bytes], dict[tuple[int, int], int]]:
    """The bench suite's 5-type mix (synthetic market, 5 % prev close), ``n`` packets."""
    mkt = _market()
    frames = mkt.next_frames(n, T0_NS)[len(mkt.instruments) :]
    opening = mkt.opening_frames()
    rng = np.random.default_rng(0)
    for k, i in enumerate(rng.choice(n, n // 20, replace=False).tolist()):
        frames[i] = opening[k % len(opening)]
    return frames[:n], mkt.tick_sizes()


def packets_by_type(mix: list[bytes], n: int) -> dict[int, list[bytes]]:
    """``n`` packets of each type: the mix's own, and encoded ones for the types it lacks."""
    from actors.feed import wire

    by: dict[int, list[bytes]] = collections.defaultdict(list)
    for p in mix:
        by[p[0]].append(p)
    rng = np.random.default_rng(1)
    sids = rng.integers(1, 60_000, n).tolist()
    by[7] = [wire.encode_market_status(2, s) for s in sids]
    by[50] = [wire.encode_disconnect(800) for _ in sids]
    out = {}
    for code in (2, 4, 8, 5, 6, 7, 50):
        src = by[code]
        out[code] = [src[i % len(src)] for i in range(n)]
    return out


def _floors() -> dict[int, Callable[[bytes, int], object]]:
    """Per type: the least Python can do to turn the packet into its message(s)."""
    from actors.feed import wire
    from ipc.messages import Depth, FeedDisconnected, MarketStatus, OpenInterest, PrevClose, Quote, Tick

    S = wire.MARKET_STRUCTS

    def ticker(p: bytes, ts: int, u=S[2].unpack_from) -> object:
        _c, _l, seg, sid, ltp, ltt = u(p)
        return [Tick(seg, sid, round(ltp * 100.0), ltt * 1_000_000_000, ts)]

    def quote(p: bytes, ts: int, u=S[4].unpack_from) -> object:
        _c, _l, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, o, c, h, lo = u(p)
        return [Quote(seg, sid, round(ltp * 100.0), ltq, round(atp * 100.0), vol, tsq, tbq,
                      round(o * 100.0), round(c * 100.0), round(h * 100.0), round(lo * 100.0),
                      ltt * 1_000_000_000, ts)]  # fmt: skip

    def full(p: bytes, ts: int, u=S[8].unpack_from) -> object:
        r = u(p)
        _c, _l, seg, sid, ltp, ltq, ltt, atp, vol, tsq, tbq, oi, oih, oil, o, c, h, lo = r[:18]
        q = Quote(seg, sid, round(ltp * 100.0), ltq, round(atp * 100.0), vol, tsq, tbq,
                  round(o * 100.0), round(c * 100.0), round(h * 100.0), round(lo * 100.0),
                  ltt * 1_000_000_000, ts, oi, oih, oil)  # fmt: skip
        d = Depth(seg, sid, "both", [round(x * 100.0) for x in r[22::6]], list(r[18::6]),
                  list(r[20::6]), [round(x * 100.0) for x in r[23::6]], list(r[19::6]),
                  list(r[21::6]), ltt * 1_000_000_000, ts)  # fmt: skip
        return [q, d]

    def oi(p: bytes, ts: int, u=S[5].unpack_from) -> object:
        _c, _l, seg, sid, v = u(p)
        return [OpenInterest(seg, sid, v, ts, ts)]

    def prev_close(p: bytes, ts: int, u=S[6].unpack_from) -> object:
        _c, _l, seg, sid, pc, poi = u(p)
        return [PrevClose(seg, sid, round(pc * 100.0), poi, ts, ts)]

    def status(p: bytes, ts: int, u=S[7].unpack_from) -> object:
        _c, _l, seg, sid = u(p)
        return [MarketStatus(seg, sid, ts, ts)]

    def disconnect(p: bytes, ts: int, u=S[50].unpack_from) -> object:
        reason = u(p)[4]
        return [FeedDisconnected(reason, "INTERNAL_SERVER_ERROR", ts, ts)]

    return {2: ticker, 4: quote, 8: full, 5: oi, 6: prev_close, 7: status, 50: disconnect}


def _best(variants: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Seconds of the best round of each variant, the variants alternating within each round."""
    best = {k: float("inf") for k in variants}
    for _ in range(rounds):
        gc.collect()
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _per_packet(fn: Callable[[bytes, int], object], packets: list[bytes], ts: list[int]) -> Callable[[], None]:
    def run() -> None:
        for p, t in zip(packets, ts):
            fn(p, t)

    return run


def live_table(by_type: dict[int, list[bytes]], ticks: dict, rounds: int) -> list[dict]:
    from dhanhq.marketfeed import MarketFeed

    from actors.feed.decode import FrameDecoder

    mf = MarketFeed.__new__(MarketFeed)
    mf.on_close = None
    try:
        floors = _floors()
    except (ImportError, AttributeError):  # a tree without wire.MARKET_STRUCTS
        floors = {}
    rows = []
    for code, packets in by_type.items():
        ts = (T0_NS + np.arange(len(packets))).tolist()
        dec = FrameDecoder(ticks)
        variants = {
            "dhanhq": _per_packet(lambda p, t, f=mf.process_data: f(p), packets, ts),
            "ours": _per_packet(dec.decode_frame, packets, ts),
        }
        if code in floors:
            variants["floor"] = _per_packet(floors[code], packets, ts)
        with contextlib.redirect_stdout(io.StringIO()):
            best = _best(variants, rounds)
        assert dec.stats.problem_total == 0, dec.stats.problems
        n = len(packets)
        row = {"type": TYPE_NAMES[code], "packets": n}
        row.update({f"{k}_ns": v / n * 1e9 for k, v in best.items()})
        row["ratio"] = best["dhanhq"] / best["ours"]
        if "floor" in best:
            row["floor_ratio"] = best["dhanhq"] / best["floor"]
        rows.append(row)
    return rows


def stacked_table(mix: list[bytes], ticks: dict, rounds: int) -> list[dict]:
    from dhanhq.marketfeed import MarketFeed

    from actors.feed.decode import FrameDecoder

    mf = MarketFeed.__new__(MarketFeed)
    mf.on_close = None
    n = len(mix) // 10 * 10
    packets = mix[:n]
    rows = []
    for k in STACKINGS:
        frames = [b"".join(packets[i : i + k]) for i in range(0, n, k)]
        ts = T0_NS + np.arange(len(frames), dtype=np.int64)
        ts_list = ts.tolist()
        joined = b"".join(frames)
        lengths = np.fromiter(map(len, frames), dtype=np.int64, count=len(frames))
        decs = {name: FrameDecoder(ticks) for name in ("live", "columns", "buffer", "structs")}
        variants = {
            "dhanhq": _per_packet(lambda p, t, f=mf.process_data: f(p), packets, ts_list[:1] * n),
            "live": _per_packet(decs["live"].decode_frame, frames, ts_list),
            "columns": lambda: decs["columns"].decode_frames_columnar(frames, ts),
            "buffer": lambda: decs["buffer"].decode_buffer_columnar(joined, lengths, ts),
            "structs": lambda: decs["structs"].decode_frames(frames, ts),
        }
        best = _best(variants, rounds)
        for d in decs.values():
            assert d.stats.problem_total == 0, d.stats.problems
        row: dict = {"per_frame": k, "packets": n}
        for name, sec in best.items():
            row[f"{name}_packets_per_s"] = n / sec
            if name != "dhanhq":
                row[f"{name}_ratio"] = best["dhanhq"] / sec
        rows.append(row)
    return rows


def _depth20_sides(n: int) -> list[bytes]:
    from actors.feed import wire

    rng = np.random.default_rng(2)
    out = []
    for i in range(n):
        base = int(rng.integers(10_000, 500_000))
        side = "bid" if i % 2 == 0 else "ask"
        step = -5 if side == "bid" else 5
        out.append(wire.encode_depth20_side(
            2, 40_000 + i % 50, side, [base + step * j for j in range(20)],
            rng.integers(1, 10_000, 20).tolist(), rng.integers(1, 50, 20).tolist(),
        ))  # fmt: skip
    return out


def crossover_table(mix: list[bytes], ticks: dict, rounds: int) -> dict:
    """Per feed: per-frame µs of each path for k stacked packets, and the crossover k."""
    from actors.feed.decode import FrameDecoder

    if not hasattr(FrameDecoder, "decode_frame_by"):
        return {}
    out = {}
    for feed, pool in (("market", mix), ("depth20", _depth20_sides(64))):
        rows = []
        for k in CROSSOVER_KS:
            n_frames = max(6, 1_000 // k)
            frames = [b"".join(pool[(f * k + j) % len(pool)] for j in range(k)) for f in range(n_frames)]
            decs = {"per_packet": FrameDecoder(ticks), "columnar": FrameDecoder(ticks)}

            def run(dec: FrameDecoder, columnar: bool, frames: list[bytes] = frames) -> Callable[[], None]:
                by = dec.decode_frame_by

                def go() -> None:
                    for fr in frames:
                        by(fr, T0_NS, feed, columnar=columnar)  # type: ignore[arg-type]

                return go

            best = _best({"per_packet": run(decs["per_packet"], False),
                          "columnar": run(decs["columnar"], True)}, rounds)  # fmt: skip
            rows.append({"k": k, "per_packet_us": best["per_packet"] / n_frames * 1e6,
                         "columnar_us": best["columnar"] / n_frames * 1e6})  # fmt: skip
        crossover = None
        for i in range(len(rows)):
            if all(r["columnar_us"] < r["per_packet_us"] for r in rows[i:]):
                crossover = rows[i]["k"]
                break
        out[feed] = {"rows": rows, "crossover_packets": crossover}
    return out


def machine() -> dict:
    from bench.latency import machine as latency_machine

    m = latency_machine()
    m["load_avg_1_5_15"] = list(os.getloadavg())
    return m


def render(result: dict) -> str:
    m = result["machine"]
    load = ", ".join(f"{x:.2f}" for x in m["load_avg_1_5_15"])
    lines = [
        f"Dhan decode vs dhanhq 2.3.0, {m['date']}, {m['cores']} cores, {m['cpu']}, Python {m['python']},"
        f" load average {load} at the end; best of {result['rounds']} alternating rounds"
        f" ({result['live_rounds']} for the live table)",
        "",
        f"Live, one packet per frame (goal >= {LIVE_GOAL:.0f}x dhanhq):",
        "",
        "| packet | dhanhq ns | ours ns | ours vs dhanhq | floor ns | floor vs dhanhq |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["live"]:
        floor = (f"{r['floor_ns']:.0f} | {r['floor_ratio']:.1f}x" if "floor_ns" in r else "- | -")
        lines.append(f"| {r['type']} | {r['dhanhq_ns']:.0f} | {r['ours_ns']:.0f} | {r['ratio']:.1f}x | {floor} |")
    lines += [
        "",
        f"Stacked frames, the 5-type mix, packets/s (batch goal >= {BATCH_GOAL:.0f}x dhanhq):",
        "",
        "| packets per frame | dhanhq | live decode_frame | batch to columns | capture buffer to columns"
        " | batch to Structs |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["stacked"]:
        cells = [f"{r[f'{v}_packets_per_s'] / 1e3:,.0f} k ({r[f'{v}_ratio']:.1f}x)"
                 for v in ("live", "columns", "buffer", "structs")]
        lines.append(f"| {r['per_frame']} | {r['dhanhq_packets_per_s'] / 1e3:,.0f} k | " + " | ".join(cells) + " |")
    for feed, x in result.get("crossover", {}).items():
        lines += ["", f"Crossover, {feed} frames of k packets, µs per frame: packet by packet vs columnar"
                  f" (columnar from k = {x['crossover_packets']})", "",
                  "| k | " + " | ".join(str(r["k"]) for r in x["rows"]) + " |",
                  "|---|" + "---|" * len(x["rows"]),
                  "| per packet | " + " | ".join(f"{r['per_packet_us']:.1f}" for r in x["rows"]) + " |",
                  "| columnar | " + " | ".join(f"{r['columnar_us']:.1f}" for r in x["rows"]) + " |"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench decode", description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=20_000, help="packets in the stacked mix (default 20000)")
    ap.add_argument("--per-type", type=int, default=500, help="packets per type in the live table")
    ap.add_argument("--rounds", type=int, default=15, help="alternating rounds; the best is kept")
    ap.add_argument("--live-rounds", type=int, default=200,
                    help="alternating rounds of the live table (short ones: the best escapes a busy neighbour)")
    ap.add_argument("--skip", choices=("live", "stacked", "crossover"), action="append", default=[])
    ap.add_argument("--out", type=Path, default=RESULTS, help="where decode.json and decode.md go")
    ap.add_argument("--json", metavar="FILE", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args(argv)
    mix, ticks = mixed_packets(args.packets)
    result: dict = {"rounds": args.rounds, "live_rounds": args.live_rounds, "mix": {TYPE_NAMES[c]: n for c, n in collections.Counter(p[0] for p in mix).items()}}
    if "live" not in args.skip:
        print("live ...", file=sys.stderr)
        result["live"] = live_table(packets_by_type(mix, args.per_type), ticks, args.live_rounds)
    if "stacked" not in args.skip:
        print("stacked ...", file=sys.stderr)
        result["stacked"] = stacked_table(mix, ticks, args.rounds)
    if "crossover" not in args.skip:
        print("crossover ...", file=sys.stderr)
        result["crossover"] = crossover_table(mix, ticks, max(3, args.rounds // 2))
    result["machine"] = machine()
    result.setdefault("live", [])
    result.setdefault("stacked", [])
    text = json.dumps(result, indent=2) + "\n"
    table = render(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decode.json").write_text(text)
    (args.out / "decode.md").write_text(table)
    if args.json is not None:
        args.json.write_text(text)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
