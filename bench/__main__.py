"""``python -m bench [latency|feed|backtest|floor|footprint|suite] [ARGS]``: the benchmark entry point (./dev bench)."""

from __future__ import annotations

import subprocess
import sys


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "suite"
    rest = argv[1:]
    if what == "latency":
        from bench.latency import main as latency
        return latency(rest)
    if what == "backtest":
        from bench.backtest_throughput import main as backtest
        return backtest(rest)
    if what == "feed":
        from bench.feed_throughput import main as feed
        return feed(rest)
    if what == "floor":
        from bench.floor import main as floor
        return floor(rest)
    if what == "footprint":
        from bench.footprint import main as footprint
        return footprint(rest)
    if what == "suite":
        # pytest-benchmark throughput suite: every comparison runs both sides in one process run.
        return subprocess.call([sys.executable, "-m", "pytest", "bench", "--benchmark-enable", "-q", "-s",
                                "-p", "no:cacheprovider", *rest])
    print(f"unknown benchmark '{what}': use latency, feed, backtest, floor, footprint or suite", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
