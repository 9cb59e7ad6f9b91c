"""The ledger's tables: journal entries and their lines, and each consumer's stored balance
(cash and bonus), which ``kameng ledger check`` proves equal to the sum of its lines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kameng.platform.db.base import Base, Id


class BalanceRow(Base):
    """A consumer's platform balance: cash (withdrawable), bonus (consumable only), and cash held
    for a withdrawal in review (neither spendable nor withdrawable again until it is decided)."""

    __tablename__ = "balances"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    cash_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    bonus_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    held_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime]


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Derived from our own record (e.g. "payment:123"): posting the same movement twice fails.
    key: Mapped[str] = mapped_column(String(80), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    memo: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]

    lines: Mapped[list[JournalLine]] = relationship(back_populates="entry", lazy="selectin")


class JournalLine(Base):
    """Debits are positive, credits negative; the lines of an entry sum to zero."""

    __tablename__ = "journal_lines"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account: Mapped[str] = mapped_column(String(80), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
