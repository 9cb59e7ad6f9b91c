"""The plan for growing past one database (docs/scaling.md), checked: every table has its place,
every consumer-owned table carries ``user_id``, and the hot queries filter on it, so that each
consumer request stays on one node when consumer tables are distributed by ``user_id``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager

import pytest
from fastapi.testclient import TestClient

from kameng.schema import PLACEMENT, Base, Placement
from kameng.web.app import create_app
from tests.support.apps import app_settings, container_of
from tests.support.statements import statements

API = "/api/v1"
BY_USER = {name for name, place in PLACEMENT.items() if place is Placement.BY_USER}


def test_every_table_has_its_place() -> None:
    tables = set(Base.metadata.tables)
    assert tables - set(PLACEMENT) == set(), "a new table: say where it lives in kameng.schema.PLACEMENT"
    assert set(PLACEMENT) - tables == set()


@pytest.mark.parametrize("name", sorted(BY_USER))
def test_every_consumer_owned_table_carries_its_owner(name: str) -> None:
    table = Base.metadata.tables[name]
    assert "user_id" in table.c, f"{name} is distributed by user_id and has no user_id"
    assert not table.c.user_id.nullable, f"{name}.user_id may be NULL: a row with no owner has no node"


@pytest.mark.parametrize("name", sorted(BY_USER))
def test_keys_between_consumer_owned_tables_hold_the_owner(name: str) -> None:
    """The only foreign key Citus enforces between two distributed tables is one that holds the
    distribution column on both sides; it also keeps a row under its parent's consumer."""
    for key in Base.metadata.tables[name].foreign_key_constraints:
        if key.referred_table.name not in BY_USER:
            continue
        pairs = {(element.parent.name, element.column.name) for element in key.elements}
        parent = key.referred_table.name
        assert ("user_id", "user_id") in pairs, f"{name}: {key.name} refers to {parent} without user_id"


# --------------------------------------------------------------------------------------------
# The hot queries

_SOURCE = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+([a-z_]+)(?:\s+AS\s+([a-z_0-9]+))?", re.IGNORECASE)


# The ORM writes a row it loaded by its primary key. On Citus the primary key of a distributed
# table must hold the distribution column, so the distribution migration makes it (id, user_id)
# and these UPDATEs then name the owner by themselves (docs/scaling.md, "what changes").
_BY_PRIMARY_KEY = re.compile(
    r"^\s*UPDATE\s+([a-z_]+)\s+SET\s.*\sWHERE\s+\1\.id\s*=\s*\S+\s*$", re.IGNORECASE | re.DOTALL
)


# A step's end written as one statement (platform/db/step_end.py): WITH changed_0 AS (UPDATE …),
# new_0 AS (INSERT …), … SELECT …; each part is checked as the statement it would be alone.
_PART_OF_A_WITH = re.compile(r"\b[a-z_0-9]+\s+AS\s*\(\s*(?=INSERT\b|UPDATE\b)", re.IGNORECASE)


# A bound value as the drivers' statements show it: %(name)s or $1 (PostgreSQL, with a cast
# perhaps), ? (SQLite).
_VALUE = r"(?:%\(\w+\)s|\$\d+|\?)(?:::[A-Z]+)?"


def _owner_named(statement: str, name: str, tables: dict[str, str]) -> bool:
    """Whether ``name``'s owner is pinned to a value: ``name.user_id = <value>``, or equal to the
    owner of another consumer table whose owner is (a co-located join runs on the same node). An
    owner equal to a column of a coordinator table is not: the node is known only once that table
    was read, so the statement could not be sent to one node."""
    pinned: set[str] = set()
    while True:
        before = len(pinned)
        for alias in tables:
            column = re.escape(f"{alias}.user_id")
            if re.search(rf"{column}\s*=\s*{_VALUE}|{_VALUE}\s*=\s*{column}", statement):
                pinned.add(alias)
            for other in pinned:
                other_column = re.escape(f"{other}.user_id")
                if re.search(rf"{column}\s*=\s*{other_column}\b|{other_column}\s*=\s*{column}\b", statement):
                    pinned.add(alias)
                    break
        if name in pinned:
            return True
        if len(pinned) == before:
            return False


def unrouted(statement: str) -> list[str]:
    """The consumer-owned tables a statement reads or changes without naming their owner by value:
    each must be filtered on its user_id equal to a bound value, or to the owner of another such
    table that is (an INSERT must write it)."""
    if statement.lstrip().upper().startswith("WITH") and _PART_OF_A_WITH.search(statement):
        return [table for part in _PART_OF_A_WITH.split(statement)[1:] for table in unrouted(part)]
    if _BY_PRIMARY_KEY.match(statement):
        return []
    sources = _SOURCE.findall(statement)
    consumer_tables = {alias or table: table for table, alias in sources if table in BY_USER}
    found = []
    for table, alias in sources:
        if table not in BY_USER:
            continue
        if statement.lstrip().upper().startswith("INSERT"):
            if not re.search(r"\(\s*[^)]*\buser_id\b", statement):
                found.append(table)
        elif not _owner_named(statement, alias or table, consumer_tables):
            found.append(table)
    return found


@pytest.fixture
def distributed(db_url: str) -> Iterator[TestClient]:
    """The app as it runs on a distributed PostgreSQL (KAMENG_DISTRIBUTED_DATABASE=1)."""
    with TestClient(create_app(app_settings(db_url, KAMENG_DISTRIBUTED_DATABASE="1"))) as test_client:
        yield test_client


def _hot_requests(client: TestClient, seen: list[str], all_of_them: bool = False) -> list[str]:
    """The statements of a consumer's hot requests: the order's detail, the list, a refund
    request; with ``all_of_them``, placing the order (not its payment) too."""
    answer = client.post(f"{API}/auth/signup", json={"identifier": "13900001111", "password": "long-enough-1"})
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    seen.clear()
    placed = client.post(
        f"{API}/orders",
        json={"product": "monthly-pass", "channel": "alipay", "duplicate_ack": True},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 201, placed.text
    order_no = placed.json()["order_no"]
    placing = list(seen) if all_of_them else []
    paid = client.post(f"{API}/payments/simulator/{placed.json()['out_trade_no']}/pay")
    assert paid.status_code == 200, paid.text

    seen.clear()
    assert client.get(f"{API}/orders/{order_no}", headers=headers).status_code == 200
    assert client.get(f"{API}/orders", headers=headers).status_code == 200
    asked = client.post(
        f"{API}/orders/{order_no}/refund-requests",
        json={"reason": "changed_mind", "description": "scaling"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert asked.status_code == 201, asked.text
    return placing + seen


def _listening(client: TestClient) -> AbstractContextManager[list[str]]:
    return statements(container_of(client).engine)


def test_a_consumers_hot_requests_name_the_consumer_in_every_query_when_distributed(
    distributed: TestClient,
) -> None:
    with _listening(distributed) as seen:
        statements = _hot_requests(distributed, seen)
        problems = [(unrouted(s), " ".join(s.split())[:300]) for s in statements if unrouted(s)]
        assert problems == [], "\n".join(f"{tables}: {text}" for tables, text in problems)


def test_checkout_names_the_owner_in_every_query_but_the_channels_notification(distributed: TestClient) -> None:
    # Placing an order names its owner throughout. The channel's payment notification knows only
    # our trade number: its lock finds the payment and the order by it, which a distributed
    # database would run on every node (docs/scaling.md, "not done"). This pins that known gap to
    # that one statement.
    answer = distributed.post(f"{API}/auth/signup", json={"identifier": "13900001112", "password": "long-enough-1"})
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    with _listening(distributed) as seen:
        placed = distributed.post(
            f"{API}/orders",
            json={"product": "monthly-pass", "channel": "alipay", "duplicate_ack": True},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert placed.status_code == 201, placed.text
        placing = [(unrouted(s), " ".join(s.split())[:300]) for s in seen if unrouted(s)]
        assert placing == [], "\n".join(f"{tables}: {text}" for tables, text in placing)
        seen.clear()
        out_trade_no = placed.json()["out_trade_no"]
        paid = distributed.post(f"{API}/payments/simulator/{out_trade_no}/pay")
        assert paid.status_code == 200, paid.text
        paying = [s for s in seen if unrouted(s)]
        assert len(paying) == 1, paying
        assert sorted(unrouted(paying[0])) == ["orders", "payments"]
        assert "payments.out_trade_no" in paying[0]


def test_on_one_database_only_the_checkouts_read_and_the_refund_requests_lock_find_their_owner_by_the_token(
    client: TestClient,
) -> None:
    # The two statements KAMENG_DISTRIBUTED_DATABASE changes: the checkout's read and the order's
    # lock, which on one database also look the bearer token up (a statement fewer each), and so
    # name the owner as the token's session's, not as a value.
    with _listening(client) as seen:
        statements = _hot_requests(client, seen, all_of_them=True)
        problems = [(unrouted(s), s) for s in statements if unrouted(s)]
        assert [tables for tables, _ in problems] == [["orders", "orders"], ["orders"]], problems
        reads, lock = (statement for _, statement in problems)
        assert "auth_sessions.secret_hash" in reads
        assert "products.slug" in reads
        assert "auth_sessions.secret_hash" in lock
        assert "orders.order_no" in lock


def test_the_check_sees_a_query_that_forgets_the_owner() -> None:
    assert unrouted("SELECT tickets.id FROM tickets WHERE tickets.order_id = ?") == ["tickets"]
    assert unrouted("SELECT o.id FROM orders AS o JOIN tickets ON tickets.order_id = o.id WHERE o.user_id = ?") == [
        "tickets"
    ]
    assert unrouted("INSERT INTO messages (key, ticket_id) VALUES (?, ?)") == ["messages"]
    assert unrouted("SELECT orders.id FROM orders WHERE orders.user_id = ? AND orders.order_no = ?") == []
    assert unrouted("UPDATE orders SET refunded_fen=? WHERE orders.id = ?") == []
    assert unrouted("UPDATE orders SET status=? WHERE orders.order_no = ?") == ["orders"]
    assert unrouted("SELECT products.id FROM products") == []  # a reference table
    # Equal to a value, or to the owner of a table whose owner is (a co-located join).
    assert unrouted("SELECT o.id FROM orders AS o WHERE o.user_id = %(user_id)s::BIGINT") == []
    colocated = "SELECT t.id FROM tickets AS t JOIN orders ON orders.id = t.order_id AND orders.user_id = t.user_id"
    assert unrouted(colocated + " WHERE t.user_id = $3") == []
    assert unrouted(colocated) == ["tickets", "orders"]
    # Equal to a coordinator table's column: known only once that table was read.
    by_token = (
        "SELECT orders.id FROM orders JOIN (SELECT auth_sessions.user_id AS signer_user_id FROM auth_sessions "
        "WHERE auth_sessions.secret_hash = %(secret_hash)s LIMIT 1) AS signer ON signer.signer_user_id = "
        "orders.user_id WHERE orders.order_no = %(order_no)s FOR UPDATE OF orders"
    )
    assert unrouted(by_token) == ["orders"]
    step_end = (
        "WITH changed_0 AS (UPDATE orders SET refunded_fen=%(a)s WHERE orders.id = %(b)s AND orders.user_id = %(c)s "
        "RETURNING orders.id), new_0 AS (INSERT INTO tickets (id, user_id) VALUES (%(d)s, %(e)s)), "
        "new_1 AS (INSERT INTO messages (key, ticket_id) VALUES (%(f)s, %(g)s)) "
        "SELECT (SELECT count(*) AS count_1 FROM changed_0) AS anon_1"
    )
    assert unrouted(step_end) == ["messages"]
    assert unrouted(step_end.replace(" AND orders.user_id = %(c)s", "")) == ["orders", "messages"]
