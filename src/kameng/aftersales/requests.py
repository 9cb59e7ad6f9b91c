"""After-sales: refund requests, tickets, review with deadlines, and the start of the money.

Every function is one transaction. Every status change goes through the ticket transition
table (:data:`kameng.domain.tickets.TICKET`) via :func:`kameng.aftersales.tickets.move_ticket`,
which writes the hash-chained timeline row with the quote as of that moment. Talking to a
channel happens later, from the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row

from kameng.accounts.sessions import BearerSignIn, signed_in
from kameng.aftersales import audit
from kameng.aftersales.models import EvidenceFile, Ticket
from kameng.aftersales.refunds import LOOK_UP, LookUp, start_money
from kameng.aftersales.request_reads import DRAWN_WITH_THE_LOCK, LOCKS, UNDER_THE_LOCK
from kameng.aftersales.tickets import apply_plan, lock_ticket, move_ticket, new_ticket, notify, remember_quote
from kameng.aftersales.uploads import Upload, check_uploads
from kameng.catalog.services import policy_terms, policy_to_domain, sold_product
from kameng.domain.aftersales import Notice, Plan, plan_submission
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Decision, Reason
from kameng.domain.refund import Quote, review_business_days
from kameng.domain.states import OrderStatus
from kameng.domain.tickets import (
    TicketStatus,
    auto_approve_at,
    end_of_day,
    resume_due_at,
    review_due_at,
)
from kameng.orders.history import EventFacts, known_sold_product, quote_for
from kameng.orders.models import OrderRow
from kameng.orders.numbers import draw_until_free, new_order_no
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.bulk import rows_as_values
from kameng.platform.db.ids import pool_drawn_ids, reserve_id_sets
from kameng.platform.db.step_end import write_step_end
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, not_found
from kameng.subscriptions.models import RenewalChargeRow
from kameng.subscriptions.refunds import may_be_about_a_renewal, renewal_asked_about
from kameng.webhooks.events import enabled_endpoints, known_to_have_none

# The rows a request only adds, written together at its end (platform/db/bulk.py); of those, the
# ones no other row names get their ids from the database.
APPEND_ONLY = frozenset(
    {
        "ticket_timeline",
        "messages",
        "outbox",
        "refunds",
        "journal_entries",
        "journal_lines",
        "order_events",
        "webhook_deliveries",
        "evidence_files",
    }
)
# The ticket too, when its id was drawn ahead: it goes out with the rows that name it, written
# once as it ends, instead of through the ORM's flush (whose per-object machinery cost more than
# the insert itself).
WRITTEN_AT_THE_END = APPEND_ONLY | {"tickets"}
SERVER_IDS = frozenset({"ticket_timeline", "messages", "outbox", "journal_lines", "order_events", "evidence_files"})
# A request tells each webhook endpoint at most this much: requested, approved, arrived.
EVENTS_OF_A_REQUEST = 3

# An appeal says why, in a few words at least: an empty or one-word appeal gives the supervisor
# nothing to decide on, and five characters are enough for a reason in Chinese.
APPEAL_MIN_CHARS = 5


@dataclass(frozen=True)
class RefundRequestCommand:
    order_no: str
    reason: Reason
    description: str = ""
    uploads: list[Upload] = field(default_factory=list)
    idempotency_key: str | None = None
    # The one-click refund the consumer confirmed, in fen: the request goes through only if the
    # engine still refunds exactly this, at once (a quote changed since the confirmation page was
    # shown, by an activation in another tab say, is shown again instead of being granted unseen).
    confirmed_one_click_fen: int | None = None


def carry_out_decision(
    uow: UnitOfWork,
    ticket: Ticket,
    order: OrderRow,
    quote: Quote,
    now: datetime,
    calendar: WorkCalendar,
    actor: Viewer,
    renewal: RenewalChargeRow | LookUp | None = LOOK_UP,
) -> Plan:
    """The engine's decision on a just-submitted ticket, carried out: the submission's timeline
    row, the review deadline the quote promised becomes the ticket's (to the day), the plan's moves
    and messages are stored, and an approval starts the money. One step for a consumer's own
    request and for a mass refund (whose operator may be the command line, user 0: no one)."""
    audit.append(
        uow,
        ticket,
        at=now,
        actor_id=actor.user_id or None,
        actor_role=actor.role.value,
        action="submit",
        from_status=None,
        to_status=TicketStatus.SUBMITTED.value,
        comment=ticket.description,
        amount_fen=quote.refund,
        quote=ticket.quote,
    )
    remember_quote(uow, order, ticket.reason, now, quote)  # computed once for the whole step
    plan = plan_submission(
        ticket.ticket_no,
        quote.decision,
        quote.refund,
        quote.rules[0],
        quote.explanation_zh,
        quote.explanation_en,
        quote.review_due,
    )
    if quote.review_due is not None:
        ticket.due_at = end_of_day(quote.review_due)
        ticket.auto_approve_at = auto_approve_at(calendar, ticket.due_at)
    apply_plan(uow, ticket, plan, now, calendar, actor)
    if plan.approved_fen is not None:
        start_money(uow, ticket, order, plan.approved_fen, now, calendar, renewal)
    return plan


def _store_uploads(uow: UnitOfWork, ticket: Ticket, uploader: Viewer, uploads: list[Upload], now: datetime) -> None:
    for item in check_uploads(uploads):
        uow.session.add(
            EvidenceFile(
                ticket_id=ticket.id,
                user_id=ticket.user_id,
                uploaded_by=uploader.user_id,
                filename=item.filename,
                content_type=item.content_type,
                size=len(item.data),
                sha256=item.sha256,
                data=item.data,
                created_at=now,
            )
        )


# --------------------------------------------------------------------------------------------
# The consumer asks


def submit_request_replayable(
    uow: UnitOfWork,
    who: Viewer | BearerSignIn,
    command: RefundRequestCommand,
    now: datetime,
    calendar: WorkCalendar,
) -> tuple[Ticket, bool]:
    """The engine decides what it can at once; the rest becomes a ticket with a deadline.

    ``who`` asks: a viewer signed in already, or a bearer secret the step looks up with the order
    (401 when it signs no one in). A retry with the same idempotency key returns the first ticket
    (and True: a replay); only one open ticket per order is allowed, so two quick clicks never make
    two refunds."""
    check_uploads(command.uploads)  # fail before anything is written
    description = inputs.clean_text(command.description, inputs.DESCRIPTION, "description")
    key = command.idempotency_key
    if key is not None:
        key = inputs.clean_text(key, inputs.IDEMPOTENCY_KEY, "idempotency_key")
    command = replace(command, description=description, idempotency_key=key)
    # An approval's refund carries an out_refund_no made from the ticket number (R + ticket_no).
    return draw_until_free(("ticket_no", "out_refund_no"), lambda: _submit(uow, who, command, now, calendar))


def _submit(
    uow: UnitOfWork, who: Viewer | BearerSignIn, command: RefundRequestCommand, now: datetime, calendar: WorkCalendar
) -> tuple[Ticket, bool]:
    with uow:
        session = uow.session
        # The replay check is made once, under the order's lock (below): a retry waits for the
        # lock like any other request, and a first request does not pay for a second look.
        drawing = uow.dialect == "postgresql"
        signed = isinstance(who, BearerSignIn)
        asked_for: dict[str, object] = {"order_no": command.order_no}
        asked_for |= who.parameters() if isinstance(who, BearerSignIn) else {"user_id": who.user_id}
        viewer, locked = _asker(uow, who, session.execute(LOCKS[signed, drawing], asked_for).one_or_none())
        order: OrderRow = locked[0]
        known_to_have_none(uow, bool(locked.any_webhook_endpoint))
        if drawing:  # SQLite has no sequences: its rows are numbered as they are written
            pool_drawn_ids(uow, locked, DRAWN_WITH_THE_LOCK)
        # One look answers three questions: is this a retry (the same key: under the order's
        # lock, so the same key sent twice at once waited here for the first request's commit and
        # gets its ticket, not "ticket_open", tests/aftersales/test_races.py), is another request
        # on this order still open, and what happened to the order (its events).
        asked = {"user_id": order.user_id, "order_id": order.id, "key": command.idempotency_key}
        # Columns only, nothing pending (nothing is added before the end): run as Core, without
        # the ORM's per-statement set-up, which cost more than the query.
        found = session.connection().execute(UNDER_THE_LOCK, asked).all()
        if found[0].replay_id is not None:
            existing = session.get(Ticket, found[0].replay_id)
            assert existing is not None
            return _replayed(existing, command), True
        if order.status is not OrderStatus.PAID:
            raise Conflict(ErrorCode.NOT_REFUNDABLE_STATE, "error.not_refundable_state", "order")
        open_ticket = found[0].open_ticket_no
        if open_ticket is not None:
            raise Conflict(ErrorCode.TICKET_OPEN, "error.ticket_open", "order", open_ticket=open_ticket)
        # The rows carry the event's columns under their names (EVENT_FACTS).
        events = cast(list[EventFacts], [row for row in found if row.event_id is not None])
        sold = sold_product(locked)  # its columns, read with the lock
        known_sold_product(uow, order.product_id, sold)
        terms = policy_terms(uow, order.policy_version_id)
        quote = quote_for(order, events, now, command.reason, calendar, product=sold.product, policy=terms)
        assert quote is not None
        if command.confirmed_one_click_fen is not None and (
            quote.decision is not Decision.AUTO_APPROVE or quote.refund != command.confirmed_one_click_fen
        ):
            raise Conflict(ErrorCode.QUOTE_CHANGED, "error.quote_changed", "form")
        # Everything read before anything is added, so that nothing is flushed until the end: the
        # renewal an approval refunds (locked), and the ids of the rows that others name (on
        # PostgreSQL drawn with the lock, but the webhook deliveries', when there are endpoints).
        renewal: RenewalChargeRow | LookUp | None = LOOK_UP
        ids = {"webhook_deliveries": EVENTS_OF_A_REQUEST * len(enabled_endpoints(uow))}
        if quote.decision is Decision.AUTO_APPROVE:
            # Only an order renewed by now can be asked about a renewal (no query for the rest).
            about_a_renewal = may_be_about_a_renewal(events, now)
            renewal = renewal_asked_about(uow, order.id, order.user_id, now) if about_a_renewal else None
        reserve_id_sets(uow, ids)
        # From here the step only adds and changes rows: the rows it adds are kept as values where
        # their ids are known (all of them on PostgreSQL) and written by write_step_end.
        with rows_as_values(session, SERVER_IDS):
            ticket = _carry_out(uow, order, quote, command, viewer, renewal, now, calendar)
        uow.commit()
        return ticket, False


def _carry_out(
    uow: UnitOfWork,
    order: OrderRow,
    quote: Quote,
    command: RefundRequestCommand,
    viewer: Viewer,
    renewal: RenewalChargeRow | LookUp | None,
    now: datetime,
    calendar: WorkCalendar,
) -> Ticket:
    """The request's ticket, its uploads and the engine's decision: carried out and written."""
    session = uow.session
    ticket = new_ticket(
        uow,
        order,
        quote,
        command.reason,
        command.description,
        "AS" + new_order_no(now),
        command.idempotency_key,
        now,
    )
    if ticket.id is None:  # no id drawn ahead (SQLite): the rows below name the ticket
        session.flush()
    _store_uploads(uow, ticket, viewer, command.uploads, now)
    carry_out_decision(uow, ticket, order, quote, now, calendar, viewer, renewal)
    # The order's refunded total and the new rows, without the flush's machinery: on
    # PostgreSQL one statement (platform/db/step_end.py).
    write_step_end(session, WRITTEN_AT_THE_END, SERVER_IDS)
    return ticket


def _asker(uow: UnitOfWork, who: Viewer | BearerSignIn, locked: Row[Any] | None) -> tuple[Viewer, Row[Any]]:
    """Who asks, and the lock's row; or why no one may: 404 when the asker has no such order,
    401 when a bearer secret signs no one live in (said first, as when it was looked up first)."""
    viewer = who if isinstance(who, Viewer) else signed_in(uow.session.connection(), locked, who)
    if locked is None:
        raise not_found("order")
    return viewer, locked


def _replayed(ticket: Ticket, command: RefundRequestCommand) -> Ticket:
    """A retry gets the first ticket, if it asks about the same order: a key reused for another
    order is a client bug, refused for the page and the API alike."""
    if ticket.order.order_no != command.order_no:
        raise Conflict(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "error.idempotency_key_reused.2",
            "idempotency_key",
            ticket_no=ticket.ticket_no,
        )
    return ticket


def submit_request(
    uow: UnitOfWork, viewer: Viewer, command: RefundRequestCommand, now: datetime, calendar: WorkCalendar
) -> Ticket:
    """:func:`submit_request_replayable` for callers that need not tell a replay from a new ticket."""
    return submit_request_replayable(uow, viewer, command, now, calendar)[0]


def withdraw(uow: UnitOfWork, viewer: Viewer, ticket_no: str, now: datetime, calendar: WorkCalendar) -> Ticket:
    with uow:
        ticket = lock_ticket(uow, viewer, ticket_no)
        if ticket.user_id != viewer.user_id:
            raise not_found("ticket")
        move_ticket(uow, ticket, "withdraw", now, calendar, viewer)
        uow.commit()
        return ticket


def reply(
    uow: UnitOfWork,
    viewer: Viewer,
    ticket_no: str,
    comment: str,
    uploads: list[Upload],
    now: datetime,
    calendar: WorkCalendar,
) -> Ticket:
    """The consumer answers a request for information: the review clock starts again."""
    check_uploads(uploads)
    comment = inputs.clean_text(comment, inputs.COMMENT, "comment")
    if not comment and not uploads:
        raise InvalidInput(ErrorCode.EMPTY_REPLY, "error.empty_reply", "comment")
    with uow:
        ticket = lock_ticket(uow, viewer, ticket_no)
        if ticket.user_id != viewer.user_id:
            raise not_found("ticket")
        move_ticket(uow, ticket, "reply", now, calendar, viewer, comment)
        if ticket.paused_at is not None and ticket.due_at is not None:
            ticket.due_at = resume_due_at(calendar, ticket.paused_at, ticket.due_at, now)
            ticket.auto_approve_at = auto_approve_at(calendar, ticket.due_at)
        ticket.paused_at = None
        _store_uploads(uow, ticket, viewer, uploads, now)
        uow.commit()
        return ticket


def appeal(
    uow: UnitOfWork,
    viewer: Viewer,
    ticket_no: str,
    comment: str,
    uploads: list[Upload],
    now: datetime,
    calendar: WorkCalendar,
) -> Ticket:
    """The consumer contests a rejection, saying why (at least :data:`APPEAL_MIN_CHARS` characters:
    the supervisor decides on what they read) and attaching evidence the way a request does."""
    check_uploads(uploads)  # fail before anything is written
    comment = inputs.clean_text(comment, inputs.COMMENT, "comment")
    if len(comment) < APPEAL_MIN_CHARS:
        raise InvalidInput(ErrorCode.TOO_SHORT, "error.appeal_too_short", "comment", least=APPEAL_MIN_CHARS)
    with uow:
        ticket = lock_ticket(uow, viewer, ticket_no)
        if ticket.user_id != viewer.user_id:
            raise not_found("ticket")
        if ticket.status is TicketStatus.REJECTED and ticket.appeal_until is not None and now > ticket.appeal_until:
            raise Conflict(ErrorCode.APPEAL_WINDOW_CLOSED, "error.appeal_window_closed", "ticket")
        move_ticket(uow, ticket, "appeal", now, calendar, viewer, comment)
        _store_uploads(uow, ticket, viewer, uploads, now)
        days = review_business_days(policy_to_domain(ticket.order.policy), ticket.rules.split(",")[0])
        due = review_due_at(calendar, now, days)
        ticket.due_at, ticket.auto_approve_at, ticket.escalated_at = due, auto_approve_at(calendar, due), None
        notify(uow, ticket, Notice("appealed", "notice.appealed", {"due": due.date().isoformat()}), now)
        uow.commit()
        return ticket


__all__ = ["RefundRequestCommand"]
