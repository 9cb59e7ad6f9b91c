"""After-sales decisions as plans: what each step of a ticket does, decided in one place.

For every step of the after-sales flow (a request submitted, a ticket approved or rejected, an
overdue ticket approved by the system, a channel's answer about a refund) a function here takes
plain values and returns one immutable :class:`Plan`: the ticket's moves through its transition
table, the messages to the consumer, and the money to pay out. The service that owns the
transaction loads the rows, asks for the plan, applies every part of it and commits, so a step
is either wholly done or not at all, and the rules of a step can be read (and tested) here
without a database.

Messages to the consumer are catalog keys with their parameters, rendered by the service; the
timeline's comments are the staff-facing record, written once in the operator's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from kameng.domain.model import Decision, ProductKind, Reason
from kameng.domain.money import format_yuan
from kameng.domain.rules import RULE_IDS, label_en, label_zh, labels
from kameng.domain.tickets import APPEAL_WINDOW, TicketStatus

APPEAL_DAYS = APPEAL_WINDOW.days


class Refused(ValueError):
    """A step the rules do not allow: an error code, the key of the sentence that explains it (the
    service renders it in the reader's language), the field, and the sentence's figures."""

    def __init__(self, code: str, key: str, field: str, **params: object) -> None:
        super().__init__(f"{code}: {key} {params}")
        self.code, self.key, self.field, self.params = code, key, field, params


@dataclass(frozen=True, slots=True)
class Note:
    """What the system says on a timeline row, as a catalog key and its parameters, so that each
    reader sees it in their language (the row's ``comment`` keeps the words of record)."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "params": dict(self.params)}


@dataclass(frozen=True, slots=True)
class Move:
    """One transition of the ticket (through ``TICKET``), with what the timeline records."""

    action: str
    comment: str = ""
    amount_fen: int | None = None
    by_person: bool = False  # made by the person acting (else by the system)
    note: Note | None = None  # the system's words for readers; a person's comment is theirs


@dataclass(frozen=True, slots=True)
class Notice:
    """A message to the consumer: in-app now, by SMS after the commit.

    ``key`` names its sentence in the message catalogs and ``params`` fill it; a parameter that
    differs by language (the engine's explanation) is a mapping from language to text. The
    service renders it in every language when it is written, so a message keeps the words it
    was sent with."""

    kind: str
    key: str
    params: Mapping[str, object] = field(default_factory=dict)


class PayoutSource(StrEnum):
    """Whose money a refund is (the ledger account it is drawn from)."""

    MERCHANT = "merchant_payable"  # the merchant sold it: their payable shrinks
    PLATFORM_ADVANCE = "platform_advance"  # 先行赔付: the platform pays now, claims from the merchant
    BALANCE_CASH = "balance_cash"  # a top-up: the consumer's withdrawable cash goes back


@dataclass(frozen=True, slots=True)
class Plan:
    moves: tuple[Move, ...] = ()
    notices: tuple[Notice, ...] = ()
    approved_fen: int | None = None  # set when the step approves: what is paid out, exactly
    reject_rule: str | None = None
    reject_comment: str | None = None
    opens_appeal_window: bool = False


def payout_source(kind: ProductKind, reason: Reason) -> PayoutSource:
    if kind is ProductKind.RECHARGE:
        return PayoutSource.BALANCE_CASH
    if reason is Reason.MERCHANT_GONE:
        return PayoutSource.PLATFORM_ADVANCE
    return PayoutSource.MERCHANT


def _approval_notice(amount: int) -> Notice:
    return Notice("approved", "notice.approved", {"amount": format_yuan(amount)})


def plan_submission(
    ticket_no: str,
    decision: Decision,
    refund_fen: int,
    deciding_rule: str,
    explanation_zh: str,
    explanation_en: str,
    review_due: date | None,
) -> Plan:
    """A request was submitted and the engine has decided (its quote, computed once, is the input).
    The deciding rule is named by its plain name in the timeline and the messages, never its id
    alone."""
    submitted = Notice("submitted", "notice.submitted", {"ticket_no": ticket_no})
    if decision is Decision.AUTO_APPROVE:
        return Plan(
            moves=(
                Move(
                    "auto_approve",
                    f"按「{label_zh(deciding_rule)}」自动同意",
                    refund_fen,
                    note=Note("timeline.auto_approved", {"rule": labels(deciding_rule)}),
                ),
            ),
            notices=(submitted, _approval_notice(refund_fen)),
            approved_fen=refund_fen,
        )
    if decision is Decision.REJECT:
        explanation = {"zh": explanation_zh, "en": explanation_en}
        rejected = Notice(
            "rejected", "notice.rejected_by_rule", {"rule": labels(deciding_rule), "explanation": explanation}
        )
        return Plan(
            moves=(
                Move(
                    "reject",
                    explanation_zh,
                    note=Note("timeline.rejected_by_rule", {"rule": labels(deciding_rule), "explanation": explanation}),
                ),
            ),
            notices=(submitted, rejected),
            reject_rule=deciding_rule,
            reject_comment=explanation_zh,
            opens_appeal_window=True,
        )
    if review_due is None:
        raise ValueError("a review decision always carries its due date")
    in_review = Notice("in_review", "notice.in_review", {"due": review_due.isoformat()})
    return Plan(moves=(Move("open_review"),), notices=(submitted, in_review))


def plan_approval(quoted_fen: int, asked_fen: int | None, reason: str, refundable_fen: int) -> Plan:
    """A person approves: at the quote, or at another amount with a reason, never more than what
    is still refundable of the captured payment."""
    amount = quoted_fen if asked_fen is None else asked_fen
    reason = reason.strip()
    if amount != quoted_fen and not reason:
        raise Refused("reason_required", "error.reason_required", "reason")
    if not 0 <= amount <= refundable_fen:
        most = format_yuan(refundable_fen)
        raise Refused("amount_out_of_range", "error.amount_out_of_range", "amount", most=most)
    return Plan(
        moves=(Move("approve", reason, amount, by_person=True),),
        notices=(_approval_notice(amount),),
        approved_fen=amount,
    )


def plan_overdue_approval(quoted_fen: int, refundable_fen: int) -> Plan:
    """Nobody decided in time: the consumer wins at the quote. Should less remain refundable than
    the quote (an earlier refund on the same payment), the timeline says so and what is paid; the
    amount is never lowered silently."""
    if quoted_fen <= refundable_fen:
        amount, comment = quoted_fen, "审核超时,按报价自动同意"
        note = Note("timeline.approved_overdue")
    else:
        amount = refundable_fen
        comment = (
            f"审核超时,自动同意;报价 {format_yuan(quoted_fen)} 元超过该笔付款尚可退的"
            f" {format_yuan(refundable_fen)} 元,按 {format_yuan(refundable_fen)} 元退款"
        )
        quoted, left = format_yuan(quoted_fen), format_yuan(refundable_fen)
        note = Note("timeline.approved_overdue_capped", {"quoted": quoted, "left": left})
    overdue = (
        Notice("approved_overdue", "notice.approved_overdue")
        if amount == quoted_fen
        else Notice("approved_overdue", "notice.approved_overdue_capped", {"amount": format_yuan(amount)})
    )
    return Plan(
        moves=(Move("approve_overdue", comment, amount, note=note),),
        notices=(overdue, _approval_notice(amount)),
        approved_fen=amount,
    )


# The rules a person may cite to reject, in RULES.md's order: those under which a request can end
# with nothing (P3, P4, P5, P8, P9, R2), and the statutory rules whose facts a person confirms (S1,
# S3, S4, S5: "not established"). Each is a rule of RULES.md (tests/domain/test_aftersales_plans.py);
# an "E1" once listed here is defined nowhere in RULES.md and was removed.
CITABLE_RULES: tuple[str, ...] = tuple(
    rule for rule in RULE_IDS if rule in {"S1", "S3", "S4", "S5", "P3", "P4", "P5", "P8", "P9", "R2"}
)


def plan_rejection(status: TicketStatus, rule: str, comment: str) -> Plan:
    """A person rejects, citing a rule; an appeal's rejection is final."""
    rule, comment = rule.strip().upper(), comment.strip()
    if rule not in CITABLE_RULES:
        citable = {
            "zh": "、".join(label_zh(rule) for rule in CITABLE_RULES),
            "en": "; ".join(label_en(rule) for rule in CITABLE_RULES),
        }
        raise Refused("rule_required", "error.rule_required", "rule", rules=citable)
    if len(comment) < 5:
        raise Refused("comment_required", "error.comment_required.2", "comment")
    cited = f"「{label_zh(rule)}」:{comment}"  # the timeline's record, in the operator's language
    if status is TicketStatus.APPEALED:
        final = Notice("rejected_final", "notice.rejected_final", {"rule": labels(rule), "comment": comment})
        return Plan(
            moves=(Move("reject_final", cited, by_person=True),),
            notices=(final,),
            reject_rule=rule,
            reject_comment=comment,
        )
    rejected = Notice("rejected", "notice.rejected", {"rule": labels(rule), "comment": comment, "days": APPEAL_DAYS})
    return Plan(
        moves=(Move("reject", cited, by_person=True),),
        notices=(rejected,),
        reject_rule=rule,
        reject_comment=comment,
        opens_appeal_window=True,
    )


class ChannelAnswer(StrEnum):
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    ABNORMAL = "ABNORMAL"


@dataclass(frozen=True, slots=True)
class PayoutPlan:
    """What a channel's answer about a refund changes."""

    refund_action: str | None  # through REFUND: accept, succeed, fail; None when nothing changes
    paid: bool = False  # the money left us: settle the ledger and close the order
    failed: bool = False
    move: Move | None = None
    notices: tuple[Notice, ...] = ()


def refund_step(refund_pending: bool, answer: ChannelAnswer) -> str | None:
    """The refund's move through REFUND for a channel's answer; None when it stays as it is (the
    channel is still working on a refund it had already accepted)."""
    if answer is ChannelAnswer.PROCESSING:
        return "accept" if refund_pending else None
    return "succeed" if answer is ChannelAnswer.SUCCESS else "fail"


def plan_payout_answer(
    refund_pending: bool, ticket_refunding: bool, answer: ChannelAnswer, amount_fen: int, failure: str, channel_no: str
) -> PayoutPlan:
    """The channel answered about a refund of a ticket: accepted (still on its way), paid, or
    refused for good (the consumer then chooses: their balance, or another try)."""
    amount = format_yuan(amount_fen)
    action = refund_step(refund_pending, answer)
    if answer is ChannelAnswer.PROCESSING:
        if action is None:
            return PayoutPlan(None)  # asked again, still on its way
        sent = Notice("sent", "notice.sent", {"amount": amount})
        return PayoutPlan(action, notices=(sent,))
    if answer is ChannelAnswer.SUCCESS:
        arrived = Note("timeline.refund_arrived", {"channel_no": channel_no})
        arrival = Move("refund_succeeded", f"渠道退款单号 {channel_no}", amount_fen, note=arrived)
        return PayoutPlan(action, paid=True, move=arrival)
    failed = Notice("refund_failed", "notice.refund_failed", {"failure": failure})
    refused = Note("timeline.refund_refused", {"failure": failure})
    move = Move("refund_failed", failure, amount_fen, note=refused) if ticket_refunding else None
    return PayoutPlan(action, failed=True, move=move, notices=(failed,))
