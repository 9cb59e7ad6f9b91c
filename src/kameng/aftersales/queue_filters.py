"""What a staff member asks of the review queue: the filters, the search, the page size and the
cursor (a position in the queue's segments), checked and refused with the field named; and a
rule's plain name for the queue's rows."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from kameng.accounts.services import normalise_identifier
from kameng.domain.model import Reason
from kameng.domain.tickets import (
    NORMAL_PRIORITY,
    OPEN_FOR_REVIEW,
    PRIORITY_LANE,
    SlaState,
    TicketStatus,
)
from kameng.domain.users import Role
from kameng.platform.errors import ErrorCode, InvalidInput
from kameng.platform.i18n import Lang, has_message, translate

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
        decode_cursor(cursor_text)  # refused now, before anything is read
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
class QueueSegment:
    index: int
    statuses: frozenset[TicketStatus]
    priority: int | None  # None: any
    by_due: bool  # (due_at, id) ascending; otherwise id descending, the newest first


_A, _R, _N = TicketStatus.APPEALED, TicketStatus.IN_REVIEW, TicketStatus.NEEDS_INFO
SEGMENTS = (
    QueueSegment(0, frozenset({_A}), PRIORITY_LANE, True),
    QueueSegment(1, frozenset({_A}), NORMAL_PRIORITY, True),
    QueueSegment(2, frozenset({_R}), PRIORITY_LANE, True),
    QueueSegment(3, frozenset({_R}), NORMAL_PRIORITY, True),
    QueueSegment(4, frozenset({_N}), PRIORITY_LANE, True),
    QueueSegment(5, frozenset({_N}), NORMAL_PRIORITY, True),
    QueueSegment(6, DECIDED, None, False),
)


@dataclass(frozen=True, slots=True)
class QueuePosition:
    segment: int
    due_at: datetime | None
    id: int


AFTER, BEFORE = "a", "b"


def encode_cursor(direction: str, position: QueuePosition) -> str:
    due = position.due_at.isoformat() if position.due_at else None
    raw = json.dumps([direction, position.segment, due, position.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[str, QueuePosition]:
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
    return direction, QueuePosition(segment, due_at, ident)


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
