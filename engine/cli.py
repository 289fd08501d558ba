"""The ``shikra`` command.

Exit codes: 0 ok; 1 runtime error; 2 usage error; 3 the daemon is not running / not reachable;
78 configuration error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import msgspec

from engine.config import (
    DEFAULT_CONFIG_TOML,
    EXIT_CONFIG,
    Config,
    ConfigError,
    default_config_path,
    load_config,
    resolve_paths,
)
from engine.logs import setup_logging

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3


def _config_from_args(args: argparse.Namespace) -> tuple[Config, str]:
    """--config, else $SHIKRA_CONFIG, else ~/.config/shikra/shikra.toml if present, else defaults."""
    path = args.config or os.environ.get("SHIKRA_CONFIG")
    if path:
        return load_config(path), str(Path(path).expanduser())
    default = default_config_path()
    if default.exists():
        return load_config(default), str(default)
    return Config(), "built-in defaults"


def cmd_run(args: argparse.Namespace) -> int:
    from engine.lock import AlreadyRunning
    from engine.supervisor import run_daemon

    cfg, source = _config_from_args(args)
    setup_logging(cfg.log.level, cfg.log.format, unit="supervisor")
    data_dir, run_dir = resolve_paths(cfg, args.data_dir)
    try:
        return run_daemon(cfg, data_dir, run_dir, source)
    except AlreadyRunning as exc:
        print(f"shikra: {exc}", file=sys.stderr)
        return EXIT_ERROR


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.path).expanduser() if args.path else default_config_path()
    if path.exists() and not args.force:
        print(f"shikra: {path} exists; use --force to overwrite", file=sys.stderr)
        return EXIT_ERROR
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEFAULT_CONFIG_TOML)
    print(f"wrote {path}")
    return EXIT_OK


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    cfg, _ = _config_from_args(args)
    return resolve_paths(cfg, args.data_dir)


def cmd_status(args: argparse.Namespace) -> int:
    from engine.lock import is_locked
    from engine.status import read_status, render_status

    data_dir, run_dir = _paths(args)
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
    from actors.execution.venue_status import read_venue_status, render_venue_status
    from engine.model.calendar import read_calendar_status, render_calendar_status

    venue = read_venue_status(run_dir)  # the live venue's reconciliation standing (absent on paper)
    calendar = read_calendar_status(run_dir)  # risk's market calendar (absent when always open)
    if args.json:
        extra = {"venue": msgspec.to_builtins(venue)} if venue is not None else {}
        if calendar is not None:
            extra["calendar"] = msgspec.structs.asdict(calendar)
        print(msgspec.json.encode({"running": True, **msgspec.to_builtins(status), **extra}).decode())
    else:
        print(render_status(status))
        if calendar is not None:
            print(render_calendar_status(calendar))
        if venue is not None:
            print("\n" + render_venue_status(venue, time.time_ns()))
    return EXIT_OK


def _send_to_supervisor(data_dir: Path, run_dir: Path, msg: msgspec.Struct, timeout_s: float = 5.0,
                        target: str = "supervisor") -> int:
    """Local admin path: whoever can reach the run directory's socket may command the daemon
    (the supervisor, or one actor's inbox)."""
    import zmq

    from engine.lock import is_locked
    from ipc import codec, topics
    from ipc.messages import Reply
    from ipc.transport import Endpoints

    if is_locked(data_dir) is None:
        print(f"shikra is not running on data dir {data_dir}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    cfg = msgspec.json.decode((run_dir / "config.json").read_bytes(), type=Config)
    eng = cfg.engine
    endpoints = Endpoints(run_dir, eng.transport, eng.tcp_host, eng.tcp_base_port,
                          tuple(eng.actors) + ("supervisor",))
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, f"cli-{os.getpid()}".encode())
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoints.inbox(target))
    try:
        sock.send_multipart((topics.command_topic(type(msg).__name__), codec.encode(msg)))  # type: ignore[arg-type]
        if not sock.poll(int(timeout_s * 1000)):
            print("shikra: the daemon did not answer", file=sys.stderr)
            return EXIT_NOT_RUNNING
        _topic, payload = sock.recv_multipart()
        reply = codec.decode(payload)
        if isinstance(reply, Reply) and reply.ok:
            if reply.detail and target != "supervisor":
                print(reply.detail)
            return EXIT_OK
        print(f"shikra: refused: {getattr(reply, 'detail', reply)}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        sock.close()


def cmd_kill(args: argparse.Namespace) -> int:
    from ipc.messages import EngageKillSwitch, ReleaseKillSwitch

    data_dir, run_dir = _paths(args)
    who = f"local:{os.environ.get('USER', 'unknown')}"
    if args.release:
        code = _send_to_supervisor(data_dir, run_dir, ReleaseKillSwitch(uuid.uuid4().hex, who, time.time_ns()))
        if code == EXIT_OK:
            print("kill switch released")
        return code
    reason = args.reason or "operator"
    code = _send_to_supervisor(data_dir, run_dir, EngageKillSwitch(uuid.uuid4().hex, reason, who, time.time_ns()))
    if code == EXIT_OK:
        print(f"kill switch engaged: {reason}")
    return code


def cmd_record(args: argparse.Namespace) -> int:
    """Run the configured feed source on its own (no daemon) and write every raw frame to a capture."""
    import tempfile

    from actors.feed.actor import FeedActor
    from actors.host import ActorHost

    cfg, _ = _config_from_args(args)
    if args.source:
        cfg = msgspec.structs.replace(cfg, feed=msgspec.structs.replace(cfg.feed, source=args.source))
    cfg = msgspec.structs.replace(
        cfg, feed=msgspec.structs.replace(cfg.feed, record_path=str(Path(args.out).expanduser())),
        engine=msgspec.structs.replace(cfg.engine, actors=["feed"], topology="isolated"))
    setup_logging(cfg.log.level, cfg.log.format, unit="record")
    data_dir, _ = resolve_paths(cfg, args.data_dir)
    with tempfile.TemporaryDirectory(prefix="shikra-rec-") as run_dir:
        host = ActorHost("record", [("feed", FeedActor)], ["feed"], cfg, data_dir, Path(run_dir))
        if args.seconds:
            host.add_timer(args.seconds, 0.0, lambda: host.request_stop(f"recorded {args.seconds}s"))
        code = host.run()
    if code == 0:
        print(f"wrote {args.out}")
    return code


def cmd_capture_inspect(args: argparse.Namespace) -> int:
    from actors.feed.capture import CaptureError, CaptureReader
    from actors.feed.decode import FrameDecoder

    try:
        reader = CaptureReader(args.file)
    except (CaptureError, OSError) as exc:
        print(f"shikra: {exc}", file=sys.stderr)
        return EXIT_ERROR
    ticks: dict[tuple[int, int], int] = {}
    if not args.no_master:
        from engine.instruments import tick_sizes
        from engine.market import open_instruments

        cfg, _ = _config_from_args(args)
        data_dir, _ = resolve_paths(cfg, args.data_dir)
        ticks = tick_sizes(open_instruments(cfg, data_dir))
    decoder = FrameDecoder(ticks)
    enc = msgspec.json.Encoder()
    out = sys.stdout
    frames = 0
    for recv_ns, frame in reader:
        frames += 1
        for msg in decoder.decode_frame(frame, recv_ns, reader.feed):
            if args.json:
                out.write(enc.encode({"type": type(msg).__name__, "recv_ns": recv_ns,
                                      **msgspec.structs.asdict(msg)}).decode() + "\n")
            else:
                fields = " ".join(f"{k}={v}" for k, v in msgspec.structs.asdict(msg).items())
                out.write(f"{recv_ns} {type(msg).__name__} {fields}\n")
    if reader.truncated_tail:
        print(f"shikra: {args.file}: the last record is truncated (recorder stopped mid-write); ignored",
              file=sys.stderr)
    problems = decoder.stats.problem_total
    if problems:
        print(f"shikra: {problems} undecodable packets in {frames} frames: "
              f"{dict((k.value if hasattr(k, 'value') else str(k), v) for k, v in decoder.stats.problems.items())}",
              file=sys.stderr)
    return EXIT_OK


def cmd_tail(args: argparse.Namespace) -> int:
    """Print the public feed live, one JSON object per line: what any dashboard would receive."""
    import zmq

    from actors.gateway.actor import GATEWAY_INFO, GatewayInfo
    from ipc import codec

    cfg, _ = _config_from_args(args)
    data_dir, run_dir = resolve_paths(cfg, args.data_dir)
    endpoint = args.endpoint
    server_key = ""
    if not endpoint:
        try:
            info = msgspec.json.decode((run_dir / GATEWAY_INFO).read_bytes(), type=GatewayInfo)
        except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
            print(f"shikra: no gateway running for data dir {data_dir} (add \"gateway\" to engine.actors), "
                  "or give --endpoint", file=sys.stderr)
            return EXIT_NOT_RUNNING
        endpoint, server_key = info.listen, info.server_public_key
    if server_key:
        print("shikra: the gateway uses CURVE: use examples/dashboard_pnl.py with keys", file=sys.stderr)
        return EXIT_ERROR
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    for prefix in args.topics or [""]:
        sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
    enc = msgspec.json.Encoder()
    deadline = time.monotonic() + args.seconds if args.seconds else None
    shown = 0
    try:
        while deadline is None or time.monotonic() < deadline:
            if not sock.poll(200):
                continue
            topic, payload = sock.recv_multipart()
            try:
                msg = codec.decode(payload)
                body = {"type": type(msg).__name__, **msgspec.structs.asdict(msg)}
            except codec.DecodeError as exc:
                body = {"undecodable": exc.failure.value}
            sys.stdout.write(enc.encode({"topic": topic.decode(errors="replace"), **body}).decode() + "\n")
            sys.stdout.flush()
            shown += 1
            if args.count and shown >= args.count:
                break
    finally:
        sock.close()
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shikra", description="Shikra trading engine")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="config TOML file (default: $SHIKRA_CONFIG, ~/.config/shikra/shikra.toml, "
                                         "else built-in paper defaults)")
    common.add_argument("--data-dir", help="data directory (default: from config, else ~/.local/share/shikra)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    p = sub.add_parser("tail", parents=[common], help="print the public feed live (TOPIC prefixes, default all)")
    p.add_argument("topics", nargs="*", metavar="TOPIC")
    p.add_argument("--endpoint", help="public feed address (default: the running gateway's)")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long")
    p.add_argument("--count", type=int, default=0, help="stop after this many messages")
    p.set_defaults(fn=cmd_tail)

    p = sub.add_parser("record", parents=[common], help="record the configured feed source to a capture file")
    p.add_argument("--out", required=True, help="capture file to write")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long (default: until Ctrl-C/SIGTERM)")
    p.add_argument("--source", choices=["synthetic", "dhan"], help="override feed.source")
    p.set_defaults(fn=cmd_record)

    p = sub.add_parser("capture", parents=[common], help="work with capture files")
    capsub = p.add_subparsers(dest="capture_command", required=True, metavar="ACTION")
    q = capsub.add_parser("inspect", parents=[common], help="print every decoded message, one per line")
    q.add_argument("file")
    q.add_argument("--json", action="store_true")
    q.add_argument("--no-master", action="store_true", help="round prices to the paisa, not the instrument tick")
    q.set_defaults(fn=cmd_capture_inspect)

    # The gRPC client commands (orders, positions, users, ...) live in their own module.
    import importlib.util
    if importlib.util.find_spec("engine.cli_remote") is not None:
        from engine import cli_remote
        cli_remote.add_commands(sub, common)
    from engine import cli_backtest, cli_calendar, cli_journal
    cli_journal.add_commands(sub, common)
    cli_backtest.add_commands(sub, common)
    cli_calendar.add_commands(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args))
    except ConfigError as exc:
        print(f"shikra: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_ERROR
    except BrokenPipeError:  # `shikra capture inspect F | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
