"""``shikra schedule [--day YYYY-MM-DD]``: the day's plan (phases from the calendar and
``[schedule]``) and what ran, with times, as the running daemon's control actor heard it."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from engine.cli.common import EXIT_OK, Client, emit, run, table
from engine.control_api import control_pb2 as pb
from engine.model.ist import IST


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("schedule", parents=[client], help="today's plan and what ran, with times")
    p.add_argument("--day", default="", help="YYYY-MM-DD (IST; default: today)")
    p.set_defaults(fn=cmd_schedule)


def _hhmm(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, IST).strftime("%H:%M:%S") if ts_ns else "-"


def render(r: Any) -> str:
    kind = "trading day" if r.trading_day else "closed (weekend or holiday)"
    head = f"{r.day}: {kind}" + ("" if r.enabled else "  (the daily schedule is disabled: [schedule] enabled = false)")
    phases = table(["PHASE", "PLANNED", "BEGAN"], [[p.phase, _hhmm(p.planned_ns), _hhmm(p.began_ns)] for p in r.phases])
    if not r.tasks:
        return f"{head}\n{phases}\n\nno task has run"
    tasks = table(["TASK", "ACTOR", "OK", "STARTED", "FINISHED", "DETAIL"],
                  [[t.task, t.actor, "yes" if t.ok else "NO", _hhmm(t.started_ns), _hhmm(t.finished_ns),
                    (f"{t.reason_code}: " if t.reason_code else "") + t.detail] for t in r.tasks])
    return f"{head}\n{phases}\n\n{tasks}"


def cmd_schedule(args: argparse.Namespace) -> int:
    def body(c: Client) -> int:
        emit(args, c(c.engine.GetSchedule, pb.GetScheduleRequest(day=args.day)), render)
        return EXIT_OK

    return run(args, body)
