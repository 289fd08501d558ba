"""What a strategy author imports stays light: no Dhan decoder, no replay batch machinery."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_strategy_api_loads_neither_the_feed_nor_the_replay_package():
    # A fresh interpreter: this test process has long imported both. import-linter checks the
    # explicit imports; this also catches a parent package's __init__ pulling the decoder in.
    code = ("import sys, actors.strategy.api; "
            "print(sorted(m for m in sys.modules if m.startswith(('actors.feed', 'actors.replay'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
