"""The wallet's bookkeeping shared by its services and by the payout answers: the balance row's
lock (taken first on every path that moves a consumer's balance), a hold given back, the plan as
stored and shown, and the consumer's message for each step of a withdrawal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from kameng.domain.money import format_yuan
from kameng.domain.wallet import WithdrawalPlan
from kameng.messages.services import tell
from kameng.orders.models import OrderRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger import post_entry
from kameng.platform.ledger_models import BalanceRow
from kameng.wallet.models import WithdrawalRow

WITHDRAWAL_PURPOSE = "withdrawal"  # refunds.purpose of a leg


def lock_balance(uow: UnitOfWork, user_id: int, now: datetime) -> BalanceRow:
    balance = uow.session.scalar(select(BalanceRow).where(BalanceRow.user_id == user_id).with_for_update())
    if balance is None:
        balance = BalanceRow(user_id=user_id, cash_fen=0, bonus_fen=0, held_fen=0, updated_at=now)
        uow.session.add(balance)
        uow.session.flush()
    return balance


def plan_json(plan: WithdrawalPlan, orders: dict[int, str]) -> dict[str, Any]:
    """The plan as shown and stored: amounts in yuan and fen, each leg with its order."""
    return {
        "asked_fen": plan.asked,
        "payout_fen": plan.payout,
        "fee_fen": plan.fee,
        "shortfall_fen": plan.shortfall,
        "bonus_taken_fen": plan.bonus_taken,
        "decision": plan.decision.value,
        "legs": [
            {
                "order_no": orders.get(leg.source.order_id, ""),
                "channel": leg.source.channel.value,
                "kind": leg.source.kind.value,
                "rule": leg.source.rule,
                "gross_fen": leg.gross,
                "fee_fen": leg.fee,
                "net_fen": leg.net,
                "bonus_taken_fen": leg.bonus_taken,
            }
            for leg in plan.legs
        ],
    }


def order_numbers(uow: UnitOfWork, order_ids: list[int]) -> dict[int, str]:
    if not order_ids:
        return {}
    rows = uow.session.execute(select(OrderRow.id, OrderRow.order_no).where(OrderRow.id.in_(order_ids))).all()
    return dict(rows)


def release_hold(uow: UnitOfWork, withdrawal: WithdrawalRow, balance: BalanceRow, amount: int, now: datetime) -> None:
    """Held cash back to cash (a rejection, a cancellation, or what approval found uncovered)."""
    if amount <= 0:
        return
    balance.held_fen -= amount
    balance.cash_fen += amount
    balance.updated_at = now
    user = withdrawal.user_id
    post_entry(
        uow,
        kind="wallet_release",
        key=f"wallet_release:{withdrawal.id}",
        user_id=user,
        now=now,
        lines=[(f"balance_held:{user}", amount), (f"balance_cash:{user}", -amount)],
        memo=f"hold of withdrawal {withdrawal.withdrawal_no} released",
    )


def tell_withdrawal(uow: UnitOfWork, withdrawal: WithdrawalRow, what: str, now: datetime) -> None:
    """One message per step of a withdrawal, keyed by it: written once, whatever retries."""
    tell(
        uow,
        withdrawal.user_id,
        f"withdrawal:{withdrawal.withdrawal_no}:{what}",
        f"withdrawal_{what}",
        f"wallet.notice.{what}",
        withdrawal_params(withdrawal),
        now,
    )


def withdrawal_params(withdrawal: WithdrawalRow) -> dict[str, object]:
    return {
        "withdrawal_no": withdrawal.withdrawal_no,
        "amount": format_yuan(withdrawal.asked_fen),
        "payout": format_yuan(withdrawal.payout_fen),
        "fee": format_yuan(withdrawal.fee_fen),
        "released": format_yuan(withdrawal.released_fen),
        "returned": format_yuan(withdrawal.returned_fen),
    }
