"""The orders' tables: orders, their payments, memberships, card keys and the order timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kameng.catalog.models import PolicyVersion, ProductRow
from kameng.domain.model import Channel
from kameng.domain.states import CardKeyStatus, MembershipStatus, OrderStatus, PaymentStatus
from kameng.platform.db.base import Base, Id, owned_by, parent_key
from kameng.platform.db.types import status_enum


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_within_captured"),
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_orders_user_created", "user_id", "created_at"),
        # The checkout's duplicate check: the consumer's latest order of a product (migration 0028).
        Index("ix_orders_user_product_created", "user_id", "product_id", "created_at"),
        Index("ix_orders_status_expires", "status", "expires_at"),
        parent_key("orders"),
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
    __table_args__ = (owned_by("order_id", "orders"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(Id, index=True)
    user_id: Mapped[int] = mapped_column(Id)
    out_trade_no: Mapped[str] = mapped_column(String(40), unique=True)  # our key at the channel
    channel: Mapped[Channel] = mapped_column(status_enum(Channel, "payment_channel"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[PaymentStatus] = mapped_column(status_enum(PaymentStatus, "payment_status"))
    channel_txn_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The real channel (wechat, alipay) whose verified notification brought the money: its refunds
    # go back through that channel's adapter. None: the local simulator took it (demo data, the
    # local pay page), and refunds go back through the simulator.
    gateway: Mapped[str | None] = mapped_column(String(16))
    failure: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]

    # Set when a payment is created with its order, so that one flush writes both; read nowhere
    # (loaded only if asked for).
    order: Mapped[OrderRow] = relationship()


class MembershipRow(Base):
    __tablename__ = "memberships"
    __table_args__ = (owned_by("order_id", "orders"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(Id, unique=True)
    user_id: Mapped[int] = mapped_column(Id, index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    status: Mapped[MembershipStatus] = mapped_column(status_enum(MembershipStatus, "membership_status"))
    activated_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)
    renews_at: Mapped[datetime | None] = mapped_column(index=True)
    # The renewal time whose reminder is still owed (set with every new ``renews_at``, cleared by
    # the renewal sweep once reminded): the sweep reads only these (kameng.subscriptions.renewals).
    remind_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]


@event.listens_for(MembershipRow.renews_at, "set", active_history=True)
def _owe_the_reminder(target: MembershipRow, value: datetime | None, old: object, _initiator: object) -> None:
    """A new renewal time is owed its reminder: whoever moves ``renews_at`` (activation, a
    renewal, a refund, a cancellation) moves ``remind_at`` with it."""
    if value != old:
        target.remind_at = value


class OrderEventRow(Base):
    """What happened to an order: the engine's evidence. Append-only."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_at", "order_id", "at"), owned_by("order_id", "orders"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(Id)
    user_id: Mapped[int] = mapped_column(Id)
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
    """A card key (卡密), stored encrypted (``kameng.platform.secrets_ring``): ``secret`` is a
    Fernet token of the key, ``fingerprint`` a keyed hash of it that makes keys unique."""

    __tablename__ = "card_keys"
    __table_args__ = (Index("ix_card_keys_product_status", "product_id", "status"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    secret: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    # Which (newest key, fingerprint key) wrote the row: `kameng card-keys rotate` redoes the rest.
    ring_tag: Mapped[str] = mapped_column(String(16), index=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("card_key_imports.id"))
    status: Mapped[CardKeyStatus] = mapped_column(status_enum(CardKeyStatus, "card_key_status"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    delivered_at: Mapped[datetime | None]
    revealed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
