"""Where a ticket stands against its deadline, how urgent it is and how long it has waited: pure
functions the staff queue and its counts are built on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kameng.domain.calendar import SHANGHAI
from kameng.domain.model import Reason
from kameng.domain.tickets import (
    PRIORITY_LANE,
    SlaState,
    TicketStatus,
    age_in_words,
    high_priority,
    priority_of,
    sla_state,
    start_of_tomorrow,
)

T = TicketStatus
# Wednesday 10:00 in Beijing; the deadline is the end of a Beijing day.
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)
END_OF_TODAY = datetime(2026, 3, 4, 23, 59, 59, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("status", "due_at", "expected"),
    [
        (T.IN_REVIEW, END_OF_TODAY, SlaState.DUE_TODAY),
        (T.IN_REVIEW, NOW, SlaState.DUE_TODAY),  # met until its last second
        (T.IN_REVIEW, NOW - timedelta(seconds=1), SlaState.OVERDUE),
        (T.IN_REVIEW, END_OF_TODAY + timedelta(seconds=1), SlaState.ON_TIME),
        (T.APPEALED, NOW - timedelta(days=3), SlaState.OVERDUE),
        (T.NEEDS_INFO, NOW - timedelta(days=3), SlaState.PAUSED),  # the clock is stopped
        (T.IN_REVIEW, None, SlaState.ON_TIME),
        (T.REFUNDED, NOW - timedelta(days=3), None),  # nobody is waiting on staff
        (T.REJECTED, END_OF_TODAY, None),
        (T.SUBMITTED, END_OF_TODAY, None),
    ],
)
def test_a_tickets_state_against_its_deadline(
    status: TicketStatus, due_at: datetime | None, expected: SlaState
) -> None:
    assert sla_state(status, due_at, NOW) is expected


def test_today_ends_at_midnight_in_beijing_whatever_the_zone_of_now() -> None:
    tomorrow = datetime(2026, 3, 5, 0, 0, tzinfo=SHANGHAI)
    assert start_of_tomorrow(NOW) == tomorrow
    assert start_of_tomorrow(NOW.astimezone(UTC)) == tomorrow
    # 18:30 UTC on the 3rd is already 02:30 on the 4th in Beijing: today is the 4th.
    assert start_of_tomorrow(datetime(2026, 3, 3, 18, 30, tzinfo=UTC)) == tomorrow


def test_the_priority_lane_and_appeals_are_high() -> None:
    assert {priority_of(reason) for reason in Reason} == {0, 1}
    assert high_priority(T.IN_REVIEW, priority_of(Reason.MERCHANT_GONE))
    assert high_priority(T.IN_REVIEW, priority_of(Reason.PLATFORM_FAULT))
    assert high_priority(T.APPEALED, priority_of(Reason.CHANGED_MIND))
    assert not high_priority(T.IN_REVIEW, priority_of(Reason.CHANGED_MIND))
    assert not high_priority(T.NEEDS_INFO, PRIORITY_LANE + 1)


def test_age_in_the_largest_whole_unit() -> None:
    assert age_in_words(NOW, NOW) == ("minutes", 0)
    assert age_in_words(NOW - timedelta(minutes=59, seconds=59), NOW) == ("minutes", 59)
    assert age_in_words(NOW - timedelta(hours=1), NOW) == ("hours", 1)
    assert age_in_words(NOW - timedelta(hours=23, minutes=59), NOW) == ("hours", 23)
    assert age_in_words(NOW - timedelta(days=3, hours=5), NOW) == ("days", 3)
    assert age_in_words(NOW + timedelta(minutes=5), NOW) == ("minutes", 0)  # a clock a little ahead
