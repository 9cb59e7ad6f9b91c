"""A refund request's idempotency key names one request: the service itself refuses it for
another order, so the page path (which sends a key per rendered form) is held to it too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Reason
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict
from tests.support.tickets import buy_one, submit

pytestmark = pytest.mark.usefixtures("catalog")


def test_a_request_key_reused_on_another_order_is_refused(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    consumer = make_user()
    # Two orders of the same consumer (two days apart: a second purchase within a day asks first).
    second = buy_one(uow, channel, lambda: consumer, now - timedelta(days=2))
    first = buy_one(uow, channel, lambda: consumer, now)
    ticket = submit(uow, first, now + timedelta(minutes=1), Reason.NOT_AS_DESCRIBED, key="form-1")
    again = submit(uow, first, now + timedelta(minutes=2), Reason.NOT_AS_DESCRIBED, key="form-1")
    assert again.ticket_no == ticket.ticket_no
    with pytest.raises(Conflict) as refused:
        submit(uow, second, now + timedelta(minutes=3), Reason.NOT_AS_DESCRIBED, key="form-1")
    assert refused.value.code == "idempotency_key_reused"
