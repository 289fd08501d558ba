"""``shikra backtest``: the engine's own actors over a recording, with a report.

See ``engine.backtest.runner`` for how the run works, what the report holds and what is excluded
from the determinism promise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.cli.common import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, config_from_args
from engine.ledger import format_rupees
from engine.logs import setup_logging


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "backtest", parents=[common],
        help="run a strategy over a capture with the engine's own feed, risk and paper execution",
        description="Replay a capture (from `shikra record`) as fast as possible through the same feed, book, "
                    "strategy, risk and execution code as the daemon, in one process, against the paper venue; "
                    "then write report.json, trades.csv, round_trips.csv, equity.png and drawdown.png. "
                    "The ledger goes to a fresh temporary data directory unless --data-dir is given. "
                    "Time: the engine runs on a simulated clock that follows the capture's exchange times, so "
                    "the exchange calendar, entry cut-off, square-off, DAY expiry at the close, cooldowns, "
                    "order-rate and per-day caps and order-group timeouts apply as on the day it was recorded; "
                    "--no-time-rules turns them off (market always open, caps lifted), as earlier versions did.")
    p.add_argument("--strategy", required=True, metavar="KIND",
                   help="a registered strategy kind (ema_cross, rsi_reversal, ... or one from strategy.user_dir)")
    p.add_argument("--data", required=True, metavar="CAPTURE", help="the capture file to replay")
    p.add_argument("--instrument", default="RELIANCE", help="trading symbol or SEGMENT:SECURITY_ID (default RELIANCE)")
    p.add_argument("--params", default="{}", metavar="JSON",
                   help='strategy parameters as a JSON object, e.g. \'{"fast": 10, "slow": 30, "timeframe_s": 0}\'')
    p.add_argument("--out", metavar="DIR", help="report directory (default ./backtest-<kind>-<capture stem>/)")
    p.add_argument("--no-time-rules", dest="time_rules", action="store_false",
                   help="judge nothing by the clock: the market always open (no session, cut-off, square-off or "
                        "DAY expiry) and the order-rate and per-day caps lifted; the reports of earlier versions")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"],
                   help="engine log lines on stderr (default warning)")
    p.set_defaults(fn=cmd_backtest)


def _params(text: str) -> dict[str, Any] | str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"--params is not valid JSON: {exc}"
    if not isinstance(value, dict):
        return f"--params must be a JSON object, got {type(value).__name__}"
    return value


def cmd_backtest(args: argparse.Namespace) -> int:
    # Lazy: the runner imports every actor (numpy, numba: seconds), only for `shikra backtest`.
    from engine.backtest.runner import (
        BacktestError,
        BacktestErrorCode,
        BacktestSpec,
        default_out_dir,
        run_backtest,
        write_report,
    )

    params = _params(args.params)
    if isinstance(params, str):
        print(f"shikra: {params}", file=sys.stderr)
        return EXIT_CONFIG
    cfg, _source = config_from_args(args)
    setup_logging(args.log_level, cfg.log.format, unit="backtest")
    spec = BacktestSpec(kind=args.strategy, capture=args.data, instrument=args.instrument, params=params,
                        time_rules=args.time_rules)
    try:
        result = run_backtest(spec, cfg, args.data_dir)
    except BacktestError as exc:
        print(f"shikra: backtest: {exc}", file=sys.stderr)
        return EXIT_ERROR if exc.code is BacktestErrorCode.ENGINE_FAILED else EXIT_CONFIG
    out = Path(args.out) if args.out else default_out_dir(args.strategy, args.data)
    write_report(result, out)
    s, c, r = result.journal.overall, result.counts, result.run
    pf = "n/a" if s.profit_factor is None else f"{s.profit_factor:.2f}"
    print(f"{c.ticks} ticks, {c.orders} orders ({c.denied} denied, {c.rejected} rejected), {c.fills} fills; "
          f"{r.ticks_per_s:,.0f} ticks/s, {r.wall_s:.2f} s in all")
    print(f"trades {s.trades}  win rate {s.win_rate:.1%}  profit factor {pf}  "
          f"expectancy ₹{format_rupees(s.expectancy_paise)}  max drawdown ₹{format_rupees(s.max_drawdown_paise)}")
    print(f"gross ₹{format_rupees(s.gross_pnl_paise)}  charges ₹{format_rupees(s.charges_paise)}  "
          f"net ₹{format_rupees(s.net_pnl_paise)}  open lots {len(result.journal.open_lots)}")
    print(f"wrote {out}/")
    return EXIT_OK
