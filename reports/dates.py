"""Date ranges in a site's time zone, as the Stats API names them (docs/reports.md).

A range is a span of whole local days, `first`..`last` inclusive. ClickHouse compares
event times against its UTC bounds: `start` (local midnight starting `first`) and `end`
(local midnight after `last`, exclusive), so a day in a UTC−8 site starts at 08:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from accounts.errors import ServiceError
from sites.services import timezone_names

NAMED = ("day", "7d", "28d", "30d", "91d", "month", "6mo", "12mo", "year", "all")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EARLIEST = dt.date(2000, 1, 1)


def zone(name: str) -> ZoneInfo:
    """A known IANA time zone (the list sites are checked against), else a 400."""
    if name not in timezone_names():
        raise ServiceError(f"unknown time zone {name!r}", field="timezone")
    return ZoneInfo(name)


@dataclass(frozen=True)
class DateRange:
    first: dt.date
    last: dt.date
    timezone: str

    @property
    def start(self) -> dt.datetime:
        return _midnight(self.first, self.timezone)

    @property
    def end(self) -> dt.datetime:
        return _midnight(self.last + dt.timedelta(days=1), self.timezone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def shifted(self, days: int) -> DateRange:
        step = dt.timedelta(days=days)
        return DateRange(self.first + step, self.last + step, self.timezone)

    def previous_period(self) -> DateRange:
        """The same number of days just before this range."""
        return self.shifted(-self.days)

    def year_over_year(self) -> DateRange:
        return DateRange(_year_back(self.first), _year_back(self.last), self.timezone)


def _midnight(day: dt.date, timezone: str) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


def _year_back(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _month_start(day: dt.date, months_back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(day: dt.date) -> dt.date:
    return _month_start(day, -1) - dt.timedelta(days=1)


def today_in(timezone: str, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(zone(timezone)).date()


def parse_date(value: object, field: str) -> dt.date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ServiceError(f"expected a date as YYYY-MM-DD, got {value!r}", field=field)
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ServiceError(f"{value!r} is not a date", field=field) from None
    if day < EARLIEST:
        raise ServiceError(f"{value!r} is before {EARLIEST.isoformat()}", field=field)
    return day


def resolve(
    value: object,
    *,
    timezone: str,
    first_day: dt.date | None = None,
    now: dt.datetime | None = None,
    field: str = "date_range",
) -> DateRange:
    """A Stats API `date_range` (a name or `[first, last]`) as local days.

    `first_day` is where "all" begins (the site's first data); `now` is for tests.
    """
    today = today_in(timezone, now)
    if isinstance(value, list):
        if len(value) != 2:
            raise ServiceError("expected [first, last] dates", field=field)
        first = parse_date(value[0], f"{field}[0]")
        last = parse_date(value[1], f"{field}[1]")
        if last < first:
            raise ServiceError("the last date is before the first", field=field)
        if (last - first).days > 366 * 20:
            raise ServiceError("a range may span at most 20 years", field=field)
        return DateRange(first, last, timezone)
    if value == "day":
        return DateRange(today, today, timezone)
    if isinstance(value, str) and value.endswith("d") and value in NAMED:
        days = int(value[:-1])
        return DateRange(today - dt.timedelta(days=days - 1), today, timezone)
    if value == "month":
        return DateRange(_month_start(today, 0), _month_end(today), timezone)
    if value in ("6mo", "12mo"):
        months = 6 if value == "6mo" else 12
        return DateRange(_month_start(today, months - 1), _month_end(today), timezone)
    if value == "year":
        return DateRange(dt.date(today.year, 1, 1), dt.date(today.year, 12, 31), timezone)
    if value == "all":
        first = min(first_day or today, today)
        return DateRange(first, today, timezone)
    raise ServiceError(
        f"unknown date range {value!r}; use one of {', '.join(NAMED)} or [first, last]",
        field=field,
    )


def time_labels(span: DateRange, interval: str) -> list[str]:
    """Every time bucket of the range, as the `time:<interval>` dimension labels it."""
    if interval == "hour":
        tz = ZoneInfo(span.timezone)
        labels: list[str] = []
        moment = span.start
        while moment < span.end:
            label = moment.astimezone(tz).strftime("%Y-%m-%d %H:00:00")
            if not labels or labels[-1] != label:
                labels.append(label)
            moment += dt.timedelta(hours=1)
        return labels
    days = [span.first + dt.timedelta(days=i) for i in range(span.days)]
    if interval == "day":
        return [day.isoformat() for day in days]
    if interval == "week":
        starts = [day for day in days if day == span.first or day.weekday() == 0]
    elif interval == "month":
        starts = [day for day in days if day == span.first or day.day == 1]
    else:
        raise ValueError(f"unknown interval {interval!r}")
    return [day.isoformat() for day in starts]


def default_interval(span: DateRange) -> str:
    """The interval of the `time` dimension: hours for a day, days up to ~6 weeks, else months."""
    if span.days <= 1:
        return "hour"
    if span.days <= 40:
        return "day"
    return "month"
