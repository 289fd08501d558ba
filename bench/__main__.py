"""``python -m bench NAME [ARGS]``: the benchmark entry point (./dev bench); ``suite`` by default."""

from __future__ import annotations

import importlib
import subprocess
import sys

# name -> the bench module whose ``main(argv) -> int`` runs it (imported only when asked for).
BENCHES: dict[str, str] = {
    "latency": "bench.latency",
    "feed": "bench.feed_throughput",
    "backtest": "bench.backtest_throughput",
    "floor": "bench.floor",
    "host-floor": "bench.host_floor",
    "soak": "bench.soak",
    "decode": "bench.decode_speed",
    "footprint": "bench.footprint",
}


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "suite"
    rest = argv[1:]
    if what == "suite":
        # pytest-benchmark throughput suite: every comparison runs both sides in one process run.
        return subprocess.call([sys.executable, "-m", "pytest", "bench", "--benchmark-enable", "-q", "-s",
                                "-p", "no:cacheprovider", *rest])
    module = BENCHES.get(what)
    if module is None:
        print(f"unknown benchmark '{what[:40]}': use {', '.join(BENCHES)} or suite", file=sys.stderr)
        return 2
    return int(importlib.import_module(module).main(rest))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
