"""After-sales tickets (售后工单): the state machine, deadlines, priorities. Pure.

One transition table decides every move; services write a hash-chained timeline row for each.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum

from kameng.domain.calendar import SHANGHAI, WorkCalendar
from kameng.domain.model import Reason
from kameng.domain.states import StateMachine

APPEAL_WINDOW = timedelta(days=15)
AUTO_APPROVE_AFTER_DUE_WORKING_DAYS = 5
PRIORITY_REASONS = frozenset({Reason.MERCHANT_GONE, Reason.PLATFORM_FAULT})
# A ticket's stored priority is one of these two; the staff queue reads each as its own range.
PRIORITY_LANE = 0
NORMAL_PRIORITY = 1


class TicketStatus(StrEnum):
    SUBMITTED = "submitted"
    AUTO_APPROVED = "auto_approved"
    IN_REVIEW = "in_review"
    NEEDS_INFO = "needs_info"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPEALED = "appealed"
    REJECTED_FINAL = "rejected_final"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"
    WITHDRAWN = "withdrawn"


T = TicketStatus

TICKET = StateMachine[TicketStatus](
    "ticket",
    {
        # the engine's decision at submission
        (T.SUBMITTED, "auto_approve"): T.AUTO_APPROVED,
        (T.SUBMITTED, "open_review"): T.IN_REVIEW,
        (T.SUBMITTED, "reject"): T.REJECTED,
        # a person's review
        (T.IN_REVIEW, "ask_info"): T.NEEDS_INFO,
        (T.NEEDS_INFO, "reply"): T.IN_REVIEW,
        (T.IN_REVIEW, "approve"): T.APPROVED,
        (T.IN_REVIEW, "reject"): T.REJECTED,
        (T.IN_REVIEW, "escalate"): T.IN_REVIEW,
        (T.NEEDS_INFO, "escalate"): T.NEEDS_INFO,
        (T.APPEALED, "escalate"): T.APPEALED,
        # the consumer wins a stalled case: approved at the quoted amount
        (T.IN_REVIEW, "approve_overdue"): T.APPROVED,
        (T.APPEALED, "approve_overdue"): T.APPROVED,
        # before a decision the consumer may leave
        (T.SUBMITTED, "withdraw"): T.WITHDRAWN,
        (T.IN_REVIEW, "withdraw"): T.WITHDRAWN,
        (T.NEEDS_INFO, "withdraw"): T.WITHDRAWN,
        # appeal of a rejection, decided by a different supervisor
        (T.REJECTED, "appeal"): T.APPEALED,
        (T.APPEALED, "approve"): T.APPROVED,
        (T.APPEALED, "reject_final"): T.REJECTED_FINAL,
        # the money
        (T.AUTO_APPROVED, "start_refund"): T.REFUNDING,
        (T.APPROVED, "start_refund"): T.REFUNDING,
        (T.REFUNDING, "refund_succeeded"): T.REFUNDED,
        (T.REFUNDING, "refund_failed"): T.REFUND_FAILED,
        (T.REFUND_FAILED, "retry_refund"): T.REFUNDING,
        (T.REFUND_FAILED, "refund_to_balance"): T.REFUNDING,
    },
)

# Who takes each action the table allows; the rest are the system's (the engine, the worker).
CONSUMER_ACTIONS = frozenset({"withdraw", "reply", "appeal", "refund_to_balance", "retry_refund"})
STAFF_ACTIONS = frozenset({"approve", "reject", "reject_final", "ask_info", "retry_refund"})
# The order in which a page lists them.
_SHOWN_ORDER = ("withdraw", "reply", "appeal", "refund_to_balance", "approve", "reject", "ask_info", "retry_refund")


def offered_actions(status: TicketStatus, *, owner: bool, staff: bool, may_decide_appeal: bool = False) -> list[str]:
    """The actions a person may take on a ticket now: those the transition table allows from
    ``status``, kept to the ones that are theirs. An appeal is decided only by a supervisor other
    than the one who rejected (``may_decide_appeal``); its final rejection is shown as "reject"."""
    offered: set[str] = set()
    for action in TICKET.actions(status):
        if owner and action in CONSUMER_ACTIONS:
            offered.add(action)
        elif staff and action in STAFF_ACTIONS and (status is not T.APPEALED or may_decide_appeal):
            offered.add("reject" if action == "reject_final" else action)
    return [action for action in _SHOWN_ORDER if action in offered]


OPEN_FOR_REVIEW = frozenset({T.IN_REVIEW, T.NEEDS_INFO, T.APPEALED})
UNDECIDED = frozenset({T.SUBMITTED, T.IN_REVIEW, T.NEEDS_INFO, T.APPEALED})
CLOSED = frozenset({T.REFUNDED, T.REJECTED_FINAL, T.WITHDRAWN})
# A refund is promised or may still be granted: while a ticket is in one of these, the order's
# benefits are not started (no activation, no trial: the quote being decided assumed them unused)
# and no second request is taken. A rejection still open to appeal is not one of them: the
# consumer keeps what they bought and may use it.
REFUND_UNDER_WAY = UNDECIDED | frozenset({T.AUTO_APPROVED, T.APPROVED, T.REFUNDING, T.REFUND_FAILED})


def end_of_day(day: date) -> datetime:
    """A deadline given as a date holds until the end of that day in Beijing time."""
    return datetime.combine(day, time(23, 59, 59), SHANGHAI)


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def review_due_at(calendar: WorkCalendar, requested_at: datetime, business_days: int) -> datetime:
    return end_of_day(calendar.add_working_days(local_date(requested_at), business_days).day)


def working_days_between(calendar: WorkCalendar, start: date, end: date) -> int:
    """Working days in (start, end]: how many are left on a paused clock."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            count += 1
    return count


def resume_due_at(calendar: WorkCalendar, paused_at: datetime, due_at: datetime, resumed_at: datetime) -> datetime:
    """The clock stopped at ``paused_at``; the working days that were left start again on the
    reply. At least one working day is left, so a reply never lands on a deadline already gone."""
    left = max(working_days_between(calendar, local_date(paused_at), local_date(due_at)), 1)
    return end_of_day(calendar.add_working_days(local_date(resumed_at), left).day)


def auto_approve_at(calendar: WorkCalendar, due_at: datetime) -> datetime:
    """Five working days past the due date, a still-undecided ticket is approved automatically."""
    return end_of_day(calendar.add_working_days(local_date(due_at), AUTO_APPROVE_AFTER_DUE_WORKING_DAYS).day)


def priority_of(reason: Reason) -> int:
    """0 is the priority lane (merchant gone, platform fault); 1 is everyone else."""
    return PRIORITY_LANE if reason in PRIORITY_REASONS else NORMAL_PRIORITY


# --------------------------------------------------------------------------------------------
# The staff queue: where a ticket stands against its deadline, and how urgent it is


class SlaState(StrEnum):
    """A ticket waiting on staff, against its review deadline (审核时限)."""

    ON_TIME = "on_time"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"
    PAUSED = "paused"  # needs_info: the clock waits for the consumer


# Waiting on a person's decision, with a running clock (needs_info is waiting too, clock stopped).
CLOCK_RUNNING = frozenset({T.IN_REVIEW, T.APPEALED})


def start_of_tomorrow(now: datetime) -> datetime:
    """The first moment of the next Beijing day: a deadline before it (and not past) is due today."""
    return datetime.combine(local_date(now) + timedelta(days=1), time(0), SHANGHAI)


def sla_state(status: TicketStatus, due_at: datetime | None, now: datetime) -> SlaState | None:
    """None for a ticket nobody is waiting on (decided, withdrawn, or on its way to the money).
    A deadline is met until its last second; one that ends today, Beijing time, is due today."""
    if status is T.NEEDS_INFO:
        return SlaState.PAUSED
    if status not in CLOCK_RUNNING:
        return None
    if due_at is None:
        return SlaState.ON_TIME
    if due_at < now:
        return SlaState.OVERDUE
    if due_at < start_of_tomorrow(now):
        return SlaState.DUE_TODAY
    return SlaState.ON_TIME


def high_priority(status: TicketStatus, priority: int) -> bool:
    """High: the priority lane (merchant gone, platform fault: the platform owes the money) and
    every appeal (a consumer who already disagreed once). Among tickets of equal priority the
    queue puts the oldest deadline first, so overdue tickets lead and the soonest due follow."""
    return priority == PRIORITY_LANE or status is T.APPEALED


def age_in_words(created_at: datetime, now: datetime) -> tuple[str, int]:
    """How long a ticket has waited, in the largest whole unit people use for it: ``("days", 3)``,
    ``("hours", 5)`` or ``("minutes", 12)`` (never negative)."""
    seconds = max(int((now - created_at).total_seconds()), 0)
    if seconds >= 86400:
        return "days", seconds // 86400
    if seconds >= 3600:
        return "hours", seconds // 3600
    return "minutes", seconds // 60
