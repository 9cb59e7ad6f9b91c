"""The staff's after-sales REST API under /api/v1: the review queue (filters, search, cursor
pages) and its counts, and the staff's decisions on a ticket. Staff only; the same conventions as
:mod:`kameng.aftersales.api`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from kameng.aftersales.queue import queue_counts, staff_queue
from kameng.aftersales.queue_filters import MAX_CURSOR, MAX_PAGE_SIZE, MAX_SEARCH, QUEUE_PAGE_SIZE, queue_query
from kameng.aftersales.review import approve, ask_info, reject
from kameng.aftersales.schemas import (
    ApproveIn,
    AskInfoIn,
    RejectIn,
    TicketDetailOut,
    detail_of,
)
from kameng.aftersales.staff_schemas import (
    QueueCountsOut,
    QueuePageOut,
    QueueStatusParam,
    queue_counts_out,
    queue_page_out,
)
from kameng.domain.model import Reason
from kameng.domain.tickets import SlaState
from kameng.platform import inputs
from kameng.platform.inputs import text_validator
from kameng.web.auth import CurrentUser
from kameng.web.deps import ContainerDep, viewer_of
from kameng.web.errors import ERROR_RESPONSE
from kameng.web.params import TicketNo

router = APIRouter(prefix="/api/v1")


# --------------------------------------------------------------------------------------------
# Staff


@router.get(
    "/staff/tickets",
    tags=["after-sales staff"],
    summary="The review queue: filtered, searched, a page at a time",
    responses={404: {"description": "Not staff"}, 422: ERROR_RESPONSE},
)
def get_review_queue(
    user: CurrentUser,
    container: ContainerDep,
    status: Annotated[
        QueueStatusParam | None,
        Query(description="`open` (default): what waits on you (appeals too for supervisors); `all`; or one status"),
    ] = None,
    reason: Annotated[Reason | None, Query(description="The reason the consumer gave")] = None,
    rule: Annotated[
        str | None, Query(max_length=3, pattern=r"^[A-Za-z][0-9]{1,2}$", description="The deciding rule, e.g. P9")
    ] = None,
    priority: Annotated[
        Literal["high", "normal"] | None,
        Query(description="high: the priority lane (merchant gone, platform fault) and appeals"),
    ] = None,
    sla: Annotated[SlaState | None, Query(description="Where the ticket stands against its deadline")] = None,
    overdue: Annotated[bool, Query(description="Only tickets past their deadline (the same as sla=overdue)")] = False,
    lane: Annotated[
        Literal["review", "escalated", "appeals"] | None,
        Query(description="A preset: `review`, `escalated` (past due, handed to supervisors) or `appeals`"),
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=MAX_SEARCH, description="An order number, a ticket number (AS…) or the consumer's phone"),
        text_validator(inputs.SEARCH),  # no NUL or control character reaches the search
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR, description="`next_cursor` or `prev_cursor` of a page"),
        text_validator(inputs.TextRule(MAX_CURSOR)),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = QUEUE_PAGE_SIZE,
) -> QueuePageOut:
    """Appeals first, then the tickets in review, then those waiting on the consumer (each the
    priority lane first), every group in deadline order: overdue first, then the soonest due.
    Every other ticket (`status=all` or a decided status) follows, newest first. Filters combine;
    the order is stable, so a cursor keeps its place while tickets come and go."""
    query = queue_query(
        status=status,
        reason=reason.value if reason else None,
        rule=rule,
        priority=priority,
        sla=sla.value if sla else None,
        overdue=overdue,
        lane=lane,
        q=q,
        cursor=cursor,
    )
    page = staff_queue(container.uow(), viewer_of(user), query, container.now(), limit)
    return queue_page_out(page)


@router.get(
    "/staff/tickets/summary",
    tags=["after-sales staff"],
    summary="The queue's counts: on time, due today, overdue, waiting on the consumer",
    responses={404: {"description": "Not staff"}},
)
def get_review_queue_summary(user: CurrentUser, container: ContainerDep) -> QueueCountsOut:
    """Over the tickets waiting on the viewer (as `status=open`), at the server's clock; with the
    supervisors' escalations and appeals."""
    return queue_counts_out(queue_counts(container.uow(), viewer_of(user), container.now()))


STAFF_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such ticket, or not staff"},
    409: {"description": "`invalid_transition`; `same_person` or `supervisor_only` for appeals"},
    422: ERROR_RESPONSE,
}


@router.post(
    "/tickets/{ticket_no}/approve",
    tags=["after-sales staff"],
    summary="Approve a refund",
    responses=STAFF_RESPONSES,
)
def approve_ticket(
    ticket_no: TicketNo, user: CurrentUser, container: ContainerDep, body: ApproveIn | None = None
) -> TicketDetailOut:
    """At the quoted amount, or another within [0, paid − already refunded] with a ``reason``.
    The payout starts at once, through the outbox."""
    body = body or ApproveIn()
    approve(
        container.uow(),
        viewer_of(user),
        ticket_no,
        container.now(),
        container.calendar,
        amount_fen=body.amount_fen,
        reason=body.reason,
    )
    return detail_of(container.uow(), viewer_of(user), ticket_no)


@router.post(
    "/tickets/{ticket_no}/reject",
    tags=["after-sales staff"],
    summary="Reject, citing a rule",
    responses=STAFF_RESPONSES,
)
def reject_ticket(ticket_no: TicketNo, body: RejectIn, user: CurrentUser, container: ContainerDep) -> TicketDetailOut:
    """Rejecting an appeal makes the rejection final."""
    reject(container.uow(), viewer_of(user), ticket_no, body.rule, body.comment, container.now(), container.calendar)
    return detail_of(container.uow(), viewer_of(user), ticket_no)


@router.post(
    "/tickets/{ticket_no}/ask-info",
    tags=["after-sales staff"],
    summary="Ask the consumer for more information (pauses the clock)",
    responses=STAFF_RESPONSES,
)
def ask_info_ticket(
    ticket_no: TicketNo, body: AskInfoIn, user: CurrentUser, container: ContainerDep
) -> TicketDetailOut:
    ask_info(container.uow(), viewer_of(user), ticket_no, body.comment, container.now(), container.calendar)
    return detail_of(container.uow(), viewer_of(user), ticket_no)
