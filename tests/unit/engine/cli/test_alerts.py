"""``shikra alerts test``: one alert to every configured target, each reported ok or failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.cli.common import EXIT_CONFIG, EXIT_ERROR, EXIT_OK
from tests.support.webhook import Webhook


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, urls_file: str = "") -> tuple[int, str]:
    config = tmp_path / "shikra.toml"
    config.write_text(toml)
    if urls_file:
        (tmp_path / "urls").write_text(urls_file)
    code = main(["alerts", "test", "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out + err


def test_every_target_gets_the_test_alert_and_is_reported_ok(tmp_path, capsys):
    with Webhook() as a, Webhook() as b:
        code, out = run(tmp_path, capsys, f'[notify]\nurls = ["{a.url("one")}"]\nurls_file = "{tmp_path / "urls"}"\n',
                        urls_file=f"# the ops channel\n{b.url('two')}\n")
        assert code == EXIT_OK, out
        assert a.find("test alert") and b.find("test alert")
        assert f"#1 json://127.0.0.1:{a.port}: ok" in out and f"#2 json://127.0.0.1:{b.port}: ok" in out


def test_a_failed_target_is_reported_and_the_exit_code_says_so(tmp_path, capsys):
    with Webhook() as hook:
        code, out = run(tmp_path, capsys,
                        f'[notify]\nurls = ["json://127.0.0.1:1/x", "{hook.url()}"]\n')
        assert code == EXIT_ERROR
        assert "#1 json://127.0.0.1:1: failed" in out and f"#2 json://127.0.0.1:{hook.port}: ok" in out


def test_no_target_configured_is_a_config_error(tmp_path, capsys):
    code, out = run(tmp_path, capsys, "")
    assert code == EXIT_CONFIG and "no alert target" in out
