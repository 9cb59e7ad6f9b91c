"""Working days on the official mainland China schedule.

Three sources, in order of precedence:

1. operator overrides (a file of holidays and swapped working days, which may also declare whole
   years as officially loaded, for a year the published package does not cover yet);
2. the ``chinese-calendar`` package's official data (weekends, public holidays, 调休 days);
3. for a year neither covers, Monday to Friday, and the caller is told so (``warning_years``),
   so that a quote can carry a ``calendar_warning`` instead of crashing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)
# Beijing time: the working calendar's days, deadlines "by the end of the day", the dates people
# read. The one definition of the platform's local time zone.
SHANGHAI = ZoneInfo("Asia/Shanghai")


class CalendarError(ValueError):
    """An override file that cannot be read as dates."""


@dataclass(frozen=True, slots=True)
class OfficialSchedule:
    """The published schedule: which dates are off on a weekday, which weekend dates are worked."""

    holidays: frozenset[date]
    workdays: frozenset[date]
    years: frozenset[int]


@lru_cache(maxsize=1)
def published_schedule() -> OfficialSchedule:
    """The ``chinese-calendar`` package's data, read once per process."""
    from chinese_calendar import constants  # local import: the data module is large

    holidays = frozenset(constants.holidays)
    workdays = frozenset(constants.workdays)
    return OfficialSchedule(holidays, workdays, frozenset(d.year for d in holidays))


@dataclass(frozen=True, slots=True)
class WorkingDaySpan:
    """The result of counting working days: the date reached and any year counted without data."""

    day: date
    warning_years: frozenset[int]


@dataclass
class WorkCalendar:
    """Answers "is this a working day?" and counts working days forward.

    ``overrides`` maps a date to True (working) or False (day off) and wins over everything;
    ``override_years`` are years whose complete official schedule the operator has loaded.
    """

    overrides: Mapping[date, bool] = field(default_factory=dict)
    override_years: frozenset[int] = frozenset()
    schedule: OfficialSchedule = field(default_factory=published_schedule)
    _cache: dict[date, tuple[bool, bool]] = field(default_factory=dict, repr=False)

    def has_official_data(self, year: int) -> bool:
        return year in self.schedule.years or year in self.override_years

    def classify(self, day: date) -> tuple[bool, bool]:
        """``(is_working_day, from_official_data)`` for one date, memoised."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        official = self.has_official_data(day.year)
        if day in self.overrides:
            result = (self.overrides[day], True)
        elif day in self.schedule.holidays:
            result = (False, True)
        elif day in self.schedule.workdays:
            result = (True, True)
        else:
            result = (day.weekday() < 5, official)
        self._cache[day] = result
        return result

    def is_working_day(self, day: date) -> bool:
        return self.classify(day)[0]

    def add_working_days(self, start: date, count: int) -> WorkingDaySpan:
        """The ``count``-th working day after ``start`` (``start`` itself is not counted).

        ``count == 0`` means "the same day" (money to the platform balance arrives at once).
        """
        if count < 0:
            raise ValueError("count must not be negative")
        day = start
        warnings: set[int] = set()
        remaining = count
        while remaining:
            day += ONE_DAY
            working, official = self.classify(day)
            if not official:
                warnings.add(day.year)
            if working:
                remaining -= 1
        return WorkingDaySpan(day, frozenset(warnings))

    @classmethod
    def from_override_data(cls, data: Mapping[str, object]) -> WorkCalendar:
        """Build from an operator's file: ``{years: [...], holidays: [...], workdays: [...]}``."""
        unknown = set(data) - {"years", "holidays", "workdays"}
        if unknown:
            # key=str: YAML keys may be numbers beside text, which plain sorted() cannot compare.
            first = sorted(unknown, key=str)[0]
            raise CalendarError(f"{first}: unknown key (expected years, holidays, workdays)")
        overrides: dict[date, bool] = {}
        for key, working in (("holidays", False), ("workdays", True)):
            for index, raw in enumerate(_as_list(data.get(key, []), key)):
                try:
                    day = date.fromisoformat(str(raw))
                except ValueError:
                    raise CalendarError(f"{key}[{index}]: not a date (YYYY-MM-DD): {raw!r}") from None
                if day in overrides and overrides[day] != working:
                    raise CalendarError(f"{key}[{index}]: {day} is listed as both holiday and workday")
                overrides[day] = working
        years: set[int] = set()
        for index, raw in enumerate(_as_list(data.get("years", []), "years")):
            if isinstance(raw, bool) or not isinstance(raw, int) or not 1900 < raw < 3000:
                raise CalendarError(f"years[{index}]: not a year: {raw!r}")
            years.add(raw)
        return cls(overrides=overrides, override_years=frozenset(years))


def _as_list(value: object, key: str) -> Iterable[object]:
    if not isinstance(value, list):
        raise CalendarError(f"{key}: must be a list")
    return value


def calendar_warning(years: Iterable[int]) -> str | None:
    """The sentence a quote carries when a date was counted without official data."""
    missing = sorted(set(years))
    if not missing:
        return None
    listed = "、".join(str(y) for y in missing)
    listed_en = ", ".join(str(y) for y in missing)
    return (
        f"{listed} 年的官方节假日安排尚未载入,工作日暂按周一至周五计算,日期可能因调休变动。"
        f" No official holiday schedule is loaded for {listed_en}; working days are counted as"
        " Monday to Friday and the date may move once the schedule is published."
    )
