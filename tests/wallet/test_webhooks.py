"""An integrator hears when a withdrawal is done (issue 12's withdrawal.completed), from the
transaction that settled its last leg."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from kameng.accounts.models import User
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.users import Role
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.wallet.services import approve_withdrawal, request_withdrawal
from kameng.webhooks.endpoints import create_endpoint
from kameng.webhooks.models import WebhookDelivery
from kameng.worker import run_tick
from tests.support.tickets import staff, worker
from tests.wallet.support import CALENDAR, spent_top_up

pytestmark = pytest.mark.usefixtures("catalog")


def test_a_paid_withdrawal_is_told_once_with_its_figures(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    operator = make_user("ops-wallet-hooks@kameng.test", role=Role.OPERATOR)
    create_endpoint(
        uow, Viewer(operator.id, Role.OPERATOR), "http://127.0.0.1:9/h", ["withdrawal.completed"], "", now, True
    )
    consumer, _ = spent_top_up(uow, channel, make_user, now)
    at = now + timedelta(days=10)
    asked, _ = request_withdrawal(uow, consumer, 9000, "all", at, CALENDAR)
    approve_withdrawal(uow, staff(uow, now), asked.withdrawal_no, "", at + timedelta(hours=1), CALENDAR)
    for hours in (2, 3, 4):
        run_tick(worker(engine), at + timedelta(hours=hours))
    with uow:
        told = uow.session.scalars(select(WebhookDelivery)).all()
        assert [(row.event_type, row.object_id) for row in told] == [("withdrawal.completed", asked.withdrawal_no)]
        data = told[0].body["data"]
    assert (data["asked_fen"], data["payout_fen"], data["fee_fen"], data["returned_fen"]) == (9000, 8900, 100, 0)
