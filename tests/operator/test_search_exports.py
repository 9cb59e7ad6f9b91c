"""The operator's search pages and exports through the app, on SQLite and PostgreSQL: who may see
them, bad filters answered beside the form (never a 500), the CSV's BOM and its formula-safe
cells, and the Excel workbook opened and read back."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import update

from kameng.accounts.models import User
from kameng.catalog.models import ProductRow
from kameng.demo import DEMO_PASSWORD
from kameng.operator.exports import csv_stream, safe_text
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.i18n import label
from tests.operator.reports_history import Seeded, seed_history
from tests.support.pages import log_in

OPERATOR = "operator@kameng.test"


@pytest.fixture
def operator(client: TestClient) -> TestClient:
    assert log_in(client, OPERATOR, DEMO_PASSWORD).status_code == 303
    return client


# The demo's own orders are of today; the seeded history is of February 2026: the tests look at
# February only.
FEB = {"date_from": "2026-02-01", "date_to": "2026-02-28"}


@pytest.fixture
def seeded(client: TestClient, uow: UnitOfWork, make_user: Callable[..., User], now: datetime) -> Seeded:
    return seed_history(uow, make_user, now)


def test_only_operators_see_the_console(client: TestClient) -> None:
    for path in (
        "/operator",
        "/operator/orders",
        "/operator/orders/export.csv",
        "/operator/reports",
        "/operator/calendar",
    ):
        assert client.get(path).status_code == 404  # signed out
    assert log_in(client, "supervisor@kameng.test", DEMO_PASSWORD).status_code == 303
    for path in ("/operator", "/operator/tickets/export.xlsx", "/operator/reports/ledger.csv"):
        assert client.get(path).status_code == 404


def test_the_order_page_lists_masks_phones_and_totals(operator: TestClient, seeded: Seeded) -> None:
    page = operator.get("/operator/orders", params={"q": "13900000001"})
    assert page.status_code == 200
    assert seeded.orders[0] in page.text
    assert seeded.orders[1] in page.text
    assert "139****0001" in page.text
    assert "13900000001</td>" not in page.text
    assert 'id="total-count">2<' in page.text
    assert 'id="total-paid">798.00<' in page.text
    assert 'id="total-refunded">499.00<' in page.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"date_from": "2026-02-31"}, "date_from"),
        ({"date_from": "2026-03-05", "date_to": "2026-03-01"}, "date_to"),
        ({"q": "<script>alert(1)</script>"}, "q"),
        ({"before": "1e9"}, "before"),
        ({"product": "x" * 500}, "product"),
        ({"q": "\x00"}, "q"),
    ],
)
def test_bad_filters_are_answered_beside_the_form(operator: TestClient, params: dict[str, str], field: str) -> None:
    paths = ["/operator/orders", "/operator/tickets"]
    if field != "before":  # an export is always the whole filtered set: it has no page position
        paths.append("/operator/orders/export.csv")
    for path in paths:
        page = operator.get(path, params=params)
        assert page.status_code == 422, path
        assert f'data-field="{field}"' in page.text
        assert "<script>alert(1)</script>" not in page.text


def test_the_csv_export_has_a_bom_every_filtered_row_and_masked_phones(operator: TestClient, seeded: Seeded) -> None:
    answer = operator.get("/operator/orders/export.csv", params={"product": "annual-card", **FEB})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][0] == "订单号"
    assert [row[0] for row in rows[1:]] == [seeded.orders[3], seeded.orders[2], seeded.orders[1], seeded.orders[0]]
    assert rows[1][6] == "399.00"
    assert {row[8] for row in rows[1:]} == {"139****0001", "139****0002", "c***@example.com"}
    english = operator.get("/operator/orders/export.csv", params={"product": "annual-card", "lang": "en", **FEB})
    assert english.content.decode("utf-8-sig").startswith("Order number,")


def test_a_product_name_that_looks_like_a_formula_stays_text(
    operator: TestClient, seeded: Seeded, uow: UnitOfWork
) -> None:
    evil = '=HYPERLINK("http://evil.test","点我")'
    with uow:
        uow.session.execute(update(ProductRow).where(ProductRow.slug == "monthly-pass").values(name_zh=evil))
        uow.commit()
    answer = operator.get("/operator/orders/export.csv", params={"product": "monthly-pass", **FEB})
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert {row[3] for row in rows[1:]} == {"'" + evil}
    book = operator.get("/operator/orders/export.xlsx", params={"product": "monthly-pass", **FEB})
    sheet = load_workbook(io.BytesIO(book.content), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][3] == "'" + evil


def test_the_excel_export_opens_with_the_same_rows_and_numbers(operator: TestClient, seeded: Seeded) -> None:
    answer = operator.get("/operator/tickets/export.xlsx", params=FEB)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(answer.content), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "工单号"
    assert [row[0] for row in rows[1:]] == list(reversed(seeded.tickets))
    by_ticket = {row[0]: row for row in rows[1:]}
    refunded = by_ticket[seeded.tickets[0]]
    assert float(refunded[9]) == 399.0  # approved, a number Excel can sum
    assert refunded[5] == label("reason", "changed_mind", "zh")
    assert by_ticket[seeded.tickets[4]][9] is None  # not decided: empty, not 0


def test_the_ticket_csv_follows_the_filters(operator: TestClient, seeded: Seeded) -> None:
    answer = operator.get("/operator/tickets/export.csv", params={"reason": "changed_mind", **FEB})
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == [seeded.tickets[2], seeded.tickets[0]]


def test_formula_cells_are_prefixed_whatever_their_first_character() -> None:
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_text(value) == "'" + value
    assert safe_text("正常文本") == "正常文本"
    body = b"".join(csv_stream(["a"], [["=cmd"], [-5], [None]]))
    assert body.decode("utf-8") == '\ufeffa\r\n\'=cmd\r\n-5\r\n""\r\n'  # a lone empty cell is quoted
