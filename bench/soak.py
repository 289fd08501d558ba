"""Soak of the real daemon: ``python -m bench soak [--minutes 30] [--hours 8] [--json FILE]``.

``shikra run`` (paper venue, the default actors in their own processes) on the synthetic market with
500 instruments (NIFTY, its 62 nearest-expiry options and 437 stocks, from a master generated in the
temp dir) at 2,000 packets/s, with several strategies trading all along: probes on four stocks (a
market order every other tick, sides alternating) and EMA crosses on 1 s bars on two more. Every
``--sample-s`` it reads the RSS and PSS of each process of the daemon's group
(``bench.procmem.group_memory``) and the supervisor's status file (restarts, messages, kill switch);
all along it reads the timestamps every order carries on its OrderEvents (as ``bench.latency``
does: ts_init on SUBMITTED, ts_sent on the first venue event) for tick-to-trade latency.

Goals (issue 20, goal 5), after a warm-up:

* RSS growth < 5 %, per process and in total: the mean RSS over the last window against the mean
  over the first window after the warm-up (a mean over a window, so that the sawtooth of the
  synthetic market's blocks and of the garbage collector does not decide; a leak lifts the whole
  last window);
* the p99 tick-to-trade latency of the last window within 20 % of the first window's;
* no unit restarted, no error logged, the kill switch never engaged, and ``shikra ledger verify``
  whole at the end.

Beside RSS it reports each process's anonymous memory (heap and stacks): the ledger is read through
mmap, so the RSS of every process that reads it (risk re-reads positions and open orders every
second, control answers from it, execution writes it) follows the file pages it has touched in a
ledger that grows with every order. Those pages are the kernel's to drop; a leak shows in the
anonymous figure.

The warm-up and the windows are 5 minutes each for a soak of 30 minutes or more; a shorter soak
scales both by its length over 30 minutes (``--minutes 3``: 30 s warm-up, 30 s windows), so a short
run checks the same shape of the curve. Results: ``bench/results/soak.json`` (or ``--json``) and a
text summary beside it (same name, ``.md``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np
import zmq

from bench.latency import machine
from bench.procmem import ProcessMemory, group_memory
from engine.model.ist import today_ist
from engine.status_file import read_status
from ipc import codec, topics
from ipc.messages import DaemonStatus, Fill, OrderEvent
from ipc.transport import Endpoints

RESULTS = Path(__file__).parent / "results"
INSTRUMENTS = 500
RATE_PER_S = 2_000
UNDERLYING = "NIFTY"
OPTION_STRIKES_EACH_SIDE = 15  # 31 strikes x CE/PE of the nearest expiry: 62 options
FULL_LENGTH_S = 30 * 60  # a soak this long or longer has the full warm-up and windows
WARMUP_S = 5 * 60
WINDOW_S = 5 * 60
RSS_GROWTH_MAX_PCT = 5.0
P99_DRIFT_MAX_PCT = 20.0
PROBE_STOCKS = ("RELIANCE", "HDFCBANK", "TCS", "INFY")
EMA_STOCKS = ("SBIN", "SOAK0001")
SOAK_STOCK_BASE_ID = 20_000  # NSE_EQ security ids of the generated stocks (the sample's are below 12,000)
TOTAL = "total"


# ---------------------------------------------------------------------------------------------
# Analysis (pure: tested with fabricated samples in tests/unit/bench/test_soak.py)
# ---------------------------------------------------------------------------------------------


class Windows(msgspec.Struct, frozen=True):
    """Seconds from the start of the soak: the warm-up ends at ``warmup_s``; the first window
    is ``[warmup_s, warmup_s + window_s)``, the last ``[duration_s - window_s, duration_s]``."""

    duration_s: float
    warmup_s: float
    window_s: float

    @property
    def first(self) -> tuple[float, float]:
        return self.warmup_s, self.warmup_s + self.window_s

    @property
    def last(self) -> tuple[float, float]:
        return self.duration_s - self.window_s, self.duration_s


def scaled_windows(duration_s: float) -> Windows:
    """5-minute warm-up and windows from 30 minutes up; shorter soaks scale both by
    ``duration_s / 30 min``. Raises ValueError for a duration that is not positive."""
    if duration_s <= 0:
        raise ValueError(f"soak duration must be > 0 s, got {duration_s}")
    scale = min(1.0, duration_s / FULL_LENGTH_S)
    return Windows(duration_s, WARMUP_S * scale, WINDOW_S * scale)


class Sample(msgspec.Struct, frozen=True):
    t_s: float  # seconds since the soak started
    processes: list[ProcessMemory]
    cpu_s: dict[str, float] = {}  # CPU time (user + system) each process name has used so far
    # Anonymous memory (heap, stacks) per process name: RSS without the file pages a process maps,
    # above all the ledger's (LMDB is read through mmap, so every reader's RSS follows the pages it
    # touches in a ledger that grows with every order; the kernel can drop those at any time).
    anon_bytes: dict[str, int] = {}

    def values(self, field: str) -> dict[str, int]:
        """``field`` (``rss_bytes``, ``pss_bytes`` or ``anon_bytes``) per process name."""
        if field == "anon_bytes":
            return dict(self.anon_bytes)
        out: dict[str, int] = {}
        for p in self.processes:
            out[p.name] = out.get(p.name, 0) + getattr(p, field)
        return out


def cpu_percent(samples: Sequence[Sample], windows: Windows) -> dict[str, float]:
    """CPU per process name (and ``"total"``) from the end of the warm-up to the last sample, in
    percent of one core; empty without two samples in that span."""
    after = [s for s in samples if s.t_s >= windows.warmup_s]
    if len(after) < 2 or after[-1].t_s <= after[0].t_s:
        return {}
    a, b = after[0], after[-1]
    span_s = b.t_s - a.t_s
    out = {name: (b.cpu_s[name] - a.cpu_s[name]) / span_s * 100 for name in a.cpu_s.keys() & b.cpu_s.keys()}
    out[TOTAL] = sum(out.values())
    return dict(sorted(out.items()))


class Growth(msgspec.Struct, frozen=True):
    """Mean bytes over the first and the last window; growth in percent of the first."""

    first_bytes: int
    last_bytes: int
    growth_pct: float


def _in(t_s: float, window: tuple[float, float], closed: bool) -> bool:
    lo, hi = window
    return lo <= t_s < hi or (closed and t_s == hi)


def memory_growth(samples: Sequence[Sample], windows: Windows, field: str = "rss_bytes") -> dict[str, Growth]:
    """Growth of ``field`` (see :meth:`Sample.values`) per process name, and of the sum over
    the group under ``"total"``, from the first window to the last. A name missing from either
    window (a process that came or went) has no entry; a window without samples leaves the result
    empty."""
    first: dict[str, list[int]] = {}
    last: dict[str, list[int]] = {}
    for s in samples:
        values = s.values(field)
        values[TOTAL] = sum(values.values())
        for window, into, closed in ((windows.first, first, False), (windows.last, last, True)):
            if _in(s.t_s, window, closed):
                for name, v in values.items():
                    into.setdefault(name, []).append(v)
    out: dict[str, Growth] = {}
    for name in first.keys() & last.keys():
        a, b = float(np.mean(first[name])), float(np.mean(last[name]))
        out[name] = Growth(round(a), round(b), (b - a) / a * 100 if a else 0.0)
    return dict(sorted(out.items()))


def p99_us(values_ns: np.ndarray) -> float:
    """The 99th percentile in microseconds (the value at or above 99 % of the samples)."""
    return float(np.percentile(values_ns, 99, method="higher")) / 1000


class WindowLatency(msgspec.Struct, frozen=True):
    first_p99_us: float
    last_p99_us: float
    first_count: int
    last_count: int
    drift_pct: float  # last against first; within P99_DRIFT_MAX_PCT either way meets the goal


def window_latency(t_s: np.ndarray, latency_ns: np.ndarray, windows: Windows) -> WindowLatency | None:
    """p99 of the latencies whose orders were sent (``t_s``, seconds since the start) in the
    first and in the last window; None when either window holds no order."""
    lo, hi = windows.first
    in_first = (t_s >= lo) & (t_s < hi)
    lo, hi = windows.last
    in_last = (t_s >= lo) & (t_s <= hi)
    if not in_first.any() or not in_last.any():
        return None
    a, b = p99_us(latency_ns[in_first]), p99_us(latency_ns[in_last])
    return WindowLatency(a, b, int(in_first.sum()), int(in_last.sum()), (b - a) / a * 100)


def goals(rss: dict[str, Growth], latency: WindowLatency | None, restarts: int, kill_switch: bool,
          ledger_ok: bool, errors_logged: int) -> dict[str, bool]:
    """Each goal of the soak: met or not."""
    return {
        "no_error_logged": errors_logged == 0,
        "rss_growth_below_5_pct": bool(rss) and all(g.growth_pct < RSS_GROWTH_MAX_PCT for g in rss.values()),
        "p99_last_within_20_pct_of_first": latency is not None and abs(latency.drift_pct) <= P99_DRIFT_MAX_PCT,
        "no_restarts": restarts == 0,
        "kill_switch_never_engaged": not kill_switch,
        "ledger_verified": ledger_ok,
    }


# ---------------------------------------------------------------------------------------------
# The daemon under soak
# ---------------------------------------------------------------------------------------------


def soak_stocks(count: int) -> list[tuple[int, str, str, str]]:
    """``count`` generated NSE_EQ stocks (security id, symbol, display name, ISIN) for the master."""
    return [(SOAK_STOCK_BASE_ID + i, f"SOAK{i:04d}", f"Soak Stock {i}", "NA") for i in range(1, count + 1)]


def write_master(path: Path, today: dt.date, stocks: int) -> Path:
    """The sample master of ``today`` plus ``stocks`` generated stocks, as a Dhan CSV at ``path``."""
    from engine.model.sample_master import sample_master_text, stock_rows

    path.write_text(sample_master_text(today) + "\n".join(stock_rows(soak_stocks(stocks))) + "\n")
    return path


def soak_market(root: Path, data_dir: Path, today: dt.date, instruments: int) -> tuple[Path, list[str]]:
    """A master in ``root`` and the stocks to list so that the synthetic market carries exactly
    ``instruments`` instruments: NIFTY and its nearest-expiry options, then the master's NSE_EQ
    stocks (the sample's, then generated ones) up to the count. Raises RuntimeError when the
    count cannot be met."""
    from actors.feed.config import SyntheticFeedConfig
    from actors.feed.sources import synthetic_instruments
    from engine.model.lookup import open_instruments
    from ipc.segments import Segment

    master = write_master(root / "soak_master.csv", today, instruments)
    table = open_instruments(str(master), data_dir, today)
    cfg = SyntheticFeedConfig(underlyings=[UNDERLYING], option_strikes_each_side=OPTION_STRIKES_EACH_SIDE,
                              stocks=[])
    chain = len(synthetic_instruments(table, cfg, today))
    stocks = [i.symbol for i in table if i.segment == Segment.NSE_EQ][:instruments - chain]
    size = len(synthetic_instruments(table, msgspec.structs.replace(cfg, stocks=stocks), today))
    if size != instruments or not set(PROBE_STOCKS + EMA_STOCKS) <= set(stocks):
        raise RuntimeError(f"the soak market has {size} instruments, not {instruments}, or lacks a "
                           f"strategy's stock: check the master at {master}")
    return master, stocks


def daemon_config(master: Path, stocks: list[str], rate: int) -> str:
    names = ", ".join(f'"{s}"' for s in stocks)
    probes = "".join(f"""
[[strategy.instances]]
name = "probe_{s.lower()}"
kind = "probe"
instrument = "{s}"
params = {{ every_n_ticks = 2 }}
""" for s in PROBE_STOCKS)
    emas = "".join(f"""
[[strategy.instances]]
name = "ema_{s.lower()}"
kind = "ema_cross"
instrument = "{s}"
params = {{ fast = 3, slow = 8, timeframe_s = 1, qty_lots = 1 }}
""" for s in EMA_STOCKS)
    return f"""
[engine]
actors = ["feed", "book", "strategy", "risk", "execution", "control"]
topology = "isolated"
ready_timeout_s = 180.0
[log]
format = "json"
level = "warning"
[feed.synthetic]
rate_per_s = {rate}
underlyings = ["{UNDERLYING}"]
option_strikes_each_side = {OPTION_STRIKES_EACH_SIDE}
stocks = [{names}]
[instruments]
master = "{master}"
[execution]
starting_cash_paise = 1000000000000
[risk.limits]
max_orders_per_second = 100000
max_orders_per_day = 1000000000
max_trades_per_day = 1000000000
daily_max_loss_paise = 1000000000000
[control]
listen = "127.0.0.1:0"
[schedule]
enabled = false
{probes}{emas}"""


_CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(processes: Sequence[ProcessMemory]) -> dict[str, float]:
    """CPU time (user + system, seconds) each of ``processes`` has used, by name; a process gone
    meanwhile is left out."""
    out: dict[str, float] = {}
    for p in processes:
        try:
            stat = Path(f"/proc/{p.pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # from the state on: utime and stime are 12th and 13th
        out[p.name] = out.get(p.name, 0.0) + (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS_PER_S
    return out


def anonymous_bytes(processes: Sequence[ProcessMemory]) -> dict[str, int]:
    """Anonymous memory (``Anonymous:`` of smaps_rollup) of each of ``processes``, by name; a
    process gone meanwhile is left out."""
    out: dict[str, int] = {}
    for p in processes:
        try:
            rollup = Path(f"/proc/{p.pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Anonymous:"):
                out[p.name] = out.get(p.name, 0) + int(line.split()[1]) * 1024  # kB
    return out


def log_problems(log_text: str) -> dict[str, dict[str, int]]:
    """Lines of the daemon's JSON log at warning and above: ``{level: {"logger event": count}}``."""
    out: dict[str, dict[str, int]] = {}
    for line in log_text.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            rec = {"level": "error", "logger": "stdout", "event": line[:80]}  # a traceback or a print
        if not isinstance(rec, dict) or rec.get("level") not in ("warning", "error", "critical"):
            continue
        key = f"{rec.get('logger', '?')} {rec.get('event', '?')}"
        per = out.setdefault(rec["level"], {})
        per[key] = per.get(key, 0) + 1
    return out


class _Orders:
    """Order events from execution's publisher: counts and each order's tick-to-trade latency."""

    def __init__(self, endpoint: str, start_wall_ns: int) -> None:
        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        for prefix in (topics.ORDER, topics.FILL):
            self.sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        self.start_wall_ns = start_wall_ns
        self.pending: dict[str, int] = {}  # client order id -> ts_init of its SUBMITTED event
        self.sent_s = array("d")  # when each order reached the venue, seconds since the start
        self.latency_ns = array("q")  # its ts_sent - ts_init
        self.orders = 0
        self.fills = 0

    def read(self, until_monotonic: float) -> None:
        """Everything that arrives until ``until_monotonic``."""
        while (left_ms := (until_monotonic - time.monotonic()) * 1000) > 0:
            if not self.sock.poll(max(1, int(left_ms))):
                continue
            while True:
                try:
                    _topic, payload = self.sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._on(codec.decode(payload))

    def _on(self, msg: object) -> None:
        if isinstance(msg, Fill):
            self.fills += 1
        elif isinstance(msg, OrderEvent):
            if not msg.ts_sent_ns:
                if msg.client_order_id not in self.pending:
                    self.orders += 1
                self.pending[msg.client_order_id] = msg.ts_init_ns  # written ahead, not yet at the venue
            elif (ts_init := self.pending.pop(msg.client_order_id, None)) is not None:
                self.sent_s.append((msg.ts_sent_ns - self.start_wall_ns) / 1e9)
                self.latency_ns.append(msg.ts_sent_ns - ts_init)

    def forget_older_than(self, wall_ns: int) -> None:
        """Drop orders that never reached the venue (denied) so the table stays bounded."""
        self.pending = {k: v for k, v in self.pending.items() if v >= wall_ns}

    def close(self) -> None:
        self.sock.close()


def _ledger_verify(config: Path, data_dir: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "engine.cli", "ledger", "verify", "--config", str(config),
                          "--data-dir", str(data_dir), "--json"], capture_output=True, text=True, timeout=3600)
    try:
        check = json.loads(out.stdout)
    except json.JSONDecodeError:
        check = {"outcome": f"no report (exit {out.returncode}): {out.stderr.strip()[-500:]}"}
    check["exit_code"] = out.returncode
    return check


def run_soak(duration_s: float, sample_s: float, rate: int, keep: bool = False) -> dict:
    """Run the soak; the figures as a JSON-ready dict. The daemon runs in its own process group
    in a temp dir, and is stopped (then its group killed) whatever happens; the temp dir goes too
    unless ``keep``."""
    root = Path(tempfile.mkdtemp(prefix="sksoak-", dir="/tmp"))  # unix socket paths must stay short
    try:
        return _soak_in(root, scaled_windows(duration_s), sample_s, rate) | ({"kept_dir": str(root)} if keep else {})
    finally:
        if keep:
            print(f"soak files kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def _soak_in(root: Path, windows: Windows, sample_s: float, rate: int) -> dict:
    data_dir = root / "data"
    run_dir = data_dir / "run"
    master, stocks = soak_market(root, data_dir, today_ist(), INSTRUMENTS)  # expiries: IST dates
    config = root / "shikra.toml"
    config.write_text(daemon_config(master, stocks, rate))
    log_path = root / "daemon.log"
    memory: list[Sample] = []
    timeline: list[dict] = []
    restarts, kill = 0, False
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", "--config", str(config),
                                 "--data-dir", str(data_dir)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        orders: _Orders | None = None
        try:
            _wait_running(proc, run_dir, log_path)
            names = ("feed", "book", "strategy", "risk", "execution", "control", "supervisor")
            start_wall_ns, start = time.time_ns(), time.monotonic()
            orders = _Orders(Endpoints(run_dir, names=names).pub("execution"), start_wall_ns)
            for k in range(int(windows.duration_s // sample_s) + 1):
                orders.read(start + k * sample_s)
                if proc.poll() is not None:
                    raise RuntimeError(f"daemon exited during the soak: {_tail(log_path)}")
                procs = group_memory(proc.pid)
                memory.append(Sample(time.monotonic() - start, procs, cpu_seconds(procs), anonymous_bytes(procs)))
                st = read_status(run_dir)
                if st is not None:
                    restarts = max(restarts, sum(a.restarts for a in st.actors))
                    kill = kill or st.kill_switch.engaged
                orders.forget_older_than(time.time_ns() - 60 * 1_000_000_000)
                timeline.append(_timeline_row(memory[-1], st, orders))
                print(_progress(timeline[-1], windows.duration_s), file=sys.stderr)
        finally:
            if orders is not None:
                orders.close()
            stop_code = _stop(proc)
    assert orders is not None
    ledger = _ledger_verify(config, data_dir)
    problems = log_problems(log_path.read_text(errors="replace"))
    result = _figures(windows, sample_s, rate, memory, timeline, restarts, kill, orders, ledger, problems)
    result["daemon_exit_code"] = stop_code
    if stop_code != 0 or not result["goals"]["no_error_logged"]:
        result["daemon_log_tail"] = _tail(log_path)
    return result


def _tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-2000:]


def _wait_running(proc: subprocess.Popen[bytes], run_dir: Path, log_path: Path, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while (st := read_status(run_dir)) is None or st.state != "running":
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited: {_tail(log_path)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"daemon not running after {timeout_s:g} s: {_tail(log_path)}")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM (the orderly stop), then SIGKILL to the whole group whatever happened."""
    code = None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    else:
        code = proc.returncode
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # any actor left behind
    except ProcessLookupError:
        pass
    proc.wait()
    return code


def _timeline_row(sample: Sample, st: DaemonStatus | None, orders: _Orders) -> dict:
    row: dict = {"t_s": round(sample.t_s, 1),
                 "rss_mb": round(sum(p.rss_bytes for p in sample.processes) / 2**20, 1),
                 "pss_mb": round(sum(p.pss_bytes for p in sample.processes) / 2**20, 1),
                 "rss_mb_by_process": {p.name: round(p.rss_bytes / 2**20, 1) for p in sample.processes},
                 "anon_mb_by_process": {name: round(b / 2**20, 1) for name, b in sample.anon_bytes.items()},
                 "orders": orders.orders, "fills": orders.fills, "latencies": len(orders.latency_ns)}
    if st is not None:
        by = {a.name: a for a in st.actors}
        row["feed_msgs_out"] = by["feed"].msgs_out if "feed" in by else 0
        row["book_msgs_in"] = by["book"].msgs_in if "book" in by else 0
        row["restarts"] = sum(a.restarts for a in st.actors)
    return row


def _progress(row: dict, duration_s: float) -> str:
    return (f"soak {row['t_s']:.0f}/{duration_s:.0f} s: RSS {row['rss_mb']} MB, PSS {row['pss_mb']} MB, "
            f"orders {row['orders']}, fills {row['fills']}, restarts {row.get('restarts', '?')}")


def _figures(windows: Windows, sample_s: float, rate: int, memory: list[Sample], timeline: list[dict],
             restarts: int, kill: bool, orders: _Orders, ledger: dict, problems: dict[str, dict[str, int]]) -> dict:
    rss = memory_growth(memory, windows, "rss_bytes")
    pss = memory_growth(memory, windows, "pss_bytes")
    anon = memory_growth(memory, windows, "anon_bytes")
    t_s = np.frombuffer(orders.sent_s, dtype=np.float64)
    lat = np.frombuffer(orders.latency_ns, dtype=np.int64)
    wl = window_latency(t_s, lat, windows)
    after = lat[t_s >= windows.warmup_s]
    first, last = (timeline[0], timeline[-1]) if timeline else ({}, {})
    span_s = (last.get("t_s", 0) - first.get("t_s", 0)) or 1
    feed_msgs = last.get("feed_msgs_out", 0) - first.get("feed_msgs_out", 0)
    errors = sum(sum(per.values()) for level, per in problems.items() if level != "warning")
    ok = goals(rss, wl, restarts, kill, ledger.get("outcome") == "ok" and ledger.get("exit_code") == 0, errors)
    return {
        "machine": machine(), "instruments": INSTRUMENTS, "rate_per_s": rate, "sample_s": sample_s,
        "windows": msgspec.to_builtins(windows),
        "strategies": {"probe (every 2nd tick)": list(PROBE_STOCKS), "ema_cross 3/8 on 1 s bars": list(EMA_STOCKS)},
        "goals": ok, "all_goals_met": all(ok.values()),
        "rss_growth": msgspec.to_builtins(rss), "pss_growth": msgspec.to_builtins(pss),
        "anon_growth": msgspec.to_builtins(anon),
        "latency_windows": msgspec.to_builtins(wl),
        "latency_after_warmup_us": _quantiles(after),
        "orders": orders.orders, "fills": orders.fills,
        "orders_timed": int(lat.size),
        "feed_messages": feed_msgs, "feed_messages_per_s": round(feed_msgs / span_s, 1),
        "book_messages_in": last.get("book_msgs_in", 0) - first.get("book_msgs_in", 0),
        "restarts": restarts, "kill_switch_engaged": kill,
        "ledger_verify": ledger, "log_problems": problems, "cpu_pct_after_warmup": cpu_percent(memory, windows),
        "last_sample_mb": {p.name: {"rss": round(p.rss_bytes / 2**20, 1), "pss": round(p.pss_bytes / 2**20, 1)}
                           for p in (memory[-1].processes if memory else [])},
        "timeline": timeline,
    }


def _quantiles(values_ns: np.ndarray) -> dict[str, float]:
    if not values_ns.size:
        return {}
    q = np.percentile(values_ns, [50, 99, 99.9], method="higher") / 1000
    return {"count": int(values_ns.size), "p50_us": float(q[0]), "p99_us": float(q[1]), "p99.9_us": float(q[2]),
            "max_us": float(values_ns.max()) / 1000}


def render(r: dict) -> str:
    m, w = r["machine"], r["windows"]
    lines = [f"Soak, {m['date']}, {m['cores']} cores, {m['cpu']}, Python {m['python']}",
             f"{w['duration_s'] / 60:g} min, {r['instruments']} instruments at {r['rate_per_s']} packets/s; "
             f"warm-up {w['warmup_s']:g} s, windows {w['window_s']:g} s; samples every {r['sample_s']:g} s",
             f"orders {r['orders']}, fills {r['fills']}, feed messages {r['feed_messages']} "
             f"({r['feed_messages_per_s']}/s), book messages in {r['book_messages_in']}, restarts {r['restarts']}, "
             f"kill switch {'ENGAGED' if r['kill_switch_engaged'] else 'never engaged'}, "
             f"ledger verify: {r['ledger_verify'].get('outcome')}", "",
             "| process | RSS first MB | RSS last MB | RSS growth | anonymous first MB | anonymous last MB "
             "| anonymous growth | PSS last MB | PSS growth | CPU % |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    cpu = r["cpu_pct_after_warmup"]
    for name, g in r["rss_growth"].items():
        a, p = r["anon_growth"].get(name), r["pss_growth"].get(name)
        rest = (f"{a['first_bytes'] / 2**20:.1f} | {a['last_bytes'] / 2**20:.1f} | {a['growth_pct']:+.2f} % | "
               if a else "- | - | - | ") + (f"{p['last_bytes'] / 2**20:.1f} | {p['growth_pct']:+.2f} %" if p else "- | -")
        core = f"{cpu[name]:.0f}" if name in cpu else "-"
        lines.append(f"| {name} | {g['first_bytes'] / 2**20:.1f} | {g['last_bytes'] / 2**20:.1f} | "
                     f"{g['growth_pct']:+.2f} % | {rest} | {core} |")
    lines.append("")
    wl, q = r["latency_windows"], r["latency_after_warmup_us"]
    if wl:
        lines.append(f"tick-to-trade p99: first window {wl['first_p99_us']:.1f} µs ({wl['first_count']} orders), "
                     f"last window {wl['last_p99_us']:.1f} µs ({wl['last_count']} orders): {wl['drift_pct']:+.1f} %")
    if q:
        lines.append(f"after warm-up: p50 {q['p50_us']:.1f} µs, p99 {q['p99_us']:.1f} µs, "
                     f"p99.9 {q['p99.9_us']:.1f} µs, max {q['max_us']:.1f} µs ({q['count']} orders)")
    lines.append("")
    lines += [f"- {goal}: {'met' if met else 'NOT MET'}" for goal, met in r["goals"].items()]
    for level, per in r["log_problems"].items():
        lines.append(f"- logged at {level}: " + ", ".join(f"{k} x{n}" for k, n in sorted(per.items())))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench soak", description=__doc__.split("\n\n")[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, default=30.0, help="soak length (default 30)")
    length.add_argument("--hours", type=float, help="soak length in hours (8: the long soak)")
    parser.add_argument("--sample-s", type=float, default=0.0,
                        help="seconds between samples (default: 10, or the length / 60 for a soak under 10 min)")
    parser.add_argument("--rate", type=int, default=RATE_PER_S, help="synthetic packets per second")
    parser.add_argument("--json", type=Path, default=RESULTS / "soak.json",
                        help="where the figures go (the text summary beside it, .md)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (config, log, ledger)")
    args = parser.parse_args(argv)
    duration_s = (args.hours * 3600 if args.hours is not None else args.minutes * 60)
    if duration_s <= 0 or args.rate <= 0 or args.sample_s < 0:
        parser.error("the length and --rate must be > 0, --sample-s >= 0")
    sample_s = args.sample_s or min(10.0, duration_s / 60)
    result = run_soak(duration_s, sample_s, args.rate, args.keep)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    text = render(result)
    args.json.with_suffix(".md").write_text(text)
    print(text)
    return 0 if result["all_goals_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
