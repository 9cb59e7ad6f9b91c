"""RULES.md §3a on a stored ticket: the better outcome decides, the reason stays as the consumer gave
it, and the rules are cited by their plain names in the timeline and the messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from kameng.aftersales.models import TicketTimeline
from kameng.aftersales.review import reject
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Decision, Reason
from kameng.domain.tickets import TicketStatus
from kameng.domain.users import Role
from kameng.messages.models import MessageRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import buy
from tests.support.tickets import CALENDAR, PRODUCT, Bought, buy_one, staff, submit

pytestmark = pytest.mark.usefixtures("catalog")


def _comments(uow: UnitOfWork, ticket_id: int) -> dict[str, str]:
    with uow:
        rows = uow.session.execute(
            select(TicketTimeline.action, TicketTimeline.comment).where(TicketTimeline.ticket_id == ticket_id)
        )
        return dict(rows.tuples().all())


def _messages(uow: UnitOfWork, ticket_id: int) -> dict[str, dict[str, str]]:
    with uow:
        rows = uow.session.scalars(select(MessageRow).where(MessageRow.ticket_id == ticket_id))
        return {row.kind: row.texts for row in rows}


def test_a_platform_fault_on_a_card_never_activated_is_refunded_at_once_under_p1_and_keeps_its_reason(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    user = make_user()
    placed = buy(uow, channel, user.id, PRODUCT, now)  # type: ignore[attr-defined]
    bought = Bought(placed.order_no, placed.out_trade_no or "", placed.amount_fen, Viewer(user.id, Role.CONSUMER))  # type: ignore[attr-defined]
    created = submit(uow, bought, now + timedelta(minutes=1), Reason.PLATFORM_FAULT)
    assert created.reason is Reason.PLATFORM_FAULT  # as the consumer gave it
    assert (created.decision, created.rules, created.quoted_fen) == (Decision.AUTO_APPROVE, "P1,S3", bought.amount_fen)
    assert created.status is TicketStatus.REFUNDING  # approved with no person, the money on its way
    assert created.due_at is None  # the dates follow P1: no review deadline
    assert created.quote["rules"] == ["P1", "S3"]
    assert str(created.quote["explanation"]["zh"]).startswith("您选择的原因是「平台故障」")  # type: ignore[index]
    assert _comments(uow, created.id)["auto_approve"] == "按「P1 未激活全额退」自动同意"


def test_a_rejection_tells_the_consumer_the_rule_by_its_plain_name_in_both_languages(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    bought: Bought = buy_one(uow, channel, make_user, now)
    created = submit(uow, bought, now + timedelta(minutes=1))
    assert created.rules == "S4,P6"  # activated and unused: a full tie, S4 decides
    agent = staff(uow, now)
    reject(uow, agent, created.ticket_no, "s4", "会员权益与描述一致", now + timedelta(hours=1), CALENDAR)
    texts = _messages(uow, created.id)["rejected"]
    # After the heading that names the purchase (【product · amount】, aftersales/tickets.message_texts).
    assert "】申请未通过(依据「S4 与描述不符全额退」):会员权益与描述一致" in texts["zh"]
    assert "] Not approved under S4 (not as described: full refund): 会员权益与描述一致" in texts["en"]
    assert _comments(uow, created.id)["reject"] == "「S4 与描述不符全额退」:会员权益与描述一致"
