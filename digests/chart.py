"""A small bar chart as a PNG, for the report mail (an inline image every mail client shows;
SVG is not). Pure Python: a pixel buffer, bars as rectangles, the PNG written with zlib."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

WIDTH, HEIGHT = 560, 140
PADDING = 8
BACKGROUND = (255, 255, 255)
BAR = (79, 70, 229)  # the dashboard's accent
EMPTY = (224, 227, 235)  # a day without visitors: a thin grey line, so the day is seen


def bar_chart(values: Sequence[float], width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """One bar per value, scaled to the largest; PNG bytes (RGB, 8 bits)."""
    pixels = [bytearray(bytes(BACKGROUND) * width) for _ in range(height)]
    count = max(1, len(values))
    top = max([v for v in values if v > 0], default=0)
    slot = (width - 2 * PADDING) / count
    gap = max(1, int(slot * 0.2))
    usable = height - 2 * PADDING
    for index, value in enumerate(values):
        left = PADDING + int(index * slot)
        right = max(left + 1, PADDING + int((index + 1) * slot) - gap)
        if value > 0 and top > 0:
            bar, colour = max(1, round(usable * value / top)), BAR
        else:
            bar, colour = 1, EMPTY
        for y in range(height - PADDING - bar, height - PADDING):
            pixels[y][left * 3 : right * 3] = bytes(colour) * (right - left)
    return _png(width, height, pixels)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, rows: list[bytearray]) -> bytes:
    raw = b"".join(b"\x00" + bytes(row) for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )
