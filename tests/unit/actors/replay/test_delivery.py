"""The in-process bus takes a market batch in bulk only up to the first row some actor needs one
message at a time: a plain actor's topics, a batch actor's horizon, a row of other messages."""

from __future__ import annotations

import msgspec
import numpy as np

from actors.base import Actor
from actors.feed import wire
from actors.feed.batches import market_batch
from actors.feed.decode import FrameDecoder
from actors.host import ActorHost
from actors.replay.batch import MarketBatch
from actors.replay.delivery import BatchConsumer, receives_market_batches
from engine.config import Config
from ipc import topics
from ipc.messages import PrevClose, Quote, Tick

ACT_AT = {1_003, 1_011}  # LTPs at which the batch actor would act


class Feed(Actor):
    """The origin of the batch (publishes, subscribes to nothing)."""


class Plain(Actor):
    """Takes quotes of one instrument, one message at a time."""

    subscriptions = (topics.QUOTE + "NSE_EQ.8",)

    def __init__(self, ctx) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx)
        self.seen: list[int] = []

    def on_quote(self, msg: Quote) -> None:
        self.seen.append(msg.ltp_paise)


class Taker(Actor):
    """Takes batches; would act on the rows whose LTP is in ACT_AT."""

    subscriptions = (topics.TICK, topics.QUOTE, topics.PREV_CLOSE)

    def __init__(self, ctx) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx)
        self.got: list[tuple[str, int]] = []  # ("bulk", row) or ("msg", ltp)

    def market_batch_horizon(self, batch: MarketBatch, start: int, stop: int) -> int:
        hits = [i for i in range(start, stop) if int(batch.ltp_paise[i]) in ACT_AT]
        return hits[0] if hits else stop

    def on_market_batch(self, batch: MarketBatch, start: int, stop: int) -> None:
        assert not any(int(batch.ltp_paise[i]) in ACT_AT for i in range(start, stop))
        self.got.extend(("bulk", i) for i in range(start, stop))

    def on_tick(self, msg: Tick) -> None:
        self.got.append(("msg", msg.ltp_paise))

    def on_quote(self, msg: Quote) -> None:
        self.got.append(("msg", msg.ltp_paise))

    def on_prev_close(self, msg: PrevClose) -> None:
        self.got.append(("prev", msg.prev_close_paise))


def test_rows_go_in_bulk_up_to_the_first_row_an_actor_needs_one_message_at_a_time(tmp_path):
    frames = []
    for i in range(16):
        ltp = 1_000 + i
        if i == 6:
            frames.append(wire.encode_prev_close(1, 7, ltp, 0))  # a row of other messages
        elif i % 5 == 4:
            frames.append(wire.encode_quote(1, 8, ltp_paise=ltp, ltq_units=1, ltt_s=1, atp_paise=ltp, volume_units=1,
                                            total_sell_qty_units=0, total_buy_qty_units=0, open_paise=ltp,
                                            close_paise=ltp, high_paise=ltp, low_paise=ltp))
        else:
            frames.append(wire.encode_ticker(1, 7, ltp, 1))
    decoded = FrameDecoder().decode_buffer_columnar(b"".join(frames), [len(f) for f in frames], np.ones(16))
    batch = market_batch(decoded, 16)
    cfg = Config()
    host = ActorHost("t", [("feed", Feed), ("plain", Plain), ("taker", Taker)], ["feed", "plain", "taker"], cfg,
                     tmp_path, tmp_path)
    host._open_sockets()
    try:
        from actors.host import _Context

        for name, cls in host._classes:
            host.contexts[name] = _Context(host, name)
            host.actors[name] = cls(host.contexts[name])
        feed_ctx = host.contexts["feed"]

        def publish_row(i: int) -> None:
            for msg in batch.messages(i):
                prefix = {Tick: topics.TICK, Quote: topics.QUOTE, PrevClose: topics.PREV_CLOSE}[type(msg)]
                feed_ctx.publish(topics.instrument_topic(prefix, msg.segment, msg.security_id), msg)

        feed_ctx.publish_market_batch(batch, publish_row)
    finally:
        for pub in host.publishers.values():
            pub.close()
        for inbox in host.inboxes.values():
            inbox.close()
        host.subscriber.close()
    plain, taker = host.actors["plain"], host.actors["taker"]
    assert isinstance(taker, BatchConsumer) and not isinstance(plain, BatchConsumer)
    assert plain.seen == [1_004, 1_009, 1_014]  # its quotes, each as a message
    by_message = {1_003, 1_004, 1_006, 1_009, 1_011, 1_014}  # acts, plain's quotes, the prev close row
    expected = [("prev", 1_006) if i == 6 else ("msg", 1_000 + i) if 1_000 + i in by_message else ("bulk", i)
                for i in range(16)]
    assert taker.got == expected
    assert host.rows_in_bulk == 16 - len(by_message)


def test_only_actors_sharing_the_feeds_process_receive_market_batches():
    isolated = Config().engine  # the default: every actor in a process of its own
    assert not any(receives_market_batches(isolated, name) for name in isolated.actors)
    colocated = msgspec.structs.replace(isolated, topology="co-located", colocated=["feed", "book", "risk"])
    assert [name for name in isolated.actors if receives_market_batches(colocated, name)] == ["feed", "book", "risk"]
    no_feed = msgspec.structs.replace(colocated, colocated=["book", "risk"])
    assert not any(receives_market_batches(no_feed, name) for name in isolated.actors)


def test_backtest_actors_receive_market_batches(tmp_path):
    from engine.backtest.runner import BacktestSpec, backtest_config

    eng = backtest_config(Config(), BacktestSpec(capture=str(tmp_path / "c.cap"), kind="ema_cross")).engine
    assert all(receives_market_batches(eng, name) for name in ("feed", "book", "risk", "execution", "strategy"))
