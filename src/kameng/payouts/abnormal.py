"""WeChat refunds stuck in ABNORMAL (the consumer's card or account cannot take the money back):
the list staff see, and their one decision on each, sent on through WeChat's
``apply-abnormal-refund``:

- **to the consumer's bank card** (``USER_BANK_CARD``: bank type, card number, holder's name; the
  SDK encrypts the last two with WeChat's public key; we keep only the card's last four digits);
- **to the consumer's kameng balance**: WeChat sends the money to the merchant's account
  (``MERCHANT_BANK_CARD``), and when it confirms, the refund is paid into the consumer's
  withdrawable balance instead of the channel (``pay_into_balance``).

Pattern as every channel call: the decision is written first (one row per refund, unique: a double
submit finds it), committed; the channel is called outside any transaction; its answer is written
in a second one. The refund then settles by the usual poll or WeChat's REFUND.SUCCESS.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from kameng.accounts.models import User
from kameng.aftersales.refunds import post_refund_paid
from kameng.channels.ports import ChannelRefused, ChannelUnavailable, RefundAnswer
from kameng.domain.model import Channel
from kameng.domain.states import RefundStatus
from kameng.orders.models import OrderRow
from kameng.payouts.models import AbnormalRefundAction, RefundRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, ServiceError, not_found
from kameng.platform.ledger import post_entry
from kameng.wallet.balance import lock_balance

log = logging.getLogger("kameng.payouts.abnormal")
UowFactory = Callable[[], UnitOfWork]

ABNORMAL = "ABNORMAL"
TO_BANK_CARD, TO_BALANCE = "bank_card", "balance"
SENDING, SENT, FAILED = "sending", "sent", "failed"
MERCHANT_BANK_ACCOUNT = "bank:merchant"  # the merchant's own bank account, where WeChat sends it
# The debit cards WeChat Pay's abnormal refund takes (its bank_type codes), as the form offers them.
BANK_TYPES = (
    "ICBC_DEBIT",
    "ABC_DEBIT",
    "BOC_DEBIT",
    "CCB_DEBIT",
    "COMM_DEBIT",
    "CMB_DEBIT",
    "PSBC_DEBIT",
    "CITIC_DEBIT",
    "CEB_DEBIT",
    "CIB_DEBIT",
    "SPDB_DEBIT",
    "CMBC_DEBIT",
    "GDB_DEBIT",
    "PAB_DEBIT",
    "HXB_DEBIT",
)
_CARD = re.compile(r"[0-9]{12,19}")
_NAME = re.compile(r"[^\x00-\x1f\x7f0-9<>\"'&;=]{1,30}")


class AbnormalRefunder(Protocol):
    """WeChat Pay's apply-abnormal-refund (the adapter)."""

    def abnormal_refund(self, out_refund_no: str, to_user_card: tuple[str, str, str] | None = None) -> RefundAnswer: ...


@dataclass(frozen=True, slots=True)
class Decision:
    destination: str
    bank_type: str = ""
    account: str = ""
    name: str = ""

    def card(self) -> tuple[str, str, str] | None:
        return (self.bank_type, self.account, self.name) if self.destination == TO_BANK_CARD else None

    def __repr__(self) -> str:  # never the card number or the name in a log
        return f"Decision({self.destination!r}, {self.bank_type!r}, …{self.account[-4:]!r})"


@dataclass(frozen=True, slots=True)
class WaitingRefund:
    out_refund_no: str
    order_no: str
    amount_fen: int
    since: datetime | None
    consumer: str
    action: AbnormalRefundAction | None


def decision_from(destination: str, bank_type: str, account: str, name: str) -> Decision:
    """The form's fields checked: each refusal names its field (message keys in channels_ops.po)."""
    if destination == TO_BALANCE:
        return Decision(TO_BALANCE)
    if destination != TO_BANK_CARD:
        raise InvalidInput(ErrorCode.UNKNOWN_ACTION, "channels.abnormal.error.destination", "destination")
    if bank_type not in BANK_TYPES:
        raise InvalidInput(ErrorCode.INVALID_REQUEST, "channels.abnormal.error.bank_type", "bank_type")
    digits = re.sub(r"[\s-]", "", account)
    if not _CARD.fullmatch(digits):
        raise InvalidInput(ErrorCode.INVALID_REQUEST, "channels.abnormal.error.account", "account")
    holder = name.strip()
    if not _NAME.fullmatch(holder):
        raise InvalidInput(ErrorCode.INVALID_REQUEST, "channels.abnormal.error.name", "name")
    return Decision(TO_BANK_CARD, bank_type, digits, holder)


def waiting_refunds(uow: UnitOfWork, limit: int = 200) -> list[WaitingRefund]:
    """WeChat refunds whose last answer was ABNORMAL, or sent on and not yet settled, oldest first,
    with the decision on them."""
    with uow:
        rows = uow.session.execute(
            select(RefundRow, OrderRow.order_no, User.phone, User.email, AbnormalRefundAction)
            .join(OrderRow, OrderRow.id == RefundRow.order_id)
            .join(User, User.id == RefundRow.user_id)
            .outerjoin(AbnormalRefundAction, AbnormalRefundAction.refund_id == RefundRow.id)
            .where(
                RefundRow.channel == Channel.WECHAT,
                RefundRow.status == RefundStatus.PROCESSING,
                # Waiting for a decision, or decided and not yet confirmed by WeChat.
                or_(RefundRow.channel_status == ABNORMAL, AbnormalRefundAction.id.is_not(None)),
            )
            .order_by(RefundRow.accepted_at, RefundRow.id)
            .limit(limit)
        ).all()
        return [
            WaitingRefund(
                refund.out_refund_no,
                order_no,
                refund.amount_fen,
                refund.accepted_at,
                _mask(phone or email or ""),
                action,
            )
            for refund, order_no, phone, email, action in rows
        ]


def send_on(
    uow_factory: UowFactory,
    channel: AbnormalRefunder,
    out_refund_no: str,
    decision: Decision,
    actor: int,
    now: datetime,
) -> str:
    """Send an ABNORMAL refund on as decided. Returns ``sent``, or ``already`` when a decision on
    it was already sent (a double submit, a retry): nothing is sent twice."""
    with uow_factory() as uow:
        refund = uow.session.scalar(select(RefundRow).where(RefundRow.out_refund_no == out_refund_no).with_for_update())
        if refund is None or refund.channel is not Channel.WECHAT:
            raise not_found("abnormal_refund")
        action = uow.session.scalar(
            select(AbnormalRefundAction).where(AbnormalRefundAction.refund_id == refund.id).with_for_update()
        )
        if action is not None and action.status == SENT:
            return "already"
        waiting = refund.status is RefundStatus.PROCESSING and refund.channel_status == ABNORMAL
        if not waiting and (action is None or action.status == FAILED):
            raise Conflict(ErrorCode.INVALID_TRANSITION, "channels.abnormal.error.not_abnormal", "refund")
        if action is None:
            action = AbnormalRefundAction(refund_id=refund.id, user_id=refund.user_id)
            uow.session.add(action)
        # A decision left "sending" by a crash is sent again: WeChat answers "not abnormal" if
        # the first one went through, which is taken as sent below.
        action.destination = decision.destination
        action.bank_type = decision.bank_type or None
        action.account_tail = decision.account[-4:] or None
        action.actor_id = actor
        action.at = now
        action.status = SENDING
        action.failure = None
        try:
            uow.commit()
        except IntegrityError:
            raise Conflict(ErrorCode.REFUND_IN_PROGRESS, "channels.abnormal.error.in_progress", "refund") from None
        action_id = action.id
    log.info("abnormal refund %s: sending on %r (staff #%s)", out_refund_no, decision, actor)
    try:
        answer = channel.abnormal_refund(out_refund_no, decision.card())
    except ChannelRefused as refused:
        if refused.key == "channels.refusal.not_abnormal":  # a resend after the first went through
            return _finish(uow_factory(), action_id, SENT, "NOT_ABNORMAL", None, now)
        _finish(uow_factory(), action_id, FAILED, None, str(refused)[:200], now)
        raise InvalidInput(ErrorCode.INVALID_REQUEST, "channels.abnormal.error.refused", "form") from None
    except ChannelUnavailable:
        _finish(uow_factory(), action_id, FAILED, None, "channel unavailable", now)
        raise ServiceError(ErrorCode.CHANNEL_UNAVAILABLE, "channels.abnormal.error.unavailable", "form") from None
    return _finish(uow_factory(), action_id, SENT, answer.channel_status, None, now)


def _finish(
    uow: UnitOfWork, action_id: int, status: str, channel_status: str | None, failure: str | None, now: datetime
) -> str:
    with uow:
        action = uow.session.get(AbnormalRefundAction, action_id, with_for_update=True)
        assert action is not None
        action.status = status
        action.channel_status = channel_status
        action.failure = failure
        if status == SENT:
            refund = uow.session.get(RefundRow, action.refund_id, with_for_update=True)
            if refund is not None and refund.status is RefundStatus.PROCESSING:
                refund.channel_status = (channel_status or "PROCESSING")[:32]
                refund.next_poll_at = now  # ask WeChat again at the next tick
        uow.commit()
    return "sent" if status == SENT else status


def sent_to_balance(uow: UnitOfWork, refund_id: int) -> bool:
    """Whether staff sent this refund on to the consumer's balance (WeChat pays the merchant)."""
    destination = uow.session.scalar(
        select(AbnormalRefundAction.destination).where(
            AbnormalRefundAction.refund_id == refund_id, AbnormalRefundAction.status == SENT
        )
    )
    return destination == TO_BALANCE


def pay_into_balance(uow: UnitOfWork, refund: RefundRow, order: OrderRow, now: datetime) -> None:
    """WeChat confirmed the money reached the merchant's account: the consumer's refund is paid
    into their withdrawable balance (the caller holds the balance lock, taken first), and the
    ledger moves the money from the channel to the merchant's bank. Keyed by the refund: once."""
    balance = lock_balance(uow, order.user_id, now)
    balance.cash_fen += refund.amount_fen
    balance.updated_at = now
    post_refund_paid(uow, refund, order, f"balance_cash:{order.user_id}", now)
    post_entry(
        uow,
        kind="abnormal_refund_to_merchant",
        key=f"abnormal_to_merchant:{refund.id}",
        order_id=order.id,
        user_id=order.user_id,
        now=now,
        lines=[(MERCHANT_BANK_ACCOUNT, refund.amount_fen), (f"channel:{refund.channel.value}", -refund.amount_fen)],
        memo=f"abnormal refund {refund.out_refund_no} to the merchant's account",
    )


def _mask(identifier: str) -> str:
    """The consumer as staff see them here: enough to recognise, not to copy."""
    if "@" in identifier:
        local, _, domain = identifier.partition("@")
        return local[:2] + "***@" + domain
    return identifier[:3] + "****" + identifier[-4:] if len(identifier) > 7 else identifier[:2] + "***"
