"""Orphan payments: a channel's verified notification of money for a trade we never opened.

Nothing was sold, so nothing is kept. The money is booked as owed back (``orphan_payments`` in the
ledger) in the notification's transaction, and an outbox row sends it back through the channel
under ``O<out_trade_no>``; the handler asks again (same number) until the channel says how it ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from kameng.channels.ports import PROCESSING, SUCCESS, PaymentNotification, RefundChannel
from kameng.payouts.models import OrphanPaymentRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger import post_entry
from kameng.platform.outbox import OutboxKind, enqueue

log = logging.getLogger("kameng.payouts.orphans")
UowFactory = Callable[[], UnitOfWork]


class OrphanStillProcessing(RuntimeError):
    """The channel has the refund but has not finished it: the outbox asks again later."""


def record_orphan(uow: UnitOfWork, channel: str, note: PaymentNotification, now: datetime) -> str:
    """In the caller's transaction: ``orphan`` the first time, ``duplicate`` after."""
    session = uow.session
    existing = session.scalar(
        select(OrphanPaymentRow).where(
            OrphanPaymentRow.channel == channel, OrphanPaymentRow.out_trade_no == note.out_trade_no
        )
    )
    if existing is not None:
        return "duplicate"
    row = OrphanPaymentRow(
        channel=channel,
        out_trade_no=note.out_trade_no[:64],
        transaction_id=note.transaction_id[:64],
        amount_fen=note.amount_fen,
        out_refund_no=f"O{note.out_trade_no}"[:64],
        status="pending",
        received_at=now,
    )
    session.add(row)
    session.flush()
    post_entry(
        uow,
        kind="orphan_payment",
        key=f"orphan_payment:{row.id}",
        now=now,
        lines=[(f"channel:{channel}", note.amount_fen), ("orphan_payments", -note.amount_fen)],
        memo=f"payment for an unknown trade {note.out_trade_no}",
    )
    enqueue(uow, OutboxKind.REFUND_ORPHAN, f"refund_orphan:{row.id}", {"orphan_id": row.id}, now)
    log.warning(
        "orphan payment: %s %s %s fen for a trade we never opened; sending it back as %s",
        channel,
        note.out_trade_no,
        note.amount_fen,
        row.out_refund_no,
    )
    return "orphan"


def send_orphan_refund(uow_factory: UowFactory, orphan_id: int, now: datetime, channel: RefundChannel) -> None:
    """Send (or ask again about) the refund of one orphan payment, and book how it ended."""
    with uow_factory() as uow:
        row = uow.session.get(OrphanPaymentRow, orphan_id)
        if row is None or row.status in {"succeeded", "failed"}:
            return
        out_refund_no, out_trade_no, amount, status = row.out_refund_no, row.out_trade_no, row.amount_fen, row.status
    if status == "pending":
        answer = channel.request_refund(out_refund_no, out_trade_no, amount, now)
    else:
        answer = channel.query_refund(out_refund_no, now, out_trade_no) or channel.request_refund(
            out_refund_no, out_trade_no, amount, now
        )
    with uow_factory() as uow:
        row = uow.session.scalar(select(OrphanPaymentRow).where(OrphanPaymentRow.id == orphan_id).with_for_update())
        if row is None or row.status in {"succeeded", "failed"}:
            return
        row.refund_id = answer.refund_id or row.refund_id
        if answer.status == PROCESSING:
            row.status = "processing"
            uow.commit()
            raise OrphanStillProcessing(out_refund_no)
        if answer.status == SUCCESS:
            row.status = "succeeded"
            row.settled_at = now
            post_entry(
                uow,
                kind="orphan_payment_return",
                key=f"orphan_payment_return:{row.id}",
                now=now,
                lines=[("orphan_payments", row.amount_fen), (f"channel:{row.channel}", -row.amount_fen)],
                memo=f"returned orphan payment {row.out_refund_no}",
            )
        else:
            # Still owed (the orphan_payments account keeps it): staff pay it out another way.
            row.status = "failed"
            row.failure = (answer.failure or "refused by the channel")[:200]
            log.error("orphan payment %s could not be sent back: %s", row.out_refund_no, row.failure)
        uow.commit()
