"""Calendar administration: a year's schedule read from a file or a pasted list (and refused,
line by line, when wrong), previewed, loaded, merged into the running calendar, listed among the
covered years, and the warning that goes away once next year is loaded. SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kameng.container import Container
from kameng.demo import DEMO_PASSWORD
from kameng.domain.calendar import WorkCalendar
from kameng.domain.users import Role
from kameng.operator.calendar_admin import (
    calendar_warnings,
    covered_years,
    merged_calendar,
    parse_schedule,
    parse_year,
    running_calendar,
    store_schedule,
)
from kameng.operator.calendar_models import CalendarYearRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import InvalidInput, NotFound
from kameng.worker import run_tick
from tests.support.apps import container_of
from tests.support.pages import csrf_of, log_in

# The 2027 schedule as the State Council might publish it (a few of its dates).
LINES_2027 = """date,kind
# 元旦
2027-01-01,holiday
# 春节
2027-02-06,holiday
2027-02-07,holiday
2027-02-08,休
2027-02-09,休
2027-02-10,holiday
2027-02-11,holiday
2027-02-12,holiday
2027-02-13,班
2027-02-14 workday
"""
JSON_2027 = '{"year": 2027, "holidays": ["2027-01-01", "2027-10-01"], "workdays": ["2027-09-26"]}'
DECEMBER = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)  # next year (2027) is past the package's data


def test_a_pasted_list_is_read_with_its_kinds_and_comments() -> None:
    schedule = parse_schedule(LINES_2027, 2027)
    assert schedule.year == 2027
    assert len(schedule.holidays) == 8
    assert schedule.workdays == (date(2027, 2, 13), date(2027, 2, 14))
    assert [month for month, _, _ in schedule.by_month()] == [1, 2]
    # What the preview carries to the commit reads back as the same schedule.
    assert parse_schedule(schedule.as_json()) == schedule


def test_a_json_file_names_its_own_year() -> None:
    schedule = parse_schedule(JSON_2027)
    assert (schedule.year, len(schedule.holidays), schedule.workdays) == (2027, 2, (date(2027, 9, 26),))


@pytest.mark.parametrize(
    ("text", "year", "key", "params"),
    [
        ("", 2027, "op.cal.error.empty", {}),
        ("2027-01-01", 2027, "op.cal.error.line", {"line": 1}),
        ("2027-01-01,holiday\n2027-13-01,holiday", 2027, "op.cal.error.date", {"line": 2}),
        ("2027-01-01,party", 2027, "op.cal.error.kind", {"line": 1}),
        ("2028-01-01,holiday", 2027, "op.cal.error.other_year", {"line": 1}),
        ("2027-01-01,holiday\n2027-01-01,workday", 2027, "op.cal.error.both", {"line": 2}),
        ("2027-01-01,holiday\n2027-01-04,workday", 2027, "op.cal.error.weekday_workday", {"line": 2}),
        ("2027-02-13,workday", 2027, "op.cal.error.no_holidays", {}),
        ('{"year": 2028, "holidays": ["2028-01-01"]}', 2027, "op.cal.error.year_mismatch", {}),
        ('{"year": "2027", "holidays": []}', None, "op.cal.error.year", {}),
        ('{"holidays": "2027-01-01"}', 2027, "op.cal.error.json", {}),
        ('{"holidays": ["2027-01-01"], "extra": 1}', 2027, "op.cal.error.json", {}),
        ("{not json", 2027, "op.cal.error.json", {}),
        ("2027-01-01,holiday", None, "op.cal.error.year", {}),
        ("2027-01-01,holiday\n" * 201, 2027, "op.cal.error.too_many", {}),
        ("x" * 20_001, 2027, "op.cal.error.too_long", {}),
    ],
)
def test_a_wrong_schedule_is_refused_naming_the_line(
    text: str, year: int | None, key: str, params: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_schedule(text, year)
    assert refused.value.key == key
    for name, value in params.items():
        assert refused.value.params[name] == value
    assert refused.value.message("zh")
    assert refused.value.message("en")


@pytest.mark.parametrize("text", ["", "27", "20270", "1999", "2101", "２０２７", "2027\x00", "abcd"])
def test_a_year_is_four_digits_within_range(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_year(text)


def test_a_loaded_year_counts_its_holidays_and_swapped_workdays() -> None:
    base = WorkCalendar()
    assert not base.has_official_data(2027)
    merged = merged_calendar(base, [parse_schedule(LINES_2027, 2027)])
    assert merged.has_official_data(2027)
    assert not merged.is_working_day(date(2027, 2, 8))  # a Monday in the Spring Festival
    assert merged.is_working_day(date(2027, 2, 13))  # a Saturday worked in exchange
    assert merged.is_working_day(date(2027, 3, 1))  # an ordinary Monday
    # From Friday 5 February, 3 working days: the festival skipped, the weekend worked counts.
    span = merged.add_working_days(date(2027, 2, 5), 3)
    assert (span.day, span.warning_years) == (date(2027, 2, 15), frozenset())
    assert WorkCalendar().add_working_days(date(2027, 2, 5), 3).warning_years == frozenset({2027})
    # The overrides file keeps the last word on a date it names.
    file_calendar = WorkCalendar(overrides={date(2027, 2, 8): True}, override_years=frozenset())
    assert merged_calendar(file_calendar, [parse_schedule(LINES_2027, 2027)]).is_working_day(date(2027, 2, 8))


def test_storing_a_year_twice_keeps_one_row_with_the_last_load(uow: UnitOfWork) -> None:
    from kameng.accounts import services as accounts

    now = datetime(2026, 12, 1, tzinfo=UTC)
    operator = accounts.sign_up(uow, "ops@example.com", "long-enough-1", now, role=Role.OPERATOR)
    viewer = Viewer(operator.id, Role.OPERATOR)
    store_schedule(uow, viewer, parse_schedule(LINES_2027, 2027), "2027.csv", now)
    store_schedule(uow, viewer, parse_schedule(JSON_2027), "2027.json", now)
    with uow:
        assert uow.session.scalar(select(func.count()).select_from(CalendarYearRow)) == 1
        row = uow.session.get(CalendarYearRow, 2027)
        assert row is not None
        assert (row.holidays, row.workdays, row.source) == (["2027-01-01", "2027-10-01"], ["2027-09-26"], "2027.json")
    calendar = running_calendar(None, uow)
    assert calendar.has_official_data(2027)
    assert calendar.is_working_day(date(2027, 9, 26))  # a Sunday, worked
    years = {y.year: y for y in covered_years(uow, calendar)}
    assert years[2027].sources == ("loaded",)
    assert years[2026].sources == ("package",)
    with pytest.raises(NotFound):
        store_schedule(uow, Viewer(operator.id, Role.SUPERVISOR), parse_schedule(JSON_2027), "x", now)


def test_the_warning_names_the_year_without_data() -> None:
    warnings = calendar_warnings(WorkCalendar(), DECEMBER)
    assert [(w.key, w.params["years"], w.link) for w in warnings] == [
        ("op.warn.calendar_missing", "2027", "/operator/calendar")
    ]
    assert calendar_warnings(merged_calendar(WorkCalendar(), [parse_schedule(JSON_2027)]), DECEMBER) == []
    assert calendar_warnings(WorkCalendar(), datetime(2025, 6, 1, tzinfo=UTC)) == []  # 2025 and 2026 are covered
    # Too far on: this year itself has no data, which is urgent.
    assert calendar_warnings(WorkCalendar(), datetime(2028, 1, 5, tzinfo=UTC))[0].severity == "high"


def _form(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, name
    return html.unescape(found.group(1))


def test_an_operator_previews_then_loads_a_year_and_the_warning_goes(client: TestClient, tmp_path: Path) -> None:
    container = container_of(client)
    container.clock = lambda: DECEMBER
    assert log_in(client, "operator@kameng.test", DEMO_PASSWORD).status_code == 303
    home = client.get("/operator")
    assert 'data-key="op.warn.calendar_missing"' in home.text
    page = client.get("/operator/calendar")
    token = csrf_of(page.text)
    # A file that is not UTF-8 is refused by name.
    bad = client.post(
        "/operator/calendar/preview",
        data={"csrf": token, "year": "2027"},
        files={"file": ("2027.csv", "2027-01-01,休".encode("gbk"), "text/csv")},
    )
    assert bad.status_code == 422
    assert 'data-field="file"' in bad.text
    preview = client.post(
        "/operator/calendar/preview",
        data={"csrf": token, "year": "2027"},
        files={"file": ("2027.csv", ("\ufeff" + LINES_2027).encode("utf-8"), "text/csv")},
    )
    assert preview.status_code == 200
    assert 'id="cal-preview"' in preview.text
    assert not container.calendar.has_official_data(2027)  # nothing stored by a preview
    loaded = client.post(
        "/operator/calendar/load",
        data={"csrf": token, "schedule": _form(preview.text, "schedule"), "source": _form(preview.text, "source")},
        follow_redirects=False,
    )
    assert loaded.status_code == 303
    assert container.calendar.has_official_data(2027)
    assert not container.calendar.is_working_day(date(2027, 2, 8))
    listed = client.get(loaded.headers["location"])
    assert 'id="cal-loaded"' in listed.text
    assert re.search(r'data-year="2027"><td>2027</td><td>[^<]*\(2027.csv\)', listed.text)
    assert "op.warn.calendar_missing" not in client.get("/operator").text


def test_a_tampered_or_missing_schedule_is_refused_at_load(client: TestClient) -> None:
    assert log_in(client, "operator@kameng.test", DEMO_PASSWORD).status_code == 303
    token = csrf_of(client.get("/operator/calendar").text)
    for data in ({}, {"schedule": '{"year": 2027, "holidays": ["2027-01-04"], "workdays": ["2027-01-05"]}'}):
        answer = client.post("/operator/calendar/load", data={"csrf": token, **data}, follow_redirects=False)
        assert answer.status_code == 422
        assert 'id="op-error"' in answer.text
    # Without the session's CSRF token nothing is read at all.
    assert client.post("/operator/calendar/load", data={"schedule": JSON_2027}, follow_redirects=False).status_code in {
        303,
        403,
    }
    assert not container_of(client).calendar.has_official_data(2027)


def test_the_worker_uses_a_year_loaded_by_another_process_from_its_next_tick(container: Container) -> None:
    from kameng.accounts import services as accounts

    now = datetime(2026, 12, 1, tzinfo=UTC)
    before = container.calendar
    run_tick(container, now)
    assert container.calendar is before  # nothing loaded: nothing rebuilt
    operator = accounts.sign_up(container.uow(), "ops@example.com", "long-enough-1", now, role=Role.OPERATOR)
    store_schedule(container.uow(), Viewer(operator.id, Role.OPERATOR), parse_schedule(JSON_2027), "2027.json", now)
    assert not container.calendar.has_official_data(2027)
    run_tick(container, now)
    assert container.calendar.has_official_data(2027)
    assert container.calendar.is_working_day(date(2027, 9, 26))
    rebuilt = container.calendar
    run_tick(container, now)
    assert container.calendar is rebuilt
