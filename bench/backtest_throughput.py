"""``python -m bench backtest [--ticks N] [--profile]``: backtest throughput over the full path.

The issue's definition: an EMA(10)/EMA(30) cross on mid prices (kind ``ema_cross``, ``price``
"mid", ``timeframe_s`` 0), long one lot on a cross up, flat on a cross down, market orders, on
RELIANCE over N (default 1,000,000) quote ticks of the seeded synthetic market: full packets only,
each a quote with its 5-level book, so every tick has a bid, an ask and a mid. Written to a
capture and run by ``engine.backtest.runner`` exactly as ``shikra backtest`` runs it: feed decode, book,
strategy, risk, paper execution and the ledger, orders included. Prints ticks/s over the replay,
orders, fills and peak RSS; ``--profile`` adds the top functions of a cProfile of the run.
NautilusTrader is compared when it is importable.

``--reference DIR`` (a checkout of other code, e.g. a worktree of an earlier main) measures that
code and this one alternately in the same run, each run in its own process (so each has its own
peak RSS), ``--rounds`` times, then NautilusTrader once: the speed-up over the reference is a ratio
of figures taken on the same machine under the same load.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import json
import pstats
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

GOAL_TICKS_PER_S = 200_000
# The strategy pays charges on thousands of round trips and would reach the default daily max loss
# (Rs 10,000) a fifth of the way in; then risk halts it and the rest of the run has no orders. It
# also crosses far more often than the order-rate and trades-per-day caps allow on the capture's
# clock. These limits are set out of reach so that every cross becomes an order; every other check,
# and every time rule, stays on.
DAILY_MAX_LOSS_PAISE = 10**12
OUT_OF_REACH = 10**12


def bench_config():  # type: ignore[no-untyped-def]
    """Default config with the daily max loss and the rate caps out of reach (see above)."""
    from engine.config import Config

    base = Config()
    rep = msgspec.structs.replace
    limits = rep(base.risk.limits, daily_max_loss_paise=DAILY_MAX_LOSS_PAISE, max_orders_per_second=OUT_OF_REACH,
                 max_orders_per_day=OUT_OF_REACH, max_trades_per_day=OUT_OF_REACH)
    return rep(base, risk=rep(base.risk, limits=limits))


PEAK_RSS_GOAL_BYTES = 300 * 2**20
FAST, SLOW = 10, 30


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench backtest")
    ap.add_argument("--ticks", type=int, default=1_000_000,
                    help="synthetic quote ticks in the capture (default 1000000)")
    ap.add_argument("--price", choices=("mid", "last"), default="mid",
                    help="EMA input: book mids (the issue's definition, default) or trade prices")
    ap.add_argument("--one-by-one", action="store_true",
                    help="replay frame by frame, every message through the bus (the reference path)")
    ap.add_argument("--commit-per-append", action="store_true",
                    help="commit the ledger after every append, as the daemon does (default: once per block of frames)")
    ap.add_argument("--no-nautilus", action="store_true", help="skip the NautilusTrader comparison")
    ap.add_argument("--profile", action="store_true", help="cProfile the run and print the top functions")
    ap.add_argument("--top", type=int, default=20, help="functions to show with --profile")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--reference", metavar="DIR",
                    help="a checkout of other code (its own bench): run it and this code alternately, then compare")
    ap.add_argument("--rounds", type=int, default=2, help="alternations with --reference (default 2)")
    ap.add_argument("--split", action="store_true",
                    help="CPU per order by part of the engine and the bus floor, in one run (bench/backtest_split.py)")
    args = ap.parse_args(argv)
    if args.reference:
        return _against_reference(args)
    if args.split:
        return _split(args)

    from engine.backtest.runner import BacktestSpec, run_backtest, write_synthetic_capture
    from engine.logs import setup_logging

    setup_logging("warning", "text")
    root = Path(tempfile.mkdtemp(prefix="shikra-bench-bt-"))
    nautilus: Any = None
    try:
        cap = root / "synthetic.cap"
        t0 = time.perf_counter()
        frames = write_synthetic_capture(cap, args.ticks, root / "instruments", seed=7, full_packets_only=True)
        gen_s = time.perf_counter() - t0
        spec = BacktestSpec(kind="ema_cross", capture=str(cap), instrument="RELIANCE",
                            params={"fast": FAST, "slow": SLOW, "timeframe_s": 0, "qty_lots": 1, "price": args.price})
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        result = run_backtest(spec, bench_config(), bulk=not args.one_by_one, block_commits=not args.commit_per_append)
        if profiler is not None:
            profiler.disable()
        if not args.no_nautilus and args.price == "mid":
            nautilus = _nautilus(cap)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    c, r, s = result.counts, result.run, result.journal.overall
    print(f"backtest ema_cross({FAST}/{SLOW} on {args.price} prices, every tick) over {args.ticks:,} synthetic "
          f"quote ticks ({frames:,} frames, capture written in {gen_s:.2f} s)"
          + (", frame by frame" if args.one_by_one else ""))
    print(f"  ticks      {c.ticks:>12,}   taken in bulk {r.rows_in_bulk:,}")
    print(f"  orders     {c.orders:>12,}   denied {c.denied:,}  rejected {c.rejected:,}")
    print(f"  fills      {c.fills:>12,}   trades {s.trades:,}")
    print(f"  replay     {r.replay_s:>12.2f} s   CPU {r.replay_cpu_s:.2f} s   ({r.wall_s:.2f} s with start-up and stop)")
    print(f"  ticks/s    {r.ticks_per_s:>12,.0f}   (goal {GOAL_TICKS_PER_S:,}: "
          f"{'met' if r.ticks_per_s >= GOAL_TICKS_PER_S else 'not met'}; on CPU time "
          f"{c.ticks / r.replay_cpu_s if r.replay_cpu_s else 0:,.0f})")
    print(f"  peak RSS   {r.peak_rss_bytes / 2**20:>12.1f} MiB (goal {PEAK_RSS_GOAL_BYTES // 2**20} MiB: "
          f"{'met' if r.peak_rss_bytes < PEAK_RSS_GOAL_BYTES else 'not met'})")
    if isinstance(nautilus, str):
        print(f"NautilusTrader: {nautilus}; comparison skipped")
    elif nautilus is not None:
        print(f"NautilusTrader {nautilus.version}: {nautilus.ticks:,} quote ticks, {nautilus.orders:,} orders, "
              f"{nautilus.run_s:.2f} s, {nautilus.ticks_per_s:,.0f} ticks/s; "
              f"Shikra / NautilusTrader = {r.ticks_per_s / nautilus.ticks_per_s:.2f}x")
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
    if args.json:
        figures = {
            "bench": "backtest", "price": args.price, "bulk": not args.one_by_one, "ticks": c.ticks,
            "frames": c.frames, "orders": c.orders, "fills": c.fills, "replay_s": r.replay_s,
            "replay_cpu_s": r.replay_cpu_s, "wall_s": r.wall_s, "ticks_per_s": r.ticks_per_s,
            "rows_in_bulk": r.rows_in_bulk, "block_commits": not args.commit_per_append,
            "peak_rss_bytes": r.peak_rss_bytes, "goal_ticks_per_s": GOAL_TICKS_PER_S,
            "nautilus": msgspec.to_builtins(nautilus) if nautilus is not None and not isinstance(nautilus, str)
            else nautilus,
        }
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _split(args: argparse.Namespace) -> int:
    """``--split``: bench/backtest_split.py's figures for this code (no NautilusTrader)."""
    from bench.backtest_split import measure_split, print_split
    from engine.backtest.runner import BacktestSpec, run_backtest, write_synthetic_capture
    from engine.logs import setup_logging

    setup_logging("warning", "text")
    load = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="shikra-bench-bt-"))
    try:
        cap = root / "synthetic.cap"
        write_synthetic_capture(cap, args.ticks, root / "instruments", seed=7, full_packets_only=True)
        spec = BacktestSpec(kind="ema_cross", capture=str(cap), instrument="RELIANCE",
                            params={"fast": FAST, "slow": SLOW, "timeframe_s": 0, "qty_lots": 1, "price": args.price})
        config = bench_config()
        split = measure_split(lambda: run_backtest(spec, config, bulk=not args.one_by_one,
                                                   block_commits=not args.commit_per_append),
                              lambda result: result.counts.orders, config)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"backtest ema_cross({FAST}/{SLOW} on {args.price} prices) over {args.ticks:,} synthetic quote ticks; "
          f"load before {load[0]:.2f}")
    print_split(split)
    if args.json:
        figures = {"bench": "backtest-split", "ticks": args.ticks, "price": args.price, "load_before": list(load),
                   "load_after": list(os.getloadavg()), **split}
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _run_tree(tree: Path, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One bench run of the code in ``tree`` in its own process (same interpreter); its JSON figures."""
    cmd = [sys.executable, "-m", "bench", "backtest", "--ticks", str(args.ticks), "--price", args.price,
           "--no-nautilus", "--json", str(out)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def _against_reference(args: argparse.Namespace) -> int:
    """This code and ``--reference`` alternately (see the module docstring), then NautilusTrader."""
    ours_tree = Path(__file__).resolve().parent.parent
    ref_tree = Path(args.reference).expanduser().resolve()
    load = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"reference": [], "ours": []}
    with tempfile.TemporaryDirectory(prefix="shikra-bench-bt-ref-") as tmp:
        for i in range(args.rounds):
            for name, tree in (("reference", ref_tree), ("ours", ours_tree)):
                runs[name].append(_run_tree(tree, args, Path(tmp) / f"{name}-{i}.json"))
                f = runs[name][-1]
                print(f"round {i + 1} {name:9}: {f['ticks_per_s']:>9,.0f} ticks/s, "
                      f"{f['replay_cpu_s'] / max(f['orders'], 1) * 1e6:6.1f} µs CPU per order, "
                      f"peak RSS {f['peak_rss_bytes'] / 2**20:.0f} MiB", flush=True)
        nautilus: Any = None
        if not args.no_nautilus and args.price == "mid":
            from engine.backtest.runner import write_synthetic_capture

            cap = Path(tmp) / "synthetic.cap"
            write_synthetic_capture(cap, args.ticks, Path(tmp) / "instruments", seed=7, full_packets_only=True)
            nautilus = _nautilus(cap)
    best = {name: max(r["ticks_per_s"] for r in rs) for name, rs in runs.items()}
    cpu_us = {name: min(r["replay_cpu_s"] / max(r["orders"], 1) * 1e6 for r in rs) for name, rs in runs.items()}
    print(f"best of {args.rounds}: ours {best['ours']:,.0f} ticks/s, reference {best['reference']:,.0f}: "
          f"{best['ours'] / best['reference']:.2f}x; CPU per order (all included) {cpu_us['ours']:.1f} µs vs "
          f"{cpu_us['reference']:.1f} µs: {cpu_us['reference'] / cpu_us['ours']:.2f}x; load before {load[0]:.2f}")
    if isinstance(nautilus, str):
        print(f"NautilusTrader: {nautilus}; comparison skipped")
    elif nautilus is not None:
        print(f"NautilusTrader {nautilus.version}: {nautilus.ticks_per_s:,.0f} ticks/s; ours / NautilusTrader = "
              f"{best['ours'] / nautilus.ticks_per_s:.2f}x")
    if args.json:
        figures = {
            "bench": "backtest", "against": "reference", "reference": str(ref_tree), "ticks": args.ticks,
            "price": args.price, "rounds": args.rounds, "load_before": list(load), "load_after": list(os.getloadavg()),
            "best_ticks_per_s": best, "speedup": round(best["ours"] / best["reference"], 2),
            "cpu_us_per_order": {k: round(v, 1) for k, v in cpu_us.items()},
            "peak_rss_bytes": {name: max(r["peak_rss_bytes"] for r in rs) for name, rs in runs.items()},
            "runs": runs,
            "nautilus": msgspec.to_builtins(nautilus) if nautilus is not None and not isinstance(nautilus, str)
            else nautilus,
        }
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _nautilus(capture: Path) -> Any:
    """NautilusTrader's result on the same capture, or why there is none (a string)."""
    if importlib.util.find_spec("nautilus_trader") is None:
        return "not installed (.venv/bin/pip install -e '.[compare]')"
    from bench.nautilus_compare import run_nautilus

    try:
        return run_nautilus(capture, FAST, SLOW)
    except Exception as exc:  # its API moves between releases: say what failed, keep our figures
        return f"installed, but the run failed: {type(exc).__name__}: {exc}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
