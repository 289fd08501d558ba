"""Dedupe and rate limits of alerts, on plain numbers (the actor's clock)."""

from __future__ import annotations

from actors.notify.alerts import Alert, AlertKind
from actors.notify.gate import AlertGate

S = 1_000_000_000


def alert(body: str = "feed stalled", subject: str = "dhan", kind: AlertKind = AlertKind.FEED_STALLED) -> Alert:
    return Alert(kind=kind, severity="warning", subject=subject, title="t", body=body, ts_ns=0)


def test_the_same_alert_within_the_dedupe_window_goes_out_once():
    gate = AlertGate(dedupe_window_ns=60 * S, rate_limit_count=100, rate_limit_window_ns=3600 * S)
    assert gate.admit(alert(), 0) is not None
    assert gate.admit(alert(), 59 * S) is None
    assert gate.deduped == 1
    assert gate.admit(alert(), 60 * S) is not None  # the window has passed


def test_a_different_text_is_not_a_duplicate():
    gate = AlertGate(dedupe_window_ns=60 * S, rate_limit_count=100, rate_limit_window_ns=3600 * S)
    assert gate.admit(alert("29 days left"), 0) is not None
    assert gate.admit(alert("28 days left"), 1 * S) is not None


def test_rate_limit_per_kind_and_subject_holds_back_the_rest_and_counts_them():
    gate = AlertGate(dedupe_window_ns=0, rate_limit_count=2, rate_limit_window_ns=600 * S)
    assert gate.admit(alert("1"), 0) is not None
    assert gate.admit(alert("2"), 1 * S) is not None
    assert gate.admit(alert("3"), 2 * S) is None
    assert gate.admit(alert("4"), 3 * S) is None
    # another subject has its own budget
    assert gate.admit(alert("x", subject="replay"), 4 * S) is not None
    # once the first leaves the window, the next goes out and says how many were held back
    assert gate.admit(alert("5"), 599 * S) is None
    out = gate.admit(alert("6"), 600 * S)
    assert out is not None and "3 more like this were held back" in out.body
    assert gate.rate_limited == 3


def test_a_deduped_alert_does_not_spend_the_rate_budget():
    gate = AlertGate(dedupe_window_ns=3600 * S, rate_limit_count=1, rate_limit_window_ns=3600 * S)
    assert gate.admit(alert("same"), 0) is not None
    assert gate.admit(alert("same"), 1 * S) is None
    assert gate.rate_limited == 0
