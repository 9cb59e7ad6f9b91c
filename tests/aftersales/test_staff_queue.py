"""The staff review queue, on SQLite and PostgreSQL: its order, filters, search and keyset pages,
as a service and through ``GET /api/v1/staff/tickets``.

Most tickets here are written in bulk (tests/support/bulk_tickets.py) on one real order: the queue's
reading is what is under test. Real tickets (through the services) show the row's words.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, event, text

from kameng.aftersales.models import Ticket
from kameng.aftersales.queue import QueuePage, queue_counts, staff_queue
from kameng.aftersales.queue_filters import queue_query, rule_name
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.demo import DEMO_PASSWORD
from kameng.domain.model import Reason
from kameng.domain.tickets import SHANGHAI, SlaState, TicketStatus
from kameng.domain.users import Role
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import InvalidInput, NotFound
from tests.support.apps import container_of
from tests.support.bulk_tickets import Spec, add_tickets
from tests.support.tickets import buy_one, staff, submit

S = TicketStatus
# Monday 2026-03-02, 10:00 in Beijing (tests/support/database.py NOW).
DAY = timedelta(days=1)


@pytest.fixture
def order_no(catalog: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime) -> str:
    return buy_one(catalog, channel, make_user, now).order_no


def numbers(page: QueuePage) -> list[str]:
    return [item.ticket.ticket_no for item in page.items]


def walk(uow: UnitOfWork, viewer: Viewer, now: datetime, limit: int, **filters: Any) -> list[list[str]]:
    """Every page from the first, following next_cursor."""
    pages, cursor = [], None
    while True:
        page = staff_queue(uow, viewer, queue_query(**filters, cursor=cursor), now, limit)
        pages.append(numbers(page))
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


# --------------------------------------------------------------------------------------------
# Order and pages


def test_the_queue_puts_appeals_then_the_priority_lane_first_and_the_oldest_deadline_first(
    uow: UnitOfWork, order_no: str, now: datetime
) -> None:
    boss = staff(uow, now, Role.SUPERVISOR, "boss")
    late, soon, later = timedelta(hours=-5), timedelta(hours=5), timedelta(days=3)
    specs = [
        Spec(S.IN_REVIEW, 1, later),  # 0
        Spec(S.NEEDS_INFO, 1, -DAY),  # 1: its deadline passed, but the clock is stopped: last
        Spec(S.IN_REVIEW, 1, late),  # 2: overdue: first of the ordinary ones
        Spec(S.APPEALED, 1, later),  # 3
        Spec(S.IN_REVIEW, 0, later),  # 4: the priority lane
        Spec(S.IN_REVIEW, 1, soon),  # 5
        Spec(S.APPEALED, 0, later),  # 6
        Spec(S.REFUNDED, 1, None),  # 7: decided: not in the open queue
        Spec(S.NEEDS_INFO, 0, soon),  # 8
    ]
    made = add_tickets(uow, order_no, specs, now)
    expected = [made[i] for i in (6, 3, 4, 2, 5, 0, 8, 1)]
    assert numbers(staff_queue(uow, boss, queue_query(), now)) == expected
    # Agents do not decide appeals: their queue has none; "all" ends with decided tickets.
    agent = staff(uow, now)
    assert numbers(staff_queue(uow, agent, queue_query(), now)) == [made[i] for i in (4, 2, 5, 0, 8, 1)]
    assert numbers(staff_queue(uow, agent, queue_query(status="all"), now)) == [*expected, made[7]]


def test_pages_cover_every_ticket_once_in_order_forwards_and_backwards_well_past_200(
    uow: UnitOfWork, order_no: str, now: datetime
) -> None:
    agent = staff(uow, now)
    specs = [
        Spec(
            status=(S.IN_REVIEW, S.NEEDS_INFO, S.APPEALED, S.REJECTED, S.REFUNDED)[i % 5],
            priority=0 if i % 7 == 0 else 1,
            # Many share a deadline: the id keeps their order (and the cursor's place) stable.
            due_in=None if i % 5 in (3, 4) else timedelta(hours=(i % 11) * 13 - 40),
        )
        for i in range(230)
    ]
    add_tickets(uow, order_no, specs, now)
    whole = numbers(staff_queue(uow, agent, queue_query(status="all"), now, limit=100))
    assert len(whole) == 100
    pages = walk(uow, agent, now, 25, status="all")
    flat = [number for page in pages for number in page]
    assert len(flat) == len(set(flat)) == 230
    assert flat[:100] == whole
    assert [len(page) for page in pages] == [25] * 9 + [5]

    # Backwards from the last page, through the prev cursors, the same pages in reverse.
    cursor = staff_queue(uow, agent, queue_query(status="all"), now, 25).next_cursor
    for _ in range(8):
        cursor = staff_queue(uow, agent, queue_query(status="all", cursor=cursor), now, 25).next_cursor
    last = staff_queue(uow, agent, queue_query(status="all", cursor=cursor), now, 25)
    assert numbers(last) == pages[-1]
    assert last.next_cursor is None
    back, page = [numbers(last)], last
    while page.prev_cursor is not None:
        page = staff_queue(uow, agent, queue_query(status="all", cursor=page.prev_cursor), now, 25)
        back.append(numbers(page))
    assert back[::-1] == pages
    assert page.prev_cursor is None  # the first page has no previous


def test_a_cursor_keeps_its_place_while_tickets_come_and_go(uow: UnitOfWork, order_no: str, now: datetime) -> None:
    agent = staff(uow, now)
    made = add_tickets(uow, order_no, [Spec(due_in=timedelta(hours=h)) for h in range(1, 11)], now)
    first = staff_queue(uow, agent, queue_query(), now, 4)
    assert numbers(first) == made[:4]
    # Meanwhile: one shown is decided, an earlier deadline arrives, one not yet shown goes.
    with uow:
        uow.session.execute(delete(Ticket).where(Ticket.ticket_no.in_([made[1], made[5]])))
        uow.commit()
    add_tickets(uow, order_no, [Spec(due_in=timedelta(minutes=10))], now)
    second = staff_queue(uow, agent, queue_query(cursor=first.next_cursor), now, 4)
    assert numbers(second) == [made[4], made[6], made[7], made[8]]


# --------------------------------------------------------------------------------------------
# Filters and search


def test_filters_by_status_reason_rule_priority_and_deadline_combine(
    uow: UnitOfWork, order_no: str, now: datetime
) -> None:
    boss = staff(uow, now, Role.SUPERVISOR, "boss")
    evening = datetime(2026, 3, 2, 20, 0, tzinfo=SHANGHAI) - now  # later today in Beijing
    made = add_tickets(
        uow,
        order_no,
        [
            Spec(S.IN_REVIEW, 1, timedelta(hours=-2), Reason.CHANGED_MIND, "P9", escalated=True),  # 0 overdue
            Spec(S.IN_REVIEW, 0, evening, Reason.MERCHANT_GONE, "S5"),  # 1 due today, priority lane
            Spec(S.IN_REVIEW, 1, 3 * DAY, Reason.CHANGED_MIND, "P9,S4"),  # 2 on time
            Spec(S.NEEDS_INFO, 1, -DAY, Reason.NOT_AS_DESCRIBED, "S4"),  # 3 paused
            Spec(S.APPEALED, 1, 2 * DAY, Reason.CHANGED_MIND, "P9"),  # 4 on time, an appeal
            Spec(S.REJECTED, 1, None, Reason.CHANGED_MIND, "P9"),  # 5 decided
        ],
        now,
    )

    def pick(**filters: Any) -> set[int]:
        found = numbers(staff_queue(uow, boss, queue_query(**filters), now, 100))
        return {made.index(number) for number in found}

    assert pick() == {0, 1, 2, 3, 4}
    assert pick(status="all") == {0, 1, 2, 3, 4, 5}
    assert pick(status="rejected") == {5}
    assert pick(status="needs_info") == {3}
    assert pick(reason="changed_mind") == {0, 2, 4}
    assert pick(rule="p9") == {0, 2, 4}  # the deciding rule only: S4 decided nothing on 2
    assert pick(rule="S4") == {3}
    assert pick(priority="high") == {1, 4}  # the priority lane and the appeals
    assert pick(priority="normal") == {0, 2, 3}
    assert pick(sla="overdue") == pick(overdue=True) == {0}
    assert pick(sla="due_today") == {1}
    assert pick(sla="on_time") == {2, 4}
    assert pick(sla="paused") == {3}
    assert pick(lane="escalated") == {0}
    assert pick(lane="appeals") == {4}
    assert pick(lane="review") == {0, 1, 2, 3}
    assert pick(reason="changed_mind", sla="on_time", priority="normal") == {2}
    assert pick(status="all", rule="P9", priority="normal") == {0, 2, 5}

    counts = queue_counts(uow, boss, now)
    assert (counts.overdue, counts.due_today, counts.on_time, counts.paused) == (1, 1, 2, 1)
    assert (counts.total, counts.escalated, counts.appeals) == (5, 1, 1)
    agent_counts = queue_counts(uow, staff(uow, now), now)
    assert (agent_counts.on_time, agent_counts.total) == (1, 4)  # no appeals waiting on an agent


@pytest.mark.usefixtures("catalog")
def test_search_finds_a_ticket_by_its_number_its_order_or_the_consumers_phone(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    agent = staff(uow, now)
    mine = buy_one(uow, channel, make_user, now)
    other = buy_one(uow, channel, make_user, now)
    ticket = submit(uow, mine, now + timedelta(minutes=1))
    theirs = submit(uow, other, now + timedelta(minutes=2))
    with uow:
        phone = uow.session.execute(text("SELECT phone FROM users WHERE id = :id"), {"id": mine.consumer.user_id})
        phone_number = str(phone.scalar_one())

    def find(q: str) -> list[str]:
        return numbers(staff_queue(uow, agent, queue_query(q=q, status="all"), now + DAY))

    assert find(ticket.ticket_no) == find(ticket.ticket_no.lower()) == [ticket.ticket_no]
    assert find(mine.order_no) == [ticket.ticket_no]
    assert find(f" {mine.order_no} ") == [ticket.ticket_no]
    assert find(phone_number) == find(f"+86 {phone_number[:3]} {phone_number[3:]}") == [ticket.ticket_no]
    assert find(other.order_no) == [theirs.ticket_no]
    assert find("13900000000") == []  # a phone nobody has: nothing, not an error
    for nonsense in ("hello", "12345", "AS", "x" * 61):
        with pytest.raises(InvalidInput) as refused:
            queue_query(q=nonsense)
        assert refused.value.code == "bad_search"
        assert refused.value.field == "q"


def test_every_filter_refuses_a_value_not_on_its_list_naming_its_field() -> None:
    for field_name, value in (
        ("status", "open;drop"),
        ("reason", "because"),
        ("rule", "P 9"),
        ("rule", "PP9"),
        ("priority", "urgent"),
        ("sla", "late"),
        ("lane", "mine"),
    ):
        with pytest.raises(InvalidInput) as refused:
            queue_query(**{field_name: value})
        assert refused.value.code == "bad_filter"
        assert refused.value.field == field_name
        assert refused.value.message("zh") != refused.value.message("en")
    with pytest.raises(InvalidInput):
        queue_query(lane="appeals", status="in_review")
    with pytest.raises(InvalidInput):
        queue_query(sla="paused", overdue=True)
    assert queue_query(status="", reason="", rule="", q="").status == "open"  # empty means "any"


def _encoded(raw: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",
        "é",
        _encoded(["a", 99, None, 1]),
        _encoded(["a", 3, "2026-03-02T00:00:00", 1]),  # no zone
        _encoded(["a", 3, "yesterday", 1]),
        _encoded(["x", 3, None, 1]),
        _encoded(["a", 3, None, 2**70]),
        _encoded(["a", True, None, 1]),
        _encoded({"a": 1}),
        _encoded(["a", 3, None]),
        "A" * 201,
    ],
)
def test_a_cursor_that_is_not_ours_is_refused_plainly(cursor: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        queue_query(cursor=cursor)
    assert refused.value.code == "bad_cursor"
    assert refused.value.field == "cursor"


def test_consumers_have_no_queue(uow: UnitOfWork, make_user: Callable[..., object], now: datetime) -> None:
    consumer = make_user()
    with pytest.raises(NotFound):
        staff_queue(uow, Viewer(consumer.id, Role.CONSUMER), queue_query(), now)  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        queue_counts(uow, Viewer(consumer.id, Role.CONSUMER), now)  # type: ignore[attr-defined]


@pytest.mark.usefixtures("catalog")
def test_a_row_shows_the_product_the_masked_customer_the_rule_the_age_and_the_deadline(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    agent = staff(uow, now)
    bought = buy_one(uow, channel, make_user, now)
    created = submit(uow, bought, now + timedelta(minutes=5))  # Monday; due the end of Wednesday
    looked = now + timedelta(days=2, hours=3)  # Wednesday 13:00 in Beijing
    (item,) = staff_queue(uow, agent, queue_query(q=bought.order_no), looked).items
    with uow:
        bought_phone = str(
            uow.session.execute(
                text("SELECT phone FROM users WHERE id = :id"), {"id": bought.consumer.user_id}
            ).scalar_one()
        )
    assert item.ticket.ticket_no == created.ticket_no
    assert item.ticket.order.product.slug == "annual-card"
    assert item.customer.startswith("139")
    assert item.customer.endswith(bought_phone[-4:])
    assert item.customer == bought_phone[:3] + "****" + bought_phone[-4:]
    assert item.rule == "S4"
    assert item.sla is SlaState.DUE_TODAY
    assert item.age == ("days", 2)
    assert not item.high_priority
    # The rule in words: its plain name once the catalogs have one, else "rule S4", never "S4" alone.
    assert rule_name("S4", "en") in {"Rule S4"} or rule_name("S4", "en").startswith("S4 · ")
    assert rule_name("S4", "zh") != "S4"


# --------------------------------------------------------------------------------------------
# Fast on PostgreSQL: every read of a deep page is an index seek, never a sort of the table


@pytest.mark.postgres
def test_each_query_of_a_deep_page_seeks_the_keyset_index_without_sorting(
    uow: UnitOfWork, engine: Engine, order_no: str, now: datetime
) -> None:
    agent = staff(uow, now)
    specs = [
        Spec((S.IN_REVIEW, S.NEEDS_INFO, S.REFUNDED)[i % 3], i % 2, timedelta(hours=i % 17 - 8)) for i in range(600)
    ]
    add_tickets(uow, order_no, specs, now)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE tickets"))
    cursor = None
    for _ in range(6):
        cursor = staff_queue(uow, agent, queue_query(status="all", cursor=cursor), now, 25).next_cursor
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().startswith("SELECT tickets.") and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        deep = staff_queue(uow, agent, queue_query(status="all", cursor=cursor), now, 25)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(deep.items) == 25
    assert seen
    with engine.connect() as conn:
        # Tiny tables read faster in full; the question is whether the index can serve the order
        # alone, so plans that scan the table or sort are priced out.
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_sort = off")
        for statement, parameters in seen:
            plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
            kinds = _node_types(plan)
            assert not [kind for kind in kinds if "Sort" in kind or kind == "Seq Scan"], (kinds, statement)
            assert any("Index" in kind for kind in kinds), kinds


def _node_types(plan: Any) -> list[str]:
    if isinstance(plan, list):
        return [kind for part in plan for kind in _node_types(part)]
    if isinstance(plan, dict):
        own = [plan["Node Type"]] if "Node Type" in plan else []
        return own + [kind for value in plan.values() for kind in _node_types(value)]
    return []


# --------------------------------------------------------------------------------------------
# The API


API = "/api/v1"


def _token(client: TestClient, identifier: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    answer = client.post(f"{API}/auth/token", json={"identifier": identifier, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _demo_order(client: TestClient) -> str:
    container = container_of(client)
    with container.uow() as uow:
        number = uow.session.execute(
            text("SELECT order_no FROM orders WHERE status = 'paid' ORDER BY id LIMIT 1")
        ).scalar_one()
    return str(number)


def test_the_api_pages_filters_and_searches_the_queue_for_staff_only(client: TestClient) -> None:
    container = container_of(client)
    now = container.now()
    order = _demo_order(client)
    made = add_tickets(
        container.uow(),
        order,
        [Spec(due_in=timedelta(hours=h), reason=Reason.NOT_DELIVERED, rules="S1") for h in range(30, 53)],
        now,
    )
    boss = _token(client, "supervisor@kameng.test")
    filters = {"reason": "not_delivered", "limit": 10}
    pages, cursor = [], None
    while True:
        answer = client.get(
            f"{API}/staff/tickets", params={**filters, **({"cursor": cursor} if cursor else {})}, headers=boss
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append([row["ticket_no"] for row in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [10, 10, 3]
    assert [number for page in pages for number in page] == made
    row = body["items"][0]
    assert row["reason"] == "not_delivered"
    assert row["rule"] == "S1"
    assert row["sla"] == "on_time"
    assert row["priority"] == "normal"
    assert row["quoted"] == "12.34"
    assert row["product_name"]["zh"]
    assert row["product_name"]["en"]
    assert "****" in row["customer"]
    assert body["prev_cursor"]
    back = client.get(f"{API}/staff/tickets", params={**filters, "cursor": body["prev_cursor"]}, headers=boss).json()
    assert [r["ticket_no"] for r in back["items"]] == pages[1]

    found = client.get(f"{API}/staff/tickets", params={"q": made[5].lower(), "status": "all"}, headers=boss).json()
    assert [r["ticket_no"] for r in found["items"]] == [made[5]]
    by_order = client.get(f"{API}/staff/tickets", params={"q": order, "sla": "on_time"}, headers=boss).json()
    assert {r["ticket_no"] for r in by_order["items"]} >= set(made[:10])

    summary = client.get(f"{API}/staff/tickets/summary", headers=boss)
    assert summary.status_code == 200, summary.text
    assert summary.json()["on_time"] >= 23
    assert summary.json()["total"] == sum(summary.json()[k] for k in ("on_time", "due_today", "overdue", "paused"))

    for params, field_name in (
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"q": "hello"}, "q"),
        ({"sla": "late"}, "sla"),
        ({"rule": "9P"}, "rule"),
        ({"limit": 0}, "limit"),
        ({"lane": "appeals", "status": "in_review"}, "status"),
    ):
        refused = client.get(f"{API}/staff/tickets", params=params, headers=boss)
        assert refused.status_code == 422, (params, refused.text)
        assert refused.json()["error"]["field"] == field_name, refused.text
        assert refused.json()["error"]["message_zh"]

    consumer = _token(client, "13800000001")
    assert client.get(f"{API}/staff/tickets", headers=consumer).status_code == 404
    assert client.get(f"{API}/staff/tickets/summary", headers=consumer).status_code == 404
    assert client.get(f"{API}/staff/tickets").status_code == 401


def test_the_openapi_document_describes_the_queue_its_filters_and_the_health_check(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/staff/tickets", "/api/v1/staff/tickets/summary", "/api/v1/health"):
        for operation in paths[path].values():
            assert operation["tags"], path
            assert operation["summary"], path
    names = {p["name"] for p in paths["/api/v1/staff/tickets"]["get"]["parameters"]}
    assert {"status", "reason", "rule", "priority", "sla", "overdue", "lane", "q", "cursor", "limit"} <= names
