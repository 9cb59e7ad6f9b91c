"""Calendar administration: an operator loads a year's official holiday schedule (a file or a
pasted list), sees it before it is stored, and sees which years are covered and by what.

The ``chinese-calendar`` package covers the years it was published for (2026 at most today); a
year past that is counted Monday to Friday with a warning on every quote (domain/calendar.py).
The State Council publishes the next year's schedule each November: loading it here ends those
warnings without waiting for a new package. Stored years (``calendar_years``) are merged into the
running calendar as operator overrides; the overrides file (``KAMENG_CALENDAR_FILE``), the
operator's explicit configuration, still wins over them for any date it names.

Accepted text (a file's content or a pasted list), for one year:

- JSON: ``{"year": 2027, "holidays": ["2027-01-01", ...], "workdays": ["2027-02-07", ...]}``;
- lines ``YYYY-MM-DD,holiday`` or ``YYYY-MM-DD,workday`` (comma, tab or spaces between; also
  ``休``/``班``, ``off``/``work``); blank lines and lines starting with ``#`` are skipped, and a
  first line ``date,kind`` is a header.

A holiday is every date off in a holiday period (weekend days within it included, as the package
lists them); a workday is a weekend date worked in exchange (调休), never a Monday to Friday.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from kameng.domain.calendar import SHANGHAI, WorkCalendar, published_schedule
from kameng.domain.users import Role
from kameng.operator.calendar_models import CalendarYearRow
from kameng.platform.access import Viewer
from kameng.platform.calendars import load_calendar
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound

if TYPE_CHECKING:
    from kameng.operator.dashboard import Warning

MAX_TEXT = 20_000  # a year's schedule is a few dozen lines
MAX_DATES = 200
MIN_YEAR, MAX_YEAR = 2000, 2100
HOLIDAY_WORDS = frozenset({"holiday", "off", "休", "假", "h"})
WORKDAY_WORDS = frozenset({"workday", "work", "班", "w"})
_SPLIT = re.compile(r"[,\t ;，]+")


@dataclass(frozen=True, slots=True)
class Schedule:
    """One year's schedule, checked."""

    year: int
    holidays: tuple[date, ...]
    workdays: tuple[date, ...]

    def as_json(self) -> str:
        """The normalised form the preview carries to the commit (and what a file may hold)."""
        return json.dumps(
            {
                "year": self.year,
                "holidays": [d.isoformat() for d in self.holidays],
                "workdays": [d.isoformat() for d in self.workdays],
            },
            separators=(",", ":"),
        )

    def by_month(self) -> list[tuple[int, list[date], list[date]]]:
        """For the preview: each month with its holidays and workdays."""
        months = sorted({d.month for d in (*self.holidays, *self.workdays)})
        return [
            (m, [d for d in self.holidays if d.month == m], [d for d in self.workdays if d.month == m]) for m in months
        ]


def _bad(key: str, field: str = "schedule", **params: object) -> InvalidInput:
    return InvalidInput(ErrorCode.INVALID_REQUEST, key, field, **params)


def parse_year(text: str | None) -> int:
    value = (text or "").strip()
    if not re.fullmatch(r"[0-9]{4}", value) or not MIN_YEAR <= int(value) <= MAX_YEAR:
        raise _bad("op.cal.error.year", "year", low=MIN_YEAR, high=MAX_YEAR)
    return int(value)


def _day(raw: object, line: int) -> date:
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        raise _bad("op.cal.error.date", line=line, value=str(raw)[:20]) from None


def parse_schedule(text: str, year: int | None = None) -> Schedule:
    """Read a schedule (JSON or lines, see the module's text) for ``year``: when ``year`` is
    None the JSON's own ``year`` is taken. Refused naming the line and what is wrong with it."""
    if len(text) > MAX_TEXT:
        raise _bad("op.cal.error.too_long", limit=MAX_TEXT)
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        raise _bad("op.cal.error.empty")
    entries: list[tuple[int, date, bool]] = []  # (line, day, working)
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            raise _bad("op.cal.error.json") from None
        if not isinstance(data, dict) or set(data) - {"year", "holidays", "workdays"}:
            raise _bad("op.cal.error.json")
        stated = data.get("year")
        if stated is not None:
            if isinstance(stated, bool) or not isinstance(stated, int) or not MIN_YEAR <= stated <= MAX_YEAR:
                raise _bad("op.cal.error.year", "year", low=MIN_YEAR, high=MAX_YEAR)
            if year is not None and stated != year:
                raise _bad("op.cal.error.year_mismatch", "year", stated=stated, year=year)
            year = stated
        for key, working in (("holidays", False), ("workdays", True)):
            values = data.get(key, [])
            if not isinstance(values, list):
                raise _bad("op.cal.error.json")
            entries.extend((index + 1, _day(raw, index + 1), working) for index, raw in enumerate(values))
    else:
        for number, raw_line in enumerate(stripped.splitlines(), start=1):
            line = raw_line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [part for part in _SPLIT.split(line) if part]
            if number == 1 and parts and parts[0].lower() == "date":
                continue
            if len(parts) != 2:
                raise _bad("op.cal.error.line", line=number)
            kind = parts[1].strip().lower()
            if kind in HOLIDAY_WORDS:
                working = False
            elif kind in WORKDAY_WORDS:
                working = True
            else:
                raise _bad("op.cal.error.kind", line=number, value=parts[1][:20])
            entries.append((number, _day(parts[0], number), working))
    if year is None:
        raise _bad("op.cal.error.year", "year", low=MIN_YEAR, high=MAX_YEAR)
    if len(entries) > MAX_DATES:
        raise _bad("op.cal.error.too_many", limit=MAX_DATES)
    seen: dict[date, bool] = {}
    for number, day, working in entries:
        if day.year != year:
            raise _bad("op.cal.error.other_year", line=number, day=day.isoformat(), year=year)
        if day in seen and seen[day] != working:
            raise _bad("op.cal.error.both", line=number, day=day.isoformat())
        if working and day.weekday() < 5:
            raise _bad("op.cal.error.weekday_workday", line=number, day=day.isoformat())
        seen[day] = working
    holidays = tuple(sorted(d for d, w in seen.items() if not w))
    if not holidays:
        raise _bad("op.cal.error.no_holidays")
    return Schedule(year, holidays, tuple(sorted(d for d, w in seen.items() if w)))


def _require_operator(viewer: Viewer) -> None:
    if viewer.role is not Role.OPERATOR:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")


def store_schedule(uow: UnitOfWork, viewer: Viewer, schedule: Schedule, source: str, now: datetime) -> CalendarYearRow:
    """Store (or replace) the year's schedule. Loading the same schedule again changes nothing
    but the time and the person of the last load: safe to retry."""
    _require_operator(viewer)
    with uow:
        row = uow.session.get(CalendarYearRow, schedule.year, with_for_update=True)
        if row is None:
            row = CalendarYearRow(year=schedule.year)
            uow.session.add(row)
        row.holidays = [d.isoformat() for d in schedule.holidays]
        row.workdays = [d.isoformat() for d in schedule.workdays]
        row.source = source[:200]
        row.loaded_by = viewer.user_id
        row.loaded_at = now
        uow.commit()
        return row


Stamp = tuple[tuple[int, str], ...]  # each stored year with the time of its last load


@dataclass
class LoadedCalendar(WorkCalendar):
    """A calendar with the stored years merged in, and which loads of them it holds (``stamp``):
    a process compares it with the table's to know when to rebuild."""

    stamp: Stamp = ()


def _stamp(rows: Sequence[CalendarYearRow]) -> Stamp:
    return tuple((row.year, row.loaded_at.isoformat()) for row in rows)


def stored_schedules(uow: UnitOfWork) -> tuple[list[Schedule], Stamp]:
    with uow:
        rows = uow.session.scalars(select(CalendarYearRow).order_by(CalendarYearRow.year)).all()
        schedules = [
            Schedule(
                row.year,
                tuple(date.fromisoformat(d) for d in row.holidays),
                tuple(date.fromisoformat(d) for d in row.workdays),
            )
            for row in rows
        ]
        return schedules, _stamp(rows)


def stored_stamp(uow: UnitOfWork) -> Stamp:
    with uow:
        rows = uow.session.execute(
            select(CalendarYearRow.year, CalendarYearRow.loaded_at).order_by(CalendarYearRow.year)
        ).all()
        return tuple((year, loaded_at.isoformat()) for year, loaded_at in rows)


def merged_calendar(base: WorkCalendar, schedules: Sequence[Schedule], stamp: Stamp = ()) -> LoadedCalendar:
    """``base`` (the package and the overrides file) with the stored years beneath the file's
    overrides: a date the file names keeps the file's answer."""
    overrides: dict[date, bool] = {}
    for schedule in schedules:
        overrides.update(dict.fromkeys(schedule.holidays, False))
        overrides.update(dict.fromkeys(schedule.workdays, True))
    overrides.update(base.overrides)
    years = base.override_years | {schedule.year for schedule in schedules}
    return LoadedCalendar(overrides=overrides, override_years=frozenset(years), schedule=base.schedule, stamp=stamp)


def running_calendar(calendar_file: Path | None, uow: UnitOfWork) -> WorkCalendar:
    """The calendar a process counts working days with: the package, the stored years, and the
    overrides file over them. Built at start-up (compose) and again after each load. A database
    not yet migrated to hold stored years (``kameng migrate`` itself builds a container) has none."""
    base = load_calendar(calendar_file)
    try:
        schedules, stamp = stored_schedules(uow)
    except SQLAlchemyError:
        return base
    return merged_calendar(base, schedules, stamp)


def refreshed_calendar(current: WorkCalendar, calendar_file: Path | None, uow: UnitOfWork) -> WorkCalendar | None:
    """A new calendar when a year was loaded (in any process) since ``current`` was built, else
    None: the worker asks at each tick (one small query), so a year loaded on the console is
    used for deadlines and refunds without a restart."""
    try:
        if stored_stamp(uow) == getattr(current, "stamp", ()):
            return None
    except SQLAlchemyError:  # a database not migrated this far holds no stored years
        return None
    return running_calendar(calendar_file, uow)


@dataclass(frozen=True, slots=True)
class CoveredYear:
    year: int
    sources: tuple[str, ...]  # "package", "loaded", "file"
    holidays: int
    workdays: int
    loaded_at: datetime | None
    source: str


def covered_years(uow: UnitOfWork, calendar: WorkCalendar) -> list[CoveredYear]:
    """Every year with official data, the newest first, and where its data comes from."""
    package = published_schedule()
    with uow:
        rows = {row.year: row for row in uow.session.scalars(select(CalendarYearRow))}
        years = sorted(package.years | set(rows) | set(calendar.override_years), reverse=True)
        result = []
        for year in years:
            sources = []
            if year in package.years:
                sources.append("package")
            if year in rows:
                sources.append("loaded")
            if year in calendar.override_years and year not in rows:
                sources.append("file")
            row = rows.get(year)
            holidays = len(row.holidays) if row else sum(1 for d in package.holidays if d.year == year)
            workdays = len(row.workdays) if row else sum(1 for d in package.workdays if d.year == year)
            result.append(
                CoveredYear(
                    year, tuple(sources), holidays, workdays, row.loaded_at if row else None, row.source if row else ""
                )
            )
        return result


def local_year(now: datetime) -> int:
    return now.astimezone(SHANGHAI).year


def calendar_warnings(calendar: WorkCalendar, now: datetime) -> list[Warning]:
    """The dashboard's warning when this year or the next has no official schedule: deadlines
    counted into it are Monday to Friday guesses, and quotes say so."""
    from kameng.operator.dashboard import Warning

    year = local_year(now)
    missing = [y for y in (year, year + 1) if not calendar.has_official_data(y)]
    if not missing:
        return []
    return [
        Warning(
            key="op.warn.calendar_missing",
            params={"years": "、".join(str(y) for y in missing)},
            link="/operator/calendar",
            severity="high" if year in missing else "normal",
        )
    ]
