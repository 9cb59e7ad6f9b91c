"""The staff review queue: filters, search and keyset pages over the open tickets, the counts per
deadline state for the staff home, and a rule's plain name for the rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true, tuple_
from sqlalchemy.orm import Session

from kameng.accounts.models import User
from kameng.aftersales.models import Ticket
from kameng.aftersales.queue_filters import (
    AFTER,
    BEFORE,
    MAX_PAGE_SIZE,
    QUEUE_PAGE_SIZE,
    SEGMENTS,
    QueuePosition,
    QueueQuery,
    QueueSegment,
    Search,
    decode_cursor,
    encode_cursor,
    open_statuses,
)
from kameng.aftersales.review import require
from kameng.domain.tickets import (
    CLOCK_RUNNING,
    OPEN_FOR_REVIEW,
    PRIORITY_LANE,
    SlaState,
    TicketStatus,
    age_in_words,
    high_priority,
    sla_state,
    start_of_tomorrow,
)
from kameng.domain.users import Role, mask_email, mask_phone
from kameng.orders.models import OrderRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork

# --------------------------------------------------------------------------------------------
# The staff queue
#
# The queue is read as a fixed sequence of segments, each one index range of
# ``ix_tickets_queue_keyset`` (status, priority, due_at, id): appeals, then the review tickets, then
# those waiting on the consumer (each the priority lane first), ordered by deadline (overdue first,
# then the soonest due) and id; after them every other ticket, newest first. A page is read segment
# by segment from a cursor naming a position (segment, due_at, id): each query is one index seek,
# however deep the page, and the order is stable while tickets come and go.


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One row of the queue, as staff may see it: the customer masked, the deciding rule, where
    the ticket stands against its deadline and how long it has waited."""

    ticket: Ticket
    customer: str
    rule: str
    high_priority: bool
    sla: SlaState | None
    age: tuple[str, int]
    age_seconds: int


@dataclass(frozen=True, slots=True)
class QueuePage:
    items: list[QueueItem]
    next_cursor: str | None
    prev_cursor: str | None
    query: QueueQuery = field(default_factory=QueueQuery)


def _statuses_asked(query: QueueQuery, role: Role) -> frozenset[TicketStatus]:
    if query.status == "open":
        return open_statuses(role)
    if query.status == "review":
        return frozenset({TicketStatus.IN_REVIEW, TicketStatus.NEEDS_INFO})
    if query.status == "all":
        return frozenset(TicketStatus)
    return frozenset({TicketStatus(query.status)})


def _plan(
    session: Session, query: QueueQuery, role: Role, now: datetime
) -> list[tuple[QueueSegment, list[ColumnElement[bool]]]]:
    """Each segment the filters leave, with the conditions that narrow it (one index range each)."""
    asked = _statuses_asked(query, role)
    shared: list[ColumnElement[bool]] = []
    if query.reason is not None:
        shared.append(Ticket.reason == query.reason)
    if query.rule is not None:
        # The deciding rule is the first of the engine's rule ids.
        shared.append(or_(Ticket.rules == query.rule, Ticket.rules.startswith(query.rule + ",", autoescape=True)))
    if query.search is not None:
        shared.append(_search_condition(session, query.search))
    tomorrow = start_of_tomorrow(now)
    plan = []
    for segment in SEGMENTS:
        statuses = segment.statuses & asked
        if not statuses:
            continue
        conditions = [*shared, Ticket.status.in_(sorted(statuses))]
        if segment.priority is not None:
            conditions.append(Ticket.priority == segment.priority)
        if query.priority is not None:
            if segment.priority is not None:  # an open segment: one status, one priority
                if high_priority(next(iter(statuses)), segment.priority) != (query.priority == "high"):
                    continue
            elif query.priority == "high":
                conditions.append(Ticket.priority == PRIORITY_LANE)
            else:
                conditions.append(Ticket.priority != PRIORITY_LANE)
        if query.sla is SlaState.PAUSED:
            if statuses != {TicketStatus.NEEDS_INFO}:
                continue
        elif query.sla is not None:
            if not statuses <= CLOCK_RUNNING:
                continue
            if query.sla is SlaState.OVERDUE:
                conditions.append(Ticket.due_at < now)
            elif query.sla is SlaState.DUE_TODAY:
                conditions.extend([Ticket.due_at >= now, Ticket.due_at < tomorrow])
            else:
                conditions.append(or_(Ticket.due_at >= tomorrow, Ticket.due_at.is_(None)))
        if query.escalated:
            if not statuses <= OPEN_FOR_REVIEW:
                continue
            conditions.append(Ticket.escalated_at.is_not(None))
        plan.append((segment, conditions))
    return plan


def _search_condition(session: Session, search: Search) -> ColumnElement[bool]:
    # The number is looked up first, so the tickets are then found through their own indexes
    # (order_id, user_id) instead of a join the planner might scan.
    if search.kind == "ticket":
        return Ticket.ticket_no == search.value
    if search.kind == "order":
        order_ids = list(session.scalars(select(OrderRow.id).where(OrderRow.order_no == search.value)))
        return Ticket.order_id.in_(order_ids)
    column = User.phone if search.kind == "phone" else User.email
    user_ids = list(session.scalars(select(User.id).where(column == search.value)))
    return Ticket.user_id.in_(user_ids)


def _position(segment: QueueSegment, ticket: Ticket) -> QueuePosition:
    return QueuePosition(segment.index, ticket.due_at if segment.by_due else None, ticket.id)


def _walk(
    session: Session,
    plan: Sequence[tuple[QueueSegment, list[ColumnElement[bool]]]],
    start: QueuePosition | None,
    forward: bool,
    want: int,
) -> list[tuple[QueueSegment, Ticket]]:
    """Up to ``want`` tickets strictly after (or before) ``start``, in queue order (or reversed)."""
    found: list[tuple[QueueSegment, Ticket]] = []
    ordered = plan if forward else list(reversed(plan))
    for segment, conditions in ordered:
        if len(found) >= want:
            break
        if start is not None and (segment.index < start.segment if forward else segment.index > start.segment):
            continue
        where = list(conditions)
        if start is not None and segment.index == start.segment:
            where.append(_beyond(segment, start, forward))
        order: list[Any]
        if segment.by_due:
            if forward:
                order = [Ticket.due_at.asc().nulls_last(), Ticket.id.asc()]
            else:
                order = [Ticket.due_at.desc().nulls_first(), Ticket.id.desc()]
        else:
            order = [Ticket.id.desc() if forward else Ticket.id.asc()]
        rows = session.scalars(select(Ticket).where(*where).order_by(*order).limit(want - len(found)))
        found.extend((segment, row) for row in rows)
    return found


def _beyond(segment: QueueSegment, start: QueuePosition, forward: bool) -> ColumnElement[bool]:
    if not segment.by_due:
        return Ticket.id < start.id if forward else Ticket.id > start.id
    if start.due_at is None:  # a review ticket always has a deadline; nothing sorts past a missing one
        return false() if forward else true()
    # A plain tuple on the right: each value is bound with its column's type (UTC on SQLite too).
    key, bound = tuple_(Ticket.due_at, Ticket.id), (start.due_at, start.id)
    return and_(Ticket.due_at.is_not(None), key > bound if forward else key < bound)


def staff_queue(
    uow: UnitOfWork, staff: Viewer, query: QueueQuery, now: datetime, limit: int = QUEUE_PAGE_SIZE
) -> QueuePage:
    """One page of the staff queue under ``query``, with the cursors of the pages beside it (None
    at either end)."""
    require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    direction, start = decode_cursor(query.cursor) if query.cursor else (AFTER, None)
    with uow:
        session = uow.session
        plan = _plan(session, query, staff.role, now)
        if direction == AFTER:
            rows = _walk(session, plan, start, True, limit + 1)
            more_after, rows = len(rows) > limit, rows[:limit]
            edge = _position(*rows[0]) if rows else start
            more_before = start is not None and bool(_walk(session, plan, edge, False, 1))
        else:
            rows = _walk(session, plan, start, False, limit + 1)
            more_before, rows = len(rows) > limit, rows[:limit][::-1]
            edge = _position(*rows[-1]) if rows else start
            more_after = bool(_walk(session, plan, edge, True, 1))
        items = _items(session, [ticket for _, ticket in rows], now)
    first = _position(*rows[0]) if rows else start
    last = _position(*rows[-1]) if rows else start
    next_cursor = encode_cursor(AFTER, last) if more_after and last is not None else None
    prev_cursor = encode_cursor(BEFORE, first) if more_before and first is not None else None
    return QueuePage(items, next_cursor, prev_cursor, query)


def _items(session: Session, tickets: list[Ticket], now: datetime) -> list[QueueItem]:
    contacts = {
        row.id: mask_phone(row.phone) if row.phone else mask_email(row.email)
        for row in session.execute(
            select(User.id, User.phone, User.email).where(User.id.in_({t.user_id for t in tickets}))
        )
    }
    items = []
    for ticket in tickets:
        age_seconds = max(int((now - ticket.created_at).total_seconds()), 0)
        items.append(
            QueueItem(
                ticket=ticket,
                customer=contacts.get(ticket.user_id, ""),
                rule=ticket.rules.split(",")[0],
                high_priority=high_priority(ticket.status, ticket.priority),
                sla=sla_state(ticket.status, ticket.due_at, now),
                age=age_in_words(ticket.created_at, now),
                age_seconds=age_seconds,
            )
        )
    return items


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """How the tickets waiting on this person stand against their deadlines, for the staff home."""

    on_time: int
    due_today: int
    overdue: int
    paused: int
    escalated: int
    appeals: int

    @property
    def total(self) -> int:
        return self.on_time + self.due_today + self.overdue + self.paused

    def by_sla(self) -> dict[SlaState, int]:
        return {
            SlaState.OVERDUE: self.overdue,
            SlaState.DUE_TODAY: self.due_today,
            SlaState.ON_TIME: self.on_time,
            SlaState.PAUSED: self.paused,
        }


def queue_counts(uow: UnitOfWork, staff: Viewer, now: datetime) -> QueueCounts:
    """One pass over the open tickets (the status index), counted as :func:`sla_state` reads them."""
    require(staff, Role.AGENT, Role.SUPERVISOR, Role.OPERATOR)
    tomorrow = start_of_tomorrow(now)
    running = Ticket.status.in_(sorted(CLOCK_RUNNING))

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    scope = open_statuses(staff.role)
    with uow:
        row = uow.session.execute(
            select(
                count(and_(running, Ticket.status.in_(sorted(scope)), Ticket.due_at < now)),
                count(and_(running, Ticket.status.in_(sorted(scope)), Ticket.due_at >= now, Ticket.due_at < tomorrow)),
                count(
                    and_(
                        running,
                        Ticket.status.in_(sorted(scope)),
                        or_(Ticket.due_at >= tomorrow, Ticket.due_at.is_(None)),
                    )
                ),
                count(Ticket.status == TicketStatus.NEEDS_INFO),
                count(Ticket.escalated_at.is_not(None)),
                count(Ticket.status == TicketStatus.APPEALED),
            ).where(Ticket.status.in_(sorted(OPEN_FOR_REVIEW)))
        ).one()
    overdue, due_today, on_time, paused, escalated, appeals = (int(value) for value in row)
    return QueueCounts(on_time, due_today, overdue, paused, escalated, appeals)


def overdue_tickets(uow: UnitOfWork, now: datetime) -> int:
    """Tickets waiting on staff past their deadline, every lane together (for the operator's
    metrics; :func:`sla_state` reads a single ticket the same way)."""
    with uow:
        count = uow.session.scalar(
            select(func.count(Ticket.id)).where(Ticket.status.in_(sorted(CLOCK_RUNNING)), Ticket.due_at < now)
        )
    return int(count or 0)
