"""The book actor: keeps a book per instrument from depth packets and publishes top of book."""

from __future__ import annotations

from actors.base import Actor, ActorContext
from actors.book.book import BookStore, top_of_book_columns
from actors.replay.batch import MarketBatch
from ipc import topics
from ipc.messages import BookStale, Depth, Quote, Tick
from ipc.segments import segment_label

STALE_CHECK_INTERVAL_S = 1.0
STALE_AFTER_S = 10.0


class BookActor(Actor):
    subscriptions = (topics.DEPTH, topics.QUOTE, topics.TICK)

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.books = BookStore()
        self._reported_stale: set[tuple[int, int]] = set()

    def on_start(self) -> None:
        self.ctx.every(STALE_CHECK_INTERVAL_S, self._check_stale)

    def on_depth(self, msg: Depth) -> None:
        # hot path: one numpy row update and one message per depth packet
        r = self.books.apply_depth(msg, self.ctx.monotonic_ns())
        self._reported_stale.discard((msg.segment, msg.security_id))
        self.ctx.publish(topics.instrument_topic(topics.BOOK, msg.segment, msg.security_id),
                         self.books.update_message(r, msg.segment, msg.security_id))

    def on_quote(self, msg: Quote) -> None:
        self.books.set_last(msg.segment, msg.security_id, msg.ltp_paise)

    def on_tick(self, msg: Tick) -> None:
        self.books.set_last(msg.segment, msg.security_id, msg.ltp_paise)

    # Replay batches: the book updates of full rows are columns of the batch ----------------------
    def prepare_market_batch(self, batch: MarketBatch) -> None:
        batch.book = top_of_book_columns(batch)

    def market_batch_horizon(self, batch: MarketBatch, start: int, stop: int) -> int:
        return stop  # what the rows make us publish is in batch.book

    def on_market_batch(self, batch: MarketBatch, start: int, stop: int) -> None:
        for key in self.books.apply_batch(batch, start, stop, self.ctx.monotonic_ns()):
            self._reported_stale.discard(key)

    def _check_stale(self) -> None:
        now_mono = self.ctx.monotonic_ns()
        now = self.ctx.now_ns()
        for segment, security_id, age_ns in self.books.stale(now_mono, int(STALE_AFTER_S * 1e9)):
            key = (segment, security_id)
            if key in self._reported_stale:
                continue
            self._reported_stale.add(key)
            self.log.warning("book_stale", segment=segment_label(segment),
                             security_id=security_id, age_s=round(age_ns / 1e9, 1))
            self.ctx.publish(topics.instrument_topic(topics.BOOK + "stale.", segment, security_id),
                             BookStale(segment, security_id, age_ns, now, now))
