"""Small readers and actions shared by the storage tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from kameng.catalog.models import CouponRow
from kameng.channels.simulator.payer import simulate_payer
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.channels.simulator.refunds import SimulatorRefunds
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Channel
from kameng.messages.senders import LogSender
from kameng.messages.tasks import deliver_message_handler
from kameng.orders.checkout import CheckoutRequest, PlacedOrder, place_order
from kameng.orders.models import CardKeyRow, OrderEventRow, OrderRow, PaymentRow
from kameng.payouts.services import poll_refunds
from kameng.payouts.tasks import send_refund_handler
from kameng.platform.db.database import make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger import check_books
from kameng.platform.ledger_models import BalanceRow, JournalEntry
from kameng.platform.outbox import OutboxKind, process_outbox


def buy(
    uow: UnitOfWork,
    channel: SimulatorChannel,
    user_id: int,
    slug: str,
    now: datetime,
    *,
    pay: bool = True,
    via: Channel = Channel.ALIPAY,
    **extra: Any,
) -> PlacedOrder:
    """Place an order and, unless told not to, pay it through the simulator 30 s later."""
    placed = place_order(uow, CheckoutRequest(buyer=user_id, product_slug=slug, channel=via, **extra), now, channel)
    if pay and placed.pay_url and placed.out_trade_no:
        assert simulate_payer(uow, placed.out_trade_no, True, channel, now + timedelta(seconds=30)) == "paid"
    return placed


def order(uow: UnitOfWork, order_no: str) -> OrderRow:
    with uow:
        row = uow.session.scalar(select(OrderRow).where(OrderRow.order_no == order_no))
        assert row is not None
        return row


def events(uow: UnitOfWork, order_no: str, type_: str | None = None) -> list[OrderEventRow]:
    with uow:
        query = (
            select(OrderEventRow)
            .join(OrderRow, OrderRow.id == OrderEventRow.order_id)
            .where(OrderRow.order_no == order_no)
            .order_by(OrderEventRow.id)
        )
        if type_ is not None:
            query = query.where(OrderEventRow.type == type_)
        return list(uow.session.scalars(query))


def payments(uow: UnitOfWork, order_no: str) -> list[PaymentRow]:
    with uow:
        return list(
            uow.session.scalars(
                select(PaymentRow)
                .join(OrderRow, OrderRow.id == PaymentRow.order_id)
                .where(OrderRow.order_no == order_no)
                .order_by(PaymentRow.id)
            )
        )


def journal(uow: UnitOfWork, order_no: str) -> list[JournalEntry]:
    with uow:
        entries = list(
            uow.session.scalars(
                select(JournalEntry)
                .join(OrderRow, OrderRow.id == JournalEntry.order_id)
                .where(OrderRow.order_no == order_no)
                .order_by(JournalEntry.id)
            )
        )
        for entry in entries:
            _ = list(entry.lines)  # load the lines before the session closes
        return entries


def card_key(uow: UnitOfWork, order_no: str) -> CardKeyRow | None:
    with uow:
        return uow.session.scalar(
            select(CardKeyRow).join(OrderRow, OrderRow.id == CardKeyRow.order_id).where(OrderRow.order_no == order_no)
        )


def coupon(uow: UnitOfWork, code: str) -> CouponRow:
    with uow:
        row = uow.session.scalar(select(CouponRow).where(CouponRow.code == code))
        assert row is not None
        return row


def balance(uow: UnitOfWork, user_id: int) -> tuple[int, int]:
    with uow:
        row = uow.session.get(BalanceRow, user_id)
        return (row.cash_fen, row.bonus_fen) if row else (0, 0)


def assert_books_balance(uow: UnitOfWork) -> None:
    report = check_books(uow)
    assert report.ok, (report.unbalanced, report.balance_mismatches, report.total_fen)


def send_queued_refunds(engine: Engine, now: datetime) -> None:
    """What the worker does for refunds queued by ``now``: send them, then poll once the
    simulator's first query is due (its refunds settle at once, the first poll is 1 minute on)."""
    factory = make_session_factory(engine)

    def uow_factory() -> UnitOfWork:
        return UnitOfWork(factory)

    channel = SimulatorRefunds(factory)
    handlers = {
        OutboxKind.SEND_REFUND: send_refund_handler(uow_factory, channel, WorkCalendar()),
        OutboxKind.DELIVER_MESSAGE: deliver_message_handler(uow_factory, LogSender()),
    }
    process_outbox(uow_factory, now, handlers)
    poll_refunds(uow_factory, now + timedelta(minutes=2), channel, WorkCalendar())
