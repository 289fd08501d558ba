"""The checked-in gRPC stubs are exactly what the .proto generates."""

from __future__ import annotations

import shutil

from engine.control_api import generate
from tests.support.daemon import short_tmpdir


def test_checked_in_stubs_match_the_proto_byte_for_byte() -> None:
    out = short_tmpdir("sk-stubs-")
    try:
        written = generate.generate(out)
        assert sorted(p.name for p in written) == sorted(generate.STUBS)
        for path in written:
            checked_in = generate.PACKAGE_DIR / path.name
            assert checked_in.read_bytes() == path.read_bytes(), (
                f"{checked_in} is stale: run `python -m engine.control_api.generate`")
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_stubs_live_in_the_engine_package_and_keep_the_canonical_proto_name() -> None:
    from engine.control_api import control_pb2, control_pb2_grpc

    assert control_pb2.DESCRIPTOR.name == "shikra/v1/control.proto"
    assert control_pb2.DESCRIPTOR.package == "shikra.v1"
    assert control_pb2_grpc.shikra_dot_v1_dot_control__pb2 is control_pb2  # no top-level `shikra` module
