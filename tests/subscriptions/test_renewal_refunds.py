"""Each renewal charge is its own refundable amount with its own trade (RULES.md S2), on SQLite
and PostgreSQL: a renewal dearer than the purchase (a coupon at purchase) refunded in full at once,
against the renewal's trade; a retry changes nothing; nothing beyond what a charge captured."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select

from kameng.accounts.models import User
from kameng.aftersales.requests import RefundRequestCommand, submit_request
from kameng.aftersales.review import approve
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.container import Container
from kameng.domain.model import Decision, Reason
from kameng.domain.states import RefundStatus
from kameng.domain.subscriptions import RenewalChargeStatus
from kameng.orders.numbers import payment_out_trade_no
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput
from kameng.subscriptions.models import RenewalChargeRow
from kameng.subscriptions.refunds import reserve_renewal_refund
from kameng.worker import run_tick
from tests.support.shop import assert_books_balance, order
from tests.support.subscriptions import Subscribed, charges, subscribe
from tests.support.tickets import refunded_fen, refunds, sim_rows, staff

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def dearer_renewal(
    catalog: UnitOfWork, container: Container, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> Subscribed:
    """A monthly pass bought for 20.00 with the 10.00 coupon, renewed for 30.00 without a reminder
    (the worker was away for the whole reminder window)."""
    subscribed = subscribe(container.uow(), channel, make_user(), now, coupon_code="SORRY10")
    assert order(container.uow(), subscribed.order_no).amount_fen == 2000
    run_tick(container, subscribed.renews_at + SECOND)
    [charge] = charges(container.uow(), subscribed.sub_no)
    assert charge.status is RenewalChargeStatus.SUCCEEDED
    assert (charge.amount_fen, charge.noticed) == (3000, False)
    return subscribed


def test_a_renewal_dearer_than_the_purchase_is_refunded_in_full_at_once_against_its_own_trade(
    container: Container, dearer_renewal: Subscribed
) -> None:
    uow, at = container.uow, dearer_renewal.renews_at + DAY
    command = RefundRequestCommand(dearer_renewal.order_no, Reason.RENEWAL_WITHOUT_NOTICE, idempotency_key="s2")
    ticket = submit_request(uow(), dearer_renewal.viewer, command, at, container.calendar)
    assert ticket.decision is Decision.AUTO_APPROVE
    assert ticket.rules.split(",")[0] == "S2"
    assert ticket.approved_fen == 3000  # more than the purchase captured: the renewal's own capture

    run_tick(container, at + 5 * MINUTE)  # the refund goes out
    run_tick(container, at + 10 * MINUTE)  # and arrives
    [charge] = charges(uow(), dearer_renewal.sub_no)
    [refund] = refunds(uow(), ticket.ticket_no)
    assert refund.status is RefundStatus.SUCCEEDED
    assert refund.amount_fen == 3000
    assert refund.out_trade_no == charge.out_trade_no  # the renewal's trade ...
    assert refund.out_trade_no != payment_out_trade_no(dearer_renewal.order_no)  # ... not the purchase's
    [at_the_bank] = sim_rows(uow(), refund.out_refund_no)
    assert (at_the_bank.out_trade_no, at_the_bank.amount_fen) == (charge.out_trade_no, 3000)
    assert charge.refunded_fen == 3000
    assert refunded_fen(uow(), dearer_renewal.order_no) == 0  # the purchase's 20.00 is untouched
    assert_books_balance(uow())


def test_a_retried_renewal_refund_changes_nothing(container: Container, dearer_renewal: Subscribed) -> None:
    uow, at = container.uow, dearer_renewal.renews_at + DAY
    command = RefundRequestCommand(dearer_renewal.order_no, Reason.RENEWAL_WITHOUT_NOTICE, idempotency_key="s2")
    first = submit_request(uow(), dearer_renewal.viewer, command, at, container.calendar)
    again = submit_request(uow(), dearer_renewal.viewer, command, at + MINUTE, container.calendar)
    assert again.ticket_no == first.ticket_no
    for minutes in (5, 6, 10, 11, 60):  # the worker runs again and again, resending as it may
        run_tick(container, at + minutes * MINUTE)
    [refund] = refunds(uow(), first.ticket_no)
    assert refund.status is RefundStatus.SUCCEEDED
    assert len(sim_rows(uow(), refund.out_refund_no)) == 1
    [charge] = charges(uow(), dearer_renewal.sub_no)
    assert charge.refunded_fen == 3000
    assert_books_balance(uow())


def test_staff_approve_up_to_what_the_renewal_captured_never_beyond(
    container: Container, dearer_renewal: Subscribed
) -> None:
    uow, at = container.uow, dearer_renewal.renews_at + DAY
    command = RefundRequestCommand(dearer_renewal.order_no, Reason.CHANGED_MIND, idempotency_key="r1")
    ticket = submit_request(uow(), dearer_renewal.viewer, command, at, container.calendar)
    agent = staff(uow(), at)
    with pytest.raises(InvalidInput):
        approve(uow(), agent, ticket.ticket_no, at + MINUTE, container.calendar, amount_fen=3001, reason="all of it")
    done = approve(uow(), agent, ticket.ticket_no, at + MINUTE, container.calendar, amount_fen=3000, reason="all")
    assert done.approved_fen == 3000  # above the purchase's 20.00: this renewal captured 30.00
    [charge] = charges(uow(), dearer_renewal.sub_no)
    assert charge.refunded_fen == 3000
    [refund] = refunds(uow(), ticket.ticket_no)
    assert refund.out_trade_no == charge.out_trade_no


def test_a_renewal_charge_is_never_refunded_beyond_its_capture(
    container: Container, dearer_renewal: Subscribed
) -> None:
    with container.uow() as uow:
        charge = uow.session.scalar(select(RenewalChargeRow))
        assert charge is not None
        reserve_renewal_refund(charge, 1000)
        reserve_renewal_refund(charge, 2000)
        with pytest.raises(Conflict) as refused:
            reserve_renewal_refund(charge, 1)
        assert refused.value.code == ErrorCode.EXCEEDS_CAPTURED
        assert charge.refunded_fen == 3000


def test_a_request_about_a_purchase_never_renewed_looks_for_no_renewal(
    catalog: UnitOfWork, container: Container, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    # A charge succeeds only with a `renewed` event of the same moment: without one, the approval
    # has no renewal to find or lock (subscriptions/refunds.may_be_about_a_renewal).
    subscribed = subscribe(container.uow(), channel, make_user(), now)
    seen: list[str] = []

    def statement(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        seen.append(sql)

    engine = container.engine
    event.listen(engine, "before_cursor_execute", statement)
    try:
        command = RefundRequestCommand(subscribed.order_no, Reason.CHANGED_MIND, idempotency_key="purchase")
        ticket = submit_request(container.uow(), subscribed.viewer, command, now + SECOND, container.calendar)
    finally:
        event.remove(engine, "before_cursor_execute", statement)

    assert ticket.decision is Decision.AUTO_APPROVE
    assert seen
    assert not [sql for sql in seen if "renewal_charges" in sql]
