"""Small files that must never be half-written: operator decisions kept in the data directory."""

from __future__ import annotations

import os
from pathlib import Path


def replace_file(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temp file and a rename, so a crash leaves the old or
    the new file, never half of one. ``durable`` also fsyncs the file and its directory, so the
    decision survives a power loss (these files change a few times a day, never per order)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if durable:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
