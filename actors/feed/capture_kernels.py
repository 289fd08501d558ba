"""The block reader's numba kernels (``actors.feed.capture.CaptureReader.blocks``): a module of
their own so that writing a capture, or reading it record by record, never imports numba."""

from __future__ import annotations

import numpy as np
from numba import njit

OK, HUGE = 0, 1  # scan_records' statuses: whole records read / a record claims too many bytes


@njit(cache=True)
def scan_records(u8, max_frames, max_frame_bytes):  # type: ignore[no-untyped-def]
    """Walk the whole records at the start of ``u8`` (at most ``max_frames``): their receive
    times, frame offsets and lengths, how many, where the next record starts, and a status
    (``HUGE`` when a record claims more than ``max_frame_bytes``; ``next`` is its offset)."""
    recv = np.empty(max_frames, dtype=np.int64)
    offs = np.empty(max_frames, dtype=np.int64)
    lens = np.empty(max_frames, dtype=np.int64)
    size = u8.size
    p = 0
    k = 0
    while k < max_frames and p + 12 <= size:
        t = np.int64(0)
        for b in range(7, -1, -1):
            t = (t << 8) | np.int64(u8[p + b])
        n = np.int64(u8[p + 8]) | (np.int64(u8[p + 9]) << 8) | (np.int64(u8[p + 10]) << 16) \
            | (np.int64(u8[p + 11]) << 24)
        if n > max_frame_bytes:
            return recv[:k], offs[:k], lens[:k], k, p, HUGE
        if p + 12 + n > size:
            break
        recv[k] = t
        offs[k] = p + 12
        lens[k] = n
        k += 1
        p += 12 + n
    return recv[:k], offs[:k], lens[:k], k, p, OK


@njit(cache=True)
def gather_frames(u8, offs, lens, total):  # type: ignore[no-untyped-def]
    out = np.empty(total, dtype=np.uint8)
    q = 0
    for i in range(offs.size):
        o = offs[i]
        for j in range(lens[i]):
            out[q + j] = u8[o + j]
        q += lens[i]
    return out


def warmup() -> None:
    """Compile (or load from numba's cache) the block reader's kernels."""
    # One record as the capture format lays it out: u64 receive time 1, u32 length 3, 3 bytes.
    u8 = np.frombuffer((1).to_bytes(8, "little") + (3).to_bytes(4, "little") + b"abc", dtype=np.uint8)
    _, offs, lens, k, _, _ = scan_records(u8, 4, 16)
    gather_frames(u8, offs, lens, int(lens.sum()))
