"""``shikra kite login`` against the loopback fake Kite: the login URL for the configured key, the
request token pasted (redirect URL or bare token) or caught by the loopback listener, the exchange
with the checksum, the session cached 0600 (the venue's session takes it up), refusals with their
reason and exit code 1; the token and the secret never reach the terminal."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import threading
import urllib.request
from pathlib import Path

import pytest

from engine.cli import main
from engine.cli.common import EXIT_CONFIG, EXIT_ERROR, EXIT_OK
from engine.credentials import KITE_API_SECRET_ENV_VAR
from engine.kite_session import API_KEY_ENV_VAR, read_session, session_cache_path
from tests.support.fake_kite import API_KEY, API_SECRET, FakeKite
from tests.support.wait import eventually


@pytest.fixture(autouse=True)
def _no_credentials_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (API_KEY_ENV_VAR, KITE_API_SECRET_ENV_VAR):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def fake() -> FakeKite:
    with FakeKite() as server:
        yield server  # type: ignore[misc]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake: FakeKite, *extra: str, secret: str = API_SECRET,
        redirect_url: str = "") -> tuple[int, str, str]:
    secrets = tmp_path / "creds.toml"
    secrets.write_text(f'kite_api_key = "{API_KEY}"\nkite_api_secret = "{secret}"\n')
    os.chmod(secrets, 0o600)
    config = tmp_path / "shikra.toml"
    config.write_text(f'[credentials]\nfile = "{secrets}"\n[execution.kite]\nrest_url = "{fake.rest_url}"\n'
                      f'redirect_url = "{redirect_url}"\nlogin_timeout_s = 5.0\n')
    code = main(["kite", "login", "--config", str(config), "--data-dir", str(tmp_path / "data"), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_pasted_redirect_url_is_exchanged_with_the_checksum_and_cached_privately(tmp_path, capsys, fake,
                                                                                   monkeypatch):
    request_token = fake.new_request_token()
    monkeypatch.setattr("sys.stdin", io.StringIO(
        f"https://example.com/kite?action=login&type=login&status=success&request_token={request_token}\n"))
    code, out, err = run(tmp_path, capsys, fake)
    assert code == EXIT_OK, out + err
    assert f"connect/login?api_key={API_KEY}&v=3" in err
    (body,) = fake.logins
    assert body["request_token"] == request_token and len(body["checksum"]) == 64
    cached = read_session(tmp_path / "data")
    assert cached is not None and cached.access_token == fake.token and cached.api_key == API_KEY
    assert stat.S_IMODE(session_cache_path(tmp_path / "data").stat().st_mode) == 0o600
    assert "Kite token obtained for ZX1234; expires" in out
    assert fake.token not in out + err and API_SECRET not in out + err


def test_the_loopback_listener_catches_kites_redirect(tmp_path, capsys, fake):
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/kite"
    request_token = fake.new_request_token()

    def browser() -> None:
        def redirected() -> bool:
            try:
                url = f"{redirect}?action=login&status=success&request_token={request_token}"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    return answer.status == 200
            except OSError:
                return False  # not listening yet
        eventually(redirected, "the listener answered", 5.0, poll_s=0.02)

    thread = threading.Thread(target=browser, daemon=True)
    thread.start()
    code, out, err = run(tmp_path, capsys, fake, "--json", redirect_url=redirect)
    thread.join(5)
    assert code == EXIT_OK, out + err
    answer = json.loads(out)
    assert answer["ok"] and answer["user_id"] == "ZX1234" and answer["expires_ns"] > 0
    assert f"Waiting for Kite's redirect on {redirect}" in err
    assert read_session(tmp_path / "data").access_token == fake.token  # type: ignore[union-attr]


def test_a_wrong_secret_is_refused_by_the_checksum_and_nothing_is_cached(tmp_path, capsys, fake):
    code, out, err = run(tmp_path, capsys, fake, "--request-token", fake.new_request_token(), secret="wrongsecret99")
    assert code == EXIT_ERROR
    # (What the command printed: a stray logging error of another test's handler may add a traceback.)
    said = [line for line in err.splitlines() if line.startswith("shikra:")]
    assert said == ["shikra: no Kite token: REFUSED: TokenException: Invalid checksum"] and "wrongsecret99" not in out
    assert read_session(tmp_path / "data") is None


def test_a_cancelled_login_says_so(tmp_path, capsys, fake):
    code, _out, err = run(tmp_path, capsys, fake, "--request-token",
                          "https://example.com/kite?action=login&status=error")
    assert code == EXIT_ERROR and "NO_REQUEST_TOKEN" in err and fake.logins == []


def test_listen_without_a_loopback_redirect_url_is_a_config_error(tmp_path, capsys, fake):
    code, _out, err = run(tmp_path, capsys, fake, "--listen", redirect_url="https://example.com/kite")
    assert code == EXIT_CONFIG and "loopback" in err


def test_no_api_key_is_a_config_error(tmp_path, capsys, fake):
    config = tmp_path / "shikra.toml"
    config.write_text("")
    code = main(["kite", "login", "--config", str(config), "--data-dir", str(tmp_path / "data"),
                 "--request-token", "abc"])
    assert code == EXIT_CONFIG and "kite_api_key" in capsys.readouterr().err
