"""The tables. Money columns are integer fen (``*_fen``); times are aware UTC.

Every consumer-owned table carries ``user_id`` so that a later shard-by-user needs no change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from kameng.adapters.db.types import UTCDateTime, status_enum
from kameng.domain.model import Channel, CoolingOff, Decision, EventType, ProductKind, Proration, Reason
from kameng.domain.states import CardKeyStatus, MembershipStatus, OrderStatus, PaymentStatus, RefundStatus
from kameng.domain.tickets import TicketStatus
from kameng.domain.users import Role

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER keys


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(status_enum(Role, "user_role"), default=Role.CONSUMER)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]


class Merchant(Base):
    __tablename__ = "merchants"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    gone_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ProductRow(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[ProductKind] = mapped_column(status_enum(ProductKind, "product_kind"))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    price_fen: Mapped[int] = mapped_column(BigInteger)
    term_days: Mapped[int | None]
    term_months: Mapped[int | None]
    promo: Mapped[bool] = mapped_column(Boolean, default=False)
    benefits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    bonus_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # recharge: bonus credit given
    renewable: Mapped[bool] = mapped_column(Boolean, default=False)  # offers auto-renewal
    uses_card_keys: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]

    merchant: Mapped[Merchant] = relationship(lazy="joined")


class PolicyVersion(Base):
    """An immutable refund policy version; orders point at the one they were paid under."""

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("product_id", "version"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    version: Mapped[int]
    cooling_off_days: Mapped[int]
    cooling_off: Mapped[CoolingOff] = mapped_column(status_enum(CoolingOff, "cooling_off"))
    proration: Mapped[Proration] = mapped_column(status_enum(Proration, "proration"))
    fee_percent: Mapped[str] = mapped_column(String(20))  # exact decimal text
    fee_min_fen: Mapped[int] = mapped_column(BigInteger)
    fee_max_fen: Mapped[int | None] = mapped_column(BigInteger)
    review_business_days: Mapped[int]
    trial_counts_as_activation: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class CouponRow(Base):
    __tablename__ = "coupons"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    value_fen: Mapped[int] = mapped_column(BigInteger)
    min_spend_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refundable: Mapped[bool] = mapped_column(Boolean, default=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: anyone may use it
    expires_at: Mapped[datetime | None]
    used_by_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", use_alter=True), unique=True)
    created_at: Mapped[datetime]


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_within_captured"),
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_orders_user_created", "user_id", "created_at"),
        Index("ix_orders_status_expires", "status", "expires_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_no: Mapped[str] = mapped_column(String(20), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("policy_versions.id"))
    status: Mapped[OrderStatus] = mapped_column(status_enum(OrderStatus, "order_status"))
    channel: Mapped[Channel] = mapped_column(status_enum(Channel, "channel"))
    list_price_fen: Mapped[int] = mapped_column(BigInteger)
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"))
    coupon_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    coupon_refundable: Mapped[bool] = mapped_column(Boolean, default=False)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # cash to pay, after coupon
    # Approved for refund so far, across every ticket. The CHECK makes over-refunding impossible
    # even for a bug that skips the service's own check.
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    bonus_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    channel_txn_no: Mapped[str | None] = mapped_column(String(64))
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_renew_consent_at: Mapped[datetime | None]
    nonrefundable_ack_at: Mapped[datetime | None]
    duplicate_ack_at: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    product: Mapped[ProductRow] = relationship(lazy="joined")
    policy: Mapped[PolicyVersion] = relationship(lazy="joined")


class PaymentRow(Base):
    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    out_trade_no: Mapped[str] = mapped_column(String(40), unique=True)  # our key at the channel
    channel: Mapped[Channel] = mapped_column(status_enum(Channel, "payment_channel"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[PaymentStatus] = mapped_column(status_enum(PaymentStatus, "payment_status"))
    channel_txn_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    failure: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]


class MembershipRow(Base):
    __tablename__ = "memberships"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    status: Mapped[MembershipStatus] = mapped_column(status_enum(MembershipStatus, "membership_status"))
    activated_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)
    renews_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]


class OrderEventRow(Base):
    """What happened to an order: the engine's evidence. Append-only."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_at", "order_id", "at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str] = mapped_column(String(32))  # EventType values, plus record-only types
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(20))
    benefit: Mapped[str | None] = mapped_column(String(80))
    count: Mapped[int] = mapped_column(Integer, default=1)
    hours: Mapped[str | None] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class CardKeyRow(Base):
    __tablename__ = "card_keys"
    __table_args__ = (Index("ix_card_keys_product_status", "product_id", "status"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    code: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[CardKeyStatus] = mapped_column(status_enum(CardKeyStatus, "card_key_status"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    delivered_at: Mapped[datetime | None]
    revealed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class BalanceRow(Base):
    """A consumer's platform balance: cash (withdrawable) and bonus (consumable only)."""

    __tablename__ = "balances"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    cash_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    bonus_fen: Mapped[int] = mapped_column(BigInteger, default=0)
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


class ApiIdempotency(Base):
    """A stored answer to an API call made with an ``Idempotency-Key``; a retry gets it again."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(80))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


__all__ = ["Base", "EventType"]


class Ticket(Base):
    """An after-sales ticket (售后工单): one refund request and everything decided about it."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_queue", "status", "priority", "due_at"),
        Index("ix_tickets_user_created", "user_id", "created_at"),
        UniqueConstraint("user_id", "idempotency_key"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[Reason] = mapped_column(status_enum(Reason, "ticket_reason"))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TicketStatus] = mapped_column(status_enum(TicketStatus, "ticket_status"))
    decision: Mapped[Decision] = mapped_column(status_enum(Decision, "ticket_decision"))
    rules: Mapped[str] = mapped_column(String(40))  # the engine's rule ids, comma-separated
    quote: Mapped[dict[str, Any]]  # the engine's quote at submission, as shown to the consumer
    quoted_fen: Mapped[int] = mapped_column(BigInteger)
    approved_fen: Mapped[int | None] = mapped_column(BigInteger)
    approve_reason: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[int] = mapped_column(Integer, default=1)  # 0: the priority lane
    due_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_approve_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    rejected_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reject_rule: Mapped[str | None] = mapped_column(String(10))
    reject_comment: Mapped[str] = mapped_column(Text, default="")
    appeal_until: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    # The head of the timeline's hash chain and its length: deleting the last rows (which the
    # chain itself cannot show) leaves them pointing at a row that is gone.
    timeline_head: Mapped[str] = mapped_column(String(64), default="", server_default="")
    timeline_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    order: Mapped[OrderRow] = relationship(lazy="joined")


class TicketTimeline(Base):
    """Append-only history of a ticket, hash-chained: each row's hash covers the previous one,
    so an edited or deleted row breaks every hash after it."""

    __tablename__ = "ticket_timeline"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    seq: Mapped[int]
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    quote: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class EvidenceFile(Base):
    __tablename__ = "evidence_files"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(60))  # sniffed from the bytes, not the name
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class RefundRow(Base):
    """Money going back. ``out_refund_no`` is derived from this row and is the channel's
    idempotency key (WeChat Pay out_refund_no, Alipay out_request_no): a resend is harmless."""

    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_status_poll", "status", "next_poll_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # "ticket": an after-sales refund; "late_payment": money that arrived for an expired order,
    # sent back without anyone asking (no ticket).
    purpose: Mapped[str] = mapped_column(String(20), default="ticket", server_default="ticket")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    out_refund_no: Mapped[str] = mapped_column(String(40), unique=True)
    out_trade_no: Mapped[str] = mapped_column(String(40))
    channel: Mapped[Channel] = mapped_column(status_enum(Channel, "refund_channel"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[RefundStatus] = mapped_column(status_enum(RefundStatus, "refund_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None]
    channel_refund_no: Mapped[str | None] = mapped_column(String(64))
    failure: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]


class OutboxRow(Base):
    """Work for after the commit: talk to a channel, notify a person. Claimed by workers."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "done_at", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(120), unique=True)
    payload: Mapped[dict[str, Any]]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class MessageRow(Base):
    """An in-app message to a consumer (站内信)."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_user_created", "user_id", "created_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(32))
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class SimRefund(Base):
    """The channel simulator's own books: what "the bank" knows of each refund request.

    Kept apart from our tables on purpose: our code reaches it only through the channel adapter,
    as it would reach WeChat Pay."""

    __tablename__ = "sim_refunds"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    out_refund_no: Mapped[str] = mapped_column(String(40), unique=True)
    out_trade_no: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # PROCESSING, SUCCESS, ABNORMAL
    refund_id: Mapped[str] = mapped_column(String(40))
    settles_at: Mapped[datetime]
    created_at: Mapped[datetime]


class SimBehavior(Base):
    """Failures on demand: how the simulator treats refunds of one trade (tests, demos)."""

    __tablename__ = "sim_behaviors"
    out_trade_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    refund: Mapped[str] = mapped_column(String(16))  # "ok", "fail", "delay"
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
