"""The statements a refund request reads with, built once (building them cost more than running
some of them): the order's lock, and what is read under it."""

from __future__ import annotations

from sqlalchemy import and_, bindparam, literal_column, select
from sqlalchemy.orm import lazyload

from kameng.accounts.sessions import signed_in_on
from kameng.aftersales.models import Ticket
from kameng.catalog.models import ProductRow
from kameng.catalog.services import SOLD_PRODUCT_COLUMNS
from kameng.domain.tickets import CLOSED, TicketStatus
from kameng.orders.history import EVENT_FACTS
from kameng.orders.models import OrderEventRow, OrderRow
from kameng.platform.db.ids import drawn_id_columns
from kameng.webhooks.events import ANY_ENABLED

# An approval posts at most this many journal entries (refund owed, a top-up's fee, a platform
# advance, the refund paid into the balance, a coupon given back): their ids are drawn ahead.
ENTRIES_OF_AN_APPROVAL = 5
# The order, locked: the viewer's own, with what after-sales reads of its product as plain
# columns (catalog.services.SOLD_PRODUCT_COLUMNS), not as an object: the request changes nothing
# of it, and its ORM object cost about what the policy version's did (docs/performance.md). Not
# its policy version either: immutable, its terms are kept by id (catalog.services.policy_terms).
# It also says whether any webhook endpoint is enabled (most shops have none: then the request
# reads nothing more about webhooks).
_ORDER_TO_REFUND = (
    select(OrderRow, ANY_ENABLED.label("any_webhook_endpoint"), *SOLD_PRODUCT_COLUMNS)
    .join(ProductRow, ProductRow.id == OrderRow.product_id)
    .where(OrderRow.order_no == bindparam("order_no"))
    .options(lazyload(OrderRow.product), lazyload(OrderRow.policy))
    .with_for_update(of=OrderRow)
)
# The viewer's own order; or, for a bearer secret not looked up yet, its holder's order, with what
# tells whether the holder is signed in (accounts/sessions.signed_in_on): one statement fewer.
_OWN_ORDER_TO_REFUND = _ORDER_TO_REFUND.where(OrderRow.user_id == bindparam("user_id"))
_ORDER_TO_REFUND_SIGNED = signed_in_on(_ORDER_TO_REFUND, OrderRow.user_id)
# On PostgreSQL the same statement draws the ids of the rows that others name: the ticket, and an
# approval's refund and journal entries (a request the engine does not approve leaves those as
# gaps in their sequences, as a rollback does). One round trip fewer than drawing them after.
DRAWN_WITH_THE_LOCK = {"tickets": 1, "refunds": 1, "journal_entries": ENTRIES_OF_AN_APPROVAL}
LOCKS = {
    (signed, drawing): (_ORDER_TO_REFUND_SIGNED if signed else _OWN_ORDER_TO_REFUND).add_columns(
        *(drawn_id_columns(DRAWN_WITH_THE_LOCK) if drawing else ())
    )
    for signed in (False, True)
    for drawing in (False, True)
}
# The statuses written into the statement's text: a list bound as a parameter is expanded into the
# text at every run, a seventh of the query's Python cost. (Enum values of ours, not inputs.)
_STILL_OPEN = Ticket.status.not_in(
    [literal_column(f"'{status.value}'") for status in dict.fromkeys((*CLOSED, TicketStatus.REJECTED_FINAL))]
)
# What the request reads under the order's lock, in one statement (each statement cost the step a
# round trip and SQLAlchemy's set-up, more than the query itself):
# - the consumer's ticket with this idempotency key: a retry (none when the key is None: NULL
#   equals nothing; the key is unique per consumer);
# - the order's open ticket, if any;
# - the order's events, the engine's evidence, as plain rows (the quote only reads them).
# The two tickets' columns are computed once (uncorrelated subqueries) and the events joined to
# that one row, so an order without events still gives the tickets' answer.
_ASKED = select(
    select(Ticket.id)
    .where(Ticket.user_id == bindparam("user_id"), Ticket.idempotency_key == bindparam("key"))
    .scalar_subquery()
    .label("replay_id"),
    select(Ticket.ticket_no)
    .where(Ticket.user_id == bindparam("user_id"), Ticket.order_id == bindparam("order_id"), _STILL_OPEN)
    .limit(1)
    .scalar_subquery()
    .label("open_ticket_no"),
).subquery("asked")
UNDER_THE_LOCK = (
    select(_ASKED.c.replay_id, _ASKED.c.open_ticket_no, OrderEventRow.id.label("event_id"), *EVENT_FACTS)
    .select_from(
        _ASKED.outerjoin(
            OrderEventRow,
            and_(OrderEventRow.order_id == bindparam("order_id"), OrderEventRow.user_id == bindparam("user_id")),
        )
    )
    .order_by(OrderEventRow.at, OrderEventRow.id)
)
