"""The console's home (``/operator``): a link to every section, the site's navigation link for
operators only, and warnings from a list of providers (one added is one shown; one broken does
not hide the others). Then the reports page and its CSVs through the app."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from kameng.accounts.models import User
from kameng.demo import DEMO_PASSWORD
from kameng.operator.dashboard import SECTIONS, Warning, collect_warnings
from kameng.platform.db.uow import UnitOfWork
from tests.operator.reports_history import seed_history
from tests.support.pages import log_in

FEB = {"date_from": "2026-02-01", "date_to": "2026-02-28"}


@pytest.fixture
def operator(client: TestClient) -> TestClient:
    assert log_in(client, "operator@kameng.test", DEMO_PASSWORD).status_code == 303
    return client


def test_the_home_links_every_section_of_the_console(operator: TestClient) -> None:
    page = operator.get("/operator")
    assert page.status_code == 200
    for address in (
        "/operator/catalog",
        "/operator/policies",
        "/operator/outages",
        "/operator/mass-refunds",
        "/operator/orders",
        "/operator/tickets",
        "/operator/reports",
        "/operator/calendar",
    ):
        assert f'href="{address}"' in page.text
    assert len(SECTIONS) == 8
    assert 'id="nav-console" href="/operator"' in page.text
    english = operator.get("/operator", params={"lang": "en"})
    assert "Operator console" in english.text


def test_only_the_operator_has_the_console_link(client: TestClient) -> None:
    assert log_in(client, "supervisor@kameng.test", DEMO_PASSWORD).status_code == 303
    assert 'id="nav-console"' not in client.get("/staff").text


def test_a_provider_added_to_the_list_shows_its_warning_and_a_broken_one_hides_nothing(
    operator: TestClient,
) -> None:
    providers = operator.app.state.warning_providers  # type: ignore[attr-defined]

    def low_stock(uow: UnitOfWork, now: datetime) -> list[Warning]:
        return [Warning("op.warn.calendar_missing", {"years": "库存测试"}, "/operator/catalog")]

    def broken(uow: UnitOfWork, now: datetime) -> list[Warning]:
        raise RuntimeError("the stock table is gone")

    providers.extend([broken, low_stock])
    try:
        page = operator.get("/operator")
    finally:
        del providers[-2:]
    assert page.status_code == 200
    assert "库存测试" in page.text
    assert 'data-key="op.warn.provider_failed"' in page.text
    # The urgent one (the failure) comes first.
    keys = re.findall(r'class="warning op-warning op-warning-(\w+)"', page.text)
    assert keys[0] == "high"


def test_warnings_are_sorted_urgent_first() -> None:
    def provide(uow: UnitOfWork, now: datetime) -> list[Warning]:
        return [Warning("a"), Warning("b", severity="high")]

    found = collect_warnings([provide], lambda: None, datetime(2026, 1, 1, tzinfo=UTC))  # type: ignore[arg-type,return-value]
    assert [w.key for w in found] == ["b", "a"]


def test_the_reports_page_draws_every_chart_from_the_site_alone(
    operator: TestClient, uow: UnitOfWork, make_user: Callable[..., User], now: datetime
) -> None:
    seed_history(uow, make_user, now)
    page = operator.get("/operator/reports", params=FEB)
    assert page.status_code == 200
    assert page.text.count("<svg") == 7
    for chart in ("chart-product-rate", "chart-reason-amount", "chart-routes", "chart-timings", "chart-breaches"):
        assert f'id="{chart}"' in page.text
    # No script, stylesheet, font or image from anywhere else.
    assert not re.search(r'(src|href)="(https?:)?//', page.text)
    assert 'id="ledger-result" class="ok"' in page.text


def test_each_report_downloads_as_csv_with_the_pages_figures(
    operator: TestClient, uow: UnitOfWork, make_user: Callable[..., User], now: datetime
) -> None:
    seed_history(uow, make_user, now)
    answer = operator.get("/operator/reports/decisions.csv", params={**FEB, "lang": "en"})
    assert answer.status_code == 200
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["Route", "Total", "Approved", "Rejected", "Open", "Withdrawn"]
    assert [row[1:] for row in rows[1:]] == [
        ["1", "1", "0", "0", "0"],
        ["3", "1", "1", "1", "0"],
        ["1", "1", "0", "0", "0"],
    ]
    timings = list(
        csv.reader(io.StringIO(operator.get("/operator/reports/timings.csv", params=FEB).text.lstrip("\ufeff")))
    )
    assert [row[1:] for row in timings[1:]] == [["4", "240", "1200"], ["2", "120", "1800"]]
    for name in ("refunds_by_product", "refunds_by_reason", "breaches", "appeals", "renewals", "ledger"):
        assert operator.get(f"/operator/reports/{name}.csv", params=FEB).status_code == 200
    assert operator.get("/operator/reports/secrets.csv").status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2020-01-01", "date_to": "2026-01-01"},
        {"date_from": "2026-02-30"},
        {"date_to": "<svg onload=alert(1)>"},
        {"date_from": "x" * 5000},
    ],
)
def test_a_bad_range_is_answered_on_the_page_and_in_the_csv_never_a_500(
    operator: TestClient, params: dict[str, str]
) -> None:
    page = operator.get("/operator/reports", params=params)
    assert page.status_code == 422
    assert 'id="op-error"' in page.text
    assert "<svg onload" not in page.text
    assert operator.get("/operator/reports/ledger.csv", params=params).status_code == 422
