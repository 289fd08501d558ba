"""Strategy parameters change at run time through a command, validated by the strategy's Params."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.support.daemon import Daemon, short_tmpdir
from tests.test_pipeline import paper_config


def _set(d: Daemon, *assignments: str, name: str = "probe") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", "strategies", "set", name, *assignments,
                           "--config", str(d.config_path), "--data-dir", str(d.data_dir)],
                          capture_output=True, text=True, timeout=30)


def test_strategy_parameters_change_at_run_time_and_bad_ones_are_refused_with_the_key():
    root = short_tmpdir()
    d = Daemon(root, paper_config(every=50)).start()
    try:
        d.wait_running()
        ok = _set(d, "every_n_ticks=7")
        assert ok.returncode == 0, ok.stderr
        assert '"every_n_ticks":7' in ok.stdout
        assert '"strategy_params_changed"' in d.log()
        bad = _set(d, "every_n_ticks=many")
        assert bad.returncode == 1 and "every_n_ticks" in bad.stderr
        zero = _set(d, "every_n_ticks=0")
        assert zero.returncode == 1 and "every_n_ticks (0) must be at least 1" in zero.stderr
        unknown = _set(d, "colour=red")
        assert unknown.returncode == 1 and "unknown parameter colour" in unknown.stderr
        missing = _set(d, "every_n_ticks=3", name="nobody")
        assert missing.returncode == 1 and "nobody" in missing.stderr
        assert d.stop() == 0
    finally:
        d.reap()
        shutil.rmtree(root, ignore_errors=True)
