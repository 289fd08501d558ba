"""Backtest: the engine's own feed, book, strategy, risk and execution code over a recording.

The actors run co-located in one :class:`actors.host.ActorHost` in this process (the in-process
bus; no supervisor, no sockets between them), with a temporary run directory, a fresh temporary
data directory for the ledger (unless one is given), the replay source at pace ``fast`` and the
paper venue. A probe actor, first on the bus, watches market data, orders and fills; each frame is
delivered in full (orders and fills included) before the next one is read; once the capture is
exhausted and nothing has moved for ``SETTLE_CHECKS`` checks, it stops the host.

Speed. The feed reads the capture in blocks and publishes each as a ``MarketBatch``; the bus takes
in bulk the frames on which no actor would act and sends the others one message at a time
(``actors.replay.delivery``). ``bulk=False`` sends every frame one message at a time: the
reference, which gives the same report. The ledger commits once per block of frames
(``Ledger.hold_commits``: durability is irrelevant here); ``block_commits=False`` commits every
append as the daemon does, and stores the same events and tables.

Clock. The actors run on a simulated clock (``engine.model.clock.SimClock``) that starts at the
capture's first recorded time and moves to each market message's exchange time (``ts_event_ns``,
from the packets; never back) before the message is delivered; timers due on the way fire first,
at their own times. So every rule judged by the clock is judged as on the day the capture was
recorded: exchange sessions and holidays, the entry cut-off, the square-off, DAY expiry at the
close, cooldowns, order-rate and per-day caps, order-group timeouts. ``time_rules=False`` (``shikra
backtest --no-time-rules``) turns them off as earlier versions did: the market is always open
(``risk.market_hours = "always"``: no session, cut-off, square-off or DAY expiry) and the
order-rate and per-day caps are lifted. The run ends once the capture is replayed and what was due
at its last moment has happened.

Determinism. Same capture, strategy, params and config give the same report, ids included: the
ledger's client order ids (a prefix drawn from the simulated start time), the paper venue's order
ids and the fill ids are the engine's own, as in the ledger; fills carry the simulated time they
happened at. ``trades.csv`` numbers the fills 1, 2, ... in ledger order. Wall time, rates and
memory live in the ``run`` object of report.json, the one part that differs between runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import gc
import hashlib
import json
import resource
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

from actors.base import Actor
from actors.book.actor import BookActor
from actors.execution.actor import ExecutionActor
from actors.feed.actor import FeedActor
from actors.feed.capture import CaptureError, CaptureReader, CaptureWriter, FrameBlock
from actors.host import ActorHost
from actors.replay.batch import MarketBatch
from actors.replay.kernels import trades_and_latest
from actors.risk.actor import RiskActor
from actors.strategy.actor import StrategyActor
from actors.strategy.api import BadParams, parse_params
from actors.strategy.registry import UnknownStrategy, resolve
from engine.backtest.charts import Chart, rupees_text, write_chart
from engine.backtest.ids import StructTape
from actors.feed.config import SyntheticFeedConfig
from actors.strategy.config import StrategyInstanceConfig
from engine.config import Config
from engine.ledger import format_rupees, write_trades_csv
from engine.model.clock import SimClock
from engine.model.ist import ist_date
from engine.model.journal import Journal, Trade, build_journal, ist_day_label
from engine.model.lookup import UnknownInstrument, open_instruments, resolve_instrument
from ipc import topics
from ipc.messages import Fill, OrderDenied, OrderEvent, Quote, Tick

PROBE: Final = "backtest"
ACTORS: Final = (PROBE, "feed", "book", "strategy", "risk", "execution")
UNLIMITED: Final = 10**12         # a cap nobody reaches (the rate caps lifted without time rules)
FRAMES_PER_COMMIT: Final = 1024  # frame by frame with block commits: a ledger commit every so many frames
SPILL_BYTES: Final = 1 << 20    # the fills tape goes to its file a MiB at a time (engine.backtest.ids)
DEFAULT_START_NS: Final = 1_795_148_100_000_000_000  # 2026-11-20 09:45 IST, for synthetic captures


class BacktestErrorCode(enum.Enum):
    UNKNOWN_STRATEGY = "UNKNOWN_STRATEGY"
    BAD_PARAMS = "BAD_PARAMS"
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    BAD_CAPTURE = "BAD_CAPTURE"
    ENGINE_FAILED = "ENGINE_FAILED"


class BacktestError(Exception):
    """A backtest that cannot run: ``code`` says why, the message names the input and the problem."""

    def __init__(self, code: BacktestErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class BacktestSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What to run: a strategy ``kind`` on ``instrument`` (symbol or SEG:ID) over ``capture``."""

    kind: str
    capture: str
    instrument: str = "RELIANCE"
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    time_rules: bool = True  # False: market always open, no cut-off/square-off/DAY expiry, rate caps lifted


class BacktestCounts(msgspec.Struct, frozen=True):
    frames: int         # raw capture frames replayed
    ticks: int          # Tick + Quote messages the engine processed
    orders: int         # orders execution created (client order ids the ledger handed out)
    denied: int         # intents risk denied
    rejected: int       # orders the venue rejected
    fills: int
    ledger_fills: int   # fills execution wrote to the ledger (equal to ``fills`` unless the bus lost one)


class BacktestRun(msgspec.Struct, frozen=True):
    """The part of a result that depends on the machine and the moment (never compared)."""

    wall_s: float            # the whole run: start-up, replay, settle, stop
    replay_s: float          # first to last market message
    ticks_per_s: float       # ticks / replay_s
    peak_rss_bytes: int      # of the process, read after the journal was built
    replay_cpu_s: float = 0.0  # CPU time of this process over the replay (other processes on the machine excluded)
    rows_in_bulk: int = 0      # frames whose messages no actor needed one by one (see actors.replay.delivery)


class BacktestResult(msgspec.Struct, frozen=True):
    spec: BacktestSpec
    strategy_name: str
    params: dict[str, Any]       # validated, with defaults filled in
    market_hours: str
    counts: BacktestCounts
    fills: Sequence[Fill]        # as execution published them, in ledger order (a StructTape)
    journal: Journal
    run: BacktestRun


# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------

def strategy_name(kind: str) -> str:
    return f"bt_{kind}"


def check_spec(spec: BacktestSpec, base: Config) -> dict[str, Any]:
    """Validate the strategy kind, its params and the capture; returns the params with defaults.
    Raises BacktestError (UNKNOWN_STRATEGY, BAD_PARAMS, BAD_CAPTURE)."""
    try:
        cls = resolve(spec.kind, base.strategy.user_dir)
    except UnknownStrategy as exc:
        raise BacktestError(BacktestErrorCode.UNKNOWN_STRATEGY, str(exc)) from None
    try:
        params = parse_params(cls, strategy_name(spec.kind), spec.params)
    except BadParams as exc:
        raise BacktestError(BacktestErrorCode.BAD_PARAMS, str(exc)) from None
    except ValueError as exc:  # a Params __post_init__ rule outside msgspec's wrapping
        raise BacktestError(BacktestErrorCode.BAD_PARAMS, f"strategy '{spec.kind}': {exc}") from None
    capture_start_ns(spec.capture)
    return msgspec.to_builtins(params)  # type: ignore[no-any-return]


def capture_start_ns(capture: str | Path) -> int:
    """The receive time of a capture's first frame: where a backtest's clock starts. Raises
    BacktestError (BAD_CAPTURE) for a capture that cannot be read or holds no frame."""
    try:
        first = next(iter(CaptureReader(capture)), None)
    except (CaptureError, OSError) as exc:
        raise BacktestError(BacktestErrorCode.BAD_CAPTURE, f"capture {capture}: {exc}") from None
    if first is None:
        raise BacktestError(BacktestErrorCode.BAD_CAPTURE, f"capture {capture}: it holds no frame")
    return first[0]


def backtest_config(base: Config, spec: BacktestSpec) -> Config:
    """``base`` with the backtest topology, source, venue and strategy applied; without time
    rules, the market always open and the rate caps lifted."""
    rep = msgspec.structs.replace
    eng = rep(base.engine, actors=list(ACTORS), topology="co-located", colocated=list(ACTORS))
    feed = rep(base.feed, source="replay", record_path="",
               replay=rep(base.feed.replay, path=str(Path(spec.capture).expanduser()), pace="fast", loop=False))
    strategy = rep(base.strategy, instances=[StrategyInstanceConfig(
        name=strategy_name(spec.kind), kind=spec.kind, instrument=spec.instrument, params=dict(spec.params))])
    if spec.time_rules:
        risk = rep(base.risk, market_hours="exchange")
    else:
        limits = rep(base.risk.limits, max_orders_per_second=UNLIMITED, max_orders_per_day=UNLIMITED,
                     max_trades_per_day=UNLIMITED)
        risk = rep(base.risk, market_hours="always", limits=limits)
    # A throwaway ledger: nothing to survive a power cut, so no fsync.
    ledger = rep(base.ledger, durability="os")
    return rep(base, engine=eng, feed=feed, strategy=strategy, risk=risk, ledger=ledger,
               execution=rep(base.execution, venue="paper"))


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------

class _Watch:
    """What the probe saw; filled in during the run, read after it."""

    def __init__(self) -> None:
        self.host: ActorHost | None = None
        self.ticks = 0
        self.first_tick_s = 0.0
        self.last_tick_s = 0.0
        self.first_tick_cpu_s = 0.0
        self.replayed_cpu_s = 0.0    # CPU time when the replay finished
        self.orders = 0              # client order ids the ledger handed out
        # Fills, encoded, in a temporary file (a 1M-tick run makes ~190,000: ~30 MiB, a tenth of
        # the goal for the whole process's peak memory, only read once the run is over).
        self.fills = StructTape(Fill, spill_bytes=SPILL_BYTES)
        self.denied = 0
        self.rejected = 0
        self.ledger_fills = 0        # fills execution wrote to the ledger
        self.commit_block: Callable[[], None] | None = None  # the ledger's, when it holds its commits


class _Probe(Actor):
    """First on the bus: counts the market messages, sees the orders, denials and fills."""

    subscriptions = (topics.TICK, topics.QUOTE, topics.ORDER, topics.FILL, topics.RISK_DENIED)
    watch: _Watch

    def on_tick(self, msg: Tick) -> None:
        # hot path: one count per market message
        self._market(1)

    def on_quote(self, msg: Quote) -> None:
        # hot path
        self._market(1)

    def market_batch_horizon(self, batch: MarketBatch, start: int, stop: int) -> int:
        return stop  # market data is only counted

    def on_market_batch(self, batch: MarketBatch, start: int, stop: int) -> None:
        count, _latest = trades_and_latest(batch.is_trade, batch.ts_event_ns, start, stop)
        if count:
            self._market(count)

    def _market(self, count: int) -> None:
        w = self.watch
        w.ticks += count
        w.last_tick_s = time.perf_counter()  # the run's real speed (the report's run object)
        if not w.first_tick_s:
            w.first_tick_s = w.last_tick_s
            w.first_tick_cpu_s = time.process_time()

    def on_order_event(self, msg: OrderEvent) -> None:
        if msg.state == "REJECTED":
            self.watch.rejected += 1

    def on_order_denied(self, msg: OrderDenied) -> None:
        self.watch.denied += 1

    def on_fill(self, msg: Fill) -> None:
        self.watch.fills.append(msg)


class _FrameByFrameFeed(FeedActor):
    """The feed, with everything a frame caused delivered before the next frame is read.

    The replay source emits frames in batches from one timer; on the bus that would queue a
    whole batch of market data ahead of the order and fill events the first frame caused, so the
    strategy would keep trading on prices it should not yet have seen, without its fills. Live,
    frames arrive one at a time; this keeps that order. Handlers still never nest: the drain runs
    from the source's timer callback, outside any handler.
    """

    watch: _Watch

    def on_start(self) -> None:
        super().on_start()
        self.source.on_done = self._replayed

    def on_frame(self, frame: bytes, recv_ns: int) -> None:
        # hot path
        super().on_frame(frame, recv_ns)
        self.watch.host.drain()  # type: ignore[union-attr]
        commit = self.watch.commit_block
        if commit is not None and self.frames % FRAMES_PER_COMMIT == 0:
            commit()

    def on_frames(self, block: FrameBlock) -> None:
        # hot path (a block of frames, everything it caused delivered): one ledger commit
        super().on_frames(block)
        commit = self.watch.commit_block
        if commit is not None:
            commit()

    def _replayed(self) -> None:
        """The capture is replayed: stop once what is due at this moment has happened (a timer
        set now fires after those set before it; the host stops when the moment has passed)."""
        # Idle since the last frame's consequences were delivered, so the CPU time now is the
        # replay's; reading it per tick would cost a system call each.
        self.watch.replayed_cpu_s = time.process_time()
        self.ctx.call_later(0.0, lambda: self.ctx.request_stop("capture replayed"))


class _CountingExecution(ExecutionActor):
    """Execution that counts the fills it writes to the ledger (reading a long backtest's ledger
    back afterwards would map every page of it into the process)."""

    watch: _Watch
    block_commits: bool

    def on_start(self) -> None:
        super().on_start()
        if self.block_commits:
            self.ledger.hold_commits()
            self.watch.commit_block = self.ledger.commit_block
        self._first_order_no = self.ledger.next_order_no()  # a given data dir may hold a ledger already

    def on_stop(self) -> None:
        self.watch.orders = self.ledger.next_order_no() - self._first_order_no
        super().on_stop()

    def _record(self, fills: list[Fill], updated: list[Any], now: int) -> None:
        super()._record(fills, updated, now)  # raises when the ledger refused the batch
        self.watch.ledger_fills += len(fills)


class _BacktestHost(ActorHost):
    """Ctrl-C stops a backtest (a daemon's actors leave SIGINT to the supervisor)."""

    def _install_signals(self) -> None:
        self._saved_signals = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
        signal.signal(signal.SIGINT, lambda *_: self.request_stop("SIGINT"))
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop("SIGTERM"))
        self._saved_wakeup_fd = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)

    def restore_signals(self) -> None:
        """Give the process its handlers back (a backtest may run inside a longer program)."""
        saved = getattr(self, "_saved_signals", None)
        if saved is not None:
            signal.signal(signal.SIGINT, saved[0])
            signal.signal(signal.SIGTERM, saved[1])
            signal.set_wakeup_fd(self._saved_wakeup_fd)
        self._wake_r.close()
        self._wake_w.close()


def run_backtest(spec: BacktestSpec, base: Config | None = None, data_dir: str | Path | None = None, *,
                 bulk: bool = True, block_commits: bool = True) -> BacktestResult:
    """Run ``spec`` to the end of its capture and return the result (nothing is written).

    ``data_dir``: where the ledger and the instrument cache go; None = a temporary directory,
    removed afterwards. A given directory should be empty: an existing ledger is resumed, as the
    daemon would. ``bulk`` False replays frame by frame, every message through the bus (the
    reference the bulk replay must match; slower). ``block_commits`` False commits the ledger after
    every append, as the daemon does (the reference for the block commits). Raises BacktestError.
    """
    base = base or Config()
    params = check_spec(spec, base)
    cfg = backtest_config(base, spec)
    started = time.perf_counter()
    own_data = data_dir is None
    data = Path(tempfile.mkdtemp(prefix="shikra-bt-data-")) if own_data else Path(data_dir).expanduser()
    data.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="shikra-bt-"))  # short: unix socket paths are limited
    clock = SimClock(capture_start_ns(spec.capture))
    watch = _Watch()
    probe = type("_BoundProbe", (_Probe,), {"watch": watch})
    feed = type("_BoundFeed", (_FrameByFrameFeed,), {"watch": watch, "replay_in_blocks": bulk})
    execution = type("_BoundExecution", (_CountingExecution,), {"watch": watch, "block_commits": block_commits})
    try:
        try:
            resolve_instrument(open_instruments(cfg.instruments.master, data, ist_date(clock.now_ns())), spec.instrument)
        except UnknownInstrument as exc:
            raise BacktestError(BacktestErrorCode.UNKNOWN_INSTRUMENT, f"--instrument: {exc}") from None
        host = _BacktestHost("backtest", [(PROBE, probe), ("feed", feed), ("book", BookActor),
                                          ("strategy", StrategyActor), ("risk", RiskActor),
                                          ("execution", execution)], list(ACTORS), cfg, data, run_dir,
                             clock=clock, market_time=True)
        watch.host = host
        try:
            code = host.run()
        finally:
            host.restore_signals()
        if code != 0:
            raise BacktestError(BacktestErrorCode.ENGINE_FAILED,
                                f"the engine stopped with exit code {code} (see the log lines above)")
        frames = int(getattr(host.actors["feed"].source, "frames", 0))
        rows_in_bulk = host.rows_in_bulk
        # The stopped engine (books, instruments, indicator state) is garbage now: free it
        # before the journal is built rather than hold both.
        watch.host = None
        watch.commit_block = None
        del host
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        if own_data:
            shutil.rmtree(data, ignore_errors=True)
    wall_s = time.perf_counter() - started
    gc.collect()  # the actors refer to each other through their contexts
    journal = build_journal(watch.fills, StructTape(Trade))  # trades kept encoded, like the fills
    replay_s = max(watch.last_tick_s - watch.first_tick_s, 0.0)
    counts = BacktestCounts(frames=frames, ticks=watch.ticks, orders=watch.orders, denied=watch.denied,
                            rejected=watch.rejected, fills=len(watch.fills), ledger_fills=watch.ledger_fills)
    run = BacktestRun(wall_s=round(wall_s, 3), replay_s=round(replay_s, 3),
                      ticks_per_s=round(watch.ticks / replay_s, 1) if replay_s > 0 else 0.0,
                      peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      replay_cpu_s=round(max(watch.replayed_cpu_s - watch.first_tick_cpu_s, 0.0), 3),
                      rows_in_bulk=rows_in_bulk)
    return BacktestResult(spec=spec, strategy_name=strategy_name(spec.kind), params=params,
                          market_hours=cfg.risk.market_hours, counts=counts, fills=watch.fills,
                          journal=journal, run=run)


# ------------------------------------------------------------------------------------------------
# The report
# ------------------------------------------------------------------------------------------------

def equity_curve(journal: Journal) -> list[int]:
    """Realised equity in paise after each trade in closing order, starting at 0."""
    out = [0]
    for trade in journal.trades:
        out.append(out[-1] + trade.net_pnl_paise)
    return out


def drawdown_curve(equity: Sequence[int]) -> list[int]:
    """Fall below the running peak (the peak starts at 0) after each point, in paise (>= 0)."""
    peak = 0
    out = []
    for value in equity:
        peak = max(peak, value)
        out.append(peak - value)
    return out


def equity_points(result: BacktestResult) -> tuple[list[int], list[int]]:
    """The equity curve over time, for the charts: (epoch ns, realised equity in paise), 0 at the
    first fill, each trade's :func:`equity_curve` value at its exit, held until the last fill
    (fills are in ledger order, which is time order). Both empty without fills."""
    if not result.fills:
        return [], []
    equity = equity_curve(result.journal)
    times = [result.fills[0].ts_event_ns, *(t.ts_exit_ns for t in result.journal.trades), result.fills[-1].ts_event_ns]
    return times, [*equity, equity[-1]]


def report_charts(result: BacktestResult) -> tuple[Chart, Chart]:
    """equity.png's and drawdown.png's charts: the realised equity curve and its fall below the
    running peak (drawn below zero), over the fills' period in IST."""
    times, equity = equity_points(result)
    s = result.journal.overall
    what = f"{result.spec.kind} on {result.spec.instrument}"
    return (
        Chart(title=f"{what}: realised equity (net {rupees_text(s.net_pnl_paise)}, {s.trades} trades)",
              y_label="net P&L after charges (₹)", times_ns=times, values_paise=equity, colour="tab:blue"),
        Chart(title=f"{what}: drawdown from the running peak (max {rupees_text(s.max_drawdown_paise)})",
              y_label="drawdown (₹)", times_ns=times, values_paise=[-d for d in drawdown_curve(equity)],
              colour="tab:red", shade=True),
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def report_dict(result: BacktestResult) -> dict[str, Any]:
    """report.json's content. Everything but ``run`` is the same for the same inputs."""
    capture = Path(result.spec.capture).expanduser()
    overall = msgspec.to_builtins(result.journal.overall)
    return {
        "backtest": {
            "strategy": result.spec.kind,
            "strategy_name": result.strategy_name,
            "instrument": result.spec.instrument,
            "params": result.params,
            "capture": capture.name,
            "capture_sha256": _sha256(capture),
            "market_hours": result.market_hours,
            "venue": "paper",
        },
        "counts": msgspec.to_builtins(result.counts),
        "journal": overall,
        "journal_rupees": {k: format_rupees(v) for k, v in overall.items() if k.endswith("_paise")},
        "by_day": {day: msgspec.to_builtins(s) for day, s in result.journal.by_day.items()},
        "open_lots": len(result.journal.open_lots),
        "final_equity_paise": equity_curve(result.journal)[-1],
        "determinism": {
            "excluded": ["run"],
            "normalised": ["trades.csv seq -> fill ordinal"],
        },
        "run": msgspec.to_builtins(result.run),
    }


ROUND_TRIP_COLUMNS: Final = ("n", "strategy", "instrument", "direction", "qty_units", "entry_value_rupees",
                             "exit_value_rupees", "charges_rupees", "gross_pnl_rupees", "net_pnl_rupees",
                             "entry_order", "exit_day_ist")


def write_report(result: BacktestResult, out_dir: str | Path) -> list[Path]:
    """Write report.json, trades.csv (one row per fill), round_trips.csv (one row per journal
    trade), equity.png and drawdown.png into ``out_dir`` (created); returns the paths."""
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "trades.csv", out / "round_trips.csv", out / "equity.png",
             out / "drawdown.png"]
    paths[0].write_text(json.dumps(report_dict(result), indent=2) + "\n")
    with open(paths[1], "w", newline="") as f:
        write_trades_csv(((i + 1, fill) for i, fill in enumerate(result.fills)), f)
    with open(paths[2], "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(ROUND_TRIP_COLUMNS)
        for i, t in enumerate(result.journal.trades, 1):
            writer.writerow((i, t.strategy, t.instrument, t.direction, t.qty_units,
                             format_rupees(t.entry_value_paise), format_rupees(t.exit_value_paise),
                             format_rupees(t.charges_paise), format_rupees(t.gross_pnl_paise),
                             format_rupees(t.net_pnl_paise), t.entry_client_order_id, ist_day_label(t.ts_exit_ns)))
    for path, chart in zip(paths[3:], report_charts(result), strict=True):
        write_chart(path, chart)
    return paths


def default_out_dir(kind: str, capture: str | Path) -> Path:
    return Path(f"backtest-{kind}-{Path(capture).stem}")


# ------------------------------------------------------------------------------------------------
# Synthetic captures (tests, benchmarks)
# ------------------------------------------------------------------------------------------------

def write_synthetic_capture(path: str | Path, packets: int, data_dir: str | Path, *,
                            stocks: Sequence[str] = ("RELIANCE",), underlyings: Sequence[str] = (),
                            seed: int = 7, rate_per_s: int = 1000, start_ns: int = DEFAULT_START_NS,
                            full_packets_only: bool = False, option_strikes_each_side: int = 3) -> int:
    """Write ``packets`` packets of the seeded synthetic market (plus its opening prev-close
    frames) to a capture at ``rate_per_s`` packets a second of recorded time from ``start_ns``;
    returns the frames written. ``data_dir`` holds the instrument cache. ``full_packets_only``:
    every packet of a stock or derivative is a full packet (a quote with its 5-level book), none
    is a plain quote, ticker or OI packet. ``option_strikes_each_side``: the options of each
    underlying's nearest expiry, either side of the middle strike. Deterministic."""
    from actors.feed.sources import synthetic_instruments
    from actors.feed.synthetic import SyntheticMarket, SyntheticMarketConfig

    synth = SyntheticFeedConfig(seed=seed, rate_per_s=rate_per_s, underlyings=list(underlyings), stocks=list(stocks),
                                option_strikes_each_side=option_strikes_each_side)
    cfg = msgspec.structs.replace(Config(), feed=msgspec.structs.replace(Config().feed, synthetic=synth))
    start_day = ist_day_label(start_ns)
    table = open_instruments(cfg.instruments.master, Path(data_dir), dt.date.fromisoformat(start_day))  # the master of that day
    mix = {"quote_share": 0.0, "ticker_share": 0.0, "oi_share": 0.0} if full_packets_only else {}
    market = SyntheticMarket(synthetic_instruments(table, synth, dt.date.fromisoformat(start_day)),
                             SyntheticMarketConfig(seed=seed, packet_interval_ns=1_000_000_000 // rate_per_s, **mix))
    chunk = max(1, rate_per_s // 10)  # a tenth of a second per call
    spacing_ns = 1_000_000_000 // rate_per_s
    written = 0
    ts = start_ns
    with CaptureWriter(path) as w:
        left = packets
        while left > 0:
            n = min(chunk, left)
            ts += n * spacing_ns
            frames = market.next_frames(n, ts)
            base_ns = ts - len(frames) * spacing_ns
            for i, frame in enumerate(frames):
                w.write(base_ns + (i + 1) * spacing_ns, frame)
            written += len(frames)
            left -= n
    return written
