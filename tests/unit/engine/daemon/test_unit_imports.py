"""Each process of the default daemon imports only what it uses (issue 20's footprint goal): no
pandas or exchange calendar outside the child that prepares the master, numba only in the actors
that run kernels at run time, gRPC only in control, trio only in the supervisor.

Each case starts one unit in a fresh interpreter (``tests.support.unit_imports``): this test
process has imported everything already."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

ROOT = Path(__file__).resolve().parents[4]
# Heavy packages no process of the default daemon may hold, and those some may.
NEVER = frozenset({"pandas", "pyarrow", "exchange_calendars", "matplotlib", "talib", "nautilus_trader"})
NUMBA = frozenset({"numba", "llvmlite", "scipy"})  # scipy: numba imports it when installed
GRPC = frozenset({"grpc", "google"})              # google: protobuf
TRIO = frozenset({"trio"})
ALLOWED: dict[str, frozenset[str]] = {
    "feed": frozenset(),
    "book": frozenset(),
    "strategy": NUMBA,                # the default EMA cross runs its indicator kernels per tick
    "risk": frozenset(),              # its batch kernel only when the feed shares its process
    "execution": frozenset(),
    "control": NUMBA | GRPC,          # the gRPC server; Black-76 kernels for option chains
    "supervisor": TRIO,
}


@pytest.mark.parametrize("unit", list(ALLOWED))
def test_unit_of_the_default_daemon_imports_only_what_it_uses(unit, tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # a first start: no calendar cache
    done = subprocess.run([sys.executable, "-m", "tests.support.unit_imports", unit, str(tmp_path / "data")],
                          cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    loaded = set(msgspec.json.decode(done.stdout.splitlines()[-1], type=list[str]))
    forbidden = (NEVER | NUMBA | GRPC | TRIO) - ALLOWED[unit]
    assert not loaded & forbidden, f"{unit} imports {sorted(loaded & forbidden)}"
