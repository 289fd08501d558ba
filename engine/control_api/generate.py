"""Regenerate the Python stubs of the control API from ``proto/shikra/v1/control.proto``.

    python -m engine.control_api.generate            # rewrite engine/control_api/control_pb2*.py
    python -m engine.control_api.generate --out DIR  # write them to DIR instead (the drift test)

protoc names the stubs after the proto's path (``shikra/v1/control_pb2.py``) and makes the gRPC
module import ``shikra.v1.control_pb2``: a top-level ``shikra`` package we do not ship. The stubs
are moved into this package and that one import is rewritten; the descriptor keeps its canonical
name ``shikra/v1/control.proto`` (what reflection serves and other languages import).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from importlib import resources
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"
PROTO_FILE = "shikra/v1/control.proto"
PACKAGE_DIR = Path(__file__).resolve().parent
STUBS = ("control_pb2.py", "control_pb2.pyi", "control_pb2_grpc.py")
_GENERATED_IMPORT = "from shikra.v1 import control_pb2 as"
_PACKAGE_IMPORT = "from engine.control_api import control_pb2 as"


class GenerateError(Exception):
    """protoc failed or produced something unexpected; the message has protoc's exit code."""


def generate(out_dir: Path) -> list[Path]:
    """Run protoc (grpc_tools, bundled) on the proto and write the three stub files to
    ``out_dir``. Returns their paths. Raises GenerateError if protoc fails."""
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory(prefix="shikra-protoc-") as tmp:
        code = protoc.main([
            "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{well_known}",
            f"--python_out={tmp}", f"--pyi_out={tmp}", f"--grpc_python_out={tmp}", PROTO_FILE,
        ])
        if code != 0:
            raise GenerateError(f"protoc exited with {code} for {PROTO_ROOT / PROTO_FILE}")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name in STUBS:
            text = (Path(tmp) / "shikra" / "v1" / name).read_text()
            if name.endswith("_grpc.py"):
                if _GENERATED_IMPORT not in text:
                    raise GenerateError(f"{name}: expected the line '{_GENERATED_IMPORT} ...' from protoc")
                text = text.replace(_GENERATED_IMPORT, _PACKAGE_IMPORT)
            target = out_dir / name
            target.write_text(text)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.control_api.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=PACKAGE_DIR, help=f"output directory (default {PACKAGE_DIR})")
    args = parser.parse_args(argv)
    try:
        for path in generate(args.out):
            print(f"wrote {path}")
    except GenerateError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
