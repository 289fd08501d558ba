"""Capture files: raw feed frames with their receive times, for replay.

Format (little-endian), version 1::

    header  16 bytes: magic b"SHKCAPT1" | u16 version (1) | u16 feed kind (0 market, 1 depth20,
                      2 depth200, 3 kite) | u32 reserved (0)
    record  12 + n bytes, repeated: u64 receive time (ns since the epoch, UTC) | u32 n | n frame bytes

A truncated last record (the recorder was killed mid-write) is ignored by the reader and reported.

Two ways to read: record by record (``iter(reader)``), or in blocks of many frames laid back to
back in one buffer (``reader.blocks(n)``, what a fast replay and the columnar decoder want); both
see the same frames and the same truncated tail.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Iterator, NamedTuple

import numpy as np

from actors.feed.wire import FEED_KINDS, FeedKind

MAGIC = b"SHKCAPT1"
VERSION = 1
HEADER = struct.Struct("<8sHHI")
RECORD = struct.Struct("<QI")
# The header stores the feed as its index in wire.FEED_KINDS (market 0, depth20 1, depth200 2, kite 3).
FEED_CODES: dict[str, int] = {kind: code for code, kind in enumerate(FEED_KINDS)}
MAX_FRAME_BYTES = 16 * 1024 * 1024



class CaptureError(Exception):
    pass


class FrameBlock(NamedTuple):
    """Consecutive frames of a capture: frame ``i`` is the next ``lengths[i]`` bytes of ``frames``
    (back to back, record headers removed), received at ``recv_ns[i]``."""

    frames: bytes
    lengths: np.ndarray  # int64
    recv_ns: np.ndarray  # int64, ns since the epoch (UTC)

    def frame(self, i: int, start: int) -> bytes:
        """Frame ``i``, given where it starts (the sum of the lengths before it)."""
        return self.frames[start : start + int(self.lengths[i])]


_READ_CHUNK = 1 << 21  # bytes read at a time by blocks()


class CaptureWriter:
    def __init__(self, path: str | Path, feed: FeedKind = "market") -> None:
        self.path = Path(path)
        self._f: BinaryIO = open(self.path, "wb")
        self._f.write(HEADER.pack(MAGIC, VERSION, FEED_CODES[feed], 0))
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
        kinds = dict(enumerate(FEED_KINDS))
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

    def blocks(self, max_frames: int) -> Iterator[FrameBlock]:
        """The capture's frames, at most ``max_frames`` per block, in order. Same frames, same
        ``truncated_tail`` and same CaptureError (a record claiming too many bytes) as ``iter``."""
        if max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {max_frames}")
        # Here, not at the top: only a replay in blocks runs (and imports) numba kernels.
        from actors.feed.capture_kernels import HUGE, OK, gather_frames, scan_records

        with open(self.path, "rb") as f:
            f.seek(HEADER.size)
            base = HEADER.size  # file offset of pending[0]
            pending = b""
            eof = False
            starved = True  # the last pass found no whole record: read more before trying again
            while True:
                if not eof and (starved or len(pending) < _READ_CHUNK):
                    chunk = f.read(_READ_CHUNK)
                    eof = not chunk
                    pending += chunk
                u8 = np.frombuffer(pending, dtype=np.uint8)
                recv, offs, lens, k, nxt, status = scan_records(u8, max_frames, MAX_FRAME_BYTES)
                if k:
                    frames = gather_frames(u8, offs, lens, int(lens.sum())).tobytes()
                    yield FrameBlock(frames, lens, recv)
                if status == HUGE and k == 0:
                    n = int.from_bytes(pending[nxt + 8 : nxt + 12], "little")
                    raise CaptureError(f"{self.path}: record at offset {base + nxt} claims {n} bytes")
                pending = pending[nxt:]
                base += nxt
                starved = k == 0
                if k == 0 and status == OK and eof:
                    if pending:
                        self.truncated_tail = True
                    return
