"""Each after-sales step decided in one plan, without a database (domain/aftersales.py)."""

from __future__ import annotations

from datetime import date

import pytest

from kameng.domain.aftersales import (
    ChannelAnswer,
    Notice,
    PayoutSource,
    Refused,
    payout_source,
    plan_approval,
    plan_overdue_approval,
    plan_payout_answer,
    plan_rejection,
    plan_submission,
    refund_step,
)
from kameng.domain.model import Decision, ProductKind, Reason
from kameng.domain.tickets import TICKET, TicketStatus
from kameng.platform.i18n import translate


def words(notice: Notice) -> str:
    """The notice as the consumer reads it in Chinese."""
    return translate(notice.key, "zh", **notice.params)


def _walk(start: TicketStatus, actions: list[str]) -> TicketStatus:
    for action in actions:
        start = TICKET.apply(start, action)
    return start


def test_an_auto_approved_request_is_approved_at_the_quote_and_the_consumer_told_twice() -> None:
    plan = plan_submission("AS1", Decision.AUTO_APPROVE, 2500, "P1", "zh", "en", None)
    assert plan.approved_fen == 2500
    assert _walk(TicketStatus.SUBMITTED, [m.action for m in plan.moves]) is TicketStatus.AUTO_APPROVED
    assert [n.kind for n in plan.notices] == ["submitted", "approved"]
    assert "25.00" in words(plan.notices[1])


def test_a_rejected_request_cites_its_rule_and_opens_the_appeal_window() -> None:
    plan = plan_submission("AS1", Decision.REJECT, 0, "P3", "数字商品", "digital goods", None)
    assert (plan.reject_rule, plan.opens_appeal_window, plan.approved_fen) == ("P3", True, None)
    assert _walk(TicketStatus.SUBMITTED, [m.action for m in plan.moves]) is TicketStatus.REJECTED


def test_a_request_for_review_names_its_due_date() -> None:
    plan = plan_submission("AS1", Decision.REVIEW, 900, "P9", "zh", "en", date(2026, 3, 4))
    assert _walk(TicketStatus.SUBMITTED, [m.action for m in plan.moves]) is TicketStatus.IN_REVIEW
    assert "2026-03-04" in words(plan.notices[-1])


def test_a_review_without_a_due_date_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="due date"):
        plan_submission("AS1", Decision.REVIEW, 900, "P9", "zh", "en", None)


def test_an_approval_at_another_amount_needs_a_reason_and_stays_within_what_is_refundable() -> None:
    assert plan_approval(1000, None, "", 5000).approved_fen == 1000
    assert plan_approval(1000, 800, "用了一部分", 5000).approved_fen == 800
    with pytest.raises(Refused) as no_reason:
        plan_approval(1000, 800, "  ", 5000)
    assert no_reason.value.field == "reason"
    with pytest.raises(Refused) as too_much:
        plan_approval(1000, 6000, "补偿", 5000)
    assert (too_much.value.code, too_much.value.field) == ("amount_out_of_range", "amount")
    assert too_much.value.params == {"most": "50.00"}


def test_an_overdue_ticket_is_approved_at_the_quote() -> None:
    plan = plan_overdue_approval(3000, 3000)
    assert plan.approved_fen == 3000
    assert plan.moves[0].comment == "审核超时,按报价自动同意"


def test_an_overdue_quote_above_what_is_left_is_never_lowered_silently() -> None:
    plan = plan_overdue_approval(3000, 1200)
    assert plan.approved_fen == 1200
    (move,) = plan.moves
    assert move.amount_fen == 1200
    assert "30.00" in move.comment and "12.00" in move.comment  # noqa: PT018 - both figures are the point
    assert "12.00" in words(plan.notices[0])


def test_a_rejection_must_cite_a_rule_of_rules_md_and_say_why() -> None:
    with pytest.raises(Refused) as uncited:
        plan_rejection(TicketStatus.IN_REVIEW, "X9", "没有理由可言")
    assert uncited.value.field == "rule"
    with pytest.raises(Refused) as terse:
        plan_rejection(TicketStatus.IN_REVIEW, "p9", "no")
    assert terse.value.field == "comment"
    plan = plan_rejection(TicketStatus.IN_REVIEW, "p9", "已使用大部分权益")
    assert (plan.reject_rule, plan.moves[0].action, plan.opens_appeal_window) == ("P9", "reject", True)


def test_e1_is_not_a_rule_a_person_may_cite() -> None:
    # RULES.md defines no E1; it was once listed as citable.
    with pytest.raises(Refused) as uncited:
        plan_rejection(TicketStatus.IN_REVIEW, "E1", "未提供任何证据")
    assert uncited.value.field == "rule"


def test_a_refusal_to_reject_lists_the_citable_rules_by_their_plain_names() -> None:
    with pytest.raises(Refused) as uncited:
        plan_rejection(TicketStatus.IN_REVIEW, "X9", "没有理由可言")
    zh = translate(uncited.value.key, "zh", **uncited.value.params)
    en = translate(uncited.value.key, "en", **uncited.value.params)
    assert "S4 与描述不符全额退" in zh and "P3 已发放数字商品不退" in zh  # noqa: PT018 - both languages' lists
    assert "S4 (not as described: full refund)" in en and "P9 (prorated by use)" in en  # noqa: PT018


def test_messages_and_the_timeline_cite_a_rule_by_its_plain_name() -> None:
    rejected = plan_rejection(TicketStatus.IN_REVIEW, "P9", "已使用大部分权益")
    assert rejected.moves[0].comment == "「P9 按已用部分折算」:已使用大部分权益"
    (notice,) = rejected.notices
    assert words(notice).startswith("申请未通过(依据「P9 按已用部分折算」)")
    assert translate(notice.key, "en", **notice.params).startswith("Not approved under P9 (prorated by use):")
    final = plan_rejection(TicketStatus.APPEALED, "S4", "与描述一致,未发现不符")
    assert "「S4 与描述不符全额退」" in words(final.notices[0])
    by_engine = plan_submission("AS1", Decision.REJECT, 0, "P3", "数字商品", "digital goods", None)
    assert "P3 已发放数字商品不退" in words(by_engine.notices[1])
    assert "P3 (delivered digital goods: no refund)" in translate(
        by_engine.notices[1].key, "en", **by_engine.notices[1].params
    )
    one_click = plan_submission("AS1", Decision.AUTO_APPROVE, 2500, "P1", "zh", "en", None)
    assert one_click.moves[0].comment == "按「P1 未激活全额退」自动同意"


def test_rejecting_an_appeal_is_final_and_opens_no_new_window() -> None:
    plan = plan_rejection(TicketStatus.APPEALED, "P9", "已使用大部分权益")
    assert (plan.moves[0].action, plan.opens_appeal_window) == ("reject_final", False)
    assert _walk(TicketStatus.APPEALED, ["reject_final"]) is TicketStatus.REJECTED_FINAL


@pytest.mark.parametrize(
    ("kind", "reason", "source"),
    [
        (ProductKind.MEMBERSHIP, Reason.CHANGED_MIND, PayoutSource.MERCHANT),
        (ProductKind.MEMBERSHIP, Reason.MERCHANT_GONE, PayoutSource.PLATFORM_ADVANCE),
        (ProductKind.RECHARGE, Reason.MERCHANT_GONE, PayoutSource.BALANCE_CASH),
    ],
)
def test_the_money_of_a_refund_comes_from_whoever_owes_it(
    kind: ProductKind, reason: Reason, source: PayoutSource
) -> None:
    assert payout_source(kind, reason) is source


def test_a_channel_answer_moves_the_refund_through_its_table() -> None:
    assert refund_step(True, ChannelAnswer.PROCESSING) == "accept"
    assert refund_step(False, ChannelAnswer.PROCESSING) is None
    assert refund_step(False, ChannelAnswer.SUCCESS) == "succeed"
    assert refund_step(True, ChannelAnswer.ABNORMAL) == "fail"


def test_a_paid_refund_settles_the_ticket_and_a_refused_one_asks_the_consumer() -> None:
    paid = plan_payout_answer(False, True, ChannelAnswer.SUCCESS, 2500, "", "WX1")
    assert paid.paid
    assert paid.move is not None
    assert paid.move.action == "refund_succeeded"
    refused = plan_payout_answer(False, True, ChannelAnswer.ABNORMAL, 2500, "原卡已注销", "WX1")
    assert refused.failed
    assert [n.kind for n in refused.notices] == ["refund_failed"]
    assert "原卡已注销" in words(refused.notices[0])
    still = plan_payout_answer(False, True, ChannelAnswer.PROCESSING, 2500, "", "WX1")
    assert (still.refund_action, still.notices) == (None, ())
