"""Market data: ``shikra record`` (the configured feed to a capture file), ``shikra capture
inspect`` (a capture decoded, one message per line) and ``shikra tail`` (the public feed live)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import zmq

from engine.cli.common import EXIT_ERROR, EXIT_NOT_RUNNING, EXIT_OK, config_from_args, local_paths
from engine.config import resolve_paths
from engine.logs import setup_logging
from ipc import codec


def add_commands(sub: Any, common: argparse.ArgumentParser, client: argparse.ArgumentParser) -> None:
    p = sub.add_parser("tail", parents=[common], help="print the public feed live (TOPIC prefixes, default all)")
    p.add_argument("topics", nargs="*", metavar="TOPIC")
    p.add_argument("--endpoint", help="public feed address (default: the running gateway's)")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long")
    p.add_argument("--count", type=int, default=0, help="stop after this many messages")
    p.set_defaults(fn=cmd_tail)

    p = sub.add_parser("record", parents=[common], help="record the configured feed source to a capture file")
    p.add_argument("--out", required=True, help="capture file to write")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long (default: until Ctrl-C/SIGTERM)")
    p.add_argument("--source", choices=["synthetic", "dhan", "kite"], help="override feed.source")
    p.set_defaults(fn=cmd_record)

    p = sub.add_parser("capture", parents=[common], help="work with capture files")
    capsub = p.add_subparsers(dest="capture_command", required=True, metavar="ACTION")
    q = capsub.add_parser("inspect", parents=[common], help="print every decoded message, one per line")
    q.add_argument("file")
    q.add_argument("--json", action="store_true")
    q.add_argument("--no-master", action="store_true", help="round prices to the paisa, not the instrument tick")
    q.set_defaults(fn=cmd_capture_inspect)


def cmd_record(args: argparse.Namespace) -> int:
    """Run the configured feed source on its own (no daemon) and write every raw frame to a capture."""
    # Lazy: the feed actor and the host bring numpy, numba and the decoder (seconds to import).
    from actors.feed.actor import FeedActor
    from actors.host import ActorHost

    cfg, _ = config_from_args(args)
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
    # Lazy: the capture reader and the decoder bring numpy and numba; the master brings pandas.
    from actors.feed.capture import CaptureError, CaptureReader
    from actors.feed.decoders import make_decoder
    from engine.model.lookup import open_instruments

    try:
        reader = CaptureReader(args.file)
    except (CaptureError, OSError) as exc:
        print(f"shikra: {exc}", file=sys.stderr)
        return EXIT_ERROR
    table = None
    if not args.no_master:  # a Kite capture needs the master for its instrument tokens
        cfg, data_dir, _run_dir = local_paths(args)
        table = open_instruments(cfg.instruments.master, data_dir)
    decoder = make_decoder(reader.feed, table)
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
    # Lazy: the gateway actor's module brings prometheus_client and asyncio (a fifth of every
    # command's start-up) for two names.
    from actors.gateway.actor import GATEWAY_INFO, GatewayInfo

    _cfg, data_dir, run_dir = local_paths(args)
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
