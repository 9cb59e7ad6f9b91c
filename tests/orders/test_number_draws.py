"""Order and ticket numbers are drawn at random from 10^7 a day: among a few thousand a day two
draws meet. The second is drawn again, in a new transaction, instead of failing with a server
error (found by `make bench` with two API processes: one refund request in a thousand got a 500)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from kameng.accounts.models import User
from kameng.aftersales import requests
from kameng.aftersales.requests import RefundRequestCommand
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Reason
from kameng.domain.users import Role
from kameng.orders import checkout
from kameng.orders.numbers import new_order_no
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import buy
from tests.support.tickets import CALENDAR, buy_one, submit

pytestmark = pytest.mark.usefixtures("catalog")


def _draws(*numbers: str) -> Callable[[datetime], str]:
    queue: Iterator[str] = iter(numbers)
    return lambda _now: next(queue)


def test_an_order_number_drawn_twice_is_drawn_again(
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = new_order_no(now), new_order_no(now)
    while second == first:
        second = new_order_no(now)
    monkeypatch.setattr(checkout, "new_order_no", _draws(first, first, second))
    user = make_user()
    one = buy(uow, channel, user.id, "monthly-pass", now)
    other = buy(uow, channel, make_user().id, "monthly-pass", now + timedelta(minutes=1))
    assert (one.order_no, other.order_no) == (first, second)


def test_a_ticket_number_drawn_twice_is_drawn_again_and_three_in_a_row_is_no_chance(
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b, c = (buy_one(uow, channel, make_user, now) for _ in range(3))
    monkeypatch.setattr(requests, "new_order_no", _draws("26030200000017", "26030200000017", "26030200000025"))
    first = submit(uow, a, now + timedelta(hours=1), Reason.NOT_AS_DESCRIBED)
    second = submit(uow, b, now + timedelta(hours=1), Reason.NOT_AS_DESCRIBED)
    assert (first.ticket_no, second.ticket_no) == ("AS26030200000017", "AS26030200000025")
    # A number that is taken every time is not chance: after three draws the error stands.
    monkeypatch.setattr(requests, "new_order_no", lambda _now: "26030200000017")
    with pytest.raises(IntegrityError):
        submit(uow, c, now + timedelta(hours=1), Reason.NOT_AS_DESCRIBED)


def test_a_ticket_number_drawn_twice_for_a_refund_approved_at_once_is_drawn_again(
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An approval writes its refund (out_refund_no made from the ticket number) in the same
    statement as the ticket, on PostgreSQL (platform/db/step_end.py): the number taken may be
    refused on either, and is drawn again in both cases."""
    never_activated = []
    for _ in range(2):
        user = make_user()
        order_no = buy(uow, channel, user.id, "monthly-pass", now).order_no
        never_activated.append((Viewer(user.id, Role.CONSUMER), order_no))
    monkeypatch.setattr(requests, "new_order_no", _draws("26030200000033", "26030200000033", "26030200000041"))
    asked_at = now + timedelta(hours=1)
    first, second = (
        requests.submit_request(uow, viewer, RefundRequestCommand(order_no, Reason.CHANGED_MIND), asked_at, CALENDAR)
        for viewer, order_no in never_activated
    )
    assert (first.ticket_no, second.ticket_no) == ("AS26030200000033", "AS26030200000041")
    assert first.approved_fen is not None
    assert second.approved_fen is not None
