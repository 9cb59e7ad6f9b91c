"""The orders of one mass-refund batch, each handled as a consumer's own request would be: the
merchant_gone event, the engine's quote (S5 with RULES.md section 3a), a ticket opened on the
consumer's behalf under the key ``mass:<run>:<order>``, the decision carried out (messages,
webhooks) and, approved at once, the money (ledger, refund, outbox). Every row carries an id drawn
ahead and is written at the batch's commit (:mod:`kameng.operator.mass_refunds` runs the batches).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kameng.aftersales.models import Ticket
from kameng.aftersales.requests import carry_out_decision
from kameng.aftersales.tickets import new_ticket
from kameng.domain.calendar import WorkCalendar
from kameng.domain.mass_refunds import ItemOutcome
from kameng.domain.model import Decision, EventType, Reason
from kameng.domain.refund import Quote
from kameng.domain.states import OrderStatus
from kameng.domain.users import Role
from kameng.operator.mass_models import MassRefundItem, MassRefundRun
from kameng.operator.mass_queries import events_of, open_ticket_orders
from kameng.orders.history import add_order_event, quote_for
from kameng.orders.models import OrderEventRow, OrderRow
from kameng.orders.numbers import new_order_no
from kameng.platform.access import Viewer
from kameng.platform.db.bulk import write_new_rows
from kameng.platform.db.ids import reserve_ids
from kameng.platform.db.uow import UnitOfWork
from kameng.subscriptions.models import RenewalChargeRow
from kameng.subscriptions.refunds import renewals_asked_about

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


# The same, and the tickets (on PostgreSQL, with ids drawn ahead, written once at the batch's end).
WRITTEN_AT_THE_END = APPEND_ONLY | {"tickets"}


def event_note(run_id: int) -> str:
    """The note on the merchant_gone event a run records: how a resumed run knows it is there."""
    return f"mass_refund:{run_id}"


def ticket_key(run_id: int, order_id: int) -> str:
    """The idempotency key of the ticket a run opens for an order (unique per consumer)."""
    return f"mass:{run_id}:{order_id}"


def handle_orders(
    uow: UnitOfWork, run: MassRefundRun, ids: list[int], now: datetime, calendar: WorkCalendar
) -> dict[ItemOutcome | None, list[int]]:
    """The orders of one claim, each with its event, ticket, decision, money and outcome row (all
    written at the commit); returns the count and amount per outcome (None: every other outcome)."""
    totals: dict[ItemOutcome | None, list[int]] = {ItemOutcome.PAID: [0, 0], ItemOutcome.REVIEW: [0, 0], None: [0, 0]}
    if not ids:
        return totals
    session = uow.session
    orders = list(
        session.scalars(select(OrderRow).where(OrderRow.id.in_(ids)).order_by(OrderRow.id).with_for_update(of=OrderRow))
    )
    events = events_of(session, orders)
    open_orders = open_ticket_orders(session, ids)
    numbers = free_ticket_numbers(session, len(orders), now)
    # Ids drawn ahead: the batch's rows are then written at the commit, a few statements per
    # table, instead of a flush per order (platform/db/ids.py).
    for table, per_order in ROWS_PER_ORDER.items():
        reserve_ids(uow, table, per_order * len(orders))
    operator = Viewer(run.started_by or 0, Role.OPERATOR)
    opened = [
        (order, _open(uow, run, order, events[order.id], order.id in open_orders, numbers, operator, now, calendar))
        for order in orders
    ]
    if any(not isinstance(step, ItemOutcome) and step[0].id is None for _, step in opened):
        # No ids drawn ahead (SQLite): the tickets are written now, for the rows below to name them.
        write_new_rows(session, APPEND_ONLY)
        session.flush()
    # Nothing is flushed until the batch's end: the tickets are not written yet (their rows name
    # them by the ids drawn ahead), and no query below reads the batch's own new rows: the
    # renewals the tickets are about, looked up and locked for the whole batch at once, and the
    # per-transaction look-ups of the shared code (the webhook endpoints).
    with session.no_autoflush:
        renewals = renewals_asked_about(
            uow, [(order.id, order.user_id) for order, step in opened if not isinstance(step, ItemOutcome)], now
        )
        for order, step in opened:
            outcome, amount, ticket_id, rules = _decide(uow, order, step, operator, now, calendar, renewals)
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
            counted = totals.get(outcome, totals[None])
            counted[0] += 1
            counted[1] += amount
    # The batch's new rows as multi-row inserts, the tickets among them with their ids drawn ahead:
    # written once, as they end, rather than inserted by the flush and then updated by it. The
    # orders changed go out with the flush.
    write_new_rows(session, WRITTEN_AT_THE_END)
    return totals


def _decide(
    uow: UnitOfWork,
    order: OrderRow,
    step: ItemOutcome | tuple[Ticket, Quote],
    operator: Viewer,
    now: datetime,
    calendar: WorkCalendar,
    renewals: dict[int, RenewalChargeRow],
) -> tuple[ItemOutcome, int, int | None, str]:
    """An order's outcome and amount, and its ticket's id and rules (none when no ticket opened)."""
    if isinstance(step, ItemOutcome):
        return step, 0, None, ""
    ticket, quote = step
    outcome, amount = _one(uow, ticket, quote, operator, now, calendar, renewals.get(order.id))
    return outcome, amount, ticket.id, ticket.rules


def free_ticket_numbers(session: Session, count: int, now: datetime) -> list[str]:
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
    ticket = new_ticket(
        uow,
        order,
        quote,
        Reason.MERCHANT_GONE,
        f"商家失联,平台先行赔付(批量退款 #{run.id}) / Merchant gone: mass refund #{run.id}",
        numbers.pop(),
        ticket_key(run.id, order.id),
        now,
    )
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
    plan = carry_out_decision(uow, ticket, order, quote, now, calendar, operator, renewal)
    if plan.approved_fen is not None:
        if plan.approved_fen == 0:
            return ItemOutcome.REJECTED, 0
        return ItemOutcome.PAID, plan.approved_fen
    if quote.decision is Decision.REVIEW:
        return ItemOutcome.REVIEW, quote.refund
    return ItemOutcome.REJECTED, 0
