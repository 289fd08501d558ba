"""``python -m bench backtest [--ticks N] [--profile]``: backtest throughput over the full path.

The issue's definition: an EMA(10)/EMA(30) cross on mid prices (kind ``ema_cross``, ``price``
"mid", ``timeframe_s`` 0), long one lot on a cross up, flat on a cross down, market orders, on
RELIANCE over N (default 1,000,000) quote ticks of the seeded synthetic market: full packets only,
each a quote with its 5-level book, so every tick has a bid, an ask and a mid. Written to a
capture and run by ``engine.backtest.runner`` exactly as ``shikra backtest`` runs it: feed decode, book,
strategy, risk, paper execution and the ledger, orders included. Prints ticks/s over the replay,
orders, fills and peak RSS; ``--profile`` adds the top functions of a cProfile of the run.
NautilusTrader is compared when it is importable.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import json
import pstats
import shutil
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
    args = ap.parse_args(argv)

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
            "rows_in_bulk": r.rows_in_bulk, "block_commits": not args.commit_per_append, "peak_rss_bytes": r.peak_rss_bytes, "goal_ticks_per_s": GOAL_TICKS_PER_S,
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
