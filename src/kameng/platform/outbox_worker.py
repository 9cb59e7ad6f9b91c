"""TODO kameng.platform.outbox_worker"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from kameng.channels.ports import RefundChannel
from kameng.domain.calendar import WorkCalendar
from kameng.messages.delivery import deliver_message
from kameng.messages.senders import Sender
from kameng.payouts.services import LEASE, UowFactory, log, send_refund
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.outbox import OutboxRow


def _claim(uow: UnitOfWork, now: datetime, batch: int) -> list[tuple[int, str, dict[str, object]]]:
    with uow:
        rows = uow.session.scalars(
            select(OutboxRow)
            .where(OutboxRow.done_at.is_(None), OutboxRow.next_attempt_at <= now)
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = []
        for row in rows:
            row.attempts += 1
            # Back off on repeated failure: 1, 2, 4 … minutes, at most an hour.
            row.next_attempt_at = now + min(LEASE * (2 ** (row.attempts - 1)), timedelta(hours=1))
            claimed.append((row.id, row.kind, dict(row.payload)))
        uow.commit()
        return claimed


def process_outbox(
    uow_factory: UowFactory,
    now: datetime,
    channel: RefundChannel,
    sender: Sender,
    calendar: WorkCalendar,
    batch: int = 20,
) -> int:
    done = 0
    for outbox_id, kind, payload in _claim(uow_factory(), now, batch):
        try:
            if kind == "send_refund":
                send_refund(uow_factory, int(str(payload["refund_id"])), now, channel, calendar)
            elif kind == "notify":
                deliver_message(uow_factory(), outbox_id, payload, now, sender)
            _mark_done(uow_factory(), outbox_id, now)
            done += 1
        except Exception as error:  # the lease expires and the row is tried again
            log.exception("outbox %s (%s) failed", outbox_id, kind)
            _mark_error(uow_factory(), outbox_id, repr(error))
    return done


def _mark_done(uow: UnitOfWork, outbox_id: int, now: datetime) -> None:
    with uow:
        row = uow.session.get(OutboxRow, outbox_id)
        if row is not None and row.done_at is None:
            row.done_at = now
            row.last_error = None
            uow.commit()


def _mark_error(uow: UnitOfWork, outbox_id: int, error: str) -> None:
    with uow:
        row = uow.session.get(OutboxRow, outbox_id)
        if row is not None:
            row.last_error = error[:2000]
            uow.commit()
