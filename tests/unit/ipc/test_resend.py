"""ipc.resend: a command is sent again until its peer acknowledges it, then forgotten; a peer that
never answers is given up on after max_resends. Time is passed in: no clock, no sleeps."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ipc.resend import Unacked

MS = 1_000_000
S = 1000 * MS


class Peer:
    """Acknowledges what it receives after ``ack_delay_ns`` (None: never); the sender's timer
    runs every ``tick_ns`` like the actors' (resend_after / 2)."""

    def __init__(self, ack_delay_ns: int | None) -> None:
        self.ack_delay_ns = ack_delay_ns
        self.received: list[tuple[int, str]] = []

    def acks_due(self, now_ns: int) -> list[str]:
        if self.ack_delay_ns is None:
            return []
        return [key for t, key in self.received if t + self.ack_delay_ns <= now_ns]


def run(peer: Peer, unacked: Unacked[str], until_ns: int, tick_ns: int = S // 2) -> list[tuple[int, str]]:
    """Send "a" at 0, then tick: deliver acks that are due, resend what is due. Returns what the
    sender gave up on, with when."""
    unacked.sent("a", "msg-a", 0)
    peer.received.append((0, "a"))
    gave_up: list[tuple[int, str]] = []
    for now in range(tick_ns, until_ns + 1, tick_ns):
        for key in peer.acks_due(now):
            unacked.ack(key)
        resend, abandoned = unacked.due(now)
        for key, _msg, _n in resend:
            peer.received.append((now, key))
        gave_up += [(now, key) for key, _msg, _n in abandoned]
    return gave_up


def test_a_prompt_ack_means_no_resend() -> None:
    peer, unacked = Peer(ack_delay_ns=10 * MS), Unacked[str](1.0, 30)
    assert run(peer, unacked, 10 * S) == []
    assert peer.received == [(0, "a")] and len(unacked) == 0


def test_a_late_ack_stops_the_resends_once_it_arrives() -> None:
    peer, unacked = Peer(ack_delay_ns=int(3.2 * S)), Unacked[str](1.0, 30)
    assert run(peer, unacked, 20 * S) == []
    # Not acknowledged for more than 1 s: sent again at 1.5 s and 3 s; the ack at 3.2 s ends it.
    assert peer.received == [(0, "a"), (int(1.5 * S), "a"), (3 * S, "a")]
    assert "a" not in unacked


def test_a_peer_that_never_acks_is_given_up_on_after_max_resends() -> None:
    peer, unacked = Peer(ack_delay_ns=None), Unacked[str](1.0, 3)
    gave_up = run(peer, unacked, 20 * S)
    assert [t for t, _ in peer.received] == [0, int(1.5 * S), 3 * S, int(4.5 * S)]
    assert gave_up == [(5 * S, "a")] and len(unacked) == 0


def test_due_counts_resends_and_restamps_the_send_time() -> None:
    unacked = Unacked[str](1.0, 30)
    unacked.sent("a", "msg-a", 0)
    assert unacked.due(S) == ([], [])  # exactly resend_after: not yet
    assert unacked.due(S + 1) == ([("a", "msg-a", 1)], [])
    assert unacked.due(2 * S) == ([], [])
    assert unacked.due(2 * S + 2) == ([("a", "msg-a", 2)], [])


def test_a_group_is_acknowledged_by_any_of_its_parts() -> None:
    unacked = Unacked[str](1.0, 30)
    unacked.sent("group:g1", "group", 0, parts=["leg1", "leg2"])
    unacked.sent("solo", "order", 0)
    assert unacked.ack("leg2") == "group"
    assert "group:g1" not in unacked and unacked.ack("leg1") is None
    assert unacked.ack("solo") == "order" and len(unacked) == 0


def test_sending_a_key_again_replaces_its_parts() -> None:
    unacked = Unacked[str](1.0, 30)
    unacked.sent("g", "first", 0, parts=["old-leg"])
    unacked.sent("g", "second", 5, parts=["new-leg"])
    assert unacked.ack("old-leg") is None and "g" in unacked
    assert unacked.ack("new-leg") == "second"


def test_drop_where_forgets_a_stopped_strategys_messages_and_their_parts() -> None:
    unacked = Unacked[tuple[str, str]](1.0, 30)
    unacked.sent("i1", ("s1", "x"), 0)
    unacked.sent("g1", ("s1", "g"), 0, parts=["l1"])
    unacked.sent("i2", ("s2", "y"), 0)
    assert unacked.drop_where(lambda m: m[0] == "s1") == [("s1", "x"), ("s1", "g")]
    assert len(unacked) == 1 and unacked.ack("l1") is None


@settings(max_examples=200, deadline=None)
@given(ack_delay_ms=st.one_of(st.none(), st.integers(0, 40_000)), max_resends=st.integers(0, 10))
def test_every_message_ends_acknowledged_or_given_up_and_never_sent_more_than_allowed(
        ack_delay_ms: int | None, max_resends: int) -> None:
    peer = Peer(None if ack_delay_ms is None else ack_delay_ms * MS)
    gave_up = run(peer, Unacked[str](1.0, max_resends), 60 * S)
    assert len(peer.received) <= 1 + max_resends
    if ack_delay_ms is None:
        assert len(gave_up) == 1 and len(peer.received) == 1 + max_resends
    elif gave_up:  # given up only while no copy's acknowledgement had arrived yet
        assert all(t + ack_delay_ms * MS > gave_up[0][0] for t, _ in peer.received)
    else:
        assert any(t + ack_delay_ms * MS <= 60 * S for t, _ in peer.received)


def test_without_max_resends_a_message_is_sent_until_acknowledged_however_long() -> None:
    peer, unacked = Peer(ack_delay_ns=None), Unacked[str](1.0, None)
    assert run(peer, unacked, 120 * S) == []
    assert len(peer.received) == 81 and "a" in unacked  # at 0 s, then every 1.5 s to 120 s: never given up
    assert list(unacked) == ["a"] and unacked.ack("a") == "msg-a"
