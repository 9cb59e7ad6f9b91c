"""The after-sales clock, run by the worker: tickets past their review deadline are escalated,
and those still undecided five working days later are approved for the consumer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kameng.aftersales.models import Ticket
from kameng.aftersales.refunds import start_money
from kameng.aftersales.tickets import apply_plan, lock_order, move_ticket
from kameng.domain.aftersales import Note, plan_overdue_approval
from kameng.domain.calendar import WorkCalendar
from kameng.domain.tickets import (
    TicketStatus,
)
from kameng.platform.db.uow import UnitOfWork

# --------------------------------------------------------------------------------------------
# Deadlines (worker)


def run_deadlines(uow: UnitOfWork, now: datetime, calendar: WorkCalendar, batch: int = 50) -> dict[str, int]:
    """Escalate tickets past due; approve at the quoted amount those still undecided five working
    days later. SKIP LOCKED lets any number of workers share the work without doing it twice."""
    escalated = approved = 0
    with uow:
        session = uow.session
        stalled = session.scalars(
            select(Ticket)
            .where(Ticket.status.in_([TicketStatus.IN_REVIEW, TicketStatus.APPEALED]), Ticket.auto_approve_at <= now)
            .order_by(Ticket.priority, Ticket.auto_approve_at)
            .limit(batch)
            .with_for_update(skip_locked=True, of=Ticket)
        ).all()
        for ticket in stalled:
            order = lock_order(uow, ticket.order_id)
            plan = plan_overdue_approval(ticket.quoted_fen, order.amount_fen - order.refunded_fen)
            apply_plan(uow, ticket, plan, now, calendar, None)
            ticket.breached = True
            assert plan.approved_fen is not None
            start_money(uow, ticket, order, plan.approved_fen, now, calendar)
            approved += 1
        overdue = session.scalars(
            select(Ticket)
            .where(
                Ticket.status.in_([TicketStatus.IN_REVIEW, TicketStatus.APPEALED]),
                Ticket.due_at < now,
                Ticket.escalated_at.is_(None),
            )
            .order_by(Ticket.priority, Ticket.due_at)
            .limit(batch)
            .with_for_update(skip_locked=True, of=Ticket)
        ).all()
        for ticket in overdue:
            move_ticket(
                uow, ticket, "escalate", now, calendar, None, "超过审核时限,升级主管", note=Note("timeline.escalated")
            )
            ticket.escalated_at, ticket.breached = now, True
            escalated += 1
        uow.commit()
    return {"tickets_escalated": escalated, "tickets_auto_approved": approved}
