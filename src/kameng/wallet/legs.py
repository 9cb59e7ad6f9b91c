"""A withdrawal's legs coming back from the channel: a paid leg settles what was owed to the
consumer; a leg the channel refused for good is cash in the balance again, fee and all (the
platform earns no fee on money that never left). When every leg has its answer the withdrawal
is done and the consumer is told how it ended. Runs inside the payout answer's transaction
(``payouts/services``), which has locked the leg's order and refund already."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kameng.domain.wallet import WITHDRAWAL, WITHDRAWAL_LEG, LegStatus, SourceKind, WithdrawalStatus
from kameng.orders.models import OrderRow
from kameng.payouts.models import RefundRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger import post_entry
from kameng.wallet.balance import lock_balance, tell_withdrawal
from kameng.wallet.models import WithdrawalLegRow, WithdrawalRow
from kameng.webhooks import events as webhooks


def settle_leg(uow: UnitOfWork, refund: RefundRow, order: OrderRow, paid: bool, now: datetime) -> None:
    session = uow.session
    leg = session.scalar(select(WithdrawalLegRow).where(WithdrawalLegRow.refund_id == refund.id).with_for_update())
    if leg is None or leg.status is not LegStatus.SENT:
        return
    user = leg.user_id
    balance = lock_balance(uow, user, now)
    withdrawal = session.scalar(select(WithdrawalRow).where(WithdrawalRow.id == leg.withdrawal_id).with_for_update())
    assert withdrawal is not None
    leg.settled_at = now
    if paid:
        leg.status = WITHDRAWAL_LEG.apply(leg.status, "pay")
        post_entry(
            uow,
            kind="refund_paid",
            key=f"refund_paid:{refund.id}",
            order_id=order.id,
            user_id=user,
            now=now,
            lines=[(f"refunds_payable:{user}", leg.net_fen), (f"channel:{refund.channel.value}", -leg.net_fen)],
            memo=f"withdrawal leg {refund.out_refund_no}",
        )
    else:
        leg.status = WITHDRAWAL_LEG.apply(leg.status, "return")
        balance.cash_fen += leg.gross_fen
        balance.updated_at = now
        if leg.source_kind is SourceKind.TOP_UP:
            order.refunded_fen -= leg.net_fen
        withdrawal.returned_fen += leg.gross_fen
        post_entry(
            uow,
            kind="withdrawal_returned",
            key=f"withdrawal_returned:{leg.id}",
            order_id=order.id,
            user_id=user,
            now=now,
            lines=[
                (f"refunds_payable:{user}", leg.net_fen),
                ("withdrawal_fee_income", leg.fee_fen),
                (f"balance_cash:{user}", -leg.gross_fen),
            ],
            memo=f"withdrawal leg {refund.out_refund_no} refused by the channel, back to the balance",
        )
    session.flush()
    open_legs = session.scalar(
        select(WithdrawalLegRow.id)
        .where(WithdrawalLegRow.withdrawal_id == withdrawal.id, WithdrawalLegRow.status == LegStatus.SENT)
        .limit(1)
    )
    if open_legs is None and withdrawal.status is WithdrawalStatus.PAYING:
        withdrawal.status = WITHDRAWAL.apply(withdrawal.status, "settle")
        withdrawal.settled_at = now
        tell_withdrawal(uow, withdrawal, "returned" if withdrawal.returned_fen else "paid", now)
        webhooks.emit(
            uow,
            webhooks.EventType.WITHDRAWAL_COMPLETED,
            withdrawal.withdrawal_no,
            {
                "withdrawal_no": withdrawal.withdrawal_no,
                "asked_fen": withdrawal.asked_fen,
                "payout_fen": withdrawal.payout_fen,
                "fee_fen": withdrawal.fee_fen,
                "returned_fen": withdrawal.returned_fen,
            },
            now,
        )
