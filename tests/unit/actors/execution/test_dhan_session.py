"""The Dhan broker session on a simulated clock: when a login runs (pre-open, N hours left, a refused
token), how a refusal is retried (next TOTP window, backoff), each refusal's reason code, the 0600
cache written atomically and reused by a restart, a token taken from the cache that `shikra dhan
login` wrote, trading halting only at the real expiry, and the token never in a log line or a
status. The login call itself is replaced by outcomes built here, except where the real HTTP
client meets the loopback fake Dhan."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.execution.config import DhanVenueConfig
from actors.execution.dhan_auth import (
    LoginOutcome,
    LoginReason,
    login,
    parse_expiry_ns,
    parse_login_answer,
    refusal_reason,
    totp_window,
)
from actors.execution.dhan_session import BrokerSession
from engine.credentials import (
    CachedSession,
    Credentials,
    read_session_cache,
    session_cache_path,
    write_session_cache,
)
from engine.logs import get_logger, setup_logging
from engine.model.clock import SimClock
from engine.model.ist import IST, NS_PER_S, ist_ns
from tests.support.fake_dhan import CLIENT_ID, PIN, TOTP_SECRET, FakeDhan, make_token

HOUR_NS = 3600 * NS_PER_S
MONDAY = dt.date(2026, 12, 7)
START_NS = ist_ns(MONDAY, dt.time(8, 30))
LOGIN = Credentials(CLIENT_ID, "", PIN, TOTP_SECRET)
CFG = DhanVenueConfig(renew_before_s=2 * 3600, login_retry_initial_s=30, login_retry_max_s=900)


def token_for(expires_ns: int, n: int = 1) -> str:
    return make_token(CLIENT_ID, expires_ns // NS_PER_S, n)


def ok(expires_ns: int, n: int = 1) -> LoginOutcome:
    return LoginOutcome(True, "totp", access_token=token_for(expires_ns, n), expires_ns=expires_ns)


def refused(reason: LoginReason, detail: str = "refused") -> LoginOutcome:
    return LoginOutcome(False, "totp", reason=reason, detail=detail)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START_NS)


def session(tmp_path: Path, clock: SimClock, creds: Credentials = LOGIN, cfg: DhanVenueConfig = CFG) -> BrokerSession:
    return BrokerSession(cfg, creds, tmp_path, clock.now_ns(), log=get_logger("test.session"), rng=random.Random(3))


def log_in(s: BrokerSession, clock: SimClock, outcome: LoginOutcome) -> None:
    why = s.due(clock.now_ns())
    assert why, "a login should be due"
    assert s.begin(clock.now_ns()) is not None
    s.finish(outcome, why, clock.now_ns())


# When a login runs --------------------------------------------------------------------------------


def test_without_a_token_the_first_login_runs_at_once_and_is_cached_0600(tmp_path, clock):
    s = session(tmp_path, clock)
    assert s.due(clock.now_ns()) == "no_token" and s.method == "totp"
    assert not s.halting(clock.now_ns())  # nothing failed yet: trading waits, it does not halt
    expires = clock.now_ns() + 24 * HOUR_NS
    log_in(s, clock, ok(expires))
    assert (s.credentials.access_token, s.expires_ns) == (token_for(expires), expires)
    path = session_cache_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # written through a temp file, renamed
    cached = read_session_cache(tmp_path)
    assert cached == CachedSession(CLIENT_ID, token_for(expires), expires, clock.now_ns(), "totp")
    assert s.due(clock.now_ns()) == ""


def test_pre_open_asks_for_a_fresh_token_even_with_hours_left(tmp_path, clock):
    s = session(tmp_path, clock)
    log_in(s, clock, ok(clock.now_ns() + 20 * HOUR_NS, 1))
    clock.advance_by(60)  # the next TOTP window
    assert s.due(clock.now_ns()) == ""
    s.request("pre_open")
    assert s.due(clock.now_ns()) == "pre_open"
    log_in(s, clock, ok(clock.now_ns() + 24 * HOUR_NS, 2))
    assert s.expires_ns == clock.now_ns() + 24 * HOUR_NS


def test_a_renewal_runs_once_fewer_than_renew_before_s_remain(tmp_path, clock):
    s = session(tmp_path, clock)
    expires = clock.now_ns() + 5 * HOUR_NS
    log_in(s, clock, ok(expires))
    clock.advance_to(expires - 2 * HOUR_NS - NS_PER_S)
    assert s.due(clock.now_ns()) == ""
    clock.advance_by(1)
    assert s.due(clock.now_ns()) == "expiring"


def test_a_code_is_used_once_per_totp_window(tmp_path, clock):
    s = session(tmp_path, clock)
    log_in(s, clock, refused(LoginReason.NETWORK))
    s.retry_at_ns = 0  # as if the backoff were over within the same window
    assert s.begin(clock.now_ns()) is None  # this window's code was spent
    assert s.retry_at_ns == (totp_window(clock.now_ns()) + 1) * 30 * NS_PER_S


def test_a_refused_token_is_dropped_and_a_login_runs_at_once(tmp_path, clock):
    s = session(tmp_path, clock)
    log_in(s, clock, ok(clock.now_ns() + 24 * HOUR_NS))
    clock.advance_by(45)
    s.request("token_refused")
    assert s.credentials.access_token == "" and s.due(clock.now_ns()) == "token_refused"
    assert not s.halting(clock.now_ns())  # the login may still bring a new one
    log_in(s, clock, refused(LoginReason.ACCOUNT_LOCKED))
    assert s.halting(clock.now_ns())  # the token in use is gone and none replaced it


def test_a_start_without_a_token_keeps_retrying_without_halting(tmp_path, clock):
    s = session(tmp_path, clock)
    for _ in range(3):
        log_in(s, clock, refused(LoginReason.NETWORK))
        assert not s.halting(clock.now_ns())
        clock.advance_to(s.retry_at_ns)
    log_in(s, clock, ok(clock.now_ns() + 24 * HOUR_NS))
    assert s.credentials.access_token and s.failures == 0


# Refusals ---------------------------------------------------------------------------------------------


def test_a_refusal_is_retried_in_a_later_totp_window_with_backoff_and_halts_only_at_expiry(tmp_path, clock):
    s = session(tmp_path, clock)
    expires = clock.now_ns() + 3 * HOUR_NS
    log_in(s, clock, ok(expires))
    clock.advance_to(expires - 2 * HOUR_NS)
    retries = []
    for _ in range(4):
        assert s.due(clock.now_ns()) == "expiring"
        assert s.begin(clock.now_ns()) is not None
        change = s.finish(refused(LoginReason.WRONG_PIN, "HTTP 400: Invalid PIN entered"), "expiring", clock.now_ns())
        assert change.credentials is None and not change.status.ok
        assert (change.status.reason_code, change.status.expires_ns) == ("WRONG_PIN", expires)
        wait_ns = s.retry_at_ns - clock.now_ns()
        assert s.retry_at_ns % (30 * NS_PER_S) == 0  # at the start of a TOTP window
        retries.append(wait_ns)
        assert s.due(s.retry_at_ns - 1) == "" and not s.halting(clock.now_ns())
        clock.advance_to(s.retry_at_ns)
    # Jittered doubling from 30 s (at least half of each step), rounded up to a window.
    assert [w >= b * NS_PER_S / 2 for w, b in zip(retries, (30, 60, 120, 240))] == [True] * 4
    assert retries[3] > retries[0]
    assert s.credentials.access_token == token_for(expires)  # the old token stays in use meanwhile
    clock.advance_to(expires)
    assert s.halting(clock.now_ns())


@pytest.mark.parametrize(("status", "body", "reason"), [
    (400, {"status": "error", "errorMessage": "Invalid PIN entered"}, LoginReason.WRONG_PIN),
    (400, {"errorMessage": "Invalid TOTP"}, LoginReason.BAD_TOTP),
    (401, {"remarks": "OTP expired or already used"}, LoginReason.BAD_TOTP),
    (403, {"message": "Your account is locked due to multiple failed attempts"}, LoginReason.ACCOUNT_LOCKED),
    (401, {"errorCode": "DH-901", "errorMessage": "access token is invalid or expired"}, LoginReason.TOKEN_EXPIRED),
    (400, {"errorMessage": "something else went wrong"}, LoginReason.REFUSED),
    (200, {"dhanClientId": CLIENT_ID}, LoginReason.BAD_RESPONSE),
    (502, None, LoginReason.BAD_RESPONSE),
])
def test_each_refusal_gets_its_reason_code(status, body, reason):
    payload = b"<html>bad gateway</html>" if body is None else json.dumps(body).encode()
    outcome = parse_login_answer(status, payload, "totp", LOGIN)
    assert not outcome.ok and outcome.reason == reason


def test_renew_of_an_expired_token_stops_trying_and_halts(tmp_path, clock):
    s = session(tmp_path, clock, Credentials(CLIENT_ID, token_for(clock.now_ns() + 600 * NS_PER_S)))
    assert s.method == "renew" and s.due(clock.now_ns()) == "expiring"
    assert s.begin(clock.now_ns()) is not None
    s.finish(LoginOutcome(False, "renew", reason=LoginReason.TOKEN_EXPIRED, detail="expired"), "expiring",
             clock.now_ns())
    assert s.method is None and s.due(clock.now_ns() + HOUR_NS) == "" and s.halting(clock.now_ns())


def test_login_over_http_against_the_fake_tells_a_bad_totp_from_a_good_one():
    with FakeDhan(token_lifetime_s=7200) as fake:
        now = int(dt.datetime.now(IST).timestamp()) * NS_PER_S
        wrong = login(Credentials(CLIENT_ID, "", PIN, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), "totp",
                      auth_url=fake.auth_url, rest_url=fake.rest_url, now_ns=now, timeout_s=5)
        assert (wrong.ok, wrong.reason) == (False, LoginReason.BAD_TOTP)
        good = login(LOGIN, "totp", auth_url=fake.auth_url, rest_url=fake.rest_url, now_ns=now, timeout_s=5)
        assert good.ok and good.access_token == fake.issued[-1]
        assert abs(good.expires_ns / NS_PER_S - fake.tokens[good.access_token]) < 1.5
        again = login(LOGIN, "totp", auth_url=fake.auth_url, rest_url=fake.rest_url, now_ns=now, timeout_s=5)
        assert (again.ok, again.reason) == (False, LoginReason.BAD_TOTP)  # a code is single-use
        fake.set_down(True)
        down = login(LOGIN, "totp", auth_url=fake.auth_url, rest_url=fake.rest_url,
                     now_ns=now + 60 * NS_PER_S, timeout_s=5)
        assert (down.ok, down.reason) == (False, LoginReason.NETWORK)


def test_expiry_comes_from_the_jwt_else_from_ist_expiry_time():
    assert parse_expiry_ns({}, token_for(1_800_000_000 * NS_PER_S)) == 1_800_000_000 * NS_PER_S
    naive_ist = parse_expiry_ns({"expiryTime": "2026-12-08T08:30:00.000"}, "opaque")
    assert naive_ist == ist_ns(dt.date(2026, 12, 8), dt.time(8, 30))
    assert parse_expiry_ns({"expiryTime": "soon"}, "opaque") == 0


# The cache ---------------------------------------------------------------------------------------------


def test_a_restart_reuses_the_cached_token_while_it_is_valid(tmp_path, clock):
    expires = clock.now_ns() + 10 * HOUR_NS
    write_session_cache(tmp_path, CachedSession(CLIENT_ID, token_for(expires), expires, clock.now_ns(), "totp"))
    s = session(tmp_path, clock)
    assert (s.credentials.access_token, s.expires_ns, s.due(clock.now_ns())) == (token_for(expires), expires, "")
    clock.advance_to(expires)
    assert session(tmp_path, clock).credentials.access_token == ""  # expired: not used
    other = Credentials("2200000001", "", PIN, TOTP_SECRET)
    assert session(tmp_path, SimClock(START_NS), other).credentials.access_token == ""  # another account's


def test_a_cache_others_can_read_is_not_trusted(tmp_path, clock):
    expires = clock.now_ns() + 10 * HOUR_NS
    write_session_cache(tmp_path, CachedSession(CLIENT_ID, token_for(expires), expires, clock.now_ns(), "totp"))
    os.chmod(session_cache_path(tmp_path), 0o644)
    assert read_session_cache(tmp_path) is None


def test_a_token_from_shikra_dhan_login_is_taken_up(tmp_path, clock):
    s = session(tmp_path, clock)
    log_in(s, clock, ok(clock.now_ns() + 3 * HOUR_NS, 1))
    later = clock.now_ns() + 24 * HOUR_NS
    write_session_cache(tmp_path, CachedSession(CLIENT_ID, token_for(later, 2), later, clock.now_ns(), "cli"))
    assert s.poll_cache(clock.now_ns()) is None  # not yet time to look
    clock.advance_by(CFG.session_cache_check_s)
    change = s.poll_cache(clock.now_ns())
    assert change is not None and change.credentials is not None
    assert change.credentials.access_token == token_for(later, 2) and change.status.expires_ns == later


# Secrets ------------------------------------------------------------------------------------------------


def test_the_token_is_never_in_a_log_line_or_a_status(tmp_path, clock, capsys):
    setup_logging("debug", "json")
    s = session(tmp_path, clock)
    expires = clock.now_ns() + 24 * HOUR_NS
    token = token_for(expires)
    assert s.begin(clock.now_ns()) is not None
    change = s.finish(LoginOutcome(True, "totp", access_token=token, expires_ns=expires), "no_token", clock.now_ns())
    clock.advance_by(60)
    s.request("token_refused")
    assert s.begin(clock.now_ns()) is not None
    echoed = parse_login_answer(400, json.dumps({"errorMessage": f"bad pin {PIN} for token {token}"}).encode(),
                                "totp", change.credentials or LOGIN)
    status = s.finish(echoed, "token_refused", clock.now_ns()).status
    err = capsys.readouterr().err
    assert "broker_session_renewed" in err and "broker_session_refused" in err
    for secret in (token, TOTP_SECRET):
        assert secret not in err and secret not in repr(status) and secret not in repr(s.credentials)
        assert secret not in repr(echoed)
    # The PIN is masked where it is echoed (six digits are not scrubbed from every line: timestamps).
    assert PIN not in status.detail and PIN not in repr(s.credentials) and "bad pin ********" in status.detail


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(100, 599), st.dictionaries(st.sampled_from(["errorMessage", "remarks", "message", "errorCode",
                                                               "accessToken", "expiryTime"]),
                                              st.one_of(st.text(max_size=40), st.integers(), st.none())))
def test_any_answer_reads_as_an_outcome_that_never_echoes_a_secret(status, body):
    body = {k: (f"{v} {PIN} {TOTP_SECRET}" if isinstance(v, str) and k != "accessToken" else v)
            for k, v in body.items()}
    outcome = parse_login_answer(status, json.dumps(body).encode(), "totp", LOGIN)
    if outcome.ok:
        assert 200 <= status < 300 and outcome.access_token
    else:
        assert outcome.reason in set(LoginReason) and PIN not in outcome.detail and TOTP_SECRET not in outcome.detail
        assert len(outcome.detail) <= 300


def test_refusal_words_map_case_insensitively():
    assert refusal_reason("ACCOUNT BLOCKED") is LoginReason.ACCOUNT_LOCKED
    assert refusal_reason("Invalid Pin") is LoginReason.WRONG_PIN
