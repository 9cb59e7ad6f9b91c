"""The operator's reports over a date range (Beijing dates, both ends included): each one a
GROUP BY in the database, never a walk over the rows in Python.

- refunds by product (orders paid in the range: how many were refunded, and how much money) and
  by reason (tickets opened in the range);
- decisions by route (the engine's: automatic approval, review, rejection) and how they ended;
- time from request to decision and to money (p50/p90), from a per-minute histogram the database
  counts (so the percentiles read a few hundred buckets, not every ticket);
- deadline breaches per day; appeals and how they ended; renewals and cancellations per day;
- the ledger check (the same code as ``kameng ledger check``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement as SqlColumn

from kameng.aftersales.models import Ticket, TicketTimeline
from kameng.catalog.models import ProductRow
from kameng.domain.calendar import SHANGHAI
from kameng.domain.model import Decision, Reason
from kameng.domain.states import RefundStatus
from kameng.domain.subscriptions import RenewalChargeStatus
from kameng.domain.tickets import TicketStatus
from kameng.operator.search import day_range, require_operator
from kameng.orders.models import OrderRow
from kameng.payouts.models import RefundRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput
from kameng.platform.ledger import BooksReport, check_books
from kameng.subscriptions.models import RenewalChargeRow, SubscriptionRow

DEFAULT_DAYS = 30
MAX_DAYS = 366
REPORTS = ("refunds", "decisions", "timings", "breaches", "appeals", "renewals", "ledger")
S = TicketStatus
APPROVED = (S.AUTO_APPROVED, S.APPROVED, S.REFUNDING, S.REFUNDED, S.REFUND_FAILED)
REJECTED = (S.REJECTED, S.REJECTED_FINAL)
OPEN = (S.SUBMITTED, S.IN_REVIEW, S.NEEDS_INFO, S.APPEALED)


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in UTC, from Beijing dates ``first``..``last``."""

    first: date
    last: date
    start: datetime
    end: datetime

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def period(date_from: str | None, date_to: str | None, now: datetime) -> Period:
    """The report's range as typed; empty ends mean the last 30 days up to today. A range past
    a year is refused (a report reads aggregates, but a chart of 10 000 days says nothing)."""
    today = now.astimezone(SHANGHAI).date()
    start, end = day_range(date_from, date_to)
    first = start.astimezone(SHANGHAI).date() if start else None
    last = (end.astimezone(SHANGHAI).date() - timedelta(days=1)) if end else None
    if last is None:
        last = max(first, today) if first is not None else today
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(ErrorCode.BAD_FILTER, "op.report.error.range", "date_to", days=MAX_DAYS)
    full_start, full_end = day_range(first.isoformat(), last.isoformat())
    assert full_start is not None
    assert full_end is not None
    return Period(first, last, full_start, full_end)


def _dialect(uow: UnitOfWork) -> str:
    return uow.session.get_bind().dialect.name


def _minutes_between(uow: UnitOfWork, later: Any, earlier: Any) -> SqlColumn[Any]:
    """Whole minutes from ``earlier`` to ``later``, in SQL."""
    if _dialect(uow) == "postgresql":
        return cast(func.floor(func.extract("epoch", later - earlier) / 60), Integer)
    # Whole seconds, subtracted as integers (julianday's floating point makes 4 h 239.99 minutes).
    seconds = cast(func.strftime("%s", later), Integer) - cast(func.strftime("%s", earlier), Integer)
    return cast(seconds / 60, Integer)


def _local_day(uow: UnitOfWork, column: Any) -> SqlColumn[Any]:
    """The Beijing date of a UTC time, as ``YYYY-MM-DD`` text, in SQL (UTC+8, no summer time)."""
    if _dialect(uow) == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column, "+8 hours")


def _within(column: Any, span: Period) -> ColumnElement[bool]:
    return and_(column >= span.start, column < span.end)


# --------------------------------------------------------------------------------------------
# Refunds


@dataclass(frozen=True, slots=True)
class ProductRefunds:
    slug: str
    name_zh: str
    name_en: str
    paid_orders: int
    refunded_orders: int
    paid_fen: int
    refunded_fen: int

    @property
    def rate(self) -> float:
        """Refunded orders per paid order (0 when none was paid)."""
        return self.refunded_orders / self.paid_orders if self.paid_orders else 0.0


@dataclass(frozen=True, slots=True)
class ReasonRefunds:
    reason: str
    tickets: int
    approved: int
    approved_fen: int

    @property
    def rate(self) -> float:
        return self.approved / self.tickets if self.tickets else 0.0


def refunds_by_product(uow: UnitOfWork, span: Period) -> list[ProductRefunds]:
    query = (
        select(
            ProductRow.slug,
            ProductRow.name_zh,
            ProductRow.name_en,
            func.count(OrderRow.id),
            func.count(OrderRow.id).filter(OrderRow.refunded_fen > 0),
            func.coalesce(func.sum(OrderRow.amount_fen), 0),
            func.coalesce(func.sum(OrderRow.refunded_fen), 0),
        )
        .join(ProductRow, ProductRow.id == OrderRow.product_id)
        .where(OrderRow.paid_at.is_not(None), _within(OrderRow.paid_at, span))
        .group_by(ProductRow.id, ProductRow.slug, ProductRow.name_zh, ProductRow.name_en)
        .order_by(ProductRow.slug)
    )
    return [
        ProductRefunds(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), int(r[6])) for r in uow.session.execute(query)
    ]


def refunds_by_reason(uow: UnitOfWork, span: Period) -> list[ReasonRefunds]:
    query = (
        select(
            Ticket.reason,
            func.count(Ticket.id),
            func.count(Ticket.id).filter(Ticket.status.in_(APPROVED)),
            func.coalesce(func.sum(Ticket.approved_fen).filter(Ticket.status.in_(APPROVED)), 0),
        )
        .where(_within(Ticket.created_at, span))
        .group_by(Ticket.reason)
    )
    found = {
        Reason(r[0]).value: ReasonRefunds(Reason(r[0]).value, int(r[1]), int(r[2]), int(r[3] or 0))
        for r in uow.session.execute(query)
    }
    return [found.get(reason.value, ReasonRefunds(reason.value, 0, 0, 0)) for reason in Reason]


# --------------------------------------------------------------------------------------------
# Decisions


@dataclass(frozen=True, slots=True)
class RouteOutcomes:
    route: str  # the engine's decision: auto_approve, review, reject
    total: int
    approved: int
    rejected: int
    open: int
    withdrawn: int


def decisions_by_route(uow: UnitOfWork, span: Period) -> list[RouteOutcomes]:
    outcome = case(
        (Ticket.status.in_(APPROVED), "approved"),
        (Ticket.status.in_(REJECTED), "rejected"),
        (Ticket.status.in_(OPEN), "open"),
        else_="withdrawn",
    )
    query = (
        select(Ticket.decision, outcome.label("outcome"), func.count(Ticket.id))
        .where(_within(Ticket.created_at, span))
        .group_by(Ticket.decision, outcome)
    )
    counts: dict[tuple[str, str], int] = {}
    for decision, result, count in uow.session.execute(query):
        counts[(Decision(decision).value, str(result))] = int(count)
    routes = []
    for decision in Decision:
        parts = {name: counts.get((decision.value, name), 0) for name in ("approved", "rejected", "open", "withdrawn")}
        routes.append(RouteOutcomes(decision.value, sum(parts.values()), **parts))
    return routes


# --------------------------------------------------------------------------------------------
# Timings


@dataclass(frozen=True, slots=True)
class Timing:
    """Minutes from the request to ``what`` (``decision`` or ``money``)."""

    what: str
    count: int
    p50: int | None
    p90: int | None


def percentile(histogram: Sequence[tuple[int, int]], fraction: float) -> int | None:
    """The smallest value with at least ``fraction`` of the counts at or below it (nearest-rank),
    from ``(value, count)`` pairs."""
    total = sum(count for _, count in histogram)
    if total == 0:
        return None
    rank = max(1, -(-int(fraction * total * 1000) // 1000))  # ceil without float drift
    seen = 0
    for value, count in sorted(histogram):
        seen += count
        if seen >= rank:
            return value
    return sorted(histogram)[-1][0]


def _timing(uow: UnitOfWork, what: str, minutes: Any, *where: ColumnElement[bool], joins: Any = None) -> Timing:
    query = select(minutes.label("m"), func.count()).select_from(Ticket)
    if joins is not None:
        query = query.join(*joins)
    query = query.where(*where).group_by(minutes)
    histogram = [(max(0, int(m)), int(n)) for m, n in uow.session.execute(query) if m is not None]
    return Timing(what, sum(n for _, n in histogram), percentile(histogram, 0.5), percentile(histogram, 0.9))


def timings(uow: UnitOfWork, span: Period) -> list[Timing]:
    decided = _timing(
        uow,
        "decision",
        _minutes_between(uow, Ticket.decided_at, Ticket.created_at),
        Ticket.decided_at.is_not(None),
        _within(Ticket.created_at, span),
    )
    money = _timing(
        uow,
        "money",
        _minutes_between(uow, RefundRow.settled_at, Ticket.created_at),
        RefundRow.status == RefundStatus.SUCCEEDED,
        RefundRow.settled_at.is_not(None),
        _within(Ticket.created_at, span),
        joins=(RefundRow, RefundRow.ticket_id == Ticket.id),
    )
    return [decided, money]


# --------------------------------------------------------------------------------------------
# Per day: breaches, renewals, cancellations


@dataclass
class DailySeries:
    """Counts per Beijing day over the period, one list per series (zeros where none)."""

    days: list[date]
    series: dict[str, list[int]] = field(default_factory=dict)

    def add(self, name: str, counts: dict[str, int]) -> None:
        self.series[name] = [counts.get(day.isoformat(), 0) for day in self.days]

    def total(self, name: str) -> int:
        return sum(self.series.get(name, []))


def _per_day(uow: UnitOfWork, column: Any, *where: ColumnElement[bool], source: Any) -> dict[str, int]:
    day = _local_day(uow, column)
    query = select(day.label("d"), func.count()).select_from(source).where(*where).group_by(day)
    return {str(d): int(n) for d, n in uow.session.execute(query)}


def breaches(uow: UnitOfWork, span: Period) -> DailySeries:
    """Tickets opened each day, and those of them that passed their deadline."""
    daily = DailySeries(span.days())
    daily.add("opened", _per_day(uow, Ticket.created_at, _within(Ticket.created_at, span), source=Ticket))
    daily.add(
        "breached",
        _per_day(uow, Ticket.created_at, _within(Ticket.created_at, span), Ticket.breached.is_(True), source=Ticket),
    )
    return daily


def renewals(uow: UnitOfWork, span: Period) -> DailySeries:
    """Renewal charges by their end (succeeded, failed) and auto-renewals cancelled, per day."""
    daily = DailySeries(span.days())
    for status in ("succeeded", "failed"):
        daily.add(
            f"renewal_{status}",
            _per_day(
                uow,
                RenewalChargeRow.created_at,
                _within(RenewalChargeRow.created_at, span),
                RenewalChargeRow.status == RenewalChargeStatus(status),
                source=RenewalChargeRow,
            ),
        )
    daily.add(
        "cancelled",
        _per_day(
            uow,
            SubscriptionRow.cancelled_at,
            SubscriptionRow.cancelled_at.is_not(None),
            _within(SubscriptionRow.cancelled_at, span),
            source=SubscriptionRow,
        ),
    )
    return daily


# --------------------------------------------------------------------------------------------
# Appeals


@dataclass(frozen=True, slots=True)
class Appeals:
    total: int
    pending: int  # still appealed
    upheld: int  # the rejection stands (rejected_final)
    overturned: int  # approved on appeal
    other: int


def appeals(uow: UnitOfWork, span: Period) -> Appeals:
    """Tickets appealed in the range (their ``appeal`` timeline row), by where they stand now."""
    appealed = (
        select(TicketTimeline.ticket_id)
        .where(TicketTimeline.action == "appeal", _within(TicketTimeline.at, span))
        .distinct()
        .subquery()
    )
    query = (
        select(Ticket.status, func.count()).join(appealed, appealed.c.ticket_id == Ticket.id).group_by(Ticket.status)
    )
    counts = {TicketStatus(status): int(n) for status, n in uow.session.execute(query)}
    pending = counts.get(S.APPEALED, 0)
    upheld = counts.get(S.REJECTED_FINAL, 0)
    overturned = sum(counts.get(status, 0) for status in APPROVED)
    total = sum(counts.values())
    return Appeals(total, pending, upheld, overturned, total - pending - upheld - overturned)


# --------------------------------------------------------------------------------------------
# All of them


@dataclass
class Reports:
    span: Period
    by_product: list[ProductRefunds]
    by_reason: list[ReasonRefunds]
    routes: list[RouteOutcomes]
    timings: list[Timing]
    breaches: DailySeries
    appeals: Appeals
    renewals: DailySeries
    ledger: BooksReport


def build_reports(uow: UnitOfWork, viewer: Viewer, span: Period) -> Reports:
    """Every report for ``span``, read in one transaction (one consistent picture), then the
    ledger check in its own."""
    require_operator(viewer)
    with uow:
        result = Reports(
            span,
            refunds_by_product(uow, span),
            refunds_by_reason(uow, span),
            decisions_by_route(uow, span),
            timings(uow, span),
            breaches(uow, span),
            appeals(uow, span),
            renewals(uow, span),
            BooksReport(),
        )
    result.ledger = check_books(uow)
    return result
