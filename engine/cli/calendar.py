"""``shikra calendar``: the market calendar the engine uses, and the operator's overrides.

- ``show [--days 30] [--from DATE] [--exchange X] [--json]``: every session (and every weekday
  closed) per exchange, with its source: ``library`` (exchange_calendars), ``fallback`` (past the
  library's data: weekdays minus the fixed-date holidays) or ``override`` (config or file).
- ``add-holiday DATE [--exchange NSE|BSE|MCX] [--name N]``, ``add-session DATE --open HH:MM --close
  HH:MM [--exchange ..] [--name N]``, ``remove DATE [--exchange ..]``: edit
  ``<data_dir>/calendar.json`` (validated, written atomically). A running daemon takes the change
  within a minute (``engine.model.calendar.CALENDAR_REFRESH_S``); no restart.

Without ``--exchange`` an entry applies to NSE, BSE and MCX.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

import msgspec

# EXIT_CONFIG: a damaged overrides file is a configuration error.
from engine.cli.common import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, config_from_args, local_paths
from engine.model.calendar import (
    EXCHANGES,
    FIXED_HOLIDAYS,
    CalendarConfig,
    CalendarError,
    Holiday,
    SessionCalendar,
    SpecialSession,
    market_hours,
    overrides_path,
    read_overrides,
    write_overrides,
)
from engine.model.ist import today_ist


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _time(text: str) -> dt.time:
    try:
        t = dt.time.fromisoformat(text)
    except ValueError:
        t = None
    if t is None or t.tzinfo is not None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IST time of day (HH:MM)")
    return t


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    """Add ``calendar`` and its actions to the ``shikra`` sub-command parser."""
    p = sub.add_parser("calendar", parents=[common], help="market sessions and holidays: show, add, remove")
    actions = p.add_subparsers(dest="calendar_command", required=True, metavar="ACTION")
    exchange = argparse.ArgumentParser(add_help=False)
    exchange.add_argument("--exchange", choices=EXCHANGES, help="one exchange (default: NSE, BSE and MCX)")

    q = actions.add_parser("show", parents=[common], help="the sessions the engine will use, with their source")
    q.add_argument("--days", type=int, default=30, help="how many days (default 30)")
    q.add_argument("--from", dest="start", type=_date, help="first date (default: today, IST)")
    q.add_argument("--exchange", choices=EXCHANGES, help="only this exchange")
    q.add_argument("--json", action="store_true")
    q.set_defaults(fn=cmd_show)

    q = actions.add_parser("add-holiday", parents=[common, exchange], help="close the market on DATE")
    q.add_argument("date", type=_date, metavar="DATE")
    q.add_argument("--name", default="", help="e.g. Holi")
    q.set_defaults(fn=cmd_add_holiday)

    q = actions.add_parser("add-session", parents=[common, exchange],
                           help="open the market on DATE with these hours (Muhurat, a Saturday budget session)")
    q.add_argument("date", type=_date, metavar="DATE")
    q.add_argument("--open", dest="open_ist", type=_time, required=True, help="IST, HH:MM")
    q.add_argument("--close", dest="close_ist", type=_time, required=True, help="IST, HH:MM")
    q.add_argument("--name", default="", help="e.g. Diwali Muhurat trading")
    q.set_defaults(fn=cmd_add_session)

    q = actions.add_parser("remove", parents=[common, exchange], help="remove the holidays and sessions added on DATE")
    q.add_argument("date", type=_date, metavar="DATE")
    q.set_defaults(fn=cmd_remove)


# --- show -------------------------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    cfg, data_dir, _run_dir = local_paths(args)
    if args.days < 1:
        print("shikra: --days must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    try:
        overrides = read_overrides(overrides_path(data_dir))
    except CalendarError as exc:
        print(f"shikra: calendar overrides: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    calendar = SessionCalendar(overrides=(cfg.calendar, overrides))
    start = args.start or today_ist()
    rows = [r for r in calendar.sessions(start, args.days) if not args.exchange or r.exchange == args.exchange]
    mode = market_hours(cfg)
    if args.json:
        sys.stdout.write(msgspec.json.encode({
            "market_hours": mode, "calendar": calendar.exchange, "data_end": calendar.last_date,
            "fallback_in_use": calendar.uses_fallback(start), "sessions": rows}).decode() + "\n")
        return EXIT_OK
    out = [_header(calendar, mode, start)]
    out.append(f"{'DATE':<11} {'DAY':<4}{'EXCH':<5} {'OPEN':<6} {'CLOSE':<6} {'SOURCE':<9} NAME")
    for r in rows:
        opens = f"{r.open_ist:%H:%M}" if r.open_ist is not None else "closed"
        closes = f"{r.close_ist:%H:%M}" if r.close_ist is not None else ""
        out.append(f"{r.date.isoformat():<11} {r.date:%a} {r.exchange:<5} {opens:<6} {closes:<6} {r.source:<9} "
                   f"{r.name}".rstrip())
    sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK


def _header(calendar: SessionCalendar, mode: str, start: dt.date) -> str:
    fixed = ", ".join(f"{d} {dt.date(2000, m, 1):%b}" for (m, d) in FIXED_HOLIDAYS)
    lines = [f"{calendar.exchange} calendar data until {calendar.last_date}; after it the fallback: weekdays "
             f"minus {fixed} and the configured holidays"]
    if calendar.uses_fallback(start):
        lines.append(f"WARNING: {start} is past the library's data: the fallback is in use")
    elif calendar.needs_warning(start):
        lines.append(f"WARNING: the library's data ends in {calendar.days_until_data_end(start)} day(s): add the "
                     "coming year's holidays (shikra calendar add-holiday) or upgrade exchange_calendars")
    if mode == "always":
        lines.append("note: market_hours is 'always' here (synthetic market): the engine trades at any hour; "
                     "these sessions apply with a live or replay feed")
    return "\n".join(lines)


# --- edits ------------------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> tuple[Any, CalendarConfig] | None:
    """(path, overrides) of the data dir's file, or None after printing why it cannot be edited."""
    _cfg, data_dir, _run_dir = local_paths(args)
    path = overrides_path(data_dir)
    try:
        return path, read_overrides(path)
    except CalendarError as exc:
        print(f"shikra: calendar overrides: {exc}\n(fix the file by hand, or delete it to start again)",
              file=sys.stderr)
        return None


def _save(path: Any, overrides: CalendarConfig, done: str) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_overrides(path, overrides)
    except CalendarError as exc:
        print(f"shikra: not changed: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"shikra: {path}: cannot be written: {exc.strerror}", file=sys.stderr)
        return EXIT_ERROR
    print(f"{done} in {path}\n(a running daemon takes it within a minute)")
    return EXIT_OK


def _exchange_label(exchange: str) -> str:
    return "NSE, BSE, MCX" if exchange == "ALL" else exchange


def cmd_add_holiday(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_CONFIG
    path, cal = loaded
    holiday = Holiday(date=args.date, exchange=args.exchange or "ALL", name=args.name)
    kept = [h for h in cal.holidays if (h.date, h.exchange) != (holiday.date, holiday.exchange)]
    cal = msgspec.structs.replace(cal, holidays=sorted([*kept, holiday], key=lambda h: (h.date, h.exchange)))
    name = f" ({args.name})" if args.name else ""
    return _save(path, cal, f"holiday {args.date} {args.date:%a}{name} for {_exchange_label(holiday.exchange)}")


def cmd_add_session(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_CONFIG
    path, cal = loaded
    session = SpecialSession(date=args.date, open_ist=args.open_ist, close_ist=args.close_ist,
                             exchange=args.exchange or "ALL", name=args.name)
    kept = [s for s in cal.sessions if (s.date, s.exchange) != (session.date, session.exchange)]
    cal = msgspec.structs.replace(cal, sessions=sorted([*kept, session], key=lambda s: (s.date, s.exchange)))
    name = f" ({args.name})" if args.name else ""
    return _save(path, cal, f"session {args.date} {args.date:%a} {args.open_ist:%H:%M}-{args.close_ist:%H:%M} IST"
                            f"{name} for {_exchange_label(session.exchange)}")


def _without(entries: list[Any], date: dt.date, exchange: str | None) -> tuple[list[Any], int]:
    """``entries`` minus those on ``date`` for ``exchange`` (None: every exchange); an entry for
    all exchanges loses just that one (it becomes one entry per remaining exchange)."""
    out: list[Any] = []
    removed = 0
    for e in entries:
        if e.date != date or (exchange is not None and e.exchange not in (exchange, "ALL")):
            out.append(e)
            continue
        removed += 1
        if exchange is not None and e.exchange == "ALL":
            out.extend(msgspec.structs.replace(e, exchange=x) for x in EXCHANGES if x != exchange)
    return out, removed


def cmd_remove(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_CONFIG
    path, cal = loaded
    holidays, gone_h = _without(cal.holidays, args.date, args.exchange)
    sessions, gone_s = _without(cal.sessions, args.date, args.exchange)
    where = f" for {args.exchange}" if args.exchange else ""
    if not gone_h and not gone_s:
        print(f"shikra: {path} has no holiday or session on {args.date}{where}", file=sys.stderr)
        _note_config(args, args.date)
        return EXIT_ERROR
    code = _save(path, msgspec.structs.replace(cal, holidays=holidays, sessions=sessions),
                 f"removed {gone_h} holiday(s) and {gone_s} session(s) on {args.date}{where}")
    _note_config(args, args.date)
    return code


def _note_config(args: argparse.Namespace, date: dt.date) -> None:
    """The config's own entries are not the CLI's to edit: say where they are."""
    cfg, source = config_from_args(args)
    if any(e.date == date for e in [*cfg.calendar.holidays, *cfg.calendar.sessions]):
        print(f"note: the config's [calendar] section ({source}) also has entries on {date}; edit it there",
              file=sys.stderr)
