"""Operator notices: things an operator should hear about at once, by Telegram and e-mail.

:func:`notify_operators` queues one outbox row per channel in the caller's transaction (so each
channel is retried on its own and a Telegram failure never sends the e-mail twice); the handler
(``messages/tasks.operator_notice_handler``) sends it if the operator picked that event and set
the channel up, and otherwise lets it go.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from kameng.platform.db.uow import UnitOfWork
from kameng.platform.i18n import LANGS, translate
from kameng.platform.outbox import OutboxKind, OutboxRow, enqueue, outbox_status


class NoticeEvent(StrEnum):
    """What an operator may choose to be told about (``KAMENG_OPERATOR_NOTICE_EVENTS``)."""

    WEBHOOK_DISABLED = "webhook_disabled"  # a webhook delivery failed for good; its endpoint is off
    REFUND_FAILED = "refund_failed"  # a channel refused a refund: a person must choose what next
    BACKLOG_GROWING = "backlog_growing"  # the outbox holds more, or older, work than it should
    STOCK_LOW = "stock_low"  # emitted by the operator console (being built): card keys running out


class NoticeChannel(StrEnum):
    TELEGRAM = "telegram"
    EMAIL = "email"


def notify_operators(
    uow: UnitOfWork, event: NoticeEvent, key: str, params: Mapping[str, str | int], now: datetime
) -> int:
    """Queue ``event`` for the operators; ``key`` names this occurrence once (derived from its
    cause), so a retried transaction or a second worker never tells it twice. Returns how many
    rows were queued (none when it was told already)."""
    queued = 0
    for channel in NoticeChannel:
        outbox_key = f"notice:{channel.value}:{key}"[:120]
        if uow.session.scalar(select(OutboxRow.id).where(OutboxRow.key == outbox_key)) is not None:
            continue
        payload = {"event": event.value, "channel": channel.value, "params": dict(params)}
        enqueue(uow, OutboxKind.OPERATOR_NOTICE, outbox_key, payload, now)
        queued += 1
    return queued


def notice_text(event: str, params: Mapping[str, object]) -> str:
    """The notice in every language, Chinese first: an operator's chat or inbox is not localised."""
    return "\n".join(translate(f"integrations.notice_event.{event}", lang, **params) for lang in LANGS)


def check_backlog(uow: UnitOfWork, now: datetime, most_rows: int, oldest_minutes: int) -> int:
    """Tell the operators (at most once an hour) when the outbox holds more than ``most_rows``
    pending rows or its oldest has waited more than ``oldest_minutes``. Returns 1 if told now."""
    status = outbox_status(uow)
    oldest = status.oldest_pending_at
    waited = int((now - oldest).total_seconds() // 60) if oldest is not None else 0
    if status.pending <= most_rows and waited <= oldest_minutes:
        return 0
    with uow:
        hour = now.strftime("%Y%m%d%H")
        queued = notify_operators(
            uow, NoticeEvent.BACKLOG_GROWING, f"backlog:{hour}", {"pending": status.pending, "minutes": waited}, now
        )
        uow.commit()
    return 1 if queued else 0
