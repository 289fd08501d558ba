"""An operator's feed subscriptions (``shikra subscribe | unsubscribe``): the rules, the file the
feed keeps them in across restarts, the feed actor applying them to a (not connected) live Dhan
source, and the freshness report behind the staleness gauge."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.base import ActorConfigError
from actors.feed import operator
from actors.feed.actor import FeedActor
from actors.feed.dhan import DhanSource
from actors.feed.operator import SUBSCRIPTIONS_FILE, load_subscriptions
from engine.ledger import Ledger, LedgerConfig, ledger_dir
from engine.logs import get_logger
from ipc.messages import (ChangeFeedSubscriptions, FeedFreshness, FeedSubscriptionsChanged, Fill, Reply,
                          SubscribeInstruments, Tick)
from tests.unit.actors.feed.test_dhan import CREDS, dhan_config

CONFIGURED = (1, 2885)   # NSE_EQ:2885, in the config's feed.dhan.instruments
OPTION = (2, 4242)       # NSE_FNO:4242
OTHER = (2, 4343)


class Ctx:
    name = "feed"

    def __init__(self, data_dir: Path, source: str = "dhan") -> None:
        self.data_dir = data_dir
        self.config = SimpleNamespace(feed=SimpleNamespace(source=source))
        self.log = get_logger("feed")
        self.now = 1_000 * 10**9
        self.sender = "control"
        self.replies: list[Reply] = []
        self.published: list[tuple[bytes, Any]] = []

    def now_ns(self) -> int:
        return self.now

    def reply(self, sender: str, msg: Reply) -> None:
        self.replies.append(msg)

    def publish(self, topic: bytes, msg: Any) -> None:
        self.published.append((topic, msg))


def feed(data_dir: Path) -> FeedActor:
    """A feed actor with a live Dhan source (not connected) configured for NSE_EQ:2885, as after
    its on_start."""
    actor = FeedActor(Ctx(data_dir))  # type: ignore[arg-type]
    actor.source = DhanSource(dhan_config("ws://127.0.0.1:9", ["NSE_EQ:2885"]), None, credentials=CREDS)
    actor.started_ns = actor.ctx.now_ns()
    actor._take_operator_subscriptions()
    return actor


def change(actor: FeedActor, subscribe: bool, *keys: tuple[int, int]) -> Reply:
    actor.on_change_feed_subscriptions(ChangeFeedSubscriptions("c1", subscribe, [k[0] for k in keys],
                                                               [k[1] for k in keys], "control:tina", 5))
    return actor.ctx.replies.pop()  # type: ignore[attr-defined]


def test_subscriptions_are_streamed_kept_in_the_file_and_streamed_again_after_a_restart(tmp_path: Path) -> None:
    actor = feed(tmp_path)
    reply = change(actor, True, OPTION, CONFIGURED, OPTION)
    assert reply.ok
    done = msgspec.json.decode(reply.detail, type=FeedSubscriptionsChanged)
    assert done == FeedSubscriptionsChanged(["NSE_FNO:4242"], ["NSE_FNO:4242"])  # the configured one stays the config's
    assert actor.source.subscribed_keys() == [CONFIGURED, OPTION]
    assert [(s.segment, s.security_id, s.by) for s in load_subscriptions(tmp_path)] == [(2, 4242, "control:tina")]
    restarted = feed(tmp_path)
    assert restarted.source.subscribed_keys() == [CONFIGURED, OPTION]
    assert change(restarted, False, OPTION).ok
    assert restarted.source.subscribed_keys() == [CONFIGURED] and load_subscriptions(tmp_path) == []
    assert feed(tmp_path).source.subscribed_keys() == [CONFIGURED]


def test_unsubscribe_refuses_what_the_config_a_strategy_or_a_position_needs_and_changes_nothing(tmp_path: Path) -> None:
    with Ledger.open(ledger_dir(tmp_path), LedgerConfig()) as ledger:
        assert ledger.append([Fill("F1", "C1", "V1", "s1", OTHER[0], OTHER[1], "BUY", 75, 100, 0, 1, 1)])[0]
    actor = feed(tmp_path)
    assert change(actor, True, OPTION, OTHER).ok
    actor.on_subscribe_instruments(SubscribeInstruments("strategy", [OPTION[0]], [OPTION[1]]))
    refused = change(actor, False, CONFIGURED)
    assert (refused.ok, refused.code) == (False, "NOT_SUBSCRIBED") and "config" in refused.detail
    refused = change(actor, False, OTHER, OPTION)
    assert (refused.code, refused.detail.split(" ")[0]) == ("HELD", "NSE_FNO:4343")
    refused = change(actor, False, OPTION)
    assert refused.code == "NEEDED_BY_STRATEGY" and "NSE_FNO:4242" in refused.detail
    assert actor.source.subscribed_keys() == [CONFIGURED, OPTION, OTHER]
    assert [(s.segment, s.security_id) for s in load_subscriptions(tmp_path)] == [OPTION, OTHER]


def test_a_feed_without_subscriptions_refuses_them(tmp_path: Path) -> None:
    actor = FeedActor(Ctx(tmp_path, "synthetic"))  # type: ignore[arg-type]
    actor.source = SimpleNamespace(feed="market")
    reply = change(actor, True, OPTION)
    assert (reply.ok, reply.code) == (False, "NOT_LIVE") and not (tmp_path / SUBSCRIPTIONS_FILE).exists()


def test_a_damaged_subscriptions_file_stops_the_feed_naming_it(tmp_path: Path) -> None:
    (tmp_path / SUBSCRIPTIONS_FILE).write_text("[{")
    with pytest.raises(ActorConfigError, match=SUBSCRIPTIONS_FILE):
        feed(tmp_path)


def test_freshness_names_the_subscribed_and_held_instruments_with_their_last_data(tmp_path: Path) -> None:
    with Ledger.open(ledger_dir(tmp_path), LedgerConfig()) as ledger:
        assert ledger.append([Fill("F1", "C1", "V1", "s1", OTHER[0], OTHER[1], "BUY", 75, 100, 0, 1, 1)])[0]
    actor = feed(tmp_path)
    actor._publish([Tick(1, 2885, 150_000, 990 * 10**9, 995 * 10**9),
                    Tick(1, 7777, 150_000, 990 * 10**9, 996 * 10**9)])  # not subscribed: left out
    actor._publish_freshness()
    topic, report = actor.ctx.published[-1]  # type: ignore[attr-defined]
    assert topic == b"feed.freshness" and isinstance(report, FeedFreshness)
    assert list(zip(report.segments, report.security_ids, report.last_data_ns)) == [(1, 2885, 995 * 10**9),
                                                                                    (2, 4343, 0)]
    assert report.since_ns == 1_000 * 10**9


keys = st.tuples(st.integers(1, 2), st.integers(1, 6))


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.booleans(), st.lists(keys, min_size=1, max_size=4)), max_size=12),
       configured=st.sets(keys, max_size=3), strategies=st.sets(keys, max_size=3), held=st.sets(keys, max_size=3))
def test_subscriptions_stay_unique_never_take_a_configured_one_and_a_refusal_changes_nothing(
        steps: list[tuple[bool, list[tuple[int, int]]]], configured: set[tuple[int, int]],
        strategies: set[tuple[int, int]], held: set[tuple[int, int]]) -> None:
    current: list[operator.OperatorSubscription] = []
    for add, asked in steps:
        if add:
            done = operator.subscribe(current, asked, configured, "op", 1)
        else:
            done = operator.unsubscribe(current, asked, configured, strategies, held)
        now = [(s.segment, s.security_id) for s in done.subscriptions]
        assert len(now) == len(set(now)) and not set(now) & configured
        if done.code:
            assert done.subscriptions == current and done.changed == []
        elif not add:
            assert not set(asked) & (strategies | held) and not set(asked) & set(now)
        current = done.subscriptions
