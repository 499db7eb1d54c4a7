"""digests.periods (which period, when due) and digests.chart (the PNG), pure."""

from __future__ import annotations

import datetime as dt
import struct
import zlib

import pytest

from digests.chart import BAR, EMPTY, bar_chart
from digests.periods import MONDAY, MONTHLY, SUNDAY, WEEKLY, Period, due, last_complete

D = dt.date


@pytest.mark.parametrize(
    ("today", "week_start", "first", "last"),
    [
        (D(2026, 12, 7), MONDAY, D(2026, 11, 30), D(2026, 12, 6)),  # a Monday
        (D(2026, 12, 9), MONDAY, D(2026, 11, 30), D(2026, 12, 6)),  # a Wednesday
        (D(2026, 12, 6), MONDAY, D(2026, 11, 23), D(2026, 11, 29)),  # a Sunday
        (D(2026, 12, 6), SUNDAY, D(2026, 11, 29), D(2026, 12, 5)),
        (D(2026, 12, 12), SUNDAY, D(2026, 11, 29), D(2026, 12, 5)),  # a Saturday
        (D(2027, 1, 4), MONDAY, D(2026, 12, 28), D(2027, 1, 3)),  # across the new year
    ],
)
def test_the_last_whole_week(
    today: dt.date, week_start: int, first: dt.date, last: dt.date
) -> None:
    assert last_complete(WEEKLY, today, week_start) == Period(first, last)


@pytest.mark.parametrize(
    ("today", "first", "last"),
    [
        (D(2026, 12, 1), D(2026, 11, 1), D(2026, 11, 30)),
        (D(2026, 12, 31), D(2026, 11, 1), D(2026, 11, 30)),
        (D(2026, 3, 1), D(2026, 2, 1), D(2026, 2, 28)),
        (D(2028, 3, 15), D(2028, 2, 1), D(2028, 2, 29)),
        (D(2027, 1, 1), D(2026, 12, 1), D(2026, 12, 31)),
    ],
)
def test_the_last_whole_month(today: dt.date, first: dt.date, last: dt.date) -> None:
    assert last_complete(MONTHLY, today) == Period(first, last)


def test_labels() -> None:
    assert Period(D(2026, 11, 1), D(2026, 11, 30)).label() == "November 2026"
    assert Period(D(2026, 11, 30), D(2026, 12, 6)).label() == "Nov 30 – Dec 6, 2026"
    assert Period(D(2026, 12, 28), D(2027, 1, 3)).label() == "Dec 28, 2026 – Jan 3, 2027"
    assert Period(D(2026, 11, 30), D(2026, 12, 6)).days == 7


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_due_from_seven_in_the_morning_of_the_new_week_in_the_sites_zone() -> None:
    zone = "Asia/Tokyo"  # UTC+9: Monday 07:00 there is Sunday 22:00 UTC
    assert due(WEEKLY, _utc(2026, 12, 6, 21, 59), zone, None) is None
    period = due(WEEKLY, _utc(2026, 12, 6, 22, 0), zone, None)
    assert period == Period(D(2026, 11, 30), D(2026, 12, 6))
    # once sent, not again; the next one a week later
    assert due(WEEKLY, _utc(2026, 12, 9, 12, 0), zone, D(2026, 11, 30)) is None
    assert due(WEEKLY, _utc(2026, 12, 13, 22, 0), zone, D(2026, 11, 30)) == Period(
        D(2026, 12, 7), D(2026, 12, 13)
    )


def test_a_late_run_still_sends_the_period_it_missed_once() -> None:
    # the runner was down on Monday: on Thursday the last week is still due, once
    assert due(WEEKLY, _utc(2026, 12, 10, 3, 0), "UTC", D(2026, 11, 23)) == Period(
        D(2026, 11, 30), D(2026, 12, 6)
    )
    assert due(MONTHLY, _utc(2026, 12, 1, 6, 59), "UTC", D(2026, 10, 1)) is None
    assert due(MONTHLY, _utc(2026, 12, 1, 7, 0), "UTC", D(2026, 10, 1)) == Period(
        D(2026, 11, 1), D(2026, 11, 30)
    )


def test_a_dst_change_does_not_move_the_day() -> None:
    # Europe/Berlin leaves summer time on 2026-10-25: Monday 26th 07:00 is 06:00 UTC
    assert due(WEEKLY, _utc(2026, 10, 26, 5, 59), "Europe/Berlin", None) is None
    assert due(WEEKLY, _utc(2026, 10, 26, 6, 0), "Europe/Berlin", None) == Period(
        D(2026, 10, 19), D(2026, 10, 25)
    )


def _pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    position, chunks = 8, {}
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        data = png[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", png[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + data)
        chunks.setdefault(kind, b"")
        chunks[kind] += data
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 3 * width
    return width, height, [raw[y * stride + 1 : (y + 1) * stride] for y in range(height)]


def _column_height(rows: list[bytes], x: int, colour: tuple[int, int, int]) -> int:
    return sum(1 for row in rows if row[3 * x : 3 * x + 3] == bytes(colour))


def test_the_chart_is_a_valid_png_with_bars_in_proportion() -> None:
    width, height, rows = _pixels(bar_chart([10, 5, 0, 20], width=200, height=100))
    assert (width, height) == (200, 100)
    # four slots of 46 px from x=8: sample each bar's middle
    heights = [_column_height(rows, 8 + 46 * i + 15, BAR) for i in range(4)]
    assert heights == [42, 21, 0, 84]  # 84 px usable: 20 → 84, 10 → 42, 5 → 21
    assert _column_height(rows, 8 + 46 * 2 + 15, EMPTY) == 1  # an empty day is a grey line


def test_a_chart_of_nothing_or_of_many_days_still_draws() -> None:
    assert _pixels(bar_chart([]))[0] == 560
    assert _pixels(bar_chart([0] * 31))[1] == 140
    _, _, rows = _pixels(bar_chart([1] * 600))  # more bars than pixels: still an image
    assert any(bytes(BAR) in row for row in rows)
