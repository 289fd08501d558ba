"""The decoder a feed kind needs (the capture header's kind, a live source's ``feed``): Dhan's for
its three feeds, Kite's for the ticker. The one place that choice is made."""

from __future__ import annotations

from actors.feed.decode import FrameDecoder
from actors.feed.kite_decode import KiteFrameDecoder
from actors.feed.wire import FeedKind
from engine.model.instruments import InstrumentTable, kite_tokens, tick_sizes

AnyDecoder = FrameDecoder | KiteFrameDecoder


def make_decoder(feed: FeedKind, table: InstrumentTable | None, *, ltt_epoch_is_ist: bool = False) -> AnyDecoder:
    """A decoder for ``feed`` with the table's ticks (and, for Kite, its instrument tokens); no
    table: 1-paisa ticks and, for Kite, no known token."""
    ticks = tick_sizes(table) if table is not None else {}
    if feed == "kite":
        return KiteFrameDecoder(kite_tokens(table) if table is not None else {}, ticks)
    return FrameDecoder(ticks, ltt_epoch_is_ist=ltt_epoch_is_ist)


def retable(decoder: AnyDecoder, table: InstrumentTable) -> None:
    """A new instrument master: its ticks (and tokens) from now on."""
    decoder.set_tick_sizes(tick_sizes(table))
    if isinstance(decoder, KiteFrameDecoder):
        decoder.set_tokens(kite_tokens(table))
