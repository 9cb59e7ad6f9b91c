"""The after-sales clock, run by the worker: tickets past their review deadline are escalated,
and those still undecided five working days later are approved for the consumer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select

from kameng.aftersales.models import Ticket
from kameng.aftersales.refunds import refundable_fen, start_money
from kameng.aftersales.tickets import apply_plan, lock_order, move_ticket
from kameng.domain.aftersales import Note, plan_overdue_approval
from kameng.domain.calendar import WorkCalendar
from kameng.domain.tickets import (
    TicketStatus,
)
from kameng.platform.db.uow import UnitOfWork

log = logging.getLogger("kameng.deadlines")
WAITING = (TicketStatus.IN_REVIEW, TicketStatus.APPEALED)

# --------------------------------------------------------------------------------------------
# Deadlines (worker)


def run_deadlines(uow: UnitOfWork, now: datetime, calendar: WorkCalendar, batch: int = 50) -> dict[str, int]:
    """Escalate tickets past due; approve at the quoted amount those still undecided five working
    days later.

    Each ticket is handled in a transaction of its own, so one that fails (a bug, a row another
    step left inconsistent) is logged with its number and left as it was for the next tick, while
    the others keep what was done to them. A ticket is locked with SKIP LOCKED and its deadline read
    again under the lock, so any number of workers share the work without doing it twice."""
    stalled = and_(Ticket.status.in_(WAITING), Ticket.auto_approve_at <= now)
    overdue = and_(Ticket.status.in_(WAITING), Ticket.due_at < now, Ticket.escalated_at.is_(None))

    def approve(ticket: Ticket) -> None:
        order = lock_order(uow, ticket.order_id)
        plan = plan_overdue_approval(ticket.quoted_fen, refundable_fen(uow, ticket, order))
        apply_plan(uow, ticket, plan, now, calendar, None)
        ticket.breached = True
        assert plan.approved_fen is not None
        start_money(uow, ticket, order, plan.approved_fen, now, calendar)

    def escalate(ticket: Ticket) -> None:
        late = Note("timeline.escalated")
        move_ticket(uow, ticket, "escalate", now, calendar, None, "超过审核时限,升级主管", note=late)
        ticket.escalated_at, ticket.breached = now, True

    approved, failed_approvals = _each(
        uow, stalled, [Ticket.priority, Ticket.auto_approve_at, Ticket.id], batch, "approve_overdue", approve
    )
    escalated, failed_escalations = _each(
        uow, overdue, [Ticket.priority, Ticket.due_at, Ticket.id], batch, "escalate", escalate
    )
    return {
        "tickets_escalated": escalated,
        "tickets_auto_approved": approved,
        "tickets_failed": failed_approvals + failed_escalations,
    }


def _each(
    uow: UnitOfWork,
    due: ColumnElement[bool],
    order: Sequence[Any],
    batch: int,
    step: str,
    act: Callable[[Ticket], None],
) -> tuple[int, int]:
    """Apply ``act`` to each ticket ``due`` describes, one transaction per ticket: (done, failed)."""
    with uow:
        candidates = list(uow.session.scalars(select(Ticket.id).where(due).order_by(*order).limit(batch)))
    done = failed = 0
    for ticket_id in candidates:
        ticket_no = "?"
        try:
            with uow:
                ticket = uow.session.scalar(
                    select(Ticket).where(Ticket.id == ticket_id, due).with_for_update(skip_locked=True, of=Ticket)
                )
                if ticket is None:  # another worker holds it, or it moved on since the list was read
                    continue
                ticket_no = ticket.ticket_no
                act(ticket)
                uow.commit()
            done += 1
        except Exception:  # this ticket only: rolled back, retried at the next tick
            failed += 1
            log.exception(
                "deadline step %s failed for ticket %s (id %s); left for the next tick", step, ticket_no, ticket_id
            )
    return done, failed
