#!/usr/bin/env python3
"""Live P&L per strategy from Shikra's public feed: a dashboard in 100 lines, pyzmq + msgspec only.

    python examples/dashboard_pnl.py --endpoint tcp://127.0.0.1:7480
    python examples/dashboard_pnl.py --server-key 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7' \\
        --client-key-file client.key_secret          # when the gateway uses CURVE

Every frame is ``[topic, payload]``; the payload is a MessagePack array whose first element is the
schema tag ("position@1"), then the fields in order (README "Public feed"). Money is integer paise.
``--ticks`` also prints the last traded prices. ``--seconds N`` stops after N seconds.
"""

from __future__ import annotations

import argparse
import sys
import time

import msgspec
import zmq


class Position(msgspec.Struct, frozen=True, array_like=True, tag_field="t", tag="position@1"):
    strategy: str
    segment: int
    security_id: int
    net_qty_units: int
    open_cost_paise: int
    realised_pnl_paise: int
    unrealised_pnl_paise: int
    charges_paise: int
    ts_event_ns: int
    ts_init_ns: int


class Tick(msgspec.Struct, frozen=True, array_like=True, tag_field="t", tag="tick@1"):
    segment: int
    security_id: int
    ltp_paise: int
    ts_event_ns: int
    ts_init_ns: int


decoder = msgspec.msgpack.Decoder(Position | Tick)


def rupees(paise: int) -> str:
    sign = "-" if paise < 0 else ""
    return f"{sign}₹{abs(paise) // 100:,}.{abs(paise) % 100:02d}"


def load_client_keys(path: str | None) -> tuple[bytes, bytes]:
    """The client's own key pair: from a zmq certificate file, or a fresh one (fine when the
    gateway lets any CURVE client in; an allow-list needs a known key)."""
    if path:
        import zmq.auth
        public, secret = zmq.auth.load_certificate(path)
        if not secret:
            sys.exit(f"{path} holds no secret key")
        return public, secret
    return zmq.curve_keypair()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:7480")
    ap.add_argument("--server-key", default="", help="the gateway's Z85 public key (enables CURVE)")
    ap.add_argument("--client-key-file", default="", help="zmq certificate with this client's secret key")
    ap.add_argument("--ticks", action="store_true", help="also print ticks")
    ap.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: run until Ctrl-C)")
    args = ap.parse_args(argv)

    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    if args.server_key:
        public, secret = load_client_keys(args.client_key_file)
        sock.setsockopt(zmq.CURVE_SERVERKEY, args.server_key.encode())
        sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
    sock.connect(args.endpoint)
    sock.setsockopt(zmq.SUBSCRIBE, b"position.")
    if args.ticks:
        sock.setsockopt(zmq.SUBSCRIBE, b"tick.")

    # (strategy, segment, security id) -> latest position; P&L per strategy is their sum.
    book: dict[tuple[str, int, int], Position] = {}
    deadline = time.monotonic() + args.seconds if args.seconds > 0 else None
    try:
        while deadline is None or time.monotonic() < deadline:
            if not sock.poll(200):
                continue
            topic, payload = sock.recv_multipart()
            try:
                msg = decoder.decode(payload)
            except msgspec.DecodeError:  # a schema this client does not know: skip it
                continue
            if isinstance(msg, Tick):
                print(f"tick {topic.decode()} ltp {rupees(msg.ltp_paise)}", flush=True)
                continue
            book[(msg.strategy, msg.segment, msg.security_id)] = msg
            legs = [p for p in book.values() if p.strategy == msg.strategy]
            realised = sum(p.realised_pnl_paise for p in legs)
            unrealised = sum(p.unrealised_pnl_paise for p in legs)
            charges = sum(p.charges_paise for p in legs)
            print(f"pnl {msg.strategy} net {rupees(realised + unrealised - charges)} "
                  f"realised {rupees(realised)} unrealised {rupees(unrealised)} charges {rupees(charges)} "
                  f"open {sum(1 for p in legs if p.net_qty_units)}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
