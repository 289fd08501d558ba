"""``shikra dhan login`` against the loopback fake Dhan: a TOTP login (or a renewal) writes the
session cache 0600 and prints the expiry; a refusal says which, with exit code 1; the token never
reaches the terminal."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from engine.cli import main
from engine.cli.common import EXIT_CONFIG, EXIT_ERROR, EXIT_OK
from engine.credentials import (
    CLIENT_ID_ENV_VAR,
    PIN_ENV_VAR,
    TOKEN_ENV_VAR,
    TOTP_SECRET_ENV_VAR,
    read_session_cache,
    session_cache_path,
)
from tests.support.fake_dhan import CLIENT_ID, PIN, TOKEN, TOTP_SECRET, FakeDhan


@pytest.fixture(autouse=True)
def _no_credentials_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (CLIENT_ID_ENV_VAR, TOKEN_ENV_VAR, PIN_ENV_VAR, TOTP_SECRET_ENV_VAR):
        monkeypatch.delenv(var, raising=False)


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake: FakeDhan, creds: str,
        *extra: str) -> tuple[int, str, str]:
    secrets = tmp_path / "dhan.toml"
    secrets.write_text(creds)
    os.chmod(secrets, 0o600)
    config = tmp_path / "shikra.toml"
    config.write_text(f'[credentials]\nfile = "{secrets}"\n[execution.dhan]\nrest_url = "{fake.rest_url}"\n'
                      f'auth_url = "{fake.auth_url}"\n')
    code = main(["dhan", "login", "--config", str(config), "--data-dir", str(tmp_path / "data"), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_login_by_totp_caches_the_token_privately_and_prints_its_expiry(tmp_path, capsys):
    with FakeDhan(token_lifetime_s=3600) as fake:
        code, out, err = run(tmp_path, capsys, fake,
                             f'client_id = "{CLIENT_ID}"\npin = "{PIN}"\ntotp_secret = "{TOTP_SECRET}"\n')
        assert code == EXIT_OK, out + err
        assert fake.auth_calls == [("generateAccessToken", 200)]
        (token,) = fake.issued
        cached = read_session_cache(tmp_path / "data")
        assert cached is not None and cached.access_token == token and cached.client_id == CLIENT_ID
        assert stat.S_IMODE(session_cache_path(tmp_path / "data").stat().st_mode) == 0o600
        assert abs(cached.expires_ns / 1e9 - fake.tokens[token]) < 1.5
        assert "obtained by totp; expires" in out and "(in 1.0h)" in out
        assert token not in out + err and PIN not in out + err


def test_a_wrong_pin_is_named_and_nothing_is_cached(tmp_path, capsys):
    with FakeDhan() as fake:
        code, out, err = run(tmp_path, capsys, fake,
                             f'client_id = "{CLIENT_ID}"\npin = "000000"\ntotp_secret = "{TOTP_SECRET}"\n', "--json")
        assert code == EXIT_ERROR
        answer = json.loads(out)
        assert answer["ok"] is False and answer["reason_code"] == "WRONG_PIN" and "Invalid PIN" in answer["detail"]
        assert "000000" not in out + err
        assert read_session_cache(tmp_path / "data") is None


def test_a_locked_account_is_named(tmp_path, capsys):
    with FakeDhan() as fake:
        fake.lock_account()
        code, _out, err = run(tmp_path, capsys, fake,
                              f'client_id = "{CLIENT_ID}"\npin = "{PIN}"\ntotp_secret = "{TOTP_SECRET}"\n')
        assert code == EXIT_ERROR and "ACCOUNT_LOCKED" in err


def test_a_web_token_alone_is_renewed(tmp_path, capsys):
    with FakeDhan() as fake:
        code, out, err = run(tmp_path, capsys, fake, f'client_id = "{CLIENT_ID}"\naccess_token = "{TOKEN}"\n')
        assert code == EXIT_OK, out + err
        assert fake.auth_calls == [("RenewToken", 200)] and "obtained by renew" in out
        cached = read_session_cache(tmp_path / "data")
        assert cached is not None and cached.access_token == fake.issued[0] != TOKEN
        assert not fake.token_ok(TOKEN)  # the renewed token replaced it


def test_without_pin_totp_or_token_it_is_a_config_error(tmp_path, capsys):
    with FakeDhan() as fake:
        code, _out, err = run(tmp_path, capsys, fake, f'client_id = "{CLIENT_ID}"\npin = "{PIN}"\n')
        assert code == EXIT_CONFIG and "access token not found" in err
        assert fake.auth_calls == []
