"""Memory footprint of the real daemon: ``python -m bench footprint`` (or ``./dev bench footprint``).

Starts ``shikra run`` with the built-in default config (paper trading on the synthetic market, one
process per actor) in a temporary HOME and data directory, in its own process group, waits until
every unit is ready and execution publishes a first order (the default EMA strategy needs 30
one-second bars), lets the market run (``--seconds``), then sums PSS and RSS over the process group
from ``/proc/PID/smaps_rollup`` (``bench.procmem``), per unit. PSS is the figure that adds up: a page
shared by seven processes counts a seventh in each.

``--reference DIR`` runs another checkout (e.g. a frozen copy of main) alternately with this one in
the same run, ``--rounds`` times each: its footprint and its start-up time (command to every unit
ready) beside ours. Results: ``bench/results/footprint.json`` and ``footprint.md`` (the README's
per-actor table).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


import zmq

from bench.latency import machine
from bench.procmem import group_memory
from engine.config import Config
from engine.status_file import read_status
from ipc.transport import Endpoints

RESULTS = Path(__file__).parent / "results"
HERE = Path(__file__).resolve().parent.parent
MIB = 1 << 20
# Extension modules whose presence in a process's memory map shows the package was imported.
HEAVY = ("numba", "llvmlite", "pandas", "pyarrow", "scipy", "grpc", "numpy", "trio")
START_TIMEOUT_S = 600.0
# The defaults but for the ready timeout: a loaded machine must not turn a slow start into a failed
# one (the start-up time is one of the figures).
CONFIG = f"[engine]\nready_timeout_s = {START_TIMEOUT_S}\n"
ORDER_TIMEOUT_S = 120.0


def _mapped_packages(pid: int) -> list[str]:
    """The heavy packages with a shared object mapped into ``pid`` (imported there)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return []
    return [name for name in HEAVY if f"/site-packages/{name}/" in maps or f"/site-packages/{name}." in maps]


def _env(tree: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "SHIKRA_", "NOTIFY_SOCKET"))}
    env["HOME"] = str(home)  # no user config, a fresh calendar cache: a first start on a new machine
    env["PYTHONPATH"] = str(tree)
    return env


def run_daemon(tree: Path, seconds: float) -> dict:
    """One daemon of checkout ``tree``: start-up time, then memory per unit after ``seconds`` of market."""
    root = Path(tempfile.mkdtemp(prefix="skf-", dir="/tmp"))
    data = root / "data"
    (root / "shikra.toml").write_text(CONFIG)
    log = open(root / "daemon.log", "wb")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", "--config", str(root / "shikra.toml"),
                             "--data-dir", str(data)], cwd=tree,
                            env=_env(tree, root / "home"), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        status = _wait(proc, root, lambda s: s.state == "running", START_TIMEOUT_S, "every unit ready")
        startup_s = time.monotonic() - started
        _first_order(proc, root)  # the strategies trade
        time.sleep(seconds)  # the market runs; memory is read after it (a bench, not a test)
        status = read_status(data / "run") or status
        procs = group_memory(proc.pid)
        mapped = {p.pid: _mapped_packages(p.pid) for p in procs}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is left
        except ProcessLookupError:
            pass
        proc.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
    units = {p.name: {"pid": p.pid, "pss_mib": p.pss_bytes / MIB, "rss_mib": p.rss_bytes / MIB,
                      "imports": mapped[p.pid]} for p in procs}
    return {"startup_s": startup_s,
            "total_pss_mib": sum(p.pss_bytes for p in procs) / MIB,
            "total_rss_mib": sum(p.rss_bytes for p in procs) / MIB,
            "msgs_in": {a.name: a.msgs_in for a in status.actors},
            "units": units}


def _wait(proc: subprocess.Popen[bytes], root: Path, ok, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited before {what}:\n{_problems(root)}")
        status = read_status(root / "data" / "run")
        if status is not None and ok(status):
            return status
        time.sleep(0.05)  # polling a file another process writes
    raise RuntimeError(f"no {what} after {timeout_s:.0f} s:\n{_problems(root)}")


def _first_order(proc: subprocess.Popen[bytes], root: Path) -> None:
    """Until execution publishes a first order event (``order.<strategy>``), as the latency bench
    watches them."""
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    try:
        names = (*Config().engine.actors, "supervisor")
        sub.connect(Endpoints(root / "data" / "run", names=names).pub("execution"))
        sub.setsockopt(zmq.SUBSCRIBE, b"order.")
        deadline = time.monotonic() + ORDER_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"daemon exited before a first order:\n{_problems(root)}")
            if sub.poll(200):
                return
        raise RuntimeError(f"no order after {ORDER_TIMEOUT_S:.0f} s:\n{_problems(root)}")
    finally:
        sub.close()


def _problems(root: Path) -> str:
    """The log's warnings and errors (the daemon logs JSON lines), else its tail."""
    lines = (root / "daemon.log").read_text(errors="replace").splitlines()
    bad = [line for line in lines if '"level":"info"' not in line and '"level":"debug"' not in line]
    return "\n".join((bad or lines)[-30:])


def _summary(runs: list[dict]) -> dict:
    """The median run by total PSS, and the median start-up time of all."""
    by_pss = sorted(runs, key=lambda r: r["total_pss_mib"])
    median = dict(by_pss[len(by_pss) // 2])
    median["startup_s_median"] = statistics.median(r["startup_s"] for r in runs)
    median["startup_s_all"] = [round(r["startup_s"], 2) for r in runs]
    median["total_pss_mib_all"] = [round(r["total_pss_mib"], 1) for r in runs]
    return median


def render(result: dict) -> str:
    m = result["machine"]
    sides = [("this", result["this"])] + ([("reference", result["reference"])] if "reference" in result else [])
    lines = [f"Daemon footprint, default config (paper, synthetic market, isolated), {m['date']}, {m['cores']} cores, "
             f"{m['cpu']}, Python {m['python']}, load {result['load']}",
             f"memory read {result['seconds']:g} s after the first order; median of {result['rounds']} run(s)", "",
             "| unit | " + " | ".join(f"{name} PSS MiB | {name} RSS MiB" for name, _ in sides) + " | imports (this) |",
             "|---|" + "---|---|" * len(sides) + "---|"]
    names = list(result["this"]["units"])
    for side in sides[1:]:
        names += [n for n in side[1]["units"] if n not in names]
    for name in names:
        cells = []
        for _, s in sides:
            u = s["units"].get(name)
            cells += [f"{u['pss_mib']:.1f}", f"{u['rss_mib']:.1f}"] if u else ["-", "-"]
        mine = result["this"]["units"].get(name, {}).get("imports", [])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {', '.join(mine)} |")
    lines.append("| **total** | " + " | ".join(f"**{s['total_pss_mib']:.1f}** | {s['total_rss_mib']:.1f}"
                                             for _, s in sides) + " | |")
    lines.append("")
    for name, s in sides:
        lines.append(f"{name}: start-up (command to every unit ready) median {s['startup_s_median']:.2f} s "
                     f"(runs {s['startup_s_all']})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.footprint", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="market time after the first order")
    parser.add_argument("--reference", type=Path, help="another checkout, run alternately with this one")
    parser.add_argument("--rounds", type=int, default=1, help="daemons started per checkout")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON to FILE")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    trees = [("this", HERE)] + ([("reference", args.reference.resolve())] if args.reference else [])
    runs: dict[str, list[dict]] = {name: [] for name, _ in trees}
    for i in range(args.rounds):
        for name, tree in trees:
            print(f"round {i + 1}/{args.rounds}: {name} ({tree}) ...", file=sys.stderr)
            runs[name].append(run_daemon(tree, args.seconds))
    result: dict = {"machine": machine(), "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                    "seconds": args.seconds, "rounds": args.rounds}
    for name, _ in trees:
        result[name] = _summary(runs[name])
    if args.reference:
        result["reference_tree"] = str(args.reference)
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2) + "\n"
    (args.out / "footprint.json").write_text(text)
    if args.json:
        args.json.write_text(text)
    table = render(result)
    (args.out / "footprint.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
