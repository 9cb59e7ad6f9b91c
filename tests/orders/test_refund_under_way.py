"""While a refund is under way the order offers nothing that starts the membership and no second
request, whatever state its ticket is in; the usage service refuses the same, whoever asks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from kameng.accounts.models import User
from kameng.aftersales.models import Ticket
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Decision, Reason
from kameng.domain.tickets import CLOSED, REFUND_UNDER_WAY, TicketStatus
from kameng.domain.users import Role
from kameng.orders.queries import order_view
from kameng.orders.usage import record_usage
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict
from tests.support.shop import buy, order

CALENDAR = WorkCalendar()
STARTING = {"activate", "claim_trial"}


def _ticket_in(uow: UnitOfWork, order_no: str, status: TicketStatus, now: datetime) -> None:
    """A ticket standing in ``status``, as the after-sales services would have left it; nothing
    approved yet (``refunded_fen`` stays 0), so only the ticket's state can hold the order back."""
    paid = order(uow, order_no)
    with uow:
        uow.session.add(
            Ticket(
                ticket_no=f"AS{order_no}",
                order_id=paid.id,
                user_id=paid.user_id,
                reason=Reason.NOT_AS_DESCRIBED,
                description="",
                status=status,
                decision=Decision.REVIEW,
                rules="S4",
                quote={"lines": []},
                quoted_fen=paid.amount_fen,
                created_at=now,
                updated_at=now,
            )
        )
        uow.commit()


@pytest.mark.parametrize("status", list(TicketStatus))
def test_an_order_with_a_ticket_offers_what_that_ticket_allows(
    status: TicketStatus,
    catalog: UnitOfWork,
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
) -> None:
    buyer = make_user()
    viewer = Viewer(buyer.id, Role.CONSUMER)
    placed = buy(uow, channel, buyer.id, "monthly-pass", now)
    assert STARTING | {"request_refund"} <= set(order_view(uow, viewer, placed.order_no, now, CALENDAR).actions)
    _ticket_in(uow, placed.order_no, status, now + timedelta(minutes=1))

    view = order_view(uow, viewer, placed.order_no, now + timedelta(minutes=2), CALENDAR)
    assert (view.ticket_no, view.ticket_status) == (f"AS{placed.order_no}", status)
    if status in REFUND_UNDER_WAY:
        assert view.refund_under_way
        assert not STARTING & set(view.actions)
        with pytest.raises(Conflict) as refused:
            record_usage(uow, viewer, placed.order_no, "activate", now + timedelta(minutes=3))
        assert refused.value.code == "refund_in_progress"
    else:  # rejected (may be appealed), withdrawn, rejected for good, refunded with nothing to pay
        assert set(view.actions) >= STARTING
    assert ("request_refund" in view.actions) is (status in CLOSED)


def test_every_ticket_state_is_either_under_way_open_or_closed() -> None:
    # A new state must be placed on purpose: under way (benefits held back), or not.
    assert REFUND_UNDER_WAY.isdisjoint(CLOSED)
    assert set(TicketStatus) - REFUND_UNDER_WAY - CLOSED == {TicketStatus.REJECTED}
