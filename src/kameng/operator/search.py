"""The operator's search over every order (and the filters of the ticket search, in
:mod:`kameng.operator.ticket_search`): filters checked at the boundary,
keyset pages (newest first, by id), and the totals of the whole filtered set in one aggregate.

A search box reads what was typed as one kind of number: a ticket number (``AS…``), an order
number (14 digits, or its first digits), a phone number (11 digits, exact) or an e-mail address.
Dates are Beijing dates, both ends included. Exports read the same filters in chunks
(:func:`iter_orders`, :func:`iter_tickets`), never the whole set at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from kameng.accounts.models import User
from kameng.aftersales.models import Ticket
from kameng.catalog.models import ProductRow
from kameng.domain.calendar import SHANGHAI
from kameng.domain.model import Channel, Reason
from kameng.domain.states import OrderStatus
from kameng.domain.tickets import TicketStatus
from kameng.domain.users import Role
from kameng.orders.models import OrderRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound

PAGE_SIZE = 50
EXPORT_CHUNK = 500
MAX_SEARCH = 60
MAX_ID = 2**63 - 1
ORDER_NO = re.compile(r"^[0-9]{4,14}$")
PHONE = re.compile(r"^1[3-9][0-9]{9}$")
TICKET_NO = re.compile(r"^AS[0-9]{6,18}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
ORDER_STATUSES = tuple(status.value for status in OrderStatus)
TICKET_STATUSES = tuple(status.value for status in TicketStatus)
REASONS = tuple(reason.value for reason in Reason)
CHANNELS = tuple(channel.value for channel in Channel)


def _bad(key: str, field: str, **params: object) -> InvalidInput:
    return InvalidInput(ErrorCode.BAD_FILTER, key, field, **params)


def require_operator(viewer: Viewer) -> None:
    """The console is the operator's: anyone else is told there is nothing here."""
    if viewer.role is not Role.OPERATOR:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")


# --------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True, slots=True)
class Search:
    kind: str  # ticket, order, order_prefix, phone, email
    value: str


@dataclass(frozen=True, slots=True)
class Filters:
    """What the operator asked for, checked (build with :func:`order_filters` or
    :func:`ticket_filters`). ``start``/``end`` are UTC instants, ``end`` excluded."""

    search: Search | None = None
    status: str | None = None
    product: str | None = None
    channel: str | None = None
    reason: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    before: int | None = None  # the keyset cursor: rows with a smaller id


def parse_search(text: str | None, tickets: bool = False) -> Search | None:
    raw = (text or "").strip()
    if not raw:
        return None
    if len(raw) > MAX_SEARCH:
        raise _bad("op.search.error.q", "q")
    compact = raw.replace(" ", "").replace("-", "")
    if compact.startswith("+86"):
        compact = compact[3:]
    if tickets and TICKET_NO.match(compact.upper()):
        return Search("ticket", compact.upper())
    if PHONE.match(compact):
        return Search("phone", compact)
    if ORDER_NO.match(compact):
        return Search("order" if len(compact) == 14 else "order_prefix", compact)
    if EMAIL.match(raw) and not any(ord(c) < 32 for c in raw):
        return Search("email", raw.lower())
    raise _bad("op.search.error.q", "q")


def parse_day(text: str | None, field: str) -> date | None:
    value = (text or "").strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise _bad("op.search.error.date", field) from None
    if not 2000 <= day.year <= 2100:
        raise _bad("op.search.error.date", field)
    return day


def day_range(date_from: str | None, date_to: str | None) -> tuple[datetime | None, datetime | None]:
    """Beijing dates, both included, as UTC instants ``[start, end)``."""
    first, last = parse_day(date_from, "date_from"), parse_day(date_to, "date_to")
    if first and last and first > last:
        raise _bad("op.search.error.date_order", "date_to")
    start = datetime.combine(first, time(), SHANGHAI).astimezone(UTC) if first else None
    end = datetime.combine(last + timedelta(days=1), time(), SHANGHAI).astimezone(UTC) if last else None
    return start, end


def _choice(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if text not in allowed:
        raise _bad(f"op.search.error.{field}", field)
    return text


def _product(value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if not SLUG.match(text):
        raise _bad("op.search.error.product", "product")
    return text


def _before(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,19}", text) or not 0 < int(text) <= MAX_ID:
        raise _bad("op.search.error.cursor", "before")
    return int(text)


def order_filters(
    *,
    q: str | None = None,
    status: str | None = None,
    product: str | None = None,
    channel: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    before: str | None = None,
) -> Filters:
    """The order search's filters as typed (empty means "any"), each checked and refused naming
    its field: an unknown status is an error, never silently "any"."""
    start, end = day_range(date_from, date_to)
    return Filters(
        search=parse_search(q),
        status=_choice(status, ORDER_STATUSES, "status"),
        product=_product(product),
        channel=_choice(channel, CHANNELS, "channel"),
        start=start,
        end=end,
        before=_before(before),
    )


def ticket_filters(
    *,
    q: str | None = None,
    status: str | None = None,
    product: str | None = None,
    reason: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    before: str | None = None,
) -> Filters:
    start, end = day_range(date_from, date_to)
    return Filters(
        search=parse_search(q, tickets=True),
        status=_choice(status, TICKET_STATUSES, "status"),
        product=_product(product),
        reason=_choice(reason, REASONS, "reason"),
        start=start,
        end=end,
        before=_before(before),
    )


# --------------------------------------------------------------------------------------------
# Orders


@dataclass(frozen=True, slots=True)
class OrderLine:
    id: int
    order_no: str
    created_at: datetime
    paid_at: datetime | None
    product_slug: str
    product_zh: str
    product_en: str
    status: str
    channel: str
    amount_fen: int
    refunded_fen: int
    phone: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class Totals:
    count: int
    paid_fen: int  # what the paid orders (ever) took
    refunded_fen: int
    extra: int = 0  # tickets: how many breached their deadline


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Any]
    totals: Totals
    next_before: int | None


def search_condition(search: Search) -> ColumnElement[bool]:
    if search.kind == "ticket":
        return Ticket.ticket_no == search.value
    if search.kind == "order":
        return OrderRow.order_no == search.value
    if search.kind == "order_prefix":
        return _order_no_prefix(search.value)
    if search.kind == "phone":
        # An 11-digit number may be an order number's first digits too. Both halves are on the
        # orders' own indexes (buyer, order number), so the database can OR two index scans.
        buyer = select(User.id).where(User.phone == search.value).scalar_subquery()
        return or_(OrderRow.user_id == buyer, _order_no_prefix(search.value))
    return OrderRow.user_id.in_(select(User.id).where(User.email == search.value))


def _order_no_prefix(digits: str) -> ColumnElement[bool]:
    """Order numbers starting with ``digits``, as a range on the unique index (a LIKE would need
    a pattern index on PostgreSQL): ``":"`` comes right after ``"9"``."""
    return and_(OrderRow.order_no >= digits, OrderRow.order_no < digits + ":")


def _order_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.search:
        conditions.append(search_condition(filters.search))
    if filters.status:
        conditions.append(OrderRow.status == OrderStatus(filters.status))
    if filters.product:
        conditions.append(ProductRow.slug == filters.product)
    if filters.channel:
        conditions.append(OrderRow.channel == Channel(filters.channel))
    if filters.start:
        conditions.append(OrderRow.created_at >= filters.start)
    if filters.end:
        conditions.append(OrderRow.created_at < filters.end)
    return conditions


def _order_select(filters: Filters) -> Any:
    return (
        select(
            OrderRow.id,
            OrderRow.order_no,
            OrderRow.created_at,
            OrderRow.paid_at,
            ProductRow.slug,
            ProductRow.name_zh,
            ProductRow.name_en,
            OrderRow.status,
            OrderRow.channel,
            OrderRow.amount_fen,
            OrderRow.refunded_fen,
            User.phone,
            User.email,
        )
        .join(ProductRow, ProductRow.id == OrderRow.product_id)
        .join(User, User.id == OrderRow.user_id)
        .where(*_order_conditions(filters))
    )


def _order_line(row: Any) -> OrderLine:
    return OrderLine(
        row.id,
        row.order_no,
        row.created_at,
        row.paid_at,
        row.slug,
        row.name_zh,
        row.name_en,
        str(getattr(row.status, "value", row.status)),
        str(getattr(row.channel, "value", row.channel)),
        int(row.amount_fen),
        int(row.refunded_fen),
        row.phone,
        row.email,
    )


def _order_page(uow: UnitOfWork, filters: Filters, limit: int) -> list[OrderLine]:
    query = _order_select(filters)
    if filters.before:
        query = query.where(OrderRow.id < filters.before)
    return [_order_line(row) for row in uow.session.execute(query.order_by(OrderRow.id.desc()).limit(limit))]


def order_totals(uow: UnitOfWork, filters: Filters) -> Totals:
    query = (
        select(
            func.count(OrderRow.id),
            func.coalesce(func.sum(OrderRow.amount_fen).filter(OrderRow.paid_at.is_not(None)), 0),
            func.coalesce(func.sum(OrderRow.refunded_fen), 0),
        )
        .join(ProductRow, ProductRow.id == OrderRow.product_id)
        .join(User, User.id == OrderRow.user_id)
        .where(*_order_conditions(filters))
    )
    count, paid, refunded = uow.session.execute(query).one()
    return Totals(int(count), int(paid), int(refunded))


def search_orders(uow: UnitOfWork, viewer: Viewer, filters: Filters, limit: int = PAGE_SIZE) -> Page:
    """One page of orders (newest first) under ``filters``, and the whole filtered set's totals."""
    require_operator(viewer)
    limit = max(1, min(limit, 200))
    with uow:
        rows = _order_page(uow, filters, limit + 1)
        totals = order_totals(uow, replace(filters, before=None))
    more = len(rows) > limit
    return Page(rows[:limit], totals, rows[limit - 1].id if more else None)


def iter_orders(uow: UnitOfWork, viewer: Viewer, filters: Filters, chunk: int = EXPORT_CHUNK) -> Iterator[OrderLine]:
    """Every order under ``filters``, newest first, read a chunk per transaction (an export of a
    million rows holds neither a transaction nor the rows in memory)."""
    require_operator(viewer)
    cursor = replace(filters, before=None)
    while True:
        with uow:
            rows = _order_page(uow, cursor, chunk)
        yield from rows
        if len(rows) < chunk:
            return
        cursor = replace(cursor, before=rows[-1].id)


def product_choices(uow: UnitOfWork) -> list[tuple[str, str, str]]:
    """``(slug, name_zh, name_en)`` of every product, for the filter's list."""
    with uow:
        rows = uow.session.execute(
            select(ProductRow.slug, ProductRow.name_zh, ProductRow.name_en).order_by(
                ProductRow.sort_order, ProductRow.id
            )
        )
        return [(row.slug, row.name_zh, row.name_en) for row in rows]
