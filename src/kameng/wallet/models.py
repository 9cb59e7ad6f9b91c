"""The wallet's tables: withdrawals (the amount held, the decision) and their legs (one refund
each, to one original payment). The balance itself (cash, bonus, held) is ``platform``'s
``balances`` row, proved against the ledger by ``kameng ledger check``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kameng.domain.model import Decision
from kameng.domain.wallet import LegStatus, SourceKind, WithdrawalStatus
from kameng.platform.db.base import Base, Id, owned_by, parent_key
from kameng.platform.db.types import status_enum


class WithdrawalRow(Base):
    """A consumer's request to take cash out of the balance (提现). ``asked_fen`` is held the
    moment it is asked for; approval turns the hold into legs, fee and (if the sources shrank)
    a release."""

    __tablename__ = "withdrawals"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_withdrawals_user_created", "user_id", "created_at"),
        Index("ix_withdrawals_status_created", "status", "created_at"),
        parent_key("withdrawals"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    withdrawal_no: Mapped[str] = mapped_column(String(20), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[WithdrawalStatus] = mapped_column(status_enum(WithdrawalStatus, "withdrawal_status"))
    decision: Mapped[Decision] = mapped_column(status_enum(Decision, "withdrawal_decision"))
    asked_fen: Mapped[int] = mapped_column(BigInteger)
    # Known once approved: what goes out, the platform's fee, the part released back to the balance.
    payout_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    released_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # legs the channel refused, back as cash
    quote: Mapped[dict[str, Any]]  # the plan shown when it was asked for
    idempotency_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    settled_at: Mapped[datetime | None]

    legs: Mapped[list[WithdrawalLegRow]] = relationship(
        back_populates="withdrawal", lazy="selectin", order_by="WithdrawalLegRow.position"
    )


class WithdrawalLegRow(Base):
    """One part of a withdrawal, paid back to one original payment as its own refund
    (``refunds.purpose = 'withdrawal'``, ``out_refund_no`` derived from the withdrawal and the
    leg's position: its idempotency key at the channel)."""

    __tablename__ = "withdrawal_legs"
    __table_args__ = (
        UniqueConstraint("withdrawal_id", "position"),
        owned_by("withdrawal_id", "withdrawals"),
        owned_by("order_id", "orders"),
        owned_by("refund_id", "refunds"),
        owned_by("source_refund_id", "refunds"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    withdrawal_id: Mapped[int] = mapped_column(Id, index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1 = the newest payment
    user_id: Mapped[int] = mapped_column(Id)
    order_id: Mapped[int] = mapped_column(Id, index=True)
    refund_id: Mapped[int] = mapped_column(Id, unique=True)
    source_kind: Mapped[SourceKind] = mapped_column(status_enum(SourceKind, "withdrawal_source"))
    source_refund_id: Mapped[int | None] = mapped_column(Id, index=True)
    rule: Mapped[str] = mapped_column(String(20))
    gross_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    net_fen: Mapped[int] = mapped_column(BigInteger)
    bonus_taken_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[LegStatus] = mapped_column(status_enum(LegStatus, "withdrawal_leg_status"))
    settled_at: Mapped[datetime | None]

    withdrawal: Mapped[WithdrawalRow] = relationship(back_populates="legs")
