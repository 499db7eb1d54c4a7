"""Which period a report covers and when it is due: pure date arithmetic, no I/O.

A weekly report covers the last whole week before the recipient's week starts (Monday or
Sunday, chosen per subscription), a monthly one the last whole calendar month; both in the
site's time zone. It is due from `SEND_HOUR` on the first day of the new week or month
(local time), so it arrives at the start of the recipient's week, and is sent once per
period (the subscription remembers the last period sent).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

WEEKLY = "weekly"
MONTHLY = "monthly"
FREQUENCIES = (WEEKLY, MONTHLY)
MONDAY, SUNDAY = 0, 6
SEND_HOUR = 7  # local time on the first day of the new period


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def label(self) -> str:
        if self.first.day == 1 and (self.last + dt.timedelta(days=1)).day == 1:
            return self.first.strftime("%B %Y")
        first = f"{self.first:%b} {self.first.day}"
        last = f"{self.last:%b} {self.last.day}, {self.last.year}"
        if self.first.year != self.last.year:
            return f"{first}, {self.first.year} – {last}"
        return f"{first} – {last}"


def last_complete(frequency: str, today: dt.date, week_start: int = MONDAY) -> Period:
    """The last whole week or month that ended before `today` (a local date)."""
    if frequency == WEEKLY:
        back = (today.weekday() - week_start) % 7
        this_week = today - dt.timedelta(days=back)
        return Period(this_week - dt.timedelta(days=7), this_week - dt.timedelta(days=1))
    if frequency == MONTHLY:
        this_month = today.replace(day=1)
        last = this_month - dt.timedelta(days=1)
        return Period(last.replace(day=1), last)
    raise ValueError(f"unknown frequency {frequency!r}")


def due(
    frequency: str,
    now: dt.datetime,
    timezone: str,
    last_sent: dt.date | None,
    week_start: int = MONDAY,
) -> Period | None:
    """The period to send now, or None: nothing new since `last_sent` (a period's first
    day), or the new period's first day has not reached `SEND_HOUR` yet."""
    local = now.astimezone(ZoneInfo(timezone))
    period = last_complete(frequency, local.date(), week_start)
    if last_sent is not None and last_sent >= period.first:
        return None
    started = period.last + dt.timedelta(days=1)
    if local.date() == started and local.hour < SEND_HOUR:
        return None
    return period
