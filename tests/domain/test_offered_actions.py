"""The actions a page offers come from the transition table: nothing is offered that the
service would refuse."""

from __future__ import annotations

import pytest

from kameng.domain.tickets import CONSUMER_ACTIONS, STAFF_ACTIONS, TICKET, TicketStatus, offered_actions


@pytest.mark.parametrize("status", list(TicketStatus))
def test_every_action_offered_on_a_ticket_is_one_the_table_allows(status: TicketStatus) -> None:
    for owner, staff in ((True, False), (False, True)):
        for action in offered_actions(status, owner=owner, staff=staff, may_decide_appeal=True):
            allowed = TICKET.allows(status, action) or (action == "reject" and TICKET.allows(status, "reject_final"))
            assert allowed, (status, action)
            assert action in (CONSUMER_ACTIONS if owner else STAFF_ACTIONS | {"reject"})


def test_an_appealed_ticket_offers_the_consumer_nothing_to_withdraw() -> None:
    # The hand-written rule this replaces offered "withdraw" here, which the service then refused.
    assert offered_actions(TicketStatus.APPEALED, owner=True, staff=False) == []


def test_an_appeal_is_offered_only_to_a_supervisor_who_may_decide_it() -> None:
    assert offered_actions(TicketStatus.APPEALED, owner=False, staff=True) == []
    assert offered_actions(TicketStatus.APPEALED, owner=False, staff=True, may_decide_appeal=True) == [
        "approve",
        "reject",
    ]


def test_a_ticket_in_review_offers_staff_their_three_decisions_and_the_consumer_a_withdrawal() -> None:
    assert offered_actions(TicketStatus.IN_REVIEW, owner=False, staff=True) == ["approve", "reject", "ask_info"]
    assert offered_actions(TicketStatus.IN_REVIEW, owner=True, staff=False) == ["withdraw"]
