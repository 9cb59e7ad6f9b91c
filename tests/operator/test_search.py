"""The operator's order and ticket search, on SQLite and PostgreSQL: every filter, the totals of
the whole filtered set, keyset pages, and every kind of bad input refused naming its field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from kameng.accounts.models import User
from kameng.domain.users import Role
from kameng.operator.search import (
    Filters,
    iter_orders,
    order_filters,
    search_orders,
    ticket_filters,
)
from kameng.operator.ticket_search import iter_tickets, search_tickets
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import InvalidInput, NotFound
from tests.operator.reports_history import Seeded, seed_history

OPERATOR = Viewer(1, Role.OPERATOR)
ANNUAL, MONTHLY = 39900, 3000


@pytest.fixture
def seeded(catalog: UnitOfWork, make_user: Callable[..., User], now: datetime) -> Seeded:
    return seed_history(catalog, make_user, now)


def orders(uow: UnitOfWork, **filters: str) -> tuple[list[str], tuple[int, int, int]]:
    page = search_orders(uow, OPERATOR, order_filters(**filters), limit=50)
    totals = page.totals
    return [row.order_no for row in page.rows], (totals.count, totals.paid_fen, totals.refunded_fen)


def test_with_no_filter_every_order_is_listed_newest_first_with_the_totals_of_all(
    uow: UnitOfWork, seeded: Seeded
) -> None:
    numbers, totals = orders(uow)
    assert numbers == list(reversed(seeded.orders))
    # Paid: four annual cards and one monthly pass; the unpaid order counts but took nothing.
    assert totals == (6, 4 * ANNUAL + MONTHLY, ANNUAL + 10000)


def test_a_phone_number_finds_that_buyers_orders_and_the_totals_follow(uow: UnitOfWork, seeded: Seeded) -> None:
    numbers, totals = orders(uow, q="139 0000 0001")
    assert numbers == [seeded.orders[1], seeded.orders[0]]
    assert totals == (2, 2 * ANNUAL, ANNUAL + 10000)


def test_an_email_an_order_number_and_its_first_digits_find_their_orders(uow: UnitOfWork, seeded: Seeded) -> None:
    assert orders(uow, q="C.Buyer@example.com")[0] == [seeded.orders[5], seeded.orders[3]]
    assert orders(uow, q=seeded.orders[2])[0] == [seeded.orders[2]]
    assert len(orders(uow, q=seeded.orders[2][:6])[0]) == 6


def test_product_status_and_channel_filters_combine(uow: UnitOfWork, seeded: Seeded) -> None:
    assert orders(uow, product="monthly-pass")[1] == (2, MONTHLY, 0)
    assert orders(uow, product="monthly-pass", status="pending_payment")[0] == [seeded.orders[5]]
    assert orders(uow, channel="alipay")[0] == [seeded.orders[4], seeded.orders[2]]
    assert orders(uow, status="refunded", channel="alipay")[1] == (0, 0, 0)


def test_dates_are_beijing_dates_with_both_ends_included(uow: UnitOfWork, seeded: Seeded) -> None:
    # The orders were made 9..4 days before Monday 2026-03-02 10:00 in Beijing: Feb 21..26.
    numbers, totals = orders(uow, date_from="2026-02-23", date_to="2026-02-24")
    assert numbers == [seeded.orders[3], seeded.orders[2]]
    assert totals == (2, 2 * ANNUAL, 0)
    assert orders(uow, date_from="2026-02-26")[0] == [seeded.orders[5]]
    assert orders(uow, date_to="2026-02-21")[0] == [seeded.orders[0]]


def test_pages_follow_the_keyset_and_the_totals_are_always_the_whole_sets(uow: UnitOfWork, seeded: Seeded) -> None:
    seen: list[str] = []
    before: str | None = None
    for _ in range(5):
        page = search_orders(uow, OPERATOR, order_filters(before=before), limit=4)
        seen.extend(row.order_no for row in page.rows)
        assert page.totals.count == 6
        if page.next_before is None:
            break
        before = str(page.next_before)
    assert seen == list(reversed(seeded.orders))
    assert [line.order_no for line in iter_orders(uow, OPERATOR, Filters(), chunk=4)] == seen


def test_ticket_search_filters_and_totals(uow: UnitOfWork, seeded: Seeded) -> None:
    page = search_tickets(uow, OPERATOR, ticket_filters())
    assert [row.ticket_no for row in page.rows] == list(reversed(seeded.tickets))
    assert (page.totals.count, page.totals.paid_fen, page.totals.refunded_fen, page.totals.extra) == (
        5,
        4 * ANNUAL + MONTHLY,
        ANNUAL + 10000 + 5000,
        2,
    )
    assert [r.ticket_no for r in search_tickets(uow, OPERATOR, ticket_filters(q=seeded.tickets[2].lower())).rows] == [
        seeded.tickets[2]
    ]
    by_reason = search_tickets(uow, OPERATOR, ticket_filters(reason="changed_mind"))
    assert [r.ticket_no for r in by_reason.rows] == [seeded.tickets[2], seeded.tickets[0]]
    assert search_tickets(uow, OPERATOR, ticket_filters(status="in_review", product="monthly-pass")).totals.count == 1
    assert search_tickets(uow, OPERATOR, ticket_filters(q="13900000002")).totals.count == 2
    assert len(list(iter_tickets(uow, OPERATOR, Filters(), chunk=2))) == 5


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"status": "in_review"}, "status"),  # a ticket status is not an order status
        ({"channel": "paypal"}, "channel"),
        ({"product": "../../etc/passwd"}, "product"),
        ({"date_from": "2026-02-30"}, "date_from"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2026-2-1"}, "date_to"),
        ({"date_from": "9999-01-01"}, "date_from"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to"),
        ({"q": "'; DROP TABLE orders; --"}, "q"),
        ({"q": "x" * 61}, "q"),
        ({"q": "a\x00b@example.com"}, "q"),
        ({"before": "abc"}, "before"),
        ({"before": "99999999999999999999"}, "before"),
        ({"before": "-5"}, "before"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(filters: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        order_filters(**filters)
    assert refused.value.field == field
    assert refused.value.message("zh")
    assert refused.value.message("en")


def test_a_ticket_status_or_reason_not_on_the_list_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        ticket_filters(reason="because")
    assert refused.value.field == "reason"
    with pytest.raises(InvalidInput):
        ticket_filters(status="paid")


def test_only_an_operator_may_search(uow: UnitOfWork, seeded: Seeded) -> None:
    for role in (Role.CONSUMER, Role.AGENT, Role.SUPERVISOR):
        with pytest.raises(NotFound):
            search_orders(uow, Viewer(1, role), Filters())
        with pytest.raises(NotFound):
            search_tickets(uow, Viewer(1, role), Filters())
