"""Reading tickets: a ticket with its timeline, files and refunds as a viewer may see it, the
actions its table allows them, a consumer's tickets and the staff queue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from kameng.aftersales.models import EvidenceFile, Ticket, TicketTimeline
from kameng.aftersales.review import require
from kameng.domain.tickets import (
    CLOSED,
    OPEN_FOR_REVIEW,
    TicketStatus,
    offered_actions,
)
from kameng.domain.users import Role
from kameng.orders.history import order_events
from kameng.orders.models import OrderEventRow
from kameng.payouts.models import RefundRow
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import not_found

# --------------------------------------------------------------------------------------------
# Reading


@dataclass
class TicketView:
    ticket: Ticket
    timeline: list[TicketTimeline]
    evidence: list[EvidenceFile]
    refunds: list[RefundRow]
    events: list[OrderEventRow]
    actions: list[str]


def ticket_view(uow: UnitOfWork, viewer: Viewer, ticket_no: str) -> TicketView:
    if not inputs.could_be(ticket_no, inputs.TICKET_NO):
        raise not_found("ticket")
    with uow:
        session = uow.session
        query = select(Ticket).where(Ticket.ticket_no == ticket_no)
        if not viewer.is_staff:
            query = query.where(Ticket.user_id == viewer.user_id)
        ticket = session.scalar(query)
        if ticket is None:
            raise not_found("ticket")
        view = TicketView(
            ticket=ticket,
            timeline=list(
                session.scalars(
                    select(TicketTimeline).where(TicketTimeline.ticket_id == ticket.id).order_by(TicketTimeline.seq)
                )
            ),
            evidence=list(
                session.scalars(
                    select(EvidenceFile).where(EvidenceFile.ticket_id == ticket.id).order_by(EvidenceFile.id)
                )
            ),
            refunds=list(
                session.scalars(select(RefundRow).where(RefundRow.ticket_id == ticket.id).order_by(RefundRow.id))
            ),
            events=order_events(uow, ticket.order_id),
            actions=[],
        )
        view.actions = _actions(view, viewer)
        return view


def _actions(view: TicketView, viewer: Viewer) -> list[str]:
    ticket = view.ticket
    return offered_actions(
        ticket.status,
        owner=viewer.user_id == ticket.user_id,
        staff=viewer.is_staff,
        may_decide_appeal=viewer.role is Role.SUPERVISOR and ticket.rejected_by != viewer.user_id,
    )


@dataclass(frozen=True, slots=True)
class TicketSummary:
    ticket_no: str
    status: TicketStatus
    open: bool


def latest_ticket_for(uow: UnitOfWork, order_id: int) -> TicketSummary | None:
    """The order's most recent after-sales ticket, and whether it is still under way."""
    with uow:
        row = uow.session.execute(
            select(Ticket.ticket_no, Ticket.status)
            .where(Ticket.order_id == order_id)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(1)
        ).one_or_none()
    if row is None:
        return None
    # Open as submit_request judges it: a new request is refused while this one is under way.
    return TicketSummary(row.ticket_no, row.status, row.status not in CLOSED)


def my_tickets(uow: UnitOfWork, viewer: Viewer, limit: int = 100) -> list[Ticket]:
    with uow:
        return list(
            uow.session.scalars(
                select(Ticket)
                .where(Ticket.user_id == viewer.user_id)
                .order_by(Ticket.created_at.desc(), Ticket.id.desc())
                .limit(limit)
            )
        )


def review_queue(uow: UnitOfWork, staff: Viewer, lane: str = "review", limit: int = 200) -> list[Ticket]:
    """Staff queue: priority lane first, then the oldest deadline. ``lane`` is ``review`` (agents),
    ``escalated`` or ``appeals`` (supervisors)."""
    require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
    query = select(Ticket).order_by(Ticket.priority, Ticket.due_at, Ticket.id).limit(limit)
    if lane == "escalated":
        query = query.where(Ticket.escalated_at.is_not(None), Ticket.status.in_(OPEN_FOR_REVIEW))
    elif lane == "appeals":
        query = query.where(Ticket.status == TicketStatus.APPEALED)
    else:
        query = query.where(Ticket.status.in_([TicketStatus.IN_REVIEW, TicketStatus.NEEDS_INFO]))
    with uow:
        return list(uow.session.scalars(query))


def evidence_file(uow: UnitOfWork, viewer: Viewer, ticket_no: str, file_id: int) -> EvidenceFile:
    if not inputs.could_be(ticket_no, inputs.TICKET_NO) or not 1 <= file_id <= inputs.MAX_ID:
        raise not_found("file")
    with uow:
        query = (
            select(EvidenceFile)
            .join(Ticket, Ticket.id == EvidenceFile.ticket_id)
            .where(Ticket.ticket_no == ticket_no, EvidenceFile.id == file_id)
        )
        if not viewer.is_staff:
            query = query.where(Ticket.user_id == viewer.user_id)
        row = uow.session.scalar(query)
        if row is None:
            raise not_found("file")
        return row
