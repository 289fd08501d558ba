"""Line charts as PNG files without a plotting library: a small rasteriser and the PNG encoder.

Pure and deterministic: the same series always gives the same bytes. The chart has a frame, a
dashed zero line when zero is in range, faint grid lines and the series drawn as a polyline;
no text (the figures themselves are in report.json). Values may be any real numbers (paise here).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Final

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
Rgb = tuple[int, int, int]

BACKGROUND: Final[Rgb] = (255, 255, 255)
FRAME: Final[Rgb] = (60, 60, 60)
GRID: Final[Rgb] = (225, 225, 225)
ZERO: Final[Rgb] = (150, 150, 150)
MARGIN_PX: Final = 12
GRID_LINES: Final = 4


class _Canvas:
    def __init__(self, width_px: int, height_px: int) -> None:
        self.w = width_px
        self.h = height_px
        self.px = bytearray(bytes(BACKGROUND) * (width_px * height_px))

    def set(self, x: int, y: int, rgb: Rgb) -> None:
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(rgb)

    def hline(self, y: int, x0: int, x1: int, rgb: Rgb, dash: int = 0) -> None:
        for x in range(x0, x1 + 1):
            if not dash or (x // dash) % 2 == 0:
                self.set(x, y, rgb)

    def vline(self, x: int, y0: int, y1: int, rgb: Rgb) -> None:
        for y in range(min(y0, y1), max(y0, y1) + 1):
            self.set(x, y, rgb)

    def line(self, x0: int, y0: int, x1: int, y1: int, rgb: Rgb) -> None:
        """Bresenham, two pixels thick (so a one-trade curve is still visible)."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.set(x0, y0, rgb)
            self.set(x0, y0 + 1, rgb)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3]) for y in range(self.h))
        return (PNG_SIGNATURE
                + _chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0))
                + _chunk(b"IDAT", zlib.compress(raw, 9))
                + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def line_chart_png(values: Sequence[float], rgb: Rgb, width_px: int = 800, height_px: int = 300) -> bytes:
    """A PNG (RGB, 8 bit) of ``values`` as a line from left to right; an empty series gives the
    frame alone. Raises ValueError for a size too small to draw in."""
    if width_px <= 2 * MARGIN_PX + 1 or height_px <= 2 * MARGIN_PX + 1:
        raise ValueError(f"chart size {width_px}x{height_px} px is too small (margin {MARGIN_PX} px)")
    c = _Canvas(width_px, height_px)
    left, right, top, bottom = MARGIN_PX, width_px - 1 - MARGIN_PX, MARGIN_PX, height_px - 1 - MARGIN_PX
    for k in range(1, GRID_LINES):
        c.hline(top + (bottom - top) * k // GRID_LINES, left, right, GRID)
    lo = min(min(values, default=0.0), 0.0)
    hi = max(max(values, default=0.0), 0.0)
    span = (hi - lo) or 1.0

    def y_of(v: float) -> int:
        return bottom - round((v - lo) / span * (bottom - top))

    if lo < 0.0 < hi:
        c.hline(y_of(0.0), left, right, ZERO, dash=4)
    n = len(values)
    if n:
        xs = [left + (round(i * (right - left) / (n - 1)) if n > 1 else 0) for i in range(n)]
        ys = [y_of(v) for v in values]
        if n == 1:
            c.line(xs[0], ys[0], right, ys[0], rgb)
        for i in range(1, n):
            c.line(xs[i - 1], ys[i - 1], xs[i], ys[i], rgb)
    c.hline(top, left, right, FRAME)
    c.hline(bottom, left, right, FRAME)
    c.vline(left, top, bottom, FRAME)
    c.vline(right, top, bottom, FRAME)
    return c.png()


def write_line_chart(path: str | Path, values: Sequence[float], rgb: Rgb) -> None:
    Path(path).write_bytes(line_chart_png(values, rgb))


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR; raises ValueError for bytes that are not a PNG."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG (signature or IHDR missing)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height
