"""Review deadlines under a controllable clock, on SQLite and PostgreSQL.

``now`` is passed to every call, so the tests walk time forward by hand: a ticket past its due
date is escalated (once), five working days later it is approved automatically at the quoted
amount; the clock stops while the consumer is asked for more; working days follow the official
schedule with its swapped weekends (调休) and fall back to Monday–Friday, with a warning, for a
year without data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from kameng.aftersales import deadlines
from kameng.aftersales.deadlines import run_deadlines
from kameng.aftersales.models import TicketTimeline
from kameng.aftersales.queue import staff_queue
from kameng.aftersales.queue_filters import queue_query
from kameng.aftersales.requests import RefundRequestCommand, reply, submit_request
from kameng.aftersales.review import ask_info
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Reason
from kameng.domain.tickets import SHANGHAI, TicketStatus
from kameng.domain.users import Role
from kameng.orders.models import OrderRow
from kameng.orders.usage import record_usage
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import assert_books_balance, buy
from tests.support.tickets import CALENDAR, actions, buy_one, refunded_fen, refunds, staff, submit, ticket

pytestmark = pytest.mark.usefixtures("catalog")
SECOND = timedelta(seconds=1)


def _local(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI)


def _end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=SHANGHAI)


def lane(uow: UnitOfWork, viewer: Viewer, name: str, now: datetime) -> list[str]:
    """The ticket numbers of a staff lane, in queue order."""
    return [item.ticket.ticket_no for item in staff_queue(uow, viewer, queue_query(lane=name), now).items]


def test_escalation_then_automatic_approval_at_the_quote(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    supervisor = staff(uow, now, Role.SUPERVISOR, "sup")
    bought = buy_one(uow, channel, make_user, now)
    requested = now + timedelta(minutes=5)  # Monday 2026-03-02, 10:05 in Beijing
    created = submit(uow, bought, requested)
    assert created.status is TicketStatus.IN_REVIEW
    assert created.quoted_fen == bought.amount_fen  # S4: the full price once confirmed
    # Two working days after Monday: the end of Wednesday, in Beijing time.
    assert _local(created.due_at) == _end_of(date(2026, 3, 4))  # type: ignore[arg-type]
    assert created.quote["review_due"] == "2026-03-04"
    # Five working days past the due date: the end of the next Wednesday.
    assert _local(created.auto_approve_at) == _end_of(date(2026, 3, 11))  # type: ignore[arg-type]
    due = created.due_at
    assert due is not None

    # Not yet due: nothing happens.
    assert run_deadlines(uow, due - SECOND, CALENDAR) == {
        "tickets_escalated": 0,
        "tickets_auto_approved": 0,
        "tickets_failed": 0,
    }
    assert ticket(uow, created.ticket_no).escalated_at is None
    assert lane(uow, supervisor, "escalated", due - SECOND) == []

    # One second past: escalated to the supervisors, the breach recorded.
    late = due + SECOND
    assert run_deadlines(uow, late, CALENDAR)["tickets_escalated"] == 1
    escalated = ticket(uow, created.ticket_no)
    assert escalated.status is TicketStatus.IN_REVIEW
    assert escalated.breached is True
    assert escalated.escalated_at is not None
    assert _local(escalated.escalated_at) == _local(late)
    assert actions(uow, created.ticket_no) == ["submit", "open_review", "escalate"]
    assert lane(uow, supervisor, "escalated", late) == [created.ticket_no]
    # A second tick escalates nothing twice.
    assert run_deadlines(uow, late + timedelta(hours=1), CALENDAR)["tickets_escalated"] == 0
    assert actions(uow, created.ticket_no).count("escalate") == 1

    # Still undecided one second before the grace period ends: no approval.
    grace_end = escalated.auto_approve_at
    assert grace_end is not None
    assert run_deadlines(uow, grace_end - SECOND, CALENDAR)["tickets_auto_approved"] == 0
    assert refunds(uow, created.ticket_no) == []

    # Past it: approved automatically at the quoted amount, recorded as such, money started.
    assert run_deadlines(uow, grace_end + SECOND, CALENDAR)["tickets_auto_approved"] == 1
    approved = ticket(uow, created.ticket_no)
    assert approved.status is TicketStatus.REFUNDING
    assert approved.approved_fen == created.quoted_fen
    assert approved.decided_by is None  # nobody: the system decided
    assert actions(uow, created.ticket_no)[-2:] == ["approve_overdue", "start_refund"]
    (record,) = refunds(uow, created.ticket_no)
    assert record.amount_fen == created.quoted_fen
    assert record.out_refund_no == f"R{created.ticket_no}01"
    assert refunded_fen(uow, bought.order_no) == created.quoted_fen
    assert lane(uow, supervisor, "escalated", grace_end + SECOND) == []
    # A later tick approves nothing again.
    assert run_deadlines(uow, grace_end + timedelta(days=3), CALENDAR)["tickets_auto_approved"] == 0
    assert len(refunds(uow, created.ticket_no)) == 1
    assert_books_balance(uow)


def test_the_clock_pauses_while_information_is_asked_for(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    agent = staff(uow, now)
    bought = buy_one(uow, channel, make_user, now)
    created = submit(uow, bought, now + timedelta(minutes=5))  # Monday; due Wednesday 03-04
    assert _local(created.due_at) == _end_of(date(2026, 3, 4))  # type: ignore[arg-type]
    asked = ask_info(uow, agent, created.ticket_no, "请上传截图", now + timedelta(hours=1), CALENDAR)
    assert asked.status is TicketStatus.NEEDS_INFO

    # Thursday: past the original due date, but the clock is stopped: no escalation, no approval.
    thursday = now + timedelta(days=3)
    for moment in (thursday, now + timedelta(days=30)):
        assert run_deadlines(uow, moment, CALENDAR) == {
            "tickets_escalated": 0,
            "tickets_auto_approved": 0,
            "tickets_failed": 0,
        }
    assert ticket(uow, created.ticket_no).escalated_at is None

    # The reply comes on Thursday, three days later: the two working days left start again,
    # so the deadline moves by the three working days paused (Tue, Wed, Thu) to Monday 03-09.
    replied = reply(uow, bought.consumer, created.ticket_no, "截图见附件", [], thursday, CALENDAR)
    assert replied.status is TicketStatus.IN_REVIEW
    assert _local(replied.due_at) == _end_of(date(2026, 3, 9))  # type: ignore[arg-type]
    assert _local(replied.auto_approve_at) == _end_of(date(2026, 3, 16))  # type: ignore[arg-type]
    assert replied.paused_at is None
    assert actions(uow, created.ticket_no) == ["submit", "open_review", "ask_info", "reply"]

    # Friday and the weekend: still within the moved deadline.
    assert run_deadlines(uow, _end_of(date(2026, 3, 8)), CALENDAR)["tickets_escalated"] == 0
    # Tuesday 03-10: past it, escalated.
    assert run_deadlines(uow, _end_of(date(2026, 3, 9)) + SECOND, CALENDAR)["tickets_escalated"] == 1


def test_a_due_date_in_a_year_without_calendar_data(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object]
) -> None:
    """chinese-calendar knows 2026 but not 2027: counted Monday–Friday, with a warning."""
    assert CALENDAR.has_official_data(2026)
    assert not CALENDAR.has_official_data(2027)
    thursday = datetime(2026, 12, 31, 10, 0, tzinfo=SHANGHAI)
    bought = buy_one(uow, channel, make_user, thursday)
    created = submit(uow, bought, thursday + timedelta(minutes=5))
    assert created.status is TicketStatus.IN_REVIEW
    warning = created.quote["calendar_warning"]
    assert warning
    assert "2027" in str(warning)
    # Friday 2027-01-01 counts (no data says it is a holiday), the weekend does not: Monday 01-04.
    assert created.quote["review_due"] == "2027-01-04"
    assert _local(created.due_at) == _end_of(date(2027, 1, 4))  # type: ignore[arg-type]
    assert _local(created.auto_approve_at) == _end_of(date(2027, 1, 11))  # type: ignore[arg-type]
    # The worker does not crash on such a ticket, and escalates it on Tuesday.
    assert run_deadlines(uow, _end_of(date(2027, 1, 4)) + SECOND, CALENDAR)["tickets_escalated"] == 1
    assert run_deadlines(uow, _end_of(date(2027, 1, 11)) + SECOND, CALENDAR)["tickets_auto_approved"] == 1


def test_working_days_follow_the_swapped_weekends(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object]
) -> None:
    """A request on 2026-09-30, the eve of the National Day holiday (10-01 … 10-07); 10-10 is a
    Saturday worked in exchange (调休)."""
    eve = datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)
    user = make_user()
    placed = buy(uow, channel, user.id, "course-pack", eve)  # type: ignore[attr-defined]
    # Activated, or RULES.md §3a would answer with P1's one-click refund instead of S4's review.
    record_usage(uow, Viewer(user.id, Role.CONSUMER), placed.order_no, "activate", eve + timedelta(minutes=1))  # type: ignore[attr-defined]
    bought_course = RefundRequestCommand(placed.order_no, Reason.NOT_AS_DESCRIBED, "内容不符")
    created = submit_request(
        uow,
        Viewer(user.id, Role.CONSUMER),
        bought_course,
        eve + timedelta(minutes=5),
        CALENDAR,  # type: ignore[attr-defined]
    )
    # Working days after 09-30: Thu 10-08, Fri 10-09, the swapped working Saturday 10-10, Mon 10-12 …
    after_eve = [date(2026, 10, d) for d in (8, 9, 10, 12, 13, 14, 15, 16, 19, 20)]
    assert created.due_at is not None
    due_day = _local(created.due_at).date()
    # S4 is statutory: the default 2 working days, not the course pack's 3 (RULES.md §3; notes, gap F).
    assert due_day == date(2026, 10, 9)
    assert _local(created.due_at) == _end_of(due_day)
    assert created.quote["calendar_warning"] is None
    # Five more working days, counting the swapped Saturday 10-10 when it comes after the due day.
    assert _local(created.auto_approve_at) == _end_of(after_eve[after_eve.index(due_day) + 5])  # type: ignore[arg-type]
    # During the holiday nothing is late.
    assert run_deadlines(uow, datetime(2026, 10, 7, 23, 0, tzinfo=SHANGHAI), CALENDAR) == {
        "tickets_escalated": 0,
        "tickets_auto_approved": 0,
        "tickets_failed": 0,
    }


def test_priority_lane_sorts_first(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    agent = staff(uow, now)
    ordinary = submit(uow, buy_one(uow, channel, make_user, now), now + timedelta(minutes=1))
    gone = submit(uow, buy_one(uow, channel, make_user, now), now + timedelta(minutes=2), Reason.MERCHANT_GONE)
    fault = submit(uow, buy_one(uow, channel, make_user, now), now + timedelta(minutes=3), Reason.PLATFORM_FAULT)
    later = submit(uow, buy_one(uow, channel, make_user, now), now + timedelta(days=1))
    for created in (ordinary, gone, fault, later):
        assert created.status is TicketStatus.IN_REVIEW
    assert (gone.priority, fault.priority, ordinary.priority) == (0, 0, 1)
    queue = lane(uow, agent, "review", now)
    # The priority lane first (then by due date and age), then the rest by due date.
    assert queue == [gone.ticket_no, fault.ticket_no, ordinary.ticket_no, later.ticket_no]
    # Escalated together, the supervisors see the same order.
    # Thursday: the first three are past Wednesday's due date, the last is due tonight.
    assert run_deadlines(uow, now + timedelta(days=3), CALENDAR)["tickets_escalated"] == 3
    supervisor = staff(uow, now, Role.SUPERVISOR, "sup")
    escalated = lane(uow, supervisor, "escalated", now + timedelta(days=3))
    assert escalated == [gone.ticket_no, fault.ticket_no, ordinary.ticket_no]


def test_an_overdue_approval_above_what_is_left_says_so_instead_of_lowering_the_amount_silently(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    bought = buy_one(uow, channel, make_user, now)
    created = submit(uow, bought, now + timedelta(minutes=1))
    assert created.auto_approve_at is not None
    # Part of the payment went back some other way meanwhile (an operator's correction, say).
    already = bought.amount_fen - 500
    with engine.begin() as conn:
        conn.execute(update(OrderRow).where(OrderRow.order_no == bought.order_no).values(refunded_fen=already))
    run_deadlines(uow, created.auto_approve_at + timedelta(seconds=1), CALENDAR)
    decided = ticket(uow, created.ticket_no)
    assert decided.approved_fen == 500
    with uow:
        approval = uow.session.scalar(
            select(TicketTimeline).where(
                TicketTimeline.ticket_id == decided.id, TicketTimeline.action == "approve_overdue"
            )
        )
        assert approval is not None
        assert approval.amount_fen == 500
        assert "5.00" in approval.comment  # the timeline says what was approved, and why not the quote
    assert refunded_fen(uow, bought.order_no) == bought.amount_fen


def test_one_ticket_that_fails_leaves_the_rest_of_the_batch_done_and_is_retried_next_tick(
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Each asked after its card was activated (ACTIVATED_AFTER), so that each goes to a person.
    created = [submit(uow, buy_one(uow, channel, make_user, now), now + timedelta(minutes=i + 1)) for i in range(3)]
    poison = created[1].ticket_no
    grace_end = created[0].auto_approve_at
    assert grace_end is not None
    assert all(t.auto_approve_at == grace_end for t in created)
    real_start_money = deadlines.start_money

    def start_money(*args: Any, **kwargs: Any) -> None:
        ticket = args[1]
        if ticket.ticket_no == poison:  # half-way through: the ticket has already moved
            raise RuntimeError("the ledger refused this entry")
        real_start_money(*args, **kwargs)

    monkeypatch.setattr(deadlines, "start_money", start_money)
    with caplog.at_level(logging.ERROR, logger="kameng.deadlines"):
        result = run_deadlines(uow, grace_end + SECOND, CALENDAR)
    # Two approved; the third rolled back alone, then escalated (its due date is long past).
    assert result == {"tickets_escalated": 1, "tickets_auto_approved": 2, "tickets_failed": 1}
    for done in (created[0], created[2]):
        assert ticket(uow, done.ticket_no).status is TicketStatus.REFUNDING
        assert actions(uow, done.ticket_no)[-2:] == ["approve_overdue", "start_refund"]
    assert ticket(uow, poison).status is TicketStatus.IN_REVIEW
    assert actions(uow, poison) == ["submit", "open_review", "escalate"]  # nothing of the failed step
    assert refunds(uow, poison) == []
    (record,) = [r for r in caplog.records if poison in r.getMessage()]
    assert "approve_overdue" in record.getMessage()
    assert record.exc_info is not None

    monkeypatch.setattr(deadlines, "start_money", real_start_money)
    retried = run_deadlines(uow, grace_end + 2 * SECOND, CALENDAR)
    assert retried == {"tickets_escalated": 0, "tickets_auto_approved": 1, "tickets_failed": 0}
    assert ticket(uow, poison).status is TicketStatus.REFUNDING
    assert_books_balance(uow)
