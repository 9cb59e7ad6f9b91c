"""Operator notices go out through the outbox to a Telegram stand-in on 127.0.0.1 (which checks
the Bot API's path and JSON body) and to the e-mail Sender, for the events the operator picked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from kameng import compose
from kameng.container import Container
from kameng.messages.notices import NoticeEvent, check_backlog, notify_operators
from kameng.messages.senders import LogSender
from kameng.platform.outbox import OutboxKind, OutboxRow, enqueue
from kameng.settings import Settings
from kameng.worker import drain_outbox
from tests.support.receivers import TelegramStandIn, serve

TOKEN = "123456:test-token"
CHAT = "-100200300"


@pytest.fixture
def telegram() -> Iterator[TelegramStandIn]:
    app = TelegramStandIn(TOKEN)
    for url in serve(app):
        app.url = url
        yield app


def build(db_url: str, telegram: TelegramStandIn, **changes: object) -> Container:
    settings = Settings(
        database_url=db_url,
        environment="test",
        secret_key="test",
        telegram_api_base=telegram.url,
        telegram_bot_token=TOKEN,
        telegram_chat_id=CHAT,
        operator_email="ops@kameng.test",
    )
    return compose.build(settings.model_copy(update=changes))


PARAMS: dict[NoticeEvent, dict[str, str | int]] = {
    NoticeEvent.REFUND_FAILED: {"ticket_no": "T2026"},
    NoticeEvent.WEBHOOK_DISABLED: {"url": "https://erp.example.com/hooks", "event": "refund.failed", "attempts": 7},
}


def tell(container: Container, now: datetime, event: NoticeEvent = NoticeEvent.REFUND_FAILED, key: str = "k1") -> None:
    with container.uow() as uow:
        notify_operators(uow, event, key, PARAMS[event], now)
        uow.commit()


def test_a_notice_reaches_the_telegram_chat_and_the_operators_mailbox(
    db_url: str, telegram: TelegramStandIn, now: datetime
) -> None:
    container = build(db_url, telegram)
    try:
        tell(container, now)
        assert drain_outbox(container, now) == 2
        assert telegram.problems == []
        (message,) = telegram.messages
        assert message["chat_id"] == CHAT
        assert "T2026" in message["text"]
        assert "工单" in message["text"]  # Chinese first, English after
        assert "ticket" in message["text"]
        sender = container.sender
        assert isinstance(sender, LogSender)
        assert len(sender.sent) == 1
        # Told once: the same cause queues nothing more.
        tell(container, now)
        assert drain_outbox(container, now) == 0
        assert len(telegram.messages) == 1
    finally:
        container.dispose()


def test_telegram_refusing_is_retried_without_sending_the_email_twice(
    db_url: str, telegram: TelegramStandIn, now: datetime
) -> None:
    container = build(db_url, telegram)
    try:
        telegram.fail_next = 1
        tell(container, now)
        assert drain_outbox(container, now) == 1  # the e-mail; Telegram answered 502
        assert telegram.messages == []
        assert drain_outbox(container, now + timedelta(minutes=2)) == 1
        assert len(telegram.messages) == 1
        sender = container.sender
        assert isinstance(sender, LogSender)
        assert len(sender.sent) == 1
    finally:
        container.dispose()


def test_an_event_the_operator_did_not_pick_is_not_sent(db_url: str, telegram: TelegramStandIn, now: datetime) -> None:
    container = build(db_url, telegram, operator_notice_events="webhook_disabled")
    try:
        tell(container, now, NoticeEvent.REFUND_FAILED)
        drain_outbox(container, now)
        assert telegram.messages == []
        tell(container, now, NoticeEvent.WEBHOOK_DISABLED, key="k2")
        drain_outbox(container, now)
        assert len(telegram.messages) == 1
        assert "https://erp.example.com/hooks" in telegram.messages[0]["text"]
    finally:
        container.dispose()


def test_a_growing_backlog_is_told_once_an_hour(db_url: str, telegram: TelegramStandIn, now: datetime) -> None:
    container = build(db_url, telegram, notice_backlog_rows=2)
    try:
        with container.uow() as uow:
            for index in range(3):
                enqueue(uow, OutboxKind.DELIVER_MESSAGE, f"stuck:{index}", {"message_key": "none"}, now)
            uow.commit()
        assert check_backlog(container.uow(), now, 2, 15) == 1
        assert check_backlog(container.uow(), now + timedelta(minutes=5), 2, 15) == 0
        with container.uow() as uow:
            told = list(uow.session.scalars(select(OutboxRow).where(OutboxRow.kind == OutboxKind.OPERATOR_NOTICE)))
        assert {row.payload["event"] for row in told} == {"backlog_growing"}
        assert len(told) == 2  # Telegram and e-mail, once
    finally:
        container.dispose()
