"""TODO kameng.messages.delivery"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kameng.accounts.models import User
from kameng.messages.models import MessageRow
from kameng.messages.senders import Sender
from kameng.platform.db.uow import UnitOfWork


def deliver_message(uow: UnitOfWork, outbox_id: int, payload: dict[str, object], now: datetime, sender: Sender) -> None:
    key = f"outbox:{outbox_id}"
    with uow:
        session = uow.session
        if session.scalar(select(MessageRow.id).where(MessageRow.key == key)) is not None:
            return  # delivered before a crash: never twice
        user_id = int(str(payload["user_id"]))
        session.add(
            MessageRow(
                key=key,
                user_id=user_id,
                ticket_id=int(str(payload["ticket_id"])),
                kind=str(payload["kind"]),
                text_zh=str(payload["zh"]),
                text_en=str(payload["en"]),
                created_at=now,
            )
        )
        user = session.get(User, user_id)
        uow.commit()
    if user is not None:
        sender.send(user.phone, user.email, str(payload["zh"]))
