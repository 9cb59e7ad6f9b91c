"""What ``kameng ledger check`` proves about the wallet, beyond the ledger's own balance: every
consumer's held cash is exactly what their withdrawals in review asked for, and the platform's
fee income is exactly the fees of the legs that were not returned. Reads in bulk, by SQL
aggregates."""

from __future__ import annotations

from sqlalchemy import func, select

from kameng.domain.wallet import LegStatus, WithdrawalStatus
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger_models import BalanceRow, JournalEntry, JournalLine
from kameng.wallet.models import WithdrawalLegRow, WithdrawalRow

FEE_ACCOUNT = "withdrawal_fee_income"
# The entries of the wallet's own withdrawals on the fee account (an after-sales refund of a
# top-up books its fee there too, under its own kinds, checked by the ledger's balance alone).
WALLET_FEE_KINDS = ("withdrawal_fee", "withdrawal_returned")


def check_wallet(uow: UnitOfWork) -> list[str]:
    problems: list[str] = []
    with uow:
        session = uow.session
        asked = {
            user_id: int(total or 0)
            for user_id, total in session.execute(
                select(WithdrawalRow.user_id, func.sum(WithdrawalRow.asked_fen))
                .where(WithdrawalRow.status == WithdrawalStatus.IN_REVIEW)
                .group_by(WithdrawalRow.user_id)
            ).all()
        }
        stored = {
            int(user_id): int(held)
            for user_id, held in session.execute(
                select(BalanceRow.user_id, BalanceRow.held_fen).where(BalanceRow.held_fen != 0)
            ).all()
        }
        for user_id in sorted(set(asked) | set(stored)):
            if asked.get(user_id, 0) != stored.get(user_id, 0):
                problems.append(
                    f"user {user_id}: held {stored.get(user_id, 0)}, withdrawals in review {asked.get(user_id, 0)}"
                )
        fees = session.scalar(
            select(func.coalesce(func.sum(WithdrawalLegRow.fee_fen), 0)).where(
                WithdrawalLegRow.status != LegStatus.RETURNED
            )
        )
        income = session.scalar(
            select(func.coalesce(func.sum(JournalLine.amount_fen), 0))
            .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
            .where(JournalLine.account == FEE_ACCOUNT, JournalEntry.kind.in_(WALLET_FEE_KINDS))
        )
        if int(fees or 0) != -int(income or 0):
            problems.append(f"withdrawal fees: legs {fees}, ledger {FEE_ACCOUNT} {-int(income or 0)}")
    return problems
