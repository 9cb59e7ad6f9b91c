"""The double-entry ledger: every money movement is one balanced journal entry.

Accounts (debits positive, credits negative):

- ``channel:<channel>``            money held for us at a payment channel (asset)
- ``merchant_payable:<merchant>``  what we owe a merchant for goods sold (liability)
- ``balance_cash:<user>``          a consumer's withdrawable balance (liability)
- ``balance_bonus:<user>``         a consumer's bonus credit, consumable only (liability)
- ``balance_held:<user>``          a consumer's cash held for a withdrawal in review (liability)
- ``refunds_payable:<user>``       refunds approved and not yet paid out (liability)
- ``withdrawal_fee_income``        the fee of a balance withdrawal (RULES.md R2): the platform's income
- ``coupon_expense``               coupons the platform funds (expense)
- ``bonus_expense``                bonus credit given with top-ups (expense)
- ``late_payments``                money that arrived for an expired order, owed back (liability)
- ``platform_advance``             refunds the platform advanced for a merchant that is gone (先行赔付)
- ``merchant_receivable:<merchant>`` what a gone merchant owes the platform for those advances (asset)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from kameng.platform.db.bulk import add_row
from kameng.platform.db.ids import take_id
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger_models import BalanceRow, JournalEntry, JournalLine


class UnbalancedEntry(ValueError):
    pass


def post_entry(
    uow: UnitOfWork,
    *,
    kind: str,
    key: str,
    lines: list[tuple[str, int]],
    now: datetime,
    order_id: int | None = None,
    user_id: int | None = None,
    memo: str = "",
) -> None:
    """Add a balanced entry to the caller's transaction. ``key`` makes a double post impossible
    (unique constraint), so a retried operation cannot move the same money twice."""
    kept = [(account, amount) for account, amount in lines if amount != 0]
    if sum(amount for _, amount in kept) != 0:
        raise UnbalancedEntry(f"{kind} {key}: lines sum to {sum(a for _, a in kept)}, not 0")
    entry_id = take_id(uow, "journal_entries")  # drawn ahead by the step or a mass refund, else None
    entry = {
        "id": entry_id,
        "kind": kind,
        "key": key,
        "order_id": order_id,
        "user_id": user_id,
        "memo": memo[:200],
        "created_at": now,
    }
    session = uow.session
    if entry_id is None:
        posted = [JournalLine(account=account, amount_fen=amount) for account, amount in kept]
        session.add(JournalEntry(**entry, lines=posted))
        return
    # Its id known, the entry's lines name it directly: no collection to keep in step, which costs
    # more than the rows when a batch posts thousands (they are read back from the database).
    add_row(session, JournalEntry, entry)
    for account, amount in kept:
        add_row(session, JournalLine, {"entry_id": entry_id, "account": account, "amount_fen": amount})


@dataclass
class BooksReport:
    entries: int = 0
    lines: int = 0
    total_fen: int = 0
    unbalanced: list[str] = field(default_factory=list)
    balance_mismatches: list[str] = field(default_factory=list)
    accounts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.total_fen == 0 and not self.unbalanced and not self.balance_mismatches


def check_books(uow: UnitOfWork) -> BooksReport:
    """Prove the books balance: every entry sums to zero, all lines sum to zero, and every
    consumer's stored balance equals their ledger accounts. Reads in bulk, by SQL aggregates."""
    report = BooksReport()
    with uow:
        session = uow.session
        report.entries = session.scalar(select(func.count(JournalEntry.id))) or 0
        report.lines = session.scalar(select(func.count(JournalLine.id))) or 0
        report.total_fen = session.scalar(select(func.coalesce(func.sum(JournalLine.amount_fen), 0))) or 0
        unbalanced = session.execute(
            select(JournalEntry.key, func.sum(JournalLine.amount_fen))
            .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
            .group_by(JournalEntry.id, JournalEntry.key)
            .having(func.sum(JournalLine.amount_fen) != 0)
        ).all()
        report.unbalanced = [f"{key}: {total}" for key, total in unbalanced]
        per_account = session.execute(
            select(JournalLine.account, func.sum(JournalLine.amount_fen)).group_by(JournalLine.account)
        ).all()
        report.accounts = {account: int(total) for account, total in per_account}
        parts = {"balance_cash": "cash", "balance_bonus": "bonus", "balance_held": "held"}
        ledger_balances: dict[int, dict[str, int]] = defaultdict(lambda: {"cash": 0, "bonus": 0, "held": 0})
        for account, total in report.accounts.items():
            kind, _, owner = account.partition(":")
            if kind in parts:
                ledger_balances[int(owner)][parts[kind]] = -total
        for row in session.scalars(select(BalanceRow)):
            expected = ledger_balances.pop(row.user_id, {"cash": 0, "bonus": 0, "held": 0})
            stored = {"cash": row.cash_fen, "bonus": row.bonus_fen, "held": row.held_fen}
            if stored != expected or min(stored.values()) < 0:
                report.balance_mismatches.append(
                    f"user {row.user_id}: stored cash {row.cash_fen} bonus {row.bonus_fen} held {row.held_fen},"
                    f" ledger cash {expected['cash']} bonus {expected['bonus']} held {expected['held']}"
                )
        for user_id, expected in ledger_balances.items():
            if any(expected.values()):
                report.balance_mismatches.append(f"user {user_id}: ledger has a balance but no balance row")
    return report
