"""The mass refund's batch writes its rows in bulk (platform/db/bulk.py, ids drawn ahead on
PostgreSQL) and looks up the renewals of a whole batch at once: on SQLite and PostgreSQL the
rows are those the single-ticket path writes (the timeline's hash chain verifies, every journal
entry has its balanced lines), and an order whose renewal was charged is refunded against that
renewal, as ``start_money`` does for one ticket."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from kameng.accounts.models import User
from kameng.aftersales import audit
from kameng.aftersales.models import Ticket, TicketTimeline
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.container import Container
from kameng.domain.mass_refunds import RunStatus
from kameng.domain.subscriptions import RenewalChargeStatus
from kameng.domain.users import Role
from kameng.operator.mass_refunds import start_run
from kameng.operator.mass_runner import drive
from kameng.orders.models import OrderEventRow, OrderRow
from kameng.payouts.models import RefundRow
from kameng.platform.db.bulk import write_new_rows
from kameng.platform.db.ids import reserve_ids
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger import post_entry
from kameng.platform.ledger_models import JournalEntry, JournalLine
from kameng.subscriptions.refunds import renewal_asked_about, renewals_asked_about
from kameng.worker import run_tick
from tests.support.shop import assert_books_balance, buy
from tests.support.subscriptions import charges, subscribe
from tests.support.tickets import CALENDAR, buy_one, staff

pytestmark = pytest.mark.usefixtures("catalog")
MERCHANT = 1  # the demo catalog's one merchant


def test_a_bulk_written_batch_leaves_the_rows_of_the_single_path(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    for _ in range(4):
        buy_one(uow, channel, make_user, now)
    later = now + timedelta(days=40)
    op = staff(uow, later, Role.OPERATOR, "operator")
    run = start_run(uow, op, MERCHANT, later, CALENDAR)
    assert drive(lambda: uow, run.id, lambda: later, CALENDAR, batch=3).status is RunStatus.DONE
    report = audit.verify(uow)
    assert report.ok, report.problems
    with uow:
        session = uow.session
        tickets = session.scalars(select(Ticket).where(Ticket.idempotency_key.like(f"mass:{run.id}:%"))).all()
        assert len(tickets) == 4
        for ticket in tickets:
            actions = session.scalars(
                select(TicketTimeline.action).where(TicketTimeline.ticket_id == ticket.id).order_by(TicketTimeline.seq)
            ).all()
            assert list(actions) == ["submit", "auto_approve", "start_refund"]
            assert ticket.timeline_rows == 3
        kinds = Counter(session.scalars(select(JournalEntry.kind).where(JournalEntry.key.like("%approved%"))).all())
        assert kinds == {"refund_approved": 4}
        per_entry = session.execute(
            select(JournalLine.entry_id, func.count(), func.sum(JournalLine.amount_fen)).group_by(JournalLine.entry_id)
        ).all()
        entries = session.scalar(select(func.count(JournalEntry.id)))
        assert len(per_entry) == entries  # every entry has its lines
        assert all(lines == 2 and total == 0 for _, lines, total in per_entry)
        gone = session.scalar(select(func.count(OrderEventRow.id)).where(OrderEventRow.type == "merchant_gone"))
        assert gone == 4
    assert_books_balance(uow)


def test_rows_with_ids_drawn_ahead_are_written_by_insert_and_others_by_the_flush(
    uow: UnitOfWork, now: datetime
) -> None:
    with uow:
        reserve_ids(uow, "journal_entries", 1)
        reserve_ids(uow, "journal_lines", 2)
        post_entry(uow, kind="test", key="bulk:1", lines=[("a", 5), ("b", -5)], now=now)
        written = write_new_rows(uow.session, {"journal_entries", "journal_lines"})
        # PostgreSQL draws ids ahead, SQLite has no sequences: its rows are left to the flush.
        assert written == (3 if uow.dialect == "postgresql" else 0)
        if written:  # the session forgot them: the commit's flush does not write them twice
            assert not [row for row in uow.session.new if isinstance(row, JournalLine | JournalEntry)]
        uow.commit()
    with uow:
        entry = uow.session.scalar(select(JournalEntry).where(JournalEntry.key == "bulk:1"))
        assert entry is not None
        assert sorted((line.account, line.amount_fen) for line in entry.lines) == [("a", 5), ("b", -5)]


def test_a_mass_refund_of_a_renewed_order_refunds_the_renewal_as_one_ticket_would(
    container: Container, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    uow = container.uow
    subscribed = subscribe(uow(), channel, make_user(), now)
    other = buy(uow(), channel, make_user().id, "annual-card", now)
    run_tick(container, subscribed.renews_at + timedelta(seconds=1))
    [charge] = charges(uow(), subscribed.sub_no)
    assert charge.status is RenewalChargeStatus.SUCCEEDED
    later = subscribed.renews_at + timedelta(days=10)  # past the renewal's cooling-off window: paid at once
    with uow() as tx:
        orders = {
            order.order_no: order
            for order in tx.session.scalars(
                select(OrderRow).where(OrderRow.order_no.in_([subscribed.order_no, other.order_no]))
            )
        }
        many = renewals_asked_about(tx, [(order.id, order.user_id) for order in orders.values()], later)
        for order in orders.values():
            one = renewal_asked_about(tx, order.id, order.user_id, later)
            assert (many.get(order.id).id if order.id in many else None) == (one.id if one else None)
        assert set(many) == {orders[subscribed.order_no].id}
        assert renewals_asked_about(tx, [], later) == {}
    op = staff(uow(), later, Role.OPERATOR, "operator")
    run = start_run(uow(), op, MERCHANT, later, CALENDAR)
    assert drive(uow, run.id, lambda: later, CALENDAR).status is RunStatus.DONE
    with uow() as tx:
        renewed = orders[subscribed.order_no]
        [refund] = tx.session.scalars(select(RefundRow).where(RefundRow.order_id == renewed.id))
        assert refund.out_trade_no == charge.out_trade_no  # against the renewal's own trade
        [bought] = tx.session.scalars(select(RefundRow).where(RefundRow.order_id == orders[other.order_no].id))
        assert bought.out_trade_no != charge.out_trade_no
    [after] = charges(uow(), subscribed.sub_no)
    assert after.refunded_fen == refund.amount_fen > 0
    assert_books_balance(uow())
