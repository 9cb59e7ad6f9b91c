"""What the wallet pages and API read: the balance (cash, bonus, held) with the live quote of a
withdrawal, every movement of the balance (from the ledger, the one record of money), and the
withdrawals with their legs. Reads only."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kameng.domain.calendar import WorkCalendar
from kameng.domain.wallet import WithdrawalPlan, WithdrawalStatus, plan_withdrawal, withdrawable
from kameng.orders.models import OrderRow
from kameng.payouts.models import RefundRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import not_found
from kameng.platform.ledger_models import BalanceRow, JournalEntry, JournalLine
from kameng.wallet.balance import order_numbers
from kameng.wallet.models import WithdrawalLegRow, WithdrawalRow
from kameng.wallet.sources import withdrawal_sources

# A movement's type, by the ledger entry that made it (and, for a top-up, the part it touched).
MOVEMENT_TYPES = {
    "top_up": "top_up",
    "sale": "spend",
    "refund_paid": "refund_in",
    "refund_approved": "withdrawal",  # an after-sales refund of a top-up, taken from the cash
    "wallet_hold": "hold",
    "wallet_release": "release",
    "withdrawal": "withdrawal",
    "withdrawal_fee": "fee",
    "top_up_fee": "fee",  # the R2 fee of an after-sales refund of a top-up
    "top_up_fee_returned": "returned",
    "withdrawal_returned": "returned",
    "bonus_withdrawn": "bonus_withdrawn",
}
# Entries whose key ends in a withdrawal's id.
WITHDRAWAL_KINDS = ("wallet_hold", "wallet_release", "withdrawal", "withdrawal_fee", "bonus_withdrawn")


@dataclass(frozen=True)
class Movement:
    type: str
    at: datetime
    cash_fen: int  # signed, as the consumer sees it: + came in, - went out
    bonus_fen: int
    held_fen: int
    order_no: str | None
    withdrawal_no: str | None


@dataclass(frozen=True)
class WalletView:
    cash_fen: int
    bonus_fen: int
    held_fen: int
    withdrawable_fen: int
    quote: WithdrawalPlan  # the live quote of withdrawing everything withdrawable
    quote_orders: dict[int, str]
    withdrawals: list[WithdrawalRow]
    movements: list[Movement] = field(default_factory=list)


def live_plan(
    uow: UnitOfWork, user_id: int, amount_fen: int | None, now: datetime, calendar: WorkCalendar, cash_fen: int
) -> tuple[int, WithdrawalPlan, dict[int, str]]:
    """What may be withdrawn now and the plan for ``amount_fen`` (everything, when None)."""
    sources = withdrawal_sources(uow, user_id, now, calendar)
    available = withdrawable(sources, cash_fen)
    plan = plan_withdrawal(sources, available if amount_fen is None else amount_fen)
    return available, plan, order_numbers(uow, [leg.source.order_id for leg in plan.legs])


def wallet_view(
    uow: UnitOfWork, viewer: Viewer, now: datetime, calendar: WorkCalendar, *, limit: int = 200
) -> WalletView:
    with uow:
        balance = uow.session.get(BalanceRow, viewer.user_id)
        cash, bonus, held = (balance.cash_fen, balance.bonus_fen, balance.held_fen) if balance else (0, 0, 0)
        available, plan, orders = live_plan(uow, viewer.user_id, None, now, calendar, cash)
        withdrawals = list(
            uow.session.scalars(
                select(WithdrawalRow)
                .where(WithdrawalRow.user_id == viewer.user_id)
                .order_by(WithdrawalRow.created_at.desc(), WithdrawalRow.id.desc())
                .limit(50)
            )
        )
        return WalletView(
            cash, bonus, held, available, plan, orders, withdrawals, movements(uow, viewer.user_id, limit)
        )


def movements(uow: UnitOfWork, user_id: int, limit: int = 200) -> list[Movement]:
    """Every movement of the consumer's balance, newest first: one per ledger entry that touched
    their cash, bonus or held accounts."""
    accounts = {f"balance_cash:{user_id}": 0, f"balance_bonus:{user_id}": 1, f"balance_held:{user_id}": 2}
    entry_ids = list(
        uow.session.scalars(
            select(JournalLine.entry_id)
            .where(JournalLine.account.in_(list(accounts)))
            .group_by(JournalLine.entry_id)
            .order_by(JournalLine.entry_id.desc())
            .limit(limit)
        )
    )
    if not entry_ids:
        return []
    entries = {
        entry.id: entry for entry in uow.session.scalars(select(JournalEntry).where(JournalEntry.id.in_(entry_ids)))
    }
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for entry_id, account, amount in uow.session.execute(
        select(JournalLine.entry_id, JournalLine.account, JournalLine.amount_fen).where(
            JournalLine.entry_id.in_(entry_ids), JournalLine.account.in_(list(accounts))
        )
    ).all():
        deltas[entry_id][accounts[account]] -= amount  # a credit to the consumer's account is money in
    orders = order_numbers(uow, [e.order_id for e in entries.values() if e.order_id is not None])
    withdrawal_ids = {
        entry.id: int(entry.key.rpartition(":")[2]) for entry in entries.values() if entry.kind in WITHDRAWAL_KINDS
    }
    numbers: dict[int, str] = {}
    if withdrawal_ids:
        found = uow.session.execute(
            select(WithdrawalRow.id, WithdrawalRow.withdrawal_no).where(
                WithdrawalRow.id.in_(set(withdrawal_ids.values()))
            )
        ).all()
        numbers = dict(found)
    result = []
    for entry_id in entry_ids:
        entry = entries[entry_id]
        cash, bonus, held = deltas[entry_id]
        kind = MOVEMENT_TYPES.get(entry.kind, "other")
        if kind == "top_up" and cash == 0:
            kind = "bonus"
        order_no = orders.get(entry.order_id) if entry.order_id is not None else None
        withdrawal_no = numbers.get(withdrawal_ids[entry_id]) if entry_id in withdrawal_ids else None
        if kind == "top_up" and bonus:  # a top-up with bonus credit shows as two movements
            result.append(Movement("top_up", entry.created_at, cash, 0, held, order_no, withdrawal_no))
            result.append(Movement("bonus", entry.created_at, 0, bonus, 0, order_no, withdrawal_no))
            continue
        result.append(Movement(kind, entry.created_at, cash, bonus, held, order_no, withdrawal_no))
    return result


@dataclass(frozen=True)
class WithdrawalDetail:
    withdrawal: WithdrawalRow
    legs: list[dict[str, Any]]  # each leg as the API shows it, with its refund number and status


def _legs(uow: UnitOfWork, withdrawal: WithdrawalRow) -> list[dict[str, Any]]:
    rows = uow.session.execute(
        select(WithdrawalLegRow, RefundRow.out_refund_no, RefundRow.channel, OrderRow.order_no)
        .join(RefundRow, RefundRow.id == WithdrawalLegRow.refund_id)
        .join(OrderRow, OrderRow.id == WithdrawalLegRow.order_id)
        .where(WithdrawalLegRow.withdrawal_id == withdrawal.id)
        .order_by(WithdrawalLegRow.position)
    ).all()
    return [
        {
            "order_no": order_no,
            "channel": channel.value,
            "kind": leg.source_kind.value,
            "rule": leg.rule,
            "gross_fen": leg.gross_fen,
            "fee_fen": leg.fee_fen,
            "net_fen": leg.net_fen,
            "bonus_taken_fen": leg.bonus_taken_fen,
            "status": leg.status.value,
            "out_refund_no": out_refund_no,
        }
        for leg, out_refund_no, channel, order_no in rows
    ]


def withdrawal_of(uow: UnitOfWork, viewer: Viewer | None, withdrawal_no: str) -> WithdrawalDetail:
    """A consumer's own withdrawal (another's is the same 404), or any, for staff (viewer None)."""
    with uow:
        query = select(WithdrawalRow).where(WithdrawalRow.withdrawal_no == withdrawal_no)
        if viewer is not None:
            query = query.where(WithdrawalRow.user_id == viewer.user_id)
        withdrawal = uow.session.scalar(query)
        if withdrawal is None:
            raise not_found("withdrawal")
        return WithdrawalDetail(withdrawal, _legs(uow, withdrawal))


@dataclass(frozen=True)
class ReviewView:
    detail: WithdrawalDetail
    live: WithdrawalPlan  # the plan as it would be approved now
    live_orders: dict[int, str]
    cash_fen: int


def review_view(uow: UnitOfWork, withdrawal_no: str, now: datetime, calendar: WorkCalendar) -> ReviewView:
    """What the agent sees: the withdrawal as asked, and the live quote for its held amount."""
    with uow:
        withdrawal = uow.session.scalar(select(WithdrawalRow).where(WithdrawalRow.withdrawal_no == withdrawal_no))
        if withdrawal is None:
            raise not_found("withdrawal")
        balance = uow.session.get(BalanceRow, withdrawal.user_id)
        cash = balance.cash_fen if balance else 0
        sources = withdrawal_sources(uow, withdrawal.user_id, now, calendar)
        live = plan_withdrawal(sources, withdrawal.asked_fen)
        orders = order_numbers(uow, [leg.source.order_id for leg in live.legs])
        return ReviewView(WithdrawalDetail(withdrawal, _legs(uow, withdrawal)), live, orders, cash)


def withdrawals_in_review(uow: UnitOfWork, limit: int = 100) -> list[WithdrawalRow]:
    with uow:
        return list(
            uow.session.scalars(
                select(WithdrawalRow)
                .where(WithdrawalRow.status == WithdrawalStatus.IN_REVIEW)
                .order_by(WithdrawalRow.created_at, WithdrawalRow.id)
                .limit(limit)
            )
        )
