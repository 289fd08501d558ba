"""The real daemon on the live Dhan feed, against a loopback Dhan server: book updates from the
server's packets, a recorded capture bit-identical to what was sent, a config error without
credentials, and an instrument a strategy subscribes at run time."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import pytest

from actors.feed.capture import CaptureReader
from actors.feed.config import DhanFeedConfig, FeedConfig
from actors.strategy.config import StrategyConfig
from engine.config import Config
from engine.credentials import CLIENT_ID_ENV_VAR, TOKEN_ENV_VAR
from ipc.messages import BookUpdate
from tests.support.config import daemon_config, engine_section, strategy_instance
from tests.support.daemon import Daemon, Watcher, short_tmpdir
from tests.support.fake_dhan_feed import CLIENT_ID, TOKEN, FakeDhanFeed
from tests.support.ledger import read_ledger


def dhan_feed_config(url: str, capture: Path | str = "", topology: str = "isolated",
                     strategy: StrategyConfig | None = None) -> Config:
    """feed (from the Dhan server at ``url``, recording to ``capture``) and book; with ``strategy``
    also the strategy actor and execution (which keeps the strategies' saved state in the ledger)."""
    actors = ["feed", "book"] + (["strategy", "execution"] if strategy is not None else [])
    return daemon_config(
        engine=engine_section(actors, topology=topology, colocated=["feed", "book"], stop_timeout_s=10.0),
        feed=FeedConfig(source="dhan", record_path=str(capture), dhan=DhanFeedConfig(
            url=url, mode="full", instruments=["RELIANCE", "HDFCBANK", "IDX_I:13"], stall_timeout_s=60.0)),
        strategy=strategy or StrategyConfig())


@pytest.mark.parametrize("topology", ["isolated", "co-located"])
def test_daemon_with_dhan_source_publishes_book_updates_and_records_a_bit_identical_capture(topology: str) -> None:
    root = short_tmpdir("sk-dhan-")
    capture = root / "live.cap"
    srv = FakeDhanFeed(stream_interval_s=0.02).start()
    srv.pause()
    d = Daemon(root, dhan_feed_config(srv.url, capture, topology),
               env={CLIENT_ID_ENV_VAR: CLIENT_ID, TOKEN_ENV_VAR: TOKEN}).start()
    watcher: Watcher | None = None
    try:
        d.wait_running()
        srv.wait_until(lambda: len(srv.subscriptions()) == 1, 20.0, "the daemon to subscribe")
        watcher = Watcher([d.endpoints(("feed", "book", "supervisor")).pub("book")], [b"book."])
        srv.resume()
        first = watcher.collect(lambda got: any(isinstance(m, BookUpdate) for m in got))
        srv.pause()
        final = {(p.segment, p.security_id): p.ltp_paise for p in srv.sent_packets}
        assert len(final) == 3

        def books_show_the_last_packets(got: list) -> bool:
            return {(m.segment, m.security_id) for m in first + got if isinstance(m, BookUpdate)
                    and final.get((m.segment, m.security_id)) == m.last_price_paise} == set(final)

        if not books_show_the_last_packets([]):
            watcher.collect(books_show_the_last_packets)
        assert d.stop() == 0
        log = d.log()
        assert TOKEN not in log
        frames = [frame for _, frame in CaptureReader(capture)]
        assert frames == srv.sent_frames
        assert [r for _, r in srv.requests][-1] == {"RequestCode": 12}
    finally:
        if watcher is not None:
            watcher.close()
        d.reap()
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_daemon_without_dhan_credentials_exits_with_a_config_error_naming_the_fix() -> None:
    root = short_tmpdir("sk-dhan-")
    d = Daemon(root, dhan_feed_config("ws://127.0.0.1:9"), env={CLIENT_ID_ENV_VAR: "", TOKEN_ENV_VAR: ""}).start()
    try:
        assert d.proc is not None and d.proc.wait(timeout=30) == 78  # EX_CONFIG: a restart will not help
        assert TOKEN_ENV_VAR in d.log() and "[credentials] file" in d.log()
    finally:
        d.reap()
        shutil.rmtree(root, ignore_errors=True)


STRATEGY_SUBSCRIBING = '''
from actors.strategy.api import Strategy, StrategyState


class PicksState(StrategyState):
    tcs_quotes: int = 0


class PicksTcs(Strategy):
    kind = "picks_tcs"
    State = PicksState

    def on_start(self):
        self.ctx.subscribe(self.ctx.resolve("TCS"))   # not in feed.dhan.instruments

    def on_quote(self, quote):  # the feed runs in "full" mode: quotes, not ticker packets
        if quote.security_id == 11536 and self.state.tcs_quotes < 3:
            self.state.tcs_quotes += 1
            self.ctx.save_state()  # the ledger shows what the strategy received
'''


def test_a_strategy_subscribing_an_instrument_at_run_time_gets_it_from_the_live_feed() -> None:
    root = short_tmpdir("sk-dhan-")
    (root / "strategies").mkdir()
    (root / "strategies" / "picks.py").write_text(STRATEGY_SUBSCRIBING)
    srv = FakeDhanFeed(stream_interval_s=0.05).start()
    config = dhan_feed_config(srv.url, strategy=StrategyConfig(
        user_dir=str(root / "strategies"), instances=[strategy_instance("picks", "picks_tcs")]))
    d = Daemon(root, config, env={CLIENT_ID_ENV_VAR: CLIENT_ID, TOKEN_ENV_VAR: TOKEN}).start()
    try:
        d.wait_running()
        srv.wait_until(lambda: any(i["SecurityId"] == "11536" for s in srv.subscriptions()
                                   for i in s["InstrumentList"]), 30.0, "TCS to be subscribed")

        def tcs_quotes() -> int:
            saved = read_ledger(d.data_dir, lambda snap: snap.strategy_state("picks"))
            return msgspec.msgpack.decode(saved.state)["tcs_quotes"]

        d.eventually(lambda: tcs_quotes() == 3, "three TCS quotes at the strategy", 30.0)
        assert d.stop() == 0
    finally:
        d.reap()
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)
