"""Reading the mass refunds: the affected orders of a merchant, the confirmation's count and
total (every order quoted as the run will), a run, the runs, and a run's leftovers for its summary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from kameng.aftersales.models import Ticket
from kameng.catalog.models import Merchant, ProductRow
from kameng.domain.calendar import WorkCalendar
from kameng.domain.mass_refunds import ItemOutcome
from kameng.domain.model import Decision, EventType, Reason
from kameng.domain.states import OrderStatus
from kameng.domain.tickets import CLOSED, TicketStatus
from kameng.operator.mass_models import MassRefundItem, MassRefundRun
from kameng.orders.history import quote_for
from kameng.orders.models import OrderEventRow, OrderRow
from kameng.platform import inputs
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound

# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True, slots=True)
class Preview:
    """What a run would do now, shown before it starts: the affected orders and the refunds quoted."""

    merchant_id: int
    merchant_zh: str
    merchant_en: str
    orders: int
    quoted_fen: int  # the most that may be refunded, every order quoted
    auto_count: int  # approved at once
    auto_fen: int
    review_count: int  # a person decides (the quote is the most they may grant)
    review_fen: int
    open_tickets: int  # already asked by the consumer: decided on their own ticket


def _merchant(session: Session, merchant_id: object) -> Merchant:
    number = inputs.clean_text(str(merchant_id), inputs.TextRule(18, min_length=1), "merchant")
    if not (number.isascii() and number.isdigit()):
        raise InvalidInput(ErrorCode.BAD_NUMBER, "massrefund.error.merchant", "merchant")
    merchant = session.get(Merchant, int(number)) if int(number) < 2**62 else None
    if merchant is None:
        raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_merchant", "merchant", merchant=number)
    return merchant


def affected_orders(merchant_id: int, after_id: int, limit: int | None = None) -> Select[int]:
    """Every paid order of the merchant with nothing refunded yet, in id order."""
    query = (
        select(OrderRow.id)
        .join(ProductRow, ProductRow.id == OrderRow.product_id)
        .where(
            ProductRow.merchant_id == merchant_id,
            OrderRow.status == OrderStatus.PAID,
            # Nothing refunded yet: an order with a refund approved is on its way (its ticket is
            # open) or closed once it arrives; the used share a prorated refund keeps is not owed.
            OrderRow.refunded_fen == 0,
            OrderRow.id > after_id,
        )
        .order_by(OrderRow.id)
    )
    return query.limit(limit) if limit is not None else query


def events_of(session: Session, orders: Sequence[OrderRow]) -> dict[int, list[OrderEventRow]]:
    """The events of many orders in one query, each order's in the order they happened."""
    found: dict[int, list[OrderEventRow]] = defaultdict(list)
    if not orders:
        return found
    rows = session.scalars(
        select(OrderEventRow)
        .where(OrderEventRow.order_id.in_([order.id for order in orders]))
        .order_by(OrderEventRow.order_id, OrderEventRow.at, OrderEventRow.id)
    )
    for row in rows:
        found[row.order_id].append(row)
    return found


def open_ticket_orders(session: Session, order_ids: Sequence[int]) -> set[int]:
    if not order_ids:
        return set()
    return set(
        session.scalars(
            select(Ticket.order_id).where(
                Ticket.order_id.in_(order_ids), Ticket.status.not_in([*CLOSED, TicketStatus.REJECTED_FINAL])
            )
        )
    )


def _gone_event(gone_at: datetime) -> OrderEventRow:
    """A merchant_gone event not stored: what the engine reads for an order the run has not reached."""
    return OrderEventRow(type=EventType.MERCHANT_GONE.value, at=gone_at, count=1, amount_fen=0, note="")


def preview(uow: UnitOfWork, merchant_id: object, now: datetime, calendar: WorkCalendar, chunk: int = 1000) -> Preview:
    """Quote every affected order as the run will (the merchant gone at ``now``), in chunks, without
    writing anything: the confirmation's count and total."""
    with uow:
        session = uow.session
        merchant = _merchant(session, merchant_id)
        totals = {"orders": 0, "quoted": 0, "auto": 0, "auto_fen": 0, "review": 0, "review_fen": 0, "open": 0}
        after = 0
        while True:
            ids = list(session.scalars(affected_orders(merchant.id, after, chunk)))
            if not ids:
                break
            after = ids[-1]
            orders = list(session.scalars(select(OrderRow).where(OrderRow.id.in_(ids))))
            events = events_of(session, orders)
            open_orders = open_ticket_orders(session, ids)
            for order in orders:
                totals["orders"] += 1
                if order.id in open_orders:
                    totals["open"] += 1
                    continue
                known = [*events[order.id], _gone_event(now)]
                quote = quote_for(order, known, now, Reason.MERCHANT_GONE, calendar)
                if quote is None:
                    continue
                totals["quoted"] += quote.refund
                if quote.decision is Decision.AUTO_APPROVE:
                    totals["auto"] += 1
                    totals["auto_fen"] += quote.refund
                elif quote.decision is Decision.REVIEW:
                    totals["review"] += 1
                    totals["review_fen"] += quote.refund
            session.expunge_all()  # a chunk at a time: memory stays flat for any number of orders
        return Preview(
            merchant.id,
            merchant.name_zh,
            merchant.name_en,
            totals["orders"],
            totals["quoted"],
            totals["auto"],
            totals["auto_fen"],
            totals["review"],
            totals["review_fen"],
            totals["open"],
        )


def get_run(uow: UnitOfWork, run_id: object) -> MassRefundRun:
    number = str(run_id)
    if not (number.isascii() and number.isdigit()) or len(number) > 18:
        raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_run", "run", run=number[:20])
    with uow:
        run = uow.session.get(MassRefundRun, int(number))
        if run is None:
            raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_run", "run", run=number)
        return run


def list_runs(uow: UnitOfWork, limit: int = 50) -> list[tuple[MassRefundRun, Merchant]]:
    with uow:
        rows = uow.session.execute(
            select(MassRefundRun, Merchant)
            .join(Merchant, Merchant.id == MassRefundRun.merchant_id)
            .order_by(MassRefundRun.id.desc())
            .limit(limit)
        ).all()
        return [(run, merchant) for run, merchant in rows]


def merchants(uow: UnitOfWork) -> list[Merchant]:
    with uow:
        return list(uow.session.scalars(select(Merchant).order_by(Merchant.id)))


@dataclass(frozen=True, slots=True)
class Leftover:
    """An order the run did not pay at once, for the summary: a person has it next."""

    order_no: str
    ticket_no: str | None
    outcome: ItemOutcome
    amount_fen: int
    rules: str


def leftovers(uow: UnitOfWork, run_id: int, limit: int = 200) -> tuple[list[Leftover], dict[str, int]]:
    """The orders of a run sent to a person (or left to the consumer's own ticket), and the count of
    every outcome."""
    with uow:
        session = uow.session
        counts = {
            str(outcome): int(count)
            for outcome, count in session.execute(
                select(MassRefundItem.outcome, func.count(MassRefundItem.id))
                .where(MassRefundItem.run_id == run_id)
                .group_by(MassRefundItem.outcome)
            )
        }
        rows = session.execute(
            select(
                OrderRow.order_no,
                Ticket.ticket_no,
                MassRefundItem.outcome,
                MassRefundItem.amount_fen,
                MassRefundItem.rules,
            )
            .join(OrderRow, OrderRow.id == MassRefundItem.order_id)
            .outerjoin(Ticket, Ticket.id == MassRefundItem.ticket_id)
            .where(MassRefundItem.run_id == run_id, MassRefundItem.outcome != ItemOutcome.PAID)
            .order_by(MassRefundItem.id)
            .limit(limit)
        ).all()
        return [Leftover(*row) for row in rows], counts
