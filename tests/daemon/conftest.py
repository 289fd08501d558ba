"""What every daemon test gets."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import short_tmpdir


@pytest.fixture
def root() -> Iterator[Path]:
    """A short temp dir for the test's daemons (unix socket paths must stay short), removed afterwards
    unless SHIKRA_KEEP_TMP is set (to read their logs and ledgers after a failure)."""
    path = short_tmpdir()
    yield path
    if not os.environ.get("SHIKRA_KEEP_TMP"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels() -> None:
    """Compile the numba kernels once, here, before the first daemon starts. They are cached on disk
    (``cache=True``), so the actor processes load them; in a fresh clone the first daemon would
    otherwise have every actor compile the same kernels at once, and on a loaded 2-core machine miss
    its start-up deadline (seen: "running: not within 60 s" for the first daemon test only)."""
    from actors.feed import capture_kernels, decode_kernels
    from actors.replay import kernels
    from actors.risk import kernels as risk_kernels
    from actors.strategy import bars, indicators
    from engine.model import black76

    for module in (kernels, capture_kernels, decode_kernels, risk_kernels, bars, indicators, black76):
        module.warmup()
