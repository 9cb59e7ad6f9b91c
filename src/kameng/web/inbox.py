"""In-app messages (站内信) for the signed-in consumer: the header badge and the /messages page.

The worker writes ``MessageRow`` rows from the outbox; pages only read them and mark them read.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from sqlalchemy import func, select, update

from kameng.adapters.db.models import MessageRow
from kameng.adapters.db.uow import UnitOfWork


def unread_count(uow: UnitOfWork, user_id: int) -> int:
    with uow:
        query = select(func.count(MessageRow.id)).where(MessageRow.user_id == user_id, MessageRow.read_at.is_(None))
        return uow.session.scalar(query) or 0


def read_messages(uow: UnitOfWork, user_id: int, now: datetime, limit: int = 200) -> list[MessageRow]:
    """The user's messages, newest first; the unread ones among them are marked read as shown."""
    with uow:
        rows = list(
            uow.session.scalars(
                select(MessageRow)
                .where(MessageRow.user_id == user_id)
                .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
                .limit(limit)
            )
        )
        unread = [row.id for row in rows if row.read_at is None]
        if unread:
            uow.session.execute(
                update(MessageRow).where(MessageRow.id.in_(unread)).values(read_at=now),
                execution_options={"synchronize_session": False},  # this page still shows them as new
            )
            uow.commit()
        return rows


def header_unread(request: Request, user: object) -> int:
    """For the page header: how many messages the signed-in user has not read (0 when signed out)."""
    user_id = getattr(user, "id", None)
    if not isinstance(user_id, int):
        return 0
    container = request.app.state.container
    return unread_count(container.uow(), user_id)
