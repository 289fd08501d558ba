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
