"""The operator's search over every ticket: the same filters, pages and totals as the order
search (:mod:`kameng.operator.search`), with the ticket's own columns: reason, route, outcome,
quoted and approved amounts, and whether it passed its deadline."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from kameng.accounts.models import User
from kameng.aftersales.models import Ticket
from kameng.catalog.models import ProductRow
from kameng.domain.model import Decision, Reason
from kameng.domain.tickets import TicketStatus
from kameng.operator.search import EXPORT_CHUNK, PAGE_SIZE, Filters, Page, Totals, require_operator, search_condition
from kameng.orders.models import OrderRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class TicketLine:
    id: int
    ticket_no: str
    order_no: str
    created_at: datetime
    decided_at: datetime | None
    product_slug: str
    product_zh: str
    product_en: str
    reason: str
    status: str
    decision: str
    quoted_fen: int
    approved_fen: int | None
    breached: bool
    phone: str | None
    email: str | None


def _ticket_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.search:
        conditions.append(search_condition(filters.search))
    if filters.status:
        conditions.append(Ticket.status == TicketStatus(filters.status))
    if filters.product:
        conditions.append(ProductRow.slug == filters.product)
    if filters.reason:
        conditions.append(Ticket.reason == Reason(filters.reason))
    if filters.start:
        conditions.append(Ticket.created_at >= filters.start)
    if filters.end:
        conditions.append(Ticket.created_at < filters.end)
    return conditions


def _ticket_joins(query: Any) -> Any:
    return (
        query.join(OrderRow, OrderRow.id == Ticket.order_id)
        .join(ProductRow, ProductRow.id == OrderRow.product_id)
        .join(User, User.id == Ticket.user_id)
    )


def _ticket_page(uow: UnitOfWork, filters: Filters, limit: int) -> list[TicketLine]:
    query = _ticket_joins(
        select(
            Ticket.id,
            Ticket.ticket_no,
            OrderRow.order_no,
            Ticket.created_at,
            Ticket.decided_at,
            ProductRow.slug,
            ProductRow.name_zh,
            ProductRow.name_en,
            Ticket.reason,
            Ticket.status,
            Ticket.decision,
            Ticket.quoted_fen,
            Ticket.approved_fen,
            Ticket.breached,
            User.phone,
            User.email,
        )
    ).where(*_ticket_conditions(filters))
    if filters.before:
        query = query.where(Ticket.id < filters.before)
    return [
        TicketLine(
            row.id,
            row.ticket_no,
            row.order_no,
            row.created_at,
            row.decided_at,
            row.slug,
            row.name_zh,
            row.name_en,
            Reason(row.reason).value,
            TicketStatus(row.status).value,
            Decision(row.decision).value,
            int(row.quoted_fen),
            None if row.approved_fen is None else int(row.approved_fen),
            bool(row.breached),
            row.phone,
            row.email,
        )
        for row in uow.session.execute(query.order_by(Ticket.id.desc()).limit(limit))
    ]


def ticket_totals(uow: UnitOfWork, filters: Filters) -> Totals:
    query = _ticket_joins(
        select(
            func.count(Ticket.id),
            func.coalesce(func.sum(Ticket.quoted_fen), 0),
            func.coalesce(func.sum(Ticket.approved_fen), 0),
            func.count(Ticket.id).filter(Ticket.breached.is_(True)),
        )
    ).where(*_ticket_conditions(filters))
    count, quoted, approved, breached = uow.session.execute(query).one()
    return Totals(int(count), int(quoted), int(approved), int(breached))


def search_tickets(uow: UnitOfWork, viewer: Viewer, filters: Filters, limit: int = PAGE_SIZE) -> Page:
    """One page of tickets (newest first); totals: count, quoted, approved, breached."""
    require_operator(viewer)
    limit = max(1, min(limit, 200))
    with uow:
        rows = _ticket_page(uow, filters, limit + 1)
        totals = ticket_totals(uow, replace(filters, before=None))
    more = len(rows) > limit
    return Page(rows[:limit], totals, rows[limit - 1].id if more else None)


def iter_tickets(uow: UnitOfWork, viewer: Viewer, filters: Filters, chunk: int = EXPORT_CHUNK) -> Iterator[TicketLine]:
    require_operator(viewer)
    cursor = replace(filters, before=None)
    while True:
        with uow:
            rows = _ticket_page(uow, cursor, chunk)
        yield from rows
        if len(rows) < chunk:
            return
        cursor = replace(cursor, before=rows[-1].id)
