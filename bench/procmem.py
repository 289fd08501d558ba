"""Memory of a process group, read from /proc: what the footprint and soak benchmarks sum.

PSS (proportional set size) charges each shared page to the processes that map it in equal parts,
so the PSS of a group's processes adds up to the memory the group really holds; RSS counts a page
shared by seven processes seven times. Linux only (``/proc/PID/smaps_rollup``, kernel 4.14+).
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

PROC = Path("/proc")
_KIB = 1024


class ProcessMemory(msgspec.Struct, frozen=True):
    pid: int
    name: str
    rss_bytes: int
    pss_bytes: int


def _pgid_of(stat: str) -> int:
    # The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    # After it: state, ppid, pgrp.
    return int(stat[stat.rindex(")") + 2:].split()[2])


def _name_of(pid: int) -> str:
    """The unit a process runs (``--unit NAME`` on an actor's command line), ``supervisor`` for
    the daemon's own process (``python -m engine.daemon``, which ``shikra run`` becomes), else the
    process's own command name."""
    argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    args = [a.decode(errors="replace") for a in argv if a]
    if "--unit" in args[:-1]:
        return args[args.index("--unit") + 1]
    if args[1:3] == ["-m", "engine.daemon"] or (args[1:3] == ["-m", "engine.cli"] and args[3:4] == ["run"]):
        return "supervisor"
    return (PROC / str(pid) / "comm").read_text().strip()


def _rollup_bytes(pid: int) -> tuple[int, int]:
    """(Rss, Pss) in bytes from smaps_rollup (its figures are kB)."""
    rss = pss = 0
    for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1]) * _KIB
        elif line.startswith("Pss:"):
            pss = int(line.split()[1]) * _KIB
    return rss, pss


def group_memory(pgid: int) -> list[ProcessMemory]:
    """Every live process of process group ``pgid`` with its RSS and PSS, by pid. A process that
    exits while it is read is left out (it holds nothing any more)."""
    out: list[ProcessMemory] = []
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if _pgid_of((PROC / entry.name / "stat").read_text()) != pgid:
                continue
            name = _name_of(pid)
            rss, pss = _rollup_bytes(pid)
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError, IndexError):
            continue  # gone (or turned zombie: no cmdline, empty rollup) between the reads
        if rss == 0 and pss == 0:
            continue  # a zombie maps nothing
        out.append(ProcessMemory(pid, name, rss, pss))
    return sorted(out, key=lambda p: p.pid)
