"""The live Dhan feed source against a loopback Dhan server, and the credentials loader. (The real
daemon on that server: tests/daemon/test_feed_dhan.py.)"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.feed import wire
from actors.feed.decode import FrameDecoder
from actors.feed.dhan import (
    DhanSource,
    DhanTiming,
    disconnect_reason,
    feed_url,
    resolve_instruments,
    subscription_messages,
)
from actors.feed.config import DhanFeedConfig, FeedConfig
from engine.config import Config, CredentialsConfig
from engine.credentials import (
    TOKEN_ENV_VAR,
    CLIENT_ID_ENV_VAR,
    Credentials,
    CredentialsError,
    CredentialsProblem,
    load_credentials,
)
from engine.logs import scrub
from engine.model.lookup import prepare_instruments
from ipc.messages import Depth, FeedDisconnected, Quote, Tick
from tests.support.fake_dhan_feed import CLIENT_ID, TOKEN, FakeDhanFeed
from tests.support.mini_loop import MiniLoop

CREDS = Credentials(CLIENT_ID, TOKEN)
FAST = DhanTiming(connect_timeout_s=2.0, close_timeout_s=0.5, reconnect_initial_s=0.02,
                  reconnect_max_s=0.1, too_many_connections_backoff_s=0.3)
TOKEN_EXPIRED_TEXT = ("Dhan access token expired: generate a new token on web.dhan.co and set "
                      "SHIKRA_DHAN_ACCESS_TOKEN, then restart")
TWO = ["NSE_EQ:2885", "IDX_I:13"]


def dhan_config(url: str, instruments: list[str], mode: str = "ticker", stall_timeout_s: float = 5.0,
                credentials_file: str = "") -> Config:
    return Config(feed=FeedConfig(source="dhan", dhan=DhanFeedConfig(
        url=url, mode=mode, instruments=instruments, stall_timeout_s=stall_timeout_s)),  # type: ignore[arg-type]
        credentials=CredentialsConfig(file=credentials_file))


class Rig:
    """One DhanSource on a MiniLoop, recording what it emits and every on_fatal call."""

    def __init__(self, cfg: Config, **kw: Any) -> None:
        self.loop = MiniLoop()
        self.frames: list[tuple[bytes, int]] = []
        self.fatal: list[tuple[int, str]] = []
        self.stalls: list[int] = []  # idle_ns of each on_stalled call
        kw.setdefault("credentials", CREDS)
        kw.setdefault("timing", FAST)
        self.source = DhanSource(cfg, None, on_fatal=lambda c, t: self.fatal.append((c, t)),
                                 on_stalled=self.stalls.append, rng=random.Random(1), **kw)
        self.started_ns = time.time_ns()
        self.source.start(self.loop, lambda frame, ns: self.frames.append((frame, ns)))

    def run_until(self, predicate: Callable[[], bool], what: str = "condition", timeout_s: float = 5.0) -> None:
        self.loop.run_until(predicate, timeout_s, what)


@pytest.fixture
def rigs() -> Iterator[Callable[..., tuple[FakeDhanFeed, Rig]]]:
    made: list[tuple[FakeDhanFeed, Rig]] = []

    def make(instruments: list[str] = TWO, mode: str = "ticker", stall_timeout_s: float = 5.0,
             server: dict[str, Any] | None = None, **kw: Any) -> tuple[FakeDhanFeed, Rig]:
        srv = FakeDhanFeed(**(server or {})).start()
        try:
            rig = Rig(dhan_config(srv.url, instruments, mode, stall_timeout_s), **kw)
        except BaseException:
            srv.stop()
            raise
        made.append((srv, rig))
        return srv, rig

    yield make
    for srv, rig in made:
        rig.source.stop()
        srv.stop()


def decoded(frames: list[tuple[bytes, int]]) -> list[Any]:
    dec = FrameDecoder()
    out: list[Any] = []
    for frame, ns in frames:
        out += dec.decode_frame(frame, ns, "market")
    assert dec.stats.problem_total == 0
    return out


# --------------------------------------------------------------------------------------------
# Functional core
# --------------------------------------------------------------------------------------------


def test_url_carries_version_token_client_id_and_auth_type() -> None:
    assert feed_url("wss://api-feed.dhan.co", Credentials("1000000001", "abc.def")) == \
        "wss://api-feed.dhan.co?version=2&token=abc.def&clientId=1000000001&authType=2"


def test_subscription_messages_batch_by_100_with_segment_names_and_string_ids() -> None:
    parsed = [json.loads(m) for m in subscription_messages(21, [(2, 40_000 + i) for i in range(201)])]
    assert [p["InstrumentCount"] for p in parsed] == [100, 100, 1]
    assert parsed[2] == {"RequestCode": 21, "InstrumentCount": 1,
                         "InstrumentList": [{"ExchangeSegment": "NSE_FNO", "SecurityId": "40200"}]}


def test_disconnect_reason_is_read_from_the_raw_frame() -> None:
    assert disconnect_reason(wire.encode_disconnect(807)) == 807
    assert disconnect_reason(wire.encode_ticker(1, 2885, 100, 0)) is None
    assert disconnect_reason(b"") is None
    assert disconnect_reason(bytes([50, 3, 0])) == 0


def test_instruments_resolve_symbols_and_ids_without_duplicates(tmp_path: Path) -> None:
    table = prepare_instruments("sample", tmp_path)
    keys, not_in_master = resolve_instruments(["RELIANCE", "NSE_EQ:2885", "IDX_I:13", "NSE_FNO:4242"], table)
    assert keys == [(1, 2885), (0, 13), (2, 4242)]
    assert not_in_master == ["NSE_FNO:4242"]
    with pytest.raises(ValueError, match="NOSUCHSYMBOL"):
        resolve_instruments(["NOSUCHSYMBOL"], table)


@pytest.mark.parametrize("instruments, message", [
    ([f"NSE_FNO:{i}" for i in range(1, 5002)], "5001 distinct instruments; one Dhan connection carries at most 5000"),
    ([], "feed.dhan.instruments: empty"),
    (["NSE_XYZ:12"], "'NSE_XYZ:12' is not SEGMENT:SECURITY_ID"),
    (["RELIANCE"], "no instrument master"),
])
def test_instrument_list_a_connection_cannot_carry_is_a_config_error(instruments: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DhanSource(dhan_config("ws://127.0.0.1:9", instruments), None, credentials=CREDS)


# --------------------------------------------------------------------------------------------
# Against the loopback server
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, code, kinds", [
    ("ticker", 15, {Tick}),
    ("quote", 17, {Quote}),
    ("full", 21, {Quote, Depth}),
])
def test_connects_subscribes_and_emits_the_server_frames_unchanged(rigs, mode, code, kinds) -> None:
    srv, rig = rigs(mode=mode)
    rig.run_until(lambda: len(srv.sent_packets) >= 6 and len(rig.frames) >= len(srv.sent_frames) >= 8, "frames")
    assert srv.queries == [{"version": "2", "token": TOKEN, "clientId": CLIENT_ID, "authType": "2"}]
    assert srv.subscriptions() == [{"RequestCode": code, "InstrumentCount": 2, "InstrumentList": [
        {"ExchangeSegment": "NSE_EQ", "SecurityId": "2885"}, {"ExchangeSegment": "IDX_I", "SecurityId": "13"}]}]
    n = len(rig.frames)
    assert [f for f, _ in rig.frames] == srv.sent_frames[:n]
    stamps = [ns for _, ns in rig.frames]
    assert stamps == sorted(stamps) and rig.started_ns <= stamps[0] and stamps[-1] <= time.time_ns()
    msgs = [m for m in decoded(rig.frames) if type(m) in kinds]
    streamed = [(p.segment, p.security_id, p.ltp_paise) for p in srv.sent_packets]
    firsts = [(m.segment, m.security_id, m.ltp_paise) for m in msgs if not isinstance(m, Depth)]
    assert firsts and firsts == streamed[:len(firsts)]
    assert {type(m) for m in msgs} == kinds
    s = rig.source.stats()
    assert (s.state, s.connects, s.reconnects) == ("subscribed", 1, 0)
    assert s.frames == n and s.bytes_received == sum(len(f) for f, _ in rig.frames)


def test_250_instruments_subscribe_in_three_messages_of_100_100_50(rigs) -> None:
    ids = [f"NSE_FNO:{50_000 + i}" for i in range(250)]
    srv, rig = rigs(instruments=ids + ids[:3], mode="full", server={"stream_interval_s": 60.0})
    rig.run_until(lambda: len(srv.subscriptions()) == 3, "three subscribe messages")
    subs = srv.subscriptions()
    assert [s["InstrumentCount"] for s in subs] == [100, 100, 50]
    assert [len(s["InstrumentList"]) for s in subs] == [100, 100, 50]
    assert {s["RequestCode"] for s in subs} == {21}
    listed = [(i["ExchangeSegment"], i["SecurityId"]) for s in subs for i in s["InstrumentList"]]
    assert listed == [("NSE_FNO", str(50_000 + i)) for i in range(250)]


def test_stop_unsubscribes_with_code_plus_one_then_requests_disconnect(rigs) -> None:
    srv, rig = rigs(mode="quote")
    rig.run_until(lambda: len(rig.frames) >= 3, "frames")
    rig.source.stop()
    srv.wait_until(lambda: srv.open_connections() == 0, what="the client to leave")
    after = [r for _, r in srv.requests][1:]
    assert after == [{"RequestCode": 18, "InstrumentCount": 2, "InstrumentList": [
        {"ExchangeSegment": "NSE_EQ", "SecurityId": "2885"}, {"ExchangeSegment": "IDX_I", "SecurityId": "13"}]},
        {"RequestCode": 12}]
    assert rig.source.stats().state == "stopped"


def test_stacked_packets_arrive_as_one_frame_that_decodes_to_each_packet(rigs) -> None:
    srv, rig = rigs(instruments=TWO + ["NSE_FNO:4242"])
    srv.stack(3)
    rig.run_until(lambda: any(len(f) == 3 * wire.TICKER_SIZE for f, _ in rig.frames), "a stacked frame")
    frame = next(f for f, _ in rig.frames if len(f) == 3 * wire.TICKER_SIZE)
    ticks = decoded([(frame, 1)])
    assert [(t.segment, t.security_id) for t in ticks] == [(1, 2885), (0, 13), (2, 4242)]


def test_reconnects_after_an_abrupt_drop_and_subscribes_again(rigs) -> None:
    srv, rig = rigs()
    rig.run_until(lambda: len(rig.frames) >= 3, "frames")
    srv.drop()
    rig.run_until(lambda: srv.connections == 2 and len(srv.subscriptions(2)) == 1, "reconnect")
    before = len(srv.sent_frames)
    rig.run_until(lambda: len(rig.frames) > before, "frames on the new connection")
    assert srv.subscriptions(2) == srv.subscriptions(1)
    assert rig.loop.log.events("feed_connection_closed")[0]["code"] == 1006
    assert rig.source.stats().connects == 2 and rig.source.stats().reconnects == 1
    assert rig.fatal == []


def test_silence_while_market_open_is_a_stall_that_reconnects(rigs) -> None:
    srv, rig = rigs(stall_timeout_s=0.3)
    rig.run_until(lambda: len(rig.frames) >= 3, "frames")
    srv.go_silent()
    rig.run_until(lambda: srv.connections == 2 and len(srv.subscriptions(2)) == 1, "reconnect after stall")
    stalled = rig.loop.log.events("feed_stalled")
    assert len(stalled) == 1 and stalled[0]["idle_s"] >= 0.3
    assert rig.source.stats().stalls == 1
    assert rig.loop.log.events("feed_reconnect_scheduled")[0]["after"] == "stalled"
    rig.run_until(lambda: len(rig.stalls) == 1, "on_stalled on the actor's loop")  # the feed publishes FeedStalled
    assert rig.stalls[0] >= 300_000_000


def test_silence_while_market_closed_is_not_a_stall(rigs) -> None:
    checks: list[int] = []

    def market_open() -> bool:
        checks.append(1)
        return False

    srv, rig = rigs(stall_timeout_s=0.2, market_open=market_open, server={"stream_interval_s": 60.0})
    # The watchdog checks every stall_timeout_s / 4: 12 checks span three stall timeouts.
    rig.run_until(lambda: len(checks) >= 12, "market-open checks")
    assert rig.loop.log.events("feed_stalled") == []
    assert srv.connections == 1 and rig.source.stats().stalls == 0


def test_token_expired_807_stops_reconnecting_and_calls_on_fatal(rigs) -> None:
    srv, rig = rigs()
    rig.run_until(lambda: len(rig.frames) >= 3, "frames")
    srv.disconnect(807)
    rig.run_until(lambda: rig.fatal != [], "on_fatal")
    assert rig.fatal == [(807, TOKEN_EXPIRED_TEXT)]
    assert rig.source.join(5.0), "the websocket thread must end: nothing left to reconnect"
    assert srv.connections == 1
    fatal = rig.loop.log.events("dhan_feed_fatal")
    assert fatal[0]["message"] == TOKEN_EXPIRED_TEXT and fatal[0]["reason_code"] == 807
    assert rig.loop.log.events("feed_reconnect_scheduled") == []
    last = decoded(rig.frames)[-1]  # the disconnect packet itself still reaches the actor
    assert isinstance(last, FeedDisconnected) and last.reason_code == 807
    s = rig.source.stats()
    assert (s.state, s.fatal_reason_code) == ("fatal", 807)


@pytest.mark.parametrize("server, creds, code", [
    ({}, Credentials(CLIENT_ID, "wrong-token-value-xyz"), 808),
    ({"auth_failure": "http"}, Credentials(CLIENT_ID, "wrong-token-value-xyz"), 808),
    ({}, Credentials("9999999999", TOKEN), 810),
])
def test_refused_credentials_are_fatal_and_not_retried(rigs, server, creds, code) -> None:
    srv, rig = rigs(server=server, credentials=creds)
    rig.run_until(lambda: rig.fatal != [], "on_fatal")
    assert rig.fatal[0][0] == code and "web.dhan.co" in rig.fatal[0][1]
    assert rig.source.join(5.0)
    assert srv.connections == (0 if server else 1) and len(srv.queries) == 1


def test_too_many_connections_805_is_retried_after_the_long_backoff(rigs) -> None:
    srv, rig = rigs()
    rig.run_until(lambda: len(rig.frames) >= 3, "frames")
    srv.disconnect(805)
    rig.run_until(lambda: srv.connections == 2 and len(srv.subscriptions(2)) == 1, "reconnect after 805",
                  timeout_s=8.0)
    scheduled = rig.loop.log.events("feed_reconnect_scheduled")
    assert scheduled[0]["reason_code"] == 805
    assert scheduled[0]["delay_s"] >= FAST.too_many_connections_backoff_s > 2 * FAST.reconnect_max_s
    assert rig.fatal == []


def test_a_slow_actor_never_blocks_the_reader_frames_past_the_backlog_are_dropped(rigs) -> None:
    timing = DhanTiming(**{**{f: getattr(FAST, f) for f in FAST.__struct_fields__}, "max_pending_frames": 5})
    srv, rig = rigs(timing=timing)
    # The actor loop does not run: nothing drains. The reader keeps reading and answering pings.
    srv.wait_until(lambda: rig.source.stats().dropped_frames > 0 and srv.pong_seen(), what="drops and a pong")
    assert rig.source.stats().pending_frames == 5
    rig.run_until(lambda: len(rig.frames) >= 5, "the backlog")
    assert [f for f, _ in rig.frames[:5]] == srv.sent_frames[:5]


def test_stop_during_a_long_reconnect_backoff_ends_the_thread_at_once(rigs) -> None:
    slow = DhanTiming(close_timeout_s=0.5, reconnect_initial_s=60.0, reconnect_max_s=60.0)
    srv, rig = rigs(timing=slow)
    rig.run_until(lambda: len(rig.frames) >= 1, "frames")
    srv.stop()
    rig.run_until(lambda: rig.source.stats().state == "backoff", "the reconnect backoff")
    rig.source.stop()  # joins for close_timeout_s + 1 s at most, far below the 30-60 s backoff
    assert rig.source.stats().state == "stopped"
    assert rig.loop.log.events("dhan_feed_thread_stuck") == []


def test_the_token_never_reaches_a_log_record(rigs) -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage() + repr(getattr(record, "fields", "")) + repr(record.args)
                           + (logging.Formatter().formatException(record.exc_info) if record.exc_info else ""))

    root = logging.getLogger()
    handler, old_level = Keep(logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        srv, rig = rigs()
        rig.run_until(lambda: len(rig.frames) >= 2, "frames")
        srv.drop()
        rig.run_until(lambda: len(srv.subscriptions(2)) == 1, "reconnect")
        srv.stop()
        rig.run_until(lambda: rig.loop.log.events("feed_connect_failed") != [], "a failed reconnect")
        rig.source.stop()
        _, bad = rigs(credentials=Credentials(CLIENT_ID, "another-secret-token-123"))
        bad.run_until(lambda: bad.fatal != [], "on_fatal")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = rig.loop.log.lines() + bad.loop.log.lines() + records
    assert any("feed_subscribed" in line for line in lines)
    leaks = [line for line in lines if TOKEN in line or "another-secret-token-123" in line]
    assert leaks == []


# --------------------------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------------------------


def write_secret_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_credentials_from_env_win_over_the_file(tmp_path: Path) -> None:
    f = write_secret_file(tmp_path / "creds.toml", 'client_id = "1000000001"\naccess_token = "file-token-abcdef"\n')
    creds = load_credentials(f, {TOKEN_ENV_VAR: "env-token-abcdef"})
    assert (creds.client_id, creds.access_token) == ("1000000001", "env-token-abcdef")
    creds = load_credentials(f, {TOKEN_ENV_VAR: "env-token-abcdef", CLIENT_ID_ENV_VAR: "2000000002"})
    assert (creds.client_id, creds.access_token) == ("2000000002", "env-token-abcdef")
    assert load_credentials(f, {}).access_token == "file-token-abcdef"


def test_credentials_file_readable_by_others_is_refused_with_chmod_advice(tmp_path: Path) -> None:
    f = write_secret_file(tmp_path / "creds.toml", 'client_id = "1000000001"\naccess_token = "t-abcdef"\n', 0o644)
    with pytest.raises(CredentialsError) as err:
        load_credentials(f, {})
    assert err.value.problem is CredentialsProblem.FILE_NOT_PRIVATE
    assert f"chmod 600 {f}" in str(err.value) and "0644" in str(err.value)


def test_missing_credentials_name_both_ways_to_provide_them(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as err:
        load_credentials(None, {CLIENT_ID_ENV_VAR: "1000000001"})
    assert err.value.problem is CredentialsProblem.MISSING
    assert TOKEN_ENV_VAR in str(err.value) and "[credentials] file" in str(err.value)
    f = write_secret_file(tmp_path / "creds.toml", 'client_id = "1000000001"\n')
    with pytest.raises(CredentialsError, match="access token not found"):
        load_credentials(f, {})
    with pytest.raises(CredentialsError) as err:
        load_credentials(tmp_path / "nope.toml", {})
    assert err.value.problem is CredentialsProblem.FILE_NOT_FOUND


def test_credentials_file_with_unknown_keys_is_refused(tmp_path: Path) -> None:
    f = write_secret_file(tmp_path / "creds.toml", 'client_id = "1"\ntoken = "x"\n')
    with pytest.raises(CredentialsError) as err:
        load_credentials(f, {})
    assert err.value.problem is CredentialsProblem.FILE_INVALID and "token" in str(err.value)


def test_loaded_credentials_are_masked_in_repr_and_in_every_log_line(tmp_path: Path) -> None:
    creds = load_credentials(None, {CLIENT_ID_ENV_VAR: "3000000123", TOKEN_ENV_VAR: "eyJ.masked-token.sig"})
    assert "eyJ.masked-token.sig" not in repr(creds) and "3000000123" not in repr(creds)
    assert "******0123" in repr(creds)
    assert scrub("id=3000000123 tok=eyJ.masked-token.sig") == "id=******0123 tok=********"


def test_source_reads_credentials_from_the_configured_file_only_when_private(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CLIENT_ID_ENV_VAR, raising=False)
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    f = write_secret_file(tmp_path / "c.toml", 'client_id = "4000000004"\naccess_token = "tok-from-file-1"\n')
    cfg = dhan_config("ws://127.0.0.1:9", TWO, credentials_file=str(f))
    DhanSource(cfg, None)
    os.chmod(f, 0o640)
    with pytest.raises(CredentialsError, match="chmod 600"):
        DhanSource(cfg, None)
    with pytest.raises(CredentialsError, match=CLIENT_ID_ENV_VAR):
        DhanSource(dhan_config("ws://127.0.0.1:9", TWO), None)


# --------------------------------------------------------------------------------------------
# Instruments added at run time (an option a strategy picks at entry)
# --------------------------------------------------------------------------------------------


def test_instruments_added_at_run_time_are_subscribed_now_and_on_every_reconnect(rigs) -> None:
    srv, rig = rigs()
    rig.run_until(lambda: len(rig.frames) >= 2, "frames")
    assert rig.source.add_instruments([(2, 4242), (1, 2885)]) == [(2, 4242)]  # RELIANCE was configured
    assert rig.source.add_instruments([(2, 4242)]) == []                      # idempotent
    rig.run_until(lambda: len(srv.subscriptions(1)) == 2, "the live subscribe of the new one")
    assert srv.subscriptions(1)[1]["InstrumentList"] == [{"ExchangeSegment": "NSE_FNO", "SecurityId": "4242"}]
    rig.run_until(lambda: any(p.security_id == 4242 for p in srv.sent_packets), "packets of the new instrument")
    srv.drop()
    rig.run_until(lambda: srv.connections == 2 and len(srv.subscriptions(2)) == 1, "reconnect")
    listed = [(i["ExchangeSegment"], i["SecurityId"]) for i in srv.subscriptions(2)[0]["InstrumentList"]]
    assert listed == [("NSE_EQ", "2885"), ("IDX_I", "13"), ("NSE_FNO", "4242")]
    rig.source.stop()
    srv.wait_until(lambda: srv.open_connections() == 0, what="the client to leave")
    unsubscribed = [r for _, r in srv.requests if r.get("RequestCode") == 16]
    assert unsubscribed and unsubscribed[-1]["InstrumentCount"] == 3


def test_instruments_added_before_the_source_starts_are_subscribed_when_it_connects() -> None:
    """Disconnected until the schedule's pre-open, a strategy's subscription arrives first."""
    with FakeDhanFeed() as srv:
        source = DhanSource(dhan_config(srv.url, TWO), None, credentials=CREDS, timing=FAST)
        assert source.add_instruments([(2, 4242)]) == [(2, 4242)]
        loop = MiniLoop()
        source.start(loop, lambda frame, ns: None)
        try:
            loop.run_until(lambda: len(srv.subscriptions(1)) == 1, what="the first subscribe")
            listed = [(i["ExchangeSegment"], i["SecurityId"]) for i in srv.subscriptions(1)[0]["InstrumentList"]]
            assert ("NSE_FNO", "4242") in listed and len(listed) == 3
        finally:
            source.stop()


def test_adding_past_the_connection_limit_is_refused_and_adds_nothing(rigs) -> None:
    _srv, rig = rigs()
    too_many = [(2, 100_000 + i) for i in range(5_000)]
    with pytest.raises(ValueError, match="at most 5000"):
        rig.source.add_instruments(too_many)
    assert len(rig.source.instruments) == 2


# A renewed token ------------------------------------------------------------------------------------

LOGIN_CREDS = Credentials(CLIENT_ID, TOKEN, "482916", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")


def test_a_new_token_reconnects_the_live_feed_with_it(rigs) -> None:
    srv, rig = rigs(credentials=LOGIN_CREDS)
    rig.run_until(lambda: len(rig.frames) >= 3, "frames")
    srv.token = "eyJ.renewed-token.sig"
    rig.source.set_credentials(LOGIN_CREDS.with_token("eyJ.renewed-token.sig"))
    rig.run_until(lambda: srv.connections == 2 and len(srv.subscriptions(2)) == 1, "reconnect with the new token")
    assert [q["token"] for q in srv.queries] == [TOKEN, "eyJ.renewed-token.sig"]
    before = len(rig.frames)
    rig.run_until(lambda: len(rig.frames) >= before + 3, "frames on the new connection")
    assert rig.fatal == [] and rig.source.access_token == "eyJ.renewed-token.sig"
    assert all("renewed-token" not in line for line in rig.loop.log.lines())


def test_a_refused_token_waits_for_the_next_one_when_the_engine_can_log_in(rigs) -> None:
    srv, rig = rigs(credentials=LOGIN_CREDS)
    rig.run_until(lambda: len(rig.frames) >= 3, "frames")
    srv.disconnect(807)
    rig.run_until(lambda: rig.source.stats().state == "waiting_token", "waiting for a token")
    assert rig.source.join(5.0) and rig.fatal == []  # no kill switch: the session logs in again
    assert srv.connections == 1  # and no reconnect storm with a token that cannot work
    srv.token = "eyJ.next-token.sig"
    rig.source.set_credentials(LOGIN_CREDS.with_token("eyJ.next-token.sig"))
    rig.run_until(lambda: srv.connections == 2 and rig.source.stats().state == "subscribed", "restarted")
    assert srv.queries[-1]["token"] == "eyJ.next-token.sig"


def test_a_source_without_a_token_waits_for_its_first(rigs) -> None:
    srv, rig = rigs(credentials=Credentials(CLIENT_ID, "", "482916", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"))
    rig.run_until(lambda: rig.source.stats().state == "waiting_token", "waiting")
    assert srv.queries == []
    rig.source.set_credentials(LOGIN_CREDS)
    rig.run_until(lambda: len(rig.frames) >= 3, "frames with the first token")


def test_a_token_renewed_while_disconnected_for_the_night_waits_for_the_next_start(rigs) -> None:
    srv, rig = rigs(credentials=LOGIN_CREDS)
    rig.run_until(lambda: len(rig.frames) >= 3, "frames")
    rig.source.stop()  # the schedule's night
    srv.token = "eyJ.night-token.sig"
    rig.source.set_credentials(LOGIN_CREDS.with_token("eyJ.night-token.sig"))
    assert srv.connections == 1 and len(srv.queries) == 1  # no connection at night
    rig.source.start(rig.loop, lambda frame, ns: rig.frames.append((frame, ns)))  # the next pre-open
    rig.run_until(lambda: srv.connections == 2 and rig.source.stats().state == "subscribed", "connected")
    assert srv.queries[-1]["token"] == "eyJ.night-token.sig"
