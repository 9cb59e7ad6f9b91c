"""Reading tickets: a ticket with its timeline, files and refunds as a viewer may see it, the
actions its table allows them, a consumer's tickets, and where an order's refund stands (for its
order page and its receipt). The staff queue is read in :mod:`kameng.aftersales.queue`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from kameng.aftersales.models import EvidenceFile, Ticket, TicketTimeline
from kameng.catalog.models import CouponRow
from kameng.catalog.services import returned_coupon
from kameng.domain.calendar import WorkCalendar
from kameng.domain.refund import ArrivalWindow, arrival_window
from kameng.domain.states import RefundStatus
from kameng.domain.tickets import (
    local_date,
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
            events=order_events(uow, ticket.order_id, ticket.user_id),
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


@dataclass(frozen=True)
class RefundProgress:
    """Where the refund of an order stands, in the words its order page and receipt use."""

    ticket: Ticket
    amount_fen: int  # approved, or (while undecided) what the quote offers
    refund: RefundRow | None  # the latest attempt to pay it, if the money has started
    arrival: ArrivalWindow | None  # the promised window while the money is on its way
    coupon: CouponRow | None  # the coupon the refund gave back

    @property
    def arrived(self) -> RefundRow | None:
        return self.refund if self.refund is not None and self.refund.status is RefundStatus.SUCCEEDED else None


def refund_progress(uow: UnitOfWork, viewer: Viewer, ticket_no: str, calendar: WorkCalendar) -> RefundProgress:
    """A ticket's refund: how much, where the money is, when it was promised to arrive, and the
    coupon it gave back.

    The promised window is counted from the day the money started (RULES.md §5: from the
    approval, which for one click is the request's day, as its quote said); a retry after a
    refusal starts its own window, and the platform balance is credited at once."""
    view = ticket_view(uow, viewer, ticket_no)
    ticket = view.ticket
    refund = view.refunds[-1] if view.refunds else None
    arrival = None
    if refund is not None and refund.status in {RefundStatus.PENDING, RefundStatus.PROCESSING}:
        started: date = local_date(refund.created_at)
        arrival = arrival_window(refund.channel, started, calendar)[0]
    with uow:
        coupon = returned_coupon(uow, ticket.order.order_no)
    amount = ticket.approved_fen if ticket.approved_fen is not None else ticket.quoted_fen
    return RefundProgress(ticket, amount, refund, arrival, coupon)


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
