"""The soak benchmark's analysis on fabricated samples: windows, memory growth, window p99, CPU,
log problems and the goals (the soak itself runs only as ``python -m bench soak``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.procmem import ProcessMemory
from bench.soak import (
    Growth,
    Sample,
    Windows,
    cpu_percent,
    goals,
    log_problems,
    memory_growth,
    scaled_windows,
    window_latency,
)

MB = 2**20


def samples(rss_mb_of: dict[str, object], duration_s: float = 1800, every_s: float = 10) -> list[Sample]:
    """A sample every ``every_s`` seconds; ``rss_mb_of[name](t_s)`` is that process's RSS (PSS = half)."""
    out = []
    for k in range(int(duration_s // every_s) + 1):
        t = k * every_s
        procs = [ProcessMemory(pid, name, int(f(t) * MB), int(f(t) * MB) // 2)  # type: ignore[operator]
                 for pid, (name, f) in enumerate(rss_mb_of.items(), start=100) if f(t) is not None]  # type: ignore[operator]
        out.append(Sample(t, procs, {p.name: t / 10 for p in procs}))
    return out


def test_windows_are_five_minutes_from_thirty_minutes_up_and_scale_below():
    assert scaled_windows(1800) == Windows(1800, 300, 300)
    assert scaled_windows(8 * 3600) == Windows(8 * 3600, 300, 300)
    short = scaled_windows(180)
    assert (short.warmup_s, short.window_s) == (30, 30)
    assert short.first == (30, 60) and short.last == (150, 180)


def test_a_soak_of_no_length_is_refused():
    with pytest.raises(ValueError, match="duration"):
        scaled_windows(0)


def test_flat_memory_shows_no_growth_and_a_leak_shows_its_size():
    w = scaled_windows(1800)
    got = memory_growth(samples({"feed": lambda t: 100.0, "risk": lambda t: 100.0 + t / 60}), w)
    assert got["feed"] == Growth(100 * MB, 100 * MB, 0.0)
    # risk: samples at 300..590 s average t = 445 s; at 1500..1800 s, t = 1650 s
    first, last = 100 + 445 / 60, 100 + 1650 / 60
    assert got["risk"].growth_pct == pytest.approx((last - first) / first * 100, rel=1e-3)
    assert got["total"].first_bytes == got["feed"].first_bytes + got["risk"].first_bytes
    assert got["total"].growth_pct == pytest.approx((last - first) / (100 + first) * 100, rel=1e-3)


def test_the_warm_up_is_left_out_of_the_growth():
    # grows by half in the first minute, then flat: a start-up cost, not a leak
    got = memory_growth(samples({"strategy": lambda t: 200.0 if t >= 60 else 100.0 + t * 100 / 60}), scaled_windows(1800))
    assert got["strategy"].growth_pct == 0.0


def test_a_sawtooth_is_averaged_over_the_window_not_read_at_its_peak():
    # 80 MB of blocks made and freed every 40 s: the last sample falls on a peak
    got = memory_growth(samples({"feed": lambda t: 200.0 + (80.0 if t % 40 == 0 else 0.0)}), scaled_windows(1800))
    assert abs(got["feed"].growth_pct) < 1.0


def test_growth_of_pss_reads_the_pss_field():
    got = memory_growth(samples({"book": lambda t: 100.0 + t / 60}), scaled_windows(1800), "pss_bytes")
    assert got["book"].first_bytes == pytest.approx((100 + 445 / 60) * MB / 2, rel=1e-3)


def test_a_process_missing_from_a_window_has_no_growth_but_counts_in_the_total():
    got = memory_growth(samples({"feed": lambda t: 100.0, "extra": lambda t: 50.0 if t < 900 else None}),
                        scaled_windows(1800))
    assert "extra" not in got and got["total"].growth_pct == pytest.approx(-100 / 3, rel=1e-3)


def test_no_sample_in_a_window_gives_no_growth():
    assert memory_growth(samples({"feed": lambda t: 100.0}, duration_s=200), scaled_windows(1800)) == {}


def test_window_p99_compares_the_last_window_with_the_first():
    w = scaled_windows(1800)
    t_s = np.concatenate([np.linspace(300, 599, 1000), np.linspace(900, 1000, 500), np.linspace(1500, 1800, 1000)])
    base = np.tile(np.arange(100, dtype=np.int64) * 1_000, 10)  # 0..99 µs: p99 99 µs
    lat = np.concatenate([base, np.full(500, 10**9), base * 13 // 10])
    got = window_latency(t_s, lat, w)
    assert got is not None
    assert (got.first_p99_us, got.last_p99_us, got.first_count, got.last_count) == (99.0, 128.7, 1000, 1000)
    assert got.drift_pct == pytest.approx(30.0)
    assert not goals({"total": Growth(1, 1, 0.0)}, got, 0, False, True, 0)["p99_last_within_20_pct_of_first"]


def test_window_p99_needs_orders_in_both_windows():
    assert window_latency(np.array([310.0, 320.0]), np.array([1000, 2000]), scaled_windows(1800)) is None


def test_every_goal_must_hold_on_its_own():
    flat = {"feed": Growth(100, 102, 2.0), "total": Growth(200, 204, 2.0)}
    t_s = np.array([310.0, 1700.0])
    steady = window_latency(t_s, np.array([100_000, 110_000]), scaled_windows(1800))
    assert all(goals(flat, steady, 0, False, True, 0).values())
    leak = {"feed": Growth(100, 106, 6.0), "total": Growth(200, 206, 3.0)}
    assert not goals(leak, steady, 0, False, True, 0)["rss_growth_below_5_pct"]
    assert not goals({}, steady, 0, False, True, 0)["rss_growth_below_5_pct"]
    assert not goals(flat, None, 0, False, True, 0)["p99_last_within_20_pct_of_first"]
    assert not goals(flat, steady, 1, False, True, 0)["no_restarts"]
    assert not goals(flat, steady, 0, True, True, 0)["kill_switch_never_engaged"]
    assert not goals(flat, steady, 0, False, False, 0)["ledger_verified"]
    assert not goals(flat, steady, 0, False, True, 2)["no_error_logged"]


def test_cpu_is_measured_after_the_warm_up_in_percent_of_a_core():
    # samples() gives every process 0.1 s of CPU per second: 10 % of a core
    got = cpu_percent(samples({"feed": lambda t: 1.0, "book": lambda t: 1.0}), scaled_windows(1800))
    assert got == pytest.approx({"book": 10.0, "feed": 10.0, "total": 20.0})
    assert cpu_percent(samples({"feed": lambda t: 1.0}, duration_s=200), scaled_windows(1800)) == {}


def test_log_problems_counts_warnings_and_errors_by_logger_and_event():
    lines = [json.dumps({"level": "info", "logger": "shikra.feed", "event": "feed_started"}),
             json.dumps({"level": "error", "logger": "shikra.host.book", "event": "handler_failed"}),
             json.dumps({"level": "error", "logger": "shikra.host.book", "event": "handler_failed"}),
             json.dumps({"level": "warning", "logger": "shikra.risk", "event": "order_denied"}),
             "Traceback (most recent call last):"]
    assert log_problems("\n".join(lines)) == {
        "error": {"shikra.host.book handler_failed": 2, "stdout Traceback (most recent call last):": 1},
        "warning": {"shikra.risk order_denied": 1}}


def test_anonymous_growth_reads_the_anonymous_memory_not_the_rss():
    # RSS grows with the ledger's mapped pages; the heap stays flat: no leak
    w = scaled_windows(1800)
    got = [Sample(t, [ProcessMemory(7, "risk", (200 + t // 60) * MB, 100 * MB)], {}, {"risk": 110 * MB})
           for t in range(0, 1801, 10)]
    assert memory_growth(got, w)["risk"].growth_pct > 5
    assert memory_growth(got, w, "anon_bytes")["risk"] == Growth(110 * MB, 110 * MB, 0.0)
