"""Platform events on SQLite and PostgreSQL: an outage recorded once for a product, a merchant or
the platform gives every membership active in its range an ``outage`` event with the hours that fell
in it (the evidence rule S3 reads); recorded again, nothing is added; bad input is refused naming
its field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Decision, Reason
from kameng.domain.users import Role
from kameng.operator.outages import OutageCommand, list_outages, record_outage
from kameng.orders.models import OrderEventRow, OrderRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import InvalidInput, NotFound, ServiceError
from tests.support.shop import buy
from tests.support.tickets import buy_one, staff, submit

pytestmark = pytest.mark.usefixtures("catalog")


def outage_events(uow: UnitOfWork, order_no: str) -> list[OrderEventRow]:
    with uow:
        return list(
            uow.session.scalars(
                select(OrderEventRow)
                .join(OrderRow, OrderRow.id == OrderEventRow.order_id)
                .where(OrderRow.order_no == order_no, OrderEventRow.type == "outage")
            )
        )


def test_an_outage_marks_each_active_membership_once_and_s3_reads_it(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    active = buy_one(uow, channel, make_user, now)  # annual card, activated 40 s after
    unused = buy(uow, channel, make_user().id, "annual-card", now)  # type: ignore[attr-defined]
    later = now + timedelta(days=5)
    op = staff(uow, later, Role.OPERATOR, "operator")
    command = OutageCommand("platform", now + timedelta(hours=1), now + timedelta(hours=51), note="机房断电")
    first = record_outage(uow, op, command, later)
    assert (first.created, first.orders_marked, first.outage.orders_marked) == (True, 1, 1)
    (event,) = outage_events(uow, active.order_no)
    assert Decimal(event.hours or "0") == Decimal("50.00")
    assert event.at == now + timedelta(hours=1)
    assert outage_events(uow, unused.order_no) == []  # never activated: not affected
    # Recorded again (a double click, a retry): the same outage, nothing added.
    again = record_outage(uow, op, command, later + timedelta(minutes=1))
    assert (again.created, again.orders_marked, again.outage.id) == (False, 0, first.outage.id)
    assert len(outage_events(uow, active.order_no)) == 1
    assert [o.id for o in list_outages(uow)] == [first.outage.id]
    # Rule S3 reads it: more than 48 hours down, the platform fault is refunded at once.
    ticket = submit(uow, active, later, Reason.PLATFORM_FAULT)
    assert ticket.decision is Decision.AUTO_APPROVE
    assert ticket.rules.split(",")[0] == "S3"


def test_an_outage_of_one_product_leaves_the_others_alone(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    active = buy_one(uow, channel, make_user, now)
    later = now + timedelta(days=1)
    op = staff(uow, later, Role.OPERATOR, "operator")
    span = (now + timedelta(hours=1), now + timedelta(hours=3))
    other = record_outage(uow, op, OutageCommand("product", *span, target="monthly-pass"), later)
    assert other.orders_marked == 0
    mine = record_outage(uow, op, OutageCommand("product", *span, target="annual-card"), later)
    assert mine.orders_marked == 1
    merchant = record_outage(uow, op, OutageCommand("merchant", *span, target="1"), later)
    assert merchant.orders_marked == 1  # another scope: another outage
    hours = sorted(Decimal(e.hours or "0") for e in outage_events(uow, active.order_no))
    assert hours == [Decimal("2.00"), Decimal("2.00")]


@pytest.mark.parametrize(
    ("scope", "target", "start", "end", "field", "error"),
    [
        ("galaxy", None, 1, 2, "scope", InvalidInput),
        ("product", None, 1, 2, "target", InvalidInput),
        ("product", "no-such-card", 1, 2, "target", NotFound),
        ("merchant", "77", 1, 2, "target", NotFound),
        ("merchant", "²", 1, 2, "target", NotFound),
        ("product", "²", 1, 2, "target", NotFound),
        ("merchant", "x" * 81, 1, 2, "target", InvalidInput),
        ("platform", None, 3, 2, "ends_at", InvalidInput),
        ("platform", None, 1, 1, "ends_at", InvalidInput),
        ("platform", None, 1, 10_000, "ends_at", InvalidInput),  # ends after now
        ("platform", None, -9_000, 1, "ends_at", InvalidInput),  # more than a year
    ],
)
def test_a_bad_outage_is_refused_naming_its_field(
    uow: UnitOfWork,
    now: datetime,
    scope: str,
    target: str | None,
    start: int,
    end: int,
    field: str,
    error: type[ServiceError],
) -> None:
    later = now + timedelta(days=1)
    op = staff(uow, later, Role.OPERATOR, "operator")
    command = OutageCommand(scope, now + timedelta(hours=start), now + timedelta(hours=end), target)
    with pytest.raises(error) as raised:
        record_outage(uow, op, command, later)
    assert raised.value.field == field
    assert raised.value.message_zh
    assert raised.value.message_en
    assert list_outages(uow) == []


def test_only_an_operator_records_an_outage(uow: UnitOfWork, now: datetime) -> None:
    command = OutageCommand("platform", now - timedelta(hours=2), now - timedelta(hours=1))
    with pytest.raises(NotFound):
        record_outage(uow, staff(uow, now), command, now)
