"""A refund request writes its ticket with the rows that name it, as multi-row inserts at the
end of the step (platform/db/bulk.py) rather than through the ORM's flush: the ticket the step
returns must still read as the row stored, the columns left to their defaults included (the
flush set those on the object; the bulk write must too)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.aftersales.models import Ticket
from kameng.aftersales.requests import RefundRequestCommand, submit_request
from kameng.aftersales.schemas import ticket_fields
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Decision, Reason
from kameng.domain.users import Role
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import buy
from tests.support.tickets import CALENDAR, PRODUCT, buy_one, submit

pytestmark = pytest.mark.usefixtures("catalog")


@pytest.mark.parametrize("one_click", [True, False], ids=["approved at once", "to review"])
def test_the_ticket_a_request_returns_reads_as_the_row_stored(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime, one_click: bool
) -> None:
    if one_click:  # never activated: change of mind is refunded at once (rule P1)
        user = make_user()
        placed = buy(uow, channel, user.id, PRODUCT, now)
        command = RefundRequestCommand(placed.order_no, Reason.CHANGED_MIND, idempotency_key="k1")
        returned = submit_request(uow, Viewer(user.id, Role.CONSUMER), command, now + timedelta(minutes=5), CALENDAR)
    else:
        returned = submit(uow, buy_one(uow, channel, make_user, now), now + timedelta(minutes=5))
    assert (returned.decision is Decision.AUTO_APPROVE) is one_click
    assert returned.breached is False
    assert returned.reject_comment == returned.approve_reason == ""
    with uow:
        stored = uow.session.scalar(select(Ticket).where(Ticket.ticket_no == returned.ticket_no))
        assert stored is not None
        assert ticket_fields(returned) == ticket_fields(stored)
        assert returned.quote == stored.quote
        assert (returned.timeline_head, returned.timeline_rows) == (stored.timeline_head, stored.timeline_rows)
