"""In-app messages (站内信): written with the change that causes them (:func:`tell`, through
aftersales.tickets.notify for a ticket's steps), delivered by SMS from the outbox, read here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update

from kameng.aftersales.models import Ticket
from kameng.messages.models import MessageRow
from kameng.platform.db.bulk import add_row
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.i18n import in_every_language
from kameng.platform.outbox import OutboxKind, enqueue, enqueue_many


def tell(
    uow: UnitOfWork,
    user_id: int,
    key: str,
    kind: str,
    text_key: str,
    params: Mapping[str, object],
    now: datetime,
    ticket_id: int | None = None,
    texts: dict[str, str] | None = None,
) -> None:
    """Tell a consumer something, in the caller's transaction: the in-app message is written now,
    in every language, and its SMS is queued for after the commit. ``key`` names this message once
    (derived from the record that causes it), so neither is ever made twice. ``texts`` are the
    words already rendered in every language, when the caller frames them (a ticket's notices name
    their product and amount)."""
    message = {
        "key": key,
        "user_id": user_id,
        "ticket_id": ticket_id,
        "kind": kind,
        "texts": texts or in_every_language(text_key, params),
        "created_at": now,
    }
    add_row(uow.session, MessageRow, message)
    enqueue(uow, OutboxKind.DELIVER_MESSAGE, f"deliver:{key}", {"message_key": key}, now)


def tell_many(
    uow: UnitOfWork, kind: str, text_key: str, told: Sequence[tuple[int, str, Mapping[str, object]]], now: datetime
) -> None:
    """:func:`tell` for a batch of ``(user_id, key, params)``, all of one kind: the messages and
    their deliveries written as two multi-row INSERTs, in the caller's transaction."""
    if not told:
        return
    uow.session.execute(
        insert(MessageRow),
        [
            {
                "key": key,
                "user_id": user_id,
                "kind": kind,
                "texts": in_every_language(text_key, params),
                "created_at": now,
            }
            for user_id, key, params in told
        ],
    )
    enqueue_many(uow, OutboxKind.DELIVER_MESSAGE, [(f"deliver:{key}", {"message_key": key}) for _, key, _ in told], now)


@dataclass(frozen=True)
class Message:
    row: MessageRow
    ticket_no: str | None


def unread_count(uow: UnitOfWork, user_id: int) -> int:
    with uow:
        query = select(func.count(MessageRow.id)).where(MessageRow.user_id == user_id, MessageRow.read_at.is_(None))
        return uow.session.scalar(query) or 0


def list_messages(uow: UnitOfWork, user_id: int, limit: int = 200) -> list[Message]:
    """The user's messages, newest first, each with its ticket's number."""
    with uow:
        rows = uow.session.execute(
            select(MessageRow, Ticket.ticket_no)
            .outerjoin(Ticket, Ticket.id == MessageRow.ticket_id)
            .where(MessageRow.user_id == user_id)
            .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
            .limit(limit)
        ).all()
        return [Message(row, ticket_no) for row, ticket_no in rows]


def read_messages(uow: UnitOfWork, user_id: int, now: datetime, limit: int = 200) -> list[Message]:
    """The user's messages, newest first, each with its ticket's number; the unread ones among them
    are marked read as shown."""
    with uow:
        rows = uow.session.execute(
            select(MessageRow, Ticket.ticket_no)
            .outerjoin(Ticket, Ticket.id == MessageRow.ticket_id)
            .where(MessageRow.user_id == user_id)
            .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
            .limit(limit)
        ).all()
        messages = [Message(row, ticket_no) for row, ticket_no in rows]
        unread = [message.row.id for message in messages if message.row.read_at is None]
        if unread:
            uow.session.execute(
                update(MessageRow).where(MessageRow.id.in_(unread)).values(read_at=now),
                execution_options={"synchronize_session": False},  # this page still shows them as new
            )
            uow.commit()
        return messages
