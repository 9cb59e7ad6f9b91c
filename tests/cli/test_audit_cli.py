"""`kameng audit verify` and `kameng evidence` on a demo database with one reviewed, paid-out ticket.

Tampering is done the way an insider would: plain SQL against the timeline table, bypassing the
services. The command must then exit 1 and name the ticket and the row.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from kameng import compose
from kameng.aftersales.requests import RefundRequestCommand, reply, submit_request
from kameng.aftersales.review import approve, ask_info
from kameng.catalog.models import ProductRow
from kameng.cli.main import app
from kameng.demo import seed_demo
from kameng.domain.model import Reason
from kameng.domain.users import Role
from kameng.orders.models import OrderRow
from kameng.platform.access import Viewer
from kameng.platform.calendars import load_calendar
from kameng.platform.db import migrate
from kameng.settings import Settings
from kameng.worker import run_tick

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
AGENT = Viewer(1, Role.AGENT)
CONSUMER = Viewer(4, Role.CONSUMER)


def _build(db: Path) -> str:
    """Demo data and one ticket: review, needs-info, reply, approval, payout. Returns its number."""
    url = f"sqlite:///{db}"
    migrate.upgrade(url)
    container = compose.build(Settings(database_url=url, environment="test", secret_key="t"))
    uow = container.uow
    seed_demo(container, compose.simulator_payer(container.payments), NOW - timedelta(days=1))
    with uow() as work:
        order_no = work.session.scalar(
            select(OrderRow.order_no)
            .join(ProductRow, ProductRow.id == OrderRow.product_id)
            .where(OrderRow.user_id == CONSUMER.user_id, ProductRow.slug == "annual-card")
        )
    assert order_no is not None
    calendar = load_calendar(None)
    command = RefundRequestCommand(order_no, Reason.CHANGED_MIND, "不想用了")
    ticket_no = submit_request(uow(), CONSUMER, command, NOW, calendar).ticket_no
    ask_info(uow(), AGENT, ticket_no, "请说明使用情况", NOW + timedelta(hours=1), calendar)
    reply(uow(), CONSUMER, ticket_no, "只看了一集", [], NOW + timedelta(hours=2), calendar)
    approve(uow(), AGENT, ticket_no, NOW + timedelta(hours=3), calendar)
    run_tick(container, NOW + timedelta(hours=3, minutes=1))
    run_tick(container, NOW + timedelta(hours=4))
    container.dispose()
    return ticket_no


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("audit") / "template.db"
    return db, _build(db)


@pytest.fixture
def db(template: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A private copy of the built database, which the command reads through KAMENG_DATABASE_URL."""
    source, ticket_no = template
    copy = tmp_path / "kameng.db"
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    monkeypatch.setenv("KAMENG_DATABASE_URL", f"sqlite:///{copy}")
    monkeypatch.setenv("KAMENG_ENV", "test")
    return copy, ticket_no


def _sql(db: Path, statement: str) -> None:
    with closing(sqlite3.connect(db)) as connection:
        connection.execute(statement)
        connection.commit()


def test_untouched_database_verifies(db: tuple[Path, str]) -> None:
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "tickets: 1, timeline rows: 7" in result.output
    assert "every chain verifies" in result.output


def test_an_edited_comment_is_named(db: tuple[Path, str]) -> None:
    path, ticket_no = db
    _sql(path, "UPDATE ticket_timeline SET comment = '客户同意不退款' WHERE seq = 3")
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"ticket {ticket_no} (id 1) row 3: content does not match its hash (edited)" in result.output
    assert "row 4" not in result.output  # the rows after it still link to the stored hash


def test_a_deleted_row_is_found(db: tuple[Path, str]) -> None:
    path, ticket_no = db
    _sql(path, "DELETE FROM ticket_timeline WHERE seq = 3")
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"ticket {ticket_no} (id 1) row 4: expected row 3 (a row is missing)" in result.output
    assert "does not follow the previous row's hash" in result.output


def test_a_deleted_last_row_is_found(db: tuple[Path, str]) -> None:
    path, ticket_no = db
    _sql(path, "DELETE FROM ticket_timeline WHERE seq = 7")  # refund_succeeded: the chain alone looks fine
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"ticket {ticket_no} (id 1) row 6: the last row leaves the ticket refunding but it is refunded" in (
        result.output
    )


def test_evidence_command_writes_json_and_pdf(db: tuple[Path, str], tmp_path: Path) -> None:
    _, ticket_no = db
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["evidence", ticket_no, "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    assert data["ticket"]["ticket_no"] == ticket_no
    assert data["chain_verified"] is True
    assert data["generated_for_role"] == "operator"
    assert (out / "evidence.pdf").read_bytes().startswith(b"%PDF")


def test_evidence_for_an_unknown_ticket(db: tuple[Path, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["evidence", "AS00000000000000", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "no ticket AS00000000000000" in result.output
