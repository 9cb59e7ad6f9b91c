"""The refunds table: each attempt to send money back, keyed by our own ``out_refund_no``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kameng.domain.model import Channel
from kameng.domain.states import RefundStatus
from kameng.platform.db.base import Base, Id, owned_by, parent_key
from kameng.platform.db.types import status_enum


class RefundRow(Base):
    """Money going back. ``out_refund_no`` is derived from this row and is the channel's
    idempotency key (WeChat Pay out_refund_no, Alipay out_request_no): a resend is harmless."""

    __tablename__ = "refunds"
    __table_args__ = (
        Index("ix_refunds_status_poll", "status", "next_poll_at"),
        owned_by("order_id", "orders"),
        owned_by("ticket_id", "tickets"),
        parent_key("refunds"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # "ticket": an after-sales refund; "late_payment": money that arrived for an expired order,
    # sent back without anyone asking (no ticket).
    purpose: Mapped[str] = mapped_column(String(20), default="ticket", server_default="ticket")
    ticket_id: Mapped[int | None] = mapped_column(Id, index=True)
    order_id: Mapped[int] = mapped_column(Id, index=True)
    user_id: Mapped[int] = mapped_column(Id)
    out_refund_no: Mapped[str] = mapped_column(String(40), unique=True)
    out_trade_no: Mapped[str] = mapped_column(String(40))
    channel: Mapped[Channel] = mapped_column(status_enum(Channel, "refund_channel"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[RefundStatus] = mapped_column(status_enum(RefundStatus, "refund_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None]
    channel_refund_no: Mapped[str | None] = mapped_column(String(64))
    # The channel's own word in its last answer (WeChat's ABNORMAL is PROCESSING in kameng's
    # words: a refund waiting for staff to send it on is found by this).
    channel_status: Mapped[str | None] = mapped_column(String(32))
    failure: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]


class OrphanPaymentRow(Base):
    """Money a channel says it took for a trade we never opened (no payment row of ours). Nothing
    was sold, so nothing is kept: it is booked as owed back and refunded under ``out_refund_no``
    (``O`` + the channel's trade number), the same on every retry."""

    __tablename__ = "orphan_payments"
    __table_args__ = (UniqueConstraint("channel", "out_trade_no"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    out_trade_no: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # pending, processing, succeeded, failed
    refund_id: Mapped[str | None] = mapped_column(String(64))
    failure: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]


class ChannelNoticeRow(Base):
    """A channel's notification we have applied (or verified and found nothing to apply), by the
    channel's own id (WeChat Pay's ``id``, Alipay's ``notify_id``): a replay, to this process or
    another, before or after a restart, is refused by the unique constraint. The worker deletes
    rows older than the replay window (``channels.seen.REPLAY_WINDOW``): past it, the timestamp
    check refuses the notification anyway."""

    __tablename__ = "channel_notices"
    __table_args__ = (UniqueConstraint("channel", "notice_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    notice_id: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(index=True)


class AbnormalRefundAction(Base):
    """A staff member's one decision on a WeChat refund stuck in ABNORMAL: sent on to the
    consumer's bank card, or to the merchant's account and credited to the consumer's balance once
    WeChat confirms. One row per refund (the unique constraint makes the action idempotent); it is
    also the audit record: who, when, where to (the card's last four digits only)."""

    __tablename__ = "abnormal_refund_actions"
    __table_args__ = (owned_by("refund_id", "refunds"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    refund_id: Mapped[int] = mapped_column(Id, unique=True)
    user_id: Mapped[int] = mapped_column(Id, index=True)  # the consumer's
    destination: Mapped[str] = mapped_column(String(16))  # bank_card, balance
    bank_type: Mapped[str | None] = mapped_column(String(32))
    account_tail: Mapped[str | None] = mapped_column(String(4))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # sending, sent, refused
    channel_status: Mapped[str | None] = mapped_column(String(32))
    failure: Mapped[str | None] = mapped_column(String(200))
