"""A container whose webhooks time out quickly, an operator, and a receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest

from kameng import compose
from kameng.accounts import services as accounts
from kameng.container import Container
from kameng.domain.users import Role
from kameng.platform.access import Viewer
from kameng.settings import Settings
from kameng.webhooks import endpoints
from kameng.webhooks.models import WebhookEndpoint
from tests.support.database import PASSWORD
from tests.support.fakes import SteppingClock
from tests.support.receivers import WebhookReceiver, serve

TIMEOUT = 0.4


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    app = WebhookReceiver(sleep_seconds=TIMEOUT * 3)
    for url in serve(app):
        app.url = url + "/hooks"
        yield app


@dataclass
class Hooks:
    container: Container
    clock: SteppingClock
    operator: Viewer

    def endpoint(self, receiver: WebhookReceiver, *events: str) -> WebhookEndpoint:
        made = endpoints.create_endpoint(
            self.container.uow(),
            self.operator,
            receiver.url,
            events or ["order.paid"],
            "test receiver",
            self.clock(),
            allow_private=True,
        )
        receiver.secrets = [made.secret]
        return made


@pytest.fixture
def hooks(db_url: str, now: datetime) -> Iterator[Hooks]:
    settings = Settings(database_url=db_url, environment="test", secret_key="test", webhook_timeout_seconds=TIMEOUT)
    container = compose.build(settings)
    clock = SteppingClock(now)
    container.clock = clock
    operator = accounts.sign_up(container.uow(), "ops@kameng.test", PASSWORD, now, role=Role.OPERATOR)
    try:
        yield Hooks(container, clock, Viewer(operator.id, Role.OPERATOR))
    finally:
        container.dispose()
