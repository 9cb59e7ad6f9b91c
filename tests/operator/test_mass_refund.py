"""The mass refund of a merchant that is gone, on SQLite and PostgreSQL: every affected order
quoted by the engine (S5 with RULES.md section 3a), approved ones paid through the normal payout
path with the platform's advance and the merchant's receivable in the ledger, each consumer told;
a run stopped and resumed, and run twice, pays nobody twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from kameng.aftersales.models import Ticket
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.mass_refunds import ItemOutcome, RunStatus
from kameng.domain.model import Reason
from kameng.domain.users import Role
from kameng.messages.models import MessageRow
from kameng.operator.mass_models import MassRefundItem
from kameng.operator.mass_queries import get_run, preview
from kameng.operator.mass_refunds import change_run, run_batch, start_run
from kameng.operator.mass_runner import drive
from kameng.orders.models import OrderEventRow, OrderRow
from kameng.payouts.models import RefundRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, InvalidInput, NotFound
from kameng.platform.outbox import OutboxRow
from tests.support.shop import assert_books_balance, buy, send_queued_refunds
from tests.support.tickets import CALENDAR, buy_one, staff, submit

pytestmark = pytest.mark.usefixtures("catalog")
MERCHANT = 1  # the demo catalog's one merchant


def operator(uow: UnitOfWork, now: datetime) -> Viewer:
    return staff(uow, now, Role.OPERATOR, "operator")


def shop(uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime) -> list[str]:
    """Five orders of the merchant: three activated annual cards, an unused one, a second order of
    one consumer; the order numbers."""
    numbers = [buy_one(uow, channel, make_user, now).order_no for _ in range(3)]
    user = make_user()
    numbers.append(buy(uow, channel, user.id, "annual-card", now).order_no)  # type: ignore[attr-defined]
    numbers.append(buy(uow, channel, user.id, "monthly-pass", now, duplicate_ack=True).order_no)  # type: ignore[attr-defined]
    return numbers


def items(uow: UnitOfWork, run_id: int) -> list[MassRefundItem]:
    with uow:
        return list(uow.session.scalars(select(MassRefundItem).where(MassRefundItem.run_id == run_id)))


def count(uow: UnitOfWork, model: type, *where: object) -> int:
    with uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def test_a_mass_refund_pays_every_affected_order_once_and_books_the_advance(
    uow: UnitOfWork,
    engine: object,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
) -> None:
    numbers = shop(uow, channel, make_user, now)
    later = now + timedelta(days=40)  # past every cooling-off window: S5 decides, prorated
    op = operator(uow, later)
    counted = preview(uow, MERCHANT, later, CALENDAR)
    assert counted.orders == 5
    assert counted.auto_count + counted.review_count == 5
    run = start_run(uow, op, MERCHANT, later, CALENDAR, "商家跑路", confirmed_orders=5)
    result = drive(lambda: uow, run.id, lambda: later, CALENDAR, batch=2)
    assert result.status is RunStatus.DONE
    run = get_run(uow, run.id)
    assert (run.orders_done, run.batches) == (5, 3)  # batches of 2, 2 and 1 orders
    done = items(uow, run.id)
    assert sorted(item.outcome for item in done) == [ItemOutcome.PAID] * 5
    assert run.paid_fen == sum(item.amount_fen for item in done) == counted.auto_fen
    with uow:
        session = uow.session
        for item in done:
            ticket = session.get(Ticket, item.ticket_id)
            assert ticket is not None
            assert ticket.reason is Reason.MERCHANT_GONE
            assert ticket.approved_fen == item.amount_fen == ticket.quoted_fen
            (refund,) = session.scalars(select(RefundRow).where(RefundRow.order_id == item.order_id))
            assert refund.amount_fen == item.amount_fen
            gone = session.scalars(
                select(OrderEventRow).where(
                    OrderEventRow.order_id == item.order_id, OrderEventRow.type == "merchant_gone"
                )
            ).all()
            assert len(gone) == 1
            assert gone[0].at == later
            assert session.scalar(select(MessageRow.id).where(MessageRow.ticket_id == ticket.id)) is not None
        sends = session.scalar(select(func.count(OutboxRow.id)).where(OutboxRow.kind == "send_refund"))
        assert sends == 5
    # The advance is owed back by the merchant, to the fen.
    from kameng.platform.ledger import check_books

    books = check_books(uow)
    assert books.accounts[f"merchant_receivable:{MERCHANT}"] == run.paid_fen
    assert books.accounts.get("platform_advance", 0) == 0
    assert_books_balance(uow)
    # Paid through the channel: every order closed, nothing sent twice.
    send_queued_refunds(engine, later + timedelta(minutes=1))  # type: ignore[arg-type]
    with uow:
        statuses = uow.session.scalars(select(OrderRow.status).where(OrderRow.order_no.in_(numbers))).all()
        assert {status.value for status in statuses} == {"refunded"}
    # A second run finds nothing left to pay.
    again = start_run(uow, op, MERCHANT, later + timedelta(hours=1), CALENDAR)
    assert again.orders_total == 0
    assert drive(lambda: uow, again.id, lambda: later, CALENDAR).status is RunStatus.DONE
    assert count(uow, RefundRow) == 5
    assert_books_balance(uow)


def test_an_order_with_the_consumers_own_ticket_is_left_to_it(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    bought = buy_one(uow, channel, make_user, now)
    mine = submit(uow, bought, now + timedelta(hours=1))  # S4, in review
    later = now + timedelta(days=1)
    op = operator(uow, later)
    assert preview(uow, MERCHANT, later, CALENDAR).open_tickets == 1
    run = start_run(uow, op, MERCHANT, later, CALENDAR)
    drive(lambda: uow, run.id, lambda: later, CALENDAR)
    (item,) = items(uow, run.id)
    assert item.outcome is ItemOutcome.OPEN_TICKET
    assert item.ticket_id is None
    assert count(uow, Ticket) == 1  # no second ticket beside the consumer's
    assert count(uow, RefundRow) == 0
    with uow:  # the event is recorded all the same: staff deciding the ticket see it
        assert uow.session.scalar(select(OrderEventRow.id).where(OrderEventRow.type == "merchant_gone")) is not None
    assert mine.ticket_no


def test_a_stopped_run_takes_no_batch_until_resumed(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    shop(uow, channel, make_user, now)
    later = now + timedelta(days=40)
    op = operator(uow, later)
    run = start_run(uow, op, MERCHANT, later, CALENDAR)
    assert run_batch(uow, run.id, later, CALENDAR, 2).orders_done == 2
    change_run(uow, op, run.id, "stop", later)
    assert run_batch(uow, run.id, later, CALENDAR, 2).processed == 0
    with pytest.raises(Conflict):
        change_run(uow, op, run.id, "stop", later)
    with pytest.raises(Conflict):  # one open run per merchant
        start_run(uow, op, MERCHANT, later, CALENDAR)
    change_run(uow, op, run.id, "resume", later)
    assert drive(lambda: uow, run.id, lambda: later, CALENDAR).orders_done == 5
    assert count(uow, RefundRow) == 5
    assert count(uow, MassRefundItem) == 5


@pytest.mark.parametrize(
    ("merchant", "error"),
    [
        ("", InvalidInput),
        ("abc", InvalidInput),
        ("99", NotFound),
        ("9" * 19, InvalidInput),
        ("1\x00", InvalidInput),
        ("²", InvalidInput),  # a digit to str.isdigit(), not to int()
        ("１", InvalidInput),
    ],
)
def test_a_bad_merchant_is_refused_with_its_field(
    uow: UnitOfWork, now: datetime, merchant: str, error: type[Exception]
) -> None:
    op = operator(uow, now)
    with pytest.raises(error) as raised:
        start_run(uow, op, merchant, now, CALENDAR)
    assert raised.value.field == "merchant"  # type: ignore[attr-defined]


def test_a_changed_count_or_a_non_operator_starts_nothing(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    shop(uow, channel, make_user, now)
    with pytest.raises(Conflict):
        start_run(uow, operator(uow, now), MERCHANT, now, CALENDAR, confirmed_orders=4)
    with pytest.raises(NotFound):
        start_run(uow, staff(uow, now), MERCHANT, now, CALENDAR)
    for run in ("1; drop", "²", "9" * 40):
        with pytest.raises(NotFound):
            get_run(uow, run)
    assert count(uow, MassRefundItem) == 0


def test_inside_the_cooling_off_window_the_better_policy_outcome_goes_to_review(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    """RULES.md section 3a: merchant gone inside an unused cooling-off window, P6's full refund
    (in review) beats S5's prorated one (at once). The run leaves it to a person, quoted in full."""
    bought = buy_one(uow, channel, make_user, now)
    later = now + timedelta(days=1)
    run = start_run(uow, operator(uow, later), MERCHANT, later, CALENDAR)
    drive(lambda: uow, run.id, lambda: later, CALENDAR)
    (item,) = items(uow, run.id)
    with uow:
        ticket = uow.session.get(Ticket, item.ticket_id)
        assert ticket is not None
        print(item.outcome, item.amount_fen, ticket.rules, bought.amount_fen)
    assert item.outcome is ItemOutcome.REVIEW
    assert item.amount_fen == bought.amount_fen
    assert ticket.rules.split(",")[1] == "S5"
    assert get_run(uow, run.id).review_fen == bought.amount_fen
    assert count(uow, RefundRow) == 0
