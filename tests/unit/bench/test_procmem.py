"""``bench.procmem``: the memory of a process group, per process, from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from bench.procmem import group_memory
from tests.support.wait import eventually

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"), reason="Linux /proc only")


def test_group_memory_lists_the_groups_processes_by_unit_name():
    # A group of its own: the leader (a shell) and two children that name a unit as an actor's
    # process does on its command line.
    child = f"{sys.executable} -c 'import sys, time; time.sleep(60)' --unit"
    lead = subprocess.Popen(["sh", "-c", f"{child} feed & {child} book & wait"], start_new_session=True)
    try:
        def seen() -> list[str]:
            return sorted(p.name for p in group_memory(lead.pid))

        eventually(lambda: seen() == ["book", "feed", "sh"] or None, "the group's three processes", 30)
        procs = group_memory(lead.pid)
        assert [p.pid for p in procs] == sorted(p.pid for p in procs)
        for p in procs:
            assert 0 < p.pss_bytes <= p.rss_bytes
        assert lead.pid in {p.pid for p in procs}
        assert group_memory(os.getpgrp()) and all(p.pid != lead.pid for p in group_memory(os.getpgrp()))
    finally:
        os.killpg(lead.pid, signal.SIGKILL)
        lead.wait()
    assert group_memory(lead.pid) == []  # gone (a zombie maps nothing)
