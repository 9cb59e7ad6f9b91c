"""Working days on the official mainland China schedule, years without data, operator overrides."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from kameng.domain.calendar import CalendarError, WorkCalendar, calendar_warning
from kameng.domain.model import Decision
from kameng.domain.refund import Quote
from kameng.platform.calendars import load_calendar

from .factories import activated, membership, order, policy, quote

OFFICIAL = WorkCalendar()

# --- the published schedule --------------------------------------------------------------------


def test_a_swapped_saturday_is_a_working_day() -> None:
    # 调休 for the 2026 Spring Festival: Saturday 14 February is worked.
    assert date(2026, 2, 14).weekday() == 5
    assert OFFICIAL.is_working_day(date(2026, 2, 14))


@pytest.mark.parametrize("day", [date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 23)])
def test_spring_festival_weekdays_are_days_off(day: date) -> None:
    assert day.weekday() < 5
    assert not OFFICIAL.is_working_day(day)


def test_the_national_day_week_is_off_and_the_saturday_after_is_worked() -> None:
    for offset in range(7):
        assert not OFFICIAL.is_working_day(date(2026, 10, 1) + timedelta(days=offset))
    assert OFFICIAL.is_working_day(date(2026, 10, 8))
    assert OFFICIAL.is_working_day(date(2026, 10, 10))  # a Saturday, worked
    assert not OFFICIAL.is_working_day(date(2026, 10, 11))  # a plain Sunday


def test_an_ordinary_weekend_is_off_and_an_ordinary_weekday_is_worked() -> None:
    assert OFFICIAL.is_working_day(date(2026, 3, 18))
    assert not OFFICIAL.is_working_day(date(2026, 3, 21))
    assert not OFFICIAL.is_working_day(date(2026, 3, 22))


def test_counting_working_days_skips_the_start_day_holidays_and_weekends() -> None:
    # Friday 13 Feb → Saturday 14 Feb (worked) → Tuesday 24 Feb after the Spring Festival.
    assert OFFICIAL.add_working_days(date(2026, 2, 13), 1).day == date(2026, 2, 14)
    assert OFFICIAL.add_working_days(date(2026, 2, 13), 2).day == date(2026, 2, 24)
    assert OFFICIAL.add_working_days(date(2026, 9, 30), 2).day == date(2026, 10, 9)


def test_counting_from_a_day_off_starts_with_the_next_working_day() -> None:
    assert OFFICIAL.add_working_days(date(2026, 10, 3), 1).day == date(2026, 10, 8)


def test_zero_working_days_is_the_same_day() -> None:
    span = OFFICIAL.add_working_days(date(2026, 10, 3), 0)
    assert span.day == date(2026, 10, 3)
    assert span.warning_years == frozenset()


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        OFFICIAL.add_working_days(date(2026, 3, 2), -1)


def test_counting_inside_a_year_with_data_reports_no_warning() -> None:
    assert OFFICIAL.add_working_days(date(2026, 12, 29), 2).warning_years == frozenset()


# --- years without data ------------------------------------------------------------------------


def test_a_year_without_data_counts_monday_to_friday_and_says_so() -> None:
    assert not OFFICIAL.has_official_data(2027)
    # 1 January 2027 will surely be a holiday, but without data it is a Friday like any other.
    assert OFFICIAL.classify(date(2027, 1, 1)) == (True, False)
    assert OFFICIAL.classify(date(2027, 1, 2)) == (False, False)
    span = OFFICIAL.add_working_days(date(2026, 12, 31), 2)
    assert span.day == date(2027, 1, 4)
    assert span.warning_years == frozenset({2027})


@pytest.mark.parametrize("year", [2027, 2030, 2099, 2500])
def test_a_far_year_never_raises(year: int) -> None:
    span = OFFICIAL.add_working_days(date(year, 12, 24), 10)
    assert span.day.weekday() < 5
    assert year in span.warning_years


def test_a_span_over_two_years_without_data_reports_both() -> None:
    span = OFFICIAL.add_working_days(date(2027, 12, 30), 3)
    assert span.warning_years == frozenset({2027, 2028})


def test_the_warning_names_the_years_in_chinese_and_english() -> None:
    assert calendar_warning([]) is None
    text = calendar_warning([2028, 2027, 2027])
    assert text is not None
    assert "2027、2028 年" in text
    assert "2027, 2028" in text
    assert "Monday to Friday" in text


# --- operator overrides ------------------------------------------------------------------------


def test_an_override_wins_over_the_published_data() -> None:
    calendar = WorkCalendar.from_override_data({"holidays": ["2026-02-13"], "workdays": ["2026-02-15"]})
    assert not calendar.is_working_day(date(2026, 2, 13))  # a Friday the package says is worked
    assert calendar.is_working_day(date(2026, 2, 15))  # a Spring Festival Sunday
    assert calendar.is_working_day(date(2026, 2, 14))  # the rest of the package still applies


def test_an_operator_can_load_a_year_the_package_does_not_cover() -> None:
    calendar = WorkCalendar.from_override_data(
        {"years": [2027], "holidays": ["2027-01-01"], "workdays": ["2027-01-09"]}
    )
    assert calendar.has_official_data(2027)
    assert calendar.classify(date(2027, 1, 1)) == (False, True)
    assert calendar.classify(date(2027, 1, 9)) == (True, True)  # a Saturday worked
    assert calendar.classify(date(2027, 1, 4)) == (True, True)
    span = calendar.add_working_days(date(2026, 12, 31), 2)
    assert span.day == date(2027, 1, 5)
    assert span.warning_years == frozenset()


def test_overrides_for_a_year_not_declared_loaded_still_warn_for_its_other_days() -> None:
    calendar = WorkCalendar.from_override_data({"holidays": ["2027-01-01"]})
    assert calendar.classify(date(2027, 1, 1)) == (False, True)
    span = calendar.add_working_days(date(2026, 12, 31), 1)
    assert span.day == date(2027, 1, 4)
    assert span.warning_years == frozenset({2027})


def test_an_empty_override_file_is_the_published_calendar() -> None:
    calendar = WorkCalendar.from_override_data({})
    assert calendar.is_working_day(date(2026, 2, 14))
    assert not calendar.has_official_data(2027)


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"holiday": ["2027-01-01"]}, "holiday: unknown key"),
        ({"holidays": "2027-01-01"}, "holidays: must be a list"),
        ({"workdays": {"2027-01-09": True}}, "workdays: must be a list"),
        ({"years": 2027}, "years: must be a list"),
        ({"holidays": ["2027-01-01", "2027-02-30"]}, "holidays[1]: not a date"),
        ({"holidays": ["1 May"]}, "holidays[0]: not a date"),
        ({"workdays": [None]}, "workdays[0]: not a date"),
        ({"holidays": ["2027-01-09"], "workdays": ["2027-01-09"]}, "workdays[0]: 2027-01-09 is listed"),
        ({"years": ["2027"]}, "years[0]: not a year"),
        ({"years": [2027, True]}, "years[1]: not a year"),
        ({"years": [1800]}, "years[0]: not a year"),
        ({1: [], "holidays": []}, "1: unknown key"),
        ({1: [], "x": []}, "unknown key"),
    ],
)
def test_a_bad_override_is_refused_naming_the_entry(data: dict[object, object], names: str) -> None:
    with pytest.raises(CalendarError) as caught:
        WorkCalendar.from_override_data(data)
    assert names in str(caught.value)


# --- loading the override file -----------------------------------------------------------------


def test_no_override_file_gives_the_published_calendar() -> None:
    assert load_calendar(None).is_working_day(date(2026, 2, 14))


def test_an_override_file_in_yaml_with_unquoted_dates_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text("years: [2027]\nholidays:\n  - 2027-01-01\nworkdays:\n  - 2027-01-09\n", "utf-8")
    calendar = load_calendar(path)
    assert not calendar.is_working_day(date(2027, 1, 1))
    assert calendar.is_working_day(date(2027, 1, 9))
    assert calendar.has_official_data(2027)


def test_an_override_file_in_json_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    path.write_text('{"years": [2027], "holidays": ["2027-02-08"]}', "utf-8")
    assert not load_calendar(path).is_working_day(date(2027, 2, 8))


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("holidays: [2027-01-01, 2027-13-01]\n", "holidays[1]: not a date"),
        ("- 2027-01-01\n", "must be a mapping"),
        ("holidays: [2027-01-01\n", "not valid YAML at line"),
        ("years: [2027]\nworkday: []\n", "workday: unknown key"),
    ],
)
def test_a_bad_override_file_is_refused_naming_the_file_and_the_entry(tmp_path: Path, text: str, names: str) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(CalendarError) as caught:
        load_calendar(path)
    assert str(path) in str(caught.value)
    assert names in str(caught.value)


def test_a_missing_override_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(CalendarError, match="cannot read"):
        load_calendar(path)


# --- dates in quotes ---------------------------------------------------------------------------


def annual_card_quote(at_: str, calendar: WorkCalendar | None = None, review_days: int = 2) -> Quote:
    """An annual card activated 2026-03-01, prorated and so reviewed, asked for at ``at_``."""
    return quote(
        membership("12m", "120.00"),
        order_=order("120.00", "2026-03-01 10:00"),
        events=[activated("2026-03-01 10:00")],
        rules=policy(review_business_days=review_days),
        calendar=calendar,
        at_=at_,
    )


def test_a_review_due_in_a_year_without_data_carries_a_calendar_warning() -> None:
    q = annual_card_quote("2026-12-31 10:00")
    assert q.decision is Decision.REVIEW
    assert q.review_due == date(2027, 1, 4)
    assert q.calendar_warning is not None
    assert "2027" in q.calendar_warning
    assert q.to_dict()["calendar_warning"] == q.calendar_warning


def test_an_arrival_in_a_year_without_data_carries_a_calendar_warning() -> None:
    q = quote(at_="2026-12-31 10:00")
    assert q.decision is Decision.AUTO_APPROVE
    assert q.arrival is not None
    assert q.arrival.latest == date(2027, 1, 5)
    assert q.calendar_warning is not None


def test_a_review_due_inside_the_data_carries_no_warning() -> None:
    q = annual_card_quote("2026-12-28 10:00")
    assert q.review_due == date(2026, 12, 30)
    assert q.calendar_warning is None


def test_a_year_loaded_by_the_operator_moves_the_date_and_removes_the_warning() -> None:
    calendar = WorkCalendar.from_override_data({"years": [2027], "holidays": ["2027-01-01"]})
    q = annual_card_quote("2026-12-31 10:00", calendar)
    assert q.review_due == date(2027, 1, 5)
    assert q.calendar_warning is None


def test_a_rejection_promises_no_date_and_so_carries_no_warning() -> None:
    q = quote(at_="2027-06-01 10:00", events=[activated("2026-04-01 10:30")])
    assert q.decision is Decision.REJECT
    assert q.calendar_warning is None


def test_review_business_days_reaching_a_far_year_still_answers() -> None:
    q = annual_card_quote("2026-12-31 10:00", review_days=300)
    assert q.review_due is not None
    assert q.review_due.year == 2028
    assert q.calendar_warning is not None
    assert "2027、2028" in q.calendar_warning
