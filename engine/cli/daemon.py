"""The daemon on this machine: ``shikra run | init | status | kill`` (files and sockets of the
data directory), and ``shikra actors`` (the same view through the control API)."""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec

from actors.execution.venue_status import read_venue_status, render_venue_status
from engine.cli.common import (
    EXIT_ERROR,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    Client,
    clock,
    config_from_args,
    emit,
    local_paths,
    run,
    send_local,
    table,
)
from engine.config import BUILT_IN_CONFIG, DEFAULT_CONFIG_TOML, default_config_path, resolve_paths
from engine.control_api import control_pb2 as pb
from engine.daemon.lock import is_locked
from engine.daemon.status import render_status
from engine.model.calendar import read_calendar_status, render_calendar_status
from engine.model.lookup import instruments_dir
from engine.model.master_refresh import master_source, read_meta
from engine.status_file import read_status
from ipc.messages import EngageKillSwitch, ReleaseKillSwitch


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common], help="run the daemon (paper trading on the synthetic market by default)")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("init", help="write a commented default config")
    p.add_argument("path", nargs="?", help=f"where to write it (default {default_config_path()})")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(fn=cmd_init)

    p = sub.add_parser("status", parents=[common], help="each actor's pid, uptime, restarts, last heartbeat")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_status)

    p = sub.add_parser("kill", parents=[common], help="engage (or --release) the kill switch")
    p.add_argument("--release", action="store_true")
    p.add_argument("--reason", default="")
    p.set_defaults(fn=cmd_kill)

    p = sub.add_parser("actors", parents=[client], help="every actor: process, state, uptime, restarts, messages")
    p.set_defaults(fn=cmd_actors)


def cmd_run(args: argparse.Namespace) -> int:
    cfg, source = config_from_args(args)  # a config error is reported here, as by every command
    data_dir, _run_dir = resolve_paths(cfg, args.data_dir)
    # The supervisor runs in a fresh interpreter that replaces this one (same pid): the command
    # groups this process imported (gRPC, protobuf, every client command) would otherwise stay in
    # the daemon's memory for as long as it runs. It reads the same file, or the built-in defaults.
    argv = [sys.executable, "-m", "engine.daemon", "--data-dir", str(data_dir)]
    if source != BUILT_IN_CONFIG:
        argv += ["--config", source]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.path).expanduser() if args.path else default_config_path()
    if path.exists() and not args.force:
        print(f"shikra: {path} exists; use --force to overwrite", file=sys.stderr)
        return EXIT_ERROR
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEFAULT_CONFIG_TOML)
    print(f"wrote {path}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    _cfg, data_dir, run_dir = local_paths(args)
    pid = is_locked(data_dir)
    status = read_status(run_dir)
    if pid is None:
        msg = f"shikra is not running on data dir {data_dir}"
        if args.json:
            print(msgspec.json.encode({"running": False, "data_dir": str(data_dir)}).decode())
        else:
            print(msg)
        return EXIT_NOT_RUNNING
    if status is None:
        print(f"shikra (pid {pid}) is starting; no status yet", file=sys.stderr)
        return EXIT_NOT_RUNNING
    master = _master_line(_cfg, data_dir)
    venue = read_venue_status(run_dir)  # the live venue's reconciliation standing (absent on paper)
    calendar = read_calendar_status(run_dir)  # risk's market calendar (absent when always open)
    if args.json:
        extra = {"venue": msgspec.to_builtins(venue)} if venue is not None else {}
        if calendar is not None:
            extra["calendar"] = msgspec.structs.asdict(calendar)
        extra["instruments"] = master
        print(msgspec.json.encode({"running": True, **msgspec.to_builtins(status), **extra}).decode())
    else:
        print(render_status(status))
        print(f"instrument master: {master['master']}" + (f", dated {master['master_date']}, {master['rows']} rows"
                                                          if master.get("master_date") else ""))
        if calendar is not None:
            print(render_calendar_status(calendar))
        if venue is not None:
            print("\n" + render_venue_status(venue, time.time_ns()))
    return EXIT_OK


def _master_line(cfg: Any, data_dir: Path) -> dict[str, Any]:
    """The master in use: "dhan" with its date and rows (from the download's meta), or what the
    config names ("sample" is regenerated for each day)."""
    master = cfg.instruments.master
    source = master_source(master)
    if source is None:
        return {"master": master}
    meta = read_meta(instruments_dir(data_dir), source)
    if meta is None:
        return {"master": f"{source} (not downloaded yet)"}
    return {"master": source, "master_date": meta.master_date, "rows": meta.rows}


def cmd_kill(args: argparse.Namespace) -> int:
    _cfg, data_dir, run_dir = local_paths(args)
    who = f"local:{os.environ.get('USER', 'unknown')}"
    if args.release:
        code = send_local(data_dir, run_dir, ReleaseKillSwitch(uuid.uuid4().hex, who, time.time_ns()))
        if code == EXIT_OK:
            print("kill switch released")
        return code
    reason = args.reason or "operator"
    code = send_local(data_dir, run_dir, EngageKillSwitch(uuid.uuid4().hex, reason, who, time.time_ns()))
    if code == EXIT_OK:
        print(f"kill switch engaged: {reason}")
    return code


def cmd_actors(args: argparse.Namespace) -> int:
    def human(r: Any) -> str:
        rows = [[a.name, a.unit, a.pid or "-", a.state, f"{a.uptime_ns // 1_000_000_000}s", a.restarts,
                 clock(a.last_heartbeat_ns), a.msgs_in, a.msgs_out, a.bad_frames] for a in r.actors]
        return table(["ACTOR", "PROCESS", "PID", "STATE", "UPTIME", "RESTARTS", "HEARTBEAT", "IN", "OUT", "BAD"],
                     rows, frozenset({2, 4, 5, 7, 8, 9}))

    def body(c: Client) -> int:
        emit(args, c(c.engine.ListActors, pb.ListActorsRequest()), human)
        return EXIT_OK

    return run(args, body)
