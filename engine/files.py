"""Files that must never be half-written: the one way the project replaces a file.

A reader (another process, or the next start after a crash) sees the old file or the new one,
never half of one: the data goes to a temp file beside the target, which is then renamed over it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def replacing(path: Path | str, *, durable: bool = True, mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary file to write the new content of ``path`` into; ``path`` is replaced when the
    block ends without an exception (the temp file is removed when it raises).

    ``durable`` also fsyncs the file and its directory, so the change survives a power loss (for
    decisions kept in the data directory; not for status files the next start rewrites anyway).
    ``mode`` sets the permission bits exactly (``0o600`` for secrets); None: ``0o666`` less the
    umask, as ``open()`` would. Raises OSError when the directory cannot be written."""
    path = Path(path)
    # A random part: two writers of the same file (threads, or a pid reused after a crash that
    # left a temp file behind) never share a temp file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666 if mode is None else mode)
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # exactly these bits, whatever the umask
        with os.fdopen(fd, "wb") as f:
            fd = -1  # the file object owns it now
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def replace_file(path: Path | str, data: bytes, durable: bool = True, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`replacing` for ``durable`` and
    ``mode``)."""
    with replacing(path, durable=durable, mode=mode) as f:
        f.write(data)
