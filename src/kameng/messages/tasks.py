"""The outbox handlers that deliver a notification by SMS (and, once configured, e-mail), and an
operator notice by Telegram or e-mail.

The in-app message was written with the change that caused it; this handler only sends it on,
with the outbox row's key as the idempotency key, so a resend after a crash reaches no one twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from kameng.accounts.models import User
from kameng.messages.models import MessageRow
from kameng.messages.notices import NoticeChannel, notice_text
from kameng.messages.senders import ChatSender, Outgoing, Sender
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.i18n import DEFAULT_LANG
from kameng.platform.outbox import Handler, OutboxTask


def deliver_message_handler(uow_factory: Callable[[], UnitOfWork], sender: Sender) -> Handler:
    def deliver(task: OutboxTask, now: datetime) -> None:
        with uow_factory() as uow:
            row = uow.session.execute(
                select(MessageRow.texts, User.phone, User.email)
                .join(User, User.id == MessageRow.user_id)
                .where(MessageRow.key == str(task.payload["message_key"]))
            ).one_or_none()
        if row is None:
            raise LookupError(f"message {task.payload['message_key']!r} is missing")
        texts, phone, email = row
        # The SMS goes out in the site's first language: consumers choose no language yet.
        sender.send(Outgoing(task.key, phone, email, texts[DEFAULT_LANG]))

    return deliver


@dataclass(frozen=True, slots=True)
class NoticeRoutes:
    """Where operator notices go, from the settings: the events picked, the operators' e-mail
    address (if any), the chat (if a bot is set up)."""

    events: frozenset[str]
    email: str | None
    chat: ChatSender | None


def operator_notice_handler(routes: NoticeRoutes, sender: Sender) -> Handler:
    def send(task: OutboxTask, now: datetime) -> None:
        event = str(task.payload.get("event", ""))
        channel = str(task.payload.get("channel", ""))
        params = task.payload.get("params")
        if event not in routes.events:
            return  # not picked: nothing to send, the row is done
        text = notice_text(event, params if isinstance(params, dict) else {})
        if channel == NoticeChannel.TELEGRAM and routes.chat is not None:
            routes.chat.send_chat(task.key, text)
        elif channel == NoticeChannel.EMAIL and routes.email:
            sender.send(Outgoing(task.key, None, routes.email, text))

    return send
