"""Capture files: raw feed frames with their receive times, for replay.

Format (little-endian), version 1::

    header  16 bytes: magic b"SHKCAPT1" | u16 version (1) | u16 feed kind (0 market, 1 depth20,
                      2 depth200) | u32 reserved (0)
    record  12 + n bytes, repeated: u64 receive time (ns since the epoch, UTC) | u32 n | n frame bytes

A truncated last record (the recorder was killed mid-write) is ignored by the reader and reported.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Iterator, Literal

MAGIC = b"SHKCAPT1"
VERSION = 1
HEADER = struct.Struct("<8sHHI")
RECORD = struct.Struct("<QI")
FEED_KINDS: dict[str, int] = {"market": 0, "depth20": 1, "depth200": 2}
MAX_FRAME_BYTES = 16 * 1024 * 1024

FeedKind = Literal["market", "depth20", "depth200"]


class CaptureError(Exception):
    pass


class CaptureWriter:
    def __init__(self, path: str | Path, feed: FeedKind = "market") -> None:
        self.path = Path(path)
        self._f: BinaryIO = open(self.path, "wb")
        self._f.write(HEADER.pack(MAGIC, VERSION, FEED_KINDS[feed], 0))
        self.frames = 0

    def write(self, recv_ns: int, frame: bytes) -> None:
        self._f.write(RECORD.pack(recv_ns, len(frame)))
        self._f.write(frame)
        self.frames += 1

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "CaptureWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CaptureReader:
    """Iterate ``(recv_ns, frame)``; raises CaptureError for a file that is not a capture."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.truncated_tail = False
        with open(self.path, "rb") as f:
            head = f.read(HEADER.size)
        if len(head) < HEADER.size:
            raise CaptureError(f"{self.path}: too short to be a capture ({len(head)} bytes)")
        magic, version, feed, _ = HEADER.unpack(head)
        if magic != MAGIC:
            raise CaptureError(f"{self.path}: not a Shikra capture (magic {magic!r})")
        if version != VERSION:
            raise CaptureError(f"{self.path}: capture version {version} is not supported (this build reads {VERSION})")
        kinds = {v: k for k, v in FEED_KINDS.items()}
        if feed not in kinds:
            raise CaptureError(f"{self.path}: unknown feed kind {feed}")
        self.feed: FeedKind = kinds[feed]  # type: ignore[assignment]

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        with open(self.path, "rb") as f:
            f.seek(HEADER.size)
            offset = HEADER.size
            while True:
                head = f.read(RECORD.size)
                if not head:
                    return
                if len(head) < RECORD.size:
                    self.truncated_tail = True
                    return
                recv_ns, n = RECORD.unpack(head)
                if n > MAX_FRAME_BYTES:
                    raise CaptureError(f"{self.path}: record at offset {offset} claims {n} bytes")
                frame = f.read(n)
                if len(frame) < n:
                    self.truncated_tail = True
                    return
                offset += RECORD.size + n
                yield recv_ns, frame
