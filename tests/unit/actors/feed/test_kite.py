"""The live Kite ticker source against a loopback Kite ticker, and the Kite session cache."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.feed.config import FeedConfig, KiteFeedConfig
from actors.feed.kite import KiteSource, resolve_tokens, subscription_messages
from actors.feed.kite_decode import KiteFrameDecoder
from engine.config import Config
from engine.kite_session import (
    ACCESS_TOKEN_ENV_VAR,
    API_KEY_ENV_VAR,
    KiteCredentials,
    KiteSession,
    feed_credentials,
    session_cache_path,
    session_checksum,
    write_session,
)
from engine.model.instruments import InstrumentTable, kite_tokens
from engine.model.master import load_instruments
from engine.model.sample_master import write_sample_master
from ipc.messages import Depth, Quote
from ipc.segments import Segment
from tests.support.fake_kite_ticker import API_KEY, TOKEN, FakeKiteTicker
from tests.support.kite_instruments import kite_dump
from tests.support.mini_loop import MiniLoop

CREDS = KiteCredentials(API_KEY, TOKEN)
NOW = 1_767_000_000 * 10**9


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> InstrumentTable:
    path = tmp_path_factory.mktemp("kite") / "kite-master.csv"
    path.write_bytes(kite_dump())
    return load_instruments(path, use_cache=False)


def kite_config(url: str, instruments: list[str], mode: str = "full", stall_timeout_s: float = 5.0) -> Config:
    return Config(feed=FeedConfig(source="kite", kite=KiteFeedConfig(
        url=url, mode=mode, instruments=instruments, stall_timeout_s=stall_timeout_s,  # type: ignore[arg-type]
        connect_timeout_s=2.0, close_timeout_s=0.5, reconnect_initial_s=0.02, reconnect_max_s=0.1)))


class Rig:
    def __init__(self, cfg: Config, table: InstrumentTable, creds: KiteCredentials | None) -> None:
        self.loop = MiniLoop()
        self.frames: list[tuple[bytes, int]] = []
        self.stalls: list[int] = []
        self.source = KiteSource(cfg, table, credentials=creds, on_stalled=self.stalls.append, rng=random.Random(1))
        self.source.start(self.loop, lambda frame, ns: self.frames.append((frame, ns)))

    def run_until(self, predicate: Callable[[], bool], what: str = "condition", timeout_s: float = 5.0) -> None:
        self.loop.run_until(predicate, timeout_s, what)


@pytest.fixture
def rigs(table: InstrumentTable) -> Iterator[Callable[..., tuple[FakeKiteTicker, Rig]]]:
    made: list[tuple[FakeKiteTicker, Rig]] = []

    def make(instruments: list[str] = ["RELIANCE", "NIFTY 50"], mode: str = "full", stall_timeout_s: float = 5.0,
             creds: KiteCredentials | None = CREDS, **server: Any) -> tuple[FakeKiteTicker, Rig]:
        srv = FakeKiteTicker(**server).start()
        rig = Rig(kite_config(srv.url, instruments, mode, stall_timeout_s), table, creds)
        made.append((srv, rig))
        return srv, rig

    yield make
    for srv, rig in made:
        rig.source.stop()
        srv.stop()


def decoded(table: InstrumentTable, frames: list[tuple[bytes, int]]) -> list[Any]:
    dec = KiteFrameDecoder(kite_tokens(table))
    out = dec.decode_frames([f for f, _ in frames], [ns for _, ns in frames])
    assert dec.stats.problem_total == 0
    return out


# --------------------------------------------------------------------------------------------
# Functional core
# --------------------------------------------------------------------------------------------


def test_subscribe_then_set_mode_in_batches_of_500_with_numeric_tokens() -> None:
    msgs = subscription_messages("full", list(range(1, 1201)))
    assert len(msgs) == 6
    assert msgs[0].startswith('{"a":"subscribe","v":[1,2,') and msgs[1].startswith('{"a":"mode","v":["full",[1,2,')
    assert msgs[4] == '{"a":"subscribe","v":[' + ",".join(map(str, range(1001, 1201))) + "]}"


def test_instruments_resolve_to_kite_tokens_and_a_dhan_master_is_refused(table: InstrumentTable,
                                                                          tmp_path: Path) -> None:
    assert resolve_tokens(["RELIANCE", "NSE_EQ:2885", "NIFTY 50", "NSE_FNO:40236"], table) == \
        [738561, 256265, 10300418]
    dhan = tmp_path / "dhan.csv"
    write_sample_master(dhan, dt.date(2026, 12, 7))
    with pytest.raises(ValueError, match=r'no Kite instrument token .*master = "kite"'):
        resolve_tokens(["RELIANCE"], load_instruments(dhan, use_cache=False))
    with pytest.raises(ValueError, match="feed.kite.instruments: empty"):
        resolve_tokens([], table)


def test_the_login_checksum_is_sha256_of_key_request_token_and_secret() -> None:
    assert session_checksum("key", "req", "secret") == hashlib.sha256(b"keyreqsecret").hexdigest()


def test_the_session_cache_wins_until_it_expires_then_the_environment(tmp_path: Path) -> None:
    env = {API_KEY_ENV_VAR: "envkey01", ACCESS_TOKEN_ENV_VAR: "envtoken"}
    assert feed_credentials(tmp_path, NOW, {}) is None
    assert feed_credentials(tmp_path, NOW, env) == KiteCredentials("envkey01", "envtoken")
    write_session(tmp_path, KiteSession(API_KEY, TOKEN, "AB1234", NOW - 10, NOW + 10))
    assert os.stat(session_cache_path(tmp_path)).st_mode & 0o777 == 0o600
    assert feed_credentials(tmp_path, NOW, env) == CREDS
    assert feed_credentials(tmp_path, NOW + 10, env) == KiteCredentials("envkey01", "envtoken")
    os.chmod(session_cache_path(tmp_path), 0o644)  # a token others could read is not used
    assert feed_credentials(tmp_path, NOW, {}) is None
    assert TOKEN not in repr(CREDS) and API_KEY not in repr(CREDS)


# --------------------------------------------------------------------------------------------
# Against the loopback ticker
# --------------------------------------------------------------------------------------------


def test_connects_subscribes_in_full_mode_and_frames_decode_to_our_instruments(rigs, table) -> None:
    srv, rig = rigs()
    rig.run_until(lambda: len(rig.frames) >= 3, "frames")
    assert srv.requests_on(1)[:2] == [{"a": "subscribe", "v": [738561, 256265]},
                                      {"a": "mode", "v": ["full", [738561, 256265]]}]
    msgs = decoded(table, rig.frames)
    quotes = {(m.segment, m.security_id) for m in msgs if isinstance(m, Quote)}
    assert quotes == {(Segment.NSE_EQ, 2885), (Segment.IDX_I, 1001)}
    assert any(isinstance(m, Depth) and m.security_id == 2885 for m in msgs)
    assert all(len(f) > 1 for f, _ in rig.frames)  # heartbeats keep the line alive, never reach the actor
    rig.run_until(lambda: rig.source.stats().heartbeats >= 1, "a heartbeat")


def test_reconnects_after_an_abrupt_drop_and_subscribes_again(rigs) -> None:
    srv, rig = rigs(mode="quote")
    rig.run_until(lambda: len(rig.frames) >= 3, "frames")
    srv.drop()
    rig.run_until(lambda: srv.connections == 2 and srv.modes(2) == {738561: "quote", 256265: "quote"}, "reconnect")
    before = len(srv.sent_frames)
    rig.run_until(lambda: len(srv.sent_frames) > before + 2 and len(rig.frames) > 3, "frames again")
    assert rig.source.stats().connects == 2 and rig.source.stats().reconnects == 1


def test_silence_while_market_open_is_a_stall_that_reconnects(rigs) -> None:
    srv, rig = rigs(stall_timeout_s=0.3)
    rig.run_until(lambda: len(rig.frames) >= 3, "frames")
    srv.go_silent()
    rig.run_until(lambda: srv.connections == 2 and len(srv.requests_on(2)) >= 2, "reconnect after the stall")
    rig.run_until(lambda: len(rig.stalls) == 1, "on_stalled on the actor's loop")
    assert rig.stalls[0] >= 300_000_000 and rig.source.stats().stalls == 1


def test_a_refused_token_waits_for_a_new_login_then_connects_with_it(rigs) -> None:
    srv, rig = rigs(creds=KiteCredentials(API_KEY, "yesterdays-token"))
    rig.run_until(lambda: rig.source.stats().state == "waiting_token", "waiting for a token")
    assert srv.refused == 1 and srv.connections == 0
    srv.set_token("todays-token")
    rig.source.set_credentials(KiteCredentials(API_KEY, "todays-token"))
    rig.run_until(lambda: len(rig.frames) >= 2, "frames with the new token")
    assert srv.refused == 1  # no reconnect storm on the refused one
    lines = "\n".join(rig.loop.log.lines())
    assert "todays-token" not in lines and "yesterdays-token" not in lines


def test_a_source_without_a_token_starts_when_one_arrives(rigs) -> None:
    srv, rig = rigs(creds=None)
    rig.run_until(lambda: rig.source.stats().state == "waiting_token", "waiting")
    assert srv.connections == 0
    rig.source.set_credentials(CREDS)
    rig.run_until(lambda: len(rig.frames) >= 2, "frames")


def test_a_new_token_replaces_the_live_connection(rigs) -> None:
    srv, rig = rigs()
    rig.run_until(lambda: len(rig.frames) >= 2, "frames")
    srv.set_token("second-token")
    rig.source.set_credentials(KiteCredentials(API_KEY, "second-token"))
    rig.run_until(lambda: srv.connections == 2 and len(srv.requests_on(2)) >= 2, "a connection with the new token")


def test_error_messages_are_logged_and_postbacks_counted(rigs) -> None:
    srv, rig = rigs()
    rig.run_until(lambda: len(rig.frames) >= 1, "frames")
    srv.send_text({"type": "error", "data": "too many instruments"})
    srv.send_text({"type": "order", "data": {"order_id": "1", "status": "COMPLETE"}})
    rig.run_until(lambda: rig.source.stats().postbacks == 1 and rig.source.stats().errors == 1, "text messages")
    assert rig.loop.log.events("kite_feed_error_message")[0]["detail"] == "too many instruments"


def test_instruments_added_at_run_time_are_subscribed_now(rigs) -> None:
    srv, rig = rigs(instruments=["RELIANCE"], mode="ltp")
    rig.run_until(lambda: srv.modes(1) == {738561: "ltp"}, "first subscription")
    assert rig.source.add_instruments([(int(Segment.NSE_FNO), 40236)]) == [(int(Segment.NSE_FNO), 40236)]
    rig.run_until(lambda: srv.modes(1).get(10300418) == "ltp", "added instrument")
    with pytest.raises(ValueError, match="no Kite instrument token"):
        rig.source.add_instruments([(int(Segment.NSE_FNO), 99)])
