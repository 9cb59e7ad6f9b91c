"""Our side of a day's reconciliation with one channel, and the comparison with its bill.

The day is Beijing's (the channels' bills are): payments whose money arrived that day (including
late ones sent back, and orphan payments), and refunds the channel accepted that day (a refund
refused before it reached the channel is not on its bill and not here either)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select

from kameng.domain.model import Channel
from kameng.domain.reconciliation import BillLine, Finding, LineKind, reconcile
from kameng.domain.states import PaymentStatus, RefundStatus
from kameng.orders.models import PaymentRow
from kameng.payouts.models import OrphanPaymentRow, RefundRow
from kameng.platform.db.uow import UnitOfWork

CHINA = timezone(timedelta(hours=8))
OUR_REFUND_STATUS = {
    RefundStatus.SUCCEEDED: "SUCCESS",
    RefundStatus.PROCESSING: "PROCESSING",
    RefundStatus.PENDING: "PROCESSING",
    RefundStatus.FAILED: "FAILED",
}
ORPHAN_STATUS = {"succeeded": "SUCCESS", "processing": "PROCESSING", "pending": "PROCESSING", "failed": "FAILED"}


def beijing_day(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=CHINA)
    return start, start + timedelta(days=1)


def our_lines(uow: UnitOfWork, channel: Channel, day: date) -> list[BillLine]:
    start, end = beijing_day(day)
    with uow:
        session = uow.session
        payments = session.scalars(
            select(PaymentRow).where(
                PaymentRow.channel == channel,
                PaymentRow.status.in_([PaymentStatus.SUCCEEDED, PaymentStatus.RETURNED]),
                PaymentRow.settled_at >= start,
                PaymentRow.settled_at < end,
            )
        ).all()
        refunds = session.scalars(
            select(RefundRow).where(
                RefundRow.channel == channel, RefundRow.accepted_at >= start, RefundRow.accepted_at < end
            )
        ).all()
        orphans = session.scalars(
            select(OrphanPaymentRow).where(
                OrphanPaymentRow.channel == channel.value,
                OrphanPaymentRow.received_at >= start,
                OrphanPaymentRow.received_at < end,
            )
        ).all()
        lines = [BillLine(LineKind.PAYMENT, p.out_trade_no, p.amount_fen, "SUCCESS") for p in payments]
        lines += [
            BillLine(LineKind.REFUND, r.out_refund_no, r.amount_fen, OUR_REFUND_STATUS[r.status]) for r in refunds
        ]
        lines += [BillLine(LineKind.PAYMENT, o.out_trade_no, o.amount_fen, "SUCCESS") for o in orphans]
        lines += [
            BillLine(LineKind.REFUND, o.out_refund_no, o.amount_fen, ORPHAN_STATUS[o.status])
            for o in orphans
            if o.status != "pending"
        ]
        return lines


def reconcile_day(uow: UnitOfWork, channel: Channel, day: date, theirs: list[BillLine]) -> list[Finding]:
    """Every difference between our records of ``day`` and the channel's bill of it."""
    return reconcile(our_lines(uow, channel, day), theirs)
