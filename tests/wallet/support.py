"""Shared steps of the wallet tests: a consumer with a top-up (and some of it spent), readers of
the balance with its hold, the withdrawals and their refunds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from kameng.accounts.models import User
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Channel
from kameng.domain.users import Role
from kameng.payouts.models import RefundRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger import check_books
from kameng.platform.ledger_models import BalanceRow
from kameng.wallet.models import WithdrawalRow
from tests.support.shop import buy
from tests.support.tickets import CALENDAR

__all__ = ["CALENDAR", "books", "held", "spent_top_up", "viewer", "withdrawal", "withdrawal_refunds"]


def viewer(user: User) -> Viewer:
    return Viewer(user.id, Role.CONSUMER)


def spent_top_up(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> tuple[Viewer, str]:
    """Seed 003's case: a 100.00 top-up with 20.00 bonus, then a 30.00 purchase from the balance
    (20.00 bonus, then 10.00 cash): R2 makes 90.00 withdrawable, less a 1.00 fee (1 %, at least 1.00)."""
    user = make_user()
    top_up = buy(uow, channel, user.id, "top-up-100", now)
    buy(uow, channel, user.id, "monthly-pass", now + timedelta(hours=1), via=Channel.BALANCE)
    return viewer(user), top_up.order_no


def held(uow: UnitOfWork, user_id: int) -> tuple[int, int, int]:
    """(cash, bonus, held) of the stored balance."""
    with uow:
        row = uow.session.get(BalanceRow, user_id)
        return (row.cash_fen, row.bonus_fen, row.held_fen) if row else (0, 0, 0)


def withdrawal(uow: UnitOfWork, withdrawal_no: str) -> WithdrawalRow:
    with uow:
        row = uow.session.scalar(select(WithdrawalRow).where(WithdrawalRow.withdrawal_no == withdrawal_no))
        assert row is not None
        _ = list(row.legs)
        return row


def withdrawal_refunds(uow: UnitOfWork, withdrawal_no: str) -> list[RefundRow]:
    with uow:
        return list(
            uow.session.scalars(
                select(RefundRow)
                .where(RefundRow.purpose == "withdrawal", RefundRow.out_refund_no.startswith(withdrawal_no))
                .order_by(RefundRow.out_refund_no)
            )
        )


def books(uow: UnitOfWork) -> dict[str, int]:
    report = check_books(uow)
    assert report.ok, (report.unbalanced, report.balance_mismatches, report.total_fen)
    return report.accounts
