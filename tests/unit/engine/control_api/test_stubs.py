"""The checked-in gRPC stubs are exactly what the .proto generates with the locked grpcio-tools."""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

from engine.control_api import generate
from tests.support.daemon import short_tmpdir


def test_the_installed_generator_is_the_locked_one() -> None:
    # The byte-for-byte check below only means something with the generator the lock pins; a
    # different one (an environment not built by ./dev) is named here instead of as "stale stubs".
    lock = (Path(__file__).resolve().parents[4] / "requirements.lock").read_text()
    pinned = re.search(r"^grpcio-tools==(\S+)", lock, re.MULTILINE)
    assert pinned, "requirements.lock pins no grpcio-tools"
    assert metadata.version("grpcio-tools") == pinned.group(1), (
        "grpcio-tools differs from requirements.lock: reinstall with ./dev")


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
