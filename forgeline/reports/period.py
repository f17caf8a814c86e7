"""A report's period: a month (``2026-10``) or a range of days (``2026-10-01..2026-10-31``), both ends in.

By default, the last full month the client's data covers (the latest month its data runs through to the
end); when the data covers no full month, the latest month it has any day of.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from forgeline import i18n
from forgeline.i18n import _

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


class PeriodError(ValueError):
    """A period that cannot be read; the message shows how to write one."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def is_month(self) -> bool:
        return self.start.day == 1 and self.end == _month_end(self.start)

    @property
    def slug(self) -> str:
        """For file names: ``2026-10`` or ``2026-10-01_2026-10-31``."""
        return f"{self.start:%Y-%m}" if self.is_month else f"{self.start:%Y-%m-%d}_{self.end:%Y-%m-%d}"

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def label(self) -> str:
        """As people read it, in the current language: '2026년 10월', '1 October 2026 – 15 October 2026'."""
        if self.is_month:
            return i18n.month(self.start)
        return f"{i18n.day(self.start)} – {i18n.day(self.end)}"

    def __str__(self) -> str:
        return f"{self.start:%Y-%m}" if self.is_month else f"{self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}"


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def month(year: int, month_number: int) -> Period:
    first = date(year, month_number, 1)
    return Period(first, _month_end(first))


def parse_period(text: str) -> Period:
    """``2026-10`` (a month) or ``2026-10-01..2026-10-31`` (days, both included)."""
    text = text.strip()
    try:
        if found := _MONTH.match(text):
            return month(int(found[1]), int(found[2]))
        if found := _RANGE.match(text):
            start, end = date.fromisoformat(found[1]), date.fromisoformat(found[2])
            if end < start:
                raise PeriodError(_("The period {period} ends before it starts.").format(period=text))
            return Period(start, end)
    except ValueError as exc:
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(_("{period} is not a date: {error}.").format(period=text, error=exc)) from exc
    raise PeriodError(
        _(
            "Write the period as a month (2026-10) or as days (2026-10-01..2026-10-31), not {period!r}."
        ).format(period=text)
    )


def last_full_month(first_day: date, last_day: date) -> Period:
    """The last month the data (from ``first_day`` to ``last_day``) runs through to its end; without one,
    the month of ``last_day``."""
    latest = month(last_day.year, last_day.month)
    if latest.end == last_day:
        return latest
    previous = latest.start - timedelta(days=1)
    candidate = month(previous.year, previous.month)
    return candidate if candidate.end >= first_day else latest


def previous_month(at: datetime, timezone: str) -> Period:
    """The calendar month before the one ``at`` falls in, in the client's time zone (what a monthly schedule
    reports: run on the 1st, last month, whatever days its data has)."""
    local = (at if at.tzinfo else at.replace(tzinfo=ZoneInfo("UTC"))).astimezone(ZoneInfo(timezone)).date()
    before = local.replace(day=1) - timedelta(days=1)
    return month(before.year, before.month)


def period_before(period: Period) -> Period:
    """The period to compare ``period`` with: the month before a month, else as many days just before."""
    if period.is_month:
        previous = period.start - timedelta(days=1)
        return month(previous.year, previous.month)
    length = period.end - period.start
    end = period.start - timedelta(days=1)
    return Period(end - length, end)
