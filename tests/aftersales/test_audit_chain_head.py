"""The timeline's chain head on the ticket catches what the chain alone cannot: its last rows
deleted when they did not change the status (an escalation, say)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from kameng import compose
from kameng.aftersales import audit
from kameng.aftersales.deadlines import run_deadlines
from kameng.aftersales.models import TicketTimeline
from kameng.aftersales.requests import RefundRequestCommand, submit_request
from kameng.demo import seed_demo
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Reason
from kameng.domain.users import Role
from kameng.orders.models import OrderRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.settings import Settings

NOW = datetime(2026, 11, 20, 2, tzinfo=UTC)


def test_deleting_a_trailing_escalation_row_is_detected(db_url: str) -> None:
    container = compose.build(Settings(database_url=db_url, environment="test", secret_key="t"))
    factory = container.session_factory
    calendar = WorkCalendar()
    seed_demo(container, compose.simulator_payer(container.payments), NOW)
    consumer = Viewer(4, Role.CONSUMER)
    with factory() as session:
        order_no = session.scalar(
            select(OrderRow.order_no).where(OrderRow.user_id == 4, OrderRow.product.has(slug="annual-card"))
        )
    assert order_no is not None
    ticket = submit_request(
        UnitOfWork(factory), consumer, RefundRequestCommand(order_no, Reason.CHANGED_MIND), NOW, calendar
    )
    assert ticket.due_at is not None
    result = run_deadlines(UnitOfWork(factory), ticket.due_at + timedelta(hours=1), calendar)
    assert result["tickets_escalated"] == 1
    assert audit.verify(UnitOfWork(factory)).ok

    with factory() as session, session.begin():
        last = session.scalar(select(func.max(TicketTimeline.seq)).where(TicketTimeline.ticket_id == ticket.id))
        session.execute(delete(TicketTimeline).where(TicketTimeline.ticket_id == ticket.id, TicketTimeline.seq == last))

    report = audit.verify(UnitOfWork(factory))
    assert not report.ok
    assert any("rows deleted" in problem for problem in report.problems)
    container.dispose()
