"""Renewals on a controllable clock, on SQLite and PostgreSQL: the reminder seven days before
(a `renewal_notice` event, in the app, by SMS and e-mail), the charge at the renewal time, a
renewal without a reminder refunded at once under S2, a cancellation a minute before stopping
the charge, and a lapse after the failed charges."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from kameng import compose
from kameng.accounts.models import User
from kameng.aftersales.requests import RefundRequestCommand, submit_request
from kameng.aftersales.review import approve
from kameng.channels.simulator.charges import SimulatorCharges
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.container import Container
from kameng.domain.model import Decision, Reason
from kameng.domain.subscriptions import RenewalChargeStatus, SubscriptionStatus
from kameng.platform.db.uow import UnitOfWork
from kameng.settings import Settings
from kameng.subscriptions.renewals import RenewalRules, sweep_renewals
from kameng.subscriptions.services import CancelAutoRenewal, cancel_auto_renewal, subscription
from kameng.worker import run_tick
from tests.support.database import PASSWORD
from tests.support.shop import assert_books_balance, events, payments
from tests.support.smtp import Inbox
from tests.support.subscriptions import (
    Subscribed,
    bank_charges,
    charges,
    membership,
    messages,
    sub_row,
    subscribe,
)
from tests.support.tickets import staff

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


@pytest.fixture
def subscribed(
    catalog: UnitOfWork, container: Container, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> Subscribed:
    return subscribe(container.uow(), channel, make_user(), now)


def test_the_reminder_goes_out_seven_days_before_once_as_a_renewal_notice(
    container: Container, subscribed: Subscribed
) -> None:
    uow, renews_at = container.uow, subscribed.renews_at
    run_tick(container, renews_at - 7 * DAY - SECOND)
    assert events(uow(), subscribed.order_no, "renewal_notice") == []

    figures = run_tick(container, renews_at - 7 * DAY + SECOND)
    assert figures["renewal_reminders"] == 1
    run_tick(container, renews_at - 6 * DAY)  # later ticks do not remind again
    [notice] = events(uow(), subscribed.order_no, "renewal_notice")
    assert notice.at == renews_at - 7 * DAY + SECOND
    [message] = messages(uow(), subscribed.user.id, "renewal_notice")
    assert "30.00" in message.texts["zh"]
    assert "取消自动续费" in message.texts["zh"]
    assert "Renews automatically on" in message.texts["en"]
    assert sub_row(uow(), subscribed.sub_no).reminded_for == renews_at
    assert charges(uow(), subscribed.sub_no) == []


def test_the_renewal_is_charged_at_its_time_and_extends_the_term_by_one(
    container: Container, subscribed: Subscribed
) -> None:
    uow, renews_at = container.uow, subscribed.renews_at
    run_tick(container, renews_at - 7 * DAY)
    run_tick(container, renews_at - SECOND)
    assert charges(uow(), subscribed.sub_no) == []  # not a second early

    figures = run_tick(container, renews_at + SECOND)
    assert figures["renewal_charges"] == 1
    [charge] = charges(uow(), subscribed.sub_no)
    assert charge.status is RenewalChargeStatus.SUCCEEDED
    assert charge.noticed
    assert charge.amount_fen == 3000
    [renewed] = events(uow(), subscribed.order_no, "renewed")
    assert renewed.amount_fen == 3000
    assert [p.amount_fen for p in payments(uow(), subscribed.order_no)] == [3000, 3000]
    ms = membership(uow(), subscribed.order_no)
    assert ms.expires_at == renews_at + 30 * DAY
    assert ms.renews_at == ms.expires_at
    [message] = messages(uow(), subscribed.user.id, "renewed")
    assert "全额" not in message.texts["zh"]  # a reminder came first: nothing to offer back
    assert_books_balance(uow())
    run_tick(container, renews_at + 2 * DAY)
    assert len(bank_charges(uow(), subscribed.sub_no)) == 1  # and never again for this period


def test_a_renewal_without_a_reminder_says_so_and_is_refunded_in_full_at_once(
    container: Container, subscribed: Subscribed
) -> None:
    uow, renews_at = container.uow, subscribed.renews_at
    run_tick(container, renews_at + SECOND)  # the worker was away for the whole reminder window
    [charge] = charges(uow(), subscribed.sub_no)
    assert charge.status is RenewalChargeStatus.SUCCEEDED
    assert not charge.noticed
    [message] = messages(uow(), subscribed.user.id, "renewed")
    assert "全额立即退还" in message.texts["zh"]
    assert "refunded at once" in message.texts["en"]

    command = RefundRequestCommand(subscribed.order_no, Reason.RENEWAL_WITHOUT_NOTICE, idempotency_key="s2")
    ticket = submit_request(uow(), subscribed.viewer, command, renews_at + DAY, container.calendar)
    assert ticket.decision is Decision.AUTO_APPROVE
    assert ticket.rules.split(",")[0] == "S2"
    assert ticket.quoted_fen == 3000


def test_cancelling_one_minute_before_the_renewal_stops_the_charge(
    container: Container, subscribed: Subscribed
) -> None:
    uow, renews_at = container.uow, subscribed.renews_at
    run_tick(container, renews_at - 7 * DAY)
    command = CancelAutoRenewal(subscribed.sub_no, password=PASSWORD)
    done = cancel_auto_renewal(uow(), subscribed.viewer, command, renews_at - timedelta(minutes=1), "test")
    assert done.view.row.cancellation_no
    for moment in (renews_at, renews_at + SECOND, renews_at + 3 * DAY):
        run_tick(container, moment)
    assert charges(uow(), subscribed.sub_no) == []
    assert bank_charges(uow(), subscribed.sub_no) == []
    assert sub_row(uow(), subscribed.sub_no).status is SubscriptionStatus.CANCELLED
    assert membership(uow(), subscribed.order_no).status.value == "expired"  # access to the end, then over


def test_failed_charges_are_retried_a_bounded_number_of_times_then_the_subscription_lapses(
    container: Container, subscribed: Subscribed
) -> None:
    uow, renews_at = container.uow, subscribed.renews_at
    assert isinstance(container.charges, SimulatorCharges)
    container.charges.set_behavior(subscribed.sub_no, "fail")
    run_tick(container, renews_at - 7 * DAY)
    run_tick(container, renews_at + SECOND)
    [charge] = charges(uow(), subscribed.sub_no)
    assert (charge.status, charge.attempts) == (RenewalChargeStatus.PENDING, 1)
    assert charge.next_attempt_at == renews_at + SECOND + DAY
    run_tick(container, renews_at + 12 * 60 * 60 * SECOND)
    assert len(bank_charges(uow(), subscribed.sub_no)) == 1  # no retry before its time

    run_tick(container, renews_at + DAY + 2 * SECOND)
    run_tick(container, renews_at + 2 * DAY + 3 * SECOND)
    [charge] = charges(uow(), subscribed.sub_no)
    assert (charge.status, charge.attempts) == (RenewalChargeStatus.FAILED, 3)
    tried = bank_charges(uow(), subscribed.sub_no)
    assert len(tried) == 3
    assert len({row.out_trade_no for row in tried}) == 3  # each attempt its own key
    assert not any(row.succeeded for row in tried)
    assert sub_row(uow(), subscribed.sub_no).status is SubscriptionStatus.LAPSED
    ms = membership(uow(), subscribed.order_no)
    assert not ms.auto_renew
    assert ms.renews_at is None
    [lapsed] = messages(uow(), subscribed.user.id, "auto_renew_lapsed")
    assert "不会再扣款" in lapsed.texts["zh"]
    assert len(events(uow(), subscribed.order_no, "renewal_charge_failed")) == 3
    run_tick(container, renews_at + 10 * DAY)
    assert len(bank_charges(uow(), subscribed.sub_no)) == 3
    assert [p.amount_fen for p in payments(uow(), subscribed.order_no)] == [3000]
    assert_books_balance(uow())


@pytest.fixture
def smtp_container(db_url: str, smtp_inbox: Inbox) -> Iterator[Container]:
    settings = Settings(
        database_url=db_url, environment="test", secret_key="test", smtp_host="127.0.0.1", smtp_port=smtp_inbox.port
    )
    built = compose.build(settings)
    try:
        yield built
    finally:
        built.dispose()


def test_the_reminder_is_also_an_email_over_smtp(
    catalog: UnitOfWork,
    smtp_container: Container,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
    smtp_inbox: Inbox,
) -> None:
    subscribed = subscribe(smtp_container.uow(), channel, make_user("member@example.com"), now)
    run_tick(smtp_container, subscribed.renews_at - 7 * DAY)
    [mail] = smtp_inbox.to("member@example.com")
    body = mail.get_content()
    assert "30.00" in body
    assert "自动续费" in body
    assert "取消自动续费" in body


def test_an_order_refunded_before_its_renewal_is_never_charged(
    container: Container, subscribed: Subscribed, now: datetime
) -> None:
    uow = container.uow
    command = RefundRequestCommand(subscribed.order_no, Reason.CHANGED_MIND, idempotency_key="r1")
    ticket = submit_request(uow(), subscribed.viewer, command, now + DAY, container.calendar)
    approve(uow(), staff(uow(), now), ticket.ticket_no, now + DAY, container.calendar)
    run_tick(container, now + DAY + timedelta(minutes=5))  # the refund goes out
    run_tick(container, now + DAY + timedelta(minutes=10))  # and arrives
    run_tick(container, subscribed.renews_at + SECOND)
    assert charges(uow(), subscribed.sub_no) == []
    assert [p.amount_fen for p in payments(uow(), subscribed.order_no)] == [3000]
    # The refund switched auto-renewal off with the membership: the consumer reads it as ended.
    assert subscription(uow(), subscribed.viewer, subscribed.sub_no).status is SubscriptionStatus.ENDED


def test_a_sweep_reads_only_what_is_still_owed(container: Container, subscribed: Subscribed) -> None:
    """``remind_at`` holds the renewal whose reminder is owed: cleared once reminded, so later
    passes do not read the row again; set anew by the renewal for the next one."""
    uow, renews_at = container.uow, subscribed.renews_at
    assert membership(uow(), subscribed.order_no).remind_at == renews_at  # set at activation
    assert run_tick(container, renews_at - 7 * DAY + SECOND)["renewal_reminders"] == 1
    assert membership(uow(), subscribed.order_no).remind_at is None
    again = sweep_renewals(container.uow, renews_at - 6 * DAY, RenewalRules())
    assert again == {"renewal_reminders": 0, "renewal_charges": 0, "renewals_ended": 0, "renewal_retries": 0}

    run_tick(container, renews_at + SECOND)
    ms = membership(uow(), subscribed.order_no)
    assert ms.renews_at == renews_at + 30 * DAY
    assert ms.remind_at == ms.renews_at  # the next renewal is owed its reminder
    assert run_tick(container, ms.renews_at - 7 * DAY + SECOND)["renewal_reminders"] == 1
    assert len(events(uow(), subscribed.order_no, "renewal_notice")) == 2
