"""Reading tickets: a ticket with its timeline, files and refunds as a viewer may see it, the
actions its table allows them, a consumer's tickets and the staff queue, and where an order's
refund stands (for its order page and its receipt)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true, tuple_
from sqlalchemy.orm import Session

from kameng.accounts.models import User
from kameng.accounts.services import normalise_identifier
from kameng.aftersales.models import EvidenceFile, Ticket, TicketTimeline
from kameng.aftersales.review import require
from kameng.catalog.models import CouponRow
from kameng.catalog.services import returned_coupon
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Reason
from kameng.domain.refund import ArrivalWindow, arrival_window
from kameng.domain.states import RefundStatus
from kameng.domain.tickets import (
    CLOCK_RUNNING,
    CLOSED,
    NORMAL_PRIORITY,
    OPEN_FOR_REVIEW,
    PRIORITY_LANE,
    SlaState,
    TicketStatus,
    age_in_words,
    high_priority,
    local_date,
    offered_actions,
    sla_state,
    start_of_tomorrow,
)
from kameng.domain.users import Role, mask_email, mask_phone
from kameng.orders.history import order_events
from kameng.orders.models import OrderEventRow, OrderRow
from kameng.payouts.models import RefundRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput, not_found
from kameng.platform.i18n import Lang, has_message, translate

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


# --------------------------------------------------------------------------------------------
# The staff queue
#
# The queue is read as a fixed sequence of segments, each one index range of
# ``ix_tickets_queue_keyset`` (status, priority, due_at, id): appeals, then the review tickets, then
# those waiting on the consumer (each the priority lane first), ordered by deadline (overdue first,
# then the soonest due) and id; after them every other ticket, newest first. A page is read segment
# by segment from a cursor naming a position (segment, due_at, id): each query is one index seek,
# however deep the page, and the order is stable while tickets come and go.

QUEUE_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
QUEUE_STATUSES = ("open", "all", *(status.value for status in TicketStatus))
PRIORITIES = ("high", "normal")
LANES = ("review", "escalated", "appeals")
# The engine's rules (RULES.md §3), for the filter's list; any id of this shape may be asked for.
ENGINE_RULES = ("S1", "S2", "S3", "S4", "S5", *(f"P{n}" for n in range(1, 10)), "R1", "R2")
RULE_ID = re.compile(r"^[A-Z][0-9]{1,2}$")
TICKET_NO = re.compile(r"^AS[0-9]{6,18}$")
ORDER_NO = re.compile(r"^[0-9]{14}$")
MAX_CURSOR = 200
MAX_SEARCH = 60
DECIDED = frozenset(TicketStatus) - OPEN_FOR_REVIEW


def open_statuses(role: Role) -> frozenset[TicketStatus]:
    """What waits on this person: the review tickets, and for supervisors and operators (who
    decide them) the appeals too."""
    if role in {Role.SUPERVISOR, Role.OPERATOR}:
        return OPEN_FOR_REVIEW
    return frozenset({TicketStatus.IN_REVIEW, TicketStatus.NEEDS_INFO})


@dataclass(frozen=True, slots=True)
class Search:
    """What a search box held, read as one kind of number (or an e-mail address)."""

    kind: str  # ticket, order, phone, email
    value: str


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """The queue's filters, already checked (build it with :func:`queue_query`)."""

    status: str = "open"
    reason: Reason | None = None
    rule: str | None = None
    priority: str | None = None
    sla: SlaState | None = None
    escalated: bool = False
    search: Search | None = None
    cursor: str | None = None


def _bad(key: str, field_name: str) -> InvalidInput:
    return InvalidInput(ErrorCode.BAD_FILTER, key, field_name)


def _search(text: str) -> Search:
    compact = text.strip().replace(" ", "").replace("-", "")
    if TICKET_NO.match(compact.upper()):
        return Search("ticket", compact.upper())
    if ORDER_NO.match(compact):
        return Search("order", compact)
    try:
        phone, email = normalise_identifier(text)
    except InvalidInput:
        raise InvalidInput(ErrorCode.BAD_SEARCH, "error.queue.search", "q") from None
    return Search("phone", phone) if phone else Search("email", email or "")


def queue_query(
    *,
    status: str | None = None,
    reason: str | None = None,
    rule: str | None = None,
    priority: str | None = None,
    sla: str | None = None,
    overdue: bool = False,
    lane: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
) -> QueueQuery:
    """The filters as typed (an empty value means "any"), checked one by one: a value that is not
    on the list is refused naming its field, never silently ignored. ``overdue`` is ``sla=overdue``;
    a lane is a preset (``escalated``: past the deadline and handed to the supervisors;
    ``appeals``; ``review``: the tickets in review or waiting on the consumer). Filters combine."""
    status = (status or "").strip() or None
    if lane:
        if lane not in LANES:
            raise _bad("error.queue.lane", "lane")
        if lane == "appeals":
            if status not in {None, TicketStatus.APPEALED.value}:
                raise _bad("error.queue.lane_status", "status")
            status = TicketStatus.APPEALED.value
        elif lane == "review":
            if status not in {None, "review", TicketStatus.IN_REVIEW.value, TicketStatus.NEEDS_INFO.value}:
                raise _bad("error.queue.lane_status", "status")
            status = status or "review"
    if status is not None and status not in (*QUEUE_STATUSES, "review"):
        raise _bad("error.queue.status", "status")
    reason_value = (reason or "").strip()
    if reason_value and reason_value not in {r.value for r in Reason}:
        raise _bad("error.queue.reason", "reason")
    rule_value = (rule or "").strip().upper()
    if rule_value and not RULE_ID.match(rule_value):
        raise _bad("error.queue.rule", "rule")
    priority_value = (priority or "").strip()
    if priority_value and priority_value not in PRIORITIES:
        raise _bad("error.queue.priority", "priority")
    sla_value = (sla or "").strip()
    if sla_value and sla_value not in {s.value for s in SlaState}:
        raise _bad("error.queue.sla", "sla")
    sla_state_value = SlaState(sla_value) if sla_value else None
    if overdue:
        if sla_state_value not in {None, SlaState.OVERDUE}:
            raise _bad("error.queue.overdue_sla", "overdue")
        sla_state_value = SlaState.OVERDUE
    search_text = (q or "").strip()
    if len(search_text) > MAX_SEARCH:
        raise InvalidInput(ErrorCode.BAD_SEARCH, "error.queue.search", "q")
    cursor_text = (cursor or "").strip() or None
    if cursor_text is not None:
        _decode_cursor(cursor_text)  # refused now, before anything is read
    return QueueQuery(
        status=status or "open",
        reason=Reason(reason_value) if reason_value else None,
        rule=rule_value or None,
        priority=priority_value or None,
        sla=sla_state_value,
        escalated=lane == "escalated",
        search=_search(search_text) if search_text else None,
        cursor=cursor_text,
    )


@dataclass(frozen=True, slots=True)
class _Segment:
    index: int
    statuses: frozenset[TicketStatus]
    priority: int | None  # None: any
    by_due: bool  # (due_at, id) ascending; otherwise id descending, the newest first


_A, _R, _N = TicketStatus.APPEALED, TicketStatus.IN_REVIEW, TicketStatus.NEEDS_INFO
SEGMENTS = (
    _Segment(0, frozenset({_A}), PRIORITY_LANE, True),
    _Segment(1, frozenset({_A}), NORMAL_PRIORITY, True),
    _Segment(2, frozenset({_R}), PRIORITY_LANE, True),
    _Segment(3, frozenset({_R}), NORMAL_PRIORITY, True),
    _Segment(4, frozenset({_N}), PRIORITY_LANE, True),
    _Segment(5, frozenset({_N}), NORMAL_PRIORITY, True),
    _Segment(6, DECIDED, None, False),
)


@dataclass(frozen=True, slots=True)
class _Position:
    segment: int
    due_at: datetime | None
    id: int


AFTER, BEFORE = "a", "b"


def _encode_cursor(direction: str, position: _Position) -> str:
    due = position.due_at.isoformat() if position.due_at else None
    raw = json.dumps([direction, position.segment, due, position.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[str, _Position]:
    """A cursor is only ever one this module wrote; anything else (cut short, edited, from an older
    version) is refused with the same plain error, never read as a position."""
    try:
        if len(text) > MAX_CURSOR:
            raise ValueError("too long")
        raw = json.loads(base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4)))
        direction, segment, due, ident = raw
        if direction not in {AFTER, BEFORE}:
            raise ValueError("direction")
        if type(segment) is not int or not 0 <= segment < len(SEGMENTS):
            raise ValueError("segment")
        if type(ident) is not int or not 0 <= ident < 2**63:
            raise ValueError("id")
        due_at = None
        if due is not None:
            if not isinstance(due, str):
                raise ValueError("due")
            due_at = datetime.fromisoformat(due)
            if due_at.tzinfo is None:
                raise ValueError("naive")
            due_at = due_at.astimezone(UTC)
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise InvalidInput(ErrorCode.BAD_CURSOR, "error.queue.cursor", "cursor") from None
    return direction, _Position(segment, due_at, ident)


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
) -> list[tuple[_Segment, list[ColumnElement[bool]]]]:
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


def _position(segment: _Segment, ticket: Ticket) -> _Position:
    return _Position(segment.index, ticket.due_at if segment.by_due else None, ticket.id)


def _walk(
    session: Session,
    plan: Sequence[tuple[_Segment, list[ColumnElement[bool]]]],
    start: _Position | None,
    forward: bool,
    want: int,
) -> list[tuple[_Segment, Ticket]]:
    """Up to ``want`` tickets strictly after (or before) ``start``, in queue order (or reversed)."""
    found: list[tuple[_Segment, Ticket]] = []
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


def _beyond(segment: _Segment, start: _Position, forward: bool) -> ColumnElement[bool]:
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
    direction, start = _decode_cursor(query.cursor) if query.cursor else (AFTER, None)
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
    next_cursor = _encode_cursor(AFTER, last) if more_after and last is not None else None
    prev_cursor = _encode_cursor(BEFORE, first) if more_before and first is not None else None
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


def rule_plain_name(rule: str, lang: Lang) -> str | None:
    """The rule's plain name (``rule.<id>.name``), or None while the catalogs have none."""
    if not has_message(f"rule.{rule}.name"):
        return None
    return translate(f"rule.{rule}.name", lang)


def rule_name(rule: str, lang: Lang) -> str:
    """The deciding rule for a person: its id with its plain name where the catalogs have one,
    else "rule P9": never the bare id."""
    name = rule_plain_name(rule, lang)
    if name is None:
        return translate("queue.rule_fallback", lang, rule=rule)
    return translate("queue.rule_named", lang, rule=rule, name=name)
