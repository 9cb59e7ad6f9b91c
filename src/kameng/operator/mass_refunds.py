"""The mass refund (批量先行赔付) for a merchant that is gone: the merchant_gone event on every
affected order, each order quoted by the engine (S5 with RULES.md section 3a), a ticket per order,
and the approved ones paid through the normal payout path (platform advance, receivable from the
merchant, the channel's refund through the outbox), each consumer told in their inbox.

A run is a record processed in batches, each batch one transaction that locks the run row: the
cursor, the counters, every ticket and every ledger entry of the batch commit together or not at
all. Each order's outcome is a row unique on (run, order) and its ticket carries the idempotency
key ``mass:<run>:<order>``: a run killed half-way and resumed starts after the last committed batch
and never pays an order twice. The CLI runs the batches in the foreground (``kameng refund mass``);
a run started from the operator's page is taken by the worker tick (:mod:`kameng.operator.mass_runner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kameng.aftersales import audit
from kameng.aftersales.models import Ticket
from kameng.aftersales.requests import carry_out_decision
from kameng.aftersales.tickets import remember_quote
from kameng.catalog.models import Merchant
from kameng.domain.calendar import WorkCalendar
from kameng.domain.mass_refunds import RUN, ItemOutcome, RunStatus
from kameng.domain.model import Decision, EventType, Reason
from kameng.domain.refund import Quote
from kameng.domain.states import OrderStatus
from kameng.domain.tickets import TicketStatus, priority_of
from kameng.domain.users import Role
from kameng.operator.mass_models import MassRefundItem, MassRefundRun
from kameng.operator.mass_queries import (
    affected_orders,
    events_of,
    get_run,
    open_ticket_orders,
    preview,
)
from kameng.orders.history import add_order_event, quote_for
from kameng.orders.models import OrderEventRow, OrderRow
from kameng.orders.numbers import draw_until_free, new_order_no
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.bulk import write_new_rows
from kameng.platform.db.ids import reserve_ids
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, NotFound
from kameng.subscriptions.models import RenewalChargeRow
from kameng.subscriptions.refunds import renewals_asked_about

DEFAULT_BATCH = 200
MAX_BATCH = 2000
# The rows one order adds at most, by table (a ticket approved at once and paid to its channel):
# the batch draws their ids ahead (platform/db/ids.py).
ROWS_PER_ORDER = {
    "tickets": 1,
    "ticket_timeline": 3,
    "refunds": 1,
    "messages": 2,
    "outbox": 4,
    "journal_entries": 2,
    "journal_lines": 4,
    "order_events": 1,
    "mass_refund_items": 1,
    "webhook_deliveries": 0,
}
# The tables a batch only adds rows to: written by multi-row inserts (platform/db/bulk.py).
APPEND_ONLY = frozenset(
    {
        "ticket_timeline",
        "refunds",
        "messages",
        "outbox",
        "journal_entries",
        "journal_lines",
        "order_events",
        "mass_refund_items",
    }
)


def event_note(run_id: int) -> str:
    """The note on the merchant_gone event a run records: how a resumed run knows it is there."""
    return f"mass_refund:{run_id}"


def ticket_key(run_id: int, order_id: int) -> str:
    """The idempotency key of the ticket a run opens for an order (unique per consumer)."""
    return f"mass:{run_id}:{order_id}"


# --------------------------------------------------------------------------------------------
# Starting, stopping


def start_run(
    uow: UnitOfWork,
    actor: Viewer,
    merchant_id: object,
    now: datetime,
    calendar: WorkCalendar,
    note: str = "",
    confirmed_orders: int | None = None,
) -> MassRefundRun:
    """Record the merchant as gone and open a run over its affected orders. ``confirmed_orders``
    is the count the operator confirmed: if it changed since, nothing starts (the page shows the
    new count). One open run per merchant: a second start answers with a Conflict naming it."""
    if actor.role is not Role.OPERATOR:
        raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_merchant", "merchant", merchant=str(merchant_id))
    note = inputs.clean_text(note, inputs.NOTE, "note")
    counted = preview(uow, merchant_id, now, calendar)
    if confirmed_orders is not None and confirmed_orders != counted.orders:
        raise Conflict(ErrorCode.QUOTE_CHANGED, "massrefund.error.count_changed", "orders", orders=counted.orders)
    with uow:
        session = uow.session
        merchant = session.scalar(select(Merchant).where(Merchant.id == counted.merchant_id).with_for_update())
        assert merchant is not None
        open_run = session.scalar(
            select(MassRefundRun.id).where(
                MassRefundRun.merchant_id == merchant.id, MassRefundRun.status != RunStatus.DONE
            )
        )
        if open_run is not None:
            raise Conflict(ErrorCode.INVALID_TRANSITION, "massrefund.error.run_open", "merchant", run=open_run)
        if merchant.gone_at is None:
            merchant.gone_at = now
        run = MassRefundRun(
            merchant_id=merchant.id,
            status=RunStatus.RUNNING,
            gone_at=merchant.gone_at,
            started_by=actor.user_id or None,
            note=note,
            orders_total=counted.orders,
            quoted_fen=counted.quoted_fen,
            cursor_order_id=0,
            orders_done=0,
            paid_count=0,
            paid_fen=0,
            review_count=0,
            review_fen=0,
            other_count=0,
            batches=0,
            notified=False,
            created_at=now,
            updated_at=now,
        )
        session.add(run)
        uow.commit()
        return run


def change_run(uow: UnitOfWork, actor: Viewer, run_id: object, action: str, now: datetime) -> MassRefundRun:
    """Stop a run, or resume a stopped one, through the run's transition table."""
    if actor.role is not Role.OPERATOR:
        raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_run", "run", run=str(run_id)[:20])
    if action not in {"stop", "resume"}:
        raise InvalidInput(ErrorCode.UNKNOWN_ACTION, "massrefund.error.action", "action")
    found = get_run(uow, run_id)
    with uow:
        run = uow.session.scalar(select(MassRefundRun).where(MassRefundRun.id == found.id).with_for_update())
        assert run is not None
        if not RUN.allows(run.status, action):
            raise Conflict(
                ErrorCode.INVALID_TRANSITION, "massrefund.error.transition", "status", status=run.status.value
            )
        run.status = RUN.apply(run.status, action)
        run.updated_at = now
        uow.commit()
        return run


# --------------------------------------------------------------------------------------------
# Batches


@dataclass(frozen=True, slots=True)
class BatchResult:
    run_id: int
    status: RunStatus
    processed: int
    orders_done: int
    orders_total: int


def run_batch(
    uow: UnitOfWork, run_id: int, now: datetime, calendar: WorkCalendar, batch: int = DEFAULT_BATCH
) -> BatchResult:
    """Take the next ``batch`` affected orders of a running run, in one transaction. A number drawn
    for a ticket that another transaction took in the meantime retries the whole batch."""
    batch = max(1, min(batch, MAX_BATCH))
    return draw_until_free("ticket_no", lambda: _batch(uow, run_id, now, calendar, batch))


def _batch(uow: UnitOfWork, run_id: int, now: datetime, calendar: WorkCalendar, batch: int) -> BatchResult:
    with uow:
        session = uow.session
        run = session.scalar(select(MassRefundRun).where(MassRefundRun.id == run_id).with_for_update())
        if run is None:
            raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_run", "run", run=str(run_id))
        if run.status is not RunStatus.RUNNING:
            return BatchResult(run.id, run.status, 0, run.orders_done, run.orders_total)
        ids = list(session.scalars(affected_orders(run.merchant_id, run.cursor_order_id, batch)))
        if not ids:
            run.status = RUN.apply(run.status, "finish")
            run.finished_at = run.updated_at = now
            uow.commit()
            return BatchResult(run.id, run.status, 0, run.orders_done, run.orders_total)
        orders = list(
            session.scalars(
                select(OrderRow).where(OrderRow.id.in_(ids)).order_by(OrderRow.id).with_for_update(of=OrderRow)
            )
        )
        events = events_of(session, orders)
        open_orders = open_ticket_orders(session, ids)
        numbers = _free_ticket_numbers(session, len(orders), now)
        # Ids drawn ahead: the batch's rows are then written at the commit, a few statements per
        # table, instead of a flush per order (platform/db/ids.py).
        for table, per_order in ROWS_PER_ORDER.items():
            reserve_ids(uow, table, per_order * len(orders))
        operator = Viewer(run.started_by or 0, Role.OPERATOR)
        opened = [
            (order, _open(uow, run, order, events[order.id], order.id in open_orders, numbers, operator, now, calendar))
            for order in orders
        ]
        # Every ticket of the batch in one statement: the rows below name them by id.
        write_new_rows(session, APPEND_ONLY)
        session.flush()
        # The renewals the tickets are about, looked up and locked for the whole batch at once
        # (one query instead of one per ticket, each of which flushed the rows added so far).
        renewals = renewals_asked_about(
            uow, [(order.id, order.user_id) for order, step in opened if not isinstance(step, ItemOutcome)], now
        )
        for order, step in opened:
            ticket_id, rules = None, ""
            if isinstance(step, ItemOutcome):
                outcome, amount = step, 0
            else:
                ticket, quote = step
                ticket_id, rules = ticket.id, ticket.rules
                outcome, amount = _one(uow, ticket, quote, operator, now, calendar, renewals.get(order.id))
            session.add(
                MassRefundItem(
                    run_id=run.id,
                    order_id=order.id,
                    user_id=order.user_id,
                    ticket_id=ticket_id,
                    outcome=outcome,
                    amount_fen=amount,
                    rules=rules,
                    created_at=now,
                )
            )
            run.orders_done += 1
            if outcome is ItemOutcome.PAID:
                run.paid_count += 1
                run.paid_fen += amount
            elif outcome is ItemOutcome.REVIEW:
                run.review_count += 1
                run.review_fen += amount
            else:
                run.other_count += 1
        run.cursor_order_id = ids[-1]
        run.batches += 1
        run.updated_at = now
        # The batch's new rows (all but the tickets, written above) as multi-row inserts; the
        # tickets, orders and run changed go out with the commit's flush.
        write_new_rows(session, APPEND_ONLY)
        uow.commit()
        return BatchResult(run.id, run.status, len(orders), run.orders_done, run.orders_total)


def _free_ticket_numbers(session: Session, count: int, now: datetime) -> list[str]:
    """``count`` ticket numbers of the day that no ticket has: drawn, then checked in one query (a
    run's tens of thousands of tickets would otherwise meet taken numbers in most batches)."""
    chosen: set[str] = set()
    while len(chosen) < count:
        drawn = {"AS" + new_order_no(now) for _ in range(count - len(chosen))} - chosen
        taken = set(session.scalars(select(Ticket.ticket_no).where(Ticket.ticket_no.in_(drawn))))
        chosen |= drawn - taken
    return list(chosen)


def _open(
    uow: UnitOfWork,
    run: MassRefundRun,
    order: OrderRow,
    events: list[OrderEventRow],
    has_open_ticket: bool,
    numbers: list[str],
    operator: Viewer,
    now: datetime,
    calendar: WorkCalendar,
) -> ItemOutcome | tuple[Ticket, Quote]:
    """An order's merchant_gone event, its quote and its ticket (added, not yet written); or the
    outcome when no ticket is opened."""
    if order.status is not OrderStatus.PAID or order.refunded_fen:
        return ItemOutcome.NOT_REFUNDABLE
    if not any(event.type == EventType.MERCHANT_GONE.value for event in events):
        events.append(
            add_order_event(
                uow,
                order,
                EventType.MERCHANT_GONE,
                run.gone_at,
                operator.user_id or None,
                Role.OPERATOR,
                note=event_note(run.id),
            )
        )
    if has_open_ticket:
        return ItemOutcome.OPEN_TICKET
    quote = quote_for(order, events, now, Reason.MERCHANT_GONE, calendar)
    assert quote is not None  # a paid order always has one
    ticket = Ticket(
        ticket_no=numbers.pop(),
        order_id=order.id,
        user_id=order.user_id,
        reason=Reason.MERCHANT_GONE,
        description=f"商家失联,平台先行赔付(批量退款 #{run.id}) / Merchant gone: mass refund #{run.id}",
        status=TicketStatus.SUBMITTED,
        decision=quote.decision,
        rules=",".join(quote.rules),
        quote=quote.to_dict(),
        quoted_fen=quote.refund,
        priority=priority_of(Reason.MERCHANT_GONE),
        idempotency_key=ticket_key(run.id, order.id),
        timeline_head="",
        timeline_rows=0,
        created_at=now,
        updated_at=now,
    )
    ticket.order = order
    uow.session.add(ticket)
    return ticket, quote


def _one(
    uow: UnitOfWork,
    ticket: Ticket,
    quote: Quote,
    operator: Viewer,
    now: datetime,
    calendar: WorkCalendar,
    renewal: RenewalChargeRow | None,
) -> tuple[ItemOutcome, int]:
    """One ticket, written: its timeline, the engine's decision, the consumer told, and the money
    if approved (ledger, refund, outbox)."""
    order = ticket.order
    audit.append(
        uow,
        ticket,
        at=now,
        actor_id=operator.user_id or None,
        actor_role=Role.OPERATOR.value,
        action="submit",
        from_status=None,
        to_status=TicketStatus.SUBMITTED.value,
        comment=ticket.description,
        amount_fen=quote.refund,
        quote=ticket.quote,
    )
    remember_quote(uow, order, Reason.MERCHANT_GONE, now, quote)
    plan = carry_out_decision(uow, ticket, order, quote, now, calendar, operator, renewal)
    if plan.approved_fen is not None:
        if plan.approved_fen == 0:
            return ItemOutcome.REJECTED, 0
        return ItemOutcome.PAID, plan.approved_fen
    if quote.decision is Decision.REVIEW:
        return ItemOutcome.REVIEW, quote.refund
    return ItemOutcome.REJECTED, 0
