"""The subscriptions' tables: one subscription per auto-renewing order, its renewal charges, and
the SMS codes of the step-up check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kameng.domain.subscriptions import RenewalChargeStatus, SubscriptionStatus
from kameng.platform.db.base import Base, Id, owned_by, parent_key
from kameng.platform.db.types import status_enum


class SubscriptionRow(Base):
    """An order's auto-renewal, from the consent at checkout. The membership (``memberships``)
    says when it renews (``renews_at``, set at activation); this row says whether and how."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "cancel_key"),
        Index("ix_subscriptions_user", "user_id", "id"),
        owned_by("order_id", "orders"),
        parent_key("subscriptions"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    sub_no: Mapped[str] = mapped_column(String(20), unique=True)
    user_id: Mapped[int] = mapped_column(Id)
    order_id: Mapped[int] = mapped_column(Id, unique=True)
    status: Mapped[SubscriptionStatus] = mapped_column(status_enum(SubscriptionStatus, "subscription_status"))
    price_fen: Mapped[int] = mapped_column(BigInteger)  # each renewal's charge, as the consent stated
    # The consent: when, and the terms exactly as shown (price, period, how to cancel, zh and en).
    consent_at: Mapped[datetime]
    consent_terms: Mapped[dict[str, Any]]
    renewals: Mapped[int] = mapped_column(Integer, default=0)  # renewals charged so far
    period_started_at: Mapped[datetime | None]  # the latest renewal's charge; None: the purchase
    # The renewal (its scheduled time) whose reminder was sent, and when it was sent.
    reminded_for: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    # The charge being asked of the channel, if any: while set, the sweep leaves the row alone.
    pending_charge_id: Mapped[int | None] = mapped_column(BigInteger)
    cancelled_at: Mapped[datetime | None]
    cancellation_no: Mapped[str | None] = mapped_column(String(24), unique=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancel_step_up: Mapped[str | None] = mapped_column(String(16))  # sms_code | password
    cancel_key: Mapped[str | None] = mapped_column(String(80))  # the client's idempotency key
    ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RenewalChargeRow(Base):
    """One renewal's charge. ``out_trade_no`` is derived from the subscription and the period, so
    any number of attempts, workers or crashes ask the channel for the same charge."""

    __tablename__ = "renewal_charges"
    __table_args__ = (
        UniqueConstraint("subscription_id", "period"),
        Index("ix_renewal_charges_due", "status", "next_attempt_at"),
        owned_by("subscription_id", "subscriptions"),
        owned_by("order_id", "orders"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(Id)
    user_id: Mapped[int] = mapped_column(Id)
    order_id: Mapped[int] = mapped_column(Id)
    period: Mapped[int] = mapped_column(Integer)  # 1 for the first renewal
    out_trade_no: Mapped[str] = mapped_column(String(40), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # Refunded of this charge so far: a renewal is its own refundable amount, against its own trade.
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    status: Mapped[RenewalChargeStatus] = mapped_column(status_enum(RenewalChargeStatus, "renewal_charge_status"))
    renews_at: Mapped[datetime]  # the renewal this charge pays for (the old term's end)
    noticed: Mapped[bool]  # a reminder qualifying under S2 was sent before it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    failure: Mapped[str | None] = mapped_column(String(200))
    channel_txn_no: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]


class SmsCodeRow(Base):
    """A step-up code sent by SMS: only its keyed hash is kept."""

    __tablename__ = "sms_codes"
    __table_args__ = (Index("ix_sms_codes_phone_sent", "phone", "sent_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    phone: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(40))
    code_hash: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None]


class StepUpFailureRow(Base):
    """A wrong password given as the step-up check: counted per account to bound the guesses."""

    __tablename__ = "step_up_failures"
    __table_args__ = (Index("ix_step_up_failures_user_at", "user_id", "at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    method: Mapped[str] = mapped_column(String(16))  # password
    purpose: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
