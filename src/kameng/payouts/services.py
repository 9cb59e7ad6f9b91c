"""The worker's money side: send queued refunds, poll the ones in flight, apply the answers.

Pattern for every external call: claim the row in a short transaction (SKIP LOCKED, a lease),
commit, call the channel with the idempotency key derived from our row, then apply the answer in
a second transaction that re-checks the state. A crash anywhere means the lease runs out and the
call is made again with the same key, which the channel answers with the same refund.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select

from kameng.aftersales.models import Ticket
from kameng.aftersales.refunds import close_after_refund, post_refund_paid
from kameng.aftersales.tickets import move_ticket, notify
from kameng.channels.ports import PROCESSING, RefundAnswer, RefundChannel, RefundNotice
from kameng.domain.aftersales import ChannelAnswer, plan_payout_answer, refund_step
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import OrderEventType
from kameng.domain.states import REFUND, RefundStatus, refund_poll_delay_minutes
from kameng.domain.tickets import TicketStatus
from kameng.messages.services import tell
from kameng.orders.history import add_order_event
from kameng.orders.models import OrderRow, PaymentRow
from kameng.orders.payments import late_payment_params
from kameng.payouts.abnormal import pay_into_balance, sent_to_balance
from kameng.payouts.models import OrphanPaymentRow, RefundRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger import post_entry
from kameng.platform.outbox import LEASE
from kameng.wallet.balance import WITHDRAWAL_PURPOSE, lock_balance
from kameng.wallet.legs import settle_leg

log = logging.getLogger("kameng.payouts")
UowFactory = Callable[[], UnitOfWork]


def send_refund(
    uow_factory: UowFactory, refund_id: int, now: datetime, channel: RefundChannel, calendar: WorkCalendar
) -> None:
    with uow_factory() as uow:
        refund = uow.session.get(RefundRow, refund_id)
        if refund is None or refund.status is not RefundStatus.PENDING:
            return
        out_refund_no, out_trade_no, amount = refund.out_refund_no, refund.out_trade_no, refund.amount_fen
    log.info("refund %s: asking the channel to refund %s fen of %s", out_refund_no, amount, out_trade_no)
    answer = channel.request_refund(out_refund_no, out_trade_no, amount, now)
    log.info("refund %s: the channel answered %s", out_refund_no, answer.status)
    _apply_answer(uow_factory(), refund_id, answer, now, calendar)


def poll_refunds(
    uow_factory: UowFactory, now: datetime, channel: RefundChannel, calendar: WorkCalendar, batch: int = 20
) -> int:
    """Query the channel for refunds in flight whose next poll is due (back-off 1, 5, 10, 20, 30 min)."""
    with uow_factory() as uow:
        rows = uow.session.scalars(
            select(RefundRow)
            .where(RefundRow.status == RefundStatus.PROCESSING, RefundRow.next_poll_at <= now)
            .order_by(RefundRow.next_poll_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        due = [(row.id, row.out_refund_no, row.out_trade_no) for row in rows]
        for row in rows:
            row.next_poll_at = now + LEASE  # lease: another worker leaves it alone meanwhile
        uow.commit()
    for refund_id, out_refund_no, out_trade_no in due:
        answer = channel.query_refund(out_refund_no, now, out_trade_no)
        if answer is not None:
            _apply_answer(uow_factory(), refund_id, answer, now, calendar)
    return len(due)


def _apply_answer(uow: UnitOfWork, refund_id: int, answer: RefundAnswer, now: datetime, calendar: WorkCalendar) -> None:
    with uow:
        session = uow.session
        # Rows are locked in the after-sales services' order, ticket, then order, then refund, so
        # that a payout answer and a consumer's or agent's step on the same ticket queue behind
        # each other instead of deadlocking. The refund is read first only to find the other two.
        owners = session.execute(
            select(RefundRow.ticket_id, RefundRow.order_id, RefundRow.user_id, RefundRow.purpose).where(
                RefundRow.id == refund_id
            )
        ).one_or_none()
        if owners is None:
            return
        to_balance = sent_to_balance(uow, refund_id)  # an ABNORMAL refund staff sent to the balance
        if owners.purpose == WITHDRAWAL_PURPOSE or to_balance:
            # A withdrawal leg moves the consumer's balance: its lock comes first, as on every
            # path that does (wallet/services.py), so that an approval and an answer never deadlock.
            lock_balance(uow, owners.user_id, now)
        ticket = None
        if owners.ticket_id is not None:
            ticket = session.scalar(select(Ticket).where(Ticket.id == owners.ticket_id).with_for_update(of=Ticket))
        order = session.scalar(select(OrderRow).where(OrderRow.id == owners.order_id).with_for_update(of=OrderRow))
        refund = session.scalar(select(RefundRow).where(RefundRow.id == refund_id).with_for_update())
        if refund is None or refund.status in {RefundStatus.SUCCEEDED, RefundStatus.FAILED}:
            return  # already settled by another worker or a callback
        assert order is not None
        refund.channel_refund_no = answer.refund_id
        refund.channel_status = (answer.channel_status or answer.status)[:32]
        if refund.purpose == WITHDRAWAL_PURPOSE:
            _apply_withdrawal_answer(uow, refund, order, answer, now)
            uow.commit()
            return
        if ticket is None:
            _apply_late_payment_answer(uow, refund, order, answer, now)
            uow.commit()
            return
        plan = plan_payout_answer(
            refund_pending=refund.status is RefundStatus.PENDING,
            ticket_refunding=ticket.status is TicketStatus.REFUNDING,
            answer=ChannelAnswer(answer.status),
            amount_fen=refund.amount_fen,
            failure=(answer.failure or "refund refused by the channel")[:200],
            channel_no=answer.refund_id,
        )
        _apply_refund_change(refund, plan.refund_action, answer, now)
        if plan.paid and to_balance:
            pay_into_balance(uow, refund, order, now)
        elif plan.paid:
            post_refund_paid(uow, refund, order, f"channel:{refund.channel.value}", now)
        if plan.move is not None:
            move = plan.move
            move_ticket(uow, ticket, move.action, now, calendar, None, move.comment, move.amount_fen, move.note)
        if plan.paid:
            close_after_refund(uow, ticket, order, refund, now, calendar)
        for notice in plan.notices:
            notify(uow, ticket, notice, now)
        uow.commit()


def _apply_refund_change(refund: RefundRow, action: str | None, answer: RefundAnswer, now: datetime) -> None:
    """The refund row through REFUND, and when to ask the channel next."""
    if answer.status == PROCESSING:
        if action is not None:
            refund.status = REFUND.apply(refund.status, action)
            refund.accepted_at = now
        else:
            refund.attempts += 1
        refund.next_poll_at = now + timedelta(minutes=refund_poll_delay_minutes(refund.attempts))
        return
    if action == "succeed" and refund.status is RefundStatus.PENDING:
        refund.accepted_at = now
    assert action is not None
    refund.status = REFUND.apply(refund.status, action)
    refund.next_poll_at = None
    if action == "succeed":
        refund.settled_at = now
    else:
        refund.failure = (answer.failure or "refund refused by the channel")[:200]


def _apply_withdrawal_answer(
    uow: UnitOfWork, refund: RefundRow, order: OrderRow, answer: RefundAnswer, now: datetime
) -> None:
    """A leg of a balance withdrawal: no ticket; the wallet settles the leg once it has an end."""
    action = refund_step(refund.status is RefundStatus.PENDING, ChannelAnswer(answer.status))
    _apply_refund_change(refund, action, answer, now)
    if answer.status != PROCESSING:
        settle_leg(uow, refund, order, action == "succeed", now)


def _apply_late_payment_answer(
    uow: UnitOfWork, refund: RefundRow, order: OrderRow, answer: RefundAnswer, now: datetime
) -> None:
    """A late payment going back: no ticket, no consumer decision; the order's timeline shows it."""
    action = refund_step(refund.status is RefundStatus.PENDING, ChannelAnswer(answer.status))
    _apply_refund_change(refund, action, answer, now)
    if answer.status == PROCESSING:
        return
    if action == "succeed":
        post_entry(
            uow,
            kind="late_payment_return",
            key=f"refund_paid:{refund.id}",
            order_id=order.id,
            user_id=order.user_id,
            now=now,
            lines=[("late_payments", refund.amount_fen), (f"channel:{refund.channel.value}", -refund.amount_fen)],
            memo=f"returned late payment {refund.out_refund_no}",
        )
        add_order_event(
            uow,
            order,
            OrderEventType.LATE_PAYMENT_RETURNED,
            now,
            None,
            None,
            amount_fen=refund.amount_fen,
            note=f"{refund.channel.value} {answer.refund_id}",
        )
        _tell_late(uow, order, refund, "returned", now)
        return
    # Still owed (the late_payments account keeps it): staff see it on the order and pay it out.
    add_order_event(
        uow,
        order,
        OrderEventType.LATE_PAYMENT_RETURN_FAILED,
        now,
        None,
        None,
        amount_fen=refund.amount_fen,
        note=refund.failure or "",
    )
    _tell_late(uow, order, refund, "return_failed", now)


def _tell_late(uow: UnitOfWork, order: OrderRow, refund: RefundRow, what: str, now: datetime) -> None:
    """The consumer was told the late payment is going back; now they are told how it ended. Keyed
    by the refund: the refund is settled once (the lock above), and the message is written once."""
    tell(
        uow,
        order.user_id,
        f"late_payment:{refund.out_refund_no}:{what}",
        f"late_payment_{what}",
        f"notice.late_payment_{what}",
        late_payment_params(order, refund),
        now,
    )


def refunds_in_flight(uow: UnitOfWork) -> tuple[int, datetime | None]:
    """How many refunds the channel is still processing, and when the oldest was created (for
    the operator's metrics: a refund stuck in PROCESSING is money a consumer is waiting for)."""
    with uow:
        count, oldest = uow.session.execute(
            select(func.count(RefundRow.id), func.min(RefundRow.created_at)).where(
                RefundRow.status == RefundStatus.PROCESSING
            )
        ).one()
    return int(count or 0), oldest


def apply_refund_notice(uow_factory: UowFactory, notice: RefundNotice, now: datetime, calendar: WorkCalendar) -> str:
    """A refund's state told by the channel's verified notification, applied as a poll's answer
    would be (once: a settled refund stays settled). Returns ``applied`` or ``unknown``."""
    with uow_factory() as uow:
        refund = uow.session.scalar(select(RefundRow).where(RefundRow.out_refund_no == notice.out_refund_no))
        if refund is None or refund.out_trade_no != notice.out_trade_no:
            log.warning("refund notice for %s (%s): no such refund of ours", notice.out_refund_no, notice.out_trade_no)
            return "unknown"
        refund_id = refund.id
    _apply_answer(uow_factory(), refund_id, notice.answer, now, calendar)
    return "applied"


def trade_channel(uow: UnitOfWork, out_trade_no: str) -> str | None:
    """Which real channel holds a trade of ours, as our rows record it: the payment's ``gateway``
    (the channel whose verified notification brought the money), or an orphan payment's channel.
    None for a trade the local simulator took (demo data, the local pay page): its refund goes
    back through the simulator."""
    with uow:
        payment = uow.session.execute(
            select(PaymentRow.id, PaymentRow.gateway).where(PaymentRow.out_trade_no == out_trade_no)
        ).one_or_none()
        if payment is not None:
            gateway: str | None = payment.gateway
            return gateway
        return uow.session.scalar(select(OrphanPaymentRow.channel).where(OrphanPaymentRow.out_trade_no == out_trade_no))


def refund_history(uow: UnitOfWork, out_trade_no: str, besides: str) -> tuple[int, datetime | None]:
    """How many refunds of this trade the channel has accepted (other than ``besides``) and when
    the last one was sent: what WeChat Pay's limits (50 partial refunds, one a minute) count."""
    with uow:
        rows = uow.session.execute(
            select(RefundRow.accepted_at).where(
                RefundRow.out_trade_no == out_trade_no,
                RefundRow.out_refund_no != besides,
                RefundRow.accepted_at.is_not(None),
            )
        ).all()
        times = [row.accepted_at for row in rows if row.accepted_at is not None]
        return len(times), max(times, default=None)
