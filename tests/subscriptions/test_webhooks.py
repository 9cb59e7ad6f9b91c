"""An integrator hears of renewals and cancellations (issue 12's subscription.renewed and
subscription.cancelled), from the same transaction that recorded them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from kameng.accounts.models import User
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.container import Container
from kameng.domain.users import Role
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.subscriptions.services import CancelAutoRenewal, cancel_auto_renewal
from kameng.webhooks.endpoints import create_endpoint
from kameng.webhooks.models import WebhookDelivery
from kameng.worker import run_tick
from tests.support.database import PASSWORD
from tests.support.subscriptions import subscribe


def _told(uow: UnitOfWork) -> list[tuple[str, str, dict[str, object]]]:
    with uow:
        rows = uow.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        return [(row.event_type, row.object_id, dict(row.body["data"])) for row in rows]


def test_a_renewal_and_a_cancellation_are_told_to_the_endpoints_that_want_them(
    catalog: UnitOfWork,
    container: Container,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
) -> None:
    operator = make_user("ops-hooks@kameng.test", role=Role.OPERATOR)
    create_endpoint(
        container.uow(),
        Viewer(operator.id, Role.OPERATOR),
        "http://127.0.0.1:9/hooks",
        ["subscription.renewed", "subscription.cancelled"],
        "ERP",
        now,
        allow_private=True,
    )
    subscribed = subscribe(container.uow(), channel, make_user(), now)
    run_tick(container, subscribed.renews_at - timedelta(days=7))
    run_tick(container, subscribed.renews_at + timedelta(seconds=1))
    cancel_auto_renewal(
        container.uow(),
        subscribed.viewer,
        CancelAutoRenewal(subscribed.sub_no, password=PASSWORD),
        subscribed.renews_at + timedelta(days=1),
        "test",
    )
    told = _told(container.uow())
    assert [(kind, obj) for kind, obj, _ in told] == [
        ("subscription.renewed", subscribed.sub_no),
        ("subscription.cancelled", subscribed.sub_no),
    ]
    renewed, cancelled = told[0][2], told[1][2]
    assert renewed["order_no"] == subscribed.order_no
    assert renewed["amount_fen"] == 3000
    assert renewed["period"] == 1
    assert str(cancelled["cancellation_no"]).startswith("C")
