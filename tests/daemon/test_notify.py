"""Operator alerts from a running daemon: `shikra kill` reaches a local webhook through the notify
actor, and so does the release."""

from __future__ import annotations

import subprocess
import sys

from actors.notify.config import NotifyConfig
from tests.support.config import daemon_config, engine_section
from tests.support.daemon import Daemon
from tests.support.webhook import Webhook


def test_kill_switch_engaged_and_released_with_shikra_kill_reach_the_webhook(root):
    with Webhook() as hook:
        d = Daemon(root, daemon_config(engine=engine_section(["execution", "notify"]),
                                       notify=NotifyConfig(urls=[hook.url("ops")], retry_initial_s=0.1))).start()
        try:
            _kill_and_release(d, hook)
        finally:
            d.reap()


def _kill_and_release(d: Daemon, hook: Webhook) -> None:
    d.wait_running()
    cli = [sys.executable, "-m", "engine.cli", "kill", "--reason", "operator test halt",
           "--config", str(d.config_path), "--data-dir", str(d.data_dir)]
    assert subprocess.run(cli, capture_output=True, timeout=30).returncode == 0
    engaged = d.eventually(lambda: hook.find("kill switch ENGAGED"), "the kill switch alert at the webhook")
    assert "operator test halt" in engaged[0]["message"] and engaged[0]["type"] == "failure"
    release = cli[:4] + ["--release"] + cli[6:]
    assert subprocess.run(release, capture_output=True, timeout=30).returncode == 0
    d.eventually(lambda: hook.find("kill switch released"), "the release alert at the webhook")
    assert len(hook.find("kill switch ENGAGED")) == 1
    assert d.stop() == 0
