"""Shared steps for the after-sales storage tests: a bought order, a ticket in review, staff,
a worker's dependencies, and readers for refunds, the channel's own books and the ledger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from kameng.adapters.channels.refunds import SimulatorRefunds
from kameng.adapters.channels.simulator import SimulatorChannel
from kameng.adapters.db.database import make_session_factory
from kameng.adapters.db.models import JournalEntry, OrderRow, OutboxRow, RefundRow, SimRefund, Ticket, TicketTimeline
from kameng.adapters.db.uow import UnitOfWork
from kameng.adapters.notify import LogSender
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Reason
from kameng.domain.users import Role
from kameng.services import accounts, aftersales
from kameng.services.orders import Viewer
from kameng.services.worker import WorkerDeps

from .conftest import PASSWORD
from .helpers import buy

CALENDAR = WorkCalendar()
# Not activated, so "not as described" (rule S4) goes to a person: a full refund once confirmed.
PRODUCT = "annual-card"


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
    return Bought(placed.order_no, placed.out_trade_no, placed.amount_fen, Viewer(user.id, Role.CONSUMER))  # type: ignore[attr-defined]


def submit(
    uow: UnitOfWork,
    bought: Bought,
    now: datetime,
    reason: Reason = Reason.NOT_AS_DESCRIBED,
    key: str | None = None,
    calendar: WorkCalendar = CALENDAR,
) -> Ticket:
    command = aftersales.RefundRequestCommand(bought.order_no, reason, "与描述不符", idempotency_key=key)
    return aftersales.submit_request(uow, bought.consumer, command, now, calendar)


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


def worker_deps(engine: Engine) -> WorkerDeps:
    """What one worker process has: its own sessions, its own channel client, its own sender."""
    factory = make_session_factory(engine)
    return WorkerDeps(
        uow_factory=lambda: UnitOfWork(factory),
        calendar=CALENDAR,
        refunds=SimulatorRefunds(factory),
        sender=LogSender(),
    )
