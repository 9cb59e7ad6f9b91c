"""The outbox: work that must happen after a commit, written in the same transaction as its cause.

A service that needs the outside world (a refund sent to a channel, a notification sent by SMS)
:func:`enqueue`\\s a row of a registered :class:`OutboxKind` beside its own changes. Workers
:func:`process_outbox`: claim due rows in a short transaction (SKIP LOCKED, a lease), run the
kind's handler after that commit, and mark the row done only when the handler returned. A crash
anywhere means the lease runs out and the handler runs again; every handler calls the outside
world with an idempotency key derived from the row, so the second call changes nothing there.

The handlers belong to the features (``payouts/tasks.py``, ``messages/tasks.py``); the worker
hands them in, so this module imports no feature. A row whose kind has no handler is never
marked done: it keeps an error that says so, waits a day before it is looked at again, and is
counted by :func:`outbox_status`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, Text, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from kameng.platform.db.base import Base, Id
from kameng.platform.db.bulk import add_row
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.logs import current_request_id, request_context

log = logging.getLogger("kameng.outbox")

# A claimed row is left alone by other workers for this long; then it is someone's again.
LEASE = timedelta(seconds=60)
# A row nobody can handle is looked at again after this (an operator deploys the handler).
UNHANDLED_RETRY = timedelta(days=1)
UNKNOWN_KIND = "unknown outbox kind"


class OutboxKind(StrEnum):
    """Every kind of outbox row there is. Stored by value; a new kind is added here and given a
    handler in the feature that owns it."""

    SEND_REFUND = "send_refund"  # payouts: send a refund to its channel
    DELIVER_MESSAGE = "notify"  # messages: send a notification by SMS or e-mail
    DELIVER_WEBHOOK = "webhook"  # webhooks: the first attempt of a delivery (retries are the worker's)
    OPERATOR_NOTICE = "operator_notice"  # messages: tell the operators by Telegram or e-mail
    CHARGE_RENEWAL = "charge_renewal"  # subscriptions: ask the channel for a renewal's charge
    REFUND_ORPHAN = "refund_orphan"  # payouts: send back money paid for a trade we never opened


class OutboxRow(Base):
    """Work for after the commit: talk to a channel, notify a person. Claimed by workers."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "done_at", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(120), unique=True)
    payload: Mapped[dict[str, Any]]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # The request that queued the row (None for the worker's own work): the handler's log lines
    # and channel calls name it again.
    request_id: Mapped[str | None] = mapped_column(String(64))


@dataclass(frozen=True, slots=True)
class OutboxTask:
    """A claimed row, as its handler sees it. ``key`` is the idempotency key for the outside call."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int
    request_id: str | None = None


Handler = Callable[[OutboxTask, datetime], None]


def enqueue(uow: UnitOfWork, kind: OutboxKind, key: str, payload: dict[str, Any], now: datetime) -> None:
    """Queue work for after the commit of ``uow``'s transaction. ``key`` is unique: queueing the same
    key twice in one history is a bug, and the database refuses it."""
    if not isinstance(kind, OutboxKind):
        raise ValueError(f"{UNKNOWN_KIND} {kind!r}: add it to OutboxKind and give it a handler")
    add_row(
        uow.session,
        OutboxRow,
        {
            "kind": kind.value,
            "key": key,
            "payload": payload,
            "next_attempt_at": now,
            "created_at": now,
            "request_id": current_request_id(),
        },
    )


def enqueue_many(uow: UnitOfWork, kind: OutboxKind, items: Sequence[tuple[str, dict[str, Any]]], now: datetime) -> None:
    """:func:`enqueue` for a batch of ``(key, payload)``: one multi-row INSERT instead of a unit of
    work per row (the renewal sweep queues tens of thousands at once)."""
    if not isinstance(kind, OutboxKind):
        raise ValueError(f"{UNKNOWN_KIND} {kind!r}: add it to OutboxKind and give it a handler")
    if not items:
        return
    request_id = current_request_id()
    uow.session.execute(
        insert(OutboxRow),
        [
            {
                "kind": kind.value,
                "key": key,
                "payload": payload,
                "next_attempt_at": now,
                "created_at": now,
                "attempts": 0,
                "request_id": request_id,
            }
            for key, payload in items
        ],
    )


def _claim(uow: UnitOfWork, now: datetime, batch: int) -> list[OutboxTask]:
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
            claimed.append(OutboxTask(row.id, row.kind, row.key, dict(row.payload), row.attempts, row.request_id))
        uow.commit()
        return claimed


def process_outbox(
    uow_factory: Callable[[], UnitOfWork], now: datetime, handlers: Mapping[str, Handler], batch: int = 20
) -> int:
    """Run the due rows' handlers; returns how many rows were done."""
    done = 0
    for task in _claim(uow_factory(), now, batch):
        with request_context(task.request_id):
            done += _run(uow_factory, task, handlers.get(task.kind), now)
    return done


def _run(uow_factory: Callable[[], UnitOfWork], task: OutboxTask, handler: Handler | None, now: datetime) -> int:
    """Run one claimed row's handler (in its request's log context); 1 when the row is done."""
    if handler is None:
        log.error("outbox %s: %s %r, left pending", task.id, UNKNOWN_KIND, task.kind)
        _mark_error(uow_factory(), task.id, f"{UNKNOWN_KIND} {task.kind!r}: no handler", now + UNHANDLED_RETRY)
        return 0
    try:
        handler(task, now)
    except Exception as error:  # the lease expires and the row is tried again
        log.exception("outbox %s (%s) failed", task.id, task.kind)
        _mark_error(uow_factory(), task.id, repr(error))
        return 0
    _mark_done(uow_factory(), task.id, now)
    log.info("outbox %s (%s) done", task.id, task.kind)
    return 1


def _mark_done(uow: UnitOfWork, outbox_id: int, now: datetime) -> None:
    with uow:
        row = uow.session.get(OutboxRow, outbox_id)
        if row is not None and row.done_at is None:
            row.done_at = now
            row.last_error = None
            uow.commit()


def _mark_error(uow: UnitOfWork, outbox_id: int, error: str, retry_at: datetime | None = None) -> None:
    with uow:
        row = uow.session.get(OutboxRow, outbox_id)
        if row is not None:
            row.last_error = error[:2000]
            if retry_at is not None:
                row.next_attempt_at = retry_at
            uow.commit()


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    pending: int  # not done
    failing: int  # not done, and the last attempt failed (unknown kinds included)
    unknown_kinds: int  # not done, and no handler exists for the kind
    oldest_pending_at: datetime | None


def outbox_status(uow: UnitOfWork) -> OutboxStatus:
    """The backlog at a glance, for the CLI, health checks and metrics."""
    with uow:
        pending = OutboxRow.done_at.is_(None)
        known = [kind.value for kind in OutboxKind]
        session = uow.session
        return OutboxStatus(
            pending=session.scalar(select(func.count(OutboxRow.id)).where(pending)) or 0,
            failing=session.scalar(select(func.count(OutboxRow.id)).where(pending, OutboxRow.last_error.is_not(None)))
            or 0,
            unknown_kinds=session.scalar(select(func.count(OutboxRow.id)).where(pending, OutboxRow.kind.not_in(known)))
            or 0,
            oldest_pending_at=session.scalar(select(func.min(OutboxRow.created_at)).where(pending)),
        )


def failing_by_kind(uow: UnitOfWork) -> dict[str, int]:
    """Rows not done whose last attempt failed, by kind (a notification that could not be
    delivered is a failing ``notify`` row until a retry goes through)."""
    with uow:
        rows = uow.session.execute(
            select(OutboxRow.kind, func.count(OutboxRow.id))
            .where(OutboxRow.done_at.is_(None), OutboxRow.last_error.is_not(None))
            .group_by(OutboxRow.kind)
        ).all()
    return {kind: int(count) for kind, count in rows}
