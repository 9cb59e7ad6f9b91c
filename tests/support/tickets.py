"""Shared steps for the after-sales storage tests: a bought order, a ticket in review, staff,
a worker's dependencies, and readers for refunds, the channel's own books and the ledger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from kameng import compose
from kameng.accounts import services as accounts
from kameng.aftersales.models import Ticket, TicketTimeline
from kameng.aftersales.requests import RefundRequestCommand, submit_request
from kameng.channels.simulator.models import SimRefund
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.container import Container
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Reason
from kameng.domain.users import Role
from kameng.orders.models import OrderRow
from kameng.orders.usage import record_usage
from kameng.payouts.models import RefundRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger_models import JournalEntry
from kameng.platform.outbox import OutboxRow
from kameng.settings import Settings
from tests.support.database import PASSWORD
from tests.support.shop import buy

CALENDAR = WorkCalendar()
# Bought and activated, so "not as described" (rule S4) goes to a person: a full refund once
# confirmed. Activated because of RULES.md §3a: on a card never activated, the change-of-mind
# outcome (P1, a one-click full refund) is faster for the same amount and would decide instead.
PRODUCT = "annual-card"
ACTIVATED_AFTER = timedelta(seconds=40)  # paid 30 s after the order, every request comes later


@dataclass(frozen=True)
class Bought:
    order_no: str
    out_trade_no: str
    amount_fen: int
    consumer: Viewer


def staff(uow: UnitOfWork, now: datetime, role: Role = Role.AGENT, name: str = "agent") -> Viewer:
    user = accounts.sign_up(uow, f"{name}-{role.value}@kameng.test", PASSWORD, now, role=role)
    return Viewer(user.id, role)


def buy_one(uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime) -> Bought:
    user = make_user()
    placed = buy(uow, channel, user.id, PRODUCT, now)  # type: ignore[attr-defined]
    assert placed.out_trade_no
    buyer = Viewer(user.id, Role.CONSUMER)  # type: ignore[attr-defined]
    record_usage(uow, buyer, placed.order_no, "activate", now + ACTIVATED_AFTER)
    return Bought(placed.order_no, placed.out_trade_no, placed.amount_fen, buyer)


def submit(
    uow: UnitOfWork,
    bought: Bought,
    now: datetime,
    reason: Reason = Reason.NOT_AS_DESCRIBED,
    key: str | None = None,
    calendar: WorkCalendar = CALENDAR,
) -> Ticket:
    command = RefundRequestCommand(bought.order_no, reason, "与描述不符", idempotency_key=key)
    return submit_request(uow, bought.consumer, command, now, calendar)


def ticket(uow: UnitOfWork, ticket_no: str) -> Ticket:
    with uow:
        row = uow.session.scalar(select(Ticket).where(Ticket.ticket_no == ticket_no))
        assert row is not None
        return row


def actions(uow: UnitOfWork, ticket_no: str) -> list[str]:
    with uow:
        return list(
            uow.session.scalars(
                select(TicketTimeline.action)
                .join(Ticket, Ticket.id == TicketTimeline.ticket_id)
                .where(Ticket.ticket_no == ticket_no)
                .order_by(TicketTimeline.seq)
            )
        )


def refunds(uow: UnitOfWork, ticket_no: str) -> list[RefundRow]:
    with uow:
        return list(
            uow.session.scalars(
                select(RefundRow)
                .join(Ticket, Ticket.id == RefundRow.ticket_id)
                .where(Ticket.ticket_no == ticket_no)
                .order_by(RefundRow.id)
            )
        )


def sim_rows(uow: UnitOfWork, out_refund_no: str | None = None) -> list[SimRefund]:
    with uow:
        query = select(SimRefund).order_by(SimRefund.out_refund_no)
        if out_refund_no is not None:
            query = query.where(SimRefund.out_refund_no == out_refund_no)
        return list(uow.session.scalars(query))


def entries(uow: UnitOfWork, kind: str) -> list[str]:
    with uow:
        return list(uow.session.scalars(select(JournalEntry.key).where(JournalEntry.kind == kind)))


def refunded_fen(uow: UnitOfWork, order_no: str) -> int:
    with uow:
        value = uow.session.scalar(select(OrderRow.refunded_fen).where(OrderRow.order_no == order_no))
        assert value is not None
        return int(value)


def pending_sends(uow: UnitOfWork) -> int:
    with uow:
        return int(
            uow.session.scalar(
                select(func.count(OutboxRow.id)).where(OutboxRow.kind == "send_refund", OutboxRow.done_at.is_(None))
            )
            or 0
        )


def worker(engine: Engine) -> Container:
    """What one worker process has: its own sessions, its own channel client, its own sender."""
    url = engine.url.render_as_string(hide_password=False)
    return compose.build(Settings(database_url=url, environment="test", secret_key="test"))
